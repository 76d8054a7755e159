/*
 * The control socket: newline-delimited JSON requests and responses on
 * RUNDIR/NAME/ctl (registry.h), served from the main thread's event loop.
 * Only root and the VM's owner may connect (SO_PEERCRED).  The protocol
 * is documented in docs/control.md.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "vmmapi.h"

#define CONTROL_PROTO_VERSION 1
#define CONTROL_REQ_MAX	      65536 /* bytes in one request line */
#define CONTROL_READ_MAX      65536 /* bytes per read-mem request */
#define CONTROL_PAUSE_MAX     16    /* nested pauses per connection */

/* Registers the control socket with mevent; call after the vCPUs exist. */
int control_start(struct vmctx *ctx);
/* Closes the socket and every connection (resuming their pauses). */
void control_stop(void);

/*
 * The protocol without a socket, for tests and fuzzers.  A session is
 * one connection's state: the pauses it holds.
 */
struct control_session {
	int pauses;
};
void control_init(struct vmctx *ctx);
/*
 * Handles one request (without its newline).  Returns the response text
 * (malloc'd, no newline; never NULL unless out of memory).  When the
 * response carries a file descriptor (get-memfd), *fdp receives it and the
 * caller sends and closes it; otherwise *fdp is -1.
 */
char *control_handle(struct control_session *s, const char *req, size_t len,
		     int *fdp);
/* Drops what a session holds (its pauses). */
void control_session_end(struct control_session *s);
/* Where force-reset/force-poweroff/destroy go (bhyve_request_suspend). */
void control_set_suspend_hook(void (*fn)(enum vm_suspend_how how));
/* How many unsent reply bytes a client may hold, and for how many ms,
 * before it is dropped; 0 restores a default (4 MiB, 60 s).  For tests. */
void control_set_output_limits(size_t max_bytes, unsigned timeout_ms);

/* Register names shared by the server and bhyvectl. */
enum control_reg_kind {
	CONTROL_REG_PLAIN,   /* a 64-bit value */
	CONTROL_REG_SEGMENT, /* selector, base, limit, access */
	CONTROL_REG_TABLE    /* GDTR/IDTR: base, limit */
};
struct control_reg {
	const char *name;
	int reg; /* enum vm_reg_name */
	enum control_reg_kind kind;
};
extern const struct control_reg control_regs[];
extern const int control_nregs;
const struct control_reg *control_reg_lookup(const char *name);

#endif
