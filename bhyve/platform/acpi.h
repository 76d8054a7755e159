/*
 * ACPI tables for the guest (ACPI 6.5, chapter 5): RSDP, XSDT and RSDT,
 * FADT, FACS, DSDT, MADT, HPET, MCFG, with COM1 configured SPCR, and with
 * NUMA domains (domains.*, -n) SRAT and SLIT.
 *
 * The tables are built once into a relocatable image, the way QEMU's
 * table loader expects them: every table sits in one blob
 * ("etc/acpi/tables"), the RSDP in another ("etc/acpi/rsdp"), pointer
 * fields hold offsets into the tables blob, and a list of pointer and
 * checksum fix-ups says how to finish them.  Two consumers use that image:
 *
 *   - acpi_tables_in_memory (the default without a boot ROM; see
 *     acpi_tables_in_memory()): the tables are fixed up for
 *     fixed addresses in the BIOS area and written to guest RAM, where a
 *     directly booted kernel finds the RSDP by scanning 0xE0000-0xFFFFF
 *     and bhyve's UEFI firmware looks at 0xF2400;
 *   - fw_cfg (lpc.fwcfg=qemu): the blobs and a table-loader script
 *     (ALLOCATE, ADD_POINTER, ADD_CHECKSUM) let OVMF or SeaBIOS place the
 *     tables themselves.
 *
 * The platform device is ordered late (ACPI_PD_ORDER) so that every
 * device the tables describe, PCI included, is set up first.
 */
#ifndef ACPI_H
#define ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pci_emul.h"

struct vmctx;
struct aml_buf;

/* bhyve's BHYVE_ACPI_BASE: the RSDP, followed by the other tables. */
#define ACPI_RSDP_ADDR	 0xf2400ULL
#define ACPI_TABLES_ADDR 0xf2480ULL
#define ACPI_AREA_END	 0x100000ULL

#define ACPI_PD_ORDER 80

/* The I/O APIC beehive's tables describe (KVM's in-kernel one). */
#define ACPI_IOAPIC_ADDR 0xfec00000u
#define ACPI_IOAPIC_PINS 24
#define ACPI_LAPIC_ADDR	 0xfee00000u
#define ACPI_SCI_IRQ	 9
#define ACPI_RESET_VALUE 0x06 /* full reset through 0xCF9 */

#define ACPI_OEM_ID	"BHYVE "
#define ACPI_CREATOR_ID "BHYV"

/* The relocatable image; valid after acpi_build() until acpi_reset(). */
struct acpi_image {
	const uint8_t *tables; /* "etc/acpi/tables", checksums zeroed */
	size_t tables_len;
	const uint8_t *rsdp; /* "etc/acpi/rsdp", checksums zeroed */
	size_t rsdp_len;
	const uint8_t *loader; /* "etc/table-loader" commands */
	size_t loader_len;
};

/* fw_cfg file names of the image (QEMU's). */
#define ACPI_FWCFG_TABLES "etc/acpi/tables"
#define ACPI_FWCFG_RSDP	  "etc/acpi/rsdp"
#define ACPI_FWCFG_LOADER "etc/table-loader"

/*
 * Builds the image for ncpus vCPUs from the configuration and, if
 * in_memory, writes the fixed-up tables to guest RAM at ACPI_RSDP_ADDR.
 * Returns 0, or -1 after printing one line.
 */
int acpi_build(struct vmctx *ctx, int ncpus, bool in_memory);
/* The image of the last acpi_build(), or NULL. */
const struct acpi_image *acpi_get_image(void);
void acpi_reset(void);

/* Whether the configuration asks for ACPI tables (acpi_tables). */
bool acpi_tables_enabled(void);
/*
 * Whether they are also written to guest RAM (acpi_tables_in_memory;
 * by default yes, no with a boot ROM).  The SMBIOS and MP tables follow.
 */
bool acpi_tables_in_memory(void);

/* A vCPU's initial APIC id under the VM's topology (see vmm_cpuid.c). */
uint32_t acpi_apic_id(struct vmctx *ctx, int vcpu);
/*
 * What the tables say about PCI, from the PCI emulation (pci_emul.h):
 * one root bridge per configured bus, as bhyve writes them, each with
 * its slice of the windows (inclusive limits; base >= limit: none).
 */
#define ACPI_PCI_MAX_ROUTES 1024
#define ACPI_PCI_MAX_BUSES  256

struct acpi_pci_bus {
	int bus;
	struct pci_window io, mem32, mem64;
};

struct acpi_pci_info {
	struct acpi_pci_bus buses[ACPI_PCI_MAX_BUSES]; /* bus 0 first */
	int nbuses;
	uint64_t ecam_base; /* ecam_size 0: no MCFG */
	uint64_t ecam_size;
	struct pci_intx_route *routes;
	int nroutes;
	int lpc_slot; /* device number of the LPC bridge on bus 0 */
};

void acpi_pci_info_get(struct vmctx *ctx, struct acpi_pci_info *pci);
void acpi_pci_info_free(struct acpi_pci_info *pci);
/* The DSDT alone, into b (tests and tools). */
int acpi_build_dsdt(struct aml_buf *b, int ncpus,
		    const struct acpi_pci_info *pci);

/*
 * The MP table (mptable.c): floating pointer at 0xF0000.  A machine the
 * format cannot describe (APIC ids above 254, too many entries) gets none
 * and a note on stderr.  0, or -1 if guest RAM cannot hold it.
 */
int mptable_build(struct vmctx *ctx, int ncpus);

#endif
