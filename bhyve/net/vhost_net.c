/*
 * vhost-net setup through its ioctls (linux/vhost.h): owner, features,
 * the guest memory table, and per queue its size, base, ring addresses,
 * kick and call eventfds and finally the tap as backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "vhost_net.h"
#include "vmmapi.h"

#define VHOST_MAX_REGIONS 8

const char *vhost_net_path = "/dev/vhost-net";

struct vhost_net {
	int fd;
	uint64_t features;
};

struct vhost_net *
vhost_net_open(void)
{
	struct vhost_net *vn;
	int saved;

	vn = calloc(1, sizeof(*vn));
	if (vn == NULL)
		return NULL;
	vn->fd = open(vhost_net_path, O_RDWR | O_CLOEXEC);
	if (vn->fd < 0)
		goto fail;
	/* The owner's mm is the one whose addresses the rings use. */
	if (ioctl(vn->fd, VHOST_SET_OWNER, NULL) != 0 ||
	    ioctl(vn->fd, VHOST_GET_FEATURES, &vn->features) != 0)
		goto fail;
	return vn;
fail:
	saved = errno;
	if (vn->fd >= 0)
		close(vn->fd);
	free(vn);
	errno = saved;
	return NULL;
}

void
vhost_net_close(struct vhost_net *vn)
{
	if (vn == NULL)
		return;
	close(vn->fd);
	free(vn);
}

uint64_t
vhost_net_features(const struct vhost_net *vn)
{
	return vn->features;
}

int
vhost_net_set_features(struct vhost_net *vn, uint64_t features)
{
	uint64_t f = features & vn->features;

	return ioctl(vn->fd, VHOST_SET_FEATURES, &f);
}

int
vhost_net_set_mem(struct vhost_net *vn, struct vmctx *ctx)
{
	struct vm_memseg_info segs[VHOST_MAX_REGIONS];
	struct vhost_memory *mem;
	int i, n, rc;

	n = vm_get_memmap(ctx, segs, VHOST_MAX_REGIONS);
	if (n <= 0 || n > VHOST_MAX_REGIONS) {
		errno = EINVAL;
		return -1;
	}
	mem = calloc(1, sizeof(*mem) + (size_t)n * sizeof(mem->regions[0]));
	if (mem == NULL)
		return -1;
	mem->nregions = (uint32_t)n;
	for (i = 0; i < n; i++) {
		void *hva = vm_map_gpa(ctx, segs[i].gpa, segs[i].len);

		if (hva == NULL) {
			free(mem);
			errno = EFAULT;
			return -1;
		}
		mem->regions[i].guest_phys_addr = segs[i].gpa;
		mem->regions[i].memory_size = segs[i].len;
		mem->regions[i].userspace_addr = (uint64_t)(uintptr_t)hva;
	}
	rc = ioctl(vn->fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return rc;
}

int
vhost_net_set_ring(struct vhost_net *vn, const struct vhost_ring_cfg *rc)
{
	struct vhost_vring_state num = {.index = rc->idx, .num = rc->size};
	struct vhost_vring_state base = {.index = rc->idx,
					 .num = rc->last_avail};
	struct vhost_vring_addr addr = {
	    .index = rc->idx,
	    .desc_user_addr = (uint64_t)(uintptr_t)rc->desc,
	    .avail_user_addr = (uint64_t)(uintptr_t)rc->avail,
	    .used_user_addr = (uint64_t)(uintptr_t)rc->used,
	};
	struct vhost_vring_file kick = {.index = rc->idx, .fd = rc->kickfd};
	struct vhost_vring_file call = {.index = rc->idx, .fd = rc->callfd};

	if (ioctl(vn->fd, VHOST_SET_VRING_NUM, &num) != 0 ||
	    ioctl(vn->fd, VHOST_SET_VRING_BASE, &base) != 0 ||
	    ioctl(vn->fd, VHOST_SET_VRING_ADDR, &addr) != 0 ||
	    ioctl(vn->fd, VHOST_SET_VRING_CALL, &call) != 0 ||
	    ioctl(vn->fd, VHOST_SET_VRING_KICK, &kick) != 0)
		return -1;
	return 0;
}

int
vhost_net_set_backend(struct vhost_net *vn, unsigned idx, int tapfd)
{
	struct vhost_vring_file be = {.index = idx, .fd = tapfd};

	return ioctl(vn->fd, VHOST_NET_SET_BACKEND, &be);
}

int
vhost_net_get_base(struct vhost_net *vn, unsigned idx, uint16_t *base)
{
	struct vhost_vring_state st = {.index = idx};

	if (ioctl(vn->fd, VHOST_GET_VRING_BASE, &st) != 0)
		return -1;
	*base = (uint16_t)st.num;
	return 0;
}
