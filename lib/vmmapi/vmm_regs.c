/*
 * libvmmapi: vCPU register state.  bhyve names registers individually;
 * KVM moves them in groups (regs, sregs, debugregs), so each accessor
 * reads the group, changes one field and writes the group back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_impl.h"

#define MSR_EFER 0xc0000080u

static __u64 *
regs_field(struct kvm_regs *r, int reg)
{
	switch (reg) {
	case VM_REG_GUEST_RAX:
		return &r->rax;
	case VM_REG_GUEST_RBX:
		return &r->rbx;
	case VM_REG_GUEST_RCX:
		return &r->rcx;
	case VM_REG_GUEST_RDX:
		return &r->rdx;
	case VM_REG_GUEST_RSI:
		return &r->rsi;
	case VM_REG_GUEST_RDI:
		return &r->rdi;
	case VM_REG_GUEST_RBP:
		return &r->rbp;
	case VM_REG_GUEST_RSP:
		return &r->rsp;
	case VM_REG_GUEST_R8:
		return &r->r8;
	case VM_REG_GUEST_R9:
		return &r->r9;
	case VM_REG_GUEST_R10:
		return &r->r10;
	case VM_REG_GUEST_R11:
		return &r->r11;
	case VM_REG_GUEST_R12:
		return &r->r12;
	case VM_REG_GUEST_R13:
		return &r->r13;
	case VM_REG_GUEST_R14:
		return &r->r14;
	case VM_REG_GUEST_R15:
		return &r->r15;
	case VM_REG_GUEST_RIP:
		return &r->rip;
	case VM_REG_GUEST_RFLAGS:
		return &r->rflags;
	default:
		return NULL;
	}
}

static __u64 *
sregs_field(struct kvm_sregs *s, int reg)
{
	switch (reg) {
	case VM_REG_GUEST_CR0:
		return &s->cr0;
	case VM_REG_GUEST_CR2:
		return &s->cr2;
	case VM_REG_GUEST_CR3:
		return &s->cr3;
	case VM_REG_GUEST_CR4:
		return &s->cr4;
	case VM_REG_GUEST_CR8:
		return &s->cr8;
	case VM_REG_GUEST_EFER:
		return &s->efer;
	default:
		return NULL;
	}
}

static struct kvm_segment *
sregs_segment(struct kvm_sregs *s, int reg)
{
	switch (reg) {
	case VM_REG_GUEST_ES:
		return &s->es;
	case VM_REG_GUEST_CS:
		return &s->cs;
	case VM_REG_GUEST_SS:
		return &s->ss;
	case VM_REG_GUEST_DS:
		return &s->ds;
	case VM_REG_GUEST_FS:
		return &s->fs;
	case VM_REG_GUEST_GS:
		return &s->gs;
	case VM_REG_GUEST_LDTR:
		return &s->ldt;
	case VM_REG_GUEST_TR:
		return &s->tr;
	default:
		return NULL;
	}
}

static __u64 *
debugregs_field(struct kvm_debugregs *d, int reg)
{
	switch (reg) {
	case VM_REG_GUEST_DR0:
		return &d->db[0];
	case VM_REG_GUEST_DR1:
		return &d->db[1];
	case VM_REG_GUEST_DR2:
		return &d->db[2];
	case VM_REG_GUEST_DR3:
		return &d->db[3];
	case VM_REG_GUEST_DR6:
		return &d->dr6;
	case VM_REG_GUEST_DR7:
		return &d->dr7;
	default:
		return NULL;
	}
}

static int
reg_access(struct vcpu *vcpu, int reg, uint64_t *val, bool set)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_debugregs d;
	struct kvm_segment *seg;
	__u64 *f;

	if (reg < 0 || reg >= VM_REG_LAST) {
		errno = EINVAL;
		return -1;
	}
	if ((f = regs_field(&r, reg)) != NULL) {
		if (ioctl(vcpu->fd, KVM_GET_REGS, &r) != 0)
			return -1;
		if (!set) {
			*val = *f;
			return 0;
		}
		*f = *val;
		return ioctl(vcpu->fd, KVM_SET_REGS, &r);
	}
	if ((f = debugregs_field(&d, reg)) != NULL) {
		if (ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &d) != 0)
			return -1;
		if (!set) {
			*val = *f;
			return 0;
		}
		*f = *val;
		return ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d);
	}
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) != 0)
		return -1;
	if ((f = sregs_field(&s, reg)) != NULL) {
		if (!set) {
			*val = *f;
			return 0;
		}
		*f = *val;
		return ioctl(vcpu->fd, KVM_SET_SREGS, &s);
	}
	/* A segment register as a value is its selector, as in bhyve. */
	if ((seg = sregs_segment(&s, reg)) != NULL) {
		if (!set) {
			*val = seg->selector;
			return 0;
		}
		seg->selector = (uint16_t)*val;
		return ioctl(vcpu->fd, KVM_SET_SREGS, &s);
	}
	errno = EINVAL;
	return -1;
}

int
vm_get_register(struct vcpu *vcpu, int reg, uint64_t *val)
{
	return reg_access(vcpu, reg, val, false);
}

int
vm_set_register(struct vcpu *vcpu, int reg, uint64_t val)
{
	return reg_access(vcpu, reg, &val, true);
}

int
vm_get_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
		    uint64_t *regvals)
{
	for (unsigned int i = 0; i < count; i++) {
		if (vm_get_register(vcpu, regnums[i], &regvals[i]) != 0)
			return -1;
	}
	return 0;
}

/*
 * KVM validates the special registers as a whole on each KVM_SET_SREGS:
 * CR0.PG with EFER.LME is accepted only together with EFER.LMA and CR4.PAE,
 * and EFER.LMA only with both.  No order of single-register writes gets from
 * reset into long mode, so the control registers of one set (CR0, CR2, CR3,
 * CR4, CR8, EFER) go to KVM in a single call; the rest follow one by one.
 */
int
vm_set_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
		    uint64_t *regvals)
{
	struct kvm_sregs s;
	bool have_ctl = false;
	__u64 *f;

	for (unsigned int i = 0; i < count; i++) {
		if (sregs_field(&s, regnums[i]) == NULL)
			continue;
		if (!have_ctl && ioctl(vcpu->fd, KVM_GET_SREGS, &s) != 0)
			return -1;
		have_ctl = true;
		f = sregs_field(&s, regnums[i]);
		*f = regvals[i];
	}
	if (have_ctl && ioctl(vcpu->fd, KVM_SET_SREGS, &s) != 0)
		return -1;
	for (unsigned int i = 0; i < count; i++) {
		if (sregs_field(&s, regnums[i]) != NULL)
			continue;
		if (vm_set_register(vcpu, regnums[i], regvals[i]) != 0)
			return -1;
	}
	return 0;
}

static uint32_t
seg_to_access(const struct kvm_segment *s)
{
	uint32_t a = s->type & 0xf;

	a |= s->s ? SEG_ACCESS_S : 0;
	a |= (uint32_t)(s->dpl & 3) << 5;
	a |= s->present ? SEG_ACCESS_P : 0;
	a |= s->avl ? SEG_ACCESS_AVL : 0;
	a |= s->l ? SEG_ACCESS_L : 0;
	a |= s->db ? SEG_ACCESS_DB : 0;
	a |= s->g ? SEG_ACCESS_G : 0;
	a |= s->unusable ? SEG_ACCESS_UNUSABLE : 0;
	return a;
}

static void
access_to_seg(uint32_t a, struct kvm_segment *s)
{
	s->type = a & 0xf;
	s->s = (a & SEG_ACCESS_S) != 0;
	s->dpl = (a >> 5) & 3;
	s->present = (a & SEG_ACCESS_P) != 0;
	s->avl = (a & SEG_ACCESS_AVL) != 0;
	s->l = (a & SEG_ACCESS_L) != 0;
	s->db = (a & SEG_ACCESS_DB) != 0;
	s->g = (a & SEG_ACCESS_G) != 0;
	s->unusable = (a & SEG_ACCESS_UNUSABLE) != 0;
}

static int
desc_access(struct vcpu *vcpu, int reg, uint64_t *base, uint32_t *limit,
	    uint32_t *access, bool set)
{
	struct kvm_sregs s;
	struct kvm_segment *seg;
	struct kvm_dtable *dt = NULL;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) != 0)
		return -1;
	if (reg == VM_REG_GUEST_IDTR)
		dt = &s.idt;
	else if (reg == VM_REG_GUEST_GDTR)
		dt = &s.gdt;
	if (dt != NULL) {
		if (!set) {
			*base = dt->base;
			*limit = dt->limit;
			*access = 0;
			return 0;
		}
		dt->base = *base;
		dt->limit = (uint16_t)*limit;
		return ioctl(vcpu->fd, KVM_SET_SREGS, &s);
	}
	seg = sregs_segment(&s, reg);
	if (seg == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!set) {
		*base = seg->base;
		*limit = seg->limit;
		*access = seg_to_access(seg);
		return 0;
	}
	seg->base = *base;
	seg->limit = *limit;
	access_to_seg(*access, seg);
	return ioctl(vcpu->fd, KVM_SET_SREGS, &s);
}

int
vm_get_desc(struct vcpu *vcpu, int reg, uint64_t *base, uint32_t *limit,
	    uint32_t *access)
{
	return desc_access(vcpu, reg, base, limit, access, false);
}

int
vm_set_desc(struct vcpu *vcpu, int reg, uint64_t base, uint32_t limit,
	    uint32_t access)
{
	return desc_access(vcpu, reg, &base, &limit, &access, true);
}

/* One MSR through KVM_GET_MSRS/KVM_SET_MSRS, which take an array. */
static int
msr_access(struct vcpu *vcpu, uint32_t msr, uint64_t *val, bool set)
{
	union {
		struct kvm_msrs hdr;
		uint8_t
		    raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	struct kvm_msr_entry *e = m.hdr.entries;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	e->index = msr;
	e->data = set ? *val : 0;
	errno = 0;
	if (ioctl(vcpu->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m) != 1) {
		errno = errno ? errno : EINVAL;
		return -1;
	}
	if (!set)
		*val = e->data;
	return 0;
}

int
vm_get_msr(struct vcpu *vcpu, uint32_t msr, uint64_t *val)
{
	return msr_access(vcpu, msr, val, false);
}

int
vm_set_msr(struct vcpu *vcpu, uint32_t msr, uint64_t val)
{
	return msr_access(vcpu, msr, &val, true);
}

int
vm_get_fpu(struct vcpu *vcpu, void *buf, size_t len)
{
	struct kvm_fpu f;
	uint8_t *fx = buf;

	if (len < VM_FXSAVE_LEN) {
		errno = EINVAL;
		return -1;
	}
	if (ioctl(vcpu->fd, KVM_GET_FPU, &f) != 0)
		return -1;
	memset(fx, 0, VM_FXSAVE_LEN);
	memcpy(fx + VM_FX_FCW, &f.fcw, 2);
	memcpy(fx + VM_FX_FSW, &f.fsw, 2);
	fx[VM_FX_FTW] = f.ftwx;
	memcpy(fx + VM_FX_FOP, &f.last_opcode, 2);
	memcpy(fx + VM_FX_FIP, &f.last_ip, 8);
	memcpy(fx + VM_FX_FDP, &f.last_dp, 8);
	memcpy(fx + VM_FX_MXCSR, &f.mxcsr, 4);
	for (int i = 0; i < 8; i++)
		memcpy(fx + VM_FX_ST0 + 16 * i, f.fpr[i], 16);
	memcpy(fx + VM_FX_XMM0, f.xmm, sizeof(f.xmm));
	return 0;
}

int
vm_set_fpu(struct vcpu *vcpu, const void *buf, size_t len)
{
	struct kvm_fpu f;
	const uint8_t *fx = buf;

	if (len < VM_FXSAVE_LEN) {
		errno = EINVAL;
		return -1;
	}
	memset(&f, 0, sizeof(f));
	memcpy(&f.fcw, fx + VM_FX_FCW, 2);
	memcpy(&f.fsw, fx + VM_FX_FSW, 2);
	f.ftwx = fx[VM_FX_FTW];
	memcpy(&f.last_opcode, fx + VM_FX_FOP, 2);
	memcpy(&f.last_ip, fx + VM_FX_FIP, 8);
	memcpy(&f.last_dp, fx + VM_FX_FDP, 8);
	memcpy(&f.mxcsr, fx + VM_FX_MXCSR, 4);
	for (int i = 0; i < 8; i++)
		memcpy(f.fpr[i], fx + VM_FX_ST0 + 16 * i, 16);
	memcpy(f.xmm, fx + VM_FX_XMM0, sizeof(f.xmm));
	return ioctl(vcpu->fd, KVM_SET_FPU, &f);
}

/* The architectural power-on state (Intel SDM Vol. 3, 9.1.1). */
int
vcpu_reset(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_segment data = {
	    .base = 0,
	    .limit = 0xffff,
	    .type = 3,
	    .present = 1,
	    .s = 1,
	};

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) != 0)
		return -1;
	s.cs = data;
	s.cs.type = 0xb;
	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.ldt = (struct kvm_segment){.limit = 0xffff, .type = 2, .present = 1};
	s.tr = (struct kvm_segment){.limit = 0xffff, .type = 11, .present = 1};
	s.gdt = (struct kvm_dtable){.base = 0, .limit = 0xffff};
	s.idt = (struct kvm_dtable){.base = 0, .limit = 0xffff};
	s.cr0 = 0x60000010;
	s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
	s.efer = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s) != 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.rip = 0xfff0;
	r.rflags = 0x2;
	return ioctl(vcpu->fd, KVM_SET_REGS, &r);
}

int
vm_inject_exception(struct vcpu *vcpu, int vector, int errcode_valid,
		    uint32_t errcode, int restart_instruction)
{
	struct kvm_vcpu_events ev;

	(void)restart_instruction; /* KVM has already completed the exit */
	if (vector < 0 || vector > 31 || vector == 2) {
		errno = EINVAL;
		return -1;
	}
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) != 0)
		return -1;
	if (ev.exception.injected || ev.exception.pending) {
		errno = EBUSY;
		return -1;
	}
	/* Only exception fields change; the rest is written back as read. */
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = errcode_valid ? 1 : 0;
	ev.exception.error_code = errcode;
	ev.flags = 0;
	return ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev);
}

int
vm_inject_nmi(struct vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_NMI, 0);
}
