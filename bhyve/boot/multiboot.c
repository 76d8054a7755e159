/*
 * Multiboot 1 loader (the Multiboot Specification version 0.6.96):
 * kernels with a multiboot header in their first 8 KiB, loaded either by
 * the header's address fields (flag 16, "the a.out kludge") or from their
 * ELF32/ELF64 program headers at the physical addresses, as GRUB does.
 *
 * The boot information (section 3.3) goes in one block below 640 KiB
 * (from BOOT_MBI_BASE) unless the kernel is there; modules go page-aligned
 * after the kernel.  Machine state is section 3.2: protected mode, paging
 * off, flat segments, EAX = 0x2BADB002, EBX = the information block.
 */
#include <stdlib.h>

#include "boot_elf.h"
#include "boot_load.h"
#include "boot_loader.h"
#include "boot_state.h"
#include "e820.h"
#include "vmmapi.h"

#define MB_SEARCH	 8192
#define MB_MAGIC	 0x1badb002u
#define MB_BOOT_MAGIC	 0x2badb002u
#define MB_HDR_SIZE	 12
#define MB_HDR_ADDR_SIZE 32 /* with the five address fields */
#define MB_F_PAGE_ALIGN	 (1u << 0)
#define MB_F_MEMINFO	 (1u << 1)
#define MB_F_VIDEO	 (1u << 2)
#define MB_F_ADDRESS	 (1u << 16)
/*
 * Requirement bits (0-15) a loader must honour or refuse.  A video mode
 * request (bit 2) is accepted without video information, as QEMU does:
 * the kernel sees no framebuffer fields and stays in text mode.
 */
#define MB_F_KNOWN (MB_F_PAGE_ALIGN | MB_F_MEMINFO | MB_F_VIDEO)

/* multiboot_info flags and layout (section 3.3). */
#define MBI_F_MEM	  (1u << 0)
#define MBI_F_CMDLINE	  (1u << 2)
#define MBI_F_MODS	  (1u << 3)
#define MBI_F_MMAP	  (1u << 6)
#define MBI_F_LOADER_NAME (1u << 9)
#define MBI_SIZE	  116
#define MBI_MOD_SIZE	  16
#define MBI_MMAP_SIZE	  24 /* a 4-byte size field, then 20 bytes */
#define MB_LOADER_NAME	  "beehive"

struct mb_header {
	uint64_t offset; /* of the header in the image */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
	uint32_t entry_addr;
};

/* The header is 32-bit aligned in the first 8192 bytes (section 3.1). */
static bool
multiboot_find(const uint8_t *img, size_t size, struct mb_header *hdr)
{
	uint64_t off, limit = size < MB_SEARCH ? size : MB_SEARCH;

	for (off = 0; off + MB_HDR_SIZE <= limit; off += 4) {
		uint32_t magic = boot_le32(img + off);
		uint32_t flags = boot_le32(img + off + 4);
		uint32_t sum = boot_le32(img + off + 8);

		if (magic != MB_MAGIC || (uint32_t)(magic + flags + sum) != 0)
			continue;
		memset(hdr, 0, sizeof(*hdr));
		hdr->offset = off;
		hdr->flags = flags;
		if ((flags & MB_F_ADDRESS) != 0 &&
		    off + MB_HDR_ADDR_SIZE <= size) {
			hdr->header_addr = boot_le32(img + off + 12);
			hdr->load_addr = boot_le32(img + off + 16);
			hdr->load_end_addr = boot_le32(img + off + 20);
			hdr->bss_end_addr = boot_le32(img + off + 24);
			hdr->entry_addr = boot_le32(img + off + 28);
		}
		return true;
	}
	return false;
}

static bool
multiboot_probe(const uint8_t *img, size_t size)
{
	struct mb_header hdr;

	return multiboot_find(img, size, &hdr);
}

/* Section 3.1.3: the address fields say what part of the file goes where. */
static int
multiboot_load_kludge(struct boot_ctx *bc, const struct mb_header *h,
		      uint64_t *entry)
{
	uint64_t file_off, load_len, load_end, bss_end;

	if (h->offset + MB_HDR_ADDR_SIZE > bc->img_size)
		return boot_error(bc, "multiboot header is truncated");
	if (h->header_addr < h->load_addr ||
	    h->header_addr - h->load_addr > h->offset)
		return boot_error(bc,
				  "multiboot header_addr %#x and "
				  "load_addr %#x do not match the file",
				  h->header_addr, h->load_addr);
	file_off = h->offset - (h->header_addr - h->load_addr);
	if (h->load_end_addr == 0) {
		load_len = bc->img_size - file_off;
	} else {
		if (h->load_end_addr < h->load_addr)
			return boot_error(bc,
					  "multiboot load_end_addr %#x is "
					  "below load_addr %#x",
					  h->load_end_addr, h->load_addr);
		load_len = h->load_end_addr - h->load_addr;
		if (!boot_range_ok(file_off, load_len, bc->img_size))
			return boot_error(
			    bc,
			    "multiboot load range is %#llx bytes but the "
			    "file has only %#llx after offset %#llx",
			    (unsigned long long)load_len,
			    (unsigned long long)(bc->img_size - file_off),
			    (unsigned long long)file_off);
	}
	load_end = h->load_addr + load_len;
	bss_end = h->bss_end_addr != 0 ? h->bss_end_addr : load_end;
	if (bss_end < load_end)
		return boot_error(bc,
				  "multiboot bss_end_addr %#x is below "
				  "the end of the loaded image %#llx",
				  h->bss_end_addr,
				  (unsigned long long)load_end);
	if (!boot_range_ok(h->load_addr, bss_end - h->load_addr, BOOT_4G))
		return boot_error(bc, "multiboot image extends beyond 4 GiB");
	if (boot_claim(bc, h->load_addr, bss_end - h->load_addr, "kernel") !=
		0 ||
	    boot_copyout(bc, h->load_addr, bc->img + file_off, (size_t)load_len,
			 "kernel") != 0 ||
	    boot_zero(bc, load_end, bss_end - load_end, "kernel") != 0)
		return -1;
	*entry = h->entry_addr;
	return 0;
}

static int
multiboot_load_elf(struct boot_ctx *bc, uint64_t *entry)
{
	struct boot_elf elf;
	const char *why;

	why = boot_elf_parse(bc->img, bc->img_size, &elf);
	if (why != NULL)
		return boot_error(bc,
				  "multiboot kernel without address "
				  "fields must be ELF: %s",
				  why);
	if (boot_elf_load(bc, &elf, BOOT_4G) != 0)
		return -1;
	*entry = boot_elf_entry_paddr(bc->img, bc->img_size, &elf);
	return 0;
}

/* Modules, page aligned (flag 0 asks for it; we always do it). */
static int
multiboot_put_modules(struct boot_ctx *bc, uint64_t *addrs)
{
	uint64_t lo, hi;
	int i;

	lo = boot_claims_end(bc, "kernel");
	if (lo < BOOT_1M)
		lo = BOOT_1M;
	hi = vm_get_lowmem_size(bc->vm);
	if (hi > BOOT_4G)
		hi = BOOT_4G;
	for (i = 0; i < bc->nmods; i++) {
		const struct boot_module *m = &bc->mods[i];
		uint64_t len = m->size != 0 ? m->size : 1;

		if (boot_alloc(bc, lo, hi, len, BOOT_PAGE, false, "module",
			       &addrs[i]) != 0 ||
		    boot_copyout(bc, addrs[i], m->data, m->size, "module") != 0)
			return -1;
	}
	return 0;
}

/* The size of the information block and its parts, all 4-byte aligned. */
struct mbi_layout {
	size_t mods, mmap, cmdline, name, strings, total;
};

static void
multiboot_layout(const struct boot_ctx *bc, int nmmap, struct mbi_layout *l)
{
	size_t off = boot_align_up(MBI_SIZE, 16);
	int i;

	l->mods = off;
	off += (size_t)bc->nmods * MBI_MOD_SIZE;
	l->mmap = off;
	off += (size_t)nmmap * MBI_MMAP_SIZE;
	l->cmdline = off;
	off += strlen(bc->cmdline) + 1;
	l->name = off;
	off += sizeof(MB_LOADER_NAME);
	l->strings = off;
	for (i = 0; i < bc->nmods; i++) {
		const char *s = bc->mods[i].name;

		off += (s != NULL ? strlen(s) : 0) + 1;
	}
	l->total = off;
}

static void
multiboot_fill(const struct boot_ctx *bc, uint8_t *b, uint64_t gpa,
	       const struct mbi_layout *l, const struct e820_entry *map,
	       int nmmap, const uint64_t *mod_addrs)
{
	size_t str = l->strings;
	uint64_t upper = vm_get_lowmem_size(bc->vm) - BOOT_1M;
	int i;

	boot_put32(b, MBI_F_MEM | MBI_F_CMDLINE | MBI_F_MODS | MBI_F_MMAP |
			  MBI_F_LOADER_NAME);
	/* mem_lower/mem_upper in KiB: below 640K, and from 1 MiB on. */
	boot_put32(b + 4, (uint32_t)(E820_EBDA_BASE / 1024));
	boot_put32(b + 8, (uint32_t)(upper / 1024 > UINT32_MAX ? UINT32_MAX
							       : upper / 1024));
	boot_put32(b + 16, (uint32_t)(gpa + l->cmdline));
	boot_put32(b + 20, (uint32_t)bc->nmods);
	boot_put32(b + 24, (uint32_t)(gpa + l->mods));
	boot_put32(b + 44, (uint32_t)(nmmap * MBI_MMAP_SIZE));
	boot_put32(b + 48, (uint32_t)(gpa + l->mmap));
	boot_put32(b + 64, (uint32_t)(gpa + l->name));
	for (i = 0; i < bc->nmods; i++) {
		uint8_t *m = b + l->mods + i * MBI_MOD_SIZE;
		const char *s =
		    bc->mods[i].name != NULL ? bc->mods[i].name : "";

		boot_put32(m, (uint32_t)mod_addrs[i]);
		boot_put32(m + 4, (uint32_t)(mod_addrs[i] + bc->mods[i].size));
		boot_put32(m + 8, (uint32_t)(gpa + str));
		memcpy(b + str, s, strlen(s) + 1);
		str += strlen(s) + 1;
	}
	for (i = 0; i < nmmap; i++) {
		uint8_t *e = b + l->mmap + i * MBI_MMAP_SIZE;

		boot_put32(e, MBI_MMAP_SIZE - 4);
		boot_put64(e + 4, map[i].base);
		boot_put64(e + 12, map[i].len);
		boot_put32(e + 20, map[i].type);
	}
	memcpy(b + l->cmdline, bc->cmdline, strlen(bc->cmdline) + 1);
	memcpy(b + l->name, MB_LOADER_NAME, sizeof(MB_LOADER_NAME));
}

static int
multiboot_put_info(struct boot_ctx *bc, uint64_t *mbi)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t mod_addrs[BOOT_MAX_MODULES];
	struct mbi_layout l;
	uint64_t gpa;
	uint8_t *buf;
	int n, rc;

	if (multiboot_put_modules(bc, mod_addrs) != 0)
		return -1;
	n = e820_get(map, E820_MAX_ENTRIES);
	multiboot_layout(bc, n, &l);
	if (l.total > BOOT_CMDLINE_MAX)
		return boot_error(bc,
				  "command line and module names are too "
				  "long (%zu bytes)",
				  l.total);
	/* Below 640 KiB if the kernel left room there, else after it. */
	if (boot_alloc(bc, BOOT_MBI_BASE, E820_EBDA_BASE, l.total, 16, false,
		       "multiboot info", &gpa) != 0 &&
	    boot_alloc(bc, BOOT_1M, BOOT_4G, l.total, BOOT_PAGE, false,
		       "multiboot info", &gpa) != 0)
		return -1;
	buf = calloc(1, l.total);
	if (buf == NULL)
		return boot_error(bc, "out of memory");
	multiboot_fill(bc, buf, gpa, &l, map, n, mod_addrs);
	rc = boot_copyout(bc, gpa, buf, l.total, "multiboot info");
	free(buf);
	*mbi = gpa;
	return rc;
}

static int
multiboot_load(struct boot_ctx *bc)
{
	struct mb_header hdr;
	uint64_t entry = 0, mbi;
	int rc;

	if (!multiboot_find(bc->img, bc->img_size, &hdr))
		return boot_error(bc, "no multiboot header");
	if ((hdr.flags & 0xffff & ~MB_F_KNOWN) != 0)
		return boot_error(bc,
				  "multiboot header requires features "
				  "this loader lacks (flags %#x)",
				  hdr.flags);
	if (hdr.flags & MB_F_ADDRESS)
		rc = multiboot_load_kludge(bc, &hdr, &entry);
	else
		rc = multiboot_load_elf(bc, &entry);
	if (rc != 0)
		return -1;
	if (entry >= BOOT_4G)
		return boot_error(bc,
				  "multiboot entry point %#llx is above "
				  "4 GiB",
				  (unsigned long long)entry);
	if (multiboot_put_info(bc, &mbi) != 0 || boot_put_gdt(bc, false) != 0)
		return -1;
	bc->st->kind = BOOT_KIND_MULTIBOOT;
	boot_state_flat32(bc->st, entry);
	boot_state_set_reg(bc->st, VM_REG_GUEST_RAX, MB_BOOT_MAGIC);
	boot_state_set_reg(bc->st, VM_REG_GUEST_RBX, mbi);
	return 0;
}

const struct boot_loader multiboot_loader = {
    .probe = multiboot_probe,
    .load = multiboot_load,
};
