/*
 * Generic PCI device emulation: the bus topology built from the
 * pci.<bus>.<slot>.<func> configuration nodes, configuration space with
 * per-bit write masks, BAR placement and decoding, capabilities (MSI,
 * MSI-X, PCIe), INTx routing to IOAPIC pins, and the two ways the guest
 * reaches configuration space: mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2)
 * and ECAM (PCIe 4.0, 7.2.2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_vm.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "pci_models.h"
#include "platform_dev.h"
#include "vmmapi.h"

#define MAXBUSES  (PCI_BUSMAX + 1)
#define MAXSLOTS  (PCI_SLOTMAX + 1)
#define MAXFUNCS  (PCI_FUNCMAX + 1)
#define CAP_START 0x40

#define CONF1_ADDR_PORT 0xcf8
#define CONF1_DATA_PORT 0xcfc
#define CONF1_ENABLE	0x80000000u

/* The first IOAPIC pin PCI may use; 0-15 are the ISA lines. */
#define PCI_IOAPIC_FIRST 16
#define PCI_IOAPIC_MAX	 256

/* 64-bit BARs this small go below 4 GiB, as bhyve does for old drivers. */
#define MEM64_LOW_MAX (128ULL << 20)

/* Slack left in each bus's windows so the guest can move BARs (bhyve). */
#define BUSIO_ROUNDUP	 32ULL
#define BUSMEM32_ROUNDUP (1ULL << 20)
#define BUSMEM64_ROUNDUP (512ULL << 20)

/* Command bits a guest may change (PCI 3.0, 6.2.2): 0-6 and 8-10. */
#define PCI_CMD_WMASK 0x077f

_Static_assert(sizeof(struct msix_table_entry) == MSIX_TABLE_ENTRY_SIZE,
	       "MSI-X table entries are 16 bytes (PCI 3.0, 6.8.2.6)");

SET_DECLARE(pci_devemu_set, const struct pci_devemu);

struct pci_intpin {
	int count; /* functions of the slot using this pin */
	int ioapic_irq;
};

struct pci_slotinfo {
	struct pci_intpin intpins[4];
	struct pci_devinst *funcs[MAXFUNCS];
};

struct pci_businfo {
	struct pci_window io, mem32, mem64;
	struct pci_slotinfo slots[MAXSLOTS];
};

/* A BAR waiting for an address: placed largest first to limit holes. */
struct pci_bar_request {
	struct pci_devinst *pi;
	int idx;
	enum pcibar_type type;
	uint64_t size;
	size_t seq; /* request order, for a stable sort */
};

static struct pci_businfo *pci_buses[MAXBUSES];
static struct pci_bar_request *pci_bar_reqs;
static size_t pci_bar_nreqs, pci_bar_reqcap;

static uint64_t pci_iobase, pci_membase32, pci_membase64;
static struct pci_window pci_win_io, pci_win_mem32, pci_win_mem64;
static int pci_ioapic_pins; /* pins usable by PCI (above 15) */
static int pci_ioapic_next;
static bool pci_enable_bars;
/*
 * A boot ROM places BARs itself (platform_firmware_is_uefi()): beehive
 * assigns none, leaves decoding off and offers no ECAM window.
 */
static bool pci_firmware_places_bars;
static bool pci_ports_registered, pci_ecam_registered;

/* Assertion counts per IOAPIC pin: KVM's line is one level per source. */
static pthread_mutex_t pci_intx_lock = PTHREAD_MUTEX_INITIALIZER;
static int pci_intx_count[PCI_IOAPIC_MAX];

/* Mechanism #1 address register; one per machine, like the hardware. */
static pthread_mutex_t pci_conf1_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t pci_conf1_addr;

static int
pci_default_msi(struct vmctx *ctx, uint64_t addr, uint64_t data)
{
	return vm_lapic_msi(ctx, addr, data);
}

static int
pci_default_intx(struct vmctx *ctx, int irq, bool assert)
{
	return assert ? vm_ioapic_assert_irq(ctx, irq)
		      : vm_ioapic_deassert_irq(ctx, irq);
}

static const struct pci_intr_ops pci_default_intr_ops = {
    .msi = pci_default_msi,
    .intx = pci_default_intx,
};
static const struct pci_intr_ops *pci_intr = &pci_default_intr_ops;

void
pci_emul_set_intr_ops(const struct pci_intr_ops *ops)
{
	pci_intr = ops != NULL ? ops : &pci_default_intr_ops;
}

/* ---- Raw config-space access (little-endian, as on the bus) ---- */

static bool
pci_cfg_range_ok(int off, int bytes)
{
	return off >= 0 && bytes > 0 && bytes <= 4 &&
	       off <= PCI_CFG_SPACE_SIZE - bytes;
}

static uint32_t
pci_cfg_read_raw(const uint8_t *space, int off, int bytes)
{
	uint32_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | space[off + i];
	return v;
}

static void
pci_cfg_write_raw(uint8_t *space, int off, int bytes, uint32_t val)
{
	for (int i = 0; i < bytes; i++)
		space[off + i] = (uint8_t)(val >> (8 * i));
}

void
pci_set_cfgdata8(struct pci_devinst *pi, int off, uint8_t val)
{
	if (pci_cfg_range_ok(off, 1))
		pi->pi_cfgdata[off] = val;
}

void
pci_set_cfgdata16(struct pci_devinst *pi, int off, uint16_t val)
{
	if (pci_cfg_range_ok(off, 2))
		pci_cfg_write_raw(pi->pi_cfgdata, off, 2, val);
}

void
pci_set_cfgdata32(struct pci_devinst *pi, int off, uint32_t val)
{
	if (pci_cfg_range_ok(off, 4))
		pci_cfg_write_raw(pi->pi_cfgdata, off, 4, val);
}

uint8_t
pci_get_cfgdata8(struct pci_devinst *pi, int off)
{
	return pci_cfg_range_ok(off, 1) ? pi->pi_cfgdata[off] : 0xff;
}

uint16_t
pci_get_cfgdata16(struct pci_devinst *pi, int off)
{
	return pci_cfg_range_ok(off, 2)
		   ? (uint16_t)pci_cfg_read_raw(pi->pi_cfgdata, off, 2)
		   : 0xffff;
}

uint32_t
pci_get_cfgdata32(struct pci_devinst *pi, int off)
{
	return pci_cfg_range_ok(off, 4)
		   ? pci_cfg_read_raw(pi->pi_cfgdata, off, 4)
		   : 0xffffffffu;
}

void
pci_set_cfgwmask(struct pci_devinst *pi, int off, int bytes, uint32_t mask)
{
	if (pci_cfg_range_ok(off, bytes))
		pci_cfg_write_raw(pi->pi_cfgwmask, off, bytes, mask);
}

/* ---- Interrupts ---- */

static void
pci_intx_line(struct pci_devinst *pi, bool assert)
{
	int irq = pi->pi_lintr.ioapic_irq;
	bool edge;

	if (irq < 0 || irq >= PCI_IOAPIC_MAX)
		return;
	pthread_mutex_lock(&pci_intx_lock);
	if (assert)
		edge = pci_intx_count[irq]++ == 0;
	else
		edge = pci_intx_count[irq] > 0 && --pci_intx_count[irq] == 0;
	if (edge)
		pci_intr->intx(pi->pi_vmctx, irq, assert);
	pthread_mutex_unlock(&pci_intx_lock);
}

bool
pci_msi_enabled(struct pci_devinst *pi)
{
	return pi->pi_msi.enabled;
}

int
pci_msi_maxmsgnum(struct pci_devinst *pi)
{
	return pi->pi_msi.enabled ? pi->pi_msi.maxmsgnum : 0;
}

bool
pci_msix_enabled(struct pci_devinst *pi)
{
	return pi->pi_msix.enabled && !pi->pi_msi.enabled;
}

/* PCI 3.0, 6.2.2 and 6.8: INTx is masked by INTxDIS and by MSI/MSI-X. */
static bool
pci_lintr_permitted(struct pci_devinst *pi)
{
	uint16_t cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);

	return !(pi->pi_msi.enabled || pi->pi_msix.enabled ||
		 (cmd & PCIM_CMD_INTxDIS));
}

void
pci_lintr_assert(struct pci_devinst *pi)
{
	if (pi->pi_lintr.pin == 0)
		return;
	pthread_mutex_lock(&pi->pi_lintr.lock);
	if (pi->pi_lintr.state == PCI_LINTR_IDLE) {
		if (pci_lintr_permitted(pi)) {
			pi->pi_lintr.state = PCI_LINTR_ASSERTED;
			pci_intx_line(pi, true);
		} else {
			pi->pi_lintr.state = PCI_LINTR_PENDING;
		}
	}
	pthread_mutex_unlock(&pi->pi_lintr.lock);
}

void
pci_lintr_deassert(struct pci_devinst *pi)
{
	if (pi->pi_lintr.pin == 0)
		return;
	pthread_mutex_lock(&pi->pi_lintr.lock);
	if (pi->pi_lintr.state == PCI_LINTR_ASSERTED)
		pci_intx_line(pi, false);
	pi->pi_lintr.state = PCI_LINTR_IDLE;
	pthread_mutex_unlock(&pi->pi_lintr.lock);
}

/* After a change of INTxDIS or MSI/MSI-X enables: apply the new mask. */
static void
pci_lintr_update(struct pci_devinst *pi)
{
	pthread_mutex_lock(&pi->pi_lintr.lock);
	if (pi->pi_lintr.state == PCI_LINTR_ASSERTED &&
	    !pci_lintr_permitted(pi)) {
		pci_intx_line(pi, false);
		pi->pi_lintr.state = PCI_LINTR_PENDING;
	} else if (pi->pi_lintr.state == PCI_LINTR_PENDING &&
		   pci_lintr_permitted(pi)) {
		pi->pi_lintr.state = PCI_LINTR_ASSERTED;
		pci_intx_line(pi, true);
	}
	pthread_mutex_unlock(&pi->pi_lintr.lock);
}

void
pci_lintr_request(struct pci_devinst *pi)
{
	struct pci_businfo *bi = pci_buses[pi->pi_bus];
	struct pci_slotinfo *si;
	int best = 0;

	if (bi == NULL || pi->pi_lintr.pin != 0)
		return;
	/* Spread the functions of a slot over INTA..INTD. */
	si = &bi->slots[pi->pi_slot];
	for (int pin = 1; pin < 4; pin++) {
		if (si->intpins[pin].count < si->intpins[best].count)
			best = pin;
	}
	si->intpins[best].count++;
	pi->pi_lintr.pin = best + 1;
	pci_set_cfgdata8(pi, PCIR_INTPIN, (uint8_t)(best + 1));
}

/*
 * Each used (slot, pin) gets an IOAPIC pin from 16 up, round robin over
 * the pins above the ISA ones, in bus/slot/function order (bhyve).
 */
static void
pci_lintr_route(struct pci_devinst *pi)
{
	struct pci_intpin *ip;

	if (pi->pi_lintr.pin == 0)
		return;
	ip = &pci_buses[pi->pi_bus]
		  ->slots[pi->pi_slot]
		  .intpins[pi->pi_lintr.pin - 1];
	if (ip->ioapic_irq == 0 && pci_ioapic_pins > 0) {
		ip->ioapic_irq =
		    PCI_IOAPIC_FIRST + pci_ioapic_next++ % pci_ioapic_pins;
	}
	pi->pi_lintr.ioapic_irq = ip->ioapic_irq ? ip->ioapic_irq : -1;
	pci_set_cfgdata8(pi, PCIR_INTLINE,
			 ip->ioapic_irq ? (uint8_t)ip->ioapic_irq : 0xff);
}

void
pci_generate_msi(struct pci_devinst *pi, int index)
{
	uint64_t addr;
	uint16_t data;
	bool send;

	pthread_mutex_lock(&pi->pi_cfg_lock);
	send = pi->pi_msi.enabled && index >= 0 && index < pi->pi_msi.maxmsgnum;
	addr = pi->pi_msi.addr;
	/* Multiple messages differ in the low bits of the data. */
	data = (uint16_t)(pi->pi_msi.msg_data | index);
	pthread_mutex_unlock(&pi->pi_cfg_lock);
	if (send)
		pci_intr->msi(pi->pi_vmctx, addr, data);
}

static bool
msix_pending(struct pci_devinst *pi, int v)
{
	return (pi->pi_msix.pba[v / 64] >> (v % 64)) & 1;
}

static void
msix_set_pending(struct pci_devinst *pi, int v, bool on)
{
	uint64_t bit = 1ULL << (v % 64);

	if (on)
		pi->pi_msix.pba[v / 64] |= bit;
	else
		pi->pi_msix.pba[v / 64] &= ~bit;
}

/* Called with pi_cfg_lock held. */
static void
msix_deliver_locked(struct pci_devinst *pi, int v)
{
	struct msix_table_entry *e = &pi->pi_msix.table[v];

	if (pi->pi_msix.function_mask ||
	    (e->vector_control & PCIM_MSIX_VCTRL_MASK)) {
		/* PCI 3.0, 6.8.2.9: masked messages become pending. */
		msix_set_pending(pi, v, true);
		return;
	}
	msix_set_pending(pi, v, false);
	pci_intr->msi(pi->pi_vmctx, e->addr, e->msg_data);
}

/* Sends what became unmasked.  Called with pi_cfg_lock held. */
static void
msix_flush_pending_locked(struct pci_devinst *pi)
{
	if (!pci_msix_enabled(pi) || pi->pi_msix.function_mask)
		return;
	for (int v = 0; v < pi->pi_msix.table_count; v++) {
		if (msix_pending(pi, v) &&
		    !(pi->pi_msix.table[v].vector_control &
		      PCIM_MSIX_VCTRL_MASK))
			msix_deliver_locked(pi, v);
	}
}

void
pci_generate_msix(struct pci_devinst *pi, int index)
{
	pthread_mutex_lock(&pi->pi_cfg_lock);
	if (pci_msix_enabled(pi) && index >= 0 &&
	    index < pi->pi_msix.table_count)
		msix_deliver_locked(pi, index);
	pthread_mutex_unlock(&pi->pi_cfg_lock);
}

/* ---- Capabilities ---- */

int
pci_emul_add_capability(struct pci_devinst *pi, const uint8_t *capdata,
			int caplen)
{
	uint16_t sts = pci_get_cfgdata16(pi, PCIR_STATUS);
	int capoff, reallen;

	if (caplen < 2 || caplen > PCI_REGMAX)
		return -1;
	reallen = (caplen + 3) & ~3;
	capoff = (sts & PCIM_STATUS_CAPPRESENT) ? pi->pi_capend + 1 : CAP_START;
	if (capoff + reallen > PCI_REGMAX + 1)
		return -1;
	if (sts & PCIM_STATUS_CAPPRESENT) {
		pci_set_cfgdata8(pi, pi->pi_prevcap + 1, (uint8_t)capoff);
	} else {
		pci_set_cfgdata8(pi, PCIR_CAP_PTR, (uint8_t)capoff);
		pci_set_cfgdata16(pi, PCIR_STATUS,
				  sts | PCIM_STATUS_CAPPRESENT);
	}
	for (int i = 0; i < caplen; i++)
		pci_set_cfgdata8(pi, capoff + i, capdata[i]);
	pci_set_cfgdata8(pi, capoff + 1, 0);
	pi->pi_prevcap = capoff;
	pi->pi_capend = capoff + reallen - 1;
	return capoff;
}

int
pci_emul_find_capability(struct pci_devinst *pi, int capid)
{
	int off, hops = 0;

	if (!(pci_get_cfgdata16(pi, PCIR_STATUS) & PCIM_STATUS_CAPPRESENT))
		return 0;
	/* 48 hops is more than fit below 0x100: stops any loop. */
	for (off = pci_get_cfgdata8(pi, PCIR_CAP_PTR) & ~3;
	     off >= CAP_START && hops < 48;
	     off = pci_get_cfgdata8(pi, off + 1) & ~3, hops++) {
		if (pci_get_cfgdata8(pi, off) == capid)
			return off;
	}
	return 0;
}

int
pci_emul_add_msicap(struct pci_devinst *pi, int msgnum)
{
	uint8_t cap[14] = {PCIY_MSI};
	int mmc = 0, off;

	if (msgnum < 1 || msgnum > 32 || (msgnum & (msgnum - 1)) != 0 ||
	    pi->pi_msi.capoff != 0)
		return -1;
	while ((1 << mmc) < msgnum)
		mmc++;
	/* 64-bit address capable, Multiple Message Capable = log2(n). */
	cap[2] = (uint8_t)(PCIM_MSICTRL_64BIT | (mmc << 1));
	off = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (off < 0)
		return -1;
	pci_set_cfgwmask(pi, off + 2, 2,
			 PCIM_MSICTRL_MME_MASK | PCIM_MSICTRL_MSI_ENABLE);
	pci_set_cfgwmask(pi, off + 4, 4, 0xfffffffc); /* dword aligned */
	pci_set_cfgwmask(pi, off + 8, 4, 0xffffffff);
	pci_set_cfgwmask(pi, off + 12, 2, 0xffff);
	pi->pi_msi.capoff = off;
	return off;
}

/* Re-reads the MSI registers after a guest write. */
static void
msi_update(struct pci_devinst *pi)
{
	int off = pi->pi_msi.capoff;
	uint16_t ctrl = pci_get_cfgdata16(pi, off + 2);
	int mmc = (ctrl & PCIM_MSICTRL_MMC_MASK) >> 1;
	int mme = (ctrl & PCIM_MSICTRL_MME_MASK) >> 4;

	pi->pi_msi.enabled = (ctrl & PCIM_MSICTRL_MSI_ENABLE) != 0;
	pi->pi_msi.addr = pci_get_cfgdata32(pi, off + 4) |
			  (uint64_t)pci_get_cfgdata32(pi, off + 8) << 32;
	pi->pi_msi.msg_data = pci_get_cfgdata16(pi, off + 12);
	/* Software may not enable more than offered (6.8.1.3). */
	pi->pi_msi.maxmsgnum = 1 << (mme < mmc ? mme : mmc);
	if (!pi->pi_msi.enabled)
		pi->pi_msi.maxmsgnum = 0;
}

int
pci_emul_add_msixcap(struct pci_devinst *pi, int nvec, int barnum)
{
	uint8_t cap[12] = {PCIY_MSIX};
	uint32_t tabsize, pbasize;
	int off;

	if (nvec < 1 || nvec > PCI_MAX_MSIX_VECTORS || barnum < 0 ||
	    barnum > PCI_BARMAX || pi->pi_msix.capoff != 0 ||
	    pi->pi_bar[barnum].type != PCIBAR_NONE)
		return -1;
	/* Table at 0, PBA on the next 4 KiB boundary: both page-isolated. */
	tabsize = ((uint32_t)nvec * MSIX_TABLE_ENTRY_SIZE + 4095) & ~4095u;
	pbasize = (uint32_t)((nvec + 63) / 64) * 8;
	pi->pi_msix.table = calloc((size_t)nvec, sizeof(*pi->pi_msix.table));
	pi->pi_msix.pba = calloc((size_t)(nvec + 63) / 64, sizeof(uint64_t));
	if (pi->pi_msix.table == NULL || pi->pi_msix.pba == NULL)
		goto fail;
	/* Every vector starts masked (6.8.2.9). */
	for (int v = 0; v < nvec; v++)
		pi->pi_msix.table[v].vector_control = PCIM_MSIX_VCTRL_MASK;
	pci_cfg_write_raw(cap, 2, 2, (uint32_t)(nvec - 1));
	pci_cfg_write_raw(cap, 4, 4, (uint32_t)barnum);
	pci_cfg_write_raw(cap, 8, 4, tabsize | (uint32_t)barnum);
	off = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (off < 0)
		goto fail;
	if (pci_emul_alloc_bar(pi, barnum, PCIBAR_MEM32, tabsize + pbasize)) {
		/* The capability stays, but unusable: report failure. */
		goto fail;
	}
	pci_set_cfgwmask(pi, off + 2, 2,
			 PCIM_MSIXCTRL_MSIX_ENABLE |
			     PCIM_MSIXCTRL_FUNCTION_MASK);
	pi->pi_msix.capoff = off;
	pi->pi_msix.table_bar = barnum;
	pi->pi_msix.pba_bar = barnum;
	pi->pi_msix.table_offset = 0;
	pi->pi_msix.table_count = nvec;
	pi->pi_msix.pba_offset = tabsize;
	pi->pi_msix.pba_size = pbasize;
	return off;
fail:
	free(pi->pi_msix.table);
	free(pi->pi_msix.pba);
	pi->pi_msix.table = NULL;
	pi->pi_msix.pba = NULL;
	return -1;
}

/* Called with pi_cfg_lock held after a guest write to the capability. */
static void
msix_update(struct pci_devinst *pi)
{
	uint16_t ctrl = pci_get_cfgdata16(pi, pi->pi_msix.capoff + 2);

	pi->pi_msix.enabled = (ctrl & PCIM_MSIXCTRL_MSIX_ENABLE) != 0;
	pi->pi_msix.function_mask = (ctrl & PCIM_MSIXCTRL_FUNCTION_MASK) != 0;
	msix_flush_pending_locked(pi);
}

/* PCIe 4.0, 7.5.3: the capability structure through Slot Status 2. */
int
pci_emul_add_pciecap(struct pci_devinst *pi, int type)
{
	uint8_t cap[60] = {PCIY_EXPRESS};
	int off;

	/* Endpoints on a root complex bus are integrated endpoints. */
	if (type == PCIEM_TYPE_ENDPOINT && pi->pi_bus == 0)
		type = PCIEM_TYPE_ROOT_INT_EP;
	pci_cfg_write_raw(cap, 2, 2, 0x2 | (uint32_t)(type << 4));
	if (type != PCIEM_TYPE_ROOT_INT_EP) {
		pci_cfg_write_raw(cap, 12, 4, 0x411); /* 2.5 GT/s, x1 */
		pci_cfg_write_raw(cap, 18, 2, 0x11);
	}
	off = pci_emul_add_capability(pi, cap, sizeof(cap));
	if (off < 0)
		return -1;
	/* Device, Link and Device 2 Control are read-write. */
	pci_set_cfgwmask(pi, off + 8, 2, 0xffff);
	pci_set_cfgwmask(pi, off + 16, 2, 0xffff);
	pci_set_cfgwmask(pi, off + 40, 2, 0xffff);
	return off;
}

/* ---- BARs ---- */

static bool
pci_bar_is_io(const struct pcibar *b)
{
	return b->type == PCIBAR_IO;
}

static bool
pci_bar_is_mem(const struct pcibar *b)
{
	return b->type == PCIBAR_MEM32 || b->type == PCIBAR_MEM64 ||
	       b->type == PCIBAR_MEMPREF;
}

static bool
pci_bar_decoding(struct pci_devinst *pi, const struct pcibar *b)
{
	uint16_t cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);

	if (pci_bar_is_io(b))
		return (cmd & PCIM_CMD_PORTEN) != 0;
	if (pci_bar_is_mem(b))
		return (cmd & PCIM_CMD_MEMEN) != 0;
	return false;
}

/*
 * MSI-X table/PBA accesses: aligned, within one entry or PBA qword.
 * *changed is set to the vector whose entry a write modified (for
 * pe_msix_update), else left alone.
 */
static bool
msix_bar_access(struct pci_devinst *pi, int idx, uint64_t off, int size,
		bool write, uint64_t *val, int *changed)
{
	uint64_t tabend;

	if (pi->pi_msix.table == NULL || idx != pi->pi_msix.table_bar)
		return false;
	tabend = (uint64_t)pi->pi_msix.table_count * MSIX_TABLE_ENTRY_SIZE;
	if (off >= pi->pi_msix.table_offset &&
	    off - pi->pi_msix.table_offset < tabend) {
		uint64_t t = off - pi->pi_msix.table_offset;
		int v = (int)(t / MSIX_TABLE_ENTRY_SIZE);
		struct msix_table_entry old;
		uint8_t *e = (uint8_t *)&pi->pi_msix.table[v];
		int eoff = (int)(t % MSIX_TABLE_ENTRY_SIZE);

		if ((eoff & (size - 1)) != 0) {
			if (!write)
				*val = ~0ULL;
			return true;
		}
		if (!write) {
			*val = 0;
			memcpy(val, e + eoff, (size_t)size);
			return true;
		}
		old = pi->pi_msix.table[v];
		memcpy(e + eoff, val, (size_t)size);
		/* Only the mask bit of Vector Control is defined. */
		pi->pi_msix.table[v].vector_control &= PCIM_MSIX_VCTRL_MASK;
		if (memcmp(&old, e, sizeof(old)) != 0)
			*changed = v;
		msix_flush_pending_locked(pi);
		return true;
	}
	if (off >= pi->pi_msix.pba_offset &&
	    off - pi->pi_msix.pba_offset < pi->pi_msix.pba_size) {
		uint64_t p = off - pi->pi_msix.pba_offset;

		/* The PBA is read-only (6.8.2.10). */
		if (!write) {
			*val = 0;
			if ((p & (uint64_t)(size - 1)) == 0)
				memcpy(val, (uint8_t *)pi->pi_msix.pba + p,
				       (size_t)size);
			else
				*val = ~0ULL;
		}
		return true;
	}
	return false;
}

/*
 * The part of a BAR access that runs under pi_cfg_lock, taken once: the
 * BAR the registration names must still decode [addr, addr+size) (the
 * dispatch tables are read without this device's lock, so the BAR may
 * have moved or stopped decoding since), and MSI-X table and PBA
 * accesses are served here.  Returns false if nothing decodes the whole
 * access; else *off is the offset in the BAR and *handled says whether
 * the access is complete.
 */
static bool
pci_bar_claim(struct pci_devinst *pi, int idx, uint64_t addr, int size,
	      bool write, uint64_t *val, uint64_t *off, bool *handled,
	      int *changed)
{
	struct pcibar *b = &pi->pi_bar[idx];
	bool decodes;

	pthread_mutex_lock(&pi->pi_cfg_lock);
	decodes = b->registered && addr >= b->addr &&
		  addr - b->addr < b->size &&
		  (uint64_t)size <= b->size - (addr - b->addr);
	if (decodes) {
		*off = addr - b->addr;
		*handled =
		    msix_bar_access(pi, idx, *off, size, write, val, changed);
	}
	pthread_mutex_unlock(&pi->pi_cfg_lock);
	return decodes;
}

/* The model's BAR hooks; 8-byte accesses split unless it takes them. */
static void
pci_bar_model_access(struct pci_devinst *pi, int idx, uint64_t off, int size,
		     bool write, uint64_t *val)
{
	const struct pci_devemu *pe = pi->pi_d;

	if (write) {
		if (pe->pe_barwrite == NULL)
			return;
		if (size == 8 && !pe->pe_bar64) {
			pe->pe_barwrite(pi, idx, off, 4, *val & 0xffffffff);
			pe->pe_barwrite(pi, idx, off + 4, 4, *val >> 32);
		} else {
			pe->pe_barwrite(pi, idx, off, size, *val);
		}
		return;
	}
	if (pe->pe_barread == NULL) {
		*val = ~0ULL;
	} else if (size == 8 && !pe->pe_bar64) {
		*val = (pe->pe_barread(pi, idx, off, 4) & 0xffffffff) |
		       pe->pe_barread(pi, idx, off + 4, 4) << 32;
	} else {
		*val = pe->pe_barread(pi, idx, off, size);
	}
}

/*
 * One guest access to BAR idx (the index its registration carries) at
 * bus address addr.  Returns false if the BAR no longer decodes all of it.
 */
static bool
pci_bar_access(struct pci_devinst *pi, int idx, uint64_t addr, int size,
	       bool write, uint64_t *val)
{
	bool handled = false;
	int changed = -1;
	uint64_t off;

	if (!pci_bar_claim(pi, idx, addr, size, write, val, &off, &handled,
			   &changed))
		return false;
	/* Outside pi_cfg_lock: the model may take its own locks first. */
	if (changed >= 0 && pi->pi_d->pe_msix_update != NULL)
		pi->pi_d->pe_msix_update(pi, changed);
	if (!handled)
		pci_bar_model_access(pi, idx, off, size, write, val);
	return true;
}

/* A read result as wide as the access. */
static uint64_t
pci_size_mask(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

static int
pci_bar_io_handler(struct vcpu *vcpu, int in, int port, int bytes,
		   uint32_t *eax, void *arg)
{
	struct pcibar *b = arg;
	uint64_t val = *eax;

	if (!pci_bar_access(b->pi, b->idx, (uint64_t)port, bytes, !in, &val)) {
		/* Straddles the end of the BAR: nothing decodes it all. */
		if (in)
			*eax = 0xffffffffu;
		return 0;
	}
	if (in)
		*eax = (uint32_t)val;
	return 0;
}

static int
pci_bar_mem_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size,
		    uint64_t *val, void *arg1, long arg2)
{
	struct pcibar *b = arg1;

	if (!pci_bar_access(b->pi, b->idx, addr, size, dir == MEM_F_WRITE,
			    val)) {
		if (dir == MEM_F_READ)
			*val = pci_size_mask(size);
		return 0;
	}
	if (dir == MEM_F_READ)
		*val &= pci_size_mask(size);
	return 0;
}

/*
 * Claims (or releases) the BAR's range in the port or MMIO map.  A range
 * someone else holds (another BAR, the ECAM window, a platform device)
 * stays theirs: the BAR then decodes nothing, as on a bus where the
 * conflicting agent wins.  Called with pi_cfg_lock held.
 */
static void
pci_bar_set_decode(struct pci_devinst *pi, int idx, bool on)
{
	struct pcibar *b = &pi->pi_bar[idx];
	int rc;

	if (on == b->registered || (on && b->size == 0))
		return;
	if (pci_bar_is_io(b)) {
		struct inout_port iop = {
		    .name = pi->pi_name,
		    .port = (int)b->addr,
		    .size = (int)b->size,
		    .flags = IOPORT_F_INOUT,
		    .handler = pci_bar_io_handler,
		    .arg = b,
		};

		if (on && b->addr + b->size > 0x10000)
			return;
		rc = on ? register_inout(&iop) : unregister_inout(&iop);
	} else if (pci_bar_is_mem(b)) {
		struct mem_range mr = {
		    .name = pi->pi_name,
		    .flags = MEM_F_RW,
		    .handler = pci_bar_mem_handler,
		    .arg1 = b,
		    .arg2 = idx,
		    .base = b->addr,
		    .size = b->size,
		};

		rc = on ? register_mem(&mr) : unregister_mem(&mr);
	} else {
		return;
	}
	if (rc == 0 || !on)
		b->registered = on;
	if (rc == 0 && pi->pi_d->pe_baraddr != NULL)
		pi->pi_d->pe_baraddr(pi, idx, on, b->addr);
}

/* Places BAR idx at addr, moving its decoding with it. */
static void
pci_bar_move(struct pci_devinst *pi, int idx, uint64_t addr)
{
	struct pcibar *b = &pi->pi_bar[idx];
	bool decode = pci_bar_decoding(pi, b);

	if (addr == b->addr)
		return;
	pci_bar_set_decode(pi, idx, false);
	b->addr = addr;
	if (decode)
		pci_bar_set_decode(pi, idx, true);
}

/* The register value the guest reads for BAR idx. */
static void
pci_bar_store(struct pci_devinst *pi, int idx)
{
	struct pcibar *b = &pi->pi_bar[idx];

	pci_set_cfgdata32(pi, PCIR_BAR(idx), (uint32_t)b->addr | b->lobits);
	if (b->type == PCIBAR_MEM64 || b->type == PCIBAR_MEMPREF)
		pci_set_cfgdata32(pi, PCIR_BAR(idx + 1),
				  (uint32_t)(b->addr >> 32));
}

/*
 * A dword write to a BAR register: the address bits below the size read
 * back as zero, so writing all-ones returns the size (PCI 3.0, 6.2.5.1).
 */
static void
pci_bar_write(struct pci_devinst *pi, int idx, uint32_t val)
{
	struct pcibar *b = &pi->pi_bar[idx];
	uint64_t addr;

	switch (b->type) {
	case PCIBAR_IO:
		addr = val & ~(b->size - 1) & 0xffff;
		break;
	case PCIBAR_MEM32:
		addr = val & ~(b->size - 1) & 0xffffffffULL;
		break;
	case PCIBAR_MEM64:
	case PCIBAR_MEMPREF:
		addr = (b->addr & ~0xffffffffULL) |
		       (val & ~(b->size - 1) & 0xffffffffULL);
		break;
	case PCIBAR_MEMHI64:
		b = &pi->pi_bar[idx - 1];
		idx--;
		addr = (((uint64_t)val << 32) | (b->addr & 0xffffffffULL)) &
		       ~(b->size - 1);
		break;
	default:
		return; /* unimplemented BARs are hardwired to zero */
	}
	pci_bar_move(pi, idx, addr);
	pci_bar_store(pi, idx);
}

int
pci_emul_alloc_bar(struct pci_devinst *pi, int idx, enum pcibar_type type,
		   uint64_t size)
{
	struct pci_bar_request *r;
	bool wide = type == PCIBAR_MEM64 || type == PCIBAR_MEMPREF;
	uint64_t p2 = 1;

	if (idx < 0 || idx > PCI_BARMAX || (wide && idx == PCI_BARMAX) ||
	    type == PCIBAR_NONE || type == PCIBAR_MEMHI64 ||
	    pi->pi_bar[idx].type != PCIBAR_NONE ||
	    (wide && pi->pi_bar[idx + 1].type != PCIBAR_NONE))
		return -1;
	if (size > (type == PCIBAR_IO	   ? 0x10000ULL
		    : type == PCIBAR_MEM32 ? (1ULL << 31)
					   : PCI_EMUL_MEMSIZE64))
		return -1;
	while (p2 < size)
		p2 <<= 1;
	size = p2 < (type == PCIBAR_IO ? 4u : 16u)
		   ? (type == PCIBAR_IO ? 4u : 16u)
		   : p2;
	if (pci_bar_nreqs == pci_bar_reqcap) {
		size_t ncap = pci_bar_reqcap ? pci_bar_reqcap * 2 : 16;
		struct pci_bar_request *n;

		n = realloc(pci_bar_reqs, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		pci_bar_reqs = n;
		pci_bar_reqcap = ncap;
	}
	r = &pci_bar_reqs[pci_bar_nreqs++];
	*r = (struct pci_bar_request){pi, idx, type, size, pci_bar_nreqs - 1};

	pi->pi_bar[idx].type = type;
	pi->pi_bar[idx].size = size;
	switch (type) {
	case PCIBAR_IO:
		pi->pi_bar[idx].lobits = PCIM_BAR_IO_SPACE;
		break;
	case PCIBAR_MEM32:
		pi->pi_bar[idx].lobits = 0;
		break;
	case PCIBAR_MEM64:
		pi->pi_bar[idx].lobits = PCIM_BAR_MEM_64;
		break;
	default:
		pi->pi_bar[idx].lobits =
		    PCIM_BAR_MEM_64 | PCIM_BAR_MEM_PREFETCH;
		break;
	}
	if (wide) {
		pi->pi_bar[idx + 1].type = PCIBAR_MEMHI64;
		pi->pi_bar[idx + 1].size = 0;
	}
	pci_bar_store(pi, idx);
	return 0;
}

static int
pci_bar_req_cmp(const void *a, const void *b)
{
	const struct pci_bar_request *x = a, *y = b;

	/* Largest first; ties keep bus/slot/func/BAR order. */
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
pci_alloc_from(uint64_t *base, uint64_t limit, uint64_t size, uint64_t *addr)
{
	uint64_t a = (*base + size - 1) & ~(size - 1);

	if (a < *base || a > limit || size - 1 > limit - a)
		return -1;
	*addr = a;
	*base = a + size;
	return 0;
}

/* Assigns every BAR requested so far (one bus's devices). */
static int
pci_assign_bars(void)
{
	int rc = 0;

	if (pci_bar_nreqs == 0)
		return 0;
	if (pci_firmware_places_bars) {
		/* Address 0, decoding off: the firmware places them. */
		pci_bar_nreqs = 0;
		return 0;
	}
	qsort(pci_bar_reqs, pci_bar_nreqs, sizeof(*pci_bar_reqs),
	      pci_bar_req_cmp);
	for (size_t i = 0; i < pci_bar_nreqs && rc == 0; i++) {
		struct pci_bar_request *r = &pci_bar_reqs[i];
		struct pci_devinst *pi = r->pi;
		uint64_t addr = 0;
		uint16_t cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);

		if (r->type == PCIBAR_IO) {
			rc = pci_alloc_from(&pci_iobase, pci_win_io.limit,
					    r->size, &addr);
			cmd |= PCIM_CMD_PORTEN;
		} else if (r->type == PCIBAR_MEM32 ||
			   r->size <= MEM64_LOW_MAX) {
			rc = pci_alloc_from(&pci_membase32, pci_win_mem32.limit,
					    r->size, &addr);
			cmd |= PCIM_CMD_MEMEN;
		} else {
			rc = pci_alloc_from(&pci_membase64, pci_win_mem64.limit,
					    r->size, &addr);
			cmd |= PCIM_CMD_MEMEN;
		}
		if (rc != 0) {
			fprintf(stderr,
				"bhyve: %s: no room for BAR %d (%llu bytes)\n",
				pi->pi_name, r->idx,
				(unsigned long long)r->size);
			break;
		}
		pi->pi_bar[r->idx].addr = addr;
		pci_bar_store(pi, r->idx);
		if (pci_enable_bars)
			pci_set_cfgdata16(pi, PCIR_COMMAND, cmd);
		if (pci_bar_decoding(pi, &pi->pi_bar[r->idx]))
			pci_bar_set_decode(pi, r->idx, true);
	}
	pci_bar_nreqs = 0;
	return rc;
}

/* ---- Guest config accesses ---- */

static bool
pci_slot_is_multifunction(int bus, int slot)
{
	int n = 0;

	for (int f = 0; f < MAXFUNCS; f++)
		n += pci_buses[bus]->slots[slot].funcs[f] != NULL;
	return n > 1;
}

/* Called with pi_cfg_lock held after the command register changed. */
static void
pci_cmd_changed(struct pci_devinst *pi)
{
	for (int i = 0; i <= PCI_BARMAX; i++) {
		struct pcibar *b = &pi->pi_bar[i];

		if (pci_bar_is_io(b) || pci_bar_is_mem(b))
			pci_bar_set_decode(pi, i, pci_bar_decoding(pi, b));
	}
	pci_lintr_update(pi);
}

static bool
pci_overlaps(int off, int bytes, int start, int len)
{
	return off < start + len && start < off + bytes;
}

static void
pci_cfg_masked_write(struct pci_devinst *pi, int off, int bytes, uint32_t val)
{
	uint16_t oldcmd = pci_get_cfgdata16(pi, PCIR_COMMAND);

	for (int i = 0; i < bytes; i++) {
		uint8_t m = pi->pi_cfgwmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));

		pi->pi_cfgdata[off + i] =
		    (uint8_t)((pi->pi_cfgdata[off + i] & ~m) | (b & m));
	}
	if (pci_overlaps(off, bytes, PCIR_COMMAND, 2) &&
	    pci_get_cfgdata16(pi, PCIR_COMMAND) != oldcmd)
		pci_cmd_changed(pi);
	if (pi->pi_msi.capoff &&
	    pci_overlaps(off, bytes, pi->pi_msi.capoff, 14)) {
		msi_update(pi);
		pci_lintr_update(pi);
	}
	if (pi->pi_msix.capoff &&
	    pci_overlaps(off, bytes, pi->pi_msix.capoff, 12)) {
		msix_update(pi);
		pci_lintr_update(pi);
	}
}

static void
pci_cfg_write(struct pci_devinst *pi, int off, int bytes, uint32_t val)
{
	const struct pci_devemu *pe = pi->pi_d;

	if (pe->pe_cfgwrite != NULL &&
	    pe->pe_cfgwrite(pi, off, bytes, val) == 0)
		return;
	if (off >= PCIR_BAR(0) && off < PCIR_BAR(PCI_BARMAX + 1)) {
		/* BARs change only as whole dwords (as bhyve). */
		if (bytes == 4)
			pci_bar_write(pi, (off - PCIR_BAR(0)) / 4, val);
		return;
	}
	pci_cfg_masked_write(pi, off, bytes, val);
}

/*
 * What decides MSI-X delivery for every vector at once: MSI-X in effect
 * (enabled, MSI off) and the Function Mask.  Called with pi_cfg_lock held.
 */
static unsigned
msix_global_state(struct pci_devinst *pi)
{
	if (pi->pi_msix.capoff == 0)
		return 0;
	return (pci_msix_enabled(pi) ? 1u : 0u) |
	       (pi->pi_msix.function_mask ? 2u : 0u);
}

void
pci_emul_cfgrw(bool in, int bus, int slot, int func, int off, int bytes,
	       uint32_t *val)
{
	struct pci_devinst *pi = pci_emul_find_dev(bus, slot, func);
	unsigned msix_before = 0, msix_after = 0;

	/* No function there, or an access the bus cannot form. */
	if (pi == NULL || (bytes != 1 && bytes != 2 && bytes != 4) ||
	    !pci_cfg_range_ok(off, bytes) || (off & (bytes - 1)) != 0) {
		if (in)
			*val = 0xffffffffu;
		return;
	}
	pthread_mutex_lock(&pi->pi_cfg_lock);
	if (!in) {
		msix_before = msix_global_state(pi);
		pci_cfg_write(pi, off, bytes, *val);
		msix_after = msix_global_state(pi);
	} else {
		if (pi->pi_d->pe_cfgread == NULL ||
		    pi->pi_d->pe_cfgread(pi, off, bytes, val) != 0)
			*val = pci_cfg_read_raw(pi->pi_cfgdata, off, bytes);
		/* PCI 3.0, 6.2.1: header type bit 7 marks multi-function. */
		if (off <= PCIR_HDRTYPE && off + bytes > PCIR_HDRTYPE) {
			uint32_t bit = (uint32_t)PCIM_MFDEV
				       << (8 * (PCIR_HDRTYPE - off));

			*val &= ~bit;
			if (pci_slot_is_multifunction(bus, slot))
				*val |= bit;
		}
	}
	pthread_mutex_unlock(&pi->pi_cfg_lock);
	/* After the unlock, as for table writes (pe_msix_update). */
	if (msix_before != msix_after && pi->pi_d->pe_msix_update != NULL)
		pi->pi_d->pe_msix_update(pi, -1);
}

struct pci_devinst *
pci_emul_find_dev(int bus, int slot, int func)
{
	if (bus < 0 || bus >= MAXBUSES || slot < 0 || slot >= MAXSLOTS ||
	    func < 0 || func >= MAXFUNCS || pci_buses[bus] == NULL)
		return NULL;
	return pci_buses[bus]->slots[slot].funcs[func];
}

/* Mechanism #1 address: enable(31) bus(23:16) dev(15:11) fn(10:8) reg. */
static int
pci_conf1_addr_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		  void *arg)
{
	/* Only dword accesses reach CONFIG_ADDRESS (3.2.2.3.2). */
	if (bytes != 4) {
		if (in)
			*eax = 0xffffffffu;
		return 0;
	}
	pthread_mutex_lock(&pci_conf1_lock);
	if (in)
		*eax = pci_conf1_addr;
	else
		pci_conf1_addr = *eax & (CONF1_ENABLE | 0x00fffffc);
	pthread_mutex_unlock(&pci_conf1_lock);
	return 0;
}

static int
pci_conf1_data_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		  void *arg)
{
	uint32_t a;

	pthread_mutex_lock(&pci_conf1_lock);
	a = pci_conf1_addr;
	pthread_mutex_unlock(&pci_conf1_lock);
	if (!(a & CONF1_ENABLE)) {
		if (in)
			*eax = 0xffffffffu;
		return 0;
	}
	pci_emul_cfgrw(in, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7,
		       (int)(a & 0xfc) + (port - CONF1_DATA_PORT), bytes, eax);
	return 0;
}

static int
pci_ecam_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size,
		 uint64_t *val, void *arg1, long arg2)
{
	uint64_t off = addr - PCI_EMUL_ECFG_BASE;
	int bus = (int)(off >> 20) & 0xff, slot = (int)(off >> 15) & 0x1f;
	int func = (int)(off >> 12) & 7, reg = (int)(off & 0xfff);
	bool in = dir == MEM_F_READ;
	uint32_t lo = (uint32_t)*val, hi = (uint32_t)(*val >> 32);

	if (addr < PCI_EMUL_ECFG_BASE || off >= PCI_EMUL_ECFG_SIZE) {
		if (in)
			*val = pci_size_mask(size);
		return 0;
	}
	if (size == 8) {
		/* A qword is two dwords on the link; unaligned: nothing. */
		if (reg & 7) {
			if (in)
				*val = ~0ULL;
			return 0;
		}
		pci_emul_cfgrw(in, bus, slot, func, reg, 4, &lo);
		pci_emul_cfgrw(in, bus, slot, func, reg + 4, 4, &hi);
		if (in)
			*val = lo | (uint64_t)hi << 32;
		return 0;
	}
	pci_emul_cfgrw(in, bus, slot, func, reg, size, &lo);
	if (in)
		*val = lo & pci_size_mask(size);
	return 0;
}

static const struct inout_port pci_conf1_addr_port = {
    .name = "pci-conf1-addr",
    .port = CONF1_ADDR_PORT,
    .size = 1,
    .flags = IOPORT_F_INOUT,
    .handler = pci_conf1_addr_io,
};

static const struct inout_port pci_conf1_data_port = {
    .name = "pci-conf1-data",
    .port = CONF1_DATA_PORT,
    .size = 4,
    .flags = IOPORT_F_INOUT,
    .handler = pci_conf1_data_io,
};

static const struct mem_range pci_ecam_range = {
    .name = "pci-ecam",
    .flags = MEM_F_RW,
    .handler = pci_ecam_handler,
    .base = PCI_EMUL_ECFG_BASE,
    .size = PCI_EMUL_ECFG_SIZE,
};

/* ---- Bring-up ---- */

static void
pci_devinst_free(struct pci_devinst *pi)
{
	pthread_mutex_destroy(&pi->pi_cfg_lock);
	pthread_mutex_destroy(&pi->pi_lintr.lock);
	free(pi->pi_msix.table);
	free(pi->pi_msix.pba);
	free(pi);
}

static void
pci_devinst_set_defaults(struct pci_devinst *pi)
{
	/* PCI 3.0, 6.2.4: interrupt line is scratch for software. */
	pci_set_cfgdata8(pi, PCIR_INTLINE, 0xff);
	pci_set_cfgwmask(pi, PCIR_COMMAND, 2, PCI_CMD_WMASK);
	pci_set_cfgwmask(pi, PCIR_CACHELNSZ, 1, 0xff);
	pci_set_cfgwmask(pi, PCIR_LATTIMER, 1, 0xff);
	pci_set_cfgwmask(pi, PCIR_INTLINE, 1, 0xff);
	if (pci_enable_bars && !pci_firmware_places_bars)
		pci_set_cfgdata16(pi, PCIR_COMMAND, PCIM_CMD_BUSMASTEREN);
}

static int
pci_emul_init_func(struct vmctx *ctx, int bus, int slot, int func,
		   struct config_node *nvl)
{
	const struct pci_devemu *pe;
	struct pci_devinst *pi;
	pthread_mutexattr_t attr;
	const char *emul = get_config_value_node(nvl, "device");

	if (emul == NULL) {
		fprintf(stderr,
			"bhyve: pci slot %d:%d:%d: missing \"device\" "
			"value\n",
			bus, slot, func);
		return -1;
	}
	pe = pci_model_find(emul);
	if (pe == NULL || pe->pe_init == NULL) {
		if (pe != NULL && pe->pe_alias != NULL)
			fprintf(stderr,
				"bhyve: pci slot %d:%d:%d: legacy "
				"device \"%s\", use \"%s\" instead\n",
				bus, slot, func, emul, pe->pe_alias);
		else
			fprintf(stderr,
				"bhyve: pci slot %d:%d:%d: device "
				"model '%s' is not implemented\n",
				bus, slot, func, emul);
		return -1;
	}
	pi = calloc(1, sizeof(*pi));
	if (pi == NULL)
		return -1;
	pi->pi_d = pe;
	pi->pi_vmctx = ctx;
	pi->pi_bus = (uint8_t)bus;
	pi->pi_slot = (uint8_t)slot;
	pi->pi_func = (uint8_t)func;
	pi->pi_lintr.ioapic_irq = -1;
	snprintf(pi->pi_name, sizeof(pi->pi_name), "%s@pci.%d.%d.%d",
		 pe->pe_emu, bus, slot, func);
	/* Recursive: models may raise MSI-X from their config hooks. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&pi->pi_cfg_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&pi->pi_lintr.lock, NULL);
	pci_devinst_set_defaults(pi);
	for (int i = 0; i <= PCI_BARMAX; i++) {
		pi->pi_bar[i].pi = pi;
		pi->pi_bar[i].idx = i;
	}
	/* Visible before pe_init so that pci_lintr_request finds the slot. */
	pci_buses[bus]->slots[slot].funcs[func] = pi;
	if (pe->pe_init(pi, nvl) != 0) {
		pci_buses[bus]->slots[slot].funcs[func] = NULL;
		/* Drop its pending BARs. */
		size_t j = 0;
		for (size_t i = 0; i < pci_bar_nreqs; i++)
			if (pci_bar_reqs[i].pi != pi)
				pci_bar_reqs[j++] = pci_bar_reqs[i];
		pci_bar_nreqs = j;
		pci_devinst_free(pi);
		return -1;
	}
	return 0;
}

static int
pci_emul_init_bus(struct vmctx *ctx, int bus)
{
	struct pci_businfo *bi;
	char name[32];

	bi = calloc(1, sizeof(*bi));
	if (bi == NULL)
		return -1;
	pci_buses[bus] = bi;
	bi->io.base = pci_iobase;
	bi->mem32.base = pci_membase32;
	bi->mem64.base = pci_membase64;
	for (int slot = 0; slot < MAXSLOTS; slot++) {
		for (int func = 0; func < MAXFUNCS; func++) {
			struct config_node *nvl;

			snprintf(name, sizeof(name), "pci.%d.%d.%d", bus, slot,
				 func);
			nvl = find_config_node(name);
			if (nvl != NULL &&
			    pci_emul_init_func(ctx, bus, slot, func, nvl) != 0)
				return -1;
		}
	}
	if (pci_assign_bars() != 0)
		return -1;
	if (pci_firmware_places_bars) {
		/* One root bridge (bus 0) owns the whole apertures. */
		bi->io = pci_win_io;
		bi->mem32 = pci_win_mem32;
		bi->mem64 = pci_win_mem64;
		return 0;
	}
	/* Leave room in each window for the guest to move BARs (bhyve). */
	pci_iobase = (pci_iobase + BUSIO_ROUNDUP) & ~(BUSIO_ROUNDUP - 1);
	pci_membase32 =
	    (pci_membase32 + BUSMEM32_ROUNDUP) & ~(BUSMEM32_ROUNDUP - 1);
	pci_membase64 =
	    (pci_membase64 + BUSMEM64_ROUNDUP) & ~(BUSMEM64_ROUNDUP - 1);
	bi->io.limit = pci_iobase - 1;
	bi->mem32.limit = pci_membase32 - 1;
	bi->mem64.limit = pci_membase64 - 1;
	return 0;
}

static void
pci_emul_route_all(void)
{
	for (int bus = 0; bus < MAXBUSES; bus++) {
		if (pci_buses[bus] == NULL)
			continue;
		for (int slot = 0; slot < MAXSLOTS; slot++)
			for (int func = 0; func < MAXFUNCS; func++) {
				struct pci_devinst *pi =
				    pci_buses[bus]->slots[slot].funcs[func];

				if (pi != NULL)
					pci_lintr_route(pi);
			}
	}
}

static void
pci_emul_set_windows(struct vmctx *ctx)
{
	uint64_t lowlimit = vm_get_lowmem_limit(ctx);
	uint64_t top = VM_HIGHMEM_BASE + vm_get_highmem_size(ctx);

	if (lowlimit == 0 || lowlimit > PCI_EMUL_ECFG_BASE)
		lowlimit = VM_LOWMEM_LIMIT_DEF;
	pci_win_io = (struct pci_window){PCI_EMUL_IOBASE, PCI_EMUL_IOLIMIT};
	pci_win_mem32 = (struct pci_window){lowlimit, PCI_EMUL_ECFG_BASE - 1};
	if (pci_firmware_places_bars) {
		/*
		 * OVMF's apertures on QEMU "pc" (PlatformPei): I/O from
		 * 0xC000, 32-bit MMIO from the top of low RAM (it starts
		 * at 2 GiB at the lowest) to 0xFBFFFFFF.  The windows
		 * cover them so that the OS accepts what the firmware
		 * placed there.
		 */
		pci_win_io =
		    (struct pci_window){PCI_UEFI_IOBASE, PCI_EMUL_IOLIMIT};
		pci_win_mem32 = (struct pci_window){vm_get_lowmem_size(ctx),
						    PCI_UEFI_MEM32_LIMIT};
	}
	top = (top + PCI_EMUL_MEMSIZE64 - 1) & ~(PCI_EMUL_MEMSIZE64 - 1);
	pci_win_mem64 = (struct pci_window){top, top + PCI_EMUL_MEMSIZE64 - 1};
	pci_iobase = pci_win_io.base;
	pci_membase32 = pci_win_mem32.base;
	pci_membase64 = pci_win_mem64.base;
}

/* Whether the configuration puts an LPC bridge anywhere on bus 0. */
static bool
pci_emul_lpc_configured(void)
{
	char path[32];

	for (int slot = 0; slot < PCI_SLOTMAX + 1; slot++) {
		for (int func = 0; func < PCI_FUNCMAX + 1; func++) {
			const char *m;

			snprintf(path, sizeof(path), "pci.0.%d.%d.device", slot,
				 func);
			m = get_config_value(path);
			if (m != NULL && strcmp(m, "lpc") == 0)
				return true;
		}
	}
	return false;
}

/*
 * The functions OVMF reads at fixed addresses, where the configuration
 * has nothing else: the host bridge at 0:0.0 (PlatformPei picks the
 * machine type from its device id) and the PIIX4 power-management
 * function at 0:1.3.  Without an LPC bridge the firmware finds no ISA
 * bus and so no COM1 to put its console on: one is added at 0:1.0 (where
 * QEMU's PIIX3 sits) when the user configured none.
 */
static int
pci_emul_add_uefi_devices(void)
{
	static const struct {
		const char *node, *model;
	} devs[] = {
	    {"pci.0.0.0", "hostbridge"},
	    {PCI_PIIX4_PM_NODE, "piix4-pm"},
	};

	if (!pci_emul_lpc_configured() &&
	    find_config_node("pci.0.1.0") == NULL) {
		struct config_node *n = create_config_node("pci.0.1.0");

		if (n == NULL || set_config_value_node(n, "device", "lpc") != 0)
			return -1;
	}

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		struct config_node *n;

		if (find_config_node(devs[i].node) != NULL)
			continue;
		n = create_config_node(devs[i].node);
		if (n == NULL ||
		    set_config_value_node(n, "device", devs[i].model) != 0)
			return -1;
	}
	return 0;
}

int
init_pci(struct vmctx *ctx)
{
	int pins;

	pci_emul_fini();
	pci_enable_bars = get_config_bool_default("pci.enable_bars", true);
	pci_firmware_places_bars = platform_firmware_is_uefi();
	if (pci_firmware_places_bars && pci_emul_add_uefi_devices() != 0) {
		fprintf(stderr, "bhyve: pci: cannot add the devices the boot "
				"ROM needs\n");
		return -1;
	}
	pci_emul_set_windows(ctx);
	if (vm_ioapic_pincount(ctx, &pins) != 0 || pins <= PCI_IOAPIC_FIRST)
		pins = PCI_IOAPIC_FIRST;
	if (pins > PCI_IOAPIC_MAX)
		pins = PCI_IOAPIC_MAX;
	pci_ioapic_pins = pins - PCI_IOAPIC_FIRST;

	if (register_inout(&pci_conf1_addr_port) != 0 ||
	    register_inout(&pci_conf1_data_port) != 0) {
		fprintf(stderr, "bhyve: pci: ports 0xcf8-0xcff are taken\n");
		pci_emul_fini();
		return -1;
	}
	pci_ports_registered = true;
	if (!pci_firmware_places_bars && register_mem(&pci_ecam_range) != 0) {
		fprintf(stderr, "bhyve: pci: ECAM window at %#llx is taken\n",
			PCI_EMUL_ECFG_BASE);
		pci_emul_fini();
		return -1;
	}
	pci_ecam_registered = !pci_firmware_places_bars;

	for (int bus = 0; bus < MAXBUSES; bus++) {
		char name[16];

		snprintf(name, sizeof(name), "pci.%d", bus);
		if (find_config_node(name) == NULL)
			continue;
		/* pci_check_tree() refused this already; tests come here. */
		if (bus > 0 && pci_firmware_places_bars) {
			fprintf(stderr,
				"bhyve: pci.%d: devices on PCI bus %d are not "
				"supported with a boot ROM\n",
				bus, bus);
			pci_emul_fini();
			return -1;
		}
		if (pci_emul_init_bus(ctx, bus) != 0) {
			pci_emul_fini();
			return -1;
		}
	}
	/* After every model ran, so all INTx requests are known. */
	pci_emul_route_all();
	return 0;
}

void
pci_emul_fini(void)
{
	for (int bus = 0; bus < MAXBUSES; bus++) {
		struct pci_businfo *bi = pci_buses[bus];

		if (bi == NULL)
			continue;
		for (int s = 0; s < MAXSLOTS; s++)
			for (int f = 0; f < MAXFUNCS; f++) {
				struct pci_devinst *pi = bi->slots[s].funcs[f];

				if (pi == NULL)
					continue;
				for (int i = 0; i <= PCI_BARMAX; i++)
					pci_bar_set_decode(pi, i, false);
				if (pi->pi_d->pe_fini != NULL)
					pi->pi_d->pe_fini(pi);
				pci_devinst_free(pi);
			}
		free(bi);
		pci_buses[bus] = NULL;
	}
	if (pci_ports_registered) {
		unregister_inout(&pci_conf1_addr_port);
		unregister_inout(&pci_conf1_data_port);
		pci_ports_registered = false;
	}
	if (pci_ecam_registered) {
		unregister_mem(&pci_ecam_range);
		pci_ecam_registered = false;
	}
	free(pci_bar_reqs);
	pci_bar_reqs = NULL;
	pci_bar_nreqs = pci_bar_reqcap = 0;
	pci_ioapic_next = 0;
	pci_conf1_addr = 0;
	memset(pci_intx_count, 0, sizeof(pci_intx_count));
}

/* ---- Facts for firmware tables ---- */

void
pci_emul_get_windows(struct pci_window *io, struct pci_window *mem32,
		     struct pci_window *mem64)
{
	if (io != NULL)
		*io = pci_win_io;
	if (mem32 != NULL)
		*mem32 = pci_win_mem32;
	if (mem64 != NULL)
		*mem64 = pci_win_mem64;
}

bool
pci_emul_bus_configured(int bus)
{
	return bus >= 0 && bus < MAXBUSES && pci_buses[bus] != NULL;
}

int
pci_emul_get_bus_windows(int bus, struct pci_window *io,
			 struct pci_window *mem32, struct pci_window *mem64)
{
	if (!pci_emul_bus_configured(bus))
		return -1;
	if (io != NULL)
		*io = pci_buses[bus]->io;
	if (mem32 != NULL)
		*mem32 = pci_buses[bus]->mem32;
	if (mem64 != NULL)
		*mem64 = pci_buses[bus]->mem64;
	return 0;
}

uint64_t
pci_emul_ecam_base(void)
{
	return PCI_EMUL_ECFG_BASE;
}

/* OVMF on "pc" reaches configuration space through 0xCF8/0xCFC only. */
uint64_t
pci_emul_ecam_size(void)
{
	return platform_firmware_is_uefi() ? 0 : PCI_EMUL_ECFG_SIZE;
}

int
pci_emul_get_intx_routes(struct pci_intx_route *r, int max)
{
	int n = 0;

	for (int bus = 0; bus < MAXBUSES; bus++) {
		if (pci_buses[bus] == NULL)
			continue;
		for (int slot = 0; slot < MAXSLOTS; slot++)
			for (int pin = 0; pin < 4; pin++) {
				struct pci_intpin *ip =
				    &pci_buses[bus]->slots[slot].intpins[pin];

				if (ip->count == 0)
					continue;
				if (r != NULL && n < max)
					r[n] = (struct pci_intx_route){
					    bus, slot, pin + 1, ip->ioapic_irq};
				n++;
			}
	}
	return n;
}

int
pci_emul_get_device(int n, struct pci_dev_info *info)
{
	int seen = 0;

	for (int bus = 0; bus < MAXBUSES; bus++) {
		if (pci_buses[bus] == NULL)
			continue;
		for (int slot = 0; slot < MAXSLOTS; slot++)
			for (int func = 0; func < MAXFUNCS; func++) {
				struct pci_devinst *pi =
				    pci_buses[bus]->slots[slot].funcs[func];

				if (pi == NULL || seen++ != n)
					continue;
				if (info != NULL) {
					*info = (struct pci_dev_info){
					    .bus = bus,
					    .slot = slot,
					    .func = func,
					    .vendor = pci_get_cfgdata16(
						pi, PCIR_VENDOR),
					    .device = pci_get_cfgdata16(
						pi, PCIR_DEVICE),
					    .class = pci_get_cfgdata8(
						pi, PCIR_CLASS),
					    .subclass = pci_get_cfgdata8(
						pi, PCIR_SUBCLASS),
					    .progif = pci_get_cfgdata8(
						pi, PCIR_PROGIF),
					    .model = pi->pi_d->pe_emu,
					    .pi = pi,
					};
				}
				return 0;
			}
	}
	return -1;
}

int
pci_emul_count_devices(void)
{
	int n = 0;

	while (pci_emul_get_device(n, NULL) == 0)
		n++;
	return n;
}

/* After the legacy devices (order 20), so ISA resources are settled. */
static int
pci_platform_init(struct vmctx *ctx)
{
	return init_pci(ctx);
}

static const struct platform_dev pci_platform_dev = {
    .pd_name = "pci",
    .pd_order = 30,
    .pd_init = pci_platform_init,
    .pd_fini = pci_emul_fini,
};
PLATFORM_DEV_SET(pci_platform_dev);
