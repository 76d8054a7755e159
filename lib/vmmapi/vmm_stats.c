/*
 * libvmmapi: per-vCPU statistics from KVM's binary stats interface
 * (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD).  The descriptors are
 * read once; each query then reads only the data block.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm_impl.h"

static int stats_load(struct vcpu *vcpu);

/*
 * KVM_GET_STATS_FD is a vCPU ioctl and so waits for KVM_RUN to return;
 * vm_vcpu_open() calls this before the vCPU first runs, after which the
 * statistics are read with pread() on the fd, from any thread, at once.
 */
int
vmm_stats_open(struct vcpu *vcpu)
{
	return stats_load(vcpu);
}

static int
stats_load(struct vcpu *vcpu)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	uint8_t *buf = NULL;

	if (vcpu->stats_fd >= 0)
		return 0;
	if (vcpu->stats_tried) {
		errno = ENOTSUP;
		return -1;
	}
	vcpu->stats_tried = true;
	vcpu->stats_fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, 0);
	if (vcpu->stats_fd < 0)
		return -1;
	if (pread(vcpu->stats_fd, &h, sizeof(h), 0) != sizeof(h))
		goto fail;
	if (h.num_desc == 0 || h.num_desc > 4096 || h.name_size > 4096)
		goto fail;
	dsz = sizeof(*d) + h.name_size;
	buf = calloc(h.num_desc, dsz);
	vcpu->stats = calloc(h.num_desc, sizeof(*vcpu->stats));
	if (buf == NULL || vcpu->stats == NULL)
		goto fail;
	if (pread(vcpu->stats_fd, buf, h.num_desc * dsz, h.desc_offset) !=
	    (ssize_t)(h.num_desc * dsz))
		goto fail;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(buf + i * dsz);
		vcpu->stats[i].name = strndup(d->name, h.name_size);
		vcpu->stats[i].flags = d->flags;
		vcpu->stats[i].size = d->size;
		vcpu->stats[i].offset = d->offset;
		if (vcpu->stats[i].name == NULL)
			goto fail;
		vcpu->nstats = (int)i + 1;
	}
	vcpu->stats_data_offset = h.data_offset;
	free(buf);
	return 0;
fail:
	free(buf);
	vmm_stats_close(vcpu);
	errno = errno ? errno : EINVAL;
	return -1;
}

void
vmm_stats_close(struct vcpu *vcpu)
{
	for (int i = 0; i < vcpu->nstats; i++)
		free(vcpu->stats[i].name);
	free(vcpu->stats);
	vcpu->stats = NULL;
	vcpu->nstats = 0;
	if (vcpu->stats_fd >= 0)
		close(vcpu->stats_fd);
	vcpu->stats_fd = -1;
}

static int
stats_read_one(struct vcpu *vcpu, int i, uint64_t *value)
{
	/* Histograms have size > 1; report their first bucket only. */
	off_t off = (off_t)(vcpu->stats_data_offset + vcpu->stats[i].offset);

	if (pread(vcpu->stats_fd, value, sizeof(*value), off) != sizeof(*value))
		return -1;
	return 0;
}

int
vm_get_stats(struct vcpu *vcpu, struct vm_stat *stats, int max)
{
	int n = 0;

	if (stats_load(vcpu) != 0)
		return -1;
	for (int i = 0; i < vcpu->nstats && n < max; i++) {
		if (stats_read_one(vcpu, i, &stats[n].value) != 0)
			return -1;
		stats[n].name = vcpu->stats[i].name;
		n++;
	}
	return n;
}

int
vm_get_stat(struct vcpu *vcpu, const char *name, uint64_t *value)
{
	if (stats_load(vcpu) != 0)
		return -1;
	for (int i = 0; i < vcpu->nstats; i++) {
		if (strcmp(vcpu->stats[i].name, name) == 0)
			return stats_read_one(vcpu, i, value);
	}
	errno = ENOENT;
	return -1;
}
