/*
 * The benchmark payload: a multiboot kernel (32-bit protected mode, as the
 * multiboot loader enters it) that reads port 0x80 NREADS times and then
 * ends the VM.  Port 0x80 is emulated in userspace by beehive and by QEMU,
 * so each read is one full exit to the VMM and back.
 *
 * It ends QEMU through isa-debug-exit (port 0xf4) and beehive through the
 * ACPI PM1a control register (S5); each VMM ignores the other's port.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x0

	.section .text
	.code32
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.globl _start
_start:
	cli
	movl $NREADS, %ecx
	testl %ecx, %ecx
	jz 2f
1:	inb $0x80, %al
	decl %ecx
	jnz 1b
2:	movb $0, %al
	outb %al, $0xf4		/* QEMU: -device isa-debug-exit */
	movw $0x3400, %ax	/* SLP_TYP 5 | SLP_EN */
	movw $0x404, %dx
	outw %ax, %dx		/* beehive: PM1a_CNT */
3:	hlt
	jmp 3b
