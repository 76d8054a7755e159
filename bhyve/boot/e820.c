/*
 * The guest's E820 memory map; see e820.h for the layout.
 */
#include <stdlib.h>
#include <string.h>

#include "e820.h"
#include "vmmapi.h"

static struct e820_entry e820_table[E820_MAX_ENTRIES];
static int e820_nentries;
static const struct vmctx *e820_ctx;

void
e820_reset(void)
{
	e820_nentries = 0;
	e820_ctx = NULL;
}

bool
e820_initialized_for(const struct vmctx *ctx)
{
	return ctx != NULL && e820_ctx == ctx;
}

static int
e820_cmp(const void *a, const void *b)
{
	const struct e820_entry *x = a, *y = b;

	if (x->base != y->base)
		return x->base < y->base ? -1 : 1;
	return 0;
}

/* Sorts, merges touching entries of one type; -1 if too many remain. */
static int
e820_commit(struct e820_entry *tmp, int n)
{
	int i, out;

	qsort(tmp, (size_t)n, sizeof(*tmp), e820_cmp);
	out = 0;
	for (i = 0; i < n; i++) {
		if (tmp[i].len == 0)
			continue;
		if (out > 0 && tmp[out - 1].type == tmp[i].type &&
		    tmp[out - 1].base + tmp[out - 1].len == tmp[i].base) {
			tmp[out - 1].len += tmp[i].len;
			continue;
		}
		tmp[out++] = tmp[i];
	}
	if (out > E820_MAX_ENTRIES)
		return -1;
	memcpy(e820_table, tmp, (size_t)out * sizeof(*tmp));
	e820_nentries = out;
	return 0;
}

int
e820_add_entry(uint64_t base, uint64_t len, enum e820_type type)
{
	/* Each existing entry splits into at most two, plus the new one. */
	struct e820_entry tmp[2 * E820_MAX_ENTRIES + 1];
	uint64_t end;
	int i, n;

	if (len == 0)
		return 0;
	if (base + len < base)
		return -1;
	end = base + len;
	n = 0;
	for (i = 0; i < e820_nentries; i++) {
		const struct e820_entry *e = &e820_table[i];
		uint64_t e_end = e->base + e->len;

		if (e_end <= base || e->base >= end) {
			tmp[n++] = *e;
			continue;
		}
		if (e->base < base)
			tmp[n++] = (struct e820_entry){e->base, base - e->base,
						       e->type};
		if (e_end > end)
			tmp[n++] =
			    (struct e820_entry){end, e_end - end, e->type};
	}
	tmp[n++] = (struct e820_entry){base, len, (uint32_t)type};
	return e820_commit(tmp, n);
}

int
e820_add_reserved(uint64_t base, uint64_t len)
{
	return e820_add_entry(base, len, E820_TYPE_RESERVED);
}

int
e820_init(struct vmctx *ctx)
{
	uint64_t lowmem, highmem;

	e820_reset();
	lowmem = vm_get_lowmem_size(ctx);
	highmem = vm_get_highmem_size(ctx);
	/* Below 1 MiB the BIOS owns the top; a VM needs more RAM than that. */
	if (lowmem <= E820_HIGH_BASE)
		return -1;
	if (e820_add_entry(0, E820_EBDA_BASE, E820_TYPE_RAM) != 0 ||
	    e820_add_reserved(E820_EBDA_BASE,
			      E820_HIGH_BASE - E820_EBDA_BASE) != 0 ||
	    e820_add_entry(E820_HIGH_BASE, lowmem - E820_HIGH_BASE,
			   E820_TYPE_RAM) != 0)
		return -1;
	if (highmem != 0 &&
	    e820_add_entry(VM_HIGHMEM_BASE, highmem, E820_TYPE_RAM) != 0)
		return -1;
	e820_ctx = ctx;
	return 0;
}

int
e820_count(void)
{
	return e820_nentries;
}

int
e820_get(struct e820_entry *out, int max)
{
	int n = e820_nentries < max ? e820_nentries : max;

	if (n <= 0)
		return 0;
	memcpy(out, e820_table, (size_t)n * sizeof(*out));
	return n;
}

bool
e820_is_ram(uint64_t base, uint64_t len)
{
	int i;

	if (len == 0 || base + len < base)
		return false;
	for (i = 0; i < e820_nentries; i++) {
		const struct e820_entry *e = &e820_table[i];

		if (e->type == E820_TYPE_RAM && base >= e->base &&
		    base + len <= e->base + e->len)
			return true;
	}
	return false;
}

const char *
e820_type_name(uint32_t type)
{
	switch (type) {
	case E820_TYPE_RAM:
		return "RAM";
	case E820_TYPE_RESERVED:
		return "reserved";
	case E820_TYPE_ACPI:
		return "ACPI";
	case E820_TYPE_NVS:
		return "NVS";
	case E820_TYPE_UNUSABLE:
		return "unusable";
	default:
		return "unknown";
	}
}
