/*
 * AHCI 1.3 SATA host bus adapter ("-s N,ahci,hd:PATH,cd:PATH", ahci-hd,
 * ahci-cd): up to 32 ports, each an ATA disk (NCQ, TRIM, FLUSH) or an
 * ATAPI CD-ROM (read-only MMC subset), on the block backend (block_if.h).
 *
 * Everything in guest memory (command headers, command tables, PRDTs,
 * packets) is hostile: each structure is copied into a local once and
 * validated; a bad one fails its command with a task-file error.
 *
 * One mutex per HBA serialises register accesses (vCPU threads) and
 * completions (block backend threads).  docs/ahci.md has the details.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_if.h"
#include "config.h"
#include "legacy_config.h"
#include "pci_emul.h"
#include "vmmapi.h"

#define AHCI_MAX_PORTS 32
#define AHCI_NSLOTS    32
#define AHCI_PORT_OFF  0x100
#define AHCI_PORT_STEP 0x80
#define AHCI_BAR_SIZE  (AHCI_PORT_OFF + AHCI_MAX_PORTS * AHCI_PORT_STEP)
#define AHCI_BAR       5
#define AHCI_PRDT_MAX  BLOCKIF_IOV_MAX /* one PRD per iovec */
#define AHCI_DSM_MAX   8	       /* 512-byte blocks of TRIM ranges */

/* Generic host control registers (AHCI 1.3, 3.1). */
#define HBA_CAP	 0x00
#define HBA_GHC	 0x04
#define HBA_IS	 0x08
#define HBA_PI	 0x0c
#define HBA_VS	 0x10
#define HBA_CAP2 0x24

#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SCLO (1u << 24)
#define CAP_ISS3 (3u << 20)
#define CAP_SAM	 (1u << 18)
#define CAP_NCS	 ((AHCI_NSLOTS - 1u) << 8)

#define GHC_HR (1u << 0)
#define GHC_IE (1u << 1)
#define GHC_AE (1u << 31)

/* Port registers (3.3), offsets within a port's 0x80 bytes. */
#define P_CLB  0x00
#define P_CLBU 0x04
#define P_FB   0x08
#define P_FBU  0x0c
#define P_IS   0x10
#define P_IE   0x14
#define P_CMD  0x18
#define P_TFD  0x20
#define P_SIG  0x24
#define P_SSTS 0x28
#define P_SCTL 0x2c
#define P_SERR 0x30
#define P_SACT 0x34
#define P_CI   0x38
#define P_SNTF 0x3c

#define PIS_DHRS (1u << 0)
#define PIS_PSS	 (1u << 1)
#define PIS_SDBS (1u << 3)
#define PIS_TFES (1u << 30)

#define PCMD_ST	   (1u << 0)
#define PCMD_SUD   (1u << 1)
#define PCMD_POD   (1u << 2)
#define PCMD_CLO   (1u << 3)
#define PCMD_FRE   (1u << 4)
#define PCMD_FR	   (1u << 14)
#define PCMD_CR	   (1u << 15)
#define PCMD_ATAPI (1u << 24)
/*
 * Bits the guest may set; the others are status.  ICC (31:28) reads 0:
 * an interface state change completes at once.
 */
#define PCMD_RW_MASK (PCMD_ST | PCMD_FRE | PCMD_ATAPI)

#define SSTS_UP	  0x133 /* device present, Gen3, active */
#define SIG_ATA	  0x00000101u
#define SIG_ATAPI 0xeb140101u

/* Received FIS area (4.2.1). */
#define RFIS_PIO 0x20
#define RFIS_D2H 0x40
#define RFIS_SDB 0x58
#define RFIS_LEN 0x100

/* ATA status and error bits. */
#define ATA_S_ERR  0x01
#define ATA_S_DSC  0x10
#define ATA_S_DRDY 0x40
#define ATA_S_BSY  0x80
#define ATA_E_ABRT 0x04
#define ATA_E_IDNF 0x10
#define ATA_OK	   (ATA_S_DRDY | ATA_S_DSC)

/* SCSI sense (SPC-4). */
#define SK_NOT_READY	   0x02
#define SK_ILLEGAL_REQUEST 0x05
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_RANGE	   0x21
#define ASC_INVALID_FIELD  0x24

#define CD_SECT 2048

struct ahci_softc;
struct ahci_port;

/* A command as fetched from guest memory: read once, then validated. */
struct ahci_cmd {
	uint32_t flags; /* header DW0 */
	uint64_t ctba;
	uint8_t cfis[64];
	uint8_t acmd[16];
	uint32_t prdtl;
};

struct ahci_ioreq {
	struct blockif_req br; /* first: iovecs of the mapped PRDT */
	struct ahci_port *port;
	int slot;
	bool ncq;
	bool pio;
	bool aborted;	  /* the port stopped or reset while it was in flight */
	uint8_t cfis[20]; /* the command FIS, echoed in completion FISes */
	bool flush_after; /* write cache off: the write ends with a flush */
	uint32_t nbytes;
	/* DATA SET MANAGEMENT: ranges left to discard. */
	uint64_t dsm[AHCI_DSM_MAX * 64];
	int dsm_n, dsm_i;
};

struct ahci_port {
	struct ahci_softc *sc;
	struct blockif_ctxt *bc;
	int idx;
	bool atapi;
	/* Registers. */
	uint64_t clb, fb;
	uint32_t is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci, sntf;
	/* Slots whose request the backend owns (their ioreq is busy). */
	uint32_t busy;
	/* Device. */
	char ser[21], model[41], rev[9];
	unsigned nmrr;
	int sectsz, psectsz, psectoff;
	uint64_t nsect; /* in logical sectors (ATAPI: 2048 bytes) */
	uint8_t mult;	/* SET MULTIPLE MODE */
	uint8_t xfer;	/* SET FEATURES transfer mode */
	bool wcache;
	uint8_t sense_key, asc;
	bool media_event; /* GET EVENT STATUS: report "new media" once */
	/* NCQ command error log (ACS-3, 9.13). */
	uint8_t ncq_log[512];
	struct ahci_ioreq *io;
};

struct ahci_softc {
	struct pci_devinst *pi;
	pthread_mutex_t mtx;
	uint32_t cap, ghc, is, pimask;
	int nports;
	struct ahci_port *port[AHCI_MAX_PORTS];
};

/* ---- little-endian access to guest structures and buffers ---- */

static uint32_t
le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void
le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
le32_put(uint8_t *p, uint32_t v)
{
	le16_put(p, (uint16_t)v);
	le16_put(p + 2, (uint16_t)(v >> 16));
}

static void
be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
be32_put(uint8_t *p, uint32_t v)
{
	be16_put(p, (uint16_t)(v >> 16));
	be16_put(p + 2, (uint16_t)v);
}

static uint32_t
be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void *
ahci_gmap(const struct ahci_port *p, uint64_t gpa, size_t len)
{
	if (gpa + len < gpa)
		return NULL;
	return vm_map_gpa(p->sc->pi->pi_vmctx, gpa, len);
}

/* ---- interrupts ---- */

/*
 * HBA IS has one bit per port with (PxIS & PxIE) != 0.  INTx follows it
 * as a level; MSI fires once per newly raised event.
 */
static void
ahci_intr_update(struct ahci_softc *sc, bool fire)
{
	struct pci_devinst *pi = sc->pi;
	struct ahci_port *p;
	int i;

	for (i = 0; i < AHCI_MAX_PORTS; i++) {
		p = sc->port[i];
		if (p != NULL && (p->is & p->ie) != 0)
			sc->is |= 1u << i;
	}
	if ((sc->ghc & GHC_IE) == 0 || sc->is == 0) {
		pci_lintr_deassert(pi);
		return;
	}
	if (pci_msi_enabled(pi)) {
		if (fire)
			pci_generate_msi(pi, 0);
	} else {
		pci_lintr_assert(pi);
	}
}

static void
ahci_port_irq(struct ahci_port *p, uint32_t bits)
{
	p->is |= bits;
	ahci_intr_update(p->sc, (bits & p->ie) != 0);
}

/* ---- FIS delivery into the received-FIS area ---- */

static uint8_t *
ahci_rfis(struct ahci_port *p, int off, int len)
{
	if ((p->cmd & PCMD_FRE) == 0)
		return NULL;
	return ahci_gmap(p, p->fb + (uint64_t)off, (size_t)len);
}

/* Register D2H FIS (SATA 3.2, 10.5.6): the task file after a command. */
static void
ahci_fis_d2h(struct ahci_port *p, const uint8_t *cfis, uint8_t st, uint8_t err)
{
	uint8_t *f = ahci_rfis(p, RFIS_D2H, 20);

	p->tfd = (uint32_t)err << 8 | st;
	if (f == NULL)
		return;
	memset(f, 0, 20);
	f[0] = 0x34;
	f[1] = 0x40; /* I: interrupt */
	f[2] = st;
	f[3] = err;
	if (cfis != NULL) {
		memcpy(f + 4, cfis + 4, 4);   /* LBA 7:0 .. device */
		memcpy(f + 8, cfis + 8, 3);   /* LBA 47:24 */
		memcpy(f + 12, cfis + 12, 2); /* count */
	}
}

/* PIO Setup FIS (10.5.11): Linux takes a PIO read's status from it. */
static void
ahci_fis_pio(struct ahci_port *p, const uint8_t *cfis, uint8_t st,
	     uint32_t nbytes)
{
	uint8_t *f = ahci_rfis(p, RFIS_PIO, 20);

	if (f == NULL)
		return;
	memset(f, 0, 20);
	f[0] = 0x5f;
	f[1] = 0x60; /* I, D: device to host */
	f[2] = st;
	memcpy(f + 4, cfis + 4, 7);
	memcpy(f + 12, cfis + 12, 2);
	f[15] = st; /* E_Status: the status when the transfer ends */
	le16_put(f + 16, (uint16_t)(nbytes > 0xffff ? 0 : nbytes));
}

/* Set Device Bits FIS (10.5.7): completes NCQ commands in 'done'. */
static void
ahci_fis_sdb(struct ahci_port *p, uint32_t done, uint8_t st, uint8_t err)
{
	uint8_t *f = ahci_rfis(p, RFIS_SDB, 8);

	p->tfd = (uint32_t)err << 8 | st;
	if (f == NULL)
		return;
	f[0] = 0xa1;
	f[1] = 0x40;
	f[2] = st & 0x77;
	f[3] = err;
	le32_put(f + 4, done);
}

/* ---- command completion ---- */

static void
ahci_hdr_set_prdbc(struct ahci_port *p, int slot, uint32_t nbytes)
{
	uint8_t *h = ahci_gmap(p, p->clb + 32u * (unsigned)slot + 4, 4);

	if (h != NULL)
		le32_put(h, nbytes);
}

/* A non-queued command ends: FIS, CI bit, interrupt. */
static void
ahci_cmd_done(struct ahci_port *p, int slot, const uint8_t *cfis, uint8_t st,
	      uint8_t err, uint32_t nbytes, bool pio)
{
	uint32_t irq = PIS_DHRS | ((st & ATA_S_ERR) ? PIS_TFES : 0);

	/*
	 * PRDBC before the FISes: firmware polling the receive area (edk2)
	 * compares it with the expected length once a FIS shows up.
	 */
	ahci_hdr_set_prdbc(p, slot, nbytes);
	if (pio && cfis != NULL && (st & ATA_S_ERR) == 0) {
		ahci_fis_pio(p, cfis, st, nbytes);
		irq |= PIS_PSS;
	}
	ahci_fis_d2h(p, cfis, st, err);
	p->ci &= ~(1u << slot);
	ahci_port_irq(p, irq);
}

static void
ahci_cmd_ok(struct ahci_port *p, int slot, const uint8_t *cfis, uint32_t nbytes,
	    bool pio)
{
	ahci_cmd_done(p, slot, cfis, ATA_OK, 0, nbytes, pio);
}

static void
ahci_cmd_abort(struct ahci_port *p, int slot, const uint8_t *cfis, uint8_t err)
{
	ahci_cmd_done(p, slot, cfis, ATA_S_DRDY | ATA_S_ERR, err, 0, false);
}

/* Records a failed queued command for READ LOG EXT page 10h. */
static void
ahci_ncq_log_error(struct ahci_port *p, int slot, uint8_t err)
{
	uint8_t sum = 0;
	int i;

	memset(p->ncq_log, 0, sizeof(p->ncq_log));
	p->ncq_log[0] = (uint8_t)slot;
	p->ncq_log[2] = ATA_S_DRDY | ATA_S_ERR;
	p->ncq_log[3] = err;
	for (i = 0; i < 511; i++)
		sum = (uint8_t)(sum + p->ncq_log[i]);
	p->ncq_log[511] = (uint8_t)-sum;
}

static void
ahci_ncq_done(struct ahci_port *p, int slot, int err)
{
	uint32_t bit = 1u << slot;

	p->sact &= ~bit;
	if (err == 0) {
		ahci_fis_sdb(p, bit, ATA_OK, 0);
		ahci_port_irq(p, PIS_SDBS);
		return;
	}
	ahci_ncq_log_error(p, slot, ATA_E_ABRT);
	ahci_fis_sdb(p, bit, ATA_S_DRDY | ATA_S_ERR, ATA_E_ABRT);
	ahci_port_irq(p, PIS_SDBS | PIS_TFES);
}

/* ---- fetching a command: header, table, PRDT ---- */

static int
ahci_cmd_fetch(struct ahci_port *p, int slot, struct ahci_cmd *c)
{
	const uint8_t *h, *t;

	h = ahci_gmap(p, p->clb + 32u * (unsigned)slot, 32);
	if (h == NULL)
		return -1;
	c->flags = le32_get(h);
	c->ctba = ((uint64_t)le32_get(h + 12) << 32 | le32_get(h + 8)) &
		  ~(uint64_t)0x7f;
	c->prdtl = c->flags >> 16;
	t = ahci_gmap(p, c->ctba, 0x80);
	if (t == NULL)
		return -1;
	memcpy(c->cfis, t, sizeof(c->cfis));
	memcpy(c->acmd, t + 0x40, sizeof(c->acmd));
	return 0;
}

/*
 * Maps up to 'want' bytes of the PRDT into io's iovecs; returns the bytes
 * mapped, or -1 for a bad table (too long, an entry outside guest RAM).
 */
static int64_t
ahci_prdt_map(struct ahci_port *p, const struct ahci_cmd *c,
	      struct ahci_ioreq *io, uint64_t want)
{
	const uint8_t *e;
	uint64_t dba, total = 0;
	uint32_t dbc, i;
	void *hva;
	int n = 0;

	if (c->prdtl > AHCI_PRDT_MAX)
		return -1;
	for (i = 0; i < c->prdtl && total < want; i++) {
		e = ahci_gmap(p, c->ctba + 0x80 + 16ull * i, 16);
		if (e == NULL)
			return -1;
		dba = (uint64_t)le32_get(e + 4) << 32 | le32_get(e);
		dbc = (le32_get(e + 12) & 0x3fffff) + 1;
		if (dbc > want - total)
			dbc = (uint32_t)(want - total);
		hva = ahci_gmap(p, dba, dbc);
		if (hva == NULL)
			return -1;
		io->br.br_iov[n].iov_base = hva;
		io->br.br_iov[n].iov_len = dbc;
		n++;
		total += dbc;
	}
	io->br.br_iovcnt = n;
	return (int64_t)total;
}

/* Copies a response into the PRDT buffers; returns the bytes copied. */
static int64_t
ahci_prdt_put(struct ahci_port *p, const struct ahci_cmd *c,
	      struct ahci_ioreq *io, const void *buf, size_t len)
{
	const uint8_t *src = buf;
	int64_t n = ahci_prdt_map(p, c, io, len);
	int i;

	for (i = 0; n > 0 && i < io->br.br_iovcnt; i++) {
		memcpy(io->br.br_iov[i].iov_base, src,
		       io->br.br_iov[i].iov_len);
		src += io->br.br_iov[i].iov_len;
	}
	return n;
}

/* Copies up to len bytes from the PRDT buffers into buf. */
static int64_t
ahci_prdt_get(struct ahci_port *p, const struct ahci_cmd *c,
	      struct ahci_ioreq *io, void *buf, size_t len)
{
	uint8_t *dst = buf;
	int64_t n = ahci_prdt_map(p, c, io, len);
	int i;

	for (i = 0; n > 0 && i < io->br.br_iovcnt; i++) {
		memcpy(dst, io->br.br_iov[i].iov_base,
		       io->br.br_iov[i].iov_len);
		dst += io->br.br_iov[i].iov_len;
	}
	return n;
}

/* ---- ATA: IDENTIFY ---- */

/* ATA strings hold two characters per word, the first in the high byte. */
static void
ata_string(uint8_t *id, int word, const char *s, int nbytes)
{
	size_t len = strlen(s);
	int i;

	for (i = 0; i < nbytes; i++)
		id[word * 2 + (i ^ 1)] =
		    (uint8_t)((size_t)i < len ? s[i] : ' ');
}

static void
ata_w(uint8_t *id, int word, uint16_t v)
{
	le16_put(id + 2 * word, v);
}

static void
ata_identify_strings(const struct ahci_port *p, uint8_t *id)
{
	ata_string(id, 10, p->ser, 20);
	ata_string(id, 23, p->rev, 8);
	ata_string(id, 27, p->model, 40);
}

/* Word 255: signature A5h and a checksum making the 512 bytes sum to 0. */
static void
ata_identify_checksum(uint8_t *id)
{
	uint8_t sum = 0xa5;
	int i;

	for (i = 0; i < 510; i++)
		sum = (uint8_t)(sum + id[i]);
	id[510] = 0xa5;
	id[511] = (uint8_t)-sum;
}

/* Transfer modes: PIO 3-4, MWDMA 0-2, UDMA 0-6 with the selected one. */
static void
ata_identify_modes(const struct ahci_port *p, uint8_t *id)
{
	uint16_t udma = 0x7f, mw = 0x07;

	if ((p->xfer & 0xf8) == 0x40)
		udma |= (uint16_t)(0x100 << (p->xfer & 7));
	else if ((p->xfer & 0xf8) == 0x20)
		mw |= (uint16_t)(0x100 << (p->xfer & 7));
	else
		udma |= 0x4000; /* UDMA 6 by default */
	ata_w(id, 53, 0x0006);	/* words 64-70 and 88 valid */
	ata_w(id, 63, mw);
	ata_w(id, 64, 0x0003);
	ata_w(id, 65, 120);
	ata_w(id, 66, 120);
	ata_w(id, 67, 120);
	ata_w(id, 68, 120);
	ata_w(id, 88, udma);
}

static void
ata_identify_geometry(const struct ahci_port *p, uint8_t *id)
{
	uint64_t n = p->nsect;
	uint64_t cyl = n / (16 * 63);
	int lg = 0;

	if (cyl > 16383)
		cyl = 16383;
	ata_w(id, 1, (uint16_t)cyl);
	ata_w(id, 3, 16);
	ata_w(id, 6, 63);
	ata_w(id, 54, (uint16_t)cyl);
	ata_w(id, 55, 16);
	ata_w(id, 56, 63);
	le32_put(id + 2 * 57, (uint32_t)(cyl * 16 * 63));
	le32_put(id + 2 * 60, (uint32_t)(n > 0x0fffffff ? 0x0fffffff : n));
	le32_put(id + 2 * 100, (uint32_t)n);
	le32_put(id + 2 * 102, (uint32_t)(n >> 32));
	/* Sector sizes (word 106, 117-118) and alignment (209). */
	while ((p->sectsz << lg) < p->psectsz)
		lg++;
	ata_w(id, 106,
	      (uint16_t)(0x4000 | (lg ? 0x2000 : 0) |
			 (p->sectsz > 512 ? 0x1000 : 0) | lg));
	if (p->sectsz > 512)
		le32_put(id + 2 * 117, (uint32_t)p->sectsz / 2);
	ata_w(id, 209, (uint16_t)(0x4000 | (p->psectoff / p->sectsz)));
}

static void
ata_identify(const struct ahci_port *p, uint8_t *id)
{
	bool trim = blockif_candelete(p->bc) && !blockif_is_ro(p->bc);

	memset(id, 0, 512);
	ata_w(id, 0, 0x0040); /* fixed device */
	ata_identify_strings(p, id);
	ata_identify_geometry(p, id);
	ata_identify_modes(p, id);
	ata_w(id, 47, 0x8010); /* READ/WRITE MULTIPLE: up to 16 sectors */
	ata_w(id, 49, 0x0300); /* DMA, LBA */
	ata_w(id, 50, 0x4000);
	ata_w(id, 59, (uint16_t)(p->mult ? 0x100 | p->mult : 0));
	ata_w(id, 75, AHCI_NSLOTS - 1); /* NCQ depth 32 */
	ata_w(id, 76, 0x010e);		/* NCQ, Gen1-3 */
	ata_w(id, 80, 0x01f0);		/* ATA/ATAPI-4 .. ACS-? */
	ata_w(id, 82, 0x0060);		/* write cache, look-ahead */
	ata_w(id, 83, 0x7400);		/* LBA48, FLUSH (EXT) */
	ata_w(id, 84, 0x4020);		/* general purpose logging */
	ata_w(id, 85, (uint16_t)(0x0040 | (p->wcache ? 0x20 : 0)));
	ata_w(id, 86, 0x3400);
	ata_w(id, 87, 0x4020);
	if (trim) {
		ata_w(id, 105, AHCI_DSM_MAX);
		ata_w(id, 169, 0x0001);
	}
	ata_w(id, 217, (uint16_t)p->nmrr);
	ata_w(id, 222, 0x103f); /* SATA 1.0a .. 3.0 */
	ata_identify_checksum(id);
}

/* IDENTIFY PACKET DEVICE for the CD-ROM (ATA8-ACS, 7.17). */
static void
atapi_identify(const struct ahci_port *p, uint8_t *id)
{
	memset(id, 0, 512);
	/* ATAPI, CD-ROM, removable, 50 us DRQ, 12-byte packets. */
	ata_w(id, 0, 0x85c0);
	ata_identify_strings(p, id);
	ata_identify_modes(p, id);
	ata_w(id, 49, 0x0300);
	ata_w(id, 76, 0x000e);
	ata_w(id, 80, 0x01f0);
	ata_w(id, 82, 0x4010); /* NOP, PACKET */
	ata_w(id, 83, 0x4000);
	ata_w(id, 84, 0x4000);
	ata_w(id, 85, 0x4010);
	ata_w(id, 87, 0x4000);
	ata_w(id, 222, 0x103f);
	ata_identify_checksum(id);
}

/* ---- ATA: read / write ---- */

static uint64_t
ata_lba48(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)f[8] << 24 | (uint64_t)f[9] << 32 |
	       (uint64_t)f[10] << 40;
}

static uint64_t
ata_lba28(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)(f[7] & 0x0f) << 24;
}

static void ahci_io_done(struct blockif_req *br, int err);
static void ahci_port_process(struct ahci_port *p);

/*
 * Hands io to the backend: the slot stays busy until the callback.  A
 * queued command leaves CI at once (it was accepted); SACT says when it
 * ends.
 */
static void
ahci_io_start(struct ahci_port *p, struct ahci_ioreq *io, enum blockif_op op)
{
	int rc;

	io->aborted = false;
	io->br.br_callback = ahci_io_done;
	io->br.br_param = io;
	p->busy |= 1u << io->slot;
	if (io->ncq) {
		p->ci &= ~(1u << io->slot);
		p->tfd = ATA_OK;
	}
	switch (op) {
	case BLOCKIF_OP_READ:
		rc = blockif_read(p->bc, &io->br);
		break;
	case BLOCKIF_OP_WRITE:
		rc = blockif_write(p->bc, &io->br);
		break;
	case BLOCKIF_OP_FLUSH:
		rc = blockif_flush(p->bc, &io->br);
		break;
	default:
		rc = blockif_discard(p->bc, &io->br);
		break;
	}
	if (rc != 0) {
		p->busy &= ~(1u << io->slot);
		if (io->ncq)
			ahci_ncq_done(p, io->slot, rc);
		else
			ahci_cmd_done(p, io->slot, NULL, ATA_S_DRDY | ATA_S_ERR,
				      ATA_E_ABRT, 0, false);
	}
}

/* Validates a disk transfer and maps its buffers; an ATA error or 0. */
static uint8_t
ata_rw_prepare(struct ahci_port *p, const struct ahci_cmd *c,
	       struct ahci_ioreq *io, uint64_t lba, uint32_t count, bool write)
{
	uint64_t len = (uint64_t)count * (uint64_t)p->sectsz;

	if (lba > p->nsect || count > p->nsect - lba)
		return ATA_E_IDNF | ATA_E_ABRT;
	if (write && blockif_is_ro(p->bc))
		return ATA_E_ABRT;
	if (ahci_prdt_map(p, c, io, len) != (int64_t)len)
		return ATA_E_ABRT;
	io->br.br_offset = (off_t)(lba * (uint64_t)p->sectsz);
	io->br.br_resid = (size_t)len;
	io->nbytes = (uint32_t)len;
	return 0;
}

/* READ/WRITE DMA, SECTOR(S), MULTIPLE and their EXT forms, FPDMA. */
static void
ata_rw(struct ahci_port *p, int slot, const struct ahci_cmd *c, bool ext,
       bool write, bool ncq, bool pio)
{
	struct ahci_ioreq *io = &p->io[slot];
	const uint8_t *f = c->cfis;
	uint32_t count;
	uint64_t lba;
	uint8_t err;

	if (ncq)
		count = (uint32_t)f[3] | (uint32_t)f[11] << 8;
	else if (ext)
		count = (uint32_t)f[12] | (uint32_t)f[13] << 8;
	else
		count = f[12];
	if (count == 0)
		count = ext || ncq ? 65536 : 256;
	lba = ext || ncq ? ata_lba48(f) : ata_lba28(f);
	io->ncq = ncq;
	io->pio = pio;
	io->dsm_n = 0;
	io->flush_after = write && !p->wcache;
	err = ata_rw_prepare(p, c, io, lba, count, write);
	if (err != 0) {
		if (ncq)
			ahci_ncq_done(p, slot, EINVAL);
		else
			ahci_cmd_abort(p, slot, f, err);
		return;
	}
	ahci_io_start(p, io, write ? BLOCKIF_OP_WRITE : BLOCKIF_OP_READ);
}

/* ---- ATA: TRIM ---- */

/* Starts the next non-empty range; false when none is left. */
static bool
ata_dsm_next(struct ahci_port *p, struct ahci_ioreq *io)
{
	uint64_t e, lba, n;

	while (io->dsm_i < io->dsm_n) {
		e = io->dsm[io->dsm_i++];
		lba = e & 0xffffffffffffull;
		n = e >> 48;
		if (n == 0)
			continue;
		io->br.br_offset = (off_t)(lba * (uint64_t)p->sectsz);
		io->br.br_resid = (size_t)(n * (uint64_t)p->sectsz);
		ahci_io_start(p, io, BLOCKIF_OP_DISCARD);
		return true;
	}
	return false;
}

/* DATA SET MANAGEMENT: ranges of (LBA:48, count:16), 64 per block. */
static void
ata_dsm(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	struct ahci_ioreq *io = &p->io[slot];
	uint8_t buf[AHCI_DSM_MAX * 512];
	uint32_t blocks = (uint32_t)c->cfis[12] | (uint32_t)c->cfis[13] << 8;
	uint64_t e, lba, n;
	int i;

	if ((c->cfis[3] & 1) == 0 || !blockif_candelete(p->bc) ||
	    blockif_is_ro(p->bc) || blocks == 0 || blocks > AHCI_DSM_MAX ||
	    ahci_prdt_get(p, c, io, buf, blocks * 512) != blocks * 512) {
		ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
		return;
	}
	io->dsm_n = (int)blocks * 64;
	for (i = 0; i < io->dsm_n; i++) {
		e = (uint64_t)le32_get(buf + 8 * i + 4) << 32 |
		    le32_get(buf + 8 * i);
		lba = e & 0xffffffffffffull;
		n = e >> 48;
		if (n != 0 && (lba > p->nsect || n > p->nsect - lba)) {
			ahci_cmd_abort(p, slot, c->cfis,
				       ATA_E_IDNF | ATA_E_ABRT);
			return;
		}
		io->dsm[i] = e;
	}
	io->dsm_i = 0;
	io->ncq = io->pio = io->flush_after = false;
	io->nbytes = blocks * 512;
	if (!ata_dsm_next(p, io))
		ahci_cmd_ok(p, slot, c->cfis, io->nbytes, false);
}

static void
ata_flush(struct ahci_port *p, int slot)
{
	struct ahci_ioreq *io = &p->io[slot];

	io->ncq = io->pio = false;
	io->flush_after = false;
	io->dsm_n = 0;
	io->nbytes = 0;
	io->br.br_iovcnt = 0;
	io->br.br_offset = 0;
	io->br.br_resid = 0;
	ahci_io_start(p, io, BLOCKIF_OP_FLUSH);
}

/* ---- ATA: logs, features, power ---- */

static void
ata_read_log(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t page[512] = {0};
	uint32_t count = (uint32_t)c->cfis[12] | (uint32_t)c->cfis[13] << 8;
	int64_t n;

	if (count != 1 || c->cfis[5] != 0 || c->cfis[9] != 0) {
		ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
		return;
	}
	switch (c->cfis[4]) {
	case 0x00: /* directory: version 1, one page of log 10h */
		le16_put(page, 1);
		le16_put(page + 0x10 * 2, 1);
		break;
	case 0x10:
		memcpy(page, p->ncq_log, sizeof(page));
		break;
	default:
		ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
		return;
	}
	n = ahci_prdt_put(p, c, &p->io[slot], page, sizeof(page));
	if (n < 0)
		ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
	else
		ahci_cmd_ok(p, slot, c->cfis, (uint32_t)n, c->cfis[2] == 0x2f);
}

static bool
ata_set_features(struct ahci_port *p, const uint8_t *f)
{
	switch (f[3]) {
	case 0x02:
		p->wcache = true;
		return true;
	case 0x82:
		p->wcache = false;
		return true;
	case 0x03: /* transfer mode: PIO, MWDMA or UDMA up to 6 */
		if ((f[12] & 0xf8) == 0x40 && (f[12] & 7) > 6)
			return false;
		p->xfer = f[12];
		return true;
	case 0x05:
	case 0x85: /* APM */
	case 0x10:
	case 0x90: /* SATA features */
	case 0x55:
	case 0xaa: /* look-ahead */
	case 0x66:
	case 0xcc: /* power-on defaults */
		return true;
	default:
		return false;
	}
}

static void
ata_identify_cmd(struct ahci_port *p, int slot, const struct ahci_cmd *c,
		 bool packet)
{
	uint8_t id[512];
	int64_t n;

	if (packet)
		atapi_identify(p, id);
	else
		ata_identify(p, id);
	n = ahci_prdt_put(p, c, &p->io[slot], id, sizeof(id));
	if (n < 0)
		ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
	else
		ahci_cmd_ok(p, slot, c->cfis, (uint32_t)n, true);
}

/* Commands that need no data and cannot fail once well-formed. */
static bool
ata_cmd_simple(struct ahci_port *p, int slot, const uint8_t *f)
{
	uint8_t fis[64];

	switch (f[2]) {
	case 0xe0:
	case 0xe1:
	case 0xe2:
	case 0xe3: /* standby, idle */
	case 0xe6: /* sleep */
	case 0x40:
	case 0x42: /* read verify */
	case 0x70:
	case 0x10: /* seek, recalibrate */
	case 0x91:
	case 0xf5:
	case 0x00: /* ..., freeze, nop */
		break;
	case 0xe5: /* CHECK POWER MODE: always active */
		memcpy(fis, f, sizeof(fis));
		fis[12] = 0xff;
		ahci_cmd_ok(p, slot, fis, 0, false);
		return true;
	case 0xc6: /* SET MULTIPLE MODE: 0 or a power of two <= 16 */
		if (f[12] > 16 || (f[12] & (f[12] - 1)) != 0)
			return false;
		p->mult = f[12];
		break;
	case 0xef:
		if (!ata_set_features(p, f))
			return false;
		break;
	default:
		return false;
	}
	ahci_cmd_ok(p, slot, f, 0, false);
	return true;
}

/* READ NATIVE MAX ADDRESS (EXT): the last LBA in the LBA fields. */
static void
ata_native_max(struct ahci_port *p, int slot, const uint8_t *f)
{
	uint64_t max = p->nsect ? p->nsect - 1 : 0;
	uint8_t fis[64];

	memcpy(fis, f, sizeof(fis));
	fis[4] = (uint8_t)max;
	fis[5] = (uint8_t)(max >> 8);
	fis[6] = (uint8_t)(max >> 16);
	if (f[2] == 0x27) {
		fis[8] = (uint8_t)(max >> 24);
		fis[9] = (uint8_t)(max >> 32);
		fis[10] = (uint8_t)(max >> 40);
	} else {
		fis[7] = (uint8_t)((f[7] & 0xf0) | ((max >> 24) & 0x0f));
	}
	ahci_cmd_ok(p, slot, fis, 0, false);
}

static void
ata_cmd(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	const uint8_t *f = c->cfis;

	switch (f[2]) {
	case 0xc8:
		ata_rw(p, slot, c, false, false, false, false);
		return;
	case 0x25:
		ata_rw(p, slot, c, true, false, false, false);
		return;
	case 0xca:
		ata_rw(p, slot, c, false, true, false, false);
		return;
	case 0x35:
		ata_rw(p, slot, c, true, true, false, false);
		return;
	case 0x20:
	case 0xc4:
		ata_rw(p, slot, c, false, false, false, true);
		return;
	case 0x24:
	case 0x29:
		ata_rw(p, slot, c, true, false, false, true);
		return;
	case 0x30:
	case 0xc5:
		ata_rw(p, slot, c, false, true, false, true);
		return;
	case 0x34:
	case 0x39:
		ata_rw(p, slot, c, true, true, false, true);
		return;
	case 0x60:
		ata_rw(p, slot, c, true, false, true, false);
		return;
	case 0x61:
		ata_rw(p, slot, c, true, true, true, false);
		return;
	case 0xe7:
	case 0xea:
		ata_flush(p, slot);
		return;
	case 0x06:
		ata_dsm(p, slot, c);
		return;
	case 0xec:
		ata_identify_cmd(p, slot, c, false);
		return;
	case 0x2f:
	case 0x47:
		ata_read_log(p, slot, c);
		return;
	case 0xf8:
	case 0x27:
		ata_native_max(p, slot, f);
		return;
	default:
		if (!ata_cmd_simple(p, slot, f))
			ahci_cmd_abort(p, slot, f, ATA_E_ABRT);
		return;
	}
}

/* ---- ATAPI ---- */

/* CHECK CONDITION: the sense is kept for REQUEST SENSE. */
static void
atapi_fail(struct ahci_port *p, int slot, const uint8_t *f, uint8_t key,
	   uint8_t asc)
{
	p->sense_key = key;
	p->asc = asc;
	ahci_cmd_done(p, slot, f, ATA_S_DRDY | ATA_S_ERR,
		      (uint8_t)(key << 4 | ATA_E_ABRT), 0, false);
}

/* Data-in for a packet: at most the allocation length, PIO or DMA. */
static void
atapi_reply(struct ahci_port *p, int slot, const struct ahci_cmd *c,
	    const void *buf, size_t len, size_t alloc)
{
	int64_t n;

	if (len > alloc)
		len = alloc;
	n = ahci_prdt_put(p, c, &p->io[slot], buf, len);
	if (n < 0) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	p->sense_key = p->asc = 0;
	ahci_cmd_ok(p, slot, c->cfis, (uint32_t)n, (c->cfis[3] & 1) == 0);
}

static void
atapi_inquiry(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[36] = {0};

	if (c->acmd[1] & 1) { /* no vital product data pages */
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	b[0] = 0x05; /* CD/DVD */
	b[1] = 0x80; /* removable */
	b[2] = 0x05; /* SPC-3 */
	b[3] = 0x32; /* response format 2 */
	b[4] = sizeof(b) - 5;
	memcpy(b + 8, "BHYVE   ", 8);
	memset(b + 16, ' ', 16);
	memcpy(b + 16, p->model, strnlen(p->model, 16));
	memset(b + 32, ' ', 4);
	memcpy(b + 32, p->rev, strnlen(p->rev, 4));
	atapi_reply(p, slot, c, b, sizeof(b),
		    (size_t)c->acmd[3] << 8 | c->acmd[4]);
}

static void
atapi_request_sense(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[18] = {0};

	b[0] = 0x70; /* current, fixed format */
	b[2] = p->sense_key;
	b[7] = 10;
	b[12] = p->asc;
	atapi_reply(p, slot, c, b, sizeof(b), c->acmd[4]);
}

static void
atapi_read_capacity(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[8];
	uint64_t last = p->nsect ? p->nsect - 1 : 0;

	be32_put(b, (uint32_t)(last > 0xffffffffu ? 0xffffffffu : last));
	be32_put(b + 4, CD_SECT);
	atapi_reply(p, slot, c, b, sizeof(b), sizeof(b));
}

static void
atapi_read(struct ahci_port *p, int slot, const struct ahci_cmd *c, bool twelve)
{
	struct ahci_ioreq *io = &p->io[slot];
	uint64_t lba = be32_get(c->acmd + 2), len;
	uint32_t count = twelve ? be32_get(c->acmd + 6)
				: (uint32_t)c->acmd[7] << 8 | c->acmd[8];

	if (lba > p->nsect || count > p->nsect - lba) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST, ASC_LBA_RANGE);
		return;
	}
	if (count == 0) {
		atapi_reply(p, slot, c, NULL, 0, 0);
		return;
	}
	len = (uint64_t)count * CD_SECT;
	if (len > UINT32_MAX || ahci_prdt_map(p, c, io, len) != (int64_t)len) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	io->br.br_offset = (off_t)(lba * CD_SECT);
	io->br.br_resid = (size_t)len;
	io->nbytes = (uint32_t)len;
	io->ncq = false;
	io->pio = (c->cfis[3] & 1) == 0;
	io->dsm_n = 0;
	io->flush_after = false;
	p->sense_key = p->asc = 0;
	ahci_io_start(p, io, BLOCKIF_OP_READ);
}

/* An LBA as MSF (MMC: 75 frames a second, 2 s pre-gap) or big-endian. */
static void
atapi_addr(uint8_t *b, uint64_t lba, bool msf)
{
	if (!msf) {
		be32_put(b, (uint32_t)lba);
		return;
	}
	lba += 150;
	b[0] = 0;
	b[1] = (uint8_t)(lba / (75 * 60));
	b[2] = (uint8_t)(lba / 75 % 60);
	b[3] = (uint8_t)(lba % 75);
}

/* READ TOC format 0: track 1 (data) and the lead-out. */
static size_t
atapi_toc_tracks(const struct ahci_port *p, uint8_t *b, bool msf, uint8_t start)
{
	size_t n = 4;

	if (start > 1 && start != 0xaa)
		return 0;
	if (start <= 1) {
		b[n + 1] = 0x14; /* ADR 1, data track */
		b[n + 2] = 1;
		atapi_addr(b + n + 4, 0, msf);
		n += 8;
	}
	b[n + 1] = 0x14;
	b[n + 2] = 0xaa;
	atapi_addr(b + n + 4, p->nsect, msf);
	n += 8;
	return n;
}

/*
 * Format 2: raw TOC entries A0 (first track), A1 (last), A2 (lead-out)
 * and track 1, always as MSF (MMC-6, 6.26.3.4).
 */
static size_t
atapi_toc_raw(const struct ahci_port *p, uint8_t *b)
{
	static const uint8_t points[] = {0xa0, 0xa1, 0xa2, 0x01};
	uint8_t *d;
	size_t i;

	for (i = 0; i < sizeof(points); i++) {
		d = b + 4 + 11 * i;
		d[0] = 1;    /* session */
		d[1] = 0x14; /* ADR 1, data */
		d[3] = points[i];
		if (points[i] == 0xa0 || points[i] == 0xa1)
			d[8] = 1; /* track number */
		else if (points[i] == 0xa2)
			atapi_addr(d + 7, p->nsect, true);
		else
			atapi_addr(d + 7, 0, true);
	}
	return 4 + 11 * sizeof(points);
}

static void
atapi_read_toc(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[64] = {0};
	bool msf = (c->acmd[1] & 2) != 0;
	int fmt = c->acmd[2] & 0x0f;
	size_t n;

	if (fmt == 0 && (c->acmd[9] >> 6) != 0) /* old SFF-8020 encoding */
		fmt = c->acmd[9] >> 6;
	if (fmt == 0) {
		n = atapi_toc_tracks(p, b, msf, c->acmd[6]);
	} else if (fmt == 1) { /* session info: first track of session 1 */
		b[5] = 0x14;
		b[6] = 1;
		atapi_addr(b + 8, 0, msf);
		n = 12;
	} else if (fmt == 2) {
		n = atapi_toc_raw(p, b);
	} else {
		n = 0;
	}
	if (n == 0) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	be16_put(b, (uint16_t)(n - 2));
	b[2] = 1;
	b[3] = 1;
	atapi_reply(p, slot, c, b, n, (size_t)c->acmd[7] << 8 | c->acmd[8]);
}

/* Profile DVD-ROM for images above a CD's 700 MB, else CD-ROM. */
static uint16_t
atapi_profile(const struct ahci_port *p)
{
	return p->nsect > 360000 ? 0x0010 : 0x0008;
}

/*
 * GET CONFIGURATION features, each a descriptor (MMC-6, 5.3): 0000h
 * profile list (DVD-ROM, CD-ROM, the current one flagged), 0001h core
 * (ATAPI) and 0003h removable medium (tray, eject).  Returns the length.
 */
static size_t
atapi_feature(const struct ahci_port *p, int which, uint8_t *d)
{
	uint16_t prof = atapi_profile(p);

	switch (which) {
	case 0:
		d[2] = 0x03;
		d[3] = 8;
		be16_put(d + 4, 0x0010);
		d[6] = prof == 0x0010;
		be16_put(d + 8, 0x0008);
		d[10] = prof == 0x0008;
		return 12;
	case 1:
		be16_put(d, 0x0001);
		d[2] = 0x0b;
		d[3] = 4;
		be32_put(d + 4, 2);
		return 8;
	default:
		be16_put(d, 0x0003);
		d[2] = 0x03;
		d[3] = 4;
		d[4] = 0x29;
		return 8;
	}
}

/* RT 0/1: features from the starting number on; RT 2: that one only. */
static void
atapi_get_config(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	static const uint16_t num[] = {0x0000, 0x0001, 0x0003};
	uint16_t start = (uint16_t)(c->acmd[2] << 8 | c->acmd[3]);
	int rt = c->acmd[1] & 3, i;
	uint8_t b[48] = {0};
	size_t n = 8;

	if (rt == 3) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (num[i] < start || (rt == 2 && num[i] != start))
			continue;
		n += atapi_feature(p, i, b + n);
	}
	be32_put(b, (uint32_t)(n - 4));
	be16_put(b + 6, atapi_profile(p));
	atapi_reply(p, slot, c, b, n, (size_t)c->acmd[7] << 8 | c->acmd[8]);
}

static void
atapi_mode_sense(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[8 + 12 + 28] = {0};
	int page = c->acmd[2] & 0x3f;
	size_t n = 8;

	if (page == 0x01 || page == 0x3f) { /* read error recovery */
		b[n] = 0x01;
		b[n + 1] = 10;
		b[n + 3] = 5; /* read retry count */
		n += 12;
	}
	if (page == 0x2a || page == 0x3f) { /* capabilities */
		b[n] = 0x2a;
		b[n + 1] = 26;
		b[n + 2] = 0x3b;	   /* reads CD-R/RW, DVD-ROM, ... */
		b[n + 6] = 0x29;	   /* lock, eject, tray */
		be16_put(b + n + 8, 706);  /* max speed, kB/s */
		be16_put(b + n + 12, 512); /* buffer */
		n += 28;
	}
	if (n == 8) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	be16_put(b, (uint16_t)(n - 2));
	atapi_reply(p, slot, c, b, n, (size_t)c->acmd[7] << 8 | c->acmd[8]);
}

/* GET EVENT STATUS NOTIFICATION (polled): the media class only. */
static void
atapi_event_status(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[8] = {0};
	size_t n = 4;

	if ((c->acmd[1] & 1) == 0) {
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_FIELD);
		return;
	}
	b[3] = 0x10; /* supported: media */
	if (c->acmd[4] & 0x10) {
		b[2] = 0x04;			     /* media class */
		b[4] = p->media_event ? 0x02 : 0x00; /* new media */
		b[5] = 0x02;			     /* media present */
		p->media_event = false;
		n = 8;
	} else {
		b[2] = 0x80; /* no event available */
	}
	be16_put(b, (uint16_t)(n - 2));
	atapi_reply(p, slot, c, b, n, (size_t)c->acmd[7] << 8 | c->acmd[8]);
}

static void
atapi_disc_info(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	uint8_t b[34] = {0};

	be16_put(b, 32);
	b[2] = 0x0e; /* complete disc, complete last session */
	b[3] = 1;    /* first track */
	b[4] = 1;    /* sessions */
	b[5] = 1;    /* first track of last session */
	b[6] = 1;    /* last track of last session */
	atapi_reply(p, slot, c, b, sizeof(b),
		    (size_t)c->acmd[7] << 8 | c->acmd[8]);
}

static void
atapi_cmd(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	switch (c->acmd[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1e: /* PREVENT/ALLOW MEDIUM REMOVAL */
	case 0x1b: /* START STOP UNIT: the tray stays shut */
	case 0x2b: /* SEEK(10) */
	case 0xbb: /* SET CD SPEED */
		atapi_reply(p, slot, c, NULL, 0, 0);
		return;
	case 0x03:
		atapi_request_sense(p, slot, c);
		return;
	case 0x12:
		atapi_inquiry(p, slot, c);
		return;
	case 0x25:
		atapi_read_capacity(p, slot, c);
		return;
	case 0x28:
		atapi_read(p, slot, c, false);
		return;
	case 0xa8:
		atapi_read(p, slot, c, true);
		return;
	case 0x43:
		atapi_read_toc(p, slot, c);
		return;
	case 0x46:
		atapi_get_config(p, slot, c);
		return;
	case 0x5a:
		atapi_mode_sense(p, slot, c);
		return;
	case 0x4a:
		atapi_event_status(p, slot, c);
		return;
	case 0x51:
		atapi_disc_info(p, slot, c);
		return;
	default:
		atapi_fail(p, slot, c->cfis, SK_ILLEGAL_REQUEST,
			   ASC_INVALID_OPCODE);
		return;
	}
}

static void
atapi_ata_cmd(struct ahci_port *p, int slot, const struct ahci_cmd *c)
{
	switch (c->cfis[2]) {
	case 0xa0:
		atapi_cmd(p, slot, c);
		return;
	case 0xa1:
		ata_identify_cmd(p, slot, c, true);
		return;
	case 0x08: /* DEVICE RESET */
	case 0x00:
		ahci_cmd_ok(p, slot, c->cfis, 0, false);
		return;
	case 0xef:
		if (ata_set_features(p, c->cfis)) {
			ahci_cmd_ok(p, slot, c->cfis, 0, false);
			return;
		}
		break;
	default:
		break;
	}
	/* IDENTIFY DEVICE and the rest: abort with the ATAPI signature. */
	ahci_cmd_abort(p, slot, c->cfis, ATA_E_ABRT);
}

/* ---- port state ---- */

/* The signature a reset leaves in PxSIG, PxTFD and the D2H FIS. */
static void
ahci_port_signature(struct ahci_port *p)
{
	uint8_t fis[64] = {0};

	p->sig = p->atapi ? SIG_ATAPI : SIG_ATA;
	fis[12] = 1;
	fis[4] = 1;
	fis[5] = (uint8_t)(p->sig >> 16);
	fis[6] = (uint8_t)(p->sig >> 24);
	ahci_fis_d2h(p, fis, p->atapi ? 0 : ATA_OK, 1);
}

/* Requests in flight complete later without touching the guest. */
static void
ahci_port_abort(struct ahci_port *p)
{
	int i;

	for (i = 0; i < AHCI_NSLOTS; i++)
		if (p->busy & (1u << i))
			p->io[i].aborted = true;
	p->ci = 0;
	p->sact = 0;
}

static void
ahci_port_reset(struct ahci_port *p)
{
	ahci_port_abort(p);
	p->serr = 0;
	p->ssts = SSTS_UP;
	p->mult = 0;
	p->xfer = 0;
	p->wcache = true;
	p->sense_key = p->asc = 0;
	p->media_event = true;
	memset(p->ncq_log, 0, sizeof(p->ncq_log));
	ahci_port_signature(p);
}

/* Per-port registers back to their power-on values (HBA reset). */
static void
ahci_port_init_regs(struct ahci_port *p)
{
	ahci_port_abort(p);
	p->clb = p->fb = 0;
	p->is = p->ie = p->sctl = p->sntf = 0;
	p->cmd = PCMD_SUD | PCMD_POD | (p->atapi ? PCMD_ATAPI : 0);
	ahci_port_reset(p);
	if (p->busy != 0)
		p->cmd |= PCMD_CR;
}

static void
ahci_hba_reset(struct ahci_softc *sc)
{
	int i;

	sc->ghc = GHC_AE;
	sc->is = 0;
	for (i = 0; i < AHCI_MAX_PORTS; i++)
		if (sc->port[i] != NULL)
			ahci_port_init_regs(sc->port[i]);
	pci_lintr_deassert(sc->pi);
}

/* Device control FIS (C = 0): software reset per SRST (AHCI 10.4.1). */
static void
ahci_port_ctl_fis(struct ahci_port *p, int slot, const uint8_t *f)
{
	p->ci &= ~(1u << slot);
	if ((f[15] & 0x04) == 0)
		ahci_port_signature(p);
}

static void
ahci_port_exec(struct ahci_port *p, int slot)
{
	struct ahci_cmd c;

	if (ahci_cmd_fetch(p, slot, &c) != 0) {
		ahci_cmd_abort(p, slot, NULL, ATA_E_ABRT);
		return;
	}
	if (c.cfis[0] != 0x27) {
		ahci_cmd_abort(p, slot, NULL, ATA_E_ABRT);
		return;
	}
	if ((c.cfis[1] & 0x80) == 0) {
		ahci_port_ctl_fis(p, slot, c.cfis);
		return;
	}
	memcpy(p->io[slot].cfis, c.cfis, sizeof(p->io[slot].cfis));
	if (p->atapi)
		atapi_ata_cmd(p, slot, &c);
	else
		ata_cmd(p, slot, &c);
}

/*
 * Runs the commands newly set in CI.  Slots whose ioreq the backend still
 * owns (a stopped port's old request) wait for its callback.
 */
static void
ahci_port_process(struct ahci_port *p)
{
	uint32_t todo;
	int slot;

	if ((p->cmd & PCMD_ST) == 0)
		return;
	while ((todo = p->ci & ~p->busy) != 0) {
		slot = __builtin_ctz(todo);
		ahci_port_exec(p, slot);
		/* A command that failed at once leaves CI; NCQ ones too. */
		if (p->ci & ~p->busy & (1u << slot))
			p->ci &= ~(1u << slot);
	}
}

static void
ahci_io_complete(struct ahci_port *p, struct ahci_ioreq *io, int err)
{
	if (io->ncq) {
		ahci_ncq_done(p, io->slot, err);
	} else if (err != 0) {
		ahci_cmd_done(p, io->slot, io->cfis, ATA_S_DRDY | ATA_S_ERR,
			      p->atapi
				  ? (uint8_t)(SK_NOT_READY << 4 | ATA_E_ABRT)
				  : ATA_E_ABRT,
			      0, false);
	} else {
		ahci_cmd_done(p, io->slot, io->cfis, ATA_OK, 0, io->nbytes,
			      io->pio);
	}
}

/* Starts the request's next step (a TRIM range, a write-through flush). */
static bool
ahci_io_next(struct ahci_port *p, struct ahci_ioreq *io)
{
	if (ata_dsm_next(p, io))
		return true;
	if (!io->flush_after)
		return false;
	io->flush_after = false;
	io->br.br_iovcnt = 0;
	io->br.br_offset = 0;
	io->br.br_resid = 0;
	ahci_io_start(p, io, BLOCKIF_OP_FLUSH);
	return true;
}

/* Backend thread: a request ended. */
static void
ahci_io_done(struct blockif_req *br, int err)
{
	struct ahci_ioreq *io = br->br_param;
	struct ahci_port *p = io->port;
	struct ahci_softc *sc = p->sc;

	pthread_mutex_lock(&sc->mtx);
	p->busy &= ~(1u << io->slot);
	if (io->aborted) {
		io->aborted = false;
	} else if (err != 0 || !ahci_io_next(p, io)) {
		ahci_io_complete(p, io, err);
	}
	if (p->busy == 0 && (p->cmd & PCMD_ST) == 0)
		p->cmd &= ~PCMD_CR;
	ahci_port_process(p);
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- register access ---- */

static void
ahci_port_write_cmd(struct ahci_port *p, uint32_t v)
{
	uint32_t old = p->cmd;

	p->cmd = (old & ~PCMD_RW_MASK) | (v & PCMD_RW_MASK);
	p->cmd |= PCMD_SUD | PCMD_POD;
	if (v & PCMD_CLO) /* BSY and DRQ clear at once */
		p->tfd &= ~(uint32_t)(ATA_S_BSY | 0x08);
	if (p->cmd & PCMD_FRE)
		p->cmd |= PCMD_FR;
	else
		p->cmd &= ~PCMD_FR;
	if ((v & PCMD_ST) && !(old & PCMD_ST)) {
		p->cmd |= PCMD_CR;
		ahci_port_process(p);
	} else if (!(v & PCMD_ST) && (old & PCMD_ST)) {
		/* Stopping drops CI and SACT; CR clears when idle. */
		ahci_port_abort(p);
		if (p->busy == 0)
			p->cmd &= ~PCMD_CR;
	}
}

static void
ahci_port_write_sctl(struct ahci_port *p, uint32_t v)
{
	uint32_t det = v & 0xf;

	p->sctl = v;
	if (det == 1) { /* COMRESET held: no device communication */
		ahci_port_abort(p);
		p->ssts = 0;
	} else if (det == 0 && p->ssts == 0) {
		ahci_port_reset(p);
		p->serr |= 1u << 26; /* DIAG.X: device presence changed */
	}
}

static void
ahci_port_write(struct ahci_port *p, int off, uint32_t v)
{
	switch (off) {
	case P_CLB:
		p->clb = (p->clb & ~0xffffffffull) | (v & ~0x3ffu);
		break;
	case P_CLBU:
		p->clb = (uint32_t)p->clb | (uint64_t)v << 32;
		break;
	case P_FB:
		p->fb = (p->fb & ~0xffffffffull) | (v & ~0xffu);
		break;
	case P_FBU:
		p->fb = (uint32_t)p->fb | (uint64_t)v << 32;
		break;
	case P_IS:
		p->is &= ~v;
		ahci_intr_update(p->sc, false);
		break;
	case P_IE:
		p->ie = v & 0xfdc000ffu;
		ahci_intr_update(p->sc, true);
		break;
	case P_CMD:
		ahci_port_write_cmd(p, v);
		break;
	case P_SCTL:
		ahci_port_write_sctl(p, v);
		break;
	case P_SERR:
		p->serr &= ~v;
		break;
	case P_SACT:
		if (p->cmd & PCMD_ST)
			p->sact |= v;
		break;
	case P_CI:
		if (p->cmd & PCMD_ST) {
			p->ci |= v;
			ahci_port_process(p);
		}
		break;
	case P_SNTF:
		p->sntf &= ~v;
		break;
	default:
		break;
	}
}

static uint32_t
ahci_port_read(const struct ahci_port *p, int off)
{
	switch (off) {
	case P_CLB:
		return (uint32_t)p->clb;
	case P_CLBU:
		return (uint32_t)(p->clb >> 32);
	case P_FB:
		return (uint32_t)p->fb;
	case P_FBU:
		return (uint32_t)(p->fb >> 32);
	case P_IS:
		return p->is;
	case P_IE:
		return p->ie;
	case P_CMD:
		return p->cmd;
	case P_TFD:
		return p->tfd;
	case P_SIG:
		return p->sig;
	case P_SSTS:
		return p->ssts;
	case P_SCTL:
		return p->sctl;
	case P_SERR:
		return p->serr;
	case P_SACT:
		return p->sact;
	case P_CI:
		return p->ci;
	case P_SNTF:
		return p->sntf;
	default:
		return 0;
	}
}

static void
ahci_hba_write(struct ahci_softc *sc, int off, uint32_t v)
{
	switch (off) {
	case HBA_GHC:
		if (v & GHC_HR) {
			ahci_hba_reset(sc);
			return;
		}
		sc->ghc = GHC_AE | (v & GHC_IE);
		ahci_intr_update(sc, true);
		break;
	case HBA_IS:
		/* Ports still pending set their bit again (level). */
		sc->is &= ~v;
		ahci_intr_update(sc, sc->is != 0);
		break;
	default:
		break;
	}
}

static uint32_t
ahci_hba_read(const struct ahci_softc *sc, int off)
{
	switch (off) {
	case HBA_CAP:
		return sc->cap;
	case HBA_GHC:
		return sc->ghc;
	case HBA_IS:
		return sc->is;
	case HBA_PI:
		return sc->pimask;
	case HBA_VS:
		return 0x00010300;
	case HBA_CAP2:
		return 0;
	default:
		return 0;
	}
}

static uint32_t
ahci_read32(struct ahci_softc *sc, uint64_t off)
{
	struct ahci_port *p;

	if (off < AHCI_PORT_OFF)
		return ahci_hba_read(sc, (int)off);
	p = sc->port[(off - AHCI_PORT_OFF) / AHCI_PORT_STEP];
	if (p == NULL)
		return 0;
	return ahci_port_read(p, (int)((off - AHCI_PORT_OFF) % AHCI_PORT_STEP));
}

static void
ahci_write32(struct ahci_softc *sc, uint64_t off, uint32_t v)
{
	struct ahci_port *p;

	if (off < AHCI_PORT_OFF) {
		ahci_hba_write(sc, (int)off, v);
		return;
	}
	p = sc->port[(off - AHCI_PORT_OFF) / AHCI_PORT_STEP];
	if (p != NULL)
		ahci_port_write(
		    p, (int)((off - AHCI_PORT_OFF) % AHCI_PORT_STEP), v);
}

static void
pci_ahci_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	       uint64_t value)
{
	struct ahci_softc *sc = pi->pi_arg;

	/* Registers are 32 bits wide; narrower writes are not defined. */
	if (baridx != AHCI_BAR || size != 4 || (offset & 3) != 0 ||
	    offset >= AHCI_BAR_SIZE)
		return;
	pthread_mutex_lock(&sc->mtx);
	ahci_write32(sc, offset, (uint32_t)value);
	pthread_mutex_unlock(&sc->mtx);
}

static uint64_t
pci_ahci_read(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct ahci_softc *sc = pi->pi_arg;
	uint64_t aligned = offset & ~3ull;
	uint32_t v;

	if (baridx != AHCI_BAR || offset >= AHCI_BAR_SIZE || size > 4 ||
	    (offset & 3) + (uint64_t)size > 4)
		return 0;
	pthread_mutex_lock(&sc->mtx);
	v = ahci_read32(sc, aligned);
	pthread_mutex_unlock(&sc->mtx);
	v >>= 8 * (offset & 3);
	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

/* ---- configuration ---- */

/* bhyve's defaults: a serial derived from the path, so it is stable. */
static void
ahci_default_serial(char *ser, const char *path)
{
	uint32_t h = 2166136261u;

	for (; *path != '\0'; path++)
		h = (h ^ (uint8_t)*path) * 16777619u;
	snprintf(ser, 21, "BHYVE-%04X-%04X-%04X", h >> 16 & 0xffff, h & 0xffff,
		 (h >> 8) & 0xffff);
}

/* A string option no longer than max; the reason in err otherwise. */
static int
ahci_opt_string(const struct config_node *nvl, const char *key, char *dst,
		size_t max, char *err, size_t errlen)
{
	const char *v = get_config_value_node(nvl, key);

	if (v == NULL)
		return 0;
	if (strlen(v) > max) {
		snprintf(err, errlen, "%s='%s' is longer than %zu characters",
			 key, v, max);
		return -1;
	}
	snprintf(dst, max + 1, "%s", v);
	return 0;
}

/* nmrr: 0 (not reported), 1 (non-rotating) or 1025..65534 rpm. */
static int
ahci_opt_nmrr(const struct config_node *nvl, unsigned *nmrr, char *err,
	      size_t errlen)
{
	const char *v = get_config_value_node(nvl, "nmrr");
	unsigned long n;
	char *end;

	*nmrr = 0;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0' ||
	    (n > 1 && (n < 0x401 || n > 0xfffe))) {
		snprintf(err, errlen,
			 "nmrr='%s' must be 0, 1 or 1025..65534 (rpm)", v);
		return -1;
	}
	*nmrr = (unsigned)n;
	return 0;
}

/* ser=, model=, rev=, nmrr= (bhyve(8)) over the defaults. */
static int
ahci_port_options(struct ahci_port *p, const struct config_node *nvl, char *err,
		  size_t errlen)
{
	const char *path = get_config_value_node(nvl, "path");

	snprintf(p->model, sizeof(p->model), "%s",
		 p->atapi ? "BHYVE SATA DVD ROM" : "BHYVE SATA DISK");
	snprintf(p->rev, sizeof(p->rev), "001");
	ahci_default_serial(p->ser, path != NULL ? path : "");
	if (ahci_opt_string(nvl, "ser", p->ser, 20, err, errlen) != 0 ||
	    ahci_opt_string(nvl, "model", p->model, 40, err, errlen) != 0 ||
	    ahci_opt_string(nvl, "rev", p->rev, 8, err, errlen) != 0 ||
	    ahci_opt_nmrr(nvl, &p->nmrr, err, errlen) != 0)
		return -1;
	return 0;
}

/* The port's type: "hd" or "cd"; -1 (printed) otherwise. */
static int
ahci_port_type(const struct config_node *nvl, const char *name)
{
	const char *t = get_config_value_node(nvl, "type");

	if (t != NULL && strcmp(t, "hd") == 0)
		return 0;
	if (t != NULL && strcmp(t, "cd") == 0)
		return 1;
	fprintf(stderr, "%s: type='%s' must be hd or cd\n", name,
		t != NULL ? t : "");
	return -1;
}

static void
ahci_port_free(struct ahci_port *p)
{
	if (p == NULL)
		return;
	if (p->bc != NULL)
		blockif_close(p->bc);
	free(p->io);
	free(p);
}

static int
ahci_port_geometry(struct ahci_port *p)
{
	p->sectsz = blockif_sectsz(p->bc);
	blockif_psectsz(p->bc, &p->psectsz, &p->psectoff);
	if (p->atapi) {
		p->sectsz = CD_SECT;
		p->psectsz = CD_SECT;
		p->psectoff = 0;
	}
	if (p->sectsz <= 0 || p->psectsz < p->sectsz)
		return -1;
	p->nsect = (uint64_t)blockif_size(p->bc) / (uint64_t)p->sectsz;
	return 0;
}

static struct ahci_port *
ahci_port_open(struct ahci_softc *sc, int idx, const struct config_node *nvl)
{
	struct ahci_port *p;
	char name[80], err[160];
	int type, i;

	snprintf(name, sizeof(name), "ahci %d:%d:%d port %d", sc->pi->pi_bus,
		 sc->pi->pi_slot, sc->pi->pi_func, idx);
	type = ahci_port_type(nvl, name);
	if (type < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->io = calloc(AHCI_NSLOTS, sizeof(*p->io));
	p->sc = sc;
	p->idx = idx;
	p->atapi = type == 1;
	if (p->io == NULL)
		goto fail;
	if (ahci_port_options(p, nvl, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		goto fail;
	}
	if (p->atapi && get_config_value_node(nvl, "ro") == NULL)
		set_config_value_node((struct config_node *)nvl, "ro", "true");
	p->bc = blockif_open(nvl, name);
	if (p->bc == NULL || ahci_port_geometry(p) != 0)
		goto fail;
	for (i = 0; i < AHCI_NSLOTS; i++) {
		p->io[i].port = p;
		p->io[i].slot = i;
	}
	return p;
fail:
	ahci_port_free(p);
	return NULL;
}

static void
ahci_free(struct ahci_softc *sc)
{
	int i;

	for (i = 0; i < AHCI_MAX_PORTS; i++)
		ahci_port_free(sc->port[i]);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

static int
ahci_open_ports(struct ahci_softc *sc, struct config_node *nvl)
{
	struct config_node *pn;
	char key[16];
	int i;

	for (i = 0; i < AHCI_MAX_PORTS; i++) {
		snprintf(key, sizeof(key), "port.%d", i);
		pn = find_relative_config_node(nvl, key);
		if (pn == NULL)
			continue;
		sc->port[i] = ahci_port_open(sc, i, pn);
		if (sc->port[i] == NULL)
			return -1;
		sc->pimask |= 1u << i;
		sc->nports = i + 1;
	}
	return 0;
}

static void
ahci_config_space(struct pci_devinst *pi)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x8086);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x2821);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x01);	   /* mass storage */
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, 0x06); /* SATA */
	pci_set_cfgdata8(pi, PCIR_PROGIF, 0x01);   /* AHCI 1.0 */
}

static int
pci_ahci_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct ahci_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return -1;
	sc->pi = pi;
	pthread_mutex_init(&sc->mtx, NULL);
	if (ahci_open_ports(sc, nvl) != 0) {
		ahci_free(sc);
		return -1;
	}
	sc->cap = CAP_S64A | CAP_SNCQ | CAP_SCLO | CAP_ISS3 | CAP_SAM |
		  CAP_NCS | (uint32_t)(sc->nports > 0 ? sc->nports - 1 : 0);
	ahci_config_space(pi);
	if (pci_emul_add_msicap(pi, 1) < 0 ||
	    pci_emul_alloc_bar(pi, AHCI_BAR, PCIBAR_MEM32, AHCI_BAR_SIZE) !=
		0) {
		ahci_free(sc);
		return -1;
	}
	pci_lintr_request(pi);
	pi->pi_arg = sc;
	pthread_mutex_lock(&sc->mtx);
	ahci_hba_reset(sc);
	pthread_mutex_unlock(&sc->mtx);
	return 0;
}

static void
pci_ahci_fini(struct pci_devinst *pi)
{
	struct ahci_softc *sc = pi->pi_arg;
	int i;

	if (sc == NULL)
		return;
	/* Completions take the lock: drain without holding it. */
	for (i = 0; i < AHCI_MAX_PORTS; i++)
		if (sc->port[i] != NULL)
			blockif_drain(sc->port[i]->bc);
	ahci_free(sc);
	pi->pi_arg = NULL;
}

static int
ahci_check_options(const struct config_node *pn, int i, char *err,
		   size_t errlen)
{
	struct ahci_port *tmp = calloc(1, sizeof(*tmp));
	char why[160];
	int rc;

	if (tmp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = ahci_port_options(tmp, pn, why, sizeof(why));
	if (rc != 0)
		snprintf(err, errlen, "port %d: %s", i, why);
	free(tmp);
	return rc;
}

/* Before the VM exists: every port has a usable type, options, image. */
static int
pci_ahci_check(const struct config_node *nvl, char *err, size_t errlen)
{
	const struct config_node *pn;
	const char *t;
	char key[16];
	int i;

	for (i = 0; i < AHCI_MAX_PORTS; i++) {
		snprintf(key, sizeof(key), "port.%d", i);
		pn = find_relative_config_node((struct config_node *)nvl, key);
		if (pn == NULL)
			continue;
		t = get_config_value_node(pn, "type");
		if (t == NULL ||
		    (strcmp(t, "hd") != 0 && strcmp(t, "cd") != 0)) {
			snprintf(err, errlen, "port %d: type must be hd or cd",
				 i);
			return -1;
		}
		if (strcmp(t, "cd") == 0 &&
		    get_config_value_node(pn, "ro") == NULL)
			set_config_value_node((struct config_node *)pn, "ro",
					      "true");
		if (ahci_check_options(pn, i, err, errlen) != 0 ||
		    blockif_check(pn, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/*
 * "hd:/a.img[,opts],cd:/b.iso[,opts]" -> port.N.type / port.N.path plus
 * each port's block options.  A port's options run up to the next ",hd:"
 * or ",cd:".
 */
static int
pci_ahci_legacy_ports(struct config_node *nvl, const char *opts,
		      const char *deftype)
{
	char *copy, *cur, *next, *hd, *cd;
	struct config_node *port;
	const char *type;
	int n = 0, rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = legacy_config_strdup(opts);
	if (copy == NULL)
		return -1;
	for (; rc == 0 && cur != NULL; cur = next) {
		type = deftype;
		if (strncmp(cur, "hd:", 3) == 0 ||
		    strncmp(cur, "cd:", 3) == 0) {
			type = cur[0] == 'h' ? "hd" : "cd";
			cur += 3;
		}
		hd = strstr(cur, ",hd:");
		cd = strstr(cur, ",cd:");
		next = (hd == NULL || (cd != NULL && cd < hd)) ? cd : hd;
		if (next != NULL)
			*next++ = '\0';
		if (cur[0] == '\0')
			continue;
		if (type == NULL) {
			legacy_config_error(
			    "port %d: missing type (hd: or cd:) "
			    "in '%s'",
			    n, cur);
			rc = -1;
			break;
		}
		port = legacy_config_child(nvl, "port", n++, AHCI_MAX_PORTS);
		if (port == NULL) {
			rc = -1;
			break;
		}
		rc = legacy_config_set(port, "type", type);
		if (rc == 0)
			rc = blockif_legacy_config(port, cur);
	}
	free(copy);
	return rc;
}

static int
pci_ahci_legacy_config(struct config_node *nvl, const char *opts)
{
	return pci_ahci_legacy_ports(nvl, opts, NULL);
}

static int
pci_ahci_hd_legacy_config(struct config_node *nvl, const char *opts)
{
	return pci_ahci_legacy_ports(nvl, opts, "hd");
}

static int
pci_ahci_cd_legacy_config(struct config_node *nvl, const char *opts)
{
	return pci_ahci_legacy_ports(nvl, opts, "cd");
}

static const struct pci_devemu pci_de_ahci = {
    .pe_emu = "ahci",
    .pe_legacy_config = pci_ahci_legacy_config,
    .pe_init = pci_ahci_init,
    .pe_check = pci_ahci_check,
    .pe_barwrite = pci_ahci_write,
    .pe_barread = pci_ahci_read,
    .pe_fini = pci_ahci_fini,
};
PCI_EMUL_SET(pci_de_ahci);

static const struct pci_devemu pci_de_ahci_hd = {
    .pe_emu = "ahci-hd",
    .pe_alias = "ahci",
    .pe_legacy_config = pci_ahci_hd_legacy_config,
};
PCI_EMUL_SET(pci_de_ahci_hd);

static const struct pci_devemu pci_de_ahci_cd = {
    .pe_emu = "ahci-cd",
    .pe_alias = "ahci",
    .pe_legacy_config = pci_ahci_cd_legacy_config,
};
PCI_EMUL_SET(pci_de_ahci_cd);
