/*
 * Internals shared by the virtio core's transport files (virtio.c: device
 * state and interrupts, virtio_pci.c: the PCI transport, virtio_irqfd.c:
 * MSI-X routes and irqfds).  The ring code (virtqueue.c) does not use it;
 * device models use virtio.h, virtqueue.h and virtio_irqfd.h only.
 */
#ifndef VIRTIO_IMPL_H
#define VIRTIO_IMPL_H

#include <stdarg.h>

#include "virtio.h"

/* Modern BAR layout: one 4 KiB page per structure (docs/virtio.md). */
#define VI_MODERN_BAR	   4
#define VI_MSIX_BAR	   1
#define VI_LEGACY_BAR	   0
#define VI_COMMON_OFF	   0x0000
#define VI_COMMON_SIZE	   0x38
#define VI_ISR_OFF	   0x1000
#define VI_DEVCFG_OFF	   0x2000
#define VI_NOTIFY_OFF	   0x3000
#define VI_REGION_SIZE	   0x1000
#define VI_NOTIFY_MULT	   4
#define VI_MODERN_BAR_SIZE 0x4000

/* Legacy I/O BAR registers (virtio 1.2, 4.1.4.10). */
#define VI_LEG_HOST_FEATURES  0
#define VI_LEG_GUEST_FEATURES 4
#define VI_LEG_QUEUE_PFN      8
#define VI_LEG_QUEUE_NUM      12
#define VI_LEG_QUEUE_SEL      14
#define VI_LEG_QUEUE_NOTIFY   16
#define VI_LEG_STATUS	      18
#define VI_LEG_ISR	      19
#define VI_LEG_MSIX_CONFIG    20
#define VI_LEG_MSIX_QUEUE     22
#define VI_LEG_CFG_NOMSIX     20
#define VI_LEG_CFG_MSIX	      24

/* virtio.c */
void vi_set_needs_reset_v(struct virtio_softc *vs, const char *fmt, va_list ap);
void vi_reset(struct virtio_softc *vs);
void vi_status_write(struct virtio_softc *vs, uint8_t val);
void vi_queue_notify(struct virtio_softc *vs, int qidx);
uint8_t vi_isr_read(struct virtio_softc *vs);
void vi_config_intr(struct virtio_softc *vs);
/* The features the modern (or legacy) interface offers. */
uint64_t vi_offered(const struct virtio_softc *vs, bool modern);
/* Unlocks without sending queued interrupts (from config-space hooks,
 * which run under the PCI lock that delivery takes). */
void virtio_unlock_nodeliver(struct virtio_softc *vs);

/*
 * Queue enable/disable: the ring layer's vq_ring_start/vq_ring_stop plus
 * the device's vc_qenable.  vi_queue_start() validates the programmed
 * size and addresses and maps the rings (0, or -1 with NEEDS_RESET).
 */
int vi_queue_start(struct virtio_softc *vs, struct vqueue_info *vq);
/* Legacy (4.1.4.10 / 2.7.2): the whole ring from one page frame number. */
int vi_queue_start_legacy(struct virtio_softc *vs, struct vqueue_info *vq,
			  uint32_t pfn);
void vi_queue_stop(struct virtio_softc *vs, struct vqueue_info *vq);

/* virtio_irqfd.c */
/* Allocates vs_nvec routes, none set up yet (-1 on no memory). */
int vi_routes_init(struct virtio_softc *vs);
/* Frees the MSI-X vectors' routes, irqfds, eventfds and readers. */
void vi_routes_fini(struct virtio_softc *vs);
/* Sends MSI-X vector v now (irqfd or pci_emul); vs_mtx NOT held. */
void vi_msix_send(struct virtio_softc *vs, int v);

#endif
