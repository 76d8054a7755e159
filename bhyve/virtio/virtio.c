/*
 * Virtio device state shared by every transport register file: device
 * status and reset (virtio 1.2, 2.1 and 3.1), feature negotiation (2.2),
 * NEEDS_RESET after a guest violation, the queues' owner (what the ring
 * code reports through struct vq_owner), and interrupts: queued while the
 * device lock is held, sent by virtio_unlock() through an irqfd bound to
 * a KVM MSI route (MSI-X, virtio_irqfd.c), single MSI, or INTx with the
 * ISR register.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mevent.h"
#include "pci_emul.h"
#include "virtio_impl.h"

/* A hostile guest could loop reset/violate: report only the first few. */
#define VI_MAX_REPORTS 8

static void vi_vq_fail(struct vqueue_info *vq, const char *msg);
static void vi_vq_interrupt(struct vqueue_info *vq);

/* How the ring code reaches the device (virtqueue.h). */
static const struct vq_ops vi_vq_ops = {
    .vo_fail = vi_vq_fail,
    .vo_interrupt = vi_vq_interrupt,
};

void
vi_softc_linkup(struct virtio_softc *vs, const struct virtio_consts *vc,
		void *sc, struct pci_devinst *pi, struct vqueue_info *queues)
{
	vs->vs_vc = vc;
	vs->vs_sc = sc;
	vs->vs_pi = pi;
	vs->vs_ctx = pi != NULL ? pi->pi_vmctx : NULL;
	vs->vs_queues = queues;
	pthread_mutex_init(&vs->vs_mtx, NULL);
	pthread_mutex_init(&vs->vs_route_mtx, NULL);
	vs->vs_msix_cfg_idx = VIRTIO_MSI_NO_VECTOR;
	vs->vs_legacy_bar = vs->vs_msix_bar = vs->vs_modern_bar = -1;
	vs->vs_vqowner = (struct vq_owner){
	    .vo_features = &vs->vs_negotiated_caps,
	    .vo_broken = &vs->vs_broken,
	    .vo_ops = &vi_vq_ops,
	};
	for (int i = 0; i < vc->vc_nvq; i++) {
		struct vqueue_info *vq = &queues[i];

		vq->vq_owner = &vs->vs_vqowner;
		vq->vq_vs = vs;
		vq->vq_num = (uint16_t)i;
		vq->vq_msix_idx = VIRTIO_MSI_NO_VECTOR;
		vq->vq_kickfd = -1;
	}
	if (pi != NULL)
		pi->pi_arg = vs;
}

void
virtio_lock(struct virtio_softc *vs)
{
	pthread_mutex_lock(&vs->vs_mtx);
}

void
virtio_unlock_nodeliver(struct virtio_softc *vs)
{
	pthread_mutex_unlock(&vs->vs_mtx);
}

void
virtio_unlock(struct virtio_softc *vs)
{
	int vecs[VIRTIO_MAX_QUEUES + 1], nv = 0;
	bool msi = vs->vs_msi_pending;

	vs->vs_msi_pending = false;
	for (int v = 0; v < vs->vs_nvec; v++) {
		if (vs->vs_vec_pending[v] &&
		    nv < (int)(sizeof(vecs) / sizeof(vecs[0]))) {
			vs->vs_vec_pending[v] = false;
			vecs[nv++] = v;
		}
	}
	pthread_mutex_unlock(&vs->vs_mtx);
	for (int i = 0; i < nv; i++)
		vi_msix_send(vs, vecs[i]);
	if (msi)
		pci_generate_msi(vs->vs_pi, 0);
}

/* Queues an interrupt on vector v, or ISR bit(s) + INTx/MSI. */
static void
vi_interrupt(struct virtio_softc *vs, uint8_t isr, uint16_t vector)
{
	if (vs->vs_pi == NULL)
		return;
	if (vs->vs_msix && pci_msix_enabled(vs->vs_pi)) {
		if (vector < vs->vs_nvec)
			vs->vs_vec_pending[vector] = true;
		return;
	}
	vs->vs_isr |= isr;
	if (pci_msi_enabled(vs->vs_pi))
		vs->vs_msi_pending = true;
	pci_lintr_assert(vs->vs_pi);
	vs->vs_lintr = true;
}

/* vo_interrupt: the ring wants vq's interrupt (vq_interrupt counted it). */
static void
vi_vq_interrupt(struct vqueue_info *vq)
{
	vi_interrupt(vq->vq_vs, VIRTIO_PCI_ISR_INTR, vq->vq_msix_idx);
}

void
vi_config_intr(struct virtio_softc *vs)
{
	vi_interrupt(vs, VIRTIO_PCI_ISR_CONFIG, vs->vs_msix_cfg_idx);
}

void
vi_config_changed(struct virtio_softc *vs)
{
	vs->vs_cfggen++;
	if (vs->vs_status & VIRTIO_CONFIG_S_DRIVER_OK)
		vi_config_intr(vs);
}

uint8_t
vi_isr_read(struct virtio_softc *vs)
{
	uint8_t isr = vs->vs_isr;

	/* 4.1.4.5: reading the ISR clears it and de-asserts INTx. */
	vs->vs_isr = 0;
	if (vs->vs_lintr) {
		vs->vs_lintr = false;
		pci_lintr_deassert(vs->vs_pi);
	}
	return isr;
}

void
vi_set_needs_reset_v(struct virtio_softc *vs, const char *fmt, va_list ap)
{
	char msg[200];

	if (vs->vs_broken)
		return;
	vs->vs_broken = true;
	vs->vs_status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (vs->vs_nlogged < VI_MAX_REPORTS) {
		vs->vs_nlogged++;
		vsnprintf(msg, sizeof(msg), fmt, ap);
		fprintf(stderr,
			"bhyve: %s %s: guest error: %s; device needs "
			"reset%s\n",
			vs->vs_vc->vc_name, vs->vs_pi ? vs->vs_pi->pi_name : "",
			msg,
			vs->vs_nlogged == VI_MAX_REPORTS
			    ? " (further errors not "
			      "reported)"
			    : "");
	}
	/* 2.1.2: with DRIVER_OK set, NEEDS_RESET is announced by a config
	 * change notification. */
	if (vs->vs_status & VIRTIO_CONFIG_S_DRIVER_OK)
		vi_config_intr(vs);
}

void
vi_set_needs_reset(struct virtio_softc *vs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vi_set_needs_reset_v(vs, fmt, ap);
	va_end(ap);
}

/* vo_fail: the ring found a guest violation on vq. */
static void
vi_vq_fail(struct vqueue_info *vq, const char *msg)
{
	vi_set_needs_reset(vq->vq_vs, "queue %u: %s", vq->vq_num, msg);
}

bool
vi_device_live(const struct virtio_softc *vs)
{
	return (vs->vs_status & VIRTIO_CONFIG_S_DRIVER_OK) && !vs->vs_broken &&
	       !vs->vs_resetting && !(vs->vs_status & VIRTIO_CONFIG_S_FAILED);
}

uint64_t
vi_offered(const struct virtio_softc *vs, bool modern)
{
	uint64_t f = vs->vs_hv_caps;

	/* 6.3: ANY_LAYOUT and NOTIFY_ON_EMPTY are legacy-interface bits;
	 * VERSION_1 does not fit the legacy 32-bit register anyway. */
	if (modern)
		return f & ~(VIRTIO_F_ANY_LAYOUT | VIRTIO_F_NOTIFY_ON_EMPTY);
	return f & 0xffffffffULL;
}

/* Drops interrupts queued for the driver's old setup. */
static void
vi_drop_interrupts(struct virtio_softc *vs)
{
	vs->vs_msi_pending = false;
	for (int v = 0; v < vs->vs_nvec; v++)
		vs->vs_vec_pending[v] = false;
	(void)vi_isr_read(vs);
}

/* The end of a reset: the core forgets the driver's setup (2.4). */
static void
vi_reset_state(struct virtio_softc *vs)
{
	for (int i = 0; i < vs->vs_vc->vc_nvq; i++)
		vi_queue_stop(vs, &vs->vs_queues[i]);
	vs->vs_negotiated_caps = 0;
	vs->vs_driver_caps = 0;
	vs->vs_dfselect = vs->vs_gfselect = 0;
	vs->vs_curq = 0;
	vs->vs_status = 0;
	vs->vs_msix_cfg_idx = VIRTIO_MSI_NO_VECTOR;
	vs->vs_broken = false;
	vs->vs_resetting = false;
	vi_drop_interrupts(vs);
}

/*
 * May run under pi_cfg_lock (the PCI_CFG window), so it never waits: a
 * device with requests in flight finishes the reset from its completion
 * path (vi_reset_complete).  vc_reset and the queue stop happen under
 * one hold of vs_mtx, so no kick submits anything in between.
 */
void
vi_reset(struct virtio_softc *vs)
{
	const struct virtio_consts *vc = vs->vs_vc;
	bool quiet = true;

	if (vs->vs_resetting)
		return;
	if (vc->vc_reset != NULL)
		quiet = vc->vc_reset(vs->vs_sc);
	if (quiet) {
		vi_reset_state(vs);
		return;
	}
	/* Status keeps its old (non-zero) value until the reset ends. */
	vs->vs_resetting = true;
	for (int i = 0; i < vc->vc_nvq; i++)
		vi_queue_stop(vs, &vs->vs_queues[i]);
	vi_drop_interrupts(vs);
}

void
vi_reset_complete(struct virtio_softc *vs)
{
	if (vs->vs_resetting)
		vi_reset_state(vs);
}

/* FEATURES_OK (3.1.1 step 5): accept only what was offered, and a modern
 * driver must take VERSION_1 (we do not emulate legacy semantics for it). */
static bool
vi_features_ok(struct virtio_softc *vs)
{
	uint64_t f = vs->vs_driver_caps;

	if ((f & ~vi_offered(vs, true)) != 0 || !(f & VIRTIO_F_VERSION_1))
		return false;
	vs->vs_negotiated_caps = f;
	if (vs->vs_vc->vc_apply_features != NULL)
		vs->vs_vc->vc_apply_features(vs->vs_sc, f);
	return true;
}

/* Hands queues the driver filled before DRIVER_OK to the device. */
static void
vi_kick_ready(struct virtio_softc *vs)
{
	for (int i = 0; i < vs->vs_vc->vc_nvq; i++) {
		struct vqueue_info *vq = &vs->vs_queues[i];

		if (vq_ring_ready(vq) && vs->vs_vc->vc_qnotify != NULL)
			vs->vs_vc->vc_qnotify(vs->vs_sc, vq);
	}
}

void
vi_status_write(struct virtio_softc *vs, uint8_t val)
{
	uint8_t old = vs->vs_status;

	if (vs->vs_resetting)
		return; /* the driver must wait for status 0 first */
	if (val == 0) {
		vi_reset(vs);
		return;
	}
	/* NEEDS_RESET is the device's: only a reset clears it. */
	val = (uint8_t)((val & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
			(old & VIRTIO_CONFIG_S_NEEDS_RESET));
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !vi_features_ok(vs))
		val &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	vs->vs_status = val;
	if ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK) && vi_device_live(vs))
		vi_kick_ready(vs);
}

int
vi_queue_start(struct virtio_softc *vs, struct vqueue_info *vq)
{
	if (vq->vq_enabled)
		return 0;
	if (vq_ring_start(vq, vs->vs_ctx) != 0)
		return -1;
	if (vs->vs_vc->vc_qenable != NULL)
		vs->vs_vc->vc_qenable(vs->vs_sc, vq, true);
	return 0;
}

int
vi_queue_start_legacy(struct virtio_softc *vs, struct vqueue_info *vq,
		      uint32_t pfn)
{
	vq_ring_set_legacy(vq, pfn);
	return vi_queue_start(vs, vq);
}

void
vi_queue_stop(struct virtio_softc *vs, struct vqueue_info *vq)
{
	bool was = vq->vq_enabled;

	/* The device sees the queue disabled but its ring still there. */
	vq->vq_enabled = false;
	if (was && vs->vs_vc->vc_qenable != NULL)
		vs->vs_vc->vc_qenable(vs->vs_sc, vq, false);
	vq_ring_stop(vq);
	vq->vq_msix_idx = VIRTIO_MSI_NO_VECTOR;
}

void
vi_queue_notify(struct virtio_softc *vs, int qidx)
{
	struct vqueue_info *vq;

	if (qidx < 0 || qidx >= vs->vs_vc->vc_nvq)
		return;
	vq = &vs->vs_queues[qidx];
	vq->vq_nkicks++;
	/* 3.1.1: no buffers are used before DRIVER_OK. */
	if (!vq_ring_ready(vq) || !vi_device_live(vs) ||
	    vs->vs_vc->vc_qnotify == NULL)
		return;
	vs->vs_vc->vc_qnotify(vs->vs_sc, vq);
}

int
vi_cfg_read_bytes(const void *cfg, size_t cfgsize, int off, int size,
		  uint32_t *val)
{
	uint32_t v = 0;

	if (off < 0 || size < 1 || size > 4 || (size_t)off > cfgsize ||
	    (size_t)size > cfgsize - (size_t)off)
		return -1;
	memcpy(&v, (const uint8_t *)cfg + off, (size_t)size);
	*val = v;
	return 0;
}

void
vi_queue_kick_external(struct virtio_softc *vs, struct vqueue_info *vq,
		       bool external)
{
	vq->vq_kick_external = external;
	if (vq->vq_kickev == NULL)
		return;
	if (external)
		mevent_disable(vq->vq_kickev);
	else
		mevent_enable(vq->vq_kickev);
}

int
vq_setup_test(struct virtio_softc *vs, int qidx, uint16_t size, uint64_t desc,
	      uint64_t avail, uint64_t used)
{
	struct vqueue_info *vq;

	if (qidx < 0 || qidx >= vs->vs_vc->vc_nvq)
		return -1;
	vq = &vs->vs_queues[qidx];
	vq->vq_qsize = size;
	vq->vq_desc_gpa = desc;
	vq->vq_avail_gpa = avail;
	vq->vq_used_gpa = used;
	return vi_queue_start(vs, vq);
}
