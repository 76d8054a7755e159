/*
 * MMIO of each width: the test device's 64-bit scratch register at
 * 0xfe000000 (partial accesses touch the matching bytes), its access
 * counter at 0xfe000008, the zero rest of its page, a read-modify-write
 * instruction, far-pointer loads (6-byte reads), and an address nothing
 * claims (reads all ones, writes are ignored).
 */
#include "payload.h"

#define UNCLAIMED_MMIO 0xfd000000ul
#define TD_MMIO_ZERO   (TD_MMIO_BASE + 0x100)

static void
scratch_widths(void)
{
	const uint64_t s = TD_MMIO_SCRATCH;

	mmio_write64(s, 0x8877665544332211ull);
	CHECK_EQ(mmio_read64(s), 0x8877665544332211ull);
	for (unsigned off = 0; off < 8; off++)
		CHECK_EQ(mmio_read8(s + off), 0x11 * (off + 1));
	for (unsigned off = 0; off < 8; off += 2)
		CHECK_EQ(mmio_read16(s + off),
			 (0x11 * (off + 1)) | (0x11 * (off + 2)) << 8);
	CHECK_EQ(mmio_read32(s + 0), 0x44332211);
	CHECK_EQ(mmio_read32(s + 4), 0x88776655);

	for (unsigned off = 0; off < 8; off++)
		mmio_write8(s + off, (uint8_t)(0xa0 + off));
	CHECK_EQ(mmio_read64(s), 0xa7a6a5a4a3a2a1a0ull);
	mmio_write16(s + 2, 0xbeef);
	CHECK_EQ(mmio_read64(s), 0xa7a6a5a4beefa1a0ull);
	mmio_write32(s + 4, 0xdeadc0de);
	CHECK_EQ(mmio_read64(s), 0xdeadc0debeefa1a0ull);
	mmio_write32(s + 0, 0x01234567);
	CHECK_EQ(mmio_read64(s), 0xdeadc0de01234567ull);
}

static void
counter(void)
{
	uint32_t c0, c1;

	/* Between two reads of the counter: 5 scratch accesses + 1 read. */
	c0 = mmio_read32(TD_MMIO_COUNT);
	mmio_write64(TD_MMIO_SCRATCH, 1);
	(void)mmio_read8(TD_MMIO_SCRATCH);
	(void)mmio_read16(TD_MMIO_SCRATCH);
	(void)mmio_read32(TD_MMIO_SCRATCH);
	(void)mmio_read64(TD_MMIO_SCRATCH);
	c1 = mmio_read32(TD_MMIO_COUNT);
	CHECK_EQ(c1 - c0, 6);
	CHECK_EQ(mmio_read64(TD_MMIO_COUNT) - c1, 1);
}

static void
rest_of_page(void)
{
	mmio_write32(TD_MMIO_ZERO, 0xffffffff);
	CHECK_EQ(mmio_read32(TD_MMIO_ZERO), 0);
	CHECK_EQ(mmio_read64(TD_MMIO_BASE + 0xff8), 0);
}

/* add to memory: the VMM sees a read and a write of the same address. */
static void
read_modify_write(void)
{
	mmio_write32(TD_MMIO_SCRATCH, 41);
	__asm__ volatile("addl $1, (%0)" : : "r"(TD_MMIO_SCRATCH) : "memory");
	CHECK_EQ(mmio_read32(TD_MMIO_SCRATCH), 42);
}

/*
 * lfs/lgs with a 32-bit operand read an m16:32 far pointer: KVM reports
 * one 6-byte MMIO read, which bhyve splits into natural pieces (4+2 at
 * the scratch register's start, 2+4 two bytes in).  The selector is
 * SEL_KDATA, which 64-bit CPL0 code may load into FS and GS.
 */
static void
far_pointer(void)
{
	const uint64_t s = TD_MMIO_SCRATCH;
	uint32_t off;
	uint16_t sel;

	mmio_write64(s, 0x5a5a0000cafef00dull | (uint64_t)SEL_KDATA << 32);
	__asm__ volatile("movw %w0, %%fs" : : "r"(0) : "memory");
	__asm__ volatile("lfs (%1), %0" : "=r"(off) : "r"(s) : "memory");
	__asm__ volatile("movw %%fs, %0" : "=r"(sel));
	CHECK_EQ(off, 0xcafef00d);
	CHECK_EQ(sel, SEL_KDATA);

	mmio_write64(s, 0x0000fee1deadbeefull | (uint64_t)SEL_KDATA << 48);
	__asm__ volatile("movw %w0, %%gs" : : "r"(0) : "memory");
	__asm__ volatile("lgs (%1), %0" : "=r"(off) : "r"(s + 2) : "memory");
	__asm__ volatile("movw %%gs, %0" : "=r"(sel));
	CHECK_EQ(off, 0xfee1dead);
	CHECK_EQ(sel, SEL_KDATA);

	/* The loads left the register as it was. */
	CHECK_EQ(mmio_read64(s),
		 0x0000fee1deadbeefull | (uint64_t)SEL_KDATA << 48);
}

static void
unclaimed(void)
{
	const uint64_t a = UNCLAIMED_MMIO;

	CHECK_EQ(mmio_read8(a), 0xff);
	CHECK_EQ(mmio_read16(a), 0xffff);
	CHECK_EQ(mmio_read32(a), 0xffffffff);
	CHECK_EQ(mmio_read64(a), ~0ull);
	mmio_write8(a, 0);
	mmio_write16(a, 0);
	mmio_write32(a, 0);
	mmio_write64(a, 0);
	CHECK_EQ(mmio_read64(a), ~0ull);
	CHECK_EQ(mmio_read32(a + 0x1000), 0xffffffff);
}

void
payload_main(void)
{
	td_printf("mmio: scratch");
	scratch_widths();
	td_printf("mmio: counter");
	counter();
	td_printf("mmio: rest of page");
	rest_of_page();
	td_printf("mmio: read-modify-write");
	read_modify_write();
	td_printf("mmio: far pointer");
	far_pointer();
	td_printf("mmio: unclaimed");
	unclaimed();
	td_printf("mmio: done");
}
