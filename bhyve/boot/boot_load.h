/*
 * What the kernel loaders share, below all of them (boot_load.c): the load
 * context, error reporting, guest-memory placement with overlap checks,
 * the structures several protocols write, and bounds-checked little-endian
 * reads and writes.  It calls nothing in the loaders or the dispatcher.
 */
#ifndef BOOT_LOAD_H
#define BOOT_LOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot.h"

#define BOOT_MAX_CLAIMS	 64
#define BOOT_MAX_MODULES 16
#define BOOT_4G		 (1ULL << 32)
#define BOOT_1M		 0x100000ULL
#define BOOT_PAGE	 4096ULL

/* A guest-physical range in use by the kernel or a loader structure. */
struct boot_claim {
	uint64_t base;
	uint64_t end; /* exclusive */
	const char *what;
};

struct boot_ctx {
	struct vmctx *vm;
	const uint8_t *img; /* kernel image */
	size_t img_size;
	const struct boot_module *mods;
	int nmods;
	const char *cmdline; /* never NULL */
	struct boot_cpu_state *st;
	char *err;
	size_t errlen;
	struct boot_claim claims[BOOT_MAX_CLAIMS];
	int nclaims;
};

/* Formats the one-line error message; always returns -1. */
int boot_error(struct boot_ctx *bc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Overflow-safe range helpers. */
static inline bool
boot_range_ok(uint64_t base, uint64_t len, uint64_t limit)
{
	return base <= limit && len <= limit - base;
}

static inline uint64_t
boot_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* Little-endian reads at an offset already checked against the image. */
static inline uint16_t
boot_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
boot_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t
boot_le64(const uint8_t *p)
{
	return (uint64_t)boot_le32(p) | (uint64_t)boot_le32(p + 4) << 32;
}

static inline void
boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
boot_put32(uint8_t *p, uint32_t v)
{
	boot_put16(p, (uint16_t)v);
	boot_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * Reserves [base, base+len) for 'what': it must be RAM in the E820 map and
 * in the VM, and must not overlap an earlier claim.
 */
int boot_claim(struct boot_ctx *bc, uint64_t base, uint64_t len,
	       const char *what);
/*
 * Finds and claims len bytes, aligned, inside [lo, hi): the lowest free
 * place, or the highest when 'top'.  The address goes to *gpa.
 */
int boot_alloc(struct boot_ctx *bc, uint64_t lo, uint64_t hi, uint64_t len,
	       uint64_t align, bool top, const char *what, uint64_t *gpa);
/* Copies into guest RAM (claimed first by the caller). */
int boot_copyout(struct boot_ctx *bc, uint64_t gpa, const void *src, size_t len,
		 const char *what);
int boot_zero(struct boot_ctx *bc, uint64_t gpa, uint64_t len,
	      const char *what);
/* Highest end of the claims whose name is 'what' (0 if none). */
uint64_t boot_claims_end(const struct boot_ctx *bc, const char *what);

/* Claims and writes the command line at BOOT_CMDLINE_ADDR. */
int boot_put_cmdline(struct boot_ctx *bc, uint64_t maxlen, uint64_t *gpa);
/* Claims and writes the boot GDT (null, null, code, data) at 0x500. */
int boot_put_gdt(struct boot_ctx *bc, bool long_mode);
/* Claims and writes identity page tables for 0..4 GiB (2 MiB pages). */
int boot_put_page_tables(struct boot_ctx *bc);

#endif
