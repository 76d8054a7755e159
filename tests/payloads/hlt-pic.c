/*
 * HLT woken by an interrupt through the 8259 PIC: the host pulses ISA
 * IRQ 5 about 10 ms after the request (test device port 0x0f1c); the
 * local APIC's LINT0 is in ExtINT mode (virtual wire, MP spec 3.6.2.2),
 * so the PIC's INTR reaches the CPU.  HLT must block until then: a HLT
 * that returns without the interrupt fails the test.
 */
#include "payload.h"

#ifndef TEST_IRQ
#define TEST_IRQ 5 /* overridable for a sanity run under QEMU */
#endif
#define PIC_BASE   0x20
#define LVT_EXTINT (7u << 8)
#define MAX_HALTS  3

static volatile unsigned irq_count;
static volatile uint64_t irq_vector;

static void
irq_handler(struct trap_frame *tf)
{
	irq_vector = tf->vector;
	irq_count++;
	pic_eoi(TEST_IRQ);
}

void
payload_main(void)
{
	unsigned halts = 0;

	pic_init(PIC_BASE, PIC_BASE + 8);
	lapic_enable();
	lapic_write(LAPIC_LVT0, LVT_EXTINT);
	trap_set_handler(PIC_BASE + TEST_IRQ, irq_handler);
	pic_set_mask((uint16_t) ~(1u << TEST_IRQ));

	td_printf("hlt-pic: requesting IRQ %u, then sti; hlt", TEST_IRQ);
	outl(TD_PORT_IRQ, TEST_IRQ);
	while (irq_count == 0 && halts < MAX_HALTS) {
		/* sti's one-instruction shadow closes the wake-up race. */
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		halts++;
	}
	td_printf("hlt-pic: woke after %u hlt, %u interrupts, vector 0x%lx",
		  halts, irq_count, irq_vector);
	CHECK_EQ(irq_count, 1);
	CHECK_EQ(irq_vector, PIC_BASE + TEST_IRQ);
	CHECK_EQ(halts, 1);
}
