/*
 * The boot ROM's variable store as a CFI flash device (pflash.c), the
 * Intel/Sharp command set OVMF's QemuFlashFvbServicesRuntimeDxe drives:
 *
 *   0xff, 0xf0  read array           0x70  read status register
 *   0x10, 0x40  program (one write)  0x50  clear status, read array
 *   0x20, 0xd0  erase a 4 KiB block  0x90  read identifier
 *   0x98        CFI query
 *
 * In read-array mode the array is a read-only KVM slot, so the guest reads
 * it at memory speed and only writes (commands) exit; in any other mode
 * the slot is removed and every access comes here.  Programmed and erased
 * bytes go through to the VARS file (pwrite) when there is one, synced
 * (fdatasync) when the device returns to read-array mode and at the end.
 */
#ifndef PFLASH_H
#define PFLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmctx;
struct pflash;

#define PFLASH_BLOCK 4096u /* erase block, OVMF's FV block size */

/* Status register bits (Intel StrataFlash SR.7, SR.5, SR.4). */
#define PFLASH_SR_READY	      0x80
#define PFLASH_SR_ERASE_ERR   0x20
#define PFLASH_SR_PROGRAM_ERR 0x10

/*
 * A flash of len bytes (a multiple of 4 KiB) over array at gpa; fd the
 * file to write through to, or -1.  Maps the slot and registers the MMIO
 * range.  NULL after printing one line.
 */
struct pflash *pflash_create(struct vmctx *ctx, uint64_t gpa, uint8_t *array,
			     size_t len, int fd);
void pflash_destroy(struct pflash *fl);
/*
 * One guest access at offset off (size 1, 2, 4 or 8 bytes).  Anything
 * outside the array, or any sequence of commands, is handled: bad
 * sequences set an error status or fall back to read-array mode.  0.
 */
int pflash_access(struct pflash *fl, bool write, uint64_t off, int size,
		  uint64_t *val);
/* Whether the device is in read-array mode (its slot mapped). */
bool pflash_read_array(struct pflash *fl);

#endif
