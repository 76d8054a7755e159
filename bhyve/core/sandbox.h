/*
 * bhyve's own seccomp filter (key zone.seccomp, set by bhyvezone; see
 * docs/zone.md).  Installed once the configuration is validated and
 * before the VM is built, so it covers every thread bhyve starts later.
 * It allows the system calls a VM process makes (KVM ioctls, memory,
 * files and sockets, event loop, threads, io_uring) and traps every
 * other one: the process then ends with status 4 and one line
 * "bhyve: seccomp: forbidden system call N (name)".
 */
#ifndef SANDBOX_H
#define SANDBOX_H

/* Installs the filter; -1 with a message on stderr. */
int sandbox_install(void);

#endif
