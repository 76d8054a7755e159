/*
 * The platform a boot ROM (lpc.bootrom, platform_firmware_is_uefi())
 * sees, against what Debian's OVMF for QEMU "pc" needs: the i440FX host
 * bridge and the PIIX4 PM function at 0:1.3, BARs left to the firmware
 * (sizing, placing and moving them, 64-bit and MSI-X BARs included, with
 * decoding toggled), the DSDT windows that cover OVMF's apertures, no
 * ECAM or MCFG, the 24-bit PM timer and the PM1 control block at 0xB004,
 * ports 0x92 and 0xAF00, fw_cfg's qemu flavour with the table-loader
 * files and a RAM-only etc/e820, no tables in low RAM, devices beyond
 * bus 0 refused; and that without a boot ROM all of it is as before.
 * Runs on a detached VM context (no KVM).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acpi.h"
#include "config.h"
#include "e820.h"
#include "fw_cfg.h"
#include "inout.h"
#include "mem.h"
#include "mevent.h"
#include "pci_emul.h"
#include "pci_models.h"
#include "platform_dev.h"
#include "pm.h"
#include "smbios.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct vmctx *ctx;

/* ---- a model with an MSI-X BAR, a 64-bit BAR and an I/O BAR ---- */

static uint64_t
utest_barread(struct pci_devinst *pi, int idx, uint64_t off, int size)
{
	return 0x1000 * (uint64_t)idx + off;
}

static void
utest_barwrite(struct pci_devinst *pi, int idx, uint64_t off, int size,
	       uint64_t val)
{
}

static int
utest_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1af4);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x10c0);
	if (pci_emul_add_msixcap(pi, 2, 0) < 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM64, 0x4000) != 0 ||
	    pci_emul_alloc_bar(pi, 4, PCIBAR_IO, 0x20) != 0)
		return -1;
	return 0;
}

static const struct pci_devemu utest = {
    .pe_emu = "uefi-test",
    .pe_init = utest_init,
    .pe_barread = utest_barread,
    .pe_barwrite = utest_barwrite,
};
PCI_EMUL_SET(utest);

/* ---- helpers ---- */

static void
world(bool bootrom)
{
	test_pci_world_reset();
	if (bootrom)
		set_config_value("lpc.bootrom", "/OVMF_CODE_4M.fd");
}

static bool
has_bytes(const uint8_t *p, size_t len, const void *pat, size_t plen)
{
	for (size_t i = 0; i + plen <= len; i++)
		if (memcmp(p + i, pat, plen) == 0)
			return true;
	return false;
}

static void
le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- PCI ---- */

static void
test_pci_devices(void)
{
	world(true);
	set_config_value("pci.0.0.0.model", "netapp");
	CHECK(init_pci(ctx) == 0, "uefi: PCI builds");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0x12751275,
		     "uefi: a user's hostbridge model wins");
	world(true);
	set_config_value("pci.0.0.0.vendor", "0x1234");
	set_config_value("pci.0.0.0.devid", "0x5678");
	CHECK(init_pci(ctx) == 0 && test_cfg_read(0, 0, 0, 0, 4) == 0x56781234,
	      "uefi: user-set hostbridge ids win");

	world(true);
	fini_config();
	init_config(); /* no hostbridge configured at all */
	set_config_value("lpc.bootrom", "/OVMF_CODE_4M.fd");
	CHECK(init_pci(ctx) == 0, "uefi: PCI builds with nothing configured");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0x12378086,
		     "uefi: host bridge added at 0:0.0 with i440FX ids");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 8, 4) >> 8, 0x060000,
		     "uefi: host bridge class");
	CHECK_EQ_U64(
	    test_cfg_read(0, 1, 0, 0, 4), 0x70008086,
	    "uefi: an LPC bridge added at 0:1.0 when none is configured");

	world(true);
	set_config_value("pci.0.31.0.device", "lpc");
	CHECK(init_pci(ctx) == 0 &&
		  test_cfg_read(0, 31, 0, 0, 4) == 0x70008086 &&
		  test_cfg_read(0, 1, 0, 0, 4) == 0xffffffff,
	      "uefi: the user's LPC bridge at 0:31.0, none added at 0:1.0");

	world(true);
	CHECK(init_pci(ctx) == 0, "uefi: hostbridge machine builds");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0x12378086,
		     "uefi: hostbridge defaults to 8086:1237");
	CHECK_EQ_U64(test_cfg_read(0, 1, 3, 0, 4), 0x71138086,
		     "piix4-pm at 0:1.3: 8086:7113");
	CHECK_EQ_U64(test_cfg_read(0, 1, 3, 8, 4) >> 8, 0x068000,
		     "piix4-pm: class 0x068000");
	CHECK_EQ_U64(test_cfg_read(0, 1, 3, 0x40, 4), PM1A_EVT_ADDR | 1,
		     "piix4-pm: PMBA = PM base | I/O");
	CHECK_EQ_U64(test_cfg_read(0, 1, 3, 0x80, 1), 1,
		     "piix4-pm: PMREGMISC = 1 (PM I/O enabled)");
	test_cfg_write(0, 1, 3, 0x40, 4, 0xb001);
	test_cfg_write(0, 1, 3, 0x80, 1, 0);
	test_cfg_write(0, 1, 3, PCIR_COMMAND, 2, 0xffff);
	CHECK(test_cfg_read(0, 1, 3, 0x40, 4) == (PM1A_EVT_ADDR | 1) &&
		  test_cfg_read(0, 1, 3, 0x80, 1) == 1 &&
		  test_cfg_read(0, 1, 3, PCIR_COMMAND, 2) == 0,
	      "piix4-pm: writes ignored");
	CHECK(pci_model_implemented(pci_model_find("piix4-pm")),
	      "piix4-pm is a registered model");

	world(true);
	set_config_value("pci.0.1.3.device", "dummy");
	CHECK(init_pci(ctx) == 0 && test_cfg_read(0, 1, 3, 0, 4) == 0x000110dd,
	      "uefi: a user's device at 0:1.3 stays");

	world(false);
	CHECK(init_pci(ctx) == 0, "direct boot: PCI builds");
	CHECK_EQ_U64(test_cfg_read(0, 0, 0, 0, 4), 0x12751275,
		     "direct boot: hostbridge still NetApp's");
	CHECK_EQ_U64(test_cfg_read(0, 1, 3, 0, 4), 0xffffffff,
		     "direct boot: nothing at 0:1.3");
}

static void
test_pci_bars(void)
{
	struct pci_window io, m32, m64, b0io, b0m32, b0m64;
	uint64_t bar2;
	uint32_t v;

	world(true);
	set_config_value("pci.0.4.0.device", "uefi-test");
	CHECK(init_pci(ctx) == 0, "uefi: BAR machine builds");
	pci_emul_get_windows(&io, &m32, &m64);
	CHECK(io.base == 0xc000 && io.limit == 0xffff,
	      "uefi: I/O window 0xC000-0xFFFF");
	CHECK(m32.base == vm_get_lowmem_size(ctx) && m32.limit == 0xfbffffffULL,
	      "uefi: mem32 window from the top of low RAM to 0xFBFFFFFF");
	CHECK(m64.base == 32 * GiB && m64.limit == 64 * GiB - 1,
	      "uefi: mem64 window 32 GiB aligned above RAM, 32 GiB long");
	CHECK(pci_emul_get_bus_windows(0, &b0io, &b0m32, &b0m64) == 0 &&
		  b0io.base == io.base && b0io.limit == io.limit &&
		  b0m32.base == m32.base && b0m32.limit == m32.limit &&
		  b0m64.base == m64.base && b0m64.limit == m64.limit,
	      "uefi: bus 0 owns the whole windows");
	CHECK(pci_emul_ecam_size() == 0, "uefi: no ECAM window");
	CHECK_EQ_U64(test_mmio_read(PCI_EMUL_ECFG_BASE, 4), 0xffffffff,
		     "uefi: nothing decodes at the ECAM address");

	CHECK_EQ_U64(test_cfg_read(0, 4, 0, PCIR_COMMAND, 2), 0,
		     "uefi: decoding and bus mastering off at start");
	CHECK(test_cfg_read(0, 4, 0, PCIR_BAR(0), 4) == 0 &&
		  test_cfg_read(0, 4, 0, PCIR_BAR(2), 4) == PCIM_BAR_MEM_64 &&
		  test_cfg_read(0, 4, 0, PCIR_BAR(3), 4) == 0 &&
		  test_cfg_read(0, 4, 0, PCIR_BAR(4), 4) == PCIM_BAR_IO_SPACE,
	      "uefi: BARs unassigned (address 0, type bits only)");

	/* Sizing, as PciBusDxe does with decoding off. */
	test_cfg_write(0, 4, 0, PCIR_BAR(0), 4, 0xffffffff);
	v = test_cfg_read(0, 4, 0, PCIR_BAR(0), 4);
	CHECK(v != 0 && (v & 0xf) == 0 && (~v + 1) >= 0x1000,
	      "uefi: MSI-X BAR sizes");
	test_cfg_write(0, 4, 0, PCIR_BAR(2), 4, 0xffffffff);
	test_cfg_write(0, 4, 0, PCIR_BAR(3), 4, 0xffffffff);
	CHECK(test_cfg_read(0, 4, 0, PCIR_BAR(2), 4) == 0xffffc004 &&
		  test_cfg_read(0, 4, 0, PCIR_BAR(3), 4) == 0xffffffff,
	      "uefi: 64-bit BAR sizes (16 KiB)");
	test_cfg_write(0, 4, 0, PCIR_BAR(4), 4, 0xffffffff);
	CHECK_EQ_U64(test_cfg_read(0, 4, 0, PCIR_BAR(4), 4), 0x0000ffe1,
		     "uefi: I/O BAR sizes (32 bytes)");

	/* Placement in the apertures, then decoding on. */
	bar2 = m64.base + 0x4000;
	test_cfg_write(0, 4, 0, PCIR_BAR(0), 4, 0xc0000000u);
	test_cfg_write(0, 4, 0, PCIR_BAR(2), 4, (uint32_t)bar2);
	test_cfg_write(0, 4, 0, PCIR_BAR(3), 4, (uint32_t)(bar2 >> 32));
	test_cfg_write(0, 4, 0, PCIR_BAR(4), 4, 0xc020);
	CHECK_EQ_U64(test_mmio_read(bar2 + 0x10, 4), 0xffffffff,
		     "uefi: placed but not decoding yet");
	test_cfg_write(0, 4, 0, PCIR_COMMAND, 2,
		       PCIM_CMD_MEMEN | PCIM_CMD_PORTEN);
	CHECK_EQ_U64(test_mmio_read(bar2 + 0x10, 4), 0x2010,
		     "uefi: 64-bit BAR decodes where the firmware put it");
	CHECK_EQ_U64(test_io_read(0xc024, 2), 0x4004,
		     "uefi: I/O BAR decodes where the firmware put it");
	test_mmio_write(0xc0000000u, 4, 0xfee00000u);
	test_mmio_write(0xc0000008u, 4, 0x4041);
	CHECK(test_mmio_read(0xc0000000u, 4) == 0xfee00000u &&
		  test_mmio_read(0xc0000008u, 4) == 0x4041,
	      "uefi: MSI-X table in the placed BAR");

	/* Off, moved, on again: the 64-bit BAR above 4 GiB too. */
	test_cfg_write(0, 4, 0, PCIR_COMMAND, 2, 0);
	CHECK(test_mmio_read(bar2 + 0x10, 4) == 0xffffffff &&
		  test_mmio_read(0xc0000000u, 4) == 0xffffffff,
	      "uefi: decoding off releases the BARs");
	test_cfg_write(0, 4, 0, PCIR_BAR(0), 4, 0xc0100000u);
	test_cfg_write(0, 4, 0, PCIR_BAR(2), 4, (uint32_t)(m64.base + GiB));
	test_cfg_write(0, 4, 0, PCIR_BAR(3), 4,
		       (uint32_t)((m64.base + GiB) >> 32));
	test_cfg_write(0, 4, 0, PCIR_COMMAND, 2, PCIM_CMD_MEMEN);
	CHECK(test_mmio_read(m64.base + GiB + 8, 4) == 0x2008 &&
		  test_mmio_read(bar2 + 8, 4) == 0xffffffff,
	      "uefi: 64-bit BAR moved while off decodes at its new place");
	CHECK_EQ_U64(test_mmio_read(0xc0100008u, 4), 0x4041,
		     "uefi: MSI-X table moved with its BAR");
	CHECK_EQ_U64(test_io_read(0xc024, 2), 0xffff,
		     "uefi: I/O decoding stays off");

	world(false);
	set_config_value("pci.0.4.0.device", "uefi-test");
	CHECK(init_pci(ctx) == 0, "direct boot: BAR machine builds");
	pci_emul_get_windows(&io, &m32, NULL);
	CHECK(io.base == 0x2000 && m32.limit == PCI_EMUL_ECFG_BASE - 1 &&
		  pci_emul_ecam_size() == PCI_EMUL_ECFG_SIZE,
	      "direct boot: bhyve's windows and ECAM");
	CHECK(
	    test_cfg_read(0, 4, 0, PCIR_COMMAND, 2) ==
		    (PCIM_CMD_PORTEN | PCIM_CMD_MEMEN | PCIM_CMD_BUSMASTEREN) &&
		test_cfg_read(0, 4, 0, PCIR_BAR(0), 4) >= m32.base,
	    "direct boot: BARs assigned, decoding on");
	CHECK_EQ_U64(test_mmio_read(PCI_EMUL_ECFG_BASE, 4), 0x12751275,
		     "direct boot: ECAM decodes");
}

static void
test_bus_check(void)
{
	char err[256] = "";

	world(true);
	set_config_value("pci.1.2.0.device", "dummy");
	CHECK(pci_check_tree(err, sizeof(err)) != 0 &&
		  strstr(err, "pci.1: devices on PCI bus 1 are not supported "
			      "with a boot ROM") != NULL,
	      "uefi: a device on bus 1 refused before the VM exists");
	CHECK(init_pci(ctx) != 0, "uefi: init_pci refuses bus 1 too");
	world(false);
	set_config_value("pci.1.2.0.device", "dummy");
	CHECK(pci_check_tree(err, sizeof(err)) == 0 && init_pci(ctx) == 0,
	      "direct boot: bus 1 allowed");
	world(true);
	set_config_value("pci.0.2.0.device", "dummy");
	CHECK(pci_check_tree(err, sizeof(err)) == 0, "uefi: bus 0 allowed");
}

/* ---- ACPI ---- */

/* A table of the relocatable image by signature (offsets, unrelocated). */
static const uint8_t *
image_table(const struct acpi_image *img, const char *sig)
{
	uint64_t x = test_le(img->rsdp + 24, 8);
	const uint8_t *xsdt = img->tables + x;
	uint32_t n = ((uint32_t)test_le(xsdt + 4, 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = img->tables + test_le(xsdt + 36 + 8 * i, 8);

		if (memcmp(t, sig, 4) == 0)
			return t;
	}
	return NULL;
}

static bool
bios_area_zero(void)
{
	const uint8_t *p = vm_map_gpa(ctx, 0xe0000, 0x20000);

	for (size_t i = 0; p != NULL && i < 0x20000; i++)
		if (p[i] != 0)
			return false;
	return p != NULL;
}

/* iasl disassembles the DSDT cleanly and its text has each of 'want'. */
static bool
dsdt_iasl(const uint8_t *dsdt, const char *const *want, int nwant)
{
	char dir[] = "/tmp/beehive-uefi.XXXXXX", cmd[1024];
	size_t len = test_le(dsdt + 4, 4);
	uint8_t *copy;
	bool ok = true;
	FILE *fp;

	if (system("command -v iasl >/dev/null 2>&1") != 0 ||
	    mkdtemp(dir) == NULL)
		return false;
	snprintf(cmd, sizeof(cmd), "%s/DSDT.dat", dir);
	fp = fopen(cmd, "wb");
	copy = malloc(len);
	if (fp == NULL || copy == NULL) {
		if (fp != NULL)
			fclose(fp);
		free(copy);
		return false;
	}
	/* The image leaves checksums to the table loader. */
	memcpy(copy, dsdt, len);
	copy[9] = 0;
	copy[9] = (uint8_t)(0x100 - test_sum8(copy, len));
	fwrite(copy, 1, len, fp);
	fclose(fp);
	free(copy);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d DSDT.dat >log 2>&1 && "
		 "! grep -Eqi 'error|warning' log DSDT.dsl",
		 dir);
	ok = system(cmd) == 0;
	if (!ok)
		printf("# iasl -d DSDT failed or warned\n");
	for (int i = 0; ok && i < nwant; i++) {
		snprintf(cmd, sizeof(cmd), "grep -q -- '%s' %s/DSDT.dsl",
			 want[i], dir);
		ok = system(cmd) == 0;
		if (!ok)
			printf("# DSDT lacks '%s'\n", want[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ok = false;
	return ok;
}

static void
test_acpi(void)
{
	const struct acpi_image *img;
	const uint8_t *f, *d;
	uint8_t pat[16], ecam[8];
	uint32_t dlen;
	uint64_t low = vm_get_lowmem_size(ctx);
	char lowstr[32];
	const char *want[4] = {"0xC000", "0xFBFFFFFF", "0x0000000800000000",
			       lowstr};

	snprintf(lowstr, sizeof(lowstr), "0x%08llX", (unsigned long long)low);
	world(true);
	CHECK(init_pci(ctx) == 0 && e820_init(ctx) == 0, "uefi: acpi machine");
	memset(vm_map_gpa(ctx, 0xe0000, 0x20000), 0, 0x20000);
	CHECK(!acpi_tables_in_memory(),
	      "uefi: tables not in memory by default");
	CHECK(acpi_build(ctx, 2, acpi_tables_in_memory()) == 0,
	      "uefi: tables build");
	CHECK(bios_area_zero(), "uefi: no ACPI tables written to low RAM");
	img = acpi_get_image();
	CHECK(img != NULL && img->loader_len >= 3 * 128,
	      "uefi: image and table-loader for fw_cfg");
	if (img == NULL)
		return;
	CHECK(image_table(img, "MCFG") == NULL, "uefi: no MCFG");
	f = image_table(img, "FACP");
	CHECK(f != NULL && (test_le(f + 112, 4) & (1u << 8)) == 0,
	      "uefi: FADT TMR_VAL_EXT clear (24-bit PM timer)");
	if (f == NULL)
		return;
	d = img->tables + test_le(f + 140, 8);
	dlen = (uint32_t)test_le(d + 4, 4);
	CHECK(memcmp(d, "DSDT", 4) == 0, "uefi: DSDT found");
	le(pat, 0xc000, 2);
	le(pat + 2, 0xffff, 2);
	CHECK(has_bytes(d, dlen, pat, 4),
	      "uefi: DSDT I/O window 0xC000-0xFFFF");
	le(pat, low, 4);
	le(pat + 4, 0xfbffffff, 4);
	CHECK(has_bytes(d, dlen, pat, 8),
	      "uefi: DSDT mem32 window top of low RAM-0xFBFFFFFF");
	le(pat, 32 * GiB, 8);
	le(pat + 8, 64 * GiB - 1, 8);
	CHECK(has_bytes(d, dlen, pat, 16), "uefi: DSDT mem64 window 32-64 GiB");
	le(ecam, PCI_EMUL_ECFG_BASE, 4);
	le(ecam + 4, PCI_EMUL_ECFG_SIZE, 4);
	CHECK(!has_bytes(d, dlen, ecam, 8),
	      "uefi: no PNP0C02 claim of an ECAM window");
	CHECK(dsdt_iasl(d, want, 4), "uefi: iasl reads the DSDT's windows");
	acpi_reset();

	/* The same machine booted directly: tables as before. */
	world(false);
	CHECK(init_pci(ctx) == 0, "direct boot: acpi machine");
	CHECK(acpi_tables_in_memory() &&
		  acpi_build(ctx, 2, acpi_tables_in_memory()) == 0 &&
		  !bios_area_zero(),
	      "direct boot: tables in low RAM");
	img = acpi_get_image();
	f = img != NULL ? image_table(img, "FACP") : NULL;
	CHECK(img != NULL && image_table(img, "MCFG") != NULL && f != NULL &&
		  (test_le(f + 112, 4) & (1u << 8)) != 0,
	      "direct boot: MCFG and a 32-bit PM timer");
	acpi_reset();
	world(true);
	set_config_value("acpi_tables_in_memory", "true");
	CHECK(acpi_tables_in_memory(), "uefi: acpi_tables_in_memory=true wins");
}

/* ---- fw_cfg, SMBIOS ---- */

static void
test_fwcfg(void)
{
	struct fwcfg_softc *sc;
	const uint8_t *e, *l;
	uint32_t elen = 0, llen = 0, len;
	bool ram_only = true, names_ok = true;
	int alloc = 0, ptr = 0, sum = 0;
	uint64_t lowtop = 0;

	world(true);
	CHECK(fwcfg_flavour_is_qemu(), "uefi: fw_cfg qemu flavour by default");
	set_config_value("lpc.fwcfg", "bhyve");
	CHECK(!fwcfg_flavour_is_qemu(), "uefi: lpc.fwcfg=bhyve wins");
	world(false);
	CHECK(!fwcfg_flavour_is_qemu(),
	      "direct boot: bhyve flavour by default");

	world(true);
	memset(vm_map_gpa(ctx, 0xe0000, 0x20000), 0, 0x20000);
	CHECK(init_pci(ctx) == 0 && e820_init(ctx) == 0 &&
		  acpi_build(ctx, 2, acpi_tables_in_memory()) == 0 &&
		  smbios_build(ctx) == 0,
	      "uefi: fw_cfg machine");
	CHECK(bios_area_zero(), "uefi: no SMBIOS written to low RAM");
	sc = fwcfg_create(ctx);
	CHECK(sc != NULL && fwcfg_populate(sc, ctx, 2) == 0,
	      "uefi: fw_cfg populated");
	if (sc == NULL)
		return;
	CHECK(fwcfg_file_data(sc, "etc/acpi/tables", &len) != NULL &&
		  fwcfg_file_data(sc, "etc/acpi/rsdp", &len) != NULL &&
		  fwcfg_file_data(sc, "etc/smbios/smbios-tables", &len) !=
		      NULL &&
		  fwcfg_file_data(sc, "etc/smbios/smbios-anchor", &len) != NULL,
	      "uefi: ACPI and SMBIOS files");
	CHECK(fwcfg_file_data(sc, "etc/hardware-info", &len) == NULL,
	      "uefi: no etc/hardware-info");
	l = fwcfg_file_data(sc, "etc/table-loader", &llen);
	for (uint32_t o = 0; l != NULL && o + 128 <= llen; o += 128) {
		uint32_t cmd = (uint32_t)test_le(l + o, 4);

		alloc += cmd == 1;
		ptr += cmd == 2;
		sum += cmd == 3;
		if (fwcfg_file_data(sc, (const char *)l + o + 4, &len) ==
			NULL ||
		    (cmd == 2 && fwcfg_file_data(sc, (const char *)l + o + 60,
						 &len) == NULL))
			names_ok = false;
	}
	CHECK(l != NULL && llen % 128 == 0 && alloc == 2 && ptr > 0 &&
		  sum > 0 && names_ok,
	      "uefi: table-loader: ALLOCATE x2, ADD_POINTER, ADD_CHECKSUM "
	      "naming fw_cfg files");
	e = fwcfg_file_data(sc, "etc/e820", &elen);
	for (uint32_t o = 0; e != NULL && o + 20 <= elen; o += 20) {
		uint64_t end = test_le(e + o, 8) + test_le(e + o + 8, 8);

		ram_only = ram_only && test_le(e + o + 16, 4) == 1;
		if (end <= 4 * GiB && end > lowtop)
			lowtop = end;
	}
	CHECK(e != NULL && elen > 0 && elen % 20 == 0 && ram_only,
	      "uefi: etc/e820 holds RAM entries only");
	CHECK_EQ_U64(lowtop, vm_get_lowmem_size(ctx),
		     "uefi: etc/e820 RAM ends at the top of low RAM");
	fwcfg_destroy(sc);
	acpi_reset();
	smbios_reset();
	e820_reset();
}

/* ---- PM, ports 0x92 and 0xAF00 ---- */

static int
platform_start(bool bootrom, bool strict)
{
	const struct platform_dev *pm = test_platform_dev("pm");
	const struct platform_dev *pc = test_platform_dev("pc-ports");

	world(bootrom);
	inout_set_strict(strict);
	if (pm == NULL || pc == NULL)
		return -1;
	return pm->pd_init(ctx) == 0 && pc->pd_init(ctx) == 0 ? 0 : -1;
}

/* Writes v to port in a child; its exit status (-1: no exit in 1 s). */
static int
child_write(int port, uint32_t v)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (platform_start(true, false) != 0 || mevent_init() != 0)
			_exit(9);
		alarm(1);
		test_io_write(port, 2, v);
		_exit(mevent_dispatch());
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_pm_and_ports(void)
{
	uint32_t v = 0, max = 0;
	const struct platform_dev *pc = test_platform_dev("pc-ports");

	CHECK(platform_start(true, true) == 0, "uefi: pm and pc-ports start");
	for (int i = 0; i < 1000; i++) {
		v = test_io_read(PM_TMR_ADDR, 4);
		max = v > max ? v : max;
	}
	CHECK(max <= 0xffffff, "uefi: PM timer reads 24 bits");
	CHECK_EQ_U64(test_io_read(0x92, 1), 0x02, "uefi: port 0x92 reads 0x02");
	test_io_write(0x92, 1, 0x01);
	CHECK_EQ_U64(test_io_read(0x92, 1), 0x02,
		     "uefi: port 0x92 writes change nothing");
	v = 0;
	CHECK(inout_emulate(NULL, true, 0xaf00, 4, &v) == 0 &&
		  v == 0xffffffffu && test_io_read(0xaf0b, 1) == 0xff,
	      "uefi: CPU hotplug block 0xAF00-0xAF0B reads all-ones "
	      "(strict I/O)");
	CHECK_EQ_U64(test_io_read(PM_UEFI_PM1_CNT_ADDR, 2),
		     test_io_read(PM1A_CNT_ADDR, 2),
		     "uefi: PM1 control readable at 0xB004");
	if (pc != NULL)
		pc->pd_fini();

	CHECK(platform_start(false, true) == 0, "direct boot: pm starts");
	v = 0;
	CHECK(inout_emulate(NULL, true, 0x92, 1, &v) != 0 &&
		  inout_emulate(NULL, true, 0xaf00, 4, &v) != 0 &&
		  inout_emulate(NULL, true, PM_UEFI_PM1_CNT_ADDR, 2, &v) != 0,
	      "direct boot: no 0x92, 0xAF00 or 0xB004 (strict I/O)");
	inout_set_strict(false);
	init_inout();

	fflush(stdout);
	CHECK_EQ_U64(child_write(PM_UEFI_PM1_CNT_ADDR, 0x2000), 1,
		     "uefi: SLP_EN, SLP_TYP 0 at 0xB004 powers off (exit 1)");
	CHECK_EQ_U64(child_write(PM_UEFI_PM1_CNT_ADDR, 0x2000 | 5 << 10), 1,
		     "uefi: SLP_EN with another SLP_TYP at 0xB004 powers off");
	CHECK(child_write(PM_UEFI_PM1_CNT_ADDR, 0) == -1,
	      "uefi: 0xB004 without SLP_EN does not power off");
}

int
main(void)
{
	ctx = vm_create_detached("uefiplat");
	if (ctx == NULL || vm_setup_memory(ctx, 256 * MiB) != 0) {
		printf("FAIL: detached VM\n");
		return 1;
	}
	init_config();
	test_pci_devices();
	test_pci_bars();
	test_bus_check();
	test_acpi();
	test_fwcfg();
	test_pm_and_ports();
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
