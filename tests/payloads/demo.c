/*
 * The demo guest (make demo): a greeting on COM1, one computation at CPL3
 * to show the library's user mode, then ACPI poweroff (exit status 1).
 * Uses no test device, so it runs with only -l com1.
 */
#include "payload.h"

static uint64_t
sum_to(uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 1; i <= n; i++)
		__asm__ volatile("add %1, %0" : "+r"(sum) : "r"(i));
	return sum;
}

void
payload_main(void)
{
	uint64_t sum;

	com1_printf("Hello from a beehive guest!\n");
	sum = run_user(sum_to, 1000000);
	com1_printf("At CPL3 the guest summed 1..1000000 = %lu.\n", sum);
	com1_printf("Powering off through ACPI. Bye!\n");
	acpi_poweroff();
}
