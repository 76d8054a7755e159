/*
 * Who is on the other end of a local connection, and whether that user
 * may drive this VM: only root and the VM's owner (this process's real
 * uid) may.  The control socket and the gdb stub share the rule.
 *
 * A Unix socket's peer comes from SO_PEERCRED.  TCP has no such option;
 * a local peer's own socket is listed in /proc/net/tcp (or tcp6) with the
 * uid that owns it, so the connection is looked up there by its two
 * endpoints.  A peer that is not listed (another host, another network
 * namespace) cannot be identified and is refused.
 */
#ifndef PEER_H
#define PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Whether uid may connect; false with the reason in why. */
bool peer_uid_allowed(uid_t uid, char *why, size_t len);
/* The same for the peer of a connected Unix socket. */
bool peer_unix_allowed(int fd, char *why, size_t len);
/* The same for the peer of an accepted TCP connection. */
bool peer_tcp_allowed(int fd, char *why, size_t len);

/* One TCP endpoint; IPv4 addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct peer_tcp_addr {
	uint8_t addr[16];
	uint16_t port;
};

#define PEER_TCP_ESTABLISHED 0x01 /* the "st" column */

/* One socket line of /proc/net/tcp or /proc/net/tcp6. */
struct peer_tcp_entry {
	struct peer_tcp_addr local, remote;
	unsigned state;
	uint32_t uid;
	uint64_t inode;
};

/*
 * Parses one line (with or without its newline); -1 for the header line
 * or anything malformed.  Pure: safe on any text.
 */
int peer_tcp_parse_line(const char *line, struct peer_tcp_entry *e);
/*
 * Reads /proc/net/tcp{,6} text from f: 0 and the owner's uid of the
 * established socket whose local end is 'local' and remote end 'remote',
 * or -1 if none is listed.
 */
int peer_tcp_find_uid(FILE *f, const struct peer_tcp_addr *local,
		      const struct peer_tcp_addr *remote, uint32_t *uid);
/* An AF_INET or AF_INET6 socket address as an endpoint; -1 otherwise. */
int peer_tcp_addr_from(const struct sockaddr *sa, socklen_t len,
		       struct peer_tcp_addr *a);

#endif
