/*
 * PCI emulation: configuration space as the guest sees it through
 * mechanism #1 (0xcf8/0xcfc) and ECAM, BAR sizing and decoding, the
 * capability list, MSI, MSI-X and INTx, the host bridge and LPC models,
 * and the "-s" slot rules.  Runs on a detached VM context (no KVM):
 * interrupts are caught through pci_emul_set_intr_ops().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "pci_models.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

/* ---- Interrupt capture ---- */

static int msi_count;
static uint64_t msi_addr, msi_data;
static int intx_count, intx_irq;
static bool intx_level;

static int
cap_msi(struct vmctx *ctx, uint64_t addr, uint64_t data)
{
	msi_count++;
	msi_addr = addr;
	msi_data = data;
	return 0;
}

static int
cap_intx(struct vmctx *ctx, int irq, bool assert)
{
	intx_count++;
	intx_irq = irq;
	intx_level = assert;
	return 0;
}

static const struct pci_intr_ops cap_ops = {cap_msi, cap_intx};

/* ---- Test devices ---- */

static int bar_reads, bar_writes;
static uint64_t bar_last_off, bar_last_val;
static int bar_last_idx, bar_last_size;

static void
ptest_barwrite(struct pci_devinst *pi, int idx, uint64_t off, int size,
	       uint64_t val)
{
	bar_writes++;
	bar_last_idx = idx;
	bar_last_off = off;
	bar_last_size = size;
	bar_last_val = val;
}

static uint64_t
ptest_barread(struct pci_devinst *pi, int idx, uint64_t off, int size)
{
	bar_reads++;
	bar_last_idx = idx;
	bar_last_off = off;
	bar_last_size = size;
	return 0x1000 * (uint64_t)idx + off; /* recognisable */
}

/* Every BAR type, MSI, a PCIe capability and INTx. */
static int
ptest_a_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1af4);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x10a0 + pi->pi_func);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x02);
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_IO, 0x13) != 0 ||
	    pci_emul_alloc_bar(pi, 1, PCIBAR_MEM32, 0x1000) != 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM64, 0x4000) != 0 ||
	    pci_emul_alloc_bar(pi, 4, PCIBAR_MEMPREF, 256ULL << 20) != 0)
		return -1;
	if (pci_emul_add_msicap(pi, 4) < 0 ||
	    pci_emul_add_pciecap(pi, PCIEM_TYPE_ENDPOINT) < 0)
		return -1;
	pci_lintr_request(pi);
	return 0;
}

static const struct pci_devemu ptest_a = {
    .pe_emu = "ptest-a",
    .pe_init = ptest_a_init,
    .pe_barread = ptest_barread,
    .pe_barwrite = ptest_barwrite,
};
PCI_EMUL_SET(ptest_a);

/* MSI-X with 3 vectors in BAR 0, INTx too. */
static int
ptest_x_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1af4);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x10b0);
	if (pci_emul_add_msixcap(pi, 3, 0) < 0)
		return -1;
	pci_lintr_request(pi);
	return 0;
}

static const struct pci_devemu ptest_x = {
    .pe_emu = "ptest-x",
    .pe_init = ptest_x_init,
    .pe_barread = ptest_barread,
    .pe_barwrite = ptest_barwrite,
};
PCI_EMUL_SET(ptest_x);

static int
ptest_fail_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_emul_alloc_bar(pi, 0, PCIBAR_MEM32, 0x1000);
	return -1;
}

static const struct pci_devemu ptest_fail = {
    .pe_emu = "ptest-fail",
    .pe_init = ptest_fail_init,
};
PCI_EMUL_SET(ptest_fail);

/* ---- Bus access helpers ---- */

static struct vmctx *ctx;

static uint64_t
ecam_addr(int bus, int slot, int func, int off)
{
	return PCI_EMUL_ECFG_BASE + ((uint64_t)bus << 20) +
	       ((uint64_t)slot << 15) + ((uint64_t)func << 12) + (uint64_t)off;
}

static uint64_t
ecam_read(int bus, int slot, int func, int off, int bytes)
{
	uint64_t v = 0;

	mem_emulate(NULL, false, ecam_addr(bus, slot, func, off), bytes, &v);
	return v;
}

static void
ecam_write(int bus, int slot, int func, int off, int bytes, uint64_t v)
{
	mem_emulate(NULL, true, ecam_addr(bus, slot, func, off), bytes, &v);
}

/* Fresh dispatch tables, config tree and PCI state for one scenario. */
static void
reset_world(void)
{
	pci_emul_fini();
	fini_config();
	init_config();
	init_inout();
	init_mem();
	msi_count = intx_count = 0;
	bar_reads = bar_writes = 0;
}

static void
set_dev(const char *bsf, const char *model)
{
	char key[64];

	snprintf(key, sizeof(key), "pci.%s.device", bsf);
	set_config_value(key, model);
}

/* The standard machine of most tests. */
static int
build_standard(void)
{
	reset_world();
	set_dev("0.0.0", "hostbridge");
	set_dev("0.31.0", "lpc");
	set_dev("0.3.0", "ptest-a");
	set_dev("0.3.1", "ptest-a");
	set_dev("0.5.0", "ptest-x");
	set_dev("0.6.0", "dummy");
	set_dev("2.1.0", "ptest-a");
	return init_pci(ctx);
}

/* ---- Tests ---- */

static void
test_identity(void)
{
	CHECK(build_standard() == 0, "init: standard machine builds");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0x12751275,
		     "hb: netapp ids");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 8, 4) >> 8, 0x060000,
		     "hb: class host bridge");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, PCIR_HDRTYPE, 1), 0,
		     "hb: header type 0, single function");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0, 2), 0x8086,
		     "lpc: vendor Intel");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 2, 2), 0x7000,
		     "lpc: device PIIX3");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 8, 4) >> 8, 0x060100,
		     "lpc: class ISA bridge");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0x60, 4), 0x80808080,
		     "lpc: PIRQ routes start disabled");
	test_cfg_write(0, 31, 0, 0x60, 1, 0x0b);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0x60, 1), 0x0b,
		     "lpc: PIRQ route register writable");
	test_cfg_write(0, 31, 0, 0x61, 1, 0xf0);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0x61, 1), 0x80,
		     "lpc: PIRQ reserved bits read-only");
	CHECK_EQ_U64(test_cfg_read(0, 6, 0, 0, 4), 0x000110dd, "dummy: ids");
	CHECK_EQ_U64(test_cfg_read(0, 7, 0, 0, 4), 0xffffffff,
		     "empty slot reads all-ones");
	CHECK_EQ_U64(test_cfg_read(1, 0, 0, 0, 4), 0xffffffff,
		     "unconfigured bus reads all-ones");
	CHECK_EQ_U64(test_cfg_read(2, 1, 0, 0, 4), 0x10a01af4,
		     "bus 2 device visible (bhyve supports buses > 0)");
	CHECK(pci_check_models_implemented() == 0,
	      "hostbridge, lpc and dummy count as implemented");
}

static void
test_conf1_widths(void)
{
	uint32_t a = 0x80001234, v = 0;

	inout_emulate(NULL, false, 0xcf8, 4, &a);
	inout_emulate(NULL, true, 0xcf8, 4, &v);
	CHECK_EQ_U64(v, 0x80001234, "cf8: address reads back");
	a = 0x7f0000ff;
	inout_emulate(NULL, false, 0xcf8, 4, &a);
	inout_emulate(NULL, true, 0xcf8, 4, &v);
	CHECK_EQ_U64(v, 0x000000fc, "cf8: reserved and low bits read 0");
	v = 0;
	inout_emulate(NULL, true, 0xcf8, 1, &v);
	CHECK_EQ_U64(v, 0xff, "cf8: byte access is not CONFIG_ADDRESS");

	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0, 1), 0x86, "cfc: byte 0");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 1, 1), 0x80, "cfd: byte 1");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 2, 1), 0x00, "cfe: byte 2");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 3, 1), 0x70, "cff: byte 3");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 2, 2), 0x7000, "cfe: word");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 1, 2), 0xffff,
		     "cfd: unaligned word reads all-ones");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 2, 4), 0xffffffff,
		     "cfe: unaligned dword reads all-ones");
	test_cfg_write(0, 3, 0, PCIR_INTLINE - 1, 2, 0x5555);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_INTLINE, 1), 16,
		     "cfd: unaligned write ignored");

	/* Enable bit clear: data port floats. */
	a = test_conf1_addr(0, 31, 0, 0) & ~0x80000000u;
	inout_emulate(NULL, false, 0xcf8, 4, &a);
	v = 0;
	inout_emulate(NULL, true, 0xcfc, 4, &v);
	CHECK_EQ_U64(v, 0xffffffff, "disabled: read all-ones");
	a = test_conf1_addr(0, 3, 0, PCIR_INTLINE) & ~0x80000000u;
	inout_emulate(NULL, false, 0xcf8, 4, &a);
	v = 0x42;
	inout_emulate(NULL, false, 0xcfc, 1, &v);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_INTLINE, 1), 16,
		     "disabled: write ignored");
}

static void
test_masks(void)
{
	test_cfg_write(0, 31, 0, 0, 4, 0);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0, 4), 0x70008086,
		     "vendor/device read-only");
	test_cfg_write(0, 31, 0, 8, 4, 0);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 8, 4) >> 8, 0x060100,
		     "class read-only");
	test_cfg_write(0, 31, 0, PCIR_CACHELNSZ, 1, 0x10);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_CACHELNSZ, 1), 0x10,
		     "cache line size writable");
	test_cfg_write(0, 31, 0, PCIR_INTLINE, 1, 0x0a);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_INTLINE, 1), 0x0a,
		     "interrupt line writable");
	test_cfg_write(0, 31, 0, PCIR_COMMAND, 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_COMMAND, 2), 0x077f,
		     "command: only defined bits writable");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_STATUS, 2), 0,
		     "status read-only");
	test_cfg_write(0, 31, 0, PCIR_COMMAND, 2, 0);
	test_cfg_write(0, 31, 0, 0x80, 4, 0xdeadbeef);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, 0x80, 4), 0,
		     "device-specific space read-only by default");
	test_cfg_write(0, 0, 0, PCIR_CAP_PTR, 1, 0x80);
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, PCIR_CAP_PTR, 1), 0x40,
		     "capability pointer read-only");
}

static void
test_bar_sizing(void)
{
	uint32_t bar0 = test_cfg_read(0, 3, 0, PCIR_BAR(0), 4);
	uint32_t bar1 = test_cfg_read(0, 3, 0, PCIR_BAR(1), 4);
	uint32_t bar2 = test_cfg_read(0, 3, 0, PCIR_BAR(2), 4);
	uint32_t bar3 = test_cfg_read(0, 3, 0, PCIR_BAR(3), 4);
	uint32_t bar4 = test_cfg_read(0, 3, 0, PCIR_BAR(4), 4);
	uint32_t bar5 = test_cfg_read(0, 3, 0, PCIR_BAR(5), 4);
	uint64_t pref = (bar4 & ~0xfULL) | (uint64_t)bar5 << 32;
	struct pci_window io, m32, m64;

	pci_emul_get_windows(&io, &m32, &m64);
	CHECK_EQ_U64(bar0 & 3, 1, "io bar: space bit");
	CHECK((bar0 & ~3u) >= io.base && (bar0 & ~3u) + 0x20 - 1 <= io.limit &&
		  (bar0 & 0x1f) == 1,
	      "io bar: placed in window, size-aligned");
	CHECK_EQ_U64(bar1 & 0xf, 0, "mem32 bar: type bits 0");
	CHECK(bar1 >= m32.base && bar1 <= m32.limit && (bar1 & 0xfff) == 0,
	      "mem32 bar: in 32-bit window, aligned");
	CHECK_EQ_U64(bar2 & 0xf, 4, "mem64 bar: 64-bit type");
	CHECK(bar3 == 0 && (bar2 & ~0xfu) >= m32.base,
	      "small mem64 bar placed below 4 GiB (bhyve)");
	CHECK_EQ_U64(bar4 & 0xf, 0xc, "pref bar: 64-bit prefetchable");
	CHECK(pref >= m64.base && pref <= m64.limit &&
		  (pref & ((256ULL << 20) - 1)) == 0,
	      "256 MiB bar placed in 64-bit window, aligned");
	CHECK(test_cfg_read(0, 3, 0, PCIR_COMMAND, 2) ==
		  (PCIM_CMD_PORTEN | PCIM_CMD_MEMEN | PCIM_CMD_BUSMASTEREN),
	      "decoding and bus mastering enabled at start");

	test_cfg_write(0, 3, 0, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(0), 4), 0x0000ffe1,
		     "io bar sizing: 0x20 bytes, 16-bit decode");
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(1), 4), 0xfffff000,
		     "mem32 bar sizing: 4 KiB");
	test_cfg_write(0, 3, 0, PCIR_BAR(2), 4, 0xffffffff);
	test_cfg_write(0, 3, 0, PCIR_BAR(3), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(2), 4), 0xffffc004,
		     "mem64 bar sizing: low dword");
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(3), 4), 0xffffffff,
		     "mem64 bar sizing: high dword");
	test_cfg_write(0, 3, 0, PCIR_BAR(4), 4, 0xffffffff);
	test_cfg_write(0, 3, 0, PCIR_BAR(5), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(4), 4), 0xf000000c,
		     "pref bar sizing: 256 MiB");
	test_cfg_write(0, 3, 0, PCIR_BAR(0), 4, bar0);
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, bar1);
	test_cfg_write(0, 3, 0, PCIR_BAR(2), 4, bar2);
	test_cfg_write(0, 3, 0, PCIR_BAR(3), 4, bar3);
	test_cfg_write(0, 3, 0, PCIR_BAR(4), 4, bar4);
	test_cfg_write(0, 3, 0, PCIR_BAR(5), 4, bar5);
	CHECK(test_cfg_read(0, 3, 0, PCIR_BAR(0), 4) == bar0 &&
		  test_cfg_read(0, 3, 0, PCIR_BAR(1), 4) == bar1 &&
		  test_cfg_read(0, 3, 0, PCIR_BAR(2), 4) == bar2 &&
		  test_cfg_read(0, 3, 0, PCIR_BAR(3), 4) == bar3 &&
		  test_cfg_read(0, 3, 0, PCIR_BAR(5), 4) == bar5,
	      "bars restore after sizing");
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 2, 0);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BAR(1), 4), bar1,
		     "word write to a bar ignored");
	test_cfg_write(0, 0, 0, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, PCIR_BAR(0), 4), 0,
		     "unimplemented bar reads 0 after sizing");
	test_cfg_write(0, 3, 0, PCIR_BIOS, 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_BIOS, 4), 0,
		     "no expansion ROM: register reads 0");
}

static void
test_bar_decoding(void)
{
	uint32_t bar0 = test_cfg_read(0, 3, 0, PCIR_BAR(0), 4) & ~3u;
	uint32_t bar1 = test_cfg_read(0, 3, 0, PCIR_BAR(1), 4);
	uint64_t pref = (test_cfg_read(0, 3, 0, PCIR_BAR(4), 4) & ~0xfULL) |
			(uint64_t)test_cfg_read(0, 3, 0, PCIR_BAR(5), 4) << 32;
	uint32_t newaddr = bar1 + 0x100000;

	bar_reads = 0;
	CHECK_EQ_U64(test_mmio_read(bar1 + 0x10, 4), 0x1010,
		     "mem32 bar decodes: device sees BAR 1 offset 0x10");
	CHECK(bar_reads == 1 && bar_last_idx == 1 && bar_last_size == 4,
	      "mem32 bar read reached the device once");
	CHECK_EQ_U64(test_mmio_read(pref + 0x20, 8), 0x0000402400004020ULL,
		     "64-bit bar decodes above 4 GiB (8-byte read)");
	test_mmio_write(pref + 8, 8, 0x1122334455667788ULL);
	CHECK(bar_last_off == 12 && bar_last_val == 0x11223344 &&
		  bar_last_size == 4,
	      "8-byte write split into dwords for 32-bit models");
	CHECK_EQ_U64(test_io_read((int)bar0 + 4, 2), 0x0004,
		     "io bar decodes: device sees offset 4");
	bar_reads = 0;
	CHECK_EQ_U64(test_io_read((int)bar0 + 0x1e, 4), 0xffffffff,
		     "io access straddling bar end: all-ones");
	CHECK(bar_reads == 0, "straddling access never reaches the device");

	test_cfg_write(0, 3, 0, PCIR_COMMAND, 2, PCIM_CMD_PORTEN);
	bar_reads = 0;
	CHECK_EQ_U64(test_mmio_read(bar1, 4), 0xffffffff,
		     "memory decode off: bar unclaimed");
	CHECK_EQ_U64(test_io_read((int)bar0, 1), 0x00, "io decode still on");
	test_cfg_write(0, 3, 0, PCIR_COMMAND, 2, 0);
	CHECK_EQ_U64(test_io_read((int)bar0, 1), 0xff, "io decode off");
	CHECK(bar_reads == 1, "disabled bars do not reach the device");
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, newaddr);
	test_cfg_write(0, 3, 0, PCIR_COMMAND, 2,
		       PCIM_CMD_MEMEN | PCIM_CMD_PORTEN);
	CHECK_EQ_U64(test_mmio_read(newaddr + 8, 4), 0x1008,
		     "moved while disabled: decodes at the new address");
	CHECK_EQ_U64(test_mmio_read(bar1 + 8, 4), 0xffffffff,
		     "old address released");
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, bar1);
	CHECK_EQ_U64(test_mmio_read(bar1 + 8, 4), 0x1008,
		     "moved while enabled: decodes at once");
	CHECK_EQ_U64(test_mmio_read(newaddr + 8, 4), 0xffffffff,
		     "moved while enabled: old address released");
	/* Onto the ECAM window: the window keeps it, the BAR decodes nothing.
	 */
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, (uint32_t)PCI_EMUL_ECFG_BASE);
	CHECK_EQ_U64(test_mmio_read(PCI_EMUL_ECFG_BASE, 4), 0x12751275,
		     "bar over ECAM: ECAM still answers");
	test_cfg_write(0, 3, 0, PCIR_BAR(1), 4, bar1);
	CHECK_EQ_U64(test_mmio_read(bar1 + 8, 4), 0x1008,
		     "bar back from conflict decodes again");
	test_cfg_write(0, 3, 0, PCIR_COMMAND, 2,
		       PCIM_CMD_MEMEN | PCIM_CMD_PORTEN | PCIM_CMD_BUSMASTEREN);
}

static void
test_capabilities(void)
{
	int off = (int)test_cfg_read(0, 3, 0, PCIR_CAP_PTR, 1);
	uint8_t ids[8];
	int n = 0;

	CHECK(test_cfg_read(0, 3, 0, PCIR_STATUS, 2) & PCIM_STATUS_CAPPRESENT,
	      "status: capability list bit");
	while (off != 0 && n < 8) {
		ids[n++] = (uint8_t)test_cfg_read(0, 3, 0, off, 1);
		off = (int)test_cfg_read(0, 3, 0, off + 1, 1);
	}
	CHECK(n == 2 && ids[0] == PCIY_MSI && ids[1] == PCIY_EXPRESS,
	      "capability walk: MSI then PCIe, terminated");
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, 0x40, 1), PCIY_MSI,
		     "first capability at 0x40");
	off =
	    pci_emul_find_capability(pci_emul_find_dev(0, 3, 0), PCIY_EXPRESS);
	CHECK_EQ_U64((test_cfg_read(0, 3, 0, off + 2, 2) >> 4) & 0xf,
		     PCIEM_TYPE_ROOT_INT_EP,
		     "bus-0 endpoint is root-complex integrated");
	off = (int)test_cfg_read(0, 0, 0, PCIR_CAP_PTR, 1);
	CHECK(test_cfg_read(0, 0, 0, off, 1) == PCIY_EXPRESS &&
		  ((test_cfg_read(0, 0, 0, off + 2, 2) >> 4) & 0xf) ==
		      PCIEM_TYPE_ROOT_PORT,
	      "host bridge: PCIe root port capability (bhyve)");
	{
		uint32_t idnext = test_cfg_read(0, 3, 0, 0x40, 2);

		test_cfg_write(0, 3, 0, 0x40, 4, 0xffffffff);
		CHECK_EQ_U64(
		    test_cfg_read(0, 3, 0, 0x40, 2), idnext,
		    "capability id/next read-only under a dword write");
	}
	test_cfg_write(0, 3, 0, 0x42, 2, 0);
}

static void
test_msi(void)
{
	struct pci_devinst *pi = pci_emul_find_dev(0, 3, 0);
	int cap = pi->pi_msi.capoff;
	uint16_t ctrl = (uint16_t)test_cfg_read(0, 3, 0, cap + 2, 2);

	CHECK_EQ_U64(ctrl, PCIM_MSICTRL_64BIT | (2 << 1),
		     "msi ctrl: 64-bit, 4 messages capable, disabled");
	msi_count = 0;
	pci_generate_msi(pi, 0);
	CHECK(msi_count == 0, "msi disabled: nothing sent");
	test_cfg_write(0, 3, 0, cap + 4, 4, 0xfee01003);
	test_cfg_write(0, 3, 0, cap + 8, 4, 0x1);
	test_cfg_write(0, 3, 0, cap + 12, 2, 0x4150);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, cap + 4, 4), 0xfee01000,
		     "msi address low bits 1:0 read-only");
	test_cfg_write(0, 3, 0, cap + 2, 2, 0xffff);
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, cap + 2, 2),
		     PCIM_MSICTRL_64BIT | (2 << 1) | 0x70 | 1,
		     "msi ctrl: only MME and enable writable");
	CHECK(pci_msi_enabled(pi) && pci_msi_maxmsgnum(pi) == 4,
	      "MME beyond MMC clamps to 4 messages");
	pci_generate_msi(pi, 3);
	CHECK(msi_count == 1 && msi_addr == 0x1fee01000ULL &&
		  msi_data == 0x4153,
	      "msi 3: 64-bit address, data | 3");
	pci_generate_msi(pi, 4);
	CHECK(msi_count == 1, "msi beyond enabled count dropped");
	test_cfg_write(0, 3, 0, cap + 2, 2, 0x11); /* MME 2 messages */
	pci_generate_msi(pi, 2);
	CHECK(msi_count == 1 && pci_msi_maxmsgnum(pi) == 2,
	      "msi with MME=1: index 2 dropped");

	/* INTx is masked while MSI is on. */
	intx_count = 0;
	pci_lintr_assert(pi);
	CHECK(intx_count == 0, "intx pending while MSI enabled");
	test_cfg_write(0, 3, 0, cap + 2, 2, 0);
	CHECK(intx_count == 1 && intx_level &&
		  intx_irq == pi->pi_lintr.ioapic_irq,
	      "msi off: pending intx delivered");
	pci_lintr_deassert(pi);
	CHECK(intx_count == 2 && !intx_level, "intx deasserted");
}

static void
test_msix(void)
{
	struct pci_devinst *pi = pci_emul_find_dev(0, 5, 0);
	int cap = (int)test_cfg_read(0, 5, 0, PCIR_CAP_PTR, 1);
	uint64_t bar = test_cfg_read(0, 5, 0, PCIR_BAR(0), 4) & ~0xfULL;
	uint64_t e1 = bar + 16, pba = bar + 0x1000;

	CHECK_EQ_U64(test_cfg_read(0, 5, 0, cap, 1), PCIY_MSIX, "msix cap id");
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, cap + 2, 2), 2,
		     "msix table size 3");
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, cap + 4, 4), 0,
		     "table: BIR 0 off 0");
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, cap + 8, 4), 0x1000,
		     "PBA: BIR 0 at 4 KiB");
	test_cfg_write(0, 5, 0, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, PCIR_BAR(0), 4), 0xffffe000,
		     "msix bar holds table page + PBA: 8 KiB");
	test_cfg_write(0, 5, 0, PCIR_BAR(0), 4, (uint32_t)bar);
	CHECK_EQ_U64(test_mmio_read(e1 + 12, 4), 1, "vectors start masked");
	test_mmio_write(e1, 4, 0xfee00000);
	test_mmio_write(e1 + 4, 4, 0);
	test_mmio_write(e1 + 8, 4, 0x31);
	CHECK_EQ_U64(test_mmio_read(e1, 8), 0xfee00000,
		     "table entry 8-byte read");
	CHECK_EQ_U64(test_mmio_read(e1 + 2, 4), 0xffffffff,
		     "unaligned table read all-ones");
	msi_count = 0;
	pci_generate_msix(pi, 1);
	CHECK(msi_count == 0, "msix disabled: nothing sent, nothing pending");
	CHECK_EQ_U64(test_mmio_read(pba, 8), 0, "PBA clear while disabled");
	test_cfg_write(0, 5, 0, cap + 2, 2, 0xffff);
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, cap + 2, 2), 0xc002,
		     "msix ctrl: enable and function mask writable only");
	test_cfg_write(0, 5, 0, cap + 2, 2, PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(pci_msix_enabled(pi), "msix enabled");
	pci_generate_msix(pi, 1);
	CHECK(msi_count == 0, "masked vector: not sent");
	CHECK_EQ_U64(test_mmio_read(pba, 8), 2, "masked vector: PBA bit set");
	test_mmio_write(pba, 8, 0);
	CHECK_EQ_U64(test_mmio_read(pba, 8), 2, "PBA read-only");
	test_mmio_write(e1 + 12, 4, 0xfffffffe);
	CHECK(msi_count == 1 && msi_addr == 0xfee00000 && msi_data == 0x31,
	      "unmask delivers the pending vector");
	CHECK_EQ_U64(test_mmio_read(pba, 8), 0, "PBA bit cleared on delivery");
	CHECK_EQ_U64(test_mmio_read(e1 + 12, 4), 0,
		     "vector control reserved bits read 0");
	pci_generate_msix(pi, 1);
	CHECK(msi_count == 2, "unmasked vector: sent at once");
	pci_generate_msix(pi, 3);
	CHECK(msi_count == 2, "vector beyond the table ignored");
	test_cfg_write(0, 5, 0, cap + 2, 2,
		       PCIM_MSIXCTRL_MSIX_ENABLE | PCIM_MSIXCTRL_FUNCTION_MASK);
	pci_generate_msix(pi, 1);
	CHECK(msi_count == 2, "function mask: not sent");
	CHECK_EQ_U64(test_mmio_read(pba, 4), 2, "function mask: pending");
	test_cfg_write(0, 5, 0, cap + 2, 2, PCIM_MSIXCTRL_MSIX_ENABLE);
	CHECK(msi_count == 3, "function unmask delivers pending");
	bar_reads = 0;
	test_mmio_read(bar + 0x1800, 4);
	CHECK(bar_reads == 1, "rest of the msix bar goes to the device");
	intx_count = 0;
	pci_lintr_assert(pi);
	CHECK(intx_count == 0, "intx masked while MSI-X enabled");
	test_cfg_write(0, 5, 0, cap + 2, 2, 0);
	CHECK(intx_count == 1 && intx_level, "msix off: intx delivered");
	pci_lintr_deassert(pi);
}

static void
test_intx(void)
{
	struct pci_intx_route r[8];
	struct pci_devinst *f0 = pci_emul_find_dev(0, 3, 0);
	struct pci_devinst *f1 = pci_emul_find_dev(0, 3, 1);
	int n = pci_emul_get_intx_routes(r, 8);

	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_INTPIN, 1), 1,
		     "0:3.0 on INTA");
	CHECK_EQ_U64(test_cfg_read(0, 3, 1, PCIR_INTPIN, 1), 2,
		     "0:3.1 on INTB (functions spread)");
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_INTPIN, 1), 0,
		     "lpc: no INTx");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, PCIR_INTLINE, 1), 0xff,
		     "no INTx: line 0xff");
	CHECK_EQ_U64(n, 4, "four (bus, slot, pin) routes");
	CHECK(r[0].bus == 0 && r[0].slot == 3 && r[0].pin == 1 &&
		  r[0].ioapic_irq == 16,
	      "route 0: 0:3 INTA -> IOAPIC 16");
	CHECK(r[1].slot == 3 && r[1].pin == 2 && r[1].ioapic_irq == 17,
	      "route 1: 0:3 INTB -> IOAPIC 17");
	CHECK(r[2].slot == 5 && r[2].pin == 1 && r[2].ioapic_irq == 18,
	      "route 2: 0:5 INTA -> IOAPIC 18");
	CHECK(r[3].bus == 2 && r[3].slot == 1 && r[3].ioapic_irq == 19,
	      "route 3: 2:1 INTA -> IOAPIC 19");
	CHECK(pci_emul_get_intx_routes(NULL, 0) == 4, "route count only");
	CHECK_EQ_U64(test_cfg_read(0, 3, 1, PCIR_INTLINE, 1), 17,
		     "interrupt line holds the IOAPIC pin");
	CHECK(f0->pi_lintr.ioapic_irq == 16 && f1->pi_lintr.ioapic_irq == 17,
	      "devinst knows its pin");

	intx_count = 0;
	pci_lintr_assert(f1);
	pci_lintr_assert(f1);
	CHECK(intx_count == 1 && intx_irq == 17 && intx_level,
	      "assert is level: once");
	test_cfg_write(0, 3, 1, PCIR_COMMAND, 2,
		       PCIM_CMD_MEMEN | PCIM_CMD_PORTEN | PCIM_CMD_INTxDIS);
	CHECK(intx_count == 2 && !intx_level, "INTxDIS drops the line");
	test_cfg_write(0, 3, 1, PCIR_COMMAND, 2,
		       PCIM_CMD_MEMEN | PCIM_CMD_PORTEN);
	CHECK(intx_count == 3 && intx_level, "INTxDIS clear: line back up");
	pci_lintr_deassert(f1);
	CHECK(intx_count == 4 && !intx_level, "deassert");
	pci_lintr_deassert(f1);
	CHECK(intx_count == 4, "second deassert: no change");

	/* Two functions sharing one IOAPIC pin: the line is their OR. */
	f0->pi_lintr.ioapic_irq = 17;
	pci_lintr_assert(f0);
	pci_lintr_assert(f1);
	pci_lintr_deassert(f0);
	CHECK(intx_count == 5 && intx_level, "shared pin: stays up");
	pci_lintr_deassert(f1);
	CHECK(intx_count == 6 && !intx_level, "shared pin: down with last");
	f0->pi_lintr.ioapic_irq = 16;
}

static void
test_multifunction_and_ecam(void)
{
	CHECK_EQ_U64(test_cfg_read(0, 3, 0, PCIR_HDRTYPE, 1), 0x80,
		     "multi-function: bit 7 on function 0");
	CHECK_EQ_U64(test_cfg_read(0, 3, 1, 0x0c, 4) >> 16 & 0xff, 0x80,
		     "multi-function: bit 7 in a dword read of function 1");
	CHECK_EQ_U64(test_cfg_read(0, 5, 0, PCIR_HDRTYPE, 1), 0,
		     "single function: bit 7 clear");

	CHECK_EQ_U64(ecam_read(0, 31, 0, 0, 4), 0x70008086, "ecam: dword");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 2, 2), 0x7000, "ecam: word");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 0xb, 1), 0x06, "ecam: byte");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 0, 8),
		     0x0000000070008086ULL |
			 (uint64_t)test_cfg_read(0, 31, 0, 4, 4) << 32,
		     "ecam: qword");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 1, 2), 0xffff,
		     "ecam: unaligned reads all-ones");
	CHECK_EQ_U64(ecam_read(0, 3, 0, PCIR_HDRTYPE, 1), 0x80,
		     "ecam: header type fixup");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 0x100, 4), 0,
		     "ecam: no extended capabilities");
	CHECK_EQ_U64(ecam_read(0, 31, 0, 0xffc, 4), 0,
		     "ecam: last dword of 4 KiB space");
	CHECK_EQ_U64(ecam_read(0, 9, 0, 0, 4), 0xffffffff,
		     "ecam: empty slot all-ones");
	CHECK_EQ_U64(ecam_read(255, 31, 7, 0, 4), 0xffffffff,
		     "ecam: last function of bus 255");
	CHECK_EQ_U64(ecam_read(2, 1, 0, 0, 4), 0x10a01af4, "ecam: bus 2");
	ecam_write(0, 31, 0, PCIR_INTLINE, 1, 0x07);
	CHECK_EQ_U64(test_cfg_read(0, 31, 0, PCIR_INTLINE, 1), 0x07,
		     "ecam write visible through cf8");
	ecam_write(0, 31, 0, 0x200, 4, 0x12345678);
	CHECK_EQ_U64(ecam_read(0, 31, 0, 0x200, 4), 0,
		     "ecam: extended space read-only by default");
	CHECK(pci_emul_ecam_base() == 0xE0000000ULL &&
		  pci_emul_ecam_size() == (256ULL << 20),
	      "ecam at 0xE0000000, 256 MiB (bhyve)");
}

static void
test_windows_and_iteration(void)
{
	struct pci_window io, m32, m64, b0io, b0m32, b2io, b2m32, b2m64;
	struct pci_dev_info info;

	pci_emul_get_windows(&io, &m32, &m64);
	CHECK(io.base == 0x2000 && io.limit == 0xffff, "io window");
	CHECK(m32.base == 3ULL << 30 && m32.limit == 0xdfffffffULL,
	      "mem32 window: lowmem limit to ECAM");
	CHECK(m64.base == 32ULL << 30 && m64.limit == (64ULL << 30) - 1,
	      "mem64 window: 32 GiB aligned, 32 GiB long");
	CHECK(pci_emul_get_bus_windows(0, &b0io, &b0m32, NULL) == 0 &&
		  pci_emul_get_bus_windows(2, &b2io, &b2m32, &b2m64) == 0,
	      "per-bus windows for buses 0 and 2");
	CHECK(pci_emul_get_bus_windows(1, NULL, NULL, NULL) == -1 &&
		  !pci_emul_bus_configured(1) && pci_emul_bus_configured(2),
	      "bus 1 not configured");
	CHECK(b0io.base == 0x2000 && b0io.limit < b2io.base &&
		  b0m32.limit < b2m32.base && b2m32.limit <= m32.limit &&
		  b2m64.base >= m64.base,
	      "bus windows are disjoint slices");
	CHECK_EQ_U64(pci_emul_count_devices(), 7, "seven functions");
	CHECK(pci_emul_get_device(0, &info) == 0 && info.bus == 0 &&
		  info.slot == 0 && info.vendor == 0x1275 &&
		  info.class == 0x06 && info.subclass == 0 &&
		  strcmp(info.model, "hostbridge") == 0,
	      "device 0: host bridge");
	CHECK(pci_emul_get_device(5, &info) == 0 && info.slot == 31 &&
		  info.subclass == PCIS_BRIDGE_ISA,
	      "device 5: lpc (bus/slot/func order)");
	CHECK(pci_emul_get_device(6, &info) == 0 && info.bus == 2,
	      "device 6: bus 2");
	CHECK(pci_emul_get_device(7, &info) == -1, "iteration ends");
}

static int
build_one(const char *model, const char *k1, const char *v1, const char *k2,
	  const char *v2)
{
	reset_world();
	set_dev("0.0.0", model);
	if (k1 != NULL)
		set_config_value(k1, v1);
	if (k2 != NULL)
		set_config_value(k2, v2);
	return init_pci(ctx);
}

static void
test_hostbridge_models(void)
{
	char err[256];

	CHECK(build_one("hostbridge", "pci.0.0.0.model", "q35", NULL, NULL) ==
		      0 &&
		  test_cfg_read(0, 0, 0, 0, 4) == 0x29b08086,
	      "model=q35");
	CHECK(build_one("hostbridge", "pci.0.0.0.model", "i440fx", NULL,
			NULL) == 0 &&
		  test_cfg_read(0, 0, 0, 0, 4) == 0x12378086,
	      "model=i440fx");
	CHECK(build_one("hostbridge", "pci.0.0.0.model", "amd", NULL, NULL) ==
		      0 &&
		  test_cfg_read(0, 0, 0, 0, 4) == 0x74321022,
	      "model=amd");
	CHECK(build_one("hostbridge", "pci.0.0.0.model", "netapp", NULL,
			NULL) == 0 &&
		  test_cfg_read(0, 0, 0, 0, 4) == 0x12751275,
	      "model=netapp");
	CHECK(build_one("hostbridge", "pci.0.0.0.vendor", "0x1234",
			"pci.0.0.0.devid", "4660") == 0 &&
		  test_cfg_read(0, 0, 0, 0, 4) == 0x12341234,
	      "vendor= and devid= (any base)");
	CHECK(build_one("hostbridge", "pci.0.0.0.model", "bogus", NULL, NULL) !=
		  0,
	      "unknown model refused");
	CHECK(build_one("hostbridge", "pci.0.0.0.model", "q35",
			"pci.0.0.0.vendor", "0x8086") != 0,
	      "model with vendor refused");
	CHECK(build_one("hostbridge", "pci.0.0.0.vendor", "0x8086", NULL,
			NULL) != 0,
	      "vendor without devid refused");
	CHECK(build_one("hostbridge", "pci.0.0.0.vendor", "0x18086",
			"pci.0.0.0.devid", "1") != 0,
	      "vendor out of range refused");
	CHECK(build_one("hostbridge", "pci.0.0.0.vendor", "12x",
			"pci.0.0.0.devid", "1") != 0,
	      "malformed vendor refused");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0xffffffff,
		     "failed init leaves no device");

	reset_world();
	CHECK(pci_parse_slot("0,amd_hostbridge", err, sizeof(err)) == 0,
	      "-s 0,amd_hostbridge parses");
	CHECK_STR(get_config_value("pci.0.0.0.device"), "hostbridge",
		  "amd_hostbridge is written as hostbridge");
	CHECK(init_pci(ctx) == 0 && test_cfg_read(0, 0, 0, 0, 4) == 0x74321022,
	      "amd_hostbridge: AMD ids via pcireg");
	CHECK(pci_check_models_implemented() == 0,
	      "amd_hostbridge implemented");

	CHECK(build_one("amd_hostbridge", NULL, NULL, NULL, NULL) != 0,
	      "device=amd_hostbridge in the tree refused (use hostbridge)");
	CHECK(build_one("lpc", NULL, NULL, NULL, NULL) == 0,
	      "lpc at 0:0.0 allowed");
	reset_world();
	set_dev("1.0.0", "lpc");
	CHECK(init_pci(ctx) != 0, "lpc on bus 1 refused");
	reset_world();
	set_dev("0.30.0", "lpc");
	set_dev("0.31.0", "lpc");
	CHECK(init_pci(ctx) != 0, "second lpc refused");
	reset_world();
	set_dev("0.31.0", "lpc");
	set_config_value("pci.0.31.0.pcireg.device", "7110");
	CHECK(init_pci(ctx) == 0 && test_cfg_read(0, 31, 0, 0, 4) == 0x71108086,
	      "lpc pcireg.device override");
}

static void
test_slots(void)
{
	char err[256];

	reset_world();
	CHECK(pci_parse_slot("3,hostbridge", err, sizeof(err)) == 0,
	      "-s 3,hostbridge");
	CHECK(pci_parse_slot("3:0,lpc", err, sizeof(err)) != 0,
	      "-s 3:0 duplicate of 3 refused");
	CHECK(pci_parse_slot("0:3:0,lpc", err, sizeof(err)) != 0,
	      "-s 0:3:0 duplicate of 3 refused");
	CHECK(pci_parse_slot("3:1,lpc", err, sizeof(err)) == 0,
	      "-s 3:1 is another function");
	CHECK(pci_parse_slot("0:32:0,lpc", err, sizeof(err)) != 0,
	      "slot 32 refused");
	CHECK(pci_parse_slot("1:2:3,dummy", err, sizeof(err)) == 0,
	      "-s bus:slot:func");
	CHECK(init_pci(ctx) == 0, "tree with bus 1 builds");
	CHECK(test_cfg_read(0, 3, 0, PCIR_HDRTYPE, 1) == 0x80 &&
		  test_cfg_read(0, 3, 1, 0, 2) == 0x8086,
	      "functions 0 and 1 of slot 3");
	CHECK_EQ_U64(test_cfg_read(1, 2, 3, 0, 4), 0x000110dd,
		     "dummy at 1:2.3 honoured");

	reset_world();
	set_dev("0.4.0", "no-such-model");
	CHECK(init_pci(ctx) != 0, "unknown model refused at init");
	reset_world();
	set_config_value("pci.0.4.0.path", "x");
	CHECK(init_pci(ctx) != 0, "node without device refused");
	reset_world();
	set_dev("0.4.0", "ptest-fail");
	set_dev("0.3.0", "dummy");
	CHECK(init_pci(ctx) != 0, "failing model init reported");
}

static void
test_enable_bars_off(void)
{
	reset_world();
	set_dev("0.6.0", "dummy");
	set_config_value("pci.enable_bars", "false");
	CHECK(init_pci(ctx) == 0, "pci.enable_bars=false builds");
	CHECK_EQ_U64(test_cfg_read(0, 6, 0, PCIR_COMMAND, 2), 0,
		     "pci.enable_bars=false: decoding left to firmware");
	CHECK((test_cfg_read(0, 6, 0, PCIR_BAR(1), 4) & 0xfff) == 0 &&
		  test_cfg_read(0, 6, 0, PCIR_BAR(1), 4) != 0,
	      "bars still assigned");
	CHECK_EQ_U64(test_mmio_read(test_cfg_read(0, 6, 0, PCIR_BAR(1), 4), 4),
		     0xffffffff, "not decoding until the guest enables it");
	test_cfg_write(0, 6, 0, PCIR_COMMAND, 2, PCIM_CMD_MEMEN);
	test_mmio_write(test_cfg_read(0, 6, 0, PCIR_BAR(1), 4) + 8, 4, 0xabcd);
	CHECK_EQ_U64(
	    test_mmio_read(test_cfg_read(0, 6, 0, PCIR_BAR(1), 4) + 8, 4),
	    0xabcd, "dummy memory bar stores data once enabled");
}

static void
test_devemu_registry(void)
{
	static const char *const models[] = {"hostbridge", "lpc", "dummy"};

	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		const struct pci_devemu *m = pci_model_find(models[i]);

		CHECK(m != NULL && pci_model_implemented(m), models[i]);
	}
	/* A model that lands leaves the table: one declaration per name. */
	for (size_t i = 0; i < pci_unimpl_nmodels; i++) {
		const struct pci_devemu *u = &pci_unimpl_models[i];

		CHECK(pci_model_find(u->pe_emu) == u &&
			  !pci_model_implemented(u) && u->pe_init == NULL,
		      u->pe_emu);
	}
}

int
main(void)
{
	ctx = vm_create_detached("pcitest");
	if (ctx == NULL) {
		printf("FAIL: vm_create_detached\n");
		return 1;
	}
	pci_emul_set_intr_ops(&cap_ops);
	init_config();

	test_identity();
	test_conf1_widths();
	test_masks();
	test_bar_sizing();
	test_bar_decoding();
	test_capabilities();
	test_msi();
	test_msix();
	test_intx();
	test_multifunction_and_ecam();
	test_windows_and_iteration();
	test_hostbridge_models();
	test_slots();
	test_enable_bars_off();
	test_devemu_registry();

	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
