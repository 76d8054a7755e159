/*
 * The backend registry and the tap backend.
 *
 * tap: /dev/net/tun in IFF_TAP | IFF_NO_PI | IFF_VNET_HDR mode, so the
 * guest's virtio-net header reaches the kernel unchanged and checksum and
 * segmentation offloads cost nothing here (Documentation/networking/
 * tuntap.rst).  With more than one queue pair the tap is opened once per
 * pair with IFF_MULTI_QUEUE.  An existing tap is attached to; a missing
 * one is created and disappears when the VM exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "legacy_config.h"
#include "net_backends.h"

SET_DECLARE(net_backend_set, const struct net_backend_ops);

/* "tap0" and "tap=NAME" select tap; the rest by prefix, as bhyve does. */
static const struct net_backend_ops *
netbe_find(const char *spec)
{
	const struct net_backend_ops *const *pp;

	SET_FOREACH(pp, net_backend_set)
	{
		size_t n = strlen((*pp)->prefix);

		if (strncmp(spec, (*pp)->prefix, n) == 0)
			return *pp;
	}
	return NULL;
}

struct net_backend *
netbe_open(const char *spec, struct config_node *nvl, int max_queues, char *err,
	   size_t errlen)
{
	const struct net_backend_ops *ops;
	struct net_backend *be;
	int queues = max_queues < 1 ? 1 : max_queues;

	if (spec == NULL || spec[0] == '\0') {
		snprintf(err, errlen, "no network backend given");
		return NULL;
	}
	ops = netbe_find(spec);
	if (ops == NULL) {
		snprintf(err, errlen,
			 "unknown network backend '%s' (tapN, tap=NAME, slirp)",
			 spec);
		return NULL;
	}
	be = calloc(1, sizeof(*be));
	if (be == NULL || (ops->priv_size &&
			   (be->priv = calloc(1, ops->priv_size)) == NULL)) {
		free(be);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	be->ops = ops;
	be->hdrlen = VIRTIO_NET_HDR_LEN_LEGACY;
	if (ops->init(be, spec, nvl, &queues, err, errlen) != 0) {
		free(be->priv);
		free(be);
		return NULL;
	}
	be->queues = queues;
	return be;
}

void
netbe_close(struct net_backend *be)
{
	if (be == NULL)
		return;
	be->ops->cleanup(be);
	free(be->priv);
	free(be);
}

int
netbe_queues(const struct net_backend *be)
{
	return be->queues;
}

const char *
netbe_type(const struct net_backend *be)
{
	return be->ops->prefix;
}

uint64_t
netbe_get_cap(struct net_backend *be)
{
	return be->ops->get_cap(be);
}

int
netbe_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	if (hdrlen != VIRTIO_NET_HDR_LEN_LEGACY &&
	    hdrlen != VIRTIO_NET_HDR_LEN_MRG) {
		errno = EINVAL;
		return -1;
	}
	if (features & ~netbe_get_cap(be) & NETBE_OFFLOADS) {
		errno = ENOTSUP;
		return -1;
	}
	if (be->ops->set_cap(be, features, hdrlen) != 0)
		return -1;
	be->features = features;
	be->hdrlen = hdrlen;
	return 0;
}

size_t
netbe_hdrlen(const struct net_backend *be)
{
	return be->hdrlen;
}

ssize_t
netbe_send(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	if (q < 0 || q >= be->queues || iovcnt < 0) {
		errno = EINVAL;
		return -1;
	}
	return be->ops->send(be, q, iov, iovcnt);
}

ssize_t
netbe_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	if (q < 0 || q >= be->queues || len < be->hdrlen) {
		errno = EINVAL;
		return -1;
	}
	return be->ops->recv(be, q, buf, len);
}

bool
netbe_has_recvv(const struct net_backend *be)
{
	return be->ops->recvv != NULL;
}

ssize_t
netbe_recvv(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	if (be->ops->recvv == NULL) {
		errno = ENOTSUP;
		return -1;
	}
	if (q < 0 || q >= be->queues || iovcnt < 1 || iovcnt > NETBE_MAX_IOV) {
		errno = EINVAL;
		return -1;
	}
	return be->ops->recvv(be, q, iov, iovcnt);
}

int
netbe_rx_fd(struct net_backend *be, int q)
{
	if (q < 0 || q >= be->queues)
		return -1;
	return be->ops->rx_fd(be, q);
}

int
netbe_tap_fd(struct net_backend *be, int q)
{
	if (q < 0 || q >= be->queues || be->ops->tap_fd == NULL)
		return -1;
	return be->ops->tap_fd(be, q);
}

int
netbe_set_active(struct net_backend *be, int active)
{
	if (active < 1 || active > be->queues) {
		errno = EINVAL;
		return -1;
	}
	if (be->ops->set_active == NULL)
		return 0;
	return be->ops->set_active(be, active);
}

/* ---- tap ---- */

#define TAP_MAX_QUEUES 16

struct tap_priv {
	int fd[TAP_MAX_QUEUES];
	int nfd;
	bool vnet_hdr; /* the kernel accepted IFF_VNET_HDR */
	char name[IFNAMSIZ];
};

/* "tap0" names itself; "tap=NAME" names NAME; anything else is refused. */
static int
tap_parse_name(const char *spec, struct config_node *nvl, char *name, char *err,
	       size_t errlen)
{
	const char *n = spec;

	if (strncmp(spec, "tap=", 4) == 0)
		n = spec + 4;
	if (n[0] == '\0' || strlen(n) >= IFNAMSIZ || strchr(n, '/') != NULL ||
	    strchr(n, ' ') != NULL) {
		snprintf(err, errlen, "invalid tap interface name '%s'", n);
		return -1;
	}
	snprintf(name, IFNAMSIZ, "%s", n);
	return 0;
}

static int
tap_open_one(const char *name, bool multiqueue, bool vnet_hdr)
{
	struct ifreq ifr;
	int fd, saved;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (multiqueue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The kernel's default: no offloads towards us, a 10-byte header. */
static int
tap_configure(int fd, size_t hdrlen, unsigned offload)
{
	int sz = (int)hdrlen;

	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) != 0)
		return -1;
	return ioctl(fd, TUNSETOFFLOAD, offload);
}

/*
 * tapfd=N (beehive): the tap is already open on descriptor N, attached
 * by a more privileged parent (bhyvezone) that may have left this
 * process no /dev/net/tun, no right to attach, or another network
 * namespace.  One queue pair: the descriptor is one queue.
 */
static int
tap_adopt_fd(const char *text, const char *name, int *fdp, char *err,
	     size_t errlen)
{
	struct ifreq ifr;
	char *end;
	long fd;

	errno = 0;
	fd = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || fd < 0 ||
	    fd > INT_MAX) {
		snprintf(err, errlen, "tap '%s': invalid tapfd '%s'", name,
			 text);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl((int)fd, TUNGETIFF, &ifr) != 0 ||
	    (ifr.ifr_flags & IFF_TAP) == 0) {
		snprintf(err, errlen, "tap '%s': tapfd %ld is not an open tap",
			 name, fd);
		return -1;
	}
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK) !=
		0) {
		snprintf(err, errlen, "tap '%s': tapfd %ld: %s", name, fd,
			 strerror(errno));
		return -1;
	}
	*fdp = (int)fd;
	return 0;
}

static void
tap_close_all(struct tap_priv *tp)
{
	while (tp->nfd > 0)
		close(tp->fd[--tp->nfd]);
}

static int
tap_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	 int *queues, char *err, size_t errlen)
{
	struct tap_priv *tp = be->priv;
	unsigned feats = 0;
	bool mq;
	int fd, i;

	if (tap_parse_name(spec, nvl, tp->name, err, errlen) != 0)
		return -1;
	if (*queues > TAP_MAX_QUEUES)
		*queues = TAP_MAX_QUEUES;
	mq = *queues > 1;
	if (get_config_value_node(nvl, "tapfd") != NULL) {
		if (tap_adopt_fd(get_config_value_node(nvl, "tapfd"), tp->name,
				 &fd, err, errlen) != 0)
			return -1;
		mq = false;
		*queues = 1;
	} else {
		fd = tap_open_one(tp->name, mq, true);
	}
	if (fd < 0 && mq && errno == EINVAL) {
		/* An existing single-queue tap: carry on with one pair. */
		mq = false;
		*queues = 1;
		fd = tap_open_one(tp->name, false, true);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open tap '%s': %s", tp->name,
			 strerror(errno));
		return -1;
	}
	tp->fd[tp->nfd++] = fd;
	if (ioctl(fd, TUNGETFEATURES, &feats) == 0 &&
	    (feats & IFF_VNET_HDR) != 0)
		tp->vnet_hdr = true;
	if (!tp->vnet_hdr || tap_configure(fd, be->hdrlen, 0) != 0) {
		snprintf(err, errlen, "tap '%s': no virtio-net header support",
			 tp->name);
		tap_close_all(tp);
		return -1;
	}
	for (i = 1; i < *queues; i++) {
		fd = tap_open_one(tp->name, true, true);
		if (fd < 0 || tap_configure(fd, be->hdrlen, 0) != 0) {
			snprintf(err, errlen, "tap '%s' queue %d: %s", tp->name,
				 i, strerror(errno));
			if (fd >= 0)
				close(fd);
			tap_close_all(tp);
			return -1;
		}
		tp->fd[tp->nfd++] = fd;
	}
	return 0;
}

static void
tap_cleanup(struct net_backend *be)
{
	tap_close_all(be->priv);
}

static uint64_t
tap_get_cap(struct net_backend *be)
{
	/* UFO is left out: Linux no longer segments UDP for taps. */
	return NETBE_OFFLOADS | VIRTIO_NET_F_MRG_RXBUF;
}

/* What the kernel may hand us is what the guest said it can take. */
static unsigned
tap_offload_flags(uint64_t features)
{
	unsigned off = 0;

	if (features & VIRTIO_NET_F_GUEST_CSUM) {
		off |= TUN_F_CSUM;
		if (features & VIRTIO_NET_F_GUEST_TSO4)
			off |= TUN_F_TSO4;
		if (features & VIRTIO_NET_F_GUEST_TSO6)
			off |= TUN_F_TSO6;
		if ((features & VIRTIO_NET_F_GUEST_ECN) &&
		    (off & (TUN_F_TSO4 | TUN_F_TSO6)))
			off |= TUN_F_TSO_ECN;
	}
	return off;
}

static int
tap_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	struct tap_priv *tp = be->priv;
	unsigned off = tap_offload_flags(features);
	int i;

	for (i = 0; i < tp->nfd; i++)
		if (tap_configure(tp->fd[i], hdrlen, off) != 0)
			return -1;
	return 0;
}

static ssize_t
tap_send(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	struct tap_priv *tp = be->priv;
	ssize_t n;

	if (iovcnt > NETBE_MAX_IOV) {
		errno = EMSGSIZE;
		return -1;
	}
	do {
		n = writev(tp->fd[q], iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* The kernel's tun driver writes the header, then as much of the frame
 * as fits (callers leave room for the largest frame). */
static ssize_t
tap_recvv(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	struct tap_priv *tp = be->priv;
	ssize_t n;

	do {
		n = readv(tp->fd[q], iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n >= 0 && (size_t)n < be->hdrlen) {
		/* Cannot happen with IFF_VNET_HDR; never pass a runt up. */
		errno = EIO;
		return -1;
	}
	return n;
}

static ssize_t
tap_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	struct iovec iov = {buf, len};

	return tap_recvv(be, q, &iov, 1);
}

/* Detached queues get no frames from the kernel's flow steering. */
static int
tap_set_active(struct net_backend *be, int active)
{
	struct tap_priv *tp = be->priv;
	struct ifreq ifr;
	int i;

	if (tp->nfd < 2)
		return 0;
	for (i = 0; i < tp->nfd; i++) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags =
		    i < active ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
		/* EINVAL: already in that state. */
		if (ioctl(tp->fd[i], TUNSETQUEUE, &ifr) != 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

static int
tap_rx_fd(struct net_backend *be, int q)
{
	struct tap_priv *tp = be->priv;

	return tp->fd[q];
}

/* Every backend that is a Linux tap: the same ops under its own prefix. */
#define TAP_BACKEND(var, pfx)                                                  \
	static const struct net_backend_ops var = {                            \
	    .prefix = pfx,                                                     \
	    .priv_size = sizeof(struct tap_priv),                              \
	    .init = tap_init,                                                  \
	    .cleanup = tap_cleanup,                                            \
	    .get_cap = tap_get_cap,                                            \
	    .set_cap = tap_set_cap,                                            \
	    .send = tap_send,                                                  \
	    .recv = tap_recv,                                                  \
	    .recvv = tap_recvv,                                                \
	    .rx_fd = tap_rx_fd,                                                \
	    .tap_fd = tap_rx_fd,                                               \
	    .set_active = tap_set_active,                                      \
	};                                                                     \
	NET_BACKEND_SET(var)

TAP_BACKEND(tap_backend, "tap");
/* FreeBSD's vmnetN is a tap variant; here it is a tap of that name. */
TAP_BACKEND(vmnet_backend, "vmnet");

int
netbe_legacy_config(struct config_node *nvl, const char *opts)
{
	return legacy_config_positional(nvl, opts, "backend");
}

/* ---- MAC addresses, shared by the NIC models (virtio-net, e1000) ---- */

int
netbe_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &tail) != 6 ||
	    strlen(s) != 17)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	/* A station address: not multicast, not all zeros. */
	if ((mac[0] & 1) ||
	    (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return -1;
	return 0;
}

/*
 * A MAC that stays the same across runs of the same VM in the same slot:
 * FNV-1a of "name:bus:slot:func", locally administered (02:be:...).
 */
void
netbe_default_mac(const char *vmname, int bus, int slot, int func,
		  uint8_t mac[6])
{
	char key[160];
	uint32_t h = 2166136261u;
	size_t i, n;

	n = (size_t)snprintf(key, sizeof(key), "%s:%d:%d:%d",
			     vmname ? vmname : "", bus, slot, func);
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	for (i = 0; i < n; i++) {
		h ^= (uint8_t)key[i];
		h *= 16777619u;
	}
	mac[0] = 0x02;
	mac[1] = 0xbe;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}
