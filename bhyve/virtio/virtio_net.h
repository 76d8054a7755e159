/*
 * virtio-net (bhyve/virtio/virtio_net.c): what tests, fuzzers and
 * bhyvectl may look at.
 */
#ifndef VIRTIO_NET_H
#define VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pci_devinst;

#define VTNET_MAX_PAIRS	   8	/* queues=1..8 */
#define VTNET_MAC_TABLE	   64	/* filter entries kept per class */
#define VTNET_PCI_CLASS	   0x02 /* network controller */
#define VTNET_PCI_SUBCLASS 0x00 /* ethernet */

/* The receive filter the control queue programs (5.1.6.5.1-2). */
struct vtnet_rxfilter {
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	bool uni_overflow, multi_overflow; /* more than the table holds */
	int nuni, nmulti;
	uint8_t uni[VTNET_MAC_TABLE][6];
	uint8_t multi[VTNET_MAC_TABLE][6];
};

struct vtnet_stats {
	uint64_t rx_frames, rx_dropped, rx_filtered;
	uint64_t tx_frames, tx_dropped;
	uint64_t ctrl_cmds, ctrl_errors;
};

struct vtnet_state {
	uint8_t mac[6];
	struct vtnet_rxfilter rxf;
	int max_pairs, active_pairs;
	size_t hdrlen;
	uint64_t offloads; /* VIRTIO_NET_F_* offloads applied to the backend */
	bool vhost;	   /* the kernel datapath was chosen */
};

void vtnet_get_stats(struct pci_devinst *pi, struct vtnet_stats *st);
void vtnet_get_state(struct pci_devinst *pi, struct vtnet_state *st);

#endif
