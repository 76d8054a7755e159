/*
 * libvmmapi's client of a running bhyve's control socket (docs/control.md):
 * where the VM registry lives, how to reach a VM's socket in it, and the
 * protocol's exchange, one JSON request line out and one response line
 * back, with the descriptor that get-memfd passes (SCM_RIGHTS).
 *
 * It sits here, at the bottom, because vm_open() needs it; bhyve's
 * registry (bhyve/debug/registry.c) and bhyvectl use the same code, so
 * every program agrees on the run directory and speaks the same client.
 */
#ifndef VMM_CTL_H
#define VMM_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

/* The largest response line a client buffers. */
#define VM_CTL_RESPONSE_MAX (4u << 20)

/*
 * The run directory rule, the only place it is written down in code:
 * 'configured' (the configuration key 'rundir', NULL or "" when unset),
 * else $BEEHIVE_RUNDIR, else /run/beehive for root, else
 * $XDG_RUNTIME_DIR/beehive, else /tmp/beehive-UID.  0, or -1 with
 * ENAMETOOLONG if it does not fit in len.
 */
int vm_ctl_rundir(const char *configured, char *buf, size_t len);

/*
 * A sockaddr for a socket at dirfd/'file' (dirpath names dirfd).  Paths
 * longer than sun_path go through /proc/self/fd/DIRFD, which the kernel
 * resolves for bind() and connect() alike.
 */
int vm_ctl_sockaddr(int dirfd, const char *dirpath, const char *file,
		    struct sockaddr_un *sun, socklen_t *len);
/*
 * Connects to RUNDIR/NAME/ctl; the fd, or -1 with errno (EINVAL: 'name'
 * is not a single path component).
 */
int vm_ctl_connect(const char *rundir, const char *name);

/* One connection and the response bytes received but not yet used. */
struct vm_ctl {
	int fd;
	int timeout_s; /* 0: wait for answers forever */
	char *buf;
	size_t len;
	size_t cap;
};

/*
 * vm_ctl_connect(), and a receive timeout of timeout_s seconds (0: none)
 * so that a bhyve whose event loop is stuck cannot hang the caller.
 * 0, or -1 with errno.
 */
int vm_ctl_open(struct vm_ctl *c, const char *rundir, const char *name,
		int timeout_s);
void vm_ctl_close(struct vm_ctl *c);
/*
 * Sends 'req' (consumed) and returns the response object when it says
 * "ok": true; otherwise NULL with the server's error (or a transport
 * error) in err.  *fdp, if not NULL, receives a passed descriptor or -1.
 */
json_t *vm_ctl_call(struct vm_ctl *c, json_t *req, int *fdp, char *err,
		    size_t errlen);

/* A response field that holds a number (hex string or integer). */
int vm_ctl_json_u64(json_t *o, const char *key, uint64_t *out);
/*
 * A 64-bit value as the protocol carries it both ways: a "0x..." string,
 * since JSON numbers lose bit 63 in many parsers.
 */
json_t *vm_ctl_json_hex(uint64_t v);

#endif
