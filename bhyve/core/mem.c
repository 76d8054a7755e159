/*
 * MMIO dispatch: a sorted array of non-overlapping guest-physical ranges,
 * searched by bisection.  Registrations are rare (device setup, BAR
 * moves); lookups happen on every MMIO exit, hence the reader lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static struct mem_range *mem_ranges;
static size_t mem_nranges;
static size_t mem_cap;
static pthread_rwlock_t mem_lock = PTHREAD_RWLOCK_INITIALIZER;
static bool mem_strict;

void
init_mem(void)
{
	pthread_rwlock_wrlock(&mem_lock);
	free(mem_ranges);
	mem_ranges = NULL;
	mem_nranges = mem_cap = 0;
	mem_strict = false;
	pthread_rwlock_unlock(&mem_lock);
}

void
mem_set_strict(bool strict)
{
	mem_strict = strict;
}

/* The last inclusive address of a range; size was checked non-zero. */
static uint64_t
mr_last(const struct mem_range *mr)
{
	return mr->base + (mr->size - 1);
}

/* Index of the first range whose last address is >= addr. */
static size_t
mem_lower_bound(uint64_t addr)
{
	size_t lo = 0, hi = mem_nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mr_last(&mem_ranges[mid]) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
register_mem(const struct mem_range *mr)
{
	size_t i;

	if (mr->handler == NULL || mr->size == 0 ||
	    mr->size - 1 > UINT64_MAX - mr->base) {
		errno = EINVAL;
		return -1;
	}
	pthread_rwlock_wrlock(&mem_lock);
	i = mem_lower_bound(mr->base);
	if (i < mem_nranges && mem_ranges[i].base <= mr_last(mr)) {
		pthread_rwlock_unlock(&mem_lock);
		errno = EEXIST;
		return -1;
	}
	if (mem_nranges == mem_cap) {
		size_t ncap = mem_cap ? mem_cap * 2 : 16;
		struct mem_range *n;

		n = realloc(mem_ranges, ncap * sizeof(*n));
		if (n == NULL) {
			pthread_rwlock_unlock(&mem_lock);
			return -1;
		}
		mem_ranges = n;
		mem_cap = ncap;
	}
	memmove(&mem_ranges[i + 1], &mem_ranges[i],
		(mem_nranges - i) * sizeof(*mem_ranges));
	mem_ranges[i] = *mr;
	mem_nranges++;
	pthread_rwlock_unlock(&mem_lock);
	return 0;
}

int
unregister_mem(const struct mem_range *mr)
{
	size_t i;

	pthread_rwlock_wrlock(&mem_lock);
	i = mem_lower_bound(mr->base);
	if (i >= mem_nranges || mem_ranges[i].base != mr->base ||
	    mem_ranges[i].size != mr->size) {
		pthread_rwlock_unlock(&mem_lock);
		errno = ENOENT;
		return -1;
	}
	memmove(&mem_ranges[i], &mem_ranges[i + 1],
		(mem_nranges - i - 1) * sizeof(*mem_ranges));
	mem_nranges--;
	pthread_rwlock_unlock(&mem_lock);
	return 0;
}

int
mem_emulate(struct vcpu *vcpu, bool write, uint64_t gpa, int size,
	    uint64_t *val)
{
	struct mem_range mr;
	bool found = false;
	size_t i;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -1;
	pthread_rwlock_rdlock(&mem_lock);
	i = mem_lower_bound(gpa);
	if (i < mem_nranges && mem_ranges[i].base <= gpa) {
		mr = mem_ranges[i];
		found = true;
	}
	pthread_rwlock_unlock(&mem_lock);

	/* An access straddling the end of a range is not the device's. */
	if (found && (uint64_t)(size - 1) > mr_last(&mr) - gpa)
		found = false;
	if (!found || !(mr.flags & (write ? MEM_F_WRITE : MEM_F_READ))) {
		if (mem_strict) {
			fprintf(stderr,
				"bhyve: unhandled mmio %s of %d bytes "
				"at 0x%llx\n",
				write ? "write" : "read", size,
				(unsigned long long)gpa);
			return -1;
		}
		if (!write)
			*val = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
		return 0;
	}
	return mr.handler(vcpu, write ? MEM_F_WRITE : MEM_F_READ, gpa, size,
			  val, mr.arg1, mr.arg2);
}
