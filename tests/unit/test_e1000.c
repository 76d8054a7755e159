/*
 * e1000 (82545EM) on a detached VM: registers are reached through the
 * BARs as a vCPU exit would, descriptor rings and frames are written into
 * guest memory as a driver would.  The backend is a socketpair this test
 * registers ("tbe"): frames the device sends are read back, frames for
 * receive are injected.  Checksums are verified with the test's own
 * ones' complement code, not the device's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "mevent.h"
#include "net_backends.h"
#include "pci_e1000.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MEM_SIZE (16u << 20)
#define SLOT	 4
#define TX_RING	 0x100000ULL
#define RX_RING	 0x110000ULL
#define BUF	 0x200000ULL /* frame buffers */
#define RXBUF	 0x400000ULL
#define NDESC	 8
#define HDR	 10
#define SECRC	 0x04000000u

static struct vmctx *ctx;
static struct pci_devinst *pi;
static uint64_t mmio;
static int iobase;

/* ---- the test backend ---- */

static int tb_sv[2] = {-1, -1}; /* [0] the test's side, [1] the device's */
static size_t tb_hdrlen;
static uint64_t tb_cap; /* the offloads the backend offers */
static uint64_t tb_features;

static int
tb_init(struct net_backend *be, const char *spec, struct config_node *nvl,
	int *queues, char *err, size_t errlen)
{
	*queues = 1;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tb_sv) != 0) {
		snprintf(err, errlen, "socketpair");
		return -1;
	}
	return 0;
}

static void
tb_cleanup(struct net_backend *be)
{
	close(tb_sv[0]);
	close(tb_sv[1]);
	tb_sv[0] = tb_sv[1] = -1;
}

static uint64_t
tb_get_cap(struct net_backend *be)
{
	return tb_cap;
}

static int
tb_set_cap(struct net_backend *be, uint64_t features, size_t hdrlen)
{
	tb_hdrlen = hdrlen;
	tb_features = features;
	return 0;
}

static ssize_t
tb_send(struct net_backend *be, int q, const struct iovec *iov, int iovcnt)
{
	return writev(tb_sv[1], iov, iovcnt);
}

static ssize_t
tb_recv(struct net_backend *be, int q, void *buf, size_t len)
{
	ssize_t n = recv(tb_sv[1], buf, len, MSG_DONTWAIT);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static int
tb_rx_fd(struct net_backend *be, int q)
{
	return tb_sv[1];
}

static const struct net_backend_ops tb_ops = {
    .prefix = "tbe",
    .init = tb_init,
    .cleanup = tb_cleanup,
    .get_cap = tb_get_cap,
    .set_cap = tb_set_cap,
    .send = tb_send,
    .recv = tb_recv,
    .rx_fd = tb_rx_fd,
};
NET_BACKEND_SET(tb_ops);

/* ---- interrupts seen through pci_emul_set_intr_ops ---- */

/* Atomic: the moderation tests' timers assert on the event loop's thread. */
static _Atomic int intx_level, intx_changes;

static _Atomic int msi_count;

static int
ti_msi(struct vmctx *c, uint64_t addr, uint64_t data)
{
	msi_count++;
	return 0;
}

static int
ti_intx(struct vmctx *c, int irq, bool assert)
{
	intx_level = assert;
	intx_changes++;
	return 0;
}

static const struct pci_intr_ops ti_ops = {ti_msi, ti_intx};

/* ---- register access ---- */

static uint32_t
rd(uint32_t off)
{
	return (uint32_t)test_mmio_read(mmio + off, 4);
}

static void
wr(uint32_t off, uint32_t v)
{
	test_mmio_write(mmio + off, 4, v);
}

/* Reads one frame the device sent and its virtio-net header. */
static ssize_t
sent_hdr(uint8_t *buf, size_t len, struct virtio_net_hdr *vh)
{
	static uint8_t tmp[70000];
	ssize_t n = recv(tb_sv[0], tmp, sizeof(tmp), MSG_DONTWAIT);

	if (n < HDR)
		return -1;
	memset(vh, 0, sizeof(*vh));
	memcpy(vh, tmp, HDR);
	n -= HDR;
	if ((size_t)n > len)
		n = (ssize_t)len;
	memcpy(buf, tmp + HDR, (size_t)n);
	return n;
}

static ssize_t
sent(uint8_t *buf, size_t len)
{
	struct virtio_net_hdr vh;

	return sent_hdr(buf, len, &vh);
}

static void
inject(const uint8_t *f, size_t len)
{
	uint8_t tmp[20000] = {0};

	memcpy(tmp + HDR, f, len);
	send(tb_sv[0], tmp, HDR + len, 0);
}

static void
drain(void)
{
	uint8_t tmp[70000];

	while (recv(tb_sv[0], tmp, sizeof(tmp), MSG_DONTWAIT) > 0)
		;
}

/* ---- checksums, written independently of the device ---- */

static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i < len; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A TCP/IPv4 frame's TCP checksum verifies (sum with pseudo = 0xffff). */
static bool
tcp4_ok(const uint8_t *f, size_t len)
{
	size_t ihl = (f[14] & 15) * 4, l4 = len - 14 - ihl;
	uint32_t s = sum16(f + 26, 8, 0) + 6 + (uint32_t)l4;

	return fold(sum16(f + 14 + ihl, l4, s)) == 0xffff;
}

static bool
ip4_ok(const uint8_t *f)
{
	return fold(sum16(f + 14, (f[14] & 15) * 4u, 0)) == 0xffff;
}

/*
 * An Ethernet + IPv4 + TCP frame (20-byte headers) with paylen bytes of
 * payload; the TCP checksum field holds the pseudo-header sum
 * (without length when tso), as drivers leave it for the offload.
 */
static size_t
tcp4_frame(uint8_t *f, size_t paylen, bool tso)
{
	static const uint8_t dst[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	size_t len = 54 + paylen;
	uint32_t ps;

	memset(f, 0, 54);
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[18] = 0x12, f[19] = 0x34; /* id */
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	f[34] = 0x30, f[35] = 0x39; /* ports */
	f[36] = 0x01, f[37] = 0xbb;
	f[38] = 0x10, f[41] = 0x00; /* seq 0x10000000 */
	f[46] = 0x50;		    /* data offset 5 */
	f[47] = 0x19;		    /* FIN PSH ACK */
	for (size_t i = 0; i < paylen; i++)
		f[54 + i] = (uint8_t)(i * 7 + 3);
	ps = sum16(f + 26, 8, 0) + 6 + (tso ? 0 : (uint32_t)(len - 34));
	f[50] = (uint8_t)(fold(ps) >> 8);
	f[51] = (uint8_t)fold(ps);
	return len;
}

/* ---- transmit descriptors ---- */

static void
txd_put(int idx, uint64_t addr, uint32_t lower, uint32_t upper)
{
	uint32_t d[4] = {(uint32_t)addr, (uint32_t)(addr >> 32), lower, upper};

	test_gput(ctx, TX_RING + 16ULL * (unsigned)idx, d, 16);
}

static uint8_t
txd_status(int idx)
{
	uint8_t s;

	test_gget(ctx, TX_RING + 16ULL * (unsigned)idx + 12, &s, 1);
	return s;
}

#define R_TDBAL 0x3800
#define R_RDBAL 0x2800

/*
 * Programs a ring's registers as a driver does: BAL/BAH, LEN, then head
 * and tail (TDBAL or RDBAL; the others follow at the same offsets).
 */
static void
ring_set(uint32_t bal, uint64_t base, uint32_t len, uint32_t head,
	 uint32_t tail)
{
	wr(bal, (uint32_t)base);
	wr(bal + 0x04, (uint32_t)(base >> 32));
	wr(bal + 0x08, len);
	wr(bal + 0x10, head);
	wr(bal + 0x18, tail);
}

static void
tx_setup(void)
{
	memset(vm_map_gpa(ctx, TX_RING, 16 * NDESC), 0, 16 * NDESC);
	ring_set(R_TDBAL, TX_RING, 16 * NDESC, 0, 0);
	wr(0x0400, 0x2); /* TCTL.EN */
	drain();
}

/* ---- tests ---- */

static void
test_ids_eeprom(void)
{
	uint16_t w[64], sum = 0;
	struct e1000_state st;
	int i;

	CHECK(pci_get_cfgdata16(pi, PCIR_VENDOR) == 0x8086 &&
		  pci_get_cfgdata16(pi, PCIR_DEVICE) == 0x100f &&
		  pci_get_cfgdata8(pi, PCIR_CLASS) == 0x02,
	      "pci: 8086:100f, network class");
	for (i = 0; i < 64; i++) {
		wr(0x14, (uint32_t)i << 8 | 1);
		w[i] = (uint16_t)(rd(0x14) >> 16);
		sum = (uint16_t)(sum + w[i]);
	}
	e1000_get_state(pi, &st);
	CHECK((rd(0x14) & 0x10) && w[0] == (st.mac[0] | st.mac[1] << 8) &&
		  w[2] == (st.mac[4] | st.mac[5] << 8),
	      "eerd: DONE, words 0-2 hold the MAC");
	CHECK(sum == 0xbaba, "eeprom: words sum to 0xBABA");
	CHECK(w[0x0d] == 0x100f && w[0x0e] == 0x8086,
	      "eeprom: device and vendor ids");
}

/* Reads an EEPROM word through EECD as Linux's Microwire code does. */
static uint16_t
eecd_read_word(int addr)
{
	uint32_t cmd = 6u << 6 | (uint32_t)addr, e;
	uint16_t v = 0;
	int i;

	wr(0x10, 0x40); /* REQ */
	wr(0x10, 0x40 | 0x2);
	for (i = 8; i >= 0; i--) {
		e = 0x42 | (((cmd >> i) & 1) ? 0x4 : 0);
		wr(0x10, e);
		wr(0x10, e | 1);
		wr(0x10, e);
	}
	for (i = 0; i < 16; i++) {
		wr(0x10, 0x43);
		v = (uint16_t)(v << 1 | ((rd(0x10) >> 3) & 1));
		wr(0x10, 0x42);
	}
	wr(0x10, 0);
	return v;
}

static void
test_eecd(void)
{
	wr(0x10, 0x40);
	CHECK((rd(0x10) & 0x1c0) == 0x1c0, "eecd: REQ granted, EEPROM present");
	CHECK(eecd_read_word(0x0d) == 0x100f && eecd_read_word(0x0e) == 0x8086,
	      "eecd: bit-banged reads of the device and vendor ids");
}

static uint32_t
mdic_read(int phy, int reg)
{
	wr(0x20, 0x08000000u | (uint32_t)phy << 21 | (uint32_t)reg << 16);
	return rd(0x20);
}

static void
test_phy(void)
{
	uint32_t v1 = mdic_read(1, 2), v2 = mdic_read(1, 3),
		 s = mdic_read(1, 1);

	CHECK((v1 & 0x10000000u) && (v1 & 0xffff) == 0x0141 &&
		  (v2 & 0xfff0) == 0x0c20,
	      "mdic: M88E1011 PHY id, READY");
	CHECK((s & 0x24) == 0x24, "mdic: BMSR link up, autoneg complete");
	CHECK(mdic_read(2, 1) & 0x40000000u, "mdic: other PHY address: ERROR");
	wr(0x20, 0x04000000u | 1u << 21 | 9u << 16 | 0x0200);
	CHECK((mdic_read(1, 9) & 0xffff) == 0x0200, "mdic: PHY register write");
	CHECK((rd(0x08) & 0x83) == 0x83, "status: link up, FD, 1000 Mb/s");
}

static void
test_interrupts(void)
{
	struct e1000_state st;

	rd(0xc0);
	CHECK(rd(0xc0) == 0, "icr: read clears");
	wr(0xd0, 0x4); /* IMS: LSC */
	wr(0xc8, 0x4); /* ICS: LSC */
	e1000_get_state(pi, &st);
	CHECK(st.intx && intx_level == 1, "ics+ims: INTx asserted");
	CHECK(rd(0xd0) == 0x4, "ims reads back");
	CHECK(rd(0xc0) == 0x4 && intx_level == 0, "icr read deasserts INTx");
	wr(0xc8, 0x4);
	wr(0xd8, 0x4); /* IMC */
	CHECK(intx_level == 0 && rd(0xd0) == 0, "imc masks the pending cause");
	rd(0xc0);
	/* The I/O window: IOADDR selects STATUS, IODATA reads it. */
	test_io_write(iobase, 4, 0x8);
	CHECK(test_io_read(iobase + 4, 4) == rd(0x08),
	      "io bar: IOADDR/IODATA reach the registers");
}

/* With MSI enabled: one message per new cause, none on INTx. */
static void
test_msi(void)
{
	int cap = pci_emul_find_capability(pi, PCIY_MSI);
	uint32_t v;

	CHECK(cap > 0, "msi: capability present");
	if (cap <= 0)
		return;
	v = 0xfee00000u;
	pci_emul_cfgrw(false, 0, SLOT, 0, cap + 4, 4, &v);
	v = PCIM_MSICTRL_MSI_ENABLE;
	pci_emul_cfgrw(false, 0, SLOT, 0, cap + 2, 2, &v);
	rd(0xc0);
	msi_count = 0;
	intx_changes = 0;
	wr(0xd0, 0x4);
	wr(0xc8, 0x4);
	wr(0xc8, 0x4); /* still pending: no second message */
	CHECK(msi_count == 1 && intx_changes == 0,
	      "msi: one message for a pending cause, INTx quiet");
	rd(0xc0);
	wr(0xc8, 0x4);
	CHECK(msi_count == 2, "msi: ICR read re-arms");
	rd(0xc0);
	wr(0xd8, 0xffffffffu);
	v = 0;
	pci_emul_cfgrw(false, 0, SLOT, 0, cap + 2, 2, &v);
}

static void
test_tx_legacy(void)
{
	uint8_t f[200], got[300];
	ssize_t n;

	tx_setup();
	for (int i = 0; i < 100; i++)
		f[i] = (uint8_t)i;
	memcpy(f, "\x02\x11\x22\x33\x44\x55", 6);
	test_gput(ctx, BUF, f, 60);
	test_gput(ctx, BUF + 0x1000, f + 60, 40);
	/* Two descriptors: the frame is gathered up to EOP. */
	txd_put(0, BUF, 60 | 0x02u << 24, 0);
	txd_put(1, BUF + 0x1000, 40 | (0x01u | 0x02 | 0x08) << 24, 0);
	rd(0xc0);
	wr(0x3818, 2);
	n = sent(got, sizeof(got));
	CHECK(n == 100 && memcmp(got, f, 100) == 0,
	      "tx legacy: two buffers sent as one frame");
	CHECK(rd(0x3810) == 2 && (txd_status(1) & 1) && !(txd_status(0) & 1),
	      "tx legacy: TDH advanced, DD on the RS descriptor only");
	CHECK(rd(0xc0) & 0x1, "tx legacy: TXDW");
}

static void
test_tx_csum(void)
{
	uint8_t f[400], got[400];
	size_t len = tcp4_frame(f, 300, false);
	ssize_t n;

	tx_setup();
	test_gput(ctx, BUF, f, len);
	/* Context: TCP, IPv4, tucss 34, tucso 50; ipcss 14, ipcso 24. */
	txd_put(0, 14 | 24 << 8 | 33 << 16 | 34ULL << 32 | 50ULL << 40,
		(0x20u | 0x03) << 24, 0);
	txd_put(1, BUF, (uint32_t)len | 1u << 20 | (0x20u | 0x01 | 0x08) << 24,
		0x03 << 8);
	wr(0x3818, 2);
	n = sent(got, sizeof(got));
	CHECK(n == (ssize_t)len && tcp4_ok(got, len) && ip4_ok(got) &&
		  memcmp(got + 54, f + 54, 300) == 0,
	      "tx ext: TCP and IP checksums inserted");
	CHECK(txd_status(1) & 1, "tx ext: data descriptor DD");
}

static void
test_tx_tso(void)
{
	static uint8_t f[4000], got[2000];
	size_t len = tcp4_frame(f, 2500, true), off = 0;
	int seg, ok = 1;
	ssize_t n;

	tx_setup();
	test_gput(ctx, BUF, f, len);
	/* Context with TSE: hdrlen 54, mss 1000, paylen 2500. */
	txd_put(0, 14 | 24 << 8 | 33 << 16 | 34ULL << 32 | 50ULL << 40,
		2500 | (0x20u | 0x07) << 24, 54 << 8 | 1000u << 16);
	txd_put(1, BUF, 1000 | 1u << 20 | (0x20u | 0x04) << 24, 0x03 << 8);
	txd_put(2, BUF + 1000,
		(uint32_t)(len - 1000) | 1u << 20 |
		    (0x20u | 0x04 | 0x01 | 0x08) << 24,
		0x03 << 8);
	wr(0x3818, 3);
	for (seg = 0; seg < 3; seg++) {
		size_t pl = seg < 2 ? 1000 : 500;
		uint32_t seq;

		n = sent(got, sizeof(got));
		seq = (uint32_t)got[38] << 24 | got[39] << 16 | got[40] << 8 |
		      got[41];
		ok &= n == (ssize_t)(54 + pl) && tcp4_ok(got, (size_t)n) &&
		      ip4_ok(got) &&
		      ((got[16] << 8) | got[17]) == (int)(40 + pl) &&
		      seq == 0x10000000u + off &&
		      ((got[18] << 8) | got[19]) == 0x1234 + seg &&
		      memcmp(got + 54, f + 54 + off, pl) == 0 &&
		      (got[47] & 0x09) == (seg == 2 ? 0x09 : 0);
		off += pl;
	}
	CHECK(ok, "tso: 3 segments with lengths, ids, seq, flags, checksums");
	CHECK(sent(got, sizeof(got)) < 0, "tso: nothing more sent");
}

/*
 * Finishes a NEEDS_CSUM checksum as the host would: the ones' complement
 * of the sum from csum_start to the end, stored at start + offset.
 */
static void
finish_csum(uint8_t *f, size_t len, const struct virtio_net_hdr *vh)
{
	uint16_t c =
	    (uint16_t)~fold(sum16(f + vh->csum_start, len - vh->csum_start, 0));

	f[vh->csum_start + vh->csum_offset] = (uint8_t)(c >> 8);
	f[vh->csum_start + vh->csum_offset + 1] = (uint8_t)c;
}

/* With a backend that takes offloads (tap): NEEDS_CSUM and GSO frames. */
static void
test_tx_offload(void)
{
	static uint8_t f[4000], got[4000];
	struct virtio_net_hdr vh;
	size_t len;
	ssize_t n;

	CHECK(tb_features == (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 |
			      VIRTIO_NET_F_HOST_TSO6),
	      "offload: checksum and TSO asked of the backend");
	len = tcp4_frame(f, 300, false);
	tx_setup();
	test_gput(ctx, BUF, f, len);
	txd_put(0, 14 | 24 << 8 | 33 << 16 | 34ULL << 32 | 50ULL << 40,
		(0x20u | 0x03) << 24, 0);
	txd_put(1, BUF, (uint32_t)len | 1u << 20 | (0x20u | 0x01 | 0x08) << 24,
		0x03 << 8);
	wr(0x3818, 2);
	n = sent_hdr(got, sizeof(got), &vh);
	CHECK(n == (ssize_t)len && vh.flags == 1 && vh.gso_type == 0 &&
		  vh.csum_start == 34 && vh.csum_offset == 16 &&
		  got[50] == f[50] && got[51] == f[51] && ip4_ok(got),
	      "offload: checksum left to the backend (NEEDS_CSUM 34/16)");
	finish_csum(got, len, &vh);
	CHECK(tcp4_ok(got, len), "offload: the finished checksum verifies");

	len = tcp4_frame(f, 2500, true);
	tx_setup();
	test_gput(ctx, BUF, f, len);
	txd_put(0, 14 | 24 << 8 | 33 << 16 | 34ULL << 32 | 50ULL << 40,
		2500 | (0x20u | 0x07) << 24, 54 << 8 | 1000u << 16);
	txd_put(1, BUF, (uint32_t)len | 1u << 20 | (0x20u | 0x04 | 0x09) << 24,
		0x03 << 8);
	wr(0x3818, 2);
	n = sent_hdr(got, sizeof(got), &vh);
	CHECK(n == (ssize_t)len && vh.flags == 1 &&
		  vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
		  vh.gso_size == 1000 && vh.hdr_len == 54 &&
		  vh.csum_start == 34 && vh.csum_offset == 16 &&
		  ((got[16] << 8) | got[17]) == (int)(len - 14) &&
		  ip4_ok(got) && memcmp(got + 54, f + 54, 2500) == 0,
	      "offload: TSO as one GSO frame (TCPV4, mss 1000, hdr 54)");
	finish_csum(got, len, &vh);
	CHECK(tcp4_ok(got, len),
	      "offload: GSO pseudo-header sum includes the whole length");
	CHECK(sent(got, sizeof(got)) < 0 && (txd_status(1) & 1),
	      "offload: one frame, DD written");
}

static void
test_tx_abuse(void)
{
	uint8_t got[100];

	tx_setup();
	wr(0x3818, NDESC + 3); /* TDT beyond the ring */
	CHECK(rd(0x3810) == 0 && sent(got, sizeof(got)) < 0,
	      "tx abuse: TDT past TDLEN is ignored");
	txd_put(0, MEM_SIZE - 8, 64 | (0x01u | 0x08) << 24, 0);
	txd_put(1, 0xffffffffffffff00ULL, 64 | (0x01u | 0x08) << 24, 0);
	wr(0x3818, 2);
	CHECK(rd(0x3810) == 2 && (txd_status(0) & 1) && (txd_status(1) & 1) &&
		  sent(got, sizeof(got)) < 0,
	      "tx abuse: buffers outside RAM drop their frames, ring goes on");
	wr(0x3808, 0); /* zero-length ring */
	wr(0x3818, 5);
	CHECK(rd(0x3810) == 2, "tx abuse: zero-length ring does nothing");
	ring_set(R_TDBAL, MEM_SIZE + 0x1000, 16 * NDESC, 0, 4);
	CHECK(rd(0x3810) == 0, "tx abuse: ring outside RAM stops tx");
	/* A 100 KiB chain of descriptors without EOP, then EOP: dropped. */
	tx_setup();
	for (int i = 0; i < NDESC - 1; i++)
		txd_put(i, BUF, 0xffff | (i == NDESC - 2 ? 0x09u : 0) << 24, 0);
	wr(0x3818, NDESC - 1);
	CHECK(rd(0x3810) == NDESC - 1 && sent(got, sizeof(got)) < 0,
	      "tx abuse: an over-long frame is dropped");
}

/* ---- receive ---- */

static void
rxd_put(int idx, uint64_t addr)
{
	uint64_t d[2] = {addr, 0};

	test_gput(ctx, RX_RING + 16ULL * (unsigned)idx, d, 16);
}

static void
rxd_get(int idx, uint16_t *len, uint8_t *status, uint8_t *errors)
{
	uint8_t d[16];

	test_gget(ctx, RX_RING + 16ULL * (unsigned)idx, d, 16);
	*len = (uint16_t)(d[8] | d[9] << 8);
	*status = d[12];
	*errors = d[13];
}

static void
rx_setup(uint32_t rctl)
{
	for (int i = 0; i < NDESC; i++)
		rxd_put(i, RXBUF + 0x4000ULL * (unsigned)i);
	ring_set(R_RDBAL, RX_RING, 16 * NDESC, 0, NDESC - 1);
	wr(0x0100, rctl);
}

static size_t
rx_frame(uint8_t *f, const uint8_t *dst, size_t len, uint8_t fill)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x99\x99\x99\x99\x99", 6);
	f[12] = 0x88, f[13] = 0xb5;
	memset(f + 14, fill, len - 14);
	return len;
}

static void
test_rx(void)
{
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t other[6] = {0x02, 0x42, 0, 0, 0, 1};
	uint8_t f[2000], got[2000], st8, er;
	struct e1000_state st;
	uint16_t len;

	e1000_get_state(pi, &st);
	rd(0xc0);
	rx_setup(0x2 | 0x8000 | SECRC); /* EN, BAM, 2 KiB buffers */
	inject(f, rx_frame(f, bc, 100, 0x11));
	/* The socket is polled by mevent in bhyve; here RDT kicks it. */
	wr(0x2818, NDESC - 1);
	rxd_get(0, &len, &st8, &er);
	test_gget(ctx, RXBUF, got, 100);
	CHECK(len == 100 && st8 == (1 | 2 | 4) && er == 0 &&
		  memcmp(got, f, 100) == 0,
	      "rx: broadcast delivered, DD|EOP|IXSM, length without CRC");
	CHECK(rd(0x2810) == 1 && (rd(0xc0) & 0x80), "rx: RDH advanced, RXT0");
	inject(f, rx_frame(f, other, 80, 0x22));
	wr(0x2818, NDESC - 1);
	CHECK(rd(0x2810) == 1, "rx: foreign unicast dropped");
	inject(f, rx_frame(f, st.mac, 80, 0x33));
	wr(0x2818, NDESC - 1);
	rxd_get(1, &len, &st8, &er);
	CHECK(rd(0x2810) == 2 && len == 80, "rx: own MAC (RAL0) accepted");
	wr(0x0100, 0x2 | 0x8000 | 0x8 | SECRC); /* UPE */
	inject(f, rx_frame(f, other, 90, 0x44));
	wr(0x2818, NDESC - 1);
	rxd_get(2, &len, &st8, &er);
	CHECK(rd(0x2810) == 3 && len == 90, "rx: UPE accepts any unicast");
	CHECK(rd(0x4074) == 3 && rd(0x4074) == 0, "stats: GPRC 3, read clears");
	/* Without SECRC the 4 CRC bytes are in the buffer and the length. */
	wr(0x0100, 0x2 | 0x8000);
	inject(f, rx_frame(f, bc, 70, 0x45));
	wr(0x2818, NDESC - 1);
	rxd_get(3, &len, &st8, &er);
	test_gget(ctx, RXBUF + 0xc000, got, 74);
	CHECK(rd(0x2810) == 4 && len == 74 && memcmp(got, f, 70) == 0,
	      "rx: SECRC clear: length counts a CRC after the frame");
}

static void
test_rx_multi(void)
{
	uint8_t f[2000], got[2000], st8[3], er;
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint16_t len[3];
	struct e1000_state st;

	/* 256-byte buffers (BSIZE 11b): 600 bytes take three. */
	rx_setup(0x2 | 0x8000 | 0x30000 | SECRC);
	inject(f, rx_frame(f, bc, 600, 0x55));
	wr(0x2818, NDESC - 1);
	for (int i = 0; i < 3; i++)
		rxd_get(i, &len[i], &st8[i], &er);
	test_gget(ctx, RXBUF, got, 256);
	test_gget(ctx, RXBUF + 0x4000, got + 256, 256);
	test_gget(ctx, RXBUF + 0x8000, got + 512, 88);
	CHECK(len[0] == 256 && len[1] == 256 && len[2] == 88 && !(st8[0] & 2) &&
		  !(st8[1] & 2) && (st8[2] & 3) == 3 &&
		  memcmp(got, f, 600) == 0,
	      "rx: 600 bytes over three 256-byte buffers, EOP on the last");
	/* Ring full: RDT == RDH. The frame waits, the backend is idle. */
	wr(0x2818, 3);
	inject(f, rx_frame(f, bc, 100, 0x66));
	wr(0x2818, 3);
	e1000_get_state(pi, &st);
	CHECK(st.rx_waiting && !st.rx_polling && st.rdh == 3,
	      "rx: full ring holds the frame and stops polling");
	wr(0x2818, 5);
	e1000_get_state(pi, &st);
	rxd_get(3, &len[0], &st8[0], &er);
	CHECK(!st.rx_waiting && st.rx_polling && len[0] == 100 && st.rdh == 4,
	      "rx: RDT write delivers it and resumes polling");
}

/* CTRL.VME: tags inserted on transmit (VLE) and stripped on receive. */
static void
test_vlan(void)
{
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t f[200], got[200], d[16];
	ssize_t n;

	wr(0x0000, rd(0x0000) | 0x40000000u); /* VME */
	tx_setup();
	memset(f, 0x5a, sizeof(f));
	memcpy(f, bc, 6);
	test_gput(ctx, BUF, f, 100);
	txd_put(0, BUF, 100 | (0x01u | 0x08 | 0x40) << 24, 0x0123u << 16);
	wr(0x3818, 1);
	n = sent(got, sizeof(got));
	CHECK(n == 104 && got[12] == 0x81 && got[13] == 0x00 &&
		  got[14] == 0x01 && got[15] == 0x23 &&
		  memcmp(got + 16, f + 12, 88) == 0,
	      "vlan: VLE inserts 8100 + the descriptor's tag");
	rx_setup(0x2 | 0x8000 | SECRC);
	memcpy(f + 12, "\x81\x00\x04\x56\x88\xb5", 6);
	inject(f, 100);
	wr(0x2818, NDESC - 1);
	test_gget(ctx, RX_RING, d, 16);
	test_gget(ctx, RXBUF, got, 96);
	CHECK((d[8] | d[9] << 8) == 96 && (d[12] & 0x08) &&
		  (d[14] | d[15] << 8) == 0x0456 && got[12] == 0x88 &&
		  memcmp(got, f, 12) == 0,
	      "vlan: received tag stripped into the descriptor (VP)");
	wr(0x0000, rd(0x0000) & ~0x40000000u);
}

static void
test_rx_abuse(void)
{
	uint8_t f[200], st8, er;
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct e1000_state st;
	uint16_t len;

	rx_setup(0x2 | 0x8000);
	rxd_put(0, MEM_SIZE - 16);
	inject(f, rx_frame(f, bc, 100, 0x77));
	wr(0x2818, NDESC - 1);
	rxd_get(0, &len, &st8, &er);
	CHECK((st8 & 3) == 3 && (er & 0x80) && rd(0x2810) == 1,
	      "rx abuse: buffer outside RAM: RXE, ring goes on");
	wr(0x2818, NDESC + 10); /* RDT beyond the ring */
	inject(f, rx_frame(f, bc, 100, 0x78));
	wr(0x0100, 0x2 | 0x8000);
	e1000_get_state(pi, &st);
	CHECK(st.rdh == 1 && !st.rx_polling,
	      "rx abuse: RDT past RDLEN ignored");
	wr(0x2808, 0);
	wr(0x2818, 0);
	CHECK(rd(0x2810) == 1, "rx abuse: zero-length ring ignored");
	ring_set(R_RDBAL, MEM_SIZE + 0x10000, 16 * NDESC, 0, 4);
	CHECK(rd(0x2810) == 0, "rx abuse: ring outside RAM: nothing written");
	drain();
}

static void
test_reset(void)
{
	wr(0x0100, 0x2);
	wr(0xd0, 0xff);
	test_io_write(iobase, 4, 0);
	test_io_write(iobase + 4, 4, 0x04000000); /* CTRL.RST via I/O */
	CHECK(rd(0x0100) == 0 && rd(0xd0) == 0 && rd(0x5404) & 0x80000000u &&
		  !(rd(0) & 0x04000000),
	      "reset: RCTL, IMS cleared, RAH0 valid, RST self-clears");
}

/* ---- interrupt moderation, with the event loop running its timers ---- */

#define ICR_TXDW 0x01u
#define ICR_LSC	 0x04u
#define ICR_RXT0 0x80u
#define MS	 1000000ULL
#define ITR_MAX	 (0xffffULL * 256)    /* ns */
#define DLY(n)	 ((uint64_t)(n)*1024) /* RDTR/RADV/TIDV/TADV units, ns */

static bool dev_start(uint64_t cap);

static const uint8_t mod_bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ULL),
			      (long)(ns % 1000000000ULL)};

	nanosleep(&ts, NULL);
}

/* Waits up to a second for INTx; returns when it rose, 0 if never. */
static uint64_t
intx_wait(void)
{
	uint64_t end = now_ns() + 1000 * MS;

	while (!intx_level && now_ns() < end)
		sleep_ns(100000);
	return intx_level ? now_ns() : 0;
}

static struct e1000_state
mod_state(void)
{
	struct e1000_state st;

	e1000_get_state(pi, &st);
	return st;
}

/* One broadcast frame into the ring (the loop or the RDT kick takes it). */
static void
rx_one(uint8_t fill)
{
	uint8_t f[100];
	uint32_t rdh = rd(0x2810);

	inject(f, rx_frame(f, mod_bc, sizeof(f), fill));
	wr(0x2818, (rd(0x2810) + NDESC - 1) % NDESC);
	for (int i = 0; i < 1000 && rd(0x2810) == rdh; i++)
		sleep_ns(100000);
}

/* One legacy frame at ring slot i with the command bits given. */
static void
tx_one(int i, uint32_t cmd)
{
	uint8_t f[60] = {0};

	memcpy(f, mod_bc, 6);
	test_gput(ctx, BUF, f, sizeof(f));
	txd_put(i, BUF, (uint32_t)sizeof(f) | cmd << 24, 0);
	wr(0x3818, (uint32_t)(i + 1) % NDESC);
	drain();
}

static void
test_itr(void)
{
	uint64_t t0, t1;
	uint32_t v;

	rd(0xc0);
	wr(0xd0, ICR_LSC);
	wr(0xc4, 0xffffffffu);
	CHECK(rd(0xc4) == 0xffff, "itr: a hostile value keeps its 16 bits");
	t0 = now_ns();
	wr(0xc8, ICR_LSC);
	CHECK(intx_level == 1, "itr: the first interrupt is not delayed");
	rd(0xc0);
	wr(0xc8, ICR_LSC);
	CHECK(intx_level == 0 && mod_state().mit_pending,
	      "itr: a second one within the interval waits");
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= ITR_MAX,
	      "itr: it is asserted when the interval has passed");
	rd(0xc0);
	/* Within the interval again; the driver reads ICR meanwhile. */
	wr(0xc8, ICR_LSC);
	v = rd(0xc0);
	CHECK((v & ICR_LSC) && intx_level == 0 && !mod_state().mit_pending,
	      "itr: an ICR read while it waits takes the cause, ends the wait");
	sleep_ns(ITR_MAX + 10 * MS);
	CHECK(intx_level == 0 && rd(0xc0) == 0,
	      "itr: nothing is asserted after that interval");
	wr(0xc4, 0);
	wr(0xc8, ICR_LSC);
	rd(0xc0);
	wr(0xc8, ICR_LSC);
	CHECK(intx_level == 1, "itr 0: back-to-back interrupts at once");
	rd(0xc0);
	wr(0xd8, 0xffffffffu);
}

static void
test_rdtr(void)
{
	uint64_t t0, t1;
	struct e1000_state st;

	rx_setup(0x2 | 0x8000 | SECRC);
	rd(0xc0);
	wr(0xd0, ICR_RXT0);
	rx_one(1);
	CHECK(intx_level == 1 && rd(0x2810) == 1,
	      "rdtr 0: RXT0 asserted with the frame");
	rd(0xc0);
	wr(0x2820, 20000); /* 20.48 ms */
	t0 = now_ns();
	rx_one(2);
	st = mod_state();
	CHECK(intx_level == 0 && (st.held & ICR_RXT0) && (st.icr & ICR_RXT0),
	      "rdtr: RXT0 in ICR at once, its interrupt held");
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= DLY(20000), "rdtr: asserted after RDTR");
	rd(0xc0);
	/* A second frame restarts the packet timer. */
	wr(0x2820, 40000); /* 40.96 ms */
	t0 = now_ns();
	rx_one(3);
	sleep_ns(10 * MS);
	rx_one(4);
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= 10 * MS + DLY(40000),
	      "rdtr: every frame restarts it");
	rd(0xc0);
	/* FPD ends the delay at once and is not stored. */
	wr(0x2820, 0xffff);
	rx_one(5);
	CHECK(intx_level == 0, "rdtr fpd: the frame's interrupt held");
	wr(0x2820, 0x8000ffffu);
	CHECK(intx_level == 1 && rd(0x2820) == 0xffff && !mod_state().held,
	      "rdtr fpd: flushes at once, reads back without FPD");
	rd(0xc0);
}

static void
test_radv(void)
{
	uint64_t t0, t1 = 0;
	int n;

	rx_setup(0x2 | 0x8000 | SECRC);
	rd(0xc0);
	wr(0xd0, ICR_RXT0);
	/* Frames every 4 ms keep restarting RDTR; RADV fires anyway. */
	wr(0x2820, 0xffff); /* 67.1 ms */
	wr(0x282c, 10000);  /* 10.24 ms */
	t0 = now_ns();
	for (n = 0; n < NDESC - 1 && !intx_level; n++) {
		rx_one((uint8_t)(0x10 + n));
		sleep_ns(4 * MS);
	}
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= DLY(10000) && t1 - t0 < DLY(0xffff),
	      "radv: asserted from the first frame, while RDTR restarts");
	rd(0xc0);
	/* The driver reads ICR while a delay runs: the delay ends. */
	rx_setup(0x2 | 0x8000 | SECRC);
	wr(0x2820, 0xffff);
	wr(0x282c, 0);
	rx_one(0x20);
	CHECK((rd(0xc0) & ICR_RXT0) && !mod_state().mit_pending &&
		  !mod_state().held,
	      "icr read during RDTR: RXT0 read, the delay ends");
	sleep_ns(DLY(0xffff) + 10 * MS);
	CHECK(intx_level == 0, "icr read during RDTR: no interrupt later");
	/* The hook tests and fuzzers use: the delay runs out now. */
	rx_one(0x21);
	CHECK(intx_level == 0 && mod_state().held == ICR_RXT0,
	      "moderation expire: held before");
	e1000_moderation_expire(pi);
	CHECK(intx_level == 1 && !mod_state().mit_pending,
	      "moderation expire: asserted, nothing pending");
	rd(0xc0);
	wr(0x2820, 0);
}

static void
test_tidv(void)
{
	uint64_t t0, t1;
	int i;

	tx_setup();
	rd(0xc0);
	wr(0xd0, ICR_TXDW);
	wr(0x3820, 20000); /* 20.48 ms */
	t0 = now_ns();
	tx_one(0, 0x01 | 0x08 | 0x80); /* EOP RS IDE */
	CHECK(intx_level == 0 && (mod_state().held & ICR_TXDW) &&
		  (txd_status(0) & 1),
	      "tidv: RS+IDE: DD written, TXDW held");
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= DLY(20000), "tidv: TXDW after TIDV");
	rd(0xc0);
	tx_one(1, 0x01 | 0x08); /* EOP RS: no IDE */
	CHECK(intx_level == 1, "tidv: RS without IDE: TXDW at once");
	rd(0xc0);
	wr(0x3820, 0);
	tx_one(2, 0x01 | 0x08 | 0x80);
	CHECK(intx_level == 1, "tidv 0: RS+IDE: TXDW at once");
	rd(0xc0);
	/* TADV bounds the delay while TIDV keeps restarting. */
	tx_setup();
	wr(0x3820, 0xffff);
	wr(0x382c, 10000);
	t0 = now_ns();
	for (i = 0; i < NDESC - 1 && !intx_level; i++) {
		tx_one(i, 0x01 | 0x08 | 0x80);
		sleep_ns(4 * MS);
	}
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= DLY(10000) && t1 - t0 < DLY(0xffff),
	      "tadv: TXDW from the first descriptor, while TIDV restarts");
	rd(0xc0);
	wr(0x3820, 0);
	wr(0x382c, 0);
	wr(0xd8, 0xffffffffu);
}

static void
test_moderation_hostile(void)
{
	static const uint32_t regs[] = {0x2820, 0x282c, 0x3820, 0x382c};
	struct e1000_state st;
	uint64_t t0, t1;
	bool ok = true;

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		wr(regs[i], 0xffffffffu);
		ok &= rd(regs[i]) == 0xffff;
	}
	CHECK(ok, "delays: hostile values keep 16 bits, FPD reads 0");
	/* The longest delays still end: 67 ms, no overflow. */
	rx_setup(0x2 | 0x8000 | SECRC);
	rd(0xc0);
	wr(0xd0, ICR_RXT0);
	wr(0xc4, 0xffffffffu);
	t0 = now_ns();
	rx_one(0x30);
	t1 = intx_wait();
	CHECK(t1 != 0 && t1 - t0 >= DLY(0xffff),
	      "delays: the longest RDTR/RADV end after 67 ms");
	rd(0xc0);
	/* A reset cancels what is pending. */
	rx_one(0x31);
	st = mod_state();
	CHECK(st.mit_pending && st.held == ICR_RXT0, "reset: a delay pending");
	wr(0x0000, 0x04000000);
	st = mod_state();
	CHECK(!st.mit_pending && st.held == 0 && rd(0xc4) == 0 &&
		  rd(0x2820) == 0,
	      "reset: moderation cancelled, registers cleared");
	rd(0xc0);
	wr(0xd0, ICR_RXT0 | ICR_TXDW);
	sleep_ns(DLY(0xffff) + 10 * MS);
	CHECK(intx_level == 0 && rd(0xc0) == 0,
	      "reset: no interrupt from the cancelled delay");
	wr(0xd8, 0xffffffffu);
}

static void *
loop_main(void *arg)
{
	mevent_dispatch();
	return NULL;
}

/*
 * On a fresh device, with the event loop dispatching on its own thread
 * as in bhyve (its timers and the backend's frames arrive there); the
 * loop stops before the device is torn down.
 */
static void
test_moderation(void)
{
	pthread_t loop;

	if (!dev_start(0)) {
		CHECK(false, "e1000 builds for the moderation tests");
		return;
	}
	if (pthread_create(&loop, NULL, loop_main, NULL) != 0) {
		CHECK(false, "event loop thread");
		return;
	}
	test_itr();
	test_rdtr();
	test_radv();
	test_tidv();
	test_moderation_hostile();
	mevent_exit(0);
	pthread_join(loop, NULL);
}

/* Builds the device at SLOT with the backend offering 'cap'. */
static bool
dev_start(uint64_t cap)
{
	struct config_node *n;

	tb_cap = cap;
	test_pci_world_reset();
	pci_emul_set_intr_ops(&ti_ops);
	n = create_config_node("pci.0.4.0");
	set_config_value_node(n, "device", "e1000");
	test_config_opts(n, "backend=tbe,mac=02:00:00:00:00:01");
	if (init_pci(ctx) != 0)
		return false;
	pi = pci_emul_find_dev(0, SLOT, 0);
	if (pi == NULL)
		return false;
	mmio = pi->pi_bar[0].addr;
	iobase = (int)pi->pi_bar[1].addr;
	return true;
}

static void
test_options(void)
{
	static const char *const bad[] = {
	    "backend=tbe,mac=01:00:00:00:00:01",
	    "backend=tbe,mac=zz",
	    "backend=nosuch0",
	    "mac=02:00:00:00:00:01",
	};
	char name[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config_node *n;

		test_pci_world_reset();
		n = create_config_node("pci.0.4.0");
		set_config_value_node(n, "device", "e1000");
		test_config_opts(n, bad[i]);
		snprintf(name, sizeof(name), "options: '%s' refused", bad[i]);
		CHECK(init_pci(ctx) != 0, name);
	}
}

int
main(void)
{
	struct e1000_state st;

	ctx = vm_create_detached("e1000");
	if (ctx == NULL || vm_setup_memory(ctx, MEM_SIZE) != 0) {
		printf("FAIL: detached VM with memory\n");
		return 1;
	}
	test_options();
	/* A backend without offloads (slirp): everything in software. */
	if (!dev_start(0)) {
		CHECK(false, "e1000 builds");
		return test_done();
	}
	e1000_get_state(pi, &st);
	CHECK(memcmp(st.mac, "\x02\x00\x00\x00\x00\x01", 6) == 0 &&
		  tb_hdrlen == 10 && (st.icr & 0x4),
	      "mac= taken, 10-byte header, LSC pending at start");
	test_ids_eeprom();
	test_eecd();
	test_phy();
	test_interrupts();
	test_msi();
	test_tx_legacy();
	test_tx_csum();
	test_tx_tso();
	test_tx_abuse();
	test_rx();
	test_rx_multi();
	test_vlan();
	test_rx_abuse();
	test_reset();
	CHECK(dev_start(NETBE_OFFLOADS),
	      "e1000 builds on an offloading backend");
	test_tx_offload();
	test_tx_legacy();
	test_moderation();
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
