/*
 * The device event loop (bhyve's mevent) on epoll: file descriptors,
 * periodic/one-shot timers (timerfd) and signals (signalfd).  Callbacks
 * run on the thread that calls mevent_dispatch().  mevent_add and
 * mevent_delete may be called from any thread.
 */
#ifndef MEVENT_H
#define MEVENT_H

#include <stdint.h>

enum ev_type { EVF_READ, EVF_WRITE, EVF_TIMER, EVF_SIGNAL };

struct mevent;

typedef void (*mevent_cb_t)(int fd, enum ev_type type, void *arg);

int mevent_init(void);
/* For EVF_TIMER, fd is the period in milliseconds (as bhyve). */
struct mevent *mevent_add(int fd, enum ev_type type, mevent_cb_t cb, void *arg);
/* A timer with nanosecond resolution; periodic if period_ns != 0, else
 * one-shot: it deletes itself after its callback has run. */
struct mevent *mevent_add_timer_ns(uint64_t first_ns, uint64_t period_ns,
				   mevent_cb_t cb, void *arg);
int mevent_enable(struct mevent *evp);
int mevent_disable(struct mevent *evp);
int mevent_delete(struct mevent *evp);
/* Deletes the event and closes its file descriptor. */
int mevent_delete_close(struct mevent *evp);
/* Runs until mevent_exit() is called; returns its argument. */
int mevent_dispatch(void);
void mevent_exit(int status);
/* Deletes every event (closing the fds it created) and the loop itself. */
void mevent_fini(void);

#endif
