/*
 * MSI-X vectors for the ioeventfd/irqfd/vhost datapaths: per vector one
 * KVM MSI route (GSI) and an eventfd, kept in step with the guest's MSI-X
 * table.  While the vector is live (MSI-X on, neither the function nor the
 * vector masked) the eventfd is a KVM irqfd on the route, so the kernel
 * (vhost) interrupts the guest directly; while it is masked the irqfd is
 * detached and the mevent loop reads the eventfd instead, turning each
 * signal into pci_generate_msix() (the PBA pending bit, delivered on
 * unmask).  The eventfd itself never changes, so whoever holds it (vhost)
 * needs no update.  See docs/virtio.md, "MSI-X and the kernel datapath".
 *
 * Locks: vs_route_mtx guards vs_routes[] and is taken before pi_cfg_lock
 * (the table entry is read under it), never with vs_mtx held.
 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mevent.h"
#include "pci_emul.h"
#include "virtio_impl.h"
#include "virtio_irqfd.h"
#include "vmmapi.h"

struct virtio_msix_route {
	int gsi; /* -1: none yet */
	int fd;	 /* the vector's eventfd, or -1 */
	uint64_t addr;
	uint32_t data;		 /* the message the route carries now */
	bool attached;		 /* fd is an irqfd on gsi (vector live) */
	struct mevent *ev;	 /* reads fd while detached, or NULL */
	struct virtio_softc *vs; /* for the mevent callback */
	uint16_t vec;
};

static const struct vi_kvm_ops vi_kvm_default = {
    .msi_route_alloc = vm_msi_route_alloc,
    .msi_route_update = vm_msi_route_update,
    .msi_route_free = vm_msi_route_free,
    .irqfd = vm_irqfd,
};
static const struct vi_kvm_ops *vi_kvm = &vi_kvm_default;

void
vi_set_kvm_ops(const struct vi_kvm_ops *ops)
{
	vi_kvm = ops != NULL ? ops : &vi_kvm_default;
}

/*
 * Reads vector v's table entry into *addr and *data; true if it may be sent
 * now (MSI-X on, neither the function nor the vector masked).
 */
static bool
vi_msix_entry(struct virtio_softc *vs, int v, uint64_t *addr, uint32_t *data)
{
	struct pci_devinst *pi = vs->vs_pi;
	bool live = false;

	*addr = 0;
	*data = 0;
	pthread_mutex_lock(&pi->pi_cfg_lock);
	if (v < pi->pi_msix.table_count) {
		*addr = pi->pi_msix.table[v].addr;
		*data = pi->pi_msix.table[v].msg_data;
		live = pci_msix_enabled(pi) && !pi->pi_msix.function_mask &&
		       !(pi->pi_msix.table[v].vector_control &
			 PCIM_MSIX_VCTRL_MASK);
	}
	pthread_mutex_unlock(&pi->pi_cfg_lock);
	return live;
}

/*
 * A signal on a detached (masked) vector's eventfd, on the mevent thread:
 * pci_emul records it in the PBA while the vector is masked (PCI 3.0,
 * 6.8.2.9) and sends it on unmask; if it was unmasked meanwhile, it is
 * sent now.  No route lock: pci_generate_msix() reads the table itself.
 */
static void
vi_route_masked_cb(int fd, enum ev_type type, void *arg)
{
	struct virtio_msix_route *r = arg;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return; /* drained by vi_route_sync() meanwhile */
	pci_generate_msix(r->vs->vs_pi, r->vec);
}

/* Stops KVM delivering r's eventfd; userspace reads it.  Route lock held. */
static void
vi_route_detach(struct virtio_softc *vs, struct virtio_msix_route *r)
{
	if (!r->attached)
		return;
	/*
	 * KVM injects synchronously from the eventfd wakeup and flushes
	 * pending injections before the deassign returns, so nothing is
	 * sent after this; later signals stay in the eventfd counter until
	 * the (level-triggered) mevent below reads them.
	 */
	(void)vi_kvm->irqfd(vs->vs_ctx, r->fd, (uint32_t)r->gsi, true);
	r->attached = false;
	if (r->ev != NULL)
		(void)mevent_enable(r->ev);
}

/*
 * Makes vector v's route and irqfd follow its table entry and mask
 * state.  Returns the number of signals found in the eventfd when it was
 * re-attached (the caller sends the vector once if non-zero, after
 * dropping the route lock).  Route lock held.
 */
static uint64_t
vi_route_sync(struct virtio_softc *vs, int v)
{
	struct virtio_msix_route *r = &vs->vs_routes[v];
	uint64_t addr, cnt = 0;
	uint32_t data;

	if (r->gsi < 0)
		return 0;
	if (!vi_msix_entry(vs, v, &addr, &data)) {
		/* Masked or off: the route may keep a stale message. */
		vi_route_detach(vs, r);
		return 0;
	}
	if (r->addr != addr || r->data != data) {
		if (vi_kvm->msi_route_update(vs->vs_ctx, r->gsi, addr, data) !=
		    0) {
			/* Never let KVM send the old message: userspace
			 * delivers through the table instead. */
			vi_route_detach(vs, r);
			return 0;
		}
		r->addr = addr;
		r->data = data;
	}
	if (r->attached)
		return 0;
	if (r->ev != NULL)
		(void)mevent_disable(r->ev);
	/* Signals while detached that mevent has not read yet. */
	if (read(r->fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		cnt = 0;
	/* KVM injects at assign time if the counter is non-zero again. */
	if (vi_kvm->irqfd(vs->vs_ctx, r->fd, (uint32_t)r->gsi, false) == 0)
		r->attached = true;
	else if (r->ev != NULL)
		(void)mevent_enable(r->ev);
	return cnt;
}

/*
 * Vector v's eventfd, creating it with its route (detached, mevent
 * reading) on first use, then synced; -1 if that fails.  *drained as
 * vi_route_sync() returns.  Route lock held.
 */
static int
vi_route_get(struct virtio_softc *vs, int v, uint64_t *drained)
{
	struct virtio_msix_route *r = &vs->vs_routes[v];
	uint64_t addr;
	uint32_t data;

	*drained = 0;
	if (r->gsi < 0) {
		r->vs = vs;
		r->vec = (uint16_t)v;
		r->attached = false;
		r->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (r->fd < 0)
			return -1;
		(void)vi_msix_entry(vs, v, &addr, &data);
		r->gsi = vi_kvm->msi_route_alloc(vs->vs_ctx, addr, data);
		if (r->gsi < 0) {
			close(r->fd);
			r->fd = -1;
			return -1;
		}
		r->addr = addr;
		r->data = data;
		/* NULL (no memory): signals while masked wait for unmask. */
		r->ev = mevent_add(r->fd, EVF_READ, vi_route_masked_cb, r);
	}
	*drained = vi_route_sync(vs, v);
	return r->fd;
}

int
vi_routes_init(struct virtio_softc *vs)
{
	vs->vs_routes = calloc((size_t)vs->vs_nvec, sizeof(*vs->vs_routes));
	if (vs->vs_routes == NULL)
		return -1;
	for (int v = 0; v < vs->vs_nvec; v++)
		vs->vs_routes[v].gsi = vs->vs_routes[v].fd = -1;
	return 0;
}

void
vi_routes_fini(struct virtio_softc *vs)
{
	for (int v = 0; v < vs->vs_nvec && vs->vs_routes != NULL; v++) {
		struct virtio_msix_route *r = &vs->vs_routes[v];

		if (r->ev != NULL)
			mevent_delete(r->ev);
		r->ev = NULL;
		if (r->gsi >= 0) {
			if (r->attached)
				(void)vi_kvm->irqfd(vs->vs_ctx, r->fd,
						    (uint32_t)r->gsi, true);
			(void)vi_kvm->msi_route_free(vs->vs_ctx, r->gsi);
		}
		if (r->fd >= 0)
			close(r->fd);
		r->gsi = r->fd = -1;
		r->attached = false;
	}
	free(vs->vs_routes);
	vs->vs_routes = NULL;
}

/*
 * Sends MSI-X vector v: through its irqfd when the vector is live (the
 * route follows the table entry), otherwise through pci_emul, which
 * records a masked vector as pending (PCI 3.0, 6.8.2.9).
 */
void
vi_msix_send(struct virtio_softc *vs, int v)
{
	uint64_t one = 1, drained = 0;
	bool attached = false;
	int fd = -1;

	if (vs->vs_fastpath) {
		pthread_mutex_lock(&vs->vs_route_mtx);
		fd = vi_route_get(vs, v, &drained);
		attached = fd >= 0 && vs->vs_routes[v].attached;
		pthread_mutex_unlock(&vs->vs_route_mtx);
	}
	/* Masked since: KVM no longer listens, the mevent reader does. */
	if (attached && write(fd, &one, sizeof(one)) == sizeof(one))
		return;
	pci_generate_msix(vs->vs_pi, v);
}

int
vi_msix_irqfd(struct virtio_softc *vs, int vector)
{
	uint64_t drained;
	int fd;

	if (!vs->vs_fastpath || vector < 0 || vector >= vs->vs_nvec)
		return -1;
	pthread_mutex_lock(&vs->vs_route_mtx);
	fd = vi_route_get(vs, vector, &drained);
	pthread_mutex_unlock(&vs->vs_route_mtx);
	if (drained != 0)
		pci_generate_msix(vs->vs_pi, vector);
	return fd;
}

void
vi_pci_msix_update(struct pci_devinst *pi, int vector)
{
	struct virtio_softc *vs = pi->pi_arg;
	int lo = vector, hi = vector + 1;

	if (vs == NULL || !vs->vs_fastpath || vs->vs_routes == NULL ||
	    vector >= vs->vs_nvec)
		return;
	if (vector < 0) {
		lo = 0;
		hi = vs->vs_nvec;
	}
	for (int v = lo; v < hi; v++) {
		uint64_t drained;

		pthread_mutex_lock(&vs->vs_route_mtx);
		drained = vi_route_sync(vs, v);
		pthread_mutex_unlock(&vs->vs_route_mtx);
		/* Signalled while masked, unmasked now: send it once. */
		if (drained != 0)
			pci_generate_msix(pi, v);
	}
}
