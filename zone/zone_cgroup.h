/*
 * The zone's cgroup v2 group: PARENT/NAME with the spec's limits
 * (memory.max, cpu.weight, cpu.max, pids.max, io.weight).  PARENT is
 * zone.cgroup.parent, else "beehive" under the first cgroup2 mount of
 * /proc/self/mountinfo.  Controllers are enabled in every ancestor's
 * cgroup.subtree_control from the mount down; a limit whose controller
 * the hierarchy lacks, or that the kernel refuses, is an error, and
 * everything made so far is removed again.
 */
#ifndef ZONE_CGROUP_H
#define ZONE_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "zone_spec.h"

#define ZONE_CGROUP_MADE_MAX 8

struct zone_cgroup {
	char mount[PATH_MAX]; /* the cgroup2 mount */
	char path[PATH_MAX];  /* the zone's group */
	/* Directories this run created, parents first (removed in reverse). */
	char made[ZONE_CGROUP_MADE_MAX][PATH_MAX];
	int nmade;
};

/* Creates the group with its limits; -1 with one line in err. */
int zone_cgroup_create(const struct zone_spec *z, struct zone_cgroup *cg,
		       char *err, size_t errlen);
/* Moves pid into the group; -1 with one line in err. */
int zone_cgroup_enter(const struct zone_cgroup *cg, pid_t pid, char *err,
		      size_t errlen);
/* The group's memory.events oom_kill count (0 if unknown). */
long zone_cgroup_oom_kills(const struct zone_cgroup *cg);
/* Removes the group and the parents this run made; waits for the last
 * processes of the zone to be gone (up to about 2 s). */
void zone_cgroup_remove(struct zone_cgroup *cg);

#endif
