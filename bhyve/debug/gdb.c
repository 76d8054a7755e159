/*
 * The gdb stub's KVM target: a TCP or Unix-socket server speaking the
 * remote protocol (gdb_proto.c) whose target is the VM.  Only root and
 * the VM's owner may connect (peer.h): anyone else could read and write
 * guest memory or end the VM.
 *
 * Threads.  One stub thread owns the connection.  "Stopped" means the
 * stub holds one bhyve_pause_vcpus() reference, so every vCPU thread is
 * parked and vCPU state is read and written on each vCPU's own thread
 * with bhyve_vcpu_call() (KVM serialises vCPU ioctls with KVM_RUN).
 * A breakpoint or single-step exits to the debug handler on a vCPU
 * thread, which records the event, holds every vCPU (they park at their
 * next park point) and wakes the stub through an eventfd; the stub then
 * takes the pause and tells gdb.  Single-stepping releases the pause with
 * every vCPU but the stepped one held.
 *
 * With gdb.wait the first session is served from gdb_init() on the main
 * thread before any vCPU thread exists ("direct" mode: vCPU functions are
 * called right there); the stub thread takes the connection over once
 * the event loop runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/kvm.h>

#include "config.h"
#include "gdb.h"
#include "gdb_proto.h"
#include "gdb_vmem.h"
#include "mevent.h"
#include "peer.h"
#include "vcpu_run.h"
#include "vmmapi.h"

#define GDB_MAX_SWBP 256
#define GDB_NHWBP    4
#define VEC_DB	     1
#define VEC_BP	     3
#define INT3	     0xcc

struct sw_bp {
	bool used;
	uint64_t gva, gpa;
	uint8_t orig;
};

struct hw_bp {
	bool used;
	enum gdb_bp_type type;
	uint64_t addr, len;
};

static struct gdb_stub {
	struct vmctx *ctx;
	int ncpus;
	int listen_fd;
	int conn_fd;
	int evfd;
	char where[128]; /* "address:port" or "unix:PATH", for messages */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* ours */
	bool wait;

	/* Owned by the connection's thread. */
	bool direct;  /* vCPU threads not started yet */
	bool stopped; /* the VM is stopped for gdb */
	int step_cpu;
	bool blockirq_ok;
	struct gdb_conn conn;

	/* Shared with the vCPU threads' debug handler, under mtx. */
	pthread_mutex_t mtx;
	bool attached;
	bool stopping; /* a stop is under way or in effect */
	int stop_cpu;  /* whose event caused it; -1 for Ctrl-C */
	bool has_event[VM_MAXCPU];
	struct gdb_stop events[VM_MAXCPU];
	struct sw_bp swbp[GDB_MAX_SWBP];
	struct hw_bp hwbp[GDB_NHWBP];

	pthread_mutex_t send_mtx;

	/* The VM is gone (gdb_fini): touch no VM state any more. */
	bool vm_gone;
	bool thread_started;
	pthread_t tid;
} stub = {
    .listen_fd = -1,
    .conn_fd = -1,
    .evfd = -1,
    .mtx = PTHREAD_MUTEX_INITIALIZER,
    .send_mtx = PTHREAD_MUTEX_INITIALIZER,
    .blockirq_ok = true,
};

/* ---- vCPU state, on the vCPU's thread ---- */

static int
stub_vcpu_call(int cpu, int (*fn)(struct vcpu *, void *), void *arg)
{
	if (stub.direct)
		return bhyve_vcpu(cpu) ? fn(bhyve_vcpu(cpu), arg) : -1;
	return bhyve_vcpu_call(cpu, fn, arg);
}

static const int gpr_regs[16] = {
    VM_REG_GUEST_RAX, VM_REG_GUEST_RBX, VM_REG_GUEST_RCX, VM_REG_GUEST_RDX,
    VM_REG_GUEST_RSI, VM_REG_GUEST_RDI, VM_REG_GUEST_RBP, VM_REG_GUEST_RSP,
    VM_REG_GUEST_R8,  VM_REG_GUEST_R9,	VM_REG_GUEST_R10, VM_REG_GUEST_R11,
    VM_REG_GUEST_R12, VM_REG_GUEST_R13, VM_REG_GUEST_R14, VM_REG_GUEST_R15,
};

static const int seg_regs[6] = {
    VM_REG_GUEST_CS, VM_REG_GUEST_SS, VM_REG_GUEST_DS,
    VM_REG_GUEST_ES, VM_REG_GUEST_FS, VM_REG_GUEST_GS,
};

/* The scalars of struct gdb_cpu_regs that are plain vm registers. */
static int
cpu_reg_list(struct gdb_cpu_regs *r, int *names, uint64_t **vals)
{
	int n = 0;

	for (int i = 0; i < 16; i++, n++) {
		names[n] = gpr_regs[i];
		vals[n] = &r->gpr[i];
	}
	for (int i = 0; i < 6; i++, n++) {
		names[n] = seg_regs[i];
		vals[n] = &r->seg[i];
	}
	names[n] = VM_REG_GUEST_RIP, vals[n++] = &r->rip;
	names[n] = VM_REG_GUEST_RFLAGS, vals[n++] = &r->rflags;
	names[n] = VM_REG_GUEST_CR0, vals[n++] = &r->cr0;
	names[n] = VM_REG_GUEST_CR2, vals[n++] = &r->cr2;
	names[n] = VM_REG_GUEST_CR3, vals[n++] = &r->cr3;
	names[n] = VM_REG_GUEST_CR4, vals[n++] = &r->cr4;
	names[n] = VM_REG_GUEST_CR8, vals[n++] = &r->cr8;
	names[n] = VM_REG_GUEST_EFER, vals[n++] = &r->efer;
	return n;
}

#define CPU_NREGS 30

static int
vcpu_read_regs(struct vcpu *vcpu, void *arg)
{
	struct gdb_cpu_regs *r = arg;
	int names[CPU_NREGS];
	uint64_t *vals[CPU_NREGS];
	uint32_t limit, access;
	int n = cpu_reg_list(r, names, vals);

	for (int i = 0; i < n; i++) {
		if (vm_get_register(vcpu, names[i], vals[i]) != 0)
			return -1;
	}
	if (vm_get_desc(vcpu, VM_REG_GUEST_FS, &r->fs_base, &limit, &access) !=
		0 ||
	    vm_get_desc(vcpu, VM_REG_GUEST_GS, &r->gs_base, &limit, &access) !=
		0)
		return -1;
	r->fx_valid = vm_get_fpu(vcpu, r->fx, sizeof(r->fx)) == 0;
	return 0;
}

static int
set_seg_base(struct vcpu *vcpu, int reg, uint64_t base)
{
	uint64_t old;
	uint32_t limit, access;

	if (vm_get_desc(vcpu, reg, &old, &limit, &access) != 0)
		return -1;
	return vm_set_desc(vcpu, reg, base, limit, access);
}

/*
 * Reads the vCPU, applies the registers rf marks and writes back what
 * changed: a control register rewritten with its own value is harmless
 * but costs KVM an MMU reset.
 */
static int
vcpu_write_regs(struct vcpu *vcpu, void *arg)
{
	const struct gdb_regfile *rf = arg;
	struct gdb_cpu_regs cur, r;
	int names[CPU_NREGS], n;
	uint64_t *cvals[CPU_NREGS], *vals[CPU_NREGS];
	bool fx_dirty;

	if (vcpu_read_regs(vcpu, &cur) != 0)
		return -1;
	r = cur;
	fx_dirty = gdb_regs_from_file(&r, rf);
	cpu_reg_list(&cur, names, cvals);
	n = cpu_reg_list(&r, names, vals);
	for (int i = 0; i < n; i++) {
		if (*vals[i] != *cvals[i] &&
		    vm_set_register(vcpu, names[i], *vals[i]) != 0)
			return -1;
	}
	if (r.fs_base != cur.fs_base &&
	    set_seg_base(vcpu, VM_REG_GUEST_FS, r.fs_base) != 0)
		return -1;
	if (r.gs_base != cur.gs_base &&
	    set_seg_base(vcpu, VM_REG_GUEST_GS, r.gs_base) != 0)
		return -1;
	if (fx_dirty &&
	    (!cur.fx_valid || vm_set_fpu(vcpu, r.fx, sizeof(r.fx)) != 0))
		return -1;
	return 0;
}

static int
vcpu_read_paging(struct vcpu *vcpu, void *arg)
{
	struct pagewalk_cpu *pg = arg;

	if (vm_get_register(vcpu, VM_REG_GUEST_CR0, &pg->cr0) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_CR3, &pg->cr3) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_CR4, &pg->cr4) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_EFER, &pg->efer) != 0)
		return -1;
	return 0;
}

struct debug_req {
	uint32_t control;
	uint64_t dr[8];
};

static int
vcpu_set_debug(struct vcpu *vcpu, void *arg)
{
	struct debug_req *d = arg;

	return vm_set_guest_debug(vcpu, d->control, d->dr);
}

/* ---- breakpoints (stub thread, VM stopped) ---- */

static int
stub_gva2gpa(int cpu, uint64_t gva, uint64_t *gpa)
{
	struct pagewalk_cpu pg;

	if (stub_vcpu_call(cpu, vcpu_read_paging, &pg) != 0)
		return -1;
	return pagewalk_gla2gpa(stub.ctx, &pg, gva, gpa, NULL, NULL, 0) ==
		       PAGEWALK_OK
		   ? 0
		   : -1;
}

static struct sw_bp *
swbp_find(uint64_t gva)
{
	for (int i = 0; i < GDB_MAX_SWBP; i++) {
		if (stub.swbp[i].used && stub.swbp[i].gva == gva)
			return &stub.swbp[i];
	}
	return NULL;
}

static int
swbp_insert(int cpu, uint64_t gva)
{
	struct sw_bp *bp = NULL;
	uint64_t gpa;
	uint8_t *p;

	if (swbp_find(gva) != NULL)
		return 0;
	for (int i = 0; i < GDB_MAX_SWBP && bp == NULL; i++) {
		if (!stub.swbp[i].used)
			bp = &stub.swbp[i];
	}
	if (bp == NULL || stub_gva2gpa(cpu, gva, &gpa) != 0 ||
	    (p = vm_map_gpa(stub.ctx, gpa, 1)) == NULL)
		return -1;
	*bp = (struct sw_bp){true, gva, gpa, *p};
	*p = INT3;
	return 0;
}

static int
swbp_remove(uint64_t gva)
{
	struct sw_bp *bp = swbp_find(gva);
	uint8_t *p;

	if (bp == NULL)
		return -1;
	p = vm_map_gpa(stub.ctx, bp->gpa, 1);
	if (p != NULL && *p == INT3)
		*p = bp->orig;
	bp->used = false;
	return 0;
}

static void
swbp_remove_all(void)
{
	for (int i = 0; i < GDB_MAX_SWBP; i++) {
		if (stub.swbp[i].used)
			swbp_remove(stub.swbp[i].gva);
	}
}

static bool
swbp_any(void)
{
	for (int i = 0; i < GDB_MAX_SWBP; i++) {
		if (stub.swbp[i].used)
			return true;
	}
	return false;
}

/* DR7 encodings (SDM Vol. 3B, 18.2.4): R/W 00 execute, 01 write, 11
 * read or write (x86 has no read-only breakpoint); LEN 00 1, 01 2,
 * 11 4, 10 8 bytes. */
static uint64_t
hwbp_dr7(void)
{
	uint64_t dr7 = 0;

	for (int i = 0; i < GDB_NHWBP; i++) {
		const struct hw_bp *b = &stub.hwbp[i];
		uint64_t rw, len;

		if (!b->used)
			continue;
		rw = b->type == GDB_BP_HW ? 0 : b->type == GDB_WP_WRITE ? 1 : 3;
		len = b->len == 2 ? 1 : b->len == 4 ? 3 : b->len == 8 ? 2 : 0;
		dr7 |= (1ULL << (2 * i)) | rw << (16 + 4 * i) |
		       len << (18 + 4 * i);
	}
	return dr7;
}

static int
hwbp_set(bool insert, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	uint64_t len = type == GDB_BP_HW ? 1 : kind;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -1;
	if (addr % len != 0)
		return -1; /* the CPU matches aligned ranges only */
	for (int i = 0; i < GDB_NHWBP; i++) {
		struct hw_bp *b = &stub.hwbp[i];

		if (insert && !b->used) {
			*b = (struct hw_bp){true, type, addr, len};
			return 0;
		}
		if (!insert && b->used && b->type == type && b->addr == addr &&
		    b->len == len) {
			b->used = false;
			return 0;
		}
	}
	return -1;
}

/* Sets every vCPU's guest-debug state for the next run. */
static int
stub_apply_debug(bool enable, int step_cpu)
{
	struct debug_req d;
	uint64_t dr7 = hwbp_dr7();
	int rc = 0;

	for (int cpu = 0; cpu < stub.ncpus; cpu++) {
		memset(&d, 0, sizeof(d));
		if (enable) {
			d.control = KVM_GUESTDBG_ENABLE;
			if (swbp_any())
				d.control |= KVM_GUESTDBG_USE_SW_BP;
			if (dr7 != 0) {
				d.control |= KVM_GUESTDBG_USE_HW_BP;
				for (int i = 0; i < GDB_NHWBP; i++)
					d.dr[i] = stub.hwbp[i].addr;
				d.dr[7] = dr7;
			}
			if (cpu == step_cpu) {
				/* No interrupt handler in between: the step
				 * lands on the next instruction. */
				d.control |= KVM_GUESTDBG_SINGLESTEP;
				if (stub.blockirq_ok)
					d.control |= KVM_GUESTDBG_BLOCKIRQ;
			}
		}
		if (stub_vcpu_call(cpu, vcpu_set_debug, &d) == 0)
			continue;
		/* KVM before 5.16 lacks BLOCKIRQ: step without it. */
		if (d.control & KVM_GUESTDBG_BLOCKIRQ) {
			stub.blockirq_ok = false;
			d.control &= ~(uint32_t)KVM_GUESTDBG_BLOCKIRQ;
			if (stub_vcpu_call(cpu, vcpu_set_debug, &d) == 0)
				continue;
		}
		rc = -1;
	}
	return rc;
}

/* ---- the debug exit, on a vCPU thread ---- */

/* A #BP that is not ours: report it like a trap after the int3. */
static void
foreign_int3(struct vcpu *vcpu, uint64_t pc)
{
	struct pagewalk_cpu pg;
	uint64_t rip;
	uint8_t op = 0;

	if (vcpu_read_paging(vcpu, &pg) == 0 &&
	    gdb_vmem_copy(stub.ctx, &pg, pc, &op, 1, false) == 1 &&
	    op == INT3 && vm_get_register(vcpu, VM_REG_GUEST_RIP, &rip) == 0)
		vm_set_register(vcpu, VM_REG_GUEST_RIP, rip + 1);
}

static struct gdb_stop
debug_classify(struct vcpu *vcpu, const struct vm_exit *vme)
{
	struct gdb_stop ev = {vcpu_id(vcpu), GDB_SIGTRAP, GDB_STOP_SIGNAL, 0};
	uint64_t dr6 = vme->u.debug.dr6;

	if (vme->u.debug.exception == VEC_BP) {
		if (swbp_find(vme->u.debug.pc) != NULL)
			ev.kind = GDB_STOP_SWBREAK;
		else
			foreign_int3(vcpu, vme->u.debug.pc);
		return ev;
	}
	if (vme->u.debug.exception != VEC_DB)
		return ev;
	for (int i = 0; i < GDB_NHWBP; i++) {
		const struct hw_bp *b = &stub.hwbp[i];

		if (!(dr6 & (1ULL << i)) || !b->used)
			continue;
		ev.addr = b->addr;
		ev.kind = b->type == GDB_BP_HW	    ? GDB_STOP_HWBREAK
			  : b->type == GDB_WP_WRITE ? GDB_STOP_WATCH
			  : b->type == GDB_WP_READ  ? GDB_STOP_RWATCH
						    : GDB_STOP_AWATCH;
		break;
	}
	/* Otherwise DR6.BS: a finished step, the plain SIGTRAP. */
	return ev;
}

/* Makes every vCPU park at its next park point; mtx held. */
static void
hold_all_locked(int self)
{
	for (int i = 0; i < stub.ncpus; i++) {
		bhyve_vcpu_hold(i, true);
		if (i != self && bhyve_vcpu(i) != NULL)
			vm_vcpu_kick(bhyve_vcpu(i));
	}
}

static int
gdb_debug_exit(struct vcpu *vcpu, struct vm_exit *vme)
{
	int id = vcpu_id(vcpu);
	bool notify = false;
	uint64_t one = 1;

	pthread_mutex_lock(&stub.mtx);
	if (!stub.attached) {
		/* Left over from a session that ended: run on, undebugged;
		 * the instruction re-executes (our int3 is gone). */
		pthread_mutex_unlock(&stub.mtx);
		vm_set_guest_debug(vcpu, 0, NULL);
		return 0;
	}
	stub.events[id] = debug_classify(vcpu, vme);
	stub.has_event[id] = true;
	if (!stub.stopping) {
		stub.stopping = true;
		stub.stop_cpu = id;
		hold_all_locked(id);
		notify = true;
	}
	pthread_mutex_unlock(&stub.mtx);
	if (notify && write(stub.evfd, &one, sizeof(one)) < 0)
		bhyve_fatal("gdb: cannot signal a stop: %s", strerror(errno));
	return 0;
}

/* ---- stopping and resuming (stub thread) ---- */

static void
stub_release_holds(void)
{
	for (int i = 0; i < stub.ncpus; i++)
		bhyve_vcpu_hold(i, false);
}

/* An event gdb must hear about even if the vCPU runs on: breakpoints
 * re-trigger by themselves (the vCPU sits on the instruction). */
static bool
event_sticky(const struct gdb_stop *ev)
{
	return ev->kind != GDB_STOP_SWBREAK && ev->kind != GDB_STOP_HWBREAK;
}

/* Parks every vCPU and picks what to report. */
static struct gdb_stop
stub_stop_all(int default_signal)
{
	struct gdb_stop ev = {stub.conn.gcpu, default_signal, GDB_STOP_SIGNAL,
			      0};
	uint64_t v;
	int pick = -1;

	if (!stub.stopped && !stub.direct)
		bhyve_pause_vcpus();
	stub.stopped = true;
	while (read(stub.evfd, &v, sizeof(v)) == sizeof(v))
		; /* everything that signalled is parked now */
	stub_release_holds();
	pthread_mutex_lock(&stub.mtx);
	stub.stopping = true;
	if (stub.stop_cpu >= 0 && stub.has_event[stub.stop_cpu])
		pick = stub.stop_cpu;
	for (int i = 0; pick < 0 && i < stub.ncpus; i++) {
		if (stub.has_event[i])
			pick = i;
	}
	if (pick >= 0) {
		ev = stub.events[pick];
		stub.has_event[pick] = false;
	}
	for (int i = 0; i < stub.ncpus; i++) {
		if (stub.has_event[i] && !event_sticky(&stub.events[i]))
			stub.has_event[i] = false;
	}
	pthread_mutex_unlock(&stub.mtx);
	return ev;
}

static void
stub_report_stop(int default_signal)
{
	struct gdb_stop ev = stub_stop_all(default_signal);

	gdb_conn_stopped(&stub.conn, &ev);
}

/* Lets the VM run; the stub's pause reference goes. */
static void
stub_run(void)
{
	stub.stopped = false;
	if (!stub.direct)
		bhyve_resume_vcpus();
}

static void
target_resume(void *t, int step_cpu)
{
	bool pending = false;

	pthread_mutex_lock(&stub.mtx);
	for (int i = 0; i < stub.ncpus && step_cpu < 0; i++)
		pending = pending || stub.has_event[i];
	if (pending) {
		/* Another vCPU stopped meanwhile (a watchpoint, say): the VM
		 * stays stopped and gdb hears about that one now. */
		stub.stop_cpu = -1;
		pthread_mutex_unlock(&stub.mtx);
		stub_report_stop(GDB_SIGTRAP);
		return;
	}
	stub.stopping = false;
	stub.stop_cpu = -1;
	pthread_mutex_unlock(&stub.mtx);
	stub.step_cpu = step_cpu;
	if (stub_apply_debug(true, step_cpu) != 0)
		fprintf(stderr, "bhyve: gdb: cannot set guest debugging: %s\n",
			strerror(errno));
	for (int i = 0; i < stub.ncpus && step_cpu >= 0; i++) {
		if (i != step_cpu)
			bhyve_vcpu_hold(i, true);
	}
	stub_run();
}

static void
target_interrupt(void *t)
{
	pthread_mutex_lock(&stub.mtx);
	if (!stub.stopping) {
		stub.stopping = true;
		stub.stop_cpu = -1;
	}
	pthread_mutex_unlock(&stub.mtx);
	stub_report_stop(GDB_SIGINT);
}

/* ---- the protocol's target operations ---- */

static int
target_ncpus(void *t)
{
	return stub.ncpus;
}

static int
target_read_regs(void *t, int cpu, struct gdb_regfile *rf)
{
	struct gdb_cpu_regs r;

	memset(&r, 0, sizeof(r));
	if (stub_vcpu_call(cpu, vcpu_read_regs, &r) != 0)
		return -1;
	gdb_regs_to_file(&r, rf);
	return 0;
}

static int
target_write_regs(void *t, int cpu, const struct gdb_regfile *rf)
{
	return stub_vcpu_call(cpu, vcpu_write_regs, (void *)rf);
}

static size_t
target_read_mem(void *t, int cpu, uint64_t addr, uint8_t *buf, size_t len)
{
	struct pagewalk_cpu pg;
	size_t done;

	if (stub_vcpu_call(cpu, vcpu_read_paging, &pg) != 0)
		return 0;
	done = gdb_vmem_copy(stub.ctx, &pg, addr, buf, len, false);
	/* Show the guest's own bytes under our breakpoints. */
	for (int i = 0; i < GDB_MAX_SWBP; i++) {
		const struct sw_bp *bp = &stub.swbp[i];

		if (bp->used && bp->gva >= addr && bp->gva - addr < done)
			buf[bp->gva - addr] = bp->orig;
	}
	return done;
}

static size_t
target_write_mem(void *t, int cpu, uint64_t addr, const uint8_t *buf,
		 size_t len)
{
	struct pagewalk_cpu pg;
	size_t done;

	if (stub_vcpu_call(cpu, vcpu_read_paging, &pg) != 0)
		return 0;
	done = gdb_vmem_copy(stub.ctx, &pg, addr, (void *)buf, len, true);
	/* A write over a breakpoint changes what it will restore. */
	for (int i = 0; i < GDB_MAX_SWBP; i++) {
		struct sw_bp *bp = &stub.swbp[i];
		uint8_t *p;

		if (!bp->used || bp->gva < addr || bp->gva - addr >= done)
			continue;
		bp->orig = buf[bp->gva - addr];
		if ((p = vm_map_gpa(stub.ctx, bp->gpa, 1)) != NULL)
			*p = INT3;
	}
	return done;
}

static int
target_set_bp(void *t, int cpu, bool insert, enum gdb_bp_type type,
	      uint64_t addr, uint64_t kind)
{
	int rc;

	pthread_mutex_lock(&stub.mtx);
	if (type == GDB_BP_SW)
		rc = insert ? swbp_insert(cpu, addr) : swbp_remove(addr);
	else
		rc = hwbp_set(insert, type, addr, kind);
	pthread_mutex_unlock(&stub.mtx);
	return rc;
}

static void
target_detach(void *t)
{
	/* The session loop sees conn.closed and cleans up. */
}

static void
target_kill(void *t)
{
	fprintf(stderr, "bhyve: gdb: killed by the debugger\n");
	bhyve_request_suspend(VM_SUSPEND_POWEROFF);
}

static void
target_send(void *t, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_mutex_lock(&stub.send_mtx);
	while (len > 0 && stub.conn_fd >= 0) {
		ssize_t n = send(stub.conn_fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the read side notices the dead peer */
		p += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&stub.send_mtx);
}

static const struct gdb_target_ops target_ops = {
    .ncpus = target_ncpus,
    .read_regs = target_read_regs,
    .write_regs = target_write_regs,
    .read_mem = target_read_mem,
    .write_mem = target_write_mem,
    .set_bp = target_set_bp,
    .resume = target_resume,
    .interrupt = target_interrupt,
    .detach = target_detach,
    .kill = target_kill,
    .send = target_send,
};

/* ---- sessions ---- */

/* Whether the connection's peer is root or the VM's owner. */
static bool
stub_peer_allowed(int fd)
{
	char why[192];
	bool ok = stub.path[0] != '\0' ? peer_unix_allowed(fd, why, sizeof(why))
				       : peer_tcp_allowed(fd, why, sizeof(why));

	if (!ok)
		fprintf(stderr, "bhyve: gdb: refused a connection on %s: %s\n",
			stub.where, why);
	return ok;
}

/* Waits for a debugger the peer check lets in; -1 once the listener
 * is shut down (gdb_fini) or broken. */
static int
stub_accept(void)
{
	int fd, one = 1;

	for (;;) {
		fd = accept4(stub.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return -1;
		if (stub_peer_allowed(fd))
			break;
		close(fd);
	}
	if (stub.path[0] == '\0')
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&stub.send_mtx);
	stub.conn_fd = fd;
	pthread_mutex_unlock(&stub.send_mtx);
	return 0;
}

/* A debugger connected: stop the VM for it. */
static void
stub_attach(void)
{
	fprintf(stderr, "bhyve: gdb: debugger attached on %s\n", stub.where);
	gdb_conn_init(&stub.conn, &target_ops, NULL);
	pthread_mutex_lock(&stub.mtx);
	stub.attached = true;
	stub.stopping = true;
	stub.stop_cpu = -1;
	memset(stub.has_event, 0, sizeof(stub.has_event));
	pthread_mutex_unlock(&stub.mtx);
	stub.conn.last_stop = stub_stop_all(GDB_SIGTRAP);
}

/* The debugger left: no breakpoint or debug state survives it. */
static void
stub_detach(void)
{
	if (__atomic_load_n(&stub.vm_gone, __ATOMIC_ACQUIRE)) {
		/* Breakpoints died with the guest memory; just hang up. */
		pthread_mutex_lock(&stub.send_mtx);
		close(stub.conn_fd);
		stub.conn_fd = -1;
		pthread_mutex_unlock(&stub.send_mtx);
		return;
	}
	if (!stub.stopped)
		(void)stub_stop_all(GDB_SIGTRAP);
	pthread_mutex_lock(&stub.mtx);
	swbp_remove_all();
	memset(stub.hwbp, 0, sizeof(stub.hwbp));
	stub.attached = false;
	stub.stopping = false;
	memset(stub.has_event, 0, sizeof(stub.has_event));
	pthread_mutex_unlock(&stub.mtx);
	(void)stub_apply_debug(false, -1);
	pthread_mutex_lock(&stub.send_mtx);
	close(stub.conn_fd);
	stub.conn_fd = -1;
	pthread_mutex_unlock(&stub.send_mtx);
	fprintf(stderr, "bhyve: gdb: debugger detached\n");
	stub_run();
}

/*
 * Serves the connection until it closes; in direct mode only until gdb
 * lets the VM run (the vCPU threads must start for anything to happen).
 * Returns false when the connection is gone.
 */
static bool
stub_serve(void)
{
	uint8_t buf[4096];

	while (!stub.conn.closed) {
		struct pollfd pfd[2] = {
		    {.fd = stub.conn_fd, .events = POLLIN},
		    {.fd = stub.evfd, .events = POLLIN},
		};
		int nfds = stub.stopped ? 1 : 2;
		ssize_t n;

		if (stub.direct && stub.conn.running)
			return true;
		if (poll(pfd, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (nfds == 2 && (pfd[1].revents & POLLIN))
			stub_report_stop(GDB_SIGTRAP);
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(stub.conn_fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		gdb_conn_input(&stub.conn, buf, (size_t)n);
	}
	return false;
}

static void *
stub_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "gdb");
	while (!__atomic_load_n(&stub.vm_gone, __ATOMIC_ACQUIRE)) {
		if (stub.conn_fd < 0) {
			if (stub_accept() != 0) {
				if (!__atomic_load_n(&stub.vm_gone,
						     __ATOMIC_ACQUIRE))
					fprintf(stderr,
						"bhyve: gdb: accept: "
						"%s\n",
						strerror(errno));
				return NULL;
			}
			if (__atomic_load_n(&stub.vm_gone, __ATOMIC_ACQUIRE))
				break;
			stub_attach();
		}
		(void)stub_serve();
		stub_detach();
	}
	if (stub.conn_fd >= 0)
		stub_detach();
	return NULL;
}

/* From the event loop, so the vCPU threads exist and can be paused. */
static void
stub_start_thread(int fd, enum ev_type type, void *arg)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, stub_thread, NULL) != 0) {
		bhyve_fatal("gdb: cannot start the debug server thread");
		return;
	}
	stub.tid = tid;
	stub.thread_started = true;
}

/* Tells a waiting debugger that the VM is gone (exit status = bhyve's). */
static void
stub_on_exit(int status, void *arg)
{
	char pkt[16];
	int n;

	pthread_mutex_lock(&stub.send_mtx);
	if (stub.conn_fd >= 0 &&
	    __atomic_load_n(&stub.attached, __ATOMIC_ACQUIRE)) {
		n = snprintf(pkt, sizeof(pkt), "$W%02x#", status & 0xff);
		n += snprintf(pkt + n, sizeof(pkt) - (size_t)n, "%02x",
			      gdb_checksum(pkt + 1, (size_t)n - 2));
		(void)send(stub.conn_fd, pkt, (size_t)n, MSG_NOSIGNAL);
		shutdown(stub.conn_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&stub.send_mtx);
}

static int
stub_listen_tcp(const char *addr, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(addr, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "bhyve: gdb: bad address '%s': %s\n", addr,
			gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "bhyve: gdb: cannot listen on %s: %s\n",
			stub.where, strerror(errno));
	return fd;
}

/*
 * gdb.socket: a Unix socket at path, mode 0600.  Whatever is already there
 * stays (it may be another VM's live socket): bind fails instead.
 */
static int
stub_listen_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr,
			"bhyve: gdb: socket path '%s' is empty or longer "
			"than %zu bytes\n",
			path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "bhyve: gdb: cannot listen on %s: %s\n",
			stub.where, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(stub.path, sizeof(stub.path), "%s", path);
	/* The peer check keeps others out; the mode stops them sooner. */
	if (chmod(path, 0600) != 0 || listen(fd, 1) != 0) {
		fprintf(stderr, "bhyve: gdb: cannot listen on %s: %s\n",
			stub.where, strerror(errno));
		close(fd);
		unlink(stub.path);
		stub.path[0] = '\0';
		return -1;
	}
	return fd;
}

/* Closes the listener and removes the socket file it made. */
static void
stub_close_listener(void)
{
	close(stub.listen_fd);
	stub.listen_fd = -1;
	if (stub.path[0] != '\0')
		unlink(stub.path);
	stub.path[0] = '\0';
}

/* gdb.wait: the first session, before any guest instruction runs. */
static void
stub_first_session(void)
{
	fprintf(stderr, "bhyve: gdb: waiting for a debugger on %s\n",
		stub.where);
	stub.direct = true;
	if (stub_accept() != 0) {
		fprintf(stderr, "bhyve: gdb: accept: %s\n", strerror(errno));
	} else {
		stub_attach();
		/* A debugger that leaves before 'continue' lets the VM run. */
		if (!stub_serve())
			stub_detach();
	}
	stub.direct = false;
}

/*
 * The VM has ended: report its exit status to an attached debugger, then
 * wait for the server thread to let go before the VM is destroyed, so it
 * never restores breakpoints into freed guest memory.
 */
void
gdb_fini(int status)
{
	if (stub.listen_fd < 0)
		return;
	__atomic_store_n(&stub.vm_gone, true, __ATOMIC_RELEASE);
	stub_on_exit(status, NULL);
	shutdown(stub.listen_fd, SHUT_RDWR); /* wakes a blocked accept */
	if (stub.thread_started)
		pthread_join(stub.tid, NULL);
	stub.thread_started = false;
	stub_close_listener();
}

/* "address:port" or "unix:PATH", for messages. */
static void
stub_set_where(const char *sock, const char *addr, const char *port)
{
	if (sock != NULL)
		snprintf(stub.where, sizeof(stub.where), "unix:%s", sock);
	else
		snprintf(stub.where, sizeof(stub.where), "%s%s%s:%s",
			 strchr(addr, ':') ? "[" : "", addr,
			 strchr(addr, ':') ? "]" : "", port);
}

int
gdb_init(struct vmctx *ctx)
{
	const char *sock = get_config_value("gdb.socket");
	const char *port = get_config_value("gdb.port");
	const char *addr = get_config_value("gdb.address");

	if (port == NULL && sock == NULL)
		return 0;
	if (port != NULL && sock != NULL) {
		fprintf(stderr, "bhyve: gdb: gdb.port and gdb.socket are "
				"exclusive\n");
		return -1;
	}
	if (addr == NULL || addr[0] == '\0')
		addr = "127.0.0.1";
	stub.ctx = ctx;
	stub.ncpus = bhyve_ncpus();
	stub.wait = get_config_bool_default("gdb.wait", false);
	stub_set_where(sock, addr, port);
	stub.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stub.evfd < 0) {
		fprintf(stderr, "bhyve: gdb: eventfd: %s\n", strerror(errno));
		return -1;
	}
	stub.listen_fd =
	    sock != NULL ? stub_listen_unix(sock) : stub_listen_tcp(addr, port);
	if (stub.listen_fd < 0)
		return -1;
	bhyve_set_debug_handler(gdb_debug_exit);
	if (stub.wait)
		stub_first_session();
	if (mevent_add_timer_ns(1, 0, stub_start_thread, NULL) == NULL) {
		fprintf(stderr, "bhyve: gdb: cannot schedule the server: %s\n",
			strerror(errno));
		stub_close_listener();
		return -1;
	}
	return 0;
}
