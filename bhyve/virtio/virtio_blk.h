/*
 * virtio-blk's wire constants (virtio 1.2, 5.2) and the hooks its tests
 * and fuzzer use.  The device itself is bhyve/virtio/virtio_blk.c.
 */
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

struct pci_devinst;

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* Status byte values. */
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WZ_F_UNMAP 1u

#define VTBLK_SECTOR	  512
#define VTBLK_ID_BYTES	  20
#define VTBLK_MAX_QUEUES  16
#define VTBLK_MAX_DWZ_SEG 16

/* One discard/write-zeroes range (5.2.6). */
struct vtblk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

/* Counters since the device was built. */
struct vtblk_stats {
	uint64_t reads, writes, flushes, discards, zeroes;
	uint64_t ok, ioerr, unsupp, malformed;
	unsigned inflight;
};

void vtblk_get_stats(struct pci_devinst *pi, struct vtblk_stats *st);

/*
 * Validates a discard (discard = true) or write-zeroes segment list for a
 * disk of 'capacity' 512-byte sectors: VIRTIO_BLK_S_OK, _IOERR (count,
 * range, size) or _UNSUPP (flags).
 */
int vtblk_dwz_check(const struct vtblk_dwz_seg *segs, int nseg, int maxseg,
		    uint64_t capacity, bool discard);

#endif
