/*
 * The nvme model on a detached VM (guest RAM, no KVM): the test plays
 * the host driver, writing registers through the BAR, submission entries
 * and PRP lists into guest memory, ringing doorbells and reading
 * completions and the image file back.  Interrupts are recorded through
 * pci_emul_set_intr_ops().
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MEM_SIZE (64u << 20)
#define IMG_SIZE (8u << 20)
#define SLOT	 4
#define PG	 4096u
#define ASQ_GPA	 0x100000ULL
#define ACQ_GPA	 0x101000ULL
#define IOCQ_GPA 0x102000ULL
#define IOSQ_GPA 0x104000ULL
#define BUF_GPA	 0x200000ULL /* data pages from 2 MiB */
#define LIST_GPA 0x800000ULL
#define QN	 32

/* Status without phase and DNR: SCT << 8 | SC. */
#define ST(sct, sc) ((sct) << 8 | (sc))

static struct vmctx *ctx;
static int msi_count;
static uint64_t msi_last_data;

struct tq {
	uint64_t sq, cq;
	uint16_t qid, tail, head;
	bool phase;
};

struct tdev {
	struct pci_devinst *pi;
	uint64_t bar;
	struct tq aq, ioq;
	char img[64];
};

struct tcpl {
	uint32_t dw0;
	uint16_t status; /* SCT << 8 | SC */
	bool dnr;
	bool ok; /* a completion arrived */
};

static int
rec_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	__atomic_add_fetch(&msi_count, 1, __ATOMIC_SEQ_CST);
	msi_last_data = data;
	return 0;
}

static const struct pci_intr_ops rec_ops = {rec_msi, test_no_intx};

static uint32_t
reg_rd(struct tdev *d, uint64_t off)
{
	return (uint32_t)test_mmio_read(d->bar + off, 4);
}

static void
reg_wr(struct tdev *d, uint64_t off, uint32_t v)
{
	test_mmio_write(d->bar + off, 4, v);
}

static void
img_make(char *path)
{
	int fd;

	snprintf(path, 64, "/tmp/test_nvme.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, IMG_SIZE) != 0) {
		perror("image");
		exit(1);
	}
	close(fd);
}

/* A world with one nvme at SLOT: opts, a temporary image unless ram=. */
static bool
tdev_build(struct tdev *d, const char *opts)
{
	char node[32];
	struct config_node *n;

	memset(d, 0, sizeof(*d));
	test_pci_world_reset();
	pci_emul_set_intr_ops(&rec_ops);
	snprintf(node, sizeof(node), "pci.0.%d.0", SLOT);
	n = create_config_node(node);
	set_config_value_node(n, "device", "nvme");
	if (strstr(opts, "ram=") == NULL) {
		img_make(d->img);
		set_config_value_node(n, "path", d->img);
	}
	test_config_opts(n, opts);
	if (init_pci(ctx) != 0)
		return false;
	d->pi = pci_emul_find_dev(0, SLOT, 0);
	if (d->pi == NULL)
		return false;
	d->bar = d->pi->pi_bar[0].addr;
	return true;
}

static void
tdev_done(struct tdev *d)
{
	pci_emul_fini();
	if (d->img[0] != '\0')
		unlink(d->img);
}

static bool
tdev_enable(struct tdev *d, uint64_t asq)
{
	memset(vm_map_gpa(ctx, ASQ_GPA, 0x8000), 0, 0x8000);
	d->aq = (struct tq){asq, ACQ_GPA, 0, 0, 0, true};
	reg_wr(d, 0x24, (QN - 1) << 16 | (QN - 1));
	reg_wr(d, 0x28, (uint32_t)asq);
	reg_wr(d, 0x2c, (uint32_t)(asq >> 32));
	reg_wr(d, 0x30, (uint32_t)ACQ_GPA);
	reg_wr(d, 0x34, 0);
	reg_wr(d, 0x14, 1 | 6u << 16 | 4u << 20);
	return (reg_rd(d, 0x1c) & 3) == 1;
}

static void
tdev_disable(struct tdev *d)
{
	reg_wr(d, 0x14, 0);
}

/* Posts cmd on q and rings the doorbell. */
static void
tq_post(struct tdev *d, struct tq *q, const uint32_t *cmd)
{
	test_gput(ctx, q->sq + 64ULL * q->tail, cmd, 64);
	q->tail = (uint16_t)((q->tail + 1) % QN);
	reg_wr(d, 0x1000 + 8u * q->qid, q->tail);
}

/* Posts cmd on q and waits (10 s at most) for its completion. */
static struct tcpl
tq_run(struct tdev *d, struct tq *q, const uint32_t *cmd)
{
	struct tcpl c = {0};
	uint32_t e[4];
	int i;

	tq_post(d, q, cmd);
	for (i = 0; i < 100000; i++) {
		test_gget(ctx, q->cq + 16ULL * q->head, e, 16);
		if (((e[3] >> 16) & 1) == q->phase)
			break;
		usleep(100);
	}
	if (i == 100000)
		return c;
	c.ok = true;
	c.dw0 = e[0];
	c.status = (e[3] >> 17) & 0x7ff;
	c.dnr = (e[3] >> 31) & 1;
	q->head = (uint16_t)((q->head + 1) % QN);
	if (q->head == 0)
		q->phase = !q->phase;
	reg_wr(d, 0x1000 + 8u * q->qid + 4, q->head);
	return c;
}

static void
cmd_init(uint32_t *c, uint8_t opc, uint32_t nsid, uint64_t prp1, uint64_t prp2)
{
	static uint16_t cid = 1;

	memset(c, 0, 64);
	c[0] = opc | (uint32_t)cid++ << 16;
	c[1] = nsid;
	c[6] = (uint32_t)prp1;
	c[7] = (uint32_t)(prp1 >> 32);
	c[8] = (uint32_t)prp2;
	c[9] = (uint32_t)(prp2 >> 32);
}

static struct tcpl
adm(struct tdev *d, uint8_t opc, uint32_t nsid, uint64_t prp1, uint32_t c10,
    uint32_t c11)
{
	uint32_t c[16];

	cmd_init(c, opc, nsid, prp1, 0);
	c[10] = c10;
	c[11] = c11;
	return tq_run(d, &d->aq, c);
}

/* Read (2) / write (1) of nlb blocks at slba with the given PRPs. */
static struct tcpl
rw(struct tdev *d, uint8_t opc, uint64_t slba, uint32_t nlb, uint64_t prp1,
   uint64_t prp2)
{
	uint32_t c[16];

	cmd_init(c, opc, 1, prp1, prp2);
	c[10] = (uint32_t)slba;
	c[11] = (uint32_t)(slba >> 32);
	c[12] = nlb - 1;
	return tq_run(d, &d->ioq, c);
}

static bool
tdev_ioq(struct tdev *d)
{
	struct tcpl c;

	memset(vm_map_gpa(ctx, IOCQ_GPA, 0x4000), 0, 0x4000);
	c = adm(d, 0x05, 0, IOCQ_GPA, (QN - 1) << 16 | 1, 1u << 16 | 3);
	if (!c.ok || c.status != 0)
		return false;
	c = adm(d, 0x01, 0, IOSQ_GPA, (QN - 1) << 16 | 1, 1u << 16 | 1);
	d->ioq = (struct tq){IOSQ_GPA, IOCQ_GPA, 1, 0, 0, true};
	return c.ok && c.status == 0;
}

static void
img_read(struct tdev *d, off_t off, void *buf, size_t n)
{
	int fd = open(d->img, O_RDONLY);

	if (fd < 0 || pread(fd, buf, n, off) != (ssize_t)n) {
		perror("img_read");
		exit(1);
	}
	close(fd);
}

static void
pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* ---- tests ---- */

static void
test_registers(void)
{
	struct tdev d;
	uint64_t cap;

	CHECK(tdev_build(&d, "qsz=64,ser=TESTSER"), "build");
	if (d.pi == NULL)
		return;
	CHECK(pci_get_cfgdata8(d.pi, PCIR_CLASS) == 1 &&
		  pci_get_cfgdata8(d.pi, PCIR_SUBCLASS) == 8 &&
		  pci_get_cfgdata8(d.pi, PCIR_PROGIF) == 2,
	      "class 01/08/02");
	CHECK(d.pi->pi_msix.capoff != 0 && d.pi->pi_msix.table_count == 17 &&
		  pci_emul_find_capability(d.pi, PCIY_EXPRESS) != 0,
	      "MSI-X with maxq + 1 vectors, PCIe capability");
	cap = test_mmio_read(d.bar, 8);
	CHECK_EQ_U64(cap & 0xffff, 63, "CAP.MQES = qsz - 1");
	CHECK(((cap >> 16) & 1) && ((cap >> 37) & 1) &&
		  ((cap >> 32) & 0xf) == 0,
	      "CAP: CQR, CSS NVM, DSTRD 0");
	CHECK_EQ_U64(reg_rd(&d, 8), 0x10400, "VS 1.4");
	CHECK(tdev_enable(&d, ASQ_GPA), "enable: CSTS.RDY");
	reg_wr(&d, 0x14, reg_rd(&d, 0x14) | 1u << 14);
	CHECK_EQ_U64((reg_rd(&d, 0x1c) >> 2) & 3, 2, "shutdown: SHST complete");
	tdev_disable(&d);
	CHECK_EQ_U64(reg_rd(&d, 0x1c), 0, "disable: CSTS 0");
	/* Admin queue outside guest RAM: fatal status, not a crash. */
	CHECK(!tdev_enable(&d, 0x100000000ULL) && (reg_rd(&d, 0x1c) & 2),
	      "admin queue outside RAM: CSTS.CFS");
	tdev_disable(&d);
	CHECK(tdev_enable(&d, ASQ_GPA), "reset clears CFS, enable works");
	tdev_done(&d);
}

static void
test_identify(struct tdev *d)
{
	uint8_t id[4096];
	struct tcpl c;
	uint32_t v;

	c = adm(d, 0x06, 0, BUF_GPA, 1, 0);
	test_gget(ctx, BUF_GPA, id, sizeof(id));
	CHECK(c.ok && c.status == 0, "identify controller");
	CHECK(memcmp(id + 4, "TESTSER             ", 20) == 0,
	      "identify: serial, space padded");
	CHECK(memcmp(id + 24, "bhyve-NVMe", 10) == 0, "identify: model");
	memcpy(&v, id + 516, 4);
	CHECK(v == 1 && id[77] == 8 && id[512] == 0x66 && id[513] == 0x44,
	      "identify: NN 1, MDTS, SQES, CQES");
	memcpy(&v, id + 80, 4);
	CHECK(v == 0x10400 && (id[520] & 0xc) != 0 && id[525] == 1,
	      "identify: VER, ONCS write zeroes, VWC");
	c = adm(d, 0x06, 1, BUF_GPA, 0, 0);
	test_gget(ctx, BUF_GPA, id, sizeof(id));
	CHECK(c.ok && c.status == 0 && test_le(id, 8) == IMG_SIZE / 512 &&
		  ((test_le(id + 128, 4) >> 16) & 0xff) == 9,
	      "identify namespace: size, 512-byte LBA format");
	CHECK(test_le(id + 120, 8) == 0xefcdab8967452301ULL,
	      "identify namespace: EUI64 0x0123456789abcdef, big-endian");
	c = adm(d, 0x06, 0, BUF_GPA, 2, 0);
	test_gget(ctx, BUF_GPA, id, 8);
	CHECK(c.status == 0 && test_le(id, 4) == 1 && test_le(id + 4, 4) == 0,
	      "active namespace list: [1]");
	c = adm(d, 0x06, 1, BUF_GPA, 3, 0);
	test_gget(ctx, BUF_GPA, id, 16);
	CHECK(c.status == 0 && id[0] == 1 && id[1] == 8 && id[4] == 0x01,
	      "namespace descriptor list: EUI64");
	CHECK(adm(d, 0x06, 0, BUF_GPA, 0x55, 0).status == ST(0, 2),
	      "identify: unknown CNS -> invalid field");
	CHECK(adm(d, 0x06, 2, BUF_GPA, 0, 0).status == ST(0, 0x0b),
	      "identify: NSID 2 -> invalid namespace");
}

static void
test_queues(struct tdev *d)
{
	CHECK(adm(d, 0x05, 0, IOCQ_GPA, 31u << 16, 3).status == ST(1, 1),
	      "create CQ qid 0 -> invalid QID");
	CHECK(adm(d, 0x05, 0, IOCQ_GPA, 31u << 16 | 17, 3).status == ST(1, 1),
	      "create CQ qid > maxq -> invalid QID");
	CHECK(adm(d, 0x05, 0, IOCQ_GPA, 64u << 16 | 1, 3).status == ST(1, 2),
	      "create CQ 65 entries (qsz 64) -> invalid queue size");
	CHECK(adm(d, 0x05, 0, IOCQ_GPA, 31u << 16 | 1, 2).status == ST(0, 2),
	      "create CQ PC=0 -> invalid field");
	CHECK(adm(d, 0x05, 0, IOCQ_GPA, 31u << 16 | 1, 99u << 16 | 3).status ==
		  ST(1, 8),
	      "create CQ vector 99 -> invalid interrupt vector");
	CHECK(adm(d, 0x05, 0, MEM_SIZE, 31u << 16 | 1, 3).status == ST(0, 2),
	      "create CQ outside RAM -> invalid field");
	CHECK(adm(d, 0x01, 0, IOSQ_GPA, 31u << 16 | 1, 5u << 16 | 1).status ==
		  ST(1, 0),
	      "create SQ on a missing CQ -> completion queue invalid");
	CHECK(tdev_ioq(d), "create I/O CQ 1 and SQ 1");
	CHECK(adm(d, 0x04, 0, 0, 1, 0).status == ST(1, 0x0c),
	      "delete CQ with an SQ -> invalid queue deletion");
	CHECK(adm(d, 0x00, 0, 0, 7, 0).status == ST(1, 1),
	      "delete missing SQ -> invalid QID");
}

static void
test_rw(struct tdev *d)
{
	static uint8_t pat[65536], back[65536];
	uint64_t pages[16], e;
	uint32_t flush[16];
	struct tcpl c;
	int i;

	pattern(pat, 4096, 1);
	test_gput(ctx, BUF_GPA, pat, 4096);
	c = rw(d, 1, 10, 8, BUF_GPA, 0);
	img_read(d, 10 * 512, back, 4096);
	CHECK(c.ok && c.status == 0 && memcmp(back, pat, 4096) == 0,
	      "write 8 blocks (PRP1): image holds the data");
	memset(vm_map_gpa(ctx, BUF_GPA + PG, 4096), 0, 4096);
	c = rw(d, 2, 10, 8, BUF_GPA + PG, 0);
	test_gget(ctx, BUF_GPA + PG, back, 4096);
	CHECK(c.status == 0 && memcmp(back, pat, 4096) == 0,
	      "read back (PRP1)");
	/* 2 pages: PRP1 with an offset, PRP2 a second page. */
	pattern(pat, 4096, 2);
	test_gput(ctx, BUF_GPA + 3 * PG + 0x800, pat, 2048);
	test_gput(ctx, BUF_GPA + 9 * PG, pat + 2048, 2048);
	c = rw(d, 1, 100, 8, BUF_GPA + 3 * PG + 0x800, BUF_GPA + 9 * PG);
	img_read(d, 100 * 512, back, 4096);
	CHECK(c.status == 0 && memcmp(back, pat, 4096) == 0,
	      "write with an unaligned PRP1 and PRP2 page");
	/* 64 KiB, PRP1 offset 0x200, scattered pages through a PRP list. */
	pattern(pat, sizeof(pat), 3);
	test_gput(ctx, BUF_GPA + 0x200, pat, PG - 0x200);
	for (i = 0; i < 16; i++) {
		pages[i] = BUF_GPA + (uint64_t)(40 + (i * 5) % 16 * 2) * PG;
		test_gput(ctx, pages[i], pat + PG - 0x200 + (size_t)i * PG,
			  i == 15 ? 0x200 : PG);
	}
	test_gput(ctx, LIST_GPA, pages, sizeof(pages));
	c = rw(d, 1, 1000, 128, BUF_GPA + 0x200, LIST_GPA);
	img_read(d, 1000 * 512, back, sizeof(back));
	CHECK(c.status == 0 && memcmp(back, pat, sizeof(pat)) == 0,
	      "64 KiB write through a PRP list, unaligned PRP1");
	/* The same read through a list that chains after one entry. */
	memset(vm_map_gpa(ctx, BUF_GPA, 0x80000), 0, 0x80000);
	e = LIST_GPA + 2 * PG;
	test_gput(ctx, LIST_GPA + PG - 16, &pages[0], 8);
	test_gput(ctx, LIST_GPA + PG - 8, &e, 8);
	test_gput(ctx, e, &pages[1], 15 * 8);
	c = rw(d, 2, 1000, 128, BUF_GPA + 0x200, LIST_GPA + PG - 16);
	test_gget(ctx, BUF_GPA + 0x200, back, PG - 0x200);
	for (i = 0; i < 16; i++)
		test_gget(ctx, pages[i], back + PG - 0x200 + (size_t)i * PG,
			  i == 15 ? 0x200 : PG);
	CHECK(c.status == 0 && memcmp(back, pat, sizeof(pat)) == 0,
	      "64 KiB read through a chained PRP list");
	cmd_init(flush, 0x00, 1, 0, 0);
	c = tq_run(d, &d->ioq, flush);
	CHECK(c.ok && c.status == 0, "flush");
}

static void
test_dsm_zeroes(struct tdev *d)
{
	uint8_t back[4096], zero[4096] = {0};
	uint32_t c[16], range[4];
	struct tcpl r;

	cmd_init(c, 0x08, 1, 0, 0); /* write zeroes 8 blocks at 10 */
	c[10] = 10;
	c[12] = 7;
	r = tq_run(d, &d->ioq, c);
	img_read(d, 10 * 512, back, 4096);
	CHECK(r.status == 0 && memcmp(back, zero, 4096) == 0,
	      "write zeroes: range reads as zeros");
	range[0] = 0;
	range[1] = 128; /* nlb */
	range[2] = 1000;
	range[3] = 0;
	test_gput(ctx, BUF_GPA, range, 16);
	cmd_init(c, 0x09, 1, BUF_GPA, 0);
	c[11] = 4; /* AD */
	r = tq_run(d, &d->ioq, c);
	img_read(d, 1000 * 512, back, 4096);
	CHECK(r.status == 0 && memcmp(back, zero, 4096) == 0,
	      "DSM deallocate: the range reads as zeros");
	range[2] = IMG_SIZE / 512 - 10;
	test_gput(ctx, BUF_GPA, range, 16);
	r = tq_run(d, &d->ioq, c);
	CHECK(r.status == ST(0, 0x80), "DSM range past the end -> LBA range");
}

static void
test_logs_features(struct tdev *d)
{
	uint8_t log[512];
	struct tcpl c;
	int i;

	c = adm(d, 0x02, 0xffffffff, BUF_GPA, 127u << 16 | 2, 0);
	test_gget(ctx, BUF_GPA, log, sizeof(log));
	CHECK(c.status == 0 && log[3] == 100 && test_le(log + 48, 8) > 0 &&
		  test_le(log + 80, 8) == 5,
	      "SMART log: spare, data units and commands written");
	c = adm(d, 0x02, 0, BUF_GPA, 127u << 16 | 3, 0);
	test_gget(ctx, BUF_GPA, log, 16);
	CHECK(c.status == 0 && log[0] == 1 && memcmp(log + 8, "1.0", 3) == 0,
	      "firmware slot log");
	CHECK(adm(d, 0x02, 0, BUF_GPA, 15u << 16 | 1, 0).status == 0,
	      "error log");
	CHECK(adm(d, 0x02, 0, BUF_GPA, 15u << 16 | 0x7f, 0).status == ST(1, 9),
	      "unknown log -> invalid log page");
	c = adm(d, 0x0a, 0, 0, 0x07, 0);
	CHECK(c.status == 0 && c.dw0 == (15u << 16 | 15),
	      "get features: number of queues");
	c = adm(d, 0x09, 0, 0, 0x07, 3u << 16 | 3);
	CHECK(c.status == ST(0, 0x0c),
	      "set number of queues after creating queues -> sequence error");
	CHECK(adm(d, 0x09, 0, 0, 0x06 | 1u << 31, 1).status == ST(1, 0x0d),
	      "set features with save -> not saveable");
	c = adm(d, 0x09, 0, 0, 0x04, 0x150);
	CHECK(c.status == 0 && adm(d, 0x0a, 0, 0, 0x04, 0).dw0 == 0x150,
	      "temperature threshold set and read back");
	CHECK(adm(d, 0x0a, 0, 0, 0x06, 0).dw0 == 1, "VWC enabled");
	CHECK(adm(d, 0x10, 0, 0, 0, 0).status == ST(0, 1),
	      "firmware commit -> invalid opcode");
	/* Four AERs stay outstanding (AERL 3): no completion for them. */
	for (i = 0; i < 4; i++) {
		uint32_t a[16];

		cmd_init(a, 0x0c, 0, 0, 0);
		tq_post(d, &d->aq, a);
	}
	CHECK(adm(d, 0x0c, 0, 0, 0, 0).status == ST(1, 5),
	      "fifth AER -> AER limit exceeded");
}

static void
test_bad_io(struct tdev *d)
{
	uint32_t c[16];
	struct tcpl r;

	cmd_init(c, 0x7e, 1, 0, 0);
	r = tq_run(d, &d->ioq, c);
	CHECK(r.status == ST(0, 1) && r.dnr, "I/O opcode 0x7e -> invalid");
	CHECK(rw(d, 2, IMG_SIZE / 512 - 4, 8, BUF_GPA, 0).status == ST(0, 0x80),
	      "read past the end -> LBA out of range");
	CHECK(rw(d, 2, ~0ULL - 2, 8, BUF_GPA, 0).status == ST(0, 0x80),
	      "read at SLBA near 2^64 -> LBA out of range");
	CHECK(rw(d, 2, 0, 8, MEM_SIZE, 0).status == ST(0, 4),
	      "PRP1 outside RAM -> data transfer error");
	CHECK(rw(d, 2, 0, 16, BUF_GPA, BUF_GPA + 0x10).status == ST(0, 0x13),
	      "misaligned PRP2 -> PRP offset invalid");
	CHECK(rw(d, 2, 0, 8, BUF_GPA + 2, 0).status == ST(0, 0x13),
	      "PRP1 not dword aligned -> PRP offset invalid");
	CHECK(rw(d, 2, 0, 2049, BUF_GPA, 0).status == ST(0, 2),
	      "1 MiB + 512 bytes, above MDTS -> invalid field");
	cmd_init(c, 0x02, 2, BUF_GPA, 0);
	CHECK(tq_run(d, &d->ioq, c).status == ST(0, 0x0b),
	      "NSID 2 -> invalid namespace");
	CHECK(rw(d, 2, 10, 8, BUF_GPA, 0).status == 0,
	      "the device keeps working after bad commands");
}

/* FUA and a disabled write cache add a FLUSH; the write still lands. */
static void
test_write_cache(struct tdev *d)
{
	uint8_t pat[4096], back[4096];
	uint32_t c[16];

	pattern(pat, sizeof(pat), 5);
	test_gput(ctx, BUF_GPA, pat, sizeof(pat));
	cmd_init(c, 0x01, 1, BUF_GPA, 0);
	c[10] = 200;
	c[12] = 7 | 1u << 30; /* FUA */
	CHECK(tq_run(d, &d->ioq, c).status == 0, "write with FUA");
	img_read(d, 200 * 512, back, sizeof(back));
	CHECK(memcmp(back, pat, sizeof(pat)) == 0, "FUA write in the image");
	CHECK(adm(d, 0x09, 0, 0, 0x06, 0).status == 0 &&
		  adm(d, 0x0a, 0, 0, 0x06, 0).dw0 == 0,
	      "volatile write cache turned off");
	pattern(pat, sizeof(pat), 6);
	test_gput(ctx, BUF_GPA, pat, sizeof(pat));
	CHECK(rw(d, 1, 300, 8, BUF_GPA, 0).status == 0,
	      "write with the write cache off");
	img_read(d, 300 * 512, back, sizeof(back));
	CHECK(memcmp(back, pat, sizeof(pat)) == 0,
	      "write-through data in the image");
	adm(d, 0x09, 0, 0, 0x06, 1);
}

static void
test_msix(struct tdev *d)
{
	int cap = d->pi->pi_msix.capoff, before;
	uint64_t tab = d->pi->pi_bar[4].addr + 16; /* vector 1 */

	test_cfg_write(0, SLOT, 0, cap + 2, 2, 0x8000);
	test_mmio_write(tab, 4, 0xfee00000);
	test_mmio_write(tab + 4, 4, 0);
	test_mmio_write(tab + 8, 4, 0x4242);
	test_mmio_write(tab + 12, 4, 0);
	before = msi_count;
	CHECK(rw(d, 2, 10, 8, BUF_GPA, 0).status == 0 &&
		  msi_count == before + 1 && msi_last_data == 0x4242,
	      "MSI-X: the I/O CQ's vector 1 fires");
	test_cfg_write(0, SLOT, 0, cap + 2, 2, 0);
}

static void
test_intx(struct tdev *d)
{
	uint32_t c[16];

	cmd_init(c, 0x02, 1, BUF_GPA, 0);
	c[12] = 7;
	test_gput(ctx, d->ioq.sq + 64ULL * d->ioq.tail, c, 64);
	d->ioq.tail = (uint16_t)((d->ioq.tail + 1) % QN);
	reg_wr(d, 0x1008, d->ioq.tail);
	for (int i = 0; i < 100000 && d->pi->pi_lintr.state == PCI_LINTR_IDLE;
	     i++)
		usleep(100);
	CHECK(d->pi->pi_lintr.state != PCI_LINTR_IDLE,
	      "INTx asserted by a completion (MSI-X off)");
	d->ioq.head = (uint16_t)((d->ioq.head + 1) % QN);
	if (d->ioq.head == 0)
		d->ioq.phase = !d->ioq.phase;
	reg_wr(d, 0x100c, d->ioq.head);
	CHECK(d->pi->pi_lintr.state == PCI_LINTR_IDLE,
	      "INTx deasserted once the CQ is consumed");
}

/* A CQ the host never drains overflows: CSTS.CFS, and a reset recovers. */
static void
test_cq_overflow(struct tdev *d)
{
	struct tq q = {0x107000, 0x106000, 2, 0, 0, true};
	uint32_t c[16];

	memset(vm_map_gpa(ctx, 0x106000, 0x2000), 0, 0x2000);
	CHECK(
	    adm(d, 0x05, 0, 0x106000, 1u << 16 | 2, 1).status == 0 &&
		adm(d, 0x01, 0, 0x107000, 3u << 16 | 2, 2u << 16 | 1).status ==
		    0,
	    "2-entry CQ 2 with SQ 2");
	for (int i = 0; i < 2; i++) {
		cmd_init(c, 0x00, 1, 0, 0);
		tq_post(d, &q, c);
	}
	for (int i = 0; i < 1000 && !(reg_rd(d, 0x1c) & 2); i++)
		usleep(1000);
	CHECK(reg_rd(d, 0x1c) & 2, "CQ overflow -> CSTS.CFS");
	tdev_disable(d);
	CHECK(tdev_enable(d, ASQ_GPA) && tdev_ioq(d) &&
		  rw(d, 2, 0, 8, BUF_GPA, 0).status == 0,
	      "after reset the controller works again");
}

static void
test_device(void)
{
	struct tdev d;

	CHECK(tdev_build(&d, "ser=TESTSER,eui64=0x0123456789abcdef,qsz=64,"
			     "engine=threads"),
	      "build with an image");
	if (d.pi == NULL)
		return;
	CHECK(tdev_enable(&d, ASQ_GPA), "enable");
	test_identify(&d);
	test_queues(&d);
	test_rw(&d);
	test_dsm_zeroes(&d);
	test_bad_io(&d);
	test_write_cache(&d);
	test_msix(&d);
	test_intx(&d);
	test_logs_features(&d);
	test_cq_overflow(&d);
	tdev_disable(&d);
	CHECK(reg_rd(&d, 0x1c) == 0, "disable after I/O");
	tdev_done(&d);
}

static void
test_ram(void)
{
	uint8_t pat[8192], back[8192];
	struct tdev d;

	CHECK(tdev_build(&d, "ram=4,sectsz=512"), "ram=4 builds");
	if (d.pi == NULL)
		return;
	CHECK(tdev_enable(&d, ASQ_GPA) && tdev_ioq(&d), "ram: queues");
	pattern(pat, sizeof(pat), 9);
	test_gput(ctx, BUF_GPA, pat, sizeof(pat));
	CHECK(rw(&d, 1, 5, 16, BUF_GPA, BUF_GPA + PG).status == 0,
	      "ram: write");
	memset(vm_map_gpa(ctx, BUF_GPA, sizeof(pat)), 0, sizeof(pat));
	CHECK(rw(&d, 2, 5, 16, BUF_GPA, BUF_GPA + PG).status == 0, "ram: read");
	test_gget(ctx, BUF_GPA, back, sizeof(back));
	CHECK(memcmp(back, pat, sizeof(pat)) == 0, "ram: data round trip");
	CHECK(rw(&d, 2, 8192, 1, BUF_GPA, 0).status == ST(0, 0x80),
	      "ram: read past 4 MiB -> LBA out of range");
	tdev_done(&d);
}

static void
test_options(void)
{
	struct tdev d;

	CHECK(!tdev_build(&d, "maxq=0"), "maxq=0 refused");
	tdev_done(&d);
	CHECK(!tdev_build(&d, "maxq=17"), "maxq=17 refused");
	tdev_done(&d);
	CHECK(!tdev_build(&d, "sectsz=1000"), "sectsz=1000 refused");
	tdev_done(&d);
	CHECK(!tdev_build(&d, "dsm=maybe"), "dsm=maybe refused");
	tdev_done(&d);
	CHECK(!tdev_build(&d, "qsz=1"), "qsz=1 refused");
	tdev_done(&d);
	CHECK(tdev_build(&d, "ro"), "ro builds");
	if (d.pi != NULL) {
		tdev_enable(&d, ASQ_GPA);
		CHECK(tdev_ioq(&d) &&
			  rw(&d, 1, 0, 8, BUF_GPA, 0).status == ST(1, 0x82) &&
			  rw(&d, 2, 0, 8, BUF_GPA, 0).status == 0,
		      "ro: write refused (read-only range), read works");
	}
	tdev_done(&d);
	CHECK(tdev_build(&d, "dsm=disable,sectsz=4096,maxq=2"),
	      "dsm=disable,sectsz=4096,maxq=2");
	if (d.pi != NULL) {
		uint8_t id[4096];

		tdev_enable(&d, ASQ_GPA);
		adm(&d, 0x06, 0, BUF_GPA, 1, 0);
		test_gget(ctx, BUF_GPA, id, sizeof(id));
		CHECK((id[520] & 4) == 0, "dsm=disable: ONCS without DSM");
		CHECK(memcmp(id + 4, "NVME-4-0", 8) == 0, "default serial");
		adm(&d, 0x06, 1, BUF_GPA, 0, 0);
		test_gget(ctx, BUF_GPA, id, sizeof(id));
		CHECK(((test_le(id + 128, 4) >> 16) & 0xff) == 12 &&
			  test_le(id, 8) == IMG_SIZE / 4096,
		      "sectsz=4096: LBA format and size");
		CHECK(d.pi->pi_msix.table_count == 3, "maxq=2: 3 vectors");
	}
	tdev_done(&d);
}

int
main(void)
{
	ctx = vm_create_detached("nvme");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	test_registers();
	test_device();
	test_ram();
	test_options();
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
