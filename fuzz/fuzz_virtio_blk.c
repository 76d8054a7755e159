/*
 * libFuzzer target for virtio-blk's request parser: arbitrary descriptor
 * tables, available rings and request bytes (headers, segment lists)
 * against a virtio-blk device with a temporary 1 MiB image, on a detached
 * VM (no /dev/kvm).  Build and run from the repository root:
 *
 *   make fuzz            (builds build-fuzz/fuzz_virtio_blk with the rest)
 *   build-fuzz/fuzz_virtio_blk -max_total_time=10
 *
 * or by hand:
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib/vmmapi -Ibhyve/core -Ibhyve/pci -Ibhyve/virtio -Ibhyve/block \
 *       -Ibhyve/platform -Ibhyve/boot -Ibhyve/debug -Ibhyve/net \
 *       fuzz/fuzz_virtio_blk.c bhyve/[a-z]*[a-z]/[a-z]*.c lib/vmmapi/[a-z]*.c \
 *       -pthread -ljansson -luring -lslirp -o build-fuzz/fuzz_virtio_blk
 *
 * Input layout (short inputs are zero-extended):
 *   [0]      bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 well-formed mode
 * Well-formed mode (reaches every request type quickly): [1..2] data
 * length, [3] data direction, then the 16-byte header and the data; the
 * chain is header, data, status.  Otherwise:
 *   [1]      number of descriptors (1..16), [2] number of heads (1..4)
 *   heads    one byte each
 *   descs    6 bytes each: address selector, len (2), flags, next, spare
 *   rest     copied into the buffer area the descriptors point into
 * An address selector below 0xf0 points into the buffer area; the others
 * give addresses at and past the end of guest RAM and an indirect table
 * built from the buffer area.  Between inputs the device is reset and all
 * backend I/O is drained, so every input starts from the same state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_impl.h"
#include "virtqueue.h"
#include "vmmapi.h"
#include "fuzz_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM	   (16ULL << 20)
#define FZ_QSIZE   16
#define FZ_DESC	   0x10000ULL
#define FZ_AVAIL   0x11000ULL
#define FZ_USED	   0x12000ULL
#define FZ_BUF	   0x100000ULL
#define FZ_BUFSIZE 0x10000ULL
#define FZ_SLOT	   4

static struct vmctx *fz_ctx;
static struct virtio_softc *fz_vs;
static struct pci_devinst *fz_pi;

static void
fz_init(void)
{
	static char img[] = "/tmp/fuzz_vtblk.XXXXXX";

	fz_dev_image(img, 1 << 20);
	fz_ctx = fz_dev_vm("fuzz-vtblk", FZ_RAM);
	set_config_value("pci.0.4.0.device", "virtio-blk");
	set_config_value("pci.0.4.0.path", img);
	set_config_value("pci.0.4.0.engine", "threads");
	set_config_value("pci.0.4.0.workers", "2");
	if (init_pci(fz_ctx) != 0)
		abort();
	/* The open descriptor keeps the image; nothing is left behind. */
	unlink(img);
	fz_pi = pci_emul_find_dev(0, FZ_SLOT, 0);
	if (fz_pi == NULL)
		abort();
	fz_vs = fz_pi->pi_arg;
}

static uint8_t
fz_byte(const uint8_t *data, size_t size, size_t *pos)
{
	return *pos < size ? data[(*pos)++] : 0;
}

static uint64_t
fz_addr(uint8_t sel, uint16_t len)
{
	switch (sel) {
	case 0xf0:
		return FZ_RAM - len / 2; /* straddles the end of RAM */
	case 0xf1:
		return FZ_RAM;
	case 0xf2:
		return UINT64_MAX - 8; /* addr + len wraps */
	case 0xf3:
		return FZ_DESC; /* the ring itself */
	default:
		return FZ_BUF + (uint64_t)sel * 0x100;
	}
}

/* Writes the input's rings and buffers into guest memory. */
static void
fz_build(const uint8_t *data, size_t size, size_t *pos, int *nheads)
{
	struct vring_desc d;
	uint16_t idx;
	uint8_t sel;
	int i, n;

	n = fz_byte(data, size, pos) % FZ_QSIZE + 1;
	*nheads = fz_byte(data, size, pos) % 4 + 1;
	memset(vm_map_gpa(fz_ctx, FZ_DESC, 0x3000), 0, 0x3000);
	for (i = 0; i < *nheads; i++) {
		idx = fz_byte(data, size, pos);
		memcpy(vm_map_gpa(fz_ctx, FZ_AVAIL + 4 + 2 * (uint64_t)i, 2),
		       &idx, 2);
	}
	for (i = 0; i < n; i++) {
		sel = fz_byte(data, size, pos);
		d.len = (uint16_t)(fz_byte(data, size, pos) |
				   fz_byte(data, size, pos) << 8);
		d.addr = fz_addr(sel, (uint16_t)d.len);
		d.flags = fz_byte(data, size, pos) & 7;
		d.next = fz_byte(data, size, pos);
		(void)fz_byte(data, size, pos);
		memcpy(vm_map_gpa(fz_ctx, FZ_DESC + 16 * (uint64_t)i, 16), &d,
		       16);
	}
	memset(vm_map_gpa(fz_ctx, FZ_BUF, FZ_BUFSIZE), 0, FZ_BUFSIZE);
	if (*pos < size)
		memcpy(vm_map_gpa(fz_ctx, FZ_BUF, FZ_BUFSIZE), data + *pos,
		       size - *pos < FZ_BUFSIZE ? size - *pos : FZ_BUFSIZE);
}

/* Header, data and status descriptors around input-chosen contents. */
static void
fz_build_request(const uint8_t *data, size_t size, size_t *pos, int *nheads)
{
	struct vring_desc d[3];
	uint16_t dlen, head = 0;

	dlen = (uint16_t)(fz_byte(data, size, pos) | fz_byte(data, size, pos)
							 << 8);
	dlen %= 0x4000;
	d[0] = (struct vring_desc){FZ_BUF, 16, VRING_DESC_F_NEXT, 1};
	d[1] = (struct vring_desc){FZ_BUF + 16, dlen, VRING_DESC_F_NEXT, 2};
	if (fz_byte(data, size, pos) & 1)
		d[1].flags |= VRING_DESC_F_WRITE;
	d[2] = (struct vring_desc){FZ_BUF + 0x8000, 1, VRING_DESC_F_WRITE, 0};
	memset(vm_map_gpa(fz_ctx, FZ_DESC, 0x3000), 0, 0x3000);
	memcpy(vm_map_gpa(fz_ctx, FZ_DESC, sizeof(d)), d, sizeof(d));
	memcpy(vm_map_gpa(fz_ctx, FZ_AVAIL + 4, 2), &head, 2);
	*nheads = 1;
	memset(vm_map_gpa(fz_ctx, FZ_BUF, FZ_BUFSIZE), 0, FZ_BUFSIZE);
	if (*pos < size)
		memcpy(vm_map_gpa(fz_ctx, FZ_BUF, FZ_BUFSIZE), data + *pos,
		       size - *pos < 0x4000 ? size - *pos : 0x4000);
}

/* Waits for the backend; a request that never completes is a bug. */
static void
fz_drain(void)
{
	struct vtblk_stats st;
	int i;

	for (i = 0; i < 200000; i++) {
		vtblk_get_stats(fz_pi, &st);
		if (st.inflight == 0)
			return;
		usleep(10);
	}
	fprintf(stderr, "fuzz_virtio_blk: requests never completed\n");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t caps;
	size_t pos = 0;
	uint16_t avail;
	int nheads;

	if (fz_ctx == NULL)
		fz_init();
	caps = fz_vs->vs_hv_caps &
	       ~(VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX);
	if (size > 0 && (data[0] & 1))
		caps |= VIRTIO_RING_F_INDIRECT_DESC;
	if (size > 0 && (data[0] & 2))
		caps |= VIRTIO_RING_F_EVENT_IDX;
	pos = 1;
	if (size > 0 && (data[0] & 4))
		fz_build_request(data, size, &pos, &nheads);
	else
		fz_build(data, size, &pos, &nheads);

	virtio_lock(fz_vs);
	vi_reset(fz_vs);
	fz_vs->vs_negotiated_caps = caps;
	fz_vs->vs_status =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	if (vq_setup_test(fz_vs, 0, FZ_QSIZE, FZ_DESC, FZ_AVAIL, FZ_USED) ==
	    0) {
		avail = (uint16_t)nheads;
		memcpy(vm_map_gpa(fz_ctx, FZ_AVAIL + 2, 2), &avail, 2);
		fz_vs->vs_vc->vc_qnotify(fz_vs->vs_sc, &fz_vs->vs_queues[0]);
	}
	virtio_unlock(fz_vs);
	fz_drain();
	return 0;
}
