/*
 * libvmmapi: vCPUs and the translation of KVM exits into bhyve's
 * struct vm_exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm_impl.h"

struct vcpu *
vm_vcpu_open(struct vmctx *ctx, int vcpuid)
{
	struct vcpu *vcpu;

	if (ctx->vmfd < 0) {
		errno = ENODEV;
		return NULL;
	}
	if (vcpuid < 0 || vcpuid >= VM_MAXCPU || vcpuid >= ctx->maxcpus) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&ctx->lock);
	if (ctx->vcpus[vcpuid] != NULL) {
		pthread_mutex_unlock(&ctx->lock);
		return ctx->vcpus[vcpuid];
	}
	vcpu = calloc(1, sizeof(*vcpu));
	if (vcpu == NULL)
		goto fail;
	vcpu->ctx = ctx;
	vcpu->id = vcpuid;
	vcpu->stats_fd = -1;
	vcpu->apicid = (int)vmm_apicid_for(ctx, vcpuid);
	vcpu->fd =
	    ioctl(ctx->vmfd, KVM_CREATE_VCPU, (unsigned long)vcpu->apicid);
	if (vcpu->fd < 0)
		goto fail;
	vcpu->run = mmap(NULL, ctx->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		goto fail;
	}
	if (vmm_cpuid_apply(vcpu) != 0)
		goto fail;
	(void)vmm_stats_open(vcpu); /* optional: older kernels lack it */
	ctx->vcpus[vcpuid] = vcpu;
	pthread_mutex_unlock(&ctx->lock);
	return vcpu;
fail:
	if (vcpu != NULL) {
		int saved = errno;

		if (vcpu->run != NULL)
			munmap(vcpu->run, ctx->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
		free(vcpu);
		errno = saved;
	}
	pthread_mutex_unlock(&ctx->lock);
	return NULL;
}

void
vm_vcpu_close(struct vcpu *vcpu)
{
	struct vmctx *ctx = vcpu->ctx;

	ctx->vcpus[vcpu->id] = NULL;
	vmm_stats_close(vcpu);
	if (vcpu->run != NULL)
		munmap(vcpu->run, ctx->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}

int
vcpu_id(struct vcpu *vcpu)
{
	return vcpu->id;
}

struct vmctx *
vcpu_ctx(struct vcpu *vcpu)
{
	return vcpu->ctx;
}

void
vm_vcpu_set_immediate_exit(struct vcpu *vcpu, bool on)
{
	__atomic_store_n(&vcpu->run->immediate_exit, on ? 1 : 0,
			 __ATOMIC_SEQ_CST);
}

/*
 * immediate_exit covers the window before the thread enters KVM_RUN; the
 * signal covers a thread already inside it.  Together no kick is lost.
 */
void
vm_vcpu_kick(struct vcpu *vcpu)
{
	vm_vcpu_set_immediate_exit(vcpu, true);
	if (__atomic_load_n(&vcpu->thread_known, __ATOMIC_ACQUIRE))
		pthread_kill(vcpu->thread, SIGUSR2);
}

static void
vm_exit_inout(struct vcpu *vcpu, struct vm_exit *vme)
{
	struct kvm_run *run = vcpu->run;
	uint64_t end;

	vme->exitcode = VM_EXITCODE_INOUT;
	vme->u.inout.port = run->io.port;
	vme->u.inout.bytes = run->io.size;
	vme->u.inout.in = run->io.direction == KVM_EXIT_IO_IN;
	vme->u.inout.count = run->io.count;
	vme->u.inout.string = run->io.count > 1;
	/* KVM owns these values, but a bad offset must not become a wild
	 * pointer in the VMM. */
	end = run->io.data_offset + (uint64_t)run->io.size * run->io.count;
	if (run->io.size == 0 || run->io.size > 4 ||
	    end > (uint64_t)vcpu->ctx->run_size) {
		vme->exitcode = VM_EXITCODE_UNKNOWN;
		vme->u.unknown.kvm_reason = KVM_EXIT_IO;
		return;
	}
	vme->u.inout.data = (uint8_t *)run + run->io.data_offset;
}

static void
vm_exit_system_event(struct kvm_run *run, struct vm_exit *vme)
{
	vme->exitcode = VM_EXITCODE_SUSPENDED;
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_RESET:
		vme->u.suspended.how = VM_SUSPEND_RESET;
		break;
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vme->u.suspended.how = VM_SUSPEND_POWEROFF;
		break;
	default:
		vme->exitcode = VM_EXITCODE_UNKNOWN;
		vme->u.unknown.kvm_reason = KVM_EXIT_SYSTEM_EVENT;
		break;
	}
}

static void
vm_exit_decode(struct vcpu *vcpu, struct vm_exit *vme)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vm_exit_inout(vcpu, vme);
		break;
	case KVM_EXIT_MMIO:
		vme->exitcode = VM_EXITCODE_MMIO;
		vme->u.mmio.gpa = run->mmio.phys_addr;
		vme->u.mmio.bytes = run->mmio.len > 8 ? 8 : run->mmio.len;
		vme->u.mmio.write = run->mmio.is_write != 0;
		vme->u.mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		vme->exitcode = VM_EXITCODE_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		vme->exitcode = VM_EXITCODE_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_exit_system_event(run, vme);
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		vme->exitcode = run->exit_reason == KVM_EXIT_X86_RDMSR
				    ? VM_EXITCODE_RDMSR
				    : VM_EXITCODE_WRMSR;
		vme->u.msr.msr = run->msr.index;
		vme->u.msr.reason = run->msr.reason;
		vme->u.msr.value = run->msr.data;
		vme->u.msr.error = &run->msr.error;
		vme->u.msr.data = &run->msr.data;
		break;
	case KVM_EXIT_DEBUG:
		vme->exitcode = VM_EXITCODE_DEBUG;
		vme->u.debug.exception = run->debug.arch.exception;
		vme->u.debug.pc = run->debug.arch.pc;
		vme->u.debug.dr6 = run->debug.arch.dr6;
		vme->u.debug.dr7 = run->debug.arch.dr7;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vme->exitcode = VM_EXITCODE_INTERNAL_ERROR;
		vme->u.internal.suberror = run->internal.suberror;
		vme->u.internal.ndata =
		    run->internal.ndata > 16 ? 16 : run->internal.ndata;
		memcpy(vme->u.internal.data, run->internal.data,
		       vme->u.internal.ndata * sizeof(uint64_t));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vme->exitcode = VM_EXITCODE_FAIL_ENTRY;
		vme->u.fail_entry.reason =
		    run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		vme->exitcode = VM_EXITCODE_INTERRUPTED;
		break;
	default:
		vme->exitcode = VM_EXITCODE_UNKNOWN;
		vme->u.unknown.kvm_reason = run->exit_reason;
		break;
	}
}

int
vm_run(struct vcpu *vcpu, struct vm_exit *vme)
{
	int rc;

	if (!vcpu->thread_known) {
		vcpu->thread = pthread_self();
		__atomic_store_n(&vcpu->thread_known, true, __ATOMIC_RELEASE);
	}
	memset(vme, 0, sizeof(*vme));
	rc = ioctl(vcpu->fd, KVM_RUN, 0);
	if (rc != 0) {
		if (errno == EINTR || errno == EAGAIN) {
			vm_vcpu_set_immediate_exit(vcpu, false);
			vme->exitcode = VM_EXITCODE_INTERRUPTED;
			return 0;
		}
		return -1;
	}
	vm_exit_decode(vcpu, vme);
	/* The exits that end in an error report say where the guest was;
	 * the frequent ones (I/O, kicks, MSRs) do not pay for the ioctl. */
	if (vme->exitcode == VM_EXITCODE_INTERNAL_ERROR ||
	    vme->exitcode == VM_EXITCODE_FAIL_ENTRY ||
	    vme->exitcode == VM_EXITCODE_UNKNOWN)
		(void)vm_get_register(vcpu, VM_REG_GUEST_RIP, &vme->rip);
	return 0;
}

int
vm_get_run_state(struct vcpu *vcpu, uint32_t *mp_state)
{
	struct kvm_mp_state mp;

	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) != 0)
		return -1;
	*mp_state = mp.mp_state;
	return 0;
}

int
vm_set_run_state(struct vcpu *vcpu, uint32_t mp_state)
{
	struct kvm_mp_state mp = {.mp_state = mp_state};

	return ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
}

int
vm_set_guest_debug(struct vcpu *vcpu, uint32_t control, const uint64_t dr[8])
{
	struct kvm_guest_debug dbg;

	memset(&dbg, 0, sizeof(dbg));
	dbg.control = control;
	if (dr != NULL)
		memcpy(dbg.arch.debugreg, dr, sizeof(dbg.arch.debugreg));
	return ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg);
}
