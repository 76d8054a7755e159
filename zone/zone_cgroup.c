/*
 * The zone's cgroup v2 group (zone_cgroup.h).
 */
#include "zone_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One limit: its interface file, its controller, the spec key. */
struct zone_limit {
	const char *file;
	const char *controller;
	const char *key;
	size_t offset; /* of the text in struct zone_limits */
};

static const struct zone_limit zone_limit_table[] = {
    {"memory.max", "memory", "zone.memory.max",
     offsetof(struct zone_limits, memory_max)},
    {"memory.swap.max", "memory", "zone.memory.swap.max",
     offsetof(struct zone_limits, swap_max)},
    {"cpu.weight", "cpu", "zone.cpu.weight",
     offsetof(struct zone_limits, cpu_weight)},
    {"cpu.max", "cpu", "zone.cpu.max", offsetof(struct zone_limits, cpu_max)},
    {"pids.max", "pids", "zone.pids.max",
     offsetof(struct zone_limits, pids_max)},
    {"io.weight", "io", "zone.io.weight",
     offsetof(struct zone_limits, io_weight)},
};
#define ZONE_NLIMITS (sizeof(zone_limit_table) / sizeof(zone_limit_table[0]))

static const char *
zone_limit_value(const struct zone_spec *z, const struct zone_limit *l)
{
	return (const char *)&z->limits + l->offset;
}

/*
 * The cgroup2 mount that holds path ("" : the first one): the longest
 * mount point that is a prefix of path.  -1 when there is none.
 */
static int
zone_cgroup_find_mount(const char *path, char *out, size_t outlen)
{
	char line[4096], mnt[PATH_MAX], fstype[64];
	size_t best = 0;
	FILE *fp = fopen("/proc/self/mountinfo", "r");

	if (fp == NULL)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *sep = strstr(line, " - ");
		size_t n;

		if (sep == NULL || sscanf(sep + 3, "%63s", fstype) != 1 ||
		    strcmp(fstype, "cgroup2") != 0 ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		n = strlen(mnt);
		if (path[0] == '\0') {
			snprintf(out, outlen, "%s", mnt);
			break;
		}
		if (n > best && strncmp(path, mnt, n) == 0 &&
		    (path[n] == '/' || path[n] == '\0')) {
			snprintf(out, outlen, "%s", mnt);
			best = n;
		}
	}
	fclose(fp);
	return out[0] != '\0' ? 0 : -1;
}

static int
zone_cgroup_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	ssize_t n;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* true when the mount's root offers the controller at all. */
static bool
zone_cgroup_has_controller(const char *mount, const char *controller)
{
	char path[PATH_MAX + 32], buf[512], *save = NULL, *tok;
	FILE *fp;
	bool found = false;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mount);
	fp = fopen(path, "r");
	if (fp == NULL)
		return false;
	if (fgets(buf, sizeof(buf), fp) != NULL)
		for (tok = strtok_r(buf, " \n", &save); tok != NULL;
		     tok = strtok_r(NULL, " \n", &save))
			found = found || strcmp(tok, controller) == 0;
	fclose(fp);
	return found;
}

/* mkdir -p below the mount, recording what was made. */
static int
zone_cgroup_mkdirs(struct zone_cgroup *cg, const char *path)
{
	char tmp[PATH_MAX + 2];
	size_t start = strlen(cg->mount);

	snprintf(tmp, sizeof(tmp), "%s/", path);
	for (char *p = tmp + start + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) == 0) {
			if (cg->nmade == ZONE_CGROUP_MADE_MAX) {
				errno = ENAMETOOLONG;
				return -1;
			}
			snprintf(cg->made[cg->nmade++], PATH_MAX, "%.4000s",
				 tmp);
		} else if (errno != EEXIST) {
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* "+controller" into every subtree_control from the mount to parent. */
static int
zone_cgroup_enable(const struct zone_cgroup *cg, const char *parent,
		   const char *controller, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 2], plus[32];
	size_t start = strlen(cg->mount);

	snprintf(plus, sizeof(plus), "+%s", controller);
	snprintf(tmp, sizeof(tmp), "%s/", parent);
	for (char *p = tmp + start; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (zone_cgroup_write(tmp, "cgroup.subtree_control", plus) != 0)
			return zone_errf(
			    err, errlen,
			    "cannot enable the %s controller in %s: %s",
			    controller, tmp, strerror(errno));
		*p = '/';
	}
	return 0;
}

static int
zone_cgroup_limits(const struct zone_spec *z, const struct zone_cgroup *cg,
		   const char *parent, char *err, size_t errlen)
{
	for (size_t i = 0; i < ZONE_NLIMITS; i++) {
		const struct zone_limit *l = &zone_limit_table[i];
		const char *v = zone_limit_value(z, l);

		if (v[0] == '\0')
			continue;
		if (zone_cgroup_enable(cg, parent, l->controller, err,
				       errlen) != 0)
			return -1;
		if (zone_cgroup_write(cg->path, l->file, v) != 0)
			return zone_errf(err, errlen,
					 "%s: cannot write '%s' to "
					 "%s/%s: %s",
					 l->key, v, cg->path, l->file,
					 strerror(errno));
	}
	return 0;
}

/* Every limit's controller must exist before anything is made. */
static int
zone_cgroup_check_controllers(const struct zone_spec *z,
			      const struct zone_cgroup *cg, char *err,
			      size_t errlen)
{
	for (size_t i = 0; i < ZONE_NLIMITS; i++) {
		const struct zone_limit *l = &zone_limit_table[i];

		if (zone_limit_value(z, l)[0] != '\0' &&
		    !zone_cgroup_has_controller(cg->mount, l->controller))
			return zone_errf(
			    err, errlen,
			    "%s: the cgroup v2 hierarchy at %s has no %s "
			    "controller (it is bound to cgroup v1 here, or "
			    "not built)",
			    l->key, cg->mount, l->controller);
	}
	return 0;
}

int
zone_cgroup_create(const struct zone_spec *z, struct zone_cgroup *cg, char *err,
		   size_t errlen)
{
	char parent[PATH_MAX];

	memset(cg, 0, sizeof(*cg));
	if (zone_cgroup_find_mount(z->cgparent, cg->mount, sizeof(cg->mount)) !=
	    0)
		return zone_errf(err, errlen,
				 z->cgparent[0]
				     ? "zone.cgroup.parent '%s': not "
				       "under a cgroup v2 mount"
				     : "no cgroup v2 mount in "
				       "/proc/self/mountinfo%s",
				 z->cgparent);
	if (snprintf(parent, sizeof(parent), "%s",
		     z->cgparent[0] ? z->cgparent : cg->mount) >=
		(int)sizeof(parent) - 16 ||
	    (z->cgparent[0] == '\0' &&
	     snprintf(parent, sizeof(parent), "%s/beehive", cg->mount) >=
		 (int)sizeof(parent)) ||
	    snprintf(cg->path, sizeof(cg->path), "%s/%s", parent, z->name) >=
		(int)sizeof(cg->path))
		return zone_errf(err, errlen, "cgroup path too long");
	if (zone_cgroup_check_controllers(z, cg, err, errlen) != 0)
		return -1;
	if (zone_cgroup_mkdirs(cg, parent) != 0) {
		zone_errf(err, errlen, "cannot create cgroup %s: %s", parent,
			  strerror(errno));
		goto fail;
	}
	if (mkdir(cg->path, 0755) != 0) {
		zone_errf(err, errlen,
			  errno == EEXIST
			      ? "cgroup %s already exists (another zone "
				"of that name?)"
			      : "cannot create cgroup %s: %s",
			  cg->path, strerror(errno));
		goto fail;
	}
	snprintf(cg->made[cg->nmade++], PATH_MAX, "%s", cg->path);
	if (zone_cgroup_limits(z, cg, parent, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	zone_cgroup_remove(cg);
	return -1;
}

int
zone_cgroup_enter(const struct zone_cgroup *cg, pid_t pid, char *err,
		  size_t errlen)
{
	char text[24];

	snprintf(text, sizeof(text), "%ld", (long)pid);
	if (zone_cgroup_write(cg->path, "cgroup.procs", text) != 0)
		return zone_errf(err, errlen,
				 "cannot move the zone into %s: %s", cg->path,
				 strerror(errno));
	return 0;
}

long
zone_cgroup_oom_kills(const struct zone_cgroup *cg)
{
	char path[PATH_MAX + 32], line[128];
	long n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/memory.events", cg->path);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "oom_kill %ld", &n) == 1)
			break;
	fclose(fp);
	return n;
}

void
zone_cgroup_remove(struct zone_cgroup *cg)
{
	struct timespec ts = {0, 20000000L};

	/* The zone's processes die with its pid 1; the group empties
	 * shortly after, so EBUSY is retried for a while. */
	while (cg->nmade > 0) {
		const char *dir = cg->made[cg->nmade - 1];
		int tries = 100;

		while (rmdir(dir) != 0 && errno == EBUSY && tries-- > 0)
			nanosleep(&ts, NULL);
		cg->nmade--;
	}
}
