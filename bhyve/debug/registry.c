/*
 * The VM registry (see registry.h).
 *
 * Liveness is the lock, not the pid: pids are reused, a socket file
 * outlives its process, but the kernel releases a flock() when the last
 * descriptor of its open file goes away, whatever way the process died.
 *
 * Claim and release race with each other (a releaser removes the files a
 * claimer has just opened), so a claimer that wins the lock checks that
 * the lock file and the directory it opened are still the ones the names
 * point to, and starts over otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "registry.h"
#include "vmm_ctl.h"

#define REG_LOCK	  "lock"
#define REG_CTL		  "ctl"
#define REG_META	  "meta.json"
#define REG_META_TMP	  "meta.json.tmp"
#define REG_META_MAX	  65536
#define REG_CLAIM_TRIES	  50
#define REG_BUSY_TRIES	  5 /* a lister may hold a shared lock briefly */
#define REG_BUSY_WAIT_NS  20000000L
#define REG_LINKS_MAX	  8
#define REG_LINK_NAME_MAX 16

static struct {
	bool claimed;
	bool atexit_done;
	pid_t pid;
	int rundirfd;
	int dirfd;
	int lockfd;
	char name[REGISTRY_NAME_MAX + 1];
	char dir[PATH_MAX];
	char entry[PATH_MAX];
	char ctl[PATH_MAX];
	long long start_time;
	int cpus;
	uint64_t memory;
	char links[REG_LINKS_MAX][REG_LINK_NAME_MAX];
	int nlinks;
} reg = {.rundirfd = -1, .dirfd = -1, .lockfd = -1};

bool
registry_name_valid(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strlen(name);
	if (n == 0 || n > REGISTRY_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c == '/' || c >= 0x7f)
			return false;
	}
	return true;
}

int
registry_rundir(char *buf, size_t len)
{
	return vm_ctl_rundir(get_config_value("rundir"), buf, len);
}

/*
 * mkdir -p, then insists on a real directory owned by us or by root.  The
 * run directory itself is made 0700: VM names, pids and uids are the
 * owner's business (docs/control.md, "Permissions"); a directory that
 * already exists keeps the mode its owner gave it.
 */
static int
registry_mkdir_rundir(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		goto fail;
	if (lstat(path, &st) != 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(err, errlen,
			 "run directory %s is not a directory "
			 "owned by this user or root",
			 path);
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot create run directory %s: %s", tmp,
		 strerror(errno));
	return -1;
}

/* Reads NAME/meta.json into e (fields it lacks stay as they are). */
static void
registry_read_meta(int dirfd, struct registry_entry *e)
{
	char *buf;
	ssize_t n;
	json_t *root, *v;
	int fd;

	fd = openat(dirfd, REG_META, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	buf = malloc(REG_META_MAX);
	n = buf != NULL ? read(fd, buf, REG_META_MAX) : -1;
	close(fd);
	root = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
	free(buf);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	if (json_is_integer(v = json_object_get(root, "pid")))
		e->pid = json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "uid")))
		e->uid = json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "start_time")))
		e->start_time = json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "cpus")))
		e->cpus = (int)json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "memory")))
		e->memory = (uint64_t)json_integer_value(v);
	json_decref(root);
}

/* Replaces meta.json atomically: readers see the old or the new file. */
static int
registry_write_meta(void)
{
	json_t *root;
	char *text;
	int fd, rc = -1;
	size_t len;

	root = json_pack("{s:i, s:s, s:I, s:I, s:I, s:i, s:I, s:s}", "version",
			 1, "name", reg.name, "pid", (json_int_t)reg.pid, "uid",
			 (json_int_t)getuid(), "start_time",
			 (json_int_t)reg.start_time, "cpus", reg.cpus, "memory",
			 (json_int_t)reg.memory, "socket", reg.ctl);
	text = root != NULL ? json_dumps(root, JSON_INDENT(1)) : NULL;
	json_decref(root);
	if (text == NULL)
		return -1;
	len = strlen(text);
	fd =
	    openat(reg.dirfd, REG_META_TMP,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write(fd, text, len) == (ssize_t)len &&
		    write(fd, "\n", 1) == 1 &&
		    renameat(reg.dirfd, REG_META_TMP, reg.dirfd, REG_META) == 0)
			rc = 0;
		close(fd);
	}
	free(text);
	return rc;
}

/* True when fd is still the file that 'name' in dirfd names. */
static bool
registry_same_file(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	return fstatat(dirfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static void registry_release_locked(void);

enum claim_step { CLAIM_OK, CLAIM_RETRY, CLAIM_BUSY, CLAIM_FAIL };

/* One attempt: create/open NAME/ and NAME/lock, take the lock. */
static enum claim_step
registry_try_claim(const char *name, int *dirfdp, int *lockfdp)
{
	int dirfd, lockfd;

	/* Private: only the owner (and root) may see or lock an entry. */
	if (mkdirat(reg.rundirfd, name, 0700) != 0 && errno != EEXIST)
		return CLAIM_FAIL;
	dirfd = openat(reg.rundirfd, name,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? CLAIM_RETRY : CLAIM_FAIL;
	lockfd = openat(dirfd, REG_LOCK,
			O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lockfd < 0) {
		close(dirfd);
		return errno == ENOENT ? CLAIM_RETRY : CLAIM_FAIL;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;

		close(lockfd);
		*dirfdp = dirfd;
		return busy ? CLAIM_BUSY : CLAIM_FAIL;
	}
	if (!registry_same_file(reg.rundirfd, name, dirfd) ||
	    !registry_same_file(dirfd, REG_LOCK, lockfd)) {
		close(lockfd);
		close(dirfd);
		return CLAIM_RETRY;
	}
	*dirfdp = dirfd;
	*lockfdp = lockfd;
	return CLAIM_OK;
}

static void
registry_busy_message(int dirfd, const char *name, char *err, size_t errlen)
{
	struct registry_entry e = {.pid = -1};
	char pid[32] = "pid unknown";

	registry_read_meta(dirfd, &e);
	if (e.pid > 0)
		snprintf(pid, sizeof(pid), "pid %lld", e.pid);
	snprintf(err, errlen, "a VM named '%s' is already running (%s)", name,
		 pid);
}

static int
registry_claim_loop(const char *name, char *err, size_t errlen)
{
	struct timespec wait = {0, REG_BUSY_WAIT_NS};
	int busy = 0, dirfd = -1, lockfd = -1;

	for (int i = 0; i < REG_CLAIM_TRIES; i++) {
		switch (registry_try_claim(name, &dirfd, &lockfd)) {
		case CLAIM_OK:
			reg.dirfd = dirfd;
			reg.lockfd = lockfd;
			return 0;
		case CLAIM_RETRY:
			continue;
		case CLAIM_BUSY:
			if (++busy >= REG_BUSY_TRIES) {
				registry_busy_message(dirfd, name, err, errlen);
				close(dirfd);
				return -1;
			}
			close(dirfd);
			nanosleep(&wait, NULL);
			continue;
		case CLAIM_FAIL:
			snprintf(err, errlen, "cannot claim %s/%s: %s", reg.dir,
				 name, strerror(errno));
			return -1;
		}
	}
	snprintf(err, errlen,
		 "cannot claim the name '%s': its entry keeps "
		 "changing",
		 name);
	return -1;
}

int
registry_claim(const char *name, char *err, size_t errlen)
{
	char rundir[PATH_MAX];

	if (reg.claimed) {
		snprintf(err, errlen, "this process already owns '%s'",
			 reg.name);
		return -1;
	}
	if (!registry_name_valid(name)) {
		snprintf(err, errlen, "invalid VM name '%s'", name ? name : "");
		return -1;
	}
	if (registry_rundir(rundir, sizeof(rundir)) != 0) {
		snprintf(err, errlen, "run directory path too long");
		return -1;
	}
	if (registry_mkdir_rundir(rundir, err, errlen) != 0)
		return -1;
	reg.rundirfd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (reg.rundirfd < 0) {
		snprintf(err, errlen, "cannot open run directory %s: %s",
			 rundir, strerror(errno));
		return -1;
	}
	snprintf(reg.dir, sizeof(reg.dir), "%s", rundir);
	if (registry_claim_loop(name, err, errlen) != 0) {
		close(reg.rundirfd);
		reg.rundirfd = -1;
		return -1;
	}
	/* Whatever a dead owner left behind goes now. */
	unlinkat(reg.dirfd, REG_CTL, 0);
	unlinkat(reg.dirfd, REG_META_TMP, 0);
	snprintf(reg.name, sizeof(reg.name), "%s", name);
	if (snprintf(reg.entry, sizeof(reg.entry), "%s/%s", rundir, name) >=
		(int)sizeof(reg.entry) ||
	    snprintf(reg.ctl, sizeof(reg.ctl), "%s/%s", reg.entry, REG_CTL) >=
		(int)sizeof(reg.ctl)) {
		snprintf(err, errlen, "run directory path too long");
		registry_release_locked();
		return -1;
	}
	reg.pid = getpid();
	reg.start_time = (long long)time(NULL);
	reg.cpus = 0;
	reg.memory = 0;
	reg.claimed = true;
	if (registry_write_meta() != 0) {
		snprintf(err, errlen, "cannot write %s/%s/%s: %s", rundir, name,
			 REG_META, strerror(errno));
		registry_release();
		return -1;
	}
	if (!reg.atexit_done && atexit(registry_release) == 0)
		reg.atexit_done = true;
	return 0;
}

int
registry_claim_or_report(const char *name)
{
	char err[512];

	if (registry_claim(name, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "bhyve: %s\n", err);
	return -1;
}

int
registry_set_vm_info(int cpus, uint64_t memory)
{
	if (!reg.claimed)
		return -1;
	reg.cpus = cpus;
	reg.memory = memory;
	return registry_write_meta();
}

const char *
registry_ctl_path(void)
{
	return reg.claimed ? reg.ctl : "";
}

const char *
registry_entry_path(void)
{
	return reg.claimed ? reg.entry : "";
}

int
registry_entry_dirfd(void)
{
	return reg.claimed ? reg.dirfd : -1;
}

/* Undoes a claim whose lock is held (reg.dirfd, reg.lockfd valid). */
static void
registry_release_locked(void)
{
	unlinkat(reg.dirfd, REG_CTL, 0);
	unlinkat(reg.dirfd, REG_META, 0);
	unlinkat(reg.dirfd, REG_META_TMP, 0);
	unlinkat(reg.dirfd, REG_LOCK, 0);
	for (int i = 0; i < reg.nlinks; i++)
		unlinkat(reg.dirfd, reg.links[i], 0);
	reg.nlinks = 0;
	close(reg.dirfd);
	/* Fails harmlessly if someone put other files there. */
	unlinkat(reg.rundirfd, reg.name, AT_REMOVEDIR);
	close(reg.rundirfd);
	/* The lock goes last: until here the entry is ours. */
	close(reg.lockfd);
	reg.dirfd = reg.rundirfd = reg.lockfd = -1;
	reg.claimed = false;
}

int
registry_link(const char *linkname, const char *target)
{
	if (!reg.claimed) {
		errno = ENOENT;
		return -1;
	}
	/* Never one of the entry's own files. */
	if (!registry_name_valid(linkname) ||
	    strlen(linkname) >= REG_LINK_NAME_MAX ||
	    strcmp(linkname, REG_LOCK) == 0 || strcmp(linkname, REG_CTL) == 0 ||
	    strncmp(linkname, REG_META, strlen(REG_META)) == 0 ||
	    reg.nlinks == REG_LINKS_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* Left by an earlier run of this VM (a reclaimed entry). */
	unlinkat(reg.dirfd, linkname, 0);
	if (symlinkat(target, reg.dirfd, linkname) != 0)
		return -1;
	for (int i = 0; i < reg.nlinks; i++) {
		if (strcmp(reg.links[i], linkname) == 0)
			return 0;
	}
	snprintf(reg.links[reg.nlinks++], REG_LINK_NAME_MAX, "%s", linkname);
	return 0;
}

void
registry_release(void)
{
	/* A forked child exiting must not remove its parent's entry. */
	if (!reg.claimed || reg.pid != getpid())
		return;
	registry_release_locked();
}

int
registry_lookup(const char *name, struct registry_entry *e)
{
	char rundir[PATH_MAX];
	int dirfd, lockfd, rc = -1;

	memset(e, 0, sizeof(*e));
	e->pid = -1;
	e->uid = -1;
	if (!registry_name_valid(name)) {
		errno = ENOENT;
		return -1;
	}
	if (registry_rundir(rundir, sizeof(rundir)) != 0)
		return -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	dirfd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		int d = openat(dirfd, name,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(dirfd);
		dirfd = d;
	}
	if (dirfd < 0) {
		errno = ENOENT;
		return -1;
	}
	lockfd = openat(dirfd, REG_LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lockfd < 0) {
		errno = ENOENT;
	} else if (flock(lockfd, LOCK_SH | LOCK_NB) == 0) {
		errno = ESRCH; /* nobody holds it: stale */
	} else if (errno == EWOULDBLOCK) {
		e->live = true;
		registry_read_meta(dirfd, e);
		rc = 0;
	}
	if (lockfd >= 0)
		close(lockfd);
	close(dirfd);
	return rc;
}

int
registry_list(int (*cb)(const struct registry_entry *e, void *arg), void *arg)
{
	char rundir[PATH_MAX];
	struct dirent **names;
	struct registry_entry e;
	int n, count = 0, stop = 0;

	if (registry_rundir(rundir, sizeof(rundir)) != 0)
		return -1;
	n = scandir(rundir, &names, NULL, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < n; i++) {
		if (!stop && registry_name_valid(names[i]->d_name) &&
		    registry_lookup(names[i]->d_name, &e) == 0) {
			count++;
			stop = cb(&e, arg);
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int
registry_connect(const char *name)
{
	char rundir[PATH_MAX];

	if (!registry_name_valid(name)) {
		errno = ENOENT;
		return -1;
	}
	if (registry_rundir(rundir, sizeof(rundir)) != 0)
		return -1;
	return vm_ctl_connect(rundir, name);
}
