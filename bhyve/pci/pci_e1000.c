/*
 * e1000: an Intel 82545EM copper gigabit controller (vendor 0x8086,
 * device 0x100f), "-s N,e1000,BACKEND[,mac=xx:xx:xx:xx:xx:xx]" as in
 * bhyve.  Registers follow Intel's PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual (8254x SDM), chapter 13; the
 * descriptor formats chapter 3.
 *
 * BAR0: 128 KiB of memory-mapped registers; BAR1: the I/O window
 * (IOADDR at 0, IODATA at 4) that Linux uses to issue the reset.
 * Frames go to the shared network backends (tap, slirp) behind a 10-byte
 * virtio-net header: checksums and TCP segmentation the guest asks for
 * travel in that header when the backend takes offloads (tap: the host
 * kernel segments), and are done here in software otherwise (slirp).
 *
 * Threads: transmit runs on the vCPU thread that writes TDT; receive on
 * the mevent thread when the backend has a frame, or on the vCPU thread
 * that gives the device buffers (RDT).  One mutex covers the softc.
 * Everything in guest memory is hostile: each descriptor is copied once
 * into a local, every address and length is checked before use.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "config.h"
#include "legacy_config.h"
#include "mevent.h"
#include "net_backends.h"
#include "pci_e1000.h"
#include "pci_emul.h"
#include "vmmapi.h"
#include "vtimer.h"

#define E1000_VENDOR	 0x8086
#define E1000_DEVICE	 0x100f /* 82545EM copper */
#define E1000_SUBDEVICE	 0x1001
#define E1000_REVISION	 0x01
#define E1000_MMIO_SIZE	 0x20000
#define E1000_IO_SIZE	 8
#define E1000_MMIO_BAR	 0
#define E1000_IO_BAR	 1
#define E1000_ETH_HLEN	 14
#define E1000_RX_BUDGET	 256
#define E1000_TX_MAX	 (65536 + 256) /* a 64 KiB TSO payload + headers */
#define E1000_MAX_JUMBO	 16384	       /* RCTL.LPE (SDM 13.4.22) */
#define E1000_MAX_NOJUMB 1522	       /* 1518 + a VLAN tag */
/* What transmit may hand the backend in the virtio-net header. */
#define E1000_BE_OFFLOADS                                                      \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6)

/* Register offsets (SDM table 13-2). */
enum {
	R_CTRL = 0x0000,
	R_STATUS = 0x0008,
	R_EECD = 0x0010,
	R_EERD = 0x0014,
	R_CTRL_EXT = 0x0018,
	R_MDIC = 0x0020,
	R_FCAL = 0x0028,
	R_FCAH = 0x002c,
	R_FCT = 0x0030,
	R_VET = 0x0038,
	R_ICR = 0x00c0,
	R_ITR = 0x00c4,
	R_ICS = 0x00c8,
	R_IMS = 0x00d0,
	R_IMC = 0x00d8,
	R_RCTL = 0x0100,
	R_FCTTV = 0x0170,
	R_TXCW = 0x0178,
	R_RXCW = 0x0180,
	R_TCTL = 0x0400,
	R_TIPG = 0x0410,
	R_AIT = 0x0458,
	R_LEDCTL = 0x0e00,
	R_PBA = 0x1000,
	R_FCRTL = 0x2160,
	R_FCRTH = 0x2168,
	R_RDBAL = 0x2800,
	R_RDBAH = 0x2804,
	R_RDLEN = 0x2808,
	R_RDH = 0x2810,
	R_RDT = 0x2818,
	R_RDTR = 0x2820,
	R_RXDCTL = 0x2828,
	R_RADV = 0x282c,
	R_RSRPD = 0x2c00,
	R_TXDMAC = 0x3000,
	R_TDBAL = 0x3800,
	R_TDBAH = 0x3804,
	R_TDLEN = 0x3808,
	R_TDH = 0x3810,
	R_TDT = 0x3818,
	R_TIDV = 0x3820,
	R_TXDCTL = 0x3828,
	R_TADV = 0x382c,
	R_TSPMT = 0x3830,
	R_STATS = 0x4000, /* .. 0x40fc */
	R_RXCSUM = 0x5000,
	R_MTA = 0x5200, /* 128 entries */
	R_RA = 0x5400,	/* 16 RAL/RAH pairs */
	R_VFTA = 0x5600,
	R_WUC = 0x5800,
	R_WUFC = 0x5808,
	R_WUS = 0x5810,
	R_MANC = 0x5820,
	R_IPAV = 0x5838,
};

/* Statistics registers (SDM 13.7), as indices from R_STATS. */
enum {
	S_CRCERRS = 0x00,
	S_MPC = 0x04,
	S_ROC = 0x2b,
	S_RUC = 0x29,
	S_PRC64 = 0x17,
	S_GPRC = 0x1d,
	S_BPRC = 0x1e,
	S_MPRC = 0x1f,
	S_GPTC = 0x20,
	S_GORCL = 0x22,
	S_GOTCL = 0x24,
	S_RNBC = 0x28,
	S_TORL = 0x30,
	S_TOTL = 0x32,
	S_TPR = 0x34,
	S_TPT = 0x35,
	S_MPTC = 0x3c,
	S_BPTC = 0x3d,
	S_TSCTC = 0x3e,
	S_TSCTFC = 0x3f,
	E1000_NSTATS = 64,
};

#define CTRL_FD	     0x00000001u
#define CTRL_ASDE    0x00000020u
#define CTRL_SLU     0x00000040u
#define CTRL_RST     0x04000000u
#define CTRL_VME     0x40000000u
#define CTRL_PHY_RST 0x80000000u

#define STATUS_FD	  0x00000001u
#define STATUS_LU	  0x00000002u
#define STATUS_SPEED_1000 0x00000080u
#define STATUS_ASDV_1000  0x00000200u

#define EECD_SK	  0x001u
#define EECD_CS	  0x002u
#define EECD_DI	  0x004u
#define EECD_DO	  0x008u
#define EECD_FWE  0x030u
#define EECD_REQ  0x040u
#define EECD_GNT  0x080u
#define EECD_PRES 0x100u

#define EERD_START 0x01u
#define EERD_DONE  0x10u

#define MDIC_OP_WRITE 0x04000000u
#define MDIC_OP_READ  0x08000000u
#define MDIC_READY    0x10000000u
#define MDIC_INT_EN   0x20000000u
#define MDIC_ERROR    0x40000000u

/* Interrupt causes (SDM 13.4.17). */
#define ICR_TXDW   0x00000001u
#define ICR_TXQE   0x00000002u
#define ICR_LSC	   0x00000004u
#define ICR_RXDMT0 0x00000010u
#define ICR_RXO	   0x00000040u
#define ICR_RXT0   0x00000080u
#define ICR_MDAC   0x00000200u

#define RCTL_EN	   0x00000002u
#define RCTL_UPE   0x00000008u
#define RCTL_MPE   0x00000010u
#define RCTL_LPE   0x00000020u
#define RCTL_RDMTS 0x00000300u
#define RCTL_MO	   0x00003000u
#define RCTL_BAM   0x00008000u
#define RCTL_BSIZE 0x00030000u
#define RCTL_VFE   0x00040000u
#define RCTL_BSEX  0x02000000u
#define RCTL_SECRC 0x04000000u

#define TCTL_EN 0x00000002u

#define RAH_AV 0x80000000u

/* Interrupt moderation registers (SDM 13.4.18, 13.4.30-31, 13.4.44-45). */
#define E1000_DELAY_MASK 0xffffu     /* 16-bit fields; the rest reads 0 */
#define RDTR_FPD	 0x80000000u /* flush: the RX delay ends now */
#define E1000_ITR_UNIT	 256	     /* ns */
#define E1000_DELAY_UNIT 1024	     /* ns: 1.024 us */

/* Transmit descriptor command bits (SDM 3.3.3, 3.3.7). */
#define TXD_EOP	 0x01u
#define TXD_IC	 0x04u
#define TXD_RS	 0x08u
#define TXD_RPS	 0x10u
#define TXD_DEXT 0x20u
#define TXD_VLE	 0x40u
#define TXD_IDE	 0x80u /* delay TXDW by TIDV/TADV (SDM 3.3.3.1) */
#define TXD_TSE	 0x04u /* DCMD of a data descriptor */
#define TXD_DD	 0x01u

#define TXD_DTYP_CTX  0
#define TXD_DTYP_DATA 1

#define POPTS_IXSM 0x01u
#define POPTS_TXSM 0x02u

#define TUCMD_TCP 0x01u
#define TUCMD_IP  0x02u
#define TUCMD_TSE 0x04u

/* Receive descriptor status and errors (SDM 3.2.3). */
#define RXD_DD	 0x01u
#define RXD_EOP	 0x02u
#define RXD_IXSM 0x04u
#define RXD_VP	 0x08u
#define RXD_RXE	 0x80u

/* PHY registers (IEEE 802.3 clause 22, Marvell 88E1011). */
#define PHY_ADDR    1
#define PHY_BMCR    0
#define PHY_BMSR    1
#define PHY_ID1	    2
#define PHY_ID2	    3
#define PHY_ANAR    4
#define PHY_ANLPAR  5
#define PHY_ANER    6
#define PHY_GCR	    9
#define PHY_GSR	    10
#define PHY_EXTSR   15
#define PHY_M88_SSR 17

#define BMCR_RESET   0x8000u
#define BMCR_RESTART 0x0200u

#define EE_WORDS    64
#define EE_CHECKSUM 0xbabau

/* A TCP/IP context descriptor's fields (SDM 3.3.6). */
struct e1000_txctx {
	uint8_t ipcss, ipcso;
	uint16_t ipcse;
	uint8_t tucss, tucso;
	uint16_t tucse;
	uint32_t paylen;
	uint8_t tucmd;
	uint8_t hdrlen;
	uint16_t mss;
};

/* One transmit descriptor, as read once from the ring. */
struct e1000_txd {
	uint64_t addr;
	uint32_t lower, upper;
};

/* The Microwire EEPROM's serial state (SDM 5.3.1). */
struct e1000_ee {
	uint32_t eecd; /* SK, CS, DI, FWE, REQ as last written */
	uint32_t cmd;  /* bits shifted in so far */
	int nbits;
	bool reading;  /* shifting data out */
	bool ignoring; /* a command we do not implement: until CS drops */
	uint8_t addr;
	int outbit; /* next bit of eeprom[addr] to present, 15 .. 0 */
	bool dout;
};

/* The frame being gathered from transmit descriptors. */
struct e1000_txframe {
	uint8_t *buf;
	size_t len;
	bool active;	  /* a first descriptor was seen */
	bool drop;	  /* a bad descriptor: discard at EOP */
	bool ext;	  /* data descriptors (else legacy) */
	bool tse;	  /* TCP segmentation */
	uint8_t popts;	  /* IXSM/TXSM of the first data descriptor */
	uint8_t cso, css; /* legacy checksum insertion */
	bool ic;
};

struct e1000_softc {
	struct pci_devinst *pi;
	struct vmctx *ctx;
	pthread_mutex_t mtx;
	struct net_backend *be;
	size_t hdrlen;
	uint64_t offloads; /* E1000_BE_OFFLOADS the backend takes */
	struct mevent *rx_ev;
	bool rx_on;
	uint8_t mac[6];

	uint32_t ctrl, status, ctrl_ext, mdic, eerd;
	uint32_t icr, ims, itr;
	uint32_t rctl, tctl, tipg, vet;
	uint32_t rdbal, rdbah, rdlen, rdh, rdt, rdtr, radv, rxdctl;
	uint32_t tdbal, tdbah, tdlen, tdh, tdt, tidv, tadv, txdctl;
	uint32_t fcal, fcah, fct, fcttv, fcrtl, fcrth, pba, ledctl, rxcsum;
	uint32_t txcw, ait, tspmt, txdmac, rsrpd, wuc, wufc, wus, manc, ipav;
	uint32_t ioaddr;
	uint32_t ral[16], rah[16];
	uint32_t mta[128], vfta[128];
	uint64_t stats[E1000_NSTATS];
	uint16_t eeprom[EE_WORDS];
	struct e1000_ee ee;
	uint16_t phy[32];
	bool intx_on;	/* INTx asserted */
	bool msi_armed; /* an MSI went out and ICR was not read since */

	/*
	 * Interrupt moderation.  Causes enter ICR at once; 'held' are those
	 * whose assertion waits for their delay timer (RXT0: RDTR/RADV,
	 * TXDW: TIDV/TADV), and ITR spaces assertions.  Deadlines are
	 * CLOCK_MONOTONIC ns, 0 when not running; one timer, armed for the
	 * earliest, serves them all.
	 */
	struct vtimer *mit_vt;
	uint64_t mit_armed; /* the deadline mit_vt will fire at, 0: none */
	uint64_t rx_pkt_at, rx_abs_at; /* RDTR, RADV */
	uint64_t tx_pkt_at, tx_abs_at; /* TIDV, TADV */
	uint64_t itr_wait_at;	       /* an assertion waits for ITR */
	uint64_t last_assert;	       /* last INTx rising edge or MSI */
	uint32_t held;

	struct e1000_txctx ctx_csum, ctx_tso;
	struct e1000_txframe tx;
	uint8_t *rxbuf; /* one frame from the backend, with its header */
	size_t rxlen;	/* bytes waiting in rxbuf (0: none) */
	uint8_t seghdr[256];
};

/* ---- small helpers ---- */

static uint16_t
e1000_get16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
e1000_put16be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t
e1000_get32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
e1000_put32be(uint8_t *p, uint32_t v)
{
	e1000_put16be(p, v >> 16);
	e1000_put16be(p + 2, v);
}

/*
 * The ones' complement sum (RFC 1071) of len bytes, unfolded.  'odd'
 * says p starts at an odd offset of the summed range, so its bytes pair
 * the other way round; swapping the folded sum accounts for that.
 */
static uint32_t
e1000_csum_add(uint32_t sum, const uint8_t *p, size_t len, bool odd)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += e1000_get16be(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	if (odd)
		s = ((s & 0xff) << 8) | (s >> 8);
	sum += s;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * Inserts the checksum of frame bytes css .. cse (0: to the end) at cso,
 * when those offsets fit the frame; otherwise leaves it alone (a driver
 * error must not write outside the frame).
 */
static void
e1000_csum_insert(uint8_t *p, size_t len, unsigned css, unsigned cse,
		  unsigned cso)
{
	size_t end = cse != 0 ? (size_t)cse + 1 : len;
	uint32_t sum;

	if (end > len)
		end = len;
	if (css >= end || (size_t)cso + 2 > len)
		return;
	sum = e1000_csum_add(0, p + css, end - css, false);
	e1000_put16be(p + cso, ~sum & 0xffff);
}

/* ---- interrupt moderation (SDM 3.2.7, 3.4.1, 13.4.18) ---- */

/* RDTR, RADV, TIDV, TADV: 16 bits of 1.024 us, so at most 67.1 ms. */
static uint64_t
e1000_delay_ns(uint32_t reg)
{
	return (uint64_t)(reg & E1000_DELAY_MASK) * E1000_DELAY_UNIT;
}

/* ITR: the least gap between assertions, 16 bits of 256 ns (16.8 ms). */
static uint64_t
e1000_itr_ns(const struct e1000_softc *sc)
{
	return (uint64_t)(sc->itr & E1000_DELAY_MASK) * E1000_ITR_UNIT;
}

static uint64_t
e1000_earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	return b == 0 || a < b ? a : b;
}

static void e1000_mit_drop(struct e1000_softc *sc);

/*
 * Arms the one timer for the earliest running deadline.  A timer armed
 * for an earlier one is left alone: its callback schedules the next,
 * which spares a system call per received batch while RDTR keeps
 * restarting.  false: the timer could not be armed, so moderation is
 * dropped (nothing held, no ITR wait) rather than an interrupt lost; the
 * caller then updates the line.  Lock held.
 */
static bool
e1000_mit_schedule(struct e1000_softc *sc)
{
	uint64_t next = e1000_earliest(
	    e1000_earliest(sc->rx_pkt_at, sc->rx_abs_at),
	    e1000_earliest(e1000_earliest(sc->tx_pkt_at, sc->tx_abs_at),
			   sc->itr_wait_at));
	uint64_t now;

	if (next == 0 || (sc->mit_armed != 0 && sc->mit_armed <= next))
		return true;
	now = vtimer_now_ns();
	if (vtimer_arm(sc->mit_vt, next > now ? next - now : 0) != 0) {
		e1000_mit_drop(sc);
		return false;
	}
	sc->mit_armed = next;
	return true;
}

static void
e1000_rx_delay_end(struct e1000_softc *sc)
{
	sc->held &= ~ICR_RXT0;
	sc->rx_pkt_at = sc->rx_abs_at = 0;
}

static void
e1000_tx_delay_end(struct e1000_softc *sc)
{
	sc->held &= ~ICR_TXDW;
	sc->tx_pkt_at = sc->tx_abs_at = 0;
}

/*
 * A held cause that left ICR (read, written with ones) was serviced:
 * its delay has nothing left to announce.
 */
static void
e1000_held_sync(struct e1000_softc *sc)
{
	if ((sc->held & ICR_RXT0) && !(sc->icr & ICR_RXT0))
		e1000_rx_delay_end(sc);
	if ((sc->held & ICR_TXDW) && !(sc->icr & ICR_TXDW))
		e1000_tx_delay_end(sc);
}

/* Every delay ends and ITR forgets the last assertion. */
static void
e1000_mit_drop(struct e1000_softc *sc)
{
	e1000_rx_delay_end(sc);
	e1000_tx_delay_end(sc);
	sc->itr_wait_at = sc->last_assert = 0;
}

/* Every moderation timer stops; nothing is held (reset). */
static void
e1000_mit_cancel(struct e1000_softc *sc)
{
	e1000_mit_drop(sc);
	if (sc->mit_armed != 0 && sc->mit_vt != NULL)
		vtimer_cancel(sc->mit_vt);
	sc->mit_armed = 0;
}

/*
 * ITR: an assertion within the interval after the last one waits for
 * its end (the timer re-evaluates then).  ITR 0: never throttled.
 */
static bool
e1000_intr_throttled(struct e1000_softc *sc)
{
	uint64_t gap = e1000_itr_ns(sc), now;

	sc->itr_wait_at = 0;
	if (gap == 0)
		return false;
	now = vtimer_now_ns();
	/* last_assert <= now and gap < 2^25: no overflow. */
	if (now >= sc->last_assert + gap)
		return false;
	sc->itr_wait_at = sc->last_assert + gap;
	return e1000_mit_schedule(sc);
}

/* ---- interrupts ---- */

/*
 * INTx follows ICR & IMS as a level.  MSI is an edge: one message when
 * a cause is pending and unmasked, re-armed when the driver reads ICR
 * or masks everything (so a cause that stays pending is not lost).
 * Causes a delay timer holds do not count yet, and ITR may postpone a
 * rising edge or a message; dropping the line never waits.
 */
static void
e1000_intr_update(struct e1000_softc *sc)
{
	bool want = (sc->icr & sc->ims & ~sc->held) != 0;

	if (!want)
		sc->itr_wait_at = 0;
	if (pci_msi_enabled(sc->pi)) {
		if (sc->intx_on) {
			pci_lintr_deassert(sc->pi);
			sc->intx_on = false;
		}
		if (!want)
			sc->msi_armed = false;
		if (!want || sc->msi_armed || e1000_intr_throttled(sc))
			return;
		sc->msi_armed = true;
		sc->last_assert = vtimer_now_ns();
		pci_generate_msi(sc->pi, 0);
		return;
	}
	if (!want && sc->intx_on) {
		pci_lintr_deassert(sc->pi);
		sc->intx_on = false;
	}
	if (!want || sc->intx_on || e1000_intr_throttled(sc))
		return;
	pci_lintr_assert(sc->pi);
	sc->intx_on = true;
	sc->last_assert = vtimer_now_ns();
}

static void
e1000_intr_raise(struct e1000_softc *sc, uint32_t causes)
{
	sc->icr |= causes;
	e1000_intr_update(sc);
}

/*
 * The moderation timer's expiry (lock held): delays whose deadline
 * passed release their cause, and an assertion ITR postponed may go out.
 */
static void
e1000_mit_expire(struct e1000_softc *sc, uint64_t now)
{
	if ((sc->rx_pkt_at != 0 && sc->rx_pkt_at <= now) ||
	    (sc->rx_abs_at != 0 && sc->rx_abs_at <= now))
		e1000_rx_delay_end(sc); /* RADV also ends RDTR's count */
	if ((sc->tx_pkt_at != 0 && sc->tx_pkt_at <= now) ||
	    (sc->tx_abs_at != 0 && sc->tx_abs_at <= now))
		e1000_tx_delay_end(sc);
	e1000_intr_update(sc);
	if (!e1000_mit_schedule(sc))
		e1000_intr_update(sc);
}

static void
e1000_mit_timer(void *arg)
{
	struct e1000_softc *sc = arg;

	pthread_mutex_lock(&sc->mtx);
	sc->mit_armed = 0;
	e1000_mit_expire(sc, vtimer_now_ns());
	pthread_mutex_unlock(&sc->mtx);
}

/*
 * RXT0 for the frames just written: at once with RDTR 0 or when RXT0 is
 * already due; else when the packet timer (restarted by every batch) or
 * the absolute timer started by the first frame (RADV, only with RDTR
 * set) runs out.  RXDMT0 is never delayed.
 */
static void
e1000_rx_notify(struct e1000_softc *sc, uint32_t causes)
{
	uint64_t pkt_ns = e1000_delay_ns(sc->rdtr);
	uint64_t abs_ns = e1000_delay_ns(sc->radv);
	uint64_t now;

	if (pkt_ns == 0 || ((sc->icr & ICR_RXT0) && !(sc->held & ICR_RXT0))) {
		e1000_rx_delay_end(sc);
		e1000_intr_raise(sc, causes | ICR_RXT0);
		return;
	}
	/* now + 67 ms at most: no overflow. */
	now = vtimer_now_ns();
	sc->rx_pkt_at = now + pkt_ns;
	if (abs_ns != 0 && sc->rx_abs_at == 0)
		sc->rx_abs_at = now + abs_ns;
	sc->held |= ICR_RXT0;
	e1000_intr_raise(sc, causes | ICR_RXT0);
	if (!e1000_mit_schedule(sc))
		e1000_intr_update(sc);
}

/*
 * TXDW after a pass over the ring: at once when a descriptor asked for
 * it without IDE (which also stops the delay timers), else 'delayed'
 * (RS with IDE) starts TIDV again and TADV if idle.  TIDV 0 means no
 * delay.
 */
static void
e1000_tx_notify(struct e1000_softc *sc, uint32_t causes, bool delayed)
{
	uint64_t pkt_ns = e1000_delay_ns(sc->tidv);
	uint64_t abs_ns = e1000_delay_ns(sc->tadv);
	uint64_t now;

	if (delayed && pkt_ns == 0)
		causes |= ICR_TXDW;
	if ((causes & ICR_TXDW) ||
	    (delayed && (sc->icr & ICR_TXDW) && !(sc->held & ICR_TXDW))) {
		e1000_tx_delay_end(sc);
		e1000_intr_raise(sc, causes | (delayed ? ICR_TXDW : 0));
		return;
	}
	if (!delayed) {
		e1000_intr_raise(sc, causes);
		return;
	}
	now = vtimer_now_ns();
	sc->tx_pkt_at = now + pkt_ns;
	if (abs_ns != 0 && sc->tx_abs_at == 0)
		sc->tx_abs_at = now + abs_ns;
	sc->held |= ICR_TXDW;
	e1000_intr_raise(sc, causes | ICR_TXDW);
	if (!e1000_mit_schedule(sc))
		e1000_intr_update(sc);
}

/* RDTR.FPD: a running receive delay expires now (SDM 13.4.30). */
static void
e1000_rdtr_write(struct e1000_softc *sc, uint32_t v)
{
	sc->rdtr = v & E1000_DELAY_MASK;
	if ((v & RDTR_FPD) && (sc->held & ICR_RXT0)) {
		e1000_rx_delay_end(sc);
		e1000_intr_update(sc);
	}
}

/* ---- EEPROM (SDM 5.6) ---- */

static void
e1000_eeprom_init(struct e1000_softc *sc)
{
	uint16_t *w = sc->eeprom, sum = 0;
	int i;

	memset(w, 0, sizeof(sc->eeprom));
	for (i = 0; i < 3; i++)
		w[i] = (uint16_t)(sc->mac[2 * i] | sc->mac[2 * i + 1] << 8);
	w[0x04] = 0xffff;	   /* LED settings: driver defaults */
	w[0x0a] = 0x4400;	   /* init control 1: valid signature (01b) */
	w[0x0b] = E1000_SUBDEVICE; /* subsystem ID */
	w[0x0c] = E1000_VENDOR;	   /* subsystem vendor */
	w[0x0d] = E1000_DEVICE;	   /* device ID */
	w[0x0e] = E1000_VENDOR;	   /* vendor ID */
	w[0x0f] = 0x0000;	   /* init control 2: no flow control */
	w[0x24] = 0x0000;	   /* init control 3 port A: no wake-up */
	for (i = 0; i < EE_WORDS - 1; i++)
		sum = (uint16_t)(sum + w[i]);
	/* The words sum to 0xBABA (SDM 5.6.19): Linux checks it. */
	w[EE_WORDS - 1] = (uint16_t)(EE_CHECKSUM - sum);
}

static uint32_t
e1000_eecd_read(struct e1000_softc *sc)
{
	uint32_t v = (sc->ee.eecd &
		      (EECD_SK | EECD_CS | EECD_DI | EECD_FWE | EECD_REQ)) |
		     EECD_PRES;

	/* Nobody else uses the EEPROM: a request is granted at once. */
	if (v & EECD_REQ)
		v |= EECD_GNT;
	if (sc->ee.dout)
		v |= EECD_DO;
	return v;
}

/* A rising SK edge while CS is high: one bit in, or the next bit out. */
static void
e1000_ee_clock(struct e1000_softc *sc, bool di)
{
	struct e1000_ee *ee = &sc->ee;

	if (ee->ignoring)
		return;
	if (ee->reading) {
		ee->dout = (sc->eeprom[ee->addr] >> ee->outbit) & 1;
		if (--ee->outbit < 0) {
			/* Sequential read goes on with the next word. */
			ee->outbit = 15;
			ee->addr = (uint8_t)((ee->addr + 1) % EE_WORDS);
		}
		return;
	}
	/* Zeros before the start bit are ignored (Microwire). */
	if (ee->nbits == 0 && !di)
		return;
	ee->cmd = ee->cmd << 1 | di;
	/* Start bit, 2 opcode bits, 6 address bits (a 64-word part). */
	if (++ee->nbits < 9)
		return;
	if (((ee->cmd >> 6) & 7) == 6) { /* 1 10: READ */
		ee->reading = true;
		ee->addr = (uint8_t)(ee->cmd & 0x3f);
		ee->outbit = 15;
		ee->dout = false; /* the dummy zero before D15 */
	} else {
		/* Write, erase, enable: the EEPROM is read-only here. */
		ee->ignoring = true;
	}
}

static void
e1000_eecd_write(struct e1000_softc *sc, uint32_t v)
{
	struct e1000_ee *ee = &sc->ee;
	uint32_t old = ee->eecd;

	ee->eecd = v;
	if (!(v & EECD_CS)) {
		ee->cmd = 0;
		ee->nbits = 0;
		ee->reading = ee->ignoring = false;
		ee->dout = false;
		return;
	}
	if (!(old & EECD_SK) && (v & EECD_SK))
		e1000_ee_clock(sc, (v & EECD_DI) != 0);
}

static void
e1000_eerd_write(struct e1000_softc *sc, uint32_t v)
{
	uint32_t addr = (v >> 8) & 0xff;
	uint16_t data = addr < EE_WORDS ? sc->eeprom[addr] : 0;

	if (!(v & EERD_START))
		return;
	sc->eerd = (uint32_t)data << 16 | addr << 8 | EERD_DONE;
}

/* ---- PHY (Marvell 88E1011, reached through MDIC) ---- */

static void
e1000_phy_reset(struct e1000_softc *sc)
{
	uint16_t *p = sc->phy;

	memset(sc->phy, 0, sizeof(sc->phy));
	p[PHY_BMCR] = 0x1140; /* autoneg on, full duplex, 1000 Mb/s */
	/* Link up, autoneg complete, 10/100 abilities, extended status. */
	p[PHY_BMSR] = 0x796d;
	p[PHY_ID1] = 0x0141; /* Marvell: the 88E1011 id Linux matches */
	p[PHY_ID2] = 0x0c20;
	p[PHY_ANAR] = 0x01e1;
	p[PHY_ANLPAR] = 0x41e1; /* partner: 10/100 both duplexes, ack */
	p[PHY_ANER] = 0x0001;
	p[PHY_GCR] = 0x0300;
	p[PHY_GSR] = 0x3c00; /* receivers OK, partner 1000 FD and HD */
	p[PHY_EXTSR] = 0x3000;
	/* Resolved 1000 Mb/s full duplex, link up (88E1011 reg 17). */
	p[PHY_M88_SSR] = 0xac00;
}

static bool
e1000_phy_readonly(int reg)
{
	switch (reg) {
	case PHY_BMSR:
	case PHY_ID1:
	case PHY_ID2:
	case PHY_ANLPAR:
	case PHY_ANER:
	case PHY_GSR:
	case PHY_EXTSR:
	case PHY_M88_SSR:
		return true;
	default:
		return false;
	}
}

static void
e1000_phy_write(struct e1000_softc *sc, int reg, uint16_t v)
{
	if (e1000_phy_readonly(reg))
		return;
	if (reg == PHY_BMCR) {
		if (v & BMCR_RESET) {
			e1000_phy_reset(sc);
			return;
		}
		/* Autonegotiation completes at once: clear the restart. */
		v &= (uint16_t)~BMCR_RESTART;
	}
	sc->phy[reg] = v;
}

static void
e1000_mdic_write(struct e1000_softc *sc, uint32_t v)
{
	int phy = (v >> 21) & 0x1f, reg = (v >> 16) & 0x1f;

	v &= ~(MDIC_READY | MDIC_ERROR);
	if (phy != PHY_ADDR) {
		v |= MDIC_ERROR;
	} else if ((v & (MDIC_OP_READ | MDIC_OP_WRITE)) == MDIC_OP_READ) {
		v = (v & 0xffff0000u) | sc->phy[reg];
	} else if ((v & (MDIC_OP_READ | MDIC_OP_WRITE)) == MDIC_OP_WRITE) {
		e1000_phy_write(sc, reg, (uint16_t)v);
	} else {
		v |= MDIC_ERROR;
	}
	sc->mdic = v | MDIC_READY;
	if (v & MDIC_INT_EN)
		e1000_intr_raise(sc, ICR_MDAC);
}

/* ---- receive: backend -> guest ---- */

static void
e1000_rx_event(struct e1000_softc *sc, bool on)
{
	if (sc->rx_ev == NULL || sc->rx_on == on)
		return;
	if (on)
		mevent_enable(sc->rx_ev);
	else
		mevent_disable(sc->rx_ev);
	sc->rx_on = on;
}

static uint32_t
e1000_rx_ndesc(const struct e1000_softc *sc)
{
	return sc->rdlen / 16;
}

/* The receiver is on and its ring registers make sense. */
static bool
e1000_rx_ready(const struct e1000_softc *sc)
{
	uint32_t n = e1000_rx_ndesc(sc);

	return (sc->rctl & RCTL_EN) && n != 0 && sc->rdh < n && sc->rdt < n;
}

/* RCTL.BSIZE/BSEX (SDM 13.4.22). */
static size_t
e1000_rx_bufsize(uint32_t rctl)
{
	static const size_t normal[4] = {2048, 1024, 512, 256};
	static const size_t ext[4] = {2048, 16384, 8192, 4096};
	unsigned bs = (rctl & RCTL_BSIZE) >> 16;

	return (rctl & RCTL_BSEX) ? ext[bs] : normal[bs];
}

/* The 12-bit multicast hash RCTL.MO selects (SDM 13.5.1). */
static unsigned
e1000_mta_hash(uint32_t rctl, const uint8_t *dst)
{
	unsigned mo = (rctl & RCTL_MO) >> 12;
	unsigned v = (unsigned)dst[4] | (unsigned)dst[5] << 8;
	static const unsigned shift[4] = {4, 3, 2, 0};

	return (v >> shift[mo]) & 0xfff;
}

static bool
e1000_rx_exact(const struct e1000_softc *sc, const uint8_t *dst)
{
	int i;

	for (i = 0; i < 16; i++) {
		uint8_t a[6];

		if (!(sc->rah[i] & RAH_AV))
			continue;
		memcpy(a, &sc->ral[i], 4); /* little-endian register */
		a[4] = (uint8_t)sc->rah[i];
		a[5] = (uint8_t)(sc->rah[i] >> 8);
		if (memcmp(a, dst, 6) == 0)
			return true;
	}
	return false;
}

/* Destination filtering (SDM 3.2.4 / 13.4.22). */
static bool
e1000_rx_accept(const struct e1000_softc *sc, const uint8_t *f, size_t len)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	unsigned h;

	if (len < E1000_ETH_HLEN)
		return false;
	if (memcmp(f, bcast, 6) == 0)
		return (sc->rctl & (RCTL_BAM | RCTL_MPE)) != 0;
	if (f[0] & 1) {
		if (sc->rctl & RCTL_MPE)
			return true;
		h = e1000_mta_hash(sc->rctl, f);
		return ((sc->mta[h >> 5] >> (h & 31)) & 1) ||
		       e1000_rx_exact(sc, f);
	}
	return (sc->rctl & RCTL_UPE) || e1000_rx_exact(sc, f);
}

/* A tag the VLAN filter table (RCTL.VFE) does not allow. */
static bool
e1000_rx_vlan_filtered(const struct e1000_softc *sc, const uint8_t *f,
		       size_t len)
{
	unsigned vid;

	if (!(sc->rctl & RCTL_VFE) || len < 18 ||
	    e1000_get16be(f + 12) != (sc->vet & 0xffff))
		return false;
	vid = e1000_get16be(f + 14) & 0xfff;
	return !((sc->vfta[vid >> 5] >> (vid & 31)) & 1);
}

static void
e1000_stat_add(struct e1000_softc *sc, int idx, uint64_t v)
{
	sc->stats[idx] += v;
}

static void
e1000_rx_count(struct e1000_softc *sc, const uint8_t *f, size_t len)
{
	/* Octet counters include the 4 CRC bytes (SDM 13.7). */
	e1000_stat_add(sc, S_GPRC, 1);
	e1000_stat_add(sc, S_TPR, 1);
	e1000_stat_add(sc, S_GORCL, len + 4);
	e1000_stat_add(sc, S_TORL, len + 4);
	if (f[0] & 1)
		e1000_stat_add(
		    sc,
		    memcmp(f, "\xff\xff\xff\xff\xff\xff", 6) ? S_MPRC : S_BPRC,
		    1);
}

/*
 * Writes one receive descriptor's status half (length, checksum,
 * status, errors, special) after its data, so the driver never sees DD
 * before the bytes.
 */
static void
e1000_rx_writeback(struct e1000_softc *sc, uint64_t dgpa, uint16_t len,
		   uint8_t status, uint8_t errors, uint16_t special)
{
	uint8_t wb[8];
	uint8_t *p = vm_map_gpa(sc->ctx, dgpa + 8, 8);

	if (p == NULL)
		return;
	wb[0] = (uint8_t)len;
	wb[1] = (uint8_t)(len >> 8);
	wb[2] = wb[3] = 0; /* packet checksum: not computed (IXSM) */
	wb[4] = status;
	wb[5] = errors;
	wb[6] = (uint8_t)special;
	wb[7] = (uint8_t)(special >> 8);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(p, wb, 8);
}

/*
 * Places the frame f (len bytes) in the ring from RDH, one buffer per
 * descriptor.  1: done; 0: not enough descriptors yet; -1: dropped.
 */
static int
e1000_rx_frame(struct e1000_softc *sc, const uint8_t *f, size_t len, bool vp,
	       uint16_t tci)
{
	uint32_t n = e1000_rx_ndesc(sc), avail, need, i;
	uint64_t base = (uint64_t)sc->rdbah << 32 | sc->rdbal;
	size_t bufsz = e1000_rx_bufsize(sc->rctl), off = 0;
	bool bad = false;

	need = (uint32_t)((len + bufsz - 1) / bufsz);
	if (need == 0)
		need = 1;
	/* The ring can never hold it (one slot always stays empty). */
	if (need > n - 1)
		return -1;
	avail = (sc->rdt + n - sc->rdh) % n;
	if (avail < need)
		return 0;
	for (i = 0; i < need; i++) {
		uint64_t dgpa = base + 16ULL * sc->rdh, addr;
		size_t chunk = len - off < bufsz ? len - off : bufsz;
		bool last = i + 1 == need;
		uint8_t *dst;

		if (vm_copyin(sc->ctx, dgpa, &addr, 8) != 0) {
			/* The ring is not in RAM: nothing can be written. */
			return -1;
		}
		addr = le64toh(addr);
		dst = bad ? NULL : vm_map_gpa(sc->ctx, addr, chunk);
		if (dst == NULL)
			bad = true;
		else
			memcpy(dst, f + off, chunk);
		off += chunk;
		/* A bad buffer fails the frame: RXE on its last descriptor
		 * makes the driver drop it (SDM 3.2.3.2). */
		e1000_rx_writeback(sc, dgpa, bad ? 0 : (uint16_t)chunk,
				   (uint8_t)(RXD_DD | RXD_IXSM |
					     (last ? RXD_EOP : 0) |
					     (vp ? RXD_VP : 0)),
				   last && bad ? RXD_RXE : 0, vp ? tci : 0);
		sc->rdh = (sc->rdh + 1) % n;
	}
	return 1;
}

/* Strips a VLAN tag into the descriptor when CTRL.VME asks (SDM 9.4). */
static uint8_t *
e1000_rx_untag(struct e1000_softc *sc, uint8_t *f, size_t *len, bool *vp,
	       uint16_t *tci)
{
	*vp = false;
	*tci = 0;
	if (!(sc->ctrl & CTRL_VME) || *len < 18 ||
	    e1000_get16be(f + 12) != (sc->vet & 0xffff))
		return f;
	*vp = true;
	*tci = e1000_get16be(f + 14);
	memmove(f + 4, f, 12);
	*len -= 4;
	return f + 4;
}

/* Whether the frame waiting in rxbuf passes the size and address filters. */
static bool
e1000_rx_wanted(struct e1000_softc *sc, const uint8_t *f, size_t len)
{
	size_t max = (sc->rctl & RCTL_LPE) ? E1000_MAX_JUMBO : E1000_MAX_NOJUMB;

	if (len > max) {
		e1000_stat_add(sc, S_ROC, 1);
		return false;
	}
	if (len < E1000_ETH_HLEN) {
		e1000_stat_add(sc, S_RUC, 1);
		return false;
	}
	return e1000_rx_accept(sc, f, len) &&
	       !e1000_rx_vlan_filtered(sc, f, len);
}

/*
 * Without RCTL.SECRC the hardware leaves the 4 CRC bytes in the buffer
 * and counts them in the length, and drivers (Linux e1000) take 4 off:
 * a zero CRC goes after the frame (rxbuf has room: frames that passed
 * e1000_rx_wanted are at most E1000_MAX_JUMBO).  Returns the length to
 * deliver.
 */
static size_t
e1000_rx_fcs(const struct e1000_softc *sc, uint8_t *f, size_t len)
{
	if (sc->rctl & RCTL_SECRC)
		return len;
	memset(f + len, 0, 4);
	return len + 4;
}

/* Frees below the RCTL.RDMTS fraction of the ring raise RXDMT0. */
static bool
e1000_rx_low(const struct e1000_softc *sc)
{
	uint32_t n = e1000_rx_ndesc(sc);
	uint32_t avail = (sc->rdt + n - sc->rdh) % n;
	unsigned rdmts = (sc->rctl & RCTL_RDMTS) >> 8;

	return avail <= (n >> (1 + (rdmts > 2 ? 2 : rdmts)));
}

/*
 * Moves frames from the backend into the ring until either runs dry.
 * A frame that finds no room waits in rxbuf with the backend unpolled,
 * until the driver writes RDT.  Lock held.
 */
static void
e1000_rx_run(struct e1000_softc *sc)
{
	size_t cap = NETBE_MAX_FRAME + sc->hdrlen;
	int budget, delivered = 0, r;
	uint8_t *f;
	size_t len;
	uint16_t tci;
	bool vp;
	ssize_t n;

	if (!e1000_rx_ready(sc)) {
		e1000_rx_event(sc, false);
		return;
	}
	for (budget = E1000_RX_BUDGET; budget > 0; budget--) {
		if (sc->rxlen == 0) {
			n = netbe_recv(sc->be, 0, sc->rxbuf, cap);
			if (n <= 0)
				break;
			if ((size_t)n <= sc->hdrlen ||
			    !e1000_rx_wanted(sc, sc->rxbuf + sc->hdrlen,
					     (size_t)n - sc->hdrlen))
				continue;
			sc->rxlen = (size_t)n;
		}
		len = sc->rxlen - sc->hdrlen;
		f = e1000_rx_untag(sc, sc->rxbuf + sc->hdrlen, &len, &vp, &tci);
		r = e1000_rx_frame(sc, f, e1000_rx_fcs(sc, f, len), vp, tci);
		if (r == 0) {
			if (vp) {
				/* Put the tag back for the next try. */
				memmove(f - 4, f, 12);
				e1000_put16be(f + 8, sc->vet);
				e1000_put16be(f + 10, tci);
			}
			e1000_stat_add(sc, S_RNBC, 1);
			e1000_rx_event(sc, false);
			e1000_intr_raise(sc, ICR_RXO);
			break;
		}
		sc->rxlen = 0;
		if (r < 0) {
			e1000_stat_add(sc, S_MPC, 1);
			continue;
		}
		e1000_rx_count(sc, f, len);
		delivered++;
	}
	if (budget > 0 && sc->rxlen == 0)
		e1000_rx_event(sc, true);
	if (delivered > 0)
		e1000_rx_notify(sc, e1000_rx_low(sc) ? ICR_RXDMT0 : 0);
}

static void
e1000_rx_callback(int fd, enum ev_type type, void *arg)
{
	struct e1000_softc *sc = arg;

	pthread_mutex_lock(&sc->mtx);
	e1000_rx_run(sc);
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- transmit: guest -> backend ---- */

/*
 * Sends pieces of one frame with a zeroed virtio-net header in front,
 * inserting the VLAN tag after the MAC addresses when the descriptor
 * asked (VLE) and CTRL.VME is set.  The first piece holds >= 14 bytes.
 */
static void
e1000_tx_send(struct e1000_softc *sc, const struct iovec *pieces, int npieces,
	      const struct virtio_net_hdr *vh, bool vle, uint16_t tci)
{
	struct virtio_net_hdr h = {0};
	struct iovec iov[8];
	uint8_t tag[4];
	size_t total = 0;
	int n = 0, i;

	if (vh != NULL)
		h = *vh;
	iov[n++] = (struct iovec){&h, sc->hdrlen};
	if (vle && (sc->ctrl & CTRL_VME)) {
		e1000_put16be(tag, sc->vet);
		e1000_put16be(tag + 2, tci);
		if (vh != NULL && vh->flags != 0) {
			/* The tag moves the offloaded headers by 4. */
			h.csum_start = htole16(le16toh(h.csum_start) + 4);
			h.hdr_len = htole16(le16toh(h.hdr_len) + 4);
		}
		iov[n++] = (struct iovec){pieces[0].iov_base, 12};
		iov[n++] = (struct iovec){tag, 4};
		iov[n++] = (struct iovec){(uint8_t *)pieces[0].iov_base + 12,
					  pieces[0].iov_len - 12};
		total += 4;
		i = 1;
	} else {
		i = 0;
	}
	for (; i < npieces && n < 8; i++)
		iov[n++] = pieces[i];
	for (i = 0; i < npieces; i++)
		total += pieces[i].iov_len;
	if (netbe_send(sc->be, 0, iov, n) < 0)
		return;
	e1000_stat_add(sc, S_GPTC, 1);
	e1000_stat_add(sc, S_TPT, 1);
	e1000_stat_add(sc, S_GOTCL, total + 4);
	e1000_stat_add(sc, S_TOTL, total + 4);
	if (((const uint8_t *)pieces[0].iov_base)[0] & 1)
		e1000_stat_add(
		    sc,
		    memcmp(pieces[0].iov_base, "\xff\xff\xff\xff\xff\xff", 6)
			? S_MPTC
			: S_BPTC,
		    1);
}

/* The context's header offsets all lie inside the segment header. */
static bool
e1000_tso_ok(const struct e1000_txctx *c, size_t len)
{
	bool v4 = c->tucmd & TUCMD_IP, tcp = c->tucmd & TUCMD_TCP;
	unsigned h = c->hdrlen;

	return c->mss != 0 && h >= E1000_ETH_HLEN && h <= len &&
	       (unsigned)c->ipcss + (v4 ? 20 : 40) <= h &&
	       (unsigned)c->ipcso + 2 <= h &&
	       (unsigned)c->tucss + (tcp ? 20 : 8) <= h &&
	       (unsigned)c->tucso + 2 <= h && c->tucss >= c->ipcss;
}

/*
 * Fixes one segment's headers: IP lengths and identification, TCP
 * sequence and flags (UDP length), then the checksums the first data
 * descriptor asked for (SDM 3.5: the driver left the pseudo-header sum
 * without the length in the TCP/UDP checksum field).
 */
static void
e1000_tso_fixup(struct e1000_softc *sc, const struct e1000_txctx *c, uint8_t *h,
		const uint8_t *pay, size_t seglen, size_t off, unsigned segno,
		bool last)
{
	bool v4 = c->tucmd & TUCMD_IP, tcp = c->tucmd & TUCMD_TCP;
	size_t hl = c->hdrlen, l4len = hl - c->tucss + seglen;
	uint32_t sum;

	if (v4) {
		e1000_put16be(h + c->ipcss + 2,
			      (uint32_t)(hl - c->ipcss + seglen));
		e1000_put16be(h + c->ipcss + 4,
			      e1000_get16be(h + c->ipcss + 4) + segno);
	} else {
		e1000_put16be(h + c->ipcss + 4,
			      (uint32_t)(hl - c->ipcss - 40 + seglen));
	}
	if (tcp) {
		e1000_put32be(h + c->tucss + 4,
			      e1000_get32be(h + c->tucss + 4) + (uint32_t)off);
		if (!last)
			h[c->tucss + 13] &= (uint8_t)~0x09; /* FIN, PSH */
	} else {
		e1000_put16be(h + c->tucss + 4, (uint32_t)l4len);
	}
	if ((sc->tx.popts & POPTS_IXSM) && v4) {
		e1000_put16be(h + c->ipcso, 0);
		e1000_csum_insert(h, hl, c->ipcss, c->ipcse, c->ipcso);
	}
	if (sc->tx.popts & POPTS_TXSM) {
		sum = e1000_csum_add(0, h + c->tucss, hl - c->tucss, false);
		sum = e1000_csum_add(sum, pay, seglen, (hl - c->tucss) & 1);
		sum += (uint32_t)l4len;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		e1000_put16be(h + c->tucso, ~sum & 0xffff);
	}
}

/* TCP segmentation in software (SDM 3.5): MSS-sized segments. */
static void
e1000_tx_tso(struct e1000_softc *sc, bool vle, uint16_t tci)
{
	const struct e1000_txctx *c = &sc->ctx_tso;
	const uint8_t *f = sc->tx.buf;
	size_t len = sc->tx.len, pay, off = 0, seg;
	unsigned segno = 0;
	struct iovec pc[2];

	if (!e1000_tso_ok(c, len)) {
		e1000_stat_add(sc, S_TSCTFC, 1);
		return;
	}
	pay = len - c->hdrlen;
	do {
		seg = pay - off < c->mss ? pay - off : c->mss;
		memcpy(sc->seghdr, f, c->hdrlen);
		e1000_tso_fixup(sc, c, sc->seghdr, f + c->hdrlen + off, seg,
				off, segno, off + seg == pay);
		pc[0] = (struct iovec){sc->seghdr, c->hdrlen};
		pc[1] = (struct iovec){(void *)(f + c->hdrlen + off), seg};
		e1000_tx_send(sc, pc, seg > 0 ? 2 : 1, NULL, vle, tci);
		off += seg;
		segno++;
	} while (off < pay);
	e1000_stat_add(sc, S_TSCTC, 1);
}

/*
 * TSO handed to the backend as one GSO frame (virtio 1.2, 5.1.6.2): the
 * host segments it, far cheaper than segments made here.  The frame's
 * IP length covers the whole frame and the TCP checksum field holds the
 * pseudo-header sum with the whole TCP length, as Linux's GSO expects;
 * the driver left it without the length (SDM 3.5).
 */
static void
e1000_tx_gso(struct e1000_softc *sc, bool vle, uint16_t tci)
{
	const struct e1000_txctx *c = &sc->ctx_tso;
	uint8_t *f = sc->tx.buf;
	size_t len = sc->tx.len;
	bool v4 = c->tucmd & TUCMD_IP;
	struct virtio_net_hdr vh = {0};
	uint32_t sum;
	struct iovec pc;

	if (v4) {
		e1000_put16be(f + c->ipcss + 2, (uint32_t)(len - c->ipcss));
		if (sc->tx.popts & POPTS_IXSM) {
			e1000_put16be(f + c->ipcso, 0);
			e1000_csum_insert(f, c->hdrlen, c->ipcss, c->ipcse,
					  c->ipcso);
		}
	} else {
		e1000_put16be(f + c->ipcss + 4,
			      (uint32_t)(len - c->ipcss - 40));
	}
	sum = e1000_get16be(f + c->tucso) + (uint32_t)(len - c->tucss);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	e1000_put16be(f + c->tucso, sum);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	vh.hdr_len = htole16(c->hdrlen);
	vh.gso_size = htole16(c->mss);
	vh.csum_start = htole16(c->tucss);
	vh.csum_offset = htole16((uint16_t)(c->tucso - c->tucss));
	pc = (struct iovec){f, len};
	e1000_tx_send(sc, &pc, 1, &vh, vle, tci);
	e1000_stat_add(sc, S_TSCTC, 1);
}

/* Whether this TSO frame can go to the backend as GSO. */
static bool
e1000_tx_gso_ok(const struct e1000_softc *sc)
{
	const struct e1000_txctx *c = &sc->ctx_tso;
	bool v4 = c->tucmd & TUCMD_IP;

	return (c->tucmd & TUCMD_TCP) && (sc->tx.popts & POPTS_TXSM) &&
	       c->tucso > c->tucss && e1000_tso_ok(c, sc->tx.len) &&
	       (sc->offloads &
		(v4 ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_HOST_TSO6));
}

/*
 * A checksum the backend can finish (NEEDS_CSUM): from tucss to the end
 * of the frame, the field after the start.  The driver left the
 * pseudo-header sum there, which is what the virtio header means.
 */
static bool
e1000_tx_csum_offload(const struct e1000_softc *sc, struct virtio_net_hdr *vh)
{
	const struct e1000_txctx *c = &sc->ctx_csum;

	if (!(sc->offloads & VIRTIO_NET_F_CSUM) || c->tucse != 0 ||
	    c->tucso < c->tucss + 2 || (size_t)c->tucso + 2 > sc->tx.len)
		return false;
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = htole16(c->tucss);
	vh->csum_offset = htole16((uint16_t)(c->tucso - c->tucss));
	return true;
}

/* The gathered frame is complete (EOP): offloads, then the backend. */
static void
e1000_tx_frame(struct e1000_softc *sc, bool vle, uint16_t tci)
{
	struct e1000_txframe *t = &sc->tx;
	const struct e1000_txctx *c = &sc->ctx_csum;
	struct virtio_net_hdr vh, *vhp = NULL;
	struct iovec pc;

	if (t->len < E1000_ETH_HLEN)
		return;
	if (t->ext && t->tse) {
		if (e1000_tx_gso_ok(sc))
			e1000_tx_gso(sc, vle, tci);
		else
			e1000_tx_tso(sc, vle, tci);
		return;
	}
	if (t->ext && (t->popts & POPTS_IXSM))
		e1000_csum_insert(t->buf, t->len, c->ipcss, c->ipcse, c->ipcso);
	if (t->ext && (t->popts & POPTS_TXSM)) {
		if (e1000_tx_csum_offload(sc, &vh))
			vhp = &vh;
		else
			e1000_csum_insert(t->buf, t->len, c->tucss, c->tucse,
					  c->tucso);
	}
	if (!t->ext && t->ic)
		e1000_csum_insert(t->buf, t->len, t->css, 0, t->cso);
	pc = (struct iovec){t->buf, t->len};
	e1000_tx_send(sc, &pc, 1, vhp, vle, tci);
}

static void
e1000_tx_context(struct e1000_softc *sc, const struct e1000_txd *d)
{
	struct e1000_txctx c;

	c.ipcss = (uint8_t)d->addr;
	c.ipcso = (uint8_t)(d->addr >> 8);
	c.ipcse = (uint16_t)(d->addr >> 16);
	c.tucss = (uint8_t)(d->addr >> 32);
	c.tucso = (uint8_t)(d->addr >> 40);
	c.tucse = (uint16_t)(d->addr >> 48);
	c.paylen = d->lower & 0xfffff;
	c.tucmd = (uint8_t)(d->lower >> 24);
	c.hdrlen = (uint8_t)(d->upper >> 8);
	c.mss = (uint16_t)(d->upper >> 16);
	/*
	 * Drivers interleave checksum-only contexts between TSO frames;
	 * keeping one of each lets a TSO frame find its own.
	 */
	if (c.tucmd & TUCMD_TSE)
		sc->ctx_tso = c;
	else
		sc->ctx_csum = c;
}

/* Appends a data or legacy descriptor's buffer to the frame. */
static void
e1000_tx_gather(struct e1000_softc *sc, uint64_t addr, size_t len)
{
	struct e1000_txframe *t = &sc->tx;
	const uint8_t *src;

	if (t->drop || len == 0)
		return;
	if (len > E1000_TX_MAX - t->len) {
		t->drop = true; /* larger than any frame we accept */
		return;
	}
	src = vm_map_gpa(sc->ctx, addr, len);
	if (src == NULL) {
		t->drop = true;
		return;
	}
	memcpy(t->buf + t->len, src, len);
	t->len += len;
}

/* One data (ext) or legacy descriptor: gathers, sends at EOP. */
static void
e1000_tx_data(struct e1000_softc *sc, const struct e1000_txd *d, bool ext)
{
	struct e1000_txframe *t = &sc->tx;
	uint8_t cmd = (uint8_t)(d->lower >> 24);
	size_t len = ext ? (d->lower & 0xfffff) : (d->lower & 0xffff);

	if (!t->active) {
		/* Options come from a frame's first descriptor (SDM 3.3). */
		t->active = true;
		t->ext = ext;
		t->tse = ext && (cmd & TXD_TSE);
		t->popts = ext ? (uint8_t)(d->upper >> 8) : 0;
		t->ic = !ext && (cmd & TXD_IC);
		t->cso = (uint8_t)(d->lower >> 16);
		t->css = (uint8_t)(d->upper >> 8);
	}
	e1000_tx_gather(sc, d->addr, len);
	if (!(cmd & TXD_EOP))
		return;
	if (!t->drop)
		e1000_tx_frame(sc, (cmd & TXD_VLE) != 0,
			       (uint16_t)(d->upper >> 16));
	t->active = t->drop = false;
	t->len = 0;
}

/* Marks a processed descriptor done (DD in its status byte). */
static void
e1000_tx_writeback(struct e1000_softc *sc, uint64_t dgpa, uint32_t upper)
{
	uint8_t *p = vm_map_gpa(sc->ctx, dgpa + 12, 1);

	if (p == NULL)
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	*p = (uint8_t)((upper & 0xf) | TXD_DD);
}

/*
 * Processes descriptors from TDH to TDT (lock held).  A ring whose
 * registers do not make sense is left alone until the driver fixes them.
 */
static void
e1000_tx_run(struct e1000_softc *sc)
{
	uint32_t n = sc->tdlen / 16;
	uint64_t base = (uint64_t)sc->tdbah << 32 | sc->tdbal;
	uint32_t causes = 0;
	bool delayed = false;
	struct e1000_txd d;
	uint8_t cmd;

	if (!(sc->tctl & TCTL_EN) || n == 0 || sc->tdh >= n || sc->tdt >= n)
		return;
	while (sc->tdh != sc->tdt) {
		uint64_t dgpa = base + 16ULL * sc->tdh;

		if (vm_copyin(sc->ctx, dgpa, &d, sizeof(d)) != 0)
			break; /* ring outside RAM: stop */
		d.addr = le64toh(d.addr);
		d.lower = le32toh(d.lower);
		d.upper = le32toh(d.upper);
		cmd = (uint8_t)(d.lower >> 24);
		if (!(cmd & TXD_DEXT))
			e1000_tx_data(sc, &d, false);
		else if (((d.lower >> 20) & 0xf) == TXD_DTYP_CTX)
			e1000_tx_context(sc, &d);
		else if (((d.lower >> 20) & 0xf) == TXD_DTYP_DATA)
			e1000_tx_data(sc, &d, true);
		else
			sc->tx.drop = sc->tx.active; /* unknown type */
		sc->tdh = (sc->tdh + 1) % n;
		if (cmd & (TXD_RS | TXD_RPS)) {
			e1000_tx_writeback(sc, dgpa, d.upper);
			if (cmd & TXD_IDE)
				delayed = true;
			else
				causes |= ICR_TXDW;
		}
	}
	if (sc->tdh == sc->tdt)
		causes |= ICR_TXQE;
	e1000_tx_notify(sc, causes, delayed);
}

/* ---- registers ---- */

static void
e1000_reset(struct e1000_softc *sc, bool power_on)
{
	sc->ctrl = CTRL_FD | CTRL_ASDE | CTRL_SLU;
	sc->status =
	    STATUS_FD | STATUS_LU | STATUS_SPEED_1000 | STATUS_ASDV_1000;
	sc->ctrl_ext = sc->mdic = sc->eerd = 0;
	sc->icr = sc->ims = sc->itr = 0;
	sc->rctl = sc->tctl = 0;
	sc->tipg = 0;
	sc->vet = 0x8100;
	sc->rdbal = sc->rdbah = sc->rdlen = sc->rdh = sc->rdt = 0;
	sc->rdtr = sc->radv = sc->rxdctl = 0;
	sc->tdbal = sc->tdbah = sc->tdlen = sc->tdh = sc->tdt = 0;
	sc->tidv = sc->tadv = sc->txdctl = 0;
	sc->fcal = sc->fcah = sc->fct = sc->fcttv = sc->fcrtl = sc->fcrth = 0;
	sc->pba = 0x30; /* 48 KiB receive packet buffer */
	sc->ledctl = sc->rxcsum = sc->txcw = sc->ait = sc->tspmt = 0;
	sc->txdmac = sc->rsrpd = sc->wuc = sc->wufc = sc->wus = 0;
	sc->manc = sc->ipav = 0;
	memset(sc->ral, 0, sizeof(sc->ral));
	memset(sc->rah, 0, sizeof(sc->rah));
	memset(sc->mta, 0, sizeof(sc->mta));
	memset(sc->vfta, 0, sizeof(sc->vfta));
	/* Receive address 0 is loaded from the EEPROM's MAC. */
	memcpy(&sc->ral[0], sc->mac, 4);
	sc->rah[0] = (uint32_t)sc->mac[4] | (uint32_t)sc->mac[5] << 8 | RAH_AV;
	memset(&sc->ctx_csum, 0, sizeof(sc->ctx_csum));
	memset(&sc->ctx_tso, 0, sizeof(sc->ctx_tso));
	sc->tx.len = 0;
	sc->tx.active = sc->tx.drop = false;
	sc->rxlen = 0;
	memset(&sc->ee, 0, sizeof(sc->ee));
	sc->ee.eecd = 0x10; /* FWE: flash writes disabled */
	if (power_on) {
		memset(sc->stats, 0, sizeof(sc->stats));
		e1000_phy_reset(sc);
	}
	e1000_rx_event(sc, false);
	e1000_mit_cancel(sc);
	/* The link is up from the start: tell the driver (SDM 13.4.17). */
	sc->icr = ICR_LSC;
	sc->msi_armed = false;
	e1000_intr_update(sc);
}

/* Statistics read-to-clear; a 64-bit pair clears on its high half. */
static uint32_t
e1000_stats_read(struct e1000_softc *sc, unsigned idx)
{
	uint64_t v;

	switch (idx) {
	case S_GORCL:
	case S_GOTCL:
	case S_TORL:
	case S_TOTL:
		return (uint32_t)sc->stats[idx];
	case S_GORCL + 1:
	case S_GOTCL + 1:
	case S_TORL + 1:
	case S_TOTL + 1:
		v = sc->stats[idx - 1] >> 32;
		sc->stats[idx - 1] = 0;
		return (uint32_t)v;
	default:
		v = sc->stats[idx];
		sc->stats[idx] = 0;
		return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
	}
}

/* The plain read/write registers: their storage, or NULL. */
static uint32_t *
e1000_reg_plain(struct e1000_softc *sc, uint32_t off)
{
	switch (off) {
	case R_CTRL_EXT:
		return &sc->ctrl_ext;
	case R_FCAL:
		return &sc->fcal;
	case R_FCAH:
		return &sc->fcah;
	case R_FCT:
		return &sc->fct;
	case R_VET:
		return &sc->vet;
	case R_FCTTV:
		return &sc->fcttv;
	case R_TXCW:
		return &sc->txcw;
	case R_TIPG:
		return &sc->tipg;
	case R_AIT:
		return &sc->ait;
	case R_LEDCTL:
		return &sc->ledctl;
	case R_PBA:
		return &sc->pba;
	case R_FCRTL:
		return &sc->fcrtl;
	case R_FCRTH:
		return &sc->fcrth;
	case R_RXDCTL:
		return &sc->rxdctl;
	case R_RSRPD:
		return &sc->rsrpd;
	case R_TXDMAC:
		return &sc->txdmac;
	case R_TXDCTL:
		return &sc->txdctl;
	case R_TSPMT:
		return &sc->tspmt;
	case R_RXCSUM:
		return &sc->rxcsum;
	case R_WUC:
		return &sc->wuc;
	case R_WUFC:
		return &sc->wufc;
	case R_WUS:
		return &sc->wus;
	case R_MANC:
		return &sc->manc;
	case R_IPAV:
		return &sc->ipav;
	default:
		return NULL;
	}
}

/* The table registers (RAL/RAH, MTA, VFTA): their storage, or NULL. */
static uint32_t *
e1000_reg_table(struct e1000_softc *sc, uint32_t off)
{
	if (off >= R_MTA && off < R_MTA + 4 * 128)
		return &sc->mta[(off - R_MTA) / 4];
	if (off >= R_VFTA && off < R_VFTA + 4 * 128)
		return &sc->vfta[(off - R_VFTA) / 4];
	if (off >= R_RA && off < R_RA + 8 * 16)
		return (off & 4) ? &sc->rah[(off - R_RA) / 8]
				 : &sc->ral[(off - R_RA) / 8];
	return NULL;
}

static uint32_t
e1000_reg_read(struct e1000_softc *sc, uint32_t off)
{
	uint32_t *p, v;

	switch (off) {
	case R_CTRL:
		return sc->ctrl;
	case R_STATUS:
		return sc->status;
	case R_EECD:
		return e1000_eecd_read(sc);
	case R_EERD:
		return sc->eerd;
	case R_MDIC:
		return sc->mdic;
	case R_ICR:
		v = sc->icr;
		sc->icr = 0;
		sc->msi_armed = false;
		e1000_held_sync(sc);
		e1000_intr_update(sc);
		return v;
	case R_IMS:
		return sc->ims;
	case R_ITR:
		return sc->itr;
	case R_RDTR:
		return sc->rdtr;
	case R_RADV:
		return sc->radv;
	case R_TIDV:
		return sc->tidv;
	case R_TADV:
		return sc->tadv;
	case R_RCTL:
		return sc->rctl;
	case R_TCTL:
		return sc->tctl;
	case R_RDBAL:
		return sc->rdbal;
	case R_RDBAH:
		return sc->rdbah;
	case R_RDLEN:
		return sc->rdlen;
	case R_RDH:
		return sc->rdh;
	case R_RDT:
		return sc->rdt;
	case R_TDBAL:
		return sc->tdbal;
	case R_TDBAH:
		return sc->tdbah;
	case R_TDLEN:
		return sc->tdlen;
	case R_TDH:
		return sc->tdh;
	case R_TDT:
		return sc->tdt;
	case R_RXCW:
		return 0;
	default:
		break;
	}
	if (off >= R_STATS && off < R_STATS + 4 * E1000_NSTATS)
		return e1000_stats_read(sc, (off - R_STATS) / 4);
	p = e1000_reg_plain(sc, off);
	if (p == NULL)
		p = e1000_reg_table(sc, off);
	return p != NULL ? *p : 0; /* unknown registers read 0 */
}

static void
e1000_ctrl_write(struct e1000_softc *sc, uint32_t v)
{
	if (v & CTRL_RST) {
		/* Self-clearing; the whole MAC returns to defaults. */
		e1000_reset(sc, false);
		return;
	}
	if (v & CTRL_PHY_RST)
		e1000_phy_reset(sc);
	sc->ctrl = v & ~(CTRL_RST | CTRL_PHY_RST);
}

static void
e1000_reg_write(struct e1000_softc *sc, uint32_t off, uint32_t v)
{
	uint32_t *p;

	switch (off) {
	case R_CTRL:
		e1000_ctrl_write(sc, v);
		return;
	case R_EECD:
		e1000_eecd_write(sc, v);
		return;
	case R_EERD:
		e1000_eerd_write(sc, v);
		return;
	case R_MDIC:
		e1000_mdic_write(sc, v);
		return;
	case R_ICR:
		sc->icr &= ~v;
		e1000_held_sync(sc);
		e1000_intr_update(sc);
		return;
	case R_ICS:
		/* A cause set by software is not delayed. */
		if (v & ICR_RXT0)
			e1000_rx_delay_end(sc);
		if (v & ICR_TXDW)
			e1000_tx_delay_end(sc);
		e1000_intr_raise(sc, v);
		return;
	case R_ITR:
		/* A new interval applies to an assertion already waiting. */
		sc->itr = v & E1000_DELAY_MASK;
		e1000_intr_update(sc);
		return;
	case R_RDTR:
		e1000_rdtr_write(sc, v);
		return;
	case R_RADV:
		sc->radv = v & E1000_DELAY_MASK;
		return;
	case R_TIDV:
		sc->tidv = v & E1000_DELAY_MASK;
		return;
	case R_TADV:
		sc->tadv = v & E1000_DELAY_MASK;
		return;
	case R_IMS:
		sc->ims |= v;
		e1000_intr_update(sc);
		return;
	case R_IMC:
		sc->ims &= ~v;
		e1000_intr_update(sc);
		return;
	case R_RCTL:
		sc->rctl = v;
		e1000_rx_run(sc);
		return;
	case R_TCTL:
		sc->tctl = v;
		e1000_tx_run(sc);
		return;
	case R_RDBAL:
		sc->rdbal = v & ~0xfu;
		return;
	case R_RDBAH:
		sc->rdbah = v;
		return;
	case R_RDLEN:
		sc->rdlen = v & 0xfff80u;
		return;
	case R_RDH:
		sc->rdh = v & 0xffff;
		return;
	case R_RDT:
		sc->rdt = v & 0xffff;
		e1000_rx_run(sc);
		return;
	case R_TDBAL:
		sc->tdbal = v & ~0xfu;
		return;
	case R_TDBAH:
		sc->tdbah = v;
		return;
	case R_TDLEN:
		sc->tdlen = v & 0xfff80u;
		return;
	case R_TDH:
		sc->tdh = v & 0xffff;
		return;
	case R_TDT:
		sc->tdt = v & 0xffff;
		e1000_tx_run(sc);
		return;
	default:
		break;
	}
	p = e1000_reg_plain(sc, off);
	if (p == NULL)
		p = e1000_reg_table(sc, off);
	if (p != NULL)
		*p = v; /* unknown and read-only registers ignore writes */
}

/* A naturally aligned access of 1, 2 or 4 bytes at off in BAR0. */
static uint64_t
e1000_mmio_read(struct e1000_softc *sc, uint64_t off, int size)
{
	uint32_t v = e1000_reg_read(sc, (uint32_t)off & ~3u);

	if (size >= 4)
		return v;
	return (v >> (8 * (off & 3))) & ((1u << (8 * size)) - 1);
}

static void
e1000_mmio_write(struct e1000_softc *sc, uint64_t off, int size, uint32_t val)
{
	if (size != 4) {
		/* Drivers use dword accesses; narrower ones are ignored
		 * rather than merged with registers that clear on read. */
		return;
	}
	e1000_reg_write(sc, (uint32_t)off, val);
}

/* BAR1: IOADDR at 0 selects a register, IODATA at 4 accesses it. */
static uint64_t
e1000_io_read(struct e1000_softc *sc, uint64_t off, int size)
{
	if (off == 0 && size == 4)
		return sc->ioaddr;
	if (off == 4 && size == 4 && sc->ioaddr < E1000_MMIO_SIZE)
		return e1000_reg_read(sc, sc->ioaddr & ~3u);
	return 0;
}

static void
e1000_io_write(struct e1000_softc *sc, uint64_t off, int size, uint32_t val)
{
	if (off == 0 && size == 4)
		sc->ioaddr = val & 0x1fffc;
	else if (off == 4 && size == 4)
		e1000_reg_write(sc, sc->ioaddr, val);
}

static uint64_t
e1000_barread(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct e1000_softc *sc = pi->pi_arg;
	uint64_t v;

	pthread_mutex_lock(&sc->mtx);
	v = baridx == E1000_MMIO_BAR ? e1000_mmio_read(sc, offset, size)
				     : e1000_io_read(sc, offset, size);
	pthread_mutex_unlock(&sc->mtx);
	return v;
}

static void
e1000_barwrite(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	       uint64_t value)
{
	struct e1000_softc *sc = pi->pi_arg;

	pthread_mutex_lock(&sc->mtx);
	if (baridx == E1000_MMIO_BAR)
		e1000_mmio_write(sc, offset, size, (uint32_t)value);
	else
		e1000_io_write(sc, offset, size, (uint32_t)value);
	pthread_mutex_unlock(&sc->mtx);
}

/* ---- setup ---- */

/*
 * Runs on the event-loop thread after dispatch has returned (bhyve's
 * teardown) or before it starts (a failed init): no callback is in
 * flight, and deleting the events means none will run on this softc.
 */
static void
e1000_free(struct e1000_softc *sc)
{
	if (sc->rx_ev != NULL)
		mevent_delete(sc->rx_ev);
	vtimer_destroy(sc->mit_vt);
	netbe_close(sc->be);
	free(sc->rxbuf);
	free(sc->tx.buf);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

static void
e1000_pci_setup(struct pci_devinst *pi)
{
	pci_set_cfgdata16(pi, PCIR_VENDOR, E1000_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, E1000_DEVICE);
	pci_set_cfgdata8(pi, PCIR_REVID, E1000_REVISION);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0x02);	   /* network */
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, 0x00); /* ethernet */
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, E1000_VENDOR);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, E1000_SUBDEVICE);
}

/* mac= or the stable default virtio-net also uses. */
static int
e1000_config_mac(struct pci_devinst *pi, struct config_node *nvl,
		 uint8_t mac[6])
{
	const char *s = get_config_value_node(nvl, "mac");

	if (s == NULL) {
		netbe_default_mac(vm_get_name(pi->pi_vmctx), pi->pi_bus,
				  pi->pi_slot, pi->pi_func, mac);
		return 0;
	}
	if (netbe_parse_mac(s, mac) != 0) {
		fprintf(stderr,
			"bhyve: e1000 %d:%d:%d: invalid mac '%s' (want "
			"xx:xx:xx:xx:xx:xx, unicast)\n",
			pi->pi_bus, pi->pi_slot, pi->pi_func, s);
		return -1;
	}
	return 0;
}

static int
e1000_init(struct pci_devinst *pi, struct config_node *nvl)
{
	struct e1000_softc *sc;
	char err[256];

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	sc->pi = pi;
	sc->ctx = pi->pi_vmctx;
	pthread_mutex_init(&sc->mtx, NULL);
	if (e1000_config_mac(pi, nvl, sc->mac) != 0) {
		e1000_free(sc);
		return -1;
	}
	sc->be = netbe_open(get_config_value_node(nvl, "backend"), nvl, 1, err,
			    sizeof(err));
	if (sc->be == NULL) {
		fprintf(stderr, "bhyve: e1000 %d:%d:%d: %s\n", pi->pi_bus,
			pi->pi_slot, pi->pi_func, err);
		e1000_free(sc);
		return -1;
	}
	/*
	 * Transmit checksums and TSO go to the backend when it carries them
	 * (tap); nothing is asked of it for receive, so frames arrive whole
	 * behind a zeroed 10-byte header.
	 */
	sc->offloads = netbe_get_cap(sc->be) & E1000_BE_OFFLOADS;
	if (netbe_set_cap(sc->be, sc->offloads, VIRTIO_NET_HDR_LEN_LEGACY) !=
	    0) {
		sc->offloads = 0;
		netbe_set_cap(sc->be, 0, VIRTIO_NET_HDR_LEN_LEGACY);
	}
	sc->hdrlen = netbe_hdrlen(sc->be);
	sc->rxbuf = malloc(NETBE_MAX_FRAME + sc->hdrlen);
	sc->tx.buf = malloc(E1000_TX_MAX);
	if (sc->rxbuf == NULL || sc->tx.buf == NULL) {
		e1000_free(sc);
		return -1;
	}
	sc->rx_ev =
	    mevent_add(netbe_rx_fd(sc->be, 0), EVF_READ, e1000_rx_callback, sc);
	if (sc->rx_ev == NULL) {
		e1000_free(sc);
		return -1;
	}
	sc->rx_on = true;
	sc->mit_vt = vtimer_create("e1000", e1000_mit_timer, sc);
	if (sc->mit_vt == NULL) {
		e1000_free(sc);
		return -1;
	}
	pi->pi_arg = sc;
	e1000_pci_setup(pi);
	if (pci_emul_alloc_bar(pi, E1000_MMIO_BAR, PCIBAR_MEM32,
			       E1000_MMIO_SIZE) != 0 ||
	    pci_emul_alloc_bar(pi, E1000_IO_BAR, PCIBAR_IO, E1000_IO_SIZE) !=
		0 ||
	    pci_emul_add_msicap(pi, 1) < 0) {
		pi->pi_arg = NULL;
		e1000_free(sc);
		return -1;
	}
	pci_lintr_request(pi);
	e1000_eeprom_init(sc);
	pthread_mutex_lock(&sc->mtx);
	e1000_reset(sc, true);
	pthread_mutex_unlock(&sc->mtx);
	return 0;
}

static void
e1000_fini(struct pci_devinst *pi)
{
	struct e1000_softc *sc = pi->pi_arg;

	if (sc == NULL)
		return;
	e1000_free(sc);
	pi->pi_arg = NULL;
}

void
e1000_get_state(struct pci_devinst *pi, struct e1000_state *st)
{
	struct e1000_softc *sc = pi->pi_arg;

	pthread_mutex_lock(&sc->mtx);
	memcpy(st->mac, sc->mac, 6);
	st->icr = sc->icr;
	st->ims = sc->ims;
	st->rdh = sc->rdh;
	st->tdh = sc->tdh;
	st->rx_polling = sc->rx_on;
	st->rx_waiting = sc->rxlen != 0;
	st->intx = sc->intx_on;
	st->held = sc->held;
	st->mit_pending = (sc->rx_pkt_at | sc->rx_abs_at | sc->tx_pkt_at |
			   sc->tx_abs_at | sc->itr_wait_at) != 0;
	pthread_mutex_unlock(&sc->mtx);
}

void
e1000_moderation_expire(struct pci_devinst *pi)
{
	struct e1000_softc *sc = pi->pi_arg;

	pthread_mutex_lock(&sc->mtx);
	e1000_mit_drop(sc);
	e1000_mit_expire(sc, vtimer_now_ns());
	pthread_mutex_unlock(&sc->mtx);
}

static const struct pci_devemu pci_de_e1000 = {
    .pe_emu = "e1000",
    .pe_legacy_config = netbe_legacy_config,
    .pe_init = e1000_init,
    .pe_fini = e1000_fini,
    .pe_barread = e1000_barread,
    .pe_barwrite = e1000_barwrite,
};
PCI_EMUL_SET(pci_de_e1000);
