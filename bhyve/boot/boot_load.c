/*
 * The loaders' shared layer (see boot_load.h): error reporting, placement
 * helpers that keep every structure a loader writes inside E820 RAM and
 * away from everything placed before it, and the command line, GDT and
 * page tables more than one protocol needs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot_load.h"
#include "e820.h"
#include "vmmapi.h"

int
boot_error(struct boot_ctx *bc, const char *fmt, ...)
{
	va_list ap;

	if (bc->err != NULL && bc->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(bc->err, bc->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- guest-memory placement ---- */

static const struct boot_claim *
boot_claim_overlap(const struct boot_ctx *bc, uint64_t base, uint64_t end)
{
	int i;

	for (i = 0; i < bc->nclaims; i++) {
		if (base < bc->claims[i].end && bc->claims[i].base < end)
			return &bc->claims[i];
	}
	return NULL;
}

static bool
boot_place_ok(const struct boot_ctx *bc, uint64_t base, uint64_t len)
{
	return e820_is_ram(base, len) &&
	       vm_map_gpa(bc->vm, base, (size_t)len) != NULL &&
	       boot_claim_overlap(bc, base, base + len) == NULL;
}

int
boot_claim(struct boot_ctx *bc, uint64_t base, uint64_t len, const char *what)
{
	const struct boot_claim *c;

	if (len == 0)
		return 0;
	if (base + len < base || len > SIZE_MAX || !e820_is_ram(base, len) ||
	    vm_map_gpa(bc->vm, base, (size_t)len) == NULL)
		return boot_error(
		    bc,
		    "%s at %#llx-%#llx is not in guest RAM (too little "
		    "memory?)",
		    what, (unsigned long long)base,
		    (unsigned long long)(base + len - 1));
	c = boot_claim_overlap(bc, base, base + len);
	if (c != NULL)
		return boot_error(bc,
				  "%s at %#llx-%#llx overlaps the %s at "
				  "%#llx-%#llx",
				  what, (unsigned long long)base,
				  (unsigned long long)(base + len - 1), c->what,
				  (unsigned long long)c->base,
				  (unsigned long long)(c->end - 1));
	if (bc->nclaims == BOOT_MAX_CLAIMS)
		return boot_error(bc, "too many pieces to load");
	bc->claims[bc->nclaims++] = (struct boot_claim){base, base + len, what};
	return 0;
}

/* Tries one candidate address: aligned, inside [lo, hi), free. */
static bool
boot_alloc_try(const struct boot_ctx *bc, uint64_t cand, uint64_t lo,
	       uint64_t hi, uint64_t len)
{
	return cand >= lo && boot_range_ok(cand, len, hi) &&
	       boot_place_ok(bc, cand, len);
}

int
boot_alloc(struct boot_ctx *bc, uint64_t lo, uint64_t hi, uint64_t len,
	   uint64_t align, bool top, const char *what, uint64_t *gpa)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t best = 0, cand;
	bool found = false;
	int i, n;

	/*
	 * The best place starts where a free area starts (lowest fit) or
	 * ends where one ends (highest fit); free areas are bounded by the
	 * window, the E820 entries and the earlier claims.
	 */
	n = e820_get(map, E820_MAX_ENTRIES);
	for (i = -1; i < n + bc->nclaims; i++) {
		uint64_t edge_lo, edge_hi;

		if (i < 0) {
			edge_lo = lo;
			edge_hi = hi;
		} else if (i < n) {
			edge_lo = map[i].base;
			edge_hi = map[i].base + map[i].len;
		} else {
			edge_lo = bc->claims[i - n].end;
			edge_hi = bc->claims[i - n].base;
		}
		if (top) {
			if (edge_hi < len)
				continue;
			cand = (edge_hi - len) & ~(align - 1);
			if (boot_alloc_try(bc, cand, lo, hi, len) &&
			    (!found || cand > best)) {
				best = cand;
				found = true;
			}
		} else {
			if (edge_lo > UINT64_MAX - align)
				continue;
			cand = boot_align_up(edge_lo, align);
			if (boot_alloc_try(bc, cand, lo, hi, len) &&
			    (!found || cand < best)) {
				best = cand;
				found = true;
			}
		}
	}
	if (!found)
		return boot_error(
		    bc,
		    "no room for the %s (%llu bytes) between %#llx and %#llx",
		    what, (unsigned long long)len, (unsigned long long)lo,
		    (unsigned long long)hi);
	*gpa = best;
	return boot_claim(bc, best, len, what);
}

int
boot_copyout(struct boot_ctx *bc, uint64_t gpa, const void *src, size_t len,
	     const char *what)
{
	if (len != 0 && vm_copyout(bc->vm, src, gpa, len) != 0)
		return boot_error(bc, "cannot write the %s at %#llx", what,
				  (unsigned long long)gpa);
	return 0;
}

/* vm_zero_gpa: a .bss that is still a hole in guest memory stays one. */
int
boot_zero(struct boot_ctx *bc, uint64_t gpa, uint64_t len, const char *what)
{
	if (len == 0)
		return 0;
	if (len > SIZE_MAX || vm_zero_gpa(bc->vm, gpa, (size_t)len) != 0)
		return boot_error(bc, "cannot clear the %s at %#llx", what,
				  (unsigned long long)gpa);
	return 0;
}

uint64_t
boot_claims_end(const struct boot_ctx *bc, const char *what)
{
	uint64_t end = 0;
	int i;

	for (i = 0; i < bc->nclaims; i++) {
		if (strcmp(bc->claims[i].what, what) == 0 &&
		    bc->claims[i].end > end)
			end = bc->claims[i].end;
	}
	return end;
}

/* ---- structures shared by the loaders ---- */

int
boot_put_cmdline(struct boot_ctx *bc, uint64_t maxlen, uint64_t *gpa)
{
	size_t len = strlen(bc->cmdline) + 1;

	if (maxlen > BOOT_CMDLINE_MAX)
		maxlen = BOOT_CMDLINE_MAX;
	if (len > maxlen)
		return boot_error(
		    bc,
		    "command line is %zu bytes; this kernel takes at most "
		    "%llu",
		    len - 1, (unsigned long long)(maxlen - 1));
	*gpa = BOOT_CMDLINE_ADDR;
	if (boot_claim(bc, BOOT_CMDLINE_ADDR, len, "command line") != 0)
		return -1;
	return boot_copyout(bc, BOOT_CMDLINE_ADDR, bc->cmdline, len,
			    "command line");
}

/* One GDT descriptor from base, limit and VMX-style access rights. */
static uint64_t
boot_gdt_entry(uint32_t base, uint32_t limit, uint32_t access)
{
	uint64_t d;

	if (access & SEG_ACCESS_G)
		limit >>= 12;
	d = limit & 0xffffULL;
	d |= (uint64_t)(base & 0xffffff) << 16;
	d |= (uint64_t)(access & 0xff) << 40;
	d |= (uint64_t)((limit >> 16) & 0xf) << 48;
	d |= (uint64_t)((access >> 12) & 0xf) << 52;
	d |= (uint64_t)(base >> 24) << 56;
	return d;
}

int
boot_put_gdt(struct boot_ctx *bc, bool long_mode)
{
	uint8_t gdt[4 * 8];

	/* Entries 0 and 1 are null: Linux's boot GDT has code at 0x10. */
	memset(gdt, 0, sizeof(gdt));
	boot_put64(gdt + BOOT_SEL_CS,
		   boot_gdt_entry(0, 0xffffffff,
				  long_mode ? BOOT_ACCESS_CODE64
					    : BOOT_ACCESS_CODE32));
	boot_put64(gdt + BOOT_SEL_DS,
		   boot_gdt_entry(0, 0xffffffff, BOOT_ACCESS_DATA));
	if (boot_claim(bc, BOOT_GDT_ADDR, sizeof(gdt), "boot GDT") != 0)
		return -1;
	return boot_copyout(bc, BOOT_GDT_ADDR, gdt, sizeof(gdt), "boot GDT");
}

int
boot_put_page_tables(struct boot_ctx *bc)
{
	/* PML4, PDPT, then four page directories of 2 MiB pages. */
	const uint64_t pdpt = BOOT_PML4_ADDR + BOOT_PAGE;
	const uint64_t pd = pdpt + BOOT_PAGE;
	uint8_t *pt;
	uint64_t i;

	if (boot_claim(bc, BOOT_PML4_ADDR, 6 * BOOT_PAGE, "page tables") != 0)
		return -1;
	pt = vm_map_gpa(bc->vm, BOOT_PML4_ADDR, 6 * BOOT_PAGE);
	if (pt == NULL)
		return boot_error(bc, "cannot write the page tables");
	memset(pt, 0, 6 * BOOT_PAGE);
	/* Present | writable; PS (bit 7) in a PDE maps 2 MiB (SDM 4.5). */
	boot_put64(pt, pdpt | 0x3);
	for (i = 0; i < 4; i++)
		boot_put64(pt + BOOT_PAGE + i * 8, (pd + i * BOOT_PAGE) | 0x3);
	for (i = 0; i < 4 * 512; i++)
		boot_put64(pt + 2 * BOOT_PAGE + i * 8, (i << 21) | 0x83);
	return 0;
}
