/* Constants shared by the library's assembly files. */
/* Assembler macros, not C: clang-format must leave them alone. */
/* clang-format off */
#ifndef PAYLOAD_ASM_H
#define PAYLOAD_ASM_H

#define MB_HEADER_MAGIC 0x1BADB002
/* Page-align modules (bit 0), ask for memory information (bit 1). */
#define MB_HEADER_FLAGS 0x00000003

#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UDATA   0x1b
#define SEL_UCODE   0x23

#define CR0_PE	    0x00000001
#define CR0_PG	    0x80000000
#define CR4_PAE	    0x00000020
#define MSR_EFER    0xc0000080
#define EFER_SCE    0x00000001
#define EFER_LME    0x00000100
#define MSR_STAR    0xc0000081
#define MSR_LSTAR   0xc0000082
#define MSR_FMASK   0xc0000084
/*
 * STAR[47:32]: SYSCALL loads CS = SEL_KCODE and SS = SEL_KCODE + 8 =
 * SEL_KDATA.  STAR[63:48] is SYSRET's, which the payloads never execute;
 * it holds Linux's value (USER32_CS 0x23, so SYSRET's 64-bit CS would be
 * 0x33), the only one a paravirtual host such as PVM accepts.
 */
#define STAR_HIGH   ((0x23 << 16) | SEL_KCODE)
/* SYSCALL clears TF, IF, DF, IOPL, NT and AC (Linux's mask). */
#define SYSCALL_FMASK 0x47700

#define PTE_P	    0x001
#define PTE_W	    0x002
#define PTE_U	    0x004
#define PTE_PS	    0x080

#define RFLAGS_IOPL3 0x3000

#define BOOT_STACK_SIZE 16384
#define TRAP_STACK_SIZE 16384
#define USER_STACK_SIZE 65536
#define AP_STACK_SIZE	16384
#define AP_STACK_SHIFT	14
#define MAX_APS		7
#define AP_TRAMP_ADDR	0x8000

/*
 * 32-bit protected mode -> long mode with the library's page tables: PAE,
 * CR3, EFER.LME, then paging on (SDM Vol. 3A 9.8.5).  The code is
 * identity mapped, so the next instruction runs in compatibility mode; a
 * far jump to a 64-bit code segment must follow.  Clobbers EAX, ECX, EDX.
 */
.macro ENTER_LONG_MODE
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
.endm
/* clang-format on */

#endif
