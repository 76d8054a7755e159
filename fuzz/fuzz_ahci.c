/*
 * libFuzzer target for the AHCI HBA: register writes and command slots
 * whose command headers, FISes, ATAPI packets and PRDTs come from the
 * input, against a disk port (1 MiB image) and a CD-ROM port, on a
 * detached VM (no /dev/kvm).  Build and run from the repository root:
 *
 *   make build-fuzz/fuzz_ahci
 *   build-fuzz/fuzz_ahci -max_total_time=600
 *
 * Each input is a program of operations (fuzz_input.h; short inputs read
 * as zeros), run after an HBA reset that starts both ports:
 *   0  MMIO write: offset (2 bytes), value (4)
 *   1  MMIO read: offset (2)
 *   2  command: port/slot byte, header DW0 (4), table selector (1),
 *      20 FIS bytes, 16 packet bytes, PRD count (1, at most 8), then per
 *      PRD an address selector (1) and a byte count (3); issued through
 *      PxCI, and PxSACT too when the port/slot byte's bit 7 is set; bit 6
 *      makes it well-formed (Register H2D with C set, PRDTL = the PRDs)
 *   3  guest bytes: area selector (1), 32 bytes copied there
 * Address selectors reach the buffer area, the command structures, the
 * end of guest RAM, beyond it, and a wrapping address.  At the end both
 * ports are stopped and the program waits until PxCMD.CR clears, i.e.
 * every backend request called back.
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

#define FZ_RAM	   (16ULL << 20)
#define FZ_SLOT	   4
#define FZ_CLB(p)  (0x10000ULL + 0x10000ULL * (p))
#define FZ_FB(p)   (FZ_CLB(p) + 0x1000)
#define FZ_CT	   0x40000ULL /* command tables, 0x1000 apart */
#define FZ_BUF	   0x100000ULL
#define FZ_BUFSIZE 0x40000ULL

static struct vmctx *fz_ctx;
static uint64_t fz_abar;

static void
fz_image(char *path, const char *port)
{
	char key[64];
	fz_dev_image(path, 1 << 20);
	snprintf(key, sizeof(key), "pci.0.4.0.port.%s.path", port);
	set_config_value(key, path);
	snprintf(key, sizeof(key), "pci.0.4.0.port.%s.engine", port);
	set_config_value(key, "threads");
}

static void
fz_init(void)
{
	static char hd[] = "/tmp/fuzz_ahci_hd.XXXXXX";
	static char cd[] = "/tmp/fuzz_ahci_cd.XXXXXX";
	struct pci_devinst *pi;

	fz_ctx = fz_dev_vm("fuzz-ahci", FZ_RAM);
	set_config_value("pci.0.4.0.device", "ahci");
	set_config_value("pci.0.4.0.port.0.type", "hd");
	set_config_value("pci.0.4.0.port.1.type", "cd");
	fz_image(hd, "0");
	fz_image(cd, "1");
	if (init_pci(fz_ctx) != 0)
		abort();
	/* The open descriptors keep the images; nothing is left behind. */
	unlink(hd);
	unlink(cd);
	pi = pci_emul_find_dev(0, FZ_SLOT, 0);
	if (pi == NULL)
		abort();
	fz_abar = pi->pi_bar[5].addr;
}

static uint32_t
fz_rd(uint64_t off)
{
	uint64_t v = 0;

	mem_emulate(NULL, false, fz_abar + off, 4, &v);
	return (uint32_t)v;
}

static void
fz_wr(uint64_t off, uint32_t val)
{
	uint64_t v = val;

	mem_emulate(NULL, true, fz_abar + off, 4, &v);
}

static void
fz_port_wr(int p, int off, uint32_t v)
{
	fz_wr(0x100 + 0x80 * (uint64_t)p + (uint64_t)off, v);
}

static uint64_t
fz_addr(uint8_t sel)
{
	switch (sel) {
	case 0xf0:
		return FZ_RAM - 0x100; /* straddles the end of RAM */
	case 0xf1:
		return FZ_RAM;
	case 0xf2:
		return UINT64_MAX - 0xff; /* addr + len wraps */
	case 0xf3:
		return FZ_CLB(0); /* the command list itself */
	case 0xf4:
		return FZ_CT;
	default:
		return FZ_BUF + (uint64_t)sel * 0x400;
	}
}

static void
fz_put(uint64_t gpa, const void *p, size_t n)
{
	void *h = vm_map_gpa(fz_ctx, gpa, n);

	if (h != NULL)
		memcpy(h, p, n);
}

/* Op 2: a command header, its table and PRDT, then PxCI (and SACT). */
static void
fz_command(struct fz_input *in)
{
	uint8_t ps = (uint8_t)fz_take(in, 1), tab[0x80] = {0}, e[16];
	int port = ps >> 5 & 1, slot = ps & 31, i, n;
	uint32_t dw0 = (uint32_t)fz_take(in, 4);
	uint8_t tsel = (uint8_t)fz_take(in, 1);
	uint64_t ct =
	    tsel < 0xf0 ? FZ_CT + 0x1000ULL * (tsel & 31) : fz_addr(tsel);
	uint8_t hdr[32] = {0};

	for (i = 0; i < 20; i++)
		tab[i] = (uint8_t)fz_take(in, 1);
	for (i = 0; i < 16; i++)
		tab[0x40 + i] = (uint8_t)fz_take(in, 1);
	n = (int)(fz_take(in, 1) % 9);
	for (i = 0; i < n; i++) {
		uint64_t a = fz_addr((uint8_t)fz_take(in, 1));
		uint32_t dbc = (uint32_t)fz_take(in, 3);

		memset(e, 0, sizeof(e));
		memcpy(e, &a, 8);
		memcpy(e + 12, &dbc, 4);
		fz_put(ct + 0x80 + 16ULL * (uint64_t)i, e, 16);
	}
	if (ps & 0x40) {
		/* Well-formed: an H2D command FIS and PRDTL = the PRDs. */
		tab[0] = 0x27;
		tab[1] |= 0x80;
		dw0 = (dw0 & 0xffe0) | 5 | (uint32_t)n << 16;
	}
	memcpy(hdr, &dw0, 4);
	memcpy(hdr + 8, &ct, 8);
	fz_put(FZ_CLB((uint64_t)port) + 32ULL * (uint64_t)slot, hdr, 32);
	fz_put(ct, tab, sizeof(tab));
	if (ps & 0x80)
		fz_port_wr(port, 0x34, 1u << slot);
	fz_port_wr(port, 0x38, 1u << slot);
}

static void
fz_guest_bytes(struct fz_input *in)
{
	uint8_t buf[32];
	uint64_t gpa = fz_addr((uint8_t)fz_take(in, 1));
	int i;

	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)fz_take(in, 1);
	fz_put(gpa, buf, sizeof(buf));
}

/* HBA reset, then both ports started as a driver would. */
static void
fz_start(void)
{
	int p;

	fz_wr(0x04, 1);
	memset(vm_map_gpa(fz_ctx, 0, FZ_BUF + FZ_BUFSIZE), 0,
	       FZ_BUF + FZ_BUFSIZE);
	for (p = 0; p < 2; p++) {
		fz_port_wr(p, 0x00, (uint32_t)FZ_CLB((uint64_t)p));
		fz_port_wr(p, 0x08, (uint32_t)FZ_FB((uint64_t)p));
		fz_port_wr(p, 0x18, 0x11);
		fz_port_wr(p, 0x14, 0xffffffff);
	}
	fz_wr(0x04, 2);
}

/* Stops both ports; CR clears once the backend gave every request back. */
static void
fz_drain(void)
{
	int p, i;

	for (p = 0; p < 2; p++) {
		fz_port_wr(p, 0x18, 0);
		for (i = 0; i < 200000; i++) {
			if ((fz_rd(0x100 + 0x80 * (uint64_t)p + 0x18) &
			     (1u << 15)) == 0)
				break;
			usleep(10);
		}
		if (i == 200000) {
			fprintf(stderr,
				"fuzz_ahci: requests never completed\n");
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = {data, size};
	int ops = 0;

	if (fz_ctx == NULL)
		fz_init();
	fz_start();
	while (in.n > 0 && ops++ < 64) {
		switch (fz_take(&in, 1) % 4) {
		case 0: {
			uint64_t off = fz_take(&in, 2) & 0x1ffc;

			fz_wr(off, (uint32_t)fz_take(&in, 4));
			break;
		}
		case 1:
			(void)fz_rd(fz_take(&in, 2) & 0x1fff);
			break;
		case 2:
			fz_command(&in);
			break;
		default:
			fz_guest_bytes(&in);
			break;
		}
	}
	fz_drain();
	return 0;
}
