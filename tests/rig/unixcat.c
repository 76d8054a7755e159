/*
 * unixcat: a tiny Unix stream socket client for the nested rig's L1, whose
 * busybox nc has no -U.  Used by the e2e scenarios to talk to beehive's
 * host-side sockets (virtio-console ports).
 *
 *	unixcat [-t SECONDS] [-n LINES] PATH
 *
 * Connects to the stream socket PATH, copies stdin to the socket and the
 * socket to stdout.  At stdin's end it keeps reading the socket but does
 * not shut down its sending side: a peer such as beehive's virtio-console
 * reads that half-close as a hangup and would drop the connection before
 * the answer comes back.
 *
 *   -t SECONDS  give up after SECONDS in all (exit 124); while that time
 *               runs, a socket that does not exist yet or refuses the
 *               connection is tried again every 0.1 s
 *   -n LINES    stop (exit 0) once LINES newline-terminated lines came
 *               from the socket, and close the connection
 *
 * Exit status: 0 the socket reached its end (or -n lines arrived), 1 an
 * error (one line on stderr), 4 bad usage, 124 timed out.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define UNIXCAT_EXIT_ERROR   1
#define UNIXCAT_EXIT_USAGE   4
#define UNIXCAT_EXIT_TIMEOUT 124

struct unixcat_opts {
	const char *path;
	unsigned int timeout_s; /* 0: none */
	unsigned long lines;	/* 0: until the socket's end */
};

static void
unixcat_usage(const char *why)
{
	fprintf(stderr,
		"unixcat: %s (usage: unixcat [-t SECONDS] "
		"[-n LINES] PATH)\n",
		why);
	exit(UNIXCAT_EXIT_USAGE);
}

/* A whole positive decimal number not above max, or 0 if it is not one. */
static unsigned long
unixcat_parse_count(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return 0;
	return v;
}

static void
unixcat_parse_args(int argc, char **argv, struct unixcat_opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "t:n:")) != -1) {
		switch (c) {
		case 't':
			/* alarm() takes an unsigned int; a day is plenty. */
			o->timeout_s =
			    (unsigned int)unixcat_parse_count(optarg, 86400);
			if (o->timeout_s == 0)
				unixcat_usage("-t needs a number of seconds "
					      "from 1 to 86400");
			break;
		case 'n':
			o->lines = unixcat_parse_count(optarg, ULONG_MAX);
			if (o->lines == 0)
				unixcat_usage("-n needs a positive number "
					      "of lines");
			break;
		default:
			unixcat_usage("unknown option");
		}
	}
	if (optind != argc - 1)
		unixcat_usage("one socket path expected");
	o->path = argv[optind];
}

/*
 * The deadline covers everything, blocking writes included, so it is an
 * alarm whose handler leaves at once (write() and _exit() are
 * async-signal-safe).
 */
static void
unixcat_on_alarm(int sig)
{
	static const char msg[] = "unixcat: timed out\n";
	ssize_t r;

	(void)sig;
	r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(UNIXCAT_EXIT_TIMEOUT);
}

static void
unixcat_arm_timeout(unsigned int seconds)
{
	struct sigaction sa;

	if (seconds == 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = unixcat_on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

/* A connected socket, or -1 after one error line. */
static int
unixcat_connect(const struct unixcat_opts *o)
{
	struct sockaddr_un sun;
	size_t len = strlen(o->path);
	static const struct timespec retry = {0, 100 * 1000 * 1000};

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (len == 0 || len >= sizeof(sun.sun_path)) {
		fprintf(stderr, "unixcat: socket path must be 1 to %zu bytes\n",
			sizeof(sun.sun_path) - 1);
		exit(UNIXCAT_EXIT_USAGE);
	}
	memcpy(sun.sun_path, o->path, len);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fprintf(stderr, "unixcat: socket: %s\n",
				strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		int err = errno;

		close(fd);
		/* Not there yet: with a deadline, the alarm ends the wait. */
		if (o->timeout_s == 0 ||
		    (err != ENOENT && err != ECONNREFUSED && err != EINTR)) {
			fprintf(stderr, "unixcat: connect %s: %s\n", o->path,
				strerror(err));
			return -1;
		}
		nanosleep(&retry, NULL);
	}
}

/* Writes all of buf; false after one error line. */
static bool
unixcat_write_all(int fd, const char *buf, size_t len, bool sock)
{
	while (len > 0) {
		ssize_t w = sock ? send(fd, buf, len, MSG_NOSIGNAL)
				 : write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "unixcat: write to %s: %s\n",
				sock ? "socket" : "stdout", strerror(errno));
			return false;
		}
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

/*
 * How many of the n bytes at buf go out before the line limit is reached;
 * counts the newlines seen in *left (lines still wanted).
 */
static size_t
unixcat_take_lines(const char *buf, size_t n, unsigned long *left)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' && --*left == 0)
			return i + 1;
	}
	return n;
}

/* Moves data both ways until the socket's end; returns the exit status. */
static int
unixcat_pump(int sock, const struct unixcat_opts *o)
{
	char buf[4096];
	unsigned long left = o->lines;
	struct pollfd pfd[2] = {
	    {.fd = STDIN_FILENO, .events = POLLIN},
	    {.fd = sock, .events = POLLIN},
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "unixcat: poll: %s\n", strerror(errno));
			return UNIXCAT_EXIT_ERROR;
		}
		if (pfd[1].revents != 0) {
			ssize_t r = read(sock, buf, sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fprintf(stderr, "unixcat: read socket: %s\n",
					strerror(errno));
				return UNIXCAT_EXIT_ERROR;
			}
			if (r == 0) {
				if (left == 0 || o->lines == 0)
					return 0;
				fprintf(stderr,
					"unixcat: socket closed after %lu of "
					"%lu lines\n",
					o->lines - left, o->lines);
				return UNIXCAT_EXIT_ERROR;
			}
			size_t n = (size_t)r;

			if (o->lines != 0)
				n = unixcat_take_lines(buf, n, &left);
			if (!unixcat_write_all(STDOUT_FILENO, buf, n, false))
				return UNIXCAT_EXIT_ERROR;
			if (o->lines != 0 && left == 0)
				return 0;
		}
		if (pfd[0].revents != 0) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fprintf(stderr, "unixcat: read stdin: %s\n",
					strerror(errno));
				return UNIXCAT_EXIT_ERROR;
			}
			if (r == 0)
				pfd[0].fd = -1; /* poll ignores it from now */
			else if (!unixcat_write_all(sock, buf, (size_t)r, true))
				return UNIXCAT_EXIT_ERROR;
		}
	}
}

int
main(int argc, char **argv)
{
	struct unixcat_opts o = {0};
	int sock, st;

	unixcat_parse_args(argc, argv, &o);
	unixcat_arm_timeout(o.timeout_s);
	sock = unixcat_connect(&o);
	if (sock < 0)
		return UNIXCAT_EXIT_ERROR;
	st = unixcat_pump(sock, &o);
	close(sock);
	return st;
}
