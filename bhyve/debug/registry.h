/*
 * The VM registry: beehive's analogue of illumos' /dev/vmm.  Every running
 * VM owns one entry in a run directory:
 *
 *   RUNDIR/NAME/lock       flock()ed by the owning bhyve for the VM's life
 *   RUNDIR/NAME/ctl        the control socket (control.h, docs/control.md)
 *   RUNDIR/NAME/meta.json  name, pid, uid, start time, cpus, memory
 *   RUNDIR/NAME/comN       a symlink to the pty standing in for COMN's
 *                          /dev/nmdm device (docs/config.md)
 *
 * RUNDIR is the configuration key 'rundir' (-o rundir=DIR, bhyvectl
 * --rundir=DIR), else $BEEHIVE_RUNDIR, else /run/beehive for root, else
 * $XDG_RUNTIME_DIR/beehive, else /tmp/beehive-UID.  The rule lives in
 * libvmmapi's vm_ctl_rundir() (vmm_ctl.h), so vm_open() follows it too.
 *
 * The kernel drops the flock when its holder dies, so an entry whose lock
 * can be taken belongs to nobody and is reclaimed.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REGISTRY_NAME_MAX 128

struct registry_entry {
	char name[REGISTRY_NAME_MAX + 1];
	long long pid; /* -1 when the metadata does not say */
	long long uid;
	long long start_time; /* seconds since the epoch */
	int cpus;	      /* 0 until the VM is built */
	uint64_t memory;      /* bytes; 0 until the VM is built */
	bool live;	      /* the lock is held: a bhyve owns the entry */
};

/*
 * Claims 'name' for this process: -1 with a message in err when the name
 * is invalid, held by a live bhyve, or the run directory is unusable.  A
 * stale entry is reclaimed.  Registers registry_release() with atexit().
 */
int registry_claim(const char *name, char *err, size_t errlen);
/* registry_claim() for bhyve's main(): prints "bhyve: <why>" on failure. */
int registry_claim_or_report(const char *name);
/* Removes this process's entry; idempotent, safe from atexit. */
void registry_release(void);
/*
 * Publishes 'target' as the symlink RUNDIR/NAME/linkname, removed with
 * the entry; -1 with errno (ENOENT before a claim).
 */
int registry_link(const char *linkname, const char *target);
/* Records the VM's size in the metadata once it is known. */
int registry_set_vm_info(int cpus, uint64_t memory);
/* This process's control socket path ("" before a claim). */
const char *registry_ctl_path(void);
/* This process's entry directory, RUNDIR/NAME ("" before a claim). */
const char *registry_entry_path(void);
/* The directory fd of this process's entry (-1 before a claim). */
int registry_entry_dirfd(void);

/*
 * The run directory in effect: vm_ctl_rundir() with the configuration
 * key; -1 if it does not fit in len.
 */
int registry_rundir(char *buf, size_t len);
/* true when 'name' can name a VM (no '/', no spaces, not "." or ".."). */
bool registry_name_valid(const char *name);

/*
 * Looks up one entry: 0 and *e when it exists and is live, -1 otherwise
 * (errno ENOENT: no such VM; ESRCH: a stale entry).
 */
int registry_lookup(const char *name, struct registry_entry *e);
/* Calls cb for every live entry, in name order; returns the count or -1. */
int registry_list(int (*cb)(const struct registry_entry *e, void *arg),
		  void *arg);

/*
 * Connects to the control socket of VM 'name' in the run directory in
 * effect (vm_ctl_connect()); -1 with errno.
 */
int registry_connect(const char *name);

#endif
