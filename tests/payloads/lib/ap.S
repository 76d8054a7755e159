/*
 * Application processor start-up.  smp_start_aps() copies the trampoline
 * (ap_tramp_start..ap_tramp_end) to AP_TRAMP_ADDR and sends a start-up
 * IPI with vector AP_TRAMP_ADDR >> 12, so each AP begins in real mode at
 * CS:IP = 0x0800:0000 (SDM Vol. 3A 8.4.4.1).  The trampoline is position
 * dependent on AP_TRAMP_ADDR: its own addresses are written as offsets
 * from ap_tramp_start plus AP_TRAMP_ADDR.
 *
 * Real mode -> 32-bit protected mode with the trampoline's GDT -> long
 * mode with the BSP's page tables -> ap_entry64 in the image, which loads
 * the real GDT and IDT, takes a stack slot and calls ap_start().
 */
#include "asm.h"

#define TRAMP(sym) ((sym) - ap_tramp_start + AP_TRAMP_ADDR)

	.section .rodata.ap_trampoline, "a"
	.balign 16
	.globl ap_tramp_start, ap_tramp_end
	.code16
ap_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tgdt_ptr - ap_tramp_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $0x08, $TRAMP(ap_pm32)

	.code32
ap_pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	ENTER_LONG_MODE
	ljmp $0x18, $ap_entry64

	.balign 8
tgdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08 code, 32-bit */
	.quad 0x00cf92000000ffff	/* 0x10 data */
	.quad 0x00af9a000000ffff	/* 0x18 code, 64-bit */
tgdt_ptr:
	.word tgdt_ptr - tgdt - 1
	.long TRAMP(tgdt)
ap_tramp_end:

	.text
	.code64
ap_entry64:
	/* A stack slot first: reloading CS below needs a stack. */
	movl $1, %eax
	lock xaddl %eax, ap_next_slot(%rip)
	cmpl $MAX_APS, %eax
	jae 2f
	/* Slot s uses ap_stacks[s * AP_STACK_SIZE .. (s + 1) * AP_STACK_SIZE). */
	movl %eax, %edi
	leal 1(%eax), %edx
	shlq $AP_STACK_SHIFT, %rdx
	leaq ap_stacks(%rip), %rsp
	addq %rdx, %rsp
	incl %edi
	lgdt gdt_ptr(%rip)
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	pushq $SEL_KCODE
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:
	call ap_start
2:
	cli
	hlt
	jmp 2b

	.bss
	.balign 4
ap_next_slot:
	.long 0

	.section .stack, "aw", @nobits
	.balign 4096
ap_stacks:
	.space AP_STACK_SIZE * MAX_APS

	.section .note.GNU-stack, "", @progbits
