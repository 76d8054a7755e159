/*
 * cli; hlt on the only vCPU: nothing can wake it, so bhyve ends the VM
 * with exit status 2 (halt).
 */
#include "payload.h"

void
payload_main(void)
{
	td_printf("hlt-cli: halting with interrupts off");
	__asm__ volatile("cli; hlt");
	td_printf("hlt-cli: hlt returned");
	td_result(1);
	halt_forever();
}
