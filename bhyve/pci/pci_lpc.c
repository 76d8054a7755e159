/*
 * The LPC/ISA bridge (bhyve's "lpc", conventionally -s 31,lpc): class
 * 06/01 with Intel's PIIX3 ids, as bhyve presents it.  The ISA devices
 * behind it (COM ports, RTC, i8042, PM) are platform devices configured
 * by lpc.* keys; this function only makes the bridge visible to the
 * guest's PCI scan.  Only one, on bus 0 (bhyve).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pci_emul.h"

#define LPC_VENDOR 0x8086
#define LPC_DEV	   0x7000 /* 82371SB PIIX3 ISA bridge */

/*
 * PIIX3 PIRQ route control registers (PIRQRC[A:D] at 0x60, and the four
 * more bhyve exposes at 0x68): bit 7 set means "not routed to the 8259".
 * INTx here go to IOAPIC pins (the ACPI _PRT / MP table); the registers
 * keep their reset value and accept the guest's writes.
 */
#define LPC_PIRQ_A     0x60
#define LPC_PIRQ_E     0x68
#define LPC_PIRQ_OFF   0x80
#define LPC_PIRQ_WMASK 0x8f

/* pcireg.<key> as hex (bhyve's pci_config_read_reg()); def if unset. */
static int
pci_lpc_reg(struct config_node *nvl, const char *key, uint32_t max,
	    uint32_t def, uint32_t *out)
{
	struct config_node *regs = find_relative_config_node(nvl, "pcireg");
	const char *v = regs ? get_config_value_node(regs, key) : NULL;
	unsigned long n;
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 16);
	if (v[0] == '\0' || v[0] == '-' || *end != '\0' || errno != 0 ||
	    n > max) {
		fprintf(stderr, "bhyve: lpc: invalid pcireg.%s '%s'\n", key, v);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static bool
pci_lpc_another(struct pci_devinst *pi)
{
	struct pci_dev_info info;

	for (int n = 0; pci_emul_get_device(n, &info) == 0; n++) {
		if (info.pi != pi && strcmp(info.model, "lpc") == 0)
			return true;
	}
	return false;
}

static int
pci_lpc_init(struct pci_devinst *pi, struct config_node *nvl)
{
	uint32_t vendor, device, revid, subvendor, subdevice;

	if (pi->pi_bus != 0) {
		fprintf(stderr, "bhyve: lpc: the LPC bridge can be present "
				"only on bus 0\n");
		return -1;
	}
	if (pci_lpc_another(pi)) {
		fprintf(stderr, "bhyve: lpc: only one LPC bridge is "
				"allowed\n");
		return -1;
	}
	if (pci_lpc_reg(nvl, "vendor", 0xfffe, LPC_VENDOR, &vendor) ||
	    pci_lpc_reg(nvl, "device", 0xffff, LPC_DEV, &device) ||
	    pci_lpc_reg(nvl, "revid", 0xff, 0, &revid) ||
	    pci_lpc_reg(nvl, "subvendor", 0xffff, 0, &subvendor) ||
	    pci_lpc_reg(nvl, "subdevice", 0xffff, 0, &subdevice))
		return -1;

	pci_set_cfgdata16(pi, PCIR_VENDOR, (uint16_t)vendor);
	pci_set_cfgdata16(pi, PCIR_DEVICE, (uint16_t)device);
	pci_set_cfgdata8(pi, PCIR_REVID, (uint8_t)revid);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, (uint16_t)subvendor);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, (uint16_t)subdevice);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_BRIDGE);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_BRIDGE_ISA);
	for (int i = 0; i < 4; i++) {
		pci_set_cfgdata8(pi, LPC_PIRQ_A + i, LPC_PIRQ_OFF);
		pci_set_cfgdata8(pi, LPC_PIRQ_E + i, LPC_PIRQ_OFF);
		pci_set_cfgwmask(pi, LPC_PIRQ_A + i, 1, LPC_PIRQ_WMASK);
		pci_set_cfgwmask(pi, LPC_PIRQ_E + i, 1, LPC_PIRQ_WMASK);
	}
	return 0;
}

static const struct pci_devemu pci_de_lpc = {
    .pe_emu = "lpc",
    .pe_init = pci_lpc_init,
};
PCI_EMUL_SET(pci_de_lpc);
