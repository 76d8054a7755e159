/*
 * Runs a command and reports its wall time and peak resident memory, for
 * the benchmarks (busybox in the rig has no GNU time):
 *
 *   runstat CMD [ARG...]   ->   "runstat wall_ms W maxrss_kb R status S"
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: runstat CMD [ARG...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("runstat: exec");
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
		perror("runstat");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("runstat wall_ms %.3f maxrss_kb %ld status %d\n",
	       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6,
	       ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	return 0;
}
