/*
 * Exceptions injected by the host (test device port 0x0f0c): #UD without
 * and #GP with an error code (port 0x0f10).  The host injects before the
 * vCPU resumes, so the handler sees the RIP just after the OUT, and the
 * test continues there once it returns.
 */
#include "payload.h"

#define INJECT_ERRCODE 0x1238

static volatile uint64_t seen_vector = ~0ull;
static volatile uint64_t seen_error;
static volatile uint64_t seen_rip;
static volatile unsigned seen_count;

static void
record(struct trap_frame *tf)
{
	seen_vector = tf->vector;
	seen_error = tf->error;
	seen_rip = tf->rip;
	seen_count++;
}

/* OUT to the inject port; returns the address of the next instruction. */
static uint64_t
inject(uint32_t request)
{
	uint64_t after;

	__asm__ volatile("outl %1, %2\n\t"
			 "1: leaq 1b(%%rip), %0"
			 : "=r"(after)
			 : "a"(request), "Nd"((uint16_t)TD_PORT_INJECT)
			 : "memory");
	return after;
}

void
payload_main(void)
{
	uint64_t after;

	trap_set_handler(VEC_UD, record);
	trap_set_handler(VEC_GP, record);

	after = inject(VEC_UD);
	td_printf("inject: vector %lu error 0x%lx, %u trap(s)", seen_vector,
		  seen_error, seen_count);
	CHECK_EQ(seen_count, 1);
	CHECK_EQ(seen_vector, VEC_UD);
	CHECK_EQ(seen_rip, after);

	outl(TD_PORT_ERRCODE, INJECT_ERRCODE);
	after = inject(VEC_GP | TD_INJECT_ERRCODE);
	td_printf("inject: vector %lu error 0x%lx, %u trap(s)", seen_vector,
		  seen_error, seen_count);
	CHECK_EQ(seen_count, 2);
	CHECK_EQ(seen_vector, VEC_GP);
	CHECK_EQ(seen_error, INJECT_ERRCODE);
	CHECK_EQ(seen_rip, after);
	td_printf("inject: continued after the handlers");
}
