/*
 * The VNC server (vnc.h).  libvncserver does the protocol: handshake,
 * authentication, encodings, one input and one output thread per client
 * (rfbRunEventLoop in the background), so a client that stalls or sends
 * garbage loses only its own connection.  This file owns the picture:
 * libvncserver's framebuffer is also the copy of what was sent, and a
 * poll thread converts the guest's pixels into it tile by tile, marking
 * only tiles that changed.
 *
 * The picture buffer is allocated once at the largest size and never
 * moves, so a client thread that reads it during a mode change sees a
 * torn frame at worst, never freed memory.  It holds libvncserver's
 * default 32-bit format (red in the low byte): rfbNewFramebuffer resets
 * the server format to it, so a format of our own would not survive a
 * mode change.
 *
 * Connections are accepted by this file's listener thread, not
 * libvncserver's: Debian's 0.9.14 listener passes an invalid socket to
 * FD_ISSET when there is no IPv4 listener (IPv6 or Unix socket only) and
 * aborts.  The thread takes libvncserver's place (listener_thread and its
 * notify pipe), so rfbShutdownServer stops it as it would its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "dynlib.h"
#include "inputdev.h"
#include "vnc.h"

#define VNC_DEFAULT_PORT 5900
#define VNC_POLL_NS	 (1000000000L / 30)
#define VNC_TILE	 64

/*
 * libvncserver is opened by the first fbuf (dynlib.h): it pulls in
 * gnutls, gcrypt, libjpeg and more, about 2 MiB of resident memory a VM
 * without a display should not carry.  The members keep the header's
 * types.
 */
static struct vnc_lib_fns {
	__typeof__(rfbClientConnectionGone) *rfbClientConnectionGone;
	__typeof__(rfbCloseClient) *rfbCloseClient;
	__typeof__(rfbGetScreen) *rfbGetScreen;
	__typeof__(rfbInitServer) *rfbInitServer;
	__typeof__(rfbLogEnable) *rfbLogEnable;
	__typeof__(rfbMarkRectAsModified) *rfbMarkRectAsModified;
	__typeof__(rfbNewClient) *rfbNewClient;
	__typeof__(rfbNewFramebuffer) *rfbNewFramebuffer;
	__typeof__(rfbProcessClientMessage) *rfbProcessClientMessage;
	__typeof__(rfbScreenCleanup) *rfbScreenCleanup;
	__typeof__(rfbShutdownServer) *rfbShutdownServer;
	__typeof__(rfbStartOnHoldClient) *rfbStartOnHoldClient;
	__typeof__(rfbCheckPasswordByList) *rfbCheckPasswordByList;
} vnc_lib;

static const struct dynlib_sym vnc_lib_syms[] = {
    DYNLIB_SYM(struct vnc_lib_fns, rfbClientConnectionGone),
    DYNLIB_SYM(struct vnc_lib_fns, rfbCloseClient),
    DYNLIB_SYM(struct vnc_lib_fns, rfbGetScreen),
    DYNLIB_SYM(struct vnc_lib_fns, rfbInitServer),
    DYNLIB_SYM(struct vnc_lib_fns, rfbLogEnable),
    DYNLIB_SYM(struct vnc_lib_fns, rfbMarkRectAsModified),
    DYNLIB_SYM(struct vnc_lib_fns, rfbNewClient),
    DYNLIB_SYM(struct vnc_lib_fns, rfbNewFramebuffer),
    DYNLIB_SYM(struct vnc_lib_fns, rfbProcessClientMessage),
    DYNLIB_SYM(struct vnc_lib_fns, rfbScreenCleanup),
    DYNLIB_SYM(struct vnc_lib_fns, rfbShutdownServer),
    DYNLIB_SYM(struct vnc_lib_fns, rfbStartOnHoldClient),
    DYNLIB_SYM(struct vnc_lib_fns, rfbCheckPasswordByList),
};

static struct dynlib vnc_dynlib = {
    .soname = "libvncserver.so.1",
    .package = "libvncserver1",
    .syms = vnc_lib_syms,
    .nsyms = sizeof(vnc_lib_syms) / sizeof(vnc_lib_syms[0]),
    .table = &vnc_lib,
    .mtx = PTHREAD_MUTEX_INITIALIZER,
};

struct vnc_server {
	rfbScreenInfoPtr screen;
	struct vnc_display disp;
	struct vnc_config cfg;
	uint32_t *fb; /* VNC_MAX_WIDTH * VNC_MAX_HEIGHT pixels, XRGB */
	uint32_t width, height;
	bool blank;
	char *passwords[2];
	char *listen6;
	pthread_mutex_t update_mtx; /* one update pass at a time */
	uint32_t row[VNC_TILE];

	pthread_mutex_t mtx; /* the fields below */
	pthread_cond_t cv;
	bool stop;
	unsigned int nclients;
	bool poll_running;
	pthread_t poll_thread;

	int unix_fd;
	char *unix_path;
};

/* ---- the picture ---- */

/* Red, green and blue as the picture holds them: 0x00BBGGRR. */
static uint32_t
vnc_rgb(uint32_t r, uint32_t g, uint32_t b)
{
	return b << 16 | g << 8 | r;
}

/* One guest pixel (little-endian XRGB8888, BGR888 or RGB565). */
static uint32_t
vnc_pixel(const uint8_t *p, uint32_t bpp)
{
	uint32_t v, r, g, b;

	switch (bpp) {
	case 16:
		v = (uint32_t)p[0] | (uint32_t)p[1] << 8;
		/* Widen each field, repeating its top bits. */
		r = (v >> 11) & 0x1f;
		g = (v >> 5) & 0x3f;
		b = v & 0x1f;
		return vnc_rgb(r << 3 | r >> 2, g << 2 | g >> 4,
			       b << 3 | b >> 2);
	default: /* 24 and 32: blue, green, red in the first three bytes */
		return vnc_rgb(p[2], p[1], p[0]);
	}
}

/* Converts n pixels of one guest row into vs->row. */
static void
vnc_convert_row(struct vnc_server *vs, const uint8_t *src, uint32_t n,
		uint32_t bpp)
{
	uint32_t bytes = bpp / 8;

	for (uint32_t i = 0; i < n; i++)
		vs->row[i] = vnc_pixel(src + (size_t)i * bytes, bpp);
}

static void
vnc_resize(struct vnc_server *vs, uint32_t w, uint32_t h)
{
	vs->width = w;
	vs->height = h;
	memset(vs->fb, 0, (size_t)w * h * 4);
	vnc_lib.rfbNewFramebuffer(vs->screen, (char *)vs->fb, (int)w, (int)h, 8,
				  3, 4);
}

/* Copies one tile if it changed; whether it did. */
static bool
vnc_update_tile(struct vnc_server *vs, const struct vnc_mode *m, uint32_t x,
		uint32_t y, uint32_t tw, uint32_t th)
{
	bool changed = false;

	for (uint32_t r = y; r < y + th; r++) {
		const uint8_t *src =
		    m->base + r * m->stride + (uint64_t)x * (m->bpp / 8);
		uint32_t *dst = vs->fb + (size_t)r * vs->width + x;

		vnc_convert_row(vs, src, tw, m->bpp);
		if (memcmp(dst, vs->row, (size_t)tw * 4) != 0) {
			memcpy(dst, vs->row, (size_t)tw * 4);
			changed = true;
		}
	}
	return changed;
}

/* The mode as the picture can show it: sane size and depth, or blank. */
static void
vnc_get_mode(struct vnc_server *vs, struct vnc_mode *m)
{
	memset(m, 0, sizeof(*m));
	vs->disp.get_mode(vs->disp.arg, m);
	if (m->base == NULL || m->width == 0 || m->height == 0 ||
	    m->width > VNC_MAX_WIDTH || m->height > VNC_MAX_HEIGHT ||
	    (m->bpp != 16 && m->bpp != 24 && m->bpp != 32) ||
	    m->stride < (uint64_t)m->width * (m->bpp / 8)) {
		m->base = NULL;
		m->width = vs->cfg.width;
		m->height = vs->cfg.height;
	}
}

static void
vnc_update(struct vnc_server *vs)
{
	struct vnc_mode m;
	bool full = false;

	pthread_mutex_lock(&vs->update_mtx);
	vnc_get_mode(vs, &m);
	if (m.width != vs->width || m.height != vs->height) {
		vnc_resize(vs, m.width, m.height);
		full = true;
	}
	if (m.base == NULL) {
		if (!vs->blank || full) {
			memset(vs->fb, 0, (size_t)vs->width * vs->height * 4);
			vnc_lib.rfbMarkRectAsModified(
			    vs->screen, 0, 0, (int)vs->width, (int)vs->height);
		}
		vs->blank = true;
		pthread_mutex_unlock(&vs->update_mtx);
		return;
	}
	if (vs->blank)
		full = true;
	vs->blank = false;
	for (uint32_t y = 0; y < m.height; y += VNC_TILE) {
		uint32_t th = m.height - y < VNC_TILE ? m.height - y : VNC_TILE;

		for (uint32_t x = 0; x < m.width; x += VNC_TILE) {
			uint32_t tw =
			    m.width - x < VNC_TILE ? m.width - x : VNC_TILE;

			if (vnc_update_tile(vs, &m, x, y, tw, th) || full)
				vnc_lib.rfbMarkRectAsModified(
				    vs->screen, (int)x, (int)y, (int)(x + tw),
				    (int)(y + th));
		}
	}
	pthread_mutex_unlock(&vs->update_mtx);
}

void
vnc_server_refresh(struct vnc_server *vs)
{
	vnc_update(vs);
}

static void *
vnc_poll_thread(void *arg)
{
	struct vnc_server *vs = arg;
	struct timespec ts;

	pthread_mutex_lock(&vs->mtx);
	while (!vs->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += VNC_POLL_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&vs->cv, &vs->mtx, &ts);
		if (vs->stop)
			break;
		pthread_mutex_unlock(&vs->mtx);
		vnc_update(vs);
		pthread_mutex_lock(&vs->mtx);
	}
	pthread_mutex_unlock(&vs->mtx);
	return NULL;
}

/* ---- clients and input ---- */

static enum rfbNewClientAction
vnc_new_client(rfbClientPtr cl)
{
	struct vnc_server *vs = cl->screen->screenData;

	pthread_mutex_lock(&vs->mtx);
	vs->nclients++;
	pthread_cond_broadcast(&vs->cv);
	pthread_mutex_unlock(&vs->mtx);
	return RFB_CLIENT_ACCEPT;
}

static void
vnc_key_event(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	inputdev_key(down != 0, (uint32_t)keysym);
}

static void
vnc_ptr_event(int buttons, int x, int y, rfbClientPtr cl)
{
	rfbScreenInfoPtr s = cl->screen;

	/* RFB coordinates are 16-bit unsigned; libvncserver passes ints. */
	if (x < 0 || y < 0)
		return;
	inputdev_pointer((uint8_t)buttons, (uint32_t)x, (uint32_t)y,
			 (uint32_t)s->width, (uint32_t)s->height);
}

unsigned int
vnc_server_nclients(struct vnc_server *vs)
{
	unsigned int n;

	pthread_mutex_lock(&vs->mtx);
	n = vs->nclients;
	pthread_mutex_unlock(&vs->mtx);
	return n;
}

void
vnc_server_serve_fd(struct vnc_server *vs, int fd, unsigned int max_messages)
{
	rfbClientPtr cl = vnc_lib.rfbNewClient(vs->screen, fd);

	if (cl == NULL) {
		close(fd);
		return;
	}
	for (unsigned int i = 0; i < max_messages && cl->sock != -1; i++)
		vnc_lib.rfbProcessClientMessage(cl);
	vnc_lib.rfbCloseClient(cl);
	vnc_lib.rfbClientConnectionGone(cl);
}

/* ---- listeners ---- */

static bool
vnc_stopping(struct vnc_server *vs)
{
	bool stop;

	pthread_mutex_lock(&vs->mtx);
	stop = vs->stop;
	pthread_mutex_unlock(&vs->mtx);
	return stop;
}

/* Accepts on the TCP and Unix listeners; each client gets libvncserver's
 * input and output threads. */
static void *
vnc_listen_thread(void *arg)
{
	struct vnc_server *vs = arg;
	rfbScreenInfoPtr s = vs->screen;
	struct pollfd pfd[4];
	int n = 0;

	pfd[n++] = (struct pollfd){.fd = s->pipe_notify_listener_thread[0],
				   .events = POLLIN};
	if (s->listenSock != RFB_INVALID_SOCKET)
		pfd[n++] =
		    (struct pollfd){.fd = s->listenSock, .events = POLLIN};
	if (s->listen6Sock != RFB_INVALID_SOCKET)
		pfd[n++] =
		    (struct pollfd){.fd = s->listen6Sock, .events = POLLIN};
	if (vs->unix_fd >= 0)
		pfd[n++] = (struct pollfd){.fd = vs->unix_fd, .events = POLLIN};
	/* rfbShutdownServer closes the sockets, then writes the pipe. */
	while (!vnc_stopping(vs)) {
		if (poll(pfd, (nfds_t)n, 200) <= 0)
			continue;
		if (vnc_stopping(vs))
			break;
		for (int i = 1; i < n; i++) {
			rfbClientPtr cl;
			int fd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			cl = vnc_lib.rfbNewClient(s, fd);
			if (cl != NULL && !cl->onHold)
				vnc_lib.rfbStartOnHoldClient(cl);
		}
	}
	return NULL;
}

static int
vnc_start_listener(struct vnc_server *vs, char *err, size_t errlen)
{
	rfbScreenInfoPtr s = vs->screen;
	int *p = s->pipe_notify_listener_thread;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		p[0] = p[1] = -1;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Client threads and rfbShutdownServer follow backgroundLoop. */
	s->backgroundLoop = TRUE;
	if (pthread_create(&s->listener_thread, NULL, vnc_listen_thread, vs) !=
	    0) {
		s->backgroundLoop = FALSE;
		close(p[0]);
		close(p[1]);
		p[0] = p[1] = -1;
		snprintf(err, errlen, "cannot start the listener thread");
		return -1;
	}
	return 0;
}

static int
vnc_listen_unix(struct vnc_server *vs, const char *path, char *err,
		size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix socket path '%s' is too long",
			 path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket left by an earlier run would make bind fail. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	vs->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vs->unix_fd < 0 ||
	    bind(vs->unix_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(vs->unix_fd, 8) != 0) {
		snprintf(err, errlen, "cannot listen on unix socket '%s': %s",
			 path, strerror(errno));
		return -1;
	}
	vs->unix_path = strdup(path);
	if (vs->unix_path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
vnc_listen_tcp(struct vnc_server *vs, char *err, size_t errlen)
{
	rfbScreenInfoPtr s = vs->screen;
	struct in_addr a4;

	s->autoPort = FALSE;
	s->port = 0;
	s->ipv6port = 0;
	if (vs->cfg.host == NULL)
		return 0;
	if (inet_pton(AF_INET, vs->cfg.host, &a4) == 1) {
		s->listenInterface = a4.s_addr;
		s->port = vs->cfg.port;
		return 0;
	}
	vs->listen6 = strdup(vs->cfg.host);
	if (vs->listen6 == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->listen6Interface = vs->listen6;
	s->ipv6port = vs->cfg.port;
	return 0;
}

/* After rfbInitServer: did the TCP listener come up? */
static int
vnc_check_tcp(struct vnc_server *vs, char *err, size_t errlen)
{
	rfbScreenInfoPtr s = vs->screen;
	bool ok;

	if (vs->cfg.host == NULL)
		return 0;
	ok = s->port > 0 ? s->listenSock != RFB_INVALID_SOCKET
			 : s->listen6Sock != RFB_INVALID_SOCKET;
	if (ok)
		return 0;
	snprintf(err, errlen, "cannot listen on %s port %d", vs->cfg.host,
		 vs->cfg.port);
	return -1;
}

/* ---- start and stop ---- */

static int
vnc_screen_create(struct vnc_server *vs, char *err, size_t errlen)
{
	static char progname[] = "bhyve";
	char *argv[] = {progname, NULL};
	int argc = 1;
	rfbScreenInfoPtr s;

	vs->fb = calloc((size_t)VNC_MAX_WIDTH * VNC_MAX_HEIGHT, 4);
	s = vnc_lib.rfbGetScreen(&argc, argv, (int)vs->cfg.width,
				 (int)vs->cfg.height, 8, 3, 4);
	if (vs->fb == NULL || s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	vs->screen = s;
	vs->width = vs->cfg.width;
	vs->height = vs->cfg.height;
	vs->blank = true;
	s->frameBuffer = (char *)vs->fb;
	s->screenData = vs;
	s->desktopName = "bhyve";
	s->alwaysShared = TRUE; /* several clients at once, as bhyve */
	s->newClientHook = vnc_new_client;
	s->kbdAddEvent = vnc_key_event;
	s->ptrAddEvent = vnc_ptr_event;
	s->httpDir = NULL;
	/* The guest draws its own pointer; a server-side cursor would be
	 * painted into the picture of clients without cursor encodings. */
	s->cursor = NULL;
	if (vs->cfg.password != NULL) {
		vs->passwords[0] = strdup(vs->cfg.password);
		if (vs->passwords[0] == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->authPasswdData = vs->passwords;
		s->passwordCheck = vnc_lib.rfbCheckPasswordByList;
	}
	return 0;
}

static void
vnc_wait_client(struct vnc_server *vs)
{
	pthread_mutex_lock(&vs->mtx);
	while (vs->nclients == 0 && !vs->stop)
		pthread_cond_wait(&vs->cv, &vs->mtx);
	pthread_mutex_unlock(&vs->mtx);
}

struct vnc_server *
vnc_server_start(const struct vnc_config *cfg, const struct vnc_display *disp,
		 char *err, size_t errlen)
{
	struct vnc_server *vs = calloc(1, sizeof(*vs));

	if (vs == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* The blank picture is this size: it must fit the buffer. */
	if (cfg->width == 0 || cfg->width > VNC_MAX_WIDTH || cfg->height == 0 ||
	    cfg->height > VNC_MAX_HEIGHT) {
		snprintf(err, errlen, "picture size %ux%u out of range",
			 cfg->width, cfg->height);
		free(vs);
		return NULL;
	}
	if (dynlib_load(&vnc_dynlib, err, errlen) != 0) {
		free(vs);
		return NULL;
	}
	vs->cfg = *cfg;
	vs->disp = *disp;
	vs->unix_fd = -1;
	pthread_mutex_init(&vs->update_mtx, NULL);
	pthread_mutex_init(&vs->mtx, NULL);
	pthread_cond_init(&vs->cv, NULL);
	/* libvncserver logs every connection to stderr; the VM's output
	 * is no place for that. */
	vnc_lib.rfbLogEnable(0);
	if (vnc_screen_create(vs, err, errlen) != 0 ||
	    vnc_listen_tcp(vs, err, errlen) != 0)
		goto fail;
	vnc_lib.rfbInitServer(vs->screen);
	if (vnc_check_tcp(vs, err, errlen) != 0 ||
	    (cfg->unix_path != NULL &&
	     vnc_listen_unix(vs, cfg->unix_path, err, errlen) != 0))
		goto fail;
	/* With no listener nothing would ever connect (fuzzers serve their
	 * own fds with vnc_server_serve_fd). */
	if ((cfg->host != NULL || cfg->unix_path != NULL) &&
	    vnc_start_listener(vs, err, errlen) != 0)
		goto fail;
	vnc_update(vs);
	if (pthread_create(&vs->poll_thread, NULL, vnc_poll_thread, vs) != 0) {
		snprintf(err, errlen, "cannot start the update thread");
		goto fail;
	}
	vs->poll_running = true;
	if (cfg->wait)
		vnc_wait_client(vs);
	return vs;
fail:
	vnc_server_stop(vs);
	return NULL;
}

void
vnc_server_stop(struct vnc_server *vs)
{
	if (vs == NULL)
		return;
	pthread_mutex_lock(&vs->mtx);
	vs->stop = true;
	pthread_cond_broadcast(&vs->cv);
	pthread_mutex_unlock(&vs->mtx);
	if (vs->poll_running)
		pthread_join(vs->poll_thread, NULL);
	if (vs->screen != NULL) {
		/* Joins our listener thread (vs->stop is set) and each
		 * client's threads. */
		vnc_lib.rfbShutdownServer(vs->screen, TRUE);
		vnc_lib.rfbScreenCleanup(vs->screen);
	}
	if (vs->unix_fd >= 0)
		close(vs->unix_fd);
	if (vs->unix_path != NULL)
		unlink(vs->unix_path);
	free(vs->unix_path);
	free(vs->listen6);
	free(vs->passwords[0]);
	free(vs->fb);
	pthread_cond_destroy(&vs->cv);
	pthread_mutex_destroy(&vs->mtx);
	pthread_mutex_destroy(&vs->update_mtx);
	free(vs);
}

/* ---- option parsing ---- */

static int
vnc_parse_port(const char *s, int *port, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > 65535) {
		snprintf(err, errlen, "invalid port '%s' (want 1-65535)", s);
		return -1;
	}
	*port = (int)v;
	return 0;
}

static int
vnc_parse_host(const char *s, size_t len, char *host, char *err, size_t errlen)
{
	unsigned char buf[16];

	if (len == 0 || (len == 9 && strncmp(s, "localhost", 9) == 0)) {
		strcpy(host, "127.0.0.1");
		return 0;
	}
	if (len < 64) {
		memcpy(host, s, len);
		host[len] = '\0';
		if (inet_pton(AF_INET, host, buf) == 1 ||
		    inet_pton(AF_INET6, host, buf) == 1)
			return 0;
	}
	snprintf(err, errlen, "invalid address '%.*s' (want an IP address)",
		 (int)(len < 64 ? len : 64), s);
	return -1;
}

int
vnc_parse_addr(const char *s, char *host, int *port, char *err, size_t errlen)
{
	const char *colon, *close;

	*port = VNC_DEFAULT_PORT;
	strcpy(host, "127.0.0.1");
	if (s == NULL || *s == '\0')
		return 0;
	if (s[0] == '[') {
		close = strchr(s, ']');
		if (close == NULL || strchr(s + 1, '[') != NULL ||
		    (close[1] != '\0' && close[1] != ':')) {
			snprintf(err, errlen, "invalid address '%s'", s);
			return -1;
		}
		if (vnc_parse_host(s + 1, (size_t)(close - s - 1), host, err,
				   errlen) != 0)
			return -1;
		return close[1] == ':'
			   ? vnc_parse_port(close + 2, port, err, errlen)
			   : 0;
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		snprintf(err, errlen,
			 "invalid address '%s' (write IPv6 as [addr]:port)", s);
		return -1;
	}
	if (colon != NULL)
		return vnc_parse_host(s, (size_t)(colon - s), host, err,
				      errlen) != 0
			   ? -1
			   : vnc_parse_port(colon + 1, port, err, errlen);
	if (*s >= '0' && *s <= '9' && strchr(s, '.') == NULL)
		return vnc_parse_port(s, port, err, errlen);
	return vnc_parse_host(s, strlen(s), host, err, errlen);
}
