/*
 * Reset-vector start of a ROM payload: from the architectural reset state
 * (real mode, CS base 0xffff0000, IP 0xfff0) into 32-bit flat protected
 * mode, a stack in RAM, then rom_main().  No RAM is needed before the
 * stack; the GDT is read from the ROM itself.
 */
	.section .text.rom16, "ax"
	.code16
rom_start16:
	cli
	cld
	/* .text.rom16 starts the ROM, at CS base 0xffff0000. */
	lgdtl	%cs:(gdt_desc - rom_start16)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $rom_start32

	.code32
rom_start32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$0x80000, %esp
	call	rom_main
1:	cli
	hlt
	jmp	1b

	.balign 8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	/* The reset vector, 16 bytes below 4 GiB. */
	.section .reset, "ax"
	.code16
	.globl	rom_reset
rom_reset:
	jmp	rom_start16
