/*
 * bhyve's "dummy" test device: network class, vendor 0x10DD device
 * 0x0001, an 8-byte I/O BAR and two 4 KiB memory BARs of plain storage,
 * and an MSI capability with 4 messages.  A dword written at I/O offset 4
 * while MSI is on sends message (value mod the enabled count).  It gives
 * guests and tests something with BARs to size and move.
 */
#include <stdlib.h>
#include <string.h>

#include "pci_emul.h"

#define DUMMY_IOSZ  8
#define DUMMY_MEMSZ 4096
#define DUMMY_MSIS  4

struct pci_dummy {
	uint8_t io[DUMMY_IOSZ];
	uint8_t mem[2][DUMMY_MEMSZ];
};

static uint8_t *
pci_dummy_regs(struct pci_devinst *pi, int baridx, size_t *len)
{
	struct pci_dummy *sc = pi->pi_arg;

	if (baridx == 0) {
		*len = sizeof(sc->io);
		return sc->io;
	}
	*len = sizeof(sc->mem[0]);
	return sc->mem[baridx - 1];
}

static void
pci_dummy_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
		uint64_t value)
{
	size_t len;
	uint8_t *r = pci_dummy_regs(pi, baridx, &len);

	/* The bus keeps accesses inside the BAR; stay defensive anyway. */
	if (offset > len || (size_t)size > len - offset)
		return;
	memcpy(r + offset, &value, (size_t)size);
	if (baridx == 0 && offset == 4 && size == 4) {
		int nmsg = pci_msi_maxmsgnum(pi);

		if (nmsg > 0)
			pci_generate_msi(
			    pi, (int)((uint32_t)value % (uint32_t)nmsg));
	}
}

static uint64_t
pci_dummy_read(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	size_t len;
	uint8_t *r = pci_dummy_regs(pi, baridx, &len);
	uint64_t v = 0;

	if (offset > len || (size_t)size > len - offset)
		return ~0ULL;
	memcpy(&v, r + offset, (size_t)size);
	return v;
}

static int
pci_dummy_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct pci_dummy *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return -1;
	pi->pi_arg = sc;
	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x10dd);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x0001);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x02);
	if (pci_emul_add_msicap(pi, DUMMY_MSIS) < 0 ||
	    pci_emul_alloc_bar(pi, 0, PCIBAR_IO, DUMMY_IOSZ) != 0 ||
	    pci_emul_alloc_bar(pi, 1, PCIBAR_MEM32, DUMMY_MEMSZ) != 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM32, DUMMY_MEMSZ) != 0) {
		free(sc);
		pi->pi_arg = NULL;
		return -1;
	}
	return 0;
}

static void
pci_dummy_fini(struct pci_devinst *pi)
{
	free(pi->pi_arg);
	pi->pi_arg = NULL;
}

static const struct pci_devemu pci_de_dummy = {
    .pe_emu = "dummy",
    .pe_init = pci_dummy_init,
    .pe_fini = pci_dummy_fini,
    .pe_barwrite = pci_dummy_write,
    .pe_barread = pci_dummy_read,
};
PCI_EMUL_SET(pci_de_dummy);
