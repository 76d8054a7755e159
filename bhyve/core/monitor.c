/*
 * Monitor mode (monitor.h): a supervising parent that restarts the
 * guest's process after every reset.
 */
#include "monitor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const int monitor_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define MONITOR_NSIGNALS (int)(sizeof(monitor_signals) / sizeof(int))

/* The child now running; 0 in a child and between children. */
static volatile sig_atomic_t monitor_child;

static void
monitor_forward(int signo)
{
	pid_t child = (pid_t)monitor_child;

	if (child > 0)
		kill(child, signo);
}

static void
monitor_set_handlers(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < MONITOR_NSIGNALS; i++)
		sigaction(monitor_signals[i], &sa, NULL);
}

/* Waits for pid; its wait status, or -1. */
static int
monitor_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

int
monitor_run(void)
{
	int status, runs = 0;
	pid_t pid;

	monitor_set_handlers(monitor_forward);
	for (;;) {
		monitor_child = 0;
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "bhyve: monitor: fork: %s\n",
				strerror(errno));
			return 4;
		}
		if (pid == 0) {
			monitor_set_handlers(SIG_DFL);
			return -1;
		}
		monitor_child = pid;
		runs++;
		status = monitor_wait(pid);
		monitor_child = 0;
		if (status < 0) {
			fprintf(stderr, "bhyve: monitor: waitpid: %s\n",
				strerror(errno));
			return 4;
		}
		if (WIFSIGNALED(status)) {
			monitor_set_handlers(SIG_DFL);
			raise(WTERMSIG(status));
			return 4;
		}
		if (WEXITSTATUS(status) != 0)
			return WEXITSTATUS(status);
		fprintf(stderr,
			"bhyve: monitor: the guest reset (run %d); starting "
			"it again\n",
			runs);
	}
}
