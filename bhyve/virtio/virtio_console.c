/*
 * virtio-console (virtio 1.2, 5.3) as bhyve offers it: multiple named
 * ports (VIRTIO_CONSOLE_F_MULTIPORT), each a listening Unix stream socket
 * on the host that serves one client at a time.  Port names go to the
 * guest with VIRTIO_CONSOLE_PORT_NAME, so Linux shows them in
 * /sys/class/virtio-ports/vportNpM/name and udev links
 * /dev/virtio-ports/NAME.
 *
 *	-s 4,virtio-console,NAME=/path/to/socket[,NAME2=/path2 ...]
 *	    -> port.0.name=NAME, port.0.path=/path/to/socket, ...
 *
 * Queues (5.3.2): port 0 rx/tx = 0/1, control rx/tx = 2/3, port N rx/tx =
 * 2N+2 / 2N+3.  Everything runs under the device lock: queue kicks, and
 * the socket events of the mevent loop.  Guest->host data is written to
 * the client without blocking; when the socket is full the chain is put
 * back and resumed when it drains.  Host->guest data is read from the
 * socket only while the guest has the port open and has posted buffers,
 * so the socket's own buffer applies backpressure to the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "mevent.h"
#include "pci_emul.h"
#include "legacy_config.h"
#include "virtio.h"
#include "virtqueue.h"

#define VTCON_MAXPORTS 16 /* bhyve's limit */
#define VTCON_RINGSZ   64
#define VTCON_MAXSEGS  VTCON_RINGSZ
#define VTCON_NAME_MAX 127
/* Chains handled per socket event, so one port cannot hog the loop. */
#define VTCON_RX_BATCH	 32
#define VTCON_CTRL_QUEUE (4 * VTCON_MAXPORTS + 8)

/* Feature bits and control events (5.3.3, 5.3.6.2). */
#define VIRTIO_CONSOLE_F_SIZE	   (1ULL << 0)
#define VIRTIO_CONSOLE_F_MULTIPORT (1ULL << 1)

#define VIRTIO_CONSOLE_DEVICE_READY  0
#define VIRTIO_CONSOLE_DEVICE_ADD    1
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY    3
#define VIRTIO_CONSOLE_CONSOLE_PORT  4
#define VIRTIO_CONSOLE_RESIZE	     5
#define VIRTIO_CONSOLE_PORT_OPEN     6
#define VIRTIO_CONSOLE_PORT_NAME     7

#define PCIC_SIMPLECOMM	      0x07
#define PCIS_SIMPLECOMM_OTHER 0x80

struct vtcon_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

struct vtcon_control {
	uint32_t id;
	uint16_t event;
	uint16_t value;
} __attribute__((packed));

struct vtcon_ctrl_msg {
	struct vtcon_control hdr;
	size_t namelen;
	char name[VTCON_NAME_MAX];
};

struct vtcon_softc;

struct vtcon_port {
	struct vtcon_softc *sc;
	bool present; /* configured */
	int id;
	char name[VTCON_NAME_MAX + 1];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, cfd; /* listening and client sockets */
	struct mevent *lev, *rev, *wev;
	bool rx_on; /* rev enabled */
	bool guest_ready, guest_open;
	size_t tx_skip;		     /* bytes of the first chain already sent */
	uint64_t rx_bytes, tx_bytes; /* statistics */
};

struct vtcon_softc {
	struct virtio_softc vs;
	struct vqueue_info queues[2 * VTCON_MAXPORTS + 2];
	struct virtio_consts consts; /* vc_nvq depends on the port count */
	struct vtcon_config cfg;
	struct vtcon_port ports[VTCON_MAXPORTS]; /* by id: port.<id> */
	int maxports; /* highest configured id + 1, at least 1 */
	bool multiport;
	struct vtcon_ctrl_msg ctrl[VTCON_CTRL_QUEUE];
	int ctrl_head, ctrl_count;
};

static int
vtcon_rxq(int id)
{
	return id == 0 ? 0 : 2 * id + 2;
}

/* ---- iovec copies ---- */

static size_t
vtcon_to_iov(struct iovec *iov, int n, const void *buf, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t c =
		    iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const uint8_t *)buf + done, c);
		done += c;
	}
	return done;
}

static size_t
vtcon_from_iov(const struct iovec *iov, int n, void *buf, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t c =
		    iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy((uint8_t *)buf + done, iov[i].iov_base, c);
		done += c;
	}
	return done;
}

/* ---- Control messages to the guest ---- */

static void
vtcon_ctrl_flush(struct vtcon_softc *sc)
{
	struct vqueue_info *vq = &sc->queues[2];
	struct iovec iov[VTCON_MAXSEGS];
	struct vi_req req;
	bool any = false;

	if (!vi_device_live(&sc->vs))
		return;
	while (sc->ctrl_count > 0) {
		struct vtcon_ctrl_msg *m = &sc->ctrl[sc->ctrl_head];
		uint8_t buf[sizeof(m->hdr) + VTCON_NAME_MAX];
		size_t len = sizeof(m->hdr) + m->namelen, put;
		int n = vq_getchain(vq, iov, VTCON_MAXSEGS, &req);

		if (n <= 0)
			break;
		memcpy(buf, &m->hdr, sizeof(m->hdr));
		memcpy(buf + sizeof(m->hdr), m->name, m->namelen);
		put =
		    req.wlen >= len
			? vtcon_to_iov(iov + req.readable, req.writable, buf,
				       len)
			: 0; /* too small for the message: give it back empty */
		vq_relchain(vq, req.idx, (uint32_t)put);
		any = true;
		if (put == 0)
			continue;
		sc->ctrl_head = (sc->ctrl_head + 1) % VTCON_CTRL_QUEUE;
		sc->ctrl_count--;
	}
	if (any)
		vq_endchains(vq, false);
}

static void
vtcon_ctrl_send(struct vtcon_softc *sc, int id, uint16_t event, uint16_t value,
		const char *name)
{
	struct vtcon_ctrl_msg *m;

	if (!sc->multiport)
		return;
	if (sc->ctrl_count == VTCON_CTRL_QUEUE) {
		/* Only a guest that never reads its control queue and keeps
		 * asking gets here. */
		return;
	}
	m = &sc->ctrl[(sc->ctrl_head + sc->ctrl_count++) % VTCON_CTRL_QUEUE];
	m->hdr = (struct vtcon_control){(uint32_t)id, event, value};
	m->namelen = name != NULL ? strlen(name) : 0;
	if (m->namelen > 0)
		memcpy(m->name, name, m->namelen);
	vtcon_ctrl_flush(sc);
}

/* ---- Host sockets ---- */

static bool
vtcon_port_open(const struct vtcon_port *p)
{
	return p->sc->multiport ? p->guest_open : p->id == 0;
}

static bool
vtcon_rx_possible(const struct vtcon_port *p)
{
	return vtcon_port_open(p) &&
	       vq_ring_ready(&p->sc->queues[vtcon_rxq(p->id)]) &&
	       vi_device_live(&p->sc->vs);
}

/*
 * The client's read event stays on while connected, so a hangup is seen
 * at once; it is paused only while data waits that the guest cannot take
 * (port closed or no receive buffers), and resumed by this when that may
 * have changed.
 */
static void
vtcon_rx_update(struct vtcon_port *p)
{
	if (p->rev == NULL || p->rx_on)
		return;
	p->rx_on = true;
	mevent_enable(p->rev);
}

static void
vtcon_disconnect(struct vtcon_port *p)
{
	if (p->cfd < 0)
		return;
	if (p->wev != NULL)
		mevent_delete(p->wev);
	p->wev = NULL;
	if (p->rev != NULL)
		mevent_delete_close(p->rev);
	else
		close(p->cfd);
	p->rev = NULL;
	p->rx_on = false;
	p->cfd = -1;
	p->tx_skip = 0;
	if (p->guest_ready)
		vtcon_ctrl_send(p->sc, p->id, VIRTIO_CONSOLE_PORT_OPEN, 0,
				NULL);
}

/* The guest cannot take data now: pause, unless the client has gone. */
static void
vtcon_rx_stall(struct vtcon_port *p)
{
	char c;
	ssize_t r = recv(p->cfd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		vtcon_disconnect(p);
	} else if (r > 0) {
		p->rx_on = false;
		mevent_disable(p->rev);
	}
}

/* Host -> guest: straight from the socket into the guest's buffers. */
static void
vtcon_port_rx(struct vtcon_port *p)
{
	struct vqueue_info *vq = &p->sc->queues[vtcon_rxq(p->id)];
	struct iovec iov[VTCON_MAXSEGS];
	struct vi_req req;
	bool any = false;

	if (!vtcon_rx_possible(p)) {
		vtcon_rx_stall(p);
		return;
	}
	for (int i = 0; i < VTCON_RX_BATCH && p->cfd >= 0; i++) {
		ssize_t r;
		int n = vq_getchain(vq, iov, VTCON_MAXSEGS, &req);

		if (n <= 0) {
			/* No buffers: wait for the guest's next rx kick. */
			vtcon_rx_stall(p);
			break;
		}
		if (req.writable == 0) {
			vq_relchain(vq, req.idx, 0);
			any = true;
			continue;
		}
		r = readv(p->cfd, iov + req.readable, req.writable);
		if (r <= 0) {
			vq_retchains(vq, 1);
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				vtcon_disconnect(p);
			break;
		}
		p->rx_bytes += (uint64_t)r;
		vq_relchain(vq, req.idx, (uint32_t)r);
		any = true;
	}
	if (any)
		vq_endchains(vq, false);
}

static void
vtcon_rx_cb(int fd, enum ev_type type, void *arg)
{
	struct vtcon_port *p = arg;

	virtio_lock(&p->sc->vs);
	if (p->cfd == fd && p->rx_on)
		vtcon_port_rx(p);
	virtio_unlock(&p->sc->vs);
}

static void vtcon_port_tx(struct vtcon_port *p);

static void
vtcon_wr_cb(int fd, enum ev_type type, void *arg)
{
	struct vtcon_port *p = arg;

	virtio_lock(&p->sc->vs);
	if (p->wev != NULL) {
		mevent_delete(p->wev);
		p->wev = NULL;
	}
	vtcon_port_tx(p);
	virtio_unlock(&p->sc->vs);
}

static void
vtcon_accept_cb(int fd, enum ev_type type, void *arg)
{
	struct vtcon_port *p = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	virtio_lock(&p->sc->vs);
	if (p->cfd >= 0) {
		/* One client at a time (bhyve). */
		virtio_unlock(&p->sc->vs);
		close(cfd);
		return;
	}
	p->cfd = cfd;
	p->rev = mevent_add(cfd, EVF_READ, vtcon_rx_cb, p);
	if (p->rev == NULL) {
		close(cfd);
		p->cfd = -1;
	} else {
		p->rx_on = true;
		if (p->guest_ready)
			vtcon_ctrl_send(p->sc, p->id, VIRTIO_CONSOLE_PORT_OPEN,
					1, NULL);
		vtcon_rx_update(p);
		vtcon_port_tx(p); /* data the guest queued meanwhile */
	}
	virtio_unlock(&p->sc->vs);
}

/* Guest -> host.  Without a client the data is dropped, like a serial
 * line with nothing attached. */
static void
vtcon_port_tx(struct vtcon_port *p)
{
	struct vqueue_info *vq = &p->sc->queues[vtcon_rxq(p->id) + 1];
	struct iovec iov[VTCON_MAXSEGS];
	struct vi_req req;
	bool any = false;
	int n;

	if (!vi_device_live(&p->sc->vs))
		return;
	while ((n = vq_getchain(vq, iov, VTCON_MAXSEGS, &req)) > 0) {
		struct iovec *v = iov;
		int nv = req.readable;
		size_t skip, left;
		struct msghdr msg = {0};
		ssize_t w;

		/* The guest may have rewritten the chain we put back. */
		if (p->tx_skip > req.rlen)
			p->tx_skip = 0;
		skip = p->tx_skip;
		left = req.rlen - skip;

		if (p->cfd < 0 || left == 0) {
			p->tx_skip = 0;
			vq_relchain(vq, req.idx, 0);
			any = true;
			continue;
		}
		while (nv > 0 && skip >= v->iov_len) {
			skip -= v->iov_len;
			v++;
			nv--;
		}
		v->iov_base = (uint8_t *)v->iov_base + skip;
		v->iov_len -= skip;
		msg.msg_iov = v;
		msg.msg_iovlen = (size_t)nv;
		w = sendmsg(p->cfd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			w = 0;
		if (w < 0) {
			vq_relchain(vq, req.idx, 0);
			any = true;
			vtcon_disconnect(p);
			continue;
		}
		p->tx_bytes += (uint64_t)w;
		if ((size_t)w < left) {
			/* Socket full: resume this chain when it drains. */
			p->tx_skip += (size_t)w;
			vq_retchains(vq, 1);
			if (p->wev == NULL)
				p->wev = mevent_add(p->cfd, EVF_WRITE,
						    vtcon_wr_cb, p);
			break;
		}
		p->tx_skip = 0;
		vq_relchain(vq, req.idx, 0);
		any = true;
	}
	if (any)
		vq_endchains(vq, true);
}

/* A listening socket at path; an old socket there is replaced, any other
 * file is left alone (and is an error). */
static int
vtcon_listen(struct vtcon_port *p)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;

	memcpy(sun.sun_path, p->path, strlen(p->path) + 1);
	if (lstat(p->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr,
				"bhyve: virtio-console: %s exists and "
				"is not a socket\n",
				p->path);
			return -1;
		}
		unlink(p->path);
	}
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 ||
	    bind(p->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(p->lfd, 1) != 0) {
		fprintf(stderr, "bhyve: virtio-console: socket %s: %s\n",
			p->path, strerror(errno));
		return -1;
	}
	p->lev = mevent_add(p->lfd, EVF_READ, vtcon_accept_cb, p);
	return p->lev != NULL ? 0 : -1;
}

/* ---- Control messages from the guest ---- */

static void
vtcon_ctrl_handle(struct vtcon_softc *sc, const struct vtcon_control *c)
{
	struct vtcon_port *p =
	    c->id < (uint32_t)sc->maxports && sc->ports[c->id].present
		? &sc->ports[c->id]
		: NULL;

	switch (c->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (c->value != 1)
			break;
		for (int i = 0; i < sc->maxports; i++)
			if (sc->ports[i].present)
				vtcon_ctrl_send(
				    sc, i, VIRTIO_CONSOLE_DEVICE_ADD, 1, NULL);
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		if (p == NULL || c->value != 1 || p->guest_ready)
			break;
		p->guest_ready = true;
		vtcon_ctrl_send(sc, p->id, VIRTIO_CONSOLE_PORT_NAME, 1,
				p->name);
		if (p->cfd >= 0)
			vtcon_ctrl_send(sc, p->id, VIRTIO_CONSOLE_PORT_OPEN, 1,
					NULL);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (p == NULL)
			break;
		p->guest_open = c->value != 0;
		vtcon_rx_update(p);
		break;
	default:
		break; /* unknown or device-to-driver events: ignored */
	}
}

static void
vtcon_ctrl_tx(struct vtcon_softc *sc)
{
	struct vqueue_info *vq = &sc->queues[3];
	struct iovec iov[VTCON_MAXSEGS];
	struct vi_req req;
	bool any = false;

	while (vq_getchain(vq, iov, VTCON_MAXSEGS, &req) > 0) {
		struct vtcon_control c;

		/* One copy out of guest memory, then only the copy. */
		if (vtcon_from_iov(iov, req.readable, &c, sizeof(c)) ==
		    sizeof(c))
			vtcon_ctrl_handle(sc, &c);
		vq_relchain(vq, req.idx, 0);
		any = true;
	}
	if (any)
		vq_endchains(vq, true);
}

/* ---- virtio callbacks ---- */

static void
vtcon_notify(void *arg, struct vqueue_info *vq)
{
	struct vtcon_softc *sc = arg;
	int q = vq->vq_num;

	if (q == 2) {
		vtcon_ctrl_flush(sc);
	} else if (q == 3) {
		vtcon_ctrl_tx(sc);
	} else {
		int id = q < 2 ? 0 : (q - 2) / 2;
		struct vtcon_port *p;

		if (id >= sc->maxports || !sc->ports[id].present)
			return;
		p = &sc->ports[id];
		if (q == vtcon_rxq(id)) {
			vtcon_rx_update(p);
			if (p->cfd >= 0)
				vtcon_port_rx(p);
		} else if (p->wev == NULL) {
			vtcon_port_tx(p);
		}
	}
}

static bool
vtcon_reset(void *arg)
{
	struct vtcon_softc *sc = arg;

	sc->multiport = false;
	sc->ctrl_head = sc->ctrl_count = 0;
	for (int i = 0; i < sc->maxports; i++) {
		struct vtcon_port *p = &sc->ports[i];

		p->guest_ready = p->guest_open = false;
		p->tx_skip = 0;
		vtcon_rx_update(p); /* the loop notices a hangup meanwhile */
	}
	return true; /* nothing in flight outside the lock */
}

static void
vtcon_apply_features(void *arg, uint64_t features)
{
	struct vtcon_softc *sc = arg;

	sc->multiport = (features & VIRTIO_CONSOLE_F_MULTIPORT) != 0;
}

static void
vtcon_qenable(void *arg, struct vqueue_info *vq, bool enabled)
{
	struct vtcon_softc *sc = arg;
	int q = vq->vq_num;
	int id = q < 2 ? 0 : (q - 2) / 2;

	if (q != 2 && q != 3 && id < sc->maxports && sc->ports[id].present)
		vtcon_rx_update(&sc->ports[id]);
}

static int
vtcon_cfgread(void *arg, int off, int size, uint32_t *val)
{
	struct vtcon_softc *sc = arg;

	return vi_cfg_read_bytes(&sc->cfg, sizeof(sc->cfg), off, size, val);
}

static const struct virtio_consts vtcon_vi_consts = {
    .vc_name = "vtcon",
    .vc_cfgsize = sizeof(struct vtcon_config),
    .vc_reset = vtcon_reset,
    .vc_qnotify = vtcon_notify,
    .vc_cfgread = vtcon_cfgread,
    .vc_apply_features = vtcon_apply_features,
    .vc_qenable = vtcon_qenable,
    .vc_hv_caps = VIRTIO_CONSOLE_F_MULTIPORT,
};

/* ---- Construction ---- */

static bool
vtcon_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > VTCON_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] <= ' ' || name[i] > '~' || name[i] == '/')
			return false;
	}
	return true;
}

static int
vtcon_add_port(struct vtcon_softc *sc, int id, const char *name,
	       const char *path)
{
	struct vtcon_port *p = &sc->ports[id];

	if (!vtcon_name_ok(name)) {
		fprintf(stderr,
			"bhyve: virtio-console: port name '%s': "
			"1-%d printable characters, no '/'\n",
			name, VTCON_NAME_MAX);
		return -1;
	}
	for (int i = 0; i < VTCON_MAXPORTS; i++) {
		if (sc->ports[i].present &&
		    strcmp(sc->ports[i].name, name) == 0) {
			fprintf(stderr,
				"bhyve: virtio-console: port name "
				"'%s' used twice\n",
				name);
			return -1;
		}
	}
	if (path[0] == '\0' || strlen(path) >= sizeof(p->path)) {
		fprintf(stderr,
			"bhyve: virtio-console: socket path '%s': "
			"empty or longer than %zu bytes\n",
			path, sizeof(p->path) - 1);
		return -1;
	}
	p->sc = sc;
	p->id = id;
	p->present = true;
	if (id >= sc->maxports)
		sc->maxports = id + 1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->path, sizeof(p->path), "%s", path);
	return vtcon_listen(p);
}

static int
vtcon_parse_ports(struct vtcon_softc *sc, struct config_node *nvl)
{
	for (int i = 0; i < VTCON_MAXPORTS; i++) {
		char node[24];
		struct config_node *pn;
		const char *name, *path;

		snprintf(node, sizeof(node), "port.%d", i);
		pn = find_relative_config_node(nvl, node);
		if (pn == NULL)
			continue;
		name = get_config_value_node(pn, "name");
		path = get_config_value_node(pn, "path");
		if (name == NULL || path == NULL) {
			fprintf(stderr,
				"bhyve: virtio-console: %s needs name "
				"and path\n",
				node);
			return -1;
		}
		if (vtcon_add_port(sc, i, name, path) != 0)
			return -1;
	}
	return 0;
}

static void
vtcon_free(struct vtcon_softc *sc)
{
	for (int i = 0; i < VTCON_MAXPORTS; i++) {
		struct vtcon_port *p = &sc->ports[i];

		if (p->wev != NULL)
			mevent_delete(p->wev);
		if (p->rev != NULL)
			mevent_delete_close(p->rev);
		else if (p->cfd >= 0)
			close(p->cfd);
		if (p->lev != NULL)
			mevent_delete_close(p->lev);
		else if (p->lfd >= 0)
			close(p->lfd);
		if (p->lfd >= 0)
			unlink(p->path);
	}
	vi_pci_fini(&sc->vs);
	free(sc);
}

static int
vtcon_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct vtcon_softc *sc = calloc(1, sizeof(*sc));
	int maxports;

	if (sc == NULL)
		return -1;
	for (int i = 0; i < VTCON_MAXPORTS; i++)
		sc->ports[i].lfd = sc->ports[i].cfd = -1;
	if (vtcon_parse_ports(sc, nvl) != 0) {
		vtcon_free(sc);
		return -1;
	}
	/* 5.3.4: max_nr_ports fixes the queue count, 2 per port + 2. */
	maxports = sc->maxports > 0 ? sc->maxports : 1;
	sc->maxports = maxports;
	sc->cfg.max_nr_ports = (uint32_t)maxports;
	sc->consts = vtcon_vi_consts;
	sc->consts.vc_nvq = 2 * maxports + 2;
	for (int q = 0; q < sc->consts.vc_nvq; q++)
		sc->queues[q].vq_qsize = VTCON_RINGSZ;
	vi_softc_linkup(&sc->vs, &sc->consts, sc, pi, sc->queues);
	if (vi_pci_init(&sc->vs, VIRTIO_ID_CONSOLE, PCIC_SIMPLECOMM,
			PCIS_SIMPLECOMM_OTHER, nvl) != 0) {
		pi->pi_arg = NULL;
		vtcon_free(sc);
		return -1;
	}
	return 0;
}

static void
vtcon_fini(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;

	if (vs == NULL)
		return;
	vtcon_free(vs->vs_sc);
	pi->pi_arg = NULL;
}

struct vtcon_legacy {
	struct config_node *nvl;
	int nports;
};

/* One "NAME=PATH" port, or "transport=legacy|modern|transitional". */
static int
vtcon_legacy_option(char *opt, void *arg)
{
	struct vtcon_legacy *st = arg;
	char *eq = strchr(opt, '=');
	struct config_node *port;

	if (eq == NULL || eq == opt || eq[1] == '\0') {
		legacy_config_error("port '%s' needs name=path", opt);
		return -1;
	}
	*eq = '\0';
	if (strcmp(opt, "transport") == 0)
		return legacy_config_set(st->nvl, "transport", eq + 1);
	port =
	    legacy_config_child(st->nvl, "port", st->nports++, VTCON_MAXPORTS);
	if (port == NULL || legacy_config_set(port, "name", opt) != 0)
		return -1;
	return legacy_config_set(port, "path", eq + 1);
}

/*
 * "-s N,virtio-console,NAME=PATH[,NAME=PATH...]" (bhyve(8)) ->
 * port.K.name / port.K.path.
 */
static int
vtcon_legacy_config(struct config_node *nvl, const char *opts)
{
	struct vtcon_legacy st = {nvl, 0};

	return legacy_config_each(opts, vtcon_legacy_option, &st);
}

static const struct pci_devemu pci_de_vcon = {
    .pe_emu = "virtio-console",
    .pe_legacy_config = vtcon_legacy_config,
    .pe_init = vtcon_init,
    .pe_fini = vtcon_fini,
    VI_PCI_DEVEMU_HOOKS,
};
PCI_EMUL_SET(pci_de_vcon);
