/*
 * PVH loader: an ELF kernel (such as Linux's vmlinux) that carries a
 * XEN_ELFNOTE_PHYS32_ENTRY note is started in 32-bit protected mode with
 * paging off and EBX pointing at an hvm_start_info (Xen's
 * docs/misc/pvh.pandoc and xen/include/public/arch-x86/hvm/start_info.h).
 *
 * Guest memory after loading:
 *	0x500		boot GDT (flat 32-bit code and data)
 *	0x1000		struct hvm_start_info (version 1)
 *	0x2000		module list, then the memory map (E820 types)
 *	0x20000		command line
 *	p_paddr		the ELF's PT_LOAD segments
 *	high in low RAM	modules (the first is Linux's initrd)
 */
#include "boot_elf.h"
#include "boot_load.h"
#include "boot_loader.h"
#include "boot_state.h"
#include "e820.h"
#include "vmmapi.h"

#define PVH_NOTE_NAME	 "Xen"
#define PVH_NOTE_PHYS32	 18 /* XEN_ELFNOTE_PHYS32_ENTRY */
#define PVH_MAGIC	 0x336ec578u
#define PVH_VERSION	 1
#define PVH_START_SIZE	 56 /* hvm_start_info, version 1 */
#define PVH_MODLIST_ADDR BOOT_TABLES_ADDR
#define PVH_MOD_SIZE	 32 /* hvm_modlist_entry */
#define PVH_MEMMAP_ADDR	 (BOOT_TABLES_ADDR + BOOT_MAX_MODULES * PVH_MOD_SIZE)
#define PVH_MEMMAP_SIZE	 24 /* hvm_memmap_table_entry */

_Static_assert(PVH_MEMMAP_ADDR + E820_MAX_ENTRIES * PVH_MEMMAP_SIZE <=
		   BOOT_TABLES_ADDR + BOOT_PAGE,
	       "PVH tables fit their page");

/* The entry point from the note: 4 or 8 bytes, below 4 GiB. */
static bool
pvh_entry(const uint8_t *img, size_t size, const struct boot_elf *elf,
	  uint64_t *entry)
{
	const uint8_t *desc;
	size_t len;

	if (!boot_elf_find_note(img, size, elf, PVH_NOTE_NAME, PVH_NOTE_PHYS32,
				&desc, &len))
		return false;
	if (len == 4)
		*entry = boot_le32(desc);
	else if (len == 8)
		*entry = boot_le64(desc);
	else
		*entry = UINT64_MAX;
	return true;
}

static bool
pvh_probe(const uint8_t *img, size_t size)
{
	struct boot_elf elf;
	uint64_t entry;

	return boot_elf_parse(img, size, &elf) == NULL &&
	       pvh_entry(img, size, &elf, &entry);
}

static int
pvh_put_modules(struct boot_ctx *bc, uint8_t *start)
{
	uint8_t list[BOOT_MAX_MODULES * PVH_MOD_SIZE];
	uint64_t hi, gpa;
	int i;

	memset(list, 0, sizeof(list));
	hi = vm_get_lowmem_size(bc->vm);
	for (i = 0; i < bc->nmods; i++) {
		const struct boot_module *m = &bc->mods[i];

		if (m->size == 0)
			return boot_error(bc, "module %d (%s) is empty", i,
					  m->name != NULL ? m->name : "?");
		if (boot_alloc(bc, BOOT_1M, hi, m->size, BOOT_PAGE, true,
			       "module", &gpa) != 0)
			return -1;
		if (boot_copyout(bc, gpa, m->data, m->size, "module") != 0)
			return -1;
		boot_put64(list + i * PVH_MOD_SIZE, gpa);
		boot_put64(list + i * PVH_MOD_SIZE + 8, m->size);
	}
	if (bc->nmods == 0)
		return 0;
	if (boot_copyout(bc, PVH_MODLIST_ADDR, list,
			 (size_t)bc->nmods * PVH_MOD_SIZE, "module list") != 0)
		return -1;
	boot_put32(start + 12, (uint32_t)bc->nmods);
	boot_put64(start + 16, PVH_MODLIST_ADDR);
	return 0;
}

static int
pvh_put_memmap(struct boot_ctx *bc, uint8_t *start)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t out[E820_MAX_ENTRIES * PVH_MEMMAP_SIZE];
	int i, n;

	memset(out, 0, sizeof(out));
	n = e820_get(map, E820_MAX_ENTRIES);
	for (i = 0; i < n; i++) {
		boot_put64(out + i * PVH_MEMMAP_SIZE, map[i].base);
		boot_put64(out + i * PVH_MEMMAP_SIZE + 8, map[i].len);
		boot_put32(out + i * PVH_MEMMAP_SIZE + 16, map[i].type);
	}
	if (boot_copyout(bc, PVH_MEMMAP_ADDR, out, (size_t)n * PVH_MEMMAP_SIZE,
			 "memory map") != 0)
		return -1;
	boot_put64(start + 40, PVH_MEMMAP_ADDR);
	boot_put32(start + 48, (uint32_t)n);
	return 0;
}

static int
pvh_load(struct boot_ctx *bc)
{
	uint8_t start[PVH_START_SIZE];
	struct boot_elf elf;
	const char *why;
	uint64_t entry, cmdline;

	why = boot_elf_parse(bc->img, bc->img_size, &elf);
	if (why != NULL)
		return boot_error(bc, "%s", why);
	if (!pvh_entry(bc->img, bc->img_size, &elf, &entry))
		return boot_error(bc, "ELF kernel has no PVH entry note");
	if (entry == 0 || entry >= BOOT_4G)
		return boot_error(bc,
				  "PVH entry point %#llx is not a 32-bit "
				  "physical address",
				  (unsigned long long)entry);
	if (boot_elf_load(bc, &elf, BOOT_4G) != 0)
		return -1;
	if (boot_claim(bc, BOOT_INFO_ADDR, BOOT_PAGE, "start info") != 0 ||
	    boot_claim(bc, BOOT_TABLES_ADDR, BOOT_PAGE, "PVH tables") != 0 ||
	    boot_put_cmdline(bc, BOOT_CMDLINE_MAX, &cmdline) != 0)
		return -1;
	memset(start, 0, sizeof(start));
	boot_put32(start, PVH_MAGIC);
	boot_put32(start + 4, PVH_VERSION);
	boot_put64(start + 24, cmdline);
	if (pvh_put_modules(bc, start) != 0 || pvh_put_memmap(bc, start) != 0)
		return -1;
	if (boot_copyout(bc, BOOT_INFO_ADDR, start, sizeof(start),
			 "start info") != 0)
		return -1;
	if (boot_put_gdt(bc, false) != 0)
		return -1;
	bc->st->kind = BOOT_KIND_PVH;
	boot_state_flat32(bc->st, entry);
	boot_state_set_reg(bc->st, VM_REG_GUEST_RBX, BOOT_INFO_ADDR);
	return 0;
}

const struct boot_loader pvh_loader = {
    .probe = pvh_probe,
    .load = pvh_load,
};
