/*
 * libvmmapi against a real /dev/kvm (run directly, or inside the nested
 * rig): VM and vCPU creation, registers, segments, MSRs, FPU state, the
 * CPUID policy seen through KVM_GET_CPUID2, statistics, interrupt routes,
 * ioeventfd/irqfd, and a tiny real-mode guest that exits through port I/O
 * and MMIO.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../unit/test.h"
#include "vmm_impl.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)

/* Real mode at 0x1000; HLT would block in KVM's in-kernel LAPIC, so the
 * guest ends with a port write and a jump to itself. */
static const uint8_t guest[] = {
    0xb0, 0x42,			  /* mov al, 0x42 */
    0xe6, 0x10,			  /* out 0x10, al */
    0xe4, 0x11,			  /* in al, 0x11 */
    0xa2, 0x00, 0x20,		  /* mov [0x2000], al */
    0xb8, 0x00, 0xf0,		  /* mov ax, 0xf000 */
    0x8e, 0xd8,			  /* mov ds, ax */
    0xc6, 0x06, 0x00, 0x00, 0x77, /* mov byte [0], 0x77 -> 0xf0000 */
    0xe6, 0x12,			  /* out 0x12, al */
    0xeb, 0xfe,			  /* jmp . */
};

static void
test_registers(struct vcpu *v)
{
	uint64_t val, base;
	uint32_t limit, access;
	uint8_t fx[512], fx2[512];

	CHECK(vm_set_register(v, VM_REG_GUEST_RBX, 0x1122334455667788) == 0 &&
		  vm_get_register(v, VM_REG_GUEST_RBX, &val) == 0 &&
		  val == 0x1122334455667788,
	      "kvm: general register round trip");
	CHECK(vm_set_register(v, VM_REG_GUEST_CR2, 0xdead000) == 0 &&
		  vm_get_register(v, VM_REG_GUEST_CR2, &val) == 0 &&
		  val == 0xdead000,
	      "kvm: control register round trip");
	CHECK(vm_set_register(v, VM_REG_GUEST_DR0, 0x5000) == 0 &&
		  vm_get_register(v, VM_REG_GUEST_DR0, &val) == 0 &&
		  val == 0x5000,
	      "kvm: debug register round trip");
	CHECK(vm_set_desc(v, VM_REG_GUEST_GDTR, 0x3000, 0x27, 0) == 0 &&
		  vm_get_desc(v, VM_REG_GUEST_GDTR, &base, &limit, &access) ==
		      0 &&
		  base == 0x3000 && limit == 0x27,
	      "kvm: GDTR round trip");
	CHECK(vm_get_desc(v, VM_REG_GUEST_CS, &base, &limit, &access) == 0 &&
		  base == 0xffff0000 && (access & SEG_ACCESS_P),
	      "kvm: reset CS base 0xffff0000, present");
	CHECK(vm_set_msr(v, 0x10, 1ULL << 40) == 0 &&
		  vm_get_msr(v, 0x10, &val) == 0 && val >= (1ULL << 40),
	      "kvm: IA32_TSC write then read");
	CHECK(vm_get_msr(v, 0x1b, &val) == 0 &&
		  (val & 0xfffff000) == 0xfee00000 && (val & 0x100),
	      "kvm: APIC base, BSP flag");
	CHECK(vm_get_fpu(v, fx, sizeof(fx)) == 0, "kvm: get FPU state");
	memset(fx + 160, 0xab, 16); /* xmm0 */
	CHECK(vm_set_fpu(v, fx, sizeof(fx)) == 0 &&
		  vm_get_fpu(v, fx2, sizeof(fx2)) == 0 &&
		  memcmp(fx2 + 160, fx + 160, 16) == 0,
	      "kvm: xmm0 round trip");
	CHECK(vm_get_register(v, VM_REG_LAST, &val) == -1 && errno == EINVAL,
	      "kvm: bad register refused");
}

static void
test_guest_run(struct vmctx *ctx, struct vcpu *v)
{
	struct vm_exit vme;
	uint8_t *mem = vm_map_gpa(ctx, 0x1000, sizeof(guest));

	memcpy(mem, guest, sizeof(guest));
	vm_set_desc(v, VM_REG_GUEST_CS, 0, 0xffff, 0x9b);
	vm_set_register(v, VM_REG_GUEST_CS, 0);
	vm_set_register(v, VM_REG_GUEST_RIP, 0x1000);
	CHECK(vm_run(v, &vme) == 0 && vme.exitcode == VM_EXITCODE_INOUT &&
		  !vme.u.inout.in && vme.u.inout.port == 0x10 &&
		  vme.u.inout.bytes == 1 && vme.u.inout.data[0] == 0x42,
	      "kvm: out exit decoded");
	CHECK(vm_run(v, &vme) == 0 && vme.exitcode == VM_EXITCODE_INOUT &&
		  vme.u.inout.in && vme.u.inout.port == 0x11,
	      "kvm: in exit decoded");
	vme.u.inout.data[0] = 0x5a;
	/* 0xf0000 is RAM in beehive's layout: the store exits nowhere. */
	CHECK(vm_run(v, &vme) == 0 && vme.exitcode == VM_EXITCODE_INOUT &&
		  vme.u.inout.port == 0x12,
	      "kvm: guest ran on after the in");
	CHECK(*(uint8_t *)vm_map_gpa(ctx, 0xf0000, 1) == 0x77,
	      "kvm: guest store to RAM below 1 MiB");
	CHECK(*(uint8_t *)vm_map_gpa(ctx, 0x2000, 1) == 0x5a,
	      "kvm: value returned by the in reached guest memory");
}

static void
test_fastpath(struct vmctx *ctx)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int gsi, gsi2;

	gsi = vm_msi_route_alloc(ctx, 0xfee00000, 0x4041);
	CHECK(gsi >= 24, "kvm: MSI route allocated above the PC lines");
	gsi2 = vm_msi_route_alloc(ctx, 0xfee00000, 0x4042);
	CHECK(gsi2 >= 24 && gsi2 != gsi, "kvm: second MSI route distinct");
	CHECK(vm_msi_route_update(ctx, gsi, 0xfee01000, 0x4043) == 0,
	      "kvm: MSI route update");
	CHECK(vm_irqfd(ctx, efd, (uint32_t)gsi, false) == 0,
	      "kvm: irqfd on an MSI route");
	CHECK(vm_irqfd(ctx, efd, (uint32_t)gsi, true) == 0,
	      "kvm: irqfd deassign");
	CHECK(vm_msi_route_free(ctx, gsi) == 0 &&
		  vm_msi_route_free(ctx, gsi) == -1,
	      "kvm: MSI route free once");
	CHECK(vm_ioeventfd(ctx, efd, 0xe0001000, 4, false, false, 0, false) ==
		  0,
	      "kvm: MMIO ioeventfd");
	CHECK(vm_ioeventfd(ctx, efd, 0xe0001000, 4, false, false, 0, true) == 0,
	      "kvm: MMIO ioeventfd deassign");
	CHECK(vm_ioeventfd(ctx, efd, 0x6000, 2, true, true, 7, false) == 0,
	      "kvm: PIO ioeventfd with datamatch");
	CHECK(vm_ioeventfd(ctx, efd, 0x6000, 3, true, false, 0, false) == -1,
	      "kvm: bad ioeventfd length refused");
	CHECK(vm_lapic_msi(ctx, 0xfee00000, 0x30) == 0, "kvm: MSI injection");
	CHECK(vm_isa_pulse_irq(ctx, 4, 4) == 0 &&
		  vm_ioapic_pulse_irq(ctx, 20) == 0,
	      "kvm: ISA and IOAPIC lines");
	CHECK(vm_ioapic_assert_irq(ctx, 24) == -1, "kvm: pin 24 refused");
	close(efd);
}

/* CPUID.1:ECX as KVM holds it for the vCPU; 0 on failure. */
static uint32_t
cpuid1_ecx(struct vcpu *v)
{
	struct kvm_cpuid2 *c;
	uint32_t ecx = 0;

	c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
	if (c == NULL)
		return 0;
	c->nent = 256;
	if (ioctl(v->fd, KVM_GET_CPUID2, c) == 0) {
		for (uint32_t i = 0; i < c->nent; i++) {
			if (c->entries[i].function == 1)
				ecx = c->entries[i].ecx;
		}
	}
	free(c);
	return ecx;
}

/* x86.x2apic=false (bhyve's -a): CPUID hides x2APIC; offered otherwise. */
static void
test_x2apic_cpuid(struct vcpu *v_default)
{
	struct vmctx *ctx = vm_create("kvmtest-xapic");
	struct vcpu *v;

	CHECK(cpuid1_ecx(v_default) & (1u << 21),
	      "kvm: x2APIC offered by default");
	CHECK(ctx != NULL, "kvm: second VM");
	if (ctx == NULL)
		return;
	vm_set_x2apic_offered(ctx, false);
	CHECK(vm_set_topology(ctx, 1, 1, 1, 1) == 0 &&
		  vm_setup_memory(ctx, 16 * MiB) == 0,
	      "kvm: xAPIC VM set up");
	v = vm_vcpu_open(ctx, 0);
	CHECK(v != NULL && (cpuid1_ecx(v) & (1u << 31)) != 0 &&
		  (cpuid1_ecx(v) & (1u << 21)) == 0,
	      "kvm: x2apic off hides CPUID.1:ECX.x2APIC");
	vm_destroy(ctx);
}

int
main(void)
{
	struct vmctx *ctx;
	struct vcpu *v, *v1;
	struct vm_stat st[64];
	uint64_t val;
	int n;

	ctx = vm_create("kvmtest");
	CHECK(ctx != NULL, "kvm: vm_create");
	if (ctx == NULL)
		return test_done();
	CHECK(vm_set_topology(ctx, 1, 2, 1, 2) == 0, "kvm: topology 1x2x1");
	CHECK(vm_setup_memory(ctx, 64 * MiB) == 0, "kvm: 64 MiB of RAM");
	v = vm_vcpu_open(ctx, 0);
	v1 = vm_vcpu_open(ctx, 1);
	CHECK(v != NULL && v1 != NULL, "kvm: two vCPUs");
	CHECK(vm_vcpu_open(ctx, 2) == NULL, "kvm: vCPU beyond maxcpus refused");
	CHECK(vm_set_msr_exits(ctx, true) == 0, "kvm: userspace MSR exits");
	test_registers(v);
	test_guest_run(ctx, v);
	n = vm_get_stats(v, st, 64);
	CHECK(n > 0, "kvm: vCPU statistics");
	CHECK(vm_get_stat(v, "exits", &val) == 0 && val > 0,
	      "kvm: the exits counter moved");
	CHECK(vm_get_stat(v, "no-such-stat", &val) == -1, "kvm: unknown stat");
	test_fastpath(ctx);
	test_x2apic_cpuid(v);
	vm_destroy(ctx);
	return test_done();
}
