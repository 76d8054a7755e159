/*
 * Generic PCI device emulation (bhyve's pci_emul): configuration space
 * with per-bit write masks, BAR sizing and placement, capability lists,
 * MSI, MSI-X and INTx, reached through configuration mechanism #1
 * (ports 0xcf8/0xcfc) and ECAM (MMCONFIG).
 *
 * A device model is one file ending in one constant table, its whole
 * declaration:
 *
 *	static const struct pci_devemu pci_de_foo = {
 *		.pe_emu = "foo",
 *		.pe_legacy_config = foo_legacy_config,
 *		.pe_init = pci_foo_init,
 *		.pe_barread = pci_foo_read,
 *		.pe_barwrite = pci_foo_write,
 *	};
 *	PCI_EMUL_SET(pci_de_foo);
 *
 * "-s N,foo,opts" finds it by pe_emu (pci_models.h) and runs its
 * converter, which writes keys under pci.<bus>.<slot>.<func>; pe_init
 * later reads only those keys, however they were set (-s, -k, -o).
 */
#ifndef PCI_EMUL_H
#define PCI_EMUL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "legacy_config.h"
#include "linker_set.h"

struct vmctx;
struct pci_devinst;

/* PCI Local Bus 3.0, 3.2.2.3.2; PCIe 4.0, 7.2.2 (4 KiB per function). */
#define PCI_BUSMAX	     255
#define PCI_SLOTMAX	     31
#define PCI_FUNCMAX	     7
#define PCI_BARMAX	     5
#define PCI_REGMAX	     255 /* last register of mechanism #1 */
#define PCI_CFG_SPACE_SIZE   4096
#define PCI_MAX_MSIX_VECTORS 2048

/* Type 0 header registers (PCI Local Bus 3.0, 6.1). */
#define PCIR_VENDOR    0x00
#define PCIR_DEVICE    0x02
#define PCIR_COMMAND   0x04
#define PCIR_STATUS    0x06
#define PCIR_REVID     0x08
#define PCIR_PROGIF    0x09
#define PCIR_SUBCLASS  0x0a
#define PCIR_CLASS     0x0b
#define PCIR_CACHELNSZ 0x0c
#define PCIR_LATTIMER  0x0d
#define PCIR_HDRTYPE   0x0e
#define PCIR_BIST      0x0f
#define PCIR_BAR(x)    (0x10 + (x)*4)
#define PCIR_SUBVEND_0 0x2c
#define PCIR_SUBDEV_0  0x2e
#define PCIR_BIOS      0x30
#define PCIR_CAP_PTR   0x34
#define PCIR_INTLINE   0x3c
#define PCIR_INTPIN    0x3d

#define PCIM_CMD_PORTEN	       0x0001
#define PCIM_CMD_MEMEN	       0x0002
#define PCIM_CMD_BUSMASTEREN   0x0004
#define PCIM_CMD_INTxDIS       0x0400
#define PCIM_STATUS_INTxSTATE  0x0008
#define PCIM_STATUS_CAPPRESENT 0x0010
#define PCIM_HDRTYPE_NORMAL    0x00
#define PCIM_MFDEV	       0x80

#define PCIM_BAR_IO_SPACE     0x1
#define PCIM_BAR_MEM_64	      0x4
#define PCIM_BAR_MEM_PREFETCH 0x8

/* Class codes (PCI Code and ID Assignment 1.11). */
#define PCIC_BRIDGE	 0x06
#define PCIS_BRIDGE_HOST 0x00
#define PCIS_BRIDGE_ISA	 0x01

/* Capability IDs. */
#define PCIY_PMG     0x01
#define PCIY_MSI     0x05
#define PCIY_VENDOR  0x09
#define PCIY_EXPRESS 0x10
#define PCIY_MSIX    0x11

/* MSI (PCI Local Bus 3.0, 6.8.1) and MSI-X (6.8.2) registers. */
#define PCIM_MSICTRL_MSI_ENABLE	    0x0001
#define PCIM_MSICTRL_MMC_MASK	    0x000e
#define PCIM_MSICTRL_MME_MASK	    0x0070
#define PCIM_MSICTRL_64BIT	    0x0080
#define PCIM_MSIXCTRL_TABLE_SIZE    0x07ff
#define PCIM_MSIXCTRL_FUNCTION_MASK 0x4000
#define PCIM_MSIXCTRL_MSIX_ENABLE   0x8000
#define PCIM_MSIX_BIR_MASK	    0x7
#define PCIM_MSIX_VCTRL_MASK	    0x1
#define MSIX_TABLE_ENTRY_SIZE	    16

/* PCIe capability device/port types (PCIe 4.0, 7.5.3.2). */
#define PCIEM_TYPE_ENDPOINT    0x0
#define PCIEM_TYPE_ROOT_PORT   0x4
#define PCIEM_TYPE_ROOT_INT_EP 0x9

enum pcibar_type {
	PCIBAR_NONE,
	PCIBAR_IO,
	PCIBAR_MEM32,
	PCIBAR_MEM64,
	PCIBAR_MEMPREF, /* 64-bit, prefetchable */
	PCIBAR_MEMHI64	/* upper half of a 64-bit BAR; never allocated */
};

struct pcibar {
	/* What a port or MMIO registration of this BAR hands its handler. */
	struct pci_devinst *pi;
	int idx;
	enum pcibar_type type;
	uint64_t addr;
	uint64_t size;
	uint32_t lobits; /* the read-only low bits of the register */
	bool registered; /* decoding: claimed in the I/O or MMIO map */
};

struct msix_table_entry {
	uint64_t addr;
	uint32_t msg_data;
	uint32_t vector_control;
};

enum lintr_state { PCI_LINTR_IDLE, PCI_LINTR_ASSERTED, PCI_LINTR_PENDING };

struct pci_devemu {
	const char *pe_emu; /* the model name, e.g. "virtio-blk" */
	/*
	 * A command-line name for another model: "-s N,ahci-hd" writes
	 * device=ahci (pe_alias) and has no pe_init of its own.
	 */
	const char *pe_alias;
	/*
	 * "-s N,model,opts" -> keys under the slot's node, at parse time;
	 * NULL: legacy_config_generic ("a,b=c").
	 */
	legacy_config_t pe_legacy_config;
	/*
	 * Reads the node's keys and builds config space; 0 or -1 (printed).
	 * NULL only for aliases and models not implemented yet.
	 */
	int (*pe_init)(struct pci_devinst *pi, struct config_node *nvl);
	/*
	 * Optional: checks what pe_init will need from the host (a disk
	 * image, ...) before the VM exists, so that bad input is reported
	 * with the rest of it; 0, or -1 with the reason in err.
	 */
	int (*pe_check)(const struct config_node *nvl, char *err,
			size_t errlen);
	/*
	 * Optional config-space hooks.  pe_cfgread returns 0 after storing
	 * *val itself, non-zero for the generic read.  pe_cfgwrite returns 0
	 * when it consumed the write, non-zero for the generic (masked) one.
	 */
	int (*pe_cfgread)(struct pci_devinst *pi, int off, int bytes,
			  uint32_t *val);
	int (*pe_cfgwrite)(struct pci_devinst *pi, int off, int bytes,
			   uint32_t val);
	/*
	 * BAR accesses: offset is relative to the BAR and offset + size is
	 * within it; size is 1, 2, 4 (or 8 for memory BARs of models that
	 * set pe_bar64).  MSI-X table/PBA accesses never reach the model.
	 */
	void (*pe_barwrite)(struct pci_devinst *pi, int baridx, uint64_t offset,
			    int size, uint64_t value);
	uint64_t (*pe_barread)(struct pci_devinst *pi, int baridx,
			       uint64_t offset, int size);
	/* Optional: told when a BAR starts (enabled) or stops decoding. */
	void (*pe_baraddr)(struct pci_devinst *pi, int baridx, bool enabled,
			   uint64_t address);
	bool pe_bar64; /* pass 8-byte MMIO accesses through unsplit */
	/*
	 * Optional: the guest changed what MSI-X vector 'vector' delivers:
	 * its table entry (address, data or mask bit; PCI 3.0, 6.8.2.6-9),
	 * or, with vector = -1, something that affects every vector (MSI-X
	 * Enable or Function Mask in Message Control, 6.8.2.3, or MSI
	 * Enable, which turns MSI-X off here).  For models that deliver
	 * MSI-X outside pci_generate_msix() (KVM MSI routes + irqfds, used
	 * by a kernel datapath): they re-read the entry and follow it.
	 * Called on the vCPU thread after the write took effect and with
	 * no pci_emul lock held, so the hook may take pi_cfg_lock (e.g. via
	 * pci_generate_msix) and its own locks.  It may be called when
	 * nothing it cares about changed.
	 */
	void (*pe_msix_update)(struct pci_devinst *pi, int vector);
	/* Optional: frees what pe_init built (pi_arg, files, threads). */
	void (*pe_fini)(struct pci_devinst *pi);
};

#define PCI_EMUL_SET(x) DATA_SET(pci_devemu_set, x)

struct pci_devinst {
	const struct pci_devemu *pi_d;
	struct vmctx *pi_vmctx;
	uint8_t pi_bus, pi_slot, pi_func;
	char pi_name[48];
	void *pi_arg; /* the model's softc */

	struct {
		int pin; /* 1 = INTA .. 4 = INTD, 0 = none */
		int ioapic_irq;
		enum lintr_state state;
		pthread_mutex_t lock;
	} pi_lintr;

	struct {
		int capoff; /* 0: no MSI capability */
		bool enabled;
		uint64_t addr;
		uint16_t msg_data;
		int maxmsgnum;
	} pi_msi;

	struct {
		int capoff; /* 0: no MSI-X capability */
		bool enabled;
		bool function_mask;
		int table_bar;
		int pba_bar;
		uint32_t table_offset;
		int table_count;
		uint32_t pba_offset;
		uint32_t pba_size;
		struct msix_table_entry *table;
		uint64_t *pba; /* pending bits of masked vectors */
	} pi_msix;

	int pi_prevcap, pi_capend;
	struct pcibar pi_bar[PCI_BARMAX + 1];
	pthread_mutex_t pi_cfg_lock;
	uint8_t pi_cfgdata[PCI_CFG_SPACE_SIZE];
	/* A set bit may be changed by the guest through config writes. */
	uint8_t pi_cfgwmask[PCI_CFG_SPACE_SIZE];
};

/*
 * Config-space helpers for models (no guest masks apply; offsets must be
 * inside the 4 KiB space and naturally aligned).
 */
void pci_set_cfgdata8(struct pci_devinst *pi, int off, uint8_t val);
void pci_set_cfgdata16(struct pci_devinst *pi, int off, uint16_t val);
void pci_set_cfgdata32(struct pci_devinst *pi, int off, uint32_t val);
uint8_t pci_get_cfgdata8(struct pci_devinst *pi, int off);
uint16_t pci_get_cfgdata16(struct pci_devinst *pi, int off);
uint32_t pci_get_cfgdata32(struct pci_devinst *pi, int off);
/* Makes bits guest-writable (set in mask) or read-only (clear). */
void pci_set_cfgwmask(struct pci_devinst *pi, int off, int bytes,
		      uint32_t mask);

/*
 * Requests BAR idx of 'type' and 'size' (rounded up to a power of two, at
 * least 4 for I/O, 16 for memory); a 64-bit BAR also takes idx + 1.  The
 * address is assigned after every device is initialised, largest BARs
 * first, and decoding is enabled in the command register; with a boot
 * ROM the firmware does both instead.  0 or -1.
 */
int pci_emul_alloc_bar(struct pci_devinst *pi, int idx, enum pcibar_type type,
		       uint64_t size);

/*
 * Appends a capability (caplen bytes, first byte its ID; the "next"
 * byte is filled in) to the list from offset 0x40.  Returns its offset,
 * or -1 if it does not fit below 0x100.
 */
int pci_emul_add_capability(struct pci_devinst *pi, const uint8_t *capdata,
			    int caplen);
/* A 64-bit MSI capability with msgnum (1, 2, 4 .. 32) messages. */
int pci_emul_add_msicap(struct pci_devinst *pi, int msgnum);
/*
 * An MSI-X capability with nvec vectors (1..2048); the table at offset 0
 * and the PBA after it (4 KiB aligned) in memory BAR barnum, which this
 * allocates (32-bit).  Returns the capability offset, or -1.
 */
int pci_emul_add_msixcap(struct pci_devinst *pi, int nvec, int barnum);
/* A PCIe capability of the given port type (PCIEM_TYPE_*). */
int pci_emul_add_pciecap(struct pci_devinst *pi, int type);
/* The offset of the first capability with this ID, or 0. */
int pci_emul_find_capability(struct pci_devinst *pi, int capid);

bool pci_msi_enabled(struct pci_devinst *pi);
int pci_msi_maxmsgnum(struct pci_devinst *pi);
bool pci_msix_enabled(struct pci_devinst *pi);
/* Sends message 'index' if enabled and within the enabled count. */
void pci_generate_msi(struct pci_devinst *pi, int index);
/*
 * Sends MSI-X vector 'index', or sets its pending bit while the vector
 * or the whole function is masked (delivered when unmasked).
 */
void pci_generate_msix(struct pci_devinst *pi, int index);

/* Gives the function an INTx pin (call from pe_init). */
void pci_lintr_request(struct pci_devinst *pi);
/* Level semantics; held pending while MSI/MSI-X or INTxDIS mask it. */
void pci_lintr_assert(struct pci_devinst *pi);
void pci_lintr_deassert(struct pci_devinst *pi);

/* Builds every configured PCI device (pci.<b>.<s>.<f>); 0 or -1. */
int init_pci(struct vmctx *ctx);
/* Removes every device and registration (tests, fuzzers, exit). */
void pci_emul_fini(void);

/* Config access as the bus sees it (mechanism #1 and ECAM use this). */
void pci_emul_cfgrw(bool in, int bus, int slot, int func, int off, int bytes,
		    uint32_t *val);
struct pci_devinst *pci_emul_find_dev(int bus, int slot, int func);

/*
 * Interrupt delivery, replaceable by tests and fuzzers (NULL restores
 * the vmmapi calls).
 */
struct pci_intr_ops {
	int (*msi)(struct vmctx *ctx, uint64_t addr, uint64_t data);
	int (*intx)(struct vmctx *ctx, int ioapic_irq, bool assert);
};
void pci_emul_set_intr_ops(const struct pci_intr_ops *ops);

/* ---- Facts for the firmware tables (ACPI, MP table, fw_cfg) ---- */

/* bhyve's layout: ECAM for buses 0..255 at 3.5 GiB. */
#define PCI_EMUL_ECFG_BASE 0xE0000000ULL
#define PCI_EMUL_ECFG_SIZE (256ULL << 20)
#define PCI_EMUL_IOBASE	   0x2000
#define PCI_EMUL_IOLIMIT   0xffff
#define PCI_EMUL_MEMSIZE64 (32ULL << 30)

struct pci_window {
	uint64_t base, limit; /* limit inclusive; base > limit: empty */
};
/*
 * With a boot ROM (platform_firmware_is_uefi()) the firmware places the
 * BARs, in the apertures OVMF uses on QEMU's "pc": I/O from 0xC000 and
 * 32-bit MMIO up to 0xFBFFFFFF; there is no ECAM window then.
 */
#define PCI_UEFI_IOBASE	     0xc000
#define PCI_UEFI_MEM32_LIMIT 0xfbffffffULL
/*
 * Where the PIIX4 power-management function OVMF reads lives, and the
 * I/O base its PMBA reports: the platform's ACPI PM registers (pm.h
 * checks that they agree).
 */
#define PCI_PIIX4_PM_NODE "pci.0.1.3"
#define PCI_PIIX4_PM_BASE 0x400

/*
 * The address ranges BARs are placed in and the guest may move them
 * within: I/O 0x2000-0xffff, 32-bit MMIO from the low-memory limit to
 * the ECAM base, 64-bit MMIO 32 GiB from above high memory (32 GiB
 * aligned).  With a boot ROM: I/O 0xC000-0xFFFF, 32-bit MMIO from the
 * top of low RAM to 0xFBFFFFFF, 64-bit MMIO as without, and beehive
 * places no BAR in them.  Valid after init_pci().
 */
void pci_emul_get_windows(struct pci_window *io, struct pci_window *mem32,
			  struct pci_window *mem64);
/*
 * bhyve gives each configured bus its own slice of those windows (a
 * separate root bridge in the DSDT); -1 if the bus has no devices.
 */
int pci_emul_get_bus_windows(int bus, struct pci_window *io,
			     struct pci_window *mem32,
			     struct pci_window *mem64);
bool pci_emul_bus_configured(int bus);

uint64_t pci_emul_ecam_base(void);
/* 0 with a boot ROM: no ECAM window, no MCFG. */
uint64_t pci_emul_ecam_size(void);

/* One entry per used (bus, slot, pin): for the DSDT _PRT and MP table. */
struct pci_intx_route {
	int bus, slot, pin; /* pin: 1 = INTA .. 4 = INTD */
	int ioapic_irq;
};
/* Fills up to max routes, bus/slot/pin order; returns the total count. */
int pci_emul_get_intx_routes(struct pci_intx_route *r, int max);

struct pci_dev_info {
	int bus, slot, func;
	uint16_t vendor, device;
	uint8_t class, subclass, progif;
	const char *model; /* pe_emu */
	struct pci_devinst *pi;
};
int pci_emul_count_devices(void);
/* The n-th device in bus/slot/func order; 0, or -1 past the end. */
int pci_emul_get_device(int n, struct pci_dev_info *info);

#endif
