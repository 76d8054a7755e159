/*
 * A triple fault: with a zero-limit IDT, #UD cannot be delivered (#GP),
 * neither can #GP (#DF), nor #DF: the CPU shuts down and bhyve exits with
 * status 3.  ud2 rather than int3, which some emulated hosts reject at
 * CPL0.
 */
#include "payload.h"

void
payload_main(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = {0, 0};

	td_printf("triple-fault: loading an empty IDT, then ud2");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
	td_printf("triple-fault: still running");
	td_result(1);
	halt_forever();
}
