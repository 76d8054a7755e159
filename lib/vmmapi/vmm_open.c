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
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm_ctl.h"
#include "vmm_impl.h"

/* Maps the ranges the reply describes as one read-only image. */
static int
vm_open_map(struct vmctx *ctx, json_t *reply, int memfd)
{
	json_t *ranges = json_object_get(reply, "ranges"), *r;
	uint64_t size = 0, gpa, len, off;
	size_t i;

	if (vm_ctl_json_u64(reply, "size", &size) != 0 || size == 0 ||
	    !json_is_array(ranges))
		return -1;
	json_array_foreach(ranges, i, r)
	{
		if (vm_ctl_json_u64(r, "gpa", &gpa) != 0 ||
		    vm_ctl_json_u64(r, "len", &len) != 0 ||
		    vm_ctl_json_u64(r, "fd_offset", &off) != 0 || len > size ||
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

/* Asks for the read-only guest-memory descriptor; the reply, or NULL. */
static json_t *
vm_open_get_memfd(struct vm_ctl *c, int *memfd)
{
	char err[256];
	json_t *reply;

	reply = vm_ctl_call(c, json_pack("{s:s}", "cmd", "get-memfd"), memfd,
			    err, sizeof(err));
	if (reply != NULL && *memfd < 0) {
		json_decref(reply);
		reply = NULL;
	}
	return reply;
}

struct vmctx *
vm_open_rundir(const char *rundir, const char *name)
{
	struct vmctx *ctx = NULL;
	struct vm_ctl c;
	json_t *reply;
	int memfd = -1;

	if (vm_ctl_open(&c, rundir, name, 0) != 0) {
		/* A socket nobody listens on is a VM that is gone. */
		if (errno == ECONNREFUSED)
			errno = ENOENT;
		return NULL;
	}
	reply = vm_open_get_memfd(&c, &memfd);
	vm_ctl_close(&c);
	if (reply != NULL)
		ctx = vm_create_detached(name);
	if (ctx == NULL || vm_open_map(ctx, reply, memfd) != 0) {
		if ((ctx == NULL || ctx->memfd != memfd) && memfd >= 0)
			close(memfd);
		vm_destroy(ctx);
		json_decref(reply);
		errno = EPROTO;
		return NULL;
	}
	json_decref(reply);
	return ctx;
}

struct vmctx *
vm_open(const char *name)
{
	char rundir[PATH_MAX];

	/* No configuration down here: the rule without the 'rundir' key. */
	if (vm_ctl_rundir(NULL, rundir, sizeof(rundir)) != 0)
		return NULL;
	return vm_open_rundir(rundir, name);
}
