/*
 * libFuzzer target for split-virtqueue chain parsing (bhyve/virtio/
 * virtqueue.c): the input becomes the guest's rings, descriptor tables and
 * indirect tables, and the device takes, returns and completes chains the
 * way a device model does.  Checked invariants: every iovec lies inside
 * guest RAM, readable buffers come first and the counts add up, a chain
 * never exceeds the caller's iovec array, the used index only moves by
 * the chains completed, and once the device is NEEDS_RESET it stays so
 * (and publishes nothing) until reset.
 *
 * Build and run (from the repository root):
 *   make fuzz                        # builds build-fuzz/fuzz_virtqueue
 *   build-fuzz/fuzz_virtqueue -max_total_time=10
 * or on its own (every bhyve object but bhyverun.c, as the Makefile):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g \
 *       -O1 -pthread -Ilib/vmmapi -Ibhyve/core -Ibhyve/pci -Ibhyve/virtio \
 *       fuzz/fuzz_virtqueue.c $(find bhyve lib/vmmapi -name '*.c' \
 *       ! -name bhyverun.c) -ljansson -o build-fuzz/fuzz_virtqueue
 *   (add the include directories and libraries the Makefile lists)
 *
 * Input: byte 0 features (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2:
 * fold descriptor addresses into and just past guest RAM), byte 1 queue
 * size exponent (1..8), byte 2 iovecs per call (1..64), byte 3 steps;
 * the rest fills guest memory from 0 (rings at 0/0x4000/0x8000), repeated.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"
#include "virtio_impl.h"
#include "virtqueue.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM	  (1u << 20)
#define FILL	  0xa000u
#define DESC_GPA  0x0
#define AVAIL_GPA 0x4000
#define USED_GPA  0x8000
#define MAXIOV	  64

static struct vmctx *ctx;
static uint8_t *ram;
static struct virtio_softc vs;
static struct vqueue_info vq;

static const struct virtio_consts fz_consts = {
    .vc_name = "fuzz",
    .vc_nvq = 1,
};

static bool
fz_setup(void)
{
	if (ctx != NULL)
		return true;
	ctx = vm_create_detached("fuzz-vq");
	if (ctx == NULL || vm_setup_memory(ctx, MEM) != 0)
		abort();
	ram = vm_map_gpa(ctx, 0, MEM);
	vq.vq_qsize = vq.vq_maxsize = 256;
	vi_softc_linkup(&vs, &fz_consts, NULL, NULL, &vq);
	vs.vs_ctx = ctx;
	return true;
}

static void
fz_check_chain(const struct iovec *iov, int n, int niov,
	       const struct vi_req *req)
{
	uint64_t r = 0, w = 0;

	if (n > niov || req->readable + req->writable != n)
		abort();
	for (int i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (b < ram || b > ram + MEM || iov[i].iov_len > MEM ||
		    (size_t)(ram + MEM - b) < iov[i].iov_len)
			abort();
		if (i < req->readable)
			r += iov[i].iov_len;
		else
			w += iov[i].iov_len;
	}
	if (r != req->rlen || w != req->wlen || req->idx >= vq.vq_qsize)
		abort();
}

/* Keeps descriptor addresses mostly in RAM, some straddling its end. */
static void
fz_fold(void)
{
	for (size_t off = 0; off < FILL; off += 16) {
		uint64_t a;

		memcpy(&a, ram + off, 8);
		a %= MEM + 0x1000;
		memcpy(ram + off, &a, 8);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec iov[MAXIOV];
	struct vi_req req;
	int niov, steps, completed = 0;

	if (size < 5 || !fz_setup())
		return 0;
	vi_status_write(&vs, 0);
	/* The input, repeated: copy it once, then double what is there. */
	memcpy(ram, data + 4, size - 4 < FILL ? size - 4 : FILL);
	for (size_t have = size - 4; have < FILL; have *= 2)
		memcpy(ram + have, ram,
		       have < FILL - have ? have : FILL - have);
	if (data[0] & 4)
		fz_fold();
	vs.vs_negotiated_caps =
	    VIRTIO_F_VERSION_1 |
	    ((data[0] & 1) ? VIRTIO_RING_F_INDIRECT_DESC : 0) |
	    ((data[0] & 2) ? VIRTIO_RING_F_EVENT_IDX : 0);
	vs.vs_status = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK;
	niov = 1 + data[2] % MAXIOV;
	steps = 1 + data[3] % 64;
	if (vq_setup_test(&vs, 0, (uint16_t)(1u << (1 + data[1] % 8)), DESC_GPA,
			  AVAIL_GPA, USED_GPA) != 0)
		abort(); /* the layout above is always valid */
	for (int s = 0; s < steps; s++) {
		int n = vq_getchain(&vq, iov, niov, &req);

		if (n < 0) {
			if (!vs.vs_broken ||
			    !(vs.vs_status & VIRTIO_CONFIG_S_NEEDS_RESET))
				abort();
			if (vq_getchain(&vq, iov, niov, &req) != -1)
				abort();
			break;
		}
		if (n == 0)
			break;
		fz_check_chain(iov, n, niov, &req);
		/* Sometimes give the chain back and take it again. */
		if (s & 1) {
			vq_retchains(&vq, 1);
			continue;
		}
		vq_relchain(&vq, req.idx, req.wlen);
		completed++;
		if (vq.vq_used->idx != (uint16_t)completed)
			abort();
		vq_endchains(&vq, !vq_has_descs(&vq));
	}
	if (vs.vs_broken) {
		uint16_t u = vq.vq_used->idx;

		vq_relchain(&vq, 0, 0);
		if (vq.vq_used->idx != u)
			abort();
	}
	return 0;
}
