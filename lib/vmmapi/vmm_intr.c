/*
 * libvmmapi: interrupt lines and messages, on KVM's in-kernel PIC/IOAPIC.
 * A GSI names a line of the routing table set up at VM creation: ISA
 * lines 0-15 reach both the 8259s and the IOAPIC, 16-23 the IOAPIC only.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "vmm_impl.h"

#define IOAPIC_PINS 24

static int
vm_irq_line(struct vmctx *ctx, int gsi, int level)
{
	struct kvm_irq_level l = {.irq = (uint32_t)gsi, .level = level};

	if (gsi < 0 || gsi >= IOAPIC_PINS) {
		errno = EINVAL;
		return -1;
	}
	return vmm_vm_ioctl(ctx, KVM_IRQ_LINE, &l);
}

/* IOAPIC pin 2 is where ISA IRQ 0 lands; it is driven through GSI 0. */
static int
ioapic_pin_to_gsi(int pin)
{
	return pin == 2 ? 0 : pin;
}

int
vm_ioapic_assert_irq(struct vmctx *ctx, int irq)
{
	return vm_irq_line(ctx, ioapic_pin_to_gsi(irq), 1);
}

int
vm_ioapic_deassert_irq(struct vmctx *ctx, int irq)
{
	return vm_irq_line(ctx, ioapic_pin_to_gsi(irq), 0);
}

int
vm_ioapic_pulse_irq(struct vmctx *ctx, int irq)
{
	if (vm_ioapic_assert_irq(ctx, irq) != 0)
		return -1;
	return vm_ioapic_deassert_irq(ctx, irq);
}

int
vm_ioapic_pincount(struct vmctx *ctx, int *pincount)
{
	(void)ctx;
	*pincount = IOAPIC_PINS;
	return 0;
}

/*
 * bhyve passes the 8259 line and the IOAPIC pin separately; on a PC they
 * are the same ISA line, which the routing table fans out to both chips.
 */
static int
isa_gsi(int atpic_irq, int ioapic_irq)
{
	if (atpic_irq >= 0 && atpic_irq < 16)
		return atpic_irq;
	if (ioapic_irq >= 0)
		return ioapic_pin_to_gsi(ioapic_irq);
	return -1;
}

int
vm_isa_assert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	return vm_irq_line(ctx, isa_gsi(atpic_irq, ioapic_irq), 1);
}

int
vm_isa_deassert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	return vm_irq_line(ctx, isa_gsi(atpic_irq, ioapic_irq), 0);
}

int
vm_isa_pulse_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	if (vm_isa_assert_irq(ctx, atpic_irq, ioapic_irq) != 0)
		return -1;
	return vm_isa_deassert_irq(ctx, atpic_irq, ioapic_irq);
}

int
vm_lapic_msi(struct vmctx *ctx, uint64_t addr, uint64_t msg)
{
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr,
	    .address_hi = (uint32_t)(addr >> 32),
	    .data = (uint32_t)msg,
	};

	/* KVM returns >0 when delivered, 0 when the guest blocked it. */
	return vmm_vm_ioctl(ctx, KVM_SIGNAL_MSI, &msi) < 0 ? -1 : 0;
}
