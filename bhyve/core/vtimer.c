/*
 * Device timers: a timerfd per timer, registered with the event loop as
 * an ordinary readable descriptor so that the timer itself, unlike an
 * mevent one-shot, outlives each expiry and can be re-armed from vCPU
 * threads with one timerfd_settime() call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mevent.h"
#include "vtimer.h"

#define NS_PER_S 1000000000ULL

struct vtimer {
	int fd;
	struct mevent *mev;
	vtimer_cb_t cb;
	void *arg;
};

/*
 * A read that finds no expiry means the timer was re-armed or cancelled
 * after epoll saw it fire: the old deadline no longer exists.
 */
static void
vtimer_event(int fd, enum ev_type type, void *arg)
{
	struct vtimer *vt = arg;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) !=
	    (ssize_t)sizeof(expirations))
		return;
	vt->cb(vt->arg);
}

struct vtimer *
vtimer_create(const char *name, vtimer_cb_t cb, void *arg)
{
	struct vtimer *vt = calloc(1, sizeof(*vt));

	if (vt == NULL) {
		fprintf(stderr, "bhyve: %s: out of memory\n", name);
		return NULL;
	}
	vt->cb = cb;
	vt->arg = arg;
	vt->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vt->fd < 0) {
		fprintf(stderr, "bhyve: %s: timerfd_create: %m\n", name);
		free(vt);
		return NULL;
	}
	vt->mev = mevent_add(vt->fd, EVF_READ, vtimer_event, vt);
	if (vt->mev == NULL) {
		fprintf(stderr, "bhyve: %s: cannot watch its timer\n", name);
		close(vt->fd);
		free(vt);
		return NULL;
	}
	return vt;
}

int
vtimer_arm(struct vtimer *vt, uint64_t delay_ns)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (delay_ns == 0)
		delay_ns = 1; /* an all-zero it_value would disarm it */
	its.it_value.tv_sec = (time_t)(delay_ns / NS_PER_S);
	its.it_value.tv_nsec = (long)(delay_ns % NS_PER_S);
	return timerfd_settime(vt->fd, 0, &its, NULL);
}

int
vtimer_cancel(struct vtimer *vt)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	return timerfd_settime(vt->fd, 0, &its, NULL);
}

/*
 * Call on the event-loop thread, or while no dispatch is running: a
 * callback in flight on another thread would still use vt.  The loop
 * closes the descriptor once no dispatch batch can refer to it.
 */
void
vtimer_destroy(struct vtimer *vt)
{
	if (vt == NULL)
		return;
	vtimer_cancel(vt);
	mevent_delete_close(vt->mev);
	free(vt);
}

uint64_t
vtimer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
