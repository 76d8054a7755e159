/*
 * The Intel MultiProcessor Specification 1.4 tables (chapter 4): a
 * floating pointer structure in the BIOS area and the configuration table
 * it points to, listing the processors, buses, the I/O APIC and the
 * interrupt wiring.  Old guests and some boot loaders read it instead of
 * the MADT; bhyve builds it unless x86.mptable=false (-Y).
 *
 * Layout (bhyve's): floating pointer at 0xF0000, the configuration table
 * right after it, all below the SMBIOS entry point at 0xF1000.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "config.h"
#include "config_vm.h"
#include "fwtable.h"
#include "platform_dev.h"
#include "vmmapi.h"

#define MP_FP_ADDR   0xf0000ULL
#define MP_CT_ADDR   0xf0010ULL
#define MP_AREA_END  0xf1000ULL
#define MP_FP_LEN    16
#define MP_CT_HDRLEN 44
#define MP_SPEC_REV  4 /* 1.4 */

#define MP_ENT_CPU	0
#define MP_ENT_BUS	1
#define MP_ENT_IOAPIC	2
#define MP_ENT_IOINT	3
#define MP_ENT_LOCALINT 4
#define MP_INT_INT	0
#define MP_INT_NMI	1
#define MP_INT_EXTINT	3
#define MP_CPU_EN	0x01
#define MP_CPU_BP	0x02
/* Interrupt flags: polarity bits 1-0, trigger bits 3-2 (table 4-10). */
#define MP_FLAGS_CONFORM    0x0
#define MP_FLAGS_LEVEL_HIGH 0xd
#define MP_FLAGS_LEVEL_LOW  0xf
#define MP_LAPIC_VERSION    0x14
#define MP_IOAPIC_VERSION   0x11
#define MP_CPU_SIGNATURE    0x000006f0 /* family 6 */
#define MP_CPU_FEATURES	    0x00000201 /* FPU, APIC */

struct mp_buf {
	uint8_t *p;
	size_t len, cap;
	int count;
	bool overflow;
};

static void
mp_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *
mp_entry(struct mp_buf *b, size_t len)
{
	uint8_t *e;

	if (len > b->cap - b->len) {
		b->overflow = true;
		return NULL;
	}
	e = b->p + b->len;
	memset(e, 0, len);
	b->len += len;
	b->count++;
	return e;
}

static void
mp_int(struct mp_buf *b, int type, int kind, int flags, int bus, int irq,
       int apic, int pin)
{
	uint8_t *e = mp_entry(b, 8);

	if (e == NULL)
		return;
	e[0] = (uint8_t)type;
	e[1] = (uint8_t)kind;
	mp_le(e + 2, (uint64_t)flags, 2);
	e[4] = (uint8_t)bus;
	e[5] = (uint8_t)irq;
	e[6] = (uint8_t)apic;
	e[7] = (uint8_t)pin;
}

static void
mp_bus(struct mp_buf *b, int id, const char *type)
{
	uint8_t *e = mp_entry(b, 8);

	if (e == NULL)
		return;
	e[0] = MP_ENT_BUS;
	e[1] = (uint8_t)id;
	memcpy(e + 2, type, 6);
}

/* Processors, then buses, the I/O APIC, I/O and local interrupts. */
static int
mptable_entries(struct vmctx *ctx, int ncpus, struct mp_buf *b,
		const struct acpi_pci_info *pci, int *ioapic_id)
{
	uint32_t max_id = 0;
	int isa_bus = 0;
	uint8_t *e;

	for (int i = 0; i < ncpus; i++) {
		uint32_t id = acpi_apic_id(ctx, i);

		if (id > 254)
			return -1; /* 8-bit APIC ids only */
		max_id = id > max_id ? id : max_id;
		e = mp_entry(b, 20);
		if (e == NULL)
			return -1;
		e[0] = MP_ENT_CPU;
		e[1] = (uint8_t)id;
		e[2] = MP_LAPIC_VERSION;
		e[3] = MP_CPU_EN | (i == 0 ? MP_CPU_BP : 0);
		mp_le(e + 4, MP_CPU_SIGNATURE, 4);
		mp_le(e + 8, MP_CPU_FEATURES, 4);
	}
	if (max_id + 1 > 254)
		return -1;
	*ioapic_id = (int)max_id + 1;
	for (int i = 0; i < pci->nbuses; i++) {
		mp_bus(b, pci->buses[i].bus, "PCI   ");
		if (pci->buses[i].bus >= isa_bus)
			isa_bus = pci->buses[i].bus + 1;
	}
	if (isa_bus > 255)
		return -1;
	mp_bus(b, isa_bus, "ISA   ");
	e = mp_entry(b, 8);
	if (e == NULL)
		return -1;
	e[0] = MP_ENT_IOAPIC;
	e[1] = (uint8_t)*ioapic_id;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = 1; /* enabled */
	mp_le(e + 4, ACPI_IOAPIC_ADDR, 4);
	/* Pin 0: the 8259's output (virtual wire); ISA IRQ 0 on pin 2. */
	mp_int(b, MP_ENT_IOINT, MP_INT_EXTINT, MP_FLAGS_CONFORM, isa_bus, 0,
	       *ioapic_id, 0);
	for (int irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;
		mp_int(b, MP_ENT_IOINT, MP_INT_INT,
		       irq == ACPI_SCI_IRQ ? MP_FLAGS_LEVEL_HIGH
					   : MP_FLAGS_CONFORM,
		       isa_bus, irq, *ioapic_id, irq == 0 ? 2 : irq);
	}
	/* PCI: source IRQ = device << 2 | pin (section D.3). */
	for (int i = 0; i < pci->nroutes; i++) {
		const struct pci_intx_route *r = &pci->routes[i];

		mp_int(b, MP_ENT_IOINT, MP_INT_INT, MP_FLAGS_LEVEL_LOW, r->bus,
		       r->slot << 2 | (r->pin - 1), *ioapic_id, r->ioapic_irq);
	}
	mp_int(b, MP_ENT_LOCALINT, MP_INT_EXTINT, MP_FLAGS_CONFORM, isa_bus, 0,
	       0xff, 0);
	mp_int(b, MP_ENT_LOCALINT, MP_INT_NMI, MP_FLAGS_CONFORM, isa_bus, 0,
	       0xff, 1);
	return b->overflow ? -1 : 0;
}

int
mptable_build(struct vmctx *ctx, int ncpus)
{
	struct acpi_pci_info *pci;
	uint8_t *fp, *ct;
	struct mp_buf b;
	int ioapic_id = 0, rc;

	fp = vm_map_gpa(ctx, MP_FP_ADDR, MP_AREA_END - MP_FP_ADDR);
	if (fp == NULL) {
		fprintf(stderr, "bhyve: mptable: guest RAM too small for the "
				"MP table\n");
		return -1;
	}
	pci = malloc(sizeof(*pci));
	if (pci == NULL)
		return -1;
	acpi_pci_info_get(ctx, pci);
	ct = fp + (MP_CT_ADDR - MP_FP_ADDR);
	b = (struct mp_buf){.p = ct + MP_CT_HDRLEN,
			    .cap = MP_AREA_END - MP_CT_ADDR - MP_CT_HDRLEN};
	rc = mptable_entries(ctx, ncpus, &b, pci, &ioapic_id);
	acpi_pci_info_free(pci);
	free(pci);
	if (rc != 0) {
		/* The format cannot hold this machine; the MADT can. */
		memset(fp, 0, MP_AREA_END - MP_FP_ADDR);
		fprintf(stderr,
			"bhyve: mptable: %d vCPUs do not fit an MP "
			"table; none built\n",
			ncpus);
		return 0;
	}
	memset(ct, 0, MP_CT_HDRLEN);
	memcpy(ct, "PCMP", 4);
	mp_le(ct + 4, MP_CT_HDRLEN + b.len, 2);
	ct[6] = MP_SPEC_REV;
	memcpy(ct + 8, "BHyVe   ", 8);
	memcpy(ct + 16, "FreeBSD HV  ", 12);
	mp_le(ct + 34, (uint64_t)b.count, 2);
	mp_le(ct + 36, ACPI_LAPIC_ADDR, 4);
	ct[7] = fwtable_checksum(ct, MP_CT_HDRLEN + b.len);

	memset(fp, 0, MP_FP_LEN);
	memcpy(fp, "_MP_", 4);
	mp_le(fp + 4, MP_CT_ADDR, 4);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = MP_SPEC_REV;
	/* Feature byte 1 = 0: a configuration table is present; byte 2
	 * bit 7 clear: virtual wire mode, no IMCR. */
	fp[10] = fwtable_checksum(fp, MP_FP_LEN);
	return 0;
}

static int
mptable_pd_init(struct vmctx *ctx)
{
	/* A boot ROM owns low RAM (and OVMF makes no MP table). */
	if (!get_config_bool_default("x86.mptable", true) ||
	    !acpi_tables_in_memory())
		return 0;
	return mptable_build(ctx, config_ncpus());
}

static const struct platform_dev mptable_dev = {
    .pd_name = "mptable",
    .pd_order = ACPI_PD_ORDER,
    .pd_init = mptable_pd_init,
};
PLATFORM_DEV_SET(mptable_dev);
