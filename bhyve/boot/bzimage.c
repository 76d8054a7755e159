/*
 * Linux bzImage loader: the x86 boot protocol (Documentation/arch/x86/
 * boot.rst, "The Linux/x86 Boot Protocol") with the 32-bit or 64-bit entry
 * (sections "32-bit Boot Protocol" and "64-bit Boot Protocol"), skipping
 * the real-mode setup code.  The zero page layout is zero-page.rst.
 *
 * Guest memory after loading:
 *	0x500		boot GDT (__BOOT_CS 0x10, __BOOT_DS 0x18)
 *	0x1000		boot_params ("zero page")
 *	0x9000		identity page tables, 0..4 GiB (64-bit entry)
 *	0x20000		command line
 *	1 MiB		protected-mode kernel; RAM up to the larger of its
 *			end and pref_address + init_size is kept free for
 *			the decompressor
 *	high in low RAM	initrd, below initrd_addr_max, page aligned
 */
#include "boot_load.h"
#include "boot_loader.h"
#include "boot_state.h"
#include "e820.h"
#include "vmmapi.h"

/* setup_header fields, at their offsets in the image and the zero page. */
#define HDR_START	     0x1f1
#define HDR_SETUP_SECTS	     0x1f1
#define HDR_VID_MODE	     0x1fa
#define HDR_BOOT_FLAG	     0x1fe
#define HDR_JUMP	     0x200
#define HDR_HEADER	     0x202
#define HDR_VERSION	     0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS	     0x211
#define HDR_CODE32_START     0x214
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE	     0x234
#define HDR_XLOADFLAGS	     0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_SETUP_DATA	     0x250
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE	     0x260
#define HDR_END_MAX	     0x290 /* edd_mbr_sig_buffer follows */

/* Zero-page fields outside the setup header (zero-page.rst). */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_E820_TABLE	     0x2d0
#define BP_SIZE		     4096

#define BZ_MAGIC	    0x53726448 /* "HdrS" */
#define BZ_LOADED_HIGH	    0x01
#define BZ_CAN_USE_HEAP	    0x80
#define BZ_XLF_KERNEL_64    0x01
#define BZ_LOAD_ADDR	    BOOT_1M
#define BZ_ENTRY64_OFFSET   0x200
#define BZ_DEF_INITRD_MAX   0x37ffffffULL /* before protocol 2.03 */
#define BZ_DEF_CMDLINE_SIZE 255		  /* before protocol 2.06 */
#define BZ_HEAP_END	    0xfe00

static bool
bzimage_probe(const uint8_t *img, size_t size)
{
	return size >= HDR_END_MAX &&
	       boot_le16(img + HDR_BOOT_FLAG) == 0xaa55 &&
	       boot_le32(img + HDR_HEADER) == BZ_MAGIC;
}

struct bzimage {
	uint16_t version;
	uint64_t setup_size;  /* real-mode part, skipped */
	uint64_t kernel_size; /* protected-mode part, loaded at 1 MiB */
	uint64_t hdr_end;     /* end of the setup header in the image */
	bool entry64;
};

static int
bzimage_check(struct boot_ctx *bc, struct bzimage *bz)
{
	const uint8_t *img = bc->img;
	unsigned int sects;

	bz->version = boot_le16(img + HDR_VERSION);
	if (bz->version < 0x0206)
		return boot_error(
		    bc,
		    "bzImage boot protocol %u.%02u is too old (need 2.06 or "
		    "later)",
		    bz->version >> 8, bz->version & 0xff);
	if ((img[HDR_LOADFLAGS] & BZ_LOADED_HIGH) == 0)
		return boot_error(bc, "zImage kernels (not loaded high) are "
				      "not supported");
	/* A setup_sects of 0 means 4 (boot.rst, "Details of Header Fields"). */
	sects = img[HDR_SETUP_SECTS] != 0 ? img[HDR_SETUP_SECTS] : 4;
	bz->setup_size = (uint64_t)(sects + 1) * 512;
	if (bz->setup_size >= bc->img_size)
		return boot_error(bc,
				  "bzImage is truncated: no protected-mode "
				  "kernel after %llu bytes of setup",
				  (unsigned long long)bz->setup_size);
	bz->kernel_size = bc->img_size - bz->setup_size;
	/* The header ends at 0x202 plus the jump's offset byte at 0x201. */
	bz->hdr_end = 0x202 + (uint64_t)img[HDR_JUMP + 1];
	if (bz->hdr_end > HDR_END_MAX)
		bz->hdr_end = HDR_END_MAX;
	bz->entry64 = bz->version >= 0x020c &&
		      (boot_le16(img + HDR_XLOADFLAGS) & BZ_XLF_KERNEL_64) != 0;
	return 0;
}

/*
 * The decompressor runs at pref_address (or the load address rounded up to
 * kernel_alignment, if higher) and needs init_size bytes there; keep that
 * RAM free of the initrd.
 */
static int
bzimage_claim_kernel(struct boot_ctx *bc, const struct bzimage *bz)
{
	const uint8_t *img = bc->img;
	uint64_t end = BZ_LOAD_ADDR + bz->kernel_size;
	uint64_t run = BZ_LOAD_ADDR, align, init_size;

	if (bz->version >= 0x020a) {
		align = boot_le32(img + HDR_KERNEL_ALIGNMENT);
		if (img[HDR_RELOCATABLE] && align != 0 &&
		    (align & (align - 1)) == 0 && align <= (1ULL << 30))
			run = boot_align_up(BZ_LOAD_ADDR, align);
		if (boot_le64(img + HDR_PREF_ADDRESS) > run)
			run = boot_le64(img + HDR_PREF_ADDRESS);
		init_size = boot_le32(img + HDR_INIT_SIZE);
		if (!boot_range_ok(run, init_size, BOOT_4G))
			return boot_error(
			    bc,
			    "bzImage pref_address %#llx + init_size %#llx is "
			    "beyond 4 GiB",
			    (unsigned long long)run,
			    (unsigned long long)init_size);
		if (run + init_size > end)
			end = run + init_size;
	}
	if (!e820_is_ram(BZ_LOAD_ADDR, end - BZ_LOAD_ADDR))
		return boot_error(
		    bc,
		    "kernel needs RAM from %#llx to %#llx to decompress; "
		    "guest low memory ends at %#llx",
		    (unsigned long long)BZ_LOAD_ADDR, (unsigned long long)end,
		    (unsigned long long)vm_get_lowmem_size(bc->vm));
	if (boot_claim(bc, BZ_LOAD_ADDR, end - BZ_LOAD_ADDR, "kernel") != 0)
		return -1;
	return boot_copyout(bc, BZ_LOAD_ADDR, img + bz->setup_size,
			    (size_t)bz->kernel_size, "kernel");
}

static int
bzimage_put_initrd(struct boot_ctx *bc, const struct bzimage *bz, uint8_t *bp)
{
	const struct boot_module *rd = &bc->mods[0];
	uint64_t max, hi, gpa;

	if (bc->nmods == 0 || bc->mods[0].size == 0)
		return 0;
	if (bc->nmods > 1)
		return boot_error(bc, "Linux takes one initrd, not %d",
				  bc->nmods);
	/* initrd_addr_max is the highest byte the initrd may occupy. */
	max = bz->version >= 0x0203 ? boot_le32(bc->img + HDR_INITRD_ADDR_MAX)
				    : BZ_DEF_INITRD_MAX;
	hi = max + 1;
	if (hi > vm_get_lowmem_size(bc->vm))
		hi = vm_get_lowmem_size(bc->vm);
	if (boot_alloc(bc, BOOT_1M, hi, rd->size, BOOT_PAGE, true, "initrd",
		       &gpa) != 0)
		return -1;
	if (boot_copyout(bc, gpa, rd->data, rd->size, "initrd") != 0)
		return -1;
	boot_put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)gpa);
	boot_put32(bp + HDR_RAMDISK_SIZE, (uint32_t)rd->size);
	boot_put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(gpa >> 32));
	boot_put32(bp + BP_EXT_RAMDISK_SIZE,
		   (uint32_t)((uint64_t)rd->size >> 32));
	return 0;
}

static void
bzimage_put_e820(uint8_t *bp)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	int i, n;

	n = e820_get(map, E820_MAX_ENTRIES);
	for (i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20;

		boot_put64(e, map[i].base);
		boot_put64(e + 8, map[i].len);
		boot_put32(e + 16, map[i].type);
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
}

static int
bzimage_put_cmdline(struct boot_ctx *bc, const struct bzimage *bz, uint8_t *bp)
{
	uint64_t max, gpa;

	/* cmdline_size excludes the terminating NUL. */
	max = boot_le32(bc->img + HDR_CMDLINE_SIZE);
	if (boot_put_cmdline(bc, max + 1, &gpa) != 0)
		return -1;
	boot_put32(bp + HDR_CMD_LINE_PTR, (uint32_t)gpa);
	boot_put32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(gpa >> 32));
	return 0;
}

static int
bzimage_load(struct boot_ctx *bc)
{
	struct boot_cpu_state *st = bc->st;
	struct bzimage bz = {0};
	uint8_t bp[BP_SIZE];

	if (bzimage_check(bc, &bz) != 0 || bzimage_claim_kernel(bc, &bz) != 0)
		return -1;
	if (boot_claim(bc, BOOT_INFO_ADDR, BP_SIZE, "zero page") != 0)
		return -1;
	/* The zero page starts empty with the image's setup header in it. */
	memset(bp, 0, sizeof(bp));
	memcpy(bp + HDR_START, bc->img + HDR_START, bz.hdr_end - HDR_START);
	boot_put16(bp + HDR_VID_MODE, 0xffff); /* "normal" */
	bp[HDR_TYPE_OF_LOADER] = 0xff;	       /* undefined loader */
	bp[HDR_LOADFLAGS] |= BZ_CAN_USE_HEAP;
	boot_put16(bp + HDR_HEAP_END_PTR, BZ_HEAP_END);
	boot_put32(bp + HDR_CODE32_START, (uint32_t)BZ_LOAD_ADDR);
	if (bz.version >= 0x0209)
		boot_put64(bp + HDR_SETUP_DATA, 0);
	if (bzimage_put_cmdline(bc, &bz, bp) != 0 ||
	    bzimage_put_initrd(bc, &bz, bp) != 0)
		return -1;
	bzimage_put_e820(bp);
	if (boot_copyout(bc, BOOT_INFO_ADDR, bp, sizeof(bp), "zero page") != 0)
		return -1;
	if (boot_put_gdt(bc, bz.entry64) != 0)
		return -1;
	if (bz.entry64) {
		if (boot_put_page_tables(bc) != 0)
			return -1;
		st->kind = BOOT_KIND_LINUX64;
		boot_state_long64(st, BZ_LOAD_ADDR + BZ_ENTRY64_OFFSET);
	} else {
		st->kind = BOOT_KIND_LINUX32;
		boot_state_flat32(st, BZ_LOAD_ADDR);
	}
	/* boot.rst: %rsi holds boot_params; %ebp, %edi, %ebx must be 0. */
	boot_state_set_reg(st, VM_REG_GUEST_RSI, BOOT_INFO_ADDR);
	boot_state_set_reg(st, VM_REG_GUEST_RBP, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RDI, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RBX, 0);
	return 0;
}

const struct boot_loader bzimage_loader = {
    .probe = bzimage_probe,
    .load = bzimage_load,
};
