/*
 * RDMSR/WRMSR: MSRs the VMM handles (IA32_TSC, IA32_APIC_BASE, EFER,
 * PAT, SYSENTER_CS) behave as on hardware; an MSR nobody implements
 * (0x1234) raises #GP on read and write, bhyve's strict default (-w
 * relaxes it, see msr-ignore).
 */
#include "payload.h"

#define MSR_TSC		0x010
#define MSR_APIC_BASE	0x01b
#define MSR_SYSENTER_CS 0x174
#define MSR_PAT		0x277
#define MSR_EFER	0xc0000080
#define MSR_UNKNOWN	0x1234
#define EFER_LME_LMA	0x500
#define PAT_POWER_ON	0x0007040600070406ull
#define TSC_WRITE	(1ull << 40)
#define TSC_SLACK	(1ull << 36) /* ~20 s even at 3 GHz */

void
payload_main(void)
{
	uint64_t v, t0, t1;
	int err;

	v = rdmsr(MSR_APIC_BASE);
	td_printf("msr: IA32_APIC_BASE 0x%lx", v);
	CHECK_EQ(v, 0xfee00900);

	CHECK_EQ(rdmsr(MSR_EFER) & EFER_LME_LMA, EFER_LME_LMA);
	CHECK_EQ(rdmsr(MSR_PAT), PAT_POWER_ON);

	wrmsr(MSR_SYSENTER_CS, 0x1234);
	CHECK_EQ(rdmsr(MSR_SYSENTER_CS), 0x1234);

	t0 = rdmsr(MSR_TSC);
	t1 = rdmsr(MSR_TSC);
	CHECK(t1 > t0);
	wrmsr(MSR_TSC, TSC_WRITE);
	t0 = rdmsr(MSR_TSC);
	t1 = rdtsc();
	td_printf("msr: IA32_TSC after writing 2^40: 0x%lx", t0);
	CHECK(t0 >= TSC_WRITE && t0 < TSC_WRITE + TSC_SLACK);
	CHECK(t1 >= t0 && t1 < TSC_WRITE + TSC_SLACK);

	err = rdmsr_safe(MSR_UNKNOWN, &v);
	td_printf("msr: rdmsr 0x%x raised vector %d", MSR_UNKNOWN, err);
	CHECK_EQ(err, VEC_GP);
	CHECK_EQ(trap_last_error, 0);
	err = wrmsr_safe(MSR_UNKNOWN, 0x5a5a);
	td_printf("msr: wrmsr 0x%x raised vector %d", MSR_UNKNOWN, err);
	CHECK_EQ(err, VEC_GP);
}
