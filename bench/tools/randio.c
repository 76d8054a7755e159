/*
 * randio: the in-guest I/O timer of bench/virtio (issue 6 benchmarks).
 * The L2 guest is busybox only (no fio, no iperf3), so this small static
 * program does the parts busybox cannot time precisely:
 *
 *   randio randread|randwrite DEV SPAN_MIB SECONDS
 *	4 KiB pread/pwrite with O_DIRECT at random 4 KiB-aligned offsets in
 *	the first SPAN_MIB MiB of DEV, one at a time (queue depth 1), for
 *	SECONDS seconds; prints "randio MODE ops=N ms=N iops=N".
 *   randio sink
 *	reads stdin to EOF (e.g. from "nc -l"), timing from the first byte
 *	to EOF, so listener start-up and connect retries are not counted;
 *	prints "randio sink bytes=N ms=N kbps=N" (KiB/s).
 *
 * Built on the host with gcc -static (bench/virtio does it). Exit status
 * 0 on success, 1 on an I/O error, 4 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RANDIO_BLOCK 4096u

static uint64_t
randio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: cheap, deterministic offsets; quality does not matter here. */
static uint64_t
randio_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int
randio_usage(void)
{
	fprintf(stderr, "usage: randio randread|randwrite DEV SPAN_MIB "
			"SECONDS | randio sink\n");
	return 4;
}

static int
randio_parse(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
randio_random(int write, const char *dev, unsigned long span_mib,
	      unsigned long secs)
{
	uint64_t blocks = (uint64_t)span_mib * (1024 * 1024 / RANDIO_BLOCK);
	uint64_t seed = 0x9e3779b97f4a7c15u, ops = 0, t0, t1, end;
	void *buf;
	int fd;

	/* O_DIRECT needs an aligned buffer; 4 KiB covers every sector size. */
	if (posix_memalign(&buf, RANDIO_BLOCK, RANDIO_BLOCK) != 0) {
		fprintf(stderr, "randio: out of memory\n");
		return 1;
	}
	memset(buf, 0xa5, RANDIO_BLOCK);
	fd = open(dev, (write ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "randio: %s: %s\n", dev, strerror(errno));
		free(buf);
		return 1;
	}
	t0 = randio_now_ns();
	end = t0 + (uint64_t)secs * 1000000000u;
	do {
		off_t off = (off_t)(randio_next(&seed) % blocks) * RANDIO_BLOCK;
		ssize_t n = write ? pwrite(fd, buf, RANDIO_BLOCK, off)
				  : pread(fd, buf, RANDIO_BLOCK, off);

		if (n != (ssize_t)RANDIO_BLOCK) {
			fprintf(stderr, "randio: %s at %lld: %s\n", dev,
				(long long)off,
				n < 0 ? strerror(errno) : "short");
			close(fd);
			free(buf);
			return 1;
		}
		ops++;
		t1 = randio_now_ns();
	} while (t1 < end);
	if (write && fsync(fd) != 0) {
		fprintf(stderr, "randio: fsync %s: %s\n", dev, strerror(errno));
		close(fd);
		free(buf);
		return 1;
	}
	close(fd);
	free(buf);
	printf("randio %s ops=%llu ms=%llu iops=%llu\n",
	       write ? "randwrite" : "randread", (unsigned long long)ops,
	       (unsigned long long)((t1 - t0) / 1000000u),
	       (unsigned long long)(ops * 1000000000u / (t1 - t0)));
	return 0;
}

static int
randio_sink(void)
{
	static char buf[256 * 1024];
	uint64_t bytes = 0, t0 = 0, t1, ns;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "randio: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		if (bytes == 0)
			t0 = randio_now_ns();
		bytes += (uint64_t)n;
	}
	t1 = randio_now_ns();
	ns = bytes != 0 && t1 > t0 ? t1 - t0 : 1;
	printf("randio sink bytes=%llu ms=%llu kbps=%llu\n",
	       (unsigned long long)bytes, (unsigned long long)(ns / 1000000u),
	       (unsigned long long)(bytes * 1000000000u / 1024u / ns));
	return bytes != 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	unsigned long span, secs;

	if (argc == 2 && strcmp(argv[1], "sink") == 0)
		return randio_sink();
	if (argc != 5 || (strcmp(argv[1], "randread") != 0 &&
			  strcmp(argv[1], "randwrite") != 0))
		return randio_usage();
	if (randio_parse(argv[3], 1024 * 1024, &span) != 0 ||
	    randio_parse(argv[4], 3600, &secs) != 0)
		return randio_usage();
	return randio_random(argv[1][4] == 'w', argv[2], span, secs);
}
