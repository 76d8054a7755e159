/*
 * UART backends: stdio, output files, character devices, ptys standing in
 * for nmdm(4), and Unix and TCP sockets.
 *
 * Lock order: the UART's mutex, then the backend's.  The UART calls the
 * uart_io functions below with its mutex held; the event-loop callbacks
 * here take only the backend mutex, or call uart_rx_drain() holding none.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "mevent.h"
#include "uart_backend.h"
#include "uart_emul.h"

enum uart_be_kind {
	UART_BE_STDIO,
	UART_BE_FILE,
	UART_BE_DEVICE,
	UART_BE_SOCKET, /* Unix or TCP: a listener and one client */
	UART_BE_PTY,	/* a pty for /dev/nmdm* */
};

struct uart_backend {
	char name[16];
	enum uart_be_kind kind;
	pthread_mutex_t mtx; /* protects the fds and mevents below */
	int rfd;	     /* input, -1 if none (socket: the client) */
	int wfd;	     /* output, -1 if none */
	bool own_fds;	     /* close rfd/wfd at the end (not stdio) */
	bool blocking_output;
	struct mevent *rx_mev;
	bool rx_on; /* the UART wants input */
	bool tty_raw;
	struct termios tty_saved;
	int listen_fd;
	struct mevent *accept_mev;
	char *sock_path; /* Unix path, or "ADDR:PORT" for TCP */
	bool sock_unix;	 /* remove sock_path at the end */
	int pty_peer_fd; /* keeps the pty open while no user has it */
	char *pty_path;
	struct uart_softc *sc;
};

/* Only one UART may own the terminal (as in bhyve). */
static bool stdio_in_use;
static bool stdio_raw;
static struct termios stdio_saved;

static void
stdio_restore(void)
{
	if (stdio_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &stdio_saved);
		stdio_raw = false;
	}
}

static int
tty_make_raw(int fd, struct termios *saved)
{
	struct termios raw;

	if (tcgetattr(fd, saved) != 0)
		return -1;
	raw = *saved;
	cfmakeraw(&raw);
	/* No modem control: the host side is not a real line. */
	raw.c_cflag |= CLOCAL;
	return tcsetattr(fd, TCSANOW, &raw);
}

/* Writes all of buf, waiting when the fd is non-blocking and full. */
static void
write_all(int fd, const uint8_t *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			(void)poll(&pfd, 1, -1);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			return; /* the reader is gone: nowhere to put it */
		}
	}
}

static void
be_write(void *arg, uint8_t byte)
{
	struct uart_backend *be = arg;

	if (be->blocking_output) {
		/* stdout and files: single writer, fd fixed after open */
		if (be->wfd >= 0)
			write_all(be->wfd, &byte, 1);
		return;
	}
	pthread_mutex_lock(&be->mtx);
	if (be->wfd >= 0) {
		if (be->kind == UART_BE_SOCKET)
			(void)send(be->wfd, &byte, 1,
				   MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			(void)write(be->wfd, &byte, 1);
	}
	pthread_mutex_unlock(&be->mtx);
}

/* Input ended (EOF, hangup): stop watching it; a socket may reconnect. */
static void
be_input_gone_locked(struct uart_backend *be)
{
	if (be->kind == UART_BE_SOCKET) {
		if (be->rx_mev != NULL)
			mevent_delete_close(be->rx_mev);
		else if (be->rfd >= 0)
			close(be->rfd);
		be->rfd = be->wfd = -1;
	} else if (be->rx_mev != NULL) {
		mevent_delete(be->rx_mev);
	}
	be->rx_mev = NULL;
}

static ssize_t
be_read(void *arg, uint8_t *buf, size_t len)
{
	struct uart_backend *be = arg;
	struct pollfd pfd;
	ssize_t n = 0;

	pthread_mutex_lock(&be->mtx);
	if (be->rfd < 0 || be->rx_mev == NULL)
		goto out;
	/* stdin stays blocking (it may share stdout's file description). */
	pfd.fd = be->rfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) <= 0)
		goto out;
	n = read(be->rfd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		n = 0;
	} else if (n <= 0) {
		if (be->kind == UART_BE_SOCKET)
			fprintf(stderr,
				"bhyve: %s: socket client disconnected\n",
				be->name);
		be_input_gone_locked(be);
		n = -1;
	}
out:
	pthread_mutex_unlock(&be->mtx);
	return n;
}

static void
be_rx_enable(void *arg, bool on)
{
	struct uart_backend *be = arg;

	pthread_mutex_lock(&be->mtx);
	be->rx_on = on;
	if (be->rx_mev != NULL) {
		if (on)
			mevent_enable(be->rx_mev);
		else
			mevent_disable(be->rx_mev);
	}
	pthread_mutex_unlock(&be->mtx);
}

static void
be_rx_event(int fd, enum ev_type type, void *arg)
{
	struct uart_backend *be = arg;

	if (be->sc != NULL)
		uart_rx_drain(be->sc);
}

/* Starts watching rfd; a descriptor epoll cannot poll means no input. */
static void
be_watch_input_locked(struct uart_backend *be)
{
	if (be->rfd < 0 || be->sc == NULL || be->rx_mev != NULL)
		return;
	be->rx_mev = mevent_add(be->rfd, EVF_READ, be_rx_event, be);
	if (be->rx_mev != NULL && !be->rx_on)
		mevent_disable(be->rx_mev);
}

static int
sock_accept_client(struct uart_backend *be, bool block)
{
	int fd, flags = SOCK_CLOEXEC | (block ? 0 : SOCK_NONBLOCK);

	do {
		fd = accept4(be->listen_fd, NULL, NULL, flags);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (block && fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
be_accept_event(int fd, enum ev_type type, void *arg)
{
	struct uart_backend *be = arg;
	int cfd = sock_accept_client(be, false);

	if (cfd < 0)
		return;
	pthread_mutex_lock(&be->mtx);
	if (be->rfd >= 0) {
		/* One client at a time: refuse the newcomer. */
		close(cfd);
	} else {
		be->rfd = be->wfd = cfd;
		be_watch_input_locked(be);
	}
	pthread_mutex_unlock(&be->mtx);
	/* Input that arrived while nobody was connected is waiting. */
	if (be->sc != NULL)
		uart_rx_drain(be->sc);
}

static struct uart_backend *
be_alloc(const char *name, enum uart_be_kind kind)
{
	struct uart_backend *be = calloc(1, sizeof(*be));

	if (be == NULL) {
		fprintf(stderr, "bhyve: %s: out of memory\n", name);
		return NULL;
	}
	snprintf(be->name, sizeof(be->name), "%s", name);
	be->kind = kind;
	be->rfd = be->wfd = be->listen_fd = be->pty_peer_fd = -1;
	be->rx_on = true;
	pthread_mutex_init(&be->mtx, NULL);
	return be;
}

static void
be_free(struct uart_backend *be)
{
	pthread_mutex_destroy(&be->mtx);
	free(be->sock_path);
	free(be->pty_path);
	free(be);
}

static struct uart_backend *
be_open_stdio(const char *name)
{
	struct uart_backend *be;

	if (stdio_in_use) {
		fprintf(stderr,
			"bhyve: %s: stdio is already used by another UART\n",
			name);
		return NULL;
	}
	be = be_alloc(name, UART_BE_STDIO);
	if (be == NULL)
		return NULL;
	be->rfd = STDIN_FILENO;
	be->wfd = STDOUT_FILENO;
	be->blocking_output = true;
	if (isatty(STDIN_FILENO) && !stdio_raw) {
		if (tty_make_raw(STDIN_FILENO, &stdio_saved) == 0) {
			static bool registered;

			stdio_raw = true;
			if (!registered && atexit(stdio_restore) == 0)
				registered = true;
		}
	}
	stdio_in_use = true;
	return be;
}

bool
uart_is_nmdm_path(const char *path)
{
	size_t len = strlen(path);

	return strncmp(path, "/dev/nmdm", 9) == 0 && len > 10 &&
	       (path[len - 1] == 'A' || path[len - 1] == 'B');
}

static bool
path_under_dev(const char *path)
{
	return strncmp(path, "/dev/", 5) == 0;
}

/*
 * A path under /dev names a device: it is opened, never created (a typo
 * must not leave a regular file in /dev).
 */
static int
path_check(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (uart_is_nmdm_path(path) || !path_under_dev(path))
		return 0;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen,
			 "%s: %s (a device is never created; use stdio, "
			 "tcp=PORT, socket,PATH or an existing tty)",
			 path, strerror(errno));
		return -1;
	}
	if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "%s is not a character device or FIFO",
			 path);
		return -1;
	}
	return 0;
}

static struct uart_backend *
be_open_path(const char *name, const char *path)
{
	struct uart_backend *be;
	char err[256];
	struct stat st;
	bool device;
	int fd;

	if (path_check(path, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s: %s\n", name, err);
		return NULL;
	}
	device = stat(path, &st) == 0 &&
		 (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
	if (device)
		fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	else
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "bhyve: %s: cannot open %s: %s\n", name, path,
			strerror(errno));
		return NULL;
	}
	be = be_alloc(name, device ? UART_BE_DEVICE : UART_BE_FILE);
	if (be == NULL) {
		close(fd);
		return NULL;
	}
	be->own_fds = true;
	be->wfd = fd;
	if (device) {
		be->rfd = fd;
		if (isatty(fd) && tty_make_raw(fd, &be->tty_saved) == 0)
			be->tty_raw = true;
	} else {
		be->blocking_output = true;
	}
	return be;
}

/*
 * /dev/nmdmNA: FreeBSD's null modem, one end for bhyve and the other for
 * the user's terminal program.  Linux has none; a pty is the same thing,
 * with the user's end at /dev/pts/N.  bhyve keeps that end open too, so a
 * user closing it is not a hangup for the guest and may open it again.
 */
static struct uart_backend *
be_open_pty(const char *name, const char *nmdm)
{
	struct uart_backend *be;
	char peer[64];
	int fd, peer_fd = -1;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || grantpt(fd) != 0 || unlockpt(fd) != 0 ||
	    ptsname_r(fd, peer, sizeof(peer)) != 0 ||
	    (peer_fd = open(peer, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "bhyve: %s: cannot create a pty for %s: %s\n",
			name, nmdm, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	be = be_alloc(name, UART_BE_PTY);
	if (be == NULL || (be->pty_path = strdup(peer)) == NULL) {
		if (be != NULL)
			be_free(be);
		close(peer_fd);
		close(fd);
		return NULL;
	}
	/* Bytes pass unchanged until the user's program sets its modes. */
	(void)tty_make_raw(peer_fd, &be->tty_saved);
	be->own_fds = true;
	be->rfd = be->wfd = fd;
	be->pty_peer_fd = peer_fd;
	return be;
}

static int
sock_unix_listen(const char *name, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "bhyve: %s: socket path too long: %s\n", name,
			path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* Replace a stale socket from an earlier run, nothing else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr,
				"bhyve: %s: %s exists and is not a socket\n",
				name, path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 1) != 0) {
		fprintf(stderr, "bhyve: %s: cannot listen on %s: %s\n", name,
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
parse_port(const char *s, in_port_t *port)
{
	unsigned long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > 65535)
			return -1;
	}
	if (n == 0)
		return -1;
	*port = htons((in_port_t)n);
	return 0;
}

/*
 * tcp=PORT, tcp=ADDR:PORT or tcp=[ADDR]:PORT, ADDR numeric (or
 * "localhost"); without ADDR, the loopback address, as a console open to
 * the network is a choice the user writes out.
 */
int
uart_tcp_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen,
	       char *err, size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char addr[INET6_ADDRSTRLEN + 1];
	const char *port, *colon;
	size_t alen;
	in_port_t p;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');

		if (close_br == NULL || close_br[1] != ':') {
			snprintf(err, errlen,
				 "invalid TCP address 'tcp=%s' (want "
				 "[IPv6]:PORT)",
				 spec);
			return -1;
		}
		alen = (size_t)(close_br - spec - 1);
		if (alen >= sizeof(addr))
			alen = sizeof(addr) - 1;
		memcpy(addr, spec + 1, alen);
		addr[alen] = '\0';
		port = close_br + 2;
		if (parse_port(port, &p) != 0)
			goto bad_port;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) {
			snprintf(err, errlen,
				 "invalid IPv6 address '%s' in 'tcp=%s'", addr,
				 spec);
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = p;
		*sslen = sizeof(*sin6);
		return 0;
	}
	colon = strrchr(spec, ':');
	if (colon != NULL && memchr(spec, ':', (size_t)(colon - spec))) {
		snprintf(err, errlen,
			 "invalid TCP address 'tcp=%s' (an IPv6 address goes "
			 "in brackets: tcp=[ADDR]:PORT)",
			 spec);
		return -1;
	}
	port = colon != NULL ? colon + 1 : spec;
	alen = colon != NULL ? (size_t)(colon - spec) : 0;
	if (parse_port(port, &p) != 0)
		goto bad_port;
	if (alen >= sizeof(addr)) {
		snprintf(err, errlen, "invalid IPv4 address in 'tcp=%s'", spec);
		return -1;
	}
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	if (alen == 0 || strcmp(addr, "localhost") == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1");
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		snprintf(err, errlen,
			 "invalid IPv4 address '%s' in 'tcp=%s' (numeric, or "
			 "[IPv6])",
			 addr, spec);
		return -1;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = p;
	*sslen = sizeof(*sin);
	return 0;
bad_port:
	snprintf(err, errlen, "invalid TCP port in 'tcp=%s' (1-65535)", spec);
	return -1;
}

static int
sock_tcp_listen(const char *name, const struct sockaddr_storage *ss,
		socklen_t sslen, const char *where)
{
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, (const struct sockaddr *)ss, sslen) != 0 ||
	    listen(fd, 1) != 0) {
		fprintf(stderr, "bhyve: %s: cannot listen on %s: %s\n", name,
			where, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Blocks until the first client connects (the "wait" option). */
static int
sock_wait_client(struct uart_backend *be)
{
	struct pollfd pfd = {.fd = be->listen_fd, .events = POLLIN};
	int fd;

	fprintf(stderr, "bhyve: %s: waiting for a connection on %s\n", be->name,
		be->sock_path);
	for (;;) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		fd = sock_accept_client(be, false);
		if (fd >= 0) {
			be->rfd = be->wfd = fd;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			break;
	}
	fprintf(stderr, "bhyve: %s: accept on %s failed: %s\n", be->name,
		be->sock_path, strerror(errno));
	return -1;
}

/*
 * Splits "WHERE[,wait]" (after "socket," or "tcp="): the length of WHERE
 * and whether "wait" follows; -1 for anything else after the comma.
 */
static int
sock_split(const char *opts, size_t *len, bool *wait, const char *syntax,
	   char *err, size_t errlen)
{
	const char *comma = strchr(opts, ',');

	*len = comma != NULL ? (size_t)(comma - opts) : strlen(opts);
	*wait = false;
	if (comma != NULL) {
		if (strcmp(comma + 1, "wait") != 0) {
			snprintf(err, errlen,
				 "unknown option '%s' (expected %s)", comma + 1,
				 syntax);
			return -1;
		}
		*wait = true;
	}
	if (*len == 0) {
		snprintf(err, errlen, "empty address (expected %s)", syntax);
		return -1;
	}
	return 0;
}

#define SOCKET_SYNTAX "socket,PATH[,wait]"
#define TCP_SYNTAX    "tcp=[ADDR:]PORT[,wait]"

/*
 * "socket,PATH[,wait]" or "tcp=[ADDR:]PORT[,wait]", opts pointing after
 * "socket," or "tcp=".
 */
static struct uart_backend *
be_open_socket(const char *name, const char *opts, bool tcp)
{
	struct sockaddr_storage ss;
	struct uart_backend *be;
	socklen_t sslen;
	char err[256];
	bool wait;
	size_t len;

	if (sock_split(opts, &len, &wait, tcp ? TCP_SYNTAX : SOCKET_SYNTAX, err,
		       sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s: %s\n", name, err);
		return NULL;
	}
	be = be_alloc(name, UART_BE_SOCKET);
	if (be == NULL)
		return NULL;
	be->sock_path = strndup(opts, len);
	if (be->sock_path == NULL) {
		be_free(be);
		return NULL;
	}
	if (tcp) {
		if (uart_tcp_parse(be->sock_path, &ss, &sslen, err,
				   sizeof(err)) != 0) {
			fprintf(stderr, "bhyve: %s: %s\n", name, err);
			be_free(be);
			return NULL;
		}
		be->listen_fd =
		    sock_tcp_listen(name, &ss, sslen, be->sock_path);
	} else {
		be->sock_unix = true;
		be->listen_fd = sock_unix_listen(name, be->sock_path);
	}
	if (be->listen_fd < 0) {
		be_free(be);
		return NULL;
	}
	if (wait && sock_wait_client(be) != 0) {
		close(be->listen_fd);
		if (be->sock_unix)
			unlink(be->sock_path);
		be_free(be);
		return NULL;
	}
	return be;
}

int
uart_backend_check(const char *opts, bool host, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char *spec;
	bool wait;
	size_t len;
	int rc;

	if (opts == NULL || opts[0] == '\0') {
		snprintf(err, errlen,
			 "empty backend (expected stdio, " TCP_SYNTAX
			 ", " SOCKET_SYNTAX " or a path)");
		return -1;
	}
	if (strcmp(opts, "stdio") == 0)
		return 0;
	if (strncmp(opts, "socket,", 7) == 0)
		return sock_split(opts + 7, &len, &wait, SOCKET_SYNTAX, err,
				  errlen);
	if (strncmp(opts, "tcp=", 4) == 0) {
		if (sock_split(opts + 4, &len, &wait, TCP_SYNTAX, err,
			       errlen) != 0)
			return -1;
		spec = strndup(opts + 4, len);
		if (spec == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = uart_tcp_parse(spec, &ss, &sslen, err, errlen);
		free(spec);
		return rc;
	}
	return host ? path_check(opts, err, errlen) : 0;
}

struct uart_backend *
uart_backend_open(const char *name, const char *opts)
{
	char err[256];

	if (opts == NULL || opts[0] == '\0') {
		(void)uart_backend_check(opts, false, err, sizeof(err));
		fprintf(stderr, "bhyve: %s: %s\n", name, err);
		return NULL;
	}
	if (strcmp(opts, "stdio") == 0)
		return be_open_stdio(name);
	if (strncmp(opts, "socket,", 7) == 0)
		return be_open_socket(name, opts + 7, false);
	if (strncmp(opts, "tcp=", 4) == 0)
		return be_open_socket(name, opts + 4, true);
	if (uart_is_nmdm_path(opts) && access(opts, F_OK) != 0)
		return be_open_pty(name, opts);
	return be_open_path(name, opts);
}

const char *
uart_backend_pty_path(const struct uart_backend *be)
{
	return be != NULL ? be->pty_path : NULL;
}

const char *
uart_backend_tcp_address(const struct uart_backend *be)
{
	return be != NULL && be->kind == UART_BE_SOCKET && !be->sock_unix
		   ? be->sock_path
		   : NULL;
}

int
uart_backend_attach(struct uart_backend *be, struct uart_softc *sc)
{
	struct uart_io io = {
	    .write = be_write,
	    .read = be_read,
	    .rx_enable = be_rx_enable,
	    .arg = be,
	};

	pthread_mutex_lock(&be->mtx);
	be->sc = sc;
	be_watch_input_locked(be);
	if (be->kind == UART_BE_SOCKET) {
		be->accept_mev =
		    mevent_add(be->listen_fd, EVF_READ, be_accept_event, be);
		if (be->accept_mev == NULL) {
			pthread_mutex_unlock(&be->mtx);
			fprintf(stderr, "bhyve: %s: cannot watch socket %s\n",
				be->name, be->sock_path);
			return -1;
		}
	}
	pthread_mutex_unlock(&be->mtx);
	uart_set_io(sc, &io);
	return 0;
}

void
uart_backend_close(struct uart_backend *be)
{
	if (be == NULL)
		return;
	if (be->sc != NULL)
		uart_set_io(be->sc, NULL);
	pthread_mutex_lock(&be->mtx);
	be->sc = NULL;
	if (be->rx_mev != NULL)
		mevent_delete(be->rx_mev);
	be->rx_mev = NULL;
	if (be->accept_mev != NULL)
		mevent_delete(be->accept_mev);
	be->accept_mev = NULL;
	pthread_mutex_unlock(&be->mtx);

	if (be->tty_raw)
		tcsetattr(be->rfd, TCSAFLUSH, &be->tty_saved);
	/* A pty and its modes go away with it. */
	if (be->kind == UART_BE_STDIO) {
		stdio_restore();
		stdio_in_use = false;
	} else if (be->kind == UART_BE_SOCKET) {
		if (be->rfd >= 0)
			close(be->rfd);
		close(be->listen_fd);
		if (be->sock_unix)
			unlink(be->sock_path);
	} else if (be->kind == UART_BE_PTY) {
		close(be->pty_peer_fd);
		close(be->rfd);
	} else if (be->own_fds) {
		/* Writes are unbuffered: every byte is already in the file. */
		close(be->wfd);
	}
	be_free(be);
}
