/*
 * virtio-blk's request handling on a detached VM (guest RAM, no KVM):
 * rings and requests are written into guest memory as a driver would,
 * the queue is kicked through the device's notify hook, and the status
 * byte, used ring and image file are checked.  Both backend engines.
 * Also: FLUSH durability across kill -9 of the process (a forked child).
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtqueue.h"
#include "vmmapi.h"

#define MEM_SIZE (64u << 20)
#define IMG_SIZE (8u << 20)
#define QSIZE	 64
#define BUF_GPA	 0x1000000ULL /* data buffers from 16 MiB */

/* Feature bits (virtio 1.2, 5.2.3). */
#define F_SEG_MAX      (1ULL << 2)
#define F_RO	       (1ULL << 5)
#define F_BLK_SIZE     (1ULL << 6)
#define F_FLUSH	       (1ULL << 9)
#define F_TOPOLOGY     (1ULL << 10)
#define F_MQ	       (1ULL << 12)
#define F_DISCARD      (1ULL << 13)
#define F_WRITE_ZEROES (1ULL << 14)

static struct vmctx *ctx;

struct tdev {
	struct pci_devinst *pi;
	struct virtio_softc *vs;
	int q;
	struct test_vring r;
	int slot;
	char img[64];
};

static int
img_fd(const struct tdev *d)
{
	return open(d->img, O_RDWR);
}

static void
img_make(char *path, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/test_vtblk.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		perror("image");
		exit(1);
	}
	close(fd);
}

static void
gfill(uint64_t gpa, int c, size_t n)
{
	memset(vm_map_gpa(ctx, gpa, n), c, n);
}

static uint8_t
gbyte(uint64_t gpa)
{
	uint8_t b;

	test_gget(ctx, gpa, &b, 1);
	return b;
}

/* Builds a device at slot from extra "k=v,..." options; NULL on failure. */
static bool
tdev_config(struct tdev *d, int slot, const char *opts)
{
	char node[32];
	struct config_node *n;

	img_make(d->img, IMG_SIZE);
	snprintf(node, sizeof(node), "pci.0.%d.0", slot);
	n = create_config_node(node);
	set_config_value_node(n, "device", "virtio-blk");
	set_config_value_node(n, "path", d->img);
	test_config_opts(n, opts);
	return true;
}

/* After init_pci: negotiate everything offered and enable queue q. */
static bool
tdev_start(struct tdev *d, int slot, int q)
{
	uint64_t base = 0x100000ULL * (uint64_t)(slot + 1);
	int rc;

	d->pi = pci_emul_find_dev(0, slot, 0);
	if (d->pi == NULL)
		return false;
	d->vs = d->pi->pi_arg;
	d->slot = slot;
	d->q = q;
	d->r.avail_idx = d->r.used_seen = d->r.next_desc = 0;
	d->r.desc = base;
	d->r.avail = base + 0x4000;
	d->r.used = base + 0x8000;
	/* Fresh rings, as a driver allocates them (memory is reused). */
	gfill(base, 0, 0x10000);
	virtio_lock(d->vs);
	d->vs->vs_negotiated_caps = d->vs->vs_hv_caps;
	d->vs->vs_status =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	rc = vq_setup_test(d->vs, q, QSIZE, d->r.desc, d->r.avail, d->r.used);
	virtio_unlock(d->vs);
	return rc == 0;
}

/* Writes a chain into the descriptor table and makes it available. */
static uint16_t
tdev_post(struct tdev *d, const struct test_seg *s, int n)
{
	return test_vring_post(ctx, &d->r, QSIZE, s, n);
}

static void
tdev_kick(struct tdev *d)
{
	virtio_lock(d->vs);
	d->vs->vs_vc->vc_qnotify(d->vs->vs_sc, &d->vs->vs_queues[d->q]);
	virtio_unlock(d->vs);
}

/* Waits until the used index reaches 'want'; false after 10 s. */
static bool
tdev_wait_used(struct tdev *d, uint16_t want)
{
	volatile uint16_t *idx = vm_map_gpa(ctx, d->r.used + 2, 2);
	int i;

	for (i = 0; i < 100000; i++) {
		if (*idx == want)
			return true;
		usleep(100);
	}
	return false;
}

/* Posts one chain, kicks, waits; returns the used length (-1: none). */
static long
tdev_run(struct tdev *d, const struct test_seg *s, int n)
{
	struct vring_used_elem ue;
	uint16_t head = tdev_post(d, s, n);

	tdev_kick(d);
	if (!tdev_wait_used(d, (uint16_t)(d->r.used_seen + 1)))
		return -1;
	test_gget(ctx, d->r.used + 4 + 8ULL * (d->r.used_seen % QSIZE), &ue,
		  sizeof(ue));
	d->r.used_seen++;
	return ue.id == head ? (long)ue.len : -2;
}

/* Guest-memory scratch: header at H, data at D, status at S. */
#define H_GPA  (BUF_GPA)
#define S_GPA  (BUF_GPA + 0x100)
#define D_GPA  (BUF_GPA + 0x10000)
#define D2_GPA (BUF_GPA + 0x200000)

static void
put_hdr(uint32_t type, uint64_t sector)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} h = {type, 0, sector};

	test_gput(ctx, H_GPA, &h, sizeof(h));
	gfill(S_GPA, 0xee, 1);
}

/* A 3-descriptor request: header, data (dir), status. */
static long
rq3(struct tdev *d, uint32_t type, uint64_t sector, uint64_t dgpa,
    uint32_t dlen, bool dwrite)
{
	struct test_seg s[3] = {
	    {H_GPA, 16, false}, {dgpa, dlen, dwrite}, {S_GPA, 1, true}};

	put_hdr(type, sector);
	if (dlen == 0) {
		s[1] = s[2];
		return tdev_run(d, s, 2);
	}
	return tdev_run(d, s, 3);
}

static uint32_t
cfg32(struct tdev *d, int off)
{
	uint32_t v = 0;

	d->vs->vs_vc->vc_cfgread(d->vs->vs_sc, off, 4, &v);
	return v;
}

static void
test_config(struct tdev *d, const char *eng)
{
	uint64_t f = d->vs->vs_hv_caps, cap;
	char name[96];

	snprintf(name, sizeof(name),
		 "%s: features SEG_MAX BLK_SIZE FLUSH "
		 "TOPOLOGY DISCARD WRITE_ZEROES",
		 eng);
	CHECK((f & (F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_TOPOLOGY | F_DISCARD |
		    F_WRITE_ZEROES)) ==
		      (F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_TOPOLOGY |
		       F_DISCARD | F_WRITE_ZEROES) &&
		  !(f & (F_RO | F_MQ)),
	      name);
	cap = cfg32(d, 0) | (uint64_t)cfg32(d, 4) << 32;
	CHECK_EQ_U64(cap, IMG_SIZE / 512, "config: capacity in sectors");
	CHECK_EQ_U64(cfg32(d, 12), 510, "config: seg_max (queue size - 2)");
	CHECK_EQ_U64(cfg32(d, 20), 512, "config: blk_size");
	CHECK_EQ_U64(cfg32(d, 40), VTBLK_MAX_DWZ_SEG,
		     "config: max_discard_seg");
	CHECK_EQ_U64(cfg32(d, 56) & 0xff, 1, "config: write_zeroes_may_unmap");
}

static void
test_rw(struct tdev *d, const char *eng)
{
	static uint8_t pat[8192], back[8192];
	char name[96];
	long len;
	int fd;
	size_t i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 31 + 7);
	test_gput(ctx, D_GPA, pat, sizeof(pat));
	snprintf(name, sizeof(name), "%s: OUT 8 KiB at sector 8", eng);
	len = rq3(d, VIRTIO_BLK_T_OUT, 8, D_GPA, 8192, false);
	CHECK(len == 1 && gbyte(S_GPA) == VIRTIO_BLK_S_OK, name);
	fd = img_fd(d);
	memset(back, 0, sizeof(back));
	snprintf(name, sizeof(name), "%s: image holds the data written", eng);
	CHECK(pread(fd, back, sizeof(back), 8 * 512) == (ssize_t)sizeof(back) &&
		  memcmp(back, pat, sizeof(pat)) == 0,
	      name);
	close(fd);

	gfill(D2_GPA, 0, 8192);
	snprintf(name, sizeof(name), "%s: IN 8 KiB reads it back", eng);
	len = rq3(d, VIRTIO_BLK_T_IN, 8, D2_GPA, 8192, true);
	test_gget(ctx, D2_GPA, back, sizeof(back));
	CHECK(len == 8193 && gbyte(S_GPA) == VIRTIO_BLK_S_OK &&
		  memcmp(back, pat, sizeof(pat)) == 0,
	      name);

	/* ANY_LAYOUT: header+data in one buffer, data+status in another. */
	{
		struct test_seg s[2] = {{H_GPA, 16, false},
					{D2_GPA, 4097, true}};

		put_hdr(VIRTIO_BLK_T_IN, 9);
		gfill(D2_GPA, 0, 4097);
		len = tdev_run(d, s, 2);
		test_gget(ctx, D2_GPA, back, 4096);
		snprintf(name, sizeof(name),
			 "%s: IN with data and status in "
			 "one buffer",
			 eng);
		CHECK(len == 4097 && gbyte(D2_GPA + 4096) == 0 &&
			  memcmp(back, pat + 512, 4096) == 0,
		      name);
	}
	{
		uint8_t hdr[16 + 512];
		struct test_seg s[2] = {{D_GPA, sizeof(hdr), false},
					{S_GPA, 1, true}};
		struct {
			uint32_t type, reserved;
			uint64_t sector;
		} h = {VIRTIO_BLK_T_OUT, 0, 100};

		memcpy(hdr, &h, 16);
		memset(hdr + 16, 0x77, 512);
		test_gput(ctx, D_GPA, hdr, sizeof(hdr));
		gfill(S_GPA, 0xee, 1);
		len = tdev_run(d, s, 2);
		fd = img_fd(d);
		back[0] = 0;
		snprintf(name, sizeof(name),
			 "%s: OUT with header and data in "
			 "one buffer",
			 eng);
		CHECK(len == 1 && gbyte(S_GPA) == 0 &&
			  pread(fd, back, 512, 100 * 512) == 512 &&
			  back[0] == 0x77 && back[511] == 0x77,
		      name);
		close(fd);
	}
	snprintf(name, sizeof(name), "%s: FLUSH", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_OK,
	      name);
}

static void
test_get_id(struct tdev *d, const char *eng, const char *want)
{
	char id[24] = {0}, name[96];
	long len;

	gfill(D_GPA, 0x55, 32);
	len = rq3(d, VIRTIO_BLK_T_GET_ID, 0, D_GPA, 20, true);
	test_gget(ctx, D_GPA, id, 20);
	snprintf(name, sizeof(name), "%s: GET_ID returns the serial", eng);
	CHECK(len == 21 && gbyte(S_GPA) == 0 && strncmp(id, want, 20) == 0,
	      name);
	gfill(D_GPA, 0x55, 32);
	len = rq3(d, VIRTIO_BLK_T_GET_ID, 0, D_GPA, 4, true);
	snprintf(name, sizeof(name), "%s: GET_ID into 4 bytes writes 4", eng);
	CHECK(len == 5 && gbyte(D_GPA + 3) == (uint8_t)want[3] &&
		  gbyte(D_GPA + 4) == 0x55,
	      name);
}

/* A discard/write-zeroes request with segments at D_GPA. */
static long
dwz(struct tdev *d, uint32_t type, const struct vtblk_dwz_seg *segs, int n)
{
	test_gput(ctx, D_GPA, segs, sizeof(*segs) * (size_t)n);
	return rq3(d, type, 0, D_GPA, (uint32_t)(sizeof(*segs) * (size_t)n),
		   false);
}

static void
test_discard_zero(struct tdev *d, const char *eng)
{
	static uint8_t ones[1 << 20], back[1 << 20];
	struct vtblk_dwz_seg s[VTBLK_MAX_DWZ_SEG + 1];
	char name[96];
	struct stat st0, st1;
	int fd, i;
	bool zero;

	memset(ones, 0xa1, sizeof(ones));
	fd = img_fd(d);
	CHECK(pwrite(fd, ones, sizeof(ones), 2 << 20) == sizeof(ones) &&
		  fsync(fd) == 0 && fstat(fd, &st0) == 0,
	      "fill 1 MiB of the image");
	s[0] = (struct vtblk_dwz_seg){(2 << 20) / 512, 2048, 0};
	snprintf(name, sizeof(name), "%s: DISCARD 1 MiB", eng);
	CHECK(dwz(d, VIRTIO_BLK_T_DISCARD, s, 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_OK,
	      name);
	snprintf(name, sizeof(name), "%s: DISCARD punched a hole", eng);
	CHECK(fstat(fd, &st1) == 0 && st1.st_blocks + 2048 <= st0.st_blocks &&
		  lseek(fd, 2 << 20, SEEK_HOLE) == (2 << 20),
	      name);

	CHECK(pwrite(fd, ones, sizeof(ones), 3 << 20) == sizeof(ones),
	      "fill another 1 MiB");
	s[0] = (struct vtblk_dwz_seg){(3 << 20) / 512 + 8, 16, 0};
	s[1] = (struct vtblk_dwz_seg){(3 << 20) / 512 + 64, 8,
				      VIRTIO_BLK_WZ_F_UNMAP};
	snprintf(name, sizeof(name), "%s: WRITE_ZEROES of two segments", eng);
	CHECK(dwz(d, VIRTIO_BLK_T_WRITE_ZEROES, s, 2) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_OK,
	      name);
	CHECK(pread(fd, back, sizeof(back), 3 << 20) == sizeof(back),
	      "read zeroed range");
	zero = true;
	for (i = 8 * 512; i < 24 * 512; i++)
		zero = zero && back[i] == 0;
	for (i = 64 * 512; i < 72 * 512; i++)
		zero = zero && back[i] == 0;
	snprintf(name, sizeof(name),
		 "%s: WRITE_ZEROES zeroed exactly the "
		 "segments",
		 eng);
	CHECK(zero && back[8 * 512 - 1] == 0xa1 && back[24 * 512] == 0xa1 &&
		  back[64 * 512 - 1] == 0xa1 && back[72 * 512] == 0xa1,
	      name);
	close(fd);

	s[0] = (struct vtblk_dwz_seg){0, 8, VIRTIO_BLK_WZ_F_UNMAP};
	snprintf(name, sizeof(name), "%s: DISCARD with unmap flag: UNSUPP",
		 eng);
	CHECK(dwz(d, VIRTIO_BLK_T_DISCARD, s, 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_UNSUPP,
	      name);
	s[0] = (struct vtblk_dwz_seg){0, 8, 0x80};
	snprintf(name, sizeof(name), "%s: unknown segment flag: UNSUPP", eng);
	CHECK(dwz(d, VIRTIO_BLK_T_WRITE_ZEROES, s, 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_UNSUPP,
	      name);
	s[0] = (struct vtblk_dwz_seg){IMG_SIZE / 512 - 4, 8, 0};
	snprintf(name, sizeof(name), "%s: segment past the end: IOERR", eng);
	CHECK(dwz(d, VIRTIO_BLK_T_DISCARD, s, 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	s[0] = (struct vtblk_dwz_seg){UINT64_MAX - 2, 8, 0};
	snprintf(name, sizeof(name), "%s: segment sector+num overflow: IOERR",
		 eng);
	CHECK(dwz(d, VIRTIO_BLK_T_WRITE_ZEROES, s, 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	for (i = 0; i <= VTBLK_MAX_DWZ_SEG; i++)
		s[i] = (struct vtblk_dwz_seg){(uint64_t)i * 8, 8, 0};
	snprintf(name, sizeof(name), "%s: more than max_discard_seg: IOERR",
		 eng);
	CHECK(dwz(d, VIRTIO_BLK_T_DISCARD, s, VTBLK_MAX_DWZ_SEG + 1) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	snprintf(name, sizeof(name),
		 "%s: segment list not a multiple of 16: "
		 "IOERR",
		 eng);
	test_gput(ctx, D_GPA, s, 16);
	CHECK(rq3(d, VIRTIO_BLK_T_DISCARD, 0, D_GPA, 12, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
}

static void
test_bad(struct tdev *d, const char *eng)
{
	uint8_t canary[8192];
	uint64_t cap = IMG_SIZE / 512;
	char name[96];
	long len;
	int i;
	bool same;

	gfill(D2_GPA, 0xcd, 8192 + 512);
	snprintf(name, sizeof(name), "%s: IN at the capacity: IOERR", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_IN, cap, D2_GPA, 512, true) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	snprintf(name, sizeof(name), "%s: IN crossing the end: IOERR", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_IN, cap - 1, D2_GPA, 1024, true) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	snprintf(name, sizeof(name), "%s: OUT at sector 2^60: IOERR", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_OUT, 1ULL << 60, D2_GPA, 512, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	snprintf(name, sizeof(name), "%s: IN of 100 bytes: IOERR", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_IN, 0, D2_GPA, 100, true) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      name);
	test_gget(ctx, D2_GPA, canary, sizeof(canary));
	same = true;
	for (i = 0; i < (int)sizeof(canary); i++)
		same = same && canary[i] == 0xcd;
	snprintf(name, sizeof(name), "%s: failed INs wrote no data", eng);
	CHECK(same, name);
	snprintf(name, sizeof(name), "%s: unknown type: UNSUPP", eng);
	CHECK(rq3(d, 99, 0, D2_GPA, 512, true) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_UNSUPP,
	      name);
	snprintf(name, sizeof(name), "%s: GET_LIFETIME: UNSUPP", eng);
	CHECK(rq3(d, VIRTIO_BLK_T_GET_LIFETIME, 0, D2_GPA, 16, true) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_UNSUPP,
	      name);
	{
		struct test_seg s[2] = {{H_GPA, 8, false}, {S_GPA, 1, true}};

		put_hdr(VIRTIO_BLK_T_IN, 0);
		len = tdev_run(d, s, 2);
		snprintf(name, sizeof(name), "%s: 8-byte header: IOERR", eng);
		CHECK(len == 1 && gbyte(S_GPA) == VIRTIO_BLK_S_IOERR, name);
	}
	{
		struct test_seg s[2] = {{H_GPA, 16, false},
					{D_GPA, 512, false}};

		put_hdr(VIRTIO_BLK_T_OUT, 0);
		len = tdev_run(d, s, 2);
		snprintf(name, sizeof(name),
			 "%s: no status byte: chain "
			 "returned unused, device live",
			 eng);
		CHECK(len == 0 && !d->vs->vs_broken, name);
	}
}

/* The PCI_CFG window (virtio 1.2, 4.1.4.9) onto the common config. */
#define VCC_STATUS 0x14

static void
win_aim(struct tdev *d, uint32_t off, uint32_t len)
{
	int c = d->vs->vs_pcicfg_off;

	test_cfg_write(0, d->slot, 0, c + 4, 1, 4); /* the modern BAR */
	test_cfg_write(0, d->slot, 0, c + 8, 4, off);
	test_cfg_write(0, d->slot, 0, c + 12, 4, len);
}

static void
win_write(struct tdev *d, uint8_t v)
{
	test_cfg_write(0, d->slot, 0, d->vs->vs_pcicfg_off + 16, 1, v);
}

static uint32_t
win_read(struct tdev *d)
{
	return test_cfg_read(0, d->slot, 0, d->vs->vs_pcicfg_off + 16, 1);
}

/* Polls device_status through the window until 0 (2.4.1); false: 10 s. */
static bool
win_wait_status0(struct tdev *d)
{
	for (int i = 0; i < 100000; i++) {
		if (win_read(d) == 0)
			return true;
		usleep(100);
	}
	return false;
}

/* Many requests in flight at once, then a reset ends once they are done. */
static void
test_batch_and_reset(struct tdev *d, const char *eng)
{
	struct vtblk_stats st;
	struct test_seg s[3];
	char name[96];
	int i, n = 16;

	for (i = 0; i < n; i++) {
		uint64_t h = BUF_GPA + 0x1000 + 32ULL * (uint64_t)i;
		struct {
			uint32_t type, reserved;
			uint64_t sector;
		} hdr = {VIRTIO_BLK_T_OUT, 0, 1000 + 8ULL * (uint64_t)i};

		test_gput(ctx, h, &hdr, sizeof(hdr));
		gfill(D_GPA + 4096ULL * (uint64_t)i, i + 1, 4096);
		s[0] = (struct test_seg){h, 16, false};
		s[1] = (struct test_seg){D_GPA + 4096ULL * (uint64_t)i, 4096,
					 false};
		s[2] = (struct test_seg){h + 16, 1, true};
		tdev_post(d, s, 3);
	}
	tdev_kick(d);
	snprintf(name, sizeof(name), "%s: %d requests in one kick complete",
		 eng, n);
	CHECK(tdev_wait_used(d, (uint16_t)(d->r.used_seen + n)), name);
	d->r.used_seen = (uint16_t)(d->r.used_seen + n);
	for (i = 0; i < n; i++) {
		s[0] = (struct test_seg){BUF_GPA + 0x1000, 16, false};
		s[1] = (struct test_seg){D_GPA, 4096, false};
		s[2] = (struct test_seg){BUF_GPA + 0x1010, 1, true};
		tdev_post(d, s, 3);
	}
	tdev_kick(d);
	win_aim(d, VCC_STATUS, 1);
	win_write(d, 0);
	snprintf(name, sizeof(name),
		 "%s: status reads 0 once in-flight requests end", eng);
	CHECK(win_wait_status0(d), name);
	vtblk_get_stats(d->pi, &st);
	CHECK(st.inflight == 0, name);
}

/* A reset through the PCI_CFG window that deadlocks never returns. */
static void
watchdog(int sig)
{
	static const char m[] = "FAIL: reset through the PCI_CFG window "
				"deadlocked\n";

	(void)sig;
	(void)!write(1, m, sizeof(m) - 1);
	_exit(1);
}

/* MSI-X on or off through the capability's control register. */
static void
msix_enable(struct tdev *d, bool on)
{
	int off;

	for (off = test_cfg_read(0, d->slot, 0, PCIR_CAP_PTR, 1); off != 0;
	     off = test_cfg_read(0, d->slot, 0, off + 1, 1))
		if (test_cfg_read(0, d->slot, 0, off, 1) == PCIY_MSIX)
			test_cfg_write(0, d->slot, 0, off + 2, 2,
				       on ? PCIM_MSIXCTRL_MSIX_ENABLE : 0);
}

/* Posts n 4 KiB reads, each with its own header and status byte. */
static void
post_reads(struct tdev *d, int n)
{
	struct test_seg s[3];

	for (int i = 0; i < n; i++) {
		uint64_t h = BUF_GPA + 0x1000 + 32ULL * (uint64_t)i;
		struct {
			uint32_t type, reserved;
			uint64_t sector;
		} hdr = {VIRTIO_BLK_T_IN, 0, 8ULL * (uint64_t)i};

		test_gput(ctx, h, &hdr, sizeof(hdr));
		s[0] = (struct test_seg){h, 16, false};
		s[1] = (struct test_seg){D_GPA + 4096ULL * (uint64_t)i, 4096,
					 true};
		s[2] = (struct test_seg){h + 16, 1, true};
		tdev_post(d, s, 3);
	}
}

/*
 * Issue 13: status 0 written through the PCI_CFG window (pi_cfg_lock
 * held) while requests are in flight and their completions need
 * pi_cfg_lock to send MSI-X.  The test thread holds pi_cfg_lock (it is
 * recursive, as for a vCPU inside a config access) so that every
 * completion blocks in its MSI-X send after one request per backend
 * thread: the rest stay in flight, deterministically.  The reset must
 * not wait for them: status reads non-zero until the last one ends,
 * then 0, and the old requests never reach the used ring.
 */
#define NINFLIGHT 12
static void
test_reset_inflight(struct tdev *d, const char *eng)
{
	volatile uint16_t *used = vm_map_gpa(ctx, d->r.used + 2, 2);
	uint16_t staged;
	char name[128];
	uint32_t st;
	long len;
	int i;

	virtio_lock(d->vs);
	/* No EVENT_IDX: every completion then queues vector 0. */
	d->vs->vs_negotiated_caps &= ~VIRTIO_RING_F_EVENT_IDX;
	d->vs->vs_queues[d->q].vq_msix_idx = 0;
	virtio_unlock(d->vs);
	msix_enable(d, true);
	win_aim(d, VCC_STATUS, 1);
	pthread_mutex_lock(&d->pi->pi_cfg_lock);
	post_reads(d, NINFLIGHT);
	tdev_kick(d);
	for (i = 0; i < 100000 && *used == 0; i++)
		usleep(100);
	usleep(50000); /* every backend thread reaches its MSI-X send */
	staged = *used;
	snprintf(name, sizeof(name), "%s: requests stay in flight (%u done)",
		 eng, staged);
	CHECK(staged > 0 && staged < NINFLIGHT, name);
	signal(SIGALRM, watchdog);
	alarm(20);
	win_write(d, 0);
	st = win_read(d);
	snprintf(name, sizeof(name),
		 "%s: status reads non-zero while the reset drains", eng);
	CHECK(st != 0, name);
	win_write(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	snprintf(name, sizeof(name),
		 "%s: status writes are refused while the reset drains", eng);
	CHECK(win_read(d) == st, name);
	pthread_mutex_unlock(&d->pi->pi_cfg_lock);
	snprintf(name, sizeof(name),
		 "%s: status reads 0 once in-flight requests end", eng);
	CHECK(win_wait_status0(d), name);
	alarm(0);
	snprintf(name, sizeof(name),
		 "%s: requests from before the reset left the used ring "
		 "alone",
		 eng);
	CHECK(*used == staged, name);
	msix_enable(d, false);
	snprintf(name, sizeof(name), "%s: the device works after re-init", eng);
	CHECK(tdev_start(d, d->slot, d->q), name);
	len = rq3(d, VIRTIO_BLK_T_IN, 0, D_GPA, 4096, true);
	CHECK(len == 4097 && gbyte(S_GPA) == VIRTIO_BLK_S_OK, name);
}

/* One device with the given backend options, reset with I/O in flight. */
static void
test_reset_engine(const char *opts)
{
	struct tdev d = {0};

	test_pci_world_reset();
	tdev_config(&d, 4, opts);
	CHECK(init_pci(ctx) == 0 && tdev_start(&d, 4, 0), opts);
	if (d.vs != NULL)
		test_reset_inflight(&d, opts);
	pci_emul_fini();
	unlink(d.img);
}

static void
test_ro(struct tdev *d)
{
	uint64_t f = d->vs->vs_hv_caps;
	uint8_t b = 0;
	int fd;

	CHECK((f & F_RO) && !(f & (F_WRITE_ZEROES | F_DISCARD)),
	      "ro: RO offered, no DISCARD or WRITE_ZEROES");
	gfill(D_GPA, 0x42, 512);
	CHECK(rq3(d, VIRTIO_BLK_T_OUT, 0, D_GPA, 512, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_IOERR,
	      "ro: OUT gets IOERR");
	fd = img_fd(d);
	CHECK(pread(fd, &b, 1, 0) == 1 && b == 0, "ro: image unchanged");
	close(fd);
	test_gput(ctx, D_GPA, &(struct vtblk_dwz_seg){0, 8, 0}, 16);
	CHECK(rq3(d, VIRTIO_BLK_T_WRITE_ZEROES, 0, D_GPA, 16, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_UNSUPP,
	      "ro: WRITE_ZEROES gets UNSUPP");
	CHECK(rq3(d, VIRTIO_BLK_T_IN, 0, D_GPA, 512, true) == 513 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_OK,
	      "ro: IN works");
}

static void
test_mq(struct tdev *d)
{
	uint32_t nq = 0;

	d->vs->vs_vc->vc_cfgread(d->vs->vs_sc, 34, 2, &nq);
	CHECK((d->vs->vs_hv_caps & F_MQ) && nq == 4,
	      "num-queues=4: MQ offered, num_queues 4");
	CHECK(rq3(d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false) == 1 &&
		  gbyte(S_GPA) == VIRTIO_BLK_S_OK,
	      "num-queues=4: queue 3 serves requests");
	CHECK_STR(d->vs->vs_vc->vc_name, "virtio-blk", "consts name");
}

static void
test_dwz_check(void)
{
	struct vtblk_dwz_seg s[2] = {{0, 8, 0}, {100, 0, 0}};

	CHECK(vtblk_dwz_check(s, 2, 16, 1000, true) == VIRTIO_BLK_S_OK,
	      "dwz_check: valid list");
	CHECK(vtblk_dwz_check(s, 0, 16, 1000, true) == VIRTIO_BLK_S_IOERR,
	      "dwz_check: empty list");
	s[1] = (struct vtblk_dwz_seg){996, 4, 0};
	CHECK(vtblk_dwz_check(s, 2, 16, 1000, true) == VIRTIO_BLK_S_OK,
	      "dwz_check: segment ending at the capacity");
	s[1] = (struct vtblk_dwz_seg){997, 4, 0};
	CHECK(vtblk_dwz_check(s, 2, 16, 1000, true) == VIRTIO_BLK_S_IOERR,
	      "dwz_check: segment one past the capacity");
	s[1] = (struct vtblk_dwz_seg){0, 0xffffffffu, 0};
	CHECK(vtblk_dwz_check(s, 2, 16, UINT64_MAX, false) ==
		  VIRTIO_BLK_S_IOERR,
	      "dwz_check: num_sectors above the maximum");
}

static void
test_engine(const char *eng)
{
	struct tdev d = {0}, dro = {0}, dmq = {0};
	char opts[96], name[96];

	test_pci_world_reset();
	snprintf(opts, sizeof(opts), "engine=%s,ser=TESTSERIAL-%s", eng, eng);
	tdev_config(&d, 4, opts);
	snprintf(opts, sizeof(opts), "engine=%s,ro", eng);
	tdev_config(&dro, 5, opts);
	snprintf(opts, sizeof(opts), "engine=%s,num-queues=4", eng);
	tdev_config(&dmq, 6, opts);
	snprintf(name, sizeof(name), "%s: three devices build", eng);
	CHECK(init_pci(ctx) == 0 && tdev_start(&d, 4, 0) &&
		  tdev_start(&dro, 5, 0) && tdev_start(&dmq, 6, 3),
	      name);
	if (d.vs != NULL && dro.vs != NULL && dmq.vs != NULL) {
		test_config(&d, eng);
		test_rw(&d, eng);
		snprintf(opts, sizeof(opts), "TESTSERIAL-%s", eng);
		test_get_id(&d, eng, opts);
		test_discard_zero(&d, eng);
		test_bad(&d, eng);
		test_batch_and_reset(&d, eng);
		if (eng[0] == 't') {
			test_ro(&dro);
			test_mq(&dmq);
		}
	}
	pci_emul_fini();
	unlink(d.img);
	unlink(dro.img);
	unlink(dmq.img);
}

static void
test_bad_options(void)
{
	struct tdev d = {0};

	test_pci_world_reset();
	tdev_config(&d, 4, "num-queues=17");
	CHECK(init_pci(ctx) != 0, "num-queues=17 refused");
	unlink(d.img);
	test_pci_world_reset();
	tdev_config(&d, 4, "sectorsize=333");
	CHECK(init_pci(ctx) != 0, "bad sectorsize refused");
	unlink(d.img);
	test_pci_world_reset();
	tdev_config(&d, 4, "sectorsize=4096");
	CHECK(init_pci(ctx) == 0 && tdev_start(&d, 4, 0) &&
		  cfg32(&d, 20) == 4096,
	      "sectorsize=4096: blk_size 4096");
	if (d.vs != NULL) {
		char id[21] = {0};

		gfill(D_GPA, 0, 32);
		rq3(&d, VIRTIO_BLK_T_GET_ID, 0, D_GPA, 20, true);
		test_gget(ctx, D_GPA, id, 20);
		CHECK(strncmp(id, "BHYVE-", 6) == 0 && strlen(id) == 20,
		      "default serial BHYVE-XXXX-XXXX-XXXX");
	}
	pci_emul_fini();
	unlink(d.img);
}

/*
 * Issue 6: once the guest's FLUSH completes, the data survives kill -9.
 * A child process writes through the device, flushes, and is killed by
 * SIGKILL the moment the FLUSH status is in guest memory; the parent then
 * reads the image.
 */
static void
test_durability(void)
{
	static uint8_t pat[65536], back[65536];
	struct tdev d = {0};
	int status, fd;
	pid_t pid;
	size_t i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 131 + 17);
	test_pci_world_reset();
	tdev_config(&d, 4, "");
	pid = fork();
	if (pid == 0) {
		if (init_pci(ctx) != 0 || !tdev_start(&d, 4, 0))
			_exit(3);
		test_gput(ctx, D_GPA, pat, sizeof(pat));
		if (rq3(&d, VIRTIO_BLK_T_OUT, 2048, D_GPA, sizeof(pat),
			false) != 1 ||
		    gbyte(S_GPA) != 0)
			_exit(4);
		if (rq3(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false) != 1 ||
		    gbyte(S_GPA) != 0)
			_exit(5);
		kill(getpid(), SIGKILL);
		_exit(6);
	}
	status = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status))
		printf("durability: child exited with %d\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "durability: child killed by SIGKILL after FLUSH completed");
	fd = open(d.img, O_RDONLY);
	CHECK(fd >= 0 &&
		  pread(fd, back, sizeof(back), 2048 * 512) ==
		      (ssize_t)sizeof(back) &&
		  memcmp(back, pat, sizeof(pat)) == 0,
	      "durability: flushed data is in the image after kill -9");
	if (fd >= 0)
		close(fd);
	unlink(d.img);
}

int
main(void)
{
	ctx = vm_create_detached("vtblk");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	test_dwz_check();
	test_engine("threads");
	test_engine("uring");
	test_reset_engine("engine=uring");
	test_reset_engine("engine=auto");
	test_reset_engine("engine=threads");
	test_reset_engine("engine=threads,workers=1");
	test_bad_options();
	test_durability();
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
