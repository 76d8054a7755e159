/*
 * The library's CPL3 helper: a function runs at CPL3 with IOPL 3 (port
 * I/O works, a long loop runs at native speed on hosts that emulate
 * CPL0) and returns its result to CPL0; a privileged instruction at CPL3
 * raises #GP(0), which the CPL0 handler sees with a CPL3 frame, and the
 * fixup lets the user function continue.
 */
#include "payload.h"

#define LOOPS 10000000ull

static volatile uint64_t gp_cs = ~0ull;

static uint64_t
spin(uint64_t n)
{
	uint64_t x = 0;

	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("lea 1(%0,%1,2), %0"
				 : "+r"(x)
				 : "r"(i)
				 : "memory");
	return x;
}

static uint64_t
user_work(uint64_t n)
{
	uint64_t faulted = 0;

	CHECK_EQ(read_cs(), SEL_UCODE);
	outl(TD_PORT_SCRATCH, 0xc0ffee);
	/* hlt is CPL0-only: #GP(0), resumed at the fixup. */
	__asm__ volatile("1: hlt\n\t"
			 "jmp 3f\n\t"
			 "2: movq $1, %0\n\t"
			 "3:\n\t" EX_TABLE(1b, 2b)
			 : "+r"(faulted));
	CHECK_EQ(faulted, 1);
	return spin(n);
}

static void
gp_handler(struct trap_frame *tf)
{
	gp_cs = tf->cs;
	if (!trap_fixup(tf)) {
		td_printf("user: #GP at rip 0x%lx without a fixup", tf->rip);
		td_result(1);
		acpi_poweroff();
	}
}

void
payload_main(void)
{
	/* sum of (2i + 1) for i < n is n^2, computed here without a loop. */
	const uint64_t want = LOOPS * LOOPS;
	uint64_t got;

	trap_set_handler(VEC_GP, gp_handler);
	got = run_user(user_work, LOOPS);
	td_printf("user: result %lu, #GP vector %u error 0x%lx from cs 0x%lx",
		  got, trap_last_vector, trap_last_error, gp_cs);
	CHECK_EQ(got, want);
	CHECK_EQ(trap_last_vector, VEC_GP);
	CHECK_EQ(trap_last_error, 0);
	CHECK_EQ(gp_cs, SEL_UCODE);
	CHECK_EQ(inl(TD_PORT_SCRATCH), 0xc0ffee);
	CHECK_EQ(read_cs(), SEL_KCODE);
}
