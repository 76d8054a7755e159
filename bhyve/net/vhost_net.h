/*
 * vhost-net: the kernel's virtio-net datapath (drivers/vhost/net.c), the
 * Linux counterpart of illumos's viona.  One /dev/vhost-net instance
 * serves one receive/transmit queue pair; it reads the guest's rings
 * through the VMM's own mapping of guest RAM, is kicked by the queue's
 * ioeventfd and interrupts the guest through an irqfd, so frames move
 * between the tap and the guest with no exit to userspace.
 */
#ifndef VHOST_NET_H
#define VHOST_NET_H

#include <stdbool.h>
#include <stdint.h>

struct vmctx;
struct vhost_net;

/* Queue index within the pair, as vhost-net numbers them. */
#define VHOST_NET_RX 0
#define VHOST_NET_TX 1

struct vhost_ring_cfg {
	unsigned idx; /* VHOST_NET_RX or VHOST_NET_TX */
	uint16_t size;
	uint16_t last_avail;	   /* where the kernel starts consuming */
	void *desc, *avail, *used; /* host addresses of the three parts */
	int kickfd, callfd;
};

/* Path of the device node, replaceable by tests ("/dev/vhost-net"). */
extern const char *vhost_net_path;

/* NULL (errno set) if vhost-net cannot be opened or owned. */
struct vhost_net *vhost_net_open(void);
void vhost_net_close(struct vhost_net *vn);
/* The virtio feature bits the kernel's datapath supports. */
uint64_t vhost_net_features(const struct vhost_net *vn);
int vhost_net_set_features(struct vhost_net *vn, uint64_t features);
/* Tells the kernel where guest RAM is: every range of vm_get_memmap(). */
int vhost_net_set_mem(struct vhost_net *vn, struct vmctx *ctx);
int vhost_net_set_ring(struct vhost_net *vn, const struct vhost_ring_cfg *rc);
/* Attaches the tap (or detaches with tapfd = -1) for one queue. */
int vhost_net_set_backend(struct vhost_net *vn, unsigned idx, int tapfd);
/* Where the kernel stopped consuming (after detaching the backend). */
int vhost_net_get_base(struct vhost_net *vn, unsigned idx, uint16_t *base);

#endif
