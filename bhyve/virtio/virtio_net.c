/*
 * virtio-net (virtio 1.2, 5.1): "-s N,virtio-net,BACKEND[,mac=..][,mtu=..]
 * [,queues=N][,vhost=false]" and illumos's "virtio-net-viona,vnic=NAME".
 *
 * Queues: receiveq/transmitq pairs 0 .. queues-1 (2p, 2p+1), then the
 * control queue.  Two datapaths:
 *  - userspace: a tap reads each frame straight into the guest's
 *    receive chains (readv over chains taken ahead, sized by the recent
 *    frames; what overflows them lands in a per-pair bounce buffer and is
 *    copied into further chains); backends without a scattering receive
 *    (slirp) go through the bounce buffer; mergeable buffers when
 *    negotiated; transmit chains go to the backend by writev straight
 *    from guest memory;
 *  - vhost-net (the viona-class path): when the backend is a tap and
 *    /dev/vhost-net opens, the kernel moves frames between the tap and
 *    the rings itself, kicked by the queues' ioeventfds and interrupting
 *    through irqfds.  The control queue stays here in both cases.
 * Every descriptor comes from the core's validated vq_getchain().
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mevent.h"
#include "net_backends.h"
#include "notice.h"
#include "pci_emul.h"
#include "legacy_config.h"
#include "vhost_net.h"
#include "virtio.h"
#include "virtio_irqfd.h"
#include "virtio_net.h"
#include "virtqueue.h"
#include "vmmapi.h"

#define VTNET_RINGSZ	  1024
#define VTNET_CTLQ_RINGSZ 64
/* A chain may be as long as its ring (virtio 1.2, 2.7.5.3.1). */
#define VTNET_MAXSEGS	VTNET_RINGSZ
#define VTNET_CTRL_MAX	(16 * 1024)
#define VTNET_RX_BUDGET 256
#define VTNET_MIN_MTU	68
#define VTNET_MAX_MTU	65535
#define VTNET_ETH_HLEN	14

#define VTNET_F_CTRL_RX_EXTRA (1ULL << 20)

/* Config space (5.1.4). */
#define VTNET_S_LINK_UP 1

struct vtnet_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

/* Control queue classes and commands (5.1.6.5). */
#define VTNET_OK  0
#define VTNET_ERR 1

#define VTNET_CTRL_RX		      0
#define VTNET_CTRL_RX_PROMISC	      0
#define VTNET_CTRL_RX_ALLMULTI	      1
#define VTNET_CTRL_RX_ALLUNI	      2
#define VTNET_CTRL_RX_NOMULTI	      3
#define VTNET_CTRL_RX_NOUNI	      4
#define VTNET_CTRL_RX_NOBCAST	      5
#define VTNET_CTRL_MAC		      1
#define VTNET_CTRL_MAC_TABLE_SET      0
#define VTNET_CTRL_MAC_ADDR_SET	      1
#define VTNET_CTRL_MQ		      4
#define VTNET_CTRL_MQ_VQ_PAIRS_SET    0
#define VTNET_CTRL_GUEST_OFFLOADS     5
#define VTNET_CTRL_GUEST_OFFLOADS_SET 0

#define VTNET_GUEST_OFFLOADS                                                   \
	(VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |                   \
	 VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN |                    \
	 VIRTIO_NET_F_GUEST_UFO)

struct vtnet_used {
	uint16_t idx;
	uint32_t len;
};

/* A receive chain taken ahead of the frame that will fill it. */
struct vtnet_held {
	uint16_t idx;  /* head index, for vq_relchain */
	uint32_t wlen; /* its writable bytes */
	int niov;      /* its buffers in vtnet_pair.hiov */
};

/* Room for the held chains' buffers: always one more whole chain. */
#define VTNET_HIOV (2 * VTNET_MAXSEGS)
/* Frames are expected to be at least this long (an untagged MTU 1500). */
#define VTNET_RX_EXPECT_MIN (VTNET_ETH_HLEN + 1500)

struct vtnet_softc;

struct vtnet_pair {
	struct vtnet_softc *sc;
	int idx;
	struct mevent *rx_ev;
	bool rx_on;	/* rx_ev enabled */
	uint8_t *rxbuf; /* one frame with its header */
	size_t rxlen;	/* length of the frame waiting in rxbuf, or 0 */
	struct vtnet_used *used; /* chains one merged frame took */
	/*
	 * Zero-copy receive, within one vtnet_rx_pair() pass: chains taken
	 * ahead, oldest first, their buffers in order in hiov; given back
	 * (vq_retchains) when the pass ends.
	 */
	struct vtnet_held *held;
	struct iovec *hiov;
	int nheld, nhiov;
	size_t hcap;	  /* writable bytes of the held chains */
	size_t rx_expect; /* running average frame length with header */
	/* vhost-net */
	struct vhost_net *vn;
	bool vhost_on;
	int callfd[2]; /* our own call eventfds when no MSI-X vector */
	struct mevent *callev[2];
};

struct vtnet_softc {
	struct virtio_softc vs;
	struct virtio_consts consts;
	struct vqueue_info vqs[2 * VTNET_MAX_PAIRS + 1];
	struct net_backend *be;
	struct vtnet_config cfg;
	uint8_t mac_default[6];
	int max_pairs, active_pairs;
	size_t hdrlen;
	bool mrg;
	uint64_t offloads; /* backend offloads in force */
	struct vtnet_rxfilter rxf;
	struct vtnet_pair pairs[VTNET_MAX_PAIRS];
	bool use_vhost;	    /* the chosen datapath */
	bool vhost_pending; /* a start is scheduled */
	struct vtnet_stats stats;
	uint8_t ctrlbuf[VTNET_CTRL_MAX];
	/* A chain's buffers, up to a whole ring (device lock held). */
	struct iovec rxiov[VTNET_MAXSEGS];
	struct iovec txiov[VTNET_MAXSEGS];
};

static int
vtnet_rxq(int pair)
{
	return 2 * pair;
}

static int
vtnet_txq(int pair)
{
	return 2 * pair + 1;
}

static int
vtnet_ctlq(const struct vtnet_softc *sc)
{
	return 2 * sc->max_pairs;
}

/* ---- iovec helpers ---- */

/*
 * Copies up to len bytes between iov (from byte off) and a flat buffer:
 * into 'to' when it is set, else out of 'from'.  Returns the bytes copied.
 */
static size_t
vtnet_iov_copy(const struct iovec *iov, int n, size_t off, void *to,
	       const void *from, size_t len)
{
	size_t done = 0;
	int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;
		uint8_t *base;

		if (off >= l) {
			off -= l;
			continue;
		}
		base = (uint8_t *)iov[i].iov_base + off;
		c = l - off < len - done ? l - off : len - done;
		if (to != NULL)
			memcpy((uint8_t *)to + done, base, c);
		else
			memcpy(base, (const uint8_t *)from + done, c);
		done += c;
		off = 0;
	}
	return done;
}

/* Copies up to len bytes from iov (from byte off) into buf. */
static size_t
vtnet_iov_read(const struct iovec *iov, int n, size_t off, void *buf,
	       size_t len)
{
	return vtnet_iov_copy(iov, n, off, buf, NULL, len);
}

/* Copies up to len bytes from buf into iov (from byte off). */
static size_t
vtnet_iov_write(const struct iovec *iov, int n, size_t off, const void *buf,
		size_t len)
{
	return vtnet_iov_copy(iov, n, off, NULL, buf, len);
}

/* The (at most two) pieces of iov holding bytes [off, off + len). */
static int
vtnet_iov_slice(const struct iovec *iov, int n, size_t off, size_t len,
		struct iovec out[2])
{
	int i, k = 0;

	for (i = 0; i < n && k < 2 && len > 0; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off < len ? l - off : len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = c;
		k++;
		len -= c;
		off = 0;
	}
	return k;
}

/* ---- receive filter (5.1.6.5.1, 5.1.6.5.2) ---- */

static void
vtnet_rxfilter_reset(struct vtnet_rxfilter *f)
{
	memset(f, 0, sizeof(*f));
	/* Until the driver says otherwise every frame is wanted. */
	f->promisc = true;
}

static bool
vtnet_mac_in(const uint8_t (*tab)[6], int n, const uint8_t *mac)
{
	int i;

	for (i = 0; i < n; i++)
		if (memcmp(tab[i], mac, 6) == 0)
			return true;
	return false;
}

static bool
vtnet_rx_accept(const struct vtnet_softc *sc, const uint8_t *frame, size_t len)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const struct vtnet_rxfilter *f = &sc->rxf;
	const uint8_t *dst = frame;

	if (len < VTNET_ETH_HLEN)
		return false;
	if (f->promisc)
		return true;
	if (memcmp(dst, bcast, 6) == 0)
		return !f->nobcast;
	if (dst[0] & 1) {
		if (f->nomulti)
			return false;
		return f->allmulti || f->multi_overflow ||
		       vtnet_mac_in(f->multi, f->nmulti, dst);
	}
	if (f->nouni)
		return false;
	return f->alluni || f->uni_overflow ||
	       memcmp(dst, sc->cfg.mac, 6) == 0 ||
	       vtnet_mac_in(f->uni, f->nuni, dst);
}

/* ---- receive: backend -> guest ---- */

static void
vtnet_rx_event(struct vtnet_pair *p, bool on)
{
	if (p->rx_ev == NULL || p->rx_on == on)
		return;
	if (on)
		mevent_enable(p->rx_ev);
	else
		mevent_disable(p->rx_ev);
	p->rx_on = on;
}

/* A receive chain must be all device-writable (5.1.6.3): else NEEDS_RESET. */
static bool
vtnet_rx_chain_ok(struct vtnet_softc *sc, const struct vi_req *req)
{
	if (req->readable == 0)
		return true;
	vi_set_needs_reset(
	    &sc->vs, "receive chain %u has device-readable buffers", req->idx);
	return false;
}

/*
 * Copies the waiting frame into one chain, or several with mergeable
 * buffers (5.1.6.3.1).  1: delivered; 0: not enough buffers yet (the
 * chains were put back); -1: the device is broken or the frame was
 * dropped.
 */
static int
vtnet_rx_deliver(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	struct vqueue_info *vq = &sc->vqs[vtnet_rxq(p->idx)];
	struct iovec *iov = sc->rxiov, nb[2] = {{0}};
	size_t off = 0, len = p->rxlen;
	int nnb = 0, nused = 0, n, i;
	struct vi_req req;
	uint16_t nbuf;

	while (off < len) {
		/*
		 * At most a ring's worth of chains per frame; checked before
		 * taking one more, so that every chain taken is used or put
		 * back.
		 */
		n = nused < vq->vq_qsize
			? vq_getchain(vq, iov, VTNET_MAXSEGS, &req)
			: 0;
		if (n < 0)
			return -1;
		if (n == 0) {
			vq_retchains(vq, (uint16_t)nused);
			return 0;
		}
		if (!vtnet_rx_chain_ok(sc, &req))
			return -1;
		if (nused == 0) {
			if (req.wlen < sc->hdrlen ||
			    (!sc->mrg && req.wlen < len)) {
				/* Too small for this frame: leave the chain
				 * for a smaller one, drop the frame. */
				vq_retchains(vq, 1);
				sc->stats.rx_dropped++;
				return -1;
			}
			/* Where num_buffers lands, filled in at the end. */
			nnb = vtnet_iov_slice(
			    iov, n,
			    offsetof(struct virtio_net_hdr, num_buffers),
			    sizeof(nbuf), nb);
		}
		n = (int)vtnet_iov_write(iov, n, 0, p->rxbuf + off,
					 len - off < req.wlen ? len - off
							      : req.wlen);
		p->used[nused].idx = req.idx;
		p->used[nused].len = (uint32_t)n;
		nused++;
		off += (size_t)n;
	}
	if (sc->hdrlen == VIRTIO_NET_HDR_LEN_MRG) {
		nbuf = htole16((uint16_t)nused);
		vtnet_iov_write(nb, nnb, 0, &nbuf, sizeof(nbuf));
	}
	for (i = 0; i < nused; i++)
		vq_relchain(vq, p->used[i].idx, p->used[i].len);
	return 1;
}

/* ---- zero-copy receive (backends with netbe_recvv) ---- */

enum vtnet_zc {
	VTNET_ZC_IDLE,	   /* the backend has no more frames */
	VTNET_ZC_NOBUF,	   /* no receive buffers: wait for the driver */
	VTNET_ZC_BUDGET,   /* this pass's share of frames is done */
	VTNET_ZC_FALLBACK, /* finish the pass with the bounce buffer */
	VTNET_ZC_BROKEN,   /* the device needs a reset */
};

/*
 * Takes chains until the held ones have room for `want` bytes, the ring
 * runs dry or hiov could not take a whole further chain.  -1: the device
 * is broken (a chain with device-readable buffers, or a bad chain).
 */
static int
vtnet_rx_hold(struct vtnet_softc *sc, struct vtnet_pair *p, size_t want)
{
	struct vqueue_info *vq = &sc->vqs[vtnet_rxq(p->idx)];
	struct vi_req req;
	int n;

	while (p->hcap < want && p->nheld < vq->vq_qsize &&
	       p->nhiov <= VTNET_HIOV - VTNET_MAXSEGS) {
		n = vq_getchain(vq, p->hiov + p->nhiov, VTNET_MAXSEGS, &req);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		p->held[p->nheld++] = (struct vtnet_held){req.idx, req.wlen, n};
		p->nhiov += n;
		p->hcap += req.wlen;
		if (!vtnet_rx_chain_ok(sc, &req))
			return -1;
	}
	return 0;
}

/* Gives back every held chain (they are the last ones taken). */
static void
vtnet_rx_unhold(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	if (p->nheld > 0)
		vq_retchains(&sc->vqs[vtnet_rxq(p->idx)], (uint16_t)p->nheld);
	p->nheld = p->nhiov = 0;
	p->hcap = 0;
}

/*
 * The buffers readv may fill: the held chains' (all of them with
 * mergeable buffers, the first one's without: a frame must fit one
 * chain), as many whole chains as fit NETBE_MAX_IOV - 1, then the
 * bounce buffer for what overflows.  Returns the element count; *gcap
 * is the guest part's size.
 */
static int
vtnet_rx_iov(struct vtnet_softc *sc, struct vtnet_pair *p, struct iovec *iov,
	     size_t *gcap)
{
	int nh = sc->mrg ? p->nheld : 1, i, niov = 0;

	*gcap = 0;
	for (i = 0; i < nh; i++) {
		if (niov + p->held[i].niov > NETBE_MAX_IOV - 1)
			break;
		niov += p->held[i].niov;
		*gcap += p->held[i].wlen;
	}
	memcpy(iov, p->hiov, (size_t)niov * sizeof(*iov));
	iov[niov].iov_base = p->rxbuf;
	iov[niov].iov_len = NETBE_MAX_FRAME + VIRTIO_NET_HDR_LEN_MRG;
	return niov + 1;
}

/*
 * Whether the filter takes the frame of n bytes whose first gcap bytes
 * are in the held chains' buffers and the rest in the bounce buffer.
 */
static bool
vtnet_rx_zc_accept(struct vtnet_softc *sc, struct vtnet_pair *p, size_t n,
		   size_t gcap)
{
	uint8_t eth[VTNET_ETH_HLEN];
	size_t off = sc->hdrlen, in;

	if (n < off + VTNET_ETH_HLEN)
		return false;
	in = gcap > off ? gcap - off : 0;
	if (in > sizeof(eth))
		in = sizeof(eth);
	vtnet_iov_read(p->hiov, p->nhiov, off, eth, in);
	if (in < sizeof(eth)) /* then gcap <= off + in */
		memcpy(eth + in, p->rxbuf + (off + in - gcap),
		       sizeof(eth) - in);
	return vtnet_rx_accept(sc, eth, n - off);
}

/* Publishes the first k held chains for a frame of n bytes and drops
 * them from the held list. */
static void
vtnet_rx_zc_publish(struct vtnet_softc *sc, struct vtnet_pair *p, int k,
		    size_t n)
{
	struct vqueue_info *vq = &sc->vqs[vtnet_rxq(p->idx)];
	size_t left = n, c;
	uint16_t nbuf = htole16((uint16_t)k);
	int i, niov = 0;

	if (sc->hdrlen == VIRTIO_NET_HDR_LEN_MRG)
		vtnet_iov_write(p->hiov, p->held[0].niov,
				offsetof(struct virtio_net_hdr, num_buffers),
				&nbuf, sizeof(nbuf));
	for (i = 0; i < k; i++) {
		c = left < p->held[i].wlen ? left : p->held[i].wlen;
		vq_relchain(vq, p->held[i].idx, (uint32_t)c);
		left -= c;
		niov += p->held[i].niov;
		p->hcap -= p->held[i].wlen;
	}
	memmove(p->held, p->held + k,
		(size_t)(p->nheld - k) * sizeof(*p->held));
	memmove(p->hiov, p->hiov + niov,
		(size_t)(p->nhiov - niov) * sizeof(*p->hiov));
	p->nheld -= k;
	p->nhiov -= niov;
}

/* How many held chains (from the first) a frame of n bytes fills. */
static int
vtnet_rx_zc_count(const struct vtnet_pair *p, size_t n)
{
	size_t cap = 0;
	int k = 0;

	while (k < p->nheld && cap < n)
		cap += p->held[k++].wlen;
	return k;
}

/*
 * The frame of n bytes did not fit the buffers the guest has posted:
 * gathers it into the bounce buffer (its first gcap bytes from the
 * chains) to wait there for more, as the bounce path's frames do.
 */
static void
vtnet_rx_zc_park(struct vtnet_softc *sc, struct vtnet_pair *p, size_t n,
		 size_t gcap)
{
	size_t in = n < gcap ? n : gcap;

	memmove(p->rxbuf + in, p->rxbuf, n - in);
	vtnet_iov_read(p->hiov, p->nhiov, 0, p->rxbuf, in);
	p->rxlen = n;
}

/*
 * Receives one frame in place.  Returns 1 when a frame was delivered,
 * 0 when it was filtered or dropped, or a VTNET_ZC_* status (negated, to
 * tell them apart) that ends the zero-copy pass.
 */
static int
vtnet_rx_zc_one(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	struct iovec iov[NETBE_MAX_IOV];
	size_t gcap, want;
	ssize_t r;
	int niov, k;

	want = sc->mrg ? p->rx_expect : 1;
	if (vtnet_rx_hold(sc, p, want) != 0)
		return -VTNET_ZC_BROKEN;
	if (p->nheld == 0)
		return -VTNET_ZC_NOBUF;
	/* A first chain too small for the headers: the bounce path's
	 * rules (drop the frame, keep the chain) apply. */
	if (p->held[0].wlen < sc->hdrlen + VTNET_ETH_HLEN)
		return -VTNET_ZC_FALLBACK;
	niov = vtnet_rx_iov(sc, p, iov, &gcap);
	r = netbe_recvv(sc->be, p->idx, iov, niov);
	if (r == 0)
		return -VTNET_ZC_IDLE;
	if (r < 0)
		return -VTNET_ZC_IDLE; /* as the bounce path: try again later */
	if ((size_t)r >= gcap + iov[niov - 1].iov_len) {
		/* Filled to the last byte: larger than any frame, cut. */
		sc->stats.rx_dropped++;
		return 0;
	}
	if (!vtnet_rx_zc_accept(sc, p, (size_t)r, gcap)) {
		sc->stats.rx_filtered++;
		return 0;
	}
	if (!sc->mrg && (size_t)r > p->held[0].wlen) {
		/* Too large for this chain: leave it for a smaller frame. */
		sc->stats.rx_dropped++;
		return 0;
	}
	p->rx_expect = (7 * p->rx_expect + (size_t)r) / 8;
	if (p->rx_expect < sc->hdrlen + VTNET_RX_EXPECT_MIN)
		p->rx_expect = sc->hdrlen + VTNET_RX_EXPECT_MIN;
	if ((size_t)r > gcap) {
		/* The tail went to the bounce buffer: more chains for it. */
		if (vtnet_rx_hold(sc, p, (size_t)r) != 0)
			return -VTNET_ZC_BROKEN;
		if (p->hcap < (size_t)r) {
			vtnet_rx_zc_park(sc, p, (size_t)r, gcap);
			return -VTNET_ZC_FALLBACK;
		}
		vtnet_iov_write(p->hiov, p->nhiov, gcap, p->rxbuf,
				(size_t)r - gcap);
	}
	k = vtnet_rx_zc_count(p, (size_t)r);
	vtnet_rx_zc_publish(sc, p, k, (size_t)r);
	return 1;
}

/* Up to *budget frames in place; the pass's held chains go back at the
 * end.  *delivered counts the frames published. */
static enum vtnet_zc
vtnet_rx_zc(struct vtnet_softc *sc, struct vtnet_pair *p, int *budget,
	    int *delivered)
{
	enum vtnet_zc st = VTNET_ZC_BUDGET;
	int r;

	for (; *budget > 0; (*budget)--) {
		r = vtnet_rx_zc_one(sc, p);
		if (r < 0) {
			st = (enum vtnet_zc) - r;
			break;
		}
		if (r > 0) {
			sc->stats.rx_frames++;
			(*delivered)++;
		}
	}
	if (st != VTNET_ZC_BROKEN)
		vtnet_rx_unhold(sc, p);
	else
		p->nheld = p->nhiov = 0, p->hcap = 0;
	return st;
}

/* Moves frames from the backend into receiveq p; device lock held. */
static void
vtnet_rx_pair(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	struct vqueue_info *vq = &sc->vqs[vtnet_rxq(p->idx)];
	int budget = VTNET_RX_BUDGET, delivered = 0, r;
	enum vtnet_zc st = VTNET_ZC_FALLBACK;
	ssize_t n;

	if (!vi_device_live(&sc->vs) || !vq_ring_ready(vq) || p->vhost_on ||
	    p->idx >= sc->active_pairs) {
		vtnet_rx_event(p, false);
		return;
	}
	if (p->rxlen == 0 && netbe_has_recvv(sc->be))
		st = vtnet_rx_zc(sc, p, &budget, &delivered);
	switch (st) {
	case VTNET_ZC_IDLE:
		vtnet_rx_event(p, true);
		goto out;
	case VTNET_ZC_NOBUF:
		/* No buffers: wait for the driver's kick. */
		vtnet_rx_event(p, false);
		goto out;
	case VTNET_ZC_BUDGET:
	case VTNET_ZC_BROKEN:
		goto out;
	case VTNET_ZC_FALLBACK:
		break;
	}
	for (; budget > 0; budget--) {
		if (p->rxlen == 0) {
			n = netbe_recv(sc->be, p->idx, p->rxbuf,
				       NETBE_MAX_FRAME +
					   VIRTIO_NET_HDR_LEN_MRG);
			if (n <= 0)
				break;
			if (!vtnet_rx_accept(sc, p->rxbuf + sc->hdrlen,
					     (size_t)n - sc->hdrlen)) {
				sc->stats.rx_filtered++;
				continue;
			}
			p->rxlen = (size_t)n;
		}
		r = vtnet_rx_deliver(sc, p);
		if (r == 0) {
			/* No buffers: wait for the driver's kick. */
			vtnet_rx_event(p, false);
			break;
		}
		p->rxlen = 0;
		if (r < 0) {
			if (sc->vs.vs_broken)
				break;
			continue;
		}
		sc->stats.rx_frames++;
		delivered++;
	}
	if (budget > 0 && p->rxlen == 0)
		vtnet_rx_event(p, true);
out:
	if (delivered > 0)
		vq_endchains(vq, false);
}

static void
vtnet_rx_ready(int fd, enum ev_type type, void *arg)
{
	struct vtnet_pair *p = arg;
	struct vtnet_softc *sc = p->sc;

	virtio_lock(&sc->vs);
	vtnet_rx_pair(sc, p);
	virtio_unlock(&sc->vs);
}

/* ---- transmit: guest -> backend ---- */

/* Whether the header asks only for what was negotiated (5.1.6.2). */
static bool
vtnet_tx_hdr_ok(const struct vtnet_softc *sc, const struct virtio_net_hdr *h,
		size_t framelen)
{
	uint64_t f = sc->vs.vs_negotiated_caps;
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (framelen < VTNET_ETH_HLEN)
		return false;
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = le16toh(h->csum_start);
		uint32_t end = start + le16toh(h->csum_offset) + 2;

		if (!(f & VIRTIO_NET_F_CSUM) || end > framelen)
			return false;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !(f & VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return (f & VIRTIO_NET_F_HOST_TSO4) && h->gso_size != 0;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return (f & VIRTIO_NET_F_HOST_TSO6) && h->gso_size != 0;
	default:
		return false;
	}
}

static void
vtnet_tx_pair(struct vtnet_softc *sc, int pair)
{
	struct vqueue_info *vq = &sc->vqs[vtnet_txq(pair)];
	struct iovec *iov = sc->txiov;
	struct virtio_net_hdr h;
	struct vi_req req;
	int n, sent = 0;

	while ((n = vq_getchain(vq, iov, VTNET_MAXSEGS, &req)) > 0) {
		if (req.writable != 0 || req.rlen < sc->hdrlen) {
			vi_set_needs_reset(
			    &sc->vs, "transmit chain %u: %s", req.idx,
			    req.writable ? "device-writable buffers"
					 : "shorter than the header");
			return;
		}
		memset(&h, 0, sizeof(h));
		vtnet_iov_read(iov, n, 0, &h, sc->hdrlen);
		if (!vtnet_tx_hdr_ok(sc, &h, req.rlen - sc->hdrlen) ||
		    netbe_send(sc->be, pair, iov, n) < 0)
			sc->stats.tx_dropped++;
		else
			sc->stats.tx_frames++;
		vq_relchain(vq, req.idx, 0);
		sent++;
	}
	if (sent > 0)
		vq_endchains(vq, true);
}

/* ---- control queue (5.1.6.5) ---- */

static uint8_t
vtnet_ctrl_rx(struct vtnet_softc *sc, uint8_t cmd, const uint8_t *d, size_t len)
{
	struct vtnet_rxfilter *f = &sc->rxf;
	bool on;

	if (!vi_has_feature(&sc->vs, VIRTIO_NET_F_CTRL_RX) || len != 1)
		return VTNET_ERR;
	if (cmd > VTNET_CTRL_RX_ALLMULTI &&
	    !vi_has_feature(&sc->vs, VTNET_F_CTRL_RX_EXTRA))
		return VTNET_ERR;
	on = d[0] != 0;
	switch (cmd) {
	case VTNET_CTRL_RX_PROMISC:
		f->promisc = on;
		break;
	case VTNET_CTRL_RX_ALLMULTI:
		f->allmulti = on;
		break;
	case VTNET_CTRL_RX_ALLUNI:
		f->alluni = on;
		break;
	case VTNET_CTRL_RX_NOMULTI:
		f->nomulti = on;
		break;
	case VTNET_CTRL_RX_NOUNI:
		f->nouni = on;
		break;
	case VTNET_CTRL_RX_NOBCAST:
		f->nobcast = on;
		break;
	default:
		return VTNET_ERR;
	}
	return VTNET_OK;
}

/*
 * One table of TABLE_SET: le32 entries, then entries * 6 bytes.  Stores
 * up to VTNET_MAC_TABLE; more sets the overflow flag (accept the class).
 */
static bool
vtnet_mac_table(const uint8_t *d, size_t len, size_t *off, uint8_t (*tab)[6],
		int *n, bool *overflow)
{
	uint32_t entries;
	size_t i;

	if (len - *off < 4)
		return false;
	memcpy(&entries, d + *off, 4);
	entries = le32toh(entries);
	*off += 4;
	if (entries > (len - *off) / 6)
		return false;
	*overflow = entries > VTNET_MAC_TABLE;
	*n = *overflow ? 0 : (int)entries;
	for (i = 0; i < (size_t)*n; i++)
		memcpy(tab[i], d + *off + 6 * i, 6);
	*off += 6 * (size_t)entries;
	return true;
}

static uint8_t
vtnet_ctrl_mac(struct vtnet_softc *sc, uint8_t cmd, const uint8_t *d,
	       size_t len)
{
	struct vtnet_rxfilter nf = sc->rxf;
	size_t off = 0;

	switch (cmd) {
	case VTNET_CTRL_MAC_TABLE_SET:
		if (!vi_has_feature(&sc->vs, VIRTIO_NET_F_CTRL_RX))
			return VTNET_ERR;
		if (!vtnet_mac_table(d, len, &off, nf.uni, &nf.nuni,
				     &nf.uni_overflow) ||
		    !vtnet_mac_table(d, len, &off, nf.multi, &nf.nmulti,
				     &nf.multi_overflow) ||
		    off != len)
			return VTNET_ERR;
		sc->rxf = nf;
		return VTNET_OK;
	case VTNET_CTRL_MAC_ADDR_SET:
		if (!vi_has_feature(&sc->vs, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    len != 6)
			return VTNET_ERR;
		memcpy(sc->cfg.mac, d, 6);
		return VTNET_OK;
	default:
		return VTNET_ERR;
	}
}

static void vtnet_rx_resume(struct vtnet_softc *sc, struct vtnet_pair *p);

static uint8_t
vtnet_ctrl_mq(struct vtnet_softc *sc, uint8_t cmd, const uint8_t *d, size_t len)
{
	uint16_t pairs;
	int i;

	if (!vi_has_feature(&sc->vs, VIRTIO_NET_F_MQ) ||
	    cmd != VTNET_CTRL_MQ_VQ_PAIRS_SET || len != 2)
		return VTNET_ERR;
	memcpy(&pairs, d, 2);
	pairs = le16toh(pairs);
	if (pairs < 1 || pairs > sc->max_pairs)
		return VTNET_ERR;
	if (netbe_set_active(sc->be, pairs) != 0)
		return VTNET_ERR;
	sc->active_pairs = pairs;
	for (i = 0; i < sc->max_pairs; i++) {
		if (i < pairs)
			vtnet_rx_resume(sc, &sc->pairs[i]);
		else
			vtnet_rx_event(&sc->pairs[i], false);
	}
	return VTNET_OK;
}

static uint8_t
vtnet_ctrl_offloads(struct vtnet_softc *sc, uint8_t cmd, const uint8_t *d,
		    size_t len)
{
	uint64_t want, f = sc->vs.vs_negotiated_caps;

	if (!vi_has_feature(&sc->vs, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
	    cmd != VTNET_CTRL_GUEST_OFFLOADS_SET || len != 8)
		return VTNET_ERR;
	memcpy(&want, d, 8);
	want = le64toh(want);
	/* 5.1.6.5.6.2: only offloads that were negotiated. */
	if (want & ~(f & VTNET_GUEST_OFFLOADS))
		return VTNET_ERR;
	want |= sc->offloads & ~VTNET_GUEST_OFFLOADS;
	if (netbe_set_cap(sc->be, want, sc->hdrlen) != 0)
		return VTNET_ERR;
	sc->offloads = want;
	return VTNET_OK;
}

static uint8_t
vtnet_ctrl_exec(struct vtnet_softc *sc, const uint8_t *cmd, size_t len)
{
	const uint8_t *d = cmd + 2;

	if (len < 2)
		return VTNET_ERR;
	len -= 2;
	switch (cmd[0]) {
	case VTNET_CTRL_RX:
		return vtnet_ctrl_rx(sc, cmd[1], d, len);
	case VTNET_CTRL_MAC:
		return vtnet_ctrl_mac(sc, cmd[1], d, len);
	case VTNET_CTRL_MQ:
		return vtnet_ctrl_mq(sc, cmd[1], d, len);
	case VTNET_CTRL_GUEST_OFFLOADS:
		return vtnet_ctrl_offloads(sc, cmd[1], d, len);
	default:
		return VTNET_ERR;
	}
}

static void
vtnet_ctrl(struct vtnet_softc *sc, struct vqueue_info *vq)
{
	struct iovec iov[VTNET_CTLQ_RINGSZ];
	struct vi_req req;
	uint8_t ack;
	int n, done = 0;

	while ((n = vq_getchain(vq, iov, VTNET_CTLQ_RINGSZ, &req)) > 0) {
		/* 5.1.6.5: class and command readable, ack writable. */
		if (req.readable == 0 || req.writable == 0) {
			vi_set_needs_reset(
			    &sc->vs, "control chain %u without %s", req.idx,
			    req.readable ? "an ack byte" : "a command");
			return;
		}
		sc->stats.ctrl_cmds++;
		if (req.rlen > sizeof(sc->ctrlbuf)) {
			ack = VTNET_ERR;
		} else {
			vtnet_iov_read(iov, req.readable, 0, sc->ctrlbuf,
				       req.rlen);
			ack = vtnet_ctrl_exec(sc, sc->ctrlbuf, req.rlen);
		}
		if (ack != VTNET_OK)
			sc->stats.ctrl_errors++;
		vtnet_iov_write(iov + req.readable, req.writable, 0, &ack, 1);
		vq_relchain(vq, req.idx, 1);
		done++;
	}
	if (done > 0)
		vq_endchains(vq, true);
}

/* ---- vhost-net ---- */

static void
vtnet_vhost_call(int fd, enum ev_type type, void *arg)
{
	struct vqueue_info *vq = arg;
	struct virtio_softc *vs = vq->vq_vs;
	eventfd_t v;

	if (eventfd_read(fd, &v) != 0)
		return;
	virtio_lock(vs);
	if (vq_ring_ready(vq))
		vq_interrupt(vq);
	virtio_unlock(vs);
}

/* Stops the kernel datapath of pair p; device lock held. */
static void
vtnet_vhost_stop(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	int i;

	if (p->vhost_on) {
		vhost_net_set_backend(p->vn, VHOST_NET_RX, -1);
		vhost_net_set_backend(p->vn, VHOST_NET_TX, -1);
		vi_queue_kick_external(&sc->vs, &sc->vqs[vtnet_rxq(p->idx)],
				       false);
		vi_queue_kick_external(&sc->vs, &sc->vqs[vtnet_txq(p->idx)],
				       false);
		p->vhost_on = false;
	}
	for (i = 0; i < 2; i++) {
		if (p->callev[i] != NULL)
			mevent_delete_close(p->callev[i]);
		else if (p->callfd[i] >= 0)
			close(p->callfd[i]);
		p->callev[i] = NULL;
		p->callfd[i] = -1;
	}
}

/*
 * The interrupt eventfd of one queue: the vector's irqfd with MSI-X, so
 * the kernel interrupts the guest directly; otherwise an eventfd of ours
 * that raises the queue's interrupt (INTx, MSI) from the mevent thread.
 * Called without the device lock (vi_msix_irqfd takes the PCI lock).
 */
static int
vtnet_vhost_callfd(struct vtnet_softc *sc, struct vtnet_pair *p, int i,
		   uint16_t vector)
{
	struct vqueue_info *vq =
	    &sc->vqs[i == VHOST_NET_RX ? vtnet_rxq(p->idx) : vtnet_txq(p->idx)];
	int fd = -1;

	if (sc->vs.vs_msix && vector != VIRTIO_MSI_NO_VECTOR &&
	    pci_msix_enabled(sc->vs.vs_pi))
		fd = vi_msix_irqfd(&sc->vs, vector);
	if (fd >= 0)
		return fd;
	p->callfd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->callfd[i] < 0)
		return -1;
	p->callev[i] = mevent_add(p->callfd[i], EVF_READ, vtnet_vhost_call, vq);
	return p->callev[i] != NULL ? p->callfd[i] : -1;
}

static int
vtnet_vhost_ring(struct vtnet_softc *sc, struct vtnet_pair *p, unsigned i,
		 int callfd)
{
	struct vqueue_info *vq =
	    &sc->vqs[i == VHOST_NET_RX ? vtnet_rxq(p->idx) : vtnet_txq(p->idx)];
	struct vhost_ring_cfg rc = {
	    .idx = i,
	    .size = vq->vq_qsize,
	    .last_avail = vq->vq_last_avail,
	    .desc = vq->vq_desc,
	    .avail = vq->vq_avail,
	    .used = vq->vq_used,
	    .kickfd = vq->vq_kickfd,
	    .callfd = callfd,
	};

	if (vq->vq_kickfd < 0) {
		errno = ENODEV;
		return -1;
	}
	if (vhost_net_set_ring(p->vn, &rc) != 0)
		return -1;
	vi_queue_kick_external(&sc->vs, vq, true);
	return 0;
}

/* Hands pair p to the kernel; device lock held. */
static int
vtnet_vhost_start_pair(struct vtnet_softc *sc, struct vtnet_pair *p,
		       const int callfd[2])
{
	int tapfd = netbe_tap_fd(sc->be, p->idx);

	if (tapfd < 0 ||
	    vhost_net_set_features(p->vn, sc->vs.vs_negotiated_caps) != 0 ||
	    vhost_net_set_mem(p->vn, sc->vs.vs_ctx) != 0 ||
	    vtnet_vhost_ring(sc, p, VHOST_NET_RX, callfd[0]) != 0 ||
	    vtnet_vhost_ring(sc, p, VHOST_NET_TX, callfd[1]) != 0)
		return -1;
	/* The kernel owns the tap now: stop reading it here. */
	vtnet_rx_event(p, false);
	p->rxlen = 0;
	p->vhost_on = true;
	if (vhost_net_set_backend(p->vn, VHOST_NET_RX, tapfd) != 0 ||
	    vhost_net_set_backend(p->vn, VHOST_NET_TX, tapfd) != 0)
		return -1;
	return 0;
}

/* Pair i is ready for the kernel and not running yet; device lock held. */
static bool
vtnet_vhost_startable(struct vtnet_softc *sc, int i)
{
	return vi_device_live(&sc->vs) && !sc->pairs[i].vhost_on &&
	       vq_ring_ready(&sc->vqs[vtnet_rxq(i)]) &&
	       vq_ring_ready(&sc->vqs[vtnet_txq(i)]);
}

/*
 * Starts the kernel datapath of every pair that is ready and not running.
 * Interrupt eventfds are made only for those pairs (a running pair's are
 * the kernel's, and a pair that is not ready gets none, so a guest that
 * kicks a half-configured device cannot pile up descriptors); those of a
 * pair that stopped being ready meanwhile are released.
 */
static void
vtnet_vhost_start(int fd, enum ev_type type, void *arg)
{
	struct vtnet_softc *sc = arg;
	int callfd[VTNET_MAX_PAIRS][2], i, q;
	uint16_t vec[VTNET_MAX_PAIRS][2];
	bool want[VTNET_MAX_PAIRS], failed = false;

	virtio_lock(&sc->vs);
	sc->vhost_pending = false;
	for (i = 0; i < sc->max_pairs; i++) {
		want[i] = vtnet_vhost_startable(sc, i);
		vec[i][0] = sc->vqs[vtnet_rxq(i)].vq_msix_idx;
		vec[i][1] = sc->vqs[vtnet_txq(i)].vq_msix_idx;
	}
	virtio_unlock(&sc->vs);
	for (i = 0; i < sc->max_pairs; i++)
		for (q = 0; q < 2; q++)
			callfd[i][q] =
			    want[i] ? vtnet_vhost_callfd(sc, &sc->pairs[i], q,
							 vec[i][q])
				    : -1;
	virtio_lock(&sc->vs);
	for (i = 0; i < sc->max_pairs && !failed; i++) {
		struct vtnet_pair *p = &sc->pairs[i];

		if (!want[i])
			continue;
		if (!vtnet_vhost_startable(sc, i)) {
			vtnet_vhost_stop(sc, p); /* only releases its fds */
			continue;
		}
		if (callfd[i][0] < 0 || callfd[i][1] < 0 ||
		    vtnet_vhost_start_pair(sc, p, callfd[i]) != 0) {
			fprintf(stderr,
				"bhyve: virtio-net %s: vhost-net start failed "
				"(%s); "
				"userspace datapath\n",
				sc->vs.vs_pi->pi_name, strerror(errno));
			failed = true;
		}
	}
	if (failed) {
		sc->use_vhost = false;
		for (i = 0; i < sc->max_pairs; i++) {
			vtnet_vhost_stop(sc, &sc->pairs[i]);
			vtnet_rx_resume(sc, &sc->pairs[i]);
			vtnet_tx_pair(sc, i);
		}
	} else {
		/* Buffers made available before the kernel listened. */
		for (i = 0; i < sc->max_pairs; i++) {
			if (want[i] && sc->pairs[i].vhost_on) {
				eventfd_write(sc->vqs[vtnet_rxq(i)].vq_kickfd,
					      1);
				eventfd_write(sc->vqs[vtnet_txq(i)].vq_kickfd,
					      1);
			}
		}
	}
	virtio_unlock(&sc->vs);
}

static void
vtnet_vhost_schedule(struct vtnet_softc *sc)
{
	if (sc->vhost_pending)
		return;
	/* vi_msix_irqfd() must not run under the device lock. */
	if (mevent_add_timer_ns(1, 0, vtnet_vhost_start, sc) != NULL)
		sc->vhost_pending = true;
}

/* ---- the virtio callbacks ---- */

static void
vtnet_rx_resume(struct vtnet_softc *sc, struct vtnet_pair *p)
{
	if (p->vhost_on)
		return;
	vtnet_rx_event(p, true);
	vtnet_rx_pair(sc, p);
}

static void
vtnet_qnotify(void *arg, struct vqueue_info *vq)
{
	struct vtnet_softc *sc = arg;
	int q = vq->vq_num, pair = q / 2;

	if (q == vtnet_ctlq(sc)) {
		vtnet_ctrl(sc, vq);
		return;
	}
	if (sc->use_vhost) {
		/* A kick that came through userspace (no ioeventfd). */
		if (sc->pairs[pair].vhost_on && vq->vq_kickfd >= 0)
			eventfd_write(vq->vq_kickfd, 1);
		else
			vtnet_vhost_schedule(sc);
		return;
	}
	if (q % 2 == 0)
		vtnet_rx_resume(sc, &sc->pairs[pair]);
	else
		vtnet_tx_pair(sc, pair);
}

static void
vtnet_qenable(void *arg, struct vqueue_info *vq, bool enabled)
{
	struct vtnet_softc *sc = arg;
	int q = vq->vq_num;

	if (q == vtnet_ctlq(sc) || q % 2 != 0)
		return;
	if (!enabled)
		vtnet_rx_event(&sc->pairs[q / 2], false);
}

static void
vtnet_apply_features(void *arg, uint64_t negotiated)
{
	struct vtnet_softc *sc = arg;
	uint64_t off = negotiated & NETBE_OFFLOADS;

	sc->mrg = (negotiated & VIRTIO_NET_F_MRG_RXBUF) != 0;
	/* 5.1.6.1: num_buffers is there with either of these. */
	sc->hdrlen =
	    (negotiated & (VIRTIO_NET_F_MRG_RXBUF | VIRTIO_F_VERSION_1))
		? VIRTIO_NET_HDR_LEN_MRG
		: VIRTIO_NET_HDR_LEN_LEGACY;
	if (netbe_set_cap(sc->be, off, sc->hdrlen) != 0) {
		vi_set_needs_reset(&sc->vs, "backend refused features %#llx",
				   (unsigned long long)off);
		return;
	}
	sc->offloads = off;
}

static bool
vtnet_reset(void *arg)
{
	struct vtnet_softc *sc = arg;
	int i;

	for (i = 0; i < sc->max_pairs; i++) {
		vtnet_vhost_stop(sc, &sc->pairs[i]);
		vtnet_rx_event(&sc->pairs[i], false);
		sc->pairs[i].rxlen = 0;
	}
	vtnet_rxfilter_reset(&sc->rxf);
	memcpy(sc->cfg.mac, sc->mac_default, 6);
	sc->active_pairs = 1;
	netbe_set_active(sc->be, 1);
	sc->hdrlen = VIRTIO_NET_HDR_LEN_LEGACY;
	sc->mrg = false;
	sc->offloads = 0;
	netbe_set_cap(sc->be, 0, sc->hdrlen);
	return true; /* nothing in flight outside the lock */
}

static int
vtnet_cfgread(void *arg, int off, int size, uint32_t *val)
{
	struct vtnet_softc *sc = arg;

	return vi_cfg_read_bytes(&sc->cfg, sizeof(sc->cfg), off, size, val);
}

/* Legacy drivers without CTRL_MAC_ADDR set the MAC in config space. */
static int
vtnet_cfgwrite(void *arg, int off, int size, uint32_t val)
{
	struct vtnet_softc *sc = arg;

	if (vi_has_feature(&sc->vs, VIRTIO_F_VERSION_1) || off < 0 ||
	    size < 1 || size > 4 || off + size > 6)
		return -1;
	memcpy(sc->cfg.mac + off, &val, (size_t)size);
	return 0;
}

static const struct virtio_consts vtnet_consts_template = {
    .vc_name = "virtio-net",
    .vc_cfgsize = sizeof(struct vtnet_config),
    .vc_reset = vtnet_reset,
    .vc_qnotify = vtnet_qnotify,
    .vc_cfgread = vtnet_cfgread,
    .vc_cfgwrite = vtnet_cfgwrite,
    .vc_apply_features = vtnet_apply_features,
    .vc_qenable = vtnet_qenable,
};

/* ---- configuration ---- */

static int
vtnet_parse_uint(struct config_node *nvl, const char *key, long lo, long hi,
		 long def, const char *name, long *out)
{
	const char *v = get_config_value_node(nvl, key);
	char *end;
	long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "bhyve: %s: invalid %s '%s' (want %ld..%ld)\n",
			name, key, v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

/* The device's offer: features the backend (and vhost-net) can carry. */
static uint64_t
vtnet_features(struct vtnet_softc *sc, bool mtu)
{
	uint64_t cap = netbe_get_cap(sc->be);
	uint64_t f = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
		     VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX |
		     VTNET_F_CTRL_RX_EXTRA | VIRTIO_NET_F_CTRL_MAC_ADDR;

	f |= cap & (NETBE_OFFLOADS | VIRTIO_NET_F_MRG_RXBUF);
	if (cap & VIRTIO_NET_F_GUEST_CSUM)
		f |= VIRTIO_NET_F_CTRL_GUEST_OFFLOADS;
	if (mtu)
		f |= VIRTIO_NET_F_MTU;
	if (sc->max_pairs > 1)
		f |= VIRTIO_NET_F_MQ;
	if (sc->use_vhost &&
	    !(vhost_net_features(sc->pairs[0].vn) & VIRTIO_NET_F_MRG_RXBUF))
		f &= ~VIRTIO_NET_F_MRG_RXBUF;
	return f;
}

/* vhost-net for every pair, or none. */
static bool
vtnet_vhost_open(struct vtnet_softc *sc, char *why, size_t whylen)
{
	int i;

	if (netbe_tap_fd(sc->be, 0) < 0) {
		snprintf(why, whylen, "vhost-net needs a tap");
		return false;
	}
	for (i = 0; i < sc->max_pairs; i++) {
		sc->pairs[i].vn = vhost_net_open();
		if (sc->pairs[i].vn == NULL) {
			snprintf(why, whylen, "%s: %s", vhost_net_path,
				 strerror(errno));
			while (--i >= 0) {
				vhost_net_close(sc->pairs[i].vn);
				sc->pairs[i].vn = NULL;
			}
			return false;
		}
	}
	return true;
}

static void
vtnet_free(struct vtnet_softc *sc)
{
	int i;

	for (i = 0; i < VTNET_MAX_PAIRS; i++) {
		struct vtnet_pair *p = &sc->pairs[i];

		if (p->rx_ev != NULL)
			mevent_delete(p->rx_ev);
		vtnet_vhost_stop(sc, p);
		vhost_net_close(p->vn);
		free(p->rxbuf);
		free(p->used);
		free(p->held);
		free(p->hiov);
	}
	netbe_close(sc->be);
	free(sc);
}

static int
vtnet_setup_pairs(struct vtnet_softc *sc)
{
	int i;

	for (i = 0; i < VTNET_MAX_PAIRS; i++) {
		sc->pairs[i].callfd[0] = sc->pairs[i].callfd[1] = -1;
		sc->pairs[i].sc = sc;
		sc->pairs[i].idx = i;
	}
	for (i = 0; i < sc->max_pairs; i++) {
		struct vtnet_pair *p = &sc->pairs[i];

		sc->vqs[vtnet_rxq(i)].vq_qsize = VTNET_RINGSZ;
		sc->vqs[vtnet_txq(i)].vq_qsize = VTNET_RINGSZ;
		p->rxbuf = malloc(NETBE_MAX_FRAME + VIRTIO_NET_HDR_LEN_MRG);
		p->used = calloc(VTNET_RINGSZ, sizeof(*p->used));
		p->held = calloc(VTNET_RINGSZ, sizeof(*p->held));
		p->hiov = calloc(VTNET_HIOV, sizeof(*p->hiov));
		if (p->rxbuf == NULL || p->used == NULL || p->held == NULL ||
		    p->hiov == NULL)
			return -1;
		p->rx_expect = VIRTIO_NET_HDR_LEN_MRG + VTNET_RX_EXPECT_MIN;
		/* Also with vhost-net: the fallback if it fails to start. */
		p->rx_ev = mevent_add(netbe_rx_fd(sc->be, i), EVF_READ,
				      vtnet_rx_ready, p);
		if (p->rx_ev == NULL)
			return -1;
		/* Off until the driver has a receive ring (DRIVER_OK). */
		p->rx_on = true;
		vtnet_rx_event(p, false);
	}
	sc->vqs[vtnet_ctlq(sc)].vq_qsize = VTNET_CTLQ_RINGSZ;
	return 0;
}

static int
vtnet_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct vtnet_softc *sc;
	const char *backend, *mac;
	char name[64], err[256], why[160] = "";
	long mtu, queues;

	snprintf(name, sizeof(name), "virtio-net %d:%d:%d", pi->pi_bus,
		 pi->pi_slot, pi->pi_func);
	if (vtnet_parse_uint(nvl, "mtu", VTNET_MIN_MTU, VTNET_MAX_MTU, 0, name,
			     &mtu) != 0 ||
	    vtnet_parse_uint(nvl, "queues", 1, VTNET_MAX_PAIRS, 1, name,
			     &queues) != 0)
		return -1;
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	mac = get_config_value_node(nvl, "mac");
	if (mac != NULL && netbe_parse_mac(mac, sc->mac_default) != 0) {
		fprintf(stderr,
			"bhyve: %s: invalid mac '%s' (want xx:xx:xx:xx:xx:xx, "
			"unicast)\n",
			name, mac);
		free(sc);
		return -1;
	}
	if (mac == NULL)
		netbe_default_mac(vm_get_name(pi->pi_vmctx), pi->pi_bus,
				  pi->pi_slot, pi->pi_func, sc->mac_default);
	backend = get_config_value_node(nvl, "backend");
	if (backend == NULL && get_config_value_node(nvl, "vnic") != NULL) {
		/* viona's VNIC: a tap of that name on Linux. */
		snprintf(err, sizeof(err), "tap=%s",
			 get_config_value_node(nvl, "vnic"));
		backend = err;
	}
	sc->be = netbe_open(backend, nvl, (int)queues, err, sizeof(err));
	if (sc->be == NULL) {
		fprintf(stderr, "bhyve: %s: %s\n", name, err);
		free(sc);
		return -1;
	}
	sc->max_pairs = netbe_queues(sc->be);
	sc->active_pairs = 1;
	sc->hdrlen = VIRTIO_NET_HDR_LEN_LEGACY;
	if (get_config_bool_node_default(nvl, "vhost", true))
		sc->use_vhost = vtnet_vhost_open(sc, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "vhost=false");
	if (vtnet_setup_pairs(sc) != 0) {
		fprintf(stderr, "bhyve: %s: out of memory or mevent failure\n",
			name);
		vtnet_free(sc);
		return -1;
	}
	memcpy(sc->cfg.mac, sc->mac_default, 6);
	sc->cfg.status = htole16(VTNET_S_LINK_UP);
	sc->cfg.max_virtqueue_pairs = htole16((uint16_t)sc->max_pairs);
	sc->cfg.mtu = htole16((uint16_t)(mtu ? mtu : 1500));
	vtnet_rxfilter_reset(&sc->rxf);
	sc->consts = vtnet_consts_template;
	sc->consts.vc_nvq = 2 * sc->max_pairs + 1;
	sc->consts.vc_hv_caps = vtnet_features(sc, mtu != 0);
	vi_softc_linkup(&sc->vs, &sc->consts, sc, pi, sc->vqs);
	if (vi_pci_init(&sc->vs, VIRTIO_ID_NETWORK, VTNET_PCI_CLASS,
			VTNET_PCI_SUBCLASS, nvl) != 0) {
		pi->pi_arg = NULL;
		vtnet_free(sc);
		return -1;
	}
	if (sc->use_vhost && !sc->vs.vs_fastpath) {
		/* No KVM ioeventfd/irqfd (a detached context). */
		snprintf(why, sizeof(why), "no ioeventfd/irqfd");
		sc->use_vhost = false;
		for (int i = 0; i < sc->max_pairs; i++) {
			vhost_net_close(sc->pairs[i].vn);
			sc->pairs[i].vn = NULL;
		}
	}
	/* Shown once the VM starts, never before an error (notice.h). */
	if (sc->use_vhost)
		notice("virtio-net: vhost-net datapath (%s, %d queue pair%s)",
		       name, sc->max_pairs, sc->max_pairs > 1 ? "s" : "");
	else
		notice("virtio-net: userspace datapath (%s, %s backend; %s)",
		       name, netbe_type(sc->be), why);
	return 0;
}

static void
vtnet_fini(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtnet_softc *sc;
	int i;

	if (vs == NULL)
		return;
	sc = vs->vs_sc;
	virtio_lock(vs);
	for (i = 0; i < sc->max_pairs; i++)
		vtnet_vhost_stop(sc, &sc->pairs[i]);
	virtio_unlock(vs);
	vi_pci_fini(vs);
	vtnet_free(sc);
	pi->pi_arg = NULL;
}

void
vtnet_get_stats(struct pci_devinst *pi, struct vtnet_stats *st)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtnet_softc *sc = vs->vs_sc;

	virtio_lock(vs);
	*st = sc->stats;
	virtio_unlock(vs);
}

void
vtnet_get_state(struct pci_devinst *pi, struct vtnet_state *st)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtnet_softc *sc = vs->vs_sc;

	virtio_lock(vs);
	memcpy(st->mac, sc->cfg.mac, 6);
	st->rxf = sc->rxf;
	st->max_pairs = sc->max_pairs;
	st->active_pairs = sc->active_pairs;
	st->hdrlen = sc->hdrlen;
	st->offloads = sc->offloads;
	st->vhost = sc->use_vhost;
	virtio_unlock(vs);
}

/*
 * illumos: "virtio-net-viona,vnic=NAME" or "virtio-net-viona,NAME[,opts]".
 */
static int
vtnet_viona_legacy_config(struct config_node *nvl, const char *opts)
{
	if (opts == NULL || opts[0] == '\0') {
		legacy_config_error("needs vnic=NAME");
		return -1;
	}
	return legacy_config_positional_opt(nvl, opts, "vnic");
}

static const struct pci_devemu pci_de_vtnet = {
    .pe_emu = "virtio-net",
    .pe_legacy_config = netbe_legacy_config,
    .pe_init = vtnet_init,
    .pe_fini = vtnet_fini,
    VI_PCI_DEVEMU_HOOKS,
};
PCI_EMUL_SET(pci_de_vtnet);

/*
 * illumos' accelerated NIC is the same device here (vhost-net is the
 * in-kernel path).  A model of its own name keeps "device=virtio-net-viona"
 * in the configuration, so a brand's frozen config (-k) boots unchanged.
 */
static const struct pci_devemu pci_de_vtnet_viona = {
    .pe_emu = "virtio-net-viona",
    .pe_legacy_config = vtnet_viona_legacy_config,
    .pe_init = vtnet_init,
    .pe_fini = vtnet_fini,
    VI_PCI_DEVEMU_HOOKS,
};
PCI_EMUL_SET(pci_de_vtnet_viona);
