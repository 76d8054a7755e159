/*
 * Split virtqueues (virtio 1.2, 2.7): the ring layout, the queue state
 * and what a device model calls to process requests.  This layer knows
 * guest memory (vmmapi) and nothing of the transport: it reaches its
 * device only through struct vq_owner, which the transport supplies
 * (virtio.h, vi_softc_linkup).
 *
 * Request processing (in vc_qnotify, called with the device lock held):
 *
 *	struct iovec iov[N];
 *	struct vi_req req;
 *	int n;
 *
 *	while ((n = vq_getchain(vq, iov, N, &req)) > 0) {
 *		... iov[0 .. req.readable-1] are driver->device buffers,
 *		... iov[req.readable .. n-1] device->driver buffers
 *		vq_relchain(vq, req.idx, bytes_written);
 *	}
 *	vq_endchains(vq, true);		(interrupt, unless suppressed)
 *
 * n < 0 means the guest broke the protocol: the device is now
 * NEEDS_RESET, the violation was logged once, and every later
 * vq_getchain() returns -1 until the driver resets the device.
 *
 * Every vq_* call needs the owning device's lock (virtio.h).
 */
#ifndef VIRTQUEUE_H
#define VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct mevent;
struct virtio_softc;
struct vmctx;

/* Feature bits the ring code itself implements (virtio 1.2, 6). */
#define VIRTIO_F_NOTIFY_ON_EMPTY    (1ULL << 24) /* legacy only */
#define VIRTIO_RING_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_RING_F_EVENT_IDX	    (1ULL << 29)

/* Split virtqueue layout (virtio 1.2, 2.7). */
#define VRING_DESC_F_NEXT	   1
#define VRING_DESC_F_WRITE	   2
#define VRING_DESC_F_INDIRECT	   4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	   1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* qsize entries, then used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* qsize entries, then avail_event */
};

/* Byte sizes of the three parts for a queue of n entries (2.7). */
#define VRING_DESC_SIZE(n)  (16ULL * (n))
#define VRING_AVAIL_SIZE(n) (6ULL + 2ULL * (n))
#define VRING_USED_SIZE(n)  (6ULL + 8ULL * (n))
/* Legacy layout (2.7.2): used ring aligned to this after the avail ring. */
#define VRING_LEGACY_ALIGN 4096

#define VIRTIO_QUEUE_MAX 32768 /* largest queue size (2.7) */

struct vqueue_info;

/*
 * What the ring code must ask of the device that owns a queue.  Both
 * run with the device lock held.
 */
struct vq_ops {
	/* A guest violation on vq: mark the device NEEDS_RESET, log msg. */
	void (*vo_fail)(struct vqueue_info *vq, const char *msg);
	/* The driver wants vq's interrupt: queue it. */
	void (*vo_interrupt)(struct vqueue_info *vq);
};

/*
 * The ring's view of its device, filled in by the transport.  Features
 * and NEEDS_RESET are read through pointers into the device's state, so
 * the ring always sees the current values without a call per check.
 */
struct vq_owner {
	const uint64_t *vo_features; /* negotiated feature bits */
	const bool *vo_broken;	     /* NEEDS_RESET: take no more chains */
	const struct vq_ops *vo_ops;
};

struct vqueue_info {
	/*
	 * Set by the device before vi_pci_init(): the largest size the
	 * device offers (a power of two, 1 .. VIRTIO_QUEUE_MAX).  The
	 * driver may choose a smaller power of two; vq_qsize then holds
	 * the negotiated size while vq_maxsize keeps the offer.
	 */
	uint16_t vq_qsize;
	uint16_t vq_maxsize;
	uint16_t vq_num; /* index within the device */
	const struct vq_owner *vq_owner;
	/* The device, for the transport and the device model; the ring
	 * code never follows it (it uses vq_owner). */
	struct virtio_softc *vq_vs;

	bool vq_enabled;	/* validated, mapped, in use */
	uint16_t vq_last_avail; /* next avail slot the device consumes */
	uint16_t vq_next_used;	/* used idx the device publishes next */
	uint16_t vq_save_used;	/* used idx at the last interrupt decision */
	bool vq_kick_off;	/* device asked for no kicks */

	/* Guest-physical ring addresses as the driver programmed them. */
	uint64_t vq_desc_gpa, vq_avail_gpa, vq_used_gpa;
	/* Guest memory the rings and buffers are mapped from. */
	struct vmctx *vq_ctx;
	/* Host views, valid while vq_enabled (vm_map_gpa of each part). */
	struct vring_desc *vq_desc;
	struct vring_avail *vq_avail;
	struct vring_used *vq_used;

	/* The transport's per-queue state (virtio.h, virtio_pci.c). */
	uint16_t vq_msix_idx; /* MSI-X vector or VIRTIO_MSI_NO_VECTOR */
	int vq_kickfd;	      /* eventfd of the queue's ioeventfd, or -1 */
	struct mevent *vq_kickev;
	bool vq_kick_external;	      /* the device reads vq_kickfd itself */
	uint64_t vq_nkicks, vq_nintr; /* statistics */
};

/*
 * One descriptor chain as vq_getchain() found it: iov[0 .. readable-1]
 * are device-readable, iov[readable .. readable+writable-1] writable.
 */
struct vi_req {
	uint16_t idx;	   /* head index: give it back to vq_relchain */
	uint16_t readable; /* number of device-readable iovecs */
	uint16_t writable; /* number of device-writable iovecs */
	uint32_t rlen;	   /* total readable bytes */
	uint32_t wlen;	   /* total writable bytes */
};

/* ---- For device models ---- */

/*
 * Takes the next available chain.  Returns its number of descriptors
 * (1 .. niov), 0 if the driver has made nothing more available, or -1 if
 * the device is (now) NEEDS_RESET: a malformed ring or chain, such as one
 * longer than the queue size.  Every descriptor is read once from guest
 * memory; every buffer is checked to lie entirely in guest RAM.
 *
 * A driver may post any chain up to the queue size (2.7.5.3.1), so iov
 * must hold at least vq_qsize entries: size it to the queue's vq_maxsize.
 * A shorter array makes a valid chain reset the device.
 */
int vq_getchain(struct vqueue_info *vq, struct iovec *iov, int niov,
		struct vi_req *req);
/* Puts back the last n chains taken (e.g. no room to process them). */
void vq_retchains(struct vqueue_info *vq, uint16_t n);
/*
 * Publishes chain 'idx' as used with 'len' bytes written to its writable
 * part (release ordering: the data is visible before the used index).
 */
void vq_relchain(struct vqueue_info *vq, uint16_t idx, uint32_t len);
/*
 * After a batch of vq_relchain(): decides whether the driver wants an
 * interrupt (EVENT_IDX used_event or VRING_AVAIL_F_NO_INTERRUPT, virtio
 * 1.2, 2.7.7) and if so queues it.  used_all_avail: the device consumed
 * everything available (for the legacy VIRTIO_F_NOTIFY_ON_EMPTY).
 */
void vq_endchains(struct vqueue_info *vq, bool used_all_avail);
/* Queues the queue's interrupt unconditionally. */
void vq_interrupt(struct vqueue_info *vq);
/* Whether the queue is enabled and the device is not NEEDS_RESET. */
bool vq_ring_ready(const struct vqueue_info *vq);
/* Whether the driver has made chains available that were not taken. */
bool vq_has_descs(struct vqueue_info *vq);
/*
 * Kick suppression (virtio 1.2, 2.7.10): ask the driver not to notify
 * (polling devices) or to notify again.  vq_kick_enable() returns true if
 * chains arrived meanwhile, so the caller must look again.
 */
void vq_kick_disable(struct vqueue_info *vq);
bool vq_kick_enable(struct vqueue_info *vq);

/* ---- For the transport ---- */

/*
 * Validates the programmed size and ring addresses, maps the rings from
 * ctx and starts the indices at 0.  Returns 0 (also if already enabled),
 * or -1 after vo_fail.
 */
int vq_ring_start(struct vqueue_info *vq, struct vmctx *ctx);
/* Legacy (4.1.4.10 / 2.7.2): the whole ring from one page frame number,
 * at the offered size; vq_ring_start() then checks it. */
void vq_ring_set_legacy(struct vqueue_info *vq, uint32_t pfn);
/* Forgets the ring: disabled, unmapped, addresses and indices 0. */
void vq_ring_stop(struct vqueue_info *vq);

#endif /* VIRTQUEUE_H */
