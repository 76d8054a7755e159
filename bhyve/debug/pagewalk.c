/*
 * Guest page-table walks (Intel SDM Vol. 3A chapter 4; AMD APM Vol. 2
 * 5.2-5.3 describes the same formats).
 *
 *   CR0.PG = 0                  no paging: linear = physical (32 bits)
 *   CR4.PAE = 0                 32-bit paging, 4 KiB and (PSE) 4 MiB pages
 *   CR4.PAE = 1, EFER.LMA = 0   PAE paging: 4 PDPTEs, 2 MiB and 4 KiB pages
 *   EFER.LMA = 1                4-level (5-level with CR4.LA57) paging,
 *                               1 GiB, 2 MiB and 4 KiB pages
 *
 * The walk reports whether a translation exists; it does not check access
 * rights (the caller is a debugger, not the guest).  PAE PDPTEs are read
 * from memory, where the CPU would use the copies it loaded with CR3: the
 * two differ only if the guest changed its PDPT without reloading CR3.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "pagewalk.h"

#define CR0_PG	 (1ULL << 31)
#define CR4_PSE	 (1ULL << 4)
#define CR4_PAE	 (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define EFER_LMA (1ULL << 10)
#define PTE_P	 (1ULL << 0)
#define PTE_PS	 (1ULL << 7)
/* Bits 51:12 of an entry: the frame (MAXPHYADDR is at most 52). */
#define PTE_FRAME  0x000ffffffffff000ULL
#define PAGE_MASK4 0xfffULL

static void __attribute__((format(printf, 3, 4)))
pagewalk_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

const char *
pagewalk_mode_name(const struct pagewalk_cpu *cpu)
{
	if (!(cpu->cr0 & CR0_PG))
		return "none";
	if (!(cpu->cr4 & CR4_PAE))
		return "32-bit";
	if (!(cpu->efer & EFER_LMA))
		return "pae";
	return (cpu->cr4 & CR4_LA57) ? "5-level" : "4-level";
}

static int
pagewalk_read(struct vmctx *ctx, uint64_t addr, void *buf, size_t len,
	      char *why, size_t whylen)
{
	if (vm_copyin(ctx, addr, buf, len) == 0)
		return 0;
	pagewalk_why(why, whylen,
		     "page-table entry at 0x%" PRIx64 " is outside guest RAM",
		     addr);
	return -1;
}

/* 4-level/5-level and PAE share the 8-byte entry format. */
static enum pagewalk_status
pagewalk_long(struct vmctx *ctx, uint64_t table, int levels, uint64_t gla,
	      uint64_t *gpa, uint64_t *pagesize, char *why, size_t whylen)
{
	uint64_t pte;

	for (int level = levels; level >= 1; level--) {
		int shift = 12 + 9 * (level - 1);
		uint64_t idx = (gla >> shift) & 511;
		uint64_t size = 1ULL << shift;

		if (pagewalk_read(ctx, table + idx * 8, &pte, 8, why, whylen) !=
		    0)
			return PAGEWALK_ERROR;
		if (!(pte & PTE_P)) {
			pagewalk_why(why, whylen,
				     "level-%d entry for 0x%" PRIx64
				     " is not present",
				     level, gla);
			return PAGEWALK_FAULT;
		}
		if (level == 1 || (pte & PTE_PS)) {
			/* PS is reserved above the 1 GiB level. */
			if (level > 3) {
				pagewalk_why(why, whylen,
					     "level-%d entry for 0x%" PRIx64
					     " sets the reserved PS bit",
					     level, gla);
				return PAGEWALK_FAULT;
			}
			*gpa = (pte & PTE_FRAME & ~(size - 1)) |
			       (gla & (size - 1));
			if (pagesize != NULL)
				*pagesize = size;
			return PAGEWALK_OK;
		}
		table = pte & PTE_FRAME;
	}
	return PAGEWALK_FAULT; /* not reached */
}

/* Linear addresses must be sign-extended from bit 47 (or 56). */
static bool
pagewalk_canonical(uint64_t gla, int bits)
{
	int64_t s = (int64_t)(gla << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == gla;
}

static enum pagewalk_status
pagewalk_pae(struct vmctx *ctx, const struct pagewalk_cpu *cpu, uint64_t gla,
	     uint64_t *gpa, uint64_t *pagesize, char *why, size_t whylen)
{
	/* SDM 4.4.1: the PDPT is 32-byte aligned at CR3 bits 31:5. */
	uint64_t pdpt = cpu->cr3 & 0xffffffe0ULL;
	uint64_t pdpte;

	gla &= 0xffffffffULL;
	if (pagewalk_read(ctx, pdpt + (gla >> 30) * 8, &pdpte, 8, why,
			  whylen) != 0)
		return PAGEWALK_ERROR;
	if (!(pdpte & PTE_P)) {
		pagewalk_why(why, whylen,
			     "PDPTE %" PRIu64 " for 0x%" PRIx64
			     " is not present",
			     gla >> 30, gla);
		return PAGEWALK_FAULT;
	}
	return pagewalk_long(ctx, pdpte & PTE_FRAME, 2, gla, gpa, pagesize, why,
			     whylen);
}

static enum pagewalk_status
pagewalk_32bit(struct vmctx *ctx, const struct pagewalk_cpu *cpu, uint64_t gla,
	       uint64_t *gpa, uint64_t *pagesize, char *why, size_t whylen)
{
	uint32_t pde, pte;

	gla &= 0xffffffffULL;
	if (pagewalk_read(ctx, (cpu->cr3 & 0xfffff000ULL) + (gla >> 22) * 4,
			  &pde, 4, why, whylen) != 0)
		return PAGEWALK_ERROR;
	if (!(pde & PTE_P)) {
		pagewalk_why(why, whylen,
			     "PDE %" PRIu64 " for 0x%" PRIx64 " is not present",
			     gla >> 22, gla);
		return PAGEWALK_FAULT;
	}
	if ((pde & PTE_PS) && (cpu->cr4 & CR4_PSE)) {
		/* SDM table 4-4: PDE bits 20:13 are address bits 39:32. */
		*gpa = (pde & 0xffc00000ULL) |
		       ((uint64_t)((pde >> 13) & 0xff) << 32) |
		       (gla & 0x3fffffULL);
		if (pagesize != NULL)
			*pagesize = 4ULL << 20;
		return PAGEWALK_OK;
	}
	if (pagewalk_read(ctx, (pde & 0xfffff000ULL) + ((gla >> 12) & 1023) * 4,
			  &pte, 4, why, whylen) != 0)
		return PAGEWALK_ERROR;
	if (!(pte & PTE_P)) {
		pagewalk_why(why, whylen,
			     "PTE %" PRIu64 " for 0x%" PRIx64 " is not present",
			     (gla >> 12) & 1023, gla);
		return PAGEWALK_FAULT;
	}
	*gpa = (pte & 0xfffff000ULL) | (gla & PAGE_MASK4);
	if (pagesize != NULL)
		*pagesize = 4096;
	return PAGEWALK_OK;
}

enum pagewalk_status
pagewalk_gla2gpa(struct vmctx *ctx, const struct pagewalk_cpu *cpu,
		 uint64_t gla, uint64_t *gpa, uint64_t *pagesize, char *why,
		 size_t whylen)
{
	int levels;

	if (!(cpu->cr0 & CR0_PG)) {
		if (gla > 0xffffffffULL) {
			pagewalk_why(why, whylen,
				     "0x%" PRIx64
				     " is beyond the 32-bit linear "
				     "space of a CPU without paging",
				     gla);
			return PAGEWALK_FAULT;
		}
		*gpa = gla;
		if (pagesize != NULL)
			*pagesize = 4096;
		return PAGEWALK_OK;
	}
	if (!(cpu->cr4 & CR4_PAE))
		return pagewalk_32bit(ctx, cpu, gla, gpa, pagesize, why,
				      whylen);
	if (!(cpu->efer & EFER_LMA))
		return pagewalk_pae(ctx, cpu, gla, gpa, pagesize, why, whylen);
	levels = (cpu->cr4 & CR4_LA57) ? 5 : 4;
	if (!pagewalk_canonical(gla, levels == 5 ? 57 : 48)) {
		pagewalk_why(why, whylen, "0x%" PRIx64 " is not canonical",
			     gla);
		return PAGEWALK_FAULT;
	}
	return pagewalk_long(ctx, cpu->cr3 & PTE_FRAME, levels, gla, gpa,
			     pagesize, why, whylen);
}
