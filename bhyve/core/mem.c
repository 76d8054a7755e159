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

/* One naturally sized piece of a guest access and where it goes. */
struct mem_piece {
	struct mem_range mr;
	bool claimed; /* mr holds the piece's first byte */
	int size;
};

/* All-ones of size bytes: a read nothing decodes, or a piece's width. */
static uint64_t
mem_mask(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/*
 * The widest power of two no larger than len, aligned at addr, that stays
 * within room + 1 bytes (up to the next range boundary).  A CPU splits an
 * odd-sized or boundary-crossing access the same way on the bus.
 */
static int
mem_natural_size(uint64_t addr, int len, uint64_t room)
{
	int p = 8;

	while (p > len || (uint64_t)(p - 1) > room ||
	       (addr & (uint64_t)(p - 1)) != 0)
		p >>= 1;
	return p;
}

/*
 * Finds what decodes addr and how much of the len bytes from there it may
 * take.  A 1/2/4/8-byte access wholly inside one range goes to it in one
 * piece even if unaligned, as before; anything else (KVM reports 3, 5, 6
 * and 7 bytes for far pointers, sgdt/sidt and the like) is split.
 */
static void
mem_piece_find(uint64_t addr, int len, bool whole, struct mem_piece *pc)
{
	uint64_t room = UINT64_MAX; /* bytes after addr on the same side */
	size_t i;

	pthread_rwlock_rdlock(&mem_lock);
	i = mem_lower_bound(addr);
	pc->claimed = i < mem_nranges && mem_ranges[i].base <= addr;
	if (pc->claimed) {
		pc->mr = mem_ranges[i];
		room = mr_last(&pc->mr) - addr;
	} else if (i < mem_nranges) {
		room = mem_ranges[i].base - addr - 1;
	}
	pthread_rwlock_unlock(&mem_lock);
	if (whole && (len & (len - 1)) == 0 && (uint64_t)(len - 1) <= room)
		pc->size = len;
	else
		pc->size = mem_natural_size(addr, len, room);
}

/* Dispatches one piece; *val holds (or receives) its value. */
static int
mem_piece_access(struct vcpu *vcpu, bool write, uint64_t addr,
		 const struct mem_piece *pc, uint64_t *val)
{
	int dir = write ? MEM_F_WRITE : MEM_F_READ;

	if (!pc->claimed || !(pc->mr.flags & dir)) {
		if (mem_strict) {
			fprintf(stderr,
				"bhyve: unhandled mmio %s of %d bytes "
				"at 0x%llx\n",
				write ? "write" : "read", pc->size,
				(unsigned long long)addr);
			return -1;
		}
		if (!write)
			*val = mem_mask(pc->size);
		return 0;
	}
	return pc->mr.handler(vcpu, dir, addr, pc->size, val, pc->mr.arg1,
			      pc->mr.arg2);
}

int
mem_emulate(struct vcpu *vcpu, bool write, uint64_t gpa, int size,
	    uint64_t *val)
{
	struct mem_piece pc;
	uint64_t out = 0, v;

	/* kvm_run.mmio carries at most 8 data bytes. */
	if (size < 1 || size > 8)
		return -1;
	for (int off = 0; off < size; off += pc.size) {
		/* Wraps past 2^64 - 1 as the address bus would. */
		uint64_t addr = gpa + (uint64_t)off;

		mem_piece_find(addr, size - off, off == 0, &pc);
		v = write ? (*val >> (8 * off)) & mem_mask(pc.size) : 0;
		if (mem_piece_access(vcpu, write, addr, &pc, &v) != 0)
			return -1;
		out |= (v & mem_mask(pc.size)) << (8 * off);
	}
	if (!write)
		*val = out;
	return 0;
}
