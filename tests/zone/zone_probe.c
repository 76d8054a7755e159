/*
 * zone-probe: what tests/zone/run-zone-tests runs in a zone instead of
 * bhyve (zone.bhyve=PATH).  Like bhyve it is started as "-k /vm.conf",
 * and its probe.* keys there say what to try:
 *
 *   probe.open=P1,P2     open each read-only: "probe: open P: ok|<error>"
 *   probe.write=P1,...   open each for writing: "probe: write P: ..."
 *   probe.runs=FILE      append one byte to FILE per run; while FILE
 *   probe.resets=N       holds at most N bytes, exit 0 (a guest reset)
 *   probe.exit=N         the exit status otherwise (default 1)
 *   probe.wait=on        wait for SIGTERM, then print "probe: SIGTERM"
 *   probe.forbidden=on   make a system call the seccomp filter forbids
 *   probe.alloc=MIB      allocate and touch that much memory
 *   probe.claim=on       claim the VM's registry entry, as bhyve does
 *   probe.tapfd=on       the tap on pci.0.5.0.tapfd: "probe: tapfd N: NAME"
 *
 * It always prints its identity: uid, gid, pid, hostname, and the
 * Cap*, NoNewPrivs and Seccomp lines of /proc/self/status; with
 * zone.seccomp=on it installs bhyve's seccomp filter first, as bhyve
 * does.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "config.h"
#include "registry.h"
#include "sandbox.h"

static void
probe_each(const char *key, int flags, const char *what)
{
	const char *v = get_config_value(key);
	char list[4096], *save = NULL, *tok;

	if (v == NULL)
		return;
	snprintf(list, sizeof(list), "%s", v);
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		int fd = open(tok, flags | O_CLOEXEC);

		printf("probe: %s %s: %s\n", what, tok,
		       fd >= 0 ? "ok" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

/* The network interfaces this process sees (/proc/net/dev). */
static void
probe_netdevs(void)
{
	char line[256], names[256] = "";
	FILE *fp = fopen("/proc/net/dev", "r");

	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *colon = strchr(line, ':'), *name = line;

		if (colon == NULL)
			continue;
		*colon = '\0';
		while (*name == ' ')
			name++;
		if (strlen(names) + strlen(name) + 2 < sizeof(names)) {
			strcat(names, names[0] ? "," : "");
			strcat(names, name);
		}
	}
	fclose(fp);
	printf("probe: netdevs=%s\n", names);
}

static void
probe_identity(void)
{
	char line[256], host[128] = "";
	FILE *fp = fopen("/proc/self/status", "r");

	gethostname(host, sizeof(host) - 1);
	printf("probe: uid=%u gid=%u pid=%d hostname=%s\n", (unsigned)getuid(),
	       (unsigned)getgid(), (int)getpid(), host);
	if (fp == NULL) {
		printf("probe: /proc/self/status: %s\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Cap", 3) == 0 ||
		    strncmp(line, "NoNewPrivs", 10) == 0 ||
		    strncmp(line, "Seccomp:", 8) == 0)
			printf("probe: %s", line);
	fclose(fp);
	probe_netdevs();
}

/* The run count kept in FILE (one byte per run). */
static long
probe_count_run(const char *file)
{
	struct stat st;
	int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd < 0 || write(fd, "r", 1) != 1 || fstat(fd, &st) != 0) {
		printf("probe: runs %s: %s\n", file, strerror(errno));
		return -1;
	}
	close(fd);
	return (long)st.st_size;
}

/* The tap bhyvezone passed for the device in slot 5. */
static void
probe_tapfd(void)
{
	const char *v = get_config_value("pci.0.5.0.tapfd");
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (v == NULL)
		printf("probe: tapfd: none\n");
	else if (ioctl(atoi(v), TUNGETIFF, &ifr) != 0)
		printf("probe: tapfd %s: %s\n", v, strerror(errno));
	else
		printf("probe: tapfd %s: %s\n", v, ifr.ifr_name);
}

static volatile sig_atomic_t probe_sigterm;

static void
probe_on_sigterm(int signo)
{
	probe_sigterm = 1;
}

static void
probe_alloc(long mib)
{
	for (long i = 0; i < mib; i++) {
		char *p = malloc(1 << 20);

		if (p == NULL) {
			printf("probe: alloc: out of memory after %ld MiB\n",
			       i);
			return;
		}
		memset(p, 1, 1 << 20);
	}
	printf("probe: alloc: %ld MiB\n", mib);
}

int
main(int argc, char **argv)
{
	char err[256];
	const char *v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	init_config();
	if (argc != 3 || strcmp(argv[1], "-k") != 0 ||
	    load_config_file(argv[2], err, sizeof(err)) != 0) {
		fprintf(stderr, "probe: usage: zone-probe -k FILE (%s)\n",
			argc == 3 ? err : "");
		return 4;
	}
	if (get_config_bool_default("zone.seccomp", false) &&
	    sandbox_install() != 0)
		return 4;
	signal(SIGTERM, probe_on_sigterm);
	if (get_config_bool_default("probe.claim", false) &&
	    registry_claim(get_config_value("name"), err, sizeof(err)) != 0)
		printf("probe: claim: %s\n", err);
	probe_identity();
	if (get_config_bool_default("probe.tapfd", false))
		probe_tapfd();
	probe_each("probe.open", O_RDONLY, "open");
	probe_each("probe.write", O_WRONLY | O_APPEND, "write");
	if ((v = get_config_value("probe.alloc")) != NULL)
		probe_alloc(atol(v));
	if (get_config_bool_default("probe.forbidden", false)) {
		printf("probe: calling unshare(0)\n");
		syscall(SYS_unshare, 0);
		printf("probe: unshare returned\n");
	}
	if (get_config_bool_default("probe.wait", false)) {
		sigset_t none;

		sigemptyset(&none);
		printf("probe: waiting\n");
		while (!probe_sigterm)
			sigsuspend(&none);
		printf("probe: SIGTERM\n");
	}
	if ((v = get_config_value("probe.runs")) != NULL) {
		long runs = probe_count_run(v);
		const char *resets = get_config_value("probe.resets");

		printf("probe: run %ld\n", runs);
		if (resets != NULL && runs >= 0 && runs <= atol(resets))
			return 0;
	}
	v = get_config_value("probe.exit");
	return v ? atoi(v) : 1;
}
