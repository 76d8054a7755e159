/*
 * HLT woken by an interrupt through the IOAPIC and the local APIC: both
 * 8259s masked, IOAPIC pin 5 routed edge-triggered to vector 0x45 on this
 * CPU, then the host pulses ISA IRQ 5 (test device port 0x0f1c).
 */
#include "payload.h"

#ifndef TEST_IRQ
#define TEST_IRQ 5 /* overridable for a sanity run under QEMU */
#endif
#define TEST_VECTOR 0x45
#define MAX_HALTS   3

static volatile unsigned irq_count;
static volatile uint64_t irq_vector;

static void
irq_handler(struct trap_frame *tf)
{
	irq_vector = tf->vector;
	irq_count++;
	lapic_eoi();
}

void
payload_main(void)
{
	unsigned halts = 0;

	pic_init(0x20, 0x28); /* all masked */
	lapic_enable();
	trap_set_handler(TEST_VECTOR, irq_handler);
	ioapic_route(TEST_IRQ, TEST_VECTOR, lapic_id());
	CHECK_EQ(ioapic_read(0x10 + 2 * TEST_IRQ) & 0x100ff, TEST_VECTOR);

	td_printf("hlt-ioapic: requesting IRQ %u, then sti; hlt", TEST_IRQ);
	outl(TD_PORT_IRQ, TEST_IRQ);
	while (irq_count == 0 && halts < MAX_HALTS) {
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		halts++;
	}
	td_printf("hlt-ioapic: woke after %u hlt, %u interrupts, vector 0x%lx",
		  halts, irq_count, irq_vector);
	CHECK_EQ(irq_count, 1);
	CHECK_EQ(irq_vector, TEST_VECTOR);
	CHECK_EQ(halts, 1);
}
