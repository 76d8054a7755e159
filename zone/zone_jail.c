/*
 * The zone's confinement (zone_jail.h).
 */
#include "zone_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

/*
 * The dynamic loader and the libraries bhyve links, read-only: a
 * statically linked bhyve would not need them (docs/zone.md, limits).
 */
static const char *const zone_lib_paths[] = {
    "/lib",	  "/lib64",	    "/lib32",
    "/libx32",	  "/usr/lib",	    "/usr/lib64",
    "/usr/lib32", "/usr/local/lib", "/etc/ld.so.cache",
};

/* mkdir -p of every component of path below the new root. */
static int
zone_jail_mkdirs(const char *path)
{
	char tmp[PATH_MAX * 2];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* An empty file or directory for a bind mount to cover. */
static int
zone_jail_mountpoint(const char *src, const char *target)
{
	struct stat st;
	int fd;

	if (stat(src, &st) != 0 || zone_jail_mkdirs(target) != 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return mkdir(target, 0755) == 0 || errno == EEXIST ? 0 : -1;
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * A bind mount of src at the same path below root.  The second, remount
 * step is what applies the flags: a bind mount ignores them at first.
 */
static int
zone_jail_bind(const char *root, const char *src, bool ro, bool dev, char *err,
	       size_t errlen)
{
	char target[PATH_MAX * 2];
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID;

	snprintf(target, sizeof(target), "%s%s", root, src);
	if (!dev)
		flags |= MS_NODEV;
	if (ro)
		flags |= MS_RDONLY;
	if (zone_jail_mountpoint(src, target) != 0 ||
	    mount(src, target, NULL, MS_BIND, NULL) != 0 ||
	    mount(NULL, target, NULL, flags, NULL) != 0)
		return zone_errf(err, errlen,
				 "cannot bind %s into the "
				 "zone: %s",
				 src, strerror(errno));
	return 0;
}

/* A symlink of the host (/lib -> usr/lib) is recreated, not followed. */
static int
zone_jail_libs(const char *root, char *err, size_t errlen)
{
	size_t n = sizeof(zone_lib_paths) / sizeof(zone_lib_paths[0]);
	char link[PATH_MAX], target[PATH_MAX * 2];

	for (size_t i = 0; i < n; i++) {
		const char *p = zone_lib_paths[i];
		struct stat st;
		ssize_t len;

		if (lstat(p, &st) != 0)
			continue;
		if (!S_ISLNK(st.st_mode)) {
			if (zone_jail_bind(root, p, true, false, err, errlen) !=
			    0)
				return -1;
			continue;
		}
		len = readlink(p, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		snprintf(target, sizeof(target), "%s%s", root, p);
		if (zone_jail_mkdirs(target) != 0 || symlink(link, target) != 0)
			return zone_errf(err, errlen,
					 "cannot link %s in the zone: %s", p,
					 strerror(errno));
	}
	return 0;
}

/* A devpts of the zone's own (the ptys of /dev/nmdm COM ports). */
static int
zone_jail_devpts(const char *root, char *err, size_t errlen)
{
	char pts[PATH_MAX + 16], ptmx[PATH_MAX + 16];

	snprintf(pts, sizeof(pts), "%s/dev/pts", root);
	snprintf(ptmx, sizeof(ptmx), "%s/dev/ptmx", root);
	if (zone_jail_mkdirs(pts) != 0 ||
	    (mkdir(pts, 0755) != 0 && errno != EEXIST) ||
	    mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") != 0 ||
	    symlink("pts/ptmx", ptmx) != 0)
		return zone_errf(err, errlen, "cannot mount devpts: %s",
				 strerror(errno));
	return 0;
}

/* /proc of the zone's pid namespace: bhyve reads /proc/self/fd. */
static int
zone_jail_proc(const char *root, char *err, size_t errlen)
{
	char proc[PATH_MAX + 16];

	snprintf(proc, sizeof(proc), "%s/proc", root);
	if (mkdir(proc, 0555) != 0 ||
	    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) != 0)
		return zone_errf(err, errlen, "cannot mount /proc: %s",
				 strerror(errno));
	return 0;
}

/*
 * The VM's registry entry, at the same path as on the host, so that
 * bhyvectl --vm=NAME outside reaches the control socket bhyve makes in
 * it.
 */
static int
zone_jail_registry(const struct zone_spec *z, char *err, size_t errlen)
{
	char entry[PATH_MAX * 2];

	snprintf(entry, sizeof(entry), "%s/%s", z->rundir, z->name);
	return zone_jail_bind(z->root, entry, false, false, err, errlen);
}

static int
zone_jail_vm_config(const struct zone_spec *z, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s%s", z->root, ZONE_VM_CONFIG);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0 || zone_spec_write_vm_config(z, fd) != 0)
		return zone_errf(err, errlen, "cannot write %s: %s",
				 ZONE_VM_CONFIG, strerror(errno));
	return 0;
}

/* pivot_root(".", "."): the old root ends up on top, then goes. */
static int
zone_jail_pivot(const char *root, char *err, size_t errlen)
{
	if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
	    umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
		return zone_errf(err, errlen, "pivot_root to %s: %s", root,
				 strerror(errno));
	if (mount(NULL, "/", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  NULL) != 0)
		return zone_errf(err, errlen,
				 "cannot make the zone's root "
				 "read-only: %s",
				 strerror(errno));
	return 0;
}

int
zone_jail_build(const struct zone_spec *z, char *err, size_t errlen)
{
	/* Nothing mounted here may reach the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return zone_errf(err, errlen, "cannot make / private: %s",
				 strerror(errno));
	if (mount("zone", z->root, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=4m") != 0)
		return zone_errf(err, errlen,
				 "cannot mount a tmpfs on "
				 "%s: %s",
				 z->root, strerror(errno));
	if (zone_jail_libs(z->root, err, errlen) != 0)
		return -1;
	for (int i = 0; i < z->npaths; i++) {
		const struct zone_path *p = &z->paths[i];

		if (zone_jail_bind(z->root, p->path, p->ro,
				   p->kind == ZONE_PATH_DEVICE, err,
				   errlen) != 0)
			return -1;
	}
	if (zone_jail_devpts(z->root, err, errlen) != 0 ||
	    zone_jail_proc(z->root, err, errlen) != 0 ||
	    zone_jail_registry(z, err, errlen) != 0 ||
	    zone_jail_vm_config(z, err, errlen) != 0)
		return -1;
	if (sethostname(z->name, strlen(z->name)) != 0)
		return zone_errf(err, errlen, "sethostname: %s",
				 strerror(errno));
	return zone_jail_pivot(z->root, err, errlen);
}

/* Empties the bounding set: no later execve can regain a capability. */
static int
zone_jail_drop_bounding(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			return -1;
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* Effective, permitted and inheritable sets all empty. */
static int
zone_jail_clear_caps(void)
{
	struct __user_cap_header_struct hdr = {.version =
						   _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0 ||
	    syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted ||
		    data[i].inheritable) {
			errno = EPERM;
			return -1;
		}
	return 0;
}

int
zone_jail_drop(const struct zone_spec *z, char *err, size_t errlen)
{
	if (zone_jail_drop_bounding() != 0)
		return zone_errf(err, errlen,
				 "cannot empty the capability "
				 "bounding set: %s",
				 strerror(errno));
	if (setgroups((size_t)z->ngroups, z->groups) != 0 ||
	    setresgid(z->gid, z->gid, z->gid) != 0 ||
	    setresuid(z->uid, z->uid, z->uid) != 0)
		return zone_errf(err, errlen,
				 "cannot become uid %u gid %u: "
				 "%s",
				 (unsigned)z->uid, (unsigned)z->gid,
				 strerror(errno));
	if (zone_jail_clear_caps() != 0)
		return zone_errf(err, errlen,
				 "cannot clear the capability sets: %s",
				 strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return zone_errf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s",
				 strerror(errno));
	return 0;
}
