/*
 * Start-up: multiboot v1 header, the 32-bit entry the loader jumps to,
 * the switch to long mode and the jump into C.
 *
 * Multiboot Specification 0.6.96 section 3.2: on entry EAX = 0x2BADB002,
 * EBX = physical address of the info structure, CR0.PE = 1, CR0.PG = 0,
 * IF = 0, flat 4 GiB segments, but GDTR may be invalid: load our GDT
 * before touching a segment register.  Long mode (SDM Vol. 3A 9.8.5):
 * CR4.PAE, CR3, EFER.LME, then CR0.PG, then a far jump to a 64-bit code
 * segment.
 */
#include "asm.h"

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_HEADER_MAGIC
	.long MB_HEADER_FLAGS
	.long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl %eax, mb_magic
	movl %ebx, mb_info
	lgdt gdt_ptr
	ENTER_LONG_MODE
	ljmp $SEL_KCODE, $start64

	.code64
start64:
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	/* Loaders need not zero .bss for us; one rep stosq is cheap. */
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	call payload_start
	jmp halt_forever

	.data
	.balign 4
	.globl mb_magic, mb_info
mb_magic:
	.long 0
mb_info:
	.long 0

/*
 * GDT: flat 64-bit kernel and user segments and the TSS slot that
 * trap_init() fills.  The pointer's base is 8 bytes so the same object
 * serves lgdt in 32-bit mode (reads 4) and 64-bit mode (reads 8).
 */
	.balign 16
	.globl gdt, gdt_tss, gdt_ptr
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, L=1 */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affa000000ffff	/* 0x20 user code, L=1, DPL 3 */
gdt_tss:
	.quad 0, 0			/* 0x28 64-bit TSS (16 bytes) */
gdt_end:
	.balign 8
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * Page tables, built by the assembler so CPL0 start-up stays short:
 * PML4[0] -> PDPT[0..7] -> 8 page directories of 2 MiB pages, 0..8 GiB
 * identity mapped.  U/S is set everywhere so run_user() code can reach
 * its code, data and the devices.
 */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + PTE_P + PTE_W + PTE_U
	.fill 511, 8, 0
pdpt:
	.set i, 0
	.rept 8
	.quad pd + i * 4096 + PTE_P + PTE_W + PTE_U
	.set i, i + 1
	.endr
	.fill 504, 8, 0
pd:
	.set i, 0
	.rept 4096
	.quad (i << 21) + PTE_P + PTE_W + PTE_U + PTE_PS
	.set i, i + 1
	.endr

	.section .stack, "aw", @nobits
	.balign 4096
	.space BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
