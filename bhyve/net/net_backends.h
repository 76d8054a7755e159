/*
 * Network backends: where virtio-net's frames go on the host.
 *
 * Every frame crossing this interface starts with a virtio-net header
 * (virtio 1.2, 5.1.6) of the length the device negotiated with the
 * guest: 10 bytes, or 12 with num_buffers (VIRTIO_NET_F_MRG_RXBUF or
 * VERSION_1).  A backend either carries the header to the kernel (tap
 * with IFF_VNET_HDR: checksum and segmentation offloads) or strips and
 * synthesises it (slirp), so the device never needs to know which.
 *
 * A backend has one or more queues (multiqueue tap); each queue has a
 * file descriptor the device polls with mevent for received frames.
 * Backends register a struct net_backend_ops in a linker set, matched by
 * the prefix of the "backend" key ("tap0", "tap=NAME", "slirp").
 */
#ifndef NET_BACKENDS_H
#define NET_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "linker_set.h"

/* virtio-net feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM		 (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM		 (1ULL << 1)
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (1ULL << 2)
#define VIRTIO_NET_F_MTU		 (1ULL << 3)
#define VIRTIO_NET_F_MAC		 (1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4		 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6		 (1ULL << 8)
#define VIRTIO_NET_F_GUEST_ECN		 (1ULL << 9)
#define VIRTIO_NET_F_GUEST_UFO		 (1ULL << 10)
#define VIRTIO_NET_F_HOST_TSO4		 (1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6		 (1ULL << 12)
#define VIRTIO_NET_F_HOST_ECN		 (1ULL << 13)
#define VIRTIO_NET_F_HOST_UFO		 (1ULL << 14)
#define VIRTIO_NET_F_MRG_RXBUF		 (1ULL << 15)
#define VIRTIO_NET_F_STATUS		 (1ULL << 16)
#define VIRTIO_NET_F_CTRL_VQ		 (1ULL << 17)
#define VIRTIO_NET_F_CTRL_RX		 (1ULL << 18)
#define VIRTIO_NET_F_CTRL_VLAN		 (1ULL << 19)
#define VIRTIO_NET_F_GUEST_ANNOUNCE	 (1ULL << 21)
#define VIRTIO_NET_F_MQ			 (1ULL << 22)
#define VIRTIO_NET_F_CTRL_MAC_ADDR	 (1ULL << 23)

/* The offloads a backend may be able to carry. */
#define NETBE_OFFLOADS                                                         \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM |                         \
	 VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |                   \
	 VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 |                     \
	 VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN)

/* The virtio-net header (5.1.6); num_buffers only in the 12-byte form. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define VIRTIO_NET_HDR_LEN_LEGACY 10
#define VIRTIO_NET_HDR_LEN_MRG	  12

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

/* The largest frame a backend delivers: a 64 KiB GSO frame + header. */
#define NETBE_MAX_FRAME (65536 + 14 + 4)
/* The most iovec elements one send or recvv takes: readv/writev's limit
 * (Linux UIO_MAXIOV), a whole 1024-entry virtio ring. */
#define NETBE_MAX_IOV 1024

struct net_backend;

struct net_backend_ops {
	const char *prefix; /* matched against the "backend" value */
	size_t priv_size;
	/* Opens up to *queues queues, lowering *queues if it must. */
	int (*init)(struct net_backend *be, const char *spec,
		    struct config_node *nvl, int *queues, char *err,
		    size_t errlen);
	void (*cleanup)(struct net_backend *be);
	/* Offload features (VIRTIO_NET_F_*) the backend can carry. */
	uint64_t (*get_cap)(struct net_backend *be);
	/* Applies the negotiated features and header length. */
	int (*set_cap)(struct net_backend *be, uint64_t features,
		       size_t hdrlen);
	ssize_t (*send)(struct net_backend *be, int q, const struct iovec *iov,
			int iovcnt);
	/* One frame with its header; 0 when none is waiting. */
	ssize_t (*recv)(struct net_backend *be, int q, void *buf, size_t len);
	/*
	 * Optional: one frame with its header scattered over iov (straight
	 * into guest buffers, no bounce copy); 0 when none is waiting.  A
	 * frame longer than iov is cut (a tap's readv returns the cut
	 * length), so callers give room for the largest frame.
	 */
	ssize_t (*recvv)(struct net_backend *be, int q, const struct iovec *iov,
			 int iovcnt);
	int (*rx_fd)(struct net_backend *be, int q);
	/* The tap file descriptor of queue q, or -1 (vhost-net needs it). */
	int (*tap_fd)(struct net_backend *be, int q);
	/* Optional: only queues 0 .. active-1 carry traffic. */
	int (*set_active)(struct net_backend *be, int active);
};

#define NET_BACKEND_SET(x) DATA_SET(net_backend_set, x)

struct net_backend {
	const struct net_backend_ops *ops;
	int queues;
	uint64_t features;
	size_t hdrlen; /* negotiated with the guest: 10 or 12 */
	void *priv;
};

/*
 * Opens the backend 'spec' ("tap0", "tap=NAME", "slirp"...) with up to
 * max_queues queues; nvl holds the device's other keys (hostfwd=...).
 * NULL with a one-line reason in err.
 */
/*
 * "-s N,model,backend[,opts]" for every NIC model (virtio-net, e1000):
 * backend=..., then the generic options (legacy_config.h).
 */
int netbe_legacy_config(struct config_node *nvl, const char *opts);

struct net_backend *netbe_open(const char *spec, struct config_node *nvl,
			       int max_queues, char *err, size_t errlen);
void netbe_close(struct net_backend *be);
int netbe_queues(const struct net_backend *be);
const char *netbe_type(const struct net_backend *be);
uint64_t netbe_get_cap(struct net_backend *be);
int netbe_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen);
size_t netbe_hdrlen(const struct net_backend *be);
/*
 * Sends one frame: iov begins with a header of netbe_hdrlen() bytes
 * (possibly split across elements).  Returns the bytes taken, -1 on
 * error (EAGAIN when the host side is full: the frame is dropped).
 */
ssize_t netbe_send(struct net_backend *be, int q, const struct iovec *iov,
		   int iovcnt);
/* Receives one frame with its header into buf; 0 if none, -1 on error. */
ssize_t netbe_recv(struct net_backend *be, int q, void *buf, size_t len);
/* Whether the backend receives into an iovec (netbe_recvv). */
bool netbe_has_recvv(const struct net_backend *be);
ssize_t netbe_recvv(struct net_backend *be, int q, const struct iovec *iov,
		    int iovcnt);
int netbe_rx_fd(struct net_backend *be, int q);
int netbe_tap_fd(struct net_backend *be, int q);
/*
 * The guest uses queues 0 .. active-1 (virtio-net MQ): the host must not
 * steer frames to the others.
 */
int netbe_set_active(struct net_backend *be, int active);

/* "xx:xx:xx:xx:xx:xx", unicast and non-zero: 0, else -1. */
int netbe_parse_mac(const char *s, uint8_t mac[6]);
/*
 * A NIC model's default MAC, stable across runs of the same VM in the
 * same slot: 02:be + a hash of the VM name and the slot.
 */
void netbe_default_mac(const char *vmname, int bus, int slot, int func,
		       uint8_t mac[6]);

#endif
