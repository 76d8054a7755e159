/*
 * libFuzzer target for PCI configuration space: the input is a program of
 * guest accesses through mechanism #1 (0xcf8/0xcfc-0xcff, every width and
 * alignment), ECAM (any offset, 1-8 bytes), accesses to wherever the BARs
 * currently decode (so MSI-X tables and BAR moves are reached), and device
 * interrupts, against a host bridge, an LPC bridge, bhyve's dummy device,
 * a multi-function device with every BAR type and an MSI-X device.  An
 * input whose first byte is 0xBF runs on the boot-ROM machine instead
 * (lpc.bootrom set: the bus-1 device left out, piix4-pm added at 0:1.3,
 * BARs unassigned and decoding off until the program places them).
 * Checked invariants: read-only identity registers never change, BAR low
 * bits always read as their type, INTx lines toggle only on real
 * transitions, a disabled MSI/MSI-X never fires, and teardown releases
 * every port and MMIO range.
 *
 * Build and run (from the repository root):
 *   make fuzz                 # builds build-fuzz/fuzz_pci
 *   build-fuzz/fuzz_pci -max_total_time=10
 *
 * Program bytes: op = byte % 8, operands follow (missing ones read as 0).
 *   0 cf8 write   addr32           1 cfc read    port2|width2
 *   2 cfc write   port2|width2, v32  3 ecam read   off32, width
 *   4 ecam write  off32, width, v64  5 bar access  dev, bar, off16, w|dir, v
 *   6 interrupt   dev, kind, index   7 bar sizing  dev, bar
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "vmmapi.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* ---- Devices only the fuzzer uses ---- */

static uint64_t
fz_barread(struct pci_devinst *pi, int idx, uint64_t off, int size)
{
	check(idx >= 0 && idx <= PCI_BARMAX && pi->pi_bar[idx].size > 0);
	check(size >= 1 && size <= 8 &&
	      off + (uint64_t)size <= pi->pi_bar[idx].size);
	return off * 3;
}

static void
fz_barwrite(struct pci_devinst *pi, int idx, uint64_t off, int size,
	    uint64_t val)
{
	check(idx >= 0 && idx <= PCI_BARMAX && pi->pi_bar[idx].size > 0);
	check(size >= 1 && size <= 8 &&
	      off + (uint64_t)size <= pi->pi_bar[idx].size);
}

static int
fz_all_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1af4);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x1100);
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_IO, 0x40) != 0 ||
	    pci_emul_alloc_bar(pi, 1, PCIBAR_MEM32, 0x2000) != 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM64, 0x1000) != 0 ||
	    pci_emul_alloc_bar(pi, 4, PCIBAR_MEMPREF, 1ULL << 30) != 0 ||
	    pci_emul_add_msicap(pi, 8) < 0 ||
	    pci_emul_add_pciecap(pi, PCIEM_TYPE_ENDPOINT) < 0)
		return -1;
	pci_lintr_request(pi);
	return 0;
}

static const struct pci_devemu fz_all = {
    .pe_emu = "fuzz-all",
    .pe_init = fz_all_init,
    .pe_barread = fz_barread,
    .pe_barwrite = fz_barwrite,
};
PCI_EMUL_SET(fz_all);

static int
fz_msix_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1af4);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x1101);
	if (pci_emul_add_msixcap(pi, 70, 2) < 0 ||
	    pci_emul_add_msicap(pi, 1) < 0 ||
	    pci_emul_alloc_bar(pi, 0, PCIBAR_MEM32, 0x100) != 0)
		return -1;
	pci_lintr_request(pi);
	return 0;
}

static const struct pci_devemu fz_msix = {
    .pe_emu = "fuzz-msix",
    .pe_init = fz_msix_init,
    .pe_barread = fz_barread,
    .pe_barwrite = fz_barwrite,
    .pe_bar64 = true,
};
PCI_EMUL_SET(fz_msix);

/* ---- Interrupt invariants ---- */

static bool fz_line[256];

static int
fz_msi(struct vmctx *ctx, uint64_t addr, uint64_t data)
{
	return 0;
}

static int
fz_intx(struct vmctx *ctx, int irq, bool assert)
{
	check(irq >= 16 && irq < 256);
	check(fz_line[irq] != assert); /* only real transitions */
	fz_line[irq] = assert;
	return 0;
}

static const struct pci_intr_ops fz_ops = {fz_msi, fz_intx};

/* ---- The machine ---- */

static const char *const fz_slots[][2] = {
    {"pci.0.0.0.device", "hostbridge"}, {"pci.0.31.0.device", "lpc"},
    {"pci.0.3.0.device", "dummy"},	{"pci.0.4.0.device", "fuzz-all"},
    {"pci.0.4.2.device", "fuzz-all"},	{"pci.0.5.0.device", "fuzz-msix"},
    {"pci.1.2.0.device", "fuzz-msix"},
};
#define FZ_NDEVS (sizeof(fz_slots) / sizeof(fz_slots[0]))

#define FZ_UEFI_MARK 0xbf

static struct vmctx *fz_ctx;
static struct pci_devinst *fz_dev[FZ_NDEVS];
static uint32_t fz_ids[FZ_NDEVS];

static void
fz_setup_once(void)
{
	if (fz_ctx != NULL)
		return;
	fz_ctx = vm_create_detached("fuzz-pci");
	check(fz_ctx != NULL);
	init_config();
	init_inout();
	init_mem();
	pci_emul_set_intr_ops(&fz_ops);
}

/*
 * The configuration of one run.  With a boot ROM the bus-1 device is
 * left out and init_pci() adds piix4-pm: FZ_NDEVS functions either way.
 */
static void
fz_configure(bool bootrom)
{
	fini_config();
	init_config();
	for (size_t i = 0; i < FZ_NDEVS; i++) {
		if (bootrom && strncmp(fz_slots[i][0], "pci.0.", 6) != 0)
			continue;
		check(set_config_value(fz_slots[i][0], fz_slots[i][1]) == 0);
	}
	if (bootrom)
		check(set_config_value("lpc.bootrom", "/fuzz.fd") == 0);
}

static const int fz_widths[4] = {1, 2, 4, 8};

static void
fz_check_invariants(void)
{
	for (size_t i = 0; i < FZ_NDEVS; i++) {
		struct pci_devinst *pi = fz_dev[i];

		check(pci_get_cfgdata32(pi, PCIR_VENDOR) == fz_ids[i]);
		for (int b = 0; b <= PCI_BARMAX; b++) {
			uint32_t reg = pci_get_cfgdata32(pi, PCIR_BAR(b));

			if (pi->pi_bar[b].type == PCIBAR_NONE)
				check(reg == 0);
			else if (pi->pi_bar[b].type != PCIBAR_MEMHI64)
				check((reg & 0xf) ==
					  (pi->pi_bar[b].lobits & 0xf) ||
				      (pi->pi_bar[b].type == PCIBAR_IO &&
				       (reg & 3) == 1));
		}
		if (!pci_msi_enabled(pi))
			check(pci_msi_maxmsgnum(pi) == 0);
	}
}

static void
fz_bar_access(struct fz_input *pg)
{
	struct pci_devinst *pi = fz_dev[fz_take(pg, 1) % FZ_NDEVS];
	int b = (int)(fz_take(pg, 1) % (PCI_BARMAX + 1));
	uint64_t off = fz_take(pg, 2), mode = fz_take(pg, 1),
		 v = fz_take(pg, 8);
	int w = fz_widths[mode & 3];
	uint64_t addr = pi->pi_bar[b].addr + (off % (pi->pi_bar[b].size + 8));

	if (pi->pi_bar[b].type == PCIBAR_IO) {
		uint32_t v32 = (uint32_t)v;

		if (w == 8)
			w = 4;
		inout_emulate(NULL, (mode & 4) != 0, (uint16_t)addr, w, &v32);
	} else if (pi->pi_bar[b].type != PCIBAR_NONE &&
		   pi->pi_bar[b].type != PCIBAR_MEMHI64) {
		mem_emulate(NULL, (mode & 4) == 0, addr, w, &v);
	}
}

static void
fz_interrupt(struct fz_input *pg)
{
	struct pci_devinst *pi = fz_dev[fz_take(pg, 1) % FZ_NDEVS];
	int kind = (int)(fz_take(pg, 1) % 4), index = (int)fz_take(pg, 1) - 8;

	switch (kind) {
	case 0:
		pci_generate_msi(pi, index);
		break;
	case 1:
		pci_generate_msix(pi, index);
		break;
	case 2:
		pci_lintr_assert(pi);
		break;
	default:
		pci_lintr_deassert(pi);
		break;
	}
}

static void
fz_step(struct fz_input *pg)
{
	uint32_t v32;
	uint64_t v64, off;
	int w, sel, op = (int)(fz_take(pg, 1) % 8);

	switch (op) {
	case 0:
		v32 = (uint32_t)fz_take(pg, 4);
		inout_emulate(NULL, false, 0xcf8, 4, &v32);
		break;
	case 1:
	case 2:
		/* Any of 0xcf8-0xcff, any width: reaches every alignment. */
		sel = (int)fz_take(pg, 1);
		w = fz_widths[(sel >> 3) & 3];
		v32 = (uint32_t)fz_take(pg, 4);
		inout_emulate(NULL, op == 1, (uint16_t)(0xcf8 + (sel & 7)),
			      w == 8 ? 4 : w, &v32);
		break;
	case 3:
	case 4:
		off = fz_take(pg, 4) % PCI_EMUL_ECFG_SIZE;
		w = fz_widths[fz_take(pg, 1) & 3];
		v64 = op == 4 ? fz_take(pg, 8) : 0;
		mem_emulate(NULL, op == 4, PCI_EMUL_ECFG_BASE + off, w, &v64);
		if (op == 3 && w < 8)
			check(v64 >> (8 * w) == 0);
		break;
	case 5:
		fz_bar_access(pg);
		break;
	case 6:
		fz_interrupt(pg);
		break;
	default: {
		struct pci_devinst *pi = fz_dev[fz_take(pg, 1) % FZ_NDEVS];
		int b = (int)(fz_take(pg, 1) % (PCI_BARMAX + 1));
		uint32_t all = 0xffffffff, back = 0;

		pci_emul_cfgrw(false, pi->pi_bus, pi->pi_slot, pi->pi_func,
			       PCIR_BAR(b), 4, &all);
		pci_emul_cfgrw(true, pi->pi_bus, pi->pi_slot, pi->pi_func,
			       PCIR_BAR(b), 4, &back);
		/* Sizing reveals a power-of-two size (or nothing). */
		if (pi->pi_bar[b].type == PCIBAR_MEM32) {
			uint32_t m = back & ~0xfu;

			check(((~m + 1) & ~m) == 0);
		}
		break;
	}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input pg = {data, size};
	uint64_t v = 0;

	fz_setup_once();
	fz_configure(size > 0 && data[0] == FZ_UEFI_MARK);
	if (size > 0 && data[0] == FZ_UEFI_MARK) {
		pg.p++;
		pg.n--;
	}
	memset(fz_line, 0, sizeof(fz_line));
	check(init_pci(fz_ctx) == 0);
	check(pci_emul_count_devices() == (int)FZ_NDEVS);
	for (size_t i = 0; i < FZ_NDEVS; i++) {
		struct pci_dev_info info;

		check(pci_emul_get_device((int)i, &info) == 0);
		fz_dev[i] = info.pi;
		fz_ids[i] = pci_get_cfgdata32(info.pi, PCIR_VENDOR);
	}
	for (int steps = 0; pg.n > 0 && steps < 4096; steps++) {
		fz_step(&pg);
		fz_check_invariants();
	}
	pci_emul_fini();
	/* Everything released: ECAM and the config ports float again. */
	mem_emulate(NULL, false, PCI_EMUL_ECFG_BASE, 4, &v);
	check(v == 0xffffffff);
	return 0;
}
