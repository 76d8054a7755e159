/*
 * bhyvectl's side of the control socket (docs/control.md): one request
 * line out, one response line back, with the file descriptor that
 * get-memfd passes (SCM_RIGHTS).
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CTL_RESPONSE_MAX     (4u << 20)
#define CTL_ANSWER_TIMEOUT_S 60

struct ctl_conn {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
};

/* Connects to VM 'name' in the current run directory; -1 with err set. */
int ctl_conn_open(struct ctl_conn *c, const char *name, char *err,
		  size_t errlen);
void ctl_conn_close(struct ctl_conn *c);
/*
 * Sends 'req' (consumed) and returns the response object when it says
 * "ok": true; otherwise NULL with the server's error (or a transport
 * error) in err.  *fdp, if not NULL, receives a passed descriptor or -1.
 */
json_t *ctl_call(struct ctl_conn *c, json_t *req, int *fdp, char *err,
		 size_t errlen);

/* A response field that holds a number (hex string or integer). */
int ctl_json_u64(json_t *o, const char *key, uint64_t *out);

#endif
