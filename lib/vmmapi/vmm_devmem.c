/*
 * libvmmapi: device memory segments (vmmapi.h).  Each segment is host
 * memory its owner provides, shown to the guest through a KVM memory slot
 * of its own outside RAM; read-only slots (KVM_MEM_READONLY) turn guest
 * writes into MMIO exits, which is how a boot ROM stays unwritable and how
 * a flash device sees its command writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm_impl.h"

#define DEVMEM_PAGE 4096ULL

static struct vmm_devmem *
devmem_get(struct vmctx *ctx, int segid)
{
	if (segid < 0 || segid >= VM_DEVMEM_MAX || !ctx->devmem[segid].used)
		return NULL;
	return &ctx->devmem[segid];
}

/* Whether [gpa, gpa + len) meets [base, base + size); no sum overflows. */
static bool
devmem_overlaps(uint64_t gpa, uint64_t len, uint64_t base, uint64_t size)
{
	if (size == 0)
		return false;
	return gpa <= base + (size - 1) && base <= gpa + (len - 1);
}

static int
devmem_slot(struct vmctx *ctx, int segid, uint64_t gpa, uint64_t len)
{
	const struct vmm_devmem *d = &ctx->devmem[segid];
	struct kvm_userspace_memory_region r = {
	    .slot = (uint32_t)(VMM_DEVMEM_SLOT0 + segid),
	    .flags = (d->flags & VM_DEVMEM_READONLY) ? KVM_MEM_READONLY : 0,
	    .guest_phys_addr = gpa,
	    .memory_size = len,
	    .userspace_addr = (uintptr_t)d->host,
	};

	if (ctx->vmfd < 0)
		return 0;
	return ioctl(ctx->vmfd, KVM_SET_USER_MEMORY_REGION, &r);
}

int
vm_create_devmem(struct vmctx *ctx, const char *name, void *host, size_t len,
		 int flags)
{
	struct vmm_devmem *d = NULL;
	int segid;

	if (host == NULL || len == 0 || len % DEVMEM_PAGE != 0 ||
	    (uintptr_t)host % DEVMEM_PAGE != 0 ||
	    (flags & ~VM_DEVMEM_READONLY) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((flags & VM_DEVMEM_READONLY) && ctx->vmfd >= 0 &&
	    ioctl(ctx->kvmfd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		errno = ENOTSUP;
		return -1;
	}
	pthread_mutex_lock(&ctx->lock);
	for (segid = 0; segid < VM_DEVMEM_MAX; segid++) {
		if (!ctx->devmem[segid].used) {
			d = &ctx->devmem[segid];
			break;
		}
	}
	if (d == NULL) {
		pthread_mutex_unlock(&ctx->lock);
		errno = ENOSPC;
		return -1;
	}
	*d = (struct vmm_devmem){.name = strdup(name != NULL ? name : "devmem"),
				 .host = host,
				 .len = len,
				 .flags = flags,
				 .used = true};
	pthread_mutex_unlock(&ctx->lock);
	if (d->name == NULL) {
		d->used = false;
		errno = ENOMEM;
		return -1;
	}
	return segid;
}

int
vm_mmap_devmem(struct vmctx *ctx, int segid, uint64_t gpa)
{
	struct vmm_devmem *d;
	int rc = -1;

	pthread_mutex_lock(&ctx->lock);
	d = devmem_get(ctx, segid);
	if (d == NULL || d->mapped || gpa % DEVMEM_PAGE != 0 ||
	    d->len - 1 > UINT64_MAX - gpa) {
		errno = EINVAL;
		goto out;
	}
	if (devmem_overlaps(gpa, d->len, 0, ctx->lowmem) ||
	    devmem_overlaps(gpa, d->len, VM_HIGHMEM_BASE, ctx->highmem)) {
		errno = EEXIST;
		goto out;
	}
	for (int i = 0; i < VM_DEVMEM_MAX; i++) {
		const struct vmm_devmem *o = &ctx->devmem[i];

		if (i != segid && o->used && o->mapped &&
		    devmem_overlaps(gpa, d->len, o->gpa, o->len)) {
			errno = EEXIST;
			goto out;
		}
	}
	if (devmem_slot(ctx, segid, gpa, d->len) != 0)
		goto out;
	d->gpa = gpa;
	d->mapped = true;
	rc = 0;
out:
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int
vm_munmap_devmem(struct vmctx *ctx, int segid)
{
	struct vmm_devmem *d;
	int rc = -1;

	pthread_mutex_lock(&ctx->lock);
	d = devmem_get(ctx, segid);
	if (d == NULL || !d->mapped) {
		errno = EINVAL;
		goto out;
	}
	/* A slot of size 0 deletes it (KVM API, KVM_SET_USER_MEMORY_REGION). */
	if (devmem_slot(ctx, segid, d->gpa, 0) != 0)
		goto out;
	d->mapped = false;
	rc = 0;
out:
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

bool
vm_devmem_mapped(struct vmctx *ctx, int segid, uint64_t *gpa)
{
	struct vmm_devmem *d;
	bool mapped;

	pthread_mutex_lock(&ctx->lock);
	d = devmem_get(ctx, segid);
	mapped = d != NULL && d->mapped;
	if (mapped && gpa != NULL)
		*gpa = d->gpa;
	pthread_mutex_unlock(&ctx->lock);
	return mapped;
}

void
vmm_devmem_fini(struct vmctx *ctx)
{
	for (int i = 0; i < VM_DEVMEM_MAX; i++) {
		free(ctx->devmem[i].name);
		ctx->devmem[i] = (struct vmm_devmem){0};
	}
}
