/*
 * HPET (IA-PC HPET Specification 1.0a).
 *
 * The main counter is not incremented by anything: it is computed from
 * the host's monotonic clock whenever it is read, from the value it had
 * when it was last started or written.  Each comparator has a host timer
 * armed for the moment the counter reaches it; when it fires, the
 * comparator raises its interrupt and, in periodic mode, moves on by the
 * period.
 */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>

#include "hpet.h"
#include "mem.h"
#include "platform_dev.h"
#include "rtc.h"
#include "vmmapi.h"
#include "vtimer.h"

#define NS_PER_S 1000000000ULL
/* Deadlines further than this (136 years) never come. */
#define HPET_FAR_TICKS (1ULL << 56)
/* A periodic comparator fires at most this often on the host; shorter
 * periods coalesce (the ACPI table advertises the minimum). */
#define HPET_MIN_REARM_NS 100000ULL
#define HPET_TN_WRITABLE                                                       \
	(HPET_TN_LEVEL | HPET_TN_INT_ENB | HPET_TN_PERIODIC |                  \
	 HPET_TN_VAL_SET | HPET_TN_32BIT | HPET_TN_ROUTE_MASK)
#define HPET_TN_CAPS                                                           \
	((uint64_t)HPET_INT_ROUTE_CAP << 32 | HPET_TN_PER_CAP |                \
	 HPET_TN_SIZE_CAP)

struct hpet_timer {
	uint64_t config;   /* the writable bits of Tn_CONF */
	uint64_t cmp;	   /* comparator (32 bits in 32-bit mode) */
	uint64_t period;   /* last value written, for periodic mode */
	uint64_t deadline; /* main counter value of the next match */
	bool armed;
};

struct hpet_softc {
	pthread_mutex_t mtx;
	struct hpet_ops ops;
	uint64_t config;     /* General Configuration */
	uint64_t isr;	     /* General Interrupt Status (level mode) */
	uint64_t count_base; /* counter value at ns_base (or while halted) */
	uint64_t ns_base;
	uint32_t pins; /* IOAPIC pins held up by level interrupts */
	struct hpet_timer t[HPET_NUM_TIMERS];
};

static uint64_t
hpet_ns_to_ticks(uint64_t ns)
{
	return ns / NS_PER_S * HPET_FREQ_HZ +
	       ns % NS_PER_S * HPET_FREQ_HZ / NS_PER_S;
}

/* Rounded up, so that the counter has reached the target by then. */
static uint64_t
hpet_ticks_to_ns(uint64_t ticks)
{
	return ticks / HPET_FREQ_HZ * NS_PER_S +
	       (ticks % HPET_FREQ_HZ * NS_PER_S + HPET_FREQ_HZ - 1) /
		   HPET_FREQ_HZ;
}

static bool
hpet_enabled(const struct hpet_softc *sc)
{
	return (sc->config & HPET_CNF_ENABLE) != 0;
}

static uint64_t
hpet_counter(const struct hpet_softc *sc, uint64_t now)
{
	if (!hpet_enabled(sc))
		return sc->count_base;
	return sc->count_base + hpet_ns_to_ticks(now - sc->ns_base);
}

static bool
hpet_is_32bit(const struct hpet_timer *t)
{
	return (t->config & HPET_TN_32BIT) != 0;
}

/* The IOAPIC pin a comparator drives, or -1 where it goes nowhere. */
static int
hpet_route(const struct hpet_softc *sc, int n)
{
	int pin = (int)((sc->t[n].config & HPET_TN_ROUTE_MASK) >>
			HPET_TN_ROUTE_SHIFT);

	if (sc->config & HPET_CNF_LEG_RT) {
		if (n == 0)
			return HPET_LEGACY_PIN_T0;
		if (n == 1)
			return HPET_LEGACY_PIN_T1;
	}
	return (HPET_INT_ROUTE_CAP & (1u << pin)) ? pin : -1;
}

/* Level interrupts: a pin is up while any enabled status bit drives it. */
static void
hpet_sync_pins(struct hpet_softc *sc)
{
	uint32_t want = 0, changed;

	for (int n = 0; n < HPET_NUM_TIMERS && hpet_enabled(sc); n++) {
		const struct hpet_timer *t = &sc->t[n];
		int pin = hpet_route(sc, n);

		if ((t->config & HPET_TN_LEVEL) &&
		    (t->config & HPET_TN_INT_ENB) && (sc->isr & (1u << n)) &&
		    pin >= 0)
			want |= 1u << pin;
	}
	changed = want ^ sc->pins;
	sc->pins = want;
	for (int pin = 0; pin < 32; pin++) {
		if (changed & (1u << pin))
			sc->ops.set_irq(sc->ops.arg, pin, (want >> pin) & 1);
	}
}

static void
hpet_fire(struct hpet_softc *sc, int n)
{
	const struct hpet_timer *t = &sc->t[n];
	int pin = hpet_route(sc, n);

	if (t->config & HPET_TN_LEVEL) {
		/* The status bit is set even with the interrupt disabled. */
		sc->isr |= 1u << n;
		hpet_sync_pins(sc);
		return;
	}
	/* An edge on a pin that a level source holds up is no edge. */
	if ((t->config & HPET_TN_INT_ENB) && pin >= 0 &&
	    !(sc->pins & (1u << pin))) {
		sc->ops.set_irq(sc->ops.arg, pin, true);
		sc->ops.set_irq(sc->ops.arg, pin, false);
	}
}

/* Only a comparator whose firing can be observed needs a host timer. */
static bool
hpet_timer_live(const struct hpet_softc *sc, int n)
{
	return hpet_enabled(sc) &&
	       (sc->t[n].config & (HPET_TN_INT_ENB | HPET_TN_LEVEL)) != 0;
}

static void
hpet_arm(struct hpet_softc *sc, int n, uint64_t cnt, uint64_t now)
{
	struct hpet_timer *t = &sc->t[n];
	uint64_t ticks = t->deadline - cnt, ns;

	if (ticks >= HPET_FAR_TICKS) {
		t->armed = false;
		sc->ops.timer_cancel(sc->ops.arg, n);
		return;
	}
	ns = hpet_ticks_to_ns(ticks);
	if ((t->config & HPET_TN_PERIODIC) && ns < HPET_MIN_REARM_NS)
		ns = HPET_MIN_REARM_NS;
	t->armed = true;
	sc->ops.timer_arm(sc->ops.arg, n, ns);
}

/*
 * Arms comparator n for the next time the counter equals it: in 32-bit
 * mode only the low 32 bits of the counter take part.  A comparator the
 * counter has just passed matches only after the counter wraps (HPET
 * 1.0a 2.3.9.2.1), which is what lets an OS detect a missed deadline.
 */
static void
hpet_schedule(struct hpet_softc *sc, int n, uint64_t now)
{
	struct hpet_timer *t = &sc->t[n];
	uint64_t cnt = hpet_counter(sc, now), delta;

	if (!hpet_timer_live(sc, n)) {
		t->armed = false;
		sc->ops.timer_cancel(sc->ops.arg, n);
		return;
	}
	if (hpet_is_32bit(t))
		delta = (uint32_t)(t->cmp - cnt);
	else
		delta = t->cmp - cnt;
	t->deadline = cnt + delta;
	hpet_arm(sc, n, cnt, now);
}

static void
hpet_schedule_all(struct hpet_softc *sc, uint64_t now)
{
	for (int n = 0; n < HPET_NUM_TIMERS; n++)
		hpet_schedule(sc, n, now);
}

/* Moves a fired comparator to its next match after cnt, if any. */
static bool
hpet_advance(struct hpet_timer *t, uint64_t cnt)
{
	uint64_t step, k;

	if ((t->config & HPET_TN_PERIODIC) && t->period != 0) {
		/* The comparator grows by the period (2.3.9.2.2); where the
		 * host ran late, missed periods coalesce into one. */
		step = t->period;
		k = (cnt - t->deadline) / step + 1;
		t->cmp += k * step;
		if (hpet_is_32bit(t))
			t->cmp = (uint32_t)t->cmp;
		t->deadline += k * step;
		return true;
	}
	if (!hpet_is_32bit(t))
		return false; /* next match after a 2^64 wrap */
	/* A 32-bit one-shot matches again each time the low half wraps. */
	step = 1ULL << 32;
	t->deadline += ((cnt - t->deadline) / step + 1) * step;
	return true;
}

void
hpet_timer_expired(struct hpet_softc *sc, int n)
{
	struct hpet_timer *t;
	uint64_t now, cnt;

	if (n < 0 || n >= HPET_NUM_TIMERS)
		return;
	pthread_mutex_lock(&sc->mtx);
	t = &sc->t[n];
	now = sc->ops.now_ns(sc->ops.arg);
	cnt = hpet_counter(sc, now);
	if (!t->armed || !hpet_timer_live(sc, n)) {
		pthread_mutex_unlock(&sc->mtx);
		return;
	}
	if ((int64_t)(cnt - t->deadline) < 0) {
		hpet_arm(sc, n, cnt, now); /* early: the clocks differ */
	} else {
		hpet_fire(sc, n);
		if (hpet_advance(t, cnt))
			hpet_arm(sc, n, cnt, now);
		else
			t->armed = false;
	}
	pthread_mutex_unlock(&sc->mtx);
}

/* --- registers --- */

/* The comparator whose registers hold offset reg, or -1. */
static int
hpet_reg_timer(uint64_t reg)
{
	if (reg < HPET_TN_CONF(0) || reg >= HPET_TN_CONF(HPET_NUM_TIMERS))
		return -1;
	return (int)((reg - HPET_TN_CONF(0)) / 0x20);
}

static uint64_t
hpet_read_reg(struct hpet_softc *sc, uint64_t reg, uint64_t now)
{
	int n = hpet_reg_timer(reg);

	switch (reg) {
	case HPET_GCAP_ID:
		return HPET_PERIOD_FS << 32 | HPET_BLOCK_ID;
	case HPET_GEN_CONF:
		return sc->config;
	case HPET_GINTR_STA:
		return sc->isr;
	case HPET_MAIN_CNT:
		return hpet_counter(sc, now);
	}
	if (n < 0)
		return 0;
	if (reg == HPET_TN_CONF(n))
		return sc->t[n].config | HPET_TN_CAPS;
	if (reg == HPET_TN_CMP(n))
		return sc->t[n].cmp;
	return 0; /* FSB route: no FSB delivery */
}

static void
hpet_write_gen_conf(struct hpet_softc *sc, uint64_t val, uint64_t now)
{
	uint64_t old = sc->config;

	val &= HPET_CNF_ENABLE | HPET_CNF_LEG_RT;
	if ((old & HPET_CNF_ENABLE) && !(val & HPET_CNF_ENABLE))
		sc->count_base = hpet_counter(sc, now); /* halt */
	else if (!(old & HPET_CNF_ENABLE) && (val & HPET_CNF_ENABLE))
		sc->ns_base = now; /* run on from where it stopped */
	sc->config = val;
	if (((old ^ val) & HPET_CNF_LEG_RT) && sc->ops.legacy_route != NULL)
		sc->ops.legacy_route(sc->ops.arg, (val & HPET_CNF_LEG_RT) != 0);
	hpet_sync_pins(sc);
	hpet_schedule_all(sc, now);
}

static void
hpet_write_tn_conf(struct hpet_softc *sc, int n, uint64_t val, uint64_t now)
{
	struct hpet_timer *t = &sc->t[n];
	uint64_t route = (val & HPET_TN_ROUTE_MASK) >> HPET_TN_ROUTE_SHIFT;

	/* A route the capability field does not offer does not stick. */
	if (!(HPET_INT_ROUTE_CAP & (1u << route)))
		val = (val & ~(uint64_t)HPET_TN_ROUTE_MASK) |
		      (t->config & HPET_TN_ROUTE_MASK);
	val &= HPET_TN_WRITABLE;
	if (!(val & HPET_TN_LEVEL))
		sc->isr &= ~(1ULL << n); /* status is for level mode only */
	t->config = val;
	if (hpet_is_32bit(t)) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	hpet_sync_pins(sc);
	hpet_schedule(sc, n, now);
}

/*
 * In periodic mode a write sets the period, and sets the comparator only
 * with VAL_SET, which the write clears (the reading all OSes rely on).
 */
static void
hpet_write_tn_cmp(struct hpet_softc *sc, int n, uint64_t val, uint64_t mask,
		  uint64_t now)
{
	struct hpet_timer *t = &sc->t[n];

	if (!(t->config & HPET_TN_PERIODIC) || (t->config & HPET_TN_VAL_SET))
		t->cmp = (t->cmp & ~mask) | (val & mask);
	t->period = (t->period & ~mask) | (val & mask);
	t->config &= ~(uint64_t)HPET_TN_VAL_SET;
	if (hpet_is_32bit(t)) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	hpet_schedule(sc, n, now);
}

/* val and mask are already shifted into place within the register. */
static void
hpet_write_reg(struct hpet_softc *sc, uint64_t reg, uint64_t val, uint64_t mask,
	       uint64_t now)
{
	int n = hpet_reg_timer(reg);
	uint64_t merged = (hpet_read_reg(sc, reg, now) & ~mask) | (val & mask);

	switch (reg) {
	case HPET_GEN_CONF:
		hpet_write_gen_conf(sc, merged, now);
		return;
	case HPET_GINTR_STA:
		/* Write one to clear. */
		sc->isr &= ~(val & mask);
		hpet_sync_pins(sc);
		return;
	case HPET_MAIN_CNT:
		/* The counter loads the value and runs on from it; the
		 * comparators are re-evaluated against it. */
		sc->count_base = merged;
		sc->ns_base = now;
		hpet_schedule_all(sc, now);
		return;
	}
	if (n < 0)
		return;
	if (reg == HPET_TN_CONF(n))
		hpet_write_tn_conf(sc, n, merged, now);
	else if (reg == HPET_TN_CMP(n))
		hpet_write_tn_cmp(sc, n, val, mask, now);
}

static bool
hpet_access_ok(uint64_t offset, int size)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) &&
	       offset < HPET_MMIO_SIZE && (offset & 7) + (uint64_t)size <= 8;
}

uint64_t
hpet_mmio_read(struct hpet_softc *sc, uint64_t offset, int size)
{
	uint64_t v, now;

	if (!hpet_access_ok(offset, size))
		return 0;
	pthread_mutex_lock(&sc->mtx);
	now = sc->ops.now_ns(sc->ops.arg);
	v = hpet_read_reg(sc, offset & ~7ULL, now) >> (8 * (offset & 7));
	pthread_mutex_unlock(&sc->mtx);
	return size == 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

void
hpet_mmio_write(struct hpet_softc *sc, uint64_t offset, int size, uint64_t val)
{
	unsigned int shift = 8 * (unsigned int)(offset & 7);
	uint64_t mask, now;

	if (!hpet_access_ok(offset, size))
		return;
	mask = size == 8 ? ~0ULL : ((1ULL << (8 * size)) - 1) << shift;
	pthread_mutex_lock(&sc->mtx);
	now = sc->ops.now_ns(sc->ops.arg);
	hpet_write_reg(sc, offset & ~7ULL, val << shift, mask, now);
	pthread_mutex_unlock(&sc->mtx);
}

struct hpet_softc *
hpet_create(const struct hpet_ops *ops)
{
	struct hpet_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->ops = *ops;
	for (int n = 0; n < HPET_NUM_TIMERS; n++)
		sc->t[n].cmp = ~0ULL; /* comparators reset to all ones */
	return sc;
}

void
hpet_destroy(struct hpet_softc *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/* --- the platform device --- */

static struct hpet_softc *hpet_sc;
static struct vtimer *hpet_timers[HPET_NUM_TIMERS];
static struct vmctx *hpet_ctx;
static bool hpet_mem_registered;

static void
hpet_glue_set_irq(void *arg, int pin, bool level)
{
	if (hpet_ctx == NULL)
		return;
	/* Pin 2 is reached through GSI 0, which also feeds 8259 IRQ 0. */
	if (level)
		vm_ioapic_assert_irq(hpet_ctx, pin);
	else
		vm_ioapic_deassert_irq(hpet_ctx, pin);
}

static void
hpet_glue_arm(void *arg, int n, uint64_t delay_ns)
{
	vtimer_arm(hpet_timers[n], delay_ns);
}

static void
hpet_glue_cancel(void *arg, int n)
{
	vtimer_cancel(hpet_timers[n]);
}

static uint64_t
hpet_glue_now(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/*
 * With the legacy route on, the 8254 and the RTC no longer reach IRQ 0
 * and IRQ 8.  KVM's in-kernel PIT has a flag for exactly this.
 * (A libvmmapi call would be the better home for this ioctl.)
 */
static void
hpet_glue_legacy(void *arg, bool on)
{
	struct kvm_pit_state2 pit;
	int fd = hpet_ctx != NULL ? vm_get_vm_fd(hpet_ctx) : -1;

	rtc_set_hpet_legacy(on);
	if (fd < 0 || ioctl(fd, KVM_GET_PIT2, &pit) != 0)
		return;
	if (on)
		pit.flags |= KVM_PIT_FLAGS_HPET_LEGACY;
	else
		pit.flags &= ~(uint32_t)KVM_PIT_FLAGS_HPET_LEGACY;
	(void)ioctl(fd, KVM_SET_PIT2, &pit);
}

static void
hpet_glue_timer(void *arg)
{
	hpet_timer_expired(hpet_sc, (int)(intptr_t)arg);
}

static int
hpet_glue_mmio(struct vcpu *vcpu, int dir, uint64_t addr, int size,
	       uint64_t *val, void *arg1, long arg2)
{
	uint64_t off = addr - HPET_BASE;

	if (dir == MEM_F_READ)
		*val = hpet_mmio_read(hpet_sc, off, size);
	else
		hpet_mmio_write(hpet_sc, off, size, *val);
	return 0;
}

static const struct mem_range hpet_mem = {
    .name = "hpet",
    .flags = MEM_F_RW,
    .handler = hpet_glue_mmio,
    .base = HPET_BASE,
    .size = HPET_MMIO_SIZE,
};

static void hpet_fini(void);

static int
hpet_init(struct vmctx *ctx)
{
	static const struct hpet_ops ops = {
	    .set_irq = hpet_glue_set_irq,
	    .timer_arm = hpet_glue_arm,
	    .timer_cancel = hpet_glue_cancel,
	    .now_ns = hpet_glue_now,
	    .legacy_route = hpet_glue_legacy,
	};

	hpet_ctx = ctx;
	for (int n = 0; n < HPET_NUM_TIMERS; n++) {
		hpet_timers[n] =
		    vtimer_create("hpet", hpet_glue_timer, (void *)(intptr_t)n);
		if (hpet_timers[n] == NULL) {
			hpet_fini();
			return -1;
		}
	}
	hpet_sc = hpet_create(&ops);
	if (hpet_sc == NULL) {
		fprintf(stderr, "bhyve: hpet: out of memory\n");
		hpet_fini();
		return -1;
	}
	if (register_mem(&hpet_mem) != 0) {
		fprintf(stderr, "bhyve: hpet: %#llx-%#llx is already in use\n",
			(unsigned long long)HPET_BASE,
			(unsigned long long)(HPET_BASE + HPET_MMIO_SIZE - 1));
		hpet_fini();
		return -1;
	}
	hpet_mem_registered = true;
	return 0;
}

static void
hpet_fini(void)
{
	if (hpet_mem_registered)
		unregister_mem(&hpet_mem);
	hpet_mem_registered = false;
	for (int n = 0; n < HPET_NUM_TIMERS; n++) {
		vtimer_destroy(hpet_timers[n]);
		hpet_timers[n] = NULL;
	}
	hpet_destroy(hpet_sc);
	hpet_sc = NULL;
	hpet_ctx = NULL;
}

static const struct platform_dev hpet_dev = {
    .pd_name = "hpet",
    .pd_order = 20,
    .pd_init = hpet_init,
    .pd_fini = hpet_fini,
};
PLATFORM_DEV_SET(hpet_dev);
