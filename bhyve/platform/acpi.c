/*
 * ACPI tables; see acpi.h for the two ways they reach the guest.  Table
 * layouts are from ACPI 6.5 chapter 5 (section numbers cited per table),
 * the table-loader script format from QEMU's BIOS linker interface
 * (docs/specs/fw_cfg.rst and hw/acpi/bios-linker-loader.c describe the
 * 128-byte commands).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "aml.h"
#include "config.h"
#include "config_numa.h"
#include "config_vm.h"
#include "e820.h"
#include "fw_cfg.h"
#include "fwtable.h"
#include "hpet.h"
#include "platform_dev.h"
#include "pm.h"
#include "rtc.h"
#include "vmmapi.h"

#define ACPI_HDR_LEN	36
#define ACPI_CSUM_OFF	9
#define ACPI_FADT_LEN	276 /* revision 6 (5.2.9) */
#define ACPI_FACS_LEN	64
#define ACPI_RSDP_LEN	36
#define ACPI_RSDP_V1LEN 20

/* Files of the relocatable image. */
enum acpi_file { ACPI_FILE_RSDP, ACPI_FILE_TABLES };

struct acpi_ptr {
	enum acpi_file file; /* where the pointer field is */
	uint32_t off;
	uint8_t size; /* 4 or 8; it points into the tables blob */
};

struct acpi_sum {
	enum acpi_file file;
	uint32_t off; /* the checksum byte */
	uint32_t start;
	uint32_t len;
};

#define ACPI_MAX_FIXUPS 64

struct acpi_builder {
	struct aml_buf tables;
	struct aml_buf rsdp;
	struct acpi_ptr ptrs[ACPI_MAX_FIXUPS];
	int nptrs;
	struct acpi_sum sums[ACPI_MAX_FIXUPS];
	int nsums;
	bool failed;
	/* Offsets of the tables XSDT/RSDT list, in order. */
	uint32_t listed[16];
	int nlisted;
};

static struct acpi_builder acpi_state;
static struct acpi_image acpi_img;
static struct aml_buf acpi_loader;
static bool acpi_built;

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Generic Address Structure (5.2.3.2). */
static void
acpi_gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
	p[0] = space;
	p[1] = bits;
	p[2] = 0; /* bit offset */
	p[3] = access;
	put_le(p + 4, addr, 8);
}

#define GAS_MEMORY    0
#define GAS_IO	      1
#define GAS_ACC_BYTE  1
#define GAS_ACC_WORD  2
#define GAS_ACC_DWORD 3
#define GAS_ACC_QWORD 4

/* System Description Table Header (5.2.6), checksum left zero. */
static void
acpi_header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev,
	    const char *table_id)
{
	char id[9];

	memcpy(p, sig, 4);
	put_le(p + 4, len, 4);
	p[8] = rev;
	p[9] = 0;
	memcpy(p + 10, ACPI_OEM_ID, 6);
	snprintf(id, sizeof(id), "%-8s", table_id);
	memcpy(p + 16, id, 8);
	put_le(p + 24, 1, 4); /* OEM revision */
	memcpy(p + 28, ACPI_CREATOR_ID, 4);
	put_le(p + 32, 1, 4); /* creator revision */
}

static void
acpi_add_sum(struct acpi_builder *ab, enum acpi_file f, uint32_t off,
	     uint32_t start, uint32_t len)
{
	if (ab->nsums == ACPI_MAX_FIXUPS) {
		ab->failed = true;
		return;
	}
	ab->sums[ab->nsums++] = (struct acpi_sum){f, off, start, len};
}

/* Appends a table at 'align' and registers its checksum; its offset. */
static uint32_t
acpi_add_table(struct acpi_builder *ab, const uint8_t *t, size_t len,
	       size_t align, bool checksum)
{
	static const uint8_t zeros[64];
	struct aml_buf *b = &ab->tables;
	uint32_t off;

	while (b->len % align != 0)
		aml_bytes(b, zeros, align - b->len % align);
	off = (uint32_t)b->len;
	aml_bytes(b, t, len);
	if (aml_failed(b) || len > UINT32_MAX - off) {
		ab->failed = true;
		return 0;
	}
	if (checksum)
		acpi_add_sum(ab, ACPI_FILE_TABLES, off + ACPI_CSUM_OFF, off,
			     (uint32_t)len);
	return off;
}

static uint8_t *
acpi_file_data(struct acpi_builder *ab, enum acpi_file f, size_t *len)
{
	struct aml_buf *b = f == ACPI_FILE_RSDP ? &ab->rsdp : &ab->tables;

	*len = b->len;
	return b->data;
}

/* Stores a pointer to tables-blob offset 'target' and records it. */
static void
acpi_set_ptr(struct acpi_builder *ab, enum acpi_file f, uint32_t off,
	     uint8_t size, uint32_t target)
{
	size_t len;
	uint8_t *d = acpi_file_data(ab, f, &len);

	if (ab->failed || d == NULL || off > len || size > len - off ||
	    ab->nptrs == ACPI_MAX_FIXUPS) {
		ab->failed = true;
		return;
	}
	put_le(d + off, target, size);
	ab->ptrs[ab->nptrs++] = (struct acpi_ptr){f, off, size};
}

static void
acpi_list(struct acpi_builder *ab, uint32_t off)
{
	if (ab->nlisted == (int)(sizeof(ab->listed) / sizeof(ab->listed[0]))) {
		ab->failed = true;
		return;
	}
	ab->listed[ab->nlisted++] = off;
}

/* ---- what the tables describe ------------------------------------- */

/* The device number of "-s N,lpc" on bus 0, else bhyve's usual 31. */
static int
acpi_find_lpc_slot(void)
{
	char key[40];
	const char *v;

	for (int slot = 0; slot < 32; slot++) {
		snprintf(key, sizeof(key), "pci.0.%d.0.device", slot);
		v = get_config_value(key);
		if (v != NULL && strcmp(v, "lpc") == 0)
			return slot;
	}
	return 31;
}

/* Drops malformed routes (the DSDT encodes slot and pin in bit fields). */
static void
acpi_pci_keep_valid(struct acpi_pci_info *pci)
{
	int j = 0;

	for (int i = 0; i < pci->nroutes; i++) {
		const struct pci_intx_route *r = &pci->routes[i];

		if ((unsigned int)r->bus < ACPI_PCI_MAX_BUSES &&
		    (unsigned int)r->pin - 1 < 4 && (unsigned int)r->slot < 32)
			pci->routes[j++] = *r;
	}
	pci->nroutes = j;
}

void
acpi_pci_info_get(struct vmctx *ctx, struct acpi_pci_info *pci)
{
	int n;

	memset(pci, 0, sizeof(*pci));
	pci->lpc_slot = acpi_find_lpc_slot();
	/* Bus 0 always has a root bridge: the LPC devices live there. */
	pci->buses[0].bus = 0;
	pci_emul_get_windows(&pci->buses[0].io, &pci->buses[0].mem32,
			     &pci->buses[0].mem64);
	pci->nbuses = 1;
	for (int bus = 0; bus < ACPI_PCI_MAX_BUSES; bus++) {
		struct acpi_pci_bus *b = &pci->buses[pci->nbuses];

		if (!pci_emul_bus_configured(bus))
			continue;
		if (bus == 0) {
			b = &pci->buses[0];
		} else {
			b->bus = bus;
			pci->nbuses++;
		}
		pci_emul_get_bus_windows(bus, &b->io, &b->mem32, &b->mem64);
	}
	pci->ecam_base = pci_emul_ecam_base();
	pci->ecam_size = pci_emul_ecam_size();
	pci->routes = calloc(ACPI_PCI_MAX_ROUTES, sizeof(*pci->routes));
	if (pci->routes != NULL) {
		n = pci_emul_get_intx_routes(pci->routes, ACPI_PCI_MAX_ROUTES);
		pci->nroutes = n < 0			 ? 0
			       : n > ACPI_PCI_MAX_ROUTES ? ACPI_PCI_MAX_ROUTES
							 : n;
	}
	acpi_pci_keep_valid(pci);
}

void
acpi_pci_info_free(struct acpi_pci_info *pci)
{
	free(pci->routes);
	pci->routes = NULL;
	pci->nroutes = 0;
}

/* ---- DSDT (5.2.11.1) ---------------------------------------------- */

struct acpi_com {
	const char *name;
	uint16_t port;
	uint8_t irq;
};

static const struct acpi_com acpi_coms[] = {
    {"COM1", 0x3f8, 4},
    {"COM2", 0x2f8, 3},
    {"COM3", 0x3e8, 4},
    {"COM4", 0x2e8, 3},
};

static bool
acpi_com_configured(int i)
{
	char key[32];

	snprintf(key, sizeof(key), "lpc.com%d.path", i + 1);
	return get_config_value(key) != NULL;
}

/* Name(_CRS, ResourceTemplate(){ IO(...), IRQNoFlags(){irq} }). */
static void
dsdt_crs_io_irq(struct aml_buf *b, uint16_t port, uint8_t len, int irq)
{
	size_t m;

	aml_name(b, "_CRS");
	m = aml_buffer_begin(b);
	aml_res_io(b, port, port, 1, len);
	if (irq >= 0)
		aml_res_irq_noflags(b, (uint16_t)(1u << irq));
	aml_res_end_tag(b);
	aml_buffer_end(b, m);
}

static void
dsdt_simple_device(struct aml_buf *b, const char *name, const char *hid,
		   int uid, uint16_t port, uint8_t len, int irq)
{
	size_t m = aml_device_begin(b, name);

	aml_name_eisaid(b, "_HID", hid);
	if (uid >= 0)
		aml_name_integer(b, "_UID", (uint64_t)uid);
	dsdt_crs_io_irq(b, port, len, irq);
	aml_end(b, m);
}

/* The legacy devices behind the LPC bridge (PNP ids: Microsoft's "PNP
 * ID and ACPI ID Registry"). */
static void
dsdt_isa(struct aml_buf *b, const struct acpi_pci_info *pci)
{
	size_t m, d, c;

	m = aml_device_begin(b, "ISA");
	aml_name_integer(b, "_ADR", (uint64_t)pci->lpc_slot << 16);

	/* 8259 pair, 8254 timer: KVM's in-kernel models. */
	d = aml_device_begin(b, "PIC");
	aml_name_eisaid(b, "_HID", "PNP0000");
	aml_name(b, "_CRS");
	c = aml_buffer_begin(b);
	aml_res_io(b, 0x20, 0x20, 1, 2);
	aml_res_io(b, 0xa0, 0xa0, 1, 2);
	aml_res_irq_noflags(b, 1u << 2);
	aml_res_end_tag(b);
	aml_buffer_end(b, c);
	aml_end(b, d);
	dsdt_simple_device(b, "TIMR", "PNP0100", -1, 0x40, 4, 0);
	dsdt_simple_device(b, "RTC", "PNP0B00", -1, RTC_IO_INDEX, 2, RTC_IRQ);

	/* i8042 keyboard controller: two single ports and IRQ 1. */
	d = aml_device_begin(b, "KBD");
	aml_name_eisaid(b, "_HID", "PNP0303");
	aml_name(b, "_CRS");
	c = aml_buffer_begin(b);
	aml_res_io(b, 0x60, 0x60, 1, 1);
	aml_res_io(b, 0x64, 0x64, 1, 1);
	aml_res_irq_noflags(b, 1u << 1);
	aml_res_end_tag(b);
	aml_buffer_end(b, c);
	aml_end(b, d);

	for (int i = 0; i < 4; i++) {
		if (acpi_com_configured(i))
			dsdt_simple_device(b, acpi_coms[i].name, "PNP0501",
					   i + 1, acpi_coms[i].port, 8,
					   acpi_coms[i].irq);
	}

	/* QEMU's fw_cfg device, so Linux's qemu_fw_cfg driver binds. */
	if (fwcfg_flavour_is_qemu()) {
		d = aml_device_begin(b, "FWCF");
		aml_name_string_value(b, "_HID", "QEMU0002");
		aml_name_integer(b, "_STA", 0x0b);
		dsdt_crs_io_irq(b, 0x510, 12, -1);
		aml_end(b, d);
	}
	aml_end(b, m);
}

/* _PRT (6.2.13): {address (slot, any function), pin, source, GSI}. */
static void
dsdt_prt(struct aml_buf *b, const struct acpi_pci_info *pci, int bus)
{
	size_t m, e;
	int n = 0;

	for (int i = 0; i < pci->nroutes; i++)
		n += pci->routes[i].bus == bus;
	aml_name(b, "_PRT");
	m = aml_package_begin(b, (unsigned int)(n > 255 ? 255 : n));
	for (int i = 0, done = 0; i < pci->nroutes && done < 255; i++) {
		const struct pci_intx_route *r = &pci->routes[i];

		if (r->bus != bus)
			continue;
		e = aml_package_begin(b, 4);
		aml_integer(b, (uint64_t)r->slot << 16 | 0xffff);
		aml_integer(b, (uint64_t)(r->pin - 1));
		aml_integer(b, 0);
		aml_integer(b, (uint64_t)r->ioapic_irq);
		aml_end(b, e);
		done++;
	}
	aml_end(b, m);
}

static bool
win_ok(const struct pci_window *w, uint64_t max)
{
	return w->base < w->limit && w->limit <= max;
}

/* A root bridge's resources: its bus number, for bus 0 the config
 * ports and the legacy ranges, its windows (6.4.3.5 address space
 * descriptors, producer side). */
static void
dsdt_pci_crs(struct aml_buf *b, const struct acpi_pci_bus *pb)
{
	size_t m;

	aml_name(b, "_CRS");
	m = aml_buffer_begin(b);
	aml_res_word_bus_number(b, (uint16_t)pb->bus, (uint16_t)pb->bus);
	if (pb->bus == 0) {
		aml_res_io(b, 0xcf8, 0xcf8, 1, 8);
		aml_res_word_io(b, 0x0000, 0x0cf7);
		if (win_ok(&pb->io, 0xffff) && pb->io.base > 0xd00)
			aml_res_word_io(b, 0x0d00, (uint16_t)(pb->io.base - 1));
		/* The legacy VGA window. */
		aml_res_dword_memory(b, 0xa0000, 0xbffff);
	}
	if (win_ok(&pb->io, 0xffff))
		aml_res_word_io(b, (uint16_t)pb->io.base,
				(uint16_t)pb->io.limit);
	if (win_ok(&pb->mem32, 0xffffffffULL))
		aml_res_dword_memory(b, (uint32_t)pb->mem32.base,
				     (uint32_t)pb->mem32.limit);
	if (win_ok(&pb->mem64, UINT64_MAX))
		aml_res_qword_memory(b, pb->mem64.base, pb->mem64.limit);
	aml_res_end_tag(b);
	aml_buffer_end(b, m);
}

static void
dsdt_pci_root(struct aml_buf *b, const struct acpi_pci_info *pci,
	      const struct acpi_pci_bus *pb)
{
	char name[8];
	size_t m;

	snprintf(name, sizeof(name), "PC%02X", (unsigned int)pb->bus & 0xff);
	m = aml_device_begin(b, name);
	aml_name_eisaid(b, "_HID", "PNP0A03");
	aml_name_integer(b, "_ADR", 0);
	aml_name_integer(b, "_UID", (uint64_t)pb->bus);
	aml_name_integer(b, "_BBN", (uint64_t)pb->bus);
	aml_name_integer(b, "_SEG", 0);
	dsdt_pci_crs(b, pb);
	dsdt_prt(b, pci, pb->bus);
	if (pb->bus == 0)
		dsdt_isa(b, pci);
	aml_end(b, m);
}

/* Motherboard resources: the ECAM window (Linux checks MMCONFIG is
 * claimed here, PCI Firmware Spec 3.2 section 4.1.2) and the PM ports. */
static void
dsdt_motherboard(struct aml_buf *b, const struct acpi_pci_info *pci)
{
	size_t m = aml_device_begin(b, "MBRS"), c;

	aml_name_eisaid(b, "_HID", "PNP0C02");
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	c = aml_buffer_begin(b);
	aml_res_io(b, PM1A_EVT_ADDR, PM1A_EVT_ADDR, 1, 12);
	if (platform_firmware_is_uefi())
		aml_res_io(b, PM_UEFI_PM1_CNT_ADDR, PM_UEFI_PM1_CNT_ADDR, 1, 2);
	if (pci->ecam_size != 0 &&
	    pci->ecam_base + pci->ecam_size <= 0x100000000ULL)
		aml_res_memory32_fixed(b, false, (uint32_t)pci->ecam_base,
				       (uint32_t)pci->ecam_size);
	aml_res_end_tag(b);
	aml_buffer_end(b, c);
	aml_end(b, m);
}

static void
dsdt_hpet(struct aml_buf *b)
{
	size_t m = aml_device_begin(b, "HPET"), c;

	aml_name_eisaid(b, "_HID", "PNP0103");
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	c = aml_buffer_begin(b);
	aml_res_memory32_fixed(b, false, (uint32_t)HPET_BASE, HPET_MMIO_SIZE);
	aml_res_end_tag(b);
	aml_buffer_end(b, c);
	aml_end(b, m);
}

/* Processor devices (8.4, ACPI0007) whose _UID matches the MADT. */
static void
dsdt_cpus(struct aml_buf *b, int ncpus)
{
	char name[8];

	for (int i = 0; i < ncpus; i++) {
		size_t m;

		snprintf(name, sizeof(name), "C%03X", (unsigned int)i & 0xfff);
		m = aml_device_begin(b, name);
		aml_name_string_value(b, "_HID", "ACPI0007");
		aml_name_integer(b, "_UID", (uint64_t)i);
		aml_end(b, m);
	}
}

int
acpi_build_dsdt(struct aml_buf *b, int ncpus, const struct acpi_pci_info *pci)
{
	uint8_t hdr[ACPI_HDR_LEN];
	size_t m;

	/* DefinitionBlock header; revision 2 means 64-bit integers. */
	acpi_header(hdr, "DSDT", 0, 2, "BVDSDT");
	aml_bytes(b, hdr, sizeof(hdr));
	m = aml_scope_begin(b, "\\_SB");
	for (int i = 0; i < pci->nbuses; i++)
		dsdt_pci_root(b, pci, &pci->buses[i]);
	dsdt_motherboard(b, pci);
	dsdt_hpet(b);
	dsdt_cpus(b, ncpus);
	aml_end(b, m);

	/* \_S5: SLP_TYPa, SLP_TYPb as the PM1 control block decodes them. */
	aml_name(b, "\\_S5");
	m = aml_package_begin(b, 2);
	aml_integer(b, PM_SLP_TYP_S5);
	aml_integer(b, 0);
	aml_end(b, m);
	if (aml_failed(b) || b->len > UINT32_MAX)
		return -1;
	put_le(b->data + 4, b->len, 4);
	return 0;
}

/* ---- FADT (5.2.9), FACS (5.2.10) ---------------------------------- */

#define FADT_F_WBINVD	     (1u << 0)
#define FADT_F_PROC_C1	     (1u << 2)
#define FADT_F_SLP_BUTTON    (1u << 5) /* no fixed sleep button */
#define FADT_F_FIX_RTC	     (1u << 6)
#define FADT_F_TMR_VAL_EXT   (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)
/* PWR_BUTTON (bit 4) stays clear: the fixed-feature power button. */

#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042		 (1u << 1)
#define FADT_BOOT_NO_VGA	 (1u << 2)

static void
acpi_build_fadt(uint8_t *f)
{
	memset(f, 0, ACPI_FADT_LEN);
	acpi_header(f, "FACP", ACPI_FADT_LEN, 6, "BVFACP");
	put_le(f + 46, ACPI_SCI_IRQ, 2);
	put_le(f + 48, PM_SMI_CMD, 4);
	f[52] = PM_ACPI_ENABLE;
	f[53] = PM_ACPI_DISABLE;
	put_le(f + 56, PM1A_EVT_ADDR, 4);
	put_le(f + 64, PM1A_CNT_ADDR, 4);
	put_le(f + 76, PM_TMR_ADDR, 4);
	f[88] = 4; /* PM1_EVT_LEN */
	f[89] = 2; /* PM1_CNT_LEN */
	f[91] = 4; /* PM_TMR_LEN */
	/* C2/C3 latencies above 100/1000 us mean "not supported". */
	put_le(f + 96, 101, 2);
	put_le(f + 98, 1001, 2);
	f[108] = RTC_CENTURY_IDX;
	put_le(f + 109,
	       FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042 | FADT_BOOT_NO_VGA, 2);
	put_le(f + 112,
	       FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
		   FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP |
		   (pm_timer_is_24bit() ? 0 : FADT_F_TMR_VAL_EXT),
	       4);
	acpi_gas(f + 116, GAS_IO, 8, GAS_ACC_BYTE, PM_RESET_PORT);
	f[128] = ACPI_RESET_VALUE;
	f[131] = 5; /* FADT minor version: ACPI 6.5 */
	acpi_gas(f + 148, GAS_IO, 32, GAS_ACC_WORD, PM1A_EVT_ADDR);
	acpi_gas(f + 172, GAS_IO, 16, GAS_ACC_WORD, PM1A_CNT_ADDR);
	acpi_gas(f + 208, GAS_IO, 32, GAS_ACC_DWORD, PM_TMR_ADDR);
	memcpy(f + 268, "BHYVE\0\0\0", 8); /* hypervisor vendor identity */
}

static void
acpi_build_facs(uint8_t *f)
{
	memset(f, 0, ACPI_FACS_LEN);
	memcpy(f, "FACS", 4);
	put_le(f + 4, ACPI_FACS_LEN, 4);
	f[32] = 2; /* version */
}

/* ---- MADT (5.2.12) ------------------------------------------------- */

#define MADT_LAPIC	 0
#define MADT_IOAPIC	 1
#define MADT_ISO	 2
#define MADT_LAPIC_NMI	 4
#define MADT_X2APIC	 9
#define MADT_X2APIC_NMI	 10
#define MADT_PCAT_COMPAT 1
#define MADT_ENABLED	 1
/* MPS INTI flags: polarity bits 1-0, trigger mode bits 3-2. */
#define MPS_ACTIVE_HIGH 0x1
#define MPS_LEVEL	0xc
#define MPS_EDGE	0x4

uint32_t
acpi_apic_id(struct vmctx *ctx, int vcpu)
{
	uint16_t sockets, cores, threads, maxcpus;
	unsigned int smt = 0, core = 0;
	uint32_t id = (uint32_t)vcpu;

	/* The same packing as libvmmapi's CPUID policy (vmm_cpuid.c):
	 * power-of-two fields for thread, core and package. */
	vm_get_topology(ctx, &sockets, &cores, &threads, &maxcpus);
	if (threads == 0 || cores == 0)
		return id;
	while ((1u << smt) < threads)
		smt++;
	while ((1u << core) < cores)
		core++;
	return (id / ((uint32_t)threads * cores)) << (smt + core) |
	       ((id / threads) % cores) << smt | id % threads;
}

static int
acpi_build_madt(struct acpi_builder *ab, struct vmctx *ctx, int ncpus)
{
	static const uint8_t hdr[ACPI_HDR_LEN];
	struct aml_buf t;
	uint8_t e[16];
	uint32_t max_id = 0;
	bool x2 = false;
	uint32_t off;

	aml_init(&t);
	aml_bytes(&t, hdr,
		  sizeof(hdr)); /* filled in once the length is known */
	put_le(e, ACPI_LAPIC_ADDR, 4);
	put_le(e + 4, MADT_PCAT_COMPAT, 4);
	aml_bytes(&t, e, 8);
	for (int i = 0; i < ncpus; i++) {
		uint32_t id = acpi_apic_id(ctx, i);

		memset(e, 0, sizeof(e));
		if (id < 255) {
			e[0] = MADT_LAPIC;
			e[1] = 8;
			e[2] = (uint8_t)i; /* processor UID, < 255 too */
			e[3] = (uint8_t)id;
			put_le(e + 4, MADT_ENABLED, 4);
			aml_bytes(&t, e, 8);
		} else {
			/* 5.2.12.12: x2APIC ids that do not fit 8 bits. */
			e[0] = MADT_X2APIC;
			e[1] = 16;
			put_le(e + 4, id, 4);
			put_le(e + 8, MADT_ENABLED, 4);
			put_le(e + 12, (uint32_t)i, 4);
			aml_bytes(&t, e, 16);
			x2 = true;
		}
		if (id > max_id)
			max_id = id;
	}
	/* The I/O APIC takes the id after the last CPU's, as in bhyve. */
	memset(e, 0, sizeof(e));
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = (uint8_t)(max_id + 1 < 255 ? max_id + 1 : 0);
	put_le(e + 4, ACPI_IOAPIC_ADDR, 4);
	put_le(e + 8, 0, 4); /* GSI base */
	aml_bytes(&t, e, 12);
	/* ISA IRQ 0 (the PIT) is wired to pin 2; the SCI is level. */
	memset(e, 0, sizeof(e));
	e[0] = MADT_ISO;
	e[1] = 10;
	e[3] = 0;
	put_le(e + 4, 2, 4);
	put_le(e + 8, 0, 2);
	aml_bytes(&t, e, 10);
	e[3] = ACPI_SCI_IRQ;
	put_le(e + 4, ACPI_SCI_IRQ, 4);
	put_le(e + 8, MPS_ACTIVE_HIGH | MPS_LEVEL, 2);
	aml_bytes(&t, e, 10);
	/* LINT1 of every local APIC is NMI (5.2.12.7, UID 0xff: all). */
	memset(e, 0, sizeof(e));
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = 0xff;
	put_le(e + 3, MPS_ACTIVE_HIGH | MPS_EDGE, 2);
	e[5] = 1;
	aml_bytes(&t, e, 6);
	if (x2) {
		memset(e, 0, sizeof(e));
		e[0] = MADT_X2APIC_NMI;
		e[1] = 12;
		put_le(e + 2, MPS_ACTIVE_HIGH | MPS_EDGE, 2);
		put_le(e + 4, 0xffffffffu, 4);
		e[8] = 1;
		aml_bytes(&t, e, 12);
	}
	if (aml_failed(&t) || t.len > UINT32_MAX) {
		aml_free(&t);
		return -1;
	}
	acpi_header(t.data, "APIC", (uint32_t)t.len, 5, "BVMADT");
	off = acpi_add_table(ab, t.data, t.len, 8, true);
	acpi_list(ab, off);
	aml_free(&t);
	return 0;
}

/* ---- SRAT (5.2.16), SLIT (5.2.17): the NUMA domains (-n) ----------- */

#define SRAT_LAPIC	   0 /* Processor Local APIC/SAPIC Affinity */
#define SRAT_MEMORY	   1 /* Memory Affinity */
#define SRAT_X2APIC	   2 /* Processor Local x2APIC Affinity */
#define SRAT_ENABLED	   1
#define SRAT_HDR_RESERVED1 1 /* "must be 1" for backward compatibility */

static int
acpi_build_srat(struct acpi_builder *ab, struct vmctx *ctx,
		const struct numa_config *nc)
{
	static const uint8_t hdr[ACPI_HDR_LEN + 12];
	struct numa_range r[2];
	struct aml_buf t;
	uint8_t e[40];

	aml_init(&t);
	aml_bytes(&t, hdr, sizeof(hdr));
	for (int i = 0; i < nc->ncpus; i++) {
		uint32_t id = acpi_apic_id(ctx, i);
		uint32_t dom = (uint32_t)nc->cpu_domain[i];

		memset(e, 0, sizeof(e));
		if (id < 255) {
			/* 5.2.16.1: the domain's bits 7:0 and 31:8 apart. */
			e[0] = SRAT_LAPIC;
			e[1] = 16;
			e[2] = (uint8_t)dom;
			e[3] = (uint8_t)id;
			put_le(e + 4, SRAT_ENABLED, 4);
			put_le(e + 9, dom >> 8, 3);
			aml_bytes(&t, e, 16);
		} else {
			e[0] = SRAT_X2APIC; /* 5.2.16.3 */
			e[1] = 24;
			put_le(e + 4, dom, 4);
			put_le(e + 8, id, 4);
			put_le(e + 12, SRAT_ENABLED, 4);
			aml_bytes(&t, e, 24);
		}
	}
	for (int d = 0; d < nc->ndomains; d++) {
		int n = numa_domain_ranges(&nc->dom[d], vm_get_lowmem_size(ctx),
					   VM_HIGHMEM_BASE, r);

		for (int k = 0; k < n; k++) {
			memset(e, 0, sizeof(e)); /* 5.2.16.2 */
			e[0] = SRAT_MEMORY;
			e[1] = 40;
			put_le(e + 2, (uint64_t)d, 4);
			put_le(e + 8, r[k].gpa, 8);
			put_le(e + 16, r[k].len, 8);
			put_le(e + 28, SRAT_ENABLED, 4);
			aml_bytes(&t, e, 40);
		}
	}
	if (aml_failed(&t) || t.len > UINT32_MAX) {
		aml_free(&t);
		return -1;
	}
	acpi_header(t.data, "SRAT", (uint32_t)t.len, 3, "BVSRAT");
	put_le(t.data + ACPI_HDR_LEN, SRAT_HDR_RESERVED1, 4);
	acpi_list(ab, acpi_add_table(ab, t.data, t.len, 8, true));
	aml_free(&t);
	return 0;
}

/* Every domain at the conventional local and remote distances. */
static void
acpi_build_slit(struct acpi_builder *ab, int ndomains)
{
	uint8_t t[ACPI_HDR_LEN + 8 + NUMA_MAX_DOMAINS * NUMA_MAX_DOMAINS];
	size_t len = ACPI_HDR_LEN + 8 + (size_t)ndomains * (size_t)ndomains;

	memset(t, 0, sizeof(t));
	acpi_header(t, "SLIT", (uint32_t)len, 1, "BVSLIT");
	put_le(t + ACPI_HDR_LEN, (uint64_t)ndomains, 8);
	for (int i = 0; i < ndomains; i++) {
		for (int j = 0; j < ndomains; j++)
			t[ACPI_HDR_LEN + 8 + i * ndomains + j] =
			    i == j ? NUMA_DIST_LOCAL : NUMA_DIST_REMOTE;
	}
	acpi_list(ab, acpi_add_table(ab, t, len, 8, true));
}

/* SRAT and SLIT when domains.* describe NUMA domains; else nothing. */
static int
acpi_build_numa(struct acpi_builder *ab, struct vmctx *ctx, int ncpus)
{
	uint64_t ram = vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx);
	struct numa_config nc;
	char err[256];
	int rc = 0;

	if (config_get_numa(&nc, ram, ncpus, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: acpi: %s\n", err);
		rc = -1;
	} else if (nc.ndomains > 0 && nc.memsize != ram) {
		fprintf(stderr,
			"bhyve: acpi: NUMA domains hold %llu MiB, the VM "
			"%llu MiB\n",
			(unsigned long long)(nc.memsize >> 20),
			(unsigned long long)(ram >> 20));
		rc = -1;
	} else if (nc.ndomains > 0) {
		rc = acpi_build_srat(ab, ctx, &nc);
		acpi_build_slit(ab, nc.ndomains);
	}
	config_numa_free(&nc);
	return rc;
}

/* ---- HPET (IA-PC HPET 1.0a, 3.2.4), MCFG (PCI FW 3.2, 4.1.2) ------- */

static void
acpi_build_hpet(struct acpi_builder *ab)
{
	uint8_t t[56];

	memset(t, 0, sizeof(t));
	acpi_header(t, "HPET", sizeof(t), 1, "BVHPET");
	put_le(t + 36, HPET_BLOCK_ID, 4);
	acpi_gas(t + 40, GAS_MEMORY, 64, 0, HPET_BASE);
	t[52] = 0; /* HPET number */
	put_le(t + 53, HPET_MIN_PERIODIC_TICKS, 2);
	t[55] = 0; /* no page protection */
	acpi_list(ab, acpi_add_table(ab, t, sizeof(t), 8, true));
}

static void
acpi_build_mcfg(struct acpi_builder *ab, const struct acpi_pci_info *pci)
{
	uint8_t t[60];
	uint64_t buses = pci->ecam_size >> 20;
	int last = 0;

	if (pci->ecam_size == 0)
		return;
	/*
	 * Describe only the buses that exist.  Linux probes every bus the
	 * MCFG covers for peer bridges (32 config reads a bus), and each read
	 * is an exit: 256 buses cost a visible slice of boot time.
	 */
	for (int bus = 1; bus < 256 && (uint64_t)bus < buses; bus++) {
		if (pci_emul_bus_configured(bus))
			last = bus;
	}
	buses = (uint64_t)last + 1;
	memset(t, 0, sizeof(t));
	acpi_header(t, "MCFG", sizeof(t), 1, "BVMCFG");
	put_le(t + 44, pci->ecam_base, 8);
	put_le(t + 52, 0, 2); /* segment */
	t[54] = 0;	      /* start bus */
	t[55] = (uint8_t)(buses > 256 ? 255 : buses - 1);
	acpi_list(ab, acpi_add_table(ab, t, sizeof(t), 8, true));
}

/* SPCR revision 2 (Microsoft "Serial Port Console Redirection Table"). */
static void
acpi_build_spcr(struct acpi_builder *ab)
{
	uint8_t t[80];

	if (!acpi_com_configured(0))
		return;
	memset(t, 0, sizeof(t));
	acpi_header(t, "SPCR", sizeof(t), 2, "BVSPCR");
	t[36] = 0; /* full 16550 */
	acpi_gas(t + 40, GAS_IO, 8, GAS_ACC_BYTE, acpi_coms[0].port);
	t[52] = 0x03; /* 8259 IRQ and I/O APIC GSI */
	t[53] = acpi_coms[0].irq;
	put_le(t + 54, acpi_coms[0].irq, 4);
	t[58] = 7;		   /* 115200 baud */
	t[60] = 1;		   /* one stop bit */
	put_le(t + 64, 0xffff, 2); /* not a PCI device */
	put_le(t + 66, 0xffff, 2);
	acpi_list(ab, acpi_add_table(ab, t, sizeof(t), 8, true));
}

/* ---- XSDT (5.2.8), RSDT (5.2.7), RSDP (5.2.5) ---------------------- */

static void
acpi_build_sdts(struct acpi_builder *ab, uint32_t *xsdt, uint32_t *rsdt)
{
	uint8_t t[ACPI_HDR_LEN + 8 * 16];
	int n = ab->nlisted;

	memset(t, 0, sizeof(t));
	acpi_header(t, "XSDT", (uint32_t)(ACPI_HDR_LEN + 8 * n), 1, "BVXSDT");
	*xsdt = acpi_add_table(ab, t, (size_t)(ACPI_HDR_LEN + 8 * n), 8, true);
	for (int i = 0; i < n; i++)
		acpi_set_ptr(ab, ACPI_FILE_TABLES,
			     *xsdt + ACPI_HDR_LEN + 8 * (uint32_t)i, 8,
			     ab->listed[i]);
	memset(t, 0, sizeof(t));
	acpi_header(t, "RSDT", (uint32_t)(ACPI_HDR_LEN + 4 * n), 1, "BVRSDT");
	*rsdt = acpi_add_table(ab, t, (size_t)(ACPI_HDR_LEN + 4 * n), 8, true);
	for (int i = 0; i < n; i++)
		acpi_set_ptr(ab, ACPI_FILE_TABLES,
			     *rsdt + ACPI_HDR_LEN + 4 * (uint32_t)i, 4,
			     ab->listed[i]);
}

static void
acpi_build_rsdp(struct acpi_builder *ab, uint32_t xsdt, uint32_t rsdt)
{
	uint8_t r[ACPI_RSDP_LEN];

	memset(r, 0, sizeof(r));
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2; /* ACPI 2.0+ */
	put_le(r + 20, ACPI_RSDP_LEN, 4);
	aml_bytes(&ab->rsdp, r, sizeof(r));
	if (aml_failed(&ab->rsdp)) {
		ab->failed = true;
		return;
	}
	acpi_set_ptr(ab, ACPI_FILE_RSDP, 16, 4, rsdt);
	acpi_set_ptr(ab, ACPI_FILE_RSDP, 24, 8, xsdt);
	acpi_add_sum(ab, ACPI_FILE_RSDP, 8, 0, ACPI_RSDP_V1LEN);
	acpi_add_sum(ab, ACPI_FILE_RSDP, 32, 0, ACPI_RSDP_LEN);
}

/* ---- the table-loader script (QEMU BIOSLinkerLoaderEntry) ---------- */

#define LOADER_ENTRY_LEN    128
#define LOADER_FILE_LEN	    56
#define LOADER_ALLOCATE	    1
#define LOADER_ADD_POINTER  2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH    1
#define LOADER_ZONE_FSEG    2

static const char *
acpi_file_name(enum acpi_file f)
{
	return f == ACPI_FILE_RSDP ? ACPI_FWCFG_RSDP : ACPI_FWCFG_TABLES;
}

/* Starts an entry: the command, then the file it acts on, the rest zero. */
static void
loader_entry(uint8_t e[LOADER_ENTRY_LEN], uint32_t cmd, enum acpi_file f)
{
	memset(e, 0, LOADER_ENTRY_LEN);
	put_le(e, cmd, 4);
	strncpy((char *)e + 4, acpi_file_name(f), LOADER_FILE_LEN - 1);
}

static void
loader_alloc(struct aml_buf *l, enum acpi_file f, uint32_t align, uint8_t zone)
{
	uint8_t e[LOADER_ENTRY_LEN];

	loader_entry(e, LOADER_ALLOCATE, f);
	put_le(e + 4 + LOADER_FILE_LEN, align, 4);
	e[4 + LOADER_FILE_LEN + 4] = zone;
	aml_bytes(l, e, sizeof(e));
}

static void
loader_pointer(struct aml_buf *l, const struct acpi_ptr *p)
{
	uint8_t e[LOADER_ENTRY_LEN];

	loader_entry(e, LOADER_ADD_POINTER, p->file);
	strncpy((char *)e + 4 + LOADER_FILE_LEN, ACPI_FWCFG_TABLES,
		LOADER_FILE_LEN - 1);
	put_le(e + 4 + 2 * LOADER_FILE_LEN, p->off, 4);
	e[4 + 2 * LOADER_FILE_LEN + 4] = p->size;
	aml_bytes(l, e, sizeof(e));
}

static void
loader_checksum(struct aml_buf *l, const struct acpi_sum *s)
{
	uint8_t e[LOADER_ENTRY_LEN];

	loader_entry(e, LOADER_ADD_CHECKSUM, s->file);
	put_le(e + 4 + LOADER_FILE_LEN, s->off, 4);
	put_le(e + 8 + LOADER_FILE_LEN, s->start, 4);
	put_le(e + 12 + LOADER_FILE_LEN, s->len, 4);
	aml_bytes(l, e, sizeof(e));
}

/* Pointers first, then checksums, the tables' before the RSDP's. */
static int
acpi_build_loader(struct acpi_builder *ab, struct aml_buf *l)
{
	loader_alloc(l, ACPI_FILE_TABLES, 64, LOADER_ZONE_HIGH);
	loader_alloc(l, ACPI_FILE_RSDP, 16, LOADER_ZONE_FSEG);
	for (int i = 0; i < ab->nptrs; i++)
		loader_pointer(l, &ab->ptrs[i]);
	for (int i = 0; i < ab->nsums; i++)
		loader_checksum(l, &ab->sums[i]);
	return aml_failed(l) ? -1 : 0;
}

/* ---- fixing up for fixed addresses --------------------------------- */

/* Applies the fix-ups for tables at 'base' to copies of both blobs. */
static void
acpi_relocate(const struct acpi_builder *ab, uint8_t *tables, uint8_t *rsdp,
	      uint64_t base)
{
	for (int i = 0; i < ab->nptrs; i++) {
		const struct acpi_ptr *p = &ab->ptrs[i];
		uint8_t *d =
		    (p->file == ACPI_FILE_RSDP ? rsdp : tables) + p->off;

		put_le(d, get_le(d, p->size) + base, p->size);
	}
	for (int i = 0; i < ab->nsums; i++) {
		const struct acpi_sum *s = &ab->sums[i];
		uint8_t *d = s->file == ACPI_FILE_RSDP ? rsdp : tables;

		d[s->off] = 0;
		d[s->off] = fwtable_checksum(d + s->start, s->len);
	}
}

static int
acpi_write_memory(struct vmctx *ctx, const struct acpi_builder *ab)
{
	uint8_t *t, *r;

	if (ACPI_TABLES_ADDR + ab->tables.len > ACPI_AREA_END) {
		fprintf(stderr,
			"bhyve: acpi: tables of %zu bytes do not fit "
			"below 1 MiB\n",
			ab->tables.len);
		return -1;
	}
	t = vm_map_gpa(ctx, ACPI_TABLES_ADDR, ab->tables.len);
	r = vm_map_gpa(ctx, ACPI_RSDP_ADDR, ab->rsdp.len);
	if (t == NULL || r == NULL) {
		fprintf(stderr,
			"bhyve: acpi: guest RAM too small for the "
			"tables at %#llx\n",
			(unsigned long long)ACPI_RSDP_ADDR);
		return -1;
	}
	memset(r, 0, (size_t)(ACPI_TABLES_ADDR - ACPI_RSDP_ADDR));
	memcpy(t, ab->tables.data, ab->tables.len);
	memcpy(r, ab->rsdp.data, ab->rsdp.len);
	acpi_relocate(ab, t, r, ACPI_TABLES_ADDR);
	/* Already inside E820's 0x9fc00-1 MiB hole; say so explicitly. */
	if (e820_initialized_for(ctx) &&
	    e820_add_reserved(ACPI_RSDP_ADDR, ACPI_TABLES_ADDR -
						  ACPI_RSDP_ADDR +
						  ab->tables.len) != 0)
		return -1;
	return 0;
}

void
acpi_reset(void)
{
	aml_free(&acpi_state.tables);
	aml_free(&acpi_state.rsdp);
	aml_free(&acpi_loader);
	memset(&acpi_state, 0, sizeof(acpi_state));
	memset(&acpi_img, 0, sizeof(acpi_img));
	acpi_built = false;
}

static int
acpi_build_image(struct acpi_builder *ab, struct vmctx *ctx, int ncpus,
		 const struct acpi_pci_info *pci)
{
	struct aml_buf dsdt;
	uint8_t fadt[ACPI_FADT_LEN], facs[ACPI_FACS_LEN];
	uint32_t dsdt_off, facs_off, fadt_off, xsdt, rsdt;

	aml_init(&dsdt);
	if (acpi_build_dsdt(&dsdt, ncpus, pci) != 0) {
		aml_free(&dsdt);
		return -1;
	}
	dsdt_off = acpi_add_table(ab, dsdt.data, dsdt.len, 8, true);
	aml_free(&dsdt);
	acpi_build_facs(facs);
	facs_off = acpi_add_table(ab, facs, sizeof(facs), 64, false);
	acpi_build_fadt(fadt);
	fadt_off = acpi_add_table(ab, fadt, sizeof(fadt), 8, true);
	acpi_list(ab, fadt_off);
	/* FIRMWARE_CTRL only: X_FIRMWARE_CTRL must then be zero. */
	acpi_set_ptr(ab, ACPI_FILE_TABLES, fadt_off + 36, 4, facs_off);
	acpi_set_ptr(ab, ACPI_FILE_TABLES, fadt_off + 40, 4, dsdt_off);
	acpi_set_ptr(ab, ACPI_FILE_TABLES, fadt_off + 140, 8, dsdt_off);
	if (acpi_build_madt(ab, ctx, ncpus) != 0)
		return -1;
	if (acpi_build_numa(ab, ctx, ncpus) != 0)
		return -1;
	acpi_build_hpet(ab);
	acpi_build_mcfg(ab, pci);
	acpi_build_spcr(ab);
	acpi_build_sdts(ab, &xsdt, &rsdt);
	acpi_build_rsdp(ab, xsdt, rsdt);
	if (ab->failed || aml_failed(&ab->tables) || aml_failed(&ab->rsdp))
		return -1;
	return acpi_build_loader(ab, &acpi_loader);
}

int
acpi_build(struct vmctx *ctx, int ncpus, bool in_memory)
{
	struct acpi_pci_info pci;
	int rc;

	acpi_reset();
	if (ncpus < 1 || ncpus > VM_MAXCPU) {
		fprintf(stderr, "bhyve: acpi: bad vCPU count %d\n", ncpus);
		return -1;
	}
	acpi_pci_info_get(ctx, &pci);
	rc = acpi_build_image(&acpi_state, ctx, ncpus, &pci);
	acpi_pci_info_free(&pci);
	if (rc != 0) {
		fprintf(stderr, "bhyve: acpi: cannot build the tables\n");
		acpi_reset();
		return -1;
	}
	if (in_memory && acpi_write_memory(ctx, &acpi_state) != 0) {
		acpi_reset();
		return -1;
	}
	acpi_img = (struct acpi_image){
	    .tables = acpi_state.tables.data,
	    .tables_len = acpi_state.tables.len,
	    .rsdp = acpi_state.rsdp.data,
	    .rsdp_len = acpi_state.rsdp.len,
	    .loader = acpi_loader.data,
	    .loader_len = acpi_loader.len,
	};
	acpi_built = true;
	return 0;
}

const struct acpi_image *
acpi_get_image(void)
{
	return acpi_built ? &acpi_img : NULL;
}

/*
 * FreeBSD's bhyve generates the tables unless acpi_tables=false (the
 * default became true in FreeBSD 15, where -A is a no-op); beehive does
 * the same, since a directly booted kernel has no firmware to make them.
 */
bool
acpi_tables_enabled(void)
{
	return get_config_bool_default("acpi_tables", true);
}

static int
acpi_pd_init(struct vmctx *ctx)
{
	/* The ECAM window must be reserved in E820 (or claimed by a
	 * PNP0C02 device) for Linux to use MMCONFIG; do both. */
	if (!e820_initialized_for(ctx) && e820_init(ctx) != 0) {
		fprintf(stderr, "bhyve: acpi: guest memory is too small for "
				"the firmware tables\n");
		return -1;
	}
	if (pci_emul_ecam_size() != 0 &&
	    e820_add_reserved(pci_emul_ecam_base(), pci_emul_ecam_size()) !=
		0) {
		fprintf(stderr, "bhyve: acpi: cannot reserve the ECAM window "
				"in the E820 map\n");
		return -1;
	}
	if (!acpi_tables_enabled())
		return 0;
	return acpi_build(ctx, config_ncpus(), acpi_tables_in_memory());
}

/*
 * A boot ROM owns guest RAM and installs the tables from fw_cfg, so they
 * stay out of RAM unless acpi_tables_in_memory says otherwise (bhyve's
 * own firmware looks for them at 0xF2400).
 */
bool
acpi_tables_in_memory(void)
{
	return get_config_bool_default("acpi_tables_in_memory",
				       !platform_firmware_is_uefi());
}

static const struct platform_dev acpi_dev = {
    .pd_name = "acpi",
    .pd_order = ACPI_PD_ORDER,
    .pd_init = acpi_pd_init,
    .pd_fini = acpi_reset,
};
PLATFORM_DEV_SET(acpi_dev);
