/*
 * The slirp backend: user-mode networking through libslirp, no
 * privileges and no host interface.  The guest sees 10.0.2.0/24 with the
 * gateway at 10.0.2.2, DHCP handing out 10.0.2.15 and DNS at 10.0.2.3;
 * the host reaches guest services through "hostfwd" rules:
 *
 *	hostfwd=tcp:[haddr]:hport-[gaddr]:gport[;udp:...]
 *
 * haddr defaults to 127.0.0.1 (QEMU's default is every address; exposing
 * a guest port beyond the host must be asked for), gaddr to 10.0.2.15.
 * restrict=true keeps the guest from opening connections of its own.
 *
 * libslirp wants a poll loop.  Its descriptors live in a private epoll
 * set, itself one read event in mevent; after every call into slirp the
 * set is refreshed from slirp_pollfds_fill() and its timeout becomes a
 * one-shot mevent timer, so slirp runs on the mevent thread with no
 * thread of its own.  Frames slirp emits go into a socketpair the device
 * polls like a tap, which also buffers them while the guest has no
 * receive buffers (beyond that they are dropped; TCP recovers).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_backends.h"

#ifdef HAVE_LIBSLIRP

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include <slirp/libslirp.h>

#include "dynlib.h"
#include "mevent.h"
#include "vtimer.h"

#define SLIRP_GUEST_ADDR "10.0.2.15"
#define SLIRP_MAX_FWD	 16

/* libslirp is opened when the first slirp backend starts (dynlib.h). */
static struct slirp_lib_fns {
	Slirp *(*new_)(const SlirpConfig *, const SlirpCb *, void *);
	void (*cleanup)(Slirp *);
	void (*input)(Slirp *, const uint8_t *, int);
	void (*pollfds_fill)(Slirp *, uint32_t *, SlirpAddPollCb, void *);
	void (*pollfds_poll)(Slirp *, int, SlirpGetREventsCb, void *);
	int (*add_hostfwd)(Slirp *, int, struct in_addr, int, struct in_addr,
			   int);
	void (*handle_timer)(Slirp *, SlirpTimerId, void *);
} slirp_lib;

static const struct dynlib_sym slirp_lib_syms[] = {
    {"slirp_new", offsetof(struct slirp_lib_fns, new_)},
    {"slirp_cleanup", offsetof(struct slirp_lib_fns, cleanup)},
    {"slirp_input", offsetof(struct slirp_lib_fns, input)},
    {"slirp_pollfds_fill", offsetof(struct slirp_lib_fns, pollfds_fill)},
    {"slirp_pollfds_poll", offsetof(struct slirp_lib_fns, pollfds_poll)},
    {"slirp_add_hostfwd", offsetof(struct slirp_lib_fns, add_hostfwd)},
    {"slirp_handle_timer", offsetof(struct slirp_lib_fns, handle_timer)},
};

static struct dynlib slirp_dynlib = {
    .soname = "libslirp.so.0",
    .package = "libslirp0",
    .syms = slirp_lib_syms,
    .nsyms = sizeof(slirp_lib_syms) / sizeof(slirp_lib_syms[0]),
    .table = &slirp_lib,
    .mtx = PTHREAD_MUTEX_INITIALIZER,
};

static int
slirp_lib_open(char *err, size_t errlen)
{
	char why[256];

	if (dynlib_load(&slirp_dynlib, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "slirp: %s", why);
	return -1;
}

struct slirp_fdent {
	int fd;
	uint32_t events; /* as registered in the epoll set, 0 = absent */
};

struct slirp_timer {
	struct slirp_priv *sp;
	SlirpTimerId id;
	void *cb_opaque;
	int fd; /* a timerfd of our own, read events in mevent */
	struct mevent *ev;
	struct slirp_timer *next;
};

struct slirp_priv {
	Slirp *slirp;
	pthread_mutex_t mtx;
	int sv[2]; /* [0]: slirp writes frames, [1]: the device reads */
	int epfd;
	struct mevent *ep_ev;
	int tickfd; /* slirp's poll timeout (TCP timers) */
	struct mevent *tick;
	struct pollfd *pfd; /* what slirp asked for in the last fill */
	int npfd, pfdcap;
	struct slirp_fdent *reg; /* what the epoll set holds */
	int nreg, regcap;
	struct slirp_timer *timers;
	uint8_t txbuf[NETBE_MAX_FRAME];
	bool warned;
};

static int64_t
slirp_clock_ns(void *opaque)
{
	return (int64_t)vtimer_now_ns();
}

/* slirp -> guest: queue the frame for the device, drop it when full. */
static ssize_t
slirp_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_priv *sp = opaque;
	ssize_t n;

	n = send(sp->sv[0], buf, len, MSG_DONTWAIT);
	return n < 0 ? (ssize_t)len : n;
}

static void
slirp_guest_error(const char *msg, void *opaque)
{
	struct slirp_priv *sp = opaque;

	if (!sp->warned)
		fprintf(stderr, "bhyve: virtio-net: slirp: guest error: %s\n",
			msg);
	sp->warned = true;
}

static void slirp_pump_locked(struct slirp_priv *sp);

/* Arms (or with ns == 0 disarms) a timerfd for one expiry. */
static void
slirp_timerfd_arm(int fd, uint64_t ns)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)(ns / 1000000000ULL),
			 .tv_nsec = (long)(ns % 1000000000ULL)}};

	timerfd_settime(fd, 0, &its, NULL);
}

static bool
slirp_timerfd_drain(int fd)
{
	uint64_t ticks;

	return read(fd, &ticks, sizeof(ticks)) == sizeof(ticks);
}

static void
slirp_timer_fire(int fd, enum ev_type type, void *arg)
{
	struct slirp_timer *t = arg;
	struct slirp_priv *sp = t->sp;

	if (!slirp_timerfd_drain(fd))
		return;
	pthread_mutex_lock(&sp->mtx);
	slirp_lib.handle_timer(sp->slirp, t->id, t->cb_opaque);
	slirp_pump_locked(sp);
	pthread_mutex_unlock(&sp->mtx);
}

static void *
slirp_timer_new(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_priv *sp = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->sp = sp;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd >= 0)
		t->ev = mevent_add(t->fd, EVF_READ, slirp_timer_fire, t);
	if (t->ev == NULL) {
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return NULL;
	}
	t->next = sp->timers;
	sp->timers = t;
	return t;
}

static void
slirp_timer_free(void *timer, void *opaque)
{
	struct slirp_priv *sp = opaque;
	struct slirp_timer **pp, *t = timer;

	if (t == NULL)
		return;
	mevent_delete_close(t->ev);
	for (pp = &sp->timers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	free(t);
}

/* expire_ms is on slirp_clock_ns()'s scale, in milliseconds. */
static void
slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;
	int64_t now_ms = slirp_clock_ns(opaque) / 1000000;

	if (t == NULL)
		return;
	slirp_timerfd_arm(t->fd, expire_ms > now_ms
				     ? (uint64_t)(expire_ms - now_ms) * 1000000
				     : 1);
}

static void
slirp_poll_fd_note(int fd, void *opaque)
{
	/* The epoll set is refreshed from every fill; nothing to do. */
}

static void
slirp_notify(void *opaque)
{
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_send_packet,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock_ns,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_poll_fd_note,
    .unregister_poll_fd = slirp_poll_fd_note,
    .notify = slirp_notify,
    .timer_new_opaque = slirp_timer_new,
};

static short
slirp_to_poll(int events)
{
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return ev;
}

static int
slirp_add_poll(int fd, int events, void *opaque)
{
	struct slirp_priv *sp = opaque;
	struct pollfd *n;

	if (sp->npfd == sp->pfdcap) {
		int cap = sp->pfdcap ? sp->pfdcap * 2 : 16;

		n = realloc(sp->pfd, (size_t)cap * sizeof(*n));
		if (n == NULL)
			return -1;
		sp->pfd = n;
		sp->pfdcap = cap;
	}
	sp->pfd[sp->npfd] =
	    (struct pollfd){.fd = fd, .events = slirp_to_poll(events)};
	return sp->npfd++;
}

static int
slirp_get_revents(int idx, void *opaque)
{
	struct slirp_priv *sp = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || idx >= sp->npfd)
		return 0;
	r = sp->pfd[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static uint32_t
slirp_epoll_events(short pev)
{
	uint32_t ev = 0;

	if (pev & POLLIN)
		ev |= EPOLLIN;
	if (pev & POLLOUT)
		ev |= EPOLLOUT;
	if (pev & POLLPRI)
		ev |= EPOLLPRI;
	return ev;
}

static void
slirp_epoll_set(struct slirp_priv *sp, int fd, uint32_t events, bool known)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	/* A descriptor slirp closed and reused may be absent, or present. */
	if (known && epoll_ctl(sp->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return;
	if (epoll_ctl(sp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
		epoll_ctl(sp->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Brings the epoll set in line with the last fill. */
static void
slirp_sync_epoll(struct slirp_priv *sp)
{
	struct slirp_fdent *reg;
	int i, j;

	if (sp->npfd > sp->regcap) {
		reg = realloc(sp->reg, (size_t)sp->npfd * sizeof(*reg));
		if (reg == NULL)
			return;
		sp->reg = reg;
		sp->regcap = sp->npfd;
	}
	for (i = 0; i < sp->nreg; i++) {
		bool keep = false;

		for (j = 0; j < sp->npfd && !keep; j++)
			keep = sp->pfd[j].fd == sp->reg[i].fd;
		if (!keep)
			epoll_ctl(sp->epfd, EPOLL_CTL_DEL, sp->reg[i].fd, NULL);
	}
	for (j = 0; j < sp->npfd; j++) {
		uint32_t ev = slirp_epoll_events(sp->pfd[j].events);
		bool known = false, same = false;

		for (i = 0; i < sp->nreg; i++) {
			if (sp->reg[i].fd == sp->pfd[j].fd) {
				known = true;
				same = sp->reg[i].events == ev;
				break;
			}
		}
		if (!same)
			slirp_epoll_set(sp, sp->pfd[j].fd, ev, known);
	}
	for (j = 0; j < sp->npfd; j++)
		sp->reg[j] = (struct slirp_fdent){
		    .fd = sp->pfd[j].fd,
		    .events = slirp_epoll_events(sp->pfd[j].events)};
	sp->nreg = sp->npfd;
}

/* Refreshes what slirp waits for: its descriptors and its next timeout. */
static void
slirp_pump_locked(struct slirp_priv *sp)
{
	uint32_t timeout = UINT32_MAX;

	sp->npfd = 0;
	slirp_lib.pollfds_fill(sp->slirp, &timeout, slirp_add_poll, sp);
	slirp_sync_epoll(sp);
	slirp_timerfd_arm(sp->tickfd,
			  timeout == UINT32_MAX
			      ? 0
			      : (uint64_t)(timeout ? timeout : 1) * 1000000ULL);
}

static void
slirp_poll_locked(struct slirp_priv *sp)
{
	int rc = poll(sp->pfd, (nfds_t)sp->npfd, 0);

	slirp_lib.pollfds_poll(sp->slirp, rc < 0, slirp_get_revents, sp);
	slirp_pump_locked(sp);
}

static void
slirp_tick(int fd, enum ev_type type, void *arg)
{
	struct slirp_priv *sp = arg;

	if (!slirp_timerfd_drain(fd))
		return;
	pthread_mutex_lock(&sp->mtx);
	slirp_poll_locked(sp);
	pthread_mutex_unlock(&sp->mtx);
}

static void
slirp_ready(int fd, enum ev_type type, void *arg)
{
	struct slirp_priv *sp = arg;

	pthread_mutex_lock(&sp->mtx);
	slirp_poll_locked(sp);
	pthread_mutex_unlock(&sp->mtx);
}

/* "tcp:[haddr]:hport-[gaddr]:gport"; 0, or -1 with the reason. */
static int
slirp_parse_fwd(const char *rule, bool *udp, struct in_addr *haddr, int *hport,
		struct in_addr *gaddr, int *gport, char *err, size_t errlen)
{
	char ha[64], ga[64], tail;
	unsigned hp, gp;
	const char *r;

	if (strncmp(rule, "tcp:", 4) == 0) {
		*udp = false;
	} else if (strncmp(rule, "udp:", 4) == 0) {
		*udp = true;
	} else {
		snprintf(err, errlen, "hostfwd '%s': want tcp: or udp:", rule);
		return -1;
	}
	r = rule + 4;
	ha[0] = ga[0] = '\0';
	if (sscanf(r, "%63[0-9.]:%u-%63[0-9.]:%u%c", ha, &hp, ga, &gp, &tail) !=
		4 &&
	    sscanf(r, ":%u-%63[0-9.]:%u%c", &hp, ga, &gp, &tail) != 3 &&
	    sscanf(r, "%63[0-9.]:%u-:%u%c", ha, &hp, &gp, &tail) != 3 &&
	    sscanf(r, ":%u-:%u%c", &hp, &gp, &tail) != 2) {
		snprintf(err, errlen,
			 "hostfwd '%s': want tcp:[haddr]:hport-[gaddr]:gport",
			 rule);
		return -1;
	}
	if (hp == 0 || hp > 65535 || gp == 0 || gp > 65535) {
		snprintf(err, errlen, "hostfwd '%s': port out of range", rule);
		return -1;
	}
	if (inet_pton(AF_INET, ha[0] ? ha : "127.0.0.1", haddr) != 1 ||
	    inet_pton(AF_INET, ga[0] ? ga : SLIRP_GUEST_ADDR, gaddr) != 1) {
		snprintf(err, errlen, "hostfwd '%s': invalid address", rule);
		return -1;
	}
	*hport = (int)hp;
	*gport = (int)gp;
	return 0;
}

static int
slirp_add_fwds(struct slirp_priv *sp, const char *list, char *err,
	       size_t errlen)
{
	char *copy, *cur, *rule;
	int rc = 0, n = 0;

	copy = cur = strdup(list);
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (rc == 0 && (rule = strsep(&cur, ";")) != NULL) {
		struct in_addr ha, ga;
		int hp, gp;
		bool udp;

		if (rule[0] == '\0')
			continue;
		if (++n > SLIRP_MAX_FWD) {
			snprintf(err, errlen, "more than %d hostfwd rules",
				 SLIRP_MAX_FWD);
			rc = -1;
		} else if (slirp_parse_fwd(rule, &udp, &ha, &hp, &ga, &gp, err,
					   errlen) != 0) {
			rc = -1;
		} else if (slirp_lib.add_hostfwd(sp->slirp, udp, ha, hp, ga,
						 gp) != 0) {
			snprintf(err, errlen,
				 "hostfwd '%s': cannot listen on "
				 "the host port",
				 rule);
			rc = -1;
		}
	}
	free(copy);
	return rc;
}

static void
slirp_config_fill(SlirpConfig *cfg, bool restricted)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = 4;
	cfg->restricted = restricted;
	cfg->in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg->vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg->vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg->vhost);
	inet_pton(AF_INET, SLIRP_GUEST_ADDR, &cfg->vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg->vnameserver);
	cfg->in6_enabled = true;
	inet_pton(AF_INET6, "fec0::", &cfg->vprefix_addr6);
	cfg->vprefix_len = 64;
	inet_pton(AF_INET6, "fec0::2", &cfg->vhost6);
	inet_pton(AF_INET6, "fec0::3", &cfg->vnameserver6);
	cfg->vhostname = "beehive";
	cfg->if_mtu = 1500;
	cfg->if_mru = 1500;
}

static void
slirp_teardown(struct slirp_priv *sp)
{
	if (sp->ep_ev != NULL)
		mevent_delete(sp->ep_ev);
	if (sp->tick != NULL)
		mevent_delete(sp->tick);
	sp->ep_ev = sp->tick = NULL;
	if (sp->tickfd >= 0)
		close(sp->tickfd);
	if (sp->slirp != NULL)
		slirp_lib.cleanup(sp->slirp); /* frees its timers through us */
	sp->slirp = NULL;
	while (sp->timers != NULL)
		slirp_timer_free(sp->timers, sp);
	if (sp->epfd >= 0)
		close(sp->epfd);
	if (sp->sv[0] >= 0)
		close(sp->sv[0]);
	if (sp->sv[1] >= 0)
		close(sp->sv[1]);
	free(sp->pfd);
	free(sp->reg);
	pthread_mutex_destroy(&sp->mtx);
}

static int
slirp_be_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	      int *queues, char *err, size_t errlen)
{
	struct slirp_priv *sp = be->priv;
	const char *fwd = nvl ? get_config_value_node(nvl, "hostfwd") : NULL;
	bool restricted =
	    nvl ? get_config_bool_node_default(nvl, "restrict", false) : false;
	int bufsz = 1 << 20;
	SlirpConfig cfg;

	if (strcmp(spec, "slirp") != 0) {
		snprintf(err, errlen, "unknown network backend '%s'", spec);
		return -1;
	}
	if (slirp_lib_open(err, errlen) != 0)
		return -1;
	*queues = 1;
	pthread_mutex_init(&sp->mtx, NULL);
	sp->sv[0] = sp->sv[1] = sp->epfd = sp->tickfd = -1;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp->sv) != 0 ||
	    (sp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (sp->tickfd = timerfd_create(CLOCK_MONOTONIC,
					 TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "slirp: %s", strerror(errno));
		slirp_teardown(sp);
		return -1;
	}
	/* Room for bursts while the guest refills its receive ring. */
	setsockopt(sp->sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sp->sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	slirp_config_fill(&cfg, restricted);
	sp->slirp = slirp_lib.new_(&cfg, &slirp_callbacks, sp);
	if (sp->slirp == NULL) {
		snprintf(err, errlen, "slirp: cannot create the stack");
		slirp_teardown(sp);
		return -1;
	}
	if (fwd != NULL && slirp_add_fwds(sp, fwd, err, errlen) != 0) {
		slirp_teardown(sp);
		return -1;
	}
	sp->ep_ev = mevent_add(sp->epfd, EVF_READ, slirp_ready, sp);
	sp->tick = mevent_add(sp->tickfd, EVF_READ, slirp_tick, sp);
	if (sp->ep_ev == NULL || sp->tick == NULL) {
		snprintf(err, errlen, "slirp: cannot register with mevent");
		slirp_teardown(sp);
		return -1;
	}
	pthread_mutex_lock(&sp->mtx);
	slirp_pump_locked(sp);
	pthread_mutex_unlock(&sp->mtx);
	return 0;
}

static void
slirp_be_cleanup(struct net_backend *be)
{
	slirp_teardown(be->priv);
}

static uint64_t
slirp_get_cap(struct net_backend *be)
{
	return VIRTIO_NET_F_MRG_RXBUF; /* no offloads: slirp wants whole
					  frames with real checksums */
}

static int
slirp_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	return 0;
}

static ssize_t
slirp_be_send(struct net_backend *be, int q, const struct iovec *iov,
	      int iovcnt)
{
	struct slirp_priv *sp = be->priv;
	size_t skip = be->hdrlen, len = 0, total = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total < skip || total - skip > sizeof(sp->txbuf)) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&sp->mtx);
	for (i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len, off = 0;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		off = skip;
		skip = 0;
		memcpy(sp->txbuf + len, (char *)iov[i].iov_base + off, n - off);
		len += n - off;
	}
	slirp_lib.input(sp->slirp, sp->txbuf, (int)len);
	slirp_pump_locked(sp);
	pthread_mutex_unlock(&sp->mtx);
	return (ssize_t)total;
}

static ssize_t
slirp_be_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	struct slirp_priv *sp = be->priv;
	ssize_t n;

	n = recv(sp->sv[1], (char *)buf + be->hdrlen, len - be->hdrlen,
		 MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	if ((size_t)n > len - be->hdrlen) {
		errno = EMSGSIZE; /* truncated: never hand up a cut frame */
		return -1;
	}
	/* Whole frames with valid checksums: an all-zero header. */
	memset(buf, 0, be->hdrlen);
	return n + (ssize_t)be->hdrlen;
}

static int
slirp_rx_fd(struct net_backend *be, int q)
{
	struct slirp_priv *sp = be->priv;

	return sp->sv[1];
}

#else /* !HAVE_LIBSLIRP */

struct slirp_priv {
	int unused;
};

static int
slirp_be_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	      int *queues, char *err, size_t errlen)
{
	snprintf(err, errlen, "slirp: this bhyve was built without libslirp");
	return -1;
}

static void
slirp_be_cleanup(struct net_backend *be)
{
}

static uint64_t
slirp_get_cap(struct net_backend *be)
{
	return 0;
}

static int
slirp_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	return -1;
}

static ssize_t
slirp_be_send(struct net_backend *be, int q, const struct iovec *iov,
	      int iovcnt)
{
	errno = ENOTSUP;
	return -1;
}

static ssize_t
slirp_be_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	errno = ENOTSUP;
	return -1;
}

static int
slirp_rx_fd(struct net_backend *be, int q)
{
	return -1;
}

#endif /* HAVE_LIBSLIRP */

static const struct net_backend_ops slirp_backend = {
    .prefix = "slirp",
    .priv_size = sizeof(struct slirp_priv),
    .init = slirp_be_init,
    .cleanup = slirp_be_cleanup,
    .get_cap = slirp_get_cap,
    .set_cap = slirp_set_cap,
    .send = slirp_be_send,
    .recv = slirp_be_recv,
    .rx_fd = slirp_rx_fd,
};
NET_BACKEND_SET(slirp_backend);
