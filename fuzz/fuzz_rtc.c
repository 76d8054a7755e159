/*
 * libFuzzer target for the legacy PC devices: the input is a program of
 * guest accesses to the RTC (0x70/0x71), the i8042 (0x60/0x64) and the
 * HPET registers, interleaved with steps of a fake clock that fire the
 * timers the models asked for.  Checked invariants: interrupt callbacks
 * come as real transitions, register D and the read-clear of register C
 * behave, BCD time fields are valid BCD, the i8042 status agrees with its
 * interrupt lines, and the HPET counter never runs backwards on its own.
 *
 * Build and run (from the repository root):
 *   make FUZZ_BUILD=build-fuzz fuzz    # builds build-fuzz/fuzz_rtc
 *   build-fuzz/fuzz_rtc -max_total_time=10
 * or on its own:
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g \
 *       -O1 -pthread -Ilib/vmmapi -Ibhyve/core -Ibhyve/platform \
 *       fuzz/fuzz_rtc.c \
 *       $(find bhyve lib/vmmapi -name '*.c' ! -name bhyverun.c) \
 *       -ljansson -o build/fuzz_rtc
 *
 * Program bytes: op = byte & 7, operands follow (missing ones read as 0).
 *   0 rtc write   port-bit, value     1 rtc read   port-bit
 *   2 kbd write   port-bit, value     3 kbd read   port-bit
 *   4 hpet write  off16, size, val64  5 hpet read  off16, size
 *   6 clock step  exponent byte       7 rtc: read C twice
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atkbdc.h"
#include "hpet.h"
#include "rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NO_DEADLINE UINT64_MAX

struct world {
	uint64_t now; /* one clock for both: wall and monotonic */
	bool rtc_level;
	uint64_t rtc_deadline;
	bool kbd_irq[16];
	int resets;
	bool pin[32];
	uint64_t hpet_deadline[HPET_NUM_TIMERS];
	uint64_t last_count;
	bool count_valid;
	struct rtc_softc *rtc;
	struct atkbdc_softc *kbd;
	struct hpet_softc *hpet;
};

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
w_rtc_irq(void *arg, bool level)
{
	struct world *w = arg;

	check(level != w->rtc_level);
	w->rtc_level = level;
}

static void
w_rtc_arm(void *arg, uint64_t delay)
{
	struct world *w = arg;

	w->rtc_deadline = w->now + delay;
}

static void
w_rtc_cancel(void *arg)
{
	((struct world *)arg)->rtc_deadline = NO_DEADLINE;
}

static int64_t
w_rtc_now(void *arg)
{
	return (int64_t)((struct world *)arg)->now;
}

static void
w_kbd_irq(void *arg, int irq, bool level)
{
	struct world *w = arg;

	check(irq == ATKBDC_KBD_IRQ || irq == ATKBDC_AUX_IRQ);
	check(w->kbd_irq[irq] != level);
	w->kbd_irq[irq] = level;
}

static void
w_kbd_reset(void *arg)
{
	((struct world *)arg)->resets++;
}

static void
w_hpet_irq(void *arg, int pin, bool level)
{
	struct world *w = arg;

	check(pin >= 0 && pin < 32);
	check(pin == 2 || pin == 8 || (pin >= 20 && pin <= 23));
	check(w->pin[pin] != level);
	w->pin[pin] = level;
}

static void
w_hpet_arm(void *arg, int n, uint64_t delay)
{
	struct world *w = arg;

	check(n >= 0 && n < HPET_NUM_TIMERS);
	w->hpet_deadline[n] = w->now + delay;
}

static void
w_hpet_cancel(void *arg, int n)
{
	struct world *w = arg;

	check(n >= 0 && n < HPET_NUM_TIMERS);
	w->hpet_deadline[n] = NO_DEADLINE;
}

static uint64_t
w_hpet_now(void *arg)
{
	return ((struct world *)arg)->now;
}

struct prog {
	const uint8_t *p;
	size_t n;
};

static uint8_t
next(struct prog *pr)
{
	uint8_t v = 0;

	if (pr->n > 0) {
		v = *pr->p++;
		pr->n--;
	}
	return v;
}

static uint64_t
next64(struct prog *pr, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)next(pr) << (8 * i);
	return v;
}

static bool
valid_bcd(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static void
rtc_read_checked(struct world *w, int port)
{
	uint8_t idx, v;

	/* What the index register holds decides what the read means. */
	idx = rtc_io_read(w->rtc, RTC_IO_INDEX) & 0x7f;
	v = rtc_io_read(w->rtc, port);
	if (port != RTC_IO_DATA)
		return;
	if (idx == RTC_REG_D)
		check(v == RTC_D_VRT);
	if (idx == RTC_REG_C)
		check(!w->rtc_level);
	/* Running, BCD: the clock's own fields are valid BCD. */
	uint8_t b = rtc_nvram_peek(w->rtc, RTC_REG_B);
	if (!(b & (RTC_B_SET | RTC_B_DM_BIN)) &&
	    (idx == RTC_SEC || idx == RTC_MIN || idx == RTC_MDAY ||
	     idx == RTC_MONTH || idx == RTC_YEAR))
		check(valid_bcd(v));
	if (!(b & (RTC_B_SET | RTC_B_DM_BIN)) && idx == RTC_SEC)
		check(v <= 0x59);
}

static void
kbd_check(struct world *w)
{
	uint8_t st = atkbdc_read(w->kbd, ATKBDC_CMD_PORT);

	if (w->kbd_irq[ATKBDC_KBD_IRQ])
		check((st & ATKBDC_STS_OBF) && !(st & ATKBDC_STS_AUXB));
	if (w->kbd_irq[ATKBDC_AUX_IRQ])
		check((st & ATKBDC_STS_OBF) && (st & ATKBDC_STS_AUXB));
	check(!(st & ATKBDC_STS_IBF));
}

static void
hpet_counter_check(struct world *w, uint64_t off, int size, uint64_t v)
{
	bool enabled =
	    hpet_mmio_read(w->hpet, HPET_GEN_CONF, 8) & HPET_CNF_ENABLE;

	if (off != HPET_MAIN_CNT || size != 8) {
		return;
	}
	if (w->count_valid && enabled)
		check(v >= w->last_count);
	w->last_count = v;
	w->count_valid = enabled;
}

static void
hpet_access(struct world *w, struct prog *pr, bool write)
{
	static const int sizes[4] = {1, 2, 4, 8};
	uint64_t off = next64(pr, 2) & 0x7ff; /* some beyond the block */
	int size = sizes[next(pr) & 3];

	if (write) {
		uint64_t v = next64(pr, 8);

		hpet_mmio_write(w->hpet, off, size, v);
		if ((off & ~7ULL) == HPET_MAIN_CNT ||
		    (off & ~7ULL) == HPET_GEN_CONF)
			w->count_valid = false; /* the guest moved it */
	} else {
		hpet_counter_check(w, off, size,
				   hpet_mmio_read(w->hpet, off, size));
	}
}

/* Advances the clock and runs every timer that came due, in order. */
static void
clock_step(struct world *w, uint8_t e)
{
	uint64_t step = (uint64_t)(e & 0x3f) << (6 * (e >> 6) + 8);

	w->now += step;
	for (int round = 0; round < 64; round++) {
		int which = -1; /* -1 none, 3 rtc, 0-2 hpet */
		uint64_t due = w->now + 1;

		if (w->rtc_deadline <= w->now) {
			which = 3;
			due = w->rtc_deadline;
		}
		for (int n = 0; n < HPET_NUM_TIMERS; n++) {
			if (w->hpet_deadline[n] <= w->now &&
			    w->hpet_deadline[n] < due) {
				which = n;
				due = w->hpet_deadline[n];
			}
		}
		if (which < 0)
			return;
		if (which == 3) {
			w->rtc_deadline = NO_DEADLINE;
			rtc_timer_expired(w->rtc);
		} else {
			w->hpet_deadline[which] = NO_DEADLINE;
			hpet_timer_expired(w->hpet, which);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world w;
	struct prog pr = {data, size};
	struct rtc_ops rops = {w_rtc_irq, w_rtc_arm, w_rtc_cancel, w_rtc_now,
			       &w};
	struct atkbdc_ops kops = {w_kbd_irq, w_kbd_reset, &w};
	struct hpet_ops hops = {w_hpet_irq, w_hpet_arm, w_hpet_cancel,
				w_hpet_now, NULL,	&w};

	memset(&w, 0, sizeof(w));
	w.now = 1700000000ULL * 1000000000ULL; /* late 2023 */
	w.rtc_deadline = NO_DEADLINE;
	for (int n = 0; n < HPET_NUM_TIMERS; n++)
		w.hpet_deadline[n] = NO_DEADLINE;
	w.rtc = rtc_create(&rops, 0);
	w.kbd = atkbdc_create(&kops);
	w.hpet = hpet_create(&hops);
	check(w.rtc != NULL && w.kbd != NULL && w.hpet != NULL);
	rtc_set_memsize(w.rtc, 512ULL << 20, 0);

	while (pr.n > 0) {
		uint8_t op = next(&pr);
		int port;

		switch (op & 7) {
		case 0:
			port = (next(&pr) & 1) ? RTC_IO_DATA : RTC_IO_INDEX;
			rtc_io_write(w.rtc, port, next(&pr));
			break;
		case 1:
			port = (next(&pr) & 1) ? RTC_IO_DATA : RTC_IO_INDEX;
			rtc_read_checked(&w, port);
			break;
		case 2:
			port = (next(&pr) & 1) ? ATKBDC_CMD_PORT
					       : ATKBDC_DATA_PORT;
			atkbdc_write(w.kbd, port, next(&pr));
			kbd_check(&w);
			break;
		case 3:
			port = (next(&pr) & 1) ? ATKBDC_CMD_PORT
					       : ATKBDC_DATA_PORT;
			atkbdc_read(w.kbd, port);
			kbd_check(&w);
			break;
		case 4:
			hpet_access(&w, &pr, true);
			break;
		case 5:
			hpet_access(&w, &pr, false);
			break;
		case 6:
			clock_step(&w, next(&pr));
			break;
		case 7:
			rtc_io_write(w.rtc, RTC_IO_INDEX, RTC_REG_C);
			rtc_io_read(w.rtc, RTC_IO_DATA);
			/* No time passed: nothing new can be flagged. */
			check(rtc_io_read(w.rtc, RTC_IO_DATA) == 0);
			check(!w.rtc_level);
			break;
		}
	}
	rtc_destroy(w.rtc);
	atkbdc_destroy(w.kbd);
	hpet_destroy(w.hpet);
	return 0;
}
