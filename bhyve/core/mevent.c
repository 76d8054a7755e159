/*
 * The device event loop on epoll.  Timers are timerfds and signals are a
 * signalfd each, so every event source is one file descriptor and the
 * loop is a single epoll_wait.  Deleted events are freed only after the
 * batch that may still reference them has been dispatched.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mevent.h"

#define MEVENT_BATCH 32

struct mevent {
	int fd;
	enum ev_type type;
	mevent_cb_t cb;
	void *arg;
	bool owns_fd; /* timerfd/signalfd created here */
	bool close_fd;
	bool deleted;
	bool oneshot; /* a timer that deletes itself once it has fired */
	int signo;
	struct mevent *next_dead;
	struct mevent *prev, *next; /* every live event, for mevent_fini */
};

static struct mevent *mevent_live;

static int mevent_epfd = -1;
static int mevent_wakefd = -1;
static pthread_mutex_t mevent_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct mevent *mevent_dead;
static _Atomic int mevent_done;
static int mevent_status;

int
mevent_init(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (mevent_epfd >= 0)
		return 0;
	mevent_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (mevent_epfd < 0)
		return -1;
	mevent_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mevent_wakefd < 0)
		return -1;
	mevent_done = 0;
	return epoll_ctl(mevent_epfd, EPOLL_CTL_ADD, mevent_wakefd, &ev);
}

static uint32_t
mevent_epoll_events(enum ev_type type)
{
	return type == EVF_WRITE ? EPOLLOUT : EPOLLIN;
}

static struct mevent *
mevent_register(int fd, enum ev_type type, mevent_cb_t cb, void *arg,
		bool owns_fd)
{
	struct mevent *mev;
	struct epoll_event ev;

	if (mevent_init() != 0)
		return NULL;
	mev = calloc(1, sizeof(*mev));
	if (mev == NULL)
		return NULL;
	*mev = (struct mevent){
	    .fd = fd, .type = type, .cb = cb, .arg = arg, .owns_fd = owns_fd};
	ev.events = mevent_epoll_events(type);
	ev.data.ptr = mev;
	pthread_mutex_lock(&mevent_mtx);
	if (epoll_ctl(mevent_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		pthread_mutex_unlock(&mevent_mtx);
		free(mev);
		return NULL;
	}
	mev->next = mevent_live;
	if (mevent_live != NULL)
		mevent_live->prev = mev;
	mevent_live = mev;
	pthread_mutex_unlock(&mevent_mtx);
	return mev;
}

static int
mevent_timerfd(uint64_t first_ns, uint64_t period_ns)
{
	struct itimerspec its;
	int fd;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -1;
	if (first_ns == 0)
		first_ns = 1; /* zero would disarm the timer */
	its.it_value.tv_sec = (time_t)(first_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(first_ns % 1000000000ULL);
	its.it_interval.tv_sec = (time_t)(period_ns / 1000000000ULL);
	its.it_interval.tv_nsec = (long)(period_ns % 1000000000ULL);
	if (timerfd_settime(fd, 0, &its, NULL) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct mevent *
mevent_add_timer_ns(uint64_t first_ns, uint64_t period_ns, mevent_cb_t cb,
		    void *arg)
{
	struct mevent *mev;
	int fd = mevent_timerfd(first_ns, period_ns);

	if (fd < 0)
		return NULL;
	mev = mevent_register(fd, EVF_TIMER, cb, arg, true);
	if (mev == NULL)
		close(fd);
	else
		mev->oneshot = period_ns == 0;
	return mev;
}

static struct mevent *
mevent_add_signal(int signo, mevent_cb_t cb, void *arg)
{
	struct mevent *mev;
	sigset_t set;
	int fd;

	/* The signal must be blocked for signalfd to see it; callers add
	 * signals before they create other threads, which inherit this. */
	sigemptyset(&set);
	sigaddset(&set, signo);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return NULL;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return NULL;
	mev = mevent_register(fd, EVF_SIGNAL, cb, arg, true);
	if (mev == NULL) {
		close(fd);
		return NULL;
	}
	mev->signo = signo;
	return mev;
}

struct mevent *
mevent_add(int fd, enum ev_type type, mevent_cb_t cb, void *arg)
{
	uint64_t ms;

	switch (type) {
	case EVF_TIMER:
		if (fd <= 0)
			return NULL;
		ms = (uint64_t)fd * 1000000ULL;
		return mevent_add_timer_ns(ms, ms, cb, arg);
	case EVF_SIGNAL:
		return mevent_add_signal(fd, cb, arg);
	case EVF_READ:
	case EVF_WRITE:
		return mevent_register(fd, type, cb, arg, false);
	}
	return NULL;
}

int
mevent_enable(struct mevent *mev)
{
	struct epoll_event ev = {.events = mevent_epoll_events(mev->type),
				 .data.ptr = mev};

	return epoll_ctl(mevent_epfd, EPOLL_CTL_MOD, mev->fd, &ev);
}

int
mevent_disable(struct mevent *mev)
{
	struct epoll_event ev = {.events = 0, .data.ptr = mev};

	return epoll_ctl(mevent_epfd, EPOLL_CTL_MOD, mev->fd, &ev);
}

static int
mevent_remove(struct mevent *mev, bool close_fd)
{
	if (mev == NULL)
		return -1;
	pthread_mutex_lock(&mevent_mtx);
	if (mev->deleted) {
		pthread_mutex_unlock(&mevent_mtx);
		return 0;
	}
	(void)epoll_ctl(mevent_epfd, EPOLL_CTL_DEL, mev->fd, NULL);
	if (mev->prev != NULL)
		mev->prev->next = mev->next;
	else
		mevent_live = mev->next;
	if (mev->next != NULL)
		mev->next->prev = mev->prev;
	mev->deleted = true;
	mev->close_fd = close_fd || mev->owns_fd;
	mev->next_dead = mevent_dead;
	mevent_dead = mev;
	pthread_mutex_unlock(&mevent_mtx);
	return 0;
}

int
mevent_delete(struct mevent *mev)
{
	return mevent_remove(mev, false);
}

int
mevent_delete_close(struct mevent *mev)
{
	return mevent_remove(mev, true);
}

static void
mevent_reap(void)
{
	struct mevent *dead;

	pthread_mutex_lock(&mevent_mtx);
	dead = mevent_dead;
	mevent_dead = NULL;
	pthread_mutex_unlock(&mevent_mtx);
	while (dead != NULL) {
		struct mevent *next = dead->next_dead;

		if (dead->close_fd)
			close(dead->fd);
		free(dead);
		dead = next;
	}
}

/* Timers and signals are consumed here so callbacks see one event each. */
static void
mevent_drain(struct mevent *mev)
{
	uint64_t ticks;
	struct signalfd_siginfo si;

	if (mev->type == EVF_TIMER) {
		if (read(mev->fd, &ticks, sizeof(ticks)) < 0)
			return;
	} else if (mev->type == EVF_SIGNAL) {
		while (read(mev->fd, &si, sizeof(si)) == sizeof(si))
			;
	}
}

int
mevent_dispatch(void)
{
	struct epoll_event evs[MEVENT_BATCH];
	uint64_t v;

	if (mevent_init() != 0)
		return -1;
	while (!mevent_done) {
		int n = epoll_wait(mevent_epfd, evs, MEVENT_BATCH, -1);

		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n && !mevent_done; i++) {
			struct mevent *mev = evs[i].data.ptr;

			if (mev == NULL) {
				(void)read(mevent_wakefd, &v, sizeof(v));
				continue;
			}
			if (mev->deleted)
				continue;
			mevent_drain(mev);
			mev->cb(mev->type == EVF_SIGNAL ? mev->signo : mev->fd,
				mev->type, mev->arg);
			if (mev->oneshot)
				mevent_delete(mev);
		}
		mevent_reap();
	}
	return mevent_status;
}

void
mevent_exit(int status)
{
	uint64_t one = 1;

	mevent_status = status;
	mevent_done = 1;
	if (mevent_wakefd >= 0)
		(void)write(mevent_wakefd, &one, sizeof(one));
}

void
mevent_fini(void)
{
	while (mevent_live != NULL)
		mevent_remove(mevent_live, false);
	mevent_reap();
	if (mevent_epfd >= 0)
		close(mevent_epfd);
	if (mevent_wakefd >= 0)
		close(mevent_wakefd);
	mevent_epfd = mevent_wakefd = -1;
}
