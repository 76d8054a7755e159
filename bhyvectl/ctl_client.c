/*
 * bhyvectl's side of the control socket (see ctl_client.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl_client.h"
#include "registry.h"

int
ctl_conn_open(struct ctl_conn *c, const char *name, char *err, size_t errlen)
{
	struct timeval tv = {CTL_ANSWER_TIMEOUT_S, 0};
	struct registry_entry e;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (registry_lookup(name, &e) != 0) {
		char dir[4096] = "?";

		registry_rundir(dir, sizeof(dir));
		snprintf(err, errlen,
			 "no VM named '%s' is running (run "
			 "directory %s)",
			 name, dir);
		return -1;
	}
	c->fd = registry_connect(name);
	if (c->fd < 0) {
		snprintf(err, errlen, "cannot connect to VM '%s': %s", name,
			 strerror(errno));
		return -1;
	}
	/* A bhyve whose event loop is stuck must not hang us forever. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

void
ctl_conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
ctl_send_line(int fd, const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return send(fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Receives into the buffer, keeping a descriptor if one rides along. */
static ssize_t
ctl_recv_some(struct ctl_conn *c, int *fdp)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov;
	struct msghdr msg = {0};
	struct cmsghdr *h;
	ssize_t n;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap == 0 ? 131072 : c->cap * 2;
		char *p = cap <= CTL_RESPONSE_MAX ? realloc(c->buf, cap) : NULL;

		if (p == NULL) {
			errno = EMSGSIZE;
			return -1;
		}
		c->buf = p;
		c->cap = cap;
	}
	iov.iov_base = c->buf + c->len;
	iov.iov_len = c->cap - c->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.space;
	msg.msg_controllen = sizeof(cm.space);
	do
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (h = CMSG_FIRSTHDR(&msg); n >= 0 && h != NULL;
	     h = CMSG_NXTHDR(&msg, h)) {
		size_t nfd;
		int fds[4];

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfd > 4)
			nfd = 4;
		memcpy(fds, CMSG_DATA(h), nfd * sizeof(int));
		for (size_t i = 0; i < nfd; i++) {
			if (fdp != NULL && *fdp < 0)
				*fdp = fds[i];
			else
				close(fds[i]);
		}
	}
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

json_t *
ctl_call(struct ctl_conn *c, json_t *req, int *fdp, char *err, size_t errlen)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_error_t jerr;
	json_t *resp;
	char *nl;
	int fd = -1;

	json_decref(req);
	if (fdp != NULL)
		*fdp = -1;
	if (text == NULL || ctl_send_line(c->fd, text) != 0) {
		free(text);
		snprintf(err, errlen, "cannot send the request: %s",
			 strerror(errno));
		return NULL;
	}
	free(text);
	while ((nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL) ==
	       NULL) {
		ssize_t n = ctl_recv_some(c, &fd);

		if (n <= 0) {
			if (n == 0)
				snprintf(err, errlen,
					 "the VM closed the "
					 "control connection");
			else if (errno == EAGAIN)
				snprintf(err, errlen,
					 "the VM did not answer "
					 "within %d s",
					 CTL_ANSWER_TIMEOUT_S);
			else
				snprintf(err, errlen, "%s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return NULL;
		}
	}
	resp = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &jerr);
	c->len -= (size_t)(nl - c->buf) + 1;
	memmove(c->buf, nl + 1, c->len);
	if (!json_is_object(resp)) {
		snprintf(err, errlen, "malformed response: %s", jerr.text);
		json_decref(resp);
		resp = NULL;
	} else if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(resp, "error"));

		snprintf(err, errlen, "%s", e != NULL ? e : "request failed");
		json_decref(resp);
		resp = NULL;
	}
	if (resp != NULL && fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return resp;
}

int
ctl_json_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	char *end;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	errno = 0;
	*out = strtoull(json_string_value(v), &end, 0);
	return errno != 0 || *end != '\0' ? -1 : 0;
}
