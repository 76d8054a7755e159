/*
 * virtio-net on a detached VM (guest RAM, no KVM): rings, frames and
 * control commands are written into guest memory as a driver would; the
 * queues are kicked through the device's notify hook.  The backend is a
 * socketpair registered by this test, so every frame the device sends can
 * be read back and frames can be injected for receive.  It is registered
 * twice: "tbe" receives into a buffer (the bounce path, as slirp) and
 * "tbz" also into an iovec (the zero-copy path, as a tap); the device
 * tests run with each.
 * Also: option checking, the default MAC, and malformed chains, which
 * must leave the device NEEDS_RESET and the process alive.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "net_backends.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "virtio.h"
#include "virtio_impl.h"
#include "virtio_net.h"
#include "virtqueue.h"
#include "vmmapi.h"

#define MEM_SIZE (32u << 20)
#define QSIZE	 64
#define BIGQSIZE 1024	     /* virtio-net's largest ring */
#define RING_GPA 0x100000ULL /* queue q's rings at RING_GPA + q * 64K */
#define BUF_GPA	 0x800000ULL
#define SLOT	 3
#define HDR	 12

static struct vmctx *ctx;

/* ---- the test backend: frames go to / come from a socketpair ---- */

/* Per queue pair: [0] the test's side, [1] the device's. */
static int tb_pair[2][2] = {{-1, -1}, {-1, -1}};
#define tb_sv tb_pair[0]
static uint64_t tb_features;
static size_t tb_hdrlen;
static int tb_active;

static int
tb_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	int *queues, char *err, size_t errlen)
{
	int q;

	for (q = 0; q < *queues && q < 2; q++) {
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0,
			       tb_pair[q]) != 0) {
			snprintf(err, errlen, "socketpair");
			return -1;
		}
	}
	*queues = q;
	return 0;
}

static void
tb_cleanup(struct net_backend *be)
{
	int q;

	for (q = 0; q < 2; q++) {
		if (tb_pair[q][0] >= 0) {
			close(tb_pair[q][0]);
			close(tb_pair[q][1]);
		}
		tb_pair[q][0] = tb_pair[q][1] = -1;
	}
}

static uint64_t
tb_get_cap(struct net_backend *be)
{
	return NETBE_OFFLOADS | VIRTIO_NET_F_MRG_RXBUF;
}

static int
tb_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	tb_features = features;
	tb_hdrlen = hdrlen;
	return 0;
}

static ssize_t
tb_send(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	return writev(tb_pair[q][1], iov, iovcnt);
}

static ssize_t
tb_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	ssize_t n = recv(tb_pair[q][1], buf, len, MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return 0;
	return n;
}

/* As a tap: a frame longer than iov is cut and its full length returned. */
static ssize_t
tb_recvv(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov,
			   .msg_iovlen = (size_t)iovcnt};
	ssize_t n = recvmsg(tb_pair[q][1], &m, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0 && errno == EAGAIN)
		return 0;
	return n;
}

/* Empties the device's side of every queue. */
static void
tb_drain(void)
{
	uint8_t buf[256];
	int q;

	for (q = 0; q < 2; q++)
		while (tb_pair[q][1] >= 0 &&
		       recv(tb_pair[q][1], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			;
}

static int
tb_rx_fd(struct net_backend *be, int q)
{
	return tb_pair[q][1];
}

static int
tb_set_active(struct net_backend *be, int active)
{
	tb_active = active;
	return 0;
}

static const struct net_backend_ops tb_ops = {
    .prefix = "tbe",
    .init = tb_init,
    .cleanup = tb_cleanup,
    .get_cap = tb_get_cap,
    .set_cap = tb_set_cap,
    .send = tb_send,
    .recv = tb_recv,
    .rx_fd = tb_rx_fd,
    .set_active = tb_set_active,
};
NET_BACKEND_SET(tb_ops);

static const struct net_backend_ops tbz_ops = {
    .prefix = "tbz",
    .init = tb_init,
    .cleanup = tb_cleanup,
    .get_cap = tb_get_cap,
    .set_cap = tb_set_cap,
    .send = tb_send,
    .recv = tb_recv,
    .recvv = tb_recvv,
    .rx_fd = tb_rx_fd,
    .set_active = tb_set_active,
};
NET_BACKEND_SET(tbz_ops);

/* ---- a minimal driver ---- */

struct tdev {
	struct pci_devinst *pi;
	struct virtio_softc *vs;
	struct test_vring q[5];
	int qsize;    /* of the queues tdev_start() enabled */
	uint64_t buf; /* next free buffer GPA */
};

static uint64_t
tdev_alloc(struct tdev *d, const void *data, size_t len)
{
	uint64_t gpa = d->buf;

	if (data != NULL)
		test_gput(ctx, gpa, data, len);
	d->buf += (len + 63) & ~63ULL;
	return gpa;
}

static void
dev_config(int slot, const char *opts)
{
	char node[32];
	struct config_node *n;

	snprintf(node, sizeof(node), "pci.0.%d.0", slot);
	n = create_config_node(node);
	set_config_value_node(n, "device", "virtio-net");
	test_config_opts(n, opts);
}

/*
 * Negotiates 'features', enables queues (bitmap) with qsize entries each,
 * sets DRIVER_OK.
 */
static bool
tdev_start_sized(struct tdev *d, uint64_t features, unsigned qmask, int qsize)
{
	int q;

	/* Frames a broken device never took stay on the wire (the
	 * zero-copy path checks its chains before it reads): drop them so
	 * that each start sees only its own. */
	tb_drain();
	memset(d->q, 0, sizeof(d->q));
	d->qsize = qsize;
	d->buf = BUF_GPA;
	memset(vm_map_gpa(ctx, RING_GPA, 0x50000), 0, 0x50000);
	virtio_lock(d->vs);
	d->vs->vs_negotiated_caps = features;
	d->vs->vs_vc->vc_apply_features(d->vs->vs_sc, features);
	d->vs->vs_status =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	for (q = 0; q < 5; q++) {
		uint64_t base = RING_GPA + 0x10000ULL * (uint64_t)q;

		if (!(qmask & (1u << q)))
			continue;
		d->q[q].desc = base;
		d->q[q].avail = base + 0x4000;
		d->q[q].used = base + 0x8000;
		if (vq_setup_test(d->vs, q, (uint16_t)qsize, d->q[q].desc,
				  d->q[q].avail, d->q[q].used) != 0) {
			virtio_unlock(d->vs);
			return false;
		}
	}
	virtio_unlock(d->vs);
	return true;
}

static bool
tdev_start(struct tdev *d, uint64_t features, unsigned qmask)
{
	return tdev_start_sized(d, features, qmask, QSIZE);
}

static uint16_t
tdev_post(struct tdev *d, int q, const struct test_seg *s, int n)
{
	return test_vring_post(ctx, &d->q[q], d->qsize, s, n);
}

static void
tdev_kick(struct tdev *d, int q)
{
	virtio_lock(d->vs);
	vi_queue_notify(d->vs, q);
	virtio_unlock(d->vs);
}

static uint16_t
tdev_used_idx(struct tdev *d, int q)
{
	uint16_t v;

	test_gget(ctx, d->q[q].used + 2, &v, 2);
	return v;
}

/* The next used element of q, or false if there is none. */
static bool
tdev_used(struct tdev *d, int q, uint32_t *id, uint32_t *len)
{
	struct test_vring *t = &d->q[q];
	struct vring_used_elem e;

	if (tdev_used_idx(d, q) == t->used_seen)
		return false;
	test_gget(ctx, t->used + 4 + 8ULL * (t->used_seen % d->qsize), &e,
		  sizeof(e));
	t->used_seen++;
	*id = e.id;
	*len = e.len;
	return true;
}

static void
tdev_reset(struct tdev *d)
{
	virtio_lock(d->vs);
	vi_status_write(d->vs, 0);
	virtio_unlock(d->vs);
}

static uint8_t
cfg8(struct tdev *d, int off)
{
	uint32_t v = 0;

	d->vs->vs_vc->vc_cfgread(d->vs->vs_sc, off, 1, &v);
	return (uint8_t)v;
}

static uint16_t
cfg16(struct tdev *d, int off)
{
	uint32_t v = 0;

	d->vs->vs_vc->vc_cfgread(d->vs->vs_sc, off, 2, &v);
	return (uint16_t)v;
}

/* Issues one control command; returns the ack byte (0xee: none). */
static uint8_t
tdev_ctrl(struct tdev *d, uint8_t cls, uint8_t cmd, const void *data,
	  size_t len)
{
	uint8_t hdr[2] = {cls, cmd}, ack = 0xee;
	struct test_seg s[3];
	uint32_t id, ulen;
	int n = 0;

	s[n++] = (struct test_seg){tdev_alloc(d, hdr, 2), 2, false};
	if (len > 0)
		s[n++] = (struct test_seg){tdev_alloc(d, data, len),
					   (uint32_t)len, false};
	s[n] = (struct test_seg){tdev_alloc(d, &ack, 1), 1, true};
	n++;
	tdev_post(d, 4, s, n);
	tdev_kick(d, 4);
	if (!tdev_used(d, 4, &id, &ulen) || ulen != 1)
		return 0xee;
	test_gget(ctx, s[n - 1].gpa, &ack, 1);
	return ack;
}

static size_t
make_frame(uint8_t *f, const uint8_t *dst, size_t paylen, uint8_t fill)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88; /* local experimental ethertype */
	f[13] = 0xb5;
	memset(f + 14, fill, paylen);
	return 14 + paylen;
}

/* ---- the tests ---- */

static const uint8_t dev_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static void
test_config(struct tdev *d)
{
	uint64_t f = d->vs->vs_hv_caps;
	int i, ok = 1;

	CHECK((f & VIRTIO_NET_F_MAC) && (f & VIRTIO_NET_F_STATUS) &&
		  (f & VIRTIO_NET_F_CTRL_VQ) && (f & VIRTIO_NET_F_CTRL_RX) &&
		  (f & VIRTIO_NET_F_MQ) && (f & VIRTIO_NET_F_MTU) &&
		  (f & VIRTIO_NET_F_MRG_RXBUF) && (f & VIRTIO_NET_F_CSUM) &&
		  (f & VIRTIO_NET_F_GUEST_TSO4) &&
		  (f & VIRTIO_NET_F_CTRL_MAC_ADDR) && (f & VIRTIO_F_VERSION_1),
	      "offers MAC, STATUS, CTRL_VQ/RX, MQ, MTU, MRG_RXBUF, offloads");
	CHECK(!(f & VIRTIO_NET_F_GUEST_UFO) && !(f & VIRTIO_NET_F_HOST_UFO),
	      "UFO is not offered");
	for (i = 0; i < 6; i++)
		ok &= cfg8(d, i) == dev_mac[i];
	CHECK(ok, "config: mac= is the MAC");
	CHECK_EQ_U64(cfg16(d, 6), 1, "config: link up");
	CHECK_EQ_U64(cfg16(d, 8), 2, "config: max_virtqueue_pairs = queues");
	CHECK_EQ_U64(cfg16(d, 10), 9000, "config: mtu");
	CHECK_EQ_U64(d->pi->pi_cfgdata[PCIR_CLASS], 0x02, "PCI class: network");
}

/* Negotiation reaches the backend: header length and guest offloads. */
static void
test_features(struct tdev *d)
{
	uint64_t f =
	    VIRTIO_NET_F_MAC | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM;

	CHECK(tdev_start(d, f, 0x3), "legacy features: start");
	CHECK(tb_hdrlen == 10 &&
		  tb_features == (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM),
	      "legacy header (10 bytes), offloads passed to the backend");
	tdev_reset(d);
	CHECK(tdev_start(d, f | VIRTIO_F_VERSION_1, 0x3) && tb_hdrlen == 12,
	      "VERSION_1: 12-byte header");
	tdev_reset(d);
	CHECK(tb_hdrlen == 10 && tb_features == 0,
	      "reset: backend back to no offloads");
}

static void
test_tx(struct tdev *d)
{
	uint8_t frame[200], hdr[HDR] = {0}, got[512];
	struct virtio_net_hdr *h = (struct virtio_net_hdr *)hdr;
	struct vtnet_stats st0, st1;
	struct test_seg s[2];
	uint32_t id, len;
	size_t fl = make_frame(frame, bcast, 100, 0x5a);
	ssize_t n;

	s[0] = (struct test_seg){tdev_alloc(d, hdr, HDR), HDR, false};
	s[1] = (struct test_seg){tdev_alloc(d, frame, fl), (uint32_t)fl, false};
	tdev_post(d, 1, s, 2);
	tdev_kick(d, 1);
	n = recv(tb_sv[0], got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == (ssize_t)(HDR + fl) && memcmp(got + HDR, frame, fl) == 0,
	      "tx: header + frame reach the backend");
	CHECK(tdev_used(d, 1, &id, &len) && id == 0 && len == 0,
	      "tx: chain returned used");

	/* Checksum offload request inside the frame: passed through. */
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = 14;
	h->csum_offset = 6;
	s[0].gpa = tdev_alloc(d, hdr, HDR);
	tdev_post(d, 1, s, 2);
	tdev_kick(d, 1);
	n = recv(tb_sv[0], got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == (ssize_t)(HDR + fl) && got[0] == VIRTIO_NET_HDR_F_NEEDS_CSUM,
	      "tx: NEEDS_CSUM header passed to the backend");
	CHECK(tdev_used(d, 1, &id, &len), "tx: csum chain used");

	/* Not negotiated (UDP GSO), or csum beyond the frame: dropped. */
	vtnet_get_stats(d->pi, &st0);
	h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
	h->gso_size = 1000;
	s[0].gpa = tdev_alloc(d, hdr, HDR);
	tdev_post(d, 1, s, 2);
	h->gso_type = 0;
	h->csum_start = (uint16_t)fl;
	s[0].gpa = tdev_alloc(d, hdr, HDR);
	tdev_post(d, 1, s, 2);
	tdev_kick(d, 1);
	vtnet_get_stats(d->pi, &st1);
	CHECK(recv(tb_sv[0], got, sizeof(got), MSG_DONTWAIT) < 0 &&
		  st1.tx_dropped == st0.tx_dropped + 2,
	      "tx: un-negotiated GSO and out-of-frame csum are dropped");
	CHECK(tdev_used(d, 1, &id, &len) && tdev_used(d, 1, &id, &len),
	      "tx: dropped chains are still returned");
}

/* Injects one frame with a zero header into the backend. */
static void
inject(const uint8_t *frame, size_t fl)
{
	uint8_t buf[16384] = {0};

	memcpy(buf + HDR, frame, fl);
	if (send(tb_sv[0], buf, HDR + fl, 0) != (ssize_t)(HDR + fl))
		printf("FAIL: inject\n");
}

/* Posts n receive buffers of len bytes each; returns the first GPA. */
static uint64_t
post_rx(struct tdev *d, int n, uint32_t len)
{
	uint64_t first = 0, gpa;
	struct test_seg s;
	int i;

	for (i = 0; i < n; i++) {
		gpa = tdev_alloc(d, NULL, len);
		if (i == 0)
			first = gpa;
		s = (struct test_seg){gpa, len, true};
		tdev_post(d, 0, &s, 1);
	}
	return first;
}

static void
test_rx(struct tdev *d)
{
	uint8_t frame[6000], got[6000];
	struct virtio_net_hdr h;
	uint32_t id, len, l2, l3;
	uint64_t gpa;
	size_t fl;

	/* No buffers yet: the frame waits in the device. */
	fl = make_frame(frame, dev_mac, 300, 0x11);
	inject(frame, fl);
	tdev_kick(d, 0);
	CHECK(tdev_used_idx(d, 0) == 0, "rx: nothing used without buffers");
	gpa = post_rx(d, 1, 2048);
	tdev_kick(d, 0);
	CHECK(tdev_used(d, 0, &id, &len) && len == HDR + fl,
	      "rx: delivered once a buffer is posted");
	test_gget(ctx, gpa, &h, sizeof(h));
	test_gget(ctx, gpa + HDR, got, fl);
	CHECK(h.num_buffers == 1 && h.flags == 0 && memcmp(got, frame, fl) == 0,
	      "rx: header num_buffers = 1 and the frame intact");

	/* A 5000-byte frame over 2048-byte buffers: three merged. */
	fl = make_frame(frame, dev_mac, 4986, 0x22);
	gpa = post_rx(d, 4, 2048);
	inject(frame, fl);
	tdev_kick(d, 0);
	CHECK(tdev_used(d, 0, &id, &len) && tdev_used(d, 0, &id, &l2) &&
		  tdev_used(d, 0, &id, &l3) && len == 2048 && l2 == 2048 &&
		  len + l2 + l3 == HDR + fl,
	      "rx: mergeable frame spans three buffers");
	test_gget(ctx, gpa, &h, sizeof(h));
	test_gget(ctx, gpa + HDR, got, 2048 - HDR);
	test_gget(ctx, gpa + 2048, got + 2048 - HDR, 2048);
	test_gget(ctx, gpa + 4096, got + 4096 - HDR, fl - (4096 - HDR));
	CHECK(h.num_buffers == 3 && memcmp(got, frame, fl) == 0,
	      "rx: num_buffers = 3 and the frame reassembles");

	/* The fourth buffer is still available for the next frame. */
	fl = make_frame(frame, bcast, 60, 0x33);
	inject(frame, fl);
	tdev_kick(d, 0);
	CHECK(tdev_used(d, 0, &id, &len) && len == HDR + fl,
	      "rx: leftover buffer takes the next frame");
}

/*
 * A frame larger than the buffers posted waits in the device until more
 * arrive, then reassembles; frames before and after it stay in order.
 */
static void
test_rx_short(struct tdev *d)
{
	uint8_t frame[6000], got[6000];
	struct virtio_net_hdr h;
	uint32_t id, len, l2, l3;
	uint64_t gpa, gpa2;
	size_t fl;

	fl = make_frame(frame, dev_mac, 5500, 0x55);
	gpa = post_rx(d, 1, 2048);
	inject(frame, fl);
	tdev_kick(d, 0);
	CHECK(tdev_used_idx(d, 0) == d->q[0].used_seen,
	      "rx short: one buffer is not enough");
	gpa2 = post_rx(d, 2, 2048);
	tdev_kick(d, 0);
	CHECK(tdev_used(d, 0, &id, &len) && tdev_used(d, 0, &id, &l2) &&
		  tdev_used(d, 0, &id, &l3) && len + l2 + l3 == HDR + fl,
	      "rx short: delivered over three buffers once posted");
	test_gget(ctx, gpa, &h, sizeof(h));
	test_gget(ctx, gpa + HDR, got, 2048 - HDR);
	test_gget(ctx, gpa2, got + 2048 - HDR, 2048);
	test_gget(ctx, gpa2 + 2048, got + 4096 - HDR, fl - (4096 - HDR));
	CHECK(h.num_buffers == 3 && memcmp(got, frame, fl) == 0,
	      "rx short: num_buffers = 3 and the frame intact");
	/* Nothing is left held: the next frame takes the next buffer. */
	fl = make_frame(frame, dev_mac, 100, 0x56);
	gpa = post_rx(d, 1, 2048);
	inject(frame, fl);
	tdev_kick(d, 0);
	test_gget(ctx, gpa + HDR, got, fl);
	CHECK(tdev_used(d, 0, &id, &len) && len == HDR + fl &&
		  memcmp(got, frame, fl) == 0,
	      "rx short: the next frame lands in the next buffer");
}

static void
rx_expect(struct tdev *d, const uint8_t *dst, bool want, const char *name)
{
	uint8_t frame[100];
	uint32_t id, len;
	size_t fl = make_frame(frame, dst, 50, 0x44);
	bool got;

	post_rx(d, 1, 2048);
	inject(frame, fl);
	tdev_kick(d, 0);
	got = tdev_used(d, 0, &id, &len);
	CHECK(got == want, name);
	if (!got) {
		/* Consume the posted buffer with a frame that passes. */
		fl = make_frame(frame, dev_mac, 50, 0x45);
		inject(frame, fl);
		tdev_kick(d, 0);
		tdev_used(d, 0, &id, &len);
	}
}

static void
test_ctrl(struct tdev *d)
{
	uint8_t off = 0, on = 1, tbl[4 + 6 + 4], mac2[6] = {2, 9, 9, 9, 9, 9};
	uint8_t bad[4 + 4] = {0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0};
	uint16_t pairs;
	uint64_t offl;
	uint32_t n;
	struct vtnet_state st;
	int i, ok = 1;

	rx_expect(d, other, true, "rx filter: promiscuous by default");
	CHECK(tdev_ctrl(d, 0, 0, &off, 1) == 0, "ctrl: PROMISC off acked");
	rx_expect(d, other, false, "rx filter: foreign unicast dropped");
	rx_expect(d, dev_mac, true, "rx filter: own MAC accepted");
	rx_expect(d, bcast, true, "rx filter: broadcast accepted");
	CHECK(tdev_ctrl(d, 0, 5, &on, 1) == 0, "ctrl: NOBCAST on acked");
	rx_expect(d, bcast, false, "rx filter: NOBCAST drops broadcast");
	n = 1;
	memcpy(tbl, &n, 4);
	memcpy(tbl + 4, other, 6);
	n = 0;
	memcpy(tbl + 10, &n, 4);
	CHECK(tdev_ctrl(d, 1, 0, tbl, sizeof(tbl)) == 0,
	      "ctrl: MAC_TABLE_SET acked");
	rx_expect(d, other, true, "rx filter: table unicast accepted");
	CHECK(tdev_ctrl(d, 1, 0, bad, sizeof(bad)) == 1,
	      "ctrl: MAC table with 2^28 entries refused");
	CHECK(tdev_ctrl(d, 1, 0, tbl, 6) == 1,
	      "ctrl: truncated MAC table refused");
	CHECK(tdev_ctrl(d, 1, 1, mac2, 6) == 0, "ctrl: MAC_ADDR_SET acked");
	for (i = 0; i < 6; i++)
		ok &= cfg8(d, i) == mac2[i];
	CHECK(ok, "ctrl: MAC_ADDR_SET shows in config space");
	pairs = 2;
	CHECK(tdev_ctrl(d, 4, 0, &pairs, 2) == 0 && tb_active == 2,
	      "ctrl: MQ VQ_PAIRS_SET 2 acked, backend told");
	pairs = 3;
	CHECK(tdev_ctrl(d, 4, 0, &pairs, 2) == 1, "ctrl: 3 pairs refused");
	pairs = 0;
	CHECK(tdev_ctrl(d, 4, 0, &pairs, 2) == 1, "ctrl: 0 pairs refused");
	offl = VIRTIO_NET_F_GUEST_CSUM;
	CHECK(tdev_ctrl(d, 5, 0, &offl, 8) == 0 &&
		  (tb_features & VIRTIO_NET_F_GUEST_TSO4) == 0 &&
		  (tb_features & VIRTIO_NET_F_GUEST_CSUM),
	      "ctrl: GUEST_OFFLOADS_SET narrows the backend's offloads");
	offl = VIRTIO_NET_F_GUEST_UFO;
	CHECK(tdev_ctrl(d, 5, 0, &offl, 8) == 1,
	      "ctrl: un-negotiated offload refused");
	CHECK(tdev_ctrl(d, 9, 0, NULL, 0) == 1, "ctrl: unknown class refused");
	CHECK(tdev_ctrl(d, 0, 0, NULL, 0) == 1, "ctrl: missing data refused");
	vtnet_get_state(d->pi, &st);
	CHECK(st.active_pairs == 2 && st.rxf.nobcast && !st.rxf.promisc &&
		  st.rxf.nuni == 1,
	      "state: pairs, filter flags and table recorded");
	tdev_reset(d);
	vtnet_get_state(d->pi, &st);
	CHECK(st.active_pairs == 1 && st.rxf.promisc && !st.rxf.nobcast &&
		  memcmp(st.mac, dev_mac, 6) == 0 && tb_active == 1,
	      "reset: filter, MAC and queue pairs back to defaults");
}

static bool
broken(struct tdev *d)
{
	return d->vs->vs_broken &&
	       (d->vs->vs_status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void
test_malformed(struct tdev *d, uint64_t f)
{
	uint8_t hdr[HDR] = {0}, buf[128] = {0};
	struct test_seg s[2];

	/* A transmit chain with a device-writable buffer. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){tdev_alloc(d, hdr, HDR), HDR, false};
	s[1] = (struct test_seg){tdev_alloc(d, buf, 64), 64, true};
	tdev_post(d, 1, s, 2);
	tdev_kick(d, 1);
	CHECK(broken(d), "malformed: writable tx buffer -> NEEDS_RESET");
	CHECK(recv(tb_sv[0], buf, sizeof(buf), MSG_DONTWAIT) < 0,
	      "malformed: nothing sent");
	tdev_reset(d);
	CHECK(!broken(d), "malformed: reset clears NEEDS_RESET");

	/* A transmit chain shorter than the header. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){tdev_alloc(d, hdr, 4), 4, false};
	tdev_post(d, 1, s, 1);
	tdev_kick(d, 1);
	CHECK(broken(d), "malformed: tx chain shorter than header");
	tdev_reset(d);

	/* A control chain without an ack byte. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){tdev_alloc(d, hdr, 3), 3, false};
	tdev_post(d, 4, s, 1);
	tdev_kick(d, 4);
	CHECK(broken(d), "malformed: ctrl chain without ack byte");
	tdev_reset(d);

	/* A receive chain with a device-readable buffer. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){tdev_alloc(d, NULL, 2048), 2048, false};
	tdev_post(d, 0, s, 1);
	inject(buf, 60);
	tdev_kick(d, 0);
	CHECK(broken(d), "malformed: readable rx buffer -> NEEDS_RESET");
	tdev_reset(d);
	while (recv(tb_sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;

	/* A buffer outside guest RAM: the core refuses the chain. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){MEM_SIZE - 8, 64, false};
	tdev_post(d, 1, s, 1);
	tdev_kick(d, 1);
	CHECK(broken(d), "malformed: buffer beyond RAM -> NEEDS_RESET");
	tdev_reset(d);

	/* The device works again after the reset. */
	tdev_start(d, f, 0x13);
	s[0] = (struct test_seg){tdev_alloc(d, hdr, HDR), HDR, false};
	s[1] = (struct test_seg){tdev_alloc(d, buf, 60), 60, false};
	tdev_post(d, 1, s, 2);
	tdev_kick(d, 1);
	CHECK(!broken(d) &&
		  recv(tb_sv[0], buf, sizeof(buf), MSG_DONTWAIT) == HDR + 60,
	      "malformed: device transmits again after reset");
	tdev_reset(d);
}

/*
 * A driver may post chains as long as the ring (virtio 1.2, 2.7.5.3.1):
 * on 1024-entry rings, a 300-descriptor transmit chain, a receive chain
 * of 300 buffers, and a transmit chain of the whole ring.  None may reset
 * the device, and every byte must arrive in order.
 */
static void
test_long_chains(struct tdev *d, uint64_t f)
{
	static struct test_seg s[BIGQSIZE];
	static uint8_t frame[4096], got[4096];
	uint8_t hdr[HDR] = {0};
	struct virtio_net_hdr h;
	uint32_t id, len;
	size_t fl, i;
	ssize_t n;

	CHECK(tdev_start_sized(d, f, 0x3, BIGQSIZE),
	      "long chains: 1024-entry queues");
	/* Transmit: the header, then the frame in 299 pieces of 4 bytes. */
	fl = make_frame(frame, bcast, 299 * 4 - 14, 0x71);
	for (i = 14; i < fl; i++)
		frame[i] = (uint8_t)i;
	s[0] = (struct test_seg){tdev_alloc(d, hdr, HDR), HDR, false};
	for (i = 0; i < 299; i++)
		s[1 + i] = (struct test_seg){tdev_alloc(d, frame + 4 * i, 4), 4,
					     false};
	tdev_post(d, 1, s, 300);
	tdev_kick(d, 1);
	n = recv(tb_sv[0], got, sizeof(got), MSG_DONTWAIT);
	CHECK(!broken(d) && n == (ssize_t)(HDR + fl) &&
		  memcmp(got + HDR, frame, fl) == 0,
	      "long chains: 300-descriptor tx chain sent whole, no reset");
	CHECK(tdev_used(d, 1, &id, &len) && id == 0 && len == 0,
	      "long chains: the tx chain is returned used");

	/* Receive: one chain of 300 writable 8-byte buffers (2400 bytes). */
	fl = make_frame(frame, dev_mac, 2000, 0x72);
	for (i = 14; i < fl; i++)
		frame[i] = (uint8_t)(i * 7);
	for (i = 0; i < 300; i++)
		s[i] = (struct test_seg){tdev_alloc(d, NULL, 8), 8, true};
	tdev_post(d, 0, s, 300);
	inject(frame, fl);
	tdev_kick(d, 0);
	for (i = 0; i < (HDR + fl + 7) / 8; i++)
		test_gget(ctx, s[i].gpa, got + 8 * i, 8);
	memcpy(&h, got, sizeof(h));
	CHECK(!broken(d) && tdev_used(d, 0, &id, &len) && id == 0 &&
		  len == HDR + fl && h.num_buffers == 1 &&
		  memcmp(got + HDR, frame, fl) == 0,
	      "long chains: 300-buffer rx chain takes a 2014-byte frame");

	/* Transmit: a chain of the whole ring, 1024 descriptors. */
	fl = make_frame(frame, bcast, BIGQSIZE - 1 - 14, 0x73);
	s[0] = (struct test_seg){tdev_alloc(d, hdr, HDR), HDR, false};
	for (i = 0; i < BIGQSIZE - 1; i++)
		s[1 + i] =
		    (struct test_seg){tdev_alloc(d, frame + i, 1), 1, false};
	tdev_post(d, 1, s, BIGQSIZE);
	tdev_kick(d, 1);
	n = recv(tb_sv[0], got, sizeof(got), MSG_DONTWAIT);
	CHECK(!broken(d) && n == (ssize_t)(HDR + fl) &&
		  memcmp(got + HDR, frame, fl) == 0,
	      "long chains: a 1024-descriptor tx chain (the whole ring) sent");
	CHECK(tdev_used(d, 1, &id, &len) && id == 300 && len == 0,
	      "long chains: the whole-ring chain is returned used");
	tdev_reset(d);
}

/* Without mergeable buffers a frame must fit one chain, else dropped. */
static void
test_no_mrg(struct tdev *d)
{
	uint64_t f = VIRTIO_NET_F_MAC | VIRTIO_F_VERSION_1;
	uint8_t frame[3000];
	struct vtnet_stats st0, st1;
	struct virtio_net_hdr h;
	uint32_t id, len;
	uint64_t gpa;
	size_t fl;

	CHECK(tdev_start(d, f, 0x13), "no-mrg: start");
	vtnet_get_stats(d->pi, &st0);
	gpa = post_rx(d, 1, 1024);
	fl = make_frame(frame, dev_mac, 2000, 0x66);
	inject(frame, fl);
	tdev_kick(d, 0);
	vtnet_get_stats(d->pi, &st1);
	CHECK(tdev_used_idx(d, 0) == 0 && st1.rx_dropped == st0.rx_dropped + 1,
	      "no-mrg: too-large frame dropped, buffer kept");
	fl = make_frame(frame, dev_mac, 500, 0x67);
	inject(frame, fl);
	tdev_kick(d, 0);
	test_gget(ctx, gpa, &h, sizeof(h));
	CHECK(tdev_used(d, 0, &id, &len) && len == HDR + fl &&
		  h.num_buffers == 1,
	      "no-mrg: next frame uses the kept buffer, num_buffers = 1");
	tdev_reset(d);
}

static void
test_options(void)
{
	static const char *const bad[] = {
	    "backend=tbe,mac=01:00:00:00:00:01", /* multicast */
	    "backend=tbe,mac=00:00:00:00:00:00",
	    "backend=tbe,mac=02:00:00:00:00",
	    "backend=tbe,mtu=10",
	    "backend=tbe,mtu=70000",
	    "backend=tbe,queues=9",
	    "backend=tbe,queues=0",
	    "backend=nosuch0",
	    "mac=02:00:00:00:00:01", /* no backend */
	};
	uint8_t m1[6], m2[6], m3[6];
	char name[96];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_pci_world_reset();
		dev_config(SLOT, bad[i]);
		snprintf(name, sizeof(name), "options: '%s' refused", bad[i]);
		CHECK(init_pci(ctx) != 0, name);
	}
	netbe_default_mac("vm1", 0, 3, 0, m1);
	netbe_default_mac("vm1", 0, 3, 0, m2);
	netbe_default_mac("vm1", 0, 4, 0, m3);
	CHECK(memcmp(m1, m2, 6) == 0 && memcmp(m1, m3, 6) != 0,
	      "default MAC: stable, differs per slot");
	CHECK(m1[0] == 0x02 && m1[1] == 0xbe,
	      "default MAC: locally administered unicast 02:be:...");
	CHECK(netbe_parse_mac("02:ab:cd:ef:01:23", m1) == 0 && m1[1] == 0xab &&
		  m1[5] == 0x23,
	      "mac= parses");
}

static void
test_default_mac_device(void)
{
	struct pci_devinst *pi;
	struct vtnet_state st;
	uint8_t want[6];

	test_pci_world_reset();
	dev_config(5, "backend=tbe");
	CHECK(init_pci(ctx) == 0, "device without mac= builds");
	pi = pci_emul_find_dev(0, 5, 0);
	if (pi == NULL)
		return;
	vtnet_get_state(pi, &st);
	netbe_default_mac(vm_get_name(ctx), 0, 5, 0, want);
	CHECK(memcmp(st.mac, want, 6) == 0 && st.max_pairs == 1 && !st.vhost &&
		  !(((struct virtio_softc *)pi->pi_arg)->vs_hv_caps &
		    VIRTIO_NET_F_MQ),
	      "default MAC from VM name and slot; one pair, no MQ offered");
	pci_emul_fini();
}

/* Every device test, on the backend named (the bounce or zero-copy
 * receive path). */
static void
test_device(const char *backend)
{
	struct tdev d = {0};
	char opts[96];
	uint64_t full;

	printf("# virtio-net with backend %s\n", backend);
	test_pci_world_reset();
	snprintf(opts, sizeof(opts),
		 "backend=%s,mac=02:00:00:00:00:01,mtu=9000,queues=2", backend);
	dev_config(SLOT, opts);
	CHECK(init_pci(ctx) == 0, "virtio-net builds (2 pairs, mtu 9000)");
	d.pi = pci_emul_find_dev(0, SLOT, 0);
	if (d.pi == NULL) {
		pci_emul_fini();
		return;
	}
	d.vs = d.pi->pi_arg;
	test_config(&d);
	test_features(&d);
	/* Everything offered but EVENT_IDX (this driver does not do it). */
	full = d.vs->vs_hv_caps & ~VIRTIO_RING_F_EVENT_IDX;
	CHECK(tdev_start(&d, full, 0x13) && tb_hdrlen == 12,
	      "full features: start");
	test_tx(&d);
	test_rx(&d);
	test_rx_short(&d);
	test_ctrl(&d);
	test_malformed(&d, full);
	test_no_mrg(&d);
	test_long_chains(&d, full);
	pci_emul_fini();
}

int
main(void)
{

	ctx = vm_create_detached("vtnet");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	test_options();
	test_default_mac_device();

	test_device("tbe");
	test_device("tbz");
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
