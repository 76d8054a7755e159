/*
 * Boot ROM (bhyve's -l bootrom,ROM[,VARS]; keys lpc.bootrom, lpc.bootvars):
 * a UEFI firmware image mapped read-only so that it ends at 4 GiB, and its
 * variable store (VARS) directly below it, a flash device the firmware
 * programs (pflash.c).  The files are checked, read and locked before any
 * VM state exists; the contents then live in memory shared with a
 * monitor's (-M) later runs, so a guest reset sees the variables it wrote.
 */
#ifndef BOOTROM_H
#define BOOTROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"

#define BOOTROM_PAGE	  4096u
#define BOOTROM_MAX_TOTAL (16u << 20) /* ROM + VARS, ending at 4 GiB */
#define BOOTROM_VARS_MIN  (24u << 10)
#define BOOTROM_TOP	  (4ULL << 30)

struct bootrom {
	const char *rom_path;
	const uint8_t *rom; /* rom_len bytes, page aligned, read-only */
	size_t rom_len;
	const char *vars_path; /* NULL: an in-memory store */
	uint8_t *vars;	       /* vars_len bytes, page aligned; NULL: none */
	size_t vars_len;
	int vars_fd; /* -1 without a VARS file; locked with flock */
};

/*
 * Checks lpc.bootrom and lpc.bootvars and loads them: the ROM readable,
 * non-empty, a multiple of 4 KiB; VARS a writable file of at least 24 KiB
 * (a multiple of 4 KiB) that starts with an EFI firmware volume, not in
 * use by another VM (flock); both together at most 16 MiB; no
 * boot.kernel, boot.initrd or boot.cmdline beside them.  Without a VARS
 * file the store is a fresh empty one (bootrom_format_vars) of the size
 * OVMF's layout gives the ROM (the ROM rounded up to a power of two, less
 * the ROM).  Prints one "bhyve: ..." line per problem and returns -1; 0
 * when there is no boot ROM or all is well.  Writes nothing.
 */
int bootrom_setup(void);
/* The loaded boot ROM; NULL without one (or before bootrom_setup). */
const struct bootrom *bootrom_get(void);
/* Guest-physical addresses: the ROM ends at 4 GiB, VARS directly below. */
uint64_t bootrom_rom_gpa(const struct bootrom *br);
uint64_t bootrom_vars_gpa(const struct bootrom *br);

/*
 * Whether buf (len bytes) starts with an EFI firmware volume header (UEFI
 * PI spec, Vol. 3, 3.2.1): "_FVH" at offset 40, a header length that fits,
 * and a zero 16-bit checksum over the header.  false with the reason in
 * err.
 */
bool bootrom_vars_valid(const uint8_t *buf, size_t len, char *err,
			size_t errlen);
/*
 * Formats buf as an empty OVMF variable store of len bytes (a multiple of
 * 4 KiB, at least 24 KiB), byte for byte what OVMF's build produces for
 * that size (Debian's OVMF_VARS_4M.fd for 528 KiB): the non-volatile
 * storage firmware volume with an empty authenticated variable store,
 * the fault-tolerant-write working block, the rest erased (0xff).  -1 if
 * len is not such a size.
 */
int bootrom_format_vars(uint8_t *buf, size_t len);
/* The VARS size OVMF's layout gives a ROM of rom_len bytes (0: none). */
size_t bootrom_default_vars_len(size_t rom_len);

/* Drops the loaded state (tests). */
void bootrom_release(void);

#endif
