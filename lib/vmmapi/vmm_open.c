/*
 * libvmmapi: vm_open(), attaching to a VM that another process runs.
 *
 * On FreeBSD a VM is a kernel object anyone privileged can open by name;
 * on KVM a VM lives only as long as the fds of the bhyve process that
 * made it.  So vm_open() asks that process, through the control socket of
 * the VM registry (docs/control.md), for a read-only descriptor of guest
 * memory and maps it: the result supports the memory calls (vm_map_gpa,
 * vm_copyin, vm_get_memmap ...) for inspection; vCPU calls fail with
 * ENODEV, and writes through the mapping fault.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm_impl.h"

#define CTL_REPLY_MAX 65536

/* The registry's default run directory (docs/control.md). */
static void
vm_default_rundir(char *buf, size_t len)
{
	const char *env = getenv("BEEHIVE_RUNDIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env != NULL && env[0] != '\0')
		snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, len, "/run/beehive");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, len, "%s/beehive", xdg);
	else
		snprintf(buf, len, "/tmp/beehive-%u", (unsigned)geteuid());
}

static int
vm_ctl_connect(const char *rundir, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strchr(name, '/') != NULL || name[0] == '\0' ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/ctl",
			     rundir, name) >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;

		close(fd);
		errno = saved == ECONNREFUSED ? ENOENT : saved;
		return -1;
	}
	return fd;
}

/* Reads one reply line, collecting a descriptor passed along with it. */
static char *
vm_ctl_recv(int fd, int *passed_fd)
{
	char *buf = malloc(CTL_REPLY_MAX + 1);
	size_t len = 0;

	*passed_fd = -1;
	while (buf != NULL && len < CTL_REPLY_MAX) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {buf + len, CTL_REPLY_MAX - len};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			break;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS && *passed_fd < 0)
				memcpy(passed_fd, CMSG_DATA(cm), sizeof(int));
		}
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL) {
			buf[len] = '\0';
			return buf;
		}
	}
	free(buf);
	if (*passed_fd >= 0)
		close(*passed_fd);
	*passed_fd = -1;
	errno = EPROTO;
	return NULL;
}

static int
vm_json_u64(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);
	char *end;

	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*v = (uint64_t)json_integer_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return -1;
	errno = 0;
	*v = strtoull(json_string_value(j), &end, 0);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/* Maps the ranges the reply describes as one read-only image. */
static int
vm_open_map(struct vmctx *ctx, json_t *reply, int memfd)
{
	json_t *ranges = json_object_get(reply, "ranges"), *r;
	uint64_t size = 0, gpa, len, off;
	size_t i;

	if (vm_json_u64(reply, "size", &size) != 0 || size == 0 ||
	    !json_is_array(ranges))
		return -1;
	json_array_foreach(ranges, i, r)
	{
		if (vm_json_u64(r, "gpa", &gpa) != 0 ||
		    vm_json_u64(r, "len", &len) != 0 ||
		    vm_json_u64(r, "fd_offset", &off) != 0 || len > size ||
		    off > size - len)
			return -1;
		if (gpa == 0)
			ctx->lowmem = len;
		else if (gpa == VM_HIGHMEM_BASE && off == ctx->lowmem)
			ctx->highmem = len;
		else
			return -1;
	}
	if (ctx->lowmem + ctx->highmem != size)
		return -1;
	ctx->membase = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	if (ctx->membase == MAP_FAILED) {
		ctx->membase = NULL;
		return -1;
	}
	ctx->memfd = memfd;
	return 0;
}

struct vmctx *
vm_open_rundir(const char *rundir, const char *name)
{
	static const char req[] = "{\"cmd\": \"get-memfd\"}\n";
	struct vmctx *ctx = NULL;
	json_t *reply = NULL;
	char *line = NULL;
	int sock, memfd = -1;

	sock = vm_ctl_connect(rundir, name);
	if (sock < 0)
		return NULL;
	if (write(sock, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto fail;
	line = vm_ctl_recv(sock, &memfd);
	if (line == NULL)
		goto fail;
	reply = json_loads(line, 0, NULL);
	ctx = vm_create_detached(name);
	if (reply == NULL || !json_is_true(json_object_get(reply, "ok")) ||
	    memfd < 0 || ctx == NULL || vm_open_map(ctx, reply, memfd) != 0) {
		errno = EPROTO;
		goto fail;
	}
	json_decref(reply);
	free(line);
	close(sock);
	return ctx;
fail:
	if (ctx != NULL && ctx->memfd != memfd && memfd >= 0)
		close(memfd);
	vm_destroy(ctx);
	json_decref(reply);
	free(line);
	close(sock);
	return NULL;
}

struct vmctx *
vm_open(const char *name)
{
	char rundir[PATH_MAX];

	vm_default_rundir(rundir, sizeof(rundir));
	return vm_open_rundir(rundir, name);
}
