/*
 * The E820 map: its layout from the VM's memory, carving reserved ranges,
 * merging, lookups and the limits of the table.  Runs without /dev/kvm on
 * a detached VM context.
 */
#include <stdint.h>

#include "e820.h"
#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct vmctx *
test_vm(uint64_t mem, uint64_t lowmem_limit)
{
	struct vmctx *ctx = vm_create_detached("e820");

	if (ctx == NULL)
		return NULL;
	if (lowmem_limit != 0)
		vm_set_lowmem_limit(ctx, lowmem_limit);
	if (vm_setup_memory(ctx, mem) != 0) {
		vm_destroy(ctx);
		return NULL;
	}
	return ctx;
}

static int
test_entry_is(const struct e820_entry *e, uint64_t base, uint64_t len,
	      uint32_t type)
{
	return e->base == base && e->len == len && e->type == type;
}

static void
test_layout_small(void)
{
	struct e820_entry m[E820_MAX_ENTRIES];
	struct vmctx *ctx = test_vm(512 * MiB, 0);
	int n;

	CHECK(ctx != NULL, "e820: detached 512 MiB VM");
	if (ctx == NULL)
		return;
	CHECK(!e820_initialized_for(ctx), "e820: not initialized before init");
	CHECK(e820_init(ctx) == 0, "e820: init 512 MiB");
	CHECK(e820_initialized_for(ctx), "e820: initialized for ctx");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK_EQ_U64(n, 3, "e820: 512 MiB has 3 entries");
	CHECK(test_entry_is(&m[0], 0, 0x9fc00, E820_TYPE_RAM),
	      "e820: conventional RAM 0-0x9fc00");
	CHECK(test_entry_is(&m[1], 0x9fc00, 0x100000 - 0x9fc00,
			    E820_TYPE_RESERVED),
	      "e820: EBDA/BIOS reserved to 1 MiB");
	CHECK(test_entry_is(&m[2], MiB, 511 * MiB, E820_TYPE_RAM),
	      "e820: RAM 1 MiB to 512 MiB");
	CHECK(e820_is_ram(0x1000, 0x1000), "e820: low page is RAM");
	CHECK(!e820_is_ram(0x9f000, 0x1000), "e820: range into EBDA not RAM");
	CHECK(!e820_is_ram(0xa0000, 1), "e820: VGA hole not RAM");
	CHECK(e820_is_ram(MiB, 511 * MiB), "e820: all of high RAM");
	CHECK(!e820_is_ram(MiB, 511 * MiB + 1), "e820: one byte past the end");
	CHECK(!e820_is_ram(0x90000, 0x80000),
	      "e820: range spanning two RAM entries is not one RAM range");
	CHECK(!e820_is_ram(UINT64_MAX, 2), "e820: wrapping range rejected");
	CHECK(!e820_is_ram(MiB, 0), "e820: empty range is not RAM");
	vm_destroy(ctx);
	e820_reset();
	CHECK(e820_count() == 0, "e820: reset empties the table");
}

static void
test_layout_high(void)
{
	struct e820_entry m[E820_MAX_ENTRIES];
	struct vmctx *ctx = test_vm(2 * GiB, 1 * GiB);
	int n;

	CHECK(ctx != NULL, "e820: detached 2 GiB VM, 1 GiB low limit");
	if (ctx == NULL)
		return;
	CHECK(e820_init(ctx) == 0, "e820: init with high memory");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK_EQ_U64(n, 4, "e820: high memory adds an entry");
	CHECK(test_entry_is(&m[2], MiB, GiB - MiB, E820_TYPE_RAM),
	      "e820: low RAM ends at the low-memory limit");
	CHECK(test_entry_is(&m[3], 4 * GiB, GiB, E820_TYPE_RAM),
	      "e820: the rest of RAM at 4 GiB");
	CHECK(!e820_is_ram(GiB, 4096), "e820: PCI hole is not RAM");
	CHECK(e820_get(m, 2) == 2, "e820: get copies at most max");
	vm_destroy(ctx);
	e820_reset();
}

static void
test_reserved(void)
{
	struct e820_entry m[E820_MAX_ENTRIES];
	struct vmctx *ctx = test_vm(256 * MiB, 0);
	int i, n, rc = 0;

	CHECK(ctx != NULL && e820_init(ctx) == 0, "e820: 256 MiB VM");
	if (ctx == NULL)
		return;
	/* An ACPI area in the middle of RAM splits the entry in three. */
	CHECK(e820_add_entry(16 * MiB, MiB, E820_TYPE_ACPI) == 0,
	      "e820: add ACPI range");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK_EQ_U64(n, 5, "e820: split into 5 entries");
	CHECK(test_entry_is(&m[2], MiB, 15 * MiB, E820_TYPE_RAM),
	      "e820: RAM below the ACPI range");
	CHECK(test_entry_is(&m[3], 16 * MiB, MiB, E820_TYPE_ACPI),
	      "e820: ACPI range itself");
	CHECK(test_entry_is(&m[4], 17 * MiB, 239 * MiB, E820_TYPE_RAM),
	      "e820: RAM above the ACPI range");
	CHECK(!e820_is_ram(16 * MiB, 1), "e820: ACPI range is not RAM");

	/* Reserving the top of RAM shortens the last entry. */
	CHECK(e820_add_reserved(255 * MiB, MiB) == 0, "e820: reserve top MiB");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK(test_entry_is(&m[n - 1], 255 * MiB, MiB, E820_TYPE_RESERVED),
	      "e820: top MiB reserved");
	CHECK(test_entry_is(&m[n - 2], 17 * MiB, 238 * MiB, E820_TYPE_RAM),
	      "e820: RAM shortened below it");

	/* A range in a hole is added as is (an MMIO window, say). */
	CHECK(e820_add_reserved(0xfec00000, 0x1000) == 0,
	      "e820: reserve in a hole");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK(test_entry_is(&m[n - 1], 0xfec00000, 0x1000, E820_TYPE_RESERVED),
	      "e820: hole entry last, sorted");

	/* Touching reserved ranges merge. */
	CHECK(e820_add_reserved(0x9f000, 0xc00) == 0,
	      "e820: reserve just below the EBDA");
	n = e820_get(m, E820_MAX_ENTRIES);
	CHECK(test_entry_is(&m[0], 0, 0x9f000, E820_TYPE_RAM) &&
		  test_entry_is(&m[1], 0x9f000, 0x100000 - 0x9f000,
				E820_TYPE_RESERVED),
	      "e820: adjacent reserved ranges merged");

	/* Giving RAM back merges with its neighbours again. */
	CHECK(e820_add_entry(16 * MiB, MiB, E820_TYPE_RAM) == 0,
	      "e820: ACPI range back to RAM");
	CHECK(e820_is_ram(MiB, 254 * MiB), "e820: RAM contiguous again");

	CHECK(e820_add_reserved(UINT64_MAX - 10, 100) == -1,
	      "e820: wrapping range refused");
	CHECK(e820_add_reserved(5 * MiB, 0) == 0, "e820: empty range no-op");

	/* Many small holes: the table fills up, and stays consistent. */
	n = e820_count();
	for (i = 0; i < 200 && rc == 0; i++)
		rc = e820_add_reserved(32 * MiB + (uint64_t)i * 2 * 4096, 4096);
	CHECK(rc == -1, "e820: table full is an error");
	CHECK(e820_count() <= E820_MAX_ENTRIES, "e820: never over 128 entries");
	CHECK(e820_count() > n, "e820: entries added until full");
	n = e820_get(m, E820_MAX_ENTRIES);
	for (i = 1, rc = 1; i < n; i++)
		rc &= m[i - 1].base + m[i - 1].len <= m[i].base;
	CHECK(rc, "e820: entries sorted and disjoint");
	vm_destroy(ctx);
	e820_reset();
}

static void
test_too_small(void)
{
	struct vmctx *ctx = test_vm(MiB, 0);

	CHECK(ctx != NULL, "e820: 1 MiB VM");
	if (ctx == NULL)
		return;
	CHECK(e820_init(ctx) == -1, "e820: 1 MiB is too small");
	CHECK(!e820_initialized_for(ctx), "e820: failed init not marked");
	vm_destroy(ctx);
	e820_reset();
}

int
main(void)
{
	test_layout_small();
	test_layout_high();
	test_reserved();
	test_too_small();
	CHECK_STR(e820_type_name(E820_TYPE_ACPI), "ACPI", "e820: type names");
	CHECK_STR(e820_type_name(77), "unknown", "e820: unknown type name");
	return test_done();
}
