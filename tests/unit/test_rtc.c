/*
 * MC146818A model without KVM: a fake wall clock drives it, a probe
 * records its IRQ 8 line and the timer it asks for.  Then the platform
 * device through the port dispatcher, on a detached VM context.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "inout.h"
#include "mevent.h"
#include "platform_dev.h"
#include "rtc.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define NS 1000000000LL
#define MS 1000000LL

struct fake {
	int64_t now;
	bool level;
	int asserts;
	bool armed;
	uint64_t delay;
};

static void
fake_irq(void *arg, bool level)
{
	struct fake *f = arg;

	f->level = level;
	if (level)
		f->asserts++;
}

static void
fake_arm(void *arg, uint64_t delay)
{
	struct fake *f = arg;

	f->armed = true;
	f->delay = delay;
}

static void
fake_cancel(void *arg)
{
	struct fake *f = arg;

	f->armed = false;
}

static int64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static struct rtc_softc *
new_rtc(struct fake *f, int64_t now, int64_t zone)
{
	struct rtc_ops ops = {fake_irq, fake_arm, fake_cancel, fake_now, f};

	memset(f, 0, sizeof(*f));
	f->now = now;
	return rtc_create(&ops, zone);
}

static uint8_t
rd(struct rtc_softc *sc, int idx)
{
	rtc_io_write(sc, RTC_IO_INDEX, (uint8_t)idx);
	return rtc_io_read(sc, RTC_IO_DATA);
}

static void
wr(struct rtc_softc *sc, int idx, uint8_t v)
{
	rtc_io_write(sc, RTC_IO_INDEX, (uint8_t)idx);
	rtc_io_write(sc, RTC_IO_DATA, v);
}

/* Host time for a UTC date, through libc (independent of the model). */
static int64_t
utc_ns(int y, int mon, int d, int h, int m, int s)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mon - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = m,
			.tm_sec = s};

	return (int64_t)timegm(&tm) * NS;
}

static void
test_read_bcd_24h(void)
{
	struct fake f;
	struct rtc_softc *sc =
	    new_rtc(&f, utc_ns(2024, 3, 15, 13, 45, 30) + 250 * MS, 0);

	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x30, "bcd: seconds");
	CHECK_EQ_U64(rd(sc, RTC_MIN), 0x45, "bcd: minutes");
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x13, "bcd: hours (24h)");
	CHECK_EQ_U64(rd(sc, RTC_WDAY), 6, "bcd: 2024-03-15 is a Friday (6)");
	CHECK_EQ_U64(rd(sc, RTC_MDAY), 0x15, "bcd: day of month");
	CHECK_EQ_U64(rd(sc, RTC_MONTH), 0x03, "bcd: month");
	CHECK_EQ_U64(rd(sc, RTC_YEAR), 0x24, "bcd: year");
	CHECK_EQ_U64(rd(sc, RTC_CENTURY_IDX), 0x20, "bcd: century at 0x32");
	CHECK_EQ_U64(rd(sc, RTC_REG_A), 0x26, "reg A: divider on, 1024 Hz");
	CHECK_EQ_U64(rd(sc, RTC_REG_B), RTC_B_24H, "reg B: 24h BCD");
	CHECK_EQ_U64(rd(sc, RTC_REG_D), RTC_D_VRT, "reg D: VRT");
	f.now += 2 * NS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x32, "clock follows the host");
	f.now = utc_ns(1999, 12, 31, 23, 59, 59);
	CHECK_EQ_U64(rd(sc, RTC_YEAR), 0x99, "host 1999: year 99");
	CHECK_EQ_U64(rd(sc, RTC_CENTURY_IDX), 0x19, "host 1999: century 19");
	CHECK_EQ_U64(rd(sc, RTC_WDAY), 6, "1999-12-31 is a Friday");
	rtc_destroy(sc);
}

static void
test_binary_and_12h(void)
{
	struct fake f;
	struct rtc_softc *sc = new_rtc(&f, utc_ns(2024, 3, 15, 13, 45, 30), 0);

	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_DM_BIN);
	CHECK_EQ_U64(rd(sc, RTC_SEC), 30, "binary: seconds");
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 13, "binary: hours");
	CHECK_EQ_U64(rd(sc, RTC_YEAR), 24, "binary: year");
	CHECK_EQ_U64(rd(sc, RTC_CENTURY_IDX), 20, "binary: century");
	wr(sc, RTC_REG_B, 0);
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x81, "12h BCD: 13:xx is 1 PM");
	wr(sc, RTC_REG_B, RTC_B_DM_BIN);
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x81, "12h binary: 1 PM");
	f.now = utc_ns(2024, 3, 15, 0, 10, 0);
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 12, "12h: midnight is 12 AM");
	f.now = utc_ns(2024, 3, 15, 12, 10, 0);
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x80 | 12, "12h: noon is 12 PM");
	rtc_destroy(sc);

	sc = new_rtc(&f, utc_ns(2024, 3, 15, 13, 45, 30), 2 * 3600);
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x15, "zone offset: UTC+2 shows 15h");
	rtc_destroy(sc);
}

static void
test_uip(void)
{
	struct fake f;
	int64_t t0 = utc_ns(2024, 3, 15, 13, 45, 30);
	struct rtc_softc *sc = new_rtc(&f, t0 + 500 * MS, 0);

	CHECK(!(rd(sc, RTC_REG_A) & RTC_A_UIP), "UIP clear mid-second");
	f.now = t0 + NS - 200000; /* 200 us before the update */
	CHECK(rd(sc, RTC_REG_A) & RTC_A_UIP, "UIP set 200 us before update");
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x30, "old second until the update");
	f.now = t0 + NS - 300000;
	CHECK(!(rd(sc, RTC_REG_A) & RTC_A_UIP), "UIP clear 300 us before");
	f.now = t0 + NS;
	CHECK(!(rd(sc, RTC_REG_A) & RTC_A_UIP), "UIP clear after the update");
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x31, "new second after the update");
	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	f.now = t0 + 2 * NS - 100000;
	CHECK(!(rd(sc, RTC_REG_A) & RTC_A_UIP), "no UIP while SET");
	rtc_destroy(sc);
}

static void
test_guest_sets_time(void)
{
	struct fake f;
	struct rtc_softc *sc = new_rtc(&f, utc_ns(2024, 3, 15, 13, 45, 30), 0);

	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_SET | RTC_B_UIE);
	CHECK(!(rd(sc, RTC_REG_B) & RTC_B_UIE), "setting SET clears UIE");
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x30, "SET freezes the registers");
	wr(sc, RTC_SEC, 0x58);
	wr(sc, RTC_MIN, 0x59);
	wr(sc, RTC_HOUR, 0x23);
	wr(sc, RTC_MDAY, 0x31);
	wr(sc, RTC_MONTH, 0x12);
	wr(sc, RTC_YEAR, 0x99);
	wr(sc, RTC_CENTURY_IDX, 0x19);
	f.now += 5 * NS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x58, "no updates while SET");
	wr(sc, RTC_REG_B, RTC_B_24H);
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x58, "the set time starts now");
	f.now += 3 * NS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x01, "and runs: seconds");
	CHECK_EQ_U64(rd(sc, RTC_MIN), 0x00, "rolls over: minutes");
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x00, "rolls over: hours");
	CHECK_EQ_U64(rd(sc, RTC_MDAY), 0x01, "rolls over: day");
	CHECK_EQ_U64(rd(sc, RTC_MONTH), 0x01, "rolls over: month");
	CHECK_EQ_U64(rd(sc, RTC_YEAR), 0x00, "rolls over: year");
	CHECK_EQ_U64(rd(sc, RTC_CENTURY_IDX), 0x20, "rolls over: century");
	CHECK_EQ_U64(rd(sc, RTC_WDAY), 7, "2000-01-01 is a Saturday (7)");
	f.now += 3600 * NS;
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x01, "the offset persists");

	/* One register written while the clock runs. */
	wr(sc, RTC_MIN, 0x17);
	CHECK_EQ_U64(rd(sc, RTC_MIN), 0x17, "running write: minutes");
	CHECK_EQ_U64(rd(sc, RTC_HOUR), 0x01, "running write: hours kept");
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x01, "running write: seconds kept");

	/* Garbage is clamped, not trusted. */
	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_SET);
	wr(sc, RTC_MONTH, 0xff);
	wr(sc, RTC_CENTURY_IDX, 0xff);
	wr(sc, RTC_REG_B, RTC_B_24H);
	CHECK_EQ_U64(rd(sc, RTC_MONTH), 0x12, "bad month clamps to 12");
	CHECK_EQ_U64(rd(sc, RTC_CENTURY_IDX), 0x21, "bad year clamps to 2199");
	rtc_destroy(sc);
}

static void
test_periodic(void)
{
	struct fake f;
	int64_t t0 = utc_ns(2024, 3, 15, 13, 45, 30);
	struct rtc_softc *sc = new_rtc(&f, t0, 0);

	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL | 0x0f); /* 2 Hz */
	rd(sc, RTC_REG_C);
	f.now = t0 + 100 * MS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C), 0, "no PF within the period");
	CHECK(!f.armed, "no timer without an enabled interrupt");
	f.now = t0 + 600 * MS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_PF,
		     "PF after the period, without PIE: no IRQF");
	CHECK(!f.level, "no interrupt without PIE");
	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	CHECK(f.armed && f.delay == 400 * MS, "PIE: timer for the next tick");
	f.now += (int64_t)f.delay;
	rtc_timer_expired(sc);
	CHECK(f.level, "PIE: IRQ 8 raised at the tick");
	CHECK(!f.armed, "no timer while the line is up");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_IRQF | RTC_C_PF | RTC_C_UF,
		     "reg C: IRQF, PF (and UF at the second)");
	CHECK(!f.level, "reading C lowers IRQ 8");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), 0, "reading C cleared the flags");
	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL | 0x06); /* 1024 Hz */
	CHECK(f.armed && f.delay <= 976563 && f.delay > 0,
	      "1024 Hz: next tick within 977 us");
	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL | 0x03); /* 8192 Hz */
	CHECK(f.armed && f.delay <= 122071, "8192 Hz: within 123 us");
	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL | 0x01); /* as rate 8: 256 Hz */
	f.now += 3906250;
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_IRQF | RTC_C_PF,
		     "RS=1 is 256 Hz");
	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL);
	CHECK(!f.armed, "RS=0: no periodic interrupt");
	rtc_destroy(sc);
}

static void
test_update_and_alarm(void)
{
	struct fake f;
	int64_t t0 = utc_ns(2024, 3, 15, 13, 45, 30) + 300 * MS;
	struct rtc_softc *sc = new_rtc(&f, t0, 0);

	wr(sc, RTC_REG_A, RTC_A_DV_NORMAL); /* no periodic flags */
	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	CHECK(f.armed && f.delay == 700 * MS, "UIE: timer for the update");
	f.now += 700 * MS;
	rtc_timer_expired(sc);
	CHECK(f.level, "UIE: IRQ at the update");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_IRQF | RTC_C_UF, "UF|IRQF");
	wr(sc, RTC_REG_B, RTC_B_24H);

	/* Alarm at 13:45:33. */
	wr(sc, RTC_SEC_ALARM, 0x33);
	wr(sc, RTC_MIN_ALARM, 0x45);
	wr(sc, RTC_HOUR_ALARM, 0x13);
	wr(sc, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	f.now += NS; /* 13:45:32 */
	rtc_timer_expired(sc);
	CHECK(!f.level, "alarm: not at :32");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_UF, "alarm: :32 only UF");
	f.now += NS; /* 13:45:33 */
	rtc_timer_expired(sc);
	CHECK(f.level, "alarm: IRQ at 13:45:33");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_IRQF | RTC_C_AF | RTC_C_UF,
		     "alarm: AF|IRQF");
	f.now += 60 * NS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C), RTC_C_UF, "alarm: once per day");

	/* Don't-care seconds and minutes: every second of hour 13. */
	wr(sc, RTC_SEC_ALARM, 0xc0);
	wr(sc, RTC_MIN_ALARM, 0xff);
	f.now += NS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C) & RTC_C_AF, RTC_C_AF,
		     "don't-care alarm fields match");
	wr(sc, RTC_HOUR_ALARM, 0x14);
	f.now += NS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C) & RTC_C_AF, 0, "hour 14: no match");
	/* A guest polling rarely still sees the alarm of the past hour. */
	f.now += 3600 * NS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C) & RTC_C_AF, RTC_C_AF,
		     "alarm seen by a late poll");
	/* 12-hour mode compares the PM bit. */
	wr(sc, RTC_REG_B, RTC_B_AIE);
	wr(sc, RTC_HOUR_ALARM, 0x82); /* 2 PM */
	rd(sc, RTC_REG_C);
	f.now += NS;
	CHECK_EQ_U64(rd(sc, RTC_REG_C) & RTC_C_AF, RTC_C_AF,
		     "12h alarm: 2 PM matches 14h");
	rtc_destroy(sc);
}

static void
test_divider(void)
{
	struct fake f;
	int64_t t0 = utc_ns(2024, 3, 15, 13, 45, 30) + 300 * MS;
	struct rtc_softc *sc = new_rtc(&f, t0, 0);

	wr(sc, RTC_REG_A, 0x70); /* divider held in reset */
	f.now += 10 * NS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x30, "divider reset: clock stopped");
	CHECK_EQ_U64(rd(sc, RTC_REG_C), 0, "divider reset: no updates");
	wr(sc, RTC_REG_A, 0x26);
	f.now += 499 * MS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x30, "released: no update for 500 ms");
	f.now += 2 * MS;
	CHECK_EQ_U64(rd(sc, RTC_SEC), 0x31, "released: update at 500 ms");
	rtc_destroy(sc);
}

static void
test_nvram(void)
{
	struct fake f;
	struct rtc_softc *sc = new_rtc(&f, utc_ns(2024, 3, 15, 0, 0, 0), 0);
	const uint64_t mib = 1024 * 1024;
	unsigned int sum = 0;

	rtc_set_memsize(sc, 3072 * mib, 2048 * mib);
	CHECK_EQ_U64(rd(sc, 0x15) | rd(sc, 0x16) << 8, 640, "base memory");
	CHECK_EQ_U64(rd(sc, 0x17) | rd(sc, 0x18) << 8, 0xffff,
		     "extended memory saturates");
	CHECK_EQ_U64(rd(sc, 0x30) | rd(sc, 0x31) << 8, 0xffff,
		     "extended memory copy");
	CHECK_EQ_U64(rd(sc, 0x34) | rd(sc, 0x35) << 8, (3072 - 16) * 16,
		     "0x34/0x35: 64 KiB units above 16 MiB");
	CHECK_EQ_U64(rd(sc, 0x5b) | rd(sc, 0x5c) << 8 | rd(sc, 0x5d) << 16,
		     2048 * 16, "0x5b-0x5d: 64 KiB units above 4 GiB");
	for (int i = 0x10; i <= 0x2d; i++)
		sum += rd(sc, i);
	CHECK_EQ_U64(rd(sc, 0x2e) << 8 | rd(sc, 0x2f), sum & 0xffff,
		     "checksum over 0x10-0x2d");
	rtc_set_memsize(sc, 8 * mib, 0);
	CHECK_EQ_U64(rd(sc, 0x17) | rd(sc, 0x18) << 8, 7 * 1024,
		     "8 MiB: 7168 KiB extended");
	CHECK_EQ_U64(rd(sc, 0x34) | rd(sc, 0x35) << 8, 0, "8 MiB: none >16M");
	CHECK_EQ_U64(rtc_nvram_peek(sc, 0x5b), 0, "no high memory");

	wr(sc, 0x40, 0xa5);
	CHECK_EQ_U64(rd(sc, 0x40), 0xa5, "NVRAM byte reads back");
	rtc_io_write(sc, RTC_IO_INDEX, 0x80 | 0x40);
	CHECK_EQ_U64(rtc_io_read(sc, RTC_IO_DATA), 0xa5,
		     "NMI-disable bit is not part of the index");
	wr(sc, 0x7f, 0x11);
	CHECK_EQ_U64(rtc_nvram_peek(sc, 0x7f), 0x11, "last NVRAM byte");
	wr(sc, RTC_REG_D, 0);
	CHECK_EQ_U64(rd(sc, RTC_REG_D), RTC_D_VRT, "reg D is read-only");
	wr(sc, RTC_REG_C, 0xff);
	CHECK_EQ_U64(rd(sc, RTC_REG_C), 0, "reg C is read-only");
	CHECK_EQ_U64(rtc_nvram_peek(sc, 200), 0xff, "peek out of range");
	rtc_destroy(sc);
}

/* --- the platform device --- */

static uint32_t
port_rd(int idx)
{
	uint32_t v = idx;

	inout_emulate(NULL, false, RTC_IO_INDEX, 1, &v);
	v = 0;
	inout_emulate(NULL, true, RTC_IO_DATA, 1, &v);
	return v;
}

static int
bcd(uint32_t v)
{
	return (int)((v >> 4) * 10 + (v & 0xf));
}

static void
test_platform(void)
{
	const struct platform_dev *pd = test_platform_dev("rtc");
	struct vmctx *ctx = vm_create_detached("t-rtc");
	int tries;
	bool same = false;

	CHECK(pd != NULL, "platform: rtc registered");
	if (pd == NULL || ctx == NULL)
		return;
	init_config();
	init_inout();
	CHECK(mevent_init() == 0, "platform: event loop");
	set_config_value("rtc.use_localtime", "false");
	CHECK(vm_setup_memory(ctx, 256 * 1024 * 1024) == 0, "platform: memory");
	CHECK(pd->pd_init(ctx) == 0, "platform: rtc initialises");
	/* A vCPU reading the clock sees the host's UTC time (-u). */
	for (tries = 0; tries < 3 && !same; tries++) {
		time_t t = time(NULL);
		struct tm tm;
		int s = bcd(port_rd(RTC_SEC)), m = bcd(port_rd(RTC_MIN));
		int h = bcd(port_rd(RTC_HOUR));

		long d;

		gmtime_r(&t, &tm);
		/* Within a second: on a loaded host a tick may fall between
		 * the host's clock read and the three port reads. */
		d = (long)(h * 3600 + m * 60 + s) -
		    (long)(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
		d = (d + 86400) % 86400;
		same = d <= 1 || d == 86399;
	}
	CHECK(same, "platform: ports 0x70/0x71 read the host UTC time");
	CHECK_EQ_U64(port_rd(0x34) | port_rd(0x35) << 8, (256 - 16) * 16,
		     "platform: memory size from the VM");
	pd->pd_fini();
	CHECK_EQ_U64(port_rd(RTC_SEC) & 0xff, 0xff, "platform: ports released");
	vm_destroy(ctx);
	mevent_fini();
	fini_config();
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_read_bcd_24h();
	test_binary_and_12h();
	test_uip();
	test_guest_sets_time();
	test_periodic();
	test_update_and_alarm();
	test_divider();
	test_nvram();
	test_platform();
	return test_done();
}
