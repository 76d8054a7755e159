/*
 * Two vCPUs: the BSP wakes the AP with INIT-SIPI-SIPI through the local
 * APIC, the AP goes real mode -> long mode through the trampoline and
 * reports its APIC ID, IA32_APIC_BASE (BSP flag clear) and CPUID initial
 * APIC ID; the BSP checks that both CPUs reported in.
 */
#include "payload.h"

#define MSR_APIC_BASE	  0x01b
#define APIC_BASE_BSP	  (1u << 8)
#define AP_TIMEOUT_CYCLES 30000000000ull /* 10 s at 3 GHz */

static volatile uint32_t ap_apic_id = ~0u;
static volatile uint64_t ap_apic_base;
static volatile uint32_t ap_cpuid_id = ~0u;
static volatile uint32_t ap_done;

static void
ap_main(unsigned cpu)
{
	uint32_t id = lapic_id();

	ap_apic_base = rdmsr(MSR_APIC_BASE);
	ap_cpuid_id = cpuid(1, 0).ebx >> 24;
	ap_apic_id = id;
	td_printf("smp: cpu %u online, apic id %u", cpu, id);
	__atomic_store_n(&ap_done, 1, __ATOMIC_SEQ_CST);
}

void
payload_main(void)
{
	uint32_t bsp_id = lapic_id();
	uint32_t online;
	uint64_t start;

	td_printf("smp: bsp apic id %u, starting the AP", bsp_id);
	online = smp_start_aps(ap_main, 2, AP_TIMEOUT_CYCLES);
	start = rdtsc();
	while (!ap_done && rdtsc() - start < AP_TIMEOUT_CYCLES)
		cpu_pause();
	td_printf("smp: %u cpus online, ap apic id %u, IA32_APIC_BASE 0x%lx",
		  online, ap_apic_id, ap_apic_base);
	CHECK_EQ(online, 2);
	CHECK_EQ(ap_done, 1);
	CHECK(ap_apic_id != bsp_id);
	CHECK_EQ(ap_cpuid_id, ap_apic_id);
	CHECK_EQ(ap_apic_base & APIC_BASE_BSP, 0);
	CHECK_EQ(ap_apic_base & ~0xfffull, LAPIC_BASE);
	CHECK(rdmsr(MSR_APIC_BASE) & APIC_BASE_BSP);
}
