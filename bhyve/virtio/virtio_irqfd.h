/*
 * MSI-X vectors delivered by KVM: per vector one KVM MSI route and an
 * eventfd that is an irqfd on it while the vector is live, kept in step
 * with the guest's MSI-X table (virtio_irqfd.c; docs/virtio.md, "MSI-X
 * and the kernel datapath").  PCI/KVM specific, so kept out of the
 * transport-neutral core (virtio.c).
 */
#ifndef VIRTIO_IRQFD_H
#define VIRTIO_IRQFD_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_softc;
struct vmctx;

/*
 * The interrupt eventfd of MSI-X vector 'vector' for a kernel datapath
 * (vhost's call fd): makes sure the vector's KVM MSI route and eventfd
 * exist and follow its table entry and mask state; returns the eventfd,
 * or -1 (no MSI-X, no such vector, no KVM).  Signalling it delivers the
 * vector as the PCI spec says, masked or not.  Call WITHOUT vs_mtx held
 * (it takes vs_route_mtx and the PCI lock, which come before vs_mtx).
 */
int vi_msix_irqfd(struct virtio_softc *vs, int vector);

/*
 * The KVM calls behind the MSI-X fast path (default: vmmapi's), so unit
 * tests without /dev/kvm can watch the routes and irqfds; NULL restores
 * the defaults.  Tests set vs_fastpath themselves.
 */
struct vi_kvm_ops {
	int (*msi_route_alloc)(struct vmctx *ctx, uint64_t addr, uint32_t data);
	int (*msi_route_update)(struct vmctx *ctx, int gsi, uint64_t addr,
				uint32_t data);
	int (*msi_route_free)(struct vmctx *ctx, int gsi);
	int (*irqfd)(struct vmctx *ctx, int fd, uint32_t gsi, bool deassign);
};
void vi_set_kvm_ops(const struct vi_kvm_ops *ops);

#endif /* VIRTIO_IRQFD_H */
