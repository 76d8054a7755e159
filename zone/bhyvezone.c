/*
 * bhyvezone: runs one VM confined, from a declarative spec (docs/zone.md),
 * as illumos runs a bhyve VM in a zone of the bhyve brand.
 *
 *   bhyvezone SPEC
 *
 * The host side (this process, root) checks the whole spec, prepares the
 * registry entry, the root's scratch directory and the cgroup, and
 * starts the zone's pid 1 in new mount, pid, ipc and uts (and, with
 * zone.netns=on, net) namespaces.  Pid 1 builds the root, drops every
 * privilege, and supervises bhyve as the brand's boot program does: a
 * guest reset (exit 0) starts bhyve again in the same zone, any other end
 * is reported and becomes bhyvezone's status.  SIGTERM, SIGINT and
 * SIGHUP are passed on to bhyve (SIGTERM: the ACPI power button).
 *
 * Exit status: bhyve's (1 poweroff, 2 halt, 3 triple fault, 4 error),
 * 128+N when bhyve died of signal N, and 4 for a bad spec or a zone that
 * could not be built, with nothing left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "config.h"
#include "registry.h"
#include "zone_cgroup.h"
#include "zone_jail.h"
#include "zone_spec.h"

#define ZONE_EXIT_ERROR 4
/* The taps' descriptors in the zone: from here up, one per tap. */
#define ZONE_TAP_FD_BASE 100

static const int zone_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define ZONE_NSIGNALS (int)(sizeof(zone_signals) / sizeof(int))

/* Whom a caught signal goes to: the zone's pid 1, or in it, bhyve. */
static volatile sig_atomic_t zone_target;
static volatile sig_atomic_t zone_stopping;

static void
zone_forward(int signo)
{
	pid_t pid = (pid_t)zone_target;

	zone_stopping = 1;
	if (pid > 0)
		kill(pid, signo);
}

static void
zone_set_handlers(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < ZONE_NSIGNALS; i++)
		sigaction(zone_signals[i], &sa, NULL);
}

/*
 * The signals wait (blocked) until there is someone to pass them to, so
 * a SIGTERM during set-up is not lost, nor kills bhyvezone half-way.
 */
static void
zone_block_signals(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < ZONE_NSIGNALS; i++)
		sigaddset(&set, zone_signals[i]);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* ---- inside the zone: pid 1 ---- */

static void
zone_exec_bhyve(const struct zone_spec *z)
{
	char *const argv[] = {"bhyve", "-k", ZONE_VM_CONFIG, NULL};
	char *const envp[] = {"LC_ALL=C", NULL};

	zone_set_handlers(SIG_DFL);
	zone_block_signals(false);
	/* Nothing of bhyvezone's but the taps (tapfd keys). */
	syscall(SYS_close_range, 3U, ZONE_TAP_FD_BASE - 1U, 0U);
	syscall(SYS_close_range, (unsigned)(ZONE_TAP_FD_BASE + z->ntaps), ~0U,
		0U);
	execve(z->bhyve, argv, envp);
	fprintf(stderr, "bhyvezone: %s: cannot run %s: %s\n", z->name, z->bhyve,
		strerror(errno));
	_exit(ZONE_EXIT_ERROR);
}

/* Waits for pid, reaping any other child (pid 1 inherits orphans). */
static int
zone_reap(pid_t pid)
{
	int status;
	pid_t got;

	for (;;) {
		got = waitpid(-1, &status, 0);
		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR)
			return -1;
	}
}

/* bhyve's end as bhyvezone's status, said in one line unless normal. */
static int
zone_report(const struct zone_spec *z, int status)
{
	int sig, code;

	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		fprintf(stderr, "bhyvezone: %s: bhyve killed by SIG%s%s\n",
			z->name, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
			sig == SIGSYS ? ": forbidden system call" : "");
		return 128 + sig;
	}
	code = WEXITSTATUS(status);
	if (code == 3)
		fprintf(stderr,
			"bhyvezone: %s: the guest triple-faulted "
			"(bhyve exit status 3)\n",
			z->name);
	else if (code >= 4)
		fprintf(stderr,
			"bhyvezone: %s: bhyve failed (exit status "
			"%d)\n",
			z->name, code);
	return code;
}

/* The brand's boot loop: a reset starts bhyve again in the same zone. */
static int
zone_supervise(const struct zone_spec *z)
{
	int status;

	zone_set_handlers(zone_forward);
	for (int run = 1;; run++) {
		pid_t pid;

		/* Held while there is no bhyve: a stop request then ends
		 * the loop after this run instead of being lost. */
		zone_block_signals(true);
		pid = fork();

		if (pid < 0) {
			fprintf(stderr, "bhyvezone: %s: fork: %s\n", z->name,
				strerror(errno));
			return ZONE_EXIT_ERROR;
		}
		if (pid == 0)
			zone_exec_bhyve(z);
		zone_target = pid;
		zone_block_signals(false);
		status = zone_reap(pid);
		zone_target = 0;
		if (status < 0)
			return ZONE_EXIT_ERROR;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    zone_stopping)
			return zone_report(z, status);
		fprintf(stderr,
			"bhyvezone: %s: the guest reset (run %d); "
			"starting it again\n",
			z->name, run);
	}
}

/* Pid 1: waits until the host side has put it in the cgroup. */
static int
zone_init(const struct zone_spec *z, int gofd)
{
	char err[512], go;

	if (read(gofd, &go, 1) != 1)
		_exit(ZONE_EXIT_ERROR);
	if (zone_jail_build(z, err, sizeof(err)) != 0 ||
	    zone_jail_drop(z, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyvezone: %s: %s\n", z->name, err);
		_exit(ZONE_EXIT_ERROR);
	}
	/* The zone ends with bhyvezone, however bhyvezone ends (set after
	 * the uid change, which clears it). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		_exit(ZONE_EXIT_ERROR);
	/* bhyvezone holds the pipe's other end while it lives: if it died
	 * before the line above, no signal will come, but the hang-up has. */
	if (poll(&(struct pollfd){.fd = gofd, .events = POLLIN}, 1, 0) > 0)
		_exit(ZONE_EXIT_ERROR);
	close(gofd);
	_exit(zone_supervise(z));
}

/* ---- on the host ---- */

/*
 * Opens each tap as root in the host's network namespace and records its
 * descriptor as the device's tapfd key (net_backends.c), before the zone
 * exists: bhyve then needs neither /dev/net/tun nor the right to attach,
 * and reaches the tap from a network namespace of its own.
 */
static int
zone_host_open_taps(const struct zone_spec *z, char *err, size_t errlen)
{
	for (int i = 0; i < z->ntaps; i++) {
		const struct zone_tap *t = &z->taps[i];
		int fd, want = ZONE_TAP_FD_BASE + i;
		struct ifreq ifr;
		char key[96], num[16];

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) != 0 ||
		    dup2(fd, want) != want) {
			snprintf(err, errlen,
				 "%s.backend: cannot open tap '%s': %s",
				 t->node, t->name, strerror(errno));
			return -1;
		}
		close(fd);
		snprintf(key, sizeof(key), "%s.tapfd", t->node);
		snprintf(num, sizeof(num), "%d", want);
		if (set_config_value(key, num) != 0) {
			snprintf(err, errlen, "%s: cannot set", key);
			return -1;
		}
	}
	return 0;
}

/* What the host side made, to remove at the end. */
struct zone_host {
	char entry[PATH_MAX * 2]; /* the registry entry directory */
	char zones[PATH_MAX];	  /* the default root's parent, if made */
	bool root_made;
	struct zone_cgroup cg;
	bool cg_made;
	int gofd; /* the zone's pid 1 watches it for bhyvezone's end */
};

/* Empties and removes the registry entry (bhyve, unprivileged, could
 * remove its files but not the directory it does not own the parent
 * of). */
static void
zone_host_remove_entry(const char *entry)
{
	static const char *const files[] = {
	    "lock", "ctl",  "meta.json", "meta.json.tmp",
	    "com1", "com2", "com3",	 "com4"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX * 2 + 16];

		snprintf(path, sizeof(path), "%s/%s", entry, files[i]);
		unlink(path);
	}
	rmdir(entry);
}

static void
zone_host_cleanup(const struct zone_spec *z, struct zone_host *h)
{
	if (h->gofd >= 0)
		close(h->gofd);
	if (h->cg_made)
		zone_cgroup_remove(&h->cg);
	if (h->entry[0] != '\0')
		zone_host_remove_entry(h->entry);
	if (h->root_made)
		rmdir(z->root);
	if (h->zones[0] != '\0')
		rmdir(h->zones);
}

/* mkdir -p of dir's parents (0755) and dir itself (mode). */
static int
zone_host_mkdirs(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode);
}

/*
 * The registry entry, owned by the zone's user: bhyve claims it from the
 * inside, and its lock and control socket are seen from the host.
 */
static int
zone_host_prepare(const struct zone_spec *z, struct zone_host *h, char *err,
		  size_t errlen)
{
	char zones[PATH_MAX + 8];

	char entry[PATH_MAX * 2];

	if (zone_host_mkdirs(z->rundir, 0700) != 0 && errno != EEXIST)
		goto fail_errno;
	/* The entry is not live (checked): a stale one's files belong to
	 * whoever ran it, and would keep the zone's user out. */
	snprintf(entry, sizeof(entry), "%s/%s", z->rundir, z->name);
	zone_host_remove_entry(entry);
	if (mkdir(entry, 0700) != 0) {
		if (errno != EEXIST)
			goto fail_errno;
		snprintf(err, errlen,
			 "a VM named '%s' is being started by "
			 "another process",
			 z->name);
		return -1;
	}
	snprintf(h->entry, sizeof(h->entry), "%s", entry);
	if (chown(h->entry, z->uid, z->gid) != 0)
		goto fail_errno;
	snprintf(zones, sizeof(zones), "%s-zones", z->rundir);
	if (strncmp(z->root, zones, strlen(zones)) == 0 &&
	    mkdir(zones, 0700) == 0)
		snprintf(h->zones, sizeof(h->zones), "%s", zones);
	if (zone_host_mkdirs(z->root, 0700) != 0) {
		if (errno != EEXIST)
			goto fail_errno;
	} else {
		h->root_made = true;
	}
	if (zone_cgroup_create(z, &h->cg, err, errlen) != 0)
		return -1;
	h->cg_made = true;
	return 0;
fail_errno:
	snprintf(err, errlen, "cannot prepare the run directory %.512s: %s",
		 z->rundir, strerror(errno));
	return -1;
}

/* Starts pid 1 of the zone in its new namespaces, inside the cgroup. */
static pid_t
zone_host_start(const struct zone_spec *z, struct zone_host *h, char *err,
		size_t errlen)
{
	unsigned long flags =
	    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	int go[2];
	pid_t pid;

	if (z->netns)
		flags |= CLONE_NEWNET;
	if (pipe2(go, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	/* clone(2) without a stack behaves as fork(2) with namespaces. */
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(go[1]);
		zone_init(z, go[0]);
	}
	close(go[0]);
	if (pid < 0) {
		snprintf(err, errlen, "cannot create the zone's namespaces: %s",
			 strerror(errno));
		close(go[1]);
		return -1;
	}
	if (zone_cgroup_enter(&h->cg, pid, err, errlen) != 0) {
		kill(pid, SIGKILL);
		close(go[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	if (write(go[1], "g", 1) != 1) {
		/* pid 1 sees EOF and ends: reported by its status */
	}
	h->gofd = go[1]; /* held until the zone ends (zone_init) */
	return pid;
}

static int
zone_host_wait(const struct zone_spec *z, struct zone_host *h, pid_t pid)
{
	int status;
	long ooms;

	zone_target = pid;
	zone_set_handlers(zone_forward);
	zone_block_signals(false);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ZONE_EXIT_ERROR;
	ooms = z->limits.memory_max[0] ? zone_cgroup_oom_kills(&h->cg) : 0;
	if (ooms > 0)
		fprintf(stderr,
			"bhyvezone: %s: the zone ran out of memory "
			"(zone.memory.max %s; %ld OOM kill%s)\n",
			z->name, z->limits.memory_max, ooms,
			ooms == 1 ? "" : "s");
	if (WIFSIGNALED(status)) {
		fprintf(stderr,
			"bhyvezone: %s: the zone's pid 1 was killed "
			"by signal %d\n",
			z->name, WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

int
main(int argc, char **argv)
{
	struct zone_spec z;
	struct zone_host h;
	struct registry_entry e;
	char err[1024];
	pid_t pid;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bhyvezone SPEC (a bhyve_config(5) "
				"file with zone.* keys; see docs/zone.md)\n");
		return ZONE_EXIT_ERROR;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bhyvezone: must run as root (it creates "
				"namespaces, mounts and cgroups)\n");
		return ZONE_EXIT_ERROR;
	}
	init_config();
	if (zone_spec_load(argv[1], &z, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyvezone: %s\n", err);
		return ZONE_EXIT_ERROR;
	}
	if (registry_lookup(z.name, &e) == 0) {
		fprintf(stderr,
			"bhyvezone: a VM named '%s' is already running "
			"(pid %lld)\n",
			z.name, e.pid);
		return ZONE_EXIT_ERROR;
	}
	if (zone_host_open_taps(&z, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyvezone: %s\n", err);
		return ZONE_EXIT_ERROR;
	}
	memset(&h, 0, sizeof(h));
	h.gofd = -1;
	zone_block_signals(true);
	if (zone_host_prepare(&z, &h, err, sizeof(err)) != 0 ||
	    (pid = zone_host_start(&z, &h, err, sizeof(err))) < 0) {
		fprintf(stderr, "bhyvezone: %s: %s\n", z.name, err);
		zone_host_cleanup(&z, &h);
		return ZONE_EXIT_ERROR;
	}
	rc = zone_host_wait(&z, &h, pid);
	zone_host_cleanup(&z, &h);
	return rc;
}
