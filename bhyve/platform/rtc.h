/*
 * The PC real-time clock and CMOS NVRAM: a Motorola MC146818A model
 * (datasheet: "MC146818A Real-Time Clock Plus RAM") behind the index and
 * data ports 0x70/0x71, on ISA IRQ 8.
 *
 * The model knows nothing of KVM: it reports its interrupt line and asks
 * for timer wake-ups through rtc_ops, so unit tests and fuzzers drive it
 * with a fake clock.  rtc.c also holds the platform device that wires it
 * to the VM (vm_isa_*), the event loop and the configuration.
 */
#ifndef RTC_H
#define RTC_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_IO_INDEX 0x70
#define RTC_IO_DATA  0x71
#define RTC_IRQ	     8
/* CMOS index of the century byte: the FADT's CENTURY field. */
#define RTC_CENTURY_IDX 0x32
#define RTC_NVRAM_SIZE	128

/* Register indexes (datasheet, "Address Map"). */
#define RTC_SEC	       0x00
#define RTC_SEC_ALARM  0x01
#define RTC_MIN	       0x02
#define RTC_MIN_ALARM  0x03
#define RTC_HOUR       0x04
#define RTC_HOUR_ALARM 0x05
#define RTC_WDAY       0x06
#define RTC_MDAY       0x07
#define RTC_MONTH      0x08
#define RTC_YEAR       0x09
#define RTC_REG_A      0x0a
#define RTC_REG_B      0x0b
#define RTC_REG_C      0x0c
#define RTC_REG_D      0x0d

#define RTC_A_UIP	0x80
#define RTC_A_DV_MASK	0x70
#define RTC_A_DV_NORMAL 0x20 /* 32.768 kHz time base, divider running */
#define RTC_A_RS_MASK	0x0f
#define RTC_B_SET	0x80
#define RTC_B_PIE	0x40
#define RTC_B_AIE	0x20
#define RTC_B_UIE	0x10
#define RTC_B_SQWE	0x08
#define RTC_B_DM_BIN	0x04
#define RTC_B_24H	0x02
#define RTC_B_DSE	0x01
#define RTC_C_IRQF	0x80
#define RTC_C_PF	0x40
#define RTC_C_AF	0x20
#define RTC_C_UF	0x10
#define RTC_D_VRT	0x80

/* Memory-size bytes firmware reads (IBM PC/AT and QEMU/bhyve practice). */
#define RTC_BASEMEM_LO 0x15 /* KiB below 1 MiB: 640 */
#define RTC_BASEMEM_HI 0x16
#define RTC_EXTMEM_LO  0x17 /* KiB above 1 MiB, at most 0xffff */
#define RTC_EXTMEM_HI  0x18
#define RTC_CKSUM_HI   0x2e /* sum of bytes 0x10-0x2d */
#define RTC_CKSUM_LO   0x2f
#define RTC_EXTMEM2_LO 0x30 /* a copy of 0x17/0x18 */
#define RTC_EXTMEM2_HI 0x31
#define RTC_LMEM_LSB   0x34 /* 64 KiB units above 16 MiB, below 4 GiB */
#define RTC_LMEM_MSB   0x35
#define RTC_HMEM_LSB   0x5b /* 64 KiB units above 4 GiB */
#define RTC_HMEM_SB    0x5c
#define RTC_HMEM_MSB   0x5d

struct rtc_softc;

struct rtc_ops {
	/* The IRQ 8 output changed level (called with the model locked). */
	void (*set_irq)(void *arg, bool level);
	/* Call rtc_timer_expired() once, delay_ns from now; replaces any
	 * earlier request. */
	void (*timer_arm)(void *arg, uint64_t delay_ns);
	void (*timer_cancel)(void *arg);
	/* The host's wall clock: nanoseconds since 1970-01-01 00:00 UTC. */
	int64_t (*now_ns)(void *arg);
	void *arg;
};

/*
 * utc_offset_s is added to the host's UTC time to give the time the RTC
 * shows (0 for a UTC clock, the local zone's offset otherwise).
 */
struct rtc_softc *rtc_create(const struct rtc_ops *ops, int64_t utc_offset_s);
void rtc_destroy(struct rtc_softc *sc);

/* Guest port accesses, one byte at a time; port is 0x70 or 0x71. */
uint8_t rtc_io_read(struct rtc_softc *sc, int port);
void rtc_io_write(struct rtc_softc *sc, int port, uint8_t val);

/* Fills the memory-size bytes and the checksum over 0x10-0x2d. */
void rtc_set_memsize(struct rtc_softc *sc, uint64_t lowmem, uint64_t highmem);
/* The host's view of a CMOS byte, without side effects. */
uint8_t rtc_nvram_peek(struct rtc_softc *sc, int idx);
/* The timer asked for with timer_arm has expired. */
void rtc_timer_expired(struct rtc_softc *sc);

/*
 * Platform glue: while the HPET's legacy replacement route is on, the
 * HPET drives IRQ 8 and the RTC's own interrupt output is disconnected
 * (HPET 1.0a: LEG_RT_CNF in the General Configuration register).
 */
void rtc_set_hpet_legacy(bool on);

#endif
