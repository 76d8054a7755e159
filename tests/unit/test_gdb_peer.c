/*
 * Who may use the gdb stub (docs/gdb.md): only root and the VM's owner.
 * A client running as another user is refused on TCP (IPv4 and IPv6)
 * and on a Unix socket (-G unix:PATH); the owner gets a gdb session.
 *
 * Each server is a forked "VM" process running gdb_init() with gdb.wait,
 * so the first session is served on its main thread before any vCPU
 * exists; each client is a forked process, the other user's setuid()s to
 * nobody.  Running a client as another user needs root: without it those
 * checks are skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gdb.h"
#include "test.h"
#include "vmmapi.h"

#define NOBODY	   65534
#define WAIT_MS	   5000
#define VM_TIMEOUT 30 /* seconds a server process may live */

/* What a client saw; its exit status. */
enum client_result {
	CLIENT_SERVED,	  /* a gdb reply came back */
	CLIENT_REFUSED,	  /* connected, then closed without a reply */
	CLIENT_NOCONNECT, /* no server to connect to */
	CLIENT_TIMEOUT,
	CLIENT_NOACCESS, /* the socket file's mode kept it out */
};

union test_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Connects, retrying while the server is not listening yet. */
static int
client_connect(const union test_sockaddr *a, socklen_t len)
{
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		int fd = socket(a->sa.sa_family, SOCK_STREAM, 0);

		if (fd < 0)
			return -CLIENT_NOCONNECT;
		if (connect(fd, &a->sa, len) == 0)
			return fd;
		close(fd);
		if (errno == EACCES)
			return -CLIENT_NOACCESS;
		if (errno != ECONNREFUSED && errno != ENOENT)
			return -CLIENT_NOCONNECT;
		sleep_ms(50);
	}
	return -CLIENT_NOCONNECT;
}

/* Reads until a packet start ('$') or EOF. */
static enum client_result
client_await_reply(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, WAIT_MS) <= 0)
			return CLIENT_TIMEOUT;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return CLIENT_REFUSED;
		if (memchr(buf, '$', (size_t)n) != NULL)
			return CLIENT_SERVED;
	}
}

/* A client's life: asks for the stop reason, detaches if served. */
static enum client_result
client_session(const union test_sockaddr *a, socklen_t len)
{
	enum client_result r;
	int fd = client_connect(a, len);

	if (fd < 0)
		return (enum client_result) - fd;
	if (write(fd, "$?#3f", 5) != 5) {
		close(fd);
		return CLIENT_REFUSED;
	}
	r = client_await_reply(fd);
	if (r == CLIENT_SERVED) {
		/* End the session so the server's gdb_init() returns. */
		if (write(fd, "+$D#44", 6) == 6)
			(void)client_await_reply(fd);
	}
	close(fd);
	return r;
}

/* Runs a client in a child process as uid; returns what it saw. */
static enum client_result
client_run(const union test_sockaddr *a, socklen_t len, uid_t uid)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return CLIENT_NOCONNECT;
	if (pid == 0) {
		alarm(VM_TIMEOUT);
		if (uid != 0 && (setgroups(0, NULL) != 0 ||
				 setgid((gid_t)uid) != 0 || setuid(uid) != 0))
			_exit(CLIENT_NOCONNECT);
		_exit(client_session(a, len));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return CLIENT_TIMEOUT;
	return (enum client_result)WEXITSTATUS(status);
}

/* A server process: gdb_init() with these keys and gdb.wait. */
static pid_t
vm_start(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct vmctx *ctx;
	pid_t pid = fork();
	int rc;

	if (pid != 0)
		return pid;
	alarm(VM_TIMEOUT);
	init_config();
	set_config_value("gdb.wait", "true");
	set_config_value(k1, v1);
	if (k2 != NULL)
		set_config_value(k2, v2);
	ctx = vm_create_detached("gdbpeer");
	rc = ctx != NULL ? gdb_init(ctx) : -1;
	gdb_fini(0);
	_exit(rc == 0 ? 0 : 1);
}

/* The server's exit status once it ends on its own; -1 if it does not. */
static int
vm_wait(pid_t pid)
{
	int status;

	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A TCP port nobody listens on right now. */
static int
free_port(int family)
{
	union test_sockaddr a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(family, SOCK_STREAM, 0), port = -1;

	a.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		a.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		a.sin6.sin6_addr = in6addr_loopback;
	if (fd >= 0 &&
	    bind(fd, &a.sa,
		 family == AF_INET ? sizeof(a.sin) : sizeof(a.sin6)) == 0 &&
	    getsockname(fd, &a.sa, &len) == 0)
		port = ntohs(family == AF_INET ? a.sin.sin_port
					       : a.sin6.sin6_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void
test_tcp(int family, const char *what)
{
	union test_sockaddr a = {0};
	socklen_t len;
	char port[16], name[128];
	int p = free_port(family);
	pid_t vm;

	if (p < 0) {
		printf("SKIP: gdb peer: %s: no loopback here\n", what);
		return;
	}
	snprintf(port, sizeof(port), "%d", p);
	a.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		a.sin.sin_port = htons((uint16_t)p);
		a.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(a.sin);
	} else {
		a.sin6.sin6_port = htons((uint16_t)p);
		a.sin6.sin6_addr = in6addr_loopback;
		len = sizeof(a.sin6);
	}
	vm = vm_start("gdb.port", port, "gdb.address",
		      family == AF_INET ? "127.0.0.1" : "::1");
	snprintf(name, sizeof(name), "gdb peer: %s: another user is refused",
		 what);
	if (getuid() == 0)
		CHECK(client_run(&a, len, NOBODY) == CLIENT_REFUSED, name);
	else
		printf("SKIP: %s (needs root)\n", name);
	snprintf(name, sizeof(name), "gdb peer: %s: the owner is served", what);
	CHECK(client_run(&a, len, getuid()) == CLIENT_SERVED, name);
	snprintf(name, sizeof(name), "gdb peer: %s: the session ended", what);
	CHECK(vm_wait(vm) == 0, name);
}

/* Waits for the stub to have made its socket 0600, the mode it sets. */
static bool
wait_socket_ready(const char *path)
{
	struct stat st;

	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    (st.st_mode & 0777) == 0600)
			return true;
		sleep_ms(20);
	}
	return false;
}

static void
test_unix(void)
{
	union test_sockaddr a = {0};
	char dir[64];
	struct stat st;
	pid_t vm;

	snprintf(dir, sizeof(dir), "/tmp/gdbpeer-%d", (int)getpid());
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		printf("FAIL: gdb peer: unix: mkdir %s: %s\n", dir,
		       strerror(errno));
		return;
	}
	a.sun.sun_family = AF_UNIX;
	snprintf(a.sun.sun_path, sizeof(a.sun.sun_path), "%s/gdb.sock", dir);
	vm = vm_start("gdb.socket", a.sun.sun_path, NULL, NULL);
	CHECK(wait_socket_ready(a.sun.sun_path),
	      "gdb peer: unix: the socket is created with mode 0600");
	if (getuid() == 0) {
		/* Open the file up so the stub's own check is what refuses. */
		chmod(a.sun.sun_path, 0666);
		CHECK(client_run(&a, sizeof(a.sun), NOBODY) == CLIENT_REFUSED,
		      "gdb peer: unix: another user is refused by "
		      "SO_PEERCRED");
	} else {
		printf("SKIP: gdb peer: unix: another user is refused (needs "
		       "root)\n");
	}
	CHECK(client_run(&a, sizeof(a.sun), getuid()) == CLIENT_SERVED,
	      "gdb peer: unix: the owner is served");
	CHECK(vm_wait(vm) == 0, "gdb peer: unix: the session ended");
	CHECK(stat(a.sun.sun_path, &st) != 0 && errno == ENOENT,
	      "gdb peer: unix: the socket is removed at the end");
	unlink(a.sun.sun_path);
	rmdir(dir);
}

/* A file already at the path stays: it may be another VM's socket. */
static void
test_unix_occupied(void)
{
	char path[64];
	struct stat st;
	FILE *f;
	pid_t vm;

	snprintf(path, sizeof(path), "/tmp/gdbpeer-%d.taken", (int)getpid());
	f = fopen(path, "w");
	if (f == NULL) {
		printf("FAIL: gdb peer: create %s\n", path);
		return;
	}
	fclose(f);
	vm = vm_start("gdb.socket", path, NULL, NULL);
	CHECK(vm_wait(vm) == 1, "gdb peer: unix: an occupied path fails");
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode),
	      "gdb peer: unix: an existing file is not replaced");
	unlink(path);
}

int
main(void)
{
	/* A killed server must not take the test with it. */
	signal(SIGPIPE, SIG_IGN);
	test_tcp(AF_INET, "tcp 127.0.0.1");
	test_tcp(AF_INET6, "tcp ::1");
	test_unix();
	test_unix_occupied();
	return test_done();
}
