/*
 * blockif-bench: the block backend's engines (threads, uring) side by
 * side on the host, no guest involved: 4 KiB requests, sequential or
 * random, read or write, with a chosen number in flight, through
 * blockif_read/blockif_write exactly as virtio-blk submits them.
 *
 *   blockif-bench FILE ENGINE PATTERN QD SECONDS [nocache]
 *     ENGINE  threads | uring
 *     PATTERN seqread | seqwrite | randread | randwrite
 *   prints: engine pattern qd iops MB/s
 *
 * Build (from the repository root):
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -pthread -Ibhyve/core -Ibhyve/block \
 *       bench/virtio-blk/blockif-bench.c bhyve/block/block_if.c \
 *       bhyve/core/config.c -luring -o build/blockif-bench
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "block_if.h"
#include "config.h"

#define BS    4096
#define QDMAX 64

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct blockif_req reqs[QDMAX];
static int free_list[QDMAX], nfree;
static unsigned long long done_ops;
static int errors;

static void
on_done(struct blockif_req *req, int err)
{
	pthread_mutex_lock(&mtx);
	if (err != 0)
		errors++;
	done_ops++;
	free_list[nfree++] = (int)(req - reqs);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mtx);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct config_node *n;
	struct blockif_ctxt *bc;
	unsigned long long nblocks, next = 0, submitted = 0;
	unsigned seed = 12345;
	bool rnd, wr;
	double t0, secs;
	char *bufs;
	int qd, i, rc;

	if (argc < 6) {
		fprintf(stderr,
			"usage: blockif-bench FILE threads|uring "
			"seqread|seqwrite|randread|randwrite QD SECONDS "
			"[nocache]\n");
		return 4;
	}
	qd = atoi(argv[4]);
	secs = atof(argv[5]);
	if (qd < 1 || qd > QDMAX || secs <= 0) {
		fprintf(stderr, "blockif-bench: QD 1..%d, SECONDS > 0\n",
			QDMAX);
		return 4;
	}
	rnd = strncmp(argv[3], "rand", 4) == 0;
	wr = strstr(argv[3], "write") != NULL;
	init_config();
	n = create_config_node("bench");
	set_config_value_node(n, "path", argv[1]);
	set_config_value_node(n, "engine", argv[2]);
	if (argc > 6 && strcmp(argv[6], "nocache") == 0)
		set_config_value_node(n, "nocache", "true");
	bc = blockif_open(n, "blockif-bench");
	if (bc == NULL)
		return 1;
	nblocks = (unsigned long long)blockif_size(bc) / BS;
	bufs = aligned_alloc(BS, (size_t)qd * BS);
	memset(bufs, 0x5a, (size_t)qd * BS);
	for (i = 0; i < qd; i++)
		free_list[nfree++] = i;
	t0 = now();
	pthread_mutex_lock(&mtx);
	while (now() - t0 < secs) {
		while (nfree == 0)
			pthread_cond_wait(&cv, &mtx);
		i = free_list[--nfree];
		pthread_mutex_unlock(&mtx);
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].br_iov[0].iov_base = bufs + (size_t)i * BS;
		reqs[i].br_iov[0].iov_len = BS;
		reqs[i].br_iovcnt = 1;
		reqs[i].br_resid = BS;
		reqs[i].br_callback = on_done;
		if (rnd)
			next = (unsigned long long)rand_r(&seed) *
			       (unsigned long long)rand_r(&seed) % nblocks;
		else
			next = (next + 1) % nblocks;
		reqs[i].br_offset = (off_t)(next * BS);
		rc = wr ? blockif_write(bc, &reqs[i])
			: blockif_read(bc, &reqs[i]);
		pthread_mutex_lock(&mtx);
		if (rc != 0) {
			errors++;
			free_list[nfree++] = i;
		}
		submitted++;
	}
	pthread_mutex_unlock(&mtx);
	blockif_drain(bc);
	secs = now() - t0;
	printf("%s %s qd=%d%s iops=%.0f MB/s=%.1f errors=%d\n",
	       blockif_engine(bc), argv[3], qd, argc > 6 ? " nocache" : "",
	       (double)done_ops / secs, (double)done_ops * BS / secs / 1e6,
	       errors);
	blockif_close(bc);
	free(bufs);
	fini_config();
	return errors != 0;
}
