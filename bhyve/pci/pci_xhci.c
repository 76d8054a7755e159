/*
 * xHCI USB host controller (eXtensible Host Controller Interface 1.2):
 * "-s N,xhci,tablet" (keys pci.B.S.F.slot.N.device=tablet, N from 1).
 *
 * BAR0 holds the capability, operational, runtime and doorbell
 * registers; BAR2 the MSI-X table (one interrupter, one vector), with
 * MSI and INTx as the fallbacks.  Ports 1..8 speak USB 3, ports 9..16
 * USB 2 (two Supported Protocol capabilities); device slot.N sits on
 * USB 2 port 8 + N.  Contexts are 32 bytes (HCCPARAMS1.CSZ 0).
 *
 * Rings are walked on the vCPU thread that rings a doorbell, under the
 * device lock; a device with new IN data (the tablet, from the console's
 * thread) kicks its endpoint through usb_dev's notify.  Each TRB and
 * context is copied once into a local before it is looked at, every guest
 * address is mapped with vm_map_gpa() for exactly the bytes used, and
 * every ring walk is bounded: a Link TRB loop costs a bounded number of
 * steps.  A malformed command or TD completes with an error code; memory
 * the controller cannot reach (a bad DCBAAP, ERST or ring) sets
 * USBSTS.HSE and halts the controller, as a bus error does on hardware.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "legacy_config.h"
#include "pci_emul.h"
#include "usb_dev.h"
#include "vmmapi.h"

#define XHCI_MAX_SLOTS	16
#define XHCI_USB3_PORTS 8
#define XHCI_USB2_PORTS 8
#define XHCI_MAX_PORTS	(XHCI_USB3_PORTS + XHCI_USB2_PORTS)
#define XHCI_MAX_DEVS	XHCI_USB2_PORTS
#define XHCI_ERST_MAX	16 /* HCSPARAMS2.ERST Max = 4 */
#define XHCI_MAX_EPS	32 /* device context index 1..31 */

/* Bounds on the work one doorbell may cause. */
#define XHCI_LINK_MAX	 64   /* consecutive Link TRBs */
#define XHCI_CMD_BUDGET	 1024 /* TRBs per command doorbell */
#define XHCI_XFER_BUDGET 1024 /* TRBs per endpoint doorbell */
#define XHCI_TD_MAX	 64   /* TRBs in one TD */
#define XHCI_XFER_MAX	 4096 /* bytes moved per TD (the tablet's are 8) */

/* BAR0 layout. */
#define XHCI_CAPLEN   0x20
#define XHCI_OP	      XHCI_CAPLEN
#define XHCI_PORTREGS (XHCI_OP + 0x400)
#define XHCI_PORT_END (XHCI_PORTREGS + 0x10 * XHCI_MAX_PORTS)
#define XHCI_XECP     0x540
#define XHCI_XECP_END (XHCI_XECP + 0x20)
#define XHCI_RT	      0x600
#define XHCI_IR0      (XHCI_RT + 0x20)
#define XHCI_DB	      0x700
#define XHCI_DB_END   (XHCI_DB + 4 * (XHCI_MAX_SLOTS + 1))
#define XHCI_BAR_SIZE 0x1000
#define XHCI_MSIX_BAR 2

/* Operational registers (5.4), offsets from XHCI_OP. */
#define OP_USBCMD   0x00
#define OP_USBSTS   0x04
#define OP_PAGESIZE 0x08
#define OP_DNCTRL   0x14
#define OP_CRCR	    0x18
#define OP_DCBAAP   0x30
#define OP_CONFIG   0x38

#define CMD_RS	   (1u << 0)
#define CMD_HCRST  (1u << 1)
#define CMD_INTE   (1u << 2)
#define CMD_HSEE   (1u << 3)
#define CMD_CSS	   (1u << 8)
#define CMD_CRS	   (1u << 9)
#define CMD_EWE	   (1u << 10)
#define CMD_EU3S   (1u << 11)
#define CMD_WRMASK (CMD_RS | CMD_INTE | CMD_HSEE | CMD_EWE | CMD_EU3S)

#define STS_HCH	 (1u << 0)
#define STS_HSE	 (1u << 2)
#define STS_EINT (1u << 3)
#define STS_PCD	 (1u << 4)
#define STS_SRE	 (1u << 10)
#define STS_HCE	 (1u << 12)
#define STS_RW1C (STS_HSE | STS_EINT | STS_PCD | STS_SRE)

#define CRCR_RCS (1u << 0)
#define CRCR_CS	 (1u << 1)
#define CRCR_CA	 (1u << 2)
#define CRCR_CRR (1u << 3)

/* PORTSC (5.4.8). */
#define PS_CCS	    (1u << 0)
#define PS_PED	    (1u << 1)
#define PS_PR	    (1u << 4)
#define PS_PLS_SH   5
#define PS_PLS_MASK (0xfu << PS_PLS_SH)
#define PS_PP	    (1u << 9)
#define PS_SPEED_SH 10
#define PS_PIC_MASK (3u << 14)
#define PS_LWS	    (1u << 16)
#define PS_CSC	    (1u << 17)
#define PS_PEC	    (1u << 18)
#define PS_WRC	    (1u << 19)
#define PS_OCC	    (1u << 20)
#define PS_PRC	    (1u << 21)
#define PS_PLC	    (1u << 22)
#define PS_CEC	    (1u << 23)
#define PS_WAKE	    (7u << 25) /* WCE, WDE, WOE */
#define PS_WPR	    (1u << 31)
#define PS_CHANGE   (PS_CSC | PS_PEC | PS_WRC | PS_OCC | PS_PRC | PS_PLC | PS_CEC)

#define PLS_U0	     0
#define PLS_U3	     3
#define PLS_RXDETECT 5
#define PLS_POLLING  7
#define PLS_RESUME   15

/* Interrupter registers (5.5.2), offsets from XHCI_IR0. */
#define IR_IMAN	  0x00
#define IR_IMOD	  0x04
#define IR_ERSTSZ 0x08
#define IR_ERSTBA 0x10
#define IR_ERDP	  0x18

#define IMAN_IP	 (1u << 0)
#define IMAN_IE	 (1u << 1)
#define ERDP_EHB (1u << 3)

/* TRB types (6.4.6). */
enum {
	TRB_NORMAL = 1,
	TRB_SETUP = 2,
	TRB_DATA = 3,
	TRB_STATUS = 4,
	TRB_ISOCH = 5,
	TRB_LINK = 6,
	TRB_EVENT_DATA = 7,
	TRB_NOOP = 8,
	TRB_ENABLE_SLOT = 9,
	TRB_DISABLE_SLOT = 10,
	TRB_ADDRESS_DEVICE = 11,
	TRB_CONFIGURE_EP = 12,
	TRB_EVALUATE_CTX = 13,
	TRB_RESET_EP = 14,
	TRB_STOP_EP = 15,
	TRB_SET_TR_DEQ = 16,
	TRB_RESET_DEVICE = 17,
	TRB_NOOP_CMD = 23,
	TRB_EV_TRANSFER = 32,
	TRB_EV_CMD_COMPLETION = 33,
	TRB_EV_PORT_STATUS = 34,
};

#define TRB_C	    (1u << 0)
#define TRB_TC	    (1u << 1) /* Link: toggle cycle */
#define TRB_ED	    (1u << 2) /* event: Event Data */
#define TRB_ISP	    (1u << 2)
#define TRB_CH	    (1u << 4)
#define TRB_IOC	    (1u << 5)
#define TRB_IDT	    (1u << 6)
#define TRB_BSR	    (1u << 9) /* Address Device; Configure EP's DC */
#define TRB_DIR_IN  (1u << 16)
#define TRB_TYPE(c) (((c) >> 10) & 0x3f)
#define TRB_SLOT(c) ((c) >> 24)
#define TRB_EP(c)   (((c) >> 16) & 0x1f)
#define TRB_LEN(s)  ((s)&0x1ffff)

/* Completion codes (6.4.5). */
enum {
	CC_SUCCESS = 1,
	CC_TRANSACTION = 4,
	CC_TRB = 5,
	CC_STALL = 6,
	CC_NO_SLOTS = 9,
	CC_SLOT_NOT_ENABLED = 11,
	CC_EP_NOT_ENABLED = 12,
	CC_SHORT_PACKET = 13,
	CC_PARAMETER = 17,
	CC_CONTEXT_STATE = 19,
	CC_CMD_RING_STOPPED = 24,
};

/* Slot and endpoint context states (6.2.2, 6.2.3). */
enum { SLOT_ENABLED, SLOT_DEFAULT, SLOT_ADDRESSED, SLOT_CONFIGURED };
enum { EP_DISABLED, EP_RUNNING, EP_HALTED, EP_STOPPED, EP_ERROR };
#define EP_TYPE_CONTROL 4

#define CTX_SIZE     32
#define IN_CTX_SIZE  (CTX_SIZE * 33) /* control, slot, 31 endpoints */
#define OUT_CTX_SIZE (CTX_SIZE * 32)

struct xhci_trb {
	uint64_t param;
	uint32_t status;
	uint32_t control;
};
_Static_assert(sizeof(struct xhci_trb) == 16, "TRB");

struct xhci_ring {
	uint64_t deq;
	bool ccs;
};

struct xhci_ep {
	uint32_t ctx[8]; /* the output endpoint context, state in dw0 */
	struct xhci_ring ring;
};

struct xhci_slot {
	bool enabled;
	int port;
	uint64_t out; /* the output device context; 0 before addressing */
	uint32_t ctx[8];
	struct xhci_ep ep[XHCI_MAX_EPS];
};

struct xhci_port {
	uint32_t portsc;
	struct usb_dev *dev;
};

struct xhci_seg {
	uint64_t base;
	uint32_t size; /* TRBs */
};

struct xhci_intr {
	uint32_t iman, imod, erstsz;
	uint64_t erstba, erdp;
	struct xhci_seg seg[XHCI_ERST_MAX];
	uint32_t nseg; /* 0: no usable event ring */
	uint32_t enq_seg, enq_idx;
	bool pcs;
};

struct xhci_softc {
	struct pci_devinst *pi;
	pthread_mutex_t mtx;
	char name[48];
	uint32_t usbcmd, usbsts, dnctrl, config;
	uint64_t dcbaap;
	uint64_t crcr; /* the pointer as written, until the ring runs */
	bool crr;
	struct xhci_ring cmd;
	struct xhci_intr ir;
	struct timespec start;
	struct xhci_port port[XHCI_MAX_PORTS + 1];
	struct xhci_slot slot[XHCI_MAX_SLOTS + 1];
};

/* A TD gathered from a transfer ring before any of it is acted on. */
struct xhci_td {
	struct xhci_trb trb[XHCI_TD_MAX];
	uint64_t addr[XHCI_TD_MAX];
	int n;
	struct xhci_ring next; /* the ring after the TD */
};

enum xhci_fetch { FETCH_OK, FETCH_EMPTY, FETCH_BAD, FETCH_LOOP };
enum xhci_xfer { XFER_DONE, XFER_NAK, XFER_HALT, XFER_FATAL };

static void xhci_ep_kick(struct xhci_softc *sc, int slotid, int dci);

/* ---- helpers ---- */

static bool
xhci_running(const struct xhci_softc *sc)
{
	return (sc->usbcmd & CMD_RS) && !(sc->usbsts & STS_HSE);
}

static struct vmctx *
xhci_vm(struct xhci_softc *sc)
{
	return sc->pi->pi_vmctx;
}

/*
 * Host System Error (4.10.2.6): the controller could not reach memory
 * the guest pointed it at.  It halts until the guest resets it.
 */
static void
xhci_fatal(struct xhci_softc *sc, const char *why)
{
	if (!(sc->usbsts & STS_HSE))
		fprintf(stderr, "bhyve: %s: host system error: %s\n", sc->name,
			why);
	sc->usbsts |= STS_HSE | STS_HCH;
	sc->usbcmd &= ~CMD_RS;
	sc->crr = false;
}

/* ---- interrupts (4.17) ---- */

static void
xhci_intx_update(struct xhci_softc *sc)
{
	struct pci_devinst *pi = sc->pi;

	if (pci_msix_enabled(pi) || pci_msi_enabled(pi))
		return;
	if ((sc->ir.iman & (IMAN_IP | IMAN_IE)) == (IMAN_IP | IMAN_IE) &&
	    (sc->usbcmd & CMD_INTE))
		pci_lintr_assert(pi);
	else
		pci_lintr_deassert(pi);
}

/* Signals the interrupter unless an earlier signal is still unhandled. */
static void
xhci_intr_raise(struct xhci_softc *sc)
{
	struct pci_devinst *pi = sc->pi;

	if (sc->ir.erdp & ERDP_EHB)
		return; /* the guest's ERDP write re-raises it (4.17.2) */
	sc->ir.erdp |= ERDP_EHB;
	sc->ir.iman |= IMAN_IP;
	sc->usbsts |= STS_EINT;
	if (!(sc->ir.iman & IMAN_IE) || !(sc->usbcmd & CMD_INTE))
		return;
	if (pci_msix_enabled(pi))
		pci_generate_msix(pi, 0);
	else if (pci_msi_enabled(pi))
		pci_generate_msi(pi, 0);
	else
		xhci_intx_update(sc);
}

/* ---- the event ring (4.9.4) ---- */

static uint64_t
xhci_event_enq_addr(const struct xhci_intr *ir)
{
	return ir->seg[ir->enq_seg].base + 16ULL * ir->enq_idx;
}

/* Reads the Event Ring Segment Table; nseg 0 if anything is off. */
static void
xhci_erst_load(struct xhci_softc *sc)
{
	struct xhci_intr *ir = &sc->ir;
	uint32_t n = ir->erstsz;
	uint8_t tab[16 * XHCI_ERST_MAX];

	ir->nseg = 0;
	ir->enq_seg = 0;
	ir->enq_idx = 0;
	ir->pcs = true;
	if (n == 0 || n > XHCI_ERST_MAX ||
	    vm_copyin(xhci_vm(sc), ir->erstba, tab, 16 * n) != 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t base;
		uint32_t size;

		memcpy(&base, tab + 16 * i, 8);
		memcpy(&size, tab + 16 * i + 8, 4);
		base &= ~0x3fULL;
		size &= 0xffff;
		if (size < 16 || size > 4096 ||
		    vm_map_gpa(xhci_vm(sc), base, 16ULL * size) == NULL)
			return;
		ir->seg[i] = (struct xhci_seg){base, size};
	}
	ir->nseg = n;
}

static void
xhci_event_post(struct xhci_softc *sc, const struct xhci_trb *ev)
{
	struct xhci_intr *ir = &sc->ir;
	uint32_t nseg = ir->enq_seg, nidx = ir->enq_idx + 1;
	struct xhci_trb *slot;
	uint32_t ctl;

	if (!xhci_running(sc))
		return;
	if (ir->nseg == 0) {
		xhci_fatal(sc, "event ring not set up");
		return;
	}
	if (nidx == ir->seg[nseg].size) {
		nidx = 0;
		nseg = (nseg + 1) % ir->nseg;
	}
	/* Full: one free entry would make it look empty (4.9.4).  Dropped. */
	if (ir->seg[nseg].base + 16ULL * nidx == (ir->erdp & ~0xfULL))
		return;
	slot = vm_map_gpa(xhci_vm(sc), xhci_event_enq_addr(ir), 16);
	if (slot == NULL) {
		xhci_fatal(sc, "event ring segment unmapped");
		return;
	}
	slot->param = ev->param;
	slot->status = ev->status;
	ctl = (ev->control & ~TRB_C) | (ir->pcs ? TRB_C : 0);
	/* The cycle bit last: the guest never sees a half-written event. */
	__atomic_store_n(&slot->control, ctl, __ATOMIC_RELEASE);
	if (nseg == 0 && nidx == 0)
		ir->pcs = !ir->pcs;
	ir->enq_seg = nseg;
	ir->enq_idx = nidx;
	xhci_intr_raise(sc);
}

static void
xhci_cmd_complete(struct xhci_softc *sc, uint64_t addr, int cc, int slotid)
{
	struct xhci_trb ev = {addr, (uint32_t)cc << 24,
			      (uint32_t)slotid << 24 | TRB_EV_CMD_COMPLETION
							   << 10};

	xhci_event_post(sc, &ev);
}

static void
xhci_xfer_event(struct xhci_softc *sc, uint64_t addr, uint32_t residual, int cc,
		int slotid, int dci, bool ed)
{
	struct xhci_trb ev = {addr, (uint32_t)cc << 24 | (residual & 0xffffff),
			      (uint32_t)slotid << 24 | (uint32_t)dci << 16 |
				  TRB_EV_TRANSFER << 10 | (ed ? TRB_ED : 0)};

	xhci_event_post(sc, &ev);
}

static void
xhci_port_event(struct xhci_softc *sc, int port)
{
	struct xhci_trb ev = {(uint64_t)port << 24, CC_SUCCESS << 24,
			      TRB_EV_PORT_STATUS << 10};

	sc->usbsts |= STS_PCD;
	xhci_event_post(sc, &ev);
}

/* ---- rings (4.9) ---- */

/*
 * The next TRB the controller owns at r, following Link TRBs (at most
 * XHCI_LINK_MAX in a row); r moves past it.  budget counts every TRB
 * read, so no ring shape makes one doorbell unbounded.
 */
static enum xhci_fetch
xhci_ring_fetch(struct xhci_softc *sc, struct xhci_ring *r, struct xhci_trb *t,
		uint64_t *addr, int *budget)
{
	for (int links = 0; links <= XHCI_LINK_MAX; links++) {
		const void *p;

		if (*budget <= 0)
			return FETCH_LOOP;
		(*budget)--;
		p = vm_map_gpa(xhci_vm(sc), r->deq, sizeof(*t));
		if (p == NULL)
			return FETCH_BAD;
		memcpy(t, p, sizeof(*t));
		if ((t->control & TRB_C) != (r->ccs ? TRB_C : 0))
			return FETCH_EMPTY;
		if (TRB_TYPE(t->control) != TRB_LINK) {
			*addr = r->deq;
			r->deq += sizeof(*t);
			return FETCH_OK;
		}
		r->deq = t->param & ~0xfULL;
		if (t->control & TRB_TC)
			r->ccs = !r->ccs;
	}
	return FETCH_LOOP;
}

/* ---- contexts (6.2) ---- */

static int
xhci_ctx_write(struct xhci_softc *sc, uint64_t gpa, const uint32_t *ctx)
{
	return vm_copyout(xhci_vm(sc), ctx, gpa, CTX_SIZE);
}

static uint32_t
xhci_ep_state(const struct xhci_ep *ep)
{
	return ep->ctx[0] & 7;
}

static void
xhci_ep_set_state(struct xhci_ep *ep, uint32_t state)
{
	ep->ctx[0] = (ep->ctx[0] & ~7u) | state;
}

/* Writes endpoint dci's context, with the ring's dequeue, to the output. */
static void
xhci_ep_sync(struct xhci_softc *sc, struct xhci_slot *slot, int dci)
{
	struct xhci_ep *ep = &slot->ep[dci];

	ep->ctx[2] = (uint32_t)ep->ring.deq | (ep->ring.ccs ? 1 : 0);
	ep->ctx[3] = (uint32_t)(ep->ring.deq >> 32);
	if (slot->out != 0 &&
	    xhci_ctx_write(sc, slot->out + CTX_SIZE * (uint64_t)dci, ep->ctx) !=
		0)
		xhci_fatal(sc, "output device context unmapped");
}

static void
xhci_slot_sync(struct xhci_softc *sc, struct xhci_slot *slot)
{
	if (slot->out != 0 && xhci_ctx_write(sc, slot->out, slot->ctx) != 0)
		xhci_fatal(sc, "output device context unmapped");
}

static void
xhci_slot_set_state(struct xhci_slot *slot, uint32_t state, uint32_t addr)
{
	slot->ctx[3] = state << 27 | (addr & 0xff);
}

static uint32_t
xhci_slot_state(const struct xhci_slot *slot)
{
	return slot->ctx[3] >> 27;
}

/* Context Entries (slot dw0 31:27): the last valid endpoint's DCI. */
static void
xhci_slot_entries_update(struct xhci_slot *slot)
{
	uint32_t last = 1;

	for (uint32_t dci = 2; dci < XHCI_MAX_EPS; dci++)
		if (xhci_ep_state(&slot->ep[dci]) != EP_DISABLED)
			last = dci;
	slot->ctx[0] = (slot->ctx[0] & 0x07ffffffu) | last << 27;
}

static void
xhci_slot_disable_eps(struct xhci_slot *slot, int from)
{
	for (int dci = from; dci < XHCI_MAX_EPS; dci++)
		memset(&slot->ep[dci], 0, sizeof(slot->ep[dci]));
}

static struct xhci_slot *
xhci_slot_get(struct xhci_softc *sc, uint32_t id)
{
	if (id == 0 || id > XHCI_MAX_SLOTS || !sc->slot[id].enabled)
		return NULL;
	return &sc->slot[id];
}

static struct usb_dev *
xhci_slot_dev(struct xhci_softc *sc, const struct xhci_slot *slot)
{
	if (slot->port < 1 || slot->port > XHCI_MAX_PORTS ||
	    !(sc->port[slot->port].portsc & PS_PED))
		return NULL;
	return sc->port[slot->port].dev;
}

/*
 * Copies the Input Context the command points at (6.2.5), once.  0, or
 * -1 after flagging HSE.
 */
static int
xhci_input_read(struct xhci_softc *sc, uint64_t gpa, uint32_t *in)
{
	if (vm_copyin(xhci_vm(sc), gpa & ~0xfULL, in, IN_CTX_SIZE) != 0) {
		xhci_fatal(sc, "input context unmapped");
		return -1;
	}
	return 0;
}

/* ---- commands (4.6) ---- */

static int
xhci_cmd_enable_slot(struct xhci_softc *sc, uint32_t *slotid)
{
	uint32_t max = sc->config & 0xff;

	for (uint32_t id = 1; id <= max && id <= XHCI_MAX_SLOTS; id++) {
		if (!sc->slot[id].enabled) {
			memset(&sc->slot[id], 0, sizeof(sc->slot[id]));
			sc->slot[id].enabled = true;
			*slotid = id;
			return CC_SUCCESS;
		}
	}
	return CC_NO_SLOTS;
}

static int
xhci_cmd_disable_slot(struct xhci_softc *sc, uint32_t id)
{
	struct xhci_slot *slot = xhci_slot_get(sc, id);

	if (slot == NULL)
		return CC_SLOT_NOT_ENABLED;
	memset(slot, 0, sizeof(*slot));
	return CC_SUCCESS;
}

/* The output device context DCBAA[id] names; 0 after flagging HSE. */
static uint64_t
xhci_dcbaa_entry(struct xhci_softc *sc, uint32_t id)
{
	uint64_t out;

	if (vm_copyin(xhci_vm(sc), sc->dcbaap + 8ULL * id, &out, sizeof(out)) !=
	    0) {
		xhci_fatal(sc, "DCBAA unmapped");
		return 0;
	}
	out &= ~0x3fULL;
	if (out == 0 || vm_map_gpa(xhci_vm(sc), out, OUT_CTX_SIZE) == NULL) {
		xhci_fatal(sc, "output device context unmapped");
		return 0;
	}
	return out;
}

/* Address Device (4.6.5): BSR 1 stops short of SET_ADDRESS. */
static int
xhci_cmd_address_device(struct xhci_softc *sc, const struct xhci_trb *t)
{
	uint32_t id = TRB_SLOT(t->control), in[IN_CTX_SIZE / 4];
	struct xhci_slot *slot = xhci_slot_get(sc, id);
	bool bsr = (t->control & TRB_BSR) != 0;
	const uint32_t *islot = in + 8, *iep0 = in + 16;
	uint32_t state, port;
	uint64_t out, deq;

	if (slot == NULL)
		return CC_SLOT_NOT_ENABLED;
	state = slot->out == 0 ? SLOT_ENABLED : xhci_slot_state(slot);
	if (state > (bsr ? SLOT_ENABLED : SLOT_DEFAULT))
		return CC_CONTEXT_STATE;
	if (xhci_input_read(sc, t->param, in) != 0)
		return -1;
	if ((in[1] & 3) != 3 || ((iep0[1] >> 3) & 7) != EP_TYPE_CONTROL)
		return CC_PARAMETER;
	port = (islot[1] >> 16) & 0xff;
	/* Root ports only: a route string means a hub we do not have. */
	if (port < 1 || port > XHCI_MAX_PORTS || sc->port[port].dev == NULL ||
	    !(sc->port[port].portsc & PS_PED) || (islot[0] & 0xfffff) != 0)
		return CC_TRANSACTION;
	out = xhci_dcbaa_entry(sc, id);
	if (out == 0)
		return -1;
	slot->out = out;
	slot->port = (int)port;
	memcpy(slot->ctx, islot, CTX_SIZE);
	xhci_slot_disable_eps(slot, 1);
	memcpy(slot->ep[1].ctx, iep0, CTX_SIZE);
	deq = (uint64_t)iep0[3] << 32 | iep0[2];
	slot->ep[1].ring = (struct xhci_ring){deq & ~0xfULL, (deq & 1) != 0};
	xhci_ep_set_state(&slot->ep[1], EP_RUNNING);
	xhci_slot_entries_update(slot);
	/* The USB address is the slot ID: unique, 1..XHCI_MAX_SLOTS. */
	xhci_slot_set_state(slot, bsr ? SLOT_DEFAULT : SLOT_ADDRESSED,
			    bsr ? 0 : id);
	xhci_slot_sync(sc, slot);
	xhci_ep_sync(sc, slot, 1);
	return CC_SUCCESS;
}

/* Checks the endpoint contexts Configure Endpoint would add. */
static int
xhci_config_check(const uint32_t *in, uint32_t add)
{
	for (int dci = 2; dci < XHCI_MAX_EPS; dci++) {
		const uint32_t *iep = in + 8 * (dci + 1);

		if (!(add & (1u << dci)))
			continue;
		if (((iep[1] >> 3) & 7) == 0 || (iep[1] >> 16) == 0)
			return CC_PARAMETER;
	}
	return CC_SUCCESS;
}

/* Configure Endpoint (4.6.6): drop, then add; DC deconfigures. */
static int
xhci_cmd_configure_ep(struct xhci_softc *sc, const struct xhci_trb *t)
{
	uint32_t id = TRB_SLOT(t->control), in[IN_CTX_SIZE / 4], drop, add;
	struct xhci_slot *slot = xhci_slot_get(sc, id);
	uint32_t state;
	int cc;

	if (slot == NULL)
		return CC_SLOT_NOT_ENABLED;
	state = slot->out == 0 ? SLOT_ENABLED : xhci_slot_state(slot);
	if (state != SLOT_ADDRESSED && state != SLOT_CONFIGURED)
		return CC_CONTEXT_STATE;
	if (t->control & TRB_BSR) {
		xhci_slot_disable_eps(slot, 2);
	} else {
		if (xhci_input_read(sc, t->param, in) != 0)
			return -1;
		drop = in[0] & ~3u;
		add = in[1];
		cc = xhci_config_check(in, add);
		if (cc != CC_SUCCESS)
			return cc;
		for (int dci = 2; dci < XHCI_MAX_EPS; dci++) {
			struct xhci_ep *ep = &slot->ep[dci];
			const uint32_t *iep = in + 8 * (dci + 1);
			uint64_t deq;

			if (drop & (1u << dci))
				memset(ep, 0, sizeof(*ep));
			if (!(add & (1u << dci)))
				continue;
			memcpy(ep->ctx, iep, CTX_SIZE);
			deq = (uint64_t)iep[3] << 32 | iep[2];
			ep->ring =
			    (struct xhci_ring){deq & ~0xfULL, (deq & 1) != 0};
			xhci_ep_set_state(ep, EP_RUNNING);
		}
	}
	xhci_slot_entries_update(slot);
	state = (slot->ctx[0] >> 27) > 1 ? SLOT_CONFIGURED : SLOT_ADDRESSED;
	xhci_slot_set_state(slot, state, slot->ctx[3]);
	xhci_slot_sync(sc, slot);
	for (int dci = 2; dci < XHCI_MAX_EPS; dci++)
		xhci_ep_sync(sc, slot, dci);
	return CC_SUCCESS;
}

/* Evaluate Context (4.6.7): interrupter target, exit latency, EP0 MPS. */
static int
xhci_cmd_evaluate_ctx(struct xhci_softc *sc, const struct xhci_trb *t)
{
	uint32_t id = TRB_SLOT(t->control), in[IN_CTX_SIZE / 4];
	struct xhci_slot *slot = xhci_slot_get(sc, id);

	if (slot == NULL)
		return CC_SLOT_NOT_ENABLED;
	if (slot->out == 0)
		return CC_CONTEXT_STATE;
	if (xhci_input_read(sc, t->param, in) != 0)
		return -1;
	if (in[1] & 1) {
		slot->ctx[1] = (slot->ctx[1] & ~0xffffu) | (in[9] & 0xffff);
		slot->ctx[2] =
		    (slot->ctx[2] & 0x003fffffu) | (in[10] & 0xffc00000u);
		xhci_slot_sync(sc, slot);
	}
	if (in[1] & 2) {
		struct xhci_ep *ep0 = &slot->ep[1];

		ep0->ctx[1] = (ep0->ctx[1] & 0xffff) | (in[17] & 0xffff0000u);
		xhci_ep_sync(sc, slot, 1);
	}
	return CC_SUCCESS;
}

/* The endpoint a Reset/Stop Endpoint or Set TR Dequeue command names. */
static int
xhci_cmd_ep(struct xhci_softc *sc, const struct xhci_trb *t,
	    struct xhci_slot **slotp, struct xhci_ep **epp)
{
	uint32_t dci = TRB_EP(t->control);

	*slotp = xhci_slot_get(sc, TRB_SLOT(t->control));
	if (*slotp == NULL)
		return CC_SLOT_NOT_ENABLED;
	if (dci == 0 || xhci_ep_state(&(*slotp)->ep[dci]) == EP_DISABLED)
		return CC_EP_NOT_ENABLED;
	*epp = &(*slotp)->ep[dci];
	return CC_SUCCESS;
}

static int
xhci_cmd_reset_ep(struct xhci_softc *sc, const struct xhci_trb *t)
{
	struct xhci_slot *slot;
	struct xhci_ep *ep;
	int cc = xhci_cmd_ep(sc, t, &slot, &ep);

	if (cc != CC_SUCCESS)
		return cc;
	if (xhci_ep_state(ep) != EP_HALTED)
		return CC_CONTEXT_STATE;
	xhci_ep_set_state(ep, EP_STOPPED);
	xhci_ep_sync(sc, slot, (int)TRB_EP(t->control));
	return CC_SUCCESS;
}

static int
xhci_cmd_stop_ep(struct xhci_softc *sc, const struct xhci_trb *t)
{
	struct xhci_slot *slot;
	struct xhci_ep *ep;
	int cc = xhci_cmd_ep(sc, t, &slot, &ep);

	if (cc != CC_SUCCESS)
		return cc;
	if (xhci_ep_state(ep) != EP_RUNNING)
		return CC_CONTEXT_STATE;
	/* A pending TD was never started: the dequeue pointer stays on it. */
	xhci_ep_set_state(ep, EP_STOPPED);
	xhci_ep_sync(sc, slot, (int)TRB_EP(t->control));
	return CC_SUCCESS;
}

static int
xhci_cmd_set_tr_deq(struct xhci_softc *sc, const struct xhci_trb *t)
{
	struct xhci_slot *slot;
	struct xhci_ep *ep;
	int cc = xhci_cmd_ep(sc, t, &slot, &ep);

	if (cc != CC_SUCCESS)
		return cc;
	if (xhci_ep_state(ep) != EP_STOPPED && xhci_ep_state(ep) != EP_ERROR)
		return CC_CONTEXT_STATE;
	ep->ring = (struct xhci_ring){t->param & ~0xfULL, (t->param & 1) != 0};
	xhci_ep_set_state(ep, EP_STOPPED); /* out of Error too (4.8.3) */
	xhci_ep_sync(sc, slot, (int)TRB_EP(t->control));
	return CC_SUCCESS;
}

static int
xhci_cmd_reset_device(struct xhci_softc *sc, const struct xhci_trb *t)
{
	struct xhci_slot *slot = xhci_slot_get(sc, TRB_SLOT(t->control));
	struct usb_dev *dev;

	if (slot == NULL)
		return CC_SLOT_NOT_ENABLED;
	if (slot->out == 0 || xhci_slot_state(slot) == SLOT_DEFAULT)
		return CC_CONTEXT_STATE;
	dev = xhci_slot_dev(sc, slot);
	if (dev != NULL)
		dev->ops->reset(dev);
	xhci_slot_disable_eps(slot, 2);
	xhci_slot_entries_update(slot);
	xhci_slot_set_state(slot, SLOT_DEFAULT, 0);
	xhci_slot_sync(sc, slot);
	return CC_SUCCESS;
}

/* Runs one command TRB; -1 when it left the controller halted (HSE). */
static int
xhci_cmd_exec(struct xhci_softc *sc, const struct xhci_trb *t, uint32_t *id)
{
	*id = TRB_SLOT(t->control);
	switch (TRB_TYPE(t->control)) {
	case TRB_ENABLE_SLOT:
		*id = 0;
		return xhci_cmd_enable_slot(sc, id);
	case TRB_DISABLE_SLOT:
		return xhci_cmd_disable_slot(sc, *id);
	case TRB_ADDRESS_DEVICE:
		return xhci_cmd_address_device(sc, t);
	case TRB_CONFIGURE_EP:
		return xhci_cmd_configure_ep(sc, t);
	case TRB_EVALUATE_CTX:
		return xhci_cmd_evaluate_ctx(sc, t);
	case TRB_RESET_EP:
		return xhci_cmd_reset_ep(sc, t);
	case TRB_STOP_EP:
		return xhci_cmd_stop_ep(sc, t);
	case TRB_SET_TR_DEQ:
		return xhci_cmd_set_tr_deq(sc, t);
	case TRB_RESET_DEVICE:
		return xhci_cmd_reset_device(sc, t);
	case TRB_NOOP_CMD:
		return CC_SUCCESS;
	default:
		return CC_TRB;
	}
}

/* Command ring doorbell: runs what the guest queued, bounded. */
static void
xhci_cmd_ring_run(struct xhci_softc *sc)
{
	int budget = XHCI_CMD_BUDGET;

	if (!xhci_running(sc))
		return;
	sc->crr = true;
	for (;;) {
		struct xhci_trb t;
		uint64_t addr;
		uint32_t id;
		int cc;

		switch (xhci_ring_fetch(sc, &sc->cmd, &t, &addr, &budget)) {
		case FETCH_OK:
			break;
		case FETCH_BAD:
			xhci_fatal(sc, "command ring unmapped");
			return;
		case FETCH_LOOP:
			if (budget > 0)
				xhci_fatal(sc, "command ring Link TRB loop");
			return; /* out of budget: go on at the next doorbell */
		default:
			return;
		}
		cc = xhci_cmd_exec(sc, &t, &id);
		if (cc < 0 || !xhci_running(sc))
			return;
		xhci_cmd_complete(sc, addr, cc, (int)id);
	}
}

/* ---- transfers (4.11) ---- */

/*
 * Copies the TD at the endpoint's dequeue pointer: for EP0 Setup through
 * Status, else up to the first TRB without CH.  The ring does not move.
 */
static enum xhci_fetch
xhci_td_gather(struct xhci_softc *sc, struct xhci_ep *ep, bool control,
	       struct xhci_td *td, int *budget)
{
	td->n = 0;
	td->next = ep->ring;
	for (;;) {
		struct xhci_trb *t;
		enum xhci_fetch rc;
		uint32_t type;

		if (td->n == XHCI_TD_MAX)
			return FETCH_LOOP;
		t = &td->trb[td->n];
		rc =
		    xhci_ring_fetch(sc, &td->next, t, &td->addr[td->n], budget);
		if (rc != FETCH_OK)
			return rc;
		td->n++;
		type = TRB_TYPE(t->control);
		if (control ? type == TRB_STATUS : !(t->control & TRB_CH))
			return FETCH_OK;
	}
}

/* Whether a TRB of the TD carries data (Normal, Data stage, Isoch). */
static bool
xhci_trb_is_data(const struct xhci_trb *t)
{
	uint32_t type = TRB_TYPE(t->control);

	return type == TRB_NORMAL || type == TRB_DATA || type == TRB_ISOCH;
}

/* The host buffer of a data TRB: its immediate data or mapped memory. */
static uint8_t *
xhci_trb_buf(struct xhci_softc *sc, struct xhci_trb *t, uint32_t len)
{
	if (t->control & TRB_IDT)
		return len <= 8 ? (uint8_t *)&t->param : NULL;
	return vm_map_gpa(xhci_vm(sc), t->param, len);
}

/* The data TRBs' lengths from 'first' to the end, capped. */
static size_t
xhci_td_len(const struct xhci_td *td, int first, int last)
{
	size_t total = 0;

	for (int i = first; i < last; i++)
		if (xhci_trb_is_data(&td->trb[i]))
			total += TRB_LEN(td->trb[i].status);
	return total < XHCI_XFER_MAX ? total : XHCI_XFER_MAX;
}

/* Collects OUT data from the TD's data TRBs into buf (len bytes). */
static int
xhci_td_read(struct xhci_softc *sc, struct xhci_td *td, int first, int last,
	     uint8_t *buf, size_t len)
{
	size_t done = 0;

	for (int i = first; i < last && done < len; i++) {
		struct xhci_trb *t = &td->trb[i];
		uint32_t n = TRB_LEN(t->status);
		const uint8_t *src;

		if (!xhci_trb_is_data(t) || n == 0)
			continue;
		if (n > len - done)
			n = (uint32_t)(len - done);
		src = xhci_trb_buf(sc, t, n);
		if (src == NULL)
			return -1;
		memcpy(buf + done, src, n);
		done += n;
	}
	return 0;
}

/*
 * A short packet at TRB i ends the data: the event goes on TRB i if it
 * has ISP or IOC, else on the next TRB with IOC, which then transferred
 * nothing (4.10.1.1).
 */
static void
xhci_td_short(struct xhci_softc *sc, struct xhci_td *td, int i, int last,
	      uint32_t residual, int slotid, int dci)
{
	for (; i < last; i++) {
		const struct xhci_trb *t = &td->trb[i];

		if (t->control & (TRB_ISP | TRB_IOC)) {
			xhci_xfer_event(sc, td->addr[i], residual,
					CC_SHORT_PACKET, slotid, dci, false);
			return;
		}
		residual = TRB_LEN(td->trb[i + 1 < last ? i + 1 : i].status);
	}
}

/*
 * Completes the data TRBs first..last-1 with n bytes: IN data goes from
 * buf into their buffers.  Posts a Transfer Event for each TRB with IOC,
 * and for the one that came up short if it has ISP (4.10.1.1), which
 * also ends the data.  -1 if a buffer is unmapped.
 */
static int
xhci_td_complete_data(struct xhci_softc *sc, struct xhci_td *td, int first,
		      int last, const uint8_t *buf, size_t n, bool in,
		      int slotid, int dci)
{
	size_t done = 0;

	for (int i = first; i < last; i++) {
		struct xhci_trb *t = &td->trb[i];
		uint32_t len = TRB_LEN(t->status), want;
		uint8_t *dst;

		if (TRB_TYPE(t->control) == TRB_EVENT_DATA) {
			if (t->control & TRB_IOC)
				xhci_xfer_event(sc, t->param, (uint32_t)done,
						CC_SUCCESS, slotid, dci, true);
			continue;
		}
		if (!xhci_trb_is_data(t)) {
			if (t->control & TRB_IOC)
				xhci_xfer_event(sc, td->addr[i], 0, CC_SUCCESS,
						slotid, dci, false);
			continue;
		}
		want = n - done < len ? (uint32_t)(n - done) : len;
		if (in && want > 0) {
			dst = xhci_trb_buf(sc, t, want);
			if (dst == NULL)
				return -1;
			memcpy(dst, buf + done, want);
		}
		done += want;
		if (want < len && in) {
			xhci_td_short(sc, td, i, last, len - want, slotid, dci);
			return 0;
		}
		if (t->control & TRB_IOC)
			xhci_xfer_event(sc, td->addr[i], 0, CC_SUCCESS, slotid,
					dci, false);
	}
	return 0;
}

/* A TD the controller cannot run: TRB Error on its first TRB. */
static enum xhci_xfer
xhci_td_malformed(struct xhci_softc *sc, struct xhci_td *td, int slotid,
		  int dci)
{
	xhci_xfer_event(sc, td->addr[0], 0, CC_TRB, slotid, dci, false);
	return XFER_DONE;
}

/* A stall halts the endpoint on the TRB at index i (4.10.2.1). */
static enum xhci_xfer
xhci_td_stall(struct xhci_softc *sc, struct xhci_td *td, int i, int slotid,
	      int dci)
{
	xhci_xfer_event(sc, td->addr[i], TRB_LEN(td->trb[i].status), CC_STALL,
			slotid, dci, false);
	return XFER_HALT;
}

static void
xhci_setup_parse(uint64_t p, struct usb_setup *s)
{
	s->bmRequestType = (uint8_t)p;
	s->bRequest = (uint8_t)(p >> 8);
	s->wValue = (uint16_t)(p >> 16);
	s->wIndex = (uint16_t)(p >> 32);
	s->wLength = (uint16_t)(p >> 48);
}

/* A control TD: Setup, optional Data (+ Normal TRBs), Status (4.11.2.2). */
static enum xhci_xfer
xhci_td_control(struct xhci_softc *sc, struct usb_dev *dev, struct xhci_td *td,
		int slotid)
{
	struct xhci_trb *setup = &td->trb[0];
	int st = td->n - 1, rc;
	uint8_t buf[XHCI_XFER_MAX];
	struct usb_setup s;
	bool in;
	size_t len;

	if (TRB_TYPE(setup->control) != TRB_SETUP ||
	    !(setup->control & TRB_IDT) || TRB_LEN(setup->status) != 8 ||
	    td->n < 2)
		return xhci_td_malformed(sc, td, slotid, 1);
	xhci_setup_parse(setup->param, &s);
	in = (s.bmRequestType & 0x80) != 0;
	if (st > 1 && (TRB_TYPE(td->trb[1].control) != TRB_DATA ||
		       ((td->trb[1].control & TRB_DIR_IN) != 0) != in))
		return xhci_td_malformed(sc, td, slotid, 1);
	for (int i = 2; i < st; i++)
		if (TRB_TYPE(td->trb[i].control) == TRB_SETUP)
			return xhci_td_malformed(sc, td, slotid, 1);
	len = xhci_td_len(td, 1, st);
	if (len > s.wLength)
		len = s.wLength;
	if (setup->control & TRB_IOC)
		xhci_xfer_event(sc, td->addr[0], 0, CC_SUCCESS, slotid, 1,
				false);
	if (!in && xhci_td_read(sc, td, 1, st, buf, len) != 0)
		return XFER_FATAL;
	rc = dev->ops->control(dev, &s, buf, len);
	if (rc < 0)
		return xhci_td_stall(sc, td, st > 1 ? 1 : st, slotid, 1);
	if ((size_t)rc > len) /* a device never says more than asked */
		rc = (int)len;
	if (xhci_td_complete_data(sc, td, 1, st, buf, in ? (size_t)rc : len, in,
				  slotid, 1) != 0)
		return XFER_FATAL;
	if (td->trb[st].control & TRB_IOC)
		xhci_xfer_event(sc, td->addr[st], 0, CC_SUCCESS, slotid, 1,
				false);
	return XFER_DONE;
}

/* A TD of Normal TRBs on a data endpoint (interrupt, bulk). */
static enum xhci_xfer
xhci_td_normal(struct xhci_softc *sc, struct usb_dev *dev, struct xhci_td *td,
	       int slotid, int dci)
{
	bool in = (dci & 1) != 0;
	uint8_t buf[XHCI_XFER_MAX];
	size_t len;
	int rc;

	for (int i = 0; i < td->n; i++) {
		uint32_t type = TRB_TYPE(td->trb[i].control);

		if (type != TRB_NORMAL && type != TRB_EVENT_DATA &&
		    type != TRB_NOOP && type != TRB_ISOCH)
			return xhci_td_malformed(sc, td, slotid, dci);
	}
	len = xhci_td_len(td, 0, td->n);
	if (!in && xhci_td_read(sc, td, 0, td->n, buf, len) != 0)
		return XFER_FATAL;
	rc = dev->ops->transfer(dev, dci / 2, in, buf, len);
	if (rc == USB_NAK)
		return XFER_NAK;
	if (rc < 0)
		return xhci_td_stall(sc, td, 0, slotid, dci);
	if ((size_t)rc > len)
		rc = (int)len;
	if (xhci_td_complete_data(sc, td, 0, td->n, buf, in ? (size_t)rc : len,
				  in, slotid, dci) != 0)
		return XFER_FATAL;
	return XFER_DONE;
}

/* Runs the TDs queued on an endpoint until it is empty or waits. */
static void
xhci_ep_run(struct xhci_softc *sc, struct xhci_slot *slot, int slotid, int dci)
{
	struct xhci_ep *ep = &slot->ep[dci];
	struct usb_dev *dev = xhci_slot_dev(sc, slot);
	int budget = XHCI_XFER_BUDGET;
	struct xhci_td td;

	while (xhci_running(sc) && xhci_ep_state(ep) == EP_RUNNING) {
		enum xhci_xfer rc;

		switch (xhci_td_gather(sc, ep, dci == 1, &td, &budget)) {
		case FETCH_OK:
			break;
		case FETCH_BAD:
			xhci_fatal(sc, "transfer ring unmapped");
			return;
		case FETCH_LOOP:
			if (budget > 0) { /* a Link loop or endless TD */
				xhci_xfer_event(sc, ep->ring.deq, 0, CC_TRB,
						slotid, dci, false);
				xhci_ep_set_state(ep, EP_ERROR);
				xhci_ep_sync(sc, slot, dci);
			}
			return;
		default:
			return; /* empty, or a TD still being written */
		}
		if (dev == NULL) /* gone: the guest resets the port next */
			rc = xhci_td_stall(sc, &td, 0, slotid, dci);
		else if (dci == 1)
			rc = xhci_td_control(sc, dev, &td, slotid);
		else
			rc = xhci_td_normal(sc, dev, &td, slotid, dci);
		if (rc == XFER_FATAL) {
			xhci_fatal(sc, "transfer buffer unmapped");
			return;
		}
		if (rc == XFER_NAK)
			return; /* the device notifies when it has data */
		if (rc == XFER_HALT) {
			xhci_ep_set_state(ep, EP_HALTED);
			xhci_ep_sync(sc, slot, dci);
			return;
		}
		ep->ring = td.next;
	}
}

/* A doorbell for endpoint dci of a slot (4.7). */
static void
xhci_ep_kick(struct xhci_softc *sc, int slotid, int dci)
{
	struct xhci_slot *slot = xhci_slot_get(sc, (uint32_t)slotid);
	struct xhci_ep *ep;

	if (slot == NULL || slot->out == 0 || dci < 1 || dci >= XHCI_MAX_EPS)
		return;
	ep = &slot->ep[dci];
	/* Ringing a stopped endpoint restarts it (4.6.9). */
	if (xhci_ep_state(ep) == EP_STOPPED) {
		xhci_ep_set_state(ep, EP_RUNNING);
		xhci_ep_sync(sc, slot, dci);
	}
	xhci_ep_run(sc, slot, slotid, dci);
}

/*
 * Remote wakeup (4.15.2.3): a device with data on a suspended (U3) port
 * signals resume if the host enabled it to; the driver sees PLS Resume
 * with PLC and brings the link back to U0.
 */
static void
xhci_port_wake(struct xhci_softc *sc, int port)
{
	struct xhci_port *p;

	if (port < 1 || port > XHCI_MAX_PORTS)
		return;
	p = &sc->port[port];
	if (((p->portsc & PS_PLS_MASK) >> PS_PLS_SH) != PLS_U3 ||
	    p->dev == NULL || !p->dev->ops->wakeup_enabled(p->dev))
		return;
	p->portsc =
	    (p->portsc & ~PS_PLS_MASK) | PLS_RESUME << PS_PLS_SH | PS_PLC;
	xhci_port_event(sc, port);
}

/* usb_dev's notify: a device on 'port' has IN data; runs its rings. */
static void
xhci_dev_notify(void *arg, int port)
{
	struct xhci_softc *sc = arg;

	pthread_mutex_lock(&sc->mtx);
	xhci_port_wake(sc, port);
	for (int id = 1; id <= XHCI_MAX_SLOTS; id++) {
		struct xhci_slot *slot = &sc->slot[id];

		if (!slot->enabled || slot->port != port || slot->out == 0)
			continue;
		for (int dci = 3; dci < XHCI_MAX_EPS; dci += 2)
			if (xhci_ep_state(&slot->ep[dci]) == EP_RUNNING)
				xhci_ep_run(sc, slot, id, dci);
	}
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- ports (4.19) ---- */

static bool
xhci_port_is_usb3(int port)
{
	return port <= XHCI_USB3_PORTS;
}

/* A port's state after power-on or HCRST: connected, not enabled. */
static void
xhci_port_init(struct xhci_softc *sc, int port)
{
	struct xhci_port *p = &sc->port[port];

	if (p->dev == NULL) {
		p->portsc = PS_PP | PLS_RXDETECT << PS_PLS_SH;
		return;
	}
	p->portsc = PS_PP | PS_CCS | PS_CSC | PLS_POLLING << PS_PLS_SH |
		    (uint32_t)p->dev->ops->speed << PS_SPEED_SH;
	p->dev->ops->reset(p->dev);
}

/* Port reset: the device is reset and the port enabled in U0. */
static void
xhci_port_reset(struct xhci_softc *sc, int port, bool warm)
{
	struct xhci_port *p = &sc->port[port];

	if (!(p->portsc & PS_CCS))
		return;
	p->dev->ops->reset(p->dev);
	p->portsc &= ~(PS_PLS_MASK | PS_PR);
	p->portsc |= PS_PED | PS_PRC | PLS_U0 << PS_PLS_SH;
	if (warm)
		p->portsc |= PS_WRC;
	xhci_port_event(sc, port);
}

static void
xhci_port_link_write(struct xhci_softc *sc, int port, uint32_t pls)
{
	struct xhci_port *p = &sc->port[port];
	uint32_t old = (p->portsc & PS_PLS_MASK) >> PS_PLS_SH;

	if ((p->portsc & (PS_CCS | PS_PED)) != (PS_CCS | PS_PED))
		return;
	if (pls != PLS_U0 && pls != PLS_U3 && pls != PLS_RESUME)
		return;
	p->portsc = (p->portsc & ~PS_PLS_MASK) | pls << PS_PLS_SH;
	/* Back in U0 from U3 or Resume: a link state change (4.15.2). */
	if (pls == PLS_U0 && old != PLS_U0) {
		p->portsc |= PS_PLC;
		xhci_port_event(sc, port);
	}
}

static void
xhci_portsc_write(struct xhci_softc *sc, int port, uint32_t val)
{
	struct xhci_port *p = &sc->port[port];

	p->portsc &= ~(val & PS_CHANGE);
	if (val & PS_PED) {
		p->portsc &= ~(PS_PED | PS_PLS_MASK);
		p->portsc |= (p->portsc & PS_CCS ? PLS_POLLING : PLS_RXDETECT)
			     << PS_PLS_SH;
	}
	p->portsc = (p->portsc & ~(PS_WAKE | PS_PIC_MASK)) |
		    (val & (PS_WAKE | PS_PIC_MASK));
	if (val & PS_LWS)
		xhci_port_link_write(sc, port,
				     (val & PS_PLS_MASK) >> PS_PLS_SH);
	if (val & PS_PR)
		xhci_port_reset(sc, port, false);
	else if ((val & PS_WPR) && xhci_port_is_usb3(port))
		xhci_port_reset(sc, port, true);
}

/* ---- controller state ---- */

static void
xhci_hc_reset(struct xhci_softc *sc)
{
	sc->usbcmd = 0;
	sc->usbsts = STS_HCH;
	sc->dnctrl = 0;
	sc->config = 0;
	sc->dcbaap = 0;
	sc->crcr = 0;
	sc->crr = false;
	sc->cmd = (struct xhci_ring){0, false};
	memset(&sc->ir, 0, sizeof(sc->ir));
	memset(sc->slot, 0, sizeof(sc->slot));
	for (int port = 1; port <= XHCI_MAX_PORTS; port++)
		xhci_port_init(sc, port);
	pci_lintr_deassert(sc->pi);
}

static void
xhci_usbcmd_write(struct xhci_softc *sc, uint32_t val)
{
	bool was = (sc->usbcmd & CMD_RS) != 0;

	if (val & CMD_HCRST) {
		xhci_hc_reset(sc);
		return;
	}
	sc->usbcmd = val & CMD_WRMASK;
	if ((sc->usbcmd & CMD_RS) && !was) {
		if (sc->usbsts & STS_HSE) { /* only a reset clears it */
			sc->usbcmd &= ~CMD_RS;
			return;
		}
		sc->usbsts &= ~STS_HCH;
		clock_gettime(CLOCK_MONOTONIC, &sc->start);
		/* Connections made while halted are reported now. */
		for (int port = 1; port <= XHCI_MAX_PORTS; port++)
			if (sc->port[port].portsc & PS_CHANGE)
				xhci_port_event(sc, port);
	} else if (!(sc->usbcmd & CMD_RS) && was) {
		sc->usbsts |= STS_HCH;
		sc->crr = false;
	}
	xhci_intx_update(sc);
}

/* CRCR (5.4.5): the pointer changes only while the ring is stopped. */
static void
xhci_crcr_write(struct xhci_softc *sc, uint32_t val, bool high)
{
	if (sc->crr) {
		if (!high && (val & (CRCR_CS | CRCR_CA))) {
			sc->crr = false;
			xhci_cmd_complete(sc, sc->cmd.deq, CC_CMD_RING_STOPPED,
					  0);
		}
		return;
	}
	if (high) {
		sc->crcr = (sc->crcr & 0xffffffffULL) | (uint64_t)val << 32;
	} else {
		sc->crcr = (sc->crcr & ~0xffffffffULL) | (val & ~0x3fu);
		sc->cmd.ccs = (val & CRCR_RCS) != 0;
	}
	sc->cmd.deq = sc->crcr;
}

static uint64_t
xhci_mfindex(struct xhci_softc *sc)
{
	struct timespec now;
	uint64_t ns;

	if (!(sc->usbcmd & CMD_RS))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (uint64_t)(now.tv_sec - sc->start.tv_sec) * 1000000000ULL +
	     (uint64_t)now.tv_nsec - (uint64_t)sc->start.tv_nsec;
	return (ns / 125000) & 0x3fff; /* 125 us microframes */
}

/* ---- registers ---- */

/* Capability registers (5.3) and the extended capabilities (7). */
static uint32_t
xhci_cap_read(uint64_t off)
{
	switch (off) {
	case 0x00: /* CAPLENGTH, HCIVERSION 1.0 */
		return XHCI_CAPLEN | 0x0100u << 16;
	case 0x04: /* HCSPARAMS1: MaxSlots, MaxIntrs 1, MaxPorts */
		return XHCI_MAX_SLOTS | 1u << 8 |
		       (uint32_t)XHCI_MAX_PORTS << 24;
	case 0x08: /* HCSPARAMS2: ERST Max 2^4, no scratchpad */
		return 4u << 4;
	case 0x10: /* HCCPARAMS1: AC64, NSS, xECP */
		return 1u << 0 | 1u << 7 | (XHCI_XECP / 4) << 16;
	case 0x14:
		return XHCI_DB;
	case 0x18:
		return XHCI_RT;
	/* Supported Protocol (7.2): USB 3.0 on ports 1..8. */
	case XHCI_XECP:
		return 2u | 4u << 8 | 0x0300u << 16;
	case XHCI_XECP + 4:
	case XHCI_XECP + 0x14:
		return 0x20425355; /* "USB " */
	case XHCI_XECP + 8:
		return 1u | XHCI_USB3_PORTS << 8;
	/* USB 2.0 on ports 9..16. */
	case XHCI_XECP + 0x10:
		return 2u | 0x0200u << 16;
	case XHCI_XECP + 0x18:
		return (XHCI_USB3_PORTS + 1) | XHCI_USB2_PORTS << 8;
	default:
		return 0;
	}
}

static uint32_t
xhci_op_read(struct xhci_softc *sc, uint64_t off)
{
	if (off >= XHCI_PORTREGS - XHCI_OP) {
		uint64_t p = off - (XHCI_PORTREGS - XHCI_OP);

		return (p & 0xf) == 0 ? sc->port[p / 16 + 1].portsc : 0;
	}
	switch (off) {
	case OP_USBCMD:
		return sc->usbcmd;
	case OP_USBSTS:
		return sc->usbsts;
	case OP_PAGESIZE:
		return 1; /* 4 KiB */
	case OP_DNCTRL:
		return sc->dnctrl;
	case OP_CRCR:
		return sc->crr ? CRCR_CRR : 0;
	case OP_DCBAAP:
		return (uint32_t)sc->dcbaap;
	case OP_DCBAAP + 4:
		return (uint32_t)(sc->dcbaap >> 32);
	case OP_CONFIG:
		return sc->config;
	default:
		return 0;
	}
}

static void
xhci_op_write(struct xhci_softc *sc, uint64_t off, uint32_t val)
{
	if (off >= XHCI_PORTREGS - XHCI_OP) {
		uint64_t p = off - (XHCI_PORTREGS - XHCI_OP);

		if ((p & 0xf) == 0)
			xhci_portsc_write(sc, (int)(p / 16) + 1, val);
		return;
	}
	switch (off) {
	case OP_USBCMD:
		xhci_usbcmd_write(sc, val);
		break;
	case OP_USBSTS:
		sc->usbsts &= ~(val & STS_RW1C);
		break;
	case OP_DNCTRL:
		sc->dnctrl = val & 0xffff;
		break;
	case OP_CRCR:
	case OP_CRCR + 4:
		xhci_crcr_write(sc, val, off == OP_CRCR + 4);
		break;
	case OP_DCBAAP:
		sc->dcbaap = (sc->dcbaap & ~0xffffffffULL) | (val & ~0x3fu);
		break;
	case OP_DCBAAP + 4:
		sc->dcbaap = (sc->dcbaap & 0xffffffffULL) | (uint64_t)val << 32;
		break;
	case OP_CONFIG:
		sc->config = val & 0x3ff;
		if ((sc->config & 0xff) > XHCI_MAX_SLOTS)
			sc->config = (sc->config & ~0xffu) | XHCI_MAX_SLOTS;
		break;
	default:
		break;
	}
}

static uint32_t
xhci_rt_read(struct xhci_softc *sc, uint64_t off)
{
	struct xhci_intr *ir = &sc->ir;

	if (off == 0)
		return (uint32_t)xhci_mfindex(sc);
	switch (off - 0x20) {
	case IR_IMAN:
		return ir->iman;
	case IR_IMOD:
		return ir->imod;
	case IR_ERSTSZ:
		return ir->erstsz;
	case IR_ERSTBA:
		return (uint32_t)ir->erstba;
	case IR_ERSTBA + 4:
		return (uint32_t)(ir->erstba >> 32);
	case IR_ERDP:
		return (uint32_t)ir->erdp;
	case IR_ERDP + 4:
		return (uint32_t)(ir->erdp >> 32);
	default:
		return 0;
	}
}

/* ERDP (5.5.2.3.3): EHB is RW1C; a non-empty ring signals again. */
static void
xhci_erdp_write(struct xhci_softc *sc, uint32_t val, bool high)
{
	struct xhci_intr *ir = &sc->ir;
	uint64_t ehb;

	if (high) {
		ir->erdp = (ir->erdp & 0xffffffffULL) | (uint64_t)val << 32;
		return;
	}
	ehb = (val & ERDP_EHB) ? 0 : (ir->erdp & ERDP_EHB);
	ir->erdp = (ir->erdp & ~0xffffffffULL) | (val & ~ERDP_EHB) | ehb;
	if (!(ir->erdp & ERDP_EHB) && ir->nseg != 0 && xhci_running(sc) &&
	    (ir->erdp & ~0xfULL) != xhci_event_enq_addr(ir))
		xhci_intr_raise(sc);
}

static void
xhci_rt_write(struct xhci_softc *sc, uint64_t off, uint32_t val)
{
	struct xhci_intr *ir = &sc->ir;

	switch (off - 0x20) {
	case IR_IMAN:
		ir->iman = (ir->iman & ~IMAN_IE) | (val & IMAN_IE);
		if (val & IMAN_IP)
			ir->iman &= ~IMAN_IP;
		xhci_intx_update(sc);
		break;
	case IR_IMOD:
		ir->imod = val;
		break;
	case IR_ERSTSZ:
		ir->erstsz = val & 0xffff;
		break;
	case IR_ERSTBA:
		ir->erstba = (ir->erstba & ~0xffffffffULL) | (val & ~0x3fu);
		xhci_erst_load(sc);
		break;
	case IR_ERSTBA + 4:
		ir->erstba = (ir->erstba & 0xffffffffULL) | (uint64_t)val << 32;
		xhci_erst_load(sc);
		break;
	case IR_ERDP:
	case IR_ERDP + 4:
		xhci_erdp_write(sc, val, off - 0x20 == IR_ERDP + 4);
		break;
	default:
		break;
	}
}

static void
xhci_doorbell_write(struct xhci_softc *sc, uint64_t off, uint32_t val)
{
	uint32_t id = (uint32_t)(off / 4), target = val & 0xff;

	if (!xhci_running(sc))
		return;
	if (id == 0) {
		if (target == 0)
			xhci_cmd_ring_run(sc);
		return;
	}
	xhci_ep_kick(sc, (int)id, (int)target);
}

static uint32_t
xhci_reg_read32(struct xhci_softc *sc, uint64_t off)
{
	if (off < XHCI_CAPLEN || (off >= XHCI_XECP && off < XHCI_XECP_END))
		return xhci_cap_read(off);
	if (off < XHCI_PORT_END)
		return xhci_op_read(sc, off - XHCI_OP);
	if (off >= XHCI_RT && off < XHCI_IR0 + 0x20)
		return xhci_rt_read(sc, off - XHCI_RT);
	return 0; /* doorbells read as 0 */
}

static void
xhci_reg_write32(struct xhci_softc *sc, uint64_t off, uint32_t val)
{
	if (off >= XHCI_OP && off < XHCI_PORT_END)
		xhci_op_write(sc, off - XHCI_OP, val);
	else if (off >= XHCI_RT && off < XHCI_IR0 + 0x20)
		xhci_rt_write(sc, off - XHCI_RT, val);
	else if (off >= XHCI_DB && off < XHCI_DB_END)
		xhci_doorbell_write(sc, off - XHCI_DB, val);
}

static uint64_t
xhci_barread(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct xhci_softc *sc = pi->pi_arg;
	uint64_t v;

	if (baridx != 0)
		return 0;
	pthread_mutex_lock(&sc->mtx);
	if (size == 8 && (offset & 7) == 0)
		v = xhci_reg_read32(sc, offset) |
		    (uint64_t)xhci_reg_read32(sc, offset + 4) << 32;
	else
		v = xhci_reg_read32(sc, offset & ~3ULL) >> (8 * (offset & 3));
	pthread_mutex_unlock(&sc->mtx);
	if (size < 8)
		v &= (1ULL << (8 * size)) - 1;
	return v;
}

static void
xhci_barwrite(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	      uint64_t value)
{
	struct xhci_softc *sc = pi->pi_arg;

	/* Registers are written as dwords or qwords (5.1). */
	if (baridx != 0 || (offset & 3) != 0 || size < 4)
		return;
	pthread_mutex_lock(&sc->mtx);
	xhci_reg_write32(sc, offset, (uint32_t)value);
	if (size == 8)
		xhci_reg_write32(sc, offset + 4, (uint32_t)(value >> 32));
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- options and setup ---- */

struct xhci_check {
	char *err;
	size_t errlen;
};

/* Each slot.N: N in 1..XHCI_MAX_DEVS, a device we know. */
static int
xhci_check_slot(const char *name, const struct config_node *node,
		const char *value, void *arg)
{
	struct xhci_check *c = arg;
	const char *dev;
	char *end;
	long n = strtol(name, &end, 10);

	if (*end != '\0' || n < 1 || n > XHCI_MAX_DEVS || node == NULL) {
		snprintf(c->err, c->errlen,
			 "invalid USB slot '%s' (want 1..%d)", name,
			 XHCI_MAX_DEVS);
		return -1;
	}
	dev = get_config_value_node(node, "device");
	if (!usb_dev_known(dev)) {
		snprintf(c->err, c->errlen,
			 "slot %ld: unknown USB device '%s' (want tablet)", n,
			 dev != NULL ? dev : "");
		return -1;
	}
	return 0;
}

static int
xhci_check(const struct config_node *nvl, char *err, size_t errlen)
{
	struct config_node *slots =
	    find_relative_config_node((struct config_node *)nvl, "slot");
	struct xhci_check c = {err, errlen};

	if (slots == NULL)
		return 0;
	return walk_config_nodes(slots, xhci_check_slot, &c) != 0 ? -1 : 0;
}

/* One USB device: "tablet" or "tablet=opts" -> slot.N.device (N from 1). */
struct xhci_legacy {
	struct config_node *nvl;
	int n;
};

static int
xhci_legacy_option(char *opt, void *arg)
{
	struct xhci_legacy *st = arg;
	char *eq = strchr(opt, '=');
	struct config_node *slot;

	if (st->n >= XHCI_MAX_DEVS) {
		legacy_config_error("more than %d USB devices", XHCI_MAX_DEVS);
		return -1;
	}
	if (eq != NULL)
		*eq++ = '\0';
	slot = legacy_config_child(st->nvl, "slot", ++st->n, XHCI_MAX_DEVS + 1);
	if (slot == NULL || legacy_config_set(slot, "device", opt) != 0)
		return -1;
	if (eq != NULL && *eq != '\0')
		return legacy_config_generic(slot, eq);
	return 0;
}

static int
xhci_legacy_config(struct config_node *nvl, const char *opts)
{
	struct xhci_legacy st = {nvl, 0};

	return legacy_config_each(opts, xhci_legacy_option, &st);
}

static int
xhci_attach_devs(struct xhci_softc *sc, struct config_node *nvl)
{
	for (int n = 1; n <= XHCI_MAX_DEVS; n++) {
		int port = XHCI_USB3_PORTS + n;
		struct config_node *node;
		char key[16];

		snprintf(key, sizeof(key), "slot.%d", n);
		node = find_relative_config_node(nvl, key);
		if (node == NULL)
			continue;
		sc->port[port].dev =
		    usb_dev_create(get_config_value_node(node, "device"),
				   xhci_dev_notify, sc, port);
		if (sc->port[port].dev == NULL) {
			fprintf(stderr, "bhyve: %s: slot %d: no such device\n",
				sc->name, n);
			return -1;
		}
	}
	return 0;
}

static void
xhci_free(struct xhci_softc *sc)
{
	for (int port = 1; port <= XHCI_MAX_PORTS; port++)
		if (sc->port[port].dev != NULL)
			sc->port[port].dev->ops->destroy(sc->port[port].dev);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/* PCI identity: QEMU's xHCI ID, which xhci-pci drives with no quirks. */
static int
xhci_pci_setup(struct xhci_softc *sc)
{
	struct pci_devinst *pi = sc->pi;

	pci_set_cfgdata16(pi, PCIR_VENDOR, 0x1b36);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x000d);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, 0x1b36);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, 0x000d);
	pci_set_cfgdata8(pi, PCIR_REVID, 0x01);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x0c);	   /* serial bus */
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, 0x03); /* USB */
	pci_set_cfgdata8(pi, PCIR_PROGIF, 0x30);   /* xHCI */
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_MEM64, XHCI_BAR_SIZE) != 0 ||
	    pci_emul_add_msicap(pi, 1) < 0 ||
	    pci_emul_add_msixcap(pi, 1, XHCI_MSIX_BAR) < 0 ||
	    pi->pi_capend >= 0x60) {
		fprintf(stderr, "bhyve: %s: PCI setup failed\n", sc->name);
		return -1;
	}
	/* SBRN (USB 3.0) and FLADJ, where xhci-pci reads them (xHCI 5.2). */
	pci_set_cfgdata8(pi, 0x60, 0x30);
	pci_set_cfgdata8(pi, 0x61, 0x20);
	pci_lintr_request(pi);
	return 0;
}

static int
xhci_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct xhci_softc *sc;
	char err[160];

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	sc->pi = pi;
	snprintf(sc->name, sizeof(sc->name), "xhci %d:%d:%d", pi->pi_bus,
		 pi->pi_slot, pi->pi_func);
	pthread_mutex_init(&sc->mtx, NULL);
	if (xhci_check(nvl, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s: %s\n", sc->name, err);
		xhci_free(sc);
		return -1;
	}
	if (xhci_attach_devs(sc, nvl) != 0 || xhci_pci_setup(sc) != 0) {
		xhci_free(sc);
		return -1;
	}
	xhci_hc_reset(sc);
	pi->pi_arg = sc;
	return 0;
}

static void
xhci_fini(struct pci_devinst *pi)
{
	struct xhci_softc *sc = pi->pi_arg;

	if (sc == NULL)
		return;
	xhci_free(sc);
	pi->pi_arg = NULL;
}

static const struct pci_devemu pci_de_xhci = {
    .pe_emu = "xhci",
    .pe_legacy_config = xhci_legacy_config,
    .pe_init = xhci_init,
    .pe_check = xhci_check,
    .pe_barread = xhci_barread,
    .pe_barwrite = xhci_barwrite,
    .pe_bar64 = true,
    .pe_fini = xhci_fini,
};
PCI_EMUL_SET(pci_de_xhci);
