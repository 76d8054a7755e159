/*
 * The host bridge at 0:0.0 (bhyve's "hostbridge"): class 06/00 with a
 * PCIe root-port capability so guests treat the bus as PCI Express.
 * Identity: model=amd|netapp|i440fx|q35, or vendor= and devid= (or
 * pcireg.vendor / pcireg.device, hex) together; NetApp's ids by default,
 * i440FX's with a boot ROM (OVMF's PlatformPei reads 0:0.0's device id
 * to tell QEMU's "pc" from "q35" and stops on anything else).
 * "amd_hostbridge" is the legacy spelling of an AMD-branded one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_vm.h"
#include "pci_emul.h"

struct pci_hb_model {
	const char *name;
	uint16_t vendor, device;
};

static const struct pci_hb_model pci_hb_models[] = {
    {"amd", 0x1022, 0x7432},	/* AMD, device id made up (bhyve) */
    {"netapp", 0x1275, 0x1275}, /* NetApp */
    {"i440fx", 0x8086, 0x1237}, /* Intel 82441FX */
    {"q35", 0x8086, 0x29b0},	/* Intel Q35 host bridge */
};

/*
 * A 16-bit id from 'key' (any C base), or from pcireg.<regkey> (hex, as
 * bhyve's pci_config_read_reg()).  0 if unset, 1 if set, -1 if bad.
 */
static int
pci_hb_get_id(struct config_node *nvl, const char *key, const char *regkey,
	      uint16_t *id)
{
	struct config_node *regs = find_relative_config_node(nvl, "pcireg");
	const char *v = get_config_value_node(nvl, key);
	int base = 0;
	unsigned long n;
	char *end;

	if (v == NULL && regs != NULL) {
		v = get_config_value_node(regs, regkey);
		key = regkey;
		base = 16;
	}
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, base);
	/* 0xffff is "no device" on the bus (PCI 3.0, 6.2.1). */
	if (v[0] == '\0' || v[0] == '-' || *end != '\0' || errno != 0 ||
	    n == 0 || n >= 0xffff) {
		fprintf(stderr, "bhyve: hostbridge: invalid %s '%s'\n", key, v);
		return -1;
	}
	*id = (uint16_t)n;
	return 1;
}

static int
pci_hb_pick_model(const char *model, uint16_t *vendor, uint16_t *device)
{
	for (size_t i = 0; i < sizeof(pci_hb_models) / sizeof(pci_hb_models[0]);
	     i++) {
		if (strcmp(model, pci_hb_models[i].name) == 0) {
			*vendor = pci_hb_models[i].vendor;
			*device = pci_hb_models[i].device;
			return 0;
		}
	}
	fprintf(stderr,
		"bhyve: hostbridge: invalid model '%s' (amd, netapp, "
		"i440fx or q35)\n",
		model);
	return -1;
}

static int
pci_hostbridge_init(struct pci_devinst *pi, struct config_node *nvl)
{
	const char *model = get_config_value_node(nvl, "model");
	uint16_t vendor = 0, device = 0;
	int hv, hd;

	hv = pci_hb_get_id(nvl, "vendor", "vendor", &vendor);
	hd = pci_hb_get_id(nvl, "devid", "device", &device);
	if (hv < 0 || hd < 0)
		return -1;
	/* illumos bhyve's rules: a model, or both ids, not a mix. */
	if (model != NULL && (hv || hd)) {
		fprintf(stderr, "bhyve: hostbridge: cannot specify model and "
				"vendor/device\n");
		return -1;
	}
	if (hv != hd) {
		fprintf(stderr, "bhyve: hostbridge: must specify both vendor "
				"and device for a custom hostbridge\n");
		return -1;
	}
	if (model == NULL)
		model = platform_firmware_is_uefi() ? "i440fx" : "netapp";
	if (!hv && pci_hb_pick_model(model, &vendor, &device) != 0)
		return -1;

	pci_set_cfgdata16(pi, PCIR_VENDOR, vendor);
	pci_set_cfgdata16(pi, PCIR_DEVICE, device);
	pci_set_cfgdata8(pi, PCIR_HDRTYPE, PCIM_HDRTYPE_NORMAL);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_BRIDGE);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_BRIDGE_HOST);
	if (pci_emul_add_pciecap(pi, PCIEM_TYPE_ROOT_PORT) < 0)
		return -1;
	return 0;
}

/* "-s 0,amd_hostbridge": a hostbridge with AMD's ids (bhyve). */
static int
pci_amd_hostbridge_legacy_config(struct config_node *nvl, const char *opts)
{
	struct config_node *regs = create_relative_config_node(nvl, "pcireg");

	if (regs == NULL ||
	    set_config_value_node(regs, "vendor", "0x1022") != 0 ||
	    set_config_value_node(regs, "device", "0x7432") != 0) {
		legacy_config_error("cannot set pcireg keys");
		return -1;
	}
	return legacy_config_generic(nvl, opts);
}

static const struct pci_devemu pci_de_hostbridge = {
    .pe_emu = "hostbridge",
    .pe_init = pci_hostbridge_init,
};
PCI_EMUL_SET(pci_de_hostbridge);

static const struct pci_devemu pci_de_amd_hostbridge = {
    .pe_emu = "amd_hostbridge",
    .pe_alias = "hostbridge",
    .pe_legacy_config = pci_amd_hostbridge_legacy_config,
};
PCI_EMUL_SET(pci_de_amd_hostbridge);
