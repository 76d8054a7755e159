/*
 * libFuzzer target for the firmware configuration ports: the input is a
 * program of guest port accesses to fw_cfg (QEMU flavour, with DMA into a
 * detached VM's 2 MiB of RAM) and to bhyve's fwctl.  Checked invariants:
 * a DMA request never writes guest memory outside the buffer its
 * descriptor names (plus the descriptor's control word), a refused
 * request writes nothing but that word, and the file directory stays
 * well formed.
 *
 * Build and run (from the repository root):
 *   make fuzz                       # builds build-fuzz/fuzz_fwcfg
 *   build-fuzz/fuzz_fwcfg -max_total_time=10
 * or on its own:
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g \
 *       -O1 -pthread -Ilib/vmmapi -Ibhyve/core -Ibhyve/platform \
 *       -Ibhyve/boot -Ibhyve/pci fuzz/fuzz_fwcfg.c \
 *       bhyve/platform/fw_cfg.c bhyve/platform/acpi.c \
 *       bhyve/platform/aml.c bhyve/platform/smbios.c \
 *       $(find bhyve lib/vmmapi -name '*.c' ! -name bhyverun.c \
 *           ! -name fw_cfg.c ! -name acpi.c ! -name aml.c ! -name smbios.c) \
 *       -ljansson -o build/fuzz_fwcfg
 *
 * Program bytes: op = byte % 6, operands follow (missing ones read 0).
 *   0 select     key16                 1 data read    size
 *   2 DMA        ctl32 len16 addr24 desc-slot   (runs a descriptor)
 *   3 raw port   port-off8 size val32 (write)    4 raw port read off8 size
 *   5 fwctl      size val32 (write if size has bit 7, else read)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cfg.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM	 (2u << 20)
#define DESC_GPA 0x1000u /* descriptor slots: 0x1000 + 16 * n */

struct prog {
	const uint8_t *p;
	size_t n, i;
};

static uint32_t
take(struct prog *pr, int bytes)
{
	uint32_t v = 0;

	for (int b = 0; b < bytes; b++)
		v |= (uint32_t)(pr->i < pr->n ? pr->p[pr->i++] : 0) << (8 * b);
	return v;
}

static struct vmctx *ctx;
static uint8_t *shadow;

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static int
size_of(uint32_t b)
{
	static const int sizes[4] = {1, 2, 4, 3};

	return sizes[b & 3];
}

/* Runs one descriptor and checks what changed in guest memory. */
static void
run_dma(struct fwcfg_softc *sc, struct prog *pr)
{
	uint32_t ctl = take(pr, 4), len = take(pr, 2);
	uint32_t addr = take(pr, 3) % (RAM + 0x1000); /* some outside RAM */
	uint32_t desc = DESC_GPA + 16 * (take(pr, 1) % 8);
	uint8_t *ram = vm_map_gpa(ctx, 0, RAM);
	uint8_t *d = ram + desc;

	put_be(d, ctl, 4);
	put_be(d + 4, len, 4);
	put_be(d + 8, addr, 8);
	memcpy(shadow, ram, RAM);
	fwcfg_io_write(sc, FWCFG_PORT_DMA_HI, 4, 0);
	fwcfg_io_write(sc, FWCFG_PORT_DMA_LO, 4, __builtin_bswap32(desc));
	/* Accept the bytes the request may change, then compare all. */
	if ((ctl & FWCFG_DMA_READ) && d[3] == 0 && addr < RAM) {
		uint32_t n = len < RAM - addr ? len : RAM - addr;

		memcpy(shadow + addr, ram + addr, n);
	}
	memcpy(shadow + desc, d, 4);
	if (memcmp(ram, shadow, RAM) != 0)
		abort(); /* a write outside the request */
	if ((d[3] & ~FWCFG_DMA_ERROR) != 0 || d[0] || d[1] || d[2])
		abort(); /* control must read back 0 or ERROR */
}

static void
check_dir(struct fwcfg_softc *sc)
{
	uint32_t n = 0;

	fwcfg_io_write(sc, FWCFG_PORT_SEL, 2, FWCFG_FILE_DIR);
	for (int i = 0; i < 4; i++)
		n = n << 8 | (fwcfg_io_read(sc, FWCFG_PORT_DATA, 1) & 0xff);
	if (n != 3)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size, 0};
	struct fwcfg_softc *sc;
	struct fwctl_softc *fc;
	int steps = 0;

	if (ctx == NULL) {
		ctx = vm_create_detached("fuzz-fwcfg");
		if (ctx == NULL || vm_setup_memory(ctx, RAM) != 0)
			abort();
		shadow = malloc(RAM);
		if (shadow == NULL)
			abort();
	}
	memset(vm_map_gpa(ctx, 0, RAM), 0, RAM);
	sc = fwcfg_create(ctx);
	fc = fwctl_create(2);
	if (sc == NULL || fc == NULL)
		abort();
	fwcfg_add_file(sc, "etc/ro", "read-only data", 14, false);
	fwcfg_add_file(sc, "opt/rw", "writable", 8, true);
	fwcfg_add_file(sc, "opt/empty", "", 0, false);
	while (pr.i < pr.n && steps++ < 256) {
		uint32_t op = take(&pr, 1) % 6, off, sz;

		switch (op) {
		case 0:
			fwcfg_io_write(sc, FWCFG_PORT_SEL, 2, take(&pr, 2));
			break;
		case 1:
			fwcfg_io_read(sc, FWCFG_PORT_DATA,
				      size_of(take(&pr, 1)));
			break;
		case 2:
			run_dma(sc, &pr);
			break;
		case 3:
			off = take(&pr, 1) % FWCFG_PORT_COUNT;
			sz = take(&pr, 1);
			/* Only the low half of the DMA address starts a
			 * transfer, which case 2 checks; keep raw writes
			 * elsewhere so the memory check stays exact. */
			if (FWCFG_PORT_SEL + (int)off != FWCFG_PORT_DMA_LO)
				fwcfg_io_write(sc, FWCFG_PORT_SEL + (int)off,
					       size_of(sz), take(&pr, 4));
			break;
		case 4:
			off = take(&pr, 1) % FWCFG_PORT_COUNT;
			fwcfg_io_read(sc, FWCFG_PORT_SEL + (int)off,
				      size_of(take(&pr, 1)));
			break;
		case 5:
			sz = take(&pr, 1);
			if (sz & 0x80)
				fwctl_io_write(fc, FWCFG_PORT_SEL, size_of(sz),
					       take(&pr, 4));
			else
				fwctl_io_read(fc, FWCFG_PORT_DATA, size_of(sz));
			break;
		}
	}
	check_dir(sc);
	fwcfg_destroy(sc);
	fwctl_destroy(fc);
	return 0;
}
