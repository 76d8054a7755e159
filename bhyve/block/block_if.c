/*
 * The block backend: see block_if.h.  Durability follows POSIX: a request
 * calls back once the kernel has the data; BLOCKIF_OP_FLUSH is fdatasync(),
 * which makes every write that called back before it stable.
 */
#include "block_if.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "legacy_config.h"

#define BLOCKIF_WORKERS_DEF 4
#define BLOCKIF_WORKERS_MAX 64
#define BLOCKIF_RING_DEPTH  256
#define BLOCKIF_SECT_MIN    512
#define BLOCKIF_SECT_MAX    65536
/* Memory alignment O_DIRECT needs at most (a page covers every device). */
#define BLOCKIF_DIO_ALIGN  4096
#define BLOCKIF_ZERO_CHUNK (1u << 20)

enum blockif_engine_kind { BLOCKIF_ENGINE_THREADS, BLOCKIF_ENGINE_URING };

struct blockif_ctxt {
	int fd;
	bool ro, direct, candelete, isblk;
	off_t size;
	int sectsz, psectsz, psectoff;
	enum blockif_engine_kind engine;
	char ident[64];

	/* The worker pool (both engines: uring falls back to it). */
	pthread_mutex_t mtx;
	pthread_cond_t work_cv, idle_cv;
	struct blockif_req *head, **tailp;
	unsigned pending; /* submitted, callback not yet returned */
	bool stopping;
	int nworkers;
	pthread_t workers[BLOCKIF_WORKERS_MAX];

	/* io_uring. */
	bool ring_up;
	struct io_uring ring;
	pthread_mutex_t sq_mtx;
	pthread_t cq_thread;
};

/* user_data of the NOP that tells the completion thread to stop. */
#define BLOCKIF_URING_STOP 0

/* ---- options ---- */

static int
blockif_opt_bool(const struct config_node *nvl, const char *ident,
		 const char *name, bool *out)
{
	const char *v = get_config_value_node(nvl, name);
	bool ok;

	*out = false;
	if (v == NULL)
		return 0;
	*out = parse_config_bool(v, &ok);
	if (!ok) {
		fprintf(stderr,
			"bhyve: %s: invalid value '%s' for %s (want true or "
			"false)\n",
			ident, v, name);
		return -1;
	}
	return 0;
}

static bool
blockif_sect_ok(unsigned long v)
{
	return v >= BLOCKIF_SECT_MIN && v <= BLOCKIF_SECT_MAX &&
	       (v & (v - 1)) == 0;
}

/* "logical[/physical]": 0 and both sizes, or -1. */
static int
blockif_parse_sectorsize(const char *s, int *logical, int *physical)
{
	unsigned long l, p;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	l = strtoul(s, &end, 10);
	p = l;
	if (errno == 0 && *end == '/') {
		if (end[1] < '0' || end[1] > '9')
			return -1;
		p = strtoul(end + 1, &end, 10);
	}
	if (errno != 0 || *end != '\0' || !blockif_sect_ok(l) ||
	    !blockif_sect_ok(p) || p < l)
		return -1;
	*logical = (int)l;
	*physical = (int)p;
	return 0;
}

static int
blockif_parse_engine(const struct config_node *nvl, const char *ident,
		     int *want, int *workers)
{
	const char *e = get_config_value_node(nvl, "engine");
	const char *w = get_config_value_node(nvl, "workers");
	unsigned long n;
	char *end;

	*want = -1; /* auto */
	if (e == NULL || strcmp(e, "auto") == 0)
		;
	else if (strcmp(e, "threads") == 0)
		*want = BLOCKIF_ENGINE_THREADS;
	else if (strcmp(e, "uring") == 0)
		*want = BLOCKIF_ENGINE_URING;
	else {
		fprintf(stderr,
			"bhyve: %s: invalid engine '%s' (want auto, threads "
			"or uring)\n",
			ident, e);
		return -1;
	}
	*workers = BLOCKIF_WORKERS_DEF;
	if (w == NULL)
		return 0;
	errno = 0;
	n = strtoul(w, &end, 10);
	if (w[0] < '0' || w[0] > '9' || errno != 0 || *end != '\0' || n < 1 ||
	    n > BLOCKIF_WORKERS_MAX) {
		fprintf(stderr,
			"bhyve: %s: invalid workers '%s' (want 1..%d)\n", ident,
			w, BLOCKIF_WORKERS_MAX);
		return -1;
	}
	*workers = (int)n;
	return 0;
}

/* ---- the operations themselves (run on backend threads) ---- */

/* Drops the first n bytes of a request's iovecs after a short transfer. */
static void
blockif_iov_advance(struct blockif_req *req, size_t n)
{
	int i = 0;

	req->br_offset += (off_t)n;
	req->br_resid -= n;
	while (i < req->br_iovcnt && n >= req->br_iov[i].iov_len)
		n -= req->br_iov[i++].iov_len;
	if (i > 0) {
		memmove(req->br_iov, req->br_iov + i,
			(size_t)(req->br_iovcnt - i) * sizeof(req->br_iov[0]));
		req->br_iovcnt -= i;
	}
	if (req->br_iovcnt > 0 && n > 0) {
		req->br_iov[0].iov_base = (char *)req->br_iov[0].iov_base + n;
		req->br_iov[0].iov_len -= n;
	}
}

static bool
blockif_iov_aligned(const struct blockif_req *req, size_t align)
{
	int i;

	for (i = 0; i < req->br_iovcnt; i++)
		if (((uintptr_t)req->br_iov[i].iov_base |
		     req->br_iov[i].iov_len) &
		    (align - 1))
			return false;
	return true;
}

/* preadv/pwritev until done; a read at end of file is an error. */
static int
blockif_rw_direct(struct blockif_ctxt *bc, struct blockif_req *req)
{
	ssize_t n;

	while (req->br_resid > 0) {
		if (req->br_op == BLOCKIF_OP_READ)
			n = preadv(bc->fd, req->br_iov, req->br_iovcnt,
				   req->br_offset);
		else
			n = pwritev(bc->fd, req->br_iov, req->br_iovcnt,
				    req->br_offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		blockif_iov_advance(req, (size_t)n);
	}
	return 0;
}

/* O_DIRECT with guest buffers that are not aligned: one aligned copy. */
static int
blockif_rw_bounce(struct blockif_ctxt *bc, struct blockif_req *req)
{
	size_t len = req->br_resid, done = 0, off = 0;
	char *buf;
	ssize_t n;
	int i, err = 0;

	buf = aligned_alloc(BLOCKIF_DIO_ALIGN,
			    (len + BLOCKIF_DIO_ALIGN - 1) &
				~(size_t)(BLOCKIF_DIO_ALIGN - 1));
	if (buf == NULL)
		return ENOMEM;
	for (i = 0; req->br_op == BLOCKIF_OP_WRITE && i < req->br_iovcnt; i++) {
		memcpy(buf + off, req->br_iov[i].iov_base,
		       req->br_iov[i].iov_len);
		off += req->br_iov[i].iov_len;
	}
	while (done < len) {
		if (req->br_op == BLOCKIF_OP_READ)
			n = pread(bc->fd, buf + done, len - done,
				  req->br_offset + (off_t)done);
		else
			n = pwrite(bc->fd, buf + done, len - done,
				   req->br_offset + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	off = 0;
	for (i = 0;
	     err == 0 && req->br_op == BLOCKIF_OP_READ && i < req->br_iovcnt;
	     i++) {
		memcpy(req->br_iov[i].iov_base, buf + off,
		       req->br_iov[i].iov_len);
		off += req->br_iov[i].iov_len;
	}
	free(buf);
	return err;
}

static int
blockif_do_rw(struct blockif_ctxt *bc, struct blockif_req *req)
{
	if (bc->direct && !blockif_iov_aligned(req, BLOCKIF_SECT_MIN))
		return blockif_rw_bounce(bc, req);
	return blockif_rw_direct(bc, req);
}

static int
blockif_do_discard(struct blockif_ctxt *bc, struct blockif_req *req)
{
	uint64_t range[2] = {(uint64_t)req->br_offset, req->br_resid};
	int rc;

	if (bc->isblk)
		rc = ioctl(bc->fd, BLKDISCARD, range);
	else
		rc = fallocate(bc->fd,
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       req->br_offset, (off_t)req->br_resid);
	/* Discard is a hint (virtio 1.2, 5.2.6.2): the device MAY deallocate.
	 */
	if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOTTY))
		return 0;
	return rc == 0 ? 0 : errno;
}

static int
blockif_write_zero_buf(struct blockif_ctxt *bc, off_t off, size_t len)
{
	static const char zeros[BLOCKIF_DIO_ALIGN]
	    __attribute__((aligned(BLOCKIF_DIO_ALIGN)));
	struct iovec iov[BLOCKIF_ZERO_CHUNK / BLOCKIF_DIO_ALIGN];
	size_t chunk;
	ssize_t n;
	int i, cnt;

	while (len > 0) {
		chunk = len < BLOCKIF_ZERO_CHUNK ? len : BLOCKIF_ZERO_CHUNK;
		for (cnt = 0, i = 0; (size_t)i * sizeof(zeros) < chunk; i++) {
			iov[i].iov_base = (void *)zeros;
			iov[i].iov_len =
			    chunk - (size_t)i * sizeof(zeros) < sizeof(zeros)
				? chunk - (size_t)i * sizeof(zeros)
				: sizeof(zeros);
			cnt++;
		}
		n = pwritev(bc->fd, iov, cnt, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * After WRITE_ZEROES the range reads as zeroes (virtio 1.2, 5.2.6.2):
 * ZERO_RANGE where the file system or device has it, a hole when the
 * driver allows unmapping, else plain writes.
 */
static int
blockif_do_zero(struct blockif_ctxt *bc, struct blockif_req *req)
{
	if (fallocate(bc->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      req->br_offset, (off_t)req->br_resid) == 0)
		return 0;
	if (req->br_may_unmap && bc->candelete &&
	    fallocate(bc->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      req->br_offset, (off_t)req->br_resid) == 0)
		return 0;
	return blockif_write_zero_buf(bc, req->br_offset, req->br_resid);
}

static int
blockif_do(struct blockif_ctxt *bc, struct blockif_req *req)
{
	switch (req->br_op) {
	case BLOCKIF_OP_READ:
	case BLOCKIF_OP_WRITE:
		return blockif_do_rw(bc, req);
	case BLOCKIF_OP_FLUSH:
		return fdatasync(bc->fd) == 0 ? 0 : errno;
	case BLOCKIF_OP_DISCARD:
		return blockif_do_discard(bc, req);
	case BLOCKIF_OP_ZERO:
		return blockif_do_zero(bc, req);
	}
	return EINVAL;
}

/* ---- completion bookkeeping shared by both engines ---- */

static void
blockif_complete(struct blockif_ctxt *bc, struct blockif_req *req, int err)
{
	/* The callback may resubmit 'req'; it is not touched afterwards. */
	req->br_callback(req, err);
	pthread_mutex_lock(&bc->mtx);
	if (--bc->pending == 0)
		pthread_cond_broadcast(&bc->idle_cv);
	pthread_mutex_unlock(&bc->mtx);
}

/* ---- the worker pool ---- */

static void
blockif_pool_enqueue(struct blockif_ctxt *bc, struct blockif_req *req)
{
	pthread_mutex_lock(&bc->mtx);
	req->br_next = NULL;
	*bc->tailp = req;
	bc->tailp = &req->br_next;
	pthread_cond_signal(&bc->work_cv);
	pthread_mutex_unlock(&bc->mtx);
}

static void *
blockif_worker(void *arg)
{
	struct blockif_ctxt *bc = arg;
	struct blockif_req *req;

	pthread_mutex_lock(&bc->mtx);
	for (;;) {
		while (bc->head == NULL && !bc->stopping)
			pthread_cond_wait(&bc->work_cv, &bc->mtx);
		if (bc->head == NULL)
			break;
		req = bc->head;
		bc->head = req->br_next;
		if (bc->head == NULL)
			bc->tailp = &bc->head;
		pthread_mutex_unlock(&bc->mtx);
		blockif_complete(bc, req, blockif_do(bc, req));
		pthread_mutex_lock(&bc->mtx);
	}
	pthread_mutex_unlock(&bc->mtx);
	return NULL;
}

/* ---- io_uring ---- */

/* What the ring does itself; the rest goes to the pool. */
static bool
blockif_uring_can(struct blockif_ctxt *bc, struct blockif_req *req)
{
	switch (req->br_op) {
	case BLOCKIF_OP_READ:
	case BLOCKIF_OP_WRITE:
		return !bc->direct ||
		       blockif_iov_aligned(req, BLOCKIF_SECT_MIN);
	case BLOCKIF_OP_FLUSH:
		return true;
	case BLOCKIF_OP_DISCARD:
		return !bc->isblk;
	case BLOCKIF_OP_ZERO:
		return true;
	}
	return false;
}

static void
blockif_uring_prep(struct io_uring_sqe *sqe, struct blockif_ctxt *bc,
		   struct blockif_req *req)
{
	switch (req->br_op) {
	case BLOCKIF_OP_READ:
		io_uring_prep_readv(sqe, bc->fd, req->br_iov,
				    (unsigned)req->br_iovcnt,
				    (uint64_t)req->br_offset);
		break;
	case BLOCKIF_OP_WRITE:
		io_uring_prep_writev(sqe, bc->fd, req->br_iov,
				     (unsigned)req->br_iovcnt,
				     (uint64_t)req->br_offset);
		break;
	case BLOCKIF_OP_FLUSH:
		io_uring_prep_fsync(sqe, bc->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLOCKIF_OP_DISCARD:
		io_uring_prep_fallocate(
		    sqe, bc->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (uint64_t)req->br_offset, req->br_resid);
		break;
	case BLOCKIF_OP_ZERO:
		io_uring_prep_fallocate(
		    sqe, bc->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		    (uint64_t)req->br_offset, req->br_resid);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
}

static void
blockif_uring_submit(struct blockif_ctxt *bc, struct blockif_req *req)
{
	struct io_uring_sqe *sqe;

	pthread_mutex_lock(&bc->sq_mtx);
	while ((sqe = io_uring_get_sqe(&bc->ring)) == NULL)
		io_uring_submit(&bc->ring);
	if (req == NULL) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, BLOCKIF_URING_STOP);
	} else {
		blockif_uring_prep(sqe, bc, req);
	}
	io_uring_submit(&bc->ring);
	pthread_mutex_unlock(&bc->sq_mtx);
}

/*
 * One completion: done, or the remainder of a short transfer and the
 * cases io_uring could not do (no ZERO_RANGE, EAGAIN) go to the pool,
 * which finishes them the synchronous way.
 */
static void
blockif_uring_finish(struct blockif_ctxt *bc, struct blockif_req *req, int res)
{
	bool rw =
	    req->br_op == BLOCKIF_OP_READ || req->br_op == BLOCKIF_OP_WRITE;

	if (rw && res >= 0) {
		if ((size_t)res >= req->br_resid) {
			blockif_complete(bc, req, 0);
		} else if (res == 0) {
			/* Nothing moved: the file ended under the disk. */
			blockif_complete(bc, req, EIO);
		} else {
			blockif_iov_advance(req, (size_t)res);
			blockif_pool_enqueue(bc, req);
		}
		return;
	}
	if (res == -EAGAIN || res == -EINTR ||
	    (req->br_op == BLOCKIF_OP_ZERO && res < 0) ||
	    (req->br_op == BLOCKIF_OP_DISCARD && res == -EOPNOTSUPP)) {
		blockif_pool_enqueue(bc, req);
		return;
	}
	blockif_complete(bc, req, res < 0 ? -res : 0);
}

static void *
blockif_uring_reap(void *arg)
{
	struct blockif_ctxt *bc = arg;
	struct io_uring_cqe *cqe;
	struct blockif_req *req;
	int res;

	for (;;) {
		if (io_uring_wait_cqe(&bc->ring, &cqe) != 0)
			continue;
		req = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&bc->ring, cqe);
		if (req == NULL)
			break;
		blockif_uring_finish(bc, req, res);
	}
	return NULL;
}

/* 0, or an errno value. */
static int
blockif_uring_start(struct blockif_ctxt *bc)
{
	int rc = io_uring_queue_init(BLOCKIF_RING_DEPTH, &bc->ring, 0);

	if (rc < 0)
		return -rc;
	rc = pthread_create(&bc->cq_thread, NULL, blockif_uring_reap, bc);
	if (rc != 0) {
		io_uring_queue_exit(&bc->ring);
		return rc;
	}
	bc->ring_up = true;
	return 0;
}

/* ---- submission ---- */

static int
blockif_submit(struct blockif_ctxt *bc, struct blockif_req *req,
	       enum blockif_op op)
{
	req->br_op = op;
	pthread_mutex_lock(&bc->mtx);
	bc->pending++;
	pthread_mutex_unlock(&bc->mtx);
	if (bc->ring_up && blockif_uring_can(bc, req))
		blockif_uring_submit(bc, req);
	else
		blockif_pool_enqueue(bc, req);
	return 0;
}

/* The byte range must lie inside the disk and be whole logical sectors. */
static bool
blockif_range_ok(const struct blockif_ctxt *bc, off_t off, size_t len)
{
	if (off < 0 || len > (uint64_t)bc->size ||
	    (uint64_t)off > (uint64_t)bc->size - len)
		return false;
	return off % BLOCKIF_SECT_MIN == 0 && len % BLOCKIF_SECT_MIN == 0;
}

static int
blockif_rw(struct blockif_ctxt *bc, struct blockif_req *req, enum blockif_op op)
{
	size_t total = 0;
	int i;

	if (req->br_iovcnt < 1 || req->br_iovcnt > BLOCKIF_IOV_MAX)
		return EINVAL;
	for (i = 0; i < req->br_iovcnt; i++) {
		if (req->br_iov[i].iov_len > SIZE_MAX - total)
			return EINVAL;
		total += req->br_iov[i].iov_len;
	}
	if (total != req->br_resid ||
	    !blockif_range_ok(bc, req->br_offset, total))
		return EINVAL;
	return blockif_submit(bc, req, op);
}

int
blockif_read(struct blockif_ctxt *bc, struct blockif_req *req)
{
	return blockif_rw(bc, req, BLOCKIF_OP_READ);
}

int
blockif_write(struct blockif_ctxt *bc, struct blockif_req *req)
{
	if (bc->ro)
		return EROFS;
	return blockif_rw(bc, req, BLOCKIF_OP_WRITE);
}

int
blockif_flush(struct blockif_ctxt *bc, struct blockif_req *req)
{
	req->br_iovcnt = 0;
	req->br_resid = 0;
	return blockif_submit(bc, req, BLOCKIF_OP_FLUSH);
}

int
blockif_discard(struct blockif_ctxt *bc, struct blockif_req *req)
{
	if (bc->ro)
		return EROFS;
	if (!bc->candelete)
		return EOPNOTSUPP;
	if (req->br_resid == 0 ||
	    !blockif_range_ok(bc, req->br_offset, req->br_resid))
		return EINVAL;
	req->br_iovcnt = 0;
	return blockif_submit(bc, req, BLOCKIF_OP_DISCARD);
}

int
blockif_write_zeroes(struct blockif_ctxt *bc, struct blockif_req *req,
		     bool may_unmap)
{
	if (bc->ro)
		return EROFS;
	if (req->br_resid == 0 ||
	    !blockif_range_ok(bc, req->br_offset, req->br_resid))
		return EINVAL;
	req->br_iovcnt = 0;
	req->br_may_unmap = may_unmap;
	return blockif_submit(bc, req, BLOCKIF_OP_ZERO);
}

void
blockif_drain(struct blockif_ctxt *bc)
{
	pthread_mutex_lock(&bc->mtx);
	while (bc->pending > 0)
		pthread_cond_wait(&bc->idle_cv, &bc->mtx);
	pthread_mutex_unlock(&bc->mtx);
}

/* ---- open and close ---- */

/* Size and sector sizes of what fd refers to. */
static int
blockif_probe(struct blockif_ctxt *bc, const char *path)
{
	struct stat st;
	uint64_t bytes;
	int lss, pss;

	if (fstat(bc->fd, &st) != 0) {
		fprintf(stderr, "bhyve: %s: %s: %s\n", bc->ident, path,
			strerror(errno));
		return -1;
	}
	bc->sectsz = BLOCKIF_SECT_MIN;
	bc->psectsz = BLOCKIF_SECT_MIN;
	if (S_ISBLK(st.st_mode)) {
		bc->isblk = true;
		if (ioctl(bc->fd, BLKGETSIZE64, &bytes) != 0 ||
		    ioctl(bc->fd, BLKSSZGET, &lss) != 0 ||
		    ioctl(bc->fd, BLKPBSZGET, &pss) != 0) {
			fprintf(stderr,
				"bhyve: %s: %s: cannot query the block "
				"device: %s\n",
				bc->ident, path, strerror(errno));
			return -1;
		}
		bc->size = (off_t)bytes;
		bc->sectsz = lss;
		bc->psectsz = pss >= lss ? pss : lss;
	} else if (S_ISREG(st.st_mode)) {
		bc->size = st.st_size;
		/* The file system block is the unit a partial write costs. */
		if (blockif_sect_ok((unsigned long)st.st_blksize))
			bc->psectsz = (int)st.st_blksize;
	} else {
		fprintf(stderr,
			"bhyve: %s: %s: not a regular file or block device\n",
			bc->ident, path);
		return -1;
	}
	return 0;
}

static int
blockif_apply_sectorsize(struct blockif_ctxt *bc, const struct config_node *nvl)
{
	const char *ss = get_config_value_node(nvl, "sectorsize");
	int l, p;

	if (ss == NULL)
		return 0;
	if (blockif_parse_sectorsize(ss, &l, &p) != 0) {
		fprintf(stderr,
			"bhyve: %s: invalid sectorsize '%s' (want "
			"logical[/physical], powers of two from %d to "
			"%d)\n",
			bc->ident, ss, BLOCKIF_SECT_MIN, BLOCKIF_SECT_MAX);
		return -1;
	}
	if (bc->isblk && l < bc->sectsz) {
		fprintf(stderr,
			"bhyve: %s: sectorsize %d is below the device's "
			"sector size %d\n",
			bc->ident, l, bc->sectsz);
		return -1;
	}
	bc->sectsz = l;
	bc->psectsz = p;
	bc->psectoff = 0;
	return 0;
}

int
blockif_check(const struct config_node *nvl, char *err, size_t errlen)
{
	const char *path = get_config_value_node(nvl, "path");
	const char *ro_s = get_config_value_node(nvl, "ro");
	bool ro = false, ok = true;
	struct stat st;
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "no disk image (path=)");
		return -1;
	}
	if (ro_s != NULL)
		ro = parse_config_bool(ro_s, &ok);
	if (!ok) {
		snprintf(err, errlen, "invalid value '%s' for ro", ro_s);
		return -1;
	}
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "disk image %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen,
			 "disk image %s is not a regular file or block device",
			 path);
		return -1;
	}
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "disk image %s: %s%s", path,
			 strerror(errno),
			 !ro && (errno == EACCES || errno == EROFS)
			     ? " (add ,ro for a read-only disk)"
			     : "");
		return -1;
	}
	close(fd);
	return 0;
}

static int
blockif_open_file(struct blockif_ctxt *bc, const struct config_node *nvl)
{
	const char *path = get_config_value_node(nvl, "path");
	bool nocache, sync, direct, nodelete;
	int flags;

	if (path == NULL || path[0] == '\0') {
		fprintf(stderr, "bhyve: %s: no disk image (path=)\n",
			bc->ident);
		return -1;
	}
	if (blockif_opt_bool(nvl, bc->ident, "ro", &bc->ro) != 0 ||
	    blockif_opt_bool(nvl, bc->ident, "nocache", &nocache) != 0 ||
	    blockif_opt_bool(nvl, bc->ident, "sync", &sync) != 0 ||
	    blockif_opt_bool(nvl, bc->ident, "direct", &direct) != 0 ||
	    blockif_opt_bool(nvl, bc->ident, "nodelete", &nodelete) != 0)
		return -1;
	/* bhyve(8): "direct" and "sync" both open with O_SYNC. */
	flags = (bc->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		(nocache ? O_DIRECT : 0) | (sync || direct ? O_SYNC : 0);
	bc->fd = open(path, flags);
	if (bc->fd < 0 && !bc->ro && (errno == EROFS || errno == EACCES)) {
		fprintf(stderr, "bhyve: %s: %s is not writable: %s\n",
			bc->ident, path, strerror(errno));
		return -1;
	}
	if (bc->fd < 0) {
		fprintf(stderr, "bhyve: %s: cannot open %s: %s\n", bc->ident,
			path, strerror(errno));
		return -1;
	}
	bc->direct = nocache;
	bc->candelete = !nodelete && !bc->ro;
	if (blockif_probe(bc, path) != 0 ||
	    blockif_apply_sectorsize(bc, nvl) != 0)
		return -1;
	return 0;
}

/*
 * Whether the kernel can try I/O on this file without blocking: the check
 * io_uring makes before doing a read or write inline (RWF_NOWAIT is
 * refused with EOPNOTSUPP otherwise).  Where it cannot (tmpfs, for one),
 * io_uring hands every request to a worker thread of its own, one hand-off
 * more than the pool, which then is the faster engine (docs/virtio-blk.md).
 */
static bool
blockif_file_nowait(int fd)
{
	/* Aligned and whole sectors, so an O_DIRECT file accepts it. */
	static _Alignas(4096) unsigned char probe[4096];
	struct iovec iov = {probe, sizeof(probe)};

	return preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP;
}

static int
blockif_start_engine(struct blockif_ctxt *bc, int want, int workers)
{
	int i, err;

	bc->engine = BLOCKIF_ENGINE_THREADS;
	if (want == -1 && !blockif_file_nowait(bc->fd))
		want = BLOCKIF_ENGINE_THREADS;
	if (want != BLOCKIF_ENGINE_THREADS) {
		err = blockif_uring_start(bc);
		if (err == 0) {
			bc->engine = BLOCKIF_ENGINE_URING;
			/* Only fallbacks reach the pool. */
			workers = 1;
		} else if (want == BLOCKIF_ENGINE_URING) {
			fprintf(stderr,
				"bhyve: %s: io_uring is not available: %s\n",
				bc->ident, strerror(err));
			return -1;
		}
	}
	for (i = 0; i < workers; i++) {
		if (pthread_create(&bc->workers[i], NULL, blockif_worker, bc) !=
		    0) {
			fprintf(stderr,
				"bhyve: %s: cannot start worker threads\n",
				bc->ident);
			return -1;
		}
		bc->nworkers++;
	}
	return 0;
}

static void
blockif_stop(struct blockif_ctxt *bc)
{
	int i;

	if (bc->ring_up) {
		blockif_uring_submit(bc, NULL);
		pthread_join(bc->cq_thread, NULL);
		io_uring_queue_exit(&bc->ring);
		bc->ring_up = false;
	}
	pthread_mutex_lock(&bc->mtx);
	bc->stopping = true;
	pthread_cond_broadcast(&bc->work_cv);
	pthread_mutex_unlock(&bc->mtx);
	for (i = 0; i < bc->nworkers; i++)
		pthread_join(bc->workers[i], NULL);
	bc->nworkers = 0;
}

static void
blockif_free(struct blockif_ctxt *bc)
{
	blockif_stop(bc);
	if (bc->fd >= 0)
		close(bc->fd);
	pthread_mutex_destroy(&bc->mtx);
	pthread_mutex_destroy(&bc->sq_mtx);
	pthread_cond_destroy(&bc->work_cv);
	pthread_cond_destroy(&bc->idle_cv);
	free(bc);
}

struct blockif_ctxt *
blockif_open(const struct config_node *nvl, const char *ident)
{
	struct blockif_ctxt *bc;
	int want, workers;

	bc = calloc(1, sizeof(*bc));
	if (bc == NULL)
		return NULL;
	bc->fd = -1;
	snprintf(bc->ident, sizeof(bc->ident), "%s", ident);
	bc->tailp = &bc->head;
	pthread_mutex_init(&bc->mtx, NULL);
	pthread_mutex_init(&bc->sq_mtx, NULL);
	pthread_cond_init(&bc->work_cv, NULL);
	pthread_cond_init(&bc->idle_cv, NULL);
	if (blockif_parse_engine(nvl, bc->ident, &want, &workers) != 0 ||
	    blockif_open_file(bc, nvl) != 0 ||
	    blockif_start_engine(bc, want, workers) != 0) {
		blockif_free(bc);
		return NULL;
	}
	return bc;
}

void
blockif_close(struct blockif_ctxt *bc)
{
	if (bc == NULL)
		return;
	blockif_drain(bc);
	blockif_free(bc);
}

off_t
blockif_size(const struct blockif_ctxt *bc)
{
	return bc->size;
}

int
blockif_sectsz(const struct blockif_ctxt *bc)
{
	return bc->sectsz;
}

void
blockif_psectsz(const struct blockif_ctxt *bc, int *size, int *off)
{
	*size = bc->psectsz;
	*off = bc->psectoff;
}

bool
blockif_is_ro(const struct blockif_ctxt *bc)
{
	return bc->ro;
}

bool
blockif_candelete(const struct blockif_ctxt *bc)
{
	return bc->candelete;
}

const char *
blockif_engine(const struct blockif_ctxt *bc)
{
	return bc->engine == BLOCKIF_ENGINE_URING ? "uring" : "threads";
}

int
blockif_legacy_config(struct config_node *nvl, const char *opts)
{
	return legacy_config_positional(nvl, opts, "path");
}
