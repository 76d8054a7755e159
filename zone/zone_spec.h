/*
 * A zone spec (docs/zone.md): a bhyve_config(5) file whose zone.* keys
 * say how to confine the VM the other keys describe.  zone_spec_load()
 * reads and checks it completely, before bhyvezone creates anything:
 * unknown zone.* keys, users that do not exist, malformed limits and
 * host paths that do not exist are one error line each.
 */
#ifndef ZONE_SPEC_H
#define ZONE_SPEC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ZONE_MAX_PATHS	64
#define ZONE_MAX_GROUPS 64
#define ZONE_NAME_MAX	128

/* What a path becomes inside the zone. */
enum zone_path_kind {
	ZONE_PATH_FILE,	  /* a bind mount of a file or directory */
	ZONE_PATH_DEVICE, /* a bind mount of a device node under /dev */
};

struct zone_path {
	char path[PATH_MAX]; /* absolute; the same path inside the zone */
	enum zone_path_kind kind;
	bool ro;
};

/* The cgroup v2 limits, as the text each interface file takes. */
struct zone_limits {
	char memory_max[32]; /* "" when unset */
	char swap_max[32];
	char cpu_weight[16];
	char cpu_max[48];
	char pids_max[32];
	char io_weight[24];
};

#define ZONE_MAX_TAPS 8

/* A tap the VM uses, opened by bhyvezone and passed as a descriptor. */
struct zone_tap {
	char node[64]; /* the device's key, "pci.0.5.0" */
	char name[16]; /* the interface (IFNAMSIZ) */
};

struct zone_spec {
	char name[ZONE_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
	gid_t groups[ZONE_MAX_GROUPS];
	int ngroups;
	char root[PATH_MAX];	 /* the scratch directory of the new root */
	char rundir[PATH_MAX];	 /* the registry's run directory */
	char cgparent[PATH_MAX]; /* "" : the default under the v2 mount */
	char bhyve[PATH_MAX];	 /* the program the zone runs */
	struct zone_limits limits;
	bool netns;
	bool seccomp;
	struct zone_path paths[ZONE_MAX_PATHS];
	int npaths;
	struct zone_tap taps[ZONE_MAX_TAPS];
	int ntaps;
};

/*
 * Loads SPEC into the configuration tree and fills *z; -1 with one line
 * in err.  Relative paths of the VM's keys are made absolute in the tree
 * (the zone's working directory is its root).
 */
int zone_spec_load(const char *file, struct zone_spec *z, char *err,
		   size_t errlen);
/*
 * Writes the VM's keys (zone.* removed, rundir and zone.seccomp set) as a
 * bhyve -k file to fd; -1 with errno.
 */
int zone_spec_write_vm_config(const struct zone_spec *z, int fd);

/* Formats one error line into err; returns -1 (for "return zone_errf(..)"). */
int zone_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
