/*
 * libFuzzer target for the fbuf display's registers: the input is a
 * program of guest accesses to BAR2 (EDID area, VGA window, DISPI
 * registers, QEMU extension) and to the I/O ports 0x1ce-0x1d0 and
 * 0x3c0-0x3df, against one device on a detached VM whose VNC server
 * (listening on a Unix socket nobody connects to) polls the picture
 * concurrently.  Checked invariant after every access: the picture the
 * device reports lies inside BAR0 and within the configured w x h; ASan
 * also watches the VNC thread's reads of it.
 *
 * Program: op byte, off16, size exponent, then per op (missing bytes
 * read as 0): op & 3 = 0 BAR2 write (val64), 1 BAR2 read, 2 port write
 * (port8, size exponent, val16), 3 port read (port8, size exponent,
 * ignored val16).  op bit 2 folds the offset onto the DISPI registers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_input.h"
#include "fuzz_intr.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "pci_fbuf.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_W 1024
#define MAX_H 768

static struct vmctx *ctx;
static struct pci_devinst *pi;

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
fz_setup(void)
{
	char path[64];

	ctx = vm_create_detached("fuzzfbuf");
	check(ctx != NULL && vm_setup_memory(ctx, 16u << 20) == 0);
	init_config();
	init_inout();
	init_mem();
	pci_emul_set_intr_ops(&fz_intr_none);
	snprintf(path, sizeof(path), "/tmp/beehive-fuzz-fbuf-%d.sock",
		 (int)getpid());
	set_config_value("pci.0.0.0.device", "hostbridge");
	set_config_value("pci.0.4.0.device", "fbuf");
	set_config_value("pci.0.4.0.unix", path);
	set_config_value("pci.0.4.0.w", "1024");
	set_config_value("pci.0.4.0.h", "768");
	check(init_pci(ctx) == 0);
	pi = pci_emul_find_dev(0, 4, 0);
	check(pi != NULL);
	/* The socket file is not needed: nobody connects. */
	unlink(path);
}

static void
fz_check_mode(void)
{
	struct vnc_mode m;
	const uint8_t *fb = fbuf_framebuffer(pi);
	uint64_t start, end;

	fbuf_get_mode(pi, &m);
	if (m.base == NULL)
		return;
	check(m.base >= fb && m.width >= 1 && m.width <= MAX_W &&
	      m.height >= 1 && m.height <= MAX_H &&
	      (m.bpp == 16 || m.bpp == 24 || m.bpp == 32) &&
	      m.stride >= (uint64_t)m.width * (m.bpp / 8));
	start = (uint64_t)(m.base - fb);
	end =
	    start + (m.height - 1) * m.stride + (uint64_t)m.width * (m.bpp / 8);
	check(end <= FBUF_FB_SIZE);
}

static void
fz_port(struct fz_input *in, bool write)
{
	uint8_t p = (uint8_t)fz_take(in, 1);
	int size = 1 << (fz_take(in, 1) & 1);
	int port =
	    p & 0x80 ? FBUF_VGA_PORT + (p & 0x1f) : FBUF_DISPI_PORT + (p % 3);
	uint32_t v = (uint32_t)fz_take(in, 2);

	/* Keep the access inside the registered range, as the bus does. */
	if (port == FBUF_DISPI_PORT + 2 || port == FBUF_VGA_PORT + 0x1f)
		size = 1;
	inout_emulate(NULL, !write, (uint16_t)port, size, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = {data, size};
	uint64_t regs;

	if (pi == NULL)
		fz_setup();
	regs = pi->pi_bar[2].addr;
	while (in.n > 0) {
		uint8_t op = (uint8_t)fz_take(&in, 1);
		uint64_t off = fz_take(&in, 2) & (FBUF_MMIO_SZ - 1);
		int sz = 1 << (fz_take(&in, 1) & 3);
		uint64_t v;

		if (op & 4)
			off = FBUF_MMIO_DISPI + (off % (2 * FBUF_DISPI_NREGS));
		if (off + (uint64_t)sz > FBUF_MMIO_SZ)
			off = FBUF_MMIO_SZ - (uint64_t)sz;
		switch (op & 3) {
		case 0:
			v = fz_take(&in, 8);
			mem_emulate(NULL, true, regs + off, sz, &v);
			break;
		case 1:
			mem_emulate(NULL, false, regs + off, sz, &v);
			break;
		default:
			fz_port(&in, (op & 3) == 2);
			break;
		}
		fz_check_mode();
	}
	return 0;
}
