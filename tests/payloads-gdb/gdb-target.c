/*
 * The guest that tests/payloads-gdb/run-gdb-tests debugs with the real
 * gdb: known functions to break on, a variable to watch, a loop that
 * waits for the debugger to write memory, and known values in rbx, xmm0
 * and st0.  Without a debugger it would spin forever in gdb_spin(), so
 * it only runs under the test.
 */
#include "payload.h"

#define CR0_EM	   (1ul << 2)
#define CR0_MP	   (1ul << 1)
#define CR4_OSFXSR (1ul << 9)
#define XMM0_MAGIC 0x1122334455667788ul
#define RBX_MAGIC  0xfeedfacecafebeeful

volatile uint64_t gdb_counter;
volatile uint64_t gdb_watched;
volatile uint32_t gdb_release;

/* SSE needs CR4.OSFXSR and CR0.EM clear (SDM Vol. 3A, 13.1.3). */
static void
sse_enable(void)
{
	uint64_t cr0, cr4;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"((cr0 & ~CR0_EM) | CR0_MP));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_OSFXSR));
}

/* Leaves recognisable values in xmm0 and st0 for 'info registers'. */
__attribute__((noinline)) void
gdb_load_fpu(void)
{
	__asm__ volatile("movq %0, %%xmm0\n\t"
			 "fninit\n\t"
			 "fld1"
			 :
			 : "r"(XMM0_MAGIC)
			 : "memory"); /* no xmm clobber: -mgeneral-regs-only */
}

__attribute__((noinline)) uint64_t
gdb_marker(uint64_t x)
{
	gdb_counter += x;
	__asm__ volatile("" ::: "memory");
	return gdb_counter;
}

/* Spins until the debugger writes gdb_release; rbx holds a marker. */
__attribute__((noinline)) void
gdb_spin(void)
{
	__asm__ volatile("movabs %0, %%rbx\n\t"
			 "1: pause\n\t"
			 "cmpl $0, %1\n\t"
			 "je 1b"
			 :
			 : "i"(RBX_MAGIC), "m"(gdb_release)
			 : "rbx", "memory");
}

void
payload_main(void)
{
	sse_enable();
	gdb_load_fpu();
	for (uint64_t i = 1; i <= 3; i++)
		gdb_marker(i);
	gdb_watched = 0x1234;
	gdb_spin();
	td_printf("gdb-target: counter %lu release %u", gdb_counter,
		  gdb_release);
	CHECK_EQ(gdb_counter, 6);
	CHECK_EQ(gdb_release, 0x5a);
}
