/*
 * The PCI models bhyve(8) (FreeBSD and illumos) documents that beehive
 * does not implement yet: one table, so that "-s help" lists them,
 * "-o config.dump=1" converts their options, and a VM that needs one
 * stops with a clear line (pci_check_models_implemented()).  When a
 * model lands, its entry and converter move into the model's own file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_if.h"
#include "legacy_config.h"
#include "net_backends.h"
#include "pci_models.h"

/* virtio-scsi: the first option (no '=') is the target device. */
static int
pci_vtscsi_legacy_config(struct config_node *nvl, const char *opts)
{
	return legacy_config_positional_opt(nvl, opts, "dev");
}

/* uart, virtio-input: the whole option string is a path. */
static int
pci_path_legacy_config(struct config_node *nvl, const char *opts)
{
	return legacy_config_whole(nvl, opts, "path");
}

/* virtio-9p: "sharename=path[,ro]". */
static int
pci_vt9p_legacy_config(struct config_node *nvl, const char *opts)
{
	const char *rest;
	char *first, *eq;
	int rc;

	if (opts == NULL) {
		legacy_config_error("needs sharename=path");
		return -1;
	}
	first = legacy_config_first(opts, &rest);
	if (first == NULL)
		return -1;
	eq = strchr(first, '=');
	if (eq == NULL || eq == first || eq[1] == '\0') {
		legacy_config_error("needs sharename=path, got '%s'", first);
		free(first);
		return -1;
	}
	*eq = '\0';
	rc = legacy_config_set(nvl, "sharename", first);
	if (rc == 0)
		rc = legacy_config_set(nvl, "path", eq + 1);
	free(first);
	if (rc == 0 && rest != NULL)
		rc = legacy_config_generic(nvl, rest);
	return rc;
}

/* Sets bus, slot and func from "b/s/f" of a host device. */
static int
pci_passthru_set_bsf(struct config_node *nvl, unsigned b, unsigned s,
		     unsigned f)
{
	const char *key[3] = {"bus", "slot", "func"};
	unsigned val[3] = {b, s, f};
	char v[8];

	for (int i = 0; i < 3; i++) {
		snprintf(v, sizeof(v), "%u", val[i]);
		if (legacy_config_set(nvl, key[i], v) != 0)
			return -1;
	}
	return 0;
}

/* passthru: "bus/slot/func" of a host device, or a /dev path. */
static int
pci_passthru_legacy_config(struct config_node *nvl, const char *opts)
{
	unsigned b, s, f;
	const char *rest;
	char *first, tail;
	int rc;

	if (opts == NULL) {
		legacy_config_error("needs the host device as bus/slot/func");
		return -1;
	}
	first = legacy_config_first(opts, &rest);
	if (first == NULL)
		return -1;
	if (first[0] == '/') {
		rc = legacy_config_set(nvl, "path", first);
	} else if (sscanf(first, "%u/%u/%u%c", &b, &s, &f, &tail) == 3 &&
		   first[0] >= '0' && first[0] <= '9' && b <= PCI_BUSMAX &&
		   s <= PCI_SLOTMAX && f <= PCI_FUNCMAX) {
		rc = pci_passthru_set_bsf(nvl, b, s, f);
	} else {
		legacy_config_error(
		    "invalid host device '%s' (want bus/slot/func)", first);
		rc = -1;
	}
	free(first);
	if (rc == 0 && rest != NULL)
		rc = legacy_config_generic(nvl, rest);
	return rc;
}

/* No pe_init: known by name, stopped by pci_check_models_implemented(). */
const struct pci_devemu pci_unimpl_models[] = {
    {.pe_emu = "virtio-9p", .pe_legacy_config = pci_vt9p_legacy_config},
    {.pe_emu = "virtio-scsi", .pe_legacy_config = pci_vtscsi_legacy_config},
    {.pe_emu = "virtio-input", .pe_legacy_config = pci_path_legacy_config},
    {.pe_emu = "hda"},
    {.pe_emu = "uart", .pe_legacy_config = pci_path_legacy_config},
    {.pe_emu = "passthru", .pe_legacy_config = pci_passthru_legacy_config},
};
const size_t pci_unimpl_nmodels =
    sizeof(pci_unimpl_models) / sizeof(pci_unimpl_models[0]);
