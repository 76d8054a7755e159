/*
 * libFuzzer target for virtio-net's guest-facing parsers: the control
 * queue (class/command/data, MAC tables, MQ pairs, offloads), the
 * transmit header check and the receive path's chain handling, all
 * through the core's vq_getchain() on rings the input writes.
 *
 * Input: 8 bytes of driver features (masked by the offer), then one byte
 * selecting the queue to kick (0 rx, 1 tx, 2 ctrl: byte % 3) and the
 * device (byte / 3 % 2: a backend that receives into a buffer, the bounce
 * path, or one that scatters into the guest's chains, the zero-copy
 * path; both on the same socketpair), one byte of chain
 * count, QSIZE descriptors (16 bytes each: address, length, flags, next;
 * an address with bit 63 clear is folded into the buffer area, so most
 * chains are plausible and some are wild; no indirect tables), then the
 * buffer area contents;
 * for rx the first 256 bytes of that area also form the injected frame.
 * Invariants: nothing outside the buffer area and the rings is written,
 * the device either works or is NEEDS_RESET, and it always recovers
 * after a reset.
 *
 * Build and run (from the repository root):
 *   make fuzz                       # builds build-fuzz/fuzz_virtio_net
 *   build-fuzz/fuzz_virtio_net -max_total_time=10
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
#include "inout.h"
#include "mem.h"
#include "net_backends.h"
#include "pci_emul.h"
#include "virtio.h"
#include "virtio_impl.h"
#include "virtqueue.h"
#include "vmmapi.h"
#include "fuzz_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE  (4u << 20)
#define QSIZE	  16
#define RING_GPA  0x10000ULL /* queue q at RING_GPA + q * 0x1000 */
#define BUF_GPA	  0x20000ULL
#define BUF_SIZE  0x10000ULL
#define GUARD_GPA (BUF_GPA + BUF_SIZE)
#define GUARD_LEN 0x10000ULL

static struct vmctx *ctx;
static struct virtio_softc *vs, *devs[2];
static int fz_sv[2] = {-1, -1};

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* ---- a backend that swallows frames and replays one ---- */

static int
fz_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	int *queues, char *err, size_t errlen)
{
	*queues = 1;
	return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fz_sv);
}

static void
fz_cleanup(struct net_backend *be)
{
}

static uint64_t
fz_get_cap(struct net_backend *be)
{
	return NETBE_OFFLOADS | VIRTIO_NET_F_MRG_RXBUF;
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
	int i;

	/* Touch every byte: ASan catches a buffer outside guest RAM. */
	for (i = 0; i < iovcnt; i++) {
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
	ssize_t n = recv(fz_sv[1], buf, len, MSG_DONTWAIT);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

/* As a tap's readv (the zero-copy receive path). */
static ssize_t
fz_recvv(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov,
			   .msg_iovlen = (size_t)iovcnt};
	ssize_t n = recvmsg(fz_sv[1], &m, MSG_DONTWAIT);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static int
fz_rx_fd(struct net_backend *be, int q)
{
	return fz_sv[1];
}

static const struct net_backend_ops fz_ops = {
    .prefix = "fuzzbe",
    .init = fz_init,
    .cleanup = fz_cleanup,
    .get_cap = fz_get_cap,
    .set_cap = fz_set_cap,
    .send = fz_send,
    .recv = fz_recv,
    .rx_fd = fz_rx_fd,
};
NET_BACKEND_SET(fz_ops);

/* The same with a scattering receive: the device's zero-copy path. */
static const struct net_backend_ops fzz_ops = {
    .prefix = "fuzzbz",
    .init = fz_init,
    .cleanup = fz_cleanup,
    .get_cap = fz_get_cap,
    .set_cap = fz_set_cap,
    .send = fz_send,
    .recv = fz_recv,
    .recvv = fz_recvv,
    .rx_fd = fz_rx_fd,
};
NET_BACKEND_SET(fzz_ops);

static void
fz_setup(void)
{
	struct pci_devinst *pi;

	ctx = fz_dev_vm("fuzznet", MEM_SIZE);
	set_config_value("pci.0.0.0.device", "hostbridge");
	set_config_value("pci.0.3.0.device", "virtio-net");
	set_config_value("pci.0.3.0.backend", "fuzzbe");
	set_config_value("pci.0.4.0.device", "virtio-net");
	set_config_value("pci.0.4.0.backend", "fuzzbz");
	check(init_pci(ctx) == 0);
	pi = pci_emul_find_dev(0, 3, 0);
	check(pi != NULL);
	devs[0] = pi->pi_arg;
	pi = pci_emul_find_dev(0, 4, 0);
	check(pi != NULL);
	devs[1] = pi->pi_arg;
}

static uint64_t
fz_get64(const uint8_t **d, size_t *n)
{
	uint64_t v = 0;
	size_t k = *n < 8 ? *n : 8;

	memcpy(&v, *d, k);
	*d += k;
	*n -= k;
	return v;
}

/* The input's descriptor table, mostly pointing into the buffer area. */
static void
fz_ring(int q, const uint8_t **d, size_t *n, unsigned navail)
{
	uint64_t base = RING_GPA + 0x1000ULL * (uint64_t)q;
	struct vring_desc desc;
	uint16_t idx;
	unsigned i;

	for (i = 0; i < QSIZE; i++) {
		uint8_t raw[16] = {0};
		size_t k = *n < 16 ? *n : 16;

		memcpy(raw, *d, k);
		*d += k;
		*n -= k;
		memcpy(&desc, raw, 16);
		if (!(desc.addr >> 63)) {
			desc.addr = BUF_GPA + desc.addr % (BUF_SIZE - 0x2000);
			desc.len %= 0x2000;
		}
		/* Indirect tables are fuzz_virtqueue's: here they could
		 * legitimately point at the guard area. */
		desc.flags &= (uint16_t)~VRING_DESC_F_INDIRECT;
		check(vm_copyout(ctx, &desc, base + 16ULL * i, 16) == 0);
	}
	for (i = 0; i < navail; i++) {
		idx = (uint16_t)(i * 3 % QSIZE);
		check(vm_copyout(ctx, &idx, base + 0x400 + 4 + 2ULL * i, 2) ==
		      0);
	}
	idx = (uint16_t)navail;
	check(vm_copyout(ctx, &idx, base + 0x400 + 2, 2) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t guard_pat = 0xa5;
	uint64_t feat;
	uint8_t *guard, frame[256 + 12] = {0};
	unsigned which, navail, i;
	size_t blen;
	int q;

	if (devs[0] == NULL)
		fz_setup();
	/* Bounce-buffer or zero-copy receive, from the first byte. */
	vs = devs[size > 0 ? data[0] / 3 % 2 : 0];
	guard = vm_map_gpa(ctx, GUARD_GPA, GUARD_LEN);
	memset(guard, guard_pat, GUARD_LEN);
	memset(vm_map_gpa(ctx, RING_GPA, 0x4000), 0, 0x4000);
	feat = fz_get64(&data, &size) & vs->vs_hv_caps;
	which = size > 0 ? data[0] % 3 : 0;
	navail = size > 1 ? data[1] % (QSIZE + 1) : 0;
	data += size > 2 ? 2 : size;
	size -= size > 2 ? 2 : size;
	q = which == 2 ? 2 : (int)which;

	virtio_lock(vs);
	vs->vs_negotiated_caps = feat;
	vs->vs_vc->vc_apply_features(vs->vs_sc, feat);
	vs->vs_status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	for (i = 0; i < 3; i++) {
		uint64_t base = RING_GPA + 0x1000ULL * i;

		vq_setup_test(vs, (int)i, QSIZE, base, base + 0x400,
			      base + 0x800);
	}
	virtio_unlock(vs);

	fz_ring(q, &data, &size, navail);
	blen = size < BUF_SIZE ? size : BUF_SIZE;
	check(vm_copyout(ctx, data, BUF_GPA, blen) == 0);
	if (q == 0) {
		memcpy(frame + 12, data, blen < 256 ? blen : 256);
		send(fz_sv[0], frame, 12 + (blen < 256 ? blen : 256), 0);
	}

	virtio_lock(vs);
	vi_queue_notify(vs, q);
	virtio_unlock(vs);

	for (i = 0; i < GUARD_LEN; i++)
		check(guard[i] == guard_pat);
	/* Whatever happened, a reset brings the device back. */
	virtio_lock(vs);
	vi_status_write(vs, 0);
	check(!vs->vs_broken && vs->vs_status == 0);
	virtio_unlock(vs);
	while (recv(fz_sv[0], frame, sizeof(frame), MSG_DONTWAIT) > 0)
		;
	while (recv(fz_sv[1], frame, sizeof(frame), MSG_DONTWAIT) > 0)
		;
	return 0;
}
