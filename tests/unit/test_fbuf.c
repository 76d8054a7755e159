/*
 * fbuf (QEMU standard VGA model) on a detached VM: options refused before
 * the VM exists, config space and BAR sizes, the DISPI registers through
 * BAR2 and through ports 0x1ce/0x1cf as OVMF's QemuVideoDxe and Linux's
 * bochs driver program them, and hostile register values, which must
 * never make the picture reach outside the framebuffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pci_emul.h"
#include "pci_fbuf.h"
#include "pci_models.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define SLOT 4

static struct vmctx *ctx;
static struct pci_devinst *pi;
static uint64_t regs, fbaddr;

static void
dispi_write(int idx, uint16_t v)
{
	test_mmio_write(regs + FBUF_MMIO_DISPI + 2 * (uint64_t)idx, 2, v);
}

static uint16_t
dispi_read(int idx)
{
	return (uint16_t)test_mmio_read(
	    regs + FBUF_MMIO_DISPI + 2 * (uint64_t)idx, 2);
}

/* The sequence of Linux's bochs_hw_setmode() and QemuVideoDxe. */
static void
set_mode(uint16_t x, uint16_t y, uint16_t bpp, uint16_t enable)
{
	dispi_write(FBUF_DISPI_ENABLE, 0);
	dispi_write(FBUF_DISPI_BPP, bpp);
	dispi_write(FBUF_DISPI_XRES, x);
	dispi_write(FBUF_DISPI_YRES, y);
	dispi_write(FBUF_DISPI_BANK, 0);
	dispi_write(FBUF_DISPI_VIRT_WIDTH, x);
	dispi_write(FBUF_DISPI_VIRT_HEIGHT, y);
	dispi_write(FBUF_DISPI_X_OFFSET, 0);
	dispi_write(FBUF_DISPI_Y_OFFSET, 0);
	dispi_write(FBUF_DISPI_ENABLE, enable);
}

static int
check_opts(const char *opts)
{
	struct config_node *n;

	test_pci_world_reset();
	n = create_config_node("pci.0.4.0");
	set_config_value_node(n, "device", "fbuf");
	test_config_opts(n, opts);
	return pci_check_models_implemented();
}

static void
test_options(void)
{
	static const char *const bad[] = {
	    "w=639",	 "w=1921",
	    "h=1201",	 "h=abc",
	    "w=",	 "w=-1024",
	    "vga=yes",	 "tcp=1.2.3.4.5:5900",
	    "tcp=:0",	 "tcp=127.0.0.1:99999",
	    "tcp=::1:1", "tcp=[::1",
	    "unix=rel",	 "wait=maybe",
	    "password=", "tcp=1:2,rfb=3:4",
	};
	static const char *const good[] = {
	    "",
	    "tcp=0.0.0.0:5901,w=1920,h=1200,wait,password=pw,vga=off",
	    "rfb=[::1]:5902,w=640,h=480,vga=on",
	    "tcp=5903",
	    "unix=/tmp/fbuf.sock",
	};
	char name[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "options: '%s' refused (4)",
			 bad[i]);
		CHECK(check_opts(bad[i]) == 4, name);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(name, sizeof(name), "options: '%s' accepted", good[i]);
		CHECK(check_opts(good[i]) == 0, name);
	}
}

/* Builds fbuf at SLOT with its VNC server on a free loopback port. */
static bool
dev_start(void)
{
	char opts[96];

	for (int i = 0; i < 20; i++) {
		struct config_node *n;
		int port = 20000 + (int)((getpid() * 7 + i * 131) % 30000);

		test_pci_world_reset();
		n = create_config_node("pci.0.4.0");
		set_config_value_node(n, "device", "fbuf");
		snprintf(opts, sizeof(opts), "tcp=127.0.0.1:%d,w=1024,h=768",
			 port);
		test_config_opts(n, opts);
		if (init_pci(ctx) == 0)
			break;
	}
	pi = pci_emul_find_dev(0, SLOT, 0);
	if (pi == NULL)
		return false;
	fbaddr = pi->pi_bar[0].addr;
	regs = pi->pi_bar[2].addr;
	return true;
}

static void
test_config_space(void)
{
	uint32_t v;

	CHECK_EQ_U64(test_cfg_read(0, SLOT, 0, PCIR_VENDOR, 4), 0x11111234,
		     "config: 1234:1111 (QEMU standard VGA)");
	CHECK_EQ_U64(test_cfg_read(0, SLOT, 0, PCIR_REVID, 4) >> 8, 0x030000,
		     "config: class 0x030000 (VGA display)");
	test_cfg_write(0, SLOT, 0, PCIR_BAR(0), 4, 0xffffffff);
	v = test_cfg_read(0, SLOT, 0, PCIR_BAR(0), 4);
	CHECK_EQ_U64(v, 0xff000008, "BAR0: 16 MiB prefetchable memory");
	test_cfg_write(0, SLOT, 0, PCIR_BAR(0), 4, (uint32_t)fbaddr);
	test_cfg_write(0, SLOT, 0, PCIR_BAR(2), 4, 0xffffffff);
	v = test_cfg_read(0, SLOT, 0, PCIR_BAR(2), 4);
	CHECK_EQ_U64(v, 0xfffff000, "BAR2: 4 KiB memory");
	test_cfg_write(0, SLOT, 0, PCIR_BAR(2), 4, (uint32_t)regs);
	CHECK_EQ_U64(pi->pi_bar[0].addr, fbaddr, "BAR0 restored");
}

static void
test_registers(void)
{
	struct vnc_mode m;
	uint8_t *fb = fbuf_framebuffer(pi);

	CHECK_EQ_U64(dispi_read(FBUF_DISPI_ID), 0xb0c5, "DISPI ID 0xB0C5");
	CHECK_EQ_U64(dispi_read(FBUF_DISPI_VIDEO_MEM64K), 256,
		     "DISPI video memory: 256 * 64 KiB = BAR0");
	dispi_write(FBUF_DISPI_VIDEO_MEM64K, 1);
	CHECK_EQ_U64(dispi_read(FBUF_DISPI_VIDEO_MEM64K), 256,
		     "DISPI video memory: read-only");
	CHECK_EQ_U64(test_mmio_read(regs + FBUF_MMIO_QEXT, 4), 8,
		     "QEMU extension size 8");
	CHECK_EQ_U64(test_mmio_read(regs + FBUF_MMIO_QEXT + 4, 4), 0x1e1e1e1e,
		     "framebuffer little-endian");
	CHECK_EQ_U64(test_mmio_read(regs, 2), 0, "no EDID header");
	fbuf_get_mode(pi, &m);
	CHECK(m.base == NULL, "display off at reset: blank");

	dispi_write(FBUF_DISPI_ENABLE, FBUF_GETCAPS);
	CHECK(dispi_read(FBUF_DISPI_XRES) == 1024 &&
		  dispi_read(FBUF_DISPI_YRES) == 768 &&
		  dispi_read(FBUF_DISPI_BPP) == 32,
	      "GETCAPS: the configured maximum");

	memset(fb, 0x55, 4096);
	set_mode(800, 600, 32, FBUF_ENABLED | FBUF_LFB);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == fb && m.width == 800 && m.height == 600 &&
		  m.bpp == 32 && m.stride == 3200,
	      "mode 800x600x32 shown");
	CHECK_EQ_U64(fb[0], 0, "enable clears the framebuffer");
	test_mmio_write(fbaddr + 3200, 4, 0x00ff8040);
	CHECK_EQ_U64(*(uint32_t *)(fb + 3200), 0x00ff8040,
		     "BAR0 writes land in the framebuffer");
	CHECK_EQ_U64(test_mmio_read(fbaddr + 3200, 4), 0x00ff8040,
		     "BAR0 reads");
	dispi_write(FBUF_DISPI_Y_OFFSET, 600);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == fb + 600 * 3200, "Y_OFFSET pans (page flip)");

	memset(fb, 0x55, 4096);
	set_mode(640, 480, 16, FBUF_ENABLED | FBUF_LFB | FBUF_NOCLEARMEM);
	fbuf_get_mode(pi, &m);
	CHECK(m.bpp == 16 && m.stride == 1280 && fb[0] == 0x55,
	      "16 bpp, NOCLEARMEM keeps the contents");
	set_mode(640, 480, 24, FBUF_ENABLED | FBUF_LFB);
	fbuf_get_mode(pi, &m);
	CHECK(m.bpp == 24 && m.stride == 1920, "24 bpp");
	set_mode(640, 480, 8, FBUF_ENABLED | FBUF_LFB);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == NULL, "8 bpp (palette): blank");

	/* Through the legacy ports. */
	test_io_write(FBUF_DISPI_PORT, 2, FBUF_DISPI_ID);
	CHECK_EQ_U64(test_io_read(FBUF_DISPI_PORT + 1, 2), 0xb0c5,
		     "port 0x1cf: DISPI ID");
	test_io_write(FBUF_DISPI_PORT, 2, FBUF_DISPI_XRES);
	test_io_write(FBUF_DISPI_PORT + 1, 2, 1000);
	CHECK_EQ_U64(dispi_read(FBUF_DISPI_XRES), 1000,
		     "port 0x1cf writes the register MMIO reads");
	test_io_write(FBUF_VGA_PORT, 1, 0x20);
	CHECK_EQ_U64(test_mmio_read(regs + FBUF_MMIO_VGA, 1), 0x20,
		     "VGA port 0x3c0 is BAR2 offset 0x400");
	/* A byte write changes one half of a DISPI register. */
	test_mmio_write(regs + FBUF_MMIO_DISPI + 2 * FBUF_DISPI_XRES + 1, 1,
			0x02);
	CHECK_EQ_U64(dispi_read(FBUF_DISPI_XRES), 0x2e8,
		     "byte write to DISPI high half");
}

static void
test_hostile(void)
{
	struct vnc_mode m;
	uint8_t *fb = fbuf_framebuffer(pi);
	bool ok = true;

	set_mode(0xffff, 0xffff, 32, FBUF_ENABLED | FBUF_LFB);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == NULL, "65535x65535x32 does not fit: blank");
	set_mode(1024, 768, 32, FBUF_ENABLED | FBUF_LFB);
	dispi_write(FBUF_DISPI_VIRT_WIDTH, 0xffff);
	dispi_write(FBUF_DISPI_Y_OFFSET, 0xffff);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == NULL, "huge virtual width and Y offset: blank");
	/* The last pixel exactly at the end of BAR0, then one past. */
	dispi_write(FBUF_DISPI_VIRT_WIDTH, 1024);
	dispi_write(FBUF_DISPI_Y_OFFSET, (FBUF_FB_SIZE / 4096) - 768);
	fbuf_get_mode(pi, &m);
	CHECK(m.base != NULL, "mode ending at the end of BAR0: shown");
	dispi_write(FBUF_DISPI_X_OFFSET, 1);
	fbuf_get_mode(pi, &m);
	CHECK(m.base == NULL, "one pixel past BAR0: blank");
	set_mode(1920, 1200, 32, FBUF_ENABLED | FBUF_LFB);
	fbuf_get_mode(pi, &m);
	CHECK(m.width == 1024 && m.height == 768 && m.stride == 7680,
	      "mode above w x h: clamped, stride kept");

	/* Random writes anywhere in BAR2 and the ports. */
	srand(16);
	for (int i = 0; i < 200000; i++) {
		uint64_t off = (uint64_t)(rand() % (FBUF_MMIO_SZ + 16));
		int size = 1 << (rand() % 4);
		uint64_t v = (uint64_t)rand() << 32 | (uint64_t)rand();

		if (i % 3 == 0)
			off = FBUF_MMIO_DISPI + (uint64_t)(rand() % 24);
		if (off + (uint64_t)size <= FBUF_MMIO_SZ)
			test_mmio_write(regs + off, size, v);
		else
			test_io_write(FBUF_DISPI_PORT + rand() % 3, 2,
				      (uint32_t)v);
		fbuf_get_mode(pi, &m);
		if (m.base != NULL &&
		    (m.base < fb || m.width > 1024 || m.height > 768 ||
		     (uint64_t)(m.base - fb) + (m.height - 1) * m.stride +
			     (uint64_t)m.width * (m.bpp / 8) >
			 FBUF_FB_SIZE))
			ok = false;
	}
	CHECK(ok, "random register writes: picture always inside BAR0");
}

int
main(void)
{
	ctx = vm_create_detached("fbuf");
	if (ctx == NULL || vm_setup_memory(ctx, 16u << 20) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	test_options();
	if (!dev_start()) {
		CHECK(false, "fbuf builds");
		return test_done();
	}
	test_config_space();
	test_registers();
	test_hostile();
	pci_emul_fini();
	vm_destroy(ctx);
	return test_done();
}
