/*
 * virtio-blk (virtio 1.2, 5.2): "-s N,virtio-blk,PATH[,options]".
 *
 * A request is one descriptor chain: a 16-byte header the device reads,
 * the data, and a status byte the device writes last (5.2.6).  With
 * VIRTIO_F_VERSION_1/ANY_LAYOUT the driver may split or merge these
 * across descriptors, so the parser works on byte ranges: the header is
 * the first 16 readable bytes, the status the last writable byte.
 *
 * The queue notification (vCPU or mevent thread, device lock held)
 * parses and validates each chain and hands it to the block backend
 * (bhyve/block/block_if.h); the backend's threads complete it: status
 * byte, used ring, interrupt, under the device lock.  Every buffer comes
 * from vq_getchain(), which checked it lies in guest RAM; the device
 * reads and writes only inside those buffers.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_if.h"
#include "pci_emul.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtqueue.h"

/* Feature bits (5.2.3). */
#define VTBLK_F_SEG_MAX	     (1ULL << 2)
#define VTBLK_F_RO	     (1ULL << 5)
#define VTBLK_F_BLK_SIZE     (1ULL << 6)
#define VTBLK_F_FLUSH	     (1ULL << 9)
#define VTBLK_F_TOPOLOGY     (1ULL << 10)
#define VTBLK_F_MQ	     (1ULL << 12)
#define VTBLK_F_DISCARD	     (1ULL << 13)
#define VTBLK_F_WRITE_ZEROES (1ULL << 14)

/*
 * A chain of BLOCKIF_IOV_MAX descriptors must fit the queue (2.7.5.3.1);
 * BLOCKIF_IOV_MAX is a power of two, as a queue size must be.
 */
#define VTBLK_RINGSZ BLOCKIF_IOV_MAX
/* Header and status take one descriptor each (5.2.4: seg_max). */
#define VTBLK_SEG_MAX	      (BLOCKIF_IOV_MAX - 2)
#define VTBLK_MAX_DWZ_SECTORS 0x400000u /* 2 GiB per segment */

/* PCI class: mass storage, other (as bhyve). */
#define VTBLK_PCI_CLASS	   0x01
#define VTBLK_PCI_SUBCLASS 0x80

/* Device configuration layout (5.2.4), little-endian. */
struct vtblk_config {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));
_Static_assert(sizeof(struct vtblk_config) == 60, "virtio-blk config");

/* Request header (5.2.6). */
struct vtblk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
} __attribute__((packed));
_Static_assert(sizeof(struct vtblk_hdr) == 16, "virtio-blk header");

struct vtblk_ioreq {
	struct blockif_req io_req;
	struct vtblk_softc *io_sc;
	struct vqueue_info *io_vq;
	uint8_t *io_status; /* the request's status byte, in guest RAM */
	uint32_t io_wlen;   /* bytes written to the guest, status included */
	uint32_t io_type;
	unsigned io_epoch;
	uint16_t io_idx;
	bool io_busy;
	int io_nseg, io_seg;
	struct vtblk_dwz_seg io_segs[VTBLK_MAX_DWZ_SEG];
};

struct vtblk_softc {
	struct virtio_softc vs;
	struct virtio_consts consts; /* per device: queue count, features */
	struct vqueue_info vqs[VTBLK_MAX_QUEUES];
	struct vtblk_ioreq *ios[VTBLK_MAX_QUEUES]; /* by chain head index */
	struct blockif_ctxt *bc;
	struct vtblk_config cfg;
	char ident[VTBLK_ID_BYTES];
	uint64_t cap_bytes; /* capacity * 512 */
	unsigned inflight;
	unsigned epoch; /* bumped by reset: older requests leave the ring */
	bool logged_nostatus;
	struct vtblk_stats stats;
};

/* ---- byte ranges of a chain ---- */

/*
 * Describes bytes [skip, skip + len) of iov[0..n) as iovecs in dst;
 * returns their count, or -1 if the range is not there or needs more
 * than dmax entries.
 */
static int
vtblk_iov_slice(const struct iovec *iov, int n, size_t skip, size_t len,
		struct iovec *dst, int dmax)
{
	int i, cnt = 0;
	size_t take;

	for (i = 0; i < n && len > 0; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		if (cnt == dmax)
			return -1;
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		dst[cnt].iov_base = (char *)iov[i].iov_base + skip;
		dst[cnt].iov_len = take;
		cnt++;
		len -= take;
		skip = 0;
	}
	return len == 0 ? cnt : -1;
}

/* Copies bytes [skip, skip + len) of the chain out (gather). */
static int
vtblk_iov_read(const struct iovec *iov, int n, size_t skip, void *buf,
	       size_t len)
{
	struct iovec part[BLOCKIF_IOV_MAX];
	char *p = buf;
	int i, cnt;

	cnt = vtblk_iov_slice(iov, n, skip, len, part, BLOCKIF_IOV_MAX);
	if (cnt < 0)
		return -1;
	for (i = 0; i < cnt; i++) {
		memcpy(p, part[i].iov_base, part[i].iov_len);
		p += part[i].iov_len;
	}
	return 0;
}

/* Copies buf into bytes [skip, skip + len) of the chain (scatter). */
static int
vtblk_iov_write(const struct iovec *iov, int n, size_t skip, const void *buf,
		size_t len)
{
	struct iovec part[BLOCKIF_IOV_MAX];
	const char *p = buf;
	int i, cnt;

	cnt = vtblk_iov_slice(iov, n, skip, len, part, BLOCKIF_IOV_MAX);
	if (cnt < 0)
		return -1;
	for (i = 0; i < cnt; i++) {
		memcpy(part[i].iov_base, p, part[i].iov_len);
		p += part[i].iov_len;
	}
	return 0;
}

/* ---- completion ---- */

/* Status byte, used ring; device lock held.  Interrupts are the caller's. */
static void
vtblk_finish_locked(struct vtblk_softc *sc, struct vtblk_ioreq *io,
		    uint8_t status)
{
	if (io->io_epoch == sc->epoch) {
		*io->io_status = status;
		vq_relchain(io->io_vq, io->io_idx,
			    status == VIRTIO_BLK_S_OK ? io->io_wlen : 1);
	}
	if (status == VIRTIO_BLK_S_OK)
		sc->stats.ok++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		sc->stats.unsupp++;
	else
		sc->stats.ioerr++;
	io->io_busy = false;
	/* The last request from before a reset lets the reset finish. */
	if (--sc->inflight == 0)
		vi_reset_complete(&sc->vs);
}

static int vtblk_dwz_next(struct vtblk_ioreq *io);

/* The backend finished (a part of) a request; on a backend thread. */
static void
vtblk_io_done(struct blockif_req *br, int err)
{
	struct vtblk_ioreq *io = br->br_param;
	struct vtblk_softc *sc = io->io_sc;
	bool current;

	/* Discard/write-zeroes segments run one after the other. */
	if (err == 0 && io->io_seg < io->io_nseg) {
		err = vtblk_dwz_next(io);
		if (err == 0)
			return;
	}
	virtio_lock(&sc->vs);
	current = io->io_epoch == sc->epoch;
	vtblk_finish_locked(sc, io,
			    err == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
	if (current)
		vq_endchains(io->io_vq, false);
	virtio_unlock(&sc->vs);
}

/* ---- request types ---- */

static int
vtblk_submit_rw(struct vtblk_softc *sc, struct vtblk_ioreq *io,
		const struct vtblk_hdr *hdr, const struct iovec *iov, int n,
		const struct vi_req *req, size_t wdata)
{
	struct blockif_req *br = &io->io_req;
	bool in = hdr->type == VIRTIO_BLK_T_IN;
	size_t len, skip;
	int cnt;

	if (in) {
		/* Data: every writable byte before the status. */
		len = wdata;
		skip = req->rlen;
		io->io_wlen = (uint32_t)wdata + 1;
	} else {
		len = req->rlen - sizeof(*hdr);
		skip = sizeof(*hdr);
		io->io_wlen = 1;
	}
	/* 5.2.6.1: data is whole 512-byte sectors, inside the capacity. */
	if (len == 0 || len % VTBLK_SECTOR != 0 ||
	    hdr->sector > sc->cap_bytes / VTBLK_SECTOR ||
	    len > sc->cap_bytes - hdr->sector * VTBLK_SECTOR)
		return VIRTIO_BLK_S_IOERR;
	/* 5.2.6.2: a write to a read-only device fails, writing nothing. */
	if (!in && blockif_is_ro(sc->bc))
		return VIRTIO_BLK_S_IOERR;
	cnt = vtblk_iov_slice(iov, n, skip, len, br->br_iov, BLOCKIF_IOV_MAX);
	if (cnt < 0)
		return VIRTIO_BLK_S_IOERR;
	br->br_iovcnt = cnt;
	br->br_offset = (off_t)(hdr->sector * VTBLK_SECTOR);
	br->br_resid = len;
	if (in) {
		sc->stats.reads++;
		return blockif_read(sc->bc, br) == 0 ? -1 : VIRTIO_BLK_S_IOERR;
	}
	sc->stats.writes++;
	return blockif_write(sc->bc, br) == 0 ? -1 : VIRTIO_BLK_S_IOERR;
}

static int
vtblk_get_id(struct vtblk_softc *sc, struct vtblk_ioreq *io,
	     const struct iovec *iov, int n, const struct vi_req *req,
	     size_t wdata)
{
	size_t len = wdata < VTBLK_ID_BYTES ? wdata : VTBLK_ID_BYTES;

	/* 5.2.6: up to 20 bytes, NUL-padded; a shorter buffer gets a prefix. */
	if (vtblk_iov_write(iov, n, req->rlen, sc->ident, len) != 0)
		return VIRTIO_BLK_S_IOERR;
	io->io_wlen = (uint32_t)len + 1;
	return VIRTIO_BLK_S_OK;
}

/* Starts the next non-empty discard/write-zeroes segment; errno or 0. */
static int
vtblk_dwz_next(struct vtblk_ioreq *io)
{
	struct vtblk_softc *sc = io->io_sc;
	struct blockif_req *br = &io->io_req;
	const struct vtblk_dwz_seg *seg;

	while (io->io_seg < io->io_nseg &&
	       io->io_segs[io->io_seg].num_sectors == 0)
		io->io_seg++;
	if (io->io_seg == io->io_nseg)
		return ENOENT;
	seg = &io->io_segs[io->io_seg++];
	br->br_offset = (off_t)(seg->sector * VTBLK_SECTOR);
	br->br_resid = (size_t)seg->num_sectors * VTBLK_SECTOR;
	if (io->io_type == VIRTIO_BLK_T_DISCARD)
		return blockif_discard(sc->bc, br);
	return blockif_write_zeroes(sc->bc, br,
				    (seg->flags & VIRTIO_BLK_WZ_F_UNMAP) != 0);
}

/* Validates every segment (5.2.6.2) before any of them runs. */
int
vtblk_dwz_check(const struct vtblk_dwz_seg *segs, int nseg, int maxseg,
		uint64_t capacity, bool discard)
{
	uint32_t known = discard ? 0 : VIRTIO_BLK_WZ_F_UNMAP;
	int i;

	if (nseg < 1 || nseg > maxseg)
		return VIRTIO_BLK_S_IOERR;
	for (i = 0; i < nseg; i++) {
		/* Unknown flags, or unmap on a discard: unsupported. */
		if ((segs[i].flags & ~known) != 0)
			return VIRTIO_BLK_S_UNSUPP;
		if (segs[i].num_sectors > VTBLK_MAX_DWZ_SECTORS ||
		    segs[i].sector > capacity ||
		    segs[i].num_sectors > capacity - segs[i].sector)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static int
vtblk_submit_dwz(struct vtblk_softc *sc, struct vtblk_ioreq *io,
		 const struct vtblk_hdr *hdr, const struct iovec *iov, int n,
		 const struct vi_req *req)
{
	bool discard = hdr->type == VIRTIO_BLK_T_DISCARD;
	size_t dlen = req->rlen - sizeof(*hdr);
	int st, err, nseg;

	if (discard ? !vi_has_feature(&sc->vs, VTBLK_F_DISCARD)
		    : !vi_has_feature(&sc->vs, VTBLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (dlen == 0 || dlen % sizeof(struct vtblk_dwz_seg) != 0 ||
	    dlen > sizeof(io->io_segs))
		return VIRTIO_BLK_S_IOERR;
	nseg = (int)(dlen / sizeof(struct vtblk_dwz_seg));
	/* Read once: the guest may change the ring under us. */
	if (vtblk_iov_read(iov, n, sizeof(*hdr), io->io_segs, dlen) != 0)
		return VIRTIO_BLK_S_IOERR;
	st = vtblk_dwz_check(io->io_segs, nseg, VTBLK_MAX_DWZ_SEG,
			     sc->cap_bytes / VTBLK_SECTOR, discard);
	if (st != VIRTIO_BLK_S_OK)
		return st;
	io->io_type = hdr->type;
	io->io_nseg = nseg;
	io->io_seg = 0;
	io->io_wlen = 1;
	if (discard)
		sc->stats.discards++;
	else
		sc->stats.zeroes++;
	err = vtblk_dwz_next(io);
	if (err == ENOENT) /* only empty segments */
		return VIRTIO_BLK_S_OK;
	return err == 0 ? -1 : VIRTIO_BLK_S_IOERR;
}

/*
 * Runs one request: the status it completed with at once, or -1 if the
 * backend owns it now.
 */
static int
vtblk_dispatch(struct vtblk_softc *sc, struct vtblk_ioreq *io,
	       const struct iovec *iov, int n, const struct vi_req *req)
{
	size_t wdata = req->wlen - 1; /* writable bytes before the status */
	struct vtblk_hdr hdr;

	if (req->rlen < sizeof(hdr) ||
	    vtblk_iov_read(iov, n, 0, &hdr, sizeof(hdr)) != 0)
		return VIRTIO_BLK_S_IOERR;
	io->io_type = hdr.type;
	io->io_nseg = io->io_seg = 0;
	io->io_wlen = 1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return vtblk_submit_rw(sc, io, &hdr, iov, n, req, wdata);
	case VIRTIO_BLK_T_FLUSH:
		sc->stats.flushes++;
		return blockif_flush(sc->bc, &io->io_req) == 0
			   ? -1
			   : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		return vtblk_get_id(sc, io, iov, n, req, wdata);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return vtblk_submit_dwz(sc, io, &hdr, iov, n, req);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* The status byte: the last byte of the last non-empty writable buffer. */
static uint8_t *
vtblk_status_byte(const struct iovec *iov, int n, const struct vi_req *req)
{
	int i;

	for (i = n - 1; i >= (int)req->readable; i--)
		if (iov[i].iov_len > 0)
			return (uint8_t *)iov[i].iov_base + iov[i].iov_len - 1;
	return NULL;
}

/*
 * One chain from vq_getchain().  Returns true if it completed at once
 * (the caller sends the interrupt decision), false if it went to the
 * backend or the device is broken.
 */
static bool
vtblk_proc(struct vtblk_softc *sc, struct vqueue_info *vq,
	   const struct iovec *iov, int n, const struct vi_req *req)
{
	struct vtblk_ioreq *io;
	uint8_t *status;
	int st;

	status = req->wlen > 0 ? vtblk_status_byte(iov, n, req) : NULL;
	if (status == NULL) {
		/* Nowhere to report: give the chain back untouched. */
		if (!sc->logged_nostatus)
			fprintf(stderr,
				"bhyve: %s: request without a writable "
				"status byte (reported once)\n",
				sc->consts.vc_name);
		sc->logged_nostatus = true;
		sc->stats.malformed++;
		vq_relchain(vq, req->idx, 0);
		return true;
	}
	io = &sc->ios[vq->vq_num][req->idx];
	if (io->io_busy) {
		vi_set_needs_reset(
		    &sc->vs,
		    "chain head %u made available again while in flight",
		    req->idx);
		return false;
	}
	io->io_busy = true;
	io->io_vq = vq;
	io->io_idx = req->idx;
	io->io_status = status;
	io->io_epoch = sc->epoch;
	sc->inflight++;
	st = vtblk_dispatch(sc, io, iov, n, req);
	if (st < 0)
		return false;
	vtblk_finish_locked(sc, io, (uint8_t)st);
	return true;
}

/* vc_qnotify: device lock held. */
static void
vtblk_notify(void *vsc, struct vqueue_info *vq)
{
	struct vtblk_softc *sc = vsc;
	struct iovec iov[BLOCKIF_IOV_MAX];
	struct vi_req req;
	bool done = false;
	int n;

	while ((n = vq_getchain(vq, iov, BLOCKIF_IOV_MAX, &req)) > 0)
		done |= vtblk_proc(sc, vq, iov, n, &req);
	if (done && n == 0)
		vq_endchains(vq, true);
}

/*
 * vc_reset: device lock held, maybe pi_cfg_lock too, so no waiting.
 * In-flight requests finish off the ring (their epoch is old); the last
 * one completes the reset (vtblk_finish_locked).
 */
static bool
vtblk_reset(void *vsc)
{
	struct vtblk_softc *sc = vsc;

	sc->epoch++;
	return sc->inflight == 0;
}

static int
vtblk_cfgread(void *vsc, int off, int size, uint32_t *val)
{
	struct vtblk_softc *sc = vsc;

	return vi_cfg_read_bytes(&sc->cfg, sizeof(sc->cfg), off, size, val);
}

/* ---- setup ---- */

/* bhyve's default serial: "BHYVE-XXXX-XXXX-XXXX" from a hash of the path. */
static void
vtblk_default_ident(char *ident, const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	char buf[VTBLK_ID_BYTES + 1];

	for (; *path != '\0'; path++)
		h = (h ^ (uint8_t)*path) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "BHYVE-%04X-%04X-%04X", (unsigned)(h >> 48),
		 (unsigned)(h >> 32) & 0xffff, (unsigned)(h >> 16) & 0xffff);
	memcpy(ident, buf, VTBLK_ID_BYTES);
}

static int
vtblk_parse_queues(const struct config_node *nvl, const char *name)
{
	const char *v = get_config_value_node(nvl, "num-queues");
	unsigned long n;
	char *end;

	if (v == NULL)
		return 1;
	n = strtoul(v, &end, 10);
	if (v[0] < '1' || v[0] > '9' || *end != '\0' || n < 1 ||
	    n > VTBLK_MAX_QUEUES) {
		fprintf(stderr,
			"bhyve: %s: invalid num-queues '%s' (want 1..%d)\n",
			name, v, VTBLK_MAX_QUEUES);
		return -1;
	}
	return (int)n;
}

static void
vtblk_build_config(struct vtblk_softc *sc, int nq)
{
	struct vtblk_config *c = &sc->cfg;
	int sect = blockif_sectsz(sc->bc), psect, psectoff;

	blockif_psectsz(sc->bc, &psect, &psectoff);
	sc->cap_bytes =
	    (uint64_t)blockif_size(sc->bc) / VTBLK_SECTOR * VTBLK_SECTOR;
	memset(c, 0, sizeof(*c));
	c->capacity = sc->cap_bytes / VTBLK_SECTOR;
	c->seg_max = VTBLK_SEG_MAX;
	c->blk_size = (uint32_t)sect;
	c->physical_block_exp = (uint8_t)blockif_log2((unsigned)(psect / sect));
	c->alignment_offset = (uint8_t)(psectoff / sect);
	c->min_io_size = (uint16_t)(psect / sect);
	c->num_queues = (uint16_t)nq;
	c->max_discard_sectors = VTBLK_MAX_DWZ_SECTORS;
	c->max_discard_seg = VTBLK_MAX_DWZ_SEG;
	c->discard_sector_alignment = (uint32_t)(psect / VTBLK_SECTOR);
	c->max_write_zeroes_sectors = VTBLK_MAX_DWZ_SECTORS;
	c->max_write_zeroes_seg = VTBLK_MAX_DWZ_SEG;
	c->write_zeroes_may_unmap = blockif_candelete(sc->bc) ? 1 : 0;
}

static uint64_t
vtblk_features(struct vtblk_softc *sc, int nq)
{
	uint64_t f = VTBLK_F_SEG_MAX | VTBLK_F_BLK_SIZE | VTBLK_F_FLUSH |
		     VTBLK_F_TOPOLOGY;

	if (blockif_is_ro(sc->bc))
		f |= VTBLK_F_RO;
	else
		f |= VTBLK_F_WRITE_ZEROES;
	if (blockif_candelete(sc->bc))
		f |= VTBLK_F_DISCARD;
	if (nq > 1)
		f |= VTBLK_F_MQ;
	return f;
}

static const struct virtio_consts vtblk_consts_template = {
    .vc_name = "virtio-blk",
    .vc_nvq = 1,
    .vc_cfgsize = sizeof(struct vtblk_config),
    .vc_reset = vtblk_reset,
    .vc_qnotify = vtblk_notify,
    .vc_cfgread = vtblk_cfgread,
};

static void
vtblk_free(struct vtblk_softc *sc)
{
	int q;

	blockif_close(sc->bc);
	for (q = 0; q < VTBLK_MAX_QUEUES; q++)
		free(sc->ios[q]);
	free(sc);
}

static int
vtblk_alloc_queues(struct vtblk_softc *sc, int nq)
{
	struct vtblk_ioreq *io;
	int q, i;

	for (q = 0; q < nq; q++) {
		sc->vqs[q].vq_qsize = VTBLK_RINGSZ;
		sc->ios[q] = calloc(VTBLK_RINGSZ, sizeof(*sc->ios[q]));
		if (sc->ios[q] == NULL)
			return -1;
		for (i = 0; i < VTBLK_RINGSZ; i++) {
			io = &sc->ios[q][i];
			io->io_sc = sc;
			io->io_req.br_param = io;
			io->io_req.br_callback = vtblk_io_done;
		}
	}
	return 0;
}

static int
vtblk_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct vtblk_softc *sc;
	const char *ser;
	char name[64];
	int nq;

	snprintf(name, sizeof(name), "virtio-blk %d:%d:%d", pi->pi_bus,
		 pi->pi_slot, pi->pi_func);
	nq = vtblk_parse_queues(nvl, name);
	if (nq < 0)
		return -1;
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	sc->bc = blockif_open(nvl, name);
	if (sc->bc == NULL || vtblk_alloc_queues(sc, nq) != 0) {
		vtblk_free(sc);
		return -1;
	}
	ser = get_config_value_node(nvl, "ser");
	if (ser != NULL) /* NUL-padded, not terminated at 20 (5.2.6) */
		memcpy(sc->ident, ser, strnlen(ser, VTBLK_ID_BYTES));
	else
		vtblk_default_ident(sc->ident,
				    get_config_value_node(nvl, "path"));
	vtblk_build_config(sc, nq);
	sc->consts = vtblk_consts_template;
	sc->consts.vc_nvq = nq;
	sc->consts.vc_hv_caps = vtblk_features(sc, nq);
	vi_softc_linkup(&sc->vs, &sc->consts, sc, pi, sc->vqs);
	if (vi_pci_init(&sc->vs, VIRTIO_ID_BLOCK, VTBLK_PCI_CLASS,
			VTBLK_PCI_SUBCLASS, nvl) != 0) {
		vtblk_free(sc);
		return -1;
	}
	return 0;
}

static void
vtblk_fini(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtblk_softc *sc;

	if (vs == NULL)
		return;
	sc = vs->vs_sc;
	/* Completions take the device lock: drain without holding it. */
	blockif_drain(sc->bc);
	vi_pci_fini(vs);
	vtblk_free(sc);
	pi->pi_arg = NULL;
}

void
vtblk_get_stats(struct pci_devinst *pi, struct vtblk_stats *st)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vtblk_softc *sc = vs->vs_sc;

	virtio_lock(vs);
	*st = sc->stats;
	st->inflight = sc->inflight;
	virtio_unlock(vs);
}

static const struct pci_devemu pci_de_vtblk = {
    .pe_emu = "virtio-blk",
    .pe_legacy_config = blockif_legacy_config,
    .pe_init = vtblk_init,
    .pe_check = blockif_check,
    .pe_fini = vtblk_fini,
    VI_PCI_DEVEMU_HOOKS,
};
PCI_EMUL_SET(pci_de_vtblk);
