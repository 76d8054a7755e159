/*
 * HPET model without KVM: a fake monotonic clock, a probe for the pins
 * and the timers it asks for; then one comparator on a real timer and
 * the event loop; then the platform device through the MMIO dispatcher.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hpet.h"
#include "mem.h"
#include "mevent.h"
#include "platform_dev.h"
#include "test.h"
#include "test_util.h"
#include "vtimer.h"

#define NS 1000000000ULL

struct fake {
	uint64_t now;
	bool level[32];
	int edges[32]; /* completed low-high-low pulses */
	int rises[32];
	bool armed[HPET_NUM_TIMERS];
	uint64_t delay[HPET_NUM_TIMERS];
	int legacy_calls;
	bool legacy;
};

static void
fake_irq(void *arg, int pin, bool level)
{
	struct fake *f = arg;

	if (pin < 0 || pin >= 32)
		return;
	if (level)
		f->rises[pin]++;
	else if (f->level[pin])
		f->edges[pin]++;
	f->level[pin] = level;
}

static void
fake_arm(void *arg, int n, uint64_t delay)
{
	struct fake *f = arg;

	f->armed[n] = true;
	f->delay[n] = delay;
}

static void
fake_cancel(void *arg, int n)
{
	struct fake *f = arg;

	f->armed[n] = false;
}

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static void
fake_legacy(void *arg, bool on)
{
	struct fake *f = arg;

	f->legacy_calls++;
	f->legacy = on;
}

static struct hpet_softc *
new_hpet(struct fake *f)
{
	struct hpet_ops ops = {fake_irq, fake_arm,    fake_cancel,
			       fake_now, fake_legacy, f};

	memset(f, 0, sizeof(*f));
	f->now = 1000 * NS;
	return hpet_create(&ops);
}

static uint64_t
rd64(struct hpet_softc *sc, uint64_t off)
{
	return hpet_mmio_read(sc, off, 8);
}

static void
wr64(struct hpet_softc *sc, uint64_t off, uint64_t v)
{
	hpet_mmio_write(sc, off, 8, v);
}

/* Runs timer n at the deadline it asked for. */
static void
run_timer(struct hpet_softc *sc, struct fake *f, int n)
{
	f->now += f->delay[n];
	f->armed[n] = false;
	hpet_timer_expired(sc, n);
}

static void
test_caps_and_counter(void)
{
	struct fake f;
	struct hpet_softc *sc = new_hpet(&f);
	uint64_t cap = rd64(sc, HPET_GCAP_ID), c1, c2;

	CHECK_EQ_U64(cap >> 32, 59604644, "cap: period in fs (2^24 Hz)");
	CHECK_EQ_U64((cap >> 16) & 0xffff, 0x8086, "cap: vendor");
	CHECK_EQ_U64((cap >> 8) & 0x1f, 2, "cap: three timers");
	CHECK(cap & (1u << 15), "cap: legacy route capable");
	CHECK(cap & (1u << 13), "cap: 64-bit counter");
	CHECK_EQ_U64((uint32_t)cap, HPET_BLOCK_ID, "cap: ACPI block ID");
	CHECK_EQ_U64(hpet_mmio_read(sc, HPET_GCAP_ID + 4, 4), 59604644,
		     "cap: 32-bit read of the high half");

	f.now += NS;
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), 0, "counter halted at reset");
	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	f.now += NS;
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), HPET_FREQ_HZ,
		     "counter: 2^24 ticks in one second");
	f.now += 1000;
	CHECK_EQ_U64(hpet_mmio_read(sc, HPET_MAIN_CNT, 4), HPET_FREQ_HZ + 16,
		     "counter: 32-bit read, 1 us = 16 ticks");
	wr64(sc, HPET_GEN_CONF, 0);
	c1 = rd64(sc, HPET_MAIN_CNT);
	f.now += NS;
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), c1, "counter halts on disable");
	wr64(sc, HPET_MAIN_CNT, 0x123456789aULL);
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), 0x123456789aULL,
		     "counter write while halted");
	hpet_mmio_write(sc, HPET_MAIN_CNT + 4, 4, 0x77);
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), 0x773456789aULL,
		     "counter: write of the high half");
	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	f.now += NS / 2;
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT),
		     0x773456789aULL + HPET_FREQ_HZ / 2,
		     "counter runs on from where it was");
	/* Written while running: it loads and keeps counting (spec notes
	 * that software should not, but the value is defined). */
	wr64(sc, HPET_MAIN_CNT, 1000);
	f.now += NS;
	CHECK_EQ_U64(rd64(sc, HPET_MAIN_CNT), 1000 + HPET_FREQ_HZ,
		     "counter write while running");

	/* Monotonic over irregular steps. */
	c1 = rd64(sc, HPET_MAIN_CNT);
	bool mono = true;
	for (uint64_t i = 1; i < 5000; i++) {
		f.now += (i * 7919) % 997;
		c2 = rd64(sc, HPET_MAIN_CNT);
		mono = mono && c2 >= c1;
		c1 = c2;
	}
	CHECK(mono, "counter never goes backwards");
	hpet_destroy(sc);
}

static void
test_timer_config(void)
{
	struct fake f;
	struct hpet_softc *sc = new_hpet(&f);
	uint64_t conf = rd64(sc, HPET_TN_CONF(0));

	CHECK_EQ_U64(conf >> 32, HPET_INT_ROUTE_CAP, "Tn: route cap 20-23");
	CHECK(conf & HPET_TN_PER_CAP, "Tn: periodic capable");
	CHECK(conf & HPET_TN_SIZE_CAP, "Tn: 64-bit capable");
	CHECK(!(conf & (1u << 15)), "Tn: no FSB delivery");
	CHECK_EQ_U64(rd64(sc, HPET_TN_CMP(2)), ~0ULL,
		     "Tn: comparator resets "
		     "to all ones");
	wr64(sc, HPET_TN_CONF(1), 21u << HPET_TN_ROUTE_SHIFT);
	CHECK_EQ_U64((rd64(sc, HPET_TN_CONF(1)) >> 9) & 0x1f, 21,
		     "route 21 sticks");
	wr64(sc, HPET_TN_CONF(1), 5u << HPET_TN_ROUTE_SHIFT);
	CHECK_EQ_U64((rd64(sc, HPET_TN_CONF(1)) >> 9) & 0x1f, 21,
		     "route 5 (not offered) does not stick");
	wr64(sc, HPET_TN_CONF(1), ~0ULL);
	CHECK_EQ_U64(rd64(sc, HPET_TN_CONF(1)) & 0xffff & ~0x3e00ULL, 0x17e,
		     "only the writable bits take writes");
	CHECK_EQ_U64(rd64(sc, HPET_TN_FSB(0)), 0, "FSB route reads zero");
	/* 32-bit mode. */
	wr64(sc, HPET_TN_CONF(2), HPET_TN_32BIT);
	wr64(sc, HPET_TN_CMP(2), 0x100000010ULL);
	CHECK_EQ_U64(rd64(sc, HPET_TN_CMP(2)), 0x10, "32-bit comparator");
	/* Bad accesses. */
	CHECK_EQ_U64(hpet_mmio_read(sc, 0x0c, 8), 0, "crossing access: 0");
	CHECK_EQ_U64(hpet_mmio_read(sc, 0x400, 4), 0, "beyond the block: 0");
	CHECK_EQ_U64(hpet_mmio_read(sc, 0x000, 3), 0, "odd size: 0");
	CHECK_EQ_U64(hpet_mmio_read(sc, 0x0f8, 8), 0, "reserved: 0");
	hpet_mmio_write(sc, 0x0e, 4, 0xffffffff); /* ignored */
	CHECK_EQ_U64(rd64(sc, HPET_GEN_CONF), 0, "crossing write ignored");
	CHECK_EQ_U64(hpet_mmio_read(sc, HPET_GCAP_ID + 2, 2), 0x8086,
		     "16-bit read of the vendor");
	hpet_destroy(sc);
}

static void
test_oneshot_edge(void)
{
	struct fake f;
	struct hpet_softc *sc = new_hpet(&f);
	uint64_t cnt;

	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	wr64(sc, HPET_TN_CONF(0), HPET_TN_INT_ENB | 20u << HPET_TN_ROUTE_SHIFT);
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(0), cnt + 1000);
	CHECK(f.armed[0], "one-shot: timer armed");
	CHECK_EQ_U64(f.delay[0], (1000 * NS + HPET_FREQ_HZ - 1) / HPET_FREQ_HZ,
		     "one-shot: delay for 1000 ticks");
	f.now += f.delay[0] / 2;
	hpet_timer_expired(sc, 0);
	CHECK_EQ_U64(f.edges[20], 0, "early expiry does not fire");
	CHECK(f.armed[0], "early expiry re-arms");
	run_timer(sc, &f, 0);
	CHECK_EQ_U64(f.edges[20], 1, "one-shot: one edge on pin 20");
	CHECK(!f.level[20], "edge: line back low");
	CHECK_EQ_U64(rd64(sc, HPET_GINTR_STA), 0, "edge: no status bit");
	CHECK(!f.armed[0], "64-bit one-shot: not re-armed");
	CHECK(rd64(sc, HPET_MAIN_CNT) >= cnt + 1000, "fired at the match");

	/* A comparator just behind the counter is a missed deadline. */
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(0), cnt - 5);
	CHECK(!f.armed[0], "64-bit: past comparator never fires");
	wr64(sc, HPET_TN_CONF(0),
	     HPET_TN_INT_ENB | HPET_TN_32BIT | 20u << HPET_TN_ROUTE_SHIFT);
	wr64(sc, HPET_TN_CMP(0), (uint32_t)(cnt - 5));
	CHECK(f.armed[0] && f.delay[0] > 255 * NS && f.delay[0] < 257 * NS,
	      "32-bit: past comparator matches after the wrap (256 s)");
	run_timer(sc, &f, 0);
	CHECK_EQ_U64(f.edges[20], 2, "32-bit one-shot fires at the wrap");
	CHECK(f.armed[0] && f.delay[0] > 255 * NS,
	      "32-bit one-shot: again after the next wrap");

	/* Interrupt disabled, edge mode: nothing to do. */
	wr64(sc, HPET_TN_CONF(0), 0);
	CHECK(!f.armed[0], "disabled edge timer: no host timer");
	hpet_destroy(sc);
}

static void
test_periodic(void)
{
	struct fake f;
	struct hpet_softc *sc = new_hpet(&f);
	uint64_t cnt, period = 167772; /* ~10 ms */

	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	/* As Linux programs it: VAL_SET, the first match, then the period. */
	wr64(sc, HPET_TN_CONF(0),
	     HPET_TN_INT_ENB | HPET_TN_PERIODIC | HPET_TN_VAL_SET |
		 HPET_TN_32BIT | 21u << HPET_TN_ROUTE_SHIFT);
	f.now += NS / 3; /* a counter far from 0 */
	cnt = rd64(sc, HPET_MAIN_CNT);
	hpet_mmio_write(sc, HPET_TN_CMP(0), 4, (uint32_t)(cnt + period));
	CHECK(!(rd64(sc, HPET_TN_CONF(0)) & HPET_TN_VAL_SET),
	      "periodic: the write clears VAL_SET");
	hpet_mmio_write(sc, HPET_TN_CMP(0), 4, (uint32_t)period);
	CHECK_EQ_U64(rd64(sc, HPET_TN_CMP(0)), (uint32_t)(cnt + period),
		     "periodic: second write sets only the period");
	run_timer(sc, &f, 0);
	CHECK_EQ_U64(f.edges[21], 1, "periodic: first interrupt");
	CHECK_EQ_U64(rd64(sc, HPET_TN_CMP(0)), (uint32_t)(cnt + 2 * period),
		     "periodic: comparator grows by the period");
	CHECK(f.armed[0], "periodic: re-armed");
	run_timer(sc, &f, 0);
	run_timer(sc, &f, 0);
	CHECK_EQ_U64(f.edges[21], 3, "periodic: third interrupt");
	CHECK_EQ_U64(rd64(sc, HPET_TN_CMP(0)), (uint32_t)(cnt + 4 * period),
		     "periodic: comparator after three");
	/* The host ran 2.5 periods late: missed periods coalesce. */
	f.now += f.delay[0] + 2 * period * NS / HPET_FREQ_HZ + 1000;
	hpet_timer_expired(sc, 0);
	CHECK_EQ_U64(f.edges[21], 4, "late host: one interrupt");
	CHECK(rd64(sc, HPET_TN_CMP(0)) > rd64(sc, HPET_MAIN_CNT),
	      "late host: comparator ahead of the counter again");
	/* Stopping the counter stops the timer. */
	wr64(sc, HPET_GEN_CONF, 0);
	CHECK(!f.armed[0], "disable cancels the timers");
	hpet_destroy(sc);
}

static void
test_level_and_legacy(void)
{
	struct fake f;
	struct hpet_softc *sc = new_hpet(&f);
	uint64_t cnt;

	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	wr64(sc, HPET_TN_CONF(2),
	     HPET_TN_LEVEL | HPET_TN_INT_ENB | 22u << HPET_TN_ROUTE_SHIFT);
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(2), cnt + 50);
	run_timer(sc, &f, 2);
	CHECK(f.level[22], "level: pin 22 held up");
	CHECK_EQ_U64(rd64(sc, HPET_GINTR_STA), 1u << 2, "level: status bit 2");
	wr64(sc, HPET_GINTR_STA, 1u << 1); /* someone else's bit */
	CHECK(f.level[22], "level: clearing another bit keeps it");
	wr64(sc, HPET_GINTR_STA, 1u << 2);
	CHECK(!f.level[22], "level: write 1 to clear lowers the pin");
	CHECK_EQ_U64(rd64(sc, HPET_GINTR_STA), 0, "level: status clear");

	/* Level with the interrupt disabled: status only. */
	wr64(sc, HPET_TN_CONF(2), HPET_TN_LEVEL | 22u << HPET_TN_ROUTE_SHIFT);
	wr64(sc, HPET_TN_CMP(2), rd64(sc, HPET_MAIN_CNT) + 50);
	run_timer(sc, &f, 2);
	CHECK_EQ_U64(rd64(sc, HPET_GINTR_STA), 1u << 2,
		     "level, INT_ENB off: status still set");
	CHECK(!f.level[22], "level, INT_ENB off: no interrupt");
	wr64(sc, HPET_TN_CONF(2),
	     HPET_TN_LEVEL | HPET_TN_INT_ENB | 22u << HPET_TN_ROUTE_SHIFT);
	CHECK(f.level[22], "enabling with status pending raises the pin");
	wr64(sc, HPET_GEN_CONF, 0);
	CHECK(!f.level[22], "global disable lowers level interrupts");
	wr64(sc, HPET_GINTR_STA, 7);

	/* Legacy replacement route: timer 0 -> IRQ 0 (pin 2), 1 -> IRQ 8. */
	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE | HPET_CNF_LEG_RT);
	CHECK(f.legacy_calls == 1 && f.legacy, "legacy: route switched on");
	wr64(sc, HPET_TN_CONF(0), HPET_TN_INT_ENB | 20u << HPET_TN_ROUTE_SHIFT);
	wr64(sc, HPET_TN_CONF(1), HPET_TN_INT_ENB);
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(0), cnt + 100);
	wr64(sc, HPET_TN_CMP(1), cnt + 100);
	run_timer(sc, &f, 0);
	run_timer(sc, &f, 1);
	CHECK_EQ_U64(f.edges[HPET_LEGACY_PIN_T0], 1,
		     "legacy: timer 0 on pin 2");
	CHECK_EQ_U64(f.edges[HPET_LEGACY_PIN_T1], 1,
		     "legacy: timer 1 on IRQ 8");
	CHECK_EQ_U64(f.edges[20], 0, "legacy: not on its own route");
	wr64(sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	CHECK(f.legacy_calls == 2 && !f.legacy, "legacy: route switched off");
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(0), cnt + 100);
	run_timer(sc, &f, 0);
	CHECK_EQ_U64(f.edges[20], 1, "legacy off: timer 0 back on pin 20");
	cnt = rd64(sc, HPET_MAIN_CNT);
	wr64(sc, HPET_TN_CMP(1), cnt + 100);
	run_timer(sc, &f, 1);
	CHECK_EQ_U64(f.edges[HPET_LEGACY_PIN_T1], 1,
		     "legacy off: timer 1 without a route stays silent");
	hpet_destroy(sc);
}

/* --- a comparator on a real timer, with the event loop --- */

struct real {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int edges;
	struct vtimer *vt[HPET_NUM_TIMERS];
	struct hpet_softc *sc;
};

static struct real real = {
    .mtx = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static void
real_irq(void *arg, int pin, bool level)
{
	if (level || pin != 23)
		return;
	pthread_mutex_lock(&real.mtx);
	real.edges++;
	pthread_cond_signal(&real.cv);
	pthread_mutex_unlock(&real.mtx);
}

static void
real_arm(void *arg, int n, uint64_t delay)
{
	vtimer_arm(real.vt[n], delay);
}

static void
real_cancel(void *arg, int n)
{
	vtimer_cancel(real.vt[n]);
}

static uint64_t
real_now(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void
real_expired(void *arg)
{
	hpet_timer_expired(real.sc, (int)(intptr_t)arg);
}

static void *
loop_main(void *arg)
{
	mevent_dispatch();
	return NULL;
}

static void
test_real_timer(void)
{
	struct hpet_ops ops = {real_irq, real_arm, real_cancel,
			       real_now, NULL,	   NULL};
	struct timespec until;
	pthread_t loop;
	uint64_t start, elapsed, c1, c2;
	bool mono = true;

	CHECK(mevent_init() == 0, "real: event loop");
	for (int n = 0; n < HPET_NUM_TIMERS; n++)
		real.vt[n] = vtimer_create("hpet-test", real_expired,
					   (void *)(intptr_t)n);
	real.sc = hpet_create(&ops);
	if (pthread_create(&loop, NULL, loop_main, NULL) != 0) {
		CHECK(false, "real: loop thread");
		return;
	}
	wr64(real.sc, HPET_GEN_CONF, HPET_CNF_ENABLE);
	c1 = rd64(real.sc, HPET_MAIN_CNT);
	for (int i = 0; i < 100000; i++) {
		c2 = rd64(real.sc, HPET_MAIN_CNT);
		mono = mono && c2 >= c1;
		c1 = c2;
	}
	CHECK(mono, "real: counter monotonic on the host clock");
	wr64(real.sc, HPET_TN_CONF(2),
	     HPET_TN_INT_ENB | HPET_TN_32BIT | 23u << HPET_TN_ROUTE_SHIFT);
	start = real_now(NULL);
	/* 5 ms = 83886 ticks. */
	hpet_mmio_write(real.sc, HPET_TN_CMP(2), 4,
			(uint32_t)(rd64(real.sc, HPET_MAIN_CNT) + 83886));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&real.mtx);
	while (real.edges == 0 &&
	       pthread_cond_timedwait(&real.cv, &real.mtx, &until) == 0)
		;
	pthread_mutex_unlock(&real.mtx);
	elapsed = real_now(NULL) - start;
	CHECK_EQ_U64(real.edges, 1, "real: comparator fired once");
	CHECK(elapsed >= 4900000, "real: not before the 5 ms deadline");
	CHECK(elapsed < 1000000000, "real: within a second");
	mevent_exit(0);
	pthread_join(loop, NULL);
	for (int n = 0; n < HPET_NUM_TIMERS; n++)
		vtimer_destroy(real.vt[n]);
	hpet_destroy(real.sc);
	mevent_fini();
}

/* --- the platform device --- */

static void
test_platform(void)
{
	const struct platform_dev *pd = test_platform_dev("hpet");
	uint64_t v = 0;

	CHECK(pd != NULL, "platform: hpet registered");
	if (pd == NULL)
		return;
	init_mem();
	CHECK(mevent_init() == 0, "platform: event loop");
	CHECK(pd->pd_init(NULL) == 0, "platform: hpet initialises");
	CHECK(mem_emulate(NULL, false, HPET_BASE, 4, &v) == 0 &&
		  v == HPET_BLOCK_ID,
	      "platform: ID at 0xfed00000");
	v = HPET_CNF_ENABLE;
	mem_emulate(NULL, true, HPET_BASE + HPET_GEN_CONF, 8, &v);
	v = 0;
	mem_emulate(NULL, false, HPET_BASE + HPET_GEN_CONF, 8, &v);
	CHECK_EQ_U64(v, HPET_CNF_ENABLE, "platform: enable reads back");
	pd->pd_fini();
	v = 0;
	mem_emulate(NULL, false, HPET_BASE, 4, &v);
	CHECK(v != HPET_BLOCK_ID, "platform: range released");
	mevent_fini();
}

int
main(void)
{
	test_caps_and_counter();
	test_timer_config();
	test_oneshot_edge();
	test_periodic();
	test_level_and_legacy();
	test_real_timer();
	test_platform();
	return test_done();
}
