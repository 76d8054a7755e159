/*
 * Interrupt controllers: the xAPIC (SDM Vol. 3A chapter 10), the IOAPIC
 * (82093AA datasheet: IOREGSEL at +0, IOWIN at +0x10, redirection
 * entries from register 0x10) and the 8259A pair (ICW1-4, OCW1-2).
 */
#include "payload.h"

#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN	0x10
#define IOAPIC_REDTBL	0x10
#define ICR_BUSY	(1u << 12)
#define ICR_POLLS	100000
#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xa0
#define PIC2_DATA	0xa1
#define PIC_EOI		0x20

uint32_t
lapic_read(unsigned reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

void
lapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

uint32_t
lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void
lapic_enable(void)
{
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_TPR, 0);
}

void
lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

void
lapic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (int i = 0; i < ICR_POLLS && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY);
	     i++)
		cpu_pause();
}

uint32_t
ioapic_read(unsigned reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_IOWIN);
}

void
ioapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_IOWIN, v);
}

void
ioapic_route(unsigned pin, unsigned vector, uint32_t dest_apic_id)
{
	/* High word first, so the entry is never live with a stale target. */
	ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, dest_apic_id << 24);
	ioapic_write(IOAPIC_REDTBL + 2 * pin, vector & 0xff);
}

void
pic_init(uint8_t master_base, uint8_t slave_base)
{
	outb(PIC1_CMD, 0x11); /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, master_base); /* ICW2: vector base */
	outb(PIC2_DATA, slave_base);
	outb(PIC1_DATA, 0x04); /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02); /* ICW3: slave identity 2 */
	outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	pic_set_mask(0xffff);
}

void
pic_set_mask(uint16_t mask)
{
	if ((mask & 0xff00) != 0xff00)
		mask &= (uint16_t) ~(1u << 2);
	outb(PIC1_DATA, (uint8_t)mask);
	outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

void
pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}
