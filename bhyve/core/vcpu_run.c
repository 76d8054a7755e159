/*
 * The vCPU side of the bhyve process: one thread per vCPU running
 * vm_run() and dispatching each exit through a table indexed by exit
 * code; the single way a VM ends (bhyve_request_suspend); halt detection;
 * and parking vCPUs so other threads may inspect them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/kvm.h>

#include "inout.h"
#include "mem.h"
#include "config_vm.h"
#include "mevent.h"
#include "vcpu_run.h"

#define HALT_CHECK_NS  100000000ULL /* 100 ms */
#define RFLAGS_IF      0x200ULL
#define MSR_REPORT_MAX 32

/* Set once, by vcpu_run_open(); read through bhyve_ncpus(). */
static int guest_ncpus;

static struct vmctx *bhyve_ctx;
static bool vcpu_threads_started[VM_MAXCPU];
static struct vcpu *bhyve_vcpus[VM_MAXCPU];
static pthread_t vcpu_threads[VM_MAXCPU];
static enum vm_suspend_how suspend_how = VM_SUSPEND_NONE;
static bool strict_msr;
static pthread_mutex_t msr_report_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint32_t msr_reported[MSR_REPORT_MAX];
static int msr_nreported;
static bhyve_debug_handler_t debug_handler;

/* vCPU parking (see vcpu_run.h). */
struct vcpu_call {
	int (*fn)(struct vcpu *, void *);
	void *arg;
	int rc;
	bool pending;
};
static pthread_mutex_t park_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;   /* vCPUs wait */
static pthread_cond_t parked_cv = PTHREAD_COND_INITIALIZER; /* pausers */
static _Atomic int pause_count;
static int nparked;
static int nvcpu_threads;
static struct vcpu_call vcpu_calls[VM_MAXCPU];
static _Atomic bool vcpu_held[VM_MAXCPU];

/*
 * Halt detection: a vCPU that runs HLT with interrupts disabled can only
 * leave it by NMI, INIT or a paravirtual kick (KVM_HC_KICK_CPU, which
 * Linux's PV spinlocks use to wake a waiter halted with interrupts off).
 * bhyve ends the VM with status 2 when every started vCPU is in that state
 * at once; KVM blocks such a vCPU in the kernel, so beehive samples them
 * periodically (see vcpu_check_halt()), then confirms with all vCPUs
 * parked (halt_confirm()).
 */
static _Atomic int halt_check_gen;
static _Atomic int vcpu_halt[VM_MAXCPU];
static _Atomic int vcpu_halt_gen[VM_MAXCPU];

struct vmctx *
bhyve_vmctx(void)
{
	return bhyve_ctx;
}

struct vcpu *
bhyve_vcpu(int vcpuid)
{
	if (vcpuid < 0 || vcpuid >= guest_ncpus)
		return NULL;
	return bhyve_vcpus[vcpuid];
}

int
bhyve_exit_status(enum vm_suspend_how how)
{
	switch (how) {
	case VM_SUSPEND_RESET:
		return BHYVE_EXIT_RESET;
	case VM_SUSPEND_POWEROFF:
		return BHYVE_EXIT_POWEROFF;
	case VM_SUSPEND_HALT:
		return BHYVE_EXIT_HALT;
	case VM_SUSPEND_TRIPLEFAULT:
		return BHYVE_EXIT_TRIPLEFAULT;
	default:
		return BHYVE_EXIT_ERROR;
	}
}

static void
bhyve_kick_all(void)
{
	for (int i = 0; i < guest_ncpus; i++) {
		if (bhyve_vcpus[i] != NULL)
			vm_vcpu_kick(bhyve_vcpus[i]);
	}
}

/*
 * The one way the VM ends: the first caller records why, every vCPU is
 * kicked out of KVM_RUN or its parking spot, and the event loop returns
 * 'status' to main().
 */
static void
bhyve_end(enum vm_suspend_how how, int status)
{
	enum vm_suspend_how none = VM_SUSPEND_NONE;

	if (!__atomic_compare_exchange_n(&suspend_how, &none, how, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	bhyve_kick_all();
	pthread_mutex_lock(&park_mtx);
	pthread_cond_broadcast(&park_cv);
	pthread_cond_broadcast(&parked_cv);
	pthread_mutex_unlock(&park_mtx);
	mevent_exit(status);
}

void
bhyve_request_suspend(enum vm_suspend_how how)
{
	bhyve_end(how, bhyve_exit_status(how));
}

void
bhyve_request_exit(int status)
{
	bhyve_end(VM_SUSPEND_LAST, status);
}

static bool
bhyve_suspended(void)
{
	return __atomic_load_n(&suspend_how, __ATOMIC_SEQ_CST) !=
	       VM_SUSPEND_NONE;
}

void
bhyve_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("bhyve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bhyve_request_suspend(VM_SUSPEND_LAST);
}

/* ---- exit handlers, one per exit code ---- */

typedef int (*vmexit_handler_t)(struct vcpu *, struct vm_exit *);

static uint32_t
inout_item_get(const uint8_t *p, int bytes)
{
	uint32_t v = 0;

	memcpy(&v, p, (size_t)bytes);
	return v;
}

static int
vmexit_inout(struct vcpu *vcpu, struct vm_exit *vme)
{
	int bytes = vme->u.inout.bytes;
	uint8_t *p = vme->u.inout.data;

	/* A string instruction arrives as 'count' items; KVM moves them to
	 * and from guest memory itself. */
	for (uint32_t i = 0; i < vme->u.inout.count; i++, p += bytes) {
		uint32_t eax = vme->u.inout.in ? 0 : inout_item_get(p, bytes);

		if (inout_emulate(vcpu, vme->u.inout.in, vme->u.inout.port,
				  bytes, &eax) != 0) {
			bhyve_fatal("vCPU %d: %s%d port 0x%x failed",
				    vcpu_id(vcpu),
				    vme->u.inout.in ? "in" : "out", bytes * 8,
				    vme->u.inout.port);
			return -1;
		}
		if (vme->u.inout.in)
			memcpy(p, &eax, (size_t)bytes);
	}
	return 0;
}

static int
vmexit_mmio(struct vcpu *vcpu, struct vm_exit *vme)
{
	uint64_t val = 0;
	int bytes = vme->u.mmio.bytes;

	if (vme->u.mmio.write)
		memcpy(&val, vme->u.mmio.data, (size_t)bytes);
	if (mem_emulate(vcpu, vme->u.mmio.write, vme->u.mmio.gpa, bytes,
			&val) != 0) {
		bhyve_fatal("vCPU %d: mmio %s of %d bytes at 0x%llx failed",
			    vcpu_id(vcpu), vme->u.mmio.write ? "write" : "read",
			    bytes, (unsigned long long)vme->u.mmio.gpa);
		return -1;
	}
	if (!vme->u.mmio.write)
		memcpy(vme->u.mmio.data, &val, (size_t)bytes);
	return 0;
}

/* Says once per MSR that the guest touched one nothing implements. */
static void
msr_report(struct vcpu *vcpu, const char *op, uint32_t msr)
{
	bool seen = false;

	pthread_mutex_lock(&msr_report_mtx);
	for (int i = 0; i < msr_nreported; i++)
		seen = seen || msr_reported[i] == msr;
	if (!seen && msr_nreported < MSR_REPORT_MAX)
		msr_reported[msr_nreported++] = msr;
	pthread_mutex_unlock(&msr_report_mtx);
	if (!seen)
		fprintf(stderr, "bhyve: vCPU %d: %s of unknown MSR 0x%x%s\n",
			vcpu_id(vcpu), op, msr,
			strict_msr ? ": #GP injected" : ": ignored");
}

/* KVM exits only for MSRs it does not implement (x86.strictmsr). */
static int
vmexit_rdmsr(struct vcpu *vcpu, struct vm_exit *vme)
{
	msr_report(vcpu, "rdmsr", vme->u.msr.msr);
	*vme->u.msr.error = strict_msr ? 1 : 0;
	*vme->u.msr.data = 0;
	return 0;
}

static int
vmexit_wrmsr(struct vcpu *vcpu, struct vm_exit *vme)
{
	msr_report(vcpu, "wrmsr", vme->u.msr.msr);
	*vme->u.msr.error = strict_msr ? 1 : 0;
	return 0;
}

static int
vmexit_shutdown(struct vcpu *vcpu, struct vm_exit *vme)
{
	/* No RIP: after a shutdown KVM has already reset the vCPU. */
	fprintf(stderr, "bhyve: vCPU %d: triple fault\n", vcpu_id(vcpu));
	bhyve_request_suspend(VM_SUSPEND_TRIPLEFAULT);
	return -1;
}

static int
vmexit_suspended(struct vcpu *vcpu, struct vm_exit *vme)
{
	bhyve_request_suspend(vme->u.suspended.how);
	return -1;
}

static int
vmexit_hlt(struct vcpu *vcpu, struct vm_exit *vme)
{
	bhyve_request_suspend(VM_SUSPEND_HALT);
	return -1;
}

static const char *
internal_suberror_name(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	default:
		return "internal error";
	}
}

static int
vmexit_internal_error(struct vcpu *vcpu, struct vm_exit *vme)
{
	bhyve_fatal("vCPU %d: KVM internal error, suberror %u (%s), at rip "
		    "0x%llx",
		    vcpu_id(vcpu), vme->u.internal.suberror,
		    internal_suberror_name(vme->u.internal.suberror),
		    (unsigned long long)vme->rip);
	return -1;
}

static int
vmexit_fail_entry(struct vcpu *vcpu, struct vm_exit *vme)
{
	bhyve_fatal("vCPU %d: VM entry failed, hardware reason 0x%llx, rip "
		    "0x%llx",
		    vcpu_id(vcpu), (unsigned long long)vme->u.fail_entry.reason,
		    (unsigned long long)vme->rip);
	return -1;
}

void
bhyve_set_debug_handler(bhyve_debug_handler_t handler)
{
	debug_handler = handler;
}

static int
vmexit_debug(struct vcpu *vcpu, struct vm_exit *vme)
{
	if (debug_handler != NULL)
		return debug_handler(vcpu, vme);
	bhyve_fatal("vCPU %d: debug exit (exception %u) at 0x%llx with no "
		    "debugger attached",
		    vcpu_id(vcpu), vme->u.debug.exception,
		    (unsigned long long)vme->u.debug.pc);
	return -1;
}

static int
vmexit_unknown(struct vcpu *vcpu, struct vm_exit *vme)
{
	bhyve_fatal("vCPU %d: unknown exit, KVM reason %u, at rip 0x%llx",
		    vcpu_id(vcpu), vme->u.unknown.kvm_reason,
		    (unsigned long long)vme->rip);
	return -1;
}

static int vmexit_interrupted(struct vcpu *vcpu, struct vm_exit *vme);

static const vmexit_handler_t vmexit_handlers[VM_EXITCODE_MAX] = {
    [VM_EXITCODE_INOUT] = vmexit_inout,
    [VM_EXITCODE_MMIO] = vmexit_mmio,
    [VM_EXITCODE_HLT] = vmexit_hlt,
    [VM_EXITCODE_SHUTDOWN] = vmexit_shutdown,
    [VM_EXITCODE_SUSPENDED] = vmexit_suspended,
    [VM_EXITCODE_RDMSR] = vmexit_rdmsr,
    [VM_EXITCODE_WRMSR] = vmexit_wrmsr,
    [VM_EXITCODE_DEBUG] = vmexit_debug,
    [VM_EXITCODE_INTERNAL_ERROR] = vmexit_internal_error,
    [VM_EXITCODE_FAIL_ENTRY] = vmexit_fail_entry,
    [VM_EXITCODE_INTERRUPTED] = vmexit_interrupted,
    [VM_EXITCODE_UNKNOWN] = vmexit_unknown,
};

/* ---- halt detection ---- */

/*
 * The state of a vCPU out of KVM_RUN.  KVM reports a halted vCPU that a
 * PV kick has already reached as runnable.
 */
static int
vcpu_halt_state(struct vcpu *vcpu)
{
	uint32_t mp;
	uint64_t rflags;

	if (vm_get_run_state(vcpu, &mp) != 0)
		return HALT_RUNNING;
	if (mp == KVM_MP_STATE_UNINITIALIZED ||
	    mp == KVM_MP_STATE_INIT_RECEIVED)
		return HALT_IDLE; /* never started: not an active CPU */
	if (mp == KVM_MP_STATE_HALTED &&
	    vm_get_register(vcpu, VM_REG_GUEST_RFLAGS, &rflags) == 0 &&
	    !(rflags & RFLAGS_IF))
		return HALT_DEAD;
	return HALT_RUNNING;
}

/* Runs on the vCPU's own thread, where its state may be read. */
static void
vcpu_check_halt(struct vcpu *vcpu)
{
	int id = vcpu_id(vcpu);

	atomic_store(&vcpu_halt[id], vcpu_halt_state(vcpu));
	atomic_store(&vcpu_halt_gen[id], atomic_load(&halt_check_gen));
}

static int
vmexit_interrupted(struct vcpu *vcpu, struct vm_exit *vme)
{
	if (bhyve_suspended())
		return -1;
	if (atomic_load(&vcpu_halt_gen[vcpu_id(vcpu)]) !=
	    atomic_load(&halt_check_gen))
		vcpu_check_halt(vcpu);
	return 0;
}

/* True when KVM says the vCPU is blocked in the kernel (or can't say). */
static bool
vcpu_maybe_blocked(struct vcpu *vcpu)
{
	uint64_t blocking;

	if (vm_get_stat(vcpu, "blocking", &blocking) != 0)
		return true;
	return blocking != 0;
}

bool
vcpu_halt_verdict(const int *state, int n)
{
	int dead = 0, active = 0;

	for (int i = 0; i < n; i++) {
		if (state[i] == HALT_DEAD)
			dead++;
		if (state[i] != HALT_IDLE)
			active++;
	}
	return active > 0 && dead == active;
}

struct halt_sample {
	int state;
	uint64_t rip;
};

static int
vcpu_halt_sample(struct vcpu *vcpu, void *arg)
{
	struct halt_sample *hs = arg;

	hs->state = vcpu_halt_state(vcpu);
	if (vm_get_register(vcpu, VM_REG_GUEST_RIP, &hs->rip) != 0)
		hs->rip = 0;
	return 0;
}

/*
 * The per-vCPU samples of one round are taken at different moments, each
 * when its vCPU left KVM_RUN.  Under PV spinlocks a vCPU halted with
 * interrupts off is a lock waiter that the holder will kick, and two
 * vCPUs taking turns as waiter and holder can each be sampled halted,
 * one before and one after a kick.  So the verdict is confirmed on one
 * snapshot taken with every vCPU parked outside KVM_RUN, where no kick can
 * be in flight (docs/smp-boot.md).
 */
static bool
halt_confirm(void)
{
	struct halt_sample hs[VM_MAXCPU];
	int state[VM_MAXCPU];
	bool dead = true;

	bhyve_pause_vcpus();
	for (int i = 0; i < guest_ncpus && dead; i++) {
		if (bhyve_vcpu_call(i, vcpu_halt_sample, &hs[i]) != 0)
			dead = false;
		else
			state[i] = hs[i].state;
	}
	dead = dead && vcpu_halt_verdict(state, guest_ncpus);
	bhyve_resume_vcpus();
	if (!dead)
		return false;
	fprintf(stderr, "bhyve: all vCPUs halted with interrupts disabled\n");
	for (int i = 0; i < guest_ncpus; i++) {
		if (state[i] == HALT_DEAD)
			fprintf(stderr, "bhyve: vCPU %d: hlt at rip 0x%llx\n",
				i, (unsigned long long)hs[i].rip);
	}
	return true;
}

/*
 * Every 100 ms: if all vCPUs sit blocked in KVM, ask each to look at its
 * own state; the next round judges the answers of this one, and a round
 * in which all were halted with interrupts off is confirmed with the vCPUs
 * parked.
 */
static void
halt_check_tick(int fd, enum ev_type type, void *arg)
{
	int state[VM_MAXCPU];
	int answered = 0;
	int gen = atomic_load(&halt_check_gen);

	for (int i = 0; i < guest_ncpus; i++) {
		if (atomic_load(&vcpu_halt_gen[i]) != gen)
			continue;
		state[answered++] = atomic_load(&vcpu_halt[i]);
	}
	if (gen != 0 && answered == guest_ncpus &&
	    vcpu_halt_verdict(state, answered)) {
		if (halt_confirm()) {
			bhyve_request_suspend(VM_SUSPEND_HALT);
			return;
		}
		/* A false alarm: this round's answers are spent. */
		atomic_fetch_add(&halt_check_gen, 1);
	}
	for (int i = 0; i < guest_ncpus; i++) {
		if (!vcpu_maybe_blocked(bhyve_vcpus[i]))
			return;
	}
	atomic_fetch_add(&halt_check_gen, 1);
	bhyve_kick_all();
}

/* ---- parking vCPUs ---- */

void
bhyve_pause_vcpus(void)
{
	struct timespec ts;

	atomic_fetch_add(&pause_count, 1);
	pthread_mutex_lock(&park_mtx);
	while (nparked < nvcpu_threads && !bhyve_suspended()) {
		/* A kick can race with a vCPU leaving KVM_RUN on its own;
		 * repeating it every few milliseconds closes that window. */
		pthread_mutex_unlock(&park_mtx);
		bhyve_kick_all();
		pthread_mutex_lock(&park_mtx);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&parked_cv, &park_mtx, &ts);
	}
	pthread_mutex_unlock(&park_mtx);
}

void
bhyve_resume_vcpus(void)
{
	pthread_mutex_lock(&park_mtx);
	if (atomic_load(&pause_count) > 0 &&
	    atomic_fetch_sub(&pause_count, 1) == 1)
		pthread_cond_broadcast(&park_cv);
	pthread_mutex_unlock(&park_mtx);
}

bool
bhyve_vcpus_paused(void)
{
	bool all;

	pthread_mutex_lock(&park_mtx);
	all = atomic_load(&pause_count) > 0 && nparked == nvcpu_threads;
	pthread_mutex_unlock(&park_mtx);
	return all;
}

int
bhyve_vcpu_call(int vcpuid, int (*fn)(struct vcpu *, void *), void *arg)
{
	struct vcpu_call *c;
	int rc;

	if (bhyve_vcpu(vcpuid) == NULL || !bhyve_vcpus_paused())
		return -1;
	c = &vcpu_calls[vcpuid];
	pthread_mutex_lock(&park_mtx);
	*c = (struct vcpu_call){fn, arg, -1, true};
	pthread_cond_broadcast(&park_cv);
	while (c->pending && !bhyve_suspended())
		pthread_cond_wait(&parked_cv, &park_mtx);
	rc = c->pending ? -1 : c->rc;
	c->pending = false;
	pthread_mutex_unlock(&park_mtx);
	return rc;
}

void
bhyve_vcpu_hold(int vcpuid, bool hold)
{
	if (vcpuid < 0 || vcpuid >= VM_MAXCPU)
		return;
	pthread_mutex_lock(&park_mtx);
	atomic_store(&vcpu_held[vcpuid], hold);
	if (!hold)
		pthread_cond_broadcast(&park_cv);
	pthread_mutex_unlock(&park_mtx);
}

/* Where a vCPU thread stops while others inspect it.  Called with no
 * exit in progress, so KVM state is consistent. */
static void
vcpu_park_point(struct vcpu *vcpu)
{
	struct vcpu_call *c = &vcpu_calls[vcpu_id(vcpu)];
	_Atomic bool *held = &vcpu_held[vcpu_id(vcpu)];

	if (atomic_load(&pause_count) == 0 && !atomic_load(held))
		return;
	pthread_mutex_lock(&park_mtx);
	nparked++;
	pthread_cond_broadcast(&parked_cv);
	while ((atomic_load(&pause_count) > 0 || atomic_load(held)) &&
	       !bhyve_suspended()) {
		if (c->pending) {
			pthread_mutex_unlock(&park_mtx);
			int rc = c->fn(vcpu, c->arg);
			pthread_mutex_lock(&park_mtx);
			c->rc = rc;
			c->pending = false;
			pthread_cond_broadcast(&parked_cv);
			continue;
		}
		pthread_cond_wait(&park_cv, &park_mtx);
	}
	nparked--;
	pthread_mutex_unlock(&park_mtx);
	/* A kick meant for parking must not cost the guest an exit later. */
	vm_vcpu_set_immediate_exit(vcpu, false);
}

/* ---- vCPU threads ---- */

static void *
vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm_exit vme;
	char name[16];

	snprintf(name, sizeof(name), "vcpu %d", vcpu_id(vcpu));
	pthread_setname_np(pthread_self(), name);
	while (!bhyve_suspended()) {
		vcpu_park_point(vcpu);
		if (bhyve_suspended())
			break;
		if (vm_run(vcpu, &vme) != 0) {
			bhyve_fatal("vCPU %d: KVM_RUN failed: %s",
				    vcpu_id(vcpu), strerror(errno));
			break;
		}
		if (vmexit_handlers[vme.exitcode](vcpu, &vme) != 0)
			break;
	}
	pthread_mutex_lock(&park_mtx);
	nvcpu_threads--;
	pthread_cond_broadcast(&parked_cv);
	pthread_mutex_unlock(&park_mtx);
	return NULL;
}

/* ---- life cycle, driven by main() ---- */

int
bhyve_ncpus(void)
{
	return guest_ncpus;
}

int
vcpu_run_open(struct vmctx *ctx, int ncpus, bool strictmsr)
{
	bhyve_ctx = ctx;
	guest_ncpus = ncpus;
	strict_msr = strictmsr;
	for (int i = 0; i < ncpus; i++) {
		bhyve_vcpus[i] = vm_vcpu_open(ctx, i);
		if (bhyve_vcpus[i] == NULL) {
			fprintf(stderr, "bhyve: cannot create vCPU %d: %s\n", i,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * vcpu.N.cpuset (bhyve's -p vcpu:hostcpu): the thread starts on those host
 * CPUs.  The set was checked against this process's CPUs before the VM
 * was built.
 */
int
vcpu_run_thread_attr(int vcpuid, pthread_attr_t *attr)
{
	char err[256];
	cpu_set_t set;
	int rc;

	rc = config_get_vcpu_cpuset(vcpuid, &set, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bhyve: %s\n", err);
		return -1;
	}
	if (rc > 0 &&
	    pthread_attr_setaffinity_np(attr, sizeof(set), &set) != 0) {
		fprintf(stderr, "bhyve: vCPU %d: cannot pin to its cpuset\n",
			vcpuid);
		return -1;
	}
	return 0;
}

int
vcpu_run_start(void)
{
	pthread_attr_t attr;
	int rc;

	nvcpu_threads = guest_ncpus;
	for (int i = 0; i < guest_ncpus; i++) {
		pthread_attr_init(&attr);
		rc = vcpu_run_thread_attr(i, &attr);
		if (rc == 0 &&
		    pthread_create(&vcpu_threads[i], &attr, vcpu_thread,
				   bhyve_vcpus[i]) != 0) {
			fprintf(stderr, "bhyve: cannot start vCPU %d\n", i);
			rc = -1;
		}
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			pthread_mutex_lock(&park_mtx);
			nvcpu_threads -= guest_ncpus - i;
			pthread_mutex_unlock(&park_mtx);
			return -1;
		}
		vcpu_threads_started[i] = true;
	}
	return 0;
}

void
vcpu_run_join(void)
{
	for (int i = 0; i < guest_ncpus; i++) {
		if (vcpu_threads_started[i])
			pthread_join(vcpu_threads[i], NULL);
		vcpu_threads_started[i] = false;
	}
}

int
vcpu_run_arm_halt_check(void)
{
	return mevent_add_timer_ns(HALT_CHECK_NS, HALT_CHECK_NS,
				   halt_check_tick, NULL) == NULL
		   ? -1
		   : 0;
}
