/*
 * The block backend against temporary image files, with both engines:
 * data round trips through scattered buffers, flush, discard punching
 * holes, write-zeroes, read-only refusal, range checks, O_DIRECT with
 * misaligned buffers, and many requests in flight at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "block_if.h"
#include "config.h"
#include "test.h"
#include "test_util.h"

#define IMG_SIZE (4u << 20)
#define NREQ	 64

struct waiter {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int done, errors, last_err;
};

static struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			  0, 0, 0};

static void
on_done(struct blockif_req *req, int err)
{
	pthread_mutex_lock(&w.mtx);
	w.done++;
	w.last_err = err;
	if (err != 0)
		w.errors++;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mtx);
}

static void
waiter_reset(void)
{
	pthread_mutex_lock(&w.mtx);
	w.done = w.errors = w.last_err = 0;
	pthread_mutex_unlock(&w.mtx);
}

/* Waits for n callbacks; returns the last error. */
static int
waiter_wait(int n)
{
	int err;

	pthread_mutex_lock(&w.mtx);
	while (w.done < n)
		pthread_cond_wait(&w.cv, &w.mtx);
	err = w.last_err;
	pthread_mutex_unlock(&w.mtx);
	return err;
}

static char img_path[64];

static void
img_create(void)
{
	int fd;

	snprintf(img_path, sizeof(img_path), "/tmp/test_block_if.XXXXXX");
	fd = mkstemp(img_path);
	if (fd < 0 || ftruncate(fd, IMG_SIZE) != 0) {
		perror("mkstemp");
		exit(1);
	}
	close(fd);
}

static struct config_node *
node_for(const char *name, const char *opts)
{
	struct config_node *n = create_config_node(name);

	set_config_value_node(n, "path", img_path);
	test_config_opts(n, opts);
	return n;
}

static int
do_sync(struct blockif_ctxt *bc, struct blockif_req *req,
	int (*fn)(struct blockif_ctxt *, struct blockif_req *))
{
	int rc;

	waiter_reset();
	req->br_callback = on_done;
	rc = fn(bc, req);
	if (rc != 0)
		return -rc;
	return waiter_wait(1);
}

static void
req_set(struct blockif_req *req, off_t off, void *a, size_t alen, void *b,
	size_t blen)
{
	memset(req, 0, sizeof(*req));
	req->br_offset = off;
	req->br_iov[0].iov_base = a;
	req->br_iov[0].iov_len = alen;
	req->br_iovcnt = 1;
	if (b != NULL) {
		req->br_iov[1].iov_base = b;
		req->br_iov[1].iov_len = blen;
		req->br_iovcnt = 2;
	}
	req->br_resid = alen + blen;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return false;
	return true;
}

static void
test_round_trip(struct blockif_ctxt *bc, const char *eng)
{
	static unsigned char wa[1536], wb[2560], r[4096];
	struct blockif_req req;
	char name[96];
	size_t i;

	for (i = 0; i < sizeof(wa); i++)
		wa[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < sizeof(wb); i++)
		wb[i] = (unsigned char)(i * 13 + 5);
	req_set(&req, 8192, wa, sizeof(wa), wb, sizeof(wb));
	snprintf(name, sizeof(name), "%s: write of two segments", eng);
	CHECK(do_sync(bc, &req, blockif_write) == 0, name);
	memset(r, 0, sizeof(r));
	req_set(&req, 8192, r, 512, r + 512, sizeof(r) - 512);
	snprintf(name, sizeof(name), "%s: read back", eng);
	CHECK(do_sync(bc, &req, blockif_read) == 0, name);
	snprintf(name, sizeof(name), "%s: read data equals written", eng);
	CHECK(memcmp(r, wa, sizeof(wa)) == 0 &&
		  memcmp(r + sizeof(wa), wb, sizeof(wb)) == 0,
	      name);
	snprintf(name, sizeof(name), "%s: flush", eng);
	CHECK(do_sync(bc, &req, blockif_flush) == 0, name);
}

static void
test_ranges(struct blockif_ctxt *bc, const char *eng)
{
	static unsigned char buf[4096];
	struct blockif_req req;
	char name[96];

	req_set(&req, IMG_SIZE - 512, buf, 1024, NULL, 0);
	snprintf(name, sizeof(name), "%s: read past the end refused", eng);
	CHECK(blockif_read(bc, &req) == EINVAL, name);
	req_set(&req, IMG_SIZE, buf, 512, NULL, 0);
	CHECK(blockif_write(bc, &req) == EINVAL, name);
	req_set(&req, 100, buf, 512, NULL, 0);
	snprintf(name, sizeof(name), "%s: unaligned offset refused", eng);
	CHECK(blockif_read(bc, &req) == EINVAL, name);
	req_set(&req, 0, buf, 512, NULL, 0);
	req.br_resid = 1024;
	snprintf(name, sizeof(name), "%s: resid must match the iovecs", eng);
	CHECK(blockif_read(bc, &req) == EINVAL, name);
	req_set(&req, 0, buf, 512, NULL, 0);
	req.br_offset = -512;
	snprintf(name, sizeof(name), "%s: negative offset refused", eng);
	CHECK(blockif_read(bc, &req) == EINVAL, name);
	memset(&req, 0, sizeof(req));
	req.br_offset = (off_t)1 << 62;
	req.br_resid = SIZE_MAX - 511;
	snprintf(name, sizeof(name), "%s: huge discard refused", eng);
	CHECK(blockif_discard(bc, &req) == EINVAL, name);
}

static blkcnt_t
img_blocks(void)
{
	struct stat st;

	return stat(img_path, &st) == 0 ? st.st_blocks : -1;
}

static bool
img_range_is_hole(off_t off)
{
	int fd = open(img_path, O_RDONLY);
	off_t h;

	h = fd >= 0 ? lseek(fd, off, SEEK_HOLE) : -1;
	if (fd >= 0)
		close(fd);
	return h == off;
}

static void
test_discard_zero(struct blockif_ctxt *bc, const char *eng)
{
	static unsigned char buf[1 << 20];
	struct blockif_req req;
	blkcnt_t before;
	char name[96];

	memset(buf, 0xa5, sizeof(buf));
	req_set(&req, 1 << 20, buf, sizeof(buf), NULL, 0);
	CHECK(do_sync(bc, &req, blockif_write) == 0 &&
		  do_sync(bc, &req, blockif_flush) == 0,
	      "write 1 MiB to discard");
	before = img_blocks();
	memset(&req, 0, sizeof(req));
	req.br_offset = 1 << 20;
	req.br_resid = 1 << 20;
	snprintf(name, sizeof(name), "%s: discard", eng);
	CHECK(do_sync(bc, &req, blockif_discard) == 0, name);
	snprintf(name, sizeof(name), "%s: discard frees blocks", eng);
	CHECK(img_blocks() + 2048 <= before, name);
	snprintf(name, sizeof(name), "%s: discarded range is a hole", eng);
	CHECK(img_range_is_hole(1 << 20), name);
	memset(buf, 0xff, sizeof(buf));
	req_set(&req, 1 << 20, buf, sizeof(buf), NULL, 0);
	snprintf(name, sizeof(name), "%s: discarded range reads zero", eng);
	CHECK(do_sync(bc, &req, blockif_read) == 0 &&
		  all_zero(buf, sizeof(buf)),
	      name);

	memset(buf, 0x3c, sizeof(buf));
	req_set(&req, 2 << 20, buf, sizeof(buf), NULL, 0);
	CHECK(do_sync(bc, &req, blockif_write) == 0, "write 1 MiB to zero");
	memset(&req, 0, sizeof(req));
	req.br_offset = (2 << 20) + 4096;
	req.br_resid = 8192;
	req.br_callback = on_done;
	waiter_reset();
	snprintf(name, sizeof(name), "%s: write zeroes", eng);
	CHECK(blockif_write_zeroes(bc, &req, false) == 0 && waiter_wait(1) == 0,
	      name);
	req_set(&req, 2 << 20, buf, 16384, NULL, 0);
	snprintf(name, sizeof(name), "%s: only the zeroed range reads zero",
		 eng);
	CHECK(do_sync(bc, &req, blockif_read) == 0 && buf[4095] == 0x3c &&
		  all_zero(buf + 4096, 8192) && buf[12288] == 0x3c,
	      name);
}

/* NREQ writes in flight at once, then read back and drained. */
static void
test_many(struct blockif_ctxt *bc, const char *eng)
{
	static struct blockif_req reqs[NREQ];
	static unsigned char data[NREQ][4096], back[NREQ][4096];
	char name[96];
	int i, rc = 0, bad = 0;

	waiter_reset();
	for (i = 0; i < NREQ; i++) {
		memset(data[i], i + 1, sizeof(data[i]));
		req_set(&reqs[i], (off_t)i * 4096, data[i], 4096, NULL, 0);
		reqs[i].br_callback = on_done;
		rc |= blockif_write(bc, &reqs[i]);
	}
	blockif_drain(bc);
	snprintf(name, sizeof(name), "%s: %d writes in flight complete", eng,
		 NREQ);
	CHECK(rc == 0 && w.done == NREQ && w.errors == 0, name);
	waiter_reset();
	for (i = 0; i < NREQ; i++) {
		req_set(&reqs[i], (off_t)i * 4096, back[i], 4096, NULL, 0);
		reqs[i].br_callback = on_done;
		rc |= blockif_read(bc, &reqs[i]);
	}
	waiter_wait(NREQ);
	for (i = 0; i < NREQ; i++)
		bad += memcmp(back[i], data[i], 4096) != 0;
	snprintf(name, sizeof(name), "%s: %d reads in flight match", eng, NREQ);
	CHECK(rc == 0 && bad == 0 && w.errors == 0, name);
}

static void
test_engine(const char *eng)
{
	struct blockif_ctxt *bc;
	char node[64], opts[64], name[96];

	snprintf(node, sizeof(node), "pci.0.%d.0", eng[0] == 't' ? 1 : 2);
	snprintf(opts, sizeof(opts), "engine=%s", eng);
	bc = blockif_open(node_for(node, opts), "test");
	snprintf(name, sizeof(name), "%s: open", eng);
	CHECK(bc != NULL, name);
	if (bc == NULL)
		return;
	CHECK_STR(blockif_engine(bc), eng, "engine as asked");
	CHECK_EQ_U64(blockif_size(bc), IMG_SIZE, "size from fstat");
	CHECK_EQ_U64(blockif_sectsz(bc), 512, "default logical sector");
	test_round_trip(bc, eng);
	test_ranges(bc, eng);
	test_discard_zero(bc, eng);
	test_many(bc, eng);
	blockif_close(bc);
}

static void
test_options(void)
{
	struct blockif_ctxt *bc;
	struct blockif_req req;
	unsigned char buf[512] = {0};
	int ps, po;

	bc = blockif_open(node_for("pci.0.3.0", "ro"), "test");
	CHECK(bc != NULL && blockif_is_ro(bc), "ro opens read-only");
	if (bc != NULL) {
		req_set(&req, 0, buf, sizeof(buf), NULL, 0);
		CHECK(blockif_write(bc, &req) == EROFS, "ro refuses writes");
		req.br_resid = 512;
		CHECK(blockif_discard(bc, &req) == EROFS, "ro refuses discard");
		CHECK(!blockif_candelete(bc), "ro cannot delete");
		blockif_close(bc);
	}
	bc = blockif_open(node_for("pci.0.4.0", "sectorsize=4096/16384"),
			  "test");
	CHECK(bc != NULL, "sectorsize=4096/16384 accepted");
	if (bc != NULL) {
		blockif_psectsz(bc, &ps, &po);
		CHECK(blockif_sectsz(bc) == 4096 && ps == 16384 && po == 0,
		      "sectorsize sets logical and physical");
		blockif_close(bc);
	}
	bc = blockif_open(node_for("pci.0.5.0", "nodelete"), "test");
	CHECK(bc != NULL && !blockif_candelete(bc), "nodelete");
	if (bc != NULL) {
		memset(&req, 0, sizeof(req));
		req.br_resid = 512;
		CHECK(blockif_discard(bc, &req) == EOPNOTSUPP,
		      "nodelete refuses discard");
		blockif_close(bc);
	}
	CHECK(blockif_open(node_for("pci.0.6.0", "sectorsize=1000"), "t") ==
		  NULL,
	      "sectorsize not a power of two refused");
	CHECK(blockif_open(node_for("pci.0.7.0", "sectorsize=4096/512"), "t") ==
		  NULL,
	      "physical below logical refused");
	CHECK(blockif_open(node_for("pci.0.8.0", "sectorsize=256"), "t") ==
		  NULL,
	      "sectorsize below 512 refused");
	CHECK(blockif_open(node_for("pci.0.9.0", "engine=spdk"), "t") == NULL,
	      "unknown engine refused");
	CHECK(blockif_open(node_for("pci.0.10.0", "ro=maybe"), "t") == NULL,
	      "malformed boolean refused");
	CHECK(blockif_open(node_for("pci.0.11.0", "workers=0"), "t") == NULL,
	      "workers=0 refused");
	CHECK(blockif_open(create_config_node("pci.0.12.0"), "t") == NULL,
	      "missing path refused");
	set_config_value_node(create_config_node("pci.0.13.0"), "path",
			      "/nonexistent/disk.img");
	CHECK(blockif_open(find_config_node("pci.0.13.0"), "t") == NULL,
	      "missing file refused");
	set_config_value_node(create_config_node("pci.0.14.0"), "path", "/tmp");
	CHECK(blockif_open(find_config_node("pci.0.14.0"), "t") == NULL,
	      "directory refused");
}

/* nocache = O_DIRECT: misaligned guest buffers are bounced. */
static void
test_nocache(const char *eng)
{
	static unsigned char big[8192 + 1];
	struct blockif_ctxt *bc;
	struct blockif_req req;
	unsigned char *mis = big + 1;
	char node[32], opts[64], name[96];
	size_t i;

	snprintf(node, sizeof(node), "pci.0.%d.0", eng[0] == 't' ? 15 : 16);
	snprintf(opts, sizeof(opts), "nocache,engine=%s", eng);
	bc = blockif_open(node_for(node, opts), "test");
	snprintf(name, sizeof(name), "%s: nocache opens with O_DIRECT", eng);
	CHECK(bc != NULL, name);
	if (bc == NULL)
		return;
	for (i = 0; i < 4096; i++)
		mis[i] = (unsigned char)(i ^ 0x5a);
	req_set(&req, 65536, mis, 4096, NULL, 0);
	snprintf(name, sizeof(name), "%s: O_DIRECT misaligned write", eng);
	CHECK(do_sync(bc, &req, blockif_write) == 0, name);
	memset(big, 0, sizeof(big));
	req_set(&req, 65536, mis, 512, mis + 512, 3584);
	snprintf(name, sizeof(name), "%s: O_DIRECT misaligned read back", eng);
	CHECK(do_sync(bc, &req, blockif_read) == 0 && mis[0] == 0x5a &&
		  mis[4095] == (unsigned char)(4095 ^ 0x5a),
	      name);
	blockif_close(bc);
}

/* What the kernel says of RWF_NOWAIT on PATH: 1 tried, 0 refused. */
static int
nowait_supported(const char *path)
{
	static _Alignas(4096) unsigned char buf[4096];
	struct iovec iov = {buf, sizeof(buf)};
	int fd = open(path, O_RDONLY), ok;

	if (fd < 0)
		return -1;
	ok = preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP;
	close(fd);
	return ok;
}

/*
 * engine=auto takes io_uring only for files the kernel can do I/O on
 * without blocking: an image in /tmp (ext4 here) and one on tmpfs
 * (/dev/shm), which refuses RWF_NOWAIT.
 */
static void
test_auto_engine(const char *dir, const char *node)
{
	char path[64], name[128];
	struct blockif_ctxt *bc;
	struct config_node *n;
	int fd, nowait;

	snprintf(path, sizeof(path), "%s/test_block_if.XXXXXX", dir);
	fd = mkstemp(path);
	snprintf(name, sizeof(name), "auto on %s: image created", dir);
	CHECK(fd >= 0 && ftruncate(fd, IMG_SIZE) == 0, name);
	if (fd < 0)
		return;
	close(fd);
	nowait = nowait_supported(path);
	n = create_config_node(node);
	set_config_value_node(n, "path", path);
	bc = blockif_open(n, "test");
	snprintf(name, sizeof(name), "auto on %s: %s (RWF_NOWAIT %s)", dir,
		 nowait ? "uring" : "threads", nowait ? "tried" : "refused");
	CHECK(bc != NULL && nowait >= 0 &&
		  strcmp(blockif_engine(bc), nowait ? "uring" : "threads") == 0,
	      name);
	if (bc != NULL)
		blockif_close(bc);
	unlink(path);
}

int
main(void)
{
	init_config();
	img_create();
	test_options();
	test_engine("threads");
	test_engine("uring");
	test_nocache("threads");
	test_nocache("uring");
	test_auto_engine("/tmp", "pci.0.17.0");
	test_auto_engine("/dev/shm", "pci.0.18.0");
	unlink(img_path);
	fini_config();
	return test_done();
}
