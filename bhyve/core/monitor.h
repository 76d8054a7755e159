/*
 * Monitor mode (bhyve -M, key "monitor"): FreeBSD's bhyve splits into a
 * parent that outlives guest reboots and a child that runs the guest; a
 * child that ends with "reset" (exit status 0) is replaced by a new one,
 * any other status ends the parent with that status.  On Linux a VM is
 * already tied to its process (the KVM file descriptors close with it),
 * so the parent holds no VM state: every child builds the VM afresh.
 */
#ifndef MONITOR_H
#define MONITOR_H

/*
 * Forks a child and returns -1 in it (the caller goes on to run the
 * guest).  The parent never returns -1: it forwards SIGTERM, SIGINT and
 * SIGHUP to the running child, starts a new child after each exit status
 * 0, and returns the first other status (4 if fork fails; a child killed
 * by a signal kills the parent with the same signal).
 */
int monitor_run(void);

#endif
