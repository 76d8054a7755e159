/*
 * Start-up notices, queued until the VM starts (notice.h).
 */
#include "notice.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define NOTICE_MAX 32

static pthread_mutex_t notice_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *notice_lines[NOTICE_MAX];
static int notice_count;
static bool notice_flushed;

void
notice(const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line == NULL)
		return;
	pthread_mutex_lock(&notice_mtx);
	if (notice_flushed || notice_count == NOTICE_MAX) {
		fprintf(stderr, "bhyve: %s\n", line);
		free(line);
	} else {
		notice_lines[notice_count++] = line;
	}
	pthread_mutex_unlock(&notice_mtx);
}

void
notice_flush(void)
{
	pthread_mutex_lock(&notice_mtx);
	for (int i = 0; i < notice_count; i++) {
		fprintf(stderr, "bhyve: %s\n", notice_lines[i]);
		free(notice_lines[i]);
	}
	notice_count = 0;
	notice_flushed = true;
	pthread_mutex_unlock(&notice_mtx);
}

void
notice_discard(void)
{
	pthread_mutex_lock(&notice_mtx);
	for (int i = 0; i < notice_count; i++)
		free(notice_lines[i]);
	notice_count = 0;
	pthread_mutex_unlock(&notice_mtx);
}

int
notice_pending(void)
{
	int n;

	pthread_mutex_lock(&notice_mtx);
	n = notice_count;
	pthread_mutex_unlock(&notice_mtx);
	return n;
}
