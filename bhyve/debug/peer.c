/*
 * Peer credentials for the control socket and the gdb stub (peer.h).
 *
 * /proc/net/tcp lists one socket per line (tcp4_seq_show() in Linux):
 *
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when
 *        retrnsmt   uid  timeout inode ...
 *    1: 0100007F:D9E4 0100007F:BC3D 01 00000000:00000000 00:00000000
 *        00000000  1000        0 117805 ...
 *
 * An address is printed as the 32-bit words the kernel holds in network
 * byte order, each read as a host integer ("%08X"); tcp6 prints four such
 * words.  Copying each parsed word back into memory restores the address
 * bytes.  Ports are printed in host order.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gdb_proto.h"
#include "peer.h"

#define PEER_FIELDS	 10 /* up to and including the inode */
#define PEER_F_LOCAL	 1
#define PEER_F_REMOTE	 2
#define PEER_F_STATE	 3
#define PEER_F_UID	 7
#define PEER_F_INODE	 9
#define PEER_ADDR4_CHARS 8
#define PEER_ADDR6_CHARS 32

bool
peer_uid_allowed(uid_t uid, char *why, size_t len)
{
	if (uid == 0 || uid == getuid())
		return true;
	snprintf(why, len,
		 "permission denied: uid %u is neither root nor "
		 "the VM's owner (uid %u)",
		 (unsigned)uid, (unsigned)getuid());
	return false;
}

/* SO_PEERCRED: the kernel's word on who connected (unix(7)). */
bool
peer_unix_allowed(int fd, char *why, size_t len)
{
	struct ucred cred;
	socklen_t sl = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) != 0) {
		snprintf(why, len, "cannot identify the peer");
		return false;
	}
	return peer_uid_allowed(cred.uid, why, len);
}

/* ---- /proc/net/tcp text ---- */

/* Splits line at blanks into up to max fields; returns how many. */
static int
peer_fields(const char *line, const char **f, size_t *flen, int max)
{
	int n = 0;

	while (n < max) {
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '\n')
			break;
		f[n] = line;
		flen[n] = strcspn(line, " \t\n");
		line += flen[n++];
	}
	return n;
}

/* 1 to 8 hex digits, all of s[0..len). */
static bool
peer_hex32(const char *s, size_t len, uint32_t *v)
{
	const char *p = s;
	uint64_t w;

	if (len > 8 || !gdb_parse_hex(&p, s + len, &w) || p != s + len)
		return false;
	*v = (uint32_t)w;
	return true;
}

/* Decimal digits, all of s[0..len), no larger than max. */
static bool
peer_dec(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	if (len == 0)
		return false;
	*v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || *v > (max - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	return true;
}

/* "0100007F:0CEA" (tcp) or 32 hex digits and ":port" (tcp6). */
static bool
peer_parse_endpoint(const char *s, size_t len, struct peer_tcp_addr *a)
{
	const char *colon = memchr(s, ':', len);
	size_t alen;
	uint8_t *dst;
	uint32_t w, port;

	if (colon == NULL)
		return false;
	alen = (size_t)(colon - s);
	if (alen != PEER_ADDR4_CHARS && alen != PEER_ADDR6_CHARS)
		return false;
	if (!peer_hex32(colon + 1, len - alen - 1, &port) || port > 0xffff)
		return false;
	memset(a, 0, sizeof(*a));
	dst = a->addr;
	if (alen == PEER_ADDR4_CHARS) {
		a->addr[10] = a->addr[11] = 0xff;
		dst = a->addr + 12;
	}
	for (size_t i = 0; i < alen / 8; i++) {
		if (!peer_hex32(s + 8 * i, 8, &w))
			return false;
		memcpy(dst + 4 * i, &w, sizeof(w));
	}
	a->port = (uint16_t)port;
	return true;
}

int
peer_tcp_parse_line(const char *line, struct peer_tcp_entry *e)
{
	const char *f[PEER_FIELDS];
	size_t flen[PEER_FIELDS];
	uint32_t state;
	uint64_t slot, uid, inode;

	if (peer_fields(line, f, flen, PEER_FIELDS) != PEER_FIELDS)
		return -1;
	/* "sl": a slot number and a colon; the header says "sl". */
	if (flen[0] < 2 || f[0][flen[0] - 1] != ':' ||
	    !peer_dec(f[0], flen[0] - 1, UINT64_MAX, &slot))
		return -1;
	if (!peer_parse_endpoint(f[PEER_F_LOCAL], flen[PEER_F_LOCAL],
				 &e->local) ||
	    !peer_parse_endpoint(f[PEER_F_REMOTE], flen[PEER_F_REMOTE],
				 &e->remote) ||
	    !peer_hex32(f[PEER_F_STATE], flen[PEER_F_STATE], &state) ||
	    !peer_dec(f[PEER_F_UID], flen[PEER_F_UID], UINT32_MAX, &uid) ||
	    !peer_dec(f[PEER_F_INODE], flen[PEER_F_INODE], UINT64_MAX, &inode))
		return -1;
	e->state = state;
	e->uid = (uint32_t)uid;
	e->inode = inode;
	return 0;
}

static bool
peer_addr_equal(const struct peer_tcp_addr *a, const struct peer_tcp_addr *b)
{
	return a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

int
peer_tcp_find_uid(FILE *f, const struct peer_tcp_addr *local,
		  const struct peer_tcp_addr *remote, uint32_t *uid)
{
	struct peer_tcp_entry e;
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	while (rc != 0 && getline(&line, &cap, f) >= 0) {
		/* Only an established socket: a TIME_WAIT entry of an older
		 * connection on the same ports is listed as uid 0. */
		if (peer_tcp_parse_line(line, &e) == 0 &&
		    e.state == PEER_TCP_ESTABLISHED &&
		    peer_addr_equal(&e.local, local) &&
		    peer_addr_equal(&e.remote, remote)) {
			*uid = e.uid;
			rc = 0;
		}
	}
	free(line);
	return rc;
}

int
peer_tcp_addr_from(const struct sockaddr *sa, socklen_t len,
		   struct peer_tcp_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		a->addr[10] = a->addr[11] = 0xff;
		memcpy(a->addr + 12, &sin->sin_addr, 4);
		a->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(a->addr, &sin6->sin6_addr, 16);
		a->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

/* The uid owning the socket with these ends, from tcp or tcp6. */
static int
peer_tcp_lookup(const struct peer_tcp_addr *local,
		const struct peer_tcp_addr *remote, uint32_t *uid)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	int rc = -1;

	for (size_t i = 0; i < 2 && rc != 0; i++) {
		FILE *f = fopen(files[i], "re");

		if (f == NULL)
			continue;
		rc = peer_tcp_find_uid(f, local, remote, uid);
		fclose(f);
	}
	return rc;
}

bool
peer_tcp_allowed(int fd, char *why, size_t len)
{
	struct sockaddr_storage ours, theirs;
	socklen_t ol = sizeof(ours), tl = sizeof(theirs);
	struct peer_tcp_addr us, them;
	uint32_t uid;

	if (getsockname(fd, (struct sockaddr *)&ours, &ol) != 0 ||
	    getpeername(fd, (struct sockaddr *)&theirs, &tl) != 0) {
		snprintf(why, len, "cannot identify the peer: %s",
			 strerror(errno));
		return false;
	}
	if (peer_tcp_addr_from((struct sockaddr *)&ours, ol, &us) != 0 ||
	    peer_tcp_addr_from((struct sockaddr *)&theirs, tl, &them) != 0) {
		snprintf(why, len, "cannot identify the peer: not TCP/IP");
		return false;
	}
	/* The peer's own socket: its local end is our remote end. */
	if (peer_tcp_lookup(&them, &us, &uid) != 0) {
		snprintf(why, len,
			 "cannot identify the peer: its socket is not in "
			 "/proc/net/tcp or tcp6 (not a local connection?)");
		return false;
	}
	return peer_uid_allowed((uid_t)uid, why, len);
}
