/*
 * libFuzzer target for the xhci model's register, command ring and
 * transfer ring paths, with a tablet on USB 2 port 9 on a detached VM.
 * Build and run from the repository root:
 *
 *   make build-fuzz/fuzz_xhci
 *   build-fuzz/fuzz_xhci -max_total_time=600
 *
 * Each input starts from HCRST and a well-formed start (DCBAA, command
 * ring, a two-segment event ring, run, port 9 reset); flag bit 0 also
 * enables, addresses and configures the tablet (Configure Endpoint and
 * SET_CONFIGURATION), so that transfer rings and reports are reached.
 * Then the input is a program (fuzz_input.h), one opcode byte and its
 * operands at a time:
 *
 *   0  a command TRB (16 bytes) on the command ring, doorbell 0
 *   1  a TRB on EP0's ring, 2 on EP1 IN's ring, with its doorbell
 *   3  a doorbell: slot byte, target byte
 *   4  a register write (offset, value) or a 1/2/4/8-byte read
 *   5  a pointer event through inputdev_pointer()
 *   6  16 bytes into the input context or the data area
 *   7  consume every event (ERDP moves)
 *
 * TRB parameters without IDT mostly land in the guest structures (see
 * fz_addr); the cycle bit is the ring's, and an operand bit hands the
 * stale TRB after it over too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_input.h"
#include "fuzz_dev.h"
#include "inout.h"
#include "inputdev.h"
#include "mem.h"
#include "pci_emul.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM	   (4ULL << 20)
#define FZ_DCBAA   0x10000ULL
#define FZ_CMD	   0x11000ULL
#define FZ_ERST	   0x12000ULL
#define FZ_EV0	   0x13000ULL
#define FZ_EV1	   0x14000ULL
#define FZ_IN	   0x15000ULL
#define FZ_OUT	   0x16000ULL
#define FZ_EP0	   0x17000ULL
#define FZ_EP1	   0x18000ULL
#define FZ_DATA	   0x20000ULL
#define FZ_RING_N  64
#define FZ_EVSEG_N 16
#define FZ_OP	   0x20
#define FZ_IR0	   0x620
#define FZ_DB	   0x700
#define FZ_PORT	   9

struct fz_ring {
	uint64_t base;
	int idx;
	bool ccs;
};

static struct vmctx *fz_ctx;
static uint64_t fz_bar;
static struct fz_ring fz_cmdr, fz_ep0, fz_ep1;
static int fz_ev_seg, fz_ev_idx;
static bool fz_ev_ccs;

static void
fz_init(void)
{
	struct pci_devinst *pi;

	fz_ctx = fz_dev_vm("fuzz-xhci", FZ_RAM);
	set_config_value("pci.0.4.0.device", "xhci");
	set_config_value("pci.0.4.0.slot.1.device", "tablet");
	if (init_pci(fz_ctx) != 0)
		abort();
	pi = pci_emul_find_dev(0, 4, 0);
	if (pi == NULL)
		abort();
	fz_bar = pi->pi_bar[0].addr;
}

static void
fz_wr(uint64_t off, uint32_t v)
{
	uint64_t w = v;

	mem_emulate(NULL, true, fz_bar + off, 4, &w);
}

static void
fz_wr64(uint64_t off, uint64_t v)
{
	fz_wr(off, (uint32_t)v);
	fz_wr(off + 4, (uint32_t)(v >> 32));
}

static void
fz_put(uint64_t gpa, const void *p, size_t n)
{
	memcpy(vm_map_gpa(fz_ctx, gpa, n), p, n);
}

/* Parameter selectors: mostly the guest structures, a few edges. */
static uint64_t
fz_addr(uint64_t raw)
{
	static const uint64_t base[] = {FZ_DCBAA, FZ_CMD, FZ_ERST,
					FZ_EV0,	  FZ_IN,  FZ_OUT,
					FZ_EP0,	  FZ_EP1, FZ_DATA};
	uint8_t sel = raw & 0xff;

	switch (sel) {
	case 0xf0:
		return FZ_RAM - 8;
	case 0xf1:
		return FZ_RAM;
	case 0xf2:
		return UINT64_MAX & ~0xfULL;
	case 0xf3:
		return raw; /* as the input says */
	default:
		return base[sel % 9] + ((raw >> 8) & 0xff0) + (sel & 1);
	}
}

static void
fz_ring_reset(struct fz_ring *r, uint64_t base)
{
	memset(vm_map_gpa(fz_ctx, base, 16 * FZ_RING_N), 0, 16 * FZ_RING_N);
	*r = (struct fz_ring){base, 0, true};
}

/* Writes a TRB at the ring's enqueue; a Link TRB wraps it. */
static void
fz_ring_put(struct fz_ring *r, uint64_t param, uint32_t status,
	    uint32_t control)
{
	uint32_t t[4] = {(uint32_t)param, (uint32_t)(param >> 32), status,
			 (control & ~1u) | (r->ccs ? 1 : 0)};

	fz_put(r->base + 16ULL * (uint64_t)r->idx, t, 16);
	if (++r->idx == FZ_RING_N - 1) {
		uint32_t l[4] = {(uint32_t)r->base, (uint32_t)(r->base >> 32),
				 0, 6u << 10 | 2 | (r->ccs ? 1 : 0)};

		fz_put(r->base + 16ULL * (uint64_t)r->idx, l, 16);
		r->idx = 0;
		r->ccs = !r->ccs;
	}
}

static void
fz_cmd(uint32_t type, uint64_t param, uint32_t slot, uint32_t extra)
{
	fz_ring_put(&fz_cmdr, param, 0, type << 10 | slot << 24 | extra);
	fz_wr(FZ_DB, 0);
}

/* Enable Slot 1, Address Device, Configure EP1 IN: the tablet's path. */
static void
fz_enumerate(void)
{
	uint32_t in[33 * 8] = {0};

	in[1] = 1u << 3 | 3;
	in[8] = 3u << 27;
	in[9] = FZ_PORT << 16;
	in[17] = 4u << 3 | 64u << 16;
	in[18] = (uint32_t)FZ_EP0 | 1;
	in[33] = 7u << 3 | 8u << 16;
	in[34] = (uint32_t)FZ_EP1 | 1;
	fz_put(FZ_IN, in, sizeof(in));
	fz_cmd(9, 0, 0, 0);
	fz_cmd(11, FZ_IN, 1, 0);
	fz_cmd(12, FZ_IN, 1, 0);
	/* SET_CONFIGURATION(1): the tablet reports from now on. */
	fz_ring_put(&fz_ep0, 0x0900 | 1u << 16, 8, 2u << 10 | 1u << 6);
	fz_ring_put(&fz_ep0, 0, 0, 4u << 10 | 1u << 5 | 1u << 16);
	fz_wr(FZ_DB + 4, 1);
}

static void
fz_start(bool enumerate)
{
	uint64_t erst[4] = {FZ_EV0, FZ_EVSEG_N, FZ_EV1, FZ_EVSEG_N};

	fz_wr(FZ_OP, 2); /* HCRST */
	memset(vm_map_gpa(fz_ctx, FZ_DCBAA, 0x10000), 0, 0x10000);
	fz_put(FZ_DCBAA + 8, &(uint64_t){FZ_OUT}, 8);
	fz_put(FZ_ERST, erst, sizeof(erst));
	fz_ring_reset(&fz_cmdr, FZ_CMD);
	fz_ring_reset(&fz_ep0, FZ_EP0);
	fz_ring_reset(&fz_ep1, FZ_EP1);
	fz_ev_seg = 0;
	fz_ev_idx = 0;
	fz_ev_ccs = true;
	fz_wr(FZ_OP + 0x38, 16);
	fz_wr64(FZ_OP + 0x30, FZ_DCBAA);
	fz_wr64(FZ_OP + 0x18, FZ_CMD | 1);
	fz_wr(FZ_IR0 + 0x08, 2);
	fz_wr64(FZ_IR0 + 0x18, FZ_EV0);
	fz_wr64(FZ_IR0 + 0x10, FZ_ERST);
	fz_wr(FZ_IR0, 2);
	fz_wr(FZ_OP, 1 | 4);
	fz_wr(FZ_OP + 0x400 + 0x10 * (FZ_PORT - 1), 1u << 4 | 1u << 9);
	if (enumerate)
		fz_enumerate();
}

static void
fz_trb(struct fz_input *in, struct fz_ring *r, int db_slot, int db_target)
{
	uint64_t param = fz_take(in, 8);
	uint32_t status = (uint32_t)fz_take(in, 4);
	uint32_t control = (uint32_t)fz_take(in, 4);
	uint32_t fixed = (uint32_t)fz_take(in, 1);

	/* Immediate data (a SETUP packet) is not an address. */
	if (!(control & (1u << 6)))
		param = fz_addr(param);

	/* Mostly a small length, so buffers land inside the data area. */
	if (!(fixed & 1))
		status &= 0x3ff;
	fz_ring_put(r, param, status, control);
	/* The slot after it changes hands: a stale TRB looks queued. */
	if (fixed & 2)
		((uint32_t *)vm_map_gpa(
		    fz_ctx, r->base + 16ULL * (uint64_t)r->idx, 16))[3] ^= 1;
	fz_wr(FZ_DB + 4ULL * (uint64_t)db_slot, (uint32_t)db_target);
}

/* Consumes every event written so far, as the driver does: ERDP moves. */
static void
fz_consume(void)
{
	for (int i = 0; i < 2 * FZ_EVSEG_N; i++) {
		uint64_t seg = fz_ev_seg ? FZ_EV1 : FZ_EV0;
		const uint32_t *t =
		    vm_map_gpa(fz_ctx, seg + 16ULL * (uint64_t)fz_ev_idx, 16);

		if ((t[3] & 1) != (fz_ev_ccs ? 1u : 0u))
			break;
		if (++fz_ev_idx == FZ_EVSEG_N) {
			fz_ev_idx = 0;
			fz_ev_seg = !fz_ev_seg;
			fz_ev_ccs = fz_ev_seg ? fz_ev_ccs : !fz_ev_ccs;
		}
	}
	fz_wr64(FZ_IR0 + 0x18,
		(fz_ev_seg ? FZ_EV1 : FZ_EV0) + 16ULL * (uint64_t)fz_ev_idx |
		    8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = {data, size};
	uint8_t flags;

	if (fz_ctx == NULL)
		fz_init();
	flags = (uint8_t)fz_take(&in, 1);
	fz_start(flags & 1);
	for (int op = 0; op < 64 && in.n > 0; op++) {
		switch (fz_take(&in, 1) % 8) {
		case 0:
			fz_trb(&in, &fz_cmdr, 0, 0);
			break;
		case 1:
			fz_trb(&in, &fz_ep0, 1, 1);
			break;
		case 2:
			fz_trb(&in, &fz_ep1, 1, 3);
			break;
		case 3: {
			uint32_t slot = (uint32_t)fz_take(&in, 1) % 18;

			fz_wr(FZ_DB + 4ULL * slot, (uint32_t)fz_take(&in, 1));
			break;
		}
		case 4: {
			uint64_t raw = fz_take(&in, 2), v = 0;

			if (raw & 0x8000)
				mem_emulate(NULL, false, fz_bar + (raw & 0xfff),
					    1 << (raw >> 12 & 3), &v);
			else
				fz_wr(raw & 0xffc, (uint32_t)fz_take(&in, 4));
			break;
		}
		case 5:
			inputdev_pointer((uint8_t)fz_take(&in, 1),
					 (uint32_t)fz_take(&in, 1),
					 (uint32_t)fz_take(&in, 1), 200, 200);
			break;
		case 6: {
			uint64_t gpa = fz_take(&in, 1) & 1 ? FZ_IN : FZ_DATA;
			uint8_t b[16];

			gpa += fz_take(&in, 2) & 0x3f0;
			for (int i = 0; i < 16; i++)
				b[i] = (uint8_t)fz_take(&in, 1);
			fz_put(gpa, b, sizeof(b));
			break;
		}
		default:
			fz_consume();
			break;
		}
	}
	return 0;
}
