/*
 * Bounds-checked ELF reading for the kernel loaders (System V gABI,
 * "ELF Header", "Program Header", "Note Section").
 */
#include <string.h>

#include "boot_elf.h"
#include "boot_load.h"

#define EI_CLASS	4
#define EI_DATA		5
#define ELFCLASS32	1
#define ELFCLASS64	2
#define ELFDATA2LSB	1
#define ET_EXEC		2
#define ET_DYN		3
#define EM_386		3
#define EM_X86_64	62
#define ELF32_EHDR_SIZE 52
#define ELF64_EHDR_SIZE 64
#define ELF32_PHDR_SIZE 32
#define ELF64_PHDR_SIZE 56
#define ELF_MAX_PHNUM	256 /* kernels have a handful; bound the work */

bool
boot_elf_is_elf(const uint8_t *img, size_t size)
{
	return size >= 4 && memcmp(img, "\177ELF", 4) == 0;
}

const char *
boot_elf_parse(const uint8_t *img, size_t size, struct boot_elf *elf)
{
	uint16_t type;

	memset(elf, 0, sizeof(*elf));
	if (!boot_elf_is_elf(img, size) || size < ELF32_EHDR_SIZE)
		return "not an ELF file";
	if (img[EI_DATA] != ELFDATA2LSB)
		return "ELF file is not little-endian";
	if (img[EI_CLASS] == ELFCLASS64) {
		if (size < ELF64_EHDR_SIZE)
			return "ELF64 header is truncated";
		elf->is64 = true;
		elf->entry = boot_le64(img + 24);
		elf->phoff = boot_le64(img + 32);
		elf->phentsize = boot_le16(img + 54);
		elf->phnum = boot_le16(img + 56);
	} else if (img[EI_CLASS] == ELFCLASS32) {
		elf->entry = boot_le32(img + 24);
		elf->phoff = boot_le32(img + 28);
		elf->phentsize = boot_le16(img + 42);
		elf->phnum = boot_le16(img + 44);
	} else {
		return "unknown ELF class";
	}
	type = boot_le16(img + 16);
	elf->machine = boot_le16(img + 18);
	if (type != ET_EXEC && type != ET_DYN)
		return "ELF file is not an executable";
	if (elf->machine != EM_386 && elf->machine != EM_X86_64)
		return "ELF file is not for x86";
	if (elf->phentsize != (elf->is64 ? ELF64_PHDR_SIZE : ELF32_PHDR_SIZE))
		return "ELF program header size is wrong";
	if (elf->phnum == 0)
		return "ELF file has no program headers";
	if (elf->phnum > ELF_MAX_PHNUM)
		return "ELF file has too many program headers";
	if (!boot_range_ok(elf->phoff, (uint64_t)elf->phnum * elf->phentsize,
			   size))
		return "ELF program headers lie outside the file";
	return NULL;
}

const char *
boot_elf_seg(const uint8_t *img, size_t size, const struct boot_elf *elf,
	     unsigned int i, struct boot_elf_seg *seg)
{
	const uint8_t *p;

	if (i >= elf->phnum)
		return "no such program header";
	p = img + elf->phoff + (uint64_t)i * elf->phentsize;
	if (elf->is64) {
		seg->type = boot_le32(p);
		seg->offset = boot_le64(p + 8);
		seg->vaddr = boot_le64(p + 16);
		seg->paddr = boot_le64(p + 24);
		seg->filesz = boot_le64(p + 32);
		seg->memsz = boot_le64(p + 40);
		seg->align = boot_le64(p + 48);
	} else {
		seg->type = boot_le32(p);
		seg->offset = boot_le32(p + 4);
		seg->vaddr = boot_le32(p + 8);
		seg->paddr = boot_le32(p + 12);
		seg->filesz = boot_le32(p + 16);
		seg->memsz = boot_le32(p + 20);
		seg->align = boot_le32(p + 28);
	}
	if (!boot_range_ok(seg->offset, seg->filesz, size))
		return "ELF segment lies outside the file";
	if (seg->type == BOOT_PT_LOAD && seg->filesz > seg->memsz)
		return "ELF segment's file size exceeds its memory size";
	return NULL;
}

/* Notes are 4-byte aligned, or 8 when the segment says so (gABI). */
static bool
boot_elf_scan_notes(const uint8_t *p, uint64_t len, uint64_t align,
		    const char *name, uint32_t type, const uint8_t **desc,
		    size_t *desclen)
{
	size_t want = strlen(name) + 1;
	uint64_t off = 0;

	while (len - off >= 12) {
		uint64_t namesz = boot_le32(p + off);
		uint64_t descsz = boot_le32(p + off + 4);
		uint32_t ntype = boot_le32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off, next;

		if (!boot_range_ok(name_off, boot_align_up(namesz, align), len))
			return false;
		desc_off = name_off + boot_align_up(namesz, align);
		if (!boot_range_ok(desc_off, descsz, len))
			return false;
		if (namesz == want && ntype == type &&
		    memcmp(p + name_off, name, want) == 0) {
			*desc = p + desc_off;
			*desclen = (size_t)descsz;
			return true;
		}
		next = desc_off + boot_align_up(descsz, align);
		if (next > len)
			return false;
		off = next;
	}
	return false;
}

bool
boot_elf_find_note(const uint8_t *img, size_t size, const struct boot_elf *elf,
		   const char *name, uint32_t type, const uint8_t **desc,
		   size_t *desclen)
{
	struct boot_elf_seg seg;
	unsigned int i;

	for (i = 0; i < elf->phnum; i++) {
		if (boot_elf_seg(img, size, elf, i, &seg) != NULL ||
		    seg.type != BOOT_PT_NOTE)
			continue;
		if (boot_elf_scan_notes(img + seg.offset, seg.filesz,
					seg.align == 8 ? 8 : 4, name, type,
					desc, desclen))
			return true;
	}
	return false;
}

int
boot_elf_load(struct boot_ctx *bc, const struct boot_elf *elf, uint64_t limit)
{
	struct boot_elf_seg seg;
	const char *why;
	unsigned int i;
	int loaded = 0;

	for (i = 0; i < elf->phnum; i++) {
		why = boot_elf_seg(bc->img, bc->img_size, elf, i, &seg);
		if (why != NULL)
			return boot_error(bc, "%s (program header %u)", why, i);
		if (seg.type != BOOT_PT_LOAD || seg.memsz == 0)
			continue;
		if (!boot_range_ok(seg.paddr, seg.memsz, limit))
			return boot_error(
			    bc,
			    "ELF segment %u at %#llx+%#llx lies above %#llx", i,
			    (unsigned long long)seg.paddr,
			    (unsigned long long)seg.memsz,
			    (unsigned long long)limit);
		if (boot_claim(bc, seg.paddr, seg.memsz, "kernel") != 0 ||
		    boot_copyout(bc, seg.paddr, bc->img + seg.offset,
				 (size_t)seg.filesz, "kernel") != 0 ||
		    boot_zero(bc, seg.paddr + seg.filesz,
			      seg.memsz - seg.filesz, "kernel") != 0)
			return -1;
		loaded++;
	}
	if (loaded == 0)
		return boot_error(bc, "ELF file has nothing to load");
	return 0;
}

uint64_t
boot_elf_entry_paddr(const uint8_t *img, size_t size,
		     const struct boot_elf *elf)
{
	struct boot_elf_seg seg;
	unsigned int i;

	/*
	 * Kernels linked at a high virtual address give e_entry as virtual;
	 * GRUB translates it through the segment that holds it.
	 */
	for (i = 0; i < elf->phnum; i++) {
		if (boot_elf_seg(img, size, elf, i, &seg) != NULL ||
		    seg.type != BOOT_PT_LOAD)
			continue;
		if (elf->entry >= seg.vaddr &&
		    elf->entry - seg.vaddr < seg.memsz)
			return elf->entry - seg.vaddr + seg.paddr;
	}
	return elf->entry;
}
