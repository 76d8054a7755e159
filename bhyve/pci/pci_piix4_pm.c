/*
 * The power-management function of Intel's PIIX4 (82371AB, function 3),
 * as QEMU's "pc" machine has it at 0:1.3 ("piix4-pm").  OVMF built for
 * that machine reads two of its registers before anything else and
 * stops without them: PMBA (0x40), the I/O base of the ACPI fixed
 * registers, and PMREGMISC (0x80), whose bit 0 says the PM I/O space is
 * enabled.  Here both describe the registers beehive already decodes:
 * PMBA reads PCI_PIIX4_PM_BASE (which pm.c asserts is its PM1A_EVT_ADDR)
 * with the I/O-space bit, PMREGMISC reads 1, and neither changes; the
 * firmware then leaves them alone.
 * With a boot ROM, init_pci() adds one at 0:1.3 unless the
 * configuration has something there.  (82371AB datasheet, 7.2.)
 */
#include <stdint.h>

#include "pci_emul.h"

#define PIIX4_PM_VENDOR	  0x8086
#define PIIX4_PM_DEVICE	  0x7113
#define PIIX4_PM_REVID	  0x03
#define PIIX4_PMBA	  0x40
#define PIIX4_PMBA_IO	  0x1 /* resource type indicator: I/O space */
#define PIIX4_PMREGMISC	  0x80
#define PIIX4_PMIOSE	  0x1 /* PM I/O space enable */
#define PCIS_BRIDGE_OTHER 0x80

static int
pci_piix4_pm_init(struct pci_devinst *pi, struct config_node *nvl)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, PIIX4_PM_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, PIIX4_PM_DEVICE);
	pci_set_cfgdata8(pi, PCIR_REVID, PIIX4_PM_REVID);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_BRIDGE);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_BRIDGE_OTHER);
	pci_set_cfgdata8(pi, PCIR_HDRTYPE, PCIM_HDRTYPE_NORMAL);
	pci_set_cfgdata32(pi, PIIX4_PMBA, PCI_PIIX4_PM_BASE | PIIX4_PMBA_IO);
	pci_set_cfgdata8(pi, PIIX4_PMREGMISC, PIIX4_PMIOSE);
	return 0;
}

/* Every write is ignored: the registers describe fixed hardware. */
static int
pci_piix4_pm_cfgwrite(struct pci_devinst *pi, int off, int bytes, uint32_t val)
{
	return 0;
}

static const struct pci_devemu pci_de_piix4_pm = {
    .pe_emu = "piix4-pm",
    .pe_init = pci_piix4_pm_init,
    .pe_cfgwrite = pci_piix4_pm_cfgwrite,
};
PCI_EMUL_SET(pci_de_piix4_pm);
