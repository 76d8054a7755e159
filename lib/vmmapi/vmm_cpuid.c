/*
 * libvmmapi: the per-VM CPUID policy.
 *
 * Start from what KVM can virtualize (KVM_GET_SUPPORTED_CPUID), then
 * describe the configured topology (sockets/cores/threads) consistently in
 * every leaf a guest reads it from, and present the hypervisor leaves:
 * bhyve's signature at 0x40000000 as bhyve does, and KVM's paravirtual
 * leaves at 0x40000100 so Linux still finds kvmclock (it scans the
 * hypervisor range in steps of 0x100 for "KVMKVMKVM"), and add what KVM
 * emulates but leaves out of its supported CPUID (the TSC-deadline timer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_impl.h"

#define CPUID_HV_BASE		0x40000000u
#define CPUID1_ECX_HYPERVISOR	(1u << 31)
#define CPUID1_EDX_HTT		(1u << 28)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_X2APIC	(1u << 21)

/* Paravirtual features that need VMM support beehive does not provide. */
#define KVM_FEATURE_MSI_EXT_DEST_ID   15
#define KVM_FEATURE_HC_MAP_GPA_RANGE  16
#define KVM_FEATURE_MIGRATION_CONTROL 17
#define KVM_PV_UNSUPPORTED                                                     \
	((1u << KVM_FEATURE_MSI_EXT_DEST_ID) |                                 \
	 (1u << KVM_FEATURE_HC_MAP_GPA_RANGE) |                                \
	 (1u << KVM_FEATURE_MIGRATION_CONTROL))

static unsigned int
bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* APIC ids pack thread, core and socket in power-of-two fields. */
uint32_t
vmm_apicid_for(const struct vmctx *ctx, int vcpuid)
{
	unsigned int smt = bits_for(ctx->threads);
	unsigned int core = bits_for(ctx->cores);
	uint32_t id = (uint32_t)vcpuid;
	uint32_t thread = id % ctx->threads;
	uint32_t c = (id / ctx->threads) % ctx->cores;
	uint32_t pkg = id / ((uint32_t)ctx->threads * ctx->cores);

	return (pkg << (smt + core)) | (c << smt) | thread;
}

static struct kvm_cpuid_entry2 *
cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != fn)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != idx)
			continue;
		return e;
	}
	return NULL;
}

static void
cpuid_set_sig(struct kvm_cpuid_entry2 *e, const char sig[12])
{
	memcpy(&e->ebx, sig, 4);
	memcpy(&e->ecx, sig + 4, 4);
	memcpy(&e->edx, sig + 8, 4);
}

static bool
cpuid_is_intel(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	return e != NULL && memcmp(&e->ebx, "Genu", 4) == 0;
}

static struct kvm_cpuid_entry2 *
cpuid_append(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, uint32_t flags)
{
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = flags;
	return e;
}

/*
 * Extended topology (leaf 0xB), which x2APIC guests read: SMT level, core
 * level, then the terminating invalid level.  Built whether or not the
 * host has the leaf, since the topology is the VM's, not the host's.
 */
static void
cpuid_leaf_b(struct vcpu *vcpu, struct kvm_cpuid2 *c, unsigned int smt,
	     unsigned int pkg_shift, uint32_t per_pkg)
{
	struct kvm_cpuid_entry2 *e;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function != 0xb)
			c->entries[n++] = c->entries[i];
	}
	c->nent = n;
	for (uint32_t sub = 0; sub < 3; sub++) {
		e = cpuid_append(c, 0xb, sub, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		e->edx = (uint32_t)vcpu->apicid;
		e->ecx = sub;
		if (sub == 0) {
			e->eax = smt;
			e->ebx = vcpu->ctx->threads;
			e->ecx |= 1u << 8;
		} else if (sub == 1) {
			e->eax = pkg_shift;
			e->ebx = per_pkg;
			e->ecx |= 2u << 8;
		}
	}
	e = cpuid_find(c, 0, 0);
	if (e != NULL && e->eax < 0xb)
		e->eax = 0xb;
}

static void
cpuid_topology(struct vcpu *vcpu, struct kvm_cpuid2 *c)
{
	struct vmctx *ctx = vcpu->ctx;
	uint32_t per_pkg = (uint32_t)ctx->cores * ctx->threads;
	unsigned int smt = bits_for(ctx->threads);
	unsigned int pkg_shift = smt + bits_for(ctx->cores);
	struct kvm_cpuid_entry2 *e;

	if ((e = cpuid_find(c, 1, 0)) != NULL) {
		e->ebx &= 0x0000ffff;
		e->ebx |= (uint32_t)vcpu->apicid << 24;
		e->ebx |= (per_pkg > 255 ? 255 : per_pkg) << 16;
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		if (ctx->no_x2apic)
			e->ecx &= ~CPUID1_ECX_X2APIC;
		if (per_pkg > 1)
			e->edx |= CPUID1_EDX_HTT;
		else
			e->edx &= ~CPUID1_EDX_HTT;
	}
	for (uint32_t sub = 0; sub < 64; sub++) {
		e = cpuid_find(c, 4, sub);
		if (e == NULL || (e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x03ffffff;
		if (cpuid_is_intel(c))
			e->eax |= (uint32_t)(ctx->cores - 1) << 26;
	}
	cpuid_leaf_b(vcpu, c, smt, pkg_shift, per_pkg);
	if ((e = cpuid_find(c, 0x80000008, 0)) != NULL) {
		e->ecx &= ~0xf0ffu;
		e->ecx |= (per_pkg - 1) & 0xff;
		e->ecx |= (uint32_t)pkg_shift << 12;
	}
}

static void
cpuid_hypervisor_leaves(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *base, *feat;
	uint32_t kvm_features = 0;

	base = cpuid_find(c, CPUID_HV_BASE, 0);
	feat = cpuid_find(c, CPUID_HV_BASE + 1, 0);
	if (feat != NULL)
		kvm_features = feat->eax & ~KVM_PV_UNSUPPORTED;
	if (base == NULL || feat == NULL)
		return;
	/* Reuse KVM's two entries: bhyve's leaf, then KVM's moved up. */
	base->function = CPUID_HV_BASE;
	base->eax = CPUID_HV_BASE;
	cpuid_set_sig(base, "bhyve bhyve ");
	feat->function = VMM_KVM_CPUID_BASE;
	feat->index = 0;
	feat->flags = 0;
	feat->eax = VMM_KVM_CPUID_BASE + 1;
	cpuid_set_sig(feat, "KVMKVMKVM\0\0\0");
	/* The caller allocated spare entries for this. */
	feat = cpuid_append(c, VMM_KVM_CPUID_BASE + 1, 0, 0);
	feat->eax = kvm_features;
}

/*
 * KVM's in-kernel LAPIC emulates TSC-deadline mode, but the bit (leaf 1
 * ECX bit 24) is the VMM's to offer.  With it Linux arms its timer as one
 * absolute deadline (the "lapic-deadline" clockevent, as under QEMU)
 * rather than in one-shot count mode.
 */
static void
cpuid_tsc_deadline(int kvmfd, struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);

	if (e != NULL &&
	    ioctl(kvmfd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		e->ecx |= CPUID1_ECX_TSC_DEADLINE;
}

/*
 * AMD's memory-encryption leaf (SME/SEV/SEV-ES/SNP).  KVM reports it on
 * hosts that can run SEV guests, but beehive's guests are never
 * encrypted: firmware that sees the SEV bit (OVMF checks it at reset)
 * goes on to read the SEV status MSR and to set up encrypted paging, and
 * a plain guest must not try.  QEMU, too, presents the leaf as all-zero
 * unless it launches an SEV guest.
 */
static void
cpuid_no_memory_encryption(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x8000001f, 0);

	if (e != NULL)
		e->eax = e->ebx = e->ecx = e->edx = 0;
}

int
vmm_cpuid_apply(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *src = vcpu->ctx->supported_cpuid;
	struct kvm_cpuid2 *c;
	size_t sz;
	int rc;

	/* Spare entries: the moved KVM feature leaf and three of leaf 0xB. */
	sz = sizeof(*c) + (src->nent + 4) * sizeof(c->entries[0]);
	c = calloc(1, sz);
	if (c == NULL)
		return -1;
	c->nent = src->nent;
	memcpy(c->entries, src->entries, src->nent * sizeof(c->entries[0]));
	cpuid_topology(vcpu, c);
	cpuid_tsc_deadline(vcpu->ctx->kvmfd, c);
	cpuid_no_memory_encryption(c);
	cpuid_hypervisor_leaves(c);
	rc = ioctl(vcpu->fd, KVM_SET_CPUID2, c);
	free(c);
	return rc;
}
