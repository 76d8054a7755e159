/*
 * The CPUID policy bhyve gives a guest: the hypervisor bit (leaf 1 ECX
 * bit 31), bhyve's own leaf 0x40000000 ("bhyve bhyve "), and KVM's
 * paravirtual leaves moved to 0x40000100 ("KVMKVMKVM\0\0\0") with the
 * kvmclock2 feature (leaf 0x40000101 EAX bit 3), and the TSC-deadline
 * timer (leaf 1 ECX bit 24), which KVM's in-kernel LAPIC emulates but
 * leaves out of its supported CPUID; AMD's memory-encryption leaf
 * 0x8000001F reads all-zero (no SEV: firmware must not take SEV paths).
 */
#include "payload.h"

#define CPUID_HYPERVISOR   (1u << 31)
#define CPUID_TSC_DEADLINE (1u << 24)
#define KVM_FEATURE_CLOCK2 (1u << 3)

static void
signature(uint32_t leaf, char out[13])
{
	struct cpuid_regs r = cpuid(leaf, 0);

	memcpy(out, &r.ebx, 4);
	memcpy(out + 4, &r.ecx, 4);
	memcpy(out + 8, &r.edx, 4);
	out[12] = '\0';
}

void
payload_main(void)
{
	struct cpuid_regs r;
	char sig[13];

	r = cpuid(1, 0);
	td_printf("cpuid: leaf 1 ecx 0x%08x", r.ecx);
	CHECK(r.ecx & CPUID_HYPERVISOR);
	CHECK(r.ecx & CPUID_TSC_DEADLINE);

	r = cpuid(0x40000000, 0);
	signature(0x40000000, sig);
	td_printf("cpuid: leaf 0x40000000 eax 0x%08x \"%s\"", r.eax, sig);
	CHECK(memcmp(sig, "bhyve bhyve ", 12) == 0);
	CHECK(r.eax >= 0x40000000);

	r = cpuid(0x40000100, 0);
	signature(0x40000100, sig);
	td_printf("cpuid: leaf 0x40000100 eax 0x%08x \"%s\"", r.eax, sig);
	CHECK(memcmp(sig, "KVMKVMKVM\0\0\0", 12) == 0);
	CHECK(r.eax >= 0x40000101);

	r = cpuid(0x40000101, 0);
	td_printf("cpuid: leaf 0x40000101 eax 0x%08x", r.eax);
	CHECK(r.eax & KVM_FEATURE_CLOCK2);

	r = cpuid(0x80000000, 0);
	if (r.eax >= 0x8000001f) {
		r = cpuid(0x8000001f, 0);
		td_printf("cpuid: leaf 0x8000001f %08x %08x %08x %08x", r.eax,
			  r.ebx, r.ecx, r.edx);
		CHECK(r.eax == 0 && r.ebx == 0 && r.ecx == 0 && r.edx == 0);
	}
}
