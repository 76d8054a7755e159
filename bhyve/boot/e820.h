/*
 * The guest's physical memory map in BIOS E820 form (ACPI 6.5 section 15,
 * "System Address Map Interfaces").  Built from the VM's memory layout:
 *
 *	0 .. 0x9fc00		RAM (conventional memory)
 *	0x9fc00 .. 1 MiB	reserved (EBDA, VGA hole, BIOS area)
 *	1 MiB .. lowmem		RAM
 *	4 GiB .. 4 GiB+highmem	RAM
 *
 * Platform code (ACPI tables, firmware areas) carves reserved ranges out of
 * it in its init, before the kernel loader hands the map to the guest.
 * One table per process, like bhyve's e820.c: there is one VM per bhyve.
 */
#ifndef E820_H
#define E820_H

#include <stdbool.h>
#include <stdint.h>

struct vmctx;

enum e820_type {
	E820_TYPE_RAM = 1,
	E820_TYPE_RESERVED = 2,
	E820_TYPE_ACPI = 3,
	E820_TYPE_NVS = 4,
	E820_TYPE_UNUSABLE = 5,
};

/* Linux's zero page holds at most 128 entries; never hand out more. */
#define E820_MAX_ENTRIES 128

#define E820_EBDA_BASE 0x9fc00ULL
#define E820_HIGH_BASE 0x100000ULL

struct e820_entry {
	uint64_t base;
	uint64_t len;
	uint32_t type;
};

/* (Re)builds the map from ctx's memory layout; 0, or -1 if unusable. */
int e820_init(struct vmctx *ctx);
/* True once e820_init() ran for this context (and not reset since). */
bool e820_initialized_for(const struct vmctx *ctx);
/* Drops the table (tests, teardown). */
void e820_reset(void);

/*
 * Marks [base, base+len) as 'type', splitting whatever was there; later
 * calls win over earlier ones.  0, or -1 on overflow or a full table.
 */
int e820_add_entry(uint64_t base, uint64_t len, enum e820_type type);
int e820_add_reserved(uint64_t base, uint64_t len);

/* Number of entries, sorted by base, adjacent equal types merged. */
int e820_count(void);
/* Copies up to max entries; returns the number copied. */
int e820_get(struct e820_entry *out, int max);
/* True if [base, base+len) lies entirely inside one RAM entry. */
bool e820_is_ram(uint64_t base, uint64_t len);
const char *e820_type_name(uint32_t type);

#endif
