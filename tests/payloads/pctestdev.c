/*
 * bhyve's pc-testdev (-l pc-testdev): the 32-bit scratch port at 0xe0 at
 * every width, the 64 KiB scratch MMIO at 0xff000000, an interrupt raised
 * through the IRQ line ports at 0x2000+pin (IOAPIC-only pin 18, so the
 * 8259s stay out of it), and the end through isa-debug-exit: writing 0x21 to
 * port 0xf4 makes bhyve exit with status (0x21 << 1) | 1 = 67.
 */
#include "payload.h"

#define PCT_IOPORT    0xe0
#define PCT_IRQ_PORT  0x2000
#define PCT_EXIT_PORT 0xf4
#define PCT_IOMEM     0xff000000ULL
#define TEST_PIN      18
#define TEST_VECTOR   0x51

static volatile unsigned irq_count;

static void
irq_handler(struct trap_frame *tf __attribute__((unused)))
{
	irq_count++;
	/* Level-triggered: drop the line before the EOI re-arms the pin. */
	outb(PCT_IRQ_PORT + TEST_PIN, 0);
	lapic_eoi();
}

void
payload_main(void)
{
	outl(PCT_IOPORT, 0x11223344);
	CHECK_EQ(inl(PCT_IOPORT), 0x11223344);
	CHECK_EQ(inb(PCT_IOPORT + 3), 0x11);
	CHECK_EQ(inw(PCT_IOPORT + 1), 0x2233);
	outb(PCT_IOPORT + 2, 0xaa);
	CHECK_EQ(inl(PCT_IOPORT), 0x11aa3344);

	mmio_write64(PCT_IOMEM + 0x100, 0x0123456789abcdefULL);
	CHECK_EQ(mmio_read64(PCT_IOMEM + 0x100), 0x0123456789abcdefULL);
	CHECK_EQ(mmio_read8(PCT_IOMEM + 0x107), 0x01);
	mmio_write16(PCT_IOMEM + 0xfffe, 0xbeef);
	CHECK_EQ(mmio_read16(PCT_IOMEM + 0xfffe), 0xbeef);

	lapic_enable();
	trap_set_handler(TEST_VECTOR, irq_handler);
	/* Level-triggered, active-high, to this CPU. */
	ioapic_route(TEST_PIN, TEST_VECTOR, lapic_id());
	ioapic_write(0x10 + 2 * TEST_PIN,
		     ioapic_read(0x10 + 2 * TEST_PIN) | (1u << 15));
	irq_enable();
	outb(PCT_IRQ_PORT + TEST_PIN, 1);
	for (unsigned i = 0; i < 1000 && irq_count == 0; i++)
		cpu_pause();
	irq_disable();
	td_printf("pctestdev: %u interrupt(s) on pin %u", irq_count, TEST_PIN);
	CHECK_EQ(irq_count, 1);

	if (check_failures == 0) {
		td_printf("pctestdev: exiting through isa-debug-exit");
		outl(PCT_EXIT_PORT, 0x21);
	}
	payload_finish();
}
