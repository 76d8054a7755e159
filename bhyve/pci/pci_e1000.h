/*
 * e1000 (bhyve/pci/pci_e1000.c): what tests and fuzzers may look at.
 */
#ifndef PCI_E1000_H
#define PCI_E1000_H

#include <stdbool.h>
#include <stdint.h>

struct pci_devinst;

struct e1000_state {
	uint8_t mac[6];
	uint32_t icr, ims;
	uint32_t rdh, tdh;
	bool rx_polling; /* the backend is polled for frames */
	bool rx_waiting; /* a frame waits for receive descriptors */
	bool intx;	 /* INTx asserted */
	/* ICR causes whose interrupt a delay timer (RDTR/RADV, TIDV/TADV)
	 * holds, and whether any moderation deadline (those, ITR) runs. */
	uint32_t held;
	bool mit_pending;
};

void e1000_get_state(struct pci_devinst *pi, struct e1000_state *st);
/* Every moderation timer runs out now, as the event loop's timer would
 * make them after their delays: tests and fuzzers, which do not wait. */
void e1000_moderation_expire(struct pci_devinst *pi);

#endif
