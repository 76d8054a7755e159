/*
 * A one-shot device timer on the event loop that any thread may arm,
 * re-arm or cancel: a timerfd of its own, watched by mevent.  Re-arming
 * discards an expiry the loop has seen but not yet handled, so a
 * callback never runs for a deadline that was replaced.  Device models
 * still re-check the time in their callback (clocks may slew).
 */
#ifndef VTIMER_H
#define VTIMER_H

#include <stdint.h>

struct vtimer;

typedef void (*vtimer_cb_t)(void *arg);

/* NULL after printing one line if the timerfd or the event fails. */
struct vtimer *vtimer_create(const char *name, vtimer_cb_t cb, void *arg);
/* Fires once, delay_ns from now (0 means as soon as possible). */
int vtimer_arm(struct vtimer *vt, uint64_t delay_ns);
int vtimer_cancel(struct vtimer *vt);
/* On the event-loop thread, or while the loop is not dispatching. */
void vtimer_destroy(struct vtimer *vt);
/* CLOCK_MONOTONIC in nanoseconds: the clock the timers run on, and the
 * one device models measure intervals with. */
uint64_t vtimer_now_ns(void);

#endif
