/*
 * libFuzzer target for the nvme model's submission path: admin and I/O
 * submission queue entries, PRP lists and data pages from the input,
 * against an nvme device with a temporary 1 MiB image (threads engine)
 * on a detached VM.  Build and run from the repository root:
 *
 *   make build-fuzz/fuzz_nvme
 *   build-fuzz/fuzz_nvme -max_total_time=600
 *
 * Input (fuzz_input.h: short inputs read as zeros):
 *   [0]     flags: bit 0 admin queue base outside RAM, bit 1 create the
 *           I/O queues from input bytes instead of well-formed commands,
 *           bit 2 random register/doorbell writes after the commands
 *   [1]     admin command count (0..7), [2] I/O command count (0..15)
 *   then    64 bytes per command; in each, the low byte of PRP1/PRP2
 *           selects an address (see fz_addr) so that PRPs land in the
 *           buffer or list area, straddle the end of RAM or are unaligned
 *   rest    copied into the PRP list area and the data pages
 * Each input starts from a disabled controller: CC.EN 0 waits for every
 * command in the backend, so inputs do not leak into each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_input.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "vmmapi.h"
#include "fuzz_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM	 (16ULL << 20)
#define FZ_ASQ	 0x10000ULL
#define FZ_ACQ	 0x11000ULL
#define FZ_IOCQ	 0x12000ULL
#define FZ_IOSQ	 0x13000ULL
#define FZ_LIST	 0x20000ULL /* 4 pages of PRP lists */
#define FZ_BUF	 0x100000ULL
#define FZ_BUFSZ 0x40000ULL
#define FZ_QN	 16
#define FZ_SLOT	 4

static struct vmctx *fz_ctx;
static uint64_t fz_bar;

static void
fz_init(void)
{
	static char img[] = "/tmp/fuzz_nvme.XXXXXX";
	struct pci_devinst *pi;

	fz_dev_image(img, 1 << 20);
	fz_ctx = fz_dev_vm("fuzz-nvme", FZ_RAM);
	set_config_value("pci.0.4.0.device", "nvme");
	set_config_value("pci.0.4.0.path", img);
	set_config_value("pci.0.4.0.engine", "threads");
	set_config_value("pci.0.4.0.workers", "2");
	set_config_value("pci.0.4.0.maxq", "4");
	set_config_value("pci.0.4.0.qsz", "64");
	set_config_value("pci.0.4.0.ioslots", "4");
	set_config_value("pci.0.4.0.dsm", "enable");
	if (init_pci(fz_ctx) != 0)
		abort();
	unlink(img);
	pi = pci_emul_find_dev(0, FZ_SLOT, 0);
	if (pi == NULL)
		abort();
	fz_bar = pi->pi_bar[0].addr;
}

static void
fz_reg(uint64_t off, uint32_t v)
{
	uint64_t w = v;

	mem_emulate(NULL, true, fz_bar + off, 4, &w);
}

/* PRP selectors: most land in guest RAM, a few probe the edges. */
static uint64_t
fz_addr(uint64_t raw)
{
	uint8_t sel = raw & 0xff;
	uint64_t page = (raw >> 8) & 0x3f;

	switch (sel) {
	case 0xf0:
		return FZ_RAM - 4096;
	case 0xf1:
		return FZ_RAM;
	case 0xf2:
		return UINT64_MAX & ~0xfffULL;
	case 0xf3:
		return FZ_ASQ; /* the queue itself */
	case 0xf4:
		return FZ_LIST + (raw >> 8 & 0x3ff8) % 0x4000;
	default:
		/* Offsets in 4-byte steps, some of them page aligned. */
		return FZ_BUF + page * 4096 + (sel < 0x80 ? 0 : (sel & 0x7c));
	}
}

static void
fz_cmd(struct fz_input *in, uint8_t *sqe)
{
	uint64_t p1, p2;

	for (int i = 0; i < 64; i++)
		sqe[i] = (uint8_t)fz_take(in, 1);
	memcpy(&p1, sqe + 24, 8);
	memcpy(&p2, sqe + 32, 8);
	p1 = fz_addr(p1);
	p2 = fz_addr(p2);
	memcpy(sqe + 24, &p1, 8);
	memcpy(sqe + 32, &p2, 8);
	/* Mostly no fused/SGL bits, so the opcodes are reached. */
	if ((sqe[1] & 0x10) == 0)
		sqe[1] = 0;
}

static void
fz_put_cmd(uint64_t sq, int idx, const uint8_t *sqe)
{
	memcpy(vm_map_gpa(fz_ctx, sq + 64ULL * (uint64_t)idx, 64), sqe, 64);
}

/* Well-formed Create I/O CQ 1 and SQ 1 (entries 0 and 1). */
static void
fz_create_queues(void)
{
	uint32_t c[16];

	memset(c, 0, sizeof(c));
	c[0] = 0x05 | 1u << 16;
	c[6] = (uint32_t)FZ_IOCQ;
	c[10] = (FZ_QN - 1) << 16 | 1;
	c[11] = 1u << 16 | 3;
	fz_put_cmd(FZ_ASQ, 0, (uint8_t *)c);
	c[0] = 0x01 | 2u << 16;
	c[6] = (uint32_t)FZ_IOSQ;
	c[11] = 1u << 16 | 1;
	fz_put_cmd(FZ_ASQ, 1, (uint8_t *)c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = {data, size};
	uint8_t sqe[64], flags;
	int nadm, nio, a = 0, rest;
	size_t left;

	if (fz_ctx == NULL)
		fz_init();
	flags = (uint8_t)fz_take(&in, 1);
	nadm = (int)(fz_take(&in, 1) % 8);
	nio = (int)(fz_take(&in, 1) % 16);
	fz_reg(0x14, 0); /* reset: drains the backend */
	memset(vm_map_gpa(fz_ctx, FZ_ASQ, 0x10000), 0, 0x10000);
	if (!(flags & 2)) {
		fz_create_queues();
		a = 2;
	}
	for (int i = 0; i < nadm; i++, a++) {
		fz_cmd(&in, sqe);
		fz_put_cmd(FZ_ASQ, a, sqe);
	}
	for (int i = 0; i < nio; i++) {
		fz_cmd(&in, sqe);
		/* NSID 1 and a small LBA count, mostly. */
		if (!(sqe[4] & 0x80)) {
			memset(sqe + 4, 0, 4);
			sqe[4] = 1;
			sqe[50] = 0;
			sqe[51] = 0;
			sqe[48] &= 0x7f;
			memset(sqe + 41, 0, 7); /* SLBA < 256 */
		}
		fz_put_cmd(FZ_IOSQ, i, sqe);
	}
	left = in.n < FZ_BUFSZ ? in.n : FZ_BUFSZ;
	rest = (int)(left < 0x4000 ? left : 0x4000);
	memset(vm_map_gpa(fz_ctx, FZ_LIST, 0x4000), 0, 0x4000);
	memcpy(vm_map_gpa(fz_ctx, FZ_LIST, 0x4000), in.p, (size_t)rest);
	if (left > 0)
		memcpy(vm_map_gpa(fz_ctx, FZ_BUF, FZ_BUFSZ), in.p, left);
	fz_reg(0x24, (FZ_QN - 1) << 16 | (FZ_QN - 1));
	fz_reg(0x28, (flags & 1) ? (uint32_t)(FZ_RAM - 0x1000) : FZ_ASQ);
	fz_reg(0x30, FZ_ACQ);
	fz_reg(0x14, 1 | 6u << 16 | 4u << 20);
	fz_reg(0x1000, (uint32_t)a);
	fz_reg(0x1008, (uint32_t)nio);
	if (flags & 4) {
		for (int i = 0; i < 4; i++) {
			uint64_t off = fz_take(&in, 2) & 0x10fc;

			fz_reg(off, (uint32_t)fz_take(&in, 4));
		}
	}
	fz_reg(0x14, 0);
	return 0;
}
