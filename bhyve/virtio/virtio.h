/*
 * The virtio device and transport interface every virtio device model
 * uses: the PCI transport (modern virtio 1.x capabilities and the
 * legacy/transitional I/O BAR), feature negotiation, device status and
 * reset, config space, and notifications (ioeventfd kicks, irqfd MSI-X,
 * INTx with the ISR register).  The split virtqueues a device processes
 * requests from are virtqueue.h's.
 *
 * A device model embeds a struct virtio_softc, fills one constant struct
 * virtio_consts and points its struct pci_devemu hooks at the vi_pci_*
 * functions below:
 *
 *	struct pci_vtfoo_softc {
 *		struct virtio_softc vs;
 *		struct vqueue_info queues[2];
 *		...
 *	};
 *	static const struct virtio_consts vtfoo_vi_consts = {
 *		.vc_name = "vtfoo",
 *		.vc_nvq = 2,
 *		.vc_cfgsize = sizeof(struct vtfoo_config),
 *		.vc_reset = vtfoo_reset,
 *		.vc_qnotify = vtfoo_notify,
 *		.vc_cfgread = vtfoo_cfgread,
 *		.vc_hv_caps = VTFOO_F_X,
 *	};
 *	pe_init:
 *		vi_softc_linkup(&sc->vs, &vtfoo_vi_consts, sc, pi, sc->queues);
 *		sc->queues[0].vq_qsize = 256;	(the maximum size offered)
 *		if (vi_pci_init(&sc->vs, VIRTIO_ID_FOO, PCIC_x, PCIS_x, nvl))
 *			return -1;
 *	static const struct pci_devemu pci_de_vtfoo = {
 *		.pe_emu = "virtio-foo",
 *		.pe_init = pci_vtfoo_init,
 *		VI_PCI_DEVEMU_HOOKS,
 *	};
 *
 * Request processing is the ring layer's (virtqueue.h: vq_getchain,
 * vq_relchain, vq_endchains); the MSI-X irqfds for kernel datapaths are
 * virtio_irqfd.h's.
 *
 * Locking: each device has one mutex, vs_mtx (virtio_lock/virtio_unlock).
 * The core holds it around every transport register access, around
 * vc_reset, vc_qnotify, vc_cfgread/vc_cfgwrite and vc_apply_features.  A
 * device thread that touches a queue (vq_* calls) or vs_* fields must hold
 * it too.  The order of the locks a virtio device meets, outermost first:
 *
 *	vs_route_mtx -> pi_cfg_lock -> vs_mtx -> pi_lintr.lock -> pci_intx_lock
 *
 *  - pi_cfg_lock -> vs_mtx: pci_emul_cfgrw() calls vi_pci_cfgread/
 *    vi_pci_cfgwrite with pi_cfg_lock held, and an access through the
 *    PCI_CFG window takes vs_mtx there (so vc_reset, vc_qnotify and the
 *    vc_cfg* hooks may run under pi_cfg_lock too).  Those hooks unlock
 *    with virtio_unlock_nodeliver(): what they queue waits for the next
 *    virtio_unlock().
 *  - vs_mtx -> pi_lintr.lock -> pci_intx_lock: INTx is not deferred.
 *    Queuing an interrupt without MSI-X (vq_endchains, vq_interrupt,
 *    vi_config_changed, vi_set_needs_reset) calls pci_lintr_assert(), and
 *    an ISR read calls pci_lintr_deassert(), with vs_mtx held.  pci_emul
 *    also takes pi_lintr.lock under pi_cfg_lock (INTx masking after a
 *    command or MSI/MSI-X control write); under pi_lintr.lock it takes
 *    only pci_intx_lock (and the KVM line ioctl).
 *  - MSI and MSI-X are sent by virtio_unlock() after vs_mtx is released:
 *    pci_generate_msi/pci_generate_msix take pi_cfg_lock, the irqfd path
 *    takes vs_route_mtx and under it pi_cfg_lock (virtio_irqfd.c).  So
 *    nothing takes pi_cfg_lock or vs_route_mtx with vs_mtx held, and
 *    vi_msix_irqfd() must be called without vs_mtx.
 *  - pci_emul calls vi_pci_read/vi_pci_write and vi_pci_msix_update with
 *    none of its locks held, vi_pci_baraddr with pi_cfg_lock held (it
 *    takes no virtio lock).  The kick callback and device threads take
 *    vs_mtx first.  mevent's list lock and KVM ioctls are leaves.
 *  - Nothing may wait for I/O under pi_cfg_lock: a completion's
 *    virtio_unlock() may need it to send MSI-X.  So a reset never waits:
 *    vc_reset reports whether requests are still in flight, and the
 *    device finishes the reset later with vi_reset_complete() (below).
 *
 * Threads: kicks arrive through one eventfd per queue (a KVM ioeventfd on
 * the queue's notify address, so a kick costs no exit to userspace); the
 * core reads it in the mevent loop and calls vc_qnotify there.  Without
 * KVM (tests, fuzzers) or for a kick the ioeventfd does not match, the
 * notify register write calls vc_qnotify on the vCPU thread.  A device
 * that wants kicks on its own thread can set vc_qnotify and hand the work
 * over, or take the queue's vq_kickfd in vc_qenable (vhost).
 *
 * References: "Virtual I/O Device (VIRTIO) Version 1.2", OASIS, cited as
 * "virtio 1.2, <section>".
 */
#ifndef VIRTIO_H
#define VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "virtqueue.h"

struct pci_devinst;
struct virtio_msix_route;
struct vmctx;

/* ---- Constants from the specification ---- */

#define VIRTIO_VENDOR 0x1af4

/* Device types (virtio 1.2, 5). */
#define VIRTIO_ID_NETWORK 1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4

/*
 * PCI device IDs (virtio 1.2, 4.1.2.1): transitional devices use
 * 0x1000 + (type - 1) for the four oldest types (with the subsystem
 * device ID = type), modern-only devices 0x1040 + type.
 */
#define VIRTIO_DEV_NET		0x1000
#define VIRTIO_DEV_BLOCK	0x1001
#define VIRTIO_DEV_CONSOLE	0x1003
#define VIRTIO_DEV_RANDOM	0x1005
#define VIRTIO_DEV_MODERN(type) (0x1040 + (type))

/* Device status (virtio 1.2, 2.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 0x01
#define VIRTIO_CONFIG_S_DRIVER	    0x02
#define VIRTIO_CONFIG_S_DRIVER_OK   0x04
#define VIRTIO_CONFIG_S_FEATURES_OK 0x08
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED	    0x80

/* Reserved feature bits (virtio 1.2, 6); the ring's are in virtqueue.h. */
#define VIRTIO_F_ANY_LAYOUT (1ULL << 27) /* legacy only */
#define VIRTIO_F_VERSION_1  (1ULL << 32)
/* What the core itself handles and offers on top of vc_hv_caps. */
#define VIRTIO_CORE_CAPS                                                       \
	(VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX |               \
	 VIRTIO_F_VERSION_1 | VIRTIO_F_ANY_LAYOUT)

/* ISR status bits (virtio 1.2, 4.1.4.5). */
#define VIRTIO_PCI_ISR_INTR   0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Most queues one device may have (the transport's limit here). */
#define VIRTIO_MAX_QUEUES 64

/* ---- The device model's description ---- */

struct virtio_consts {
	const char *vc_name; /* for messages */
	int vc_nvq;	     /* number of queues, <= VIRTIO_MAX_QUEUES */
	size_t vc_cfgsize;   /* bytes of device-specific config space */
	/*
	 * The driver wrote 0 to the status: forget device state, and never
	 * wait (this may run under pi_cfg_lock).  Returns true if the device
	 * is quiescent; the core then resets its own state (queues,
	 * features, status, ISR, vectors) at once.  false: requests are
	 * still in flight.  The core has stopped the queues; the device must
	 * not touch the rings with those requests, and calls
	 * vi_reset_complete() when the last one ends.  Meanwhile status
	 * reads non-zero (2.4.1: the driver waits for 0) and the driver's
	 * register writes are ignored.
	 */
	bool (*vc_reset)(void *sc);
	/* The driver kicked queue vq (or DRIVER_OK was set with it ready). */
	void (*vc_qnotify)(void *sc, struct vqueue_info *vq);
	/*
	 * Device config access at offset off (< vc_cfgsize), size 1, 2 or
	 * 4 bytes, off + size <= vc_cfgsize.  0 on success; otherwise reads
	 * return 0 / writes are ignored.  vc_cfgwrite NULL: read-only.
	 */
	int (*vc_cfgread)(void *sc, int off, int size, uint32_t *val);
	int (*vc_cfgwrite)(void *sc, int off, int size, uint32_t val);
	/* The driver accepted these features (subset of offered). */
	void (*vc_apply_features)(void *sc, uint64_t negotiated);
	/*
	 * Optional: queue vq became usable (enabled = true, after its ring
	 * was validated and mapped) or stopped (reset).
	 */
	void (*vc_qenable)(void *sc, struct vqueue_info *vq, bool enabled);
	/* Device-specific feature bits offered (plus VIRTIO_CORE_CAPS). */
	uint64_t vc_hv_caps;
};

/* ---- The device ---- */

/* Transport variants ("transport" key: unset, "legacy" or "modern"). */
enum virtio_transport {
	VIRTIO_TRANSPORT_TRANSITIONAL, /* both, IDs 0x1000+ (bhyve's way) */
	VIRTIO_TRANSPORT_LEGACY,       /* I/O BAR only */
	VIRTIO_TRANSPORT_MODERN	       /* capabilities only, 0x1040+ */
};

struct virtio_softc {
	const struct virtio_consts *vs_vc;
	void *vs_sc; /* the device's softc, passed to vc_* */
	struct pci_devinst *vs_pi;
	struct vmctx *vs_ctx;
	struct vqueue_info *vs_queues;
	pthread_mutex_t vs_mtx;

	enum virtio_transport vs_transport;
	bool vs_msix;	     /* MSI-X capability present */
	bool vs_fastpath;    /* ioeventfd/irqfd available (real VM) */
	uint64_t vs_hv_caps; /* offered: vc_hv_caps | core caps */
	uint64_t vs_negotiated_caps;
	uint64_t vs_driver_caps; /* what the driver wrote so far */
	uint32_t vs_dfselect, vs_gfselect;
	uint16_t vs_curq;
	uint8_t vs_status;
	uint8_t vs_isr;
	uint8_t vs_cfggen;
	uint16_t vs_msix_cfg_idx;
	bool vs_cfg_intr_pending;
	bool vs_broken;	   /* NEEDS_RESET: no processing until reset */
	bool vs_resetting; /* reset waits for vi_reset_complete() */
	bool vs_logged;	   /* the violation was reported */
	bool vs_lintr;	   /* INTx asserted by us */

	/* BAR layout (see docs/virtio.md). */
	int vs_legacy_bar; /* -1 or 0 */
	int vs_msix_bar;   /* -1 or 1 */
	int vs_modern_bar; /* -1 or 4 */
	int vs_pcicfg_off; /* offset of the PCI_CFG capability or 0 */
	uint64_t vs_legacy_addr, vs_modern_addr; /* decoded addresses */
	bool vs_legacy_on, vs_modern_on;

	int vs_nvec; /* MSI-X table size (0: none) */
	/* Vectors queued under vs_mtx, sent by virtio_unlock(). */
	bool vs_vec_pending[VIRTIO_MAX_QUEUES + 1];
	/* One KVM route + eventfd per vector (virtio_irqfd.c's). */
	struct virtio_msix_route *vs_routes;
	/* Guards vs_routes[]; see the lock order above. */
	pthread_mutex_t vs_route_mtx;
	bool vs_msi_pending; /* single MSI (virtio_msix=false) */
	int vs_nlogged;	     /* violations reported (capped) */
	/* What the queues' ring code sees of this device. */
	struct vq_owner vs_vqowner;
};

/*
 * Links the parts: vs is inside the device softc sc; queues is an array
 * of vc->vc_nvq.  Sets pi->pi_arg = vs (the vi_pci_* hooks rely on it).
 */
void vi_softc_linkup(struct virtio_softc *vs, const struct virtio_consts *vc,
		     void *sc, struct pci_devinst *pi,
		     struct vqueue_info *queues);
/*
 * Builds the PCI function: IDs, class, BARs, capabilities, MSI-X (unless
 * virtio_msix=false globally or for the device), INTx, kick eventfds.
 * Reads the device node's "transport" key.  Returns 0 or -1 (printed).
 */
int vi_pci_init(struct virtio_softc *vs, int devtype, uint8_t class,
		uint8_t subclass, struct config_node *nvl);

/* The struct pci_devemu hooks (pi->pi_arg must be the virtio_softc). */
void vi_pci_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
		  uint64_t value);
uint64_t vi_pci_read(struct pci_devinst *pi, int baridx, uint64_t offset,
		     int size);
int vi_pci_cfgread(struct pci_devinst *pi, int off, int bytes, uint32_t *val);
int vi_pci_cfgwrite(struct pci_devinst *pi, int off, int bytes, uint32_t val);
void vi_pci_baraddr(struct pci_devinst *pi, int baridx, bool enabled,
		    uint64_t address);
/* pe_msix_update: keeps the vectors' KVM routes and irqfds in step
 * (virtio_irqfd.c). */
void vi_pci_msix_update(struct pci_devinst *pi, int vector);
#define VI_PCI_DEVEMU_HOOKS                                                    \
	.pe_barwrite = vi_pci_write, .pe_barread = vi_pci_read,                \
	.pe_cfgread = vi_pci_cfgread, .pe_cfgwrite = vi_pci_cfgwrite,          \
	.pe_baraddr = vi_pci_baraddr, .pe_msix_update = vi_pci_msix_update
/* Releases what vi_pci_init() set up (eventfds, routes, irqfds). */
void vi_pci_fini(struct virtio_softc *vs);

void virtio_lock(struct virtio_softc *vs);
/* Unlocks, then sends the interrupts queued while locked. */
void virtio_unlock(struct virtio_softc *vs);

/*
 * The device detected a protocol violation (its own request parser):
 * sets NEEDS_RESET, raises a config-change interrupt, logs once; queue
 * processing stops until the driver resets the device.  Lock held.
 */
void vi_set_needs_reset(struct virtio_softc *vs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Device config changed: bumps config_generation, config interrupt. */
void vi_config_changed(struct virtio_softc *vs);
/*
 * The last request in flight at a reset (vc_reset returned false) ended:
 * finishes the reset, status then reads 0.  Lock held.
 */
void vi_reset_complete(struct virtio_softc *vs);
/* Whether the driver set DRIVER_OK and the device is not broken. */
bool vi_device_live(const struct virtio_softc *vs);
/* Reads size bytes at off of a little-endian config image (helper). */
int vi_cfg_read_bytes(const void *cfg, size_t cfgsize, int off, int size,
		      uint32_t *val);
/* Whether a feature was negotiated. */
static inline bool
vi_has_feature(const struct virtio_softc *vs, uint64_t f)
{
	return (vs->vs_negotiated_caps & f) == f;
}

/*
 * Stops (external = true) or resumes the core's reading of vq_kickfd,
 * for devices that hand the kick eventfd to their own thread or to the
 * kernel.  Lock held.
 */
void vi_queue_kick_external(struct virtio_softc *vs, struct vqueue_info *vq,
			    bool external);

/* ---- For tests and fuzzers ---- */

/*
 * Sets a queue up as if the driver had programmed it (size, the three
 * ring addresses) and enables it: the same validation as the transport.
 * Returns 0, or -1 with the device NEEDS_RESET.  Lock held.
 */
int vq_setup_test(struct virtio_softc *vs, int qidx, uint16_t size,
		  uint64_t desc, uint64_t avail, uint64_t used);

#endif /* VIRTIO_H */
