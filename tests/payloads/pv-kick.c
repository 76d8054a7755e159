/*
 * Two vCPUs take turns through KVM's paravirtual unhalt (CPUID
 * KVM_FEATURE_PV_UNHALT and the KVM_HC_KICK_CPU hypercall), as Linux's
 * paravirtual spinlocks do: each halts with interrupts disabled until the
 * other kicks it.  A vCPU halted that way is waiting, not dead, so bhyve
 * must not end the VM as "all vCPUs halted with interrupts disabled"
 * (issue 12), however its halt check's per-vCPU samples fall between the
 * turns.  The BSP stops after MAX_ROUNDS turns or about STOP_CYCLES.
 */
#include "payload.h"

#define KVM_SIG_EBX	      0x4b4d564bu /* "KVMK" */
#define KVM_FEATURE_PV_UNHALT 7
#define KVM_HC_KICK_CPU	      5
#define MAX_ROUNDS	      200000u
#define STOP_CYCLES	      12000000000ull /* ~4 s at 3 GHz */
#define AP_TIMEOUT_CYCLES     30000000000ull

static bool amd;
static uint32_t apic_of[2];
static volatile uint32_t turn; /* the vCPU (0 BSP, 1 AP) that may go */
static volatile bool stop;
static volatile uint32_t turns_taken[2];
static volatile int64_t kick_error;

/* Linux scans the hypervisor range in steps of 0x100 for KVM's leaves. */
static uint32_t
kvm_cpuid_base(void)
{
	for (uint32_t base = 0x40000000u; base < 0x40010000u; base += 0x100) {
		if (cpuid(base, 0).ebx == KVM_SIG_EBX)
			return base;
	}
	return 0;
}

static int64_t
kvm_kick(uint32_t apic_id)
{
	int64_t ret;

	if (amd)
		__asm__ volatile("vmmcall"
				 : "=a"(ret)
				 : "a"((uint64_t)KVM_HC_KICK_CPU), "b"(0ull),
				   "c"((uint64_t)apic_id)
				 : "memory");
	else
		__asm__ volatile("vmcall"
				 : "=a"(ret)
				 : "a"((uint64_t)KVM_HC_KICK_CPU), "b"(0ull),
				   "c"((uint64_t)apic_id)
				 : "memory");
	return ret;
}

/* Halts with IF=0 until it is 'me's turn: only the other's kick ends it
 * (a kick that came first makes the HLT return at once). */
static void
take_turns(unsigned me, uint64_t start)
{
	unsigned other = 1 - me;
	int64_t rc;

	irq_disable();
	for (;;) {
		while (turn != me && !stop)
			__asm__ volatile("hlt" : : : "memory");
		if (stop)
			break;
		turns_taken[me]++;
		if (me == 0 && (turns_taken[0] >= MAX_ROUNDS ||
				rdtsc() - start >= STOP_CYCLES))
			stop = true;
		else
			turn = other;
		rc = kvm_kick(apic_of[other]);
		if (rc != 0 && kick_error == 0)
			kick_error = rc;
		if (stop)
			break;
	}
}

static void
ap_main(unsigned cpu)
{
	(void)cpu;
	apic_of[1] = lapic_id();
	take_turns(1, 0);
}

void
payload_main(void)
{
	uint32_t base = kvm_cpuid_base();
	uint32_t online;
	uint64_t start;

	amd = cpuid(0, 0).ebx == 0x68747541u; /* "Auth" */
	apic_of[0] = lapic_id();
	apic_of[1] = ~0u;
	turn = 1; /* the AP goes first, once it runs */
	CHECK(base != 0);
	CHECK(cpuid(base + 1, 0).eax & (1u << KVM_FEATURE_PV_UNHALT));
	online = smp_start_aps(ap_main, 2, AP_TIMEOUT_CYCLES);
	CHECK_EQ(online, 2);
	start = rdtsc();
	while (apic_of[1] == ~0u && rdtsc() - start < AP_TIMEOUT_CYCLES)
		cpu_pause();
	CHECK(apic_of[1] != ~0u);
	if (online != 2 || apic_of[1] == ~0u)
		return;
	take_turns(0, rdtsc());
	irq_enable();
	td_printf("pv-kick: %u + %u turns, kick status %ld", turns_taken[0],
		  turns_taken[1], (long)kick_error);
	CHECK_EQ(kick_error, 0);
	CHECK(turns_taken[0] > 100);
	CHECK(turns_taken[1] + 1 >= turns_taken[0]);
}
