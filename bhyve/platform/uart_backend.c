/*
 * UART backends: stdio, output files, character devices and Unix sockets.
 *
 * Lock order: the UART's mutex, then the backend's.  The UART calls the
 * uart_io functions below with its mutex held; the event-loop callbacks
 * here take only the backend mutex, or call uart_rx_drain() holding none.
 */
#include <errno.h>
#include <fcntl.h>
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
	UART_BE_SOCKET,
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
	char *sock_path;
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
	be->rfd = be->wfd = be->listen_fd = -1;
	be->rx_on = true;
	pthread_mutex_init(&be->mtx, NULL);
	return be;
}

static void
be_free(struct uart_backend *be)
{
	pthread_mutex_destroy(&be->mtx);
	free(be->sock_path);
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

static struct uart_backend *
be_open_path(const char *name, const char *path)
{
	struct uart_backend *be;
	struct stat st;
	bool device;
	int fd;

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

static int
sock_listen(const char *name, const char *path)
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

/* "socket,PATH[,wait]" with opts pointing after "socket,". */
static struct uart_backend *
be_open_socket(const char *name, const char *opts)
{
	const char *comma = strchr(opts, ',');
	size_t plen = comma != NULL ? (size_t)(comma - opts) : strlen(opts);
	struct uart_backend *be;
	bool wait = false;

	if (comma != NULL) {
		if (strcmp(comma + 1, "wait") != 0) {
			fprintf(stderr,
				"bhyve: %s: unknown socket option '%s' "
				"(expected socket,PATH[,wait])\n",
				name, comma + 1);
			return NULL;
		}
		wait = true;
	}
	if (plen == 0) {
		fprintf(stderr,
			"bhyve: %s: socket needs a path (socket,PATH[,wait])\n",
			name);
		return NULL;
	}
	be = be_alloc(name, UART_BE_SOCKET);
	if (be == NULL)
		return NULL;
	be->sock_path = strndup(opts, plen);
	if (be->sock_path == NULL) {
		be_free(be);
		return NULL;
	}
	be->listen_fd = sock_listen(name, be->sock_path);
	if (be->listen_fd < 0) {
		be_free(be);
		return NULL;
	}
	if (wait && sock_wait_client(be) != 0) {
		close(be->listen_fd);
		unlink(be->sock_path);
		be_free(be);
		return NULL;
	}
	return be;
}

struct uart_backend *
uart_backend_open(const char *name, const char *opts)
{
	if (opts == NULL || opts[0] == '\0') {
		fprintf(stderr,
			"bhyve: %s: empty backend (expected stdio, "
			"socket,PATH[,wait] or a path)\n",
			name);
		return NULL;
	}
	if (strcmp(opts, "stdio") == 0)
		return be_open_stdio(name);
	if (strncmp(opts, "socket,", 7) == 0)
		return be_open_socket(name, opts + 7);
	return be_open_path(name, opts);
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
	if (be->kind == UART_BE_STDIO) {
		stdio_restore();
		stdio_in_use = false;
	} else if (be->kind == UART_BE_SOCKET) {
		if (be->rfd >= 0)
			close(be->rfd);
		close(be->listen_fd);
		unlink(be->sock_path);
	} else if (be->own_fds) {
		/* Writes are unbuffered: every byte is already in the file. */
		close(be->wfd);
	}
	be_free(be);
}
