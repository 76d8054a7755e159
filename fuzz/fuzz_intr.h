/*
 * Interrupt delivery for fuzz targets that drive a PCI device model
 * (pci_emul_set_intr_ops): MSI and INTx go nowhere, so that a fuzz input
 * exercises the device and never the host's KVM calls.
 */
#ifndef FUZZ_INTR_H
#define FUZZ_INTR_H

#include <stdbool.h>
#include <stdint.h>

#include "pci_emul.h"

static inline int
fz_intr_msi_none(struct vmctx *c, uint64_t addr, uint64_t data)
{
	return 0;
}

static inline int
fz_intr_intx_none(struct vmctx *c, int irq, bool assert)
{
	return 0;
}

static const struct pci_intr_ops fz_intr_none = {fz_intr_msi_none,
						 fz_intr_intx_none};

#endif
