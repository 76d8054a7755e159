/*
 * Peer credentials (bhyve/debug/peer.c): the uid rule, the /proc/net/tcp
 * line parser and lookup on sample text, then real connections: a Unix
 * socket and TCP over 127.0.0.1, ::1 and a dual-stack listener, from this
 * user and (as root) from a child process that setuid()s to nobody.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "test.h"

#define NOBODY 65534

/* ---- the uid rule ---- */

static void
test_uid_rule(void)
{
	char why[192] = "";

	CHECK(peer_uid_allowed(0, why, sizeof(why)), "uid rule: root");
	CHECK(peer_uid_allowed(getuid(), why, sizeof(why)),
	      "uid rule: the VM's owner");
	if (getuid() != 12345) {
		CHECK(!peer_uid_allowed(12345, why, sizeof(why)) &&
			  strstr(why, "uid 12345 is neither root") != NULL,
		      "uid rule: another user refused, with the reason");
	}
}

/*
 * ---- the parser, on text as Linux prints it ----
 * Addresses are printed as host-order words, so these samples are what a
 * little-endian (x86) kernel prints.
 */

static const char hdr4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode\n";
static const char hdr6[] =
    "  sl  local_address                         remote_address          "
    "              st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n";
/* 127.0.0.1:55780 -> 127.0.0.1:48189, established, uid 1000. */
static const char est4[] =
    "   1: 0100007F:D9E4 0100007F:BC3D 01 00000000:00000000 00:00000000 "
    "00000000  1000        0 117805 2 00000000940d09be 20 0 0 10 -1\n";
/* [::1]:41992 -> [::1]:49103, established, uid 0. */
static const char est6[] =
    "   3: 00000000000000000000000001000000:A408 "
    "00000000000000000000000001000000:BFCF 01 00000000:00000000 "
    "00:00000000 00000000     0        0 117801 2 00000000d5e39a6b 20 0 0 "
    "10 -1";
/* [::ffff:127.0.0.1]:48189 -> [::ffff:127.0.0.1]:55780, uid 33. */
static const char mapped6[] =
    "   2: 0000000000000000FFFF00000100007F:BC3D "
    "0000000000000000FFFF00000100007F:D9E4 01 00000000:00000000 "
    "00:00000000 00000000    33        0 117806 1 000000006e4ad71c 20 0 0 "
    "10 -1\n";
/* A TIME_WAIT entry: uid 0 and inode 0 whoever owned the socket. */
static const char tw4[] =
    "   5: 0100007F:D9E4 0100007F:BC3D 06 00000000:00000000 03:00001770 "
    "00000000     0        0 0 3 0000000000000000\n";
/* Listening on 0.0.0.0:2024. */
static const char listen4[] =
    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 1087 1 0000000059822791 100 0 0 10 0\n";

static struct peer_tcp_addr
addr_of(const char *text, uint16_t port)
{
	struct peer_tcp_addr a = {{0}, port};
	struct in_addr in4;

	if (inet_pton(AF_INET, text, &in4) == 1) {
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, &in4, 4);
	} else if (inet_pton(AF_INET6, text, a.addr) != 1) {
		abort();
	}
	return a;
}

static bool
addr_is(const struct peer_tcp_addr *a, const char *text, uint16_t port)
{
	struct peer_tcp_addr want = addr_of(text, port);

	return a->port == want.port && memcmp(a->addr, want.addr, 16) == 0;
}

static void
test_parse(void)
{
	struct peer_tcp_entry e;
	static const char *const bad[] = {
	    "",
	    "   \n",
	    /* truncated before the inode */
	    "   1: 0100007F:D9E4 0100007F:BC3D 01 00000000:00000000 "
	    "00:00000000 00000000  1000        0",
	    /* not hex */
	    "   1: 0100007G:D9E4 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    /* port of five digits */
	    "   1: 0100007F:1D9E4 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    /* an address of 9 digits */
	    "   1: 00100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    /* no port */
	    "   1: 0100007F 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    "   1: 0100007F: 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    /* uid past 32 bits, negative, not a number */
	    "   1: 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 4294967296 0 1",
	    "   1: 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 -1 0 1",
	    "   1: 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 1k 0 1",
	    /* inode past 64 bits */
	    "   1: 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 1 0 "
	    "18446744073709551616",
	    /* no slot colon, or an empty slot */
	    "   1 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    "   : 0100007F:D9E4 0100007F:BC3D 01 0:0 00:0 0 1000 0 1",
	    /* state of nine hex digits */
	    "   1: 0100007F:D9E4 0100007F:BC3D 000000001 0:0 00:0 0 1 0 1",
	};

	CHECK(peer_tcp_parse_line(hdr4, &e) == -1, "parse: tcp header skipped");
	CHECK(peer_tcp_parse_line(hdr6, &e) == -1,
	      "parse: tcp6 header skipped");
	CHECK(peer_tcp_parse_line(est4, &e) == 0 &&
		  addr_is(&e.local, "127.0.0.1", 55780) &&
		  addr_is(&e.remote, "127.0.0.1", 48189) && e.state == 1 &&
		  e.uid == 1000 && e.inode == 117805,
	      "parse: tcp line: endpoints, state, uid, inode");
	CHECK(peer_tcp_parse_line(est6, &e) == 0 &&
		  addr_is(&e.local, "::1", 41992) &&
		  addr_is(&e.remote, "::1", 49103) && e.uid == 0 &&
		  e.inode == 117801,
	      "parse: tcp6 line without a newline");
	CHECK(peer_tcp_parse_line(mapped6, &e) == 0 &&
		  addr_is(&e.local, "127.0.0.1", 48189) &&
		  addr_is(&e.remote, "127.0.0.1", 55780) && e.uid == 33,
	      "parse: tcp6 IPv4-mapped addresses equal their IPv4 form");
	CHECK(peer_tcp_parse_line(tw4, &e) == 0 && e.state == 6 && e.uid == 0,
	      "parse: TIME_WAIT line");
	CHECK(peer_tcp_parse_line(listen4, &e) == 0 &&
		  addr_is(&e.local, "0.0.0.0", 2024) && e.state == 0x0a,
	      "parse: listening line");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name),
			 "parse: malformed line %zu refused", i);
		CHECK(peer_tcp_parse_line(bad[i], &e) == -1, name);
	}
}

/* peer_tcp_find_uid() over text; -1 if nothing matched. */
static long
find_in(const char *text, const char *local, uint16_t lport, const char *remote,
	uint16_t rport)
{
	struct peer_tcp_addr l = addr_of(local, lport);
	struct peer_tcp_addr r = addr_of(remote, rport);
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	uint32_t uid;
	int rc;

	if (f == NULL)
		return -2;
	rc = peer_tcp_find_uid(f, &l, &r, &uid);
	fclose(f);
	return rc == 0 ? (long)uid : -1;
}

static void
test_find(void)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s%s%s%s", hdr4, listen4, tw4, est4);
	CHECK(find_in(text, "127.0.0.1", 55780, "127.0.0.1", 48189) == 1000,
	      "find: the established socket's owner, not the TIME_WAIT "
	      "entry's uid 0");
	CHECK(find_in(text, "127.0.0.1", 48189, "127.0.0.1", 55780) == -1,
	      "find: the ends must not be swapped");
	CHECK(find_in(text, "127.0.0.1", 55780, "127.0.0.1", 48188) == -1,
	      "find: another port is another connection");
	snprintf(text, sizeof(text), "%s%s", hdr4, tw4);
	CHECK(find_in(text, "127.0.0.1", 55780, "127.0.0.1", 48189) == -1,
	      "find: a TIME_WAIT entry alone identifies no one");
	snprintf(text, sizeof(text), "%s%s\n%s", hdr6, est6, mapped6);
	CHECK(find_in(text, "::1", 41992, "::1", 49103) == 0,
	      "find: tcp6 text");
	CHECK(find_in(text, "127.0.0.1", 48189, "127.0.0.1", 55780) == 33,
	      "find: an IPv4 endpoint matches its IPv4-mapped tcp6 entry");
	CHECK(find_in("", "::1", 1, "::1", 2) == -1, "find: empty text");
}

static void
test_addr_from(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(1234),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct peer_tcp_addr a;

	CHECK(peer_tcp_addr_from((struct sockaddr *)&sin, sizeof(sin), &a) ==
		      0 &&
		  addr_is(&a, "127.0.0.1", 1234),
	      "addr: IPv4 becomes IPv4-mapped");
	CHECK(peer_tcp_addr_from((struct sockaddr *)&sin, sizeof(sin) - 1,
				 &a) == -1,
	      "addr: a short IPv4 address refused");
	CHECK(peer_tcp_addr_from((struct sockaddr *)&sun, sizeof(sun), &a) ==
		  -1,
	      "addr: AF_UNIX refused");
}

/* ---- real connections ---- */

/* A forked client as uid: connects, then holds the connection open
 * until the server closes it, so its socket stays listed. */
static pid_t
client_start(const struct sockaddr *sa, socklen_t len, uid_t uid)
{
	char c;
	int fd;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	alarm(20);
	if (uid != 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
			 setuid(uid) != 0))
		_exit(1);
	fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, sa, len) != 0)
		_exit(1);
	while (read(fd, &c, 1) > 0)
		;
	_exit(0);
}

/* Accepts the client's connection and asks the check about it. */
static bool
check_client(int lfd, const struct sockaddr *sa, socklen_t len, uid_t uid,
	     bool tcp, char *why, size_t wlen)
{
	pid_t pid = client_start(sa, len, uid);
	int fd, status;
	bool ok = false;

	why[0] = '\0';
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0) {
		ok = tcp ? peer_tcp_allowed(fd, why, wlen)
			 : peer_unix_allowed(fd, why, wlen);
		close(fd);
	}
	waitpid(pid, &status, 0);
	return ok;
}

/* A listener and the address to connect to; -1 if the family is absent. */
static int
listen_on(int family, const char *addr, struct sockaddr_storage *ss,
	  socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM, 0), on = 0;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		*len = sizeof(*sin6);
		/* "::" takes IPv4 too: the dual-stack case. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *len) != 0 ||
	    listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)ss, len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
test_tcp_one(int lfamily, const char *laddr, int cfamily, const char *caddr,
	     const char *what)
{
	struct sockaddr_storage ss;
	struct sockaddr_in cin = {.sin_family = AF_INET};
	socklen_t len;
	char why[192], name[128];
	int lfd = listen_on(lfamily, laddr, &ss, &len);
	struct sockaddr *to = (struct sockaddr *)&ss;

	if (lfd < 0) {
		printf("SKIP: tcp %s: cannot listen here\n", what);
		return;
	}
	if (cfamily != lfamily) {
		/* An IPv4 client of a dual-stack listener. */
		cin.sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
		inet_pton(AF_INET, caddr, &cin.sin_addr);
		to = (struct sockaddr *)&cin;
		len = sizeof(cin);
	}
	snprintf(name, sizeof(name), "tcp %s: the owner is let in", what);
	CHECK(check_client(lfd, to, len, getuid(), true, why, sizeof(why)),
	      name);
	snprintf(name, sizeof(name), "tcp %s: nobody is refused", what);
	if (getuid() == 0)
		CHECK(!check_client(lfd, to, len, NOBODY, true, why,
				    sizeof(why)) &&
			  strstr(why, "uid 65534") != NULL,
		      name);
	else
		printf("SKIP: %s (needs root)\n", name);
	close(lfd);
}

static void
test_tcp(void)
{
	char why[192];
	int sv[2];

	test_tcp_one(AF_INET, "127.0.0.1", AF_INET, NULL, "127.0.0.1");
	test_tcp_one(AF_INET6, "::1", AF_INET6, NULL, "::1");
	test_tcp_one(AF_INET6, "::", AF_INET, "127.0.0.1",
		     "IPv4 client of a dual-stack listener");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		CHECK(!peer_tcp_allowed(sv[0], why, sizeof(why)) &&
			  strstr(why, "cannot identify") != NULL,
		      "tcp: a socket that is not TCP/IP is refused");
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_unix(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char why[192];
	int lfd, sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		CHECK(peer_unix_allowed(sv[0], why, sizeof(why)),
		      "unix: socketpair peer is this user");
		close(sv[0]);
		close(sv[1]);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/test-peer-%d.sock",
		 (int)getpid());
	unlink(sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(sun.sun_path, 0666) != 0 || listen(lfd, 4) != 0) {
		printf("FAIL: unix: listen on %s: %s\n", sun.sun_path,
		       strerror(errno));
		return;
	}
	CHECK(check_client(lfd, (struct sockaddr *)&sun, sizeof(sun), getuid(),
			   false, why, sizeof(why)),
	      "unix: accept from the owner");
	if (getuid() == 0)
		CHECK(!check_client(lfd, (struct sockaddr *)&sun, sizeof(sun),
				    NOBODY, false, why, sizeof(why)) &&
			  strstr(why, "uid 65534") != NULL,
		      "unix: nobody is refused");
	else
		printf("SKIP: unix: nobody is refused (needs root)\n");
	close(lfd);
	unlink(sun.sun_path);
}

int
main(void)
{
	test_uid_rule();
	test_parse();
	test_find();
	test_addr_from();
	test_unix();
	test_tcp();
	return test_done();
}
