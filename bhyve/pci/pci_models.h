/*
 * The PCI device models by name, as the command line and the
 * configuration know them.  Every model is one struct pci_devemu
 * (pci_emul.h): those in the pci_devemu_set linker set, declared by
 * their own files, and the models bhyve(8) documents that this build
 * does not implement yet, which live in one table (pci_unimpl.c) until
 * their files land.  "-s help", "-o config.dump=1" and the converters
 * work for both; pci_check_models_implemented() stops a VM that needs a
 * missing one.
 */
#ifndef PCI_MODELS_H
#define PCI_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pci_emul.h"

/* The declaration named 'name' (pe_emu), implemented ones first; or NULL. */
const struct pci_devemu *pci_model_find(const char *name);
/*
 * Whether a VM can use the model: it has a pe_init, or it is an alias
 * of one that has.
 */
bool pci_model_implemented(const struct pci_devemu *pe);
/* Every model name, one per line, sorted, marking unimplemented ones. */
void pci_models_print(FILE *fp);

/*
 * Parses "slot,model[,opts]" (slot: "s", "s:f" or "b:s:f") into
 * pci.<b>.<s>.<f>.device=<model> plus the keys the model's converter
 * writes.  Returns 0, or -1 with a one-line reason in err.
 */
int pci_parse_slot(const char *arg, char *err, size_t errlen);

/*
 * Checks every pci.<b>.<s>.<f> node however it was set (-s, -k, -o): the
 * numbers are in range, "device" names a known model, and with a boot
 * ROM (lpc.bootrom) every device is on bus 0.  -1 with a reason in err.
 */
int pci_check_tree(char *err, size_t errlen);

/*
 * Before creating the VM: every pci.*.*.*.device must name a model this
 * build implements.  Prints "bhyve: device model 'X' (slot B:S:F) is not
 * implemented yet" and returns 4, else 0.
 */
int pci_check_models_implemented(void);

/* The table of known, not yet implemented models (pci_unimpl.c). */
extern const struct pci_devemu pci_unimpl_models[];
extern const size_t pci_unimpl_nmodels;

#endif
