/*
 * The halt check's verdict (bhyve/core/vcpu_run.c): the VM is halted when
 * every started vCPU is halted with interrupts off.  The race it must not
 * fall for, per-vCPU samples taken at different moments (issue 12), needs
 * KVM: tests/payloads/pv-kick covers it.
 */
#include <stdbool.h>

#include "test.h"
#include "vcpu_run.h"

static void
test_verdict(void)
{
	int one_dead[] = {HALT_DEAD};
	int one_running[] = {HALT_RUNNING};
	int both_dead[] = {HALT_DEAD, HALT_DEAD};
	int dead_running[] = {HALT_DEAD, HALT_RUNNING};
	int running_dead[] = {HALT_RUNNING, HALT_DEAD};
	int dead_idle[] = {HALT_DEAD, HALT_IDLE, HALT_IDLE};
	int idle_only[] = {HALT_IDLE, HALT_IDLE};
	int dead_unknown[] = {HALT_DEAD, HALT_UNKNOWN};

	CHECK(vcpu_halt_verdict(one_dead, 1), "halt: the only vCPU dead");
	CHECK(!vcpu_halt_verdict(one_running, 1),
	      "halt: the only vCPU running");
	CHECK(vcpu_halt_verdict(both_dead, 2), "halt: both vCPUs dead");
	CHECK(!vcpu_halt_verdict(dead_running, 2),
	      "halt: one of two still running (BSP dead)");
	CHECK(!vcpu_halt_verdict(running_dead, 2),
	      "halt: one of two still running (AP dead)");
	CHECK(vcpu_halt_verdict(dead_idle, 3),
	      "halt: APs never started do not keep a dead BSP alive");
	CHECK(!vcpu_halt_verdict(idle_only, 2),
	      "halt: no started vCPU is no verdict");
	CHECK(!vcpu_halt_verdict(dead_unknown, 2),
	      "halt: an unsampled vCPU is not dead");
	CHECK(!vcpu_halt_verdict(NULL, 0), "halt: no vCPUs");
}

int
main(void)
{
	test_verdict();
	return test_done();
}
