/*
 * The zone's confinement, applied by its first process (pid 1 of a new
 * pid, mount, ipc and uts namespace, still root):
 *
 *   zone_jail_build()  a tmpfs root holding bind mounts of the spec's
 *                      paths only (read-only where the spec says so), the
 *                      system libraries read-only, /dev with the spec's
 *                      nodes and a private devpts, a /proc of the zone's
 *                      own pid namespace, the VM's registry entry, and
 *                      /vm.conf; pivot_root, the old root detached, the
 *                      new root read-only.
 *   zone_jail_drop()   the capability bounding set emptied, ambient
 *                      capabilities cleared, the spec's groups, gid and
 *                      uid taken, every capability set emptied,
 *                      no_new_privs set.
 */
#ifndef ZONE_JAIL_H
#define ZONE_JAIL_H

#include <stddef.h>

#include "zone_spec.h"

/* The bhyve -k file inside the zone. */
#define ZONE_VM_CONFIG "/vm.conf"

/* Builds the root and enters it; -1 with one line in err. */
int zone_jail_build(const struct zone_spec *z, char *err, size_t errlen);
/* Drops every privilege for good; -1 with one line in err. */
int zone_jail_drop(const struct zone_spec *z, char *err, size_t errlen);

#endif
