/*
 * PCI device models as the command line knows them: "-s slot,model,opts".
 * Each model converts its legacy option string into configuration keys
 * under its pci.<bus>.<slot>.<func> node at parse time; the device itself
 * only ever reads keys.
 *
 * A device file registers its own entry:
 *
 *	static const struct pci_legacy_model pci_legacy_virtio_rnd = {
 *		.name = "virtio-rnd",
 *		.implemented = true,
 *		.legacy_config = pci_legacy_generic_config,
 *	};
 *	PCI_LEGACY_MODEL_SET(pci_legacy_virtio_rnd);
 *
 * bhyve/core/pci_legacy.c also registers every model bhyve(8) knows with
 * implemented = false; an implemented entry of the same name wins, so
 * "-s help" lists both and "-o config.dump=1" works for any bhyve model
 * while pci_check_models_implemented() stops a VM that needs a model this
 * build lacks.
 */
#ifndef PCI_LEGACY_H
#define PCI_LEGACY_H

#include <stdbool.h>

#include "config.h"
#include "linker_set.h"

struct pci_legacy_model {
	const char *name;
	/* The "device" value written, if not 'name' (ahci-hd -> ahci). */
	const char *alias;
	bool implemented;
	/* NULL means pci_legacy_generic_config(). opts may be NULL. */
	int (*legacy_config)(struct config_node *nvl, const char *opts);
};

#define PCI_LEGACY_MODEL_SET(x) DATA_SET(pci_legacy_models, x)

/* The implemented entry for 'name' if any, else the known one, else NULL. */
const struct pci_legacy_model *pci_legacy_find(const char *name);
/* Prints every model name, one per line, marking unimplemented ones. */
void pci_legacy_print_models(FILE *fp);

/*
 * Parses "slot,model[,opts]" (slot: "s", "s:f" or "b:s:f") into
 * pci.<b>.<s>.<f>.device=<model> plus the model's keys.  Returns 0, or -1
 * with a one-line reason in err.
 */
int pci_legacy_parse_slot(const char *arg, char *err, size_t errlen);

/*
 * Checks every pci.<b>.<s>.<f> node however it was set (-s, -k, -o): the
 * numbers are in range and "device" names a known model.  -1 with a
 * reason in err.
 */
int pci_legacy_check_tree(char *err, size_t errlen);

/*
 * Before creating the VM: every pci.*.*.*.device must name a model this
 * build implements.  Prints "bhyve: device model 'X' (slot B:S:F) is not
 * implemented yet" and returns 4, else 0.
 */
int pci_check_models_implemented(void);

/*
 * Converters a device file may reuse.  Each returns 0, or -1 after
 * pci_legacy_error() has recorded why.
 */
/* "a,b=c": a=true, b=c (bhyve's pci_parse_legacy_config()). */
int pci_legacy_generic_config(struct config_node *nvl, const char *opts);
/* "path[,opts]": path=..., then generic (block devices). */
int pci_legacy_blockif_config(struct config_node *nvl, const char *opts);
/* "backend[,opts]": backend=..., then generic (network devices). */
int pci_legacy_netbe_config(struct config_node *nvl, const char *opts);
/* "path": path=... (uart, virtio-input). */
int pci_legacy_path_config(struct config_node *nvl, const char *opts);
/*
 * virtio-console: "name=path[,name=path...]" -> port.N.name / port.N.path,
 * plus "transport=legacy|modern|transitional".
 */
int pci_legacy_vtcon_config(struct config_node *nvl, const char *opts);

/* Records the reason a converter failed (printf-style, one line). */
void pci_legacy_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
