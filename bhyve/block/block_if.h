/*
 * The block backend (bhyve's block_if): a raw image file or a host block
 * device behind an asynchronous request queue, so that the thread that
 * submits (a vCPU running a queue notification) never waits on the disk.
 *
 * Two engines run the requests (docs/virtio-blk.md has the measurements):
 *   threads  a pool of worker threads doing preadv/pwritev/fdatasync
 *   uring    io_uring (liburing): one ring per backend and a completion
 *            thread; requests io_uring cannot do directly (bounced
 *            O_DIRECT I/O, BLKDISCARD, zero-writing fallbacks, short
 *            transfers) fall back to one worker thread.
 *
 * Configuration keys, read from the device's node (bhyve(8) names):
 *   path=FILE      image file or block device (required)
 *   ro             open read-only; writes fail with EROFS
 *   nocache        O_DIRECT (misaligned buffers are bounced)
 *   direct, sync   O_SYNC: every write is durable when it completes
 *   sectorsize=L[/P]  logical and physical sector size (powers of two,
 *                  512 .. 65536, P >= L)
 *   nodelete       no discard: blockif_candelete() is false
 * beehive extensions:
 *   engine=auto|threads|uring   (auto: uring when the kernel allows it and
 *                  can do the file's I/O inline, see blockif_file_nowait())
 *   workers=N      worker threads of the threads engine (1..64)
 *
 * Requests belong to the caller from submission until br_callback runs
 * (on a backend thread); the backend allocates nothing per request.
 */
#ifndef BLOCK_IF_H
#define BLOCK_IF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

/*
 * Segments one request may carry.  virtio-blk offers seg_max = this - 2
 * (header and status take a descriptor each) and a whole chain must fit its
 * 512-entry queue.  Linux sends up to max_sectors_kb (1280 KiB) in one
 * request; when the guest's buffer pages are not physically contiguous that
 * is up to 320 segments, so with 256 a 1 MiB O_DIRECT write became two
 * requests (254 pages, then 2), and the per-request cost dominates.
 */
#define BLOCKIF_IOV_MAX 512

enum blockif_op {
	BLOCKIF_OP_READ,
	BLOCKIF_OP_WRITE,
	BLOCKIF_OP_FLUSH,
	BLOCKIF_OP_DISCARD,
	BLOCKIF_OP_ZERO,
};

struct blockif_req {
	/* Filled by the caller before submission. */
	int br_iovcnt;
	off_t br_offset; /* bytes */
	size_t br_resid; /* bytes: the iovecs' total, or the range length */
	/* err is 0 or an errno value; runs on a backend thread. */
	void (*br_callback)(struct blockif_req *req, int err);
	void *br_param;
	struct iovec br_iov[BLOCKIF_IOV_MAX];

	/* Backend-private. */
	enum blockif_op br_op;
	bool br_may_unmap; /* BLOCKIF_OP_ZERO: punching a hole is fine */
	struct blockif_req *br_next;
};

struct blockif_ctxt;

/*
 * Opens the backend described by the keys of 'nvl'; 'ident' names it in
 * messages ("virtio-blk 0:4:0").  Prints one line and returns NULL on a
 * bad option or an unusable path.
 */
/*
 * "-s N,model,path[,opts]" for every disk model (virtio-blk, ahci, nvme):
 * path=..., then the generic options (legacy_config.h).
 */
int blockif_legacy_config(struct config_node *nvl, const char *opts);

struct blockif_ctxt *blockif_open(const struct config_node *nvl,
				  const char *ident);
/*
 * Before the VM exists: path= is set and names a regular file or block
 * device that can be opened as configured (ro or read-write).  0, or -1
 * with the reason in err.
 */
int blockif_check(const struct config_node *nvl, char *err, size_t errlen);
/* Waits for every submitted request, stops the threads, closes the file. */
void blockif_close(struct blockif_ctxt *bc);

/*
 * Queue a request: 0, or an errno value (EROFS, EINVAL for a range that is
 * misaligned or beyond the end) and the callback will not run.
 */
int blockif_read(struct blockif_ctxt *bc, struct blockif_req *req);
int blockif_write(struct blockif_ctxt *bc, struct blockif_req *req);
int blockif_flush(struct blockif_ctxt *bc, struct blockif_req *req);
/* br_offset/br_resid give the range; br_iovcnt is ignored. */
int blockif_discard(struct blockif_ctxt *bc, struct blockif_req *req);
int blockif_write_zeroes(struct blockif_ctxt *bc, struct blockif_req *req,
			 bool may_unmap);

/* Returns once every request submitted so far has called back. */
void blockif_drain(struct blockif_ctxt *bc);

off_t blockif_size(const struct blockif_ctxt *bc);
int blockif_sectsz(const struct blockif_ctxt *bc);
void blockif_psectsz(const struct blockif_ctxt *bc, int *size, int *off);
bool blockif_is_ro(const struct blockif_ctxt *bc);
bool blockif_candelete(const struct blockif_ctxt *bc);
/* "threads" or "uring": the engine actually running. */
const char *blockif_engine(const struct blockif_ctxt *bc);

/*
 * floor(log2(v)), 0 for v <= 1: the exponents disk models report for
 * sector sizes and their ratios (powers of two, checked at open).
 */
static inline unsigned
blockif_log2(unsigned v)
{
	unsigned r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

#endif
