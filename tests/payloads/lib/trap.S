/*
 * Trap entry: one 16-byte stub per vector, a common path that saves the
 * general registers as a struct trap_frame and calls trap_dispatch(), and
 * run_user() with its way back (SYSCALL).
 *
 * SDM Vol. 3A 6.14: in 64-bit mode the CPU aligns RSP to 16 and pushes
 * SS, RSP, RFLAGS, CS, RIP and, for vectors 8, 10-14, 17, 21, 29 and 30,
 * an error code.  Stubs push a zero for the others so every frame has the
 * same shape.
 */
#include "asm.h"

	.text
	.balign 16
	.globl trap_stubs
trap_stubs:
	.set n, 0
	.rept 256
	.balign 16
	.if (n == 8) || ((n >= 10) && (n <= 14)) || (n == 17) || (n == 21) || (n == 29) || (n == 30)
	.else
	pushq $0
	.endif
	pushq $n
	jmp trap_common
	.set n, n + 1
	.endr

/* 5 CPU words + 2 stub words + 15 registers = 176 bytes: RSP stays 16-aligned. */
trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/*
 * uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg)
 * Saves the callee-saved registers and RFLAGS on the kernel stack, aims
 * this CPU's SYSCALL at user_return_stub (EFER.SCE, STAR, LSTAR, FMASK),
 * then iretq to user_entry at CPL3 with IOPL 3.
 *
 * The way back is SYSCALL (SDM Vol. 2B "SYSCALL"; AMD APM Vol. 2 6.1.1)
 * rather than INT n through a DPL 3 gate because it works on every KVM:
 * VMX and SVM run it without an exit, and on the software kvm_pvm it is
 * the native user-to-supervisor event, while INT n at CPL3 there raises
 * #UD (KVM's instruction emulator cannot deliver INT n in long mode).
 * The stub needs nothing SYSCALL leaves behind: not RCX, R11, RFLAGS or
 * RSP (a paravirtual host may set them its own way), only RDI, fn's
 * result.
 */
	.globl run_user
run_user:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushfq
	movq %rsp, user_saved_rsp(%rip)
	movq %rdi, %r12
	movq %rsi, %r13
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_SCE, %eax
	wrmsr
	movl $MSR_STAR, %ecx
	xorl %eax, %eax
	movl $STAR_HIGH, %edx
	wrmsr
	movl $MSR_LSTAR, %ecx
	leaq user_return_stub(%rip), %rax
	movq %rax, %rdx
	shrq $32, %rdx
	wrmsr
	movl $MSR_FMASK, %ecx
	movl $SYSCALL_FMASK, %eax
	xorl %edx, %edx
	wrmsr
	movq %r12, %rax
	movq %r13, %rdi
	pushq $SEL_UDATA
	pushq $user_stack_top
	pushfq
	orq $RFLAGS_IOPL3, (%rsp)
	pushq $SEL_UCODE
	pushq $user_entry
	iretq

user_entry:
	call *%rax
	movq %rax, %rdi
	syscall
	ud2

/*
 * SYSCALL's target (LSTAR): back from CPL3 at CPL0, interrupts off
 * (FMASK), still on the user stack.  Restore the kernel segments and
 * run_user()'s saved state, and return fn's result.
 */
	.globl user_return_stub
user_return_stub:
	movw $SEL_KDATA, %cx
	movw %cx, %ss
	movw %cx, %ds
	movw %cx, %es
	movq user_saved_rsp(%rip), %rsp
	movq %rdi, %rax
	popfq
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.bss
	.balign 8
user_saved_rsp:
	.quad 0

	.section .stack, "aw", @nobits
	.balign 4096
	.space USER_STACK_SIZE
	.globl user_stack_top
user_stack_top:
	.space TRAP_STACK_SIZE
	.globl trap_stack_top
trap_stack_top:

	.section .note.GNU-stack, "", @progbits
