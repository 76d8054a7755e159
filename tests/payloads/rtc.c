/*
 * The RTC (MC146818) from the guest: the date is the host's, the seconds
 * register ticks once per second of ACPI PM timer time (3.579545 MHz at
 * port 0x408), the update-in-progress bit shows before each tick, and the
 * NVRAM holds the memory-size bytes firmware reads.
 */
#include "payload.h"

#define RTC_INDEX   0x70
#define RTC_DATA    0x71
#define RTC_SEC	    0x00
#define RTC_MIN	    0x02
#define RTC_MONTH   0x08
#define RTC_YEAR    0x09
#define RTC_REG_A   0x0a
#define RTC_REG_B   0x0b
#define RTC_CENTURY 0x32
#define RTC_UIP	    0x80
#define RTC_BINARY  0x04
#define PM_TMR	    0x408
#define PM_TMR_HZ   3579545u

static uint8_t
rtc_read(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static unsigned
rtc_value(uint8_t reg)
{
	uint8_t v = rtc_read(reg);

	if (rtc_read(RTC_REG_B) & RTC_BINARY)
		return v;
	return (unsigned)(v >> 4) * 10 + (v & 0xf);
}

/* Elapsed PM-timer ticks, tolerant of the 32-bit counter wrapping. */
static uint32_t
pm_ticks_since(uint32_t start)
{
	return inl(PM_TMR) - start;
}

/* Waits for the seconds register to change; returns PM ticks waited. */
static uint32_t
rtc_wait_tick(unsigned *uip_seen)
{
	unsigned sec = rtc_value(RTC_SEC);
	uint32_t t0 = inl(PM_TMR);

	while (pm_ticks_since(t0) < 3 * PM_TMR_HZ) {
		if (rtc_read(RTC_REG_A) & RTC_UIP)
			(*uip_seen)++;
		if (rtc_value(RTC_SEC) != sec)
			return pm_ticks_since(t0);
	}
	return 0;
}

void
payload_main(void)
{
	unsigned year, uip = 0;
	uint32_t first, second;

	year = rtc_value(RTC_CENTURY) * 100 + rtc_value(RTC_YEAR);
	td_printf("rtc: date %u-%02u, %02u min", year, rtc_value(RTC_MONTH),
		  rtc_value(RTC_MIN));
	CHECK(year >= 2024 && year < 2200);
	CHECK(rtc_value(RTC_MONTH) >= 1 && rtc_value(RTC_MONTH) <= 12);

	/* The first wait ends at an arbitrary point of a second; the
	 * second one measures a whole second. */
	first = rtc_wait_tick(&uip);
	second = rtc_wait_tick(&uip);
	td_printf("rtc: a second took %u ms of PM timer, UIP seen %u times",
		  (unsigned)((uint64_t)second * 1000 / PM_TMR_HZ), uip);
	CHECK(first != 0 && second != 0);
	CHECK(second > PM_TMR_HZ * 8 / 10 && second < PM_TMR_HZ * 12 / 10);

	/* CMOS 0x34/0x35: RAM above 16 MiB in 64 KiB units (64 MiB guest). */
	CHECK_EQ(rtc_read(0x34) | (rtc_read(0x35) << 8), (64 - 16) * 16);
}
