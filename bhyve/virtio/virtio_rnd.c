/*
 * virtio-rnd: the entropy device (virtio 1.2, 5.4).  One request queue;
 * every buffer the driver posts is device-writable and gets bytes from
 * getrandom(2).  A token bucket limits the rate ("limit" key, bytes per
 * second, default 1 MiB/s, 0 = unlimited) so a guest cannot drain the
 * host's randomness or burn a host CPU; when the bucket is empty the
 * queue waits for a timer on the event loop.
 *
 *	-s 5,virtio-rnd[,limit=BYTES_PER_SECOND]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config.h"
#include "mevent.h"
#include "pci_emul.h"
#include "virtio.h"
#include "virtqueue.h"
#include "vtimer.h"

#define VTRND_RINGSZ	    64
#define VTRND_MAXSEGS	    VTRND_RINGSZ
#define VTRND_DEFAULT_LIMIT (1024 * 1024) /* bytes per second */
#define VTRND_MAX_LIMIT	    (1ULL << 40)  /* 1024G: more than any host has */
/* Wait at least this long for the bucket to refill (avoid timer storms). */
#define VTRND_MIN_WAIT_NS (1000 * 1000)

#define PCIC_CRYPTO	  0x10
#define PCIS_CRYPTO_OTHER 0x80

struct vtrnd_softc {
	struct virtio_softc vs;
	struct vqueue_info vq;
	uint64_t limit;	  /* bytes per second, 0: unlimited */
	double tokens;	  /* bytes that may be sent now */
	uint64_t last_ns; /* when tokens was last refilled */
	bool timer_armed;
	uint64_t bytes_out; /* statistics */
};

/* Token bucket: refills at 'limit' bytes/s up to one second's worth. */
static void
vtrnd_refill(struct vtrnd_softc *sc)
{
	uint64_t now = vtimer_now_ns();

	sc->tokens += (double)(now - sc->last_ns) * (double)sc->limit / 1e9;
	if (sc->tokens > (double)sc->limit)
		sc->tokens = (double)sc->limit;
	sc->last_ns = now;
}

/* Fills the chain's buffers with up to 'max' random bytes. */
static size_t
vtrnd_fill(struct iovec *iov, int n, size_t max)
{
	size_t done = 0;

	for (int i = 0; i < n && done < max; i++) {
		size_t want = iov[i].iov_len, off = 0;

		if (want > max - done)
			want = max - done;
		while (off < want) {
			ssize_t r = getrandom((uint8_t *)iov[i].iov_base + off,
					      want - off, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done + off;
			off += (size_t)r;
		}
		done += want;
	}
	return done;
}

static void vtrnd_process(struct vtrnd_softc *sc);

static void
vtrnd_timer(int fd, enum ev_type type, void *arg)
{
	struct vtrnd_softc *sc = arg;

	virtio_lock(&sc->vs);
	sc->timer_armed = false;
	vtrnd_process(sc);
	virtio_unlock(&sc->vs);
}

/* Out of tokens: come back when some bytes are available again. */
static void
vtrnd_wait(struct vtrnd_softc *sc)
{
	uint64_t ns = (uint64_t)((1.0 - sc->tokens) * 1e9 / (double)sc->limit);

	if (sc->timer_armed)
		return;
	if (ns < VTRND_MIN_WAIT_NS)
		ns = VTRND_MIN_WAIT_NS;
	if (mevent_add_timer_ns(ns, 0, vtrnd_timer, sc) != NULL)
		sc->timer_armed = true;
}

/* Called with the device lock held. */
static void
vtrnd_process(struct vtrnd_softc *sc)
{
	struct iovec iov[VTRND_MAXSEGS];
	struct vi_req req;
	bool any = false;
	int n;

	for (;;) {
		size_t max = SIZE_MAX, len;

		if (sc->limit != 0) {
			vtrnd_refill(sc);
			if (sc->tokens < 1.0) {
				if (vq_has_descs(&sc->vq))
					vtrnd_wait(sc);
				break;
			}
			max = (size_t)sc->tokens;
		}
		n = vq_getchain(&sc->vq, iov, VTRND_MAXSEGS, &req);
		if (n <= 0)
			break;
		/* 5.4.6.1: the driver posts only device-writable buffers. */
		if (req.readable != 0) {
			vi_set_needs_reset(
			    &sc->vs,
			    "entropy request with a device-readable buffer");
			break;
		}
		len = vtrnd_fill(iov, n, max);
		if (sc->limit != 0)
			sc->tokens -= (double)len;
		sc->bytes_out += len;
		vq_relchain(&sc->vq, req.idx, (uint32_t)len);
		any = true;
	}
	if (any)
		vq_endchains(&sc->vq, !vq_has_descs(&sc->vq));
}

static void
vtrnd_notify(void *arg, struct vqueue_info *vq)
{
	vtrnd_process(arg);
}

static bool
vtrnd_reset(void *arg)
{
	/* Nothing is in flight outside the lock; the bucket stays as is. */
	return true;
}

static const struct virtio_consts vtrnd_vi_consts = {
    .vc_name = "vtrnd",
    .vc_nvq = 1,
    .vc_cfgsize = 0,
    .vc_reset = vtrnd_reset,
    .vc_qnotify = vtrnd_notify,
    .vc_hv_caps = 0,
};

/* "1048576", "64k", "2M", "1G" (binary multiples); 0 disables. */
static int
vtrnd_parse_limit(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift != 0)
		end++;
	/* Checked before the shift: bits shifted out of 64 would leave a
	 * small number, or 0, which means "unlimited". */
	if (*end != '\0' || v > (VTRND_MAX_LIMIT >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int
vtrnd_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct vtrnd_softc *sc;
	const char *limit;
	uint8_t probe;

	/* Fail at start-up, not in the guest, if the host has no getrandom. */
	if (getrandom(&probe, 1, GRND_NONBLOCK) < 0 && errno == ENOSYS) {
		fprintf(stderr, "bhyve: virtio-rnd: getrandom: %s\n",
			strerror(errno));
		return -1;
	}
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	sc->limit = VTRND_DEFAULT_LIMIT;
	limit = get_config_value_node(nvl, "limit");
	if (limit != NULL && vtrnd_parse_limit(limit, &sc->limit) != 0) {
		fprintf(stderr,
			"bhyve: virtio-rnd: limit '%s': expected bytes "
			"per second up to 1024G (e.g. 65536, 64k, 1M; 0: "
			"none)\n",
			limit);
		free(sc);
		return -1;
	}
	sc->tokens = (double)sc->limit;
	sc->last_ns = vtimer_now_ns();
	sc->vq.vq_qsize = VTRND_RINGSZ;
	vi_softc_linkup(&sc->vs, &vtrnd_vi_consts, sc, pi, &sc->vq);
	if (vi_pci_init(&sc->vs, VIRTIO_ID_ENTROPY, PCIC_CRYPTO,
			PCIS_CRYPTO_OTHER, nvl) != 0) {
		vi_pci_fini(&sc->vs);
		free(sc);
		pi->pi_arg = NULL;
		return -1;
	}
	return 0;
}

static void
vtrnd_fini(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;

	if (vs == NULL)
		return;
	vi_pci_fini(vs);
	free(vs->vs_sc);
	pi->pi_arg = NULL;
}

static const struct pci_devemu pci_de_vrnd = {
    .pe_emu = "virtio-rnd",
    .pe_init = vtrnd_init,
    .pe_fini = vtrnd_fini,
    VI_PCI_DEVEMU_HOOKS,
};
PCI_EMUL_SET(pci_de_vrnd);
