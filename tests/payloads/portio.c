/*
 * Port I/O of each width: the test device's 32-bit scratch register at
 * 0x0f14-0x0f17 answers byte, word and dword accesses at any offset
 * inside it with the matching bytes.  Also an unclaimed port: reads all
 * ones at every width, writes are ignored.  Then the same scratch checks
 * once more at CPL3 with IOPL 3.
 */
#include "payload.h"

#define UNCLAIMED_PORT 0x0ef0

static unsigned
scratch_checks(void)
{
	unsigned before = check_failures;

	outl(TD_PORT_SCRATCH, 0x44332211);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0x44332211);
	for (unsigned off = 0; off < 4; off++)
		CHECK_EQ(inb(TD_PORT_SCRATCH + off), 0x11 * (off + 1));
	CHECK_EQ(inw(TD_PORT_SCRATCH + 0), 0x2211);
	CHECK_EQ(inw(TD_PORT_SCRATCH + 1), 0x3322);
	CHECK_EQ(inw(TD_PORT_SCRATCH + 2), 0x4433);

	/* Byte writes change only their own byte. */
	for (unsigned off = 0; off < 4; off++)
		outb(TD_PORT_SCRATCH + off, 0xa0 + off);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0xa3a2a1a0);

	/* Word writes at offsets 0, 1 and 2. */
	outw(TD_PORT_SCRATCH + 0, 0xbeef);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0xa3a2beef);
	outw(TD_PORT_SCRATCH + 2, 0xdead);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0xdeadbeef);
	outw(TD_PORT_SCRATCH + 1, 0x5aa5);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0xde5aa5ef);
	return check_failures - before;
}

static uint64_t
user_scratch_checks(uint64_t arg)
{
	/* Runs at CPL3: IOPL 3 lets the OUT/IN instructions through. */
	CHECK_EQ(read_cs() & 3, 3);
	outl(TD_PORT_SCRATCH, (uint32_t)arg);
	return scratch_checks();
}

void
payload_main(void)
{
	unsigned failed;

	td_printf("portio: start");
	failed = scratch_checks();
	td_printf("portio: scratch at CPL0: %u failures", failed);

	CHECK_EQ(inb(UNCLAIMED_PORT), 0xff);
	CHECK_EQ(inw(UNCLAIMED_PORT), 0xffff);
	CHECK_EQ(inl(UNCLAIMED_PORT), 0xffffffff);
	outb(UNCLAIMED_PORT, 0);
	outw(UNCLAIMED_PORT, 0);
	outl(UNCLAIMED_PORT, 0);
	CHECK_EQ(inl(UNCLAIMED_PORT), 0xffffffff);

	failed = (unsigned)run_user(user_scratch_checks, 0x12345678);
	td_printf("portio: scratch at CPL3: %u failures", failed);
	td_value(inl(TD_PORT_SCRATCH));
}
