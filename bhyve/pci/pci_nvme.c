/*
 * NVMe controller (NVM Express 1.4): "-s N,nvme,PATH|ram=MiB[,opts]".
 *
 * One namespace (NSID 1) backed by the block backend (block_if.h) or by
 * a RAM buffer.  BAR0 holds the controller registers and doorbells
 * (DSTRD 0), BAR4 the MSI-X table with one vector per queue pair plus
 * the admin queue; MSI and INTx are the fallbacks, as in bhyve.
 *
 * Submission queues are processed on the vCPU thread that rings the
 * doorbell, under the device lock.  Each 64-byte entry is copied once
 * into a local before it is looked at; every PRP entry is validated and
 * mapped with vm_map_gpa().  Block I/O completes on backend threads,
 * which post to the completion queue under that queue's lock only, so
 * the vCPU may wait for I/O (reset, queue deletion) with the device lock
 * held.  A malformed command fails with its NVMe status; a queue the
 * guest broke (unmapped base, overflowed completion queue) sets
 * CSTS.CFS, never stops the VMM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "block_if.h"
#include "config.h"
#include "legacy_config.h"
#include "pci_emul.h"
#include "vmmapi.h"

#define NVME_PAGE     4096u
#define NVME_MDTS     8 /* 2^8 pages: 1 MiB per command */
#define NVME_MAX_XFER (NVME_PAGE << NVME_MDTS)
/* An unaligned PRP1 adds one page to the transfer's count. */
#define NVME_MAX_IOV  ((NVME_MAX_XFER / NVME_PAGE) + 1)
#define NVME_REGS_END 0x1000u /* doorbells from here */
#define NVME_BAR0_MIN 0x4000u /* bits 13:4 of BAR0 are reserved */
#define NVME_MSIX_BAR 4
#define NVME_AERL     3 /* 0's based: four outstanding AERs */
#define NVME_ACL      3
#define NVME_MAXQ_MAX 16
#define NVME_ASQ_MAX  4096 /* AQA fields are 12 bits */
#define NVME_SQE_SIZE 64
#define NVME_CQE_SIZE 16
#define NVME_DSM_MAX  256

/* bhyve(8) defaults. */
#define NVME_DEF_MAXQ	 16
#define NVME_DEF_QSZ	 2048
#define NVME_DEF_IOSLOTS 8

/* Registers (3.1). */
#define NVME_CAP     0x00
#define NVME_VS	     0x08
#define NVME_INTMS   0x0c
#define NVME_INTMC   0x10
#define NVME_CC	     0x14
#define NVME_CSTS    0x1c
#define NVME_NSSR    0x20
#define NVME_AQA     0x24
#define NVME_ASQ     0x28
#define NVME_ACQ     0x30
#define NVME_VERSION 0x00010400u

#define CC_EN	       (1u << 0)
#define CC_CSS(v)      (((v) >> 4) & 7)
#define CC_MPS(v)      (((v) >> 7) & 0xf)
#define CC_SHN(v)      (((v) >> 14) & 3)
#define CC_IOSQES(v)   (((v) >> 16) & 0xf)
#define CC_IOCQES(v)   (((v) >> 20) & 0xf)
#define CSTS_RDY       (1u << 0)
#define CSTS_CFS       (1u << 1)
#define CSTS_SHST_DONE (2u << 2)
#define CSTS_SHST_MASK (3u << 2)

/* Status: SCT << 8 | SC, the CQE's status field without the phase. */
#define SC(sct, sc)	    ((uint16_t)((sct) << 8 | (sc)))
#define ST_OK		    SC(0, 0x00)
#define ST_INVALID_OPCODE   SC(0, 0x01)
#define ST_INVALID_FIELD    SC(0, 0x02)
#define ST_DATA_XFER_ERROR  SC(0, 0x04)
#define ST_INTERNAL	    SC(0, 0x06)
#define ST_INVALID_NS	    SC(0, 0x0b)
#define ST_CMD_SEQ_ERROR    SC(0, 0x0c)
#define ST_PRP_OFFSET	    SC(0, 0x13)
#define ST_LBA_RANGE	    SC(0, 0x80)
#define ST_CQ_INVALID	    SC(1, 0x00)
#define ST_INVALID_QID	    SC(1, 0x01)
#define ST_INVALID_QSIZE    SC(1, 0x02)
#define ST_AER_LIMIT	    SC(1, 0x05)
#define ST_INVALID_VECTOR   SC(1, 0x08)
#define ST_INVALID_LOG	    SC(1, 0x09)
#define ST_INVALID_QDELETE  SC(1, 0x0c)
#define ST_NOT_SAVEABLE	    SC(1, 0x0d)
#define ST_READ_ONLY	    SC(1, 0x82)
#define ST_WRITE_FAULT	    SC(2, 0x80)
#define ST_UNRECOVERED_READ SC(2, 0x81)
#define ST_DNR		    (1u << 14)

/* Admin opcodes (5). */
enum {
	ADM_DELETE_SQ = 0x00,
	ADM_CREATE_SQ = 0x01,
	ADM_GET_LOG = 0x02,
	ADM_DELETE_CQ = 0x04,
	ADM_CREATE_CQ = 0x05,
	ADM_IDENTIFY = 0x06,
	ADM_ABORT = 0x08,
	ADM_SET_FEATURES = 0x09,
	ADM_GET_FEATURES = 0x0a,
	ADM_ASYNC_EVENT = 0x0c,
};

/* NVM command set opcodes (6). */
enum {
	IO_FLUSH = 0x00,
	IO_WRITE = 0x01,
	IO_READ = 0x02,
	IO_WRITE_ZEROES = 0x08,
	IO_DSM = 0x09,
};

/* Feature identifiers (5.21.1). */
enum {
	FID_ARBITRATION = 0x01,
	FID_POWER_MGMT = 0x02,
	FID_TEMP_THRESHOLD = 0x04,
	FID_ERROR_RECOVERY = 0x05,
	FID_VWC = 0x06,
	FID_NUM_QUEUES = 0x07,
	FID_INTR_COALESCING = 0x08,
	FID_INTR_VECTOR = 0x09,
	FID_WRITE_ATOMICITY = 0x0a,
	FID_ASYNC_EVENT = 0x0b,
	FID_MAX = 0x0c,
};

struct nvme_sqe {
	uint8_t opc;
	uint8_t flags; /* FUSE 1:0, PSDT 7:6 */
	uint16_t cid;
	uint32_t nsid;
	uint32_t rsvd[2];
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == NVME_SQE_SIZE, "SQE");

struct nvme_dsm_range {
	uint32_t attr;
	uint32_t nlb;
	uint64_t slba;
};
_Static_assert(sizeof(struct nvme_dsm_range) == 16, "DSM range");

struct nvme_sq {
	uint8_t *base; /* host address of the ring */
	uint32_t size;
	uint32_t head; /* atomic: completions read it for SQHD */
	uint32_t tail;
	uint16_t cqid;
	bool valid;
};

struct nvme_cq {
	pthread_mutex_t lock; /* tail, phase, head */
	uint8_t *base;
	uint32_t size, head, tail;
	uint16_t iv;
	uint16_t nsq; /* submission queues posting here */
	bool phase, ien, valid;
};

struct nvme_softc;

struct nvme_ioreq {
	struct blockif_req br;
	struct nvme_softc *sc;
	struct nvme_ioreq *next;
	uint16_t sqid, cid;
	uint8_t opc;
	bool flush_after; /* FUA, or the write cache is off */
	int nrange, range;
	uint64_t bytes;
	struct nvme_dsm_range ranges[NVME_DSM_MAX];
};

struct nvme_softc {
	struct pci_devinst *pi;
	pthread_mutex_t mtx; /* registers, queue setup, SQ processing */
	char name[48];

	/* Namespace 1. */
	struct blockif_ctxt *bc;
	uint8_t *ram;
	uint32_t sectsz;
	uint64_t nsze; /* blocks */
	bool ro, dsm;
	char serial[21];
	uint64_t eui64;

	/* Options. */
	uint32_t maxq, qsz, ioslots;

	/* Registers. */
	uint64_t cap, asq, acq;
	uint32_t cc, csts, aqa, intms;

	struct nvme_sq *sq; /* maxq + 1 */
	struct nvme_cq *cq;
	uint16_t nsq_alloc, ncq_alloc; /* Number of Queues feature */

	uint32_t feat[FID_MAX];
	uint32_t *ivc; /* Interrupt Vector Configuration, per vector */
	uint16_t aer_cid[NVME_AERL + 1];
	int naer;

	/* I/O slots: at most ioslots commands in the backend. */
	pthread_mutex_t io_mtx;
	pthread_cond_t io_cv;
	struct nvme_ioreq *ios, *io_free;
	uint32_t nfree;

	pthread_mutex_t intr_mtx;
	uint32_t msi_pending;

	/* SMART counters (atomics). */
	uint64_t rd_bytes, wr_bytes, rd_cmds, wr_cmds;
};

struct nvme_opts {
	const char *path;
	uint64_t ram_mib;
	uint32_t maxq, qsz, ioslots, sectsz; /* sectsz 0: the backend's */
	const char *ser;
	uint64_t eui64;
	bool have_eui64;
	int dsm; /* 0 auto, 1 enable, 2 disable */
};

static void nvme_sq_process(struct nvme_softc *sc, uint16_t qid);

/* ---- interrupts ---- */

/* INTx follows "a CQ with interrupts on holds entries" (level). */
static void
nvme_intx_update(struct nvme_softc *sc)
{
	bool level = false;

	for (uint32_t q = 0; q <= sc->maxq && !(sc->intms & 1); q++) {
		struct nvme_cq *cq = &sc->cq[q];

		pthread_mutex_lock(&cq->lock);
		if (cq->valid && cq->ien && cq->head != cq->tail)
			level = true;
		pthread_mutex_unlock(&cq->lock);
		if (level)
			break;
	}
	if (level)
		pci_lintr_assert(sc->pi);
	else
		pci_lintr_deassert(sc->pi);
}

static void
nvme_intr_send(struct nvme_softc *sc, uint16_t iv)
{
	struct pci_devinst *pi = sc->pi;
	int max, vec;

	if (pci_msix_enabled(pi)) {
		pci_generate_msix(pi, iv);
		return;
	}
	pthread_mutex_lock(&sc->intr_mtx);
	if (pci_msi_enabled(pi)) {
		max = pci_msi_maxmsgnum(pi);
		vec = iv < max ? iv : 0;
		/* INTMS holds a masked vector pending (3.1.3). */
		if (sc->intms & (1u << (vec & 31)))
			sc->msi_pending |= 1u << (vec & 31);
		else
			pci_generate_msi(pi, vec);
	} else if (!(sc->intms & 1)) {
		pci_lintr_assert(pi);
	}
	pthread_mutex_unlock(&sc->intr_mtx);
}

static void
nvme_intms_write(struct nvme_softc *sc, uint32_t val, bool set)
{
	uint32_t fire;

	if (pci_msix_enabled(sc->pi))
		return; /* 3.1.3: not used with MSI-X */
	pthread_mutex_lock(&sc->intr_mtx);
	if (set)
		sc->intms |= val;
	else
		sc->intms &= ~val;
	fire = sc->msi_pending & ~sc->intms;
	sc->msi_pending &= ~fire;
	pthread_mutex_unlock(&sc->intr_mtx);
	for (int v = 0; v < 32; v++)
		if (fire & (1u << v))
			pci_generate_msi(sc->pi, v);
	if (!pci_msi_enabled(sc->pi))
		nvme_intx_update(sc);
}

/* ---- completion ---- */

static void
nvme_ctrl_fatal(struct nvme_softc *sc, const char *why)
{
	if (!(__atomic_fetch_or(&sc->csts, CSTS_CFS, __ATOMIC_SEQ_CST) &
	      CSTS_CFS))
		fprintf(stderr, "bhyve: %s: controller fatal: %s\n", sc->name,
			why);
}

/*
 * Posts one completion for a command of submission queue sqid (4.6).
 * DW3 (status and phase) is stored last, with release order, so the
 * guest never sees a new phase on a half-written entry.
 */
static void
nvme_cq_post(struct nvme_softc *sc, uint16_t sqid, uint16_t cid, uint32_t dw0,
	     uint16_t status)
{
	struct nvme_sq *sq = &sc->sq[sqid];
	struct nvme_cq *cq = &sc->cq[sq->cqid];
	uint32_t *e, next;
	bool sent = false;

	pthread_mutex_lock(&cq->lock);
	if (cq->valid) {
		next = cq->tail + 1 == cq->size ? 0 : cq->tail + 1;
		if (next == cq->head) {
			pthread_mutex_unlock(&cq->lock);
			nvme_ctrl_fatal(sc, "completion queue overflow");
			return;
		}
		e = (uint32_t *)(cq->base + (size_t)cq->tail * NVME_CQE_SIZE);
		e[0] = dw0;
		e[1] = 0;
		e[2] = __atomic_load_n(&sq->head, __ATOMIC_RELAXED) |
		       (uint32_t)sqid << 16;
		__atomic_store_n(&e[3],
				 cid | (uint32_t)cq->phase << 16 |
				     (uint32_t)status << 17,
				 __ATOMIC_RELEASE);
		cq->tail = next;
		if (next == 0)
			cq->phase = !cq->phase;
		sent = cq->ien;
	}
	pthread_mutex_unlock(&cq->lock);
	if (sent)
		nvme_intr_send(sc, cq->iv);
}

/* ---- PRPs (4.3) ---- */

/* Appends [gpa, gpa + len) as an iovec, merging host-contiguous pages. */
static uint16_t
nvme_iov_add(struct nvme_softc *sc, struct iovec *iov, int max, int *n,
	     uint64_t gpa, size_t len)
{
	void *p = vm_map_gpa(sc->pi->pi_vmctx, gpa, len);

	if (p == NULL)
		return ST_DATA_XFER_ERROR;
	if (*n > 0 &&
	    (char *)iov[*n - 1].iov_base + iov[*n - 1].iov_len == (char *)p) {
		iov[*n - 1].iov_len += len;
		return ST_OK;
	}
	if (*n == max)
		return ST_INVALID_FIELD;
	iov[*n].iov_base = p;
	iov[*n].iov_len = len;
	(*n)++;
	return ST_OK;
}

/*
 * Walks a PRP list from 'list' for len more bytes.  Entries are read one
 * at a time into a local; the last entry of a full list page chains to
 * the next page, which must be page aligned, so every page read adds data
 * and the walk is bounded by len.
 */
static uint16_t
nvme_prp_list(struct nvme_softc *sc, uint64_t list, size_t len,
	      struct iovec *iov, int max, int *n)
{
	uint64_t entry;
	uint32_t nent, i;
	uint16_t st;
	size_t chunk;

	if (list & 7)
		return ST_PRP_OFFSET;
	while (len > 0) {
		nent = (NVME_PAGE - (uint32_t)(list & (NVME_PAGE - 1))) / 8;
		for (i = 0; i < nent && len > 0; i++) {
			if (vm_copyin(sc->pi->pi_vmctx, list + 8ULL * i, &entry,
				      8) != 0)
				return ST_DATA_XFER_ERROR;
			if (i == nent - 1 && len > NVME_PAGE) {
				if (entry & (NVME_PAGE - 1))
					return ST_PRP_OFFSET;
				list = entry;
				break;
			}
			if (entry & (NVME_PAGE - 1))
				return ST_PRP_OFFSET;
			chunk = len < NVME_PAGE ? len : NVME_PAGE;
			st = nvme_iov_add(sc, iov, max, n, entry, chunk);
			if (st != ST_OK)
				return st;
			len -= chunk;
		}
	}
	return ST_OK;
}

/* Maps the len bytes PRP1/PRP2 describe; len <= NVME_MAX_XFER. */
static uint16_t
nvme_prp_map(struct nvme_softc *sc, uint64_t prp1, uint64_t prp2, size_t len,
	     struct iovec *iov, int max, int *n)
{
	size_t first;
	uint16_t st;

	*n = 0;
	if (len == 0)
		return ST_OK;
	if (prp1 & 3) /* dword aligned (4.3) */
		return ST_PRP_OFFSET;
	first = NVME_PAGE - (size_t)(prp1 & (NVME_PAGE - 1));
	if (first > len)
		first = len;
	st = nvme_iov_add(sc, iov, max, n, prp1, first);
	if (st != ST_OK || len == first)
		return st;
	len -= first;
	if (len <= NVME_PAGE) {
		if (prp2 & (NVME_PAGE - 1))
			return ST_PRP_OFFSET;
		return nvme_iov_add(sc, iov, max, n, prp2, len);
	}
	return nvme_prp_list(sc, prp2, len, iov, max, n);
}

/* Copies buf (then zeros up to len) to the command's data buffer. */
static uint16_t
nvme_prp_copyout(struct nvme_softc *sc, const struct nvme_sqe *cmd,
		 const void *buf, size_t buflen, size_t len)
{
	struct iovec iov[NVME_MAX_IOV];
	const uint8_t *p = buf;
	size_t take;
	uint16_t st;
	int n;

	if (len > NVME_MAX_XFER)
		return ST_INVALID_FIELD;
	st = nvme_prp_map(sc, cmd->prp1, cmd->prp2, len, iov, NVME_MAX_IOV, &n);
	if (st != ST_OK)
		return st;
	for (int i = 0; i < n; i++) {
		take = buflen < iov[i].iov_len ? buflen : iov[i].iov_len;
		memcpy(iov[i].iov_base, p, take);
		memset((char *)iov[i].iov_base + take, 0,
		       iov[i].iov_len - take);
		p += take;
		buflen -= take;
	}
	return ST_OK;
}

/* Copies len bytes of the command's data buffer into buf (once). */
static uint16_t
nvme_prp_copyin(struct nvme_softc *sc, const struct nvme_sqe *cmd, void *buf,
		size_t len)
{
	struct iovec iov[NVME_MAX_IOV];
	uint8_t *p = buf;
	uint16_t st;
	int n;

	st = nvme_prp_map(sc, cmd->prp1, cmd->prp2, len, iov, NVME_MAX_IOV, &n);
	if (st != ST_OK)
		return st;
	for (int i = 0; i < n; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	return ST_OK;
}

/* ---- I/O slots ---- */

/* Waits for a free slot: the backend's callbacks never need sc->mtx. */
static struct nvme_ioreq *
nvme_ioreq_get(struct nvme_softc *sc)
{
	struct nvme_ioreq *io;

	pthread_mutex_lock(&sc->io_mtx);
	while (sc->io_free == NULL)
		pthread_cond_wait(&sc->io_cv, &sc->io_mtx);
	io = sc->io_free;
	sc->io_free = io->next;
	sc->nfree--;
	pthread_mutex_unlock(&sc->io_mtx);
	io->nrange = io->range = 0;
	io->flush_after = false;
	io->bytes = 0;
	return io;
}

static void
nvme_ioreq_put(struct nvme_softc *sc, struct nvme_ioreq *io)
{
	pthread_mutex_lock(&sc->io_mtx);
	io->next = sc->io_free;
	sc->io_free = io;
	sc->nfree++;
	pthread_cond_broadcast(&sc->io_cv);
	pthread_mutex_unlock(&sc->io_mtx);
}

/* Returns once every command handed to the backend has completed. */
static void
nvme_io_drain(struct nvme_softc *sc)
{
	pthread_mutex_lock(&sc->io_mtx);
	while (sc->nfree < sc->ioslots)
		pthread_cond_wait(&sc->io_cv, &sc->io_mtx);
	pthread_mutex_unlock(&sc->io_mtx);
}

/* ---- queues ---- */

static void
nvme_queues_clear(struct nvme_softc *sc)
{
	for (uint32_t q = 0; q <= sc->maxq; q++) {
		pthread_mutex_lock(&sc->cq[q].lock);
		sc->cq[q].valid = false;
		sc->cq[q].nsq = 0;
		pthread_mutex_unlock(&sc->cq[q].lock);
		memset(&sc->sq[q], 0, sizeof(sc->sq[q]));
	}
}

/* Maps a physically contiguous queue; NULL if any of it is not RAM. */
static uint8_t *
nvme_queue_map(struct nvme_softc *sc, uint64_t gpa, uint32_t entries,
	       size_t esize)
{
	if (gpa & (NVME_PAGE - 1))
		return NULL;
	return vm_map_gpa(sc->pi->pi_vmctx, gpa, (size_t)entries * esize);
}

static void
nvme_cq_setup(struct nvme_cq *cq, uint8_t *base, uint32_t size, uint16_t iv,
	      bool ien)
{
	pthread_mutex_lock(&cq->lock);
	cq->base = base;
	cq->size = size;
	cq->head = cq->tail = 0;
	cq->phase = true;
	cq->iv = iv;
	cq->ien = ien;
	cq->nsq = 0;
	cq->valid = true;
	pthread_mutex_unlock(&cq->lock);
}

static void
nvme_sq_setup(struct nvme_softc *sc, uint16_t qid, uint8_t *base, uint32_t size,
	      uint16_t cqid)
{
	struct nvme_sq *sq = &sc->sq[qid];

	sq->base = base;
	sq->size = size;
	sq->head = sq->tail = 0;
	sq->cqid = cqid;
	sq->valid = true;
	sc->cq[cqid].nsq++;
}

/* ---- controller state ---- */

static void
nvme_features_reset(struct nvme_softc *sc)
{
	memset(sc->feat, 0, sizeof(sc->feat));
	sc->feat[FID_TEMP_THRESHOLD] = 0x0157; /* 343 K = 70 C */
	sc->feat[FID_VWC] = 1;
	for (uint32_t v = 0; v <= sc->maxq; v++)
		sc->ivc[v] = v;
	sc->nsq_alloc = (uint16_t)sc->maxq;
	sc->ncq_alloc = (uint16_t)sc->maxq;
	sc->naer = 0;
}

/* CC.EN 1 -> 0 (7.3.2): everything but AQA/ASQ/ACQ to its reset value. */
static void
nvme_ctrl_reset(struct nvme_softc *sc)
{
	nvme_io_drain(sc);
	nvme_queues_clear(sc);
	nvme_features_reset(sc);
	pthread_mutex_lock(&sc->intr_mtx);
	sc->intms = 0;
	sc->msi_pending = 0;
	pthread_mutex_unlock(&sc->intr_mtx);
	pci_lintr_deassert(sc->pi);
	__atomic_store_n(&sc->csts, 0, __ATOMIC_SEQ_CST);
}

/* CC.EN 0 -> 1 (7.6.1): checks CC and the admin queue; CFS if broken. */
static void
nvme_ctrl_enable(struct nvme_softc *sc)
{
	uint32_t sqs = (sc->aqa & 0xfff) + 1,
		 cqs = ((sc->aqa >> 16) & 0xfff) + 1;
	uint8_t *sqb, *cqb;

	if (CC_CSS(sc->cc) != 0 || CC_MPS(sc->cc) != 0 || sqs < 2 || cqs < 2) {
		nvme_ctrl_fatal(sc, "invalid CC or AQA at enable");
		return;
	}
	sqb = nvme_queue_map(sc, sc->asq, sqs, NVME_SQE_SIZE);
	cqb = nvme_queue_map(sc, sc->acq, cqs, NVME_CQE_SIZE);
	if (sqb == NULL || cqb == NULL) {
		nvme_ctrl_fatal(sc, "admin queue outside guest RAM");
		return;
	}
	nvme_cq_setup(&sc->cq[0], cqb, cqs, 0, true);
	nvme_sq_setup(sc, 0, sqb, sqs, 0);
	__atomic_fetch_or(&sc->csts, CSTS_RDY, __ATOMIC_SEQ_CST);
}

static int nvme_flush_sync(struct nvme_softc *sc);

/* CC.SHN (7.6.2): finish outstanding I/O, make it durable, report done. */
static void
nvme_ctrl_shutdown(struct nvme_softc *sc)
{
	nvme_io_drain(sc);
	if (sc->bc != NULL)
		(void)nvme_flush_sync(sc);
	__atomic_fetch_or(&sc->csts, CSTS_SHST_DONE, __ATOMIC_SEQ_CST);
}

static void
nvme_cc_write(struct nvme_softc *sc, uint32_t val)
{
	uint32_t old = sc->cc;

	sc->cc = val;
	if (!(old & CC_EN) && (val & CC_EN)) {
		nvme_ctrl_enable(sc);
	} else if ((old & CC_EN) && !(val & CC_EN)) {
		nvme_ctrl_reset(sc);
		return;
	}
	if (CC_SHN(val) != 0 && CC_SHN(old) == 0)
		nvme_ctrl_shutdown(sc);
}

static bool
nvme_ready(struct nvme_softc *sc)
{
	uint32_t csts = __atomic_load_n(&sc->csts, __ATOMIC_SEQ_CST);

	return (csts & (CSTS_RDY | CSTS_CFS)) == CSTS_RDY;
}

/* ---- admin: identify ---- */

static void
nvme_pad(uint8_t *dst, const char *s, size_t n)
{
	size_t l = strnlen(s, n);

	memset(dst, ' ', n);
	memcpy(dst, s, l);
}

static void
nvme_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void
nvme_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
nvme_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Identify Controller (5.15.2.2, figure 251). */
static void
nvme_identify_ctrl(struct nvme_softc *sc, uint8_t *d)
{
	char nqn[64];
	uint16_t oncs = 0;

	nvme_put16(d + 0, 0xfb5d);
	nvme_put16(d + 2, 0xfb5d);
	nvme_pad(d + 4, sc->serial, 20);
	nvme_pad(d + 24, "bhyve-NVMe", 40);
	nvme_pad(d + 64, "1.0", 8);
	d[72] = 4;    /* RAB */
	d[73] = 0xfc; /* IEEE OUI 58-9C-FC, least significant byte first */
	d[74] = 0x9c;
	d[75] = 0x58;
	d[77] = NVME_MDTS;
	nvme_put32(d + 80, NVME_VERSION);
	d[111] = 1; /* CNTRLTYPE: I/O controller */
	d[258] = NVME_ACL;
	d[259] = NVME_AERL;
	d[260] = 0x3;		     /* FRMW: one slot, read-only */
	d[261] = 0x4;		     /* LPA: extended Get Log Page data */
	nvme_put16(d + 266, 0x0157); /* WCTEMP */
	nvme_put16(d + 268, 0x0175); /* CCTEMP */
	d[512] = 0x66;		     /* SQES: 64 bytes */
	d[513] = 0x44;		     /* CQES: 16 bytes */
	nvme_put32(d + 516, 1);	     /* NN */
	if (sc->dsm)
		oncs |= 1u << 2;
	if (!sc->ro)
		oncs |= 1u << 3; /* Write Zeroes */
	nvme_put16(d + 520, oncs);
	d[525] = 1; /* VWC present: the guest's FLUSH reaches the disk */
	snprintf(nqn, sizeof(nqn), "nqn.2024-01.org.beehive:nvme:%s",
		 sc->serial);
	memcpy(d + 768, nqn, strlen(nqn));
	nvme_put16(d + 2048, 2500); /* PSD0: 25 W */
}

/* Identify Namespace (5.15.2.1, figure 245). */
static void
nvme_identify_ns(struct nvme_softc *sc, uint8_t *d)
{
	nvme_put64(d + 0, sc->nsze);
	nvme_put64(d + 8, sc->nsze);
	nvme_put64(d + 16, sc->nsze);
	for (int i = 0; i < 8; i++) /* EUI64 is big-endian */
		d[120 + i] = (uint8_t)(sc->eui64 >> (56 - 8 * i));
	nvme_put32(d + 128, blockif_log2(sc->sectsz) << 16); /* LBAF0 */
}

/* Namespace Identification Descriptor list (5.15.2.4). */
static void
nvme_identify_nsdesc(struct nvme_softc *sc, uint8_t *d)
{
	d[0] = 1; /* EUI64 */
	d[1] = 8;
	for (int i = 0; i < 8; i++)
		d[4 + i] = (uint8_t)(sc->eui64 >> (56 - 8 * i));
}

static uint16_t
nvme_adm_identify(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint8_t d[4096];

	memset(d, 0, sizeof(d));
	switch (cmd->cdw10 & 0xff) {
	case 0x00:
		if (cmd->nsid != 1)
			return ST_INVALID_NS;
		nvme_identify_ns(sc, d);
		break;
	case 0x01:
		nvme_identify_ctrl(sc, d);
		break;
	case 0x02: /* active NSIDs above cmd->nsid */
		if (cmd->nsid >= 0xfffffffe)
			return ST_INVALID_NS;
		if (cmd->nsid < 1)
			nvme_put32(d, 1);
		break;
	case 0x03:
		if (cmd->nsid != 1)
			return ST_INVALID_NS;
		nvme_identify_nsdesc(sc, d);
		break;
	default:
		return ST_INVALID_FIELD;
	}
	return nvme_prp_copyout(sc, cmd, d, sizeof(d), sizeof(d));
}

/* ---- admin: queues (5.3-5.7) ---- */

static uint16_t
nvme_adm_create_cq(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint16_t qid = cmd->cdw10 & 0xffff, iv = cmd->cdw11 >> 16;
	uint32_t size = (cmd->cdw10 >> 16) + 1;
	uint8_t *base;

	if (qid == 0 || qid > sc->ncq_alloc || sc->cq[qid].valid)
		return ST_INVALID_QID;
	if (size < 2 || size > sc->qsz)
		return ST_INVALID_QSIZE;
	if (!(cmd->cdw11 & 1)) /* CAP.CQR: contiguous queues only */
		return ST_INVALID_FIELD;
	if (iv > sc->maxq)
		return ST_INVALID_VECTOR;
	if (CC_IOCQES(sc->cc) != 4)
		return ST_INVALID_FIELD;
	base = nvme_queue_map(sc, cmd->prp1, size, NVME_CQE_SIZE);
	if (base == NULL)
		return ST_INVALID_FIELD;
	nvme_cq_setup(&sc->cq[qid], base, size, iv, (cmd->cdw11 & 2) != 0);
	return ST_OK;
}

static uint16_t
nvme_adm_create_sq(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint16_t qid = cmd->cdw10 & 0xffff, cqid = cmd->cdw11 >> 16;
	uint32_t size = (cmd->cdw10 >> 16) + 1;
	uint8_t *base;

	if (qid == 0 || qid > sc->nsq_alloc || sc->sq[qid].valid)
		return ST_INVALID_QID;
	if (size < 2 || size > sc->qsz)
		return ST_INVALID_QSIZE;
	if (cqid == 0 || cqid > sc->maxq || !sc->cq[cqid].valid)
		return ST_CQ_INVALID;
	if (!(cmd->cdw11 & 1))
		return ST_INVALID_FIELD;
	if (CC_IOSQES(sc->cc) != 6)
		return ST_INVALID_FIELD;
	base = nvme_queue_map(sc, cmd->prp1, size, NVME_SQE_SIZE);
	if (base == NULL)
		return ST_INVALID_FIELD;
	nvme_sq_setup(sc, qid, base, size, cqid);
	return ST_OK;
}

static uint16_t
nvme_adm_delete_sq(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint16_t qid = cmd->cdw10 & 0xffff;
	struct nvme_sq *sq;

	if (qid == 0 || qid > sc->maxq || !sc->sq[qid].valid)
		return ST_INVALID_QID;
	/* Commands in the backend post to this queue: let them finish. */
	nvme_io_drain(sc);
	sq = &sc->sq[qid];
	sc->cq[sq->cqid].nsq--;
	memset(sq, 0, sizeof(*sq));
	return ST_OK;
}

static uint16_t
nvme_adm_delete_cq(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint16_t qid = cmd->cdw10 & 0xffff;
	struct nvme_cq *cq;

	if (qid == 0 || qid > sc->maxq || !sc->cq[qid].valid)
		return ST_INVALID_QID;
	cq = &sc->cq[qid];
	if (cq->nsq != 0)
		return ST_INVALID_QDELETE;
	pthread_mutex_lock(&cq->lock);
	cq->valid = false;
	pthread_mutex_unlock(&cq->lock);
	if (!pci_msix_enabled(sc->pi) && !pci_msi_enabled(sc->pi))
		nvme_intx_update(sc);
	return ST_OK;
}

/* ---- admin: features (5.21, 5.9) ---- */

static bool
nvme_io_queues_exist(struct nvme_softc *sc)
{
	for (uint32_t q = 1; q <= sc->maxq; q++)
		if (sc->sq[q].valid || sc->cq[q].valid)
			return true;
	return false;
}

static uint16_t
nvme_set_num_queues(struct nvme_softc *sc, uint32_t cdw11, uint32_t *dw0)
{
	uint32_t nsq = (cdw11 & 0xffff) + 1, ncq = (cdw11 >> 16) + 1;

	if (nsq == 0x10000 || ncq == 0x10000)
		return ST_INVALID_FIELD;
	if (nvme_io_queues_exist(sc))
		return ST_CMD_SEQ_ERROR;
	sc->nsq_alloc = (uint16_t)(nsq < sc->maxq ? nsq : sc->maxq);
	sc->ncq_alloc = (uint16_t)(ncq < sc->maxq ? ncq : sc->maxq);
	*dw0 = (uint32_t)(sc->nsq_alloc - 1) | (uint32_t)(sc->ncq_alloc - 1)
						   << 16;
	return ST_OK;
}

static uint16_t
nvme_adm_set_features(struct nvme_softc *sc, const struct nvme_sqe *cmd,
		      uint32_t *dw0)
{
	uint32_t fid = cmd->cdw10 & 0xff, v = cmd->cdw11;

	if (cmd->cdw10 & (1u << 31))
		return ST_NOT_SAVEABLE;
	switch (fid) {
	case FID_POWER_MGMT:
		if ((v & 0x1f) != 0) /* NPSS 0: power state 0 only */
			return ST_INVALID_FIELD;
		break;
	case FID_TEMP_THRESHOLD:
		/* Composite temperature (TMPSEL 0), over or under. */
		if (((v >> 16) & 0xf) != 0 || ((v >> 20) & 3) > 1)
			return ST_INVALID_FIELD;
		if ((v >> 20) & 3) {
			sc->feat[0] = v & 0xffff; /* under: slot 0 unused */
			return ST_OK;
		}
		v &= 0xffff;
		break;
	case FID_ERROR_RECOVERY:
		if (v & (1u << 16)) /* DULBE: no deallocated-block errors */
			return ST_INVALID_FIELD;
		break;
	case FID_VWC:
		v &= 1;
		break;
	case FID_NUM_QUEUES:
		return nvme_set_num_queues(sc, v, dw0);
	case FID_INTR_VECTOR:
		if ((v & 0xffff) > sc->maxq)
			return ST_INVALID_FIELD;
		sc->ivc[v & 0xffff] = v & 0x1ffff;
		return ST_OK;
	case FID_ARBITRATION:
	case FID_INTR_COALESCING:
	case FID_WRITE_ATOMICITY:
	case FID_ASYNC_EVENT:
		break;
	default:
		return ST_INVALID_FIELD;
	}
	sc->feat[fid] = v;
	return ST_OK;
}

static uint16_t
nvme_adm_get_features(struct nvme_softc *sc, const struct nvme_sqe *cmd,
		      uint32_t *dw0)
{
	uint32_t fid = cmd->cdw10 & 0xff, sel = (cmd->cdw10 >> 8) & 7;
	uint32_t iv;

	if (fid == 0 || fid >= FID_MAX || fid == 0x03)
		return ST_INVALID_FIELD;
	if (sel == 3) { /* capabilities: changeable, not saveable */
		*dw0 = 1u << 2;
		return ST_OK;
	}
	if (sel > 3)
		return ST_INVALID_FIELD;
	switch (fid) {
	case FID_NUM_QUEUES:
		*dw0 = (uint32_t)(sc->nsq_alloc - 1) |
		       (uint32_t)(sc->ncq_alloc - 1) << 16;
		return ST_OK;
	case FID_INTR_VECTOR:
		iv = cmd->cdw11 & 0xffff;
		if (iv > sc->maxq)
			return ST_INVALID_FIELD;
		*dw0 = sel == 0 ? sc->ivc[iv] : iv;
		return ST_OK;
	case FID_TEMP_THRESHOLD:
		if (((cmd->cdw11 >> 16) & 0xf) != 0 ||
		    ((cmd->cdw11 >> 20) & 3) > 1)
			return ST_INVALID_FIELD;
		if ((cmd->cdw11 >> 20) & 3)
			*dw0 = sel == 0 ? sc->feat[0] : 0;
		else
			*dw0 = sel == 0 ? sc->feat[fid] : 0x0157;
		return ST_OK;
	default:
		*dw0 = sel == 0 ? sc->feat[fid] : (fid == FID_VWC ? 1 : 0);
		return ST_OK;
	}
}

/* ---- admin: logs (5.14) ---- */

static void
nvme_put128_units(uint8_t *p, uint64_t bytes)
{
	/* Data units: thousands of 512-byte units, rounded up. */
	nvme_put64(p, (bytes / 512 + 999) / 1000);
}

static size_t
nvme_log_build(struct nvme_softc *sc, uint8_t lid, uint8_t *d)
{
	switch (lid) {
	case 0x01: /* error information: no entries */
		return 64;
	case 0x02:			/* SMART / health */
		nvme_put16(d + 1, 296); /* 23 C */
		d[3] = 100;		/* available spare */
		d[4] = 10;		/* threshold */
		nvme_put128_units(
		    d + 32, __atomic_load_n(&sc->rd_bytes, __ATOMIC_RELAXED));
		nvme_put128_units(
		    d + 48, __atomic_load_n(&sc->wr_bytes, __ATOMIC_RELAXED));
		nvme_put64(d + 64,
			   __atomic_load_n(&sc->rd_cmds, __ATOMIC_RELAXED));
		nvme_put64(d + 80,
			   __atomic_load_n(&sc->wr_cmds, __ATOMIC_RELAXED));
		nvme_put64(d + 112, 1); /* power cycles */
		return 512;
	case 0x03:	  /* firmware slots */
		d[0] = 1; /* slot 1 active */
		nvme_pad(d + 8, "1.0", 8);
		return 512;
	case 0x04: /* changed namespaces: none */
		return 4096;
	default:
		return 0;
	}
}

static uint16_t
nvme_adm_get_log(struct nvme_softc *sc, const struct nvme_sqe *cmd)
{
	uint64_t numd =
	    ((uint64_t)(cmd->cdw11 & 0xffff) << 16 | cmd->cdw10 >> 16) + 1;
	uint64_t len = numd * 4, off = (uint64_t)cmd->cdw13 << 32 | cmd->cdw12;
	uint8_t d[4096];
	size_t size;

	memset(d, 0, sizeof(d));
	size = nvme_log_build(sc, cmd->cdw10 & 0xff, d);
	if (size == 0)
		return ST_INVALID_LOG;
	if ((off & 3) || off >= size || len > NVME_MAX_XFER)
		return ST_INVALID_FIELD;
	return nvme_prp_copyout(sc, cmd, d + off, size - (size_t)off,
				(size_t)len);
}

/* ---- admin dispatch ---- */

/* Runs one admin command; false when its completion is deferred (AER). */
static bool
nvme_adm_run(struct nvme_softc *sc, const struct nvme_sqe *cmd, uint16_t *st,
	     uint32_t *dw0)
{
	*dw0 = 0;
	if (cmd->flags != 0) { /* no fused commands, no SGLs */
		*st = ST_INVALID_FIELD;
		return true;
	}
	switch (cmd->opc) {
	case ADM_DELETE_SQ:
		*st = nvme_adm_delete_sq(sc, cmd);
		break;
	case ADM_CREATE_SQ:
		*st = nvme_adm_create_sq(sc, cmd);
		break;
	case ADM_GET_LOG:
		*st = nvme_adm_get_log(sc, cmd);
		break;
	case ADM_DELETE_CQ:
		*st = nvme_adm_delete_cq(sc, cmd);
		break;
	case ADM_CREATE_CQ:
		*st = nvme_adm_create_cq(sc, cmd);
		break;
	case ADM_IDENTIFY:
		*st = nvme_adm_identify(sc, cmd);
		break;
	case ADM_ABORT:
		*dw0 = 1; /* best effort: the command was not aborted */
		*st = ST_OK;
		break;
	case ADM_SET_FEATURES:
		*st = nvme_adm_set_features(sc, cmd, dw0);
		break;
	case ADM_GET_FEATURES:
		*st = nvme_adm_get_features(sc, cmd, dw0);
		break;
	case ADM_ASYNC_EVENT:
		/* Held until an event: this controller reports none. */
		if (sc->naer > NVME_AERL) {
			*st = ST_AER_LIMIT;
			break;
		}
		sc->aer_cid[sc->naer++] = cmd->cid;
		return false;
	default:
		/* Firmware, format, security, NS management: OACS is 0. */
		*st = ST_INVALID_OPCODE;
		break;
	}
	return true;
}

/* ---- I/O ---- */

static uint16_t
nvme_io_status(uint8_t opc, int err)
{
	if (err == 0)
		return ST_OK;
	if (opc == IO_READ)
		return ST_UNRECOVERED_READ;
	if (opc == IO_WRITE || opc == IO_WRITE_ZEROES)
		return ST_WRITE_FAULT;
	return ST_INTERNAL;
}

static int nvme_dsm_next(struct nvme_ioreq *io);

/* Backend callback (backend thread): chain the next step or complete. */
static void
nvme_io_done(struct blockif_req *br, int err)
{
	struct nvme_ioreq *io = br->br_param;
	struct nvme_softc *sc = io->sc;

	if (err == 0 && io->opc == IO_DSM && io->range < io->nrange) {
		err = nvme_dsm_next(io);
		if (err == 0)
			return;
		if (err == ENOENT)
			err = 0;
	}
	if (err == 0 && io->flush_after) {
		io->flush_after = false;
		err = blockif_flush(sc->bc, br);
		if (err == 0)
			return;
	}
	if (err == 0 && io->opc == IO_READ) {
		__atomic_add_fetch(&sc->rd_bytes, io->bytes, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sc->rd_cmds, 1, __ATOMIC_RELAXED);
	} else if (err == 0 && io->opc == IO_WRITE) {
		__atomic_add_fetch(&sc->wr_bytes, io->bytes, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sc->wr_cmds, 1, __ATOMIC_RELAXED);
	}
	nvme_cq_post(sc, io->sqid, io->cid, 0, nvme_io_status(io->opc, err));
	nvme_ioreq_put(sc, io);
}

/* Checks slba + nlb against the namespace, overflow-safe. */
static bool
nvme_lba_ok(struct nvme_softc *sc, uint64_t slba, uint64_t nlb)
{
	return slba <= sc->nsze && nlb <= sc->nsze - slba;
}

/* Hands io to the backend; on a refused submission completes at once. */
static uint16_t
nvme_io_submit(struct nvme_softc *sc, struct nvme_ioreq *io, int err)
{
	if (err == 0)
		return 0xffff;
	nvme_ioreq_put(sc, io);
	return nvme_io_status(io->opc, err);
}

static uint16_t
nvme_ram_rw(struct nvme_softc *sc, bool wr, uint64_t off,
	    const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++) {
		if (wr)
			memcpy(sc->ram + off, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, sc->ram + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return ST_OK;
}

/*
 * Read/Write (6.9, 6.15).  Returns the status, or 0xffff when the backend
 * owns the command.
 */
static uint16_t
nvme_io_rw(struct nvme_softc *sc, uint16_t sqid, const struct nvme_sqe *cmd)
{
	uint64_t slba = (uint64_t)cmd->cdw11 << 32 | cmd->cdw10;
	uint64_t nlb = (uint64_t)(cmd->cdw12 & 0xffff) + 1;
	bool wr = cmd->opc == IO_WRITE;
	uint64_t bytes = nlb * sc->sectsz;
	struct iovec iov[NVME_MAX_IOV];
	struct nvme_ioreq *io;
	uint16_t st;
	int n;

	if (!nvme_lba_ok(sc, slba, nlb))
		return ST_LBA_RANGE;
	if (bytes > NVME_MAX_XFER)
		return ST_INVALID_FIELD;
	if (wr && sc->ro)
		return ST_READ_ONLY;
	st = nvme_prp_map(sc, cmd->prp1, cmd->prp2, bytes, iov, NVME_MAX_IOV,
			  &n);
	if (st != ST_OK)
		return st;
	if (sc->ram != NULL) {
		__atomic_add_fetch(wr ? &sc->wr_bytes : &sc->rd_bytes, bytes,
				   __ATOMIC_RELAXED);
		__atomic_add_fetch(wr ? &sc->wr_cmds : &sc->rd_cmds, 1,
				   __ATOMIC_RELAXED);
		return nvme_ram_rw(sc, wr, slba * sc->sectsz, iov, n);
	}
	io = nvme_ioreq_get(sc);
	io->sqid = sqid;
	io->cid = cmd->cid;
	io->opc = cmd->opc;
	io->bytes = bytes;
	/* FUA, or a disabled write cache: durable before completion. */
	io->flush_after =
	    wr && ((cmd->cdw12 & (1u << 30)) || !(sc->feat[FID_VWC] & 1));
	memcpy(io->br.br_iov, iov, sizeof(iov[0]) * (size_t)n);
	io->br.br_iovcnt = n;
	io->br.br_offset = (off_t)(slba * sc->sectsz);
	io->br.br_resid = bytes;
	return nvme_io_submit(sc, io,
			      wr ? blockif_write(sc->bc, &io->br)
				 : blockif_read(sc->bc, &io->br));
}

static uint16_t
nvme_io_flush(struct nvme_softc *sc, uint16_t sqid, const struct nvme_sqe *cmd)
{
	struct nvme_ioreq *io;

	if (sc->ram != NULL)
		return ST_OK;
	io = nvme_ioreq_get(sc);
	io->sqid = sqid;
	io->cid = cmd->cid;
	io->opc = IO_FLUSH;
	return nvme_io_submit(sc, io, blockif_flush(sc->bc, &io->br));
}

/* Write Zeroes (6.16): DEAC lets the backend punch a hole. */
static uint16_t
nvme_io_write_zeroes(struct nvme_softc *sc, uint16_t sqid,
		     const struct nvme_sqe *cmd)
{
	uint64_t slba = (uint64_t)cmd->cdw11 << 32 | cmd->cdw10;
	uint64_t nlb = (uint64_t)(cmd->cdw12 & 0xffff) + 1;
	struct nvme_ioreq *io;

	if (sc->ro)
		return ST_INVALID_OPCODE; /* not in ONCS */
	if (!nvme_lba_ok(sc, slba, nlb))
		return ST_LBA_RANGE;
	if (sc->ram != NULL) {
		memset(sc->ram + slba * sc->sectsz, 0, nlb * sc->sectsz);
		return ST_OK;
	}
	io = nvme_ioreq_get(sc);
	io->sqid = sqid;
	io->cid = cmd->cid;
	io->opc = IO_WRITE_ZEROES;
	io->br.br_offset = (off_t)(slba * sc->sectsz);
	io->br.br_resid = nlb * sc->sectsz;
	return nvme_io_submit(
	    sc, io,
	    blockif_write_zeroes(sc->bc, &io->br, (cmd->cdw12 >> 25) & 1));
}

/* Starts the next non-empty deallocate range; ENOENT when none is left. */
static int
nvme_dsm_next(struct nvme_ioreq *io)
{
	struct nvme_softc *sc = io->sc;
	const struct nvme_dsm_range *r;

	while (io->range < io->nrange && io->ranges[io->range].nlb == 0)
		io->range++;
	if (io->range == io->nrange)
		return ENOENT;
	r = &io->ranges[io->range++];
	io->br.br_offset = (off_t)(r->slba * sc->sectsz);
	io->br.br_resid = (size_t)r->nlb * sc->sectsz;
	return blockif_discard(sc->bc, &io->br);
}

/*
 * Dataset Management (6.7): the ranges are copied once, all validated,
 * then deallocated one after the other.  Without AD the command is only
 * a hint and succeeds.
 */
static uint16_t
nvme_io_dsm(struct nvme_softc *sc, uint16_t sqid, const struct nvme_sqe *cmd)
{
	struct nvme_dsm_range r[NVME_DSM_MAX];
	int nr = (int)(cmd->cdw10 & 0xff) + 1, err;
	struct nvme_ioreq *io;
	uint16_t st;

	if (!sc->dsm)
		return ST_INVALID_OPCODE;
	st = nvme_prp_copyin(sc, cmd, r, sizeof(r[0]) * (size_t)nr);
	if (st != ST_OK)
		return st;
	for (int i = 0; i < nr; i++)
		if (!nvme_lba_ok(sc, r[i].slba, r[i].nlb))
			return ST_LBA_RANGE;
	if (!(cmd->cdw11 & 4) || sc->ro)
		return ST_OK;
	if (sc->ram != NULL) {
		for (int i = 0; i < nr; i++)
			memset(sc->ram + r[i].slba * sc->sectsz, 0,
			       (size_t)r[i].nlb * sc->sectsz);
		return ST_OK;
	}
	if (!blockif_candelete(sc->bc)) /* advisory: nothing to do */
		return ST_OK;
	io = nvme_ioreq_get(sc);
	io->sqid = sqid;
	io->cid = cmd->cid;
	io->opc = IO_DSM;
	memcpy(io->ranges, r, sizeof(r[0]) * (size_t)nr);
	io->nrange = nr;
	err = nvme_dsm_next(io);
	if (err == ENOENT) {
		nvme_ioreq_put(sc, io);
		return ST_OK;
	}
	return nvme_io_submit(sc, io, err);
}

static uint16_t
nvme_io_run(struct nvme_softc *sc, uint16_t sqid, const struct nvme_sqe *cmd)
{
	if (cmd->flags != 0)
		return ST_INVALID_FIELD;
	if (cmd->nsid != 1 &&
	    !(cmd->opc == IO_FLUSH && cmd->nsid == 0xffffffff))
		return ST_INVALID_NS;
	switch (cmd->opc) {
	case IO_FLUSH:
		return nvme_io_flush(sc, sqid, cmd);
	case IO_WRITE:
	case IO_READ:
		return nvme_io_rw(sc, sqid, cmd);
	case IO_WRITE_ZEROES:
		return nvme_io_write_zeroes(sc, sqid, cmd);
	case IO_DSM:
		return nvme_io_dsm(sc, sqid, cmd);
	default:
		return ST_INVALID_OPCODE;
	}
}

/* ---- submission queues ---- */

/* Runs every entry the guest has made available (sc->mtx held). */
static void
nvme_sq_process(struct nvme_softc *sc, uint16_t qid)
{
	struct nvme_sq *sq = &sc->sq[qid];
	struct nvme_sqe cmd;
	uint32_t dw0;
	uint16_t st;

	while (sq->valid && sq->head != sq->tail && nvme_ready(sc)) {
		/* One copy: the guest may rewrite the slot meanwhile. */
		memcpy(&cmd, sq->base + (size_t)sq->head * NVME_SQE_SIZE,
		       sizeof(cmd));
		__atomic_store_n(&sq->head,
				 sq->head + 1 == sq->size ? 0 : sq->head + 1,
				 __ATOMIC_RELAXED);
		dw0 = 0;
		if (qid == 0) {
			if (!nvme_adm_run(sc, &cmd, &st, &dw0))
				continue;
		} else {
			st = nvme_io_run(sc, qid, &cmd);
			if (st == 0xffff)
				continue;
		}
		if (st != ST_OK)
			st |= ST_DNR;
		nvme_cq_post(sc, qid, cmd.cid, dw0, st);
	}
}

/* Doorbells (3.1.24/25): an invalid write is ignored. */
static void
nvme_doorbell_write(struct nvme_softc *sc, uint64_t off, uint32_t val)
{
	uint64_t idx = (off - NVME_REGS_END) / 4;
	uint16_t qid = (uint16_t)(idx / 2);
	struct nvme_cq *cq;

	if (idx / 2 > sc->maxq || !nvme_ready(sc))
		return;
	if ((idx & 1) == 0) {
		if (!sc->sq[qid].valid || val >= sc->sq[qid].size)
			return;
		sc->sq[qid].tail = val;
		nvme_sq_process(sc, qid);
		return;
	}
	cq = &sc->cq[qid];
	pthread_mutex_lock(&cq->lock);
	if (cq->valid && val < cq->size)
		cq->head = val;
	pthread_mutex_unlock(&cq->lock);
	if (!pci_msix_enabled(sc->pi) && !pci_msi_enabled(sc->pi))
		nvme_intx_update(sc);
}

/* ---- BAR0 ---- */

static uint32_t
nvme_reg_read32(struct nvme_softc *sc, uint64_t off)
{
	switch (off) {
	case NVME_CAP:
		return (uint32_t)sc->cap;
	case NVME_CAP + 4:
		return (uint32_t)(sc->cap >> 32);
	case NVME_VS:
		return NVME_VERSION;
	case NVME_INTMS:
	case NVME_INTMC:
		return sc->intms;
	case NVME_CC:
		return sc->cc;
	case NVME_CSTS:
		return __atomic_load_n(&sc->csts, __ATOMIC_SEQ_CST);
	case NVME_AQA:
		return sc->aqa;
	case NVME_ASQ:
		return (uint32_t)sc->asq;
	case NVME_ASQ + 4:
		return (uint32_t)(sc->asq >> 32);
	case NVME_ACQ:
		return (uint32_t)sc->acq;
	case NVME_ACQ + 4:
		return (uint32_t)(sc->acq >> 32);
	default:
		return 0;
	}
}

static void
nvme_reg_write32(struct nvme_softc *sc, uint64_t off, uint32_t val)
{
	bool enabled = (sc->cc & CC_EN) != 0;

	if (off >= NVME_REGS_END) {
		nvme_doorbell_write(sc, off, val);
		return;
	}
	switch (off) {
	case NVME_INTMS:
	case NVME_INTMC:
		nvme_intms_write(sc, val, off == NVME_INTMS);
		break;
	case NVME_CC:
		nvme_cc_write(sc, val);
		break;
	/* The admin queue registers change only while disabled (3.1.8). */
	case NVME_AQA:
		if (!enabled)
			sc->aqa = val & 0x0fff0fff;
		break;
	case NVME_ASQ:
	case NVME_ACQ:
		if (!enabled) {
			uint64_t *r = off == NVME_ASQ ? &sc->asq : &sc->acq;

			*r = (*r & ~0xffffffffULL) | (val & ~0xfffu);
		}
		break;
	case NVME_ASQ + 4:
	case NVME_ACQ + 4:
		if (!enabled) {
			uint64_t *r = off == NVME_ASQ + 4 ? &sc->asq : &sc->acq;

			*r = (*r & 0xffffffffULL) | (uint64_t)val << 32;
		}
		break;
	default: /* read-only or reserved; NSSR unsupported (CAP.NSSRS 0) */
		break;
	}
}

static uint64_t
nvme_barread(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct nvme_softc *sc = pi->pi_arg;
	uint64_t v;

	if (baridx != 0)
		return 0;
	pthread_mutex_lock(&sc->mtx);
	if (size == 8 && (offset & 7) == 0)
		v = nvme_reg_read32(sc, offset) |
		    (uint64_t)nvme_reg_read32(sc, offset + 4) << 32;
	else
		v = nvme_reg_read32(sc, offset & ~3ULL) >> (8 * (offset & 3));
	pthread_mutex_unlock(&sc->mtx);
	if (size < 8)
		v &= (1ULL << (8 * size)) - 1;
	return v;
}

static void
nvme_barwrite(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	      uint64_t value)
{
	struct nvme_softc *sc = pi->pi_arg;

	/* Registers are written as dwords or qwords (3.1). */
	if (baridx != 0 || (offset & 3) != 0 || size < 4)
		return;
	pthread_mutex_lock(&sc->mtx);
	nvme_reg_write32(sc, offset, (uint32_t)value);
	if (size == 8)
		nvme_reg_write32(sc, offset + 4, (uint32_t)(value >> 32));
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- the backend ---- */

static void
nvme_flush_sync_done(struct blockif_req *br, int err)
{
	int *state = br->br_param;

	__atomic_store_n(state, err == 0 ? 1 : 2, __ATOMIC_SEQ_CST);
}

/* A FLUSH outside any queue (shutdown); waits for it. */
static int
nvme_flush_sync(struct nvme_softc *sc)
{
	struct blockif_req br;
	int state = 0;

	memset(&br, 0, sizeof(br));
	br.br_callback = nvme_flush_sync_done;
	br.br_param = &state;
	if (blockif_flush(sc->bc, &br) != 0)
		return -1;
	/* Every request submitted so far, this one included, called back. */
	blockif_drain(sc->bc);
	return __atomic_load_n(&state, __ATOMIC_SEQ_CST) == 1 ? 0 : -1;
}

/* ---- options ---- */

static int
nvme_opt_num(const struct config_node *nvl, const char *key, uint64_t min,
	     uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const char *v = get_config_value_node(nvl, key);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		snprintf(err, errlen, "invalid %s '%s' (want %llu..%llu)", key,
			 v, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = n;
	return 1;
}

/* Parses and checks every option; 0, or -1 with the reason in err. */
static int
nvme_parse_opts(const struct config_node *nvl, struct nvme_opts *o, char *err,
		size_t errlen)
{
	const char *dsm = get_config_value_node(nvl, "dsm");
	uint64_t v;
	int rc;

	memset(o, 0, sizeof(*o));
	o->maxq = NVME_DEF_MAXQ;
	o->qsz = NVME_DEF_QSZ;
	o->ioslots = NVME_DEF_IOSLOTS;
	o->path = get_config_value_node(nvl, "path");
	if (nvme_opt_num(nvl, "ram", 1, 1u << 20, &o->ram_mib, err, errlen) <
		0 ||
	    (rc = nvme_opt_num(nvl, "maxq", 1, NVME_MAXQ_MAX, &v, err,
			       errlen)) < 0)
		return -1;
	if (rc)
		o->maxq = (uint32_t)v;
	if ((rc = nvme_opt_num(nvl, "qsz", 2, 65536, &v, err, errlen)) < 0)
		return -1;
	if (rc)
		o->qsz = (uint32_t)v;
	if ((rc = nvme_opt_num(nvl, "ioslots", 1, 1024, &v, err, errlen)) < 0)
		return -1;
	if (rc)
		o->ioslots = (uint32_t)v;
	if ((rc = nvme_opt_num(nvl, "sectsz", 512, 8192, &v, err, errlen)) < 0)
		return -1;
	if (rc && v != 512 && v != 4096 && v != 8192) {
		snprintf(err, errlen,
			 "invalid sectsz %llu (want 512, 4096 "
			 "or 8192)",
			 (unsigned long long)v);
		return -1;
	}
	o->sectsz = rc ? (uint32_t)v : 0;
	if ((rc = nvme_opt_num(nvl, "eui64", 0, UINT64_MAX, &o->eui64, err,
			       errlen)) < 0)
		return -1;
	o->have_eui64 = rc != 0;
	o->ser = get_config_value_node(nvl, "ser");
	if (dsm == NULL || strcmp(dsm, "auto") == 0)
		o->dsm = 0;
	else if (strcmp(dsm, "enable") == 0)
		o->dsm = 1;
	else if (strcmp(dsm, "disable") == 0)
		o->dsm = 2;
	else {
		snprintf(err, errlen,
			 "invalid dsm '%s' (want auto, enable or disable)",
			 dsm);
		return -1;
	}
	if (o->ram_mib == 0 && o->path == NULL) {
		snprintf(err, errlen, "needs a disk image path or ram=MiB");
		return -1;
	}
	return 0;
}

static int
nvme_check(const struct config_node *nvl, char *err, size_t errlen)
{
	struct nvme_opts o;

	if (nvme_parse_opts(nvl, &o, err, errlen) != 0)
		return -1;
	if (o.ram_mib != 0)
		return 0;
	return blockif_check(nvl, err, errlen);
}

/* nvme: "ram=MiB[,opts]" for a RAM namespace, else a block device. */
static int
pci_nvme_legacy_config(struct config_node *nvl, const char *opts)
{
	if (opts != NULL && strncmp(opts, "ram=", 4) == 0)
		return legacy_config_generic(nvl, opts);
	return blockif_legacy_config(nvl, opts);
}

/* ---- setup ---- */

static uint64_t
nvme_default_eui64(struct pci_devinst *pi)
{
	const char *vm = get_config_value("name");
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a of name and slot */
	char buf[96];

	snprintf(buf, sizeof(buf), "%s/%d/%d/%d", vm ? vm : "", pi->pi_bus,
		 pi->pi_slot, pi->pi_func);
	for (const char *p = buf; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	/* FreeBSD's OUI 58-9C-FC, then 24 hash bits, then the NSID. */
	return 0x589cfcULL << 40 | (h & 0xffffff) << 16 | 1;
}

static int
nvme_backend_open(struct nvme_softc *sc, const struct config_node *nvl,
		  const struct nvme_opts *o)
{
	uint32_t bsect;

	if (o->ram_mib != 0) {
		sc->sectsz = o->sectsz ? o->sectsz : 4096;
		sc->ram = calloc(1, o->ram_mib << 20);
		if (sc->ram == NULL) {
			fprintf(stderr, "bhyve: %s: cannot allocate %llu MiB\n",
				sc->name, (unsigned long long)o->ram_mib);
			return -1;
		}
		sc->nsze = (o->ram_mib << 20) / sc->sectsz;
		sc->dsm = o->dsm != 2;
		return 0;
	}
	sc->bc = blockif_open(nvl, sc->name);
	if (sc->bc == NULL)
		return -1;
	bsect = (uint32_t)blockif_sectsz(sc->bc);
	sc->sectsz = o->sectsz ? o->sectsz : bsect;
	if (sc->sectsz < bsect || sc->sectsz % bsect != 0) {
		fprintf(stderr,
			"bhyve: %s: sectsz %u is below the backend's sector "
			"size %u\n",
			sc->name, sc->sectsz, bsect);
		return -1;
	}
	sc->nsze = (uint64_t)blockif_size(sc->bc) / sc->sectsz;
	sc->ro = blockif_is_ro(sc->bc);
	sc->dsm = o->dsm == 1 || (o->dsm == 0 && blockif_candelete(sc->bc));
	return 0;
}

static void
nvme_free(struct nvme_softc *sc)
{
	if (sc->bc != NULL)
		blockif_close(sc->bc);
	if (sc->cq != NULL)
		for (uint32_t q = 0; q <= sc->maxq; q++)
			pthread_mutex_destroy(&sc->cq[q].lock);
	free(sc->ram);
	free(sc->sq);
	free(sc->cq);
	free(sc->ivc);
	free(sc->ios);
	free(sc);
}

static int
nvme_alloc(struct nvme_softc *sc)
{
	uint32_t n = sc->maxq + 1;

	sc->sq = calloc(n, sizeof(*sc->sq));
	sc->cq = calloc(n, sizeof(*sc->cq));
	sc->ivc = calloc(n, sizeof(*sc->ivc));
	sc->ios = calloc(sc->ioslots, sizeof(*sc->ios));
	if (sc->sq == NULL || sc->cq == NULL || sc->ivc == NULL ||
	    sc->ios == NULL)
		return -1;
	for (uint32_t q = 0; q < n; q++)
		pthread_mutex_init(&sc->cq[q].lock, NULL);
	for (uint32_t i = 0; i < sc->ioslots; i++) {
		sc->ios[i].sc = sc;
		sc->ios[i].br.br_param = &sc->ios[i];
		sc->ios[i].br.br_callback = nvme_io_done;
		sc->ios[i].next = sc->io_free;
		sc->io_free = &sc->ios[i];
	}
	sc->nfree = sc->ioslots;
	return 0;
}

/* PCI identity and capabilities, as bhyve's: class 01/08/02. */
static int
nvme_pci_setup(struct nvme_softc *sc)
{
	struct pci_devinst *pi = sc->pi;
	uint64_t bar0 = NVME_REGS_END + 8ULL * (sc->maxq + 1);
	int msi = 1;

	pci_set_cfgdata16(pi, PCIR_VENDOR, 0xfb5d);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x0a0a);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, 0xfb5d);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, 0x0a0a);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x01);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, 0x08);
	pci_set_cfgdata8(pi, PCIR_PROGIF, 0x02);
	if (bar0 < NVME_BAR0_MIN)
		bar0 = NVME_BAR0_MIN;
	while (msi < (int)sc->maxq + 1 && msi < 32)
		msi *= 2;
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_MEM64, bar0) != 0 ||
	    pci_emul_add_msicap(pi, msi) < 0 ||
	    pci_emul_add_msixcap(pi, (int)sc->maxq + 1, NVME_MSIX_BAR) < 0 ||
	    pci_emul_add_pciecap(pi, PCIEM_TYPE_ROOT_INT_EP) < 0) {
		fprintf(stderr, "bhyve: %s: PCI setup failed\n", sc->name);
		return -1;
	}
	pci_lintr_request(pi);
	return 0;
}

static int
nvme_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct nvme_softc *sc;
	struct nvme_opts o;
	char err[160];

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	sc->pi = pi;
	snprintf(sc->name, sizeof(sc->name), "nvme %d:%d:%d", pi->pi_bus,
		 pi->pi_slot, pi->pi_func);
	if (nvme_parse_opts(nvl, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s: %s\n", sc->name, err);
		free(sc);
		return -1;
	}
	sc->maxq = o.maxq;
	sc->qsz = o.qsz;
	sc->ioslots = o.ioslots;
	pthread_mutex_init(&sc->mtx, NULL);
	pthread_mutex_init(&sc->io_mtx, NULL);
	pthread_mutex_init(&sc->intr_mtx, NULL);
	pthread_cond_init(&sc->io_cv, NULL);
	if (nvme_alloc(sc) != 0 || nvme_backend_open(sc, nvl, &o) != 0 ||
	    nvme_pci_setup(sc) != 0) {
		nvme_free(sc);
		return -1;
	}
	if (o.ser != NULL)
		snprintf(sc->serial, sizeof(sc->serial), "%s", o.ser);
	else
		snprintf(sc->serial, sizeof(sc->serial), "NVME-%d-%d",
			 pi->pi_slot, pi->pi_func);
	sc->eui64 = o.have_eui64 ? o.eui64 : nvme_default_eui64(pi);
	/*
	 * CAP (3.1.1): MQES, CQR (contiguous queues), TO 15 s in 500 ms
	 * units, DSTRD 0, CSS NVM, MPSMIN = MPSMAX = 4 KiB.
	 */
	sc->cap =
	    (uint64_t)(sc->qsz - 1) | 1ULL << 16 | 30ULL << 24 | 1ULL << 37;
	nvme_features_reset(sc);
	pi->pi_arg = sc;
	return 0;
}

static void
nvme_fini(struct pci_devinst *pi)
{
	struct nvme_softc *sc = pi->pi_arg;

	if (sc == NULL)
		return;
	nvme_io_drain(sc);
	nvme_free(sc);
	pi->pi_arg = NULL;
}

static const struct pci_devemu pci_de_nvme = {
    .pe_emu = "nvme",
    .pe_legacy_config = pci_nvme_legacy_config,
    .pe_init = nvme_init,
    .pe_check = nvme_check,
    .pe_barread = nvme_barread,
    .pe_barwrite = nvme_barwrite,
    .pe_bar64 = true,
    .pe_fini = nvme_fini,
};
PCI_EMUL_SET(pci_de_nvme);
