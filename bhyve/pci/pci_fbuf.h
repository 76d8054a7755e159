/*
 * bhyve's "fbuf" display, modelled as QEMU's standard VGA ("Bochs"
 * display, PCI 1234:1111) so that OVMF's QemuVideoDxe and Linux's bochs
 * DRM driver drive it; the picture is served over VNC (bhyve/ui/vnc.h).
 * This header holds what tests need besides the BARs.
 */
#ifndef PCI_FBUF_H
#define PCI_FBUF_H

#include <stdint.h>

#include "pci_emul.h"
#include "vnc.h"

#define FBUF_VENDOR  0x1234
#define FBUF_DEVICE  0x1111
#define FBUF_FB_SIZE (16u << 20) /* BAR0 */
#define FBUF_MMIO_SZ 4096	 /* BAR2 */

/* BAR2 layout (QEMU's "stdvga" MMIO BAR). */
#define FBUF_MMIO_EDID	0x000 /* 1 KiB EDID blob: none, reads 0 */
#define FBUF_MMIO_VGA	0x400 /* VGA ports 0x3c0-0x3df */
#define FBUF_MMIO_DISPI 0x500 /* DISPI register i at 0x500 + 2 * i */
#define FBUF_MMIO_QEXT	0x600 /* QEMU extension: size, endianness */

/* The VBE DISPI interface (Bochs vbe.h). */
#define FBUF_DISPI_ID		0
#define FBUF_DISPI_XRES		1
#define FBUF_DISPI_YRES		2
#define FBUF_DISPI_BPP		3
#define FBUF_DISPI_ENABLE	4
#define FBUF_DISPI_BANK		5
#define FBUF_DISPI_VIRT_WIDTH	6
#define FBUF_DISPI_VIRT_HEIGHT	7
#define FBUF_DISPI_X_OFFSET	8
#define FBUF_DISPI_Y_OFFSET	9
#define FBUF_DISPI_VIDEO_MEM64K 10
#define FBUF_DISPI_NREGS	11

#define FBUF_DISPI_ID0 0xb0c0
#define FBUF_DISPI_ID5 0xb0c5

#define FBUF_ENABLED	0x01
#define FBUF_GETCAPS	0x02
#define FBUF_8BIT_DAC	0x20
#define FBUF_LFB	0x40
#define FBUF_NOCLEARMEM 0x80

/* I/O ports with vga=io or vga=on. */
#define FBUF_DISPI_PORT 0x1ce /* index; 0x1cf and 0x1d0: data */
#define FBUF_VGA_PORT	0x3c0

/* What the display shows now (blank: base NULL). */
void fbuf_get_mode(struct pci_devinst *pi, struct vnc_mode *mode);
/* The framebuffer as the host sees it (BAR0's memory). */
uint8_t *fbuf_framebuffer(struct pci_devinst *pi);

#endif
