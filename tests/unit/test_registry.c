/*
 * The VM registry: claims, duplicate names, stale entries left by dead
 * processes, removal at exit (also after SIGTERM through the event loop,
 * as in bhyve), concurrent claims, and the run-directory override.
 *
 * Helper processes are this binary re-executed with a command:
 *   --hold NAME RUNDIR        claim NAME, say "claimed PID", wait for SIGKILL
 *   --hold-term NAME RUNDIR   the same, but SIGTERM ends it through mevent
 *   --try NAME RUNDIR         claim NAME, exit 0 if it worked, 1 if not
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "mevent.h"
#include "registry.h"
#include "test.h"
#include "vmm_ctl.h"

static char rundir[PATH_MAX];
static char self[PATH_MAX];

/* ---- helper processes ---- */

static void
helper_on_term(int signo, enum ev_type type, void *arg)
{
	mevent_exit(0);
}

static int
helper_main(int argc, char **argv)
{
	char err[256];

	if (argc != 4)
		return 2;
	set_config_value("rundir", argv[3]);
	if (strcmp(argv[1], "--hold-term") == 0 &&
	    (mevent_init() != 0 ||
	     mevent_add(SIGTERM, EVF_SIGNAL, helper_on_term, NULL) == NULL))
		return 3;
	if (registry_claim(argv[2], err, sizeof(err)) != 0) {
		printf("failed %s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "--try") == 0)
		return 0;
	printf("claimed %d\n", (int)getpid());
	fflush(stdout);
	if (strcmp(argv[1], "--hold-term") == 0)
		return mevent_dispatch(); /* main() returns: atexit runs */
	for (;;)
		pause();
}

/* Starts a helper; returns its pid, and its stdout in *out. */
static pid_t
helper_start(const char *cmd, const char *name, FILE **out)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(self, self, cmd, name, rundir, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*out = fdopen(p[0], "r");
	return pid;
}

/* Starts a holder and waits until it owns the name. */
static pid_t
helper_hold(const char *cmd, const char *name, FILE **out)
{
	char line[256] = "";
	pid_t pid = helper_start(cmd, name, out);

	if (pid < 0 || fgets(line, sizeof(line), *out) == NULL ||
	    strncmp(line, "claimed ", 8) != 0) {
		printf("# helper said: %s\n", line);
		return -1;
	}
	return pid;
}

static int
helper_wait(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool
entry_exists(const char *name)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", rundir, name);
	return lstat(path, &st) == 0;
}

/* ---- tests ---- */

static void
test_names(void)
{
	char long_name[REGISTRY_NAME_MAX + 2];

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK(registry_name_valid("vm-1.test_A"), "name: ordinary accepted");
	CHECK(!registry_name_valid(""), "name: empty refused");
	CHECK(!registry_name_valid("."), "name: . refused");
	CHECK(!registry_name_valid(".."), "name: .. refused");
	CHECK(!registry_name_valid("a/b"), "name: slash refused");
	CHECK(!registry_name_valid("a b"), "name: space refused");
	CHECK(!registry_name_valid("a\nb"), "name: newline refused");
	CHECK(!registry_name_valid(long_name), "name: 129 chars refused");
	long_name[REGISTRY_NAME_MAX] = '\0';
	CHECK(registry_name_valid(long_name), "name: 128 chars accepted");
}

static void
test_rundir(void)
{
	char buf[PATH_MAX];

	set_config_value("rundir", "/some/where");
	CHECK(registry_rundir(buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "/some/where") == 0,
	      "rundir: config key wins");
	unset_config_value("rundir");
	CHECK(registry_rundir(buf, sizeof(buf)) == 0, "rundir: default");
	if (geteuid() == 0)
		CHECK_STR(buf, "/run/beehive",
			  "rundir: root uses /run/beehive");
	else
		CHECK(strstr(buf, "beehive") != NULL,
		      "rundir: user default names beehive");
	CHECK(registry_rundir(buf, 4) == -1, "rundir: short buffer refused");
	set_config_value("rundir", rundir);
}

/*
 * One rule for bhyve, bhyvectl and vm_open(): the configuration key beats
 * $BEEHIVE_RUNDIR, which beats the default.  bhyve once ignored the
 * variable and vm_open() the key, so each found VMs the other missed.
 */
static void
test_rundir_env(void)
{
	char buf[PATH_MAX], dflt[PATH_MAX];

	unsetenv("BEEHIVE_RUNDIR");
	CHECK(vm_ctl_rundir(NULL, dflt, sizeof(dflt)) == 0,
	      "rundir rule: default without key or variable");
	setenv("BEEHIVE_RUNDIR", "/from/env", 1);
	set_config_value("rundir", "/from/key");
	CHECK(registry_rundir(buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "/from/key") == 0,
	      "rundir rule: config key beats $BEEHIVE_RUNDIR");
	unset_config_value("rundir");
	CHECK(registry_rundir(buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "/from/env") == 0,
	      "rundir rule: $BEEHIVE_RUNDIR beats the default (registry)");
	CHECK(vm_ctl_rundir(NULL, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "/from/env") == 0,
	      "rundir rule: $BEEHIVE_RUNDIR beats the default (vm_open)");
	CHECK(vm_ctl_rundir("", buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "/from/env") == 0,
	      "rundir rule: an empty key counts as unset");
	setenv("BEEHIVE_RUNDIR", "", 1);
	CHECK(vm_ctl_rundir(NULL, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, dflt) == 0,
	      "rundir rule: an empty variable counts as unset");
	unsetenv("BEEHIVE_RUNDIR");
	set_config_value("rundir", rundir);
}

/* The permission bits of RUNDIR/rel, or -1. */
static int
entry_mode(const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", rundir, rel);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void
test_claim_release(void)
{
	struct registry_entry e;
	char err[256], want[PATH_MAX * 2];

	CHECK(registry_claim("vm-a", err, sizeof(err)) == 0, "claim: vm-a");
	CHECK(entry_exists("vm-a/lock") && entry_exists("vm-a/meta.json"),
	      "claim: lock and metadata written");
	/* Other users may not see a VM's name, pid or uid. */
	CHECK(entry_mode("") == 0700, "claim: new run directory is 0700");
	CHECK(entry_mode("vm-a") == 0700 && entry_mode("vm-a/lock") == 0600 &&
		  entry_mode("vm-a/meta.json") == 0600,
	      "claim: entry 0700, lock and metadata 0600");
	snprintf(want, sizeof(want), "%s/vm-a/ctl", rundir);
	CHECK_STR(registry_ctl_path(), want, "claim: control socket path");
	CHECK(registry_lookup("vm-a", &e) == 0 && e.live && e.pid == getpid() &&
		  e.uid == (long long)getuid(),
	      "lookup: live, our pid and uid");
	CHECK(registry_set_vm_info(2, 64ULL << 20) == 0 &&
		  registry_lookup("vm-a", &e) == 0 && e.cpus == 2 &&
		  e.memory == 64ULL << 20,
	      "metadata: cpus and memory updated");
	CHECK(registry_claim("vm-b", err, sizeof(err)) == -1 &&
		  strstr(err, "already owns 'vm-a'") != NULL,
	      "claim: one name per process");
	CHECK(registry_claim("a/b", err, sizeof(err)) == -1,
	      "claim: invalid name refused");
	/* A COM port's pty (nmdm stand-in) is published in the entry. */
	snprintf(want, sizeof(want), "%s/vm-a/com1", rundir);
	{
		char target[64] = {0};

		CHECK(registry_link("com1", "/dev/pts/77") == 0 &&
			  readlink(want, target, sizeof(target) - 1) > 0 &&
			  strcmp(target, "/dev/pts/77") == 0,
		      "link: RUNDIR/NAME/com1 points at the pty");
		CHECK(registry_link("com1", "/dev/pts/78") == 0,
		      "link: replaced, not refused");
	}
	CHECK(registry_link("../x", "/dev/pts/1") == -1 && errno == EINVAL,
	      "link: a name with '/' refused");
	CHECK(registry_link("lock", "/dev/pts/1") == -1 && errno == EINVAL &&
		  registry_link("meta.json", "/x") == -1 &&
		  registry_link("ctl", "/x") == -1 && entry_exists("vm-a/lock"),
	      "link: the entry's own files are never replaced");
	registry_release();
	CHECK(!entry_exists("vm-a"), "release: entry removed, links too");
	CHECK(registry_link("com1", "/dev/pts/1") == -1 && errno == ENOENT,
	      "link: refused without a claim");
	CHECK(registry_lookup("vm-a", &e) == -1 && errno == ENOENT,
	      "lookup: gone after release");
	registry_release(); /* idempotent */
	CHECK(registry_claim("vm-a", err, sizeof(err)) == 0,
	      "claim: same name again after release");
	registry_release();
}

static void
test_duplicate_and_stale(void)
{
	struct registry_entry e;
	char err[256], want[128];
	FILE *out;
	pid_t pid;

	pid = helper_hold("--hold", "dup", &out);
	CHECK(pid > 0, "dup: helper holds 'dup'");
	if (pid <= 0)
		return;
	CHECK(registry_lookup("dup", &e) == 0 && e.pid == pid,
	      "dup: lookup finds the helper's pid");
	snprintf(want, sizeof(want),
		 "a VM named 'dup' is already running (pid %d)", (int)pid);
	CHECK(registry_claim("dup", err, sizeof(err)) == -1,
	      "dup: second claim refused");
	CHECK_STR(err, want, "dup: message names the owner's pid");
	kill(pid, SIGKILL);
	helper_wait(pid);
	fclose(out);
	CHECK(entry_exists("dup/meta.json"), "stale: SIGKILL leaves the entry");
	CHECK(registry_lookup("dup", &e) == -1 && errno == ESRCH,
	      "stale: lookup says stale");
	CHECK(registry_claim("dup", err, sizeof(err)) == 0,
	      "stale: entry of a killed VMM reclaimed");
	CHECK(registry_lookup("dup", &e) == 0 && e.pid == getpid(),
	      "stale: metadata now ours");
	registry_release();
	CHECK(!entry_exists("dup"), "stale: released after reclaim");
}

/* An entry made by hand: a dead pid in the metadata, an unheld lock. */
static void
test_stale_dead_pid(void)
{
	char path[PATH_MAX * 2], err[256];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/ghost", rundir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/ghost/meta.json", rundir);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("{\"pid\": 999999999, \"name\": \"ghost\"}\n", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/ghost/lock", rundir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/ghost/ctl", rundir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	CHECK(registry_claim("ghost", err, sizeof(err)) == 0,
	      "stale: dead-pid entry reclaimed");
	CHECK(!entry_exists("ghost/ctl"), "stale: old socket file removed");
	registry_release();
	CHECK(!entry_exists("ghost"), "stale: removed at release");
}

static void
test_sigterm(void)
{
	FILE *out;
	pid_t pid = helper_hold("--hold-term", "term", &out);

	CHECK(pid > 0 && entry_exists("term/lock"), "sigterm: helper claimed");
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	CHECK(helper_wait(pid) == 0, "sigterm: helper exited normally");
	fclose(out);
	CHECK(!entry_exists("term"), "sigterm: entry removed at exit");
}

static int
count_cb(const struct registry_entry *e, void *arg)
{
	char *names = arg;

	strcat(names, e->name);
	strcat(names, ",");
	return 0;
}

static void
test_list(void)
{
	char names[256] = "", err[256];
	FILE *out;
	pid_t pid = helper_hold("--hold", "list-b", &out);

	CHECK(registry_claim("list-a", err, sizeof(err)) == 0,
	      "list: own claim");
	CHECK(registry_list(count_cb, names) == 2, "list: two live entries");
	CHECK_STR(names, "list-a,list-b,", "list: sorted names");
	if (pid > 0) {
		kill(pid, SIGKILL);
		helper_wait(pid);
		fclose(out);
	}
	names[0] = '\0';
	CHECK(registry_list(count_cb, names) == 1 &&
		  strcmp(names, "list-a,") == 0,
	      "list: stale entry not listed");
	registry_release();
}

/* Many claimers at once: distinct names all win, one name has one owner. */
static void
test_concurrent(void)
{
	pid_t pids[20];
	FILE *outs[20];
	char name[32], names[1024] = "";
	int wins = 0, losses = 0, n = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "many-%02d", i);
		pids[i] = helper_start("--hold", name, &outs[i]);
	}
	for (int i = 0; i < 20; i++) {
		char line[256] = "";

		if (fgets(line, sizeof(line), outs[i]) != NULL &&
		    strncmp(line, "claimed", 7) == 0)
			n++;
	}
	CHECK(n == 20, "concurrent: 20 distinct names claimed at once");
	CHECK(registry_list(count_cb, names) == 20, "concurrent: 20 listed");
	for (int i = 0; i < 20; i++) {
		kill(pids[i], SIGKILL);
		helper_wait(pids[i]);
		fclose(outs[i]);
	}
	for (int i = 0; i < 10; i++)
		pids[i] = helper_start("--hold", "contested", &outs[i]);
	for (int i = 0; i < 10; i++) {
		char line[256] = "";

		if (fgets(line, sizeof(line), outs[i]) == NULL)
			continue;
		if (strncmp(line, "claimed", 7) == 0)
			wins++;
		else if (strstr(line, "is already running (pid") != NULL)
			losses++;
	}
	CHECK(wins == 1,
	      "concurrent: one of 10 claimers owns a contested name");
	CHECK(losses == 9, "concurrent: the other 9 are told who owns it");
	for (int i = 0; i < 10; i++) {
		kill(pids[i], SIGKILL);
		helper_wait(pids[i]);
		fclose(outs[i]);
	}
	CHECK(registry_claim("contested", name, sizeof(name)) == 0,
	      "concurrent: reclaimed after the owner died");
	registry_release();
	CHECK(!entry_exists("contested"), "concurrent: entry clean after all");
}

/* A name so long that RUNDIR/NAME/ctl overflows sun_path (108 bytes). */
static void
test_long_name(void)
{
	char name[REGISTRY_NAME_MAX + 1], err[256];
	struct sockaddr_un sun;
	socklen_t sl;
	int lfd, cfd;

	memset(name, 'x', REGISTRY_NAME_MAX);
	name[REGISTRY_NAME_MAX] = '\0';
	CHECK(registry_claim(name, err, sizeof(err)) == 0,
	      "long name: claimed");
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(vm_ctl_sockaddr(registry_entry_dirfd(), registry_entry_path(),
			      "ctl", &sun, &sl) == 0 &&
		  strncmp(sun.sun_path, "/proc/self/fd/", 14) == 0,
	      "long name: socket address goes through /proc/self/fd");
	CHECK(bind(lfd, (struct sockaddr *)&sun, sl) == 0 &&
		  listen(lfd, 1) == 0,
	      "long name: bind works");
	cfd = registry_connect(name);
	CHECK(cfd >= 0, "long name: connect works");
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	registry_release();
	CHECK(!entry_exists(name), "long name: released");
}

int
main(int argc, char **argv)
{
	char tmpl[] = "/tmp/beehive-registry-XXXXXX";

	init_config();
	if (argc > 1)
		return helper_main(argc, argv);
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0 ||
	    mkdtemp(tmpl) == NULL) {
		printf("FAIL: registry: test setup\n");
		return 1;
	}
	/* A run directory that does not exist yet: the claim creates it. */
	snprintf(rundir, sizeof(rundir), "%s/run/dir", tmpl);
	set_config_value("rundir", rundir);
	/* The defaults checked below must not come from our caller. */
	unsetenv("BEEHIVE_RUNDIR");
	test_names();
	test_rundir();
	test_rundir_env();
	test_claim_release();
	test_duplicate_and_stale();
	test_stale_dead_pid();
	test_sigterm();
	test_list();
	test_concurrent();
	test_long_name();
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpl);
	}
	return test_done();
}
