/*
 * libFuzzer target for e1000's guest-facing paths: register writes and
 * reads through BAR0 and the I/O window, transmit descriptors (legacy,
 * context, data: checksum offload, TSO, VLAN), receive descriptors and
 * frames injected from the backend, moderation timers running out, all
 * from a program the input spells (fuzz_input.h): each step is one
 * opcode byte and its operands.
 *
 * Guest memory: rings at RING_GPA, buffers at BUF_GPA, a guard area
 * after them.  Buffer addresses with bit 63 clear are folded into the
 * buffer area (plausible), others are left wild (never RAM); ring bases
 * likewise.  Invariants: the guard area is never written, the process
 * survives, and a reset (CTRL.RST) brings the device back every time.
 * The first input byte picks one of two devices: one on a backend with
 * no offloads (checksums and TSO in software), one on a backend that
 * takes them (NEEDS_CSUM and GSO in the virtio-net header).
 *
 *   make build-fuzz/fuzz_e1000
 *   build-fuzz/fuzz_e1000 -max_total_time=600
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_input.h"
#include "inout.h"
#include "mem.h"
#include "net_backends.h"
#include "pci_e1000.h"
#include "pci_emul.h"
#include "vmmapi.h"
#include "fuzz_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE  (4u << 20)
#define TX_RING	  0x10000ULL
#define RX_RING	  0x11000ULL
#define BUF_GPA	  0x20000ULL
#define BUF_SIZE  0x20000ULL
#define GUARD_GPA (BUF_GPA + BUF_SIZE)
#define GUARD_LEN 0x10000ULL
#define MAX_STEPS 256

static struct vmctx *ctx;
/* [0]: a backend without offloads (all in software), [1]: one with. */
static struct pci_devinst *devs[2];
static struct pci_devinst *pi; /* the one this input drives */
static int fz_sv[2][2] = {{-1, -1}, {-1, -1}};
static int fz_nbe;

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* ---- a backend that swallows frames and replays injected ones ---- */

static int
fz_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	int *queues, char *err, size_t errlen)
{
	int *idx = be->priv;

	*queues = 1;
	*idx = fz_nbe++ % 2;
	return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fz_sv[*idx]);
}

static void
fz_cleanup(struct net_backend *be)
{
}

static uint64_t
fz_get_cap(struct net_backend *be)
{
	return *(int *)be->priv == 1 ? NETBE_OFFLOADS : 0;
}

static int
fz_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	return 0;
}

static ssize_t
fz_send(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	/* Touch every piece's ends: ASan catches one outside its buffer. */
	for (int i = 0; i < iovcnt; i++) {
		const volatile uint8_t *p = iov[i].iov_base;

		if (iov[i].iov_len > 0)
			(void)p[0], (void)p[iov[i].iov_len - 1];
		n += iov[i].iov_len;
	}
	return (ssize_t)n;
}

static ssize_t
fz_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	ssize_t n = recv(fz_sv[*(int *)be->priv][1], buf, len, MSG_DONTWAIT);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static int
fz_rx_fd(struct net_backend *be, int q)
{
	return fz_sv[*(int *)be->priv][1];
}

static const struct net_backend_ops fz_ops = {
    .prefix = "fuzzbe",
    .priv_size = sizeof(int),
    .init = fz_init,
    .cleanup = fz_cleanup,
    .get_cap = fz_get_cap,
    .set_cap = fz_set_cap,
    .send = fz_send,
    .recv = fz_recv,
    .rx_fd = fz_rx_fd,
};
NET_BACKEND_SET(fz_ops);

static void
fz_setup(void)
{
	ctx = fz_dev_vm("fuzze1000", MEM_SIZE);
	set_config_value("pci.0.0.0.device", "hostbridge");
	set_config_value("pci.0.3.0.device", "e1000");
	set_config_value("pci.0.3.0.backend", "fuzzbe");
	set_config_value("pci.0.4.0.device", "e1000");
	set_config_value("pci.0.4.0.backend", "fuzzbe");
	check(init_pci(ctx) == 0);
	devs[0] = pci_emul_find_dev(0, 3, 0);
	devs[1] = pci_emul_find_dev(0, 4, 0);
	check(devs[0] != NULL && devs[1] != NULL);
}

static void
reg_write(uint32_t off, uint32_t v)
{
	pi->pi_d->pe_barwrite(pi, 0, off, 4, v);
}

static uint32_t
reg_read(uint32_t off)
{
	return (uint32_t)pi->pi_d->pe_barread(pi, 0, off, 4);
}

/*
 * Registers worth hitting often (the last five: ITR, RDTR, RADV, TIDV,
 * TADV); any offset is still possible.
 */
static const uint32_t hot_regs[] = {
    0x0000, 0x0010, 0x0014, 0x0020, 0x0038, 0x00c0, 0x00c8, 0x00d0, 0x00d8,
    0x0100, 0x0400, 0x2800, 0x2804, 0x2808, 0x2810, 0x2818, 0x3800, 0x3804,
    0x3808, 0x3810, 0x3818, 0x5200, 0x5400, 0x5404, 0x5600, 0x4074, 0x408c,
    0x5000, 0x00c4, 0x2820, 0x282c, 0x3820, 0x382c,
};

/*
 * Keeps ring bases and lengths off the guard area: a base with bit 31
 * clear is folded onto its ring page, others stay wild (outside RAM).
 */
static uint32_t
fold_reg(uint32_t off, uint32_t v)
{
	switch (off) {
	case 0x2800:
		return (v & 0x80000000u) ? v : (uint32_t)RX_RING;
	case 0x3800:
		return (v & 0x80000000u) ? v : (uint32_t)TX_RING;
	case 0x2808:
	case 0x3808:
		return v & 0xf80; /* at most one 4 KiB page of descriptors */
	default:
		return v;
	}
}

static uint64_t
fold_addr(uint64_t a)
{
	if (a >> 63)
		return a;
	/* Room for the largest receive buffer (16 KiB) after it. */
	return BUF_GPA + a % (BUF_SIZE - 0x4000);
}

static void
put_desc(uint64_t ring, struct fz_input *in)
{
	uint32_t slot = (uint32_t)fz_take(in, 1) % 256;
	uint64_t d[2];
	bool ctxdesc;

	d[0] = fz_take(in, 8);
	d[1] = fz_take(in, 8);
	/* A context descriptor's first quadword is offsets, not memory. */
	ctxdesc =
	    ring == TX_RING && ((d[1] >> 29) & 1) && ((d[1] >> 20) & 0xf) == 0;
	if (!ctxdesc)
		d[0] = fold_addr(d[0]);
	check(vm_copyout(ctx, d, ring + 16ULL * slot, 16) == 0);
}

static void
inject(struct fz_input *in)
{
	static uint8_t frame[10 + 2048];
	size_t len = (size_t)fz_take(in, 2) % 2048, k;

	memset(frame, 0, 10);
	k = len < in->n ? len : in->n;
	memcpy(frame + 10, in->p, k);
	memset(frame + 10 + k, 0xff, len - k);
	in->p += k;
	in->n -= k;
	send(fz_sv[pi == devs[1]][0], frame, 10 + len, 0);
}

static void
step(struct fz_input *in)
{
	uint8_t op = (uint8_t)fz_take(in, 1);
	uint32_t off, v;

	switch (op % 9) {
	case 0:
	case 1:
		off = (uint32_t)fz_take(in, 1);
		off = off < 200 ? hot_regs[off % (sizeof(hot_regs) / 4)]
				: (uint32_t)fz_take(in, 3) % 0x20000 & ~3u;
		reg_write(off, fold_reg(off, (uint32_t)fz_take(in, 4)));
		break;
	case 2:
		reg_read((uint32_t)fz_take(in, 3) % 0x20000 & ~3u);
		break;
	case 3:
	case 4:
		put_desc(op % 9 == 3 ? TX_RING : RX_RING, in);
		break;
	case 5: {
		uint64_t a = BUF_GPA + fz_take(in, 2) % (BUF_SIZE - 64);
		uint8_t b[64];

		for (int i = 0; i < 64; i++)
			b[i] = (uint8_t)fz_take(in, 1);
		check(vm_copyout(ctx, b, a, 64) == 0);
		break;
	}
	case 6:
		inject(in);
		break;
	case 8:
		/* Time passes: the moderation timers the event loop would
		 * fire (no loop runs here). */
		e1000_moderation_expire(pi);
		break;
	default:
		/* The I/O window: IOADDR then IODATA. */
		off = (uint32_t)fz_take(in, 1) & 4;
		v = (uint32_t)fz_take(in, 4);
		if (off == 4) /* the register IOADDR selects, folded */
			v = fold_reg(
			    (uint32_t)pi->pi_d->pe_barread(pi, 1, 0, 4), v);
		if (off == 0 || !(fz_take(in, 1) & 1))
			pi->pi_d->pe_barwrite(pi, 1, off, 4, v);
		else
			pi->pi_d->pe_barread(pi, 1, off, 4);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t guard_pat = 0xa5;
	struct fz_input in = {data, size};
	struct e1000_state st;
	uint8_t *guard;
	uint8_t tmp[64];
	int i;

	if (devs[0] == NULL)
		fz_setup();
	pi = devs[fz_take(&in, 1) & 1];
	guard = vm_map_gpa(ctx, GUARD_GPA, GUARD_LEN);
	memset(guard, guard_pat, GUARD_LEN);
	memset(vm_map_gpa(ctx, TX_RING, 0x2000), 0, 0x2000);
	/* A driver's usual setup, which the program may then undo. */
	reg_write(0x0000, 0x04000000);
	reg_write(0x3800, (uint32_t)TX_RING);
	reg_write(0x3808, 0x800);
	reg_write(0x2800, (uint32_t)RX_RING);
	reg_write(0x2808, 0x800);
	reg_write(0x0400, 0x2);
	reg_write(0x0100, 0x8002);
	reg_write(0x00d0, 0xffff);
	for (i = 0; i < MAX_STEPS && in.n > 0; i++)
		step(&in);
	for (size_t k = 0; k < GUARD_LEN; k++)
		check(guard[k] == guard_pat);
	/* Whatever happened, a reset brings the device back. */
	reg_write(0x0000, 0x04000000);
	e1000_get_state(pi, &st);
	check(st.rdh == 0 && st.tdh == 0 && st.ims == 0 && !st.rx_polling &&
	      !st.rx_waiting && st.held == 0 && !st.mit_pending);
	check((reg_read(0x0008) & 2) && reg_read(0x0100) == 0);
	for (i = 0; i < 4; i++)
		while (recv(fz_sv[i / 2][i % 2], tmp, sizeof(tmp),
			    MSG_DONTWAIT) > 0)
			;
	return 0;
}
