/*
 * Split virtqueues against hostile ring contents, on a detached VM
 * context (guest RAM, no KVM): the test writes rings into guest memory
 * the way a driver would and checks what vq_getchain() makes of them.
 * Every malformed case must leave the device NEEDS_RESET, publish
 * nothing, and keep refusing until the driver resets the device.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "virtio.h"
#include "virtio_impl.h"
#include "virtqueue.h"
#include "vmmapi.h"

#define MEMSIZE	  (16u << 20)
#define QSZ	  8
#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x11000ULL
#define USED_GPA  0x12000ULL
#define IND_GPA	  0x20000ULL
#define BUF_GPA	  0x100000ULL

static struct vmctx *ctx;
static struct virtio_softc vs;
static struct vqueue_info queues[1];
static int resets, qenables;

static bool
t_reset(void *sc)
{
	resets++;
	return true;
}

static void
t_qenable(void *sc, struct vqueue_info *vq, bool on)
{
	qenables += on ? 1 : -1;
}

static const struct virtio_consts t_consts = {
    .vc_name = "vqtest",
    .vc_nvq = 1,
    .vc_reset = t_reset,
    .vc_qenable = t_qenable,
};

static struct vring_desc *desc;
static struct vring_avail *avail;
static struct vring_used *used;

static uint8_t *
gmem(uint64_t gpa, size_t len)
{
	return vm_map_gpa(ctx, gpa, len);
}

/* A freshly reset device with one enabled queue and the given features. */
static void
dev_fresh(uint64_t features)
{
	vi_status_write(&vs, 0);
	memset(gmem(DESC_GPA, 0x3000), 0, 0x3000);
	vs.vs_negotiated_caps = features;
	vs.vs_status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	if (vq_setup_test(&vs, 0, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA) != 0)
		printf("FAIL: queue setup\n");
	desc = (struct vring_desc *)gmem(DESC_GPA, VRING_DESC_SIZE(QSZ));
	avail = (struct vring_avail *)gmem(AVAIL_GPA, VRING_AVAIL_SIZE(QSZ));
	used = (struct vring_used *)gmem(USED_GPA, VRING_USED_SIZE(QSZ));
}

static void
set_desc(struct vring_desc *t, int i, uint64_t addr, uint32_t len,
	 uint16_t flags, uint16_t next)
{
	t[i] = (struct vring_desc){addr, len, flags, next};
}

/* Makes head available (the driver's side of 2.7.13). */
static void
push(uint16_t head)
{
	avail->ring[avail->idx % QSZ] = head;
	avail->idx++;
}

static bool
broken_and_quiet(void)
{
	return vs.vs_broken && (vs.vs_status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       used->idx == 0;
}

/* Runs one malformed ring through vq_getchain; expects NEEDS_RESET. */
static void
expect_violation(const char *name, int niov)
{
	struct iovec iov[QSZ * 2];
	struct vi_req req;
	int n;
	char buf[128];

	n = vq_getchain(&queues[0], iov, niov, &req);
	snprintf(buf, sizeof(buf), "%s: rejected, NEEDS_RESET", name);
	CHECK(n == -1 && broken_and_quiet(), buf);
}

static void
test_normal_chain(void)
{
	struct iovec iov[QSZ];
	struct vi_req req;
	int n;

	dev_fresh(VIRTIO_F_VERSION_1);
	CHECK(qenables == 1, "queue enable reported to the device");
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 0,
	      "empty ring: no chain");
	set_desc(desc, 3, BUF_GPA, 16, VRING_DESC_F_NEXT, 5);
	set_desc(desc, 5, BUF_GPA + 0x100, 100, VRING_DESC_F_NEXT, 0);
	set_desc(desc, 0, BUF_GPA + 0x1000, 512, VRING_DESC_F_WRITE, 0);
	push(3);
	CHECK(vq_has_descs(&queues[0]), "chain available");
	n = vq_getchain(&queues[0], iov, QSZ, &req);
	CHECK(n == 3 && req.idx == 3 && req.readable == 2 &&
		  req.writable == 1 && req.rlen == 116 && req.wlen == 512,
	      "3-descriptor chain: 2 readable, 1 writable");
	CHECK(iov[0].iov_base == gmem(BUF_GPA, 16) && iov[0].iov_len == 16 &&
		  iov[1].iov_base == gmem(BUF_GPA + 0x100, 100) &&
		  iov[2].iov_base == gmem(BUF_GPA + 0x1000, 512) &&
		  iov[2].iov_len == 512,
	      "iovecs point at the guest buffers");
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 0 &&
		  !vq_has_descs(&queues[0]),
	      "ring drained");
	vq_relchain(&queues[0], 3, 77);
	CHECK(used->idx == 1 && used->ring[0].id == 3 &&
		  used->ring[0].len == 77,
	      "relchain publishes id and length");
	/* A chain of exactly the queue size is legal. */
	for (int i = 0; i < QSZ; i++)
		set_desc(desc, i, BUF_GPA + 64 * (uint64_t)i, 64,
			 i < QSZ - 1 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	push(0);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == QSZ,
	      "chain as long as the queue accepted");
	/* Put back and take again. */
	vq_retchains(&queues[0], 1);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == QSZ && req.idx == 0,
	      "retchains returns the chain");
	/* Zero-length buffers inside RAM are allowed by the spec. */
	set_desc(desc, 1, BUF_GPA, 0, VRING_DESC_F_WRITE, 0);
	push(1);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 1 &&
		  iov[0].iov_len == 0,
	      "zero-length buffer accepted");
	CHECK(!vs.vs_broken, "device still healthy");
}

static void
test_indirect(void)
{
	struct vring_desc *ind = (struct vring_desc *)gmem(IND_GPA, 4096);
	struct iovec iov[QSZ];
	struct vi_req req;

	dev_fresh(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC);
	set_desc(ind, 0, BUF_GPA, 10, VRING_DESC_F_NEXT, 2);
	set_desc(ind, 2, BUF_GPA + 0x40, 20, VRING_DESC_F_NEXT, 1);
	set_desc(ind, 1, BUF_GPA + 0x80, 30, VRING_DESC_F_WRITE, 0);
	set_desc(desc, 4, IND_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	push(4);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 3 && req.idx == 4 &&
		  req.readable == 2 && req.writable == 1 &&
		  iov[2].iov_base == gmem(BUF_GPA + 0x80, 30),
	      "indirect table walked in next order");
	/* A direct prefix followed by an indirect table (2.7.5.3.1). */
	set_desc(desc, 6, BUF_GPA + 0x200, 8, VRING_DESC_F_NEXT, 4);
	push(6);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 4 && req.readable == 3,
	      "direct descriptor then indirect table");
	/* An unaligned table is fine: it is copied, not dereferenced. */
	memmove((uint8_t *)ind + 8, ind, 48);
	set_desc(desc, 4, IND_GPA + 8, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	push(4);
	CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 3,
	      "unaligned indirect table");
	CHECK(!vs.vs_broken, "device still healthy");
}

/* Each entry builds one malformed ring on a fresh queue. */
static void
test_violations(void)
{
	struct vring_desc *ind = (struct vring_desc *)gmem(IND_GPA, 4096);
	const uint64_t f = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC;
	struct iovec full[QSZ];
	struct vi_req freq;

	dev_fresh(f);
	avail->idx = QSZ + 1;
	expect_violation("avail idx too far ahead", QSZ);

	dev_fresh(f);
	avail->ring[0] = QSZ;
	avail->idx = 1;
	expect_violation("head >= size", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(desc, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	push(0);
	expect_violation("descriptor loop", QSZ * 2);

	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	push(0);
	expect_violation("self loop", QSZ * 2);

	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, QSZ);
	push(0);
	expect_violation("next >= size", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, MEMSIZE, 8, 0, 0);
	push(0);
	expect_violation("buffer outside RAM", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, MEMSIZE - 4, 8, 0, 0);
	push(0);
	expect_violation("buffer straddles the end of RAM", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, ~0ULL - 10, 100, 0, 0);
	push(0);
	expect_violation("addr+len wraps", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, 0xFEC00000ULL, 4, 0, 0);
	push(0);
	expect_violation("buffer in MMIO space", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		 1);
	set_desc(desc, 1, BUF_GPA, 8, 0, 0);
	push(0);
	expect_violation("readable after writable", QSZ);

	dev_fresh(f);
	for (int i = 0; i < 4; i++)
		set_desc(desc, i, BUF_GPA, 8, i < 3 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	push(0);
	/* Not the driver's fault, but all the ring can do: devices size
	 * their iovec arrays to the queue so this never happens. */
	expect_violation("chain longer than the device's iovecs (device bug)",
			 3);

	/* 2.7.5.3.1: an indirect table's entries count in the chain. */
	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(desc, 1, IND_GPA, QSZ * 16, VRING_DESC_F_INDIRECT, 0);
	for (int i = 0; i < QSZ; i++)
		set_desc(ind, i, BUF_GPA, 8,
			 i < QSZ - 1 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	push(0);
	expect_violation("direct plus indirect longer than the queue", QSZ * 2);
	dev_fresh(f);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(desc, 1, IND_GPA, (QSZ - 1) * 16, VRING_DESC_F_INDIRECT, 0);
	for (int i = 0; i < QSZ - 1; i++)
		set_desc(ind, i, BUF_GPA, 8,
			 i < QSZ - 2 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	push(0);
	CHECK(vq_getchain(&queues[0], full, QSZ, &freq) == QSZ && !vs.vs_broken,
	      "direct plus indirect as long as the queue accepted");

	/* Indirect tables. */
	dev_fresh(VIRTIO_F_VERSION_1);
	set_desc(ind, 0, BUF_GPA, 8, 0, 0);
	set_desc(desc, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect without the feature", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, IND_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect length 0", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, IND_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect length not a multiple of 16", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, IND_GPA, (QSZ + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect table larger than the queue", QSZ * 2);

	dev_fresh(f);
	set_desc(desc, 0, MEMSIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect table outside RAM", QSZ);

	dev_fresh(f);
	set_desc(desc, 0, IND_GPA, 16,
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(desc, 1, BUF_GPA, 8, 0, 0);
	push(0);
	expect_violation("indirect with NEXT", QSZ);

	dev_fresh(f);
	set_desc(ind, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(desc, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("nested indirect", QSZ);

	dev_fresh(f);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(ind, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	set_desc(desc, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("loop in indirect table", QSZ * 2);

	dev_fresh(f);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	set_desc(desc, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect next >= table size", QSZ);

	dev_fresh(f);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(ind, 1, BUF_GPA, 8, 0, 0);
	set_desc(desc, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	push(0);
	expect_violation("indirect readable after writable", QSZ);

	/* Once broken: nothing more, even valid chains; reset recovers. */
	{
		struct iovec iov[QSZ];
		struct vi_req req;

		set_desc(desc, 2, BUF_GPA, 8, 0, 0);
		push(2);
		CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == -1,
		      "broken device refuses valid chains");
		vq_relchain(&queues[0], 2, 8);
		CHECK(used->idx == 0, "broken device publishes nothing");
		resets = 0;
		vi_status_write(&vs, 0);
		CHECK(resets == 1 && !vs.vs_broken && vs.vs_status == 0 &&
			  !queues[0].vq_enabled,
		      "reset clears NEEDS_RESET and the queue");
		dev_fresh(f);
		set_desc(desc, 2, BUF_GPA, 8, 0, 0);
		push(2);
		CHECK(vq_getchain(&queues[0], iov, QSZ, &req) == 1,
		      "works again after reset");
	}
}

static void
test_enable_checks(void)
{
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, 3, DESC_GPA, AVAIL_GPA, USED_GPA) == -1 &&
		  vs.vs_broken,
	      "queue size 3 (not a power of two) refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, 2 * QSZ, DESC_GPA, AVAIL_GPA, USED_GPA) ==
		      -1 &&
		  vs.vs_broken,
	      "queue size above the maximum refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, 0, DESC_GPA, AVAIL_GPA, USED_GPA) == -1,
	      "queue size 0 refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, QSZ, DESC_GPA + 8, AVAIL_GPA, USED_GPA) ==
		  -1,
	      "misaligned descriptor table refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA + 2) ==
		  -1,
	      "misaligned used ring refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, QSZ, DESC_GPA, AVAIL_GPA,
			    MEMSIZE - VRING_USED_SIZE(QSZ) + 4) == -1 &&
		  !queues[0].vq_enabled,
	      "used ring crossing the end of RAM refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, QSZ, 0xC0000000ULL, AVAIL_GPA, USED_GPA) ==
		  -1,
	      "descriptor table outside RAM refused");
	vi_status_write(&vs, 0);
	CHECK(vq_setup_test(&vs, 0, QSZ / 2, DESC_GPA, AVAIL_GPA, USED_GPA) ==
		      0 &&
		  queues[0].vq_qsize == QSZ / 2,
	      "smaller power-of-two size accepted");
	vi_status_write(&vs, 0);
	queues[0].vq_qsize = QSZ;
	CHECK(vi_queue_start_legacy(&vs, &queues[0], 0x10) == 0 &&
		  queues[0].vq_desc_gpa == 0x10000 &&
		  queues[0].vq_avail_gpa == 0x10000 + 16 * QSZ &&
		  queues[0].vq_used_gpa == 0x11000,
	      "legacy layout from the PFN (2.7.2)");
	vi_status_write(&vs, 0);
}

static void
test_event_idx(void)
{
	struct iovec iov[QSZ];
	struct vi_req req;
	uint16_t *used_event, *avail_event;
	uint64_t before;

	dev_fresh(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
	used_event = &avail->ring[QSZ];
	avail_event = (uint16_t *)&used->ring[QSZ];
	for (int i = 0; i < 4; i++) {
		set_desc(desc, i, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
		push((uint16_t)i);
	}
	while (vq_getchain(&queues[0], iov, QSZ, &req) > 0)
		;
	CHECK(*avail_event == 4,
	      "avail_event = next index to consume after draining");
	*used_event = 0; /* interrupt once used idx passes 0 */
	before = queues[0].vq_nintr;
	vq_relchain(&queues[0], 0, 8);
	vq_endchains(&queues[0], true);
	CHECK(queues[0].vq_nintr == before + 1, "used_event 0: interrupt");
	vq_relchain(&queues[0], 1, 8);
	vq_endchains(&queues[0], true);
	CHECK(queues[0].vq_nintr == before + 1,
	      "used_event 0 already passed: suppressed");
	*used_event = 3; /* wants the interrupt when idx goes 3 -> 4 */
	vq_relchain(&queues[0], 2, 8);
	vq_endchains(&queues[0], true);
	CHECK(queues[0].vq_nintr == before + 1, "used_event 3, idx 3: none");
	vq_relchain(&queues[0], 3, 8);
	vq_endchains(&queues[0], true);
	CHECK(queues[0].vq_nintr == before + 2, "used_event 3, idx 4: sent");
	vq_endchains(&queues[0], true);
	CHECK(queues[0].vq_nintr == before + 2, "nothing new used: none");

	/* Without EVENT_IDX: the NO_INTERRUPT flag (2.7.7). */
	dev_fresh(VIRTIO_F_VERSION_1);
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	push(0);
	push(0);
	(void)vq_getchain(&queues[0], iov, QSZ, &req);
	before = queues[0].vq_nintr;
	avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vq_relchain(&queues[0], 0, 8);
	vq_endchains(&queues[0], false);
	CHECK(queues[0].vq_nintr == before, "NO_INTERRUPT suppresses");
	avail->flags = 0;
	vq_relchain(&queues[0], 0, 8);
	vq_endchains(&queues[0], false);
	CHECK(queues[0].vq_nintr == before + 1, "interrupt without the flag");
	vq_kick_disable(&queues[0]);
	CHECK(used->flags & VRING_USED_F_NO_NOTIFY,
	      "kick_disable sets NO_NOTIFY");
	CHECK(vq_kick_enable(&queues[0]) &&
		  !(used->flags & VRING_USED_F_NO_NOTIFY),
	      "kick_enable clears it and reports the pending chain");
	(void)vq_getchain(&queues[0], iov, QSZ, &req);
	CHECK(!vq_kick_enable(&queues[0]), "kick_enable: nothing pending");
}

/* 16-bit index wrap-around: the avail index is free-running. */
static void
test_wrap(void)
{
	struct iovec iov[QSZ];
	struct vi_req req;
	int got = 0;

	dev_fresh(VIRTIO_F_VERSION_1);
	queues[0].vq_last_avail = 65534;
	queues[0].vq_next_used = queues[0].vq_save_used = 65534;
	avail->idx = 65534;
	set_desc(desc, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	for (int i = 0; i < 4; i++)
		push(0);
	while (vq_getchain(&queues[0], iov, QSZ, &req) == 1) {
		vq_relchain(&queues[0], req.idx, 8);
		got++;
	}
	CHECK(got == 4 && avail->idx == 2 && used->idx == 2 && !vs.vs_broken,
	      "indices wrap at 65536");
}

int
main(void)
{
	ctx = vm_create_detached("vqtest");
	if (ctx == NULL || vm_setup_memory(ctx, MEMSIZE) != 0) {
		printf("FAIL: guest memory\n");
		return 1;
	}
	queues[0].vq_qsize = QSZ;
	queues[0].vq_maxsize = QSZ;
	vi_softc_linkup(&vs, &t_consts, NULL, NULL, queues);
	vs.vs_ctx = ctx;
	test_normal_chain();
	test_indirect();
	test_violations();
	test_enable_checks();
	test_event_idx();
	test_wrap();
	vm_destroy(ctx);
	return test_done();
}
