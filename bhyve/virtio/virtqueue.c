/*
 * Split virtqueues (virtio 1.2, 2.7) with every guest-written value
 * treated as hostile:
 *   - the rings are validated and mapped whole when the queue is enabled
 *     (size a power of two <= the offer, alignment, inside guest RAM);
 *   - the available index may be at most the queue size ahead of the
 *     device (2.7.6), a head index must be < size;
 *   - a chain may not be longer than the queue size, counting the
 *     entries of an indirect table (2.7.5.3.1; this also catches loops),
 *     next must be < size, every buffer lies entirely in guest RAM
 *     (vm_map_gpa of addr..addr+len, overflow-checked);
 *   - indirect tables (2.7.5.3): only if negotiated, length a non-zero
 *     multiple of 16 and at most size entries, never nested, never
 *     combined with NEXT;
 *   - device-readable buffers may not follow device-writable ones
 *     (2.7.4.2);
 *   - each descriptor is copied out of guest memory exactly once and only
 *     the copy is used, so the guest cannot change a length between check
 *     and use.
 * Any violation is reported to the owner (vo_fail), which marks the
 * device NEEDS_RESET; the ring then hands out nothing until the driver
 * resets the device.  Interrupts the driver asked for are likewise left
 * to the owner (vo_interrupt): this file calls nothing of the transport.
 *
 * Ordering: the avail index is loaded with acquire semantics (the ring
 * entries and descriptors it covers are read after it); the used index is
 * stored with release semantics (the used entry and the data written into
 * the buffers are visible first); full fences separate publishing an
 * index from reading the other side's suppression fields (2.7.7, 2.7.10).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "virtqueue.h"
#include "vmmapi.h"

static int vq_fail(struct vqueue_info *vq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a violation to the owner, which makes the device NEEDS_RESET. */
static int
vq_fail(struct vqueue_info *vq, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vq->vq_owner->vo_ops->vo_fail(vq, msg);
	return -1;
}

/* Whether the owner negotiated every bit of f. */
static bool
vq_has_feature(const struct vqueue_info *vq, uint64_t f)
{
	return (*vq->vq_owner->vo_features & f) == f;
}

static bool
vq_broken(const struct vqueue_info *vq)
{
	return *vq->vq_owner->vo_broken;
}

static bool
vq_is_pow2(unsigned n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

int
vq_ring_start(struct vqueue_info *vq, struct vmctx *ctx)
{
	unsigned n = vq->vq_qsize;

	if (vq->vq_enabled)
		return 0;
	if (!vq_is_pow2(n) || n > vq->vq_maxsize)
		return vq_fail(vq, "size %u is not a power of two <= %u", n,
			       vq->vq_maxsize);
	/* 2.7: descriptor table 16-, avail 2-, used 4-byte aligned. */
	if ((vq->vq_desc_gpa & 15) != 0 || (vq->vq_avail_gpa & 1) != 0 ||
	    (vq->vq_used_gpa & 3) != 0)
		return vq_fail(vq,
			       "misaligned ring (desc %#llx avail %#llx "
			       "used %#llx)",
			       (unsigned long long)vq->vq_desc_gpa,
			       (unsigned long long)vq->vq_avail_gpa,
			       (unsigned long long)vq->vq_used_gpa);
	vq->vq_desc = vm_map_gpa(ctx, vq->vq_desc_gpa, VRING_DESC_SIZE(n));
	vq->vq_avail = vm_map_gpa(ctx, vq->vq_avail_gpa, VRING_AVAIL_SIZE(n));
	vq->vq_used = vm_map_gpa(ctx, vq->vq_used_gpa, VRING_USED_SIZE(n));
	if (vq->vq_desc == NULL || vq->vq_avail == NULL ||
	    vq->vq_used == NULL) {
		vq->vq_desc = NULL;
		vq->vq_avail = NULL;
		vq->vq_used = NULL;
		return vq_fail(vq,
			       "ring outside guest RAM (desc %#llx avail "
			       "%#llx used %#llx, size %u)",
			       (unsigned long long)vq->vq_desc_gpa,
			       (unsigned long long)vq->vq_avail_gpa,
			       (unsigned long long)vq->vq_used_gpa, n);
	}
	vq->vq_ctx = ctx;
	vq->vq_last_avail = 0;
	vq->vq_next_used = 0;
	vq->vq_save_used = 0;
	vq->vq_kick_off = false;
	vq->vq_enabled = true;
	return 0;
}

void
vq_ring_set_legacy(struct vqueue_info *vq, uint32_t pfn)
{
	uint64_t n = vq->vq_maxsize;
	uint64_t base = (uint64_t)pfn * VRING_LEGACY_ALIGN;

	vq->vq_qsize = vq->vq_maxsize;
	vq->vq_desc_gpa = base;
	vq->vq_avail_gpa = base + VRING_DESC_SIZE(n);
	vq->vq_used_gpa =
	    (vq->vq_avail_gpa + VRING_AVAIL_SIZE(n) + VRING_LEGACY_ALIGN - 1) &
	    ~(uint64_t)(VRING_LEGACY_ALIGN - 1);
}

void
vq_ring_stop(struct vqueue_info *vq)
{
	vq->vq_enabled = false;
	vq->vq_ctx = NULL;
	vq->vq_desc = NULL;
	vq->vq_avail = NULL;
	vq->vq_used = NULL;
	vq->vq_desc_gpa = vq->vq_avail_gpa = vq->vq_used_gpa = 0;
	vq->vq_qsize = vq->vq_maxsize;
	vq->vq_last_avail = vq->vq_next_used = vq->vq_save_used = 0;
	vq->vq_kick_off = false;
}

bool
vq_ring_ready(const struct vqueue_info *vq)
{
	return vq->vq_enabled && !vq_broken(vq);
}

/* The driver's avail index; acquire: ring entries are read after it. */
static uint16_t
vq_avail_idx(const struct vqueue_info *vq)
{
	return __atomic_load_n(&vq->vq_avail->idx, __ATOMIC_ACQUIRE);
}

static uint16_t *
vq_used_event(const struct vqueue_info *vq)
{
	return &vq->vq_avail->ring[vq->vq_qsize];
}

static uint16_t *
vq_avail_event(const struct vqueue_info *vq)
{
	return (uint16_t *)&vq->vq_used->ring[vq->vq_qsize];
}

bool
vq_has_descs(struct vqueue_info *vq)
{
	return vq_ring_ready(vq) && vq_avail_idx(vq) != vq->vq_last_avail;
}

/*
 * One copy of a descriptor.  The compiler barrier keeps the compiler from
 * re-reading guest memory in place of the copy (a "double fetch").
 */
static void
vq_read_desc(const void *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
}

struct vq_walk {
	struct iovec *iov;
	int niov;
	int n;
	int nread;     /* readable buffers: they come first */
	bool writable; /* a writable buffer has been seen */
	uint64_t rlen, wlen;
};

/* Maps one buffer descriptor into the next iovec. */
static int
vq_add_buf(struct vqueue_info *vq, const struct vring_desc *d,
	   struct vq_walk *w)
{
	void *p;

	/* 2.7.5.3.1: no chain is longer than the queue size. */
	if (w->n >= vq->vq_qsize)
		return vq_fail(vq, "chain longer than the queue size %u",
			       vq->vq_qsize);
	/* Devices size iov to their ring, so this is a device bug. */
	if (w->n >= w->niov)
		return vq_fail(vq,
			       "chain of %d+ descriptors, but the device "
			       "only holds %d (device bug)",
			       w->n + 1, w->niov);
	if (d->addr + d->len < d->addr)
		return vq_fail(vq, "buffer %#llx+%u wraps",
			       (unsigned long long)d->addr, d->len);
	p = vm_map_gpa(vq->vq_ctx, d->addr, d->len);
	if (p == NULL)
		return vq_fail(vq, "buffer %#llx+%u outside guest RAM",
			       (unsigned long long)d->addr, d->len);
	if (d->flags & VRING_DESC_F_WRITE) {
		w->writable = true;
		w->wlen += d->len;
	} else {
		if (w->writable)
			return vq_fail(
			    vq, "device-readable buffer after a writable one");
		w->rlen += d->len;
		w->nread++;
	}
	if (w->rlen > UINT32_MAX || w->wlen > UINT32_MAX)
		return vq_fail(vq, "chain longer than 4 GiB");
	w->iov[w->n].iov_base = p;
	w->iov[w->n].iov_len = d->len;
	w->n++;
	return 0;
}

/* An indirect table (2.7.5.3): the last element of its chain. */
static int
vq_walk_indirect(struct vqueue_info *vq, const struct vring_desc *ind,
		 struct vq_walk *w)
{
	const uint8_t *table;
	struct vring_desc d;
	uint32_t count, i = 0, steps = 0;

	if (!vq_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC))
		return vq_fail(vq, "indirect descriptor not negotiated");
	if (ind->flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor with NEXT");
	if (ind->len == 0 || ind->len % sizeof(struct vring_desc) != 0)
		return vq_fail(vq, "indirect table length %u", ind->len);
	count = ind->len / (uint32_t)sizeof(struct vring_desc);
	if (count > vq->vq_qsize)
		return vq_fail(vq, "indirect table of %u > %u entries", count,
			       vq->vq_qsize);
	table = vm_map_gpa(vq->vq_ctx, ind->addr, ind->len);
	if (table == NULL)
		return vq_fail(vq, "indirect table %#llx+%u outside guest RAM",
			       (unsigned long long)ind->addr, ind->len);
	for (;;) {
		if (steps++ >= count)
			return vq_fail(vq, "loop in indirect table");
		vq_read_desc(table + (size_t)i * sizeof(d), &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_fail(vq, "nested indirect table");
		if (vq_add_buf(vq, &d, w) != 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return vq_fail(vq, "indirect next %u >= %u", d.next,
				       count);
		i = d.next;
	}
}

static int
vq_walk_chain(struct vqueue_info *vq, uint16_t head, struct vq_walk *w)
{
	struct vring_desc d;
	unsigned steps = 0;
	uint16_t idx = head;

	for (;;) {
		/* A chain visits each descriptor at most once. */
		if (steps++ >= vq->vq_qsize)
			return vq_fail(vq, "descriptor loop from head %u",
				       head);
		vq_read_desc(&vq->vq_desc[idx], &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_walk_indirect(vq, &d, w);
		if (vq_add_buf(vq, &d, w) != 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->vq_qsize)
			return vq_fail(vq, "next %u >= size %u", d.next,
				       vq->vq_qsize);
		idx = d.next;
	}
}

/*
 * Tells the driver which avail index to kick at (2.7.10) and, because the
 * driver may have added chains just before reading it, looks again.
 */
static uint16_t
vq_publish_avail_event(struct vqueue_info *vq)
{
	__atomic_store_n(vq_avail_event(vq), vq->vq_last_avail,
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_idx(vq);
}

int
vq_getchain(struct vqueue_info *vq, struct iovec *iov, int niov,
	    struct vi_req *req)
{
	struct vq_walk w = {.iov = iov, .niov = niov};
	uint16_t avail, pending, head;

	if (vq_broken(vq))
		return -1;
	if (!vq->vq_enabled)
		return 0;
	avail = vq_avail_idx(vq);
	if (avail == vq->vq_last_avail) {
		if (!vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ||
		    vq->vq_kick_off)
			return 0;
		avail = vq_publish_avail_event(vq);
		if (avail == vq->vq_last_avail)
			return 0;
	}
	pending = (uint16_t)(avail - vq->vq_last_avail);
	if (pending > vq->vq_qsize)
		return vq_fail(vq, "avail idx %u is %u ahead of %u", avail,
			       pending, vq->vq_last_avail);
	head = __atomic_load_n(
	    &vq->vq_avail->ring[vq->vq_last_avail & (vq->vq_qsize - 1)],
	    __ATOMIC_RELAXED);
	if (head >= vq->vq_qsize)
		return vq_fail(vq, "head %u >= size %u", head, vq->vq_qsize);
	if (vq_walk_chain(vq, head, &w) != 0)
		return -1;
	vq->vq_last_avail++;
	*req = (struct vi_req){
	    .idx = head,
	    .readable = (uint16_t)w.nread,
	    .writable = (uint16_t)(w.n - w.nread),
	    .rlen = (uint32_t)w.rlen,
	    .wlen = (uint32_t)w.wlen,
	};
	return w.n;
}

void
vq_retchains(struct vqueue_info *vq, uint16_t n)
{
	vq->vq_last_avail = (uint16_t)(vq->vq_last_avail - n);
}

void
vq_relchain(struct vqueue_info *vq, uint16_t idx, uint32_t len)
{
	struct vring_used_elem *ue;

	if (!vq_ring_ready(vq))
		return;
	ue = &vq->vq_used->ring[vq->vq_next_used & (vq->vq_qsize - 1)];
	__atomic_store_n(&ue->id, (uint32_t)idx, __ATOMIC_RELAXED);
	__atomic_store_n(&ue->len, len, __ATOMIC_RELAXED);
	vq->vq_next_used++;
	__atomic_store_n(&vq->vq_used->idx, vq->vq_next_used, __ATOMIC_RELEASE);
}

void
vq_endchains(struct vqueue_info *vq, bool used_all_avail)
{
	uint16_t old, new, event;
	bool intr;

	if (!vq_ring_ready(vq))
		return;
	/* The used index must be visible before we read the driver's
	 * suppression fields, or both sides could skip (2.7.7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = vq->vq_save_used;
	new = vq->vq_next_used;
	vq->vq_save_used = new;
	if (vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		event = __atomic_load_n(vq_used_event(vq), __ATOMIC_RELAXED);
		/* vring_need_event(): event lies in [old, new). */
		intr = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		intr = new != old && !(__atomic_load_n(&vq->vq_avail->flags,
						       __ATOMIC_RELAXED) &
				       VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!intr && used_all_avail &&
	    vq_has_feature(vq, VIRTIO_F_NOTIFY_ON_EMPTY))
		intr = true;
	if (intr)
		vq_interrupt(vq);
}

void
vq_interrupt(struct vqueue_info *vq)
{
	vq->vq_nintr++;
	vq->vq_owner->vo_ops->vo_interrupt(vq);
}

void
vq_kick_disable(struct vqueue_info *vq)
{
	vq->vq_kick_off = true;
	if (!vq_ring_ready(vq) || vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return;
	__atomic_or_fetch(&vq->vq_used->flags, VRING_USED_F_NO_NOTIFY,
			  __ATOMIC_RELAXED);
}

bool
vq_kick_enable(struct vqueue_info *vq)
{
	vq->vq_kick_off = false;
	if (!vq_ring_ready(vq))
		return false;
	if (vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		__atomic_store_n(vq_avail_event(vq), vq->vq_last_avail,
				 __ATOMIC_RELAXED);
	} else {
		__atomic_and_fetch(&vq->vq_used->flags,
				   (uint16_t)~VRING_USED_F_NO_NOTIFY,
				   __ATOMIC_RELAXED);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_idx(vq) != vq->vq_last_avail;
}
