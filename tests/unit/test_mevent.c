/* The event loop: fd readiness, timers, signals, deletion, exit status. */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "mevent.h"
#include "test.h"

static int reads, ticks, oneshots, signals_seen;
static struct mevent *tick_ev;
static int pipefd[2];

static void
on_read(int fd, enum ev_type type, void *arg)
{
	char c;

	if (read(fd, &c, 1) == 1 && c == 'x' && type == EVF_READ)
		reads++;
}

static void
on_tick(int fd, enum ev_type type, void *arg)
{
	if (++ticks == 3) {
		/* Deleting itself from its own callback must be safe. */
		mevent_delete(tick_ev);
		if (write(pipefd[1], "x", 1) != 1)
			return;
	}
}

static void
on_oneshot(int fd, enum ev_type type, void *arg)
{
	oneshots++;
	kill(getpid(), SIGUSR1);
}

static void
on_signal(int signo, enum ev_type type, void *arg)
{
	if (signo == SIGUSR1 && type == EVF_SIGNAL)
		signals_seen++;
	mevent_exit(42);
}

static void *
exit_from_thread(void *arg)
{
	usleep(20000);
	mevent_exit(7);
	return NULL;
}

int
main(void)
{
	pthread_t t;

	CHECK(mevent_init() == 0, "init");
	CHECK(pipe(pipefd) == 0, "pipe");
	CHECK(mevent_add(pipefd[0], EVF_READ, on_read, NULL) != NULL, "add fd");
	CHECK(mevent_add(SIGUSR1, EVF_SIGNAL, on_signal, NULL) != NULL,
	      "add signal");
	tick_ev = mevent_add(5, EVF_TIMER, on_tick, NULL);
	CHECK(tick_ev != NULL, "add periodic 5 ms timer");
	CHECK(mevent_add(0, EVF_TIMER, on_tick, NULL) == NULL,
	      "zero period refused");
	CHECK(mevent_add_timer_ns(60000000ULL, 0, on_oneshot, NULL) != NULL,
	      "add one-shot timer");
	CHECK(mevent_dispatch() == 42, "dispatch returns mevent_exit status");
	CHECK(ticks == 3, "periodic timer stops after deletion");
	CHECK(reads == 1, "fd callback ran for the written byte");
	CHECK(oneshots == 1 && signals_seen == 1,
	      "one-shot timer fired and the signal arrived");

	/* mevent_exit from another thread wakes a blocked dispatch. */
	pthread_create(&t, NULL, exit_from_thread, NULL);
	mevent_fini();
	CHECK(mevent_init() == 0, "re-init");
	CHECK(mevent_dispatch() == 7, "exit from another thread");
	pthread_join(t, NULL);
	mevent_fini();
	return test_done();
}
