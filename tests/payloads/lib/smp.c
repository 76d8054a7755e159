/*
 * SMP start-up, the universal algorithm of the MP specification (B.4):
 * INIT IPI, then two start-up IPIs with the trampoline's page number.  A
 * VMM must ignore the second SIPI for a CPU that already started.
 */
#include "payload.h"

#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_MODE_INIT	 (5u << 8)
#define ICR_MODE_SIPI	 (6u << 8)
#define INIT_DELAY	 10000000ull /* ~10 ms at 1 GHz */
#define SIPI_DELAY	 200000ull   /* ~200 us */

extern char ap_tramp_start[], ap_tramp_end[];

volatile uint32_t smp_cpus_online = 1;
static void (*volatile ap_fn)(unsigned cpu);

void ap_start(unsigned cpu);

/* Called by ap.S on the AP's own stack, in long mode. */
void
ap_start(unsigned cpu)
{
	trap_load_idt();
	__atomic_fetch_add(&smp_cpus_online, 1, __ATOMIC_SEQ_CST);
	if (ap_fn != NULL)
		ap_fn(cpu);
	halt_forever();
}

uint32_t
smp_start_aps(void (*fn)(unsigned cpu), uint32_t expected,
	      uint64_t timeout_cycles)
{
	uint32_t sipi =
	    ICR_ALL_BUT_SELF | ICR_MODE_SIPI | (AP_TRAMP_ADDR >> 12);
	uint64_t start;

	memcpy((void *)AP_TRAMP_ADDR, ap_tramp_start,
	       (size_t)(ap_tramp_end - ap_tramp_start));
	ap_fn = fn;
	lapic_enable();
	lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_MODE_INIT);
	delay_cycles(INIT_DELAY);
	lapic_send_ipi(0, sipi);
	delay_cycles(SIPI_DELAY);
	lapic_send_ipi(0, sipi);
	start = rdtsc();
	while (smp_cpus_online < expected && rdtsc() - start < timeout_cycles)
		cpu_pause();
	return smp_cpus_online;
}
