/*
 * Guest RAM layout with -m 3200M: bhyve puts RAM up to 3 GiB low and the
 * rest (128 MiB) at 4 GiB.  Checks the multiboot memory map says so, and
 * that patterns written at the top of low memory and above 4 GiB read
 * back; a 2 MiB region above 4 GiB is filled and verified at CPL3.
 */
#include "payload.h"

#define GiB	     (1ull << 30)
#define MiB	     (1ull << 20)
#define LOWMEM_TOP   (3 * GiB)
#define HIGHMEM_BASE (4 * GiB)
#define HIGHMEM_SIZE (3200 * MiB - LOWMEM_TOP)
#define MB_RAM	     1

struct probe {
	uint64_t addr;
	uint64_t pattern;
};

static const struct probe probes[] = {
    {LOWMEM_TOP - 4096, 0x0123456789abcdefull},
    {LOWMEM_TOP - 8, 0xfedcba9876543210ull},
    {HIGHMEM_BASE, 0x1111222233334444ull},
    {HIGHMEM_BASE + 64 * MiB, 0x5555666677778888ull},
    {HIGHMEM_BASE + HIGHMEM_SIZE - 8, 0x99990000aaaabbbbull},
};

/* Sums the RAM the map reports in [lo, hi) and checks it is contiguous. */
static uint64_t
mmap_ram_in(const struct multiboot_info *mbi, uint64_t lo, uint64_t hi)
{
	uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length, total = 0;

	while (p + sizeof(struct multiboot_mmap_entry) <= end) {
		const struct multiboot_mmap_entry *e =
		    (const struct multiboot_mmap_entry *)(uintptr_t)p;
		uint64_t s = e->addr, t = e->addr + e->len;

		if (e->type == MB_RAM && t > lo && s < hi)
			total += (t < hi ? t : hi) - (s > lo ? s : lo);
		p += e->size + sizeof(e->size);
	}
	return total;
}

static void
check_mmap(void)
{
	const struct multiboot_info *mbi = multiboot_get_info();
	uint64_t p, end;

	CHECK(mbi != NULL && (mbi->flags & MB_INFO_MMAP));
	if (mbi == NULL || !(mbi->flags & MB_INFO_MMAP))
		return;
	end = (uint64_t)mbi->mmap_addr + mbi->mmap_length;
	for (p = mbi->mmap_addr;
	     p + sizeof(struct multiboot_mmap_entry) <= end;) {
		const struct multiboot_mmap_entry *e =
		    (const struct multiboot_mmap_entry *)(uintptr_t)p;

		td_printf("memory: map 0x%lx-0x%lx type %u", e->addr,
			  e->addr + e->len - 1, e->type);
		p += e->size + sizeof(e->size);
	}
	/* All of 1 MiB .. 3 GiB is RAM, the hole is not, 128 MiB above. */
	CHECK_EQ(mmap_ram_in(mbi, MiB, LOWMEM_TOP), LOWMEM_TOP - MiB);
	CHECK_EQ(mmap_ram_in(mbi, LOWMEM_TOP, HIGHMEM_BASE), 0);
	CHECK_EQ(mmap_ram_in(mbi, HIGHMEM_BASE, ~0ull), HIGHMEM_SIZE);
}

static uint64_t
fill_and_verify(uint64_t base)
{
	volatile uint64_t *m = (volatile uint64_t *)(uintptr_t)base;
	const uint64_t n = 2 * MiB / 8;
	uint64_t bad = 0;

	for (uint64_t i = 0; i < n; i++)
		m[i] = i * 0x9e3779b97f4a7c15ull;
	for (uint64_t i = 0; i < n; i++)
		if (m[i] != i * 0x9e3779b97f4a7c15ull)
			bad++;
	return bad;
}

void
payload_main(void)
{
	uint64_t bad;

	check_mmap();
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		*(volatile uint64_t *)(uintptr_t)probes[i].addr =
		    probes[i].pattern;
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t got = *(volatile uint64_t *)(uintptr_t)probes[i].addr;

		td_printf("memory: 0x%lx reads 0x%lx", probes[i].addr, got);
		CHECK_EQ(got, probes[i].pattern);
	}
	bad = run_user(fill_and_verify, HIGHMEM_BASE + 96 * MiB);
	td_printf("memory: 2 MiB at 4 GiB + 96 MiB: %lu bad words", bad);
	CHECK_EQ(bad, 0);
}
