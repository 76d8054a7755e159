/*
 * The vCPU loop's interface (vcpu_run.c): the VM and its vCPUs as the
 * devices see them, the one way to end the VM (bhyve_request_suspend)
 * with bhyve's exit status (0 reset, 1 poweroff, 2 halt, 3 triple fault,
 * 4 error), parking vCPUs for inspection, and the life cycle main()
 * drives.
 */
#ifndef VCPU_RUN_H
#define VCPU_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include "vmmapi.h"

#define BHYVE_EXIT_RESET       0
#define BHYVE_EXIT_POWEROFF    1
#define BHYVE_EXIT_HALT	       2
#define BHYVE_EXIT_TRIPLEFAULT 3
#define BHYVE_EXIT_ERROR       4

/*
 * How many vCPUs exist: the count vcpu_run_open() was given, 0 before.
 * (The firmware tables, built before the vCPUs, describe the configured
 * count, config_ncpus().)
 */
int bhyve_ncpus(void);
struct vmctx *bhyve_vmctx(void);
struct vcpu *bhyve_vcpu(int vcpuid);

/*
 * Ends the VM: the first request wins, every vCPU is stopped, and bhyve
 * exits with the status that matches 'how'.  Safe from any thread.
 */
void bhyve_request_suspend(enum vm_suspend_how how);
/* Ends the VM with an explicit exit status (QEMU's isa-debug-exit). */
void bhyve_request_exit(int status);
/* Ends the VM with status 4 after a fatal device or VMM error. */
void bhyve_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bhyve_exit_status(enum vm_suspend_how how);

/*
 * Parking vCPUs.  KVM serializes a vCPU's ioctls with KVM_RUN, so code
 * that inspects or changes vCPU state from another thread (the debugger
 * stub, the control socket) first parks the vCPUs at an exit boundary.
 * bhyve_pause_vcpus() returns once every running vCPU thread is parked;
 * calls nest (a count).  A parked vCPU may be given work to run on its own
 * thread with bhyve_vcpu_call(), which waits for the result.
 */
void bhyve_pause_vcpus(void);
void bhyve_resume_vcpus(void);
bool bhyve_vcpus_paused(void);
int bhyve_vcpu_call(int vcpuid, int (*fn)(struct vcpu *, void *), void *arg);
/*
 * Holding one vCPU: it parks at its next park point even with no pause in
 * effect (and counts as parked) until released.  For the debugger, which
 * single-steps one vCPU while holding the others, and holds them all
 * from a vCPU thread that hit a breakpoint.  Safe from any thread.
 */
void bhyve_vcpu_hold(int vcpuid, bool hold);

/*
 * The debugger's hook for VM_EXITCODE_DEBUG exits (single-step and
 * breakpoints).  The handler runs on the vCPU's thread; it returns 0 to
 * resume the vCPU, -1 to stop the VM.
 */
typedef int (*bhyve_debug_handler_t)(struct vcpu *vcpu, struct vm_exit *vme);
void bhyve_set_debug_handler(bhyve_debug_handler_t handler);

/* The vCPU threads' life cycle, for main(). */
int vcpu_run_open(struct vmctx *ctx, int ncpus, bool strictmsr);
int vcpu_run_start(void);
/*
 * The attributes vCPU 'vcpuid's thread starts with: its vcpu.N.cpuset
 * affinity, if any.  0, or -1 after printing one line.
 */
int vcpu_run_thread_attr(int vcpuid, pthread_attr_t *attr);
void vcpu_run_join(void);
/* Starts the periodic check for "all vCPUs halted" (exit status 2). */
int vcpu_run_arm_halt_check(void);

/*
 * What the halt check knows of a vCPU: running (or halted with interrupts
 * on), halted with interrupts off, or never started (an AP still waiting
 * for INIT/SIPI, which does not count as an active CPU).
 */
enum halt_state { HALT_UNKNOWN, HALT_RUNNING, HALT_DEAD, HALT_IDLE };
/* Whether n vCPU states mean a halted VM: every started vCPU dead, and at
 * least one started. */
bool vcpu_halt_verdict(const int *state, int n);

#endif
