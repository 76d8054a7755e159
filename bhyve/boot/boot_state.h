/*
 * The CPU-state presets of the boot protocols (boot_state.c), for the
 * loaders; the register and segment setters are public in boot.h.  Pure
 * data: nothing here touches guest memory or a vCPU.
 */
#ifndef BOOT_STATE_H
#define BOOT_STATE_H

#include <stdint.h>

#include "boot.h"

/* 32-bit flat protected mode, paging off (multiboot, PVH, Linux32). */
void boot_state_flat32(struct boot_cpu_state *st, uint64_t entry);
/* 64-bit long mode with the identity page tables (Linux64). */
void boot_state_long64(struct boot_cpu_state *st, uint64_t entry);

/*
 * The architectural reset state (Intel SDM Vol. 3, 9.1.1, Table 9-1): real
 * mode at the reset vector, CS selector 0xf000 with base 0xffff0000, IP
 * 0xfff0 (0xfffffff0, the top of a boot ROM).  EDX keeps the processor
 * signature KVM put there when it created the vCPU.
 */
void boot_state_reset(struct boot_cpu_state *st);

#endif
