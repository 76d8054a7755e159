/*
 * With -w (x86.strictmsr=false) an unknown MSR reads as zero and writes
 * to it are ignored, as in bhyve; handled MSRs are unaffected.
 */
#include "payload.h"

#define MSR_APIC_BASE 0x01b
#define MSR_UNKNOWN   0x1234

void
payload_main(void)
{
	uint64_t v = ~0ull;
	int err;

	err = rdmsr_safe(MSR_UNKNOWN, &v);
	td_printf("msr-ignore: rdmsr 0x%x: vector %d value 0x%lx", MSR_UNKNOWN,
		  err, v);
	CHECK_EQ(err, 0);
	CHECK_EQ(v, 0);
	err = wrmsr_safe(MSR_UNKNOWN, 0x5a5a);
	td_printf("msr-ignore: wrmsr 0x%x: vector %d", MSR_UNKNOWN, err);
	CHECK_EQ(err, 0);
	v = ~0ull;
	CHECK_EQ(rdmsr_safe(MSR_UNKNOWN, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(rdmsr(MSR_APIC_BASE), 0xfee00900);
}
