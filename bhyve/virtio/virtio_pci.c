/*
 * The virtio PCI transport (virtio 1.2, 4.1):
 *   BAR 0 (I/O)      the legacy register file (4.1.4.10), for legacy and
 *                    transitional devices;
 *   BAR 1 (mem32)    the MSI-X table and PBA (pci_emul);
 *   BAR 4 (mem64)    the modern structures the vendor capabilities point
 *                    at: common config, ISR, device config, notify, one
 *                    4 KiB page each (4.1.4.3 - 4.1.4.8);
 * plus the VIRTIO_PCI_CAP_PCI_CFG window in config space (4.1.4.9).
 * Queue kicks: one eventfd per queue, attached by KVM ioeventfds to the
 * legacy notify port (datamatch = queue index) and to the queue's modern
 * notify address, read in the mevent loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "mevent.h"
#include "pci_emul.h"
#include "virtio_impl.h"
#include "vmmapi.h"

/* Vendor capability types (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5

/* Offsets inside struct virtio_pci_cap. */
#define VCAP_LEN    2
#define VCAP_TYPE   3
#define VCAP_BAR    4
#define VCAP_OFFSET 8
#define VCAP_LENGTH 12
#define VCAP_EXTRA  16 /* notify_off_multiplier / pci_cfg_data */
#define VCAP_SIZE   16

/* 4.1.2.1: non-transitional devices use a subsystem ID >= 0x40. */
#define VIRTIO_SUBDEV_MODERN 0x1100

/* Common configuration fields (4.1.4.3). */
#define VCC_DFSELECT  0x00
#define VCC_DF	      0x04
#define VCC_GFSELECT  0x08
#define VCC_GF	      0x0c
#define VCC_MSIX      0x10
#define VCC_NUMQ      0x12
#define VCC_STATUS    0x14
#define VCC_CFGGEN    0x15
#define VCC_Q_SELECT  0x16
#define VCC_Q_SIZE    0x18
#define VCC_Q_MSIX    0x1a
#define VCC_Q_ENABLE  0x1c
#define VCC_Q_NOFF    0x1e
#define VCC_Q_DESCLO  0x20
#define VCC_Q_DESCHI  0x24
#define VCC_Q_AVAILLO 0x28
#define VCC_Q_AVAILHI 0x2c
#define VCC_Q_USEDLO  0x30
#define VCC_Q_USEDHI  0x34

static bool
vi_has_modern(const struct virtio_softc *vs)
{
	return vs->vs_transport != VIRTIO_TRANSPORT_LEGACY;
}

static bool
vi_has_legacy(const struct virtio_softc *vs)
{
	return vs->vs_transport != VIRTIO_TRANSPORT_MODERN;
}

static struct vqueue_info *
vi_curq(struct virtio_softc *vs)
{
	if (vs->vs_curq >= vs->vs_vc->vc_nvq)
		return NULL;
	return &vs->vs_queues[vs->vs_curq];
}

/* A vector the driver may assign: in the table, else NO_VECTOR (4.1.5). */
static uint16_t
vi_vector(const struct virtio_softc *vs, uint32_t v)
{
	return v < (uint32_t)vs->vs_nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* ---- Device-specific configuration ---- */

static uint32_t
vi_devcfg_read(struct virtio_softc *vs, uint64_t off, int size)
{
	const struct virtio_consts *vc = vs->vs_vc;
	uint32_t val = 0;

	if (size > 4 || off > vc->vc_cfgsize ||
	    (uint64_t)size > vc->vc_cfgsize - off || vc->vc_cfgread == NULL)
		return 0;
	if (vc->vc_cfgread(vs->vs_sc, (int)off, size, &val) != 0)
		return 0;
	return val;
}

static void
vi_devcfg_write(struct virtio_softc *vs, uint64_t off, int size, uint32_t val)
{
	const struct virtio_consts *vc = vs->vs_vc;

	if (size > 4 || off > vc->vc_cfgsize ||
	    (uint64_t)size > vc->vc_cfgsize - off || vc->vc_cfgwrite == NULL)
		return;
	(void)vc->vc_cfgwrite(vs->vs_sc, (int)off, size, val);
}

/* ---- Modern common configuration ---- */

static void
vi_put(uint8_t *img, int off, uint64_t val, int size)
{
	memcpy(img + off, &val, (size_t)size); /* x86: little-endian */
}

/* Reads have no side effects: build the structure, copy the bytes. */
static uint64_t
vi_common_read(struct virtio_softc *vs, uint64_t off, int size)
{
	uint8_t img[VI_COMMON_SIZE] = {0};
	struct vqueue_info *vq = vi_curq(vs);
	uint64_t df = vi_offered(vs, true), val = 0;

	if (off >= VI_COMMON_SIZE || (uint64_t)size > VI_COMMON_SIZE - off)
		return 0;
	vi_put(img, VCC_DFSELECT, vs->vs_dfselect, 4);
	vi_put(img, VCC_DF,
	       vs->vs_dfselect == 0   ? (uint32_t)df
	       : vs->vs_dfselect == 1 ? (uint32_t)(df >> 32)
				      : 0,
	       4);
	vi_put(img, VCC_GFSELECT, vs->vs_gfselect, 4);
	vi_put(img, VCC_GF,
	       vs->vs_gfselect == 0   ? (uint32_t)vs->vs_driver_caps
	       : vs->vs_gfselect == 1 ? (uint32_t)(vs->vs_driver_caps >> 32)
				      : 0,
	       4);
	vi_put(img, VCC_MSIX, vs->vs_msix_cfg_idx, 2);
	vi_put(img, VCC_NUMQ, (uint64_t)vs->vs_vc->vc_nvq, 2);
	vi_put(img, VCC_STATUS, vs->vs_status, 1);
	vi_put(img, VCC_CFGGEN, vs->vs_cfggen, 1);
	vi_put(img, VCC_Q_SELECT, vs->vs_curq, 2);
	if (vq != NULL) {
		vi_put(img, VCC_Q_SIZE, vq->vq_qsize, 2);
		vi_put(img, VCC_Q_MSIX, vq->vq_msix_idx, 2);
		vi_put(img, VCC_Q_ENABLE, vq->vq_enabled, 2);
		vi_put(img, VCC_Q_NOFF, vq->vq_num, 2);
		vi_put(img, VCC_Q_DESCLO, vq->vq_desc_gpa, 8);
		vi_put(img, VCC_Q_AVAILLO, vq->vq_avail_gpa, 8);
		vi_put(img, VCC_Q_USEDLO, vq->vq_used_gpa, 8);
	} else {
		vi_put(img, VCC_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
	}
	memcpy(&val, img + off, (size_t)size);
	return val;
}

/* Replaces the 32-bit half at 'hi' of a 64-bit queue address. */
static void
vi_set_half(uint64_t *addr, bool hi, uint32_t val)
{
	if (hi)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | val;
}

/* A queue address register; 8-byte or either 4-byte half. */
static void
vi_common_write_addr(struct vqueue_info *vq, uint64_t off, int size,
		     uint64_t val)
{
	uint64_t *field;
	uint64_t base = off & ~7ULL;
	bool hi = (off & 7) == 4;

	if (base == VCC_Q_DESCLO)
		field = &vq->vq_desc_gpa;
	else if (base == VCC_Q_AVAILLO)
		field = &vq->vq_avail_gpa;
	else
		field = &vq->vq_used_gpa;
	/* 4.1.4.3.2: the driver writes these only while disabled. */
	if (vq->vq_enabled)
		return;
	if (size == 8 && !hi)
		*field = val;
	else if (size == 4)
		vi_set_half(field, hi, (uint32_t)val);
}

static void
vi_common_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	struct vqueue_info *vq = vi_curq(vs);

	if (off >= VCC_Q_DESCLO && off < VI_COMMON_SIZE) {
		if (vq != NULL && (off & 3) == 0 &&
		    (size == 4 || (size == 8 && (off & 7) == 0)))
			vi_common_write_addr(vq, off, size, val);
		return;
	}
	switch (off) {
	case VCC_DFSELECT:
		if (size == 4)
			vs->vs_dfselect = (uint32_t)val;
		break;
	case VCC_GFSELECT:
		if (size == 4)
			vs->vs_gfselect = (uint32_t)val;
		break;
	case VCC_GF:
		/* Features are fixed once FEATURES_OK is set (3.1.1). */
		if (size != 4 || (vs->vs_status & VIRTIO_CONFIG_S_FEATURES_OK))
			break;
		if (vs->vs_gfselect == 0)
			vs->vs_driver_caps =
			    (vs->vs_driver_caps & ~0xffffffffULL) |
			    (uint32_t)val;
		else if (vs->vs_gfselect == 1)
			vs->vs_driver_caps =
			    (vs->vs_driver_caps & 0xffffffffULL) |
			    ((uint64_t)(uint32_t)val << 32);
		break;
	case VCC_MSIX:
		if (size == 2)
			vs->vs_msix_cfg_idx = vi_vector(vs, (uint32_t)val);
		break;
	case VCC_STATUS:
		if (size == 1)
			vi_status_write(vs, (uint8_t)val);
		break;
	case VCC_Q_SELECT:
		if (size == 2)
			vs->vs_curq = (uint16_t)val;
		break;
	case VCC_Q_SIZE:
		/* Checked when the queue is enabled. */
		if (size == 2 && vq != NULL && !vq->vq_enabled)
			vq->vq_qsize = (uint16_t)val;
		break;
	case VCC_Q_MSIX:
		if (size == 2 && vq != NULL)
			vq->vq_msix_idx = vi_vector(vs, (uint32_t)val);
		break;
	case VCC_Q_ENABLE:
		/* Only 1 may be written (4.1.4.3.2); failure: NEEDS_RESET. */
		if (size == 2 && vq != NULL && val == 1 && !vs->vs_broken)
			(void)vi_queue_start(vs, vq);
		break;
	default:
		break; /* read-only or not a field start */
	}
}

/* ---- Modern BAR ---- */

static uint64_t
vi_modern_read(struct virtio_softc *vs, uint64_t off, int size)
{
	if (off < VI_COMMON_OFF + VI_REGION_SIZE)
		return vi_common_read(vs, off - VI_COMMON_OFF, size);
	if (off == VI_ISR_OFF)
		return vi_isr_read(vs);
	if (off >= VI_DEVCFG_OFF && off < VI_DEVCFG_OFF + VI_REGION_SIZE)
		return vi_devcfg_read(vs, off - VI_DEVCFG_OFF, size);
	return 0;
}

static void
vi_modern_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	/* A reset is draining: nothing may restart the device (2.4.1). */
	if (vs->vs_resetting)
		return;
	if (off < VI_COMMON_OFF + VI_REGION_SIZE)
		vi_common_write(vs, off - VI_COMMON_OFF, size, val);
	else if (off >= VI_DEVCFG_OFF && off < VI_DEVCFG_OFF + VI_REGION_SIZE)
		vi_devcfg_write(vs, off - VI_DEVCFG_OFF, size, (uint32_t)val);
	else if (off >= VI_NOTIFY_OFF && off < VI_NOTIFY_OFF + VI_REGION_SIZE)
		vi_queue_notify(vs,
				(int)((off - VI_NOTIFY_OFF) / VI_NOTIFY_MULT));
}

/* ---- Legacy I/O BAR ---- */

static int
vi_legacy_cfgoff(const struct virtio_softc *vs)
{
	return vs->vs_msix && pci_msix_enabled(vs->vs_pi) ? VI_LEG_CFG_MSIX
							  : VI_LEG_CFG_NOMSIX;
}

static uint64_t
vi_legacy_read(struct virtio_softc *vs, uint64_t off, int size)
{
	struct vqueue_info *vq = vi_curq(vs);
	int cfg = vi_legacy_cfgoff(vs);

	if (off >= (uint64_t)cfg)
		return vi_devcfg_read(vs, off - (uint64_t)cfg, size);
	switch (off) {
	case VI_LEG_HOST_FEATURES:
		return size == 4 ? vi_offered(vs, false) : 0;
	case VI_LEG_GUEST_FEATURES:
		return size == 4 ? (uint32_t)vs->vs_negotiated_caps : 0;
	case VI_LEG_QUEUE_PFN:
		return size == 4 && vq != NULL
			   ? vq->vq_desc_gpa / VRING_LEGACY_ALIGN
			   : 0;
	case VI_LEG_QUEUE_NUM:
		return size == 2 && vq != NULL ? vq->vq_maxsize : 0;
	case VI_LEG_QUEUE_SEL:
		return size == 2 ? vs->vs_curq : 0;
	case VI_LEG_STATUS:
		return size == 1 ? vs->vs_status : 0;
	case VI_LEG_ISR:
		return size == 1 ? vi_isr_read(vs) : 0;
	case VI_LEG_MSIX_CONFIG:
		return size == 2 ? vs->vs_msix_cfg_idx : 0;
	case VI_LEG_MSIX_QUEUE:
		return size == 2 && vq != NULL ? vq->vq_msix_idx
					       : VIRTIO_MSI_NO_VECTOR;
	default:
		return 0;
	}
}

/* Legacy drivers accept features by writing them (no FEATURES_OK). */
static void
vi_legacy_features(struct virtio_softc *vs, uint32_t val)
{
	if (vs->vs_status & VIRTIO_CONFIG_S_DRIVER_OK)
		return;
	vs->vs_negotiated_caps = val & vi_offered(vs, false);
	vs->vs_driver_caps = vs->vs_negotiated_caps;
	if (vs->vs_vc->vc_apply_features != NULL)
		vs->vs_vc->vc_apply_features(vs->vs_sc, vs->vs_negotiated_caps);
}

static void
vi_legacy_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	struct vqueue_info *vq = vi_curq(vs);
	int cfg = vi_legacy_cfgoff(vs);

	/* A reset is draining: nothing may restart the device (2.4.1). */
	if (vs->vs_resetting)
		return;
	if (off >= (uint64_t)cfg) {
		vi_devcfg_write(vs, off - (uint64_t)cfg, size, (uint32_t)val);
		return;
	}
	switch (off) {
	case VI_LEG_GUEST_FEATURES:
		if (size == 4)
			vi_legacy_features(vs, (uint32_t)val);
		break;
	case VI_LEG_QUEUE_PFN:
		if (size != 4 || vq == NULL)
			break;
		if (val == 0)
			vi_queue_stop(vs, vq);
		else if (!vq->vq_enabled && !vs->vs_broken)
			(void)vi_queue_start_legacy(vs, vq, (uint32_t)val);
		break;
	case VI_LEG_QUEUE_SEL:
		if (size == 2)
			vs->vs_curq = (uint16_t)val;
		break;
	case VI_LEG_QUEUE_NOTIFY:
		if (size == 2)
			vi_queue_notify(vs, (int)(uint16_t)val);
		break;
	case VI_LEG_STATUS:
		if (size == 1)
			vi_status_write(vs, (uint8_t)val);
		break;
	case VI_LEG_MSIX_CONFIG:
		if (size == 2)
			vs->vs_msix_cfg_idx = vi_vector(vs, (uint32_t)val);
		break;
	case VI_LEG_MSIX_QUEUE:
		if (size == 2 && vq != NULL)
			vq->vq_msix_idx = vi_vector(vs, (uint32_t)val);
		break;
	default:
		break;
	}
}

/* ---- BAR dispatch ---- */

static uint64_t
vi_bar_read(struct virtio_softc *vs, int baridx, uint64_t off, int size)
{
	if (baridx == vs->vs_legacy_bar)
		return vi_legacy_read(vs, off, size);
	if (baridx == vs->vs_modern_bar)
		return vi_modern_read(vs, off, size);
	return 0;
}

static void
vi_bar_write(struct virtio_softc *vs, int baridx, uint64_t off, int size,
	     uint64_t val)
{
	if (baridx == vs->vs_legacy_bar)
		vi_legacy_write(vs, off, size, val);
	else if (baridx == vs->vs_modern_bar)
		vi_modern_write(vs, off, size, val);
}

uint64_t
vi_pci_read(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct virtio_softc *vs = pi->pi_arg;
	uint64_t val;

	virtio_lock(vs);
	val = vi_bar_read(vs, baridx, offset, size);
	virtio_unlock(vs);
	return val;
}

void
vi_pci_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	     uint64_t value)
{
	struct virtio_softc *vs = pi->pi_arg;

	virtio_lock(vs);
	vi_bar_write(vs, baridx, offset, size, value);
	virtio_unlock(vs);
}

/* ---- The PCI_CFG window (4.1.4.9) ---- */

static bool
vi_in_range(int off, int bytes, int start, int len)
{
	return off >= start && off + bytes <= start + len;
}

/*
 * The access the window's bar/offset/length fields describe, or false
 * (the spec leaves other values undefined: we ignore them).
 */
static bool
vi_window(struct pci_devinst *pi, int cap, uint64_t *off, int *len)
{
	struct virtio_softc *vs = pi->pi_arg;
	uint8_t bar = pci_get_cfgdata8(pi, cap + VCAP_BAR);
	uint32_t l = pci_get_cfgdata32(pi, cap + VCAP_LENGTH);

	*off = pci_get_cfgdata32(pi, cap + VCAP_OFFSET);
	*len = (int)l;
	return bar == vs->vs_modern_bar && (l == 1 || l == 2 || l == 4) &&
	       (*off & (l - 1)) == 0 && *off + l <= VI_MODERN_BAR_SIZE;
}

/*
 * Called under the PCI lock: interrupts the access queues are left for
 * the next virtio_unlock() (this window is for firmware, not hot paths).
 */
int
vi_pci_cfgread(struct pci_devinst *pi, int off, int bytes, uint32_t *val)
{
	struct virtio_softc *vs = pi->pi_arg;
	int cap = vs->vs_pcicfg_off, len;
	uint64_t boff, v;

	if (cap == 0 || !vi_in_range(off, bytes, cap + VCAP_EXTRA, 4))
		return 1;
	if (!vi_window(pi, cap, &boff, &len)) {
		*val = 0;
		return 0;
	}
	virtio_lock(vs);
	v = vi_modern_read(vs, boff, len);
	virtio_unlock_nodeliver(vs);
	v >>= 8 * (off - (cap + VCAP_EXTRA));
	*val =
	    (uint32_t)v & (bytes == 4 ? 0xffffffffu : (1u << (8 * bytes)) - 1);
	return 0;
}

int
vi_pci_cfgwrite(struct pci_devinst *pi, int off, int bytes, uint32_t val)
{
	struct virtio_softc *vs = pi->pi_arg;
	int cap = vs->vs_pcicfg_off, len;
	uint64_t boff;

	if (cap == 0 || off < cap + VCAP_BAR || off >= cap + VCAP_EXTRA + 4)
		return 1;
	if (!vi_in_range(off, bytes, cap + VCAP_EXTRA, 4)) {
		/* bar (+4), offset (+8), length (+12): plain storage. */
		for (int i = 0; i < bytes; i++) {
			int b = off + i - cap;

			if (b == VCAP_BAR ||
			    (b >= VCAP_OFFSET && b < VCAP_EXTRA))
				pci_set_cfgdata8(pi, off + i,
						 (uint8_t)(val >> (8 * i)));
		}
		return 0;
	}
	if (vi_window(pi, cap, &boff, &len) && off == cap + VCAP_EXTRA) {
		virtio_lock(vs);
		vi_modern_write(vs, boff, len, val);
		virtio_unlock_nodeliver(vs);
	}
	return 0;
}

/* ---- Kicks ---- */

static void
vi_kick_cb(int fd, enum ev_type type, void *arg)
{
	struct vqueue_info *vq = arg;
	struct virtio_softc *vs = vq->vq_vs;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	virtio_lock(vs);
	if (!vq->vq_kick_external)
		vi_queue_notify(vs, vq->vq_num);
	virtio_unlock(vs);
}

/* Attaches (or detaches) the kick eventfds to a decoded BAR address. */
static void
vi_ioeventfds(struct virtio_softc *vs, bool legacy, uint64_t base, bool on)
{
	for (int q = 0; q < vs->vs_vc->vc_nvq; q++) {
		int fd = vs->vs_queues[q].vq_kickfd;

		if (fd < 0)
			continue;
		if (legacy)
			(void)vm_ioeventfd(vs->vs_ctx, fd,
					   base + VI_LEG_QUEUE_NOTIFY, 2, true,
					   true, (uint64_t)q, !on);
		else
			(void)vm_ioeventfd(vs->vs_ctx, fd,
					   base + VI_NOTIFY_OFF +
					       (uint64_t)q * VI_NOTIFY_MULT,
					   2, false, false, 0, !on);
	}
}

void
vi_pci_baraddr(struct pci_devinst *pi, int baridx, bool enabled,
	       uint64_t address)
{
	struct virtio_softc *vs = pi->pi_arg;

	if (!vs->vs_fastpath)
		return;
	if (baridx == vs->vs_legacy_bar) {
		if (vs->vs_legacy_on)
			vi_ioeventfds(vs, true, vs->vs_legacy_addr, false);
		vs->vs_legacy_on = enabled;
		vs->vs_legacy_addr = address;
		if (enabled)
			vi_ioeventfds(vs, true, address, true);
	} else if (baridx == vs->vs_modern_bar) {
		if (vs->vs_modern_on)
			vi_ioeventfds(vs, false, vs->vs_modern_addr, false);
		vs->vs_modern_on = enabled;
		vs->vs_modern_addr = address;
		if (enabled)
			vi_ioeventfds(vs, false, address, true);
	}
}

static int
vi_kick_init(struct virtio_softc *vs)
{
	for (int q = 0; q < vs->vs_vc->vc_nvq; q++) {
		struct vqueue_info *vq = &vs->vs_queues[q];

		vq->vq_kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vq->vq_kickfd < 0)
			return -1;
		vq->vq_kickev =
		    mevent_add(vq->vq_kickfd, EVF_READ, vi_kick_cb, vq);
		if (vq->vq_kickev == NULL)
			return -1;
	}
	return 0;
}

/* ---- Construction ---- */

static int
vi_add_vcap(struct pci_devinst *pi, uint8_t type, uint32_t off, uint32_t len,
	    const uint32_t *extra)
{
	uint8_t cap[VCAP_SIZE + 4] = {PCIY_VENDOR};
	int caplen = extra != NULL ? VCAP_SIZE + 4 : VCAP_SIZE;

	cap[VCAP_LEN] = (uint8_t)caplen;
	cap[VCAP_TYPE] = type;
	cap[VCAP_BAR] = VI_MODERN_BAR;
	memcpy(cap + VCAP_OFFSET, &off, 4);
	memcpy(cap + VCAP_LENGTH, &len, 4);
	if (extra != NULL)
		memcpy(cap + VCAP_EXTRA, extra, 4);
	return pci_emul_add_capability(pi, cap, caplen);
}

static int
vi_modern_init(struct virtio_softc *vs)
{
	struct pci_devinst *pi = vs->vs_pi;
	const struct virtio_consts *vc = vs->vs_vc;
	uint32_t mult = VI_NOTIFY_MULT, zero = 0;

	if (pci_emul_alloc_bar(pi, VI_MODERN_BAR, PCIBAR_MEM64,
			       VI_MODERN_BAR_SIZE) != 0)
		return -1;
	vs->vs_modern_bar = VI_MODERN_BAR;
	if (vi_add_vcap(pi, VIRTIO_PCI_CAP_COMMON_CFG, VI_COMMON_OFF,
			VI_COMMON_SIZE, NULL) < 0 ||
	    vi_add_vcap(pi, VIRTIO_PCI_CAP_ISR_CFG, VI_ISR_OFF, 1, NULL) < 0 ||
	    vi_add_vcap(pi, VIRTIO_PCI_CAP_NOTIFY_CFG, VI_NOTIFY_OFF,
			(uint32_t)vc->vc_nvq * VI_NOTIFY_MULT, &mult) < 0)
		return -1;
	if (vc->vc_cfgsize > 0 &&
	    vi_add_vcap(pi, VIRTIO_PCI_CAP_DEVICE_CFG, VI_DEVCFG_OFF,
			(uint32_t)vc->vc_cfgsize, NULL) < 0)
		return -1;
	vs->vs_pcicfg_off =
	    vi_add_vcap(pi, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &zero);
	if (vs->vs_pcicfg_off < 0) {
		vs->vs_pcicfg_off = 0;
		return -1;
	}
	return 0;
}

static int
vi_transport_parse(struct virtio_softc *vs, struct config_node *nvl)
{
	const char *t = nvl ? get_config_value_node(nvl, "transport") : NULL;

	if (t == NULL || strcmp(t, "transitional") == 0)
		vs->vs_transport = VIRTIO_TRANSPORT_TRANSITIONAL;
	else if (strcmp(t, "legacy") == 0)
		vs->vs_transport = VIRTIO_TRANSPORT_LEGACY;
	else if (strcmp(t, "modern") == 0)
		vs->vs_transport = VIRTIO_TRANSPORT_MODERN;
	else {
		fprintf(stderr,
			"bhyve: %s: transport '%s': expected legacy, "
			"modern or transitional\n",
			vs->vs_vc->vc_name, t);
		return -1;
	}
	return 0;
}

/* bhyve: MSI-X by default; -W (virtio_msix=false): one MSI + INTx. */
static int
vi_intr_init(struct virtio_softc *vs, struct config_node *nvl)
{
	struct pci_devinst *pi = vs->vs_pi;
	bool msix = get_config_bool_default("virtio_msix", true);

	if (nvl != NULL)
		msix = get_config_bool_node_default(nvl, "virtio_msix", msix);
	if (msix) {
		vs->vs_nvec = vs->vs_vc->vc_nvq + 1;
		if (pci_emul_add_msixcap(pi, vs->vs_nvec, VI_MSIX_BAR) < 0)
			return -1;
		if (vi_routes_init(vs) != 0)
			return -1;
		vs->vs_msix = true;
		vs->vs_msix_bar = VI_MSIX_BAR;
	} else {
		vs->vs_nvec = 0;
		if (pci_emul_add_msicap(pi, 1) < 0)
			return -1;
	}
	pci_lintr_request(pi);
	return 0;
}

/* 4.1.2.1, the transitional PCI device IDs. */
static uint16_t
vi_transitional_id(int devtype)
{
	switch (devtype) {
	case VIRTIO_ID_NETWORK:
		return VIRTIO_DEV_NET;
	case VIRTIO_ID_BLOCK:
		return VIRTIO_DEV_BLOCK;
	case VIRTIO_ID_CONSOLE:
		return VIRTIO_DEV_CONSOLE;
	case VIRTIO_ID_ENTROPY:
		return VIRTIO_DEV_RANDOM;
	default:
		return (uint16_t)VIRTIO_DEV_MODERN(devtype);
	}
}

int
vi_pci_init(struct virtio_softc *vs, int devtype, uint8_t class,
	    uint8_t subclass, struct config_node *nvl)
{
	struct pci_devinst *pi = vs->vs_pi;
	const struct virtio_consts *vc = vs->vs_vc;
	bool modern;

	if (vc->vc_nvq < 1 || vc->vc_nvq > VIRTIO_MAX_QUEUES ||
	    vc->vc_cfgsize > VI_REGION_SIZE - VI_LEG_CFG_MSIX) {
		fprintf(stderr, "bhyve: %s: bad virtio description\n",
			vc->vc_name);
		return -1;
	}
	for (int i = 0; i < vc->vc_nvq; i++) {
		struct vqueue_info *vq = &vs->vs_queues[i];
		unsigned n = vq->vq_qsize;

		if (n == 0 || (n & (n - 1)) != 0 || n > VIRTIO_QUEUE_MAX) {
			fprintf(stderr, "bhyve: %s: queue %d size %u\n",
				vc->vc_name, i, n);
			return -1;
		}
		vq->vq_maxsize = vq->vq_qsize;
	}
	if (vi_transport_parse(vs, nvl) != 0)
		return -1;
	modern = vs->vs_transport == VIRTIO_TRANSPORT_MODERN;
	vs->vs_hv_caps = vc->vc_hv_caps | VIRTIO_CORE_CAPS;
	if (!vi_has_modern(vs))
		vs->vs_hv_caps &= ~VIRTIO_F_VERSION_1;

	/* 4.1.2: IDs; modern-only devices are revision 1. */
	pci_set_cfgdata16(pi, PCIR_VENDOR, VIRTIO_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE,
			  modern ? (uint16_t)VIRTIO_DEV_MODERN(devtype)
				 : vi_transitional_id(devtype));
	pci_set_cfgdata8(pi, PCIR_REVID, modern ? 1 : 0);
	pci_set_cfgdata8(pi, PCIR_CLASS, class);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, subclass);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, VIRTIO_VENDOR);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0,
			  modern ? VIRTIO_SUBDEV_MODERN : (uint16_t)devtype);

	if (vi_has_legacy(vs)) {
		if (pci_emul_alloc_bar(pi, VI_LEGACY_BAR, PCIBAR_IO,
				       VI_LEG_CFG_MSIX + vc->vc_cfgsize) != 0)
			return -1;
		vs->vs_legacy_bar = VI_LEGACY_BAR;
	}
	if (vi_intr_init(vs, nvl) != 0)
		return -1;
	if (vi_has_modern(vs) && vi_modern_init(vs) != 0) {
		fprintf(stderr,
			"bhyve: %s: cannot build the virtio "
			"capabilities\n",
			vc->vc_name);
		return -1;
	}
	vs->vs_fastpath = vs->vs_ctx != NULL && vm_get_vm_fd(vs->vs_ctx) >= 0;
	if (vs->vs_fastpath && vi_kick_init(vs) != 0) {
		fprintf(stderr, "bhyve: %s: kick eventfds: %s\n", vc->vc_name,
			strerror(errno));
		return -1;
	}
	return 0;
}

void
vi_pci_fini(struct virtio_softc *vs)
{
	for (int q = 0; vs->vs_vc != NULL && q < vs->vs_vc->vc_nvq; q++) {
		struct vqueue_info *vq = &vs->vs_queues[q];

		if (vq->vq_kickev != NULL)
			mevent_delete(vq->vq_kickev);
		vq->vq_kickev = NULL;
		if (vq->vq_kickfd >= 0)
			close(vq->vq_kickfd);
		vq->vq_kickfd = -1;
	}
	vi_routes_fini(vs);
	vs->vs_nvec = 0;
}
