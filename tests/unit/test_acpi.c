/*
 * The ACPI tables, built into a detached VM's memory (no /dev/kvm) and
 * parsed back as an OS would: the RSDP found by scanning the BIOS area,
 * its checksums, every XSDT/RSDT entry's signature and checksum, the
 * FADT against pm.h, the MADT for several topologies, the DSDT's AML
 * header and \_S5, the fw_cfg image replayed through a table loader
 * written here from QEMU's command semantics, and the whole set
 * disassembled by ACPICA's iasl (which must report no errors).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi.h"
#include "aml.h"
#include "config.h"
#include "hpet.h"
#include "pm.h"
#include "rtc.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)

static struct vmctx *
test_vm(void)
{
	struct vmctx *ctx = vm_create_detached("acpi");

	if (ctx != NULL && vm_setup_memory(ctx, 256 * MiB) != 0) {
		vm_destroy(ctx);
		return NULL;
	}
	return ctx;
}

/* A table in guest memory with a valid header and checksum, or NULL. */
static const uint8_t *
table_at(struct vmctx *ctx, uint64_t gpa, const char *sig)
{
	const uint8_t *h = vm_map_gpa(ctx, gpa, 36);
	uint32_t len;

	if (h == NULL || (sig != NULL && memcmp(h, sig, 4) != 0))
		return NULL;
	len = (uint32_t)test_le(h + 4, 4);
	if (len < 36 || vm_map_gpa(ctx, gpa, len) == NULL)
		return NULL;
	return test_sum8(h, len) == 0 ? h : NULL;
}

/* Linux's scan: 16-byte steps through 0xE0000-0xFFFFF. */
static uint64_t
find_rsdp(struct vmctx *ctx)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint8_t *p = vm_map_gpa(ctx, a, 36);

		if (p != NULL && memcmp(p, "RSD PTR ", 8) == 0 &&
		    test_sum8(p, 20) == 0)
			return a;
	}
	return 0;
}

/* The XSDT entry with signature sig, or NULL. */
static const uint8_t *
find_table(struct vmctx *ctx, const uint8_t *xsdt, const char *sig)
{
	uint32_t n = ((uint32_t)test_le(xsdt + 4, 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t =
		    table_at(ctx, test_le(xsdt + 36 + 8 * i, 8), sig);

		if (t != NULL)
			return t;
	}
	return NULL;
}

static const uint8_t *
check_rsdp_and_sdts(struct vmctx *ctx)
{
	uint64_t a = find_rsdp(ctx);
	const uint8_t *r, *xsdt, *rsdt;
	uint32_t nx, nr;
	int good = 0;

	CHECK_EQ_U64(a, ACPI_RSDP_ADDR, "acpi: RSDP found by scan at 0xF2400");
	r = vm_map_gpa(ctx, ACPI_RSDP_ADDR, 36);
	if (r == NULL)
		return NULL;
	CHECK(test_sum8(r, 20) == 0, "acpi: RSDP checksum");
	CHECK(test_sum8(r, 36) == 0, "acpi: RSDP extended checksum");
	CHECK(r[15] == 2 && test_le(r + 20, 4) == 36, "acpi: RSDP revision 2");
	xsdt = table_at(ctx, test_le(r + 24, 8), "XSDT");
	rsdt = table_at(ctx, test_le(r + 16, 4), "RSDT");
	CHECK(xsdt != NULL, "acpi: XSDT valid");
	CHECK(rsdt != NULL, "acpi: RSDT valid");
	if (xsdt == NULL || rsdt == NULL)
		return NULL;
	nx = ((uint32_t)test_le(xsdt + 4, 4) - 36) / 8;
	nr = ((uint32_t)test_le(rsdt + 4, 4) - 36) / 4;
	CHECK(nx == nr && nx >= 3, "acpi: XSDT and RSDT list the same tables");
	for (uint32_t i = 0; i < nx && i < nr; i++) {
		uint64_t x = test_le(xsdt + 36 + 8 * i, 8);

		if (table_at(ctx, x, NULL) != NULL &&
		    x == test_le(rsdt + 36 + 4 * i, 4) && x < ACPI_AREA_END)
			good++;
	}
	CHECK_EQ_U64(good, nx, "acpi: every entry is a valid table");
	return xsdt;
}

static void
check_fadt(struct vmctx *ctx, const uint8_t *xsdt)
{
	const uint8_t *f = find_table(ctx, xsdt, "FACP");
	const uint8_t *facs, *dsdt;
	uint32_t flags;

	CHECK(f != NULL, "acpi: FADT present");
	if (f == NULL)
		return;
	CHECK(test_le(f + 4, 4) == 276 && f[8] == 6, "acpi: FADT revision 6");
	CHECK_EQ_U64(test_le(f + 46, 2), 9, "acpi: FADT SCI_INT");
	CHECK_EQ_U64(test_le(f + 48, 4), PM_SMI_CMD, "acpi: FADT SMI_CMD");
	CHECK(f[52] == PM_ACPI_ENABLE && f[53] == PM_ACPI_DISABLE,
	      "acpi: FADT ACPI_ENABLE/ACPI_DISABLE");
	CHECK_EQ_U64(test_le(f + 56, 4), PM1A_EVT_ADDR,
		     "acpi: FADT PM1a_EVT_BLK");
	CHECK_EQ_U64(test_le(f + 64, 4), PM1A_CNT_ADDR,
		     "acpi: FADT PM1a_CNT_BLK");
	CHECK_EQ_U64(test_le(f + 76, 4), PM_TMR_ADDR, "acpi: FADT PM_TMR_BLK");
	CHECK(f[88] == 4 && f[89] == 2 && f[91] == 4, "acpi: FADT lengths");
	CHECK_EQ_U64(f[108], RTC_CENTURY_IDX, "acpi: FADT CENTURY");
	flags = (uint32_t)test_le(f + 112, 4);
	CHECK(flags & (1u << 10), "acpi: FADT RESET_REG_SUP");
	CHECK(!(flags & (1u << 4)), "acpi: FADT fixed power button");
	CHECK(!(flags & (1u << 20)), "acpi: FADT not HW_REDUCED");
	CHECK(flags & (1u << 8), "acpi: FADT 32-bit PM timer");
	CHECK(f[116] == 1 && f[117] == 8 &&
		  test_le(f + 120, 8) == PM_RESET_PORT,
	      "acpi: FADT RESET_REG is I/O 0xCF9");
	CHECK_EQ_U64(f[128], 6, "acpi: FADT RESET_VALUE");
	CHECK(f[148] == 1 && f[149] == 32 &&
		  test_le(f + 152, 8) == PM1A_EVT_ADDR,
	      "acpi: FADT X_PM1a_EVT_BLK");
	CHECK(f[172] == 1 && f[173] == 16 &&
		  test_le(f + 176, 8) == PM1A_CNT_ADDR,
	      "acpi: FADT X_PM1a_CNT_BLK");
	CHECK(f[208] == 1 && f[209] == 32 && test_le(f + 212, 8) == PM_TMR_ADDR,
	      "acpi: FADT X_PM_TMR_BLK");
	CHECK(test_le(f + 40, 4) == test_le(f + 140, 8),
	      "acpi: FADT DSDT == X_DSDT");
	CHECK(test_le(f + 132, 8) == 0 && test_le(f + 36, 4) % 64 == 0,
	      "acpi: FACS through FIRMWARE_CTRL, 64-byte aligned");
	facs = vm_map_gpa(ctx, test_le(f + 36, 4), 64);
	CHECK(facs != NULL && memcmp(facs, "FACS", 4) == 0 &&
		  test_le(facs + 4, 4) == 64,
	      "acpi: FACS");
	dsdt = table_at(ctx, test_le(f + 140, 8), "DSDT");
	CHECK(dsdt != NULL, "acpi: DSDT valid");
	if (dsdt != NULL) {
		static const uint8_t s5[] = {0x08, '\\', '_', 'S',
					     '5',  '_',	 0x12};
		static const uint8_t pc00[] = {'P',  'C',  '0',	 '0', 0x08,
					       '_',  'H',  'I',	 'D', 0x0c,
					       0x41, 0xd0, 0x0a, 0x03};
		uint32_t len = (uint32_t)test_le(dsdt + 4, 4);

		CHECK(dsdt[8] == 2, "acpi: DSDT revision 2 (64-bit AML)");
		CHECK(memmem(dsdt + 36, len - 36, s5, sizeof(s5)) != NULL,
		      "acpi: DSDT has Name(\\_S5_, Package)");
		CHECK(memmem(dsdt + 36, len - 36, pc00, sizeof(pc00)) != NULL,
		      "acpi: DSDT has PC00 with _HID PNP0A03");
		/* The first op is Scope (0x10) with a sane PkgLength. */
		CHECK(dsdt[36] == 0x10 && (dsdt[37] >> 6) < 4,
		      "acpi: DSDT AML starts with Scope(\\_SB)");
	}
}

struct madt_view {
	int nlapic, nx2apic, nioapic, niso, nnmi;
	uint32_t ids[512];
	int nids;
	uint8_t ioapic_id;
	uint32_t ioapic_addr, ioapic_gsi;
	bool iso0, iso9;
};

static bool
madt_parse(const uint8_t *m, struct madt_view *v)
{
	uint32_t len = (uint32_t)test_le(m + 4, 4);

	memset(v, 0, sizeof(*v));
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;

		if (off + 2 > len || e[1] < 2 || off + e[1] > len)
			return false;
		switch (e[0]) {
		case 0:
			v->nlapic++;
			if (v->nids < 512 && (test_le(e + 4, 4) & 1))
				v->ids[v->nids++] = e[3];
			break;
		case 9:
			v->nx2apic++;
			if (v->nids < 512 && (test_le(e + 8, 4) & 1))
				v->ids[v->nids++] = (uint32_t)test_le(e + 4, 4);
			break;
		case 1:
			v->nioapic++;
			v->ioapic_id = e[2];
			v->ioapic_addr = (uint32_t)test_le(e + 4, 4);
			v->ioapic_gsi = (uint32_t)test_le(e + 8, 4);
			break;
		case 2:
			v->niso++;
			if (e[3] == 0 && test_le(e + 4, 4) == 2)
				v->iso0 = true;
			if (e[3] == 9 && test_le(e + 4, 4) == 9 &&
			    test_le(e + 8, 2) == 0xd)
				v->iso9 = true;
			break;
		case 4:
		case 10:
			v->nnmi++;
			break;
		}
		off += e[1];
	}
	return true;
}

static void
check_madt(struct vmctx *ctx, const uint8_t *xsdt, int ncpus,
	   const uint32_t *want_ids, const char *what)
{
	const uint8_t *m = find_table(ctx, xsdt, "APIC");
	struct madt_view v;
	char name[128];
	bool ids_ok = true;

	snprintf(name, sizeof(name), "acpi: MADT valid (%s)", what);
	CHECK(m != NULL && madt_parse(m, &v), name);
	if (m == NULL || !madt_parse(m, &v))
		return;
	snprintf(name, sizeof(name), "acpi: MADT has %d CPUs (%s)", ncpus,
		 what);
	CHECK_EQ_U64(v.nlapic + v.nx2apic, ncpus, name);
	for (int i = 0; i < ncpus && i < v.nids; i++) {
		if (v.ids[i] != (want_ids != NULL ? want_ids[i] : (uint32_t)i))
			ids_ok = false;
	}
	snprintf(name, sizeof(name), "acpi: MADT APIC ids (%s)", what);
	CHECK(ids_ok && v.nids == ncpus, name);
	snprintf(name, sizeof(name), "acpi: MADT one I/O APIC (%s)", what);
	CHECK(v.nioapic == 1 && v.ioapic_addr == 0xfec00000u &&
		  v.ioapic_gsi == 0,
	      name);
	snprintf(name, sizeof(name), "acpi: MADT overrides IRQ0->2, SCI (%s)",
		 what);
	CHECK(v.niso == 2 && v.iso0 && v.iso9, name);
	snprintf(name, sizeof(name), "acpi: MADT LINT1 NMI (%s)", what);
	CHECK(v.nnmi >= 1, name);
	if (want_ids == NULL && ncpus < 255) {
		snprintf(name, sizeof(name), "acpi: I/O APIC id = ncpus (%s)",
			 what);
		CHECK_EQ_U64(v.ioapic_id, ncpus, name);
	}
}

static void
check_others(struct vmctx *ctx, const uint8_t *xsdt, bool com1)
{
	const uint8_t *h = find_table(ctx, xsdt, "HPET");
	const uint8_t *s = find_table(ctx, xsdt, "SPCR");

	CHECK(h != NULL && test_le(h + 36, 4) == HPET_BLOCK_ID &&
		  test_le(h + 44, 8) == HPET_BASE && h[40] == 0,
	      "acpi: HPET table matches hpet.h");
	if (com1)
		CHECK(s != NULL && test_le(s + 44, 8) == 0x3f8 && s[53] == 4,
		      "acpi: SPCR for COM1");
	else
		CHECK(s == NULL, "acpi: no SPCR without COM1");
	{
		const uint8_t *m = find_table(ctx, xsdt, "MCFG");
		int last = 0;

		/* Only the configured buses: Linux probes every one. */
		for (int bus = 1; bus < 256; bus++)
			last = pci_emul_bus_configured(bus) ? bus : last;
		CHECK(m != NULL && test_le(m + 4, 4) == 60 &&
			  test_le(m + 44, 8) == pci_emul_ecam_base() &&
			  m[54] == 0 && m[55] == last,
		      "acpi: MCFG describes the ECAM of the configured buses");
	}
}

/* ---- the fw_cfg image through a table loader ------------------------- */

struct sim_file {
	const char *name;
	const uint8_t *src;
	size_t len;
	uint8_t *mem; /* where the "firmware" put it */
	uint64_t addr;
};

static struct sim_file *
sim_find(struct sim_file *f, int n, const uint8_t *name)
{
	for (int i = 0; i < n; i++) {
		if (strncmp((const char *)name, f[i].name, 56) == 0)
			return &f[i];
	}
	return NULL;
}

/* Replays the script as SeaBIOS does; returns false on any bad command. */
static bool
sim_loader(const struct acpi_image *img, struct sim_file *files, uint8_t *arena)
{
	size_t used = 0;

	files[0] = (struct sim_file){ACPI_FWCFG_TABLES, img->tables,
				     img->tables_len, NULL, 0};
	files[1] = (struct sim_file){ACPI_FWCFG_RSDP, img->rsdp, img->rsdp_len,
				     NULL, 0};
	if (img->loader_len % 128 != 0)
		return false;
	for (size_t off = 0; off < img->loader_len; off += 128) {
		const uint8_t *e = img->loader + off;
		struct sim_file *a, *b;
		uint32_t o, st, ln;

		switch (test_le(e, 4)) {
		case 1: /* ALLOCATE */
			a = sim_find(files, 2, e + 4);
			if (a == NULL || a->mem != NULL)
				return false;
			used = (used + 63) & ~(size_t)63;
			a->mem = arena + used;
			a->addr = 0x7f000000ULL + used;
			memcpy(a->mem, a->src, a->len);
			used += a->len;
			break;
		case 2: /* ADD_POINTER */
			a = sim_find(files, 2, e + 4);
			b = sim_find(files, 2, e + 60);
			o = (uint32_t)test_le(e + 116, 4);
			if (a == NULL || b == NULL || a->mem == NULL ||
			    b->mem == NULL || (e[120] != 4 && e[120] != 8) ||
			    o > a->len || e[120] > a->len - o)
				return false;
			{
				uint64_t p =
				    test_le(a->mem + o, e[120]) + b->addr;

				for (int i = 0; i < e[120]; i++)
					a->mem[o + i] = (uint8_t)(p >> (8 * i));
			}
			break;
		case 3: /* ADD_CHECKSUM */
			a = sim_find(files, 2, e + 4);
			o = (uint32_t)test_le(e + 60, 4);
			st = (uint32_t)test_le(e + 64, 4);
			ln = (uint32_t)test_le(e + 68, 4);
			if (a == NULL || a->mem == NULL || o >= a->len ||
			    st > a->len || ln > a->len - st)
				return false;
			a->mem[o] =
			    (uint8_t)(a->mem[o] - test_sum8(a->mem + st, ln));
			break;
		default:
			return false;
		}
	}
	return files[0].mem != NULL && files[1].mem != NULL;
}

static void
check_fwcfg_image(void)
{
	const struct acpi_image *img = acpi_get_image();
	struct sim_file files[2];
	uint8_t *arena = calloc(1, 1 << 20);
	const uint8_t *r, *x;
	int good = 0, n;

	CHECK(img != NULL && img->loader_len >= 3 * 128,
	      "acpi: fw_cfg image with a loader script");
	if (img == NULL || arena == NULL) {
		free(arena);
		return;
	}
	CHECK(img->rsdp_len == 36 && img->rsdp[8] == 0 && img->rsdp[32] == 0,
	      "acpi: fw_cfg RSDP checksum left to the loader");
	CHECK(sim_loader(img, files, arena), "acpi: loader script replays");
	if (files[1].mem == NULL || files[0].mem == NULL) {
		free(arena);
		return;
	}
	r = files[1].mem;
	CHECK(test_sum8(r, 20) == 0 && test_sum8(r, 36) == 0,
	      "acpi: loaded RSDP checksums");
	x = files[0].mem + (test_le(r + 24, 8) - files[0].addr);
	CHECK(test_le(r + 24, 8) >= files[0].addr &&
		  test_le(r + 24, 8) < files[0].addr + files[0].len &&
		  memcmp(x, "XSDT", 4) == 0 &&
		  test_sum8(x, test_le(x + 4, 4)) == 0,
	      "acpi: loaded XSDT valid");
	n = (int)((test_le(x + 4, 4) - 36) / 8);
	for (int i = 0; i < n; i++) {
		uint64_t a = test_le(x + 36 + 8 * i, 8) - files[0].addr;
		const uint8_t *t = files[0].mem + a;

		if (a < files[0].len && test_sum8(t, test_le(t + 4, 4)) == 0)
			good++;
	}
	CHECK(n > 0 && good == n, "acpi: loaded tables have valid checksums");
	free(arena);
}

/* ---- iasl ------------------------------------------------------------ */

static bool
have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

/* Writes every table to dir/SIG.dat and disassembles each with iasl. */
static void
check_iasl(struct vmctx *ctx, const uint8_t *xsdt)
{
	char dir[] = "/tmp/beehive-acpi.XXXXXX", path[256], cmd[1024];
	const uint8_t *f = find_table(ctx, xsdt, "FACP");
	uint32_t n = ((uint32_t)test_le(xsdt + 4, 4) - 36) / 8;
	int bad = 0, total = 0;

	CHECK(have_iasl(), "acpi: iasl available (scripts/setup installs "
			   "acpica-tools)");
	if (!have_iasl() || mkdtemp(dir) == NULL || f == NULL)
		return;
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t a =
		    i < n ? test_le(xsdt + 36 + 8 * i, 8) : test_le(f + 140, 8);
		const uint8_t *t = table_at(ctx, a, NULL);
		FILE *fp;
		int rc;

		if (t == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%.4s.dat", dir,
			 (const char *)t);
		fp = fopen(path, "wb");
		if (fp == NULL)
			continue;
		fwrite(t, 1, test_le(t + 4, 4), fp);
		fclose(fp);
		/* iasl exits non-zero on errors; warnings about checksums
		 * or lengths also count. */
		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d %.4s.dat >%.4s.log 2>&1 && "
			 "! grep -Eqi 'error|warning|incorrect|invalid' "
			 "%.4s.log %.4s.dsl",
			 dir, (const char *)t, (const char *)t, (const char *)t,
			 (const char *)t);
		rc = system(cmd);
		total++;
		if (rc != 0) {
			bad++;
			snprintf(cmd, sizeof(cmd), "cat %s/%.4s.log", dir,
				 (const char *)t);
			if (system(cmd) != 0)
				bad++;
		}
	}
	CHECK(total >= 5 && bad == 0, "acpi: iasl disassembles every table "
				      "cleanly");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		bad++;
}

static void
test_default_machine(void)
{
	struct vmctx *ctx = test_vm();
	const uint8_t *xsdt;

	CHECK(ctx != NULL, "acpi: detached VM");
	if (ctx == NULL)
		return;
	init_config();
	set_config_value("lpc.com1.path", "stdio");
	set_config_value("lpc.fwcfg", "qemu");
	CHECK(acpi_build(ctx, 4, true) == 0, "acpi: build for 4 vCPUs");
	xsdt = check_rsdp_and_sdts(ctx);
	if (xsdt != NULL) {
		check_fadt(ctx, xsdt);
		check_madt(ctx, xsdt, 4, NULL, "4 vCPUs");
		check_others(ctx, xsdt, true);
		CHECK(find_table(ctx, xsdt, "SRAT") == NULL &&
			  find_table(ctx, xsdt, "SLIT") == NULL,
		      "acpi: no SRAT or SLIT without NUMA domains");
		check_iasl(ctx, xsdt);
	}
	check_fwcfg_image();
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

/* 2 sockets x 3 cores: core ids are packed in 2 bits, so 3 is skipped. */
static void
test_topology(void)
{
	static const uint32_t ids[] = {0, 1, 2, 4, 5, 6};
	struct vmctx *ctx = test_vm();
	const uint8_t *xsdt;

	if (ctx == NULL)
		return;
	init_config();
	vm_set_topology(ctx, 2, 3, 1, 6);
	CHECK(acpi_build(ctx, 6, true) == 0, "acpi: build for 2x3 topology");
	xsdt = check_rsdp_and_sdts(ctx);
	if (xsdt != NULL) {
		check_madt(ctx, xsdt, 6, ids, "2 sockets x 3 cores");
		check_others(ctx, xsdt, false);
	}
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

/* 300 vCPUs: ids from 255 up need Local x2APIC entries. */
static void
test_many_cpus(void)
{
	struct vmctx *ctx = test_vm();
	const uint8_t *xsdt, *m;
	struct madt_view v;

	if (ctx == NULL)
		return;
	init_config();
	CHECK(acpi_build(ctx, 300, true) == 0, "acpi: build for 300 vCPUs");
	xsdt = check_rsdp_and_sdts(ctx);
	m = xsdt != NULL ? find_table(ctx, xsdt, "APIC") : NULL;
	CHECK(m != NULL && madt_parse(m, &v) && v.nlapic == 255 &&
		  v.nx2apic == 45,
	      "acpi: 255 local APIC and 45 x2APIC entries");
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

static void
test_not_in_memory(void)
{
	struct vmctx *ctx = test_vm();
	const uint8_t *p;
	bool zero = true;

	if (ctx == NULL)
		return;
	init_config();
	CHECK(acpi_build(ctx, 1, false) == 0, "acpi: build, not in memory");
	p = vm_map_gpa(ctx, 0xe0000, 0x20000);
	for (size_t i = 0; p != NULL && i < 0x20000; i++)
		zero = zero && p[i] == 0;
	CHECK(p != NULL && zero, "acpi: BIOS area untouched");
	CHECK(acpi_get_image() != NULL, "acpi: image still built for fw_cfg");
	CHECK(acpi_build(ctx, 0, true) != 0, "acpi: zero vCPUs refused");
	CHECK(acpi_get_image() == NULL, "acpi: failed build leaves no image");
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

/* A VM whose RAM ends below the BIOS area cannot hold the tables. */
static void
test_tiny_vm(void)
{
	struct vmctx *ctx = vm_create_detached("tiny");

	if (ctx == NULL)
		return;
	init_config();
	if (vm_setup_memory(ctx, 512 * 1024) == 0)
		CHECK(acpi_build(ctx, 1, true) != 0,
		      "acpi: 512 KiB VM refused cleanly");
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

static void
test_enabled_key(void)
{
	init_config();
	CHECK(acpi_tables_enabled(), "acpi: tables on by default");
	set_config_value("acpi_tables", "false");
	CHECK(!acpi_tables_enabled(), "acpi: acpi_tables=false turns off");
	fini_config();
}

/* MP spec 1.4: the floating pointer and the configuration table. */
static void
test_mptable(void)
{
	struct vmctx *ctx = test_vm();
	const uint8_t *fp, *ct;
	int cpus = 0, ioapics = 0, ints = 0;
	uint32_t len;

	if (ctx == NULL)
		return;
	init_config();
	CHECK(mptable_build(ctx, 3) == 0, "mptable: build for 3 vCPUs");
	fp = vm_map_gpa(ctx, 0xf0000, 16);
	CHECK(fp != NULL && memcmp(fp, "_MP_", 4) == 0 &&
		  test_sum8(fp, 16) == 0 && fp[8] == 1 && fp[9] == 4,
	      "mptable: floating pointer with valid checksum");
	if (fp == NULL)
		return;
	ct = vm_map_gpa(ctx, test_le(fp + 4, 4), 44);
	len = ct != NULL ? (uint32_t)test_le(ct + 4, 2) : 0;
	CHECK(ct != NULL && memcmp(ct, "PCMP", 4) == 0 &&
		  vm_map_gpa(ctx, test_le(fp + 4, 4), len) != NULL &&
		  test_sum8(ct, len) == 0,
	      "mptable: configuration table checksum");
	for (uint32_t off = 44; ct != NULL && off < len;) {
		uint8_t t = ct[off];

		cpus += t == 0 && (ct[off + 3] & 1);
		ioapics += t == 2;
		ints += t == 3;
		off += t == 0 ? 20 : 8;
	}
	CHECK(cpus == 3 && ioapics == 1 && ints >= 16,
	      "mptable: 3 CPUs, one I/O APIC, the ISA interrupts");
	CHECK(mptable_build(ctx, 300) == 0 && fp[0] == 0,
	      "mptable: 300 vCPUs: no MP table, not an error");
	fini_config();
	vm_destroy(ctx);
}

/* SRAT entries read back: per vCPU its APIC id and domain, memory ranges. */
struct srat_view {
	int ncpu, nx2apic, nmem;
	uint32_t apic[512], cpu_dom[512];
	uint64_t mem_base[16], mem_len[16];
	uint32_t mem_dom[16];
	bool flags_ok;
};

static bool
srat_parse(const uint8_t *t, struct srat_view *v)
{
	uint32_t len = (uint32_t)test_le(t + 4, 4);

	memset(v, 0, sizeof(*v));
	v->flags_ok = true;
	for (uint32_t off = 48; off < len;) {
		const uint8_t *e = t + off;

		if (off + 2 > len || e[1] < 2 || off + e[1] > len)
			return false;
		if (e[0] == 0 && e[1] == 16 && v->ncpu < 512) {
			v->apic[v->ncpu] = e[3];
			v->cpu_dom[v->ncpu++] =
			    e[2] | (uint32_t)test_le(e + 9, 3) << 8;
			v->flags_ok &= test_le(e + 4, 4) == 1;
		} else if (e[0] == 2 && e[1] == 24 && v->ncpu < 512) {
			v->apic[v->ncpu] = (uint32_t)test_le(e + 8, 4);
			v->cpu_dom[v->ncpu++] = (uint32_t)test_le(e + 4, 4);
			v->nx2apic++;
			v->flags_ok &= test_le(e + 12, 4) == 1;
		} else if (e[0] == 1 && e[1] == 40 && v->nmem < 16) {
			v->mem_dom[v->nmem] = (uint32_t)test_le(e + 2, 4);
			v->mem_base[v->nmem] = test_le(e + 8, 8);
			v->mem_len[v->nmem++] = test_le(e + 16, 8);
			v->flags_ok &= test_le(e + 28, 4) == 1;
		} else {
			return false;
		}
		off += e[1];
	}
	return true;
}

/*
 * Two domains over 384 MiB with low memory cut at 128 MiB: domain 0
 * (192 MiB) crosses the PCI hole, domain 1 lies above 4 GiB.
 */
static void
test_numa_tables(void)
{
	struct vmctx *ctx = vm_create_detached("numa");
	const uint8_t *xsdt, *s, *l;
	struct srat_view v;

	if (ctx == NULL)
		return;
	vm_set_lowmem_limit(ctx, 128 * MiB);
	if (vm_setup_memory(ctx, 384 * MiB) != 0) {
		vm_destroy(ctx);
		return;
	}
	init_config();
	set_config_value("domains.0.size", "192M");
	set_config_value("domains.0.cpus", "0,2");
	set_config_value("domains.1.size", "192M");
	set_config_value("domains.1.cpus", "1,3");
	CHECK(acpi_build(ctx, 4, true) == 0, "acpi: build with 2 NUMA domains");
	xsdt = check_rsdp_and_sdts(ctx);
	s = xsdt != NULL ? find_table(ctx, xsdt, "SRAT") : NULL;
	l = xsdt != NULL ? find_table(ctx, xsdt, "SLIT") : NULL;
	CHECK(s != NULL && s[8] == 3 && test_le(s + 36, 4) == 1,
	      "acpi: SRAT listed, checksum, revision 3, reserved field 1");
	CHECK(s != NULL && srat_parse(s, &v) && v.flags_ok,
	      "acpi: SRAT entries well formed and enabled");
	if (s != NULL && srat_parse(s, &v)) {
		CHECK(v.ncpu == 4 && v.nx2apic == 0 && v.apic[0] == 0 &&
			  v.cpu_dom[0] == 0 && v.apic[1] == 1 &&
			  v.cpu_dom[1] == 1 && v.apic[2] == 2 &&
			  v.cpu_dom[2] == 0 && v.apic[3] == 3 &&
			  v.cpu_dom[3] == 1,
		      "acpi: SRAT local APIC affinity per vCPU");
		CHECK(v.nmem == 3 && v.mem_dom[0] == 0 && v.mem_base[0] == 0 &&
			  v.mem_len[0] == 128 * MiB && v.mem_dom[1] == 0 &&
			  v.mem_base[1] == VM_HIGHMEM_BASE &&
			  v.mem_len[1] == 64 * MiB && v.mem_dom[2] == 1 &&
			  v.mem_base[2] == VM_HIGHMEM_BASE + 64 * MiB &&
			  v.mem_len[2] == 192 * MiB,
		      "acpi: SRAT memory: domain 0 split by the PCI hole");
	}
	CHECK(l != NULL && test_le(l + 4, 4) == 36 + 8 + 4 &&
		  test_le(l + 36, 8) == 2 && l[44] == 10 && l[45] == 20 &&
		  l[46] == 20 && l[47] == 10,
	      "acpi: SLIT 2x2, local 10, remote 20");
	if (xsdt != NULL)
		check_iasl(ctx, xsdt);
	acpi_reset();

	/* x2APIC ids (from 255) get Processor Local x2APIC Affinity. */
	fini_config();
	init_config();
	set_config_value("domains.0.size", "256M");
	set_config_value("domains.0.cpus", "0-149");
	set_config_value("domains.1.size", "128M");
	set_config_value("domains.1.cpus", "150-299");
	CHECK(acpi_build(ctx, 300, true) == 0,
	      "acpi: build for 300 vCPUs in 2 domains");
	xsdt = check_rsdp_and_sdts(ctx);
	s = xsdt != NULL ? find_table(ctx, xsdt, "SRAT") : NULL;
	CHECK(s != NULL && srat_parse(s, &v) && v.ncpu == 300 &&
		  v.nx2apic == 45 && v.apic[299] == 299 &&
		  v.cpu_dom[299] == 1 && v.cpu_dom[149] == 0 &&
		  v.cpu_dom[150] == 1,
	      "acpi: SRAT x2APIC affinity for ids above 254");
	acpi_reset();

	/* Domains that do not add up to the VM's RAM are refused. */
	fini_config();
	init_config();
	set_config_value("domains.0.size", "128M");
	CHECK(acpi_build(ctx, 1, true) != 0,
	      "acpi: NUMA domains that do not match the RAM refused");
	acpi_reset();
	fini_config();
	vm_destroy(ctx);
}

int
main(void)
{
	test_mptable();
	test_default_machine();
	test_topology();
	test_many_cpus();
	test_not_in_memory();
	test_tiny_vm();
	test_enabled_key();
	test_numa_tables();
	return test_done();
}
