/*
 * NMIs injected by the host (test device port 0x0f0c, bit 9): delivered
 * through vector 2 even with interrupts disabled, and a second one after
 * the first handler's IRET re-enabled NMI delivery (SDM Vol. 3A 6.7.1).
 */
#include "payload.h"

static volatile unsigned nmi_count;
static volatile uint64_t nmi_rflags;

static void
nmi_handler(struct trap_frame *tf)
{
	nmi_rflags = tf->rflags;
	nmi_count++;
}

void
payload_main(void)
{
	trap_set_handler(VEC_NMI, nmi_handler);
	irq_disable();
	outl(TD_PORT_INJECT, TD_INJECT_NMI);
	td_printf("inject-nmi: %u NMI(s) after the first request", nmi_count);
	CHECK_EQ(nmi_count, 1);
	CHECK_EQ(nmi_rflags & 0x200, 0); /* taken with IF = 0 */
	outl(TD_PORT_INJECT, TD_INJECT_NMI);
	td_printf("inject-nmi: %u NMI(s) after the second request", nmi_count);
	CHECK_EQ(nmi_count, 2);
}
