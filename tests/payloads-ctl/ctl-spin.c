/*
 * The guest for the bhyvectl rig test (run-ctl-tests): it publishes a
 * marker in memory, counts NMIs, and then idles forever in a two-
 * instruction loop between ctl_spin_start and ctl_spin_end with known
 * values in RAX and RBX, so the host can check what bhyvectl reports.
 *
 * The loop is "sti; hlt" with every 8259 input masked: the vCPU sleeps in
 * KVM (no CPU burnt, so twenty of these can run at once in the rig) and
 * only an NMI wakes it; with IF=1 bhyve's halt detection leaves it alone.
 */
#include "payload.h"

#define CTL_MAGIC 0x6576696865656221ULL /* "!beehive" little-endian */

/* Read by the host with --read-mem at the addresses nm reports. */
volatile uint64_t ctl_marker;
volatile uint64_t ctl_nmi_count;

extern char ctl_spin_start[], ctl_spin_end[];

static void
ctl_nmi(struct trap_frame *tf)
{
	(void)tf;
	ctl_nmi_count++;
}

__asm__(".text\n"
	".globl ctl_spin, ctl_spin_start, ctl_spin_end\n"
	"ctl_spin:\n"
	"	movabs $0xbee1bee2bee3bee4, %rax\n"
	"	movabs $0x0123456789abcdef, %rbx\n"
	"	sti\n"
	"ctl_spin_start:\n"
	"	hlt\n"
	"	jmp ctl_spin_start\n"
	"ctl_spin_end:\n"
	"	ud2\n");

void ctl_spin(void) __attribute__((noreturn));

void
payload_main(void)
{
	trap_set_handler(VEC_NMI, ctl_nmi);
	pic_init(0x20, 0x28);
	pic_set_mask(0xffff);
	ctl_marker = CTL_MAGIC;
	ctl_spin();
}
