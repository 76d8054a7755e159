/*
 * Direct kernel boot: load a kernel (and initrd/modules, command line) into
 * guest RAM and describe the CPU state its entry point expects.  bhyve on
 * FreeBSD boots through a userspace loader or UEFI; beehive adds the three
 * common direct-boot protocols:
 *
 *   - Linux bzImage, x86 boot protocol >= 2.06 (Documentation/x86/boot.rst),
 *     64-bit entry when the kernel has XLF_KERNEL_64, else 32-bit entry;
 *   - ELF kernels with a PVH entry note (Xen's hvm_start_info ABI);
 *   - Multiboot 1 kernels (ELF32, ELF64 or the a.out kludge address fields).
 *
 * Loaders write guest memory only through vm_map_gpa()/vm_copyout() and
 * return the initial vCPU state as data, so they run (and are tested and
 * fuzzed) without /dev/kvm; boot_apply() then programs the boot vCPU.
 */
#ifndef BOOT_H
#define BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmmapi.h"

struct vmctx;
struct vcpu;

enum boot_kind {
	BOOT_KIND_NONE,
	BOOT_KIND_LINUX64, /* bzImage, 64-bit entry */
	BOOT_KIND_LINUX32, /* bzImage, 32-bit protected-mode entry */
	BOOT_KIND_PVH,
	BOOT_KIND_MULTIBOOT,
};

/* A segment's hidden part, in vm_set_desc()'s form. */
struct boot_seg {
	uint64_t base;
	uint32_t limit;
	uint32_t access; /* SEG_ACCESS_* bits of vmmapi.h */
};

struct boot_cpu_state {
	enum boot_kind kind;
	uint64_t entry;			   /* guest-physical entry point */
	uint64_t regs[VM_REG_LAST];	   /* selectors for segment registers */
	uint64_t regs_set;		   /* bit r: regs[r] is to be set */
	struct boot_seg segs[VM_REG_LAST]; /* ES..GDTR, indexed by reg */
	uint64_t segs_set;		   /* bit r: segs[r] is to be set */
};

/* An initrd or multiboot module already in host memory. */
struct boot_module {
	const void *data;
	size_t size;
	const char *name; /* multiboot module string; may be NULL */
};

/* What to boot: files on disk (boot_load_files). */
struct boot_files {
	const char *kernel;
	/* Linux/PVH: one initrd.  Multiboot: comma-separated modules. */
	const char *initrd;
	const char *cmdline; /* NULL: empty */
};

/*
 * Loads what the configuration keys boot.kernel, boot.initrd and
 * boot.cmdline name.  Uses the E820 map (e820.h), building it from ctx's
 * memory layout unless platform code already did.  Returns 0, or -1 with
 * one line in err.
 */
int boot_load(struct vmctx *ctx, struct boot_cpu_state *st, char *err,
	      size_t errlen);
/* The same with explicit paths. */
int boot_load_files(struct vmctx *ctx, const struct boot_files *files,
		    struct boot_cpu_state *st, char *err, size_t errlen);
/* The same from memory: kernel image, modules, command line. */
int boot_load_image(struct vmctx *ctx, const void *kernel, size_t klen,
		    const struct boot_module *mods, int nmods,
		    const char *cmdline, struct boot_cpu_state *st, char *err,
		    size_t errlen);

/* Programs the vCPU with st; 0, or -1 (errno from vmmapi). */
int boot_apply(struct vcpu *vcpu, const struct boot_cpu_state *st);

const char *boot_kind_name(enum boot_kind kind);

/* Helpers for st: set one register or segment, test what is set. */
void boot_state_set_reg(struct boot_cpu_state *st, int reg, uint64_t val);
void boot_state_set_seg(struct boot_cpu_state *st, int reg, uint16_t sel,
			uint64_t base, uint32_t limit, uint32_t access);
int boot_state_has_reg(const struct boot_cpu_state *st, int reg);
int boot_state_has_seg(const struct boot_cpu_state *st, int reg);

/* Fixed guest-physical addresses of the loaders' own structures. */
#define BOOT_GDT_ADDR	  0x500ULL
#define BOOT_INFO_ADDR	  0x1000ULL /* Linux zero page / PVH start_info */
#define BOOT_TABLES_ADDR  0x2000ULL /* PVH modlist and memmap */
#define BOOT_STACK_TOP	  0x8000ULL
#define BOOT_PML4_ADDR	  0x9000ULL /* then PDPT, then four PDs */
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_CMDLINE_MAX  0x10000ULL /* bytes, with the NUL */
#define BOOT_MBI_BASE	  0x9000ULL  /* multiboot info search start */

/* Boot GDT selectors (Linux's __BOOT_CS/__BOOT_DS). */
#define BOOT_SEL_CS 0x10
#define BOOT_SEL_DS 0x18

/* Access rights of the flat segments the loaders use. */
#define BOOT_ACCESS_CODE32 0xc09bu /* G, D, P, S, execute/read accessed */
#define BOOT_ACCESS_CODE64 0xa09bu /* G, L, P, S, execute/read accessed */
#define BOOT_ACCESS_DATA   0xc093u /* G, B, P, S, read/write accessed */
#define BOOT_ACCESS_TSS32  0x008bu /* P, busy 32-bit TSS */
#define BOOT_ACCESS_LDT	   0x0082u /* P, LDT */

#endif
