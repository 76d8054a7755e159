/*
 * The xhci model with a tablet on a detached VM (guest RAM, no KVM): the
 * test plays Linux's xhci_hcd and usbhid, writing registers through the
 * BAR, TRBs and contexts into guest memory, ringing doorbells and
 * reading events back; pointer events come in through inputdev_pointer()
 * as the VNC server sends them.  Then it plays a hostile driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "inputdev.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MEM_SIZE (32u << 20)
#define SLOT	 5
#define DCBAA	 0x10000ULL
#define CMDRING	 0x11000ULL
#define ERST	 0x12000ULL
#define EVSEG0	 0x13000ULL
#define EVSEG1	 0x14000ULL
#define INCTX	 0x15000ULL
#define OUTCTX	 0x16000ULL
#define EP0RING	 0x17000ULL
#define EP1RING	 0x18000ULL
#define BUF	 0x20000ULL
#define CMD_N	 8  /* command ring TRBs, the last a Link */
#define EVSEG_N	 16 /* TRBs per event ring segment */
#define XFER_N	 32

#define OP	  0x20
#define PORTSC(n) (OP + 0x400 + 0x10 * ((n)-1))
#define IR0	  0x620
#define DB	  0x700
#define TAB_PORT  9

struct trb {
	uint64_t param;
	uint32_t status, control;
};

struct ring {
	uint64_t base;
	int n, idx;
	bool ccs;
};

static struct vmctx *ctx;
static int intx_asserts, msi_count;
static uint64_t msi_data;
static uint64_t bar;
static struct ring cmdr, ep0r, ep1r;
static int ev_seg, ev_idx;
static bool ev_ccs;

static int
rec_intx(struct vmctx *c, int irq, bool level)
{
	if (level)
		intx_asserts++;
	return 0;
}

static int
rec_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	msi_count++;
	msi_data = data;
	return 0;
}

static const struct pci_intr_ops rec_ops = {rec_msi, rec_intx};

static uint32_t
rd(uint64_t off)
{
	return (uint32_t)test_mmio_read(bar + off, 4);
}

static void
wr(uint64_t off, uint32_t v)
{
	test_mmio_write(bar + off, 4, v);
}

static void
wr64(uint64_t off, uint64_t v)
{
	wr(off, (uint32_t)v);
	wr(off + 4, (uint32_t)(v >> 32));
}

static bool
dev_build(const char *opts)
{
	struct config_node *n;
	char node[32];
	struct pci_devinst *pi;

	test_pci_world_reset();
	pci_emul_set_intr_ops(&rec_ops);
	snprintf(node, sizeof(node), "pci.0.%d.0", SLOT);
	n = create_config_node(node);
	set_config_value_node(n, "device", "xhci");
	test_config_opts(n, opts);
	if (init_pci(ctx) != 0)
		return false;
	pi = pci_emul_find_dev(0, SLOT, 0);
	if (pi == NULL)
		return false;
	bar = pi->pi_bar[0].addr;
	return true;
}

/* A ring of n TRBs whose last one links back with Toggle Cycle. */
static void
ring_init(struct ring *r, uint64_t base, int n)
{
	struct trb link = {base, 0, 6u << 10 | 2};

	memset(vm_map_gpa(ctx, base, 16ULL * n), 0, 16ULL * n);
	*r = (struct ring){base, n, 0, true};
	test_gput(ctx, base + 16ULL * (n - 1), &link, 16);
}

static void
ring_put(struct ring *r, struct trb t)
{
	t.control = (t.control & ~1u) | (r->ccs ? 1 : 0);
	test_gput(ctx, r->base + 16ULL * r->idx, &t, 16);
	if (++r->idx == r->n - 1) {
		struct trb link = {r->base, 0, 6u << 10 | 2 | (r->ccs ? 1 : 0)};

		test_gput(ctx, r->base + 16ULL * r->idx, &link, 16);
		r->idx = 0;
		r->ccs = !r->ccs;
	}
}

static void
erst_setup(uint32_t segs)
{
	uint64_t e[4] = {EVSEG0, EVSEG_N, EVSEG1, EVSEG_N};

	memset(vm_map_gpa(ctx, EVSEG0, 0x2000), 0, 0x2000);
	test_gput(ctx, ERST, e, sizeof(e));
	wr(IR0 + 0x08, segs);
	wr64(IR0 + 0x18, EVSEG0);
	wr64(IR0 + 0x10, ERST);
	ev_seg = 0;
	ev_idx = 0;
	ev_ccs = true;
}

/* xhci_hcd's start: reset, rings, event ring, interrupter, run. */
static void
hc_start(void)
{
	wr(OP + 0x00, 2); /* HCRST */
	memset(vm_map_gpa(ctx, DCBAA, 0x1000), 0, 0x1000);
	memset(vm_map_gpa(ctx, OUTCTX, 0x1000), 0, 0x1000);
	test_gput(ctx, DCBAA + 8, &(uint64_t){OUTCTX}, 8);
	wr(OP + 0x38, 16);
	wr64(OP + 0x30, DCBAA);
	ring_init(&cmdr, CMDRING, CMD_N);
	wr64(OP + 0x18, CMDRING | 1);
	erst_setup(2);
	wr(IR0, 2);    /* IE */
	wr(OP, 1 | 4); /* R/S, INTE */
}

/* The next event, if the controller wrote one; ERDP follows it. */
static bool
ev_next(struct trb *t)
{
	uint64_t seg = ev_seg ? EVSEG1 : EVSEG0;

	test_gget(ctx, seg + 16ULL * ev_idx, t, 16);
	if ((t->control & 1) != (ev_ccs ? 1u : 0u))
		return false;
	if (++ev_idx == EVSEG_N) {
		ev_idx = 0;
		ev_seg = !ev_seg;
		if (ev_seg == 0)
			ev_ccs = !ev_ccs;
	}
	seg = ev_seg ? EVSEG1 : EVSEG0;
	wr64(IR0 + 0x18, (seg + 16ULL * ev_idx) | 8); /* clears EHB */
	return true;
}

static void
ev_drain(void)
{
	struct trb t;

	while (ev_next(&t))
		;
}

#define TYPE(t) (((t).control >> 10) & 0x3f)
#define CC(t)	((t).status >> 24)

/* Posts a command and returns its completion code (-1: no event). */
static int
cmd(uint32_t type, uint64_t param, uint32_t slot, uint32_t extra, int *slotid)
{
	struct trb ev;

	ring_put(&cmdr,
		 (struct trb){param, 0, type << 10 | slot << 24 | extra});
	wr(DB, 0);
	while (ev_next(&ev)) {
		if (TYPE(ev) != 33)
			continue;
		if (slotid != NULL)
			*slotid = (int)(ev.control >> 24);
		return (int)CC(ev);
	}
	return -1;
}

static uint32_t
out_dw(int ctxidx, int dw)
{
	uint32_t v;

	test_gget(ctx, OUTCTX + 32ULL * ctxidx + 4ULL * dw, &v, 4);
	return v;
}

/* Input context: add flags, slot context, EP0 (and EP1 IN) contexts. */
static void
inctx_build(uint32_t add, int port, uint64_t ep0, uint64_t ep3)
{
	uint32_t in[33 * 8] = {0};

	in[1] = add;
	in[8] = 1u << 27 | 1u << 20; /* one entry, full speed */
	in[9] = (uint32_t)port << 16;
	in[16 + 1] = 3u << 1 | 4u << 3 | 64u << 16; /* control, MPS 64 */
	in[16 + 2] = (uint32_t)ep0 | 1;
	in[16 + 3] = (uint32_t)(ep0 >> 32);
	in[8 * 4 + 1] = 3u << 1 | 7u << 3 | 8u << 16; /* interrupt IN */
	in[8 * 4 + 2] = (uint32_t)ep3 | 1;
	in[8 * 4 + 3] = (uint32_t)(ep3 >> 32);
	test_gput(ctx, INCTX, in, sizeof(in));
}

struct xfer {
	int cc; /* of the last event, -1 none */
	uint32_t residual;
	int events;
	uint64_t trb; /* of the last event */
};

static struct xfer
xfer_events(void)
{
	struct xfer x = {-1, 0, 0, 0};
	struct trb ev;

	while (ev_next(&ev)) {
		if (TYPE(ev) != 32)
			continue;
		x.events++;
		if (x.cc == -1 || x.cc == 1) {
			x.cc = (int)CC(ev);
			x.residual = ev.status & 0xffffff;
			x.trb = ev.param;
		}
	}
	return x;
}

/* A control transfer on EP0: the data stage, if any, at BUF. */
static struct xfer
control(uint8_t rt, uint8_t req, uint16_t val, uint16_t idx, uint16_t len)
{
	uint64_t setup = rt | (uint64_t)req << 8 | (uint64_t)val << 16 |
			 (uint64_t)idx << 32 | (uint64_t)len << 48;
	bool in = rt & 0x80;

	ring_put(&ep0r, (struct trb){setup, 8,
				     2u << 10 | 1u << 6 |
					 (len ? (in ? 3u : 2u) : 0) << 16});
	if (len != 0)
		ring_put(&ep0r, (struct trb){BUF, len,
					     3u << 10 | 1u << 2 |
						 (in ? 1u << 16 : 0)});
	ring_put(&ep0r,
		 (struct trb){0, 0,
			      4u << 10 | 1u << 5 | (in && len ? 0 : 1u << 16)});
	wr(DB + 4, 1);
	return xfer_events();
}

static void
test_registers(void)
{
	uint32_t v, xecp;

	CHECK((rd(0) & 0xff) == 0x20 && rd(0) >> 16 == 0x0100,
	      "CAPLENGTH 0x20, HCIVERSION 1.0");
	v = rd(4);
	CHECK((v & 0xff) == 16 && ((v >> 8) & 0x7ff) == 1 && v >> 24 == 16,
	      "HCSPARAMS1: 16 slots, 1 interrupter, 16 ports");
	v = rd(0x10);
	CHECK((v & 1) && !(v & 4), "HCCPARAMS1: AC64, 32-byte contexts");
	xecp = (v >> 16) * 4;
	CHECK((rd(xecp) & 0xff) == 2 && rd(xecp) >> 24 == 3 &&
		  rd(xecp + 4) == 0x20425355 &&
		  (rd(xecp + 8) & 0xffff) == 0x801,
	      "Supported Protocol: USB 3 on ports 1..8");
	xecp += ((rd(xecp) >> 8) & 0xff) * 4;
	CHECK((rd(xecp) & 0xff) == 2 && rd(xecp) >> 24 == 2 &&
		  (rd(xecp + 8) & 0xffff) == 0x809 &&
		  ((rd(xecp) >> 8) & 0xff) == 0,
	      "Supported Protocol: USB 2 on ports 9..16, last capability");
	CHECK(rd(0x14) == DB && rd(0x18) == 0x600, "DBOFF, RTSOFF");
	CHECK(rd(OP + 4) & 1, "USBSTS.HCH while stopped");
	CHECK(rd(OP + 8) == 1, "PAGESIZE 4 KiB");
	CHECK(test_cfg_read(0, SLOT, 0, 0, 4) == 0x000d1b36 &&
		  test_cfg_read(0, SLOT, 0, 8, 4) >> 8 == 0x0c0330 &&
		  test_cfg_read(0, SLOT, 0, 0x60, 1) == 0x30,
	      "PCI 1b36:000d, class 0c0330, SBRN 3.0");
}

static void
port_reset(void)
{
	wr(PORTSC(TAB_PORT), (1u << 4) | (1u << 9));
}

static void
test_ports(void)
{
	uint32_t ps = rd(PORTSC(TAB_PORT));
	struct trb ev;

	CHECK((ps & 1) && (ps & (1u << 17)) && (ps & (1u << 9)) &&
		  ((ps >> 10) & 0xf) == 1 && !(ps & 2),
	      "tablet port: connected, CSC, powered, full speed, disabled");
	CHECK(!(rd(PORTSC(1)) & 1) && !(rd(PORTSC(10)) & 1),
	      "other ports empty");
	hc_start();
	CHECK(!(rd(OP + 4) & 1), "running: HCH clear");
	CHECK(ev_next(&ev) && TYPE(ev) == 34 && ev.param >> 24 == TAB_PORT,
	      "port status change event for the connection");
	wr(PORTSC(TAB_PORT), (1u << 17) | (1u << 9));
	port_reset();
	ps = rd(PORTSC(TAB_PORT));
	CHECK((ps & 2) && (ps & (1u << 21)) && !(ps & (1u << 17)) &&
		  ((ps >> 5) & 0xf) == 0,
	      "port reset: enabled, PRC, CSC cleared, U0");
	CHECK(ev_next(&ev) && TYPE(ev) == 34 && ev.param >> 24 == TAB_PORT,
	      "port status change event for the reset");
	wr(PORTSC(TAB_PORT), (1u << 21) | (1u << 9));
	CHECK(!(rd(PORTSC(TAB_PORT)) & (1u << 21)), "PRC is write-1-to-clear");
	CHECK(intx_asserts > 0 && (rd(IR0) & 1) && (rd(OP + 4) & 8),
	      "interrupt: IMAN.IP, USBSTS.EINT, INTx");
}

static void
test_enumerate(void)
{
	uint8_t d[256];
	int slot = 0;
	struct xfer x;

	CHECK(cmd(23, 0, 0, 0, NULL) == 1, "No-Op command");
	CHECK(cmd(9, 0, 0, 0, &slot) == 1 && slot == 1, "Enable Slot -> 1");
	ring_init(&ep0r, EP0RING, XFER_N);
	inctx_build(3, TAB_PORT, EP0RING, 0);
	CHECK(cmd(11, INCTX, 1, 1u << 9, NULL) == 1, "Address Device (BSR 1)");
	CHECK(out_dw(0, 3) >> 27 == 1 && (out_dw(1, 0) & 7) == 1,
	      "slot Default, EP0 Running");
	x = control(0x80, 6, 0x0100, 0, 8);
	test_gget(ctx, BUF, d, 8);
	CHECK(x.cc == 1 && d[0] == 18 && d[1] == 1 && d[7] == 64,
	      "GET_DESCRIPTOR(device, 8): bMaxPacketSize0 64");
	CHECK(cmd(11, INCTX, 1, 0, NULL) == 1, "Address Device (BSR 0)");
	CHECK(out_dw(0, 3) >> 27 == 2 && (out_dw(0, 3) & 0xff) == 1 &&
		  ((out_dw(0, 1) >> 16) & 0xff) == TAB_PORT,
	      "slot Addressed, USB address 1, root port");
	CHECK(cmd(11, INCTX, 1, 1u << 9, NULL) == 19,
	      "Address Device BSR 1 when addressed: context state error");
	CHECK(cmd(13, INCTX, 1, 0, NULL) == 1, "Evaluate Context");
	x = control(0x80, 6, 0x0100, 0, 64);
	test_gget(ctx, BUF, d, 18);
	CHECK(x.cc == 13 && x.residual == 64 - 18 && d[0] == 18 &&
		  d[8] == 0x5d && d[9] == 0xfb,
	      "GET_DESCRIPTOR(device, 64): short packet, 18 bytes");
	x = control(0x80, 6, 0x0200, 0, 255);
	test_gget(ctx, BUF, d, 34);
	CHECK(x.cc == 13 && x.residual == 255 - 34 && d[1] == 2 && d[2] == 34 &&
		  d[9 + 5] == 3 && d[18 + 1] == 0x21 && d[27 + 2] == 0x81 &&
		  d[27 + 3] == 3,
	      "GET_DESCRIPTOR(config): HID interface, interrupt IN 0x81");
	x = control(0x80, 6, 0x0302, 0x409, 255);
	test_gget(ctx, BUF, d, 64);
	CHECK(x.cc == 13 && d[1] == 3 && d[2] == 'b' && d[3] == 0,
	      "GET_DESCRIPTOR(string 2): UTF-16LE");
	CHECK(control(0x00, 9, 1, 0, 0).cc == 1, "SET_CONFIGURATION 1");
	CHECK(control(0x21, 0x0a, 0, 0, 0).cc == 1, "SET_IDLE");
	CHECK(control(0x21, 0x0b, 1, 0, 0).cc == 1, "SET_PROTOCOL report");
	x = control(0x81, 6, 0x2200, 0, 128);
	test_gget(ctx, BUF, d, 128);
	CHECK(x.cc == 13 && d[0] == 0x05 && d[1] == 0x01 &&
		  memmem(d, 128 - x.residual, "\x09\x30\x09\x31", 4) != NULL &&
		  memmem(d, 128 - x.residual, "\x26\xff\x7f", 3) != NULL,
	      "GET_DESCRIPTOR(HID report): absolute X/Y to 0x7fff");
	x = control(0xa1, 0x01, 0x0100, 0, 6);
	CHECK(x.cc == 1, "GET_REPORT");
}

static void
test_stall(void)
{
	struct xfer x = control(0x80, 6, 0x0f00, 0, 16); /* BOS */

	CHECK(x.cc == 6 && (out_dw(1, 0) & 7) == 2,
	      "unknown descriptor: stall, EP0 Halted");
	CHECK(control(0x80, 6, 0x0100, 0, 8).events == 0,
	      "halted EP0 runs nothing");
	CHECK(cmd(14, 0, 1, 1u << 16, NULL) == 1 && (out_dw(1, 0) & 7) == 3,
	      "Reset Endpoint -> Stopped");
	/* Skip the stalled TD and the one queued behind it. */
	CHECK(cmd(16, (EP0RING + 16ULL * ep0r.idx) | (ep0r.ccs ? 1 : 0), 1,
		  1u << 16, NULL) == 1,
	      "Set TR Dequeue Pointer");
	CHECK(control(0x80, 6, 0x0100, 0, 18).cc == 1,
	      "EP0 works again after the doorbell");
}

static void
test_interrupt_in(void)
{
	uint8_t r[8];
	struct xfer x;

	ring_init(&ep1r, EP1RING, XFER_N);
	inctx_build(1u << 3 | 1, TAB_PORT, EP0RING, EP1RING);
	CHECK(cmd(12, INCTX, 1, 0, NULL) == 1 && out_dw(0, 3) >> 27 == 3 &&
		  out_dw(0, 0) >> 27 == 3 && (out_dw(3, 0) & 7) == 1,
	      "Configure Endpoint: slot Configured, EP1 IN Running");
	memset(vm_map_gpa(ctx, BUF, 8), 0xee, 8);
	ring_put(&ep1r, (struct trb){BUF, 8, 1u << 10 | 1u << 5 | 1u << 2});
	wr(DB + 4, 3);
	CHECK(xfer_events().events == 0, "no pointer event: the TD waits");
	inputdev_pointer(1, 50, 100, 100, 200);
	x = xfer_events();
	test_gget(ctx, BUF, r, 8);
	CHECK(x.cc == 13 && x.residual == 2, "report: short packet, 6 bytes");
	CHECK(r[0] == 1 && (r[1] | r[2] << 8) == 50 * 0x7fff / 99 &&
		  (r[3] | r[4] << 8) == 100 * 0x7fff / 199 && r[5] == 0 &&
		  r[6] == 0xee,
	      "report: left button, scaled absolute X/Y");
	ring_put(&ep1r, (struct trb){BUF, 8, 1u << 10 | 1u << 5 | 1u << 2});
	wr(DB + 4, 3);
	inputdev_pointer(1, 50, 100, 100, 200);
	CHECK(xfer_events().events == 0, "same state: no report");
	inputdev_pointer(1 | 8, 50, 100, 100, 200);
	x = xfer_events();
	test_gget(ctx, BUF, r, 8);
	CHECK(x.events == 1 && r[5] == 1, "wheel up: one step");
	/* Reports queue while nobody polls, newest last. */
	inputdev_pointer(0, 0, 0, 100, 200);
	inputdev_pointer(2, 99, 199, 100, 200);
	ring_put(&ep1r, (struct trb){BUF, 8, 1u << 10 | 1u << 5 | 1u << 2});
	ring_put(&ep1r, (struct trb){BUF + 8, 8, 1u << 10 | 1u << 5 | 1u << 2});
	wr(DB + 4, 3);
	x = xfer_events();
	test_gget(ctx, BUF, r, 8);
	CHECK(x.events == 2 && r[0] == 0 && r[1] == 0, "queued report 1");
	test_gget(ctx, BUF + 8, r, 8);
	CHECK(r[0] == 2 && (r[1] | r[2] << 8) == 0x7fff &&
		  (r[3] | r[4] << 8) == 0x7fff,
	      "queued report 2: right button at the corner");
	/* A short packet on a TRB without ISP: the event is the IOC one's. */
	ring_put(&ep1r, (struct trb){BUF, 4, 1u << 10 | 1u << 4});
	ring_put(&ep1r, (struct trb){BUF + 8, 8, 1u << 10 | 1u << 5});
	wr(DB + 4, 3);
	inputdev_pointer(4, 1, 1, 100, 200);
	x = xfer_events();
	test_gget(ctx, BUF, r, 4);
	CHECK(x.events == 1 && x.cc == 13 && x.residual == 6 &&
		  x.trb == EP1RING + 16ULL * (ep1r.idx - 1) && r[0] == 4 &&
		  (r[1] | r[2] << 8) == 0x7fff / 99 && r[3] == 0x7fff / 199,
	      "two-TRB TD: 4 + 2 bytes, short packet event on the IOC TRB");
	CHECK(cmd(15, 0, 1, 3u << 16, NULL) == 1 && (out_dw(3, 0) & 7) == 3,
	      "Stop Endpoint -> Stopped");
	CHECK(cmd(15, 0, 1, 3u << 16, NULL) == 19,
	      "Stop Endpoint twice: context state error");
	wr(DB + 4, 3);
	CHECK((out_dw(3, 0) & 7) == 1, "the doorbell restarts it");
}

/* USB 2 link power management: suspend, remote wakeup, resume. */
static void
test_suspend(void)
{
	struct trb ev;
	uint32_t ps;

	ev_drain();
	wr(PORTSC(TAB_PORT), 1u << 16 | 3u << 5 | 1u << 9);
	CHECK(((rd(PORTSC(TAB_PORT)) >> 5) & 0xf) == 3, "PLS U3 (suspend)");
	inputdev_pointer(0, 5, 5, 100, 200);
	CHECK(((rd(PORTSC(TAB_PORT)) >> 5) & 0xf) == 3 && !ev_next(&ev),
	      "remote wakeup not enabled: the port stays in U3");
	wr(PORTSC(TAB_PORT), 1u << 16 | 0u << 5 | 1u << 9);
	wr(PORTSC(TAB_PORT), 1u << 22 | 1u << 9);
	ev_drain();
	CHECK(control(0x00, 3, 1, 0, 0).cc == 1,
	      "SET_FEATURE(DEVICE_REMOTE_WAKEUP)");
	wr(PORTSC(TAB_PORT), 1u << 16 | 3u << 5 | 1u << 9);
	inputdev_pointer(0, 7, 7, 100, 200);
	ps = rd(PORTSC(TAB_PORT));
	CHECK(((ps >> 5) & 0xf) == 15 && (ps & (1u << 22)) && ev_next(&ev) &&
		  TYPE(ev) == 34,
	      "pointer on a suspended port: remote wakeup (Resume, PLC)");
	wr(PORTSC(TAB_PORT), 1u << 22 | 1u << 9);
	wr(PORTSC(TAB_PORT), 1u << 16 | 0u << 5 | 1u << 9);
	ps = rd(PORTSC(TAB_PORT));
	CHECK(((ps >> 5) & 0xf) == 0 && (ps & (1u << 22)),
	      "driver writes U0: link back up, PLC");
	wr(PORTSC(TAB_PORT), 1u << 22 | 1u << 9);
	ring_put(&ep1r, (struct trb){BUF, 8, 1u << 10 | 1u << 5 | 1u << 2});
	wr(DB + 4, 3);
	CHECK(xfer_events().cc == 13, "the report queued while suspended");
}

/* MSI-X vector 0 fires once per unhandled batch of events. */
static void
test_msix(void)
{
	struct pci_devinst *pi = pci_emul_find_dev(0, SLOT, 0);
	uint64_t tab = pi->pi_bar[2].addr;
	int cap = pi->pi_msix.capoff, before;

	CHECK(cap != 0 && pi->pi_msix.table_count == 1, "one MSI-X vector");
	test_cfg_write(0, SLOT, 0, cap + 2, 2, 0x8000);
	test_mmio_write(tab, 4, 0xfee00000);
	test_mmio_write(tab + 4, 4, 0);
	test_mmio_write(tab + 8, 4, 0x4321);
	test_mmio_write(tab + 12, 4, 0);
	ev_drain();
	before = msi_count;
	CHECK(cmd(23, 0, 0, 0, NULL) == 1 && msi_count == before + 1 &&
		  msi_data == 0x4321,
	      "MSI-X: a command completion fires vector 0");
	ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
	wr(DB, 0);
	ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
	wr(DB, 0);
	CHECK(msi_count == before + 2, "EHB holds the next signal");
	/* ERDP past one of two events signals again; at the end it does not. */
	ev_drain();
	CHECK(msi_count == before + 3,
	      "ERDP short of the enqueue pointer: signalled again");
	test_cfg_write(0, SLOT, 0, cap + 2, 2, 0);
}

static void
test_event_wrap(void)
{
	int ok = 0;

	/* 40 commands through an 8-TRB command ring and 32 event TRBs. */
	for (int i = 0; i < 40; i++)
		ok += cmd(23, 0, 0, 0, NULL) == 1;
	CHECK(ok == 40, "40 No-Ops: command ring Link toggles, event ring "
			"wraps both segments with the cycle bit");
	/* Unconsumed events: the ring fills and the rest are dropped. */
	for (int i = 0; i < 40; i++) {
		ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
		wr(DB, 0);
	}
	CHECK(!(rd(OP + 4) & 4), "a full event ring is not fatal");
	ev_drain();
	CHECK(cmd(23, 0, 0, 0, NULL) == 1, "events flow again after ERDP");
}

static void
hse_expect(const char *name)
{
	CHECK((rd(OP + 4) & 5) == 5, name);
}

static void
test_hostile(void)
{
	struct trb loop = {EP1RING, 0, 6u << 10 | 1};
	uint32_t in[33 * 8] = {0};
	int slot;

	CHECK(cmd(11, INCTX, 0, 0, NULL) == 11 &&
		  cmd(11, INCTX, 200, 0, NULL) == 11 &&
		  cmd(10, 0, 255, 0, NULL) == 11 &&
		  cmd(14, 0, 17, 1u << 16, NULL) == 11,
	      "slot IDs 0, 200, 255, 17: slot not enabled");
	CHECK(cmd(14, 0, 1, 0, NULL) == 12 &&
		  cmd(15, 0, 1, 31u << 16, NULL) == 12,
	      "endpoint 0 and a disabled endpoint: not enabled");
	CHECK(cmd(63, 0, 0, 0, NULL) == 5, "unknown command: TRB error");
	wr(DB + 4 * 99, 1);
	wr(DB + 4 * 16, 31);
	wr(DB + 4 * 1, 200);
	CHECK(!(rd(OP + 4) & 4), "doorbells for absent slots ignored");
	test_gput(ctx, INCTX, in, sizeof(in));
	CHECK(cmd(12, INCTX, 1, 0, NULL) == 1 && out_dw(0, 3) >> 27 == 3,
	      "Configure Endpoint adding nothing");
	in[1] = 1u << 5;
	test_gput(ctx, INCTX, in, sizeof(in));
	CHECK(cmd(12, INCTX, 1, 0, NULL) == 17,
	      "Configure Endpoint with an invalid type: parameter error");
	CHECK(cmd(9, 0, 0, 0, &slot) == 1 && slot == 2 &&
		  cmd(11, INCTX, 2, 0, NULL) == 17,
	      "Address Device without A0/A1: parameter error");
	inctx_build(3, 3, EP0RING, 0);
	CHECK(cmd(11, INCTX, 2, 0, NULL) == 4,
	      "Address Device on an empty port: transaction error");
	CHECK(cmd(10, 0, 2, 0, NULL) == 1, "Disable Slot");

	/* Control TDs that are not Setup [Data] Status: TRB Error. */
	ring_put(&ep0r, (struct trb){0, 0, 4u << 10 | 1u << 5});
	wr(DB + 4, 1);
	CHECK(xfer_events().cc == 5, "a lone Status stage: TRB error");
	ring_put(&ep0r, (struct trb){0x01000680ULL | 18ULL << 48, 8, 2u << 10});
	ring_put(&ep0r, (struct trb){0, 0, 4u << 10 | 1u << 5});
	wr(DB + 4, 1);
	CHECK(xfer_events().cc == 5, "a Setup stage without IDT: TRB error");
	ring_put(&ep0r, (struct trb){0x01000680ULL | 18ULL << 48, 8,
				     2u << 10 | 1u << 6 | 3u << 16});
	ring_put(&ep0r, (struct trb){BUF, 18, 3u << 10}); /* OUT: wrong way */
	ring_put(&ep0r, (struct trb){0, 0, 4u << 10 | 1u << 5});
	wr(DB + 4, 1);
	CHECK(xfer_events().cc == 5, "a Data stage against the request's "
				     "direction: TRB error");
	CHECK(control(0x80, 6, 0x0100, 0, 18).cc == 1,
	      "EP0 still runs after malformed TDs");

	/* A transfer ring whose Link TRB points at itself. */
	inctx_build(1u << 3 | 1, TAB_PORT, EP0RING, EP1RING);
	CHECK(cmd(12, INCTX, 1, 0, NULL) == 1, "reconfigure EP1 IN");
	test_gput(ctx, EP1RING, &loop, 16);
	wr(DB + 4, 3);
	CHECK(xfer_events().cc == 5 && (out_dw(3, 0) & 7) == 4,
	      "Link TRB loop on a transfer ring: TRB error, EP Error state");

	/* A TD that never ends: 64+ chained Normal TRBs. */
	CHECK(cmd(16, EP1RING | 1, 1, 3u << 16, NULL) == 1, "Set TR Deq");
	ring_init(&ep1r, EP1RING, XFER_N * 4);
	for (int i = 0; i < XFER_N * 4 - 1; i++)
		ring_put(&ep1r,
			 (struct trb){BUF, 8, 1u << 10 | 1u << 4 | 1u << 2});
	wr(DB + 4, 3);
	CHECK(xfer_events().cc == 5, "endless TD: TRB error");

	/* A data stage whose buffer runs past the end of RAM. */
	ring_put(&ep0r, (struct trb){0x0680 | 0xffffULL << 48 | 0x100ULL << 16,
				     8, 2u << 10 | 1u << 6 | 3u << 16});
	ring_put(&ep0r,
		 (struct trb){MEM_SIZE - 8, 0x1ffff, 3u << 10 | 1u << 16});
	ring_put(&ep0r, (struct trb){0, 0, 4u << 10 | 1u << 5});
	wr(DB + 4, 1);
	hse_expect("IN data stage past the end of RAM: HSE");

	/* Command ring Link loop: HSE, and HCRST recovers. */
	hc_start();
	test_gput(ctx, CMDRING, &(struct trb){CMDRING, 0, 6u << 10 | 1}, 16);
	wr(DB, 0);
	hse_expect("command ring Link TRB loop: HSE, halted");
	wr(OP, 1);
	CHECK(rd(OP + 4) & 1, "R/S refused while HSE is set");

	hc_start();
	CHECK(!(rd(OP + 4) & 4), "HCRST clears HSE");
	port_reset();
	ev_drain();
	wr64(OP + 0x30, 0xfffffffff000ULL); /* DCBAAP outside RAM */
	ring_init(&ep0r, EP0RING, XFER_N);
	CHECK(cmd(9, 0, 0, 0, &slot) == 1, "Enable Slot");
	inctx_build(3, TAB_PORT, EP0RING, 0);
	cmd(11, INCTX, 1, 0, NULL);
	hse_expect("bad DCBAAP: HSE");

	hc_start();
	wr(IR0 + 0x08, 0);
	wr64(IR0 + 0x10, ERST);
	wr(DB, 0);
	ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
	wr(DB, 0);
	hse_expect("ERSTSZ 0: HSE at the first event");

	hc_start();
	wr(IR0 + 0x08, 0xffff);
	wr64(IR0 + 0x10, ERST);
	ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
	wr(DB, 0);
	hse_expect("ERSTSZ 0xffff: HSE");

	hc_start();
	test_gput(ctx, ERST + 8, &(uint64_t){0}, 8);
	wr64(IR0 + 0x10, ERST);
	ring_put(&cmdr, (struct trb){0, 0, 23u << 10});
	wr(DB, 0);
	hse_expect("event ring segment of 0 TRBs: HSE");

	hc_start();
	wr64(OP + 0x18, 0xfffffffffff000ULL | 1); /* CRCR outside RAM */
	wr(DB, 0);
	hse_expect("command ring outside RAM: HSE");

	hc_start();
	for (int i = 0; i < 20; i++)
		cmd(9, 0, 0, 0, NULL);
	CHECK(cmd(9, 0, 0, 0, NULL) == 9, "Enable Slot past 16: no slots");
	wr(OP, 0);
	CHECK(rd(OP + 4) & 1, "R/S 0: halted");
}

static void
test_options(void)
{
	CHECK(!dev_build("slot.1.device=keyboard"), "unknown USB device");
	CHECK(!dev_build("slot.9.device=tablet"), "slot 9 refused");
	CHECK(dev_build("slot.8.device=tablet"), "slot 8: port 16");
	CHECK((rd(PORTSC(16)) & 1) && !(rd(PORTSC(9)) & 1),
	      "slot 8 connects port 16");
	CHECK(dev_build(""), "no devices");
}

int
main(void)
{
	ctx = vm_create_detached("xhci");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	if (!dev_build("slot.1.device=tablet")) {
		printf("FAIL: xhci,tablet builds\n");
		return 1;
	}
	test_registers();
	test_ports();
	test_enumerate();
	test_stall();
	test_interrupt_in();
	test_suspend();
	test_msix();
	test_event_wrap();
	test_hostile();
	test_options();
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
