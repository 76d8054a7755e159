/*
 * kstack: a sampling profiler of kernel stacks for one process, for the
 * nested rig's L1 (docs/rig.md, "Profiling in L1").
 *
 *   kstack PID [DEPTH]
 *
 * Every 3 ms, until PID exits, reads /proc/PID/task/ * /stack (root only)
 * and the task's state, and counts identical "comm state: frames" lines
 * (the top DEPTH frames, default 10).  At exit prints the 25 most frequent,
 * "kstack COUNT comm S: <frame <frame ...".
 *
 * Why not perf: in L1 (QEMU TCG) perf's cpu-clock samples land mostly in
 * the idle task while nested guests run, so they do not say where a VMM's
 * threads spend their time.  On a one-CPU L1 the sampler itself preempts
 * the running thread, so a running thread's stack shows where it was.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYS 4096
#define KEY_LEN	 2048
#define TOP	 25

struct sample {
	char *key;
	long count;
};

static struct sample samples[MAX_KEYS];
static int nsamples;
static long dropped;

static void
sample_add(const char *key)
{
	for (int i = 0; i < nsamples; i++) {
		if (strcmp(samples[i].key, key) == 0) {
			samples[i].count++;
			return;
		}
	}
	if (nsamples == MAX_KEYS) {
		dropped++;
		return;
	}
	samples[nsamples].key = strdup(key);
	if (samples[nsamples].key == NULL) {
		dropped++;
		return;
	}
	samples[nsamples++].count = 1;
}

static int
sample_cmp(const void *a, const void *b)
{
	long x = ((const struct sample *)a)->count;
	long y = ((const struct sample *)b)->count;

	return (x < y) - (x > y);
}

/* The first line of a small /proc file, without its newline. */
static void
read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* "comm S: <frame <frame ...": frames without their "+0x.../0x..." tail. */
static void
task_key(const char *dir, int depth, char *key, size_t len)
{
	char path[512], comm[64], stat[512], line[512];
	const char *state = "?";
	char *paren, *fn;
	FILE *f;

	snprintf(path, sizeof(path), "%s/comm", dir);
	read_line(path, comm, sizeof(comm));
	snprintf(path, sizeof(path), "%s/stat", dir);
	read_line(path, stat, sizeof(stat));
	/* The state follows the last ')': comm may itself hold one. */
	paren = strrchr(stat, ')');
	if (paren != NULL && paren[1] == ' ' && paren[2] != '\0') {
		paren[3] = '\0';
		state = paren + 2;
	}
	snprintf(key, len, "%s %s:", comm, state);
	snprintf(path, sizeof(path), "%s/stack", dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	for (int n = 0; n < depth && fgets(line, sizeof(line), f) != NULL;
	     n++) {
		fn = strchr(line, ']');
		fn = fn != NULL ? fn + 2 : line;
		fn[strcspn(fn, "+\n")] = '\0';
		strncat(key, " <", len - strlen(key) - 1);
		strncat(key, fn, len - strlen(key) - 1);
	}
	fclose(f);
}

static void
sample_round(const char *taskdir, int depth)
{
	char dir[96], key[KEY_LEN];
	struct dirent *e;
	DIR *d = opendir(taskdir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);

		if (*end != '\0' || tid <= 0)
			continue; /* "." and ".." */
		snprintf(dir, sizeof(dir), "%s/%ld", taskdir, tid);
		task_key(dir, depth, key, sizeof(key));
		sample_add(key);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	const struct timespec period = {0, 3000000};
	char taskdir[64];
	long pid, total = 0;
	int depth = 10;

	if (argc < 2 || argc > 3 || (pid = strtol(argv[1], NULL, 10)) <= 0 ||
	    (argc == 3 && (depth = atoi(argv[2])) <= 0)) {
		fprintf(stderr, "usage: kstack PID [DEPTH]\n");
		return 4;
	}
	snprintf(taskdir, sizeof(taskdir), "/proc/%ld/task", pid);
	while (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
		sample_round(taskdir, depth);
		total++;
		nanosleep(&period, NULL);
	}
	qsort(samples, (size_t)nsamples, sizeof(samples[0]), sample_cmp);
	printf("kstack %ld rounds, %ld samples dropped\n", total, dropped);
	for (int i = 0; i < nsamples && i < TOP; i++)
		printf("kstack %ld %s\n", samples[i].count, samples[i].key);
	return 0;
}
