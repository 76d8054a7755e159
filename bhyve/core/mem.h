/*
 * MMIO dispatch: devices register guest-physical ranges that are not RAM;
 * the vCPU loop sends each MMIO exit to the range that contains it.  An
 * access to an unclaimed address reads as all-ones and ignores writes
 * (fatal with x86.strictio).
 */
#ifndef MEM_H
#define MEM_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

#define MEM_F_READ  0x1
#define MEM_F_WRITE 0x2
#define MEM_F_RW    (MEM_F_READ | MEM_F_WRITE)

/*
 * dir is MEM_F_READ or MEM_F_WRITE; size is 1, 2, 4 or 8 bytes, and
 * [addr, addr + size) lies wholly inside the handler's range.
 */
typedef int (*mem_func_t)(struct vcpu *vcpu, int dir, uint64_t addr, int size,
			  uint64_t *val, void *arg1, long arg2);

struct mem_range {
	const char *name;
	int flags;
	mem_func_t handler;
	void *arg1;
	long arg2;
	uint64_t base;
	uint64_t size;
};

void init_mem(void);
/* -1/EEXIST if the range overlaps one already registered. */
int register_mem(const struct mem_range *mr);
int unregister_mem(const struct mem_range *mr);
/*
 * One guest access of 1 to 8 bytes.  An access of another width (KVM
 * reports 3, 5, 6 and 7 bytes too), or one that crosses a range boundary,
 * is split into naturally sized, naturally aligned pieces, each dispatched
 * on its own; a read is assembled little-endian.  -1 only for a width
 * outside 1-8, a handler's error, or an unclaimed piece with strict set.
 */
int mem_emulate(struct vcpu *vcpu, bool write, uint64_t gpa, int size,
		uint64_t *val);
void mem_set_strict(bool strict);

#endif
