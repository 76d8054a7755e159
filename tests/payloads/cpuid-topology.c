/*
 * CPU topology in CPUID with -c 4,sockets=1,cores=2,threads=2 (SDM Vol.
 * 3A 8.9 and the CPUID reference): leaf 1 EBX[23:16] counts 4 logical
 * processors per package with EDX.HTT set; leaf 0xB level 0 is SMT with
 * 2 threads (x2APIC ID shift 1), level 1 is Core with 4 logical
 * processors (shift 2), level 2 is invalid; the BSP's x2APIC ID is 0.
 */
#include "payload.h"

#define CPUID_HTT	(1u << 28)
#define LEVEL_TYPE(ecx) (((ecx) >> 8) & 0xff)
#define LEVEL_SMT	1
#define LEVEL_CORE	2

void
payload_main(void)
{
	struct cpuid_regs r;

	r = cpuid(0, 0);
	td_printf("topology: max basic leaf 0x%x", r.eax);
	CHECK(r.eax >= 0xb);

	r = cpuid(1, 0);
	td_printf("topology: leaf 1 ebx 0x%08x edx 0x%08x", r.ebx, r.edx);
	CHECK_EQ((r.ebx >> 16) & 0xff, 4);
	CHECK(r.edx & CPUID_HTT);
	CHECK_EQ(r.ebx >> 24, 0); /* initial APIC ID of the BSP */

	for (uint32_t level = 0; level < 3; level++) {
		r = cpuid(0xb, level);
		td_printf("topology: leaf 0xb.%u eax 0x%x ebx 0x%x ecx 0x%x "
			  "edx 0x%x",
			  level, r.eax, r.ebx, r.ecx, r.edx);
		CHECK_EQ(r.ecx & 0xff, level);
		CHECK_EQ(r.edx, 0);
		switch (level) {
		case 0:
			CHECK_EQ(LEVEL_TYPE(r.ecx), LEVEL_SMT);
			CHECK_EQ(r.ebx & 0xffff, 2);
			CHECK_EQ(r.eax & 0x1f, 1);
			break;
		case 1:
			CHECK_EQ(LEVEL_TYPE(r.ecx), LEVEL_CORE);
			CHECK_EQ(r.ebx & 0xffff, 4);
			CHECK_EQ(r.eax & 0x1f, 2);
			break;
		default:
			CHECK_EQ(LEVEL_TYPE(r.ecx), 0);
			CHECK_EQ(r.ebx & 0xffff, 0);
			break;
		}
	}
}
