/*
 * The VARS template of the bootrom-flash payload test: 32 KiB that start
 * with an EFI firmware volume header (PI spec Vol. 3, 3.2.1) whose
 * checksum is right, so bhyve accepts the file; block 2 (0x2000-0x2fff)
 * holds a pattern for the guest to erase; everything else is erased flash.
 */
	.section .data
fv:
	.fill	16, 1, 0			/* ZeroVector */
	.byte	0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c
	.byte	0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50
	.quad	0x8000				/* FvLength */
	.ascii	"_FVH"
	.long	0x0004feff			/* Attributes */
	.word	0x48				/* HeaderLength */
	.word	0x7933				/* Checksum: header sums to 0 */
	.word	0				/* ExtHeaderOffset */
	.byte	0, 2				/* Reserved, Revision */
	.long	8, 0x1000			/* BlockMap: 8 blocks of 4 KiB */
	.long	0, 0
	.fill	0x2000 - 0x48, 1, 0xff
	.fill	0x1000, 1, 0x5a			/* block 2: to be erased */
	.fill	0x5000, 1, 0xff
