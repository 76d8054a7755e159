/*
 * MC146818A real-time clock and CMOS RAM.
 *
 * The clock is not a counter that ticks: the time shown is the host's
 * wall clock plus an offset (the local zone's, and whatever the guest
 * set), so a guest reading the RTC always sees the host's time, and a
 * guest that sets the clock keeps its own time from then on.  Flags
 * (periodic, alarm, update-ended) are worked out lazily from the time
 * that passed since they were last looked at; a host timer is armed only
 * while an enabled interrupt is still to be raised.
 *
 * Time is kept in nanoseconds of "RTC time" (the broken-down date the
 * guest sees, read as if UTC) since 1970; years are held to 1900-2199 so
 * that this fits in 64 bits.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "inout.h"
#include "platform_dev.h"
#include "rtc.h"
#include "vmmapi.h"
#include "vtimer.h"

#define NS_PER_S  1000000000LL
#define S_PER_DAY 86400LL
/* UIP rises this long before each update (datasheet: 244 us). */
#define RTC_UIP_NS   244141LL
#define RTC_YEAR_MIN 1900
#define RTC_YEAR_MAX 2199
/* Alarm bytes with the two high bits set match any value. */
#define RTC_ALARM_ANY 0xc0
/* A guest that polls rarely still sees AF if the alarm matched within
 * this many seconds (every h:m:s combination occurs in a day). */
#define RTC_ALARM_SCAN S_PER_DAY
#define RTC_HOUR_PM    0x80

struct rtc_softc {
	pthread_mutex_t mtx;
	struct rtc_ops ops;
	int64_t utc_offset_ns; /* host UTC to the zone the RTC shows */
	int64_t offset_ns;     /* what the guest changed by setting it */
	int64_t frozen_ns;     /* RTC time while the divider is stopped */
	int64_t last_ns;       /* RTC time the flags were brought up to */
	bool halted;	       /* divider not in normal operation */
	bool irq;	       /* IRQ 8 output */
	uint8_t index;	       /* port 0x70, with the NMI-disable bit */
	uint8_t ram[RTC_NVRAM_SIZE];
};

struct rtc_tm {
	int sec, min, hour, mday, mon, year, wday; /* wday: 0 = Sunday */
};

/* --- calendar arithmetic (proleptic Gregorian) --- */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, struct rtc_tm *tm)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	tm->year = (int)(y + (tm->mon <= 2));
}

static void
rtc_ns_to_tm(int64_t ns, struct rtc_tm *tm)
{
	int64_t secs = floor_div(ns, NS_PER_S);
	int64_t days = floor_div(secs, S_PER_DAY);
	int64_t rem = secs - days * S_PER_DAY;

	civil_from_days(days, tm);
	tm->hour = (int)(rem / 3600);
	tm->min = (int)(rem / 60 % 60);
	tm->sec = (int)(rem % 60);
	/* 1970-01-01 was a Thursday. */
	tm->wday = (int)(days + 4 - floor_div(days + 4, 7) * 7);
}

static int
clamp(int v, int lo, int hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

static int64_t
rtc_tm_to_ns(const struct rtc_tm *tm)
{
	int64_t days;

	days = days_from_civil(clamp(tm->year, RTC_YEAR_MIN, RTC_YEAR_MAX),
			       clamp(tm->mon, 1, 12), clamp(tm->mday, 1, 31));
	return (days * S_PER_DAY + clamp(tm->hour, 0, 23) * 3600 +
		clamp(tm->min, 0, 59) * 60 + clamp(tm->sec, 0, 59)) *
	       NS_PER_S;
}

/* --- register formats: BCD or binary, 12 or 24 hours (register B) --- */

static uint8_t
rtc_enc(const struct rtc_softc *sc, int v)
{
	if (sc->ram[RTC_REG_B] & RTC_B_DM_BIN)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

/* Garbage BCD digits decode to out-of-range values that clamp later. */
static int
rtc_dec(const struct rtc_softc *sc, uint8_t v)
{
	if (sc->ram[RTC_REG_B] & RTC_B_DM_BIN)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t
rtc_enc_hour(const struct rtc_softc *sc, int hour)
{
	int h12 = hour % 12;

	if (sc->ram[RTC_REG_B] & RTC_B_24H)
		return rtc_enc(sc, hour);
	return (uint8_t)(rtc_enc(sc, h12 == 0 ? 12 : h12) |
			 (hour >= 12 ? RTC_HOUR_PM : 0));
}

static int
rtc_dec_hour(const struct rtc_softc *sc, uint8_t v)
{
	if (sc->ram[RTC_REG_B] & RTC_B_24H)
		return rtc_dec(sc, v);
	return rtc_dec(sc, v & 0x7f) % 12 + ((v & RTC_HOUR_PM) ? 12 : 0);
}

static bool
rtc_is_time_reg(int idx)
{
	return idx == RTC_SEC || idx == RTC_MIN || idx == RTC_HOUR ||
	       (idx >= RTC_WDAY && idx <= RTC_YEAR) || idx == RTC_CENTURY_IDX;
}

/* The time registers as the guest would read them at RTC time ns. */
static void
rtc_encode_time(const struct rtc_softc *sc, int64_t ns, uint8_t *ram)
{
	struct rtc_tm tm;

	rtc_ns_to_tm(ns, &tm);
	ram[RTC_SEC] = rtc_enc(sc, tm.sec);
	ram[RTC_MIN] = rtc_enc(sc, tm.min);
	ram[RTC_HOUR] = rtc_enc_hour(sc, tm.hour);
	ram[RTC_WDAY] = rtc_enc(sc, tm.wday + 1);
	ram[RTC_MDAY] = rtc_enc(sc, tm.mday);
	ram[RTC_MONTH] = rtc_enc(sc, tm.mon);
	ram[RTC_YEAR] = rtc_enc(sc, tm.year % 100);
	ram[RTC_CENTURY_IDX] = rtc_enc(sc, tm.year / 100);
}

/* The day of the week is derived from the date, as software expects. */
static int64_t
rtc_decode_time(const struct rtc_softc *sc, const uint8_t *ram)
{
	struct rtc_tm tm = {
	    .sec = rtc_dec(sc, ram[RTC_SEC]),
	    .min = rtc_dec(sc, ram[RTC_MIN]),
	    .hour = rtc_dec_hour(sc, ram[RTC_HOUR]),
	    .mday = rtc_dec(sc, ram[RTC_MDAY]),
	    .mon = rtc_dec(sc, ram[RTC_MONTH]),
	    .year = rtc_dec(sc, ram[RTC_CENTURY_IDX]) * 100 +
		    rtc_dec(sc, ram[RTC_YEAR]),
	};

	return rtc_tm_to_ns(&tm);
}

/* --- the clock --- */

static int64_t
rtc_now(struct rtc_softc *sc)
{
	if (sc->halted)
		return sc->frozen_ns;
	return sc->ops.now_ns(sc->ops.arg) + sc->utc_offset_ns + sc->offset_ns;
}

/* Makes the RTC show time ns from now on, ticking or frozen. */
static void
rtc_set_now(struct rtc_softc *sc, int64_t ns)
{
	if (sc->halted)
		sc->frozen_ns = ns;
	else
		sc->offset_ns =
		    ns - sc->ops.now_ns(sc->ops.arg) - sc->utc_offset_ns;
	sc->last_ns = ns; /* a jump of the clock is not an update */
}

static bool
rtc_ticking(const struct rtc_softc *sc)
{
	return !sc->halted && !(sc->ram[RTC_REG_B] & RTC_B_SET);
}

/*
 * Periodic rate from RS3-RS0 with the 32.768 kHz time base (datasheet,
 * "Periodic Interrupt Rate"): 0 = none, 1 and 2 repeat rates 8 and 9.
 */
static int64_t
rtc_periodic_hz(const struct rtc_softc *sc)
{
	int rs = sc->ram[RTC_REG_A] & RTC_A_RS_MASK;

	if (rs == 0)
		return 0;
	if (rs < 3)
		rs += 7;
	return 65536 >> rs;
}

/* Number of periodic ticks since 1970 at RTC time ns. */
static int64_t
rtc_periodic_index(int64_t ns, int64_t hz)
{
	int64_t s = floor_div(ns, NS_PER_S);

	return s * hz + (ns - s * NS_PER_S) * hz / NS_PER_S;
}

static bool
rtc_alarm_field_match(uint8_t alarm, uint8_t now)
{
	return (alarm & RTC_ALARM_ANY) == RTC_ALARM_ANY || alarm == now;
}

/* The alarm compares register values, in whatever format is in use. */
static bool
rtc_alarm_match(const struct rtc_softc *sc, int64_t sec)
{
	uint8_t t[RTC_NVRAM_SIZE];

	rtc_encode_time(sc, sec * NS_PER_S, t);
	return rtc_alarm_field_match(sc->ram[RTC_SEC_ALARM], t[RTC_SEC]) &&
	       rtc_alarm_field_match(sc->ram[RTC_MIN_ALARM], t[RTC_MIN]) &&
	       rtc_alarm_field_match(sc->ram[RTC_HOUR_ALARM], t[RTC_HOUR]);
}

/* Sets the flags for every event between the last look and now. */
static void
rtc_update_flags(struct rtc_softc *sc, int64_t now)
{
	int64_t hz = rtc_periodic_hz(sc), s_last, s_now, s;

	if (!rtc_ticking(sc) || now <= sc->last_ns) {
		sc->last_ns = now; /* stopped, or the host clock stepped back */
		return;
	}
	if (hz != 0 &&
	    rtc_periodic_index(now, hz) > rtc_periodic_index(sc->last_ns, hz))
		sc->ram[RTC_REG_C] |= RTC_C_PF;
	s_last = floor_div(sc->last_ns, NS_PER_S);
	s_now = floor_div(now, NS_PER_S);
	if (s_now > s_last) {
		sc->ram[RTC_REG_C] |= RTC_C_UF;
		s = s_now - s_last > RTC_ALARM_SCAN ? s_now - RTC_ALARM_SCAN
						    : s_last;
		while (++s <= s_now && !(sc->ram[RTC_REG_C] & RTC_C_AF)) {
			if (rtc_alarm_match(sc, s))
				sc->ram[RTC_REG_C] |= RTC_C_AF;
		}
	}
	sc->last_ns = now;
}

/* IRQF follows the flag/enable pairs at all times (datasheet, reg. C). */
static bool
rtc_irqf(const struct rtc_softc *sc)
{
	return (sc->ram[RTC_REG_C] & sc->ram[RTC_REG_B] &
		(RTC_C_PF | RTC_C_AF | RTC_C_UF)) != 0;
}

static void
rtc_sync_irq(struct rtc_softc *sc)
{
	bool level = rtc_irqf(sc);

	if (level)
		sc->ram[RTC_REG_C] |= RTC_C_IRQF;
	else
		sc->ram[RTC_REG_C] &= (uint8_t)~RTC_C_IRQF;
	if (level != sc->irq) {
		sc->irq = level;
		sc->ops.set_irq(sc->ops.arg, level);
	}
}

static int64_t
rtc_next_tick_ns(int64_t now, int64_t hz)
{
	int64_t k = rtc_periodic_index(now, hz) + 1;
	int64_t s = floor_div(k, hz), r = k - s * hz;

	return s * NS_PER_S + (r * NS_PER_S + hz - 1) / hz;
}

/*
 * Wakes up at the next event that would raise the interrupt line; while
 * the line is already up nothing can change until register C is read.
 */
static void
rtc_rearm(struct rtc_softc *sc, int64_t now)
{
	uint8_t b = sc->ram[RTC_REG_B];
	int64_t hz = rtc_periodic_hz(sc), next = INT64_MAX;

	if (rtc_ticking(sc) && !sc->irq) {
		if ((b & RTC_B_PIE) && hz != 0)
			next = rtc_next_tick_ns(now, hz);
		if (b & (RTC_B_UIE | RTC_B_AIE)) {
			int64_t sec = (floor_div(now, NS_PER_S) + 1) * NS_PER_S;

			next = sec < next ? sec : next;
		}
	}
	if (next == INT64_MAX)
		sc->ops.timer_cancel(sc->ops.arg);
	else
		sc->ops.timer_arm(sc->ops.arg, (uint64_t)(next - now));
}

/* --- register access --- */

static void
rtc_write_reg_a(struct rtc_softc *sc, uint8_t val)
{
	uint8_t old_dv = sc->ram[RTC_REG_A] & RTC_A_DV_MASK;
	uint8_t dv = val & RTC_A_DV_MASK;
	int64_t now = rtc_now(sc);
	bool was_reset = (old_dv & 0x60) == 0x60;

	sc->ram[RTC_REG_A] = val & (uint8_t)~RTC_A_UIP;
	if (dv != RTC_A_DV_NORMAL) {
		/* Stopped; 11x also resets the divider's sub-second chain. */
		sc->frozen_ns = now;
		if ((dv & 0x60) == 0x60)
			sc->frozen_ns = floor_div(now, NS_PER_S) * NS_PER_S;
		sc->halted = true;
		sc->last_ns = sc->frozen_ns;
	} else if (sc->halted) {
		/* Datasheet: the first update after a divider reset comes
		 * 500 ms after it is released. */
		int64_t from = sc->frozen_ns;

		if (was_reset)
			from =
			    floor_div(from, NS_PER_S) * NS_PER_S + NS_PER_S / 2;
		sc->halted = false;
		rtc_set_now(sc, from);
	}
}

static void
rtc_write_reg_b(struct rtc_softc *sc, uint8_t val)
{
	uint8_t old = sc->ram[RTC_REG_B];

	if ((val & RTC_B_SET) && !(old & RTC_B_SET)) {
		/* Freeze the registers for the guest to rewrite; setting SET
		 * also clears UIE (datasheet, register B). */
		sc->ram[RTC_REG_B] = val;
		rtc_encode_time(sc, rtc_now(sc), sc->ram);
		val &= (uint8_t)~RTC_B_UIE;
	}
	sc->ram[RTC_REG_B] = val;
	if (!(val & RTC_B_SET) && (old & RTC_B_SET))
		rtc_set_now(sc, rtc_decode_time(sc, sc->ram));
}

/* Writing one time register while the clock runs changes just it. */
static void
rtc_write_time_reg(struct rtc_softc *sc, int idx, uint8_t val)
{
	uint8_t t[RTC_NVRAM_SIZE];
	int64_t now, subsec;

	if (sc->ram[RTC_REG_B] & RTC_B_SET) {
		sc->ram[idx] = val;
		return;
	}
	if (idx == RTC_WDAY)
		return; /* derived from the date */
	now = rtc_now(sc);
	subsec = now - floor_div(now, NS_PER_S) * NS_PER_S;
	rtc_encode_time(sc, now, t);
	t[idx] = val;
	rtc_set_now(sc, rtc_decode_time(sc, t) + subsec);
}

static uint8_t
rtc_read_reg(struct rtc_softc *sc, int idx, int64_t now)
{
	uint8_t t[RTC_NVRAM_SIZE], v;
	int64_t subsec;

	if (rtc_is_time_reg(idx) && !(sc->ram[RTC_REG_B] & RTC_B_SET)) {
		rtc_encode_time(sc, now, t);
		return t[idx];
	}
	switch (idx) {
	case RTC_REG_A:
		v = sc->ram[RTC_REG_A];
		subsec = now - floor_div(now, NS_PER_S) * NS_PER_S;
		if (rtc_ticking(sc) && subsec >= NS_PER_S - RTC_UIP_NS)
			v |= RTC_A_UIP;
		return v;
	case RTC_REG_C:
		/* Reading C clears every flag and releases IRQ 8. */
		v = sc->ram[RTC_REG_C] | (rtc_irqf(sc) ? RTC_C_IRQF : 0);
		sc->ram[RTC_REG_C] = 0;
		/* The line falls now, so that a flag set again before the
		 * access ends makes a new edge for the 8259/IOAPIC. */
		rtc_sync_irq(sc);
		return v;
	case RTC_REG_D:
		return RTC_D_VRT; /* the battery is always good */
	default:
		return sc->ram[idx];
	}
}

static void
rtc_write_reg(struct rtc_softc *sc, int idx, uint8_t val)
{
	switch (idx) {
	case RTC_REG_A:
		rtc_write_reg_a(sc, val);
		break;
	case RTC_REG_B:
		rtc_write_reg_b(sc, val);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		if (rtc_is_time_reg(idx))
			rtc_write_time_reg(sc, idx, val);
		else
			sc->ram[idx] = val;
		break;
	}
}

/* Every entry point: account for elapsed time, act, then resync. */
static void
rtc_begin(struct rtc_softc *sc)
{
	pthread_mutex_lock(&sc->mtx);
	rtc_update_flags(sc, rtc_now(sc));
}

static void
rtc_end(struct rtc_softc *sc)
{
	int64_t now = rtc_now(sc);

	rtc_update_flags(sc, now);
	rtc_sync_irq(sc);
	rtc_rearm(sc, now);
	pthread_mutex_unlock(&sc->mtx);
}

uint8_t
rtc_io_read(struct rtc_softc *sc, int port)
{
	uint8_t v;

	rtc_begin(sc);
	if (port == RTC_IO_INDEX)
		v = sc->index;
	else
		v = rtc_read_reg(sc, sc->index & 0x7f, rtc_now(sc));
	rtc_end(sc);
	return v;
}

void
rtc_io_write(struct rtc_softc *sc, int port, uint8_t val)
{
	rtc_begin(sc);
	if (port == RTC_IO_INDEX)
		sc->index = val; /* bit 7 masks NMI on a PC: nothing here */
	else
		rtc_write_reg(sc, sc->index & 0x7f, val);
	rtc_end(sc);
}

void
rtc_timer_expired(struct rtc_softc *sc)
{
	rtc_begin(sc);
	rtc_end(sc);
}

uint8_t
rtc_nvram_peek(struct rtc_softc *sc, int idx)
{
	uint8_t v;

	if (idx < 0 || idx >= RTC_NVRAM_SIZE)
		return 0xff;
	pthread_mutex_lock(&sc->mtx);
	v = sc->ram[idx];
	pthread_mutex_unlock(&sc->mtx);
	return v;
}

static void
rtc_put16(uint8_t *ram, int idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	ram[idx] = (uint8_t)v;
	ram[idx + 1] = (uint8_t)(v >> 8);
}

void
rtc_set_memsize(struct rtc_softc *sc, uint64_t lowmem, uint64_t highmem)
{
	const uint64_t mib = 1024 * 1024, kib64 = 64 * 1024;
	uint64_t ext = lowmem > mib ? (lowmem - mib) / 1024 : 0;
	uint64_t above16 = lowmem > 16 * mib ? (lowmem - 16 * mib) / kib64 : 0;
	uint64_t high = highmem / kib64;
	unsigned int sum = 0;

	if (high > 0xffffff)
		high = 0xffffff;
	pthread_mutex_lock(&sc->mtx);
	rtc_put16(sc->ram, RTC_BASEMEM_LO, 640);
	rtc_put16(sc->ram, RTC_EXTMEM_LO, ext);
	rtc_put16(sc->ram, RTC_EXTMEM2_LO, ext);
	rtc_put16(sc->ram, RTC_LMEM_LSB, above16);
	sc->ram[RTC_HMEM_LSB] = (uint8_t)high;
	sc->ram[RTC_HMEM_SB] = (uint8_t)(high >> 8);
	sc->ram[RTC_HMEM_MSB] = (uint8_t)(high >> 16);
	/* The AT BIOS checksum covers 0x10-0x2d, stored big-endian. */
	for (int i = 0x10; i <= 0x2d; i++)
		sum += sc->ram[i];
	sc->ram[RTC_CKSUM_HI] = (uint8_t)(sum >> 8);
	sc->ram[RTC_CKSUM_LO] = (uint8_t)sum;
	pthread_mutex_unlock(&sc->mtx);
}

struct rtc_softc *
rtc_create(const struct rtc_ops *ops, int64_t utc_offset_s)
{
	struct rtc_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->ops = *ops;
	sc->utc_offset_ns = utc_offset_s * NS_PER_S;
	/* As firmware leaves it: divider on, 1024 Hz rate, 24h BCD. */
	sc->ram[RTC_REG_A] = RTC_A_DV_NORMAL | 0x06;
	sc->ram[RTC_REG_B] = RTC_B_24H;
	sc->last_ns = rtc_now(sc);
	return sc;
}

void
rtc_destroy(struct rtc_softc *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/* --- the platform device --- */

static struct rtc_softc *rtc_sc;
static struct vtimer *rtc_timer;
static struct vmctx *rtc_ctx;
static pthread_mutex_t rtc_line_mtx = PTHREAD_MUTEX_INITIALIZER;
static bool rtc_line, rtc_hpet_owns_irq, rtc_line_driven;
static bool rtc_ports_registered;

/* IRQ 8 as the VM sees it: the RTC's output unless the HPET took it. */
static void
rtc_drive_line(void)
{
	bool level = rtc_line && !rtc_hpet_owns_irq;

	if (level == rtc_line_driven || rtc_ctx == NULL)
		return;
	rtc_line_driven = level;
	if (level)
		vm_isa_assert_irq(rtc_ctx, RTC_IRQ, RTC_IRQ);
	else
		vm_isa_deassert_irq(rtc_ctx, RTC_IRQ, RTC_IRQ);
}

static void
rtc_glue_set_irq(void *arg, bool level)
{
	pthread_mutex_lock(&rtc_line_mtx);
	rtc_line = level;
	rtc_drive_line();
	pthread_mutex_unlock(&rtc_line_mtx);
}

void
rtc_set_hpet_legacy(bool on)
{
	pthread_mutex_lock(&rtc_line_mtx);
	rtc_hpet_owns_irq = on;
	rtc_drive_line();
	pthread_mutex_unlock(&rtc_line_mtx);
}

static void
rtc_glue_arm(void *arg, uint64_t delay_ns)
{
	vtimer_arm(rtc_timer, delay_ns);
}

static void
rtc_glue_cancel(void *arg)
{
	vtimer_cancel(rtc_timer);
}

static int64_t
rtc_glue_now(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void
rtc_glue_timer(void *arg)
{
	rtc_timer_expired(rtc_sc);
}

/* An access wider than a byte reaches consecutive ports. */
static int
rtc_glue_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	    void *arg)
{
	uint32_t value = 0;

	if (bytes < 1 || bytes > 4)
		return -1;
	for (int i = 0; i < bytes; i++) {
		int p = port + i;

		if (in) {
			uint32_t b =
			    p <= RTC_IO_DATA ? rtc_io_read(rtc_sc, p) : 0xff;

			value |= b << (8 * i);
		} else if (p <= RTC_IO_DATA) {
			rtc_io_write(rtc_sc, p, (uint8_t)(*eax >> (8 * i)));
		}
	}
	if (in)
		*eax = value;
	return 0;
}

static const struct inout_port rtc_ports = {
    .name = "rtc",
    .port = RTC_IO_INDEX,
    .size = 2,
    .flags = IOPORT_F_INOUT,
    .handler = rtc_glue_io,
};

/*
 * bhyve_config(5): rtc.use_localtime (default true) makes the RTC show
 * the host's local time; bhyve -u sets it to false for UTC.  As in
 * bhyve, the zone's offset is taken once, when the VM starts.
 */
static int64_t
rtc_zone_offset(void)
{
	time_t t = time(NULL);
	struct tm tm;

	if (!get_config_bool_default("rtc.use_localtime", true))
		return 0;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

static void rtc_fini(void);

static int
rtc_init(struct vmctx *ctx)
{
	static const struct rtc_ops ops = {
	    .set_irq = rtc_glue_set_irq,
	    .timer_arm = rtc_glue_arm,
	    .timer_cancel = rtc_glue_cancel,
	    .now_ns = rtc_glue_now,
	};

	rtc_ctx = ctx;
	rtc_line = rtc_hpet_owns_irq = rtc_line_driven = false;
	rtc_timer = vtimer_create("rtc", rtc_glue_timer, NULL);
	if (rtc_timer == NULL)
		return -1;
	rtc_sc = rtc_create(&ops, rtc_zone_offset());
	if (rtc_sc == NULL) {
		fprintf(stderr, "bhyve: rtc: out of memory\n");
		rtc_fini();
		return -1;
	}
	if (ctx != NULL)
		rtc_set_memsize(rtc_sc, vm_get_lowmem_size(ctx),
				vm_get_highmem_size(ctx));
	if (register_inout(&rtc_ports) != 0) {
		fprintf(stderr, "bhyve: rtc: ports 0x70-0x71 already in use\n");
		rtc_fini();
		return -1;
	}
	rtc_ports_registered = true;
	return 0;
}

static void
rtc_fini(void)
{
	if (rtc_ports_registered)
		unregister_inout(&rtc_ports);
	rtc_ports_registered = false;
	vtimer_destroy(rtc_timer);
	rtc_timer = NULL;
	rtc_destroy(rtc_sc);
	rtc_sc = NULL;
	rtc_ctx = NULL;
}

static const struct platform_dev rtc_dev = {
    .pd_name = "rtc",
    .pd_order = 20,
    .pd_init = rtc_init,
    .pd_fini = rtc_fini,
};
PLATFORM_DEV_SET(rtc_dev);
