/*
 * The AHCI HBA on a detached VM (guest RAM, no KVM): command lists,
 * command tables and PRDTs are written into guest memory as a driver
 * would, commands are issued through PxCI / PxSACT over MMIO, and the
 * task file, received FISes, interrupts and image files are checked.
 * Port 0 is a disk (hd), port 1 a CD-ROM (cd); malformed commands must
 * fail with a task-file error and leave the device usable.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"
#include "pci_emul.h"
#include "pci_models.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MEM_SIZE (64u << 20)
#define IMG_SIZE (8u << 20)
#define ISO_SIZE (2u << 20)
#define SLOT	 4
#define BUF_GPA	 0x1000000ULL
#define BUF2_GPA 0x1800000ULL

static struct vmctx *ctx;
static uint64_t abar;
static char img[64], iso[64];
static int n_intx_assert, n_intx_deassert, n_msi;

static int
rec_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	n_msi++;
	return 0;
}

static int
rec_intx(struct vmctx *c, int irq, bool level)
{
	if (level)
		n_intx_assert++;
	else
		n_intx_deassert++;
	return 0;
}

static const struct pci_intr_ops rec_ops = {rec_msi, rec_intx};

/* ---- registers ---- */

static uint32_t
hba_r(int off)
{
	return (uint32_t)test_mmio_read(abar + (uint64_t)off, 4);
}

static void
hba_w(int off, uint32_t v)
{
	test_mmio_write(abar + (uint64_t)off, 4, v);
}

static uint32_t
port_r(int p, int off)
{
	return hba_r(0x100 + 0x80 * p + off);
}

static void
port_w(int p, int off, uint32_t v)
{
	hba_w(0x100 + 0x80 * p + off, v);
}

/* Guest memory per port: command list, received FIS, command tables. */
static uint64_t
clb(int p)
{
	return 0x10000ULL + 0x10000ULL * (uint64_t)p;
}

static uint64_t
fbase(int p)
{
	return clb(p) + 0x1000;
}

static uint64_t
ctba(int p, int slot)
{
	return 0x100000ULL + 0x100000ULL * (uint64_t)p +
	       0x2000ULL * (uint64_t)slot;
}

static void
img_make(char *path, const char *tmpl, size_t len)
{
	int fd;

	snprintf(path, 64, "%s", tmpl);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		perror("image");
		exit(1);
	}
	close(fd);
}

static void
file_rw(const char *path, bool wr, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	n = wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	if (fd < 0 || n != (ssize_t)len) {
		perror("file_rw");
		exit(1);
	}
	close(fd);
}

/* A fresh PCI world with one HBA; port options are appended per port. */
static int
hba_build(const char *hdopts, const char *cdopts)
{
	struct config_node *n;
	struct pci_devinst *pi;

	test_pci_world_reset();
	pci_emul_set_intr_ops(&rec_ops);
	n = create_config_node("pci.0.4.0");
	set_config_value_node(n, "device", "ahci");
	n = create_config_node("pci.0.4.0.port.0");
	set_config_value_node(n, "type", "hd");
	set_config_value_node(n, "path", img);
	test_config_opts(n, hdopts);
	if (cdopts != NULL) {
		n = create_config_node("pci.0.4.0.port.1");
		set_config_value_node(n, "type", "cd");
		set_config_value_node(n, "path", iso);
		test_config_opts(n, cdopts);
	}
	if (init_pci(ctx) != 0)
		return -1;
	pi = pci_emul_find_dev(0, SLOT, 0);
	if (pi == NULL)
		return -1;
	abar = pi->pi_bar[5].addr;
	return 0;
}

/* What a driver does to start a port: CLB, FB, FRE, then ST. */
static void
port_start(int p)
{
	port_w(p, 0x00, (uint32_t)clb(p));
	port_w(p, 0x04, 0);
	port_w(p, 0x08, (uint32_t)fbase(p));
	port_w(p, 0x0c, 0);
	port_w(p, 0x18, 1u << 4);
	port_w(p, 0x18, 1u << 4 | 1u);
	port_w(p, 0x14, 0xffffffffu);
	port_w(p, 0x10, 0xffffffffu);
	hba_w(0x04, 1u << 1); /* GHC.IE */
}

struct prd {
	uint64_t gpa;
	uint32_t len;
};

/* Writes header and table for 'slot': H2D FIS, packet, PRDT. */
static void
cmd_put(int p, int slot, const uint8_t *cfis, const uint8_t *acmd,
	const struct prd *prds, int nprd, int prdtl, bool write)
{
	uint8_t hdr[32] = {0}, tab[0x80] = {0}, e[16];
	uint64_t t = ctba(p, slot);
	uint32_t dw0;
	int i;

	dw0 = 5 | (acmd ? 0x20u : 0) | (write ? 0x40u : 0) |
	      (uint32_t)prdtl << 16;
	memcpy(hdr, &dw0, 4);
	memcpy(hdr + 8, &t, 8);
	test_gput(ctx, clb(p) + 32ULL * (uint64_t)slot, hdr, sizeof(hdr));
	memcpy(tab, cfis, 20);
	if (acmd)
		memcpy(tab + 0x40, acmd, 16);
	test_gput(ctx, t, tab, sizeof(tab));
	for (i = 0; i < nprd; i++) {
		uint32_t dbc = prds[i].len - 1;

		memset(e, 0, sizeof(e));
		memcpy(e, &prds[i].gpa, 8);
		memcpy(e + 12, &dbc, 4);
		test_gput(ctx, t + 0x80 + 16ULL * (uint64_t)i, e, 16);
	}
}

static void
fis_h2d(uint8_t *f, uint8_t cmd, uint64_t lba, uint16_t count, uint8_t feat)
{
	memset(f, 0, 20);
	f[0] = 0x27;
	f[1] = 0x80;
	f[2] = cmd;
	f[3] = feat;
	f[4] = (uint8_t)lba;
	f[5] = (uint8_t)(lba >> 8);
	f[6] = (uint8_t)(lba >> 16);
	f[7] = 0x40;
	f[8] = (uint8_t)(lba >> 24);
	f[9] = (uint8_t)(lba >> 32);
	f[10] = (uint8_t)(lba >> 40);
	f[12] = (uint8_t)count;
	f[13] = (uint8_t)(count >> 8);
}

/* Issues slots (NCQ: through SACT too); false if not done in 10 s. */
static bool
issue_wait(int p, uint32_t slots, bool ncq)
{
	struct timespec ts = {0, 100000};
	int i;

	if (ncq)
		port_w(p, 0x34, slots);
	port_w(p, 0x38, slots);
	for (i = 0; i < 100000; i++) {
		if ((port_r(p, 0x38) & slots) == 0 &&
		    (port_r(p, 0x34) & slots) == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* One non-queued command with one PRD; returns PxTFD. */
static uint32_t
run1(int p, const uint8_t *cfis, const uint8_t *acmd, uint64_t gpa,
     uint32_t len, bool write)
{
	struct prd d = {gpa, len};

	cmd_put(p, 0, cfis, acmd, &d, len ? 1 : 0, len ? 1 : 0, write);
	if (!issue_wait(p, 1, false))
		return 0xdead;
	return port_r(p, 0x20);
}

static uint32_t
prdbc(int p, int slot)
{
	uint32_t v;

	test_gget(ctx, clb(p) + 32ULL * (uint64_t)slot + 4, &v, 4);
	return v;
}

static uint16_t
idw(const uint8_t *id, int w)
{
	return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* ATA string at word w, n chars, back to plain order. */
static void
idstr(const uint8_t *id, int w, int n, char *out)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = (char)id[2 * w + (i ^ 1)];
	out[n] = '\0';
}

/* ---- tests ---- */

static void
test_registers(void)
{
	uint32_t cap;

	CHECK(hba_build("", "") == 0 && abar != 0, "HBA with hd and cd ports");
	CHECK_EQ_U64(test_cfg_read(0, SLOT, 0, 0, 4), 0x28218086, "PCI ids");
	CHECK_EQ_U64(test_cfg_read(0, SLOT, 0, 8, 4) >> 8, 0x010601,
		     "class mass storage / SATA / AHCI");
	cap = hba_r(0x00);
	CHECK((cap & 0x1f) == 1 && (cap >> 8 & 0x1f) == 31 &&
		  (cap & (1u << 31)) && (cap & (1u << 30)),
	      "CAP: 2 ports, 32 slots, 64-bit, NCQ");
	CHECK_EQ_U64(hba_r(0x0c), 0x3, "PI");
	CHECK_EQ_U64(hba_r(0x10), 0x10300, "VS 1.3");
	CHECK(hba_r(0x04) & (1u << 31), "GHC.AE");
	CHECK_EQ_U64(port_r(0, 0x24), 0x101, "disk signature");
	CHECK_EQ_U64(port_r(1, 0x24), 0xeb140101u, "ATAPI signature");
	CHECK_EQ_U64(port_r(0, 0x28), 0x133, "SSTS device present");
	CHECK_EQ_U64(port_r(0, 0x20) & 0xff, 0x50, "disk TFD ready");
	port_start(0);
	CHECK((port_r(0, 0x18) & 0xc011) == 0xc011, "ST/FRE give CR/FR");
	port_w(0, 0x18, 1u << 4);
	CHECK((port_r(0, 0x18) & (1u << 15)) == 0, "clearing ST clears CR");
	port_w(0, 0x2c, 1); /* COMRESET */
	CHECK_EQ_U64(port_r(0, 0x28), 0, "COMRESET: no device");
	port_w(0, 0x2c, 0);
	CHECK(port_r(0, 0x28) == 0x133 && port_r(0, 0x24) == 0x101,
	      "COMRESET released: device and signature back");
	hba_w(0x04, 1);
	CHECK(port_r(0, 0x00) == 0 && port_r(0, 0x14) == 0 &&
		  (hba_r(0x04) & 3) == 0,
	      "GHC.HR resets port and HBA registers");
	/* Narrow and out-of-range accesses are harmless. */
	CHECK_EQ_U64(test_mmio_read(abar + 0x10, 2), 0x0300, "16-bit read");
	hba_w(0x1ffc, 0xffffffff);
	CHECK_EQ_U64(hba_r(0x1ffc), 0, "unused port space reads 0");
	pci_emul_fini();
}

/* With MSI enabled, each completion sends one message. */
static void
test_msi(void)
{
	struct pci_devinst *pi = pci_emul_find_dev(0, SLOT, 0);
	int cap = pci_emul_find_capability(pi, 0x05), m;
	uint8_t f[20];

	CHECK(cap != 0, "MSI capability");
	test_cfg_write(0, SLOT, 0, cap + 4, 4, 0xfee00000u);
	test_cfg_write(0, SLOT, 0, cap + 12, 2, 0x41);
	test_cfg_write(0, SLOT, 0, cap + 2, 2, 1);
	m = n_msi;
	fis_h2d(f, 0xec, 0, 0, 0);
	run1(0, f, NULL, BUF_GPA, 512, false);
	CHECK_EQ_U64(n_msi - m, 1, "IDENTIFY: one MSI");
	port_w(0, 0x10, 0xffffffff);
	hba_w(0x08, 0xffffffff);
	port_w(0, 0x14, 0);
	m = n_msi;
	run1(0, f, NULL, BUF_GPA, 512, false);
	CHECK(n_msi == m && (port_r(0, 0x10) & 1) && hba_r(0x08) == 0,
	      "PxIE clear: status set, no MSI");
}

static void
test_identify(void)
{
	uint8_t f[20], id[512], sum = 0;
	char s[41];
	int i, ia;

	CHECK(hba_build("model=TEST MODEL,ser=SER123,rev=R1,"
			"sectorsize=512/4096,nmrr=1",
			NULL) == 0,
	      "HBA with options");
	port_start(0);
	ia = n_intx_assert;
	fis_h2d(f, 0xec, 0, 0, 0);
	memset(vm_map_gpa(ctx, BUF_GPA, 512), 0xee, 512);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0xff, 0x50,
		     "IDENTIFY succeeds");
	test_gget(ctx, BUF_GPA, id, 512);
	idstr(id, 27, 40, s);
	CHECK(strncmp(s, "TEST MODEL ", 11) == 0, "model=");
	idstr(id, 10, 20, s);
	CHECK(strncmp(s, "SER123 ", 7) == 0, "ser=");
	idstr(id, 23, 8, s);
	CHECK(strncmp(s, "R1 ", 3) == 0, "rev=");
	CHECK_EQ_U64(idw(id, 106), 0x6003, "sectorsize 512/4096");
	CHECK_EQ_U64(idw(id, 217), 1, "nmrr=1: non-rotating");
	CHECK((idw(id, 83) & (1u << 10)) && (idw(id, 76) & (1u << 8)) &&
		  idw(id, 75) == 31,
	      "LBA48, NCQ depth 32");
	CHECK_EQ_U64((uint64_t)idw(id, 100) | (uint64_t)idw(id, 101) << 16,
		     IMG_SIZE / 512, "LBA48 capacity");
	for (i = 0; i < 512; i++)
		sum = (uint8_t)(sum + id[i]);
	CHECK(id[510] == 0xa5 && sum == 0, "IDENTIFY checksum");
	CHECK_EQ_U64(prdbc(0, 0), 512, "PRDBC 512");
	CHECK((port_r(0, 0x10) & 1) != 0, "IS.DHRS");
	CHECK(n_intx_assert > ia, "INTx asserted");
	test_gget(ctx, fbase(0) + 0x40, f, 4);
	CHECK(f[0] == 0x34 && f[2] == 0x50, "D2H FIS in the receive area");
	port_w(0, 0x10, 0xffffffff);
	hba_w(0x08, 0xffffffff);
	CHECK(hba_r(0x08) == 0 && n_intx_deassert > 0,
	      "clearing IS deasserts INTx");
	test_msi();
	pci_emul_fini();
}

static void
test_rw(void)
{
	static uint8_t pat[8192], back[8192];
	struct prd d[2] = {{BUF_GPA, 4096}, {BUF_GPA + 0x10000, 4096}};
	uint8_t f[20];
	size_t i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	CHECK(hba_build("", NULL) == 0, "HBA");
	port_start(0);
	test_gput(ctx, BUF_GPA, pat, 4096);
	test_gput(ctx, BUF_GPA + 0x10000, pat + 4096, 4096);
	fis_h2d(f, 0x35, 100, 16, 0);
	cmd_put(0, 3, f, NULL, d, 2, 2, true);
	CHECK(issue_wait(0, 1u << 3, false) && (port_r(0, 0x20) & 0xff) == 0x50,
	      "WRITE DMA EXT, 2 PRDs");
	file_rw(img, false, back, sizeof(back), 100 * 512);
	CHECK(memcmp(back, pat, sizeof(pat)) == 0, "written data in the image");
	memset(vm_map_gpa(ctx, BUF2_GPA, 8192), 0, 8192);
	fis_h2d(f, 0x25, 100, 16, 0);
	CHECK((run1(0, f, NULL, BUF2_GPA, 8192, false) & 0xff) == 0x50 &&
		  memcmp(vm_map_gpa(ctx, BUF2_GPA, 8192), pat, 8192) == 0,
	      "READ DMA EXT reads it back");
	/* 28-bit PIO READ SECTORS: status in the PIO Setup FIS too. */
	memset(vm_map_gpa(ctx, BUF2_GPA, 512), 0, 512);
	fis_h2d(f, 0x20, 101, 1, 0);
	CHECK((run1(0, f, NULL, BUF2_GPA, 512, false) & 0xff) == 0x50 &&
		  memcmp(vm_map_gpa(ctx, BUF2_GPA, 512), pat + 512, 512) == 0,
	      "READ SECTORS (PIO)");
	test_gget(ctx, fbase(0) + 0x20, f, 16);
	CHECK(f[0] == 0x5f && f[15] == 0x50 && (port_r(0, 0x10) & 2),
	      "PIO Setup FIS E_Status, IS.PSS");
	fis_h2d(f, 0x25, IMG_SIZE / 512 - 1, 2, 0);
	CHECK((run1(0, f, NULL, BUF2_GPA, 1024, false) & 0x01) != 0 &&
		  (port_r(0, 0x10) & (1u << 30)) != 0,
	      "read past the end: ERR and IS.TFES");
	/* Write cache off: writes still complete (each followed by a flush). */
	fis_h2d(f, 0xef, 0, 0, 0x82);
	CHECK_EQ_U64(run1(0, f, NULL, 0, 0, false) & 0xff, 0x50,
		     "SET FEATURES: write cache off");
	fis_h2d(f, 0xec, 0, 0, 0);
	run1(0, f, NULL, BUF2_GPA, 512, false);
	CHECK((*(uint16_t *)vm_map_gpa(ctx, BUF2_GPA + 85 * 2, 2) & 0x20) == 0,
	      "IDENTIFY word 85: write cache disabled");
	test_gput(ctx, BUF_GPA, pat, 512);
	fis_h2d(f, 0xca, 300, 1, 0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, true) & 0xff, 0x50,
		     "write-through WRITE DMA");
	file_rw(img, false, back, 512, 300 * 512);
	CHECK(memcmp(back, pat, 512) == 0, "write-through data in the image");
	fis_h2d(f, 0xe7, 0, 0, 0);
	CHECK_EQ_U64(run1(0, f, NULL, 0, 0, false) & 0xff, 0x50, "FLUSH CACHE");
	fis_h2d(f, 0xea, 0, 0, 0);
	CHECK_EQ_U64(run1(0, f, NULL, 0, 0, false) & 0xff, 0x50,
		     "FLUSH CACHE EXT");
	pci_emul_fini();
}

static void
test_ncq(void)
{
	static uint8_t pat[4][4096], back[4096];
	uint8_t f[20], sdb[8];
	struct prd d;
	int t, ok = 1;

	CHECK(hba_build("", NULL) == 0, "HBA");
	port_start(0);
	for (t = 0; t < 4; t++) {
		memset(pat[t], 0x30 + t, sizeof(pat[t]));
		d.gpa = BUF_GPA + 0x10000ULL * (uint64_t)t;
		d.len = 4096;
		test_gput(ctx, d.gpa, pat[t], 4096);
		fis_h2d(f, 0x61, 1000 + 64 * (uint64_t)t, 0, 8);
		f[12] = (uint8_t)(t << 3); /* tag */
		cmd_put(0, t, f, NULL, &d, 1, 1, true);
	}
	CHECK(issue_wait(0, 0xf, true), "4 WRITE FPDMA QUEUED complete");
	for (t = 0; t < 4; t++) {
		file_rw(img, false, back, 4096, (1000 + 64 * t) * 512);
		ok &= memcmp(back, pat[t], 4096) == 0;
	}
	CHECK(ok, "NCQ writes in the image");
	test_gget(ctx, fbase(0) + 0x58, sdb, 8);
	CHECK(sdb[0] == 0xa1 && (port_r(0, 0x10) & (1u << 3)),
	      "Set Device Bits FIS, IS.SDBS");
	for (t = 0; t < 4; t++) {
		d.gpa = BUF2_GPA + 0x10000ULL * (uint64_t)t;
		d.len = 4096;
		memset(vm_map_gpa(ctx, d.gpa, 4096), 0, 4096);
		fis_h2d(f, 0x60, 1000 + 64 * (uint64_t)t, 0, 8);
		f[12] = (uint8_t)(t << 3);
		cmd_put(0, t + 8, f, NULL, &d, 1, 1, false);
	}
	ok = issue_wait(0, 0xf00, true);
	for (t = 0; t < 4; t++)
		ok &=
		    memcmp(vm_map_gpa(ctx, BUF2_GPA + 0x10000ULL * (uint64_t)t,
				      4096),
			   pat[t], 4096) == 0;
	CHECK(ok, "4 READ FPDMA QUEUED read them back");
	/* A queued error: TFES and log 10h names the tag. */
	d.gpa = BUF2_GPA;
	d.len = 512;
	fis_h2d(f, 0x60, IMG_SIZE / 512, 0, 1);
	f[12] = 5 << 3;
	cmd_put(0, 5, f, NULL, &d, 1, 1, false);
	CHECK(issue_wait(0, 1u << 5, true) && (port_r(0, 0x10) & (1u << 30)),
	      "NCQ past the end: TFES");
	fis_h2d(f, 0x2f, 0x10, 1, 0);
	CHECK((run1(0, f, NULL, BUF2_GPA, 512, false) & 1) == 0 &&
		  *(uint8_t *)vm_map_gpa(ctx, BUF2_GPA, 1) == 5,
	      "READ LOG EXT 10h: failed tag");
	pci_emul_fini();
}

static void
test_trim(void)
{
	static uint8_t ones[4096], back[4096];
	uint8_t f[20], range[512] = {0};
	uint64_t e = 2000 | (uint64_t)8 << 48;
	uint8_t id[512];

	memset(ones, 0xab, sizeof(ones));
	file_rw(img, true, ones, sizeof(ones), 2000 * 512);
	CHECK(hba_build("", NULL) == 0, "HBA");
	port_start(0);
	fis_h2d(f, 0xec, 0, 0, 0);
	run1(0, f, NULL, BUF_GPA, 512, false);
	test_gget(ctx, BUF_GPA, id, 512);
	CHECK(idw(id, 169) & 1, "IDENTIFY: TRIM supported");
	memcpy(range, &e, 8);
	test_gput(ctx, BUF_GPA, range, 512);
	fis_h2d(f, 0x06, 0, 1, 1);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, true) & 0xff, 0x50,
		     "DATA SET MANAGEMENT (TRIM)");
	file_rw(img, false, back, 4096, 2000 * 512);
	memset(ones, 0, sizeof(ones));
	CHECK(memcmp(back, ones, 4096) == 0, "trimmed range reads zeros");
	pci_emul_fini();
}

static void
test_ro(void)
{
	uint8_t f[20];

	CHECK(hba_build("ro", NULL) == 0, "HBA with ro disk");
	port_start(0);
	fis_h2d(f, 0xca, 0, 1, 0);
	CHECK((run1(0, f, NULL, BUF_GPA, 512, true) & 0x401) == 0x401,
	      "ro: WRITE DMA aborted");
	fis_h2d(f, 0xc8, 0, 1, 0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0xff, 0x50,
		     "ro: READ DMA works");
	pci_emul_fini();
}

/* Malformed commands fail alone; IDENTIFY afterwards still works. */
static void
test_malformed(void)
{
	struct prd far = {MEM_SIZE - 256, 4096};
	struct prd huge = {1ULL << 40, 512};
	uint8_t f[20], bad[20];
	uint32_t hdr[2];

	CHECK(hba_build("", NULL) == 0, "HBA");
	port_start(0);
	fis_h2d(f, 0x25, 0, 8, 0);
	cmd_put(0, 0, f, NULL, &far, 1, 1, false);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "PRD crossing the end of RAM: ERR");
	cmd_put(0, 0, f, NULL, &huge, 1, 1, false);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "PRD outside RAM: ERR");
	cmd_put(0, 0, f, NULL, &far, 0, 600, false);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "PRDTL 600: ERR");
	far.gpa = BUF_GPA;
	far.len = 512;
	cmd_put(0, 0, f, NULL, &far, 1, 1, false);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "PRDT shorter than the transfer: ERR");
	/* Command table outside RAM. */
	cmd_put(0, 0, f, NULL, NULL, 0, 0, false);
	hdr[0] = 0x7fffff80u;
	hdr[1] = 0x10;
	test_gput(ctx, clb(0) + 8, hdr, 8);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "command table outside RAM: ERR");
	memcpy(bad, f, 20);
	bad[0] = 0x34;
	cmd_put(0, 0, bad, NULL, NULL, 0, 0, false);
	CHECK(issue_wait(0, 1, false) && (port_r(0, 0x20) & 1),
	      "not an H2D FIS: ERR");
	fis_h2d(f, 0x99, 0, 0, 0);
	CHECK((run1(0, f, NULL, 0, 0, false) & 0x401) == 0x401,
	      "unknown command: ABRT");
	/* Command list outside RAM. */
	port_w(0, 0x18, 1u << 4);
	port_w(0, 0x04, 0x100);
	port_w(0, 0x18, 1u << 4 | 1);
	port_w(0, 0x38, 1);
	CHECK((port_r(0, 0x20) & 1) && port_r(0, 0x38) == 0,
	      "command list outside RAM: ERR");
	port_w(0, 0x18, 1u << 4);
	port_w(0, 0x04, 0);
	port_w(0, 0x18, 1u << 4 | 1);
	fis_h2d(f, 0xec, 0, 0, 0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0xff, 0x50,
		     "IDENTIFY still works after the bad commands");
	pci_emul_fini();
}

/*
 * Stopping the port (and resetting the HBA) with requests in flight: CR
 * stays set until the backend returns them, nothing is completed into
 * the guest afterwards, and the port works again once restarted.
 */
static void
test_stop_inflight(void)
{
	struct prd d[8];
	uint8_t f[20];
	uint32_t cr = 0;
	int i, t;

	CHECK(hba_build("", NULL) == 0, "HBA");
	port_start(0);
	for (t = 0; t < 8; t++) {
		d[t].gpa = BUF_GPA + 0x100000ULL * (uint64_t)t;
		d[t].len = 0x100000;
		fis_h2d(f, 0x25, 2048 * (uint64_t)(t % 4), 2048, 0);
		cmd_put(0, t, f, NULL, &d[t], 1, 1, false);
	}
	port_w(0, 0x38, 0xff);
	port_w(0, 0x18, 1u << 4); /* clear ST at once */
	CHECK_EQ_U64(port_r(0, 0x38), 0, "stopping clears CI");
	for (i = 0; i < 100000; i++) {
		cr = port_r(0, 0x18) & (1u << 15);
		if (cr == 0)
			break;
		usleep(100);
	}
	CHECK(cr == 0, "CR clears once the backend returned every request");
	port_w(0, 0x18, 1u << 4 | 1);
	fis_h2d(f, 0xec, 0, 0, 0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0xff, 0x50,
		     "IDENTIFY after the stop");
	/* HBA reset with requests in flight. */
	for (t = 0; t < 4; t++) {
		fis_h2d(f, 0x25, 2048 * (uint64_t)t, 2048, 0);
		cmd_put(0, t, f, NULL, &d[t], 1, 1, false);
	}
	port_w(0, 0x38, 0xf);
	hba_w(0x04, 1);
	CHECK(port_r(0, 0x38) == 0 && port_r(0, 0x24) == 0x101,
	      "GHC.HR with requests in flight");
	for (i = 0; i < 100000 && (port_r(0, 0x18) & (1u << 15)); i++)
		usleep(100);
	port_start(0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0x01, 0x01,
		     "short PRDT after the reset still fails cleanly");
	fis_h2d(f, 0xec, 0, 0, 0);
	CHECK_EQ_U64(run1(0, f, NULL, BUF_GPA, 512, false) & 0xff, 0x50,
		     "IDENTIFY after the HBA reset");
	/* Software reset through device control FISes (C = 0). */
	memset(f, 0, sizeof(f));
	f[0] = 0x27;
	f[15] = 0x04; /* SRST */
	run1(0, f, NULL, 0, 0, false);
	f[15] = 0;
	CHECK_EQ_U64(run1(0, f, NULL, 0, 0, false) & 0xff, 0x50,
		     "software reset: device ready");
	test_gget(ctx, fbase(0) + 0x40, f, 16);
	CHECK(f[0] == 0x34 && f[12] == 1 && f[4] == 1,
	      "software reset: signature in the D2H FIS");
	pci_emul_fini();
}

static uint32_t
packet(const uint8_t *cdb, uint64_t gpa, uint32_t len)
{
	uint8_t f[20];

	fis_h2d(f, 0xa0, 0, 0, 1); /* DMA */
	f[7] = 0;
	return run1(1, f, cdb, gpa, len, false);
}

static void
test_atapi(void)
{
	static uint8_t sect[2048 * 3], back[2048];
	uint8_t cdb[16], b[64];
	uint32_t tfd;
	size_t i;

	for (i = 0; i < sizeof(sect); i++)
		sect[i] = (uint8_t)(i * 13 + 1);
	file_rw(iso, true, sect, sizeof(sect), 0);
	CHECK(hba_build("", "") == 0, "HBA with a CD");
	port_start(1);
	memset(cdb, 0, 16);
	cdb[0] = 0x12;
	cdb[4] = 36;
	CHECK_EQ_U64(packet(cdb, BUF_GPA, 36) & 0xff, 0x50, "INQUIRY");
	test_gget(ctx, BUF_GPA, b, 36);
	CHECK(b[0] == 5 && (b[1] & 0x80), "INQUIRY: removable CD/DVD");
	memset(cdb, 0, 16);
	cdb[0] = 0x25;
	packet(cdb, BUF_GPA, 8);
	test_gget(ctx, BUF_GPA, b, 8);
	CHECK(b[3] == ((ISO_SIZE / 2048 - 1) & 0xff) &&
		  b[2] == ((ISO_SIZE / 2048 - 1) >> 8) && b[6] == 8 &&
		  b[7] == 0,
	      "READ CAPACITY: last LBA, 2048");
	memset(cdb, 0, 16);
	cdb[0] = 0x28;
	cdb[5] = 1;
	cdb[8] = 1;
	CHECK((packet(cdb, BUF_GPA, 2048) & 0xff) == 0x50, "READ(10)");
	test_gget(ctx, BUF_GPA, back, 2048);
	CHECK(memcmp(back, sect + 2048, 2048) == 0, "READ(10) data");
	memset(cdb, 0, 16);
	cdb[0] = 0x43;
	cdb[8] = 20;
	packet(cdb, BUF_GPA, 20);
	test_gget(ctx, BUF_GPA, b, 20);
	CHECK(b[1] == 18 && b[2] == 1 && b[3] == 1 && b[6] == 1 &&
		  b[14] == 0xaa,
	      "READ TOC: track 1 and lead-out");
	memset(cdb, 0, 16);
	cdb[0] = 0x28;
	cdb[2] = 0x10;
	cdb[8] = 1;
	tfd = packet(cdb, BUF_GPA, 2048);
	CHECK((tfd & 1) && (tfd >> 12 & 0xf) == 5,
	      "READ(10) past the end: CHECK CONDITION, ILLEGAL REQUEST");
	memset(cdb, 0, 16);
	cdb[0] = 0x03;
	cdb[4] = 18;
	CHECK_EQ_U64(packet(cdb, BUF_GPA, 18) & 0xff, 0x50, "REQUEST SENSE");
	test_gget(ctx, BUF_GPA, b, 18);
	CHECK(b[0] == 0x70 && b[2] == 5 && b[12] == 0x21,
	      "sense: ILLEGAL REQUEST, LBA out of range");
	memset(cdb, 0, 16);
	cdb[0] = 0x46;
	cdb[8] = 64;
	CHECK((packet(cdb, BUF_GPA, 64) & 1) == 0, "GET CONFIGURATION");
	test_gget(ctx, BUF_GPA, b, 64);
	CHECK(b[3] == 32 && b[7] == 0x08 && b[8] == 0 && b[9] == 0,
	      "GET CONFIGURATION: all features, CD-ROM profile");
	cdb[1] = 2; /* RT 2: feature 0001h only */
	cdb[3] = 1;
	packet(cdb, BUF_GPA, 64);
	test_gget(ctx, BUF_GPA, b, 16);
	CHECK(b[3] == 12 && b[9] == 1, "GET CONFIGURATION RT=2: one feature");
	memset(cdb, 0, 16);
	cdb[0] = 0x4a;
	cdb[1] = 1;
	cdb[4] = 0x10;
	cdb[8] = 8;
	CHECK((packet(cdb, BUF_GPA, 8) & 1) == 0, "GET EVENT STATUS");
	memset(cdb, 0, 16);
	cdb[0] = 0x5a;
	cdb[2] = 0x2a;
	cdb[8] = 64;
	CHECK((packet(cdb, BUF_GPA, 64) & 1) == 0, "MODE SENSE(10) 2Ah");
	memset(cdb, 0, 16);
	cdb[0] = 0xff;
	CHECK((packet(cdb, BUF_GPA, 0) & 1) != 0, "unknown packet: error");
	pci_emul_fini();
}

static void
test_bad_options(void)
{
	CHECK(hba_build("model=0123456789012345678901234567890123456789X",
			NULL) != 0,
	      "model= over 40 characters refused");
	CHECK(hba_build("ser=012345678901234567890", NULL) != 0,
	      "ser= over 20 characters refused");
	CHECK(hba_build("nmrr=5", NULL) != 0, "nmrr=5 refused");
	CHECK(hba_build("type=zip", NULL) != 0, "type=zip refused");
	pci_emul_fini();
}

/* pe_check: before the VM exists, bad paths and options are reported. */
static void
test_check(void)
{
	const struct pci_devemu *pe = pci_model_find("ahci");
	struct config_node *n;
	char err[256] = "";

	test_pci_world_reset();
	n = create_config_node("pci.0.4.0.port.0");
	set_config_value_node(n, "type", "hd");
	set_config_value_node(n, "path", img);
	CHECK(pe != NULL && pe->pe_check != NULL &&
		  pe->pe_check(find_config_node("pci.0.4.0"), err,
			       sizeof(err)) == 0,
	      "pe_check accepts a good port");
	set_config_value_node(n, "rev", "123456789");
	CHECK(pe->pe_check(find_config_node("pci.0.4.0"), err, sizeof(err)) !=
		      0 &&
		  strstr(err, "port 0: rev=") != NULL,
	      "pe_check: rev= over 8 characters");
	unset_config_value("pci.0.4.0.port.0.rev");
	set_config_value_node(n, "path", "/nonexistent/ahci.img");
	CHECK(pe->pe_check(find_config_node("pci.0.4.0"), err, sizeof(err)) !=
		  0,
	      "pe_check: missing image");
	CHECK(pci_model_find("ahci-cd") != NULL &&
		  strcmp(pci_model_find("ahci-cd")->pe_alias, "ahci") == 0,
	      "ahci-cd aliases ahci");
}

int
main(void)
{
	ctx = vm_create_detached("ahci");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	img_make(img, "/tmp/test_ahci_hd.XXXXXX", IMG_SIZE);
	img_make(iso, "/tmp/test_ahci_cd.XXXXXX", ISO_SIZE);
	test_registers();
	test_identify();
	test_rw();
	test_ncq();
	test_trim();
	test_ro();
	test_malformed();
	test_stop_inflight();
	test_atapi();
	test_bad_options();
	test_check();
	unlink(img);
	unlink(iso);
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
