/*
 * libvmmapi: the control-socket client (see vmm_ctl.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "vmm_ctl.h"

#define VM_CTL_SOCKET  "ctl"
#define VM_CTL_MAX_FDS 4 /* descriptors taken from one message */

int
vm_ctl_rundir(const char *configured, char *buf, size_t len)
{
	const char *env = getenv("BEEHIVE_RUNDIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (configured != NULL && configured[0] != '\0')
		n = snprintf(buf, len, "%s", configured);
	else if (env != NULL && env[0] != '\0')
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/beehive");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/beehive", xdg);
	else
		n = snprintf(buf, len, "/tmp/beehive-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
vm_ctl_sockaddr(int dirfd, const char *dirpath, const char *file,
		struct sockaddr_un *sun, socklen_t *len)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dirpath,
		     file);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
		n = snprintf(sun->sun_path, sizeof(sun->sun_path),
			     "/proc/self/fd/%d/%s", dirfd, file);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

int
vm_ctl_connect(const char *rundir, const char *name)
{
	char dir[PATH_MAX];
	struct sockaddr_un sun;
	socklen_t len;
	int dirfd, fd = -1, saved;

	/* A name that is not one path component would leave the rundir. */
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", rundir, name) >=
	    (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The directory fd keeps the long-path fallback usable. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	if (vm_ctl_sockaddr(dirfd, dir, VM_CTL_SOCKET, &sun, &len) == 0)
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, len) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		fd = -1;
	}
	saved = errno;
	close(dirfd);
	errno = saved;
	return fd;
}

int
vm_ctl_open(struct vm_ctl *c, const char *rundir, const char *name,
	    int timeout_s)
{
	struct timeval tv = {timeout_s, 0};

	memset(c, 0, sizeof(*c));
	c->fd = vm_ctl_connect(rundir, name);
	if (c->fd < 0)
		return -1;
	c->timeout_s = timeout_s;
	if (timeout_s > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

void
vm_ctl_close(struct vm_ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
vm_ctl_send_line(int fd, const char *text)
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

/* Room for at least one more large read; fails past the response limit. */
static int
vm_ctl_grow(struct vm_ctl *c)
{
	size_t cap;
	char *p;

	if (c->cap - c->len >= 65536)
		return 0;
	cap = c->cap == 0 ? 131072 : c->cap * 2;
	p = cap <= VM_CTL_RESPONSE_MAX ? realloc(c->buf, cap) : NULL;
	if (p == NULL) {
		errno = EMSGSIZE;
		return -1;
	}
	c->buf = p;
	c->cap = cap;
	return 0;
}

/* Keeps the first passed descriptor in *fdp (if wanted), closes the rest. */
static void
vm_ctl_take_fds(struct msghdr *msg, int *fdp)
{
	struct cmsghdr *h;

	for (h = CMSG_FIRSTHDR(msg); h != NULL; h = CMSG_NXTHDR(msg, h)) {
		size_t nfd;
		int fds[VM_CTL_MAX_FDS];

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfd > VM_CTL_MAX_FDS)
			nfd = VM_CTL_MAX_FDS;
		memcpy(fds, CMSG_DATA(h), nfd * sizeof(int));
		for (size_t i = 0; i < nfd; i++) {
			if (fdp != NULL && *fdp < 0)
				*fdp = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* Receives into the buffer, keeping a descriptor if one rides along. */
static ssize_t
vm_ctl_recv_some(struct vm_ctl *c, int *fdp)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * VM_CTL_MAX_FDS)];
	} cm;
	struct iovec iov;
	struct msghdr msg = {0};
	ssize_t n;

	if (vm_ctl_grow(c) != 0)
		return -1;
	iov.iov_base = c->buf + c->len;
	iov.iov_len = c->cap - c->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.space;
	msg.msg_controllen = sizeof(cm.space);
	do
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		vm_ctl_take_fds(&msg, fdp);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

/* Waits for a whole response line; its newline, or NULL with err set. */
static char *
vm_ctl_recv_line(struct vm_ctl *c, int *fdp, char *err, size_t errlen)
{
	char *nl;

	while ((nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL) ==
	       NULL) {
		ssize_t n = vm_ctl_recv_some(c, fdp);

		if (n > 0)
			continue;
		if (n == 0)
			snprintf(err, errlen,
				 "the VM closed the control connection");
		else if (errno == EAGAIN)
			snprintf(err, errlen,
				 "the VM did not answer within %d s",
				 c->timeout_s);
		else
			snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	return nl;
}

/* Parses the line ending at nl and drops it from the buffer. */
static json_t *
vm_ctl_parse_line(struct vm_ctl *c, char *nl, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *resp;

	resp = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &jerr);
	c->len -= (size_t)(nl - c->buf) + 1;
	memmove(c->buf, nl + 1, c->len);
	if (!json_is_object(resp)) {
		snprintf(err, errlen, "malformed response: %s", jerr.text);
		json_decref(resp);
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(resp, "error"));

		snprintf(err, errlen, "%s", e != NULL ? e : "request failed");
		json_decref(resp);
		return NULL;
	}
	return resp;
}

json_t *
vm_ctl_call(struct vm_ctl *c, json_t *req, int *fdp, char *err, size_t errlen)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_t *resp = NULL;
	char *nl;
	int fd = -1;

	json_decref(req);
	if (fdp != NULL)
		*fdp = -1;
	if (text == NULL || vm_ctl_send_line(c->fd, text) != 0) {
		free(text);
		snprintf(err, errlen, "cannot send the request: %s",
			 strerror(errno));
		return NULL;
	}
	free(text);
	nl = vm_ctl_recv_line(c, &fd, err, errlen);
	if (nl != NULL)
		resp = vm_ctl_parse_line(c, nl, err, errlen);
	if (resp != NULL && fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return resp;
}

int
vm_ctl_json_u64(json_t *o, const char *key, uint64_t *out)
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

json_t *
vm_ctl_json_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}
