/*
 * The virtio PCI transport as a guest driver sees it, through the real
 * PCI bus emulation on a detached VM context: IDs and capabilities, the
 * modern common configuration (feature negotiation, queue setup, status,
 * reset, NEEDS_RESET), the legacy I/O register file, the PCI_CFG window,
 * MSI-X and INTx interrupts; then virtio-rnd and virtio-console doing
 * real work (the console with its host socket and the event loop on a
 * thread).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "mevent.h"
#include "pci_emul.h"
#include "pci_models.h"
#include "test.h"
#include "test_util.h"
#include "virtio.h"
#include "virtqueue.h"
#include "vmmapi.h"

#define MEMSIZE (64u << 20)

static struct vmctx *ctx;

/* ---- Interrupt capture ---- */

static int msi_count, intx_asserted;
static uint64_t msi_addr, msi_data;

static int
cap_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	msi_count++;
	msi_addr = addr;
	msi_data = data;
	return 0;
}

static int
cap_intx(struct vmctx *c, int irq, bool assert)
{
	intx_asserted += assert ? 1 : -1;
	return 0;
}

static const struct pci_intr_ops cap_ops = {cap_msi, cap_intx};

/* ---- Bus access ---- */

static uint32_t
io_read(int port, int bytes)
{
	uint32_t v = 0;

	inout_emulate(NULL, true, (uint16_t)port, bytes, &v);
	return v;
}

static void
io_write(int port, int bytes, uint32_t v)
{
	inout_emulate(NULL, false, (uint16_t)port, bytes, &v);
}

/* ---- The driver's view of one device ---- */

struct vdev {
	int slot;
	uint64_t bar4; /* modern structures */
	uint64_t msix; /* MSI-X table (BAR 1) */
	int io;	       /* legacy BAR 0 */
	int cap[6];    /* config offset of each vendor capability type */
};

static void
vdev_probe(struct vdev *d, int slot)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	d->bar4 = (test_cfg_read(0, slot, 0, PCIR_BAR(4), 4) & ~0xfULL) |
		  (uint64_t)test_cfg_read(0, slot, 0, PCIR_BAR(5), 4) << 32;
	d->msix = test_cfg_read(0, slot, 0, PCIR_BAR(1), 4) & ~0xfULL;
	d->io = (int)(test_cfg_read(0, slot, 0, PCIR_BAR(0), 4) & ~3u);
	for (int off = test_cfg_read(0, slot, 0, PCIR_CAP_PTR, 1); off != 0;
	     off = test_cfg_read(0, slot, 0, off + 1, 1)) {
		int type = test_cfg_read(0, slot, 0, off + 3, 1);

		if (test_cfg_read(0, slot, 0, off, 1) == PCIY_VENDOR &&
		    type >= 1 && type <= 5)
			d->cap[type] = off;
	}
}

#define COMMON(d, off) ((d)->bar4 + (off))

/* Guest memory for queues: one 64 KiB area per (slot, queue). */
#define QSZ 16
static uint64_t
q_area(int slot, int q)
{
	return 0x100000ULL + ((uint64_t)slot * 16 + (uint64_t)q) * 0x10000;
}

struct gq {
	uint64_t base;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size;
	uint16_t next_desc;
};

static void
gq_init(struct gq *g, int slot, int q, uint16_t size)
{
	g->base = q_area(slot, q);
	memset(vm_map_gpa(ctx, g->base, 0x10000), 0, 0x10000);
	g->desc = vm_map_gpa(ctx, g->base, 0x1000);
	g->avail = vm_map_gpa(ctx, g->base + 0x1000, 0x1000);
	g->used = vm_map_gpa(ctx, g->base + 0x2000, 0x1000);
	g->size = size;
	g->next_desc = 0;
}

/* Posts one single-buffer chain; returns the buffer's guest address. */
static uint64_t
gq_post(struct gq *g, const void *data, uint32_t len, bool writable)
{
	uint16_t d = g->next_desc++ % g->size;
	uint64_t buf = g->base + 0x4000 + (uint64_t)d * 0x400;

	if (data != NULL)
		memcpy(vm_map_gpa(ctx, buf, len), data, len);
	g->desc[d] =
	    (struct vring_desc){buf, len, writable ? VRING_DESC_F_WRITE : 0, 0};
	g->avail->ring[g->avail->idx % g->size] = d;
	__atomic_store_n(&g->avail->idx, (uint16_t)(g->avail->idx + 1),
			 __ATOMIC_RELEASE);
	return buf;
}

/* The device's avail_event, after the used ring entries (2.7.10). */
static uint16_t
avail_event(const struct gq *g)
{
	uint16_t v;

	memcpy(&v, &g->used->ring[g->size], sizeof(v));
	return v;
}

static uint16_t
gq_used(const struct gq *g)
{
	return __atomic_load_n(&g->used->idx, __ATOMIC_ACQUIRE);
}

/* Programs queue q through the common configuration and enables it. */
static void
modern_queue(struct vdev *d, int q, struct gq *g, uint16_t vector)
{
	test_mmio_write(COMMON(d, 0x16), 2, (uint64_t)q);
	test_mmio_write(COMMON(d, 0x18), 2, g->size);
	test_mmio_write(COMMON(d, 0x1a), 2, vector);
	/* 64-bit fields as two 32-bit halves, as Linux does. */
	test_mmio_write(COMMON(d, 0x20), 4, (uint32_t)g->base);
	test_mmio_write(COMMON(d, 0x24), 4, g->base >> 32);
	test_mmio_write(COMMON(d, 0x28), 4, (uint32_t)(g->base + 0x1000));
	test_mmio_write(COMMON(d, 0x2c), 4, 0);
	test_mmio_write(COMMON(d, 0x30), 8, g->base + 0x2000);
	test_mmio_write(COMMON(d, 0x1c), 2, 1);
}

static void
notify(struct vdev *d, int q)
{
	test_mmio_write(d->bar4 + 0x3000 + 4 * (uint64_t)q, 2, (uint64_t)q);
}

/* 3.1.1: reset, ACK, DRIVER, features, FEATURES_OK; true if accepted. */
static bool
modern_negotiate(struct vdev *d, uint64_t features)
{
	test_mmio_write(COMMON(d, 0x14), 1, 0);
	test_mmio_write(COMMON(d, 0x14), 1, 1);
	test_mmio_write(COMMON(d, 0x14), 1, 3);
	test_mmio_write(COMMON(d, 0x08), 4, 0);
	test_mmio_write(COMMON(d, 0x0c), 4, (uint32_t)features);
	test_mmio_write(COMMON(d, 0x08), 4, 1);
	test_mmio_write(COMMON(d, 0x0c), 4, features >> 32);
	test_mmio_write(COMMON(d, 0x14), 1, 0xb);
	return (test_mmio_read(COMMON(d, 0x14), 1) & 0x8) != 0;
}

static uint64_t
device_features(struct vdev *d)
{
	uint64_t f;

	test_mmio_write(COMMON(d, 0x00), 4, 0);
	f = test_mmio_read(COMMON(d, 0x04), 4);
	test_mmio_write(COMMON(d, 0x00), 4, 1);
	return f | test_mmio_read(COMMON(d, 0x04), 4) << 32;
}

/* MSI-X on with vector v's entry programmed (and unmasked). */
static void
msix_setup(struct vdev *d, int v, uint64_t addr, uint32_t data)
{
	int cap = 0;

	for (int off = test_cfg_read(0, d->slot, 0, PCIR_CAP_PTR, 1); off != 0;
	     off = test_cfg_read(0, d->slot, 0, off + 1, 1))
		if (test_cfg_read(0, d->slot, 0, off, 1) == PCIY_MSIX)
			cap = off;
	test_mmio_write(d->msix + 16 * (uint64_t)v, 8, addr);
	test_mmio_write(d->msix + 16 * (uint64_t)v + 8, 4, data);
	test_mmio_write(d->msix + 16 * (uint64_t)v + 12, 4, 0);
	test_cfg_write(0, d->slot, 0, cap + 2, 2, PCIM_MSIXCTRL_MSIX_ENABLE);
}

static void
msix_disable(struct vdev *d)
{
	for (int off = test_cfg_read(0, d->slot, 0, PCIR_CAP_PTR, 1); off != 0;
	     off = test_cfg_read(0, d->slot, 0, off + 1, 1))
		if (test_cfg_read(0, d->slot, 0, off, 1) == PCIY_MSIX)
			test_cfg_write(0, d->slot, 0, off + 2, 2, 0);
}

/* ---- The machine ---- */

#define SLOT_RND    4
#define SLOT_LEGACY 5
#define SLOT_MODERN 6
#define SLOT_CON    7
#define SLOT_NOMSIX 8
#define SLOT_SLOW   9

static char sock_path[108];

static int
build_machine(void)
{
	init_config();
	init_inout();
	init_mem();
	set_config_value("pci.0.0.0.device", "hostbridge");
	set_config_value("pci.0.4.0.device", "virtio-rnd");
	set_config_value("pci.0.4.0.limit", "0");
	set_config_value("pci.0.5.0.device", "virtio-rnd");
	set_config_value("pci.0.5.0.transport", "legacy");
	set_config_value("pci.0.5.0.limit", "0");
	set_config_value("pci.0.6.0.device", "virtio-rnd");
	set_config_value("pci.0.6.0.transport", "modern");
	set_config_value("pci.0.7.0.device", "virtio-console");
	set_config_value("pci.0.7.0.port.1.name", "org.beehive.test");
	set_config_value("pci.0.7.0.port.1.path", sock_path);
	set_config_value("pci.0.8.0.device", "virtio-rnd");
	set_config_value("pci.0.8.0.virtio_msix", "false");
	set_config_value("pci.0.9.0.device", "virtio-rnd");
	set_config_value("pci.0.9.0.limit", "100");
	return init_pci(ctx);
}

/* ---- Tests ---- */

static void
test_identity(void)
{
	struct vdev d;

	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, PCIR_VENDOR, 2), 0x1af4,
		     "vendor");
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, PCIR_DEVICE, 2), 0x1005,
		     "transitional entropy device id 0x1005");
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, PCIR_SUBDEV_0, 2), 4,
		     "transitional subsystem id = device type");
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, PCIR_REVID, 1), 0,
		     "transitional revision 0");
	CHECK_EQ_U64(test_cfg_read(0, SLOT_MODERN, 0, PCIR_DEVICE, 2), 0x1044,
		     "modern-only id 0x1040 + type");
	CHECK(test_cfg_read(0, SLOT_MODERN, 0, PCIR_REVID, 1) >= 1,
	      "modern-only revision >= 1");
	CHECK_EQ_U64(test_cfg_read(0, SLOT_CON, 0, PCIR_DEVICE, 2), 0x1003,
		     "console id 0x1003");
	vdev_probe(&d, SLOT_RND);
	CHECK(d.cap[1] && d.cap[2] && d.cap[3] && d.cap[5],
	      "common, notify, ISR and PCI_CFG capabilities");
	CHECK(d.cap[4] == 0, "no device config capability without config");
	CHECK(test_cfg_read(0, SLOT_RND, 0, d.cap[1] + 4, 1) == 4 &&
		  test_cfg_read(0, SLOT_RND, 0, d.cap[2] + 16, 4) == 4 &&
		  test_cfg_read(0, SLOT_RND, 0, d.cap[2] + 8, 4) == 0x3000,
	      "capabilities point into BAR 4, notify multiplier 4");
	CHECK((test_cfg_read(0, SLOT_RND, 0, PCIR_BAR(4), 4) & 7) ==
		      PCIM_BAR_MEM_64 &&
		  d.bar4 != 0,
	      "BAR 4 is a placed 64-bit memory BAR");
	CHECK((test_cfg_read(0, SLOT_RND, 0, PCIR_BAR(0), 4) & 1) && d.io != 0,
	      "transitional device has the legacy I/O BAR 0");
	vdev_probe(&d, SLOT_LEGACY);
	CHECK(d.cap[1] == 0 && d.io != 0,
	      "legacy transport: I/O BAR, no modern capabilities");
	vdev_probe(&d, SLOT_MODERN);
	CHECK(d.cap[1] != 0 &&
		  test_cfg_read(0, SLOT_MODERN, 0, PCIR_BAR(0), 4) == 0,
	      "modern transport: no I/O BAR");
	CHECK(pci_emul_find_capability(pci_emul_find_dev(0, SLOT_NOMSIX, 0),
				       PCIY_MSIX) == 0 &&
		  pci_emul_find_capability(pci_emul_find_dev(0, SLOT_NOMSIX, 0),
					   PCIY_MSI) != 0,
	      "virtio_msix=false: MSI instead of MSI-X (bhyve -W)");
	CHECK(pci_model_implemented(pci_model_find("virtio-rnd")) &&
		  pci_model_implemented(pci_model_find("virtio-console")),
	      "virtio-rnd and virtio-console are implemented models");
}

static void
test_features(void)
{
	struct vdev d;
	uint64_t f;

	vdev_probe(&d, SLOT_RND);
	f = device_features(&d);
	CHECK((f & VIRTIO_F_VERSION_1) && (f & VIRTIO_RING_F_EVENT_IDX) &&
		  (f & VIRTIO_RING_F_INDIRECT_DESC) &&
		  !(f & VIRTIO_F_ANY_LAYOUT),
	      "modern features: VERSION_1, EVENT_IDX, INDIRECT, no ANY_LAYOUT");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x12), 2), 1, "num_queues");
	CHECK(!modern_negotiate(&d, VIRTIO_RING_F_EVENT_IDX),
	      "FEATURES_OK refused without VERSION_1");
	CHECK(!modern_negotiate(&d, VIRTIO_F_VERSION_1 | (1ULL << 40)),
	      "FEATURES_OK refused for a feature not offered");
	CHECK(
	    modern_negotiate(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX),
	    "FEATURES_OK accepted for offered features");
	test_mmio_write(COMMON(&d, 0x08), 4, 0);
	test_mmio_write(COMMON(&d, 0x0c), 4, 0);
	CHECK(test_mmio_read(COMMON(&d, 0x0c), 4) == VIRTIO_RING_F_EVENT_IDX,
	      "driver features frozen after FEATURES_OK");
	CHECK_EQ_U64(io_read(d.io + 0, 4) >> 27 & 7, 7,
		     "legacy host features: ANY_LAYOUT, INDIRECT, EVENT_IDX");
}

static void
test_queue_setup(void)
{
	struct vdev d;
	struct gq g;

	vdev_probe(&d, SLOT_RND);
	(void)modern_negotiate(&d, VIRTIO_F_VERSION_1);
	test_mmio_write(COMMON(&d, 0x16), 2, 0);
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x18), 2), 64,
		     "queue size offered: 64");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x1e), 2), 0,
		     "queue_notify_off 0");
	test_mmio_write(COMMON(&d, 0x1a), 2, 7);
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x1a), 2), VIRTIO_MSI_NO_VECTOR,
		     "vector beyond the table reads NO_VECTOR");
	test_mmio_write(COMMON(&d, 0x16), 2, 1);
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x18), 2), 0,
		     "nonexistent queue has size 0");
	gq_init(&g, SLOT_RND, 0, QSZ);
	modern_queue(&d, 0, &g, 0);
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x1c), 2), 1, "queue enabled");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x18), 2), QSZ,
		     "queue size kept");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x20), 8), g.base,
		     "descriptor address reads back");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x1a), 2), 0, "queue vector 0");
	test_mmio_write(COMMON(&d, 0x20), 8, 0x5000);
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x20), 8), g.base,
		     "addresses are fixed while enabled");
	/* Reset (3.1.1 step 1 / 4.1.4.3.2). */
	test_mmio_write(COMMON(&d, 0x14), 1, 0);
	CHECK(test_mmio_read(COMMON(&d, 0x14), 1) == 0 &&
		  test_mmio_read(COMMON(&d, 0x1c), 2) == 0 &&
		  test_mmio_read(COMMON(&d, 0x18), 2) == 64 &&
		  test_mmio_read(COMMON(&d, 0x1a), 2) == VIRTIO_MSI_NO_VECTOR,
	      "reset clears status, queue enable, size and vector");
}

static void
test_rnd_modern_msix(void)
{
	struct vdev d;
	struct gq g;
	uint8_t zero[64] = {0};
	uint64_t buf;

	vdev_probe(&d, SLOT_RND);
	(void)modern_negotiate(&d, VIRTIO_F_VERSION_1);
	gq_init(&g, SLOT_RND, 0, QSZ);
	modern_queue(&d, 0, &g, 1);
	msix_setup(&d, 1, 0xfee00000, 0x4041);
	test_mmio_write(COMMON(&d, 0x14), 1, 0xf); /* DRIVER_OK */
	msi_count = 0;
	buf = gq_post(&g, NULL, 64, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 1 && g.used->ring[0].len == 64 &&
		  g.used->ring[0].id == 0,
	      "rnd: buffer filled and returned");
	CHECK(memcmp(vm_map_gpa(ctx, buf, 64), zero, 64) != 0,
	      "rnd: buffer holds random bytes");
	CHECK(msi_count == 1 && msi_addr == 0xfee00000 && msi_data == 0x4041,
	      "rnd: MSI-X vector 1 sent with the table's message");
	/* Masked vector: nothing sent, delivered on unmask (PBA). */
	test_mmio_write(d.msix + 16 + 12, 4, 1);
	(void)gq_post(&g, NULL, 8, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 2 && msi_count == 1,
	      "masked vector: request done, no message");
	test_mmio_write(d.msix + 16 + 12, 4, 0);
	CHECK(msi_count == 2, "pending message sent on unmask");
	/* A chain in a buffer outside RAM: NEEDS_RESET + config vector. */
	test_mmio_write(COMMON(&d, 0x10), 2, 1);
	g.desc[5] =
	    (struct vring_desc){0xF0000000ULL, 16, VRING_DESC_F_WRITE, 0};
	g.avail->ring[g.avail->idx % QSZ] = 5;
	g.avail->idx++;
	msi_count = 0;
	notify(&d, 0);
	CHECK(test_mmio_read(COMMON(&d, 0x14), 1) & VIRTIO_CONFIG_S_NEEDS_RESET,
	      "bad buffer: device NEEDS_RESET");
	CHECK(msi_count == 1 && gq_used(&g) == 2,
	      "config change interrupt, nothing used");
	(void)gq_post(&g, NULL, 8, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 2, "no processing until reset");
	CHECK(!modern_negotiate(&d, 0) &&
		  !(test_mmio_read(COMMON(&d, 0x14), 1) & 0x40),
	      "reset clears NEEDS_RESET");
	msix_disable(&d);
}

static void
test_rnd_modern_intx(void)
{
	struct vdev d;
	struct gq g;

	vdev_probe(&d, SLOT_MODERN);
	CHECK(
	    modern_negotiate(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX),
	    "modern-only device negotiates");
	gq_init(&g, SLOT_MODERN, 0, QSZ);
	modern_queue(&d, 0, &g, VIRTIO_MSI_NO_VECTOR);
	test_mmio_write(COMMON(&d, 0x14), 1, 0xf);
	intx_asserted = 0;
	(void)gq_post(&g, NULL, 32, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 1 && intx_asserted == 1,
	      "INTx asserted when MSI-X is off");
	CHECK_EQ_U64(test_mmio_read(d.bar4 + 0x1000, 1), VIRTIO_PCI_ISR_INTR,
		     "ISR shows the queue interrupt");
	CHECK(intx_asserted == 0 && test_mmio_read(d.bar4 + 0x1000, 1) == 0,
	      "reading ISR clears it and de-asserts INTx");
	/* EVENT_IDX: used_event in the future suppresses the interrupt. */
	g.avail->ring[QSZ] = 5;
	(void)gq_post(&g, NULL, 32, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 2 && intx_asserted == 0,
	      "EVENT_IDX used_event suppresses the interrupt");
	CHECK(avail_event(&g) == 2, "EVENT_IDX avail_event published");
	/* Queue at an address outside RAM: NEEDS_RESET at enable. */
	(void)modern_negotiate(&d, VIRTIO_F_VERSION_1);
	g.base = 0xF0000000ULL;
	modern_queue(&d, 0, &g, VIRTIO_MSI_NO_VECTOR);
	CHECK(test_mmio_read(COMMON(&d, 0x1c), 2) == 0 &&
		  (test_mmio_read(COMMON(&d, 0x14), 1) & 0x40),
	      "ring outside RAM: not enabled, NEEDS_RESET");
	test_mmio_write(COMMON(&d, 0x14), 1, 0);
	test_mmio_write(COMMON(&d, 0x16), 2, 0);
	test_mmio_write(COMMON(&d, 0x18), 2, 12);
	gq_init(&g, SLOT_MODERN, 0, 12);
	g.size = 12;
	modern_queue(&d, 0, &g, VIRTIO_MSI_NO_VECTOR);
	CHECK(test_mmio_read(COMMON(&d, 0x1c), 2) == 0 &&
		  (test_mmio_read(COMMON(&d, 0x14), 1) & 0x40),
	      "queue size 12: refused, NEEDS_RESET");
	test_mmio_write(COMMON(&d, 0x14), 1, 0);
}

static void
test_legacy(void)
{
	struct vdev d;
	struct gq g;
	uint64_t pfn;

	vdev_probe(&d, SLOT_LEGACY);
	CHECK(!(io_read(d.io + 0, 4) & 0) &&
		  io_read(d.io + 0, 4) ==
		      (uint32_t)(VIRTIO_F_ANY_LAYOUT |
				 VIRTIO_RING_F_INDIRECT_DESC |
				 VIRTIO_RING_F_EVENT_IDX),
	      "legacy host features (no VERSION_1)");
	io_write(d.io + 18, 1, 0);
	io_write(d.io + 18, 1, 3);
	io_write(d.io + 4, 4, (uint32_t)VIRTIO_RING_F_INDIRECT_DESC);
	CHECK_EQ_U64(io_read(d.io + 4, 4), VIRTIO_RING_F_INDIRECT_DESC,
		     "legacy guest features stored");
	io_write(d.io + 14, 2, 0);
	CHECK_EQ_U64(io_read(d.io + 12, 2), 64, "legacy queue size 64");
	/* 2.7.2 legacy layout: one page-aligned block. */
	pfn = q_area(SLOT_LEGACY, 0) / 4096;
	memset(vm_map_gpa(ctx, pfn * 4096, 0x8000), 0, 0x8000);
	io_write(d.io + 8, 4, (uint32_t)pfn);
	CHECK_EQ_U64(io_read(d.io + 8, 4), pfn, "PFN reads back");
	io_write(d.io + 18, 1, 7);
	g.base = pfn * 4096;
	g.desc = vm_map_gpa(ctx, g.base, 16 * 64);
	g.avail = vm_map_gpa(ctx, g.base + 16 * 64, 6 + 2 * 64);
	g.used = vm_map_gpa(ctx, g.base + 0x1000, 6 + 8 * 64); /* aligned */
	g.size = 64;
	g.next_desc = 0;
	g.desc[0] =
	    (struct vring_desc){g.base + 0x4000, 40, VRING_DESC_F_WRITE, 0};
	g.avail->ring[0] = 0;
	g.avail->idx = 1;
	intx_asserted = 0;
	io_write(d.io + 16, 2, 0);
	CHECK(g.used->idx == 1 && g.used->ring[0].len == 40,
	      "legacy notify: used ring at the next page");
	CHECK(intx_asserted == 1 && io_read(d.io + 19, 1) == 1 &&
		  intx_asserted == 0,
	      "legacy ISR at 19, INTx de-asserted by reading it");
	io_write(d.io + 18, 1, 0);
	CHECK(io_read(d.io + 8, 4) == 0 && io_read(d.io + 18, 1) == 0,
	      "legacy reset");
}

static void
test_pcicfg_window(void)
{
	struct vdev d;
	int c;

	vdev_probe(&d, SLOT_RND);
	c = d.cap[5];
	test_cfg_write(0, SLOT_RND, 0, c + 4, 1, 4);
	test_cfg_write(0, SLOT_RND, 0, c + 8, 4, 0x12);
	test_cfg_write(0, SLOT_RND, 0, c + 12, 4, 2);
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, c + 16, 2), 1,
		     "PCI_CFG window reads num_queues");
	test_cfg_write(0, SLOT_RND, 0, c + 8, 4, 0x16);
	test_cfg_write(0, SLOT_RND, 0, c + 16, 2, 0);
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, c + 16, 2), 0,
		     "PCI_CFG window writes queue_select");
	test_mmio_write(COMMON(&d, 0x00), 4, 0);
	test_cfg_write(0, SLOT_RND, 0, c + 8, 4, 0x04);
	test_cfg_write(0, SLOT_RND, 0, c + 12, 4, 4);
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, c + 19, 1),
		     (VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX) >>
			 24,
		     "PCI_CFG window: byte 3 of device_feature");
	test_cfg_write(0, SLOT_RND, 0, c + 4, 1, 2);
	CHECK_EQ_U64(test_cfg_read(0, SLOT_RND, 0, c + 16, 2), 0,
		     "window onto another BAR reads 0");
}

static void
test_rate_limit(void)
{
	struct vdev d;
	struct gq g;

	vdev_probe(&d, SLOT_SLOW);
	(void)modern_negotiate(&d, VIRTIO_F_VERSION_1);
	gq_init(&g, SLOT_SLOW, 0, QSZ);
	modern_queue(&d, 0, &g, VIRTIO_MSI_NO_VECTOR);
	test_mmio_write(COMMON(&d, 0x14), 1, 0xf);
	(void)gq_post(&g, NULL, 1000, true);
	(void)gq_post(&g, NULL, 1000, true);
	notify(&d, 0);
	CHECK(gq_used(&g) == 1 && g.used->ring[0].len <= 100 &&
		  g.used->ring[0].len > 0,
	      "limit=100: first request gets at most 100 bytes");
	notify(&d, 0);
	CHECK(gq_used(&g) == 1, "limit=100: bucket empty, second waits");
	test_mmio_write(COMMON(&d, 0x14), 1, 0);
}

/* ---- virtio-console with its socket ---- */

static pthread_t loop_thread;

static void *
loop_main(void *arg)
{
	mevent_dispatch();
	return NULL;
}

static bool
wait_used(const struct gq *g, uint16_t n)
{
	for (int i = 0; i < 2000 && gq_used(g) != n; i++)
		usleep(1000);
	return gq_used(g) == n;
}

struct ctrl {
	uint32_t id;
	uint16_t event, value;
} __attribute__((packed));

static void
ctrl_send(struct vdev *d, struct gq *ctx_tx, uint32_t id, uint16_t ev,
	  uint16_t val)
{
	struct ctrl c = {id, ev, val};

	(void)gq_post(ctx_tx, &c, sizeof(c), false);
	notify(d, 3);
}

/* The control message in used entry i of the control receive queue. */
static struct ctrl
ctrl_got(struct gq *crx, int i, char *name, size_t namelen)
{
	struct vring_used_elem *e = &crx->used->ring[i % crx->size];
	const uint8_t *p = vm_map_gpa(ctx, crx->desc[e->id].addr, e->len);
	struct ctrl c = {0};

	if (p != NULL && e->len >= sizeof(c))
		memcpy(&c, p, sizeof(c));
	if (name != NULL) {
		size_t n = e->len > sizeof(c) ? e->len - sizeof(c) : 0;

		n = n < namelen - 1 ? n : namelen - 1;
		memcpy(name, p + sizeof(c), n);
		name[n] = '\0';
	}
	return c;
}

static void
test_console(void)
{
	struct vdev d;
	struct gq q[6];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctrl c;
	char name[64], buf[32];
	uint64_t rxbuf;
	int s, got = 0;

	vdev_probe(&d, SLOT_CON);
	CHECK(d.cap[4] != 0, "console has a device config capability");
	CHECK(device_features(&d) & 2, "console offers MULTIPORT");
	CHECK(modern_negotiate(&d, VIRTIO_F_VERSION_1 | 2),
	      "console negotiates MULTIPORT");
	CHECK_EQ_U64(test_mmio_read(d.bar4 + 0x2000 + 4, 4), 2,
		     "max_nr_ports = 2 (port.1 configured)");
	CHECK_EQ_U64(test_mmio_read(COMMON(&d, 0x12), 2), 6,
		     "six queues for two ports");
	for (int i = 0; i < 6; i++) {
		gq_init(&q[i], SLOT_CON, i, QSZ);
		modern_queue(&d, i, &q[i], VIRTIO_MSI_NO_VECTOR);
	}
	for (int i = 0; i < 4; i++)
		(void)gq_post(&q[2], NULL, 128, true);
	test_mmio_write(COMMON(&d, 0x14), 1, 0xf);

	/* The host client connects first. */
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	      "host client connects to the port socket");
	usleep(50000); /* let the loop accept it */

	ctrl_send(&d, &q[3], 0, 0 /* DEVICE_READY */, 1);
	CHECK(wait_used(&q[2], 1), "control message after DEVICE_READY");
	c = ctrl_got(&q[2], 0, NULL, 0);
	CHECK(c.id == 1 && c.event == 1 && c.value == 1,
	      "DEVICE_ADD for port 1");
	ctrl_send(&d, &q[3], 1, 3 /* PORT_READY */, 1);
	CHECK(wait_used(&q[2], 3), "PORT_NAME and PORT_OPEN follow");
	c = ctrl_got(&q[2], 1, name, sizeof(name));
	CHECK(c.id == 1 && c.event == 7 &&
		  strcmp(name, "org.beehive.test") == 0,
	      "PORT_NAME carries the name");
	c = ctrl_got(&q[2], 2, NULL, 0);
	CHECK(c.id == 1 && c.event == 6 && c.value == 1,
	      "PORT_OPEN: host side connected");
	ctrl_send(&d, &q[3], 1, 6 /* PORT_OPEN */, 1);

	/* Host -> guest: port 1 receive queue is 4. */
	rxbuf = gq_post(&q[4], NULL, 64, true);
	notify(&d, 4);
	CHECK(write(s, "hello guest", 11) == 11, "host writes");
	CHECK(wait_used(&q[4], 1) && q[4].used->ring[0].len == 11 &&
		  memcmp(vm_map_gpa(ctx, rxbuf, 11), "hello guest", 11) == 0,
	      "host -> guest data arrives in the port's receive queue");

	/* Guest -> host: transmit queue 5. */
	(void)gq_post(&q[5], "hello host", 10, false);
	notify(&d, 5);
	CHECK(wait_used(&q[5], 1), "guest transmit buffer used");
	for (int i = 0; i < 100 && got < 10; i++) {
		struct pollfd pfd = {s, POLLIN, 0};
		ssize_t r;

		if (poll(&pfd, 1, 20) == 1) {
			r = read(s, buf + got, sizeof(buf) - (size_t)got);
			if (r <= 0)
				break;
			got += (int)r;
		}
	}
	CHECK(got == 10 && memcmp(buf, "hello host", 10) == 0,
	      "guest -> host data reaches the socket");

	/* Client leaves: the guest is told. */
	close(s);
	CHECK(wait_used(&q[2], 4), "control message on disconnect");
	c = ctrl_got(&q[2], 3, NULL, 0);
	CHECK(c.id == 1 && c.event == 6 && c.value == 0,
	      "PORT_OPEN 0 after the client closed");
	test_mmio_write(COMMON(&d, 0x14), 1, 0);
}

int
main(void)
{
	ctx = vm_create_detached("vtpcitest");
	if (ctx == NULL || vm_setup_memory(ctx, MEMSIZE) != 0) {
		printf("FAIL: guest memory\n");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "/tmp/vtcon-test-%d.sock",
		 (int)getpid());
	pci_emul_set_intr_ops(&cap_ops);
	if (build_machine() != 0) {
		printf("FAIL: init_pci with virtio devices\n");
		return 1;
	}
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0) {
		printf("FAIL: event loop thread\n");
		return 1;
	}
	test_identity();
	test_features();
	test_queue_setup();
	test_rnd_modern_msix();
	test_rnd_modern_intx();
	test_legacy();
	test_pcicfg_window();
	test_rate_limit();
	test_console();

	mevent_exit(0);
	pthread_join(loop_thread, NULL);
	pci_emul_fini();
	mevent_fini();
	fini_config();
	vm_destroy(ctx);
	CHECK(access(sock_path, F_OK) != 0, "port socket removed at exit");
	return test_done();
}
