/*
 * bhyve's seccomp filter (sandbox.h).
 *
 * One allow list for the whole process: the vCPU, device, block and
 * control threads share it (per-role lists are future work, see
 * docs/zone.md).  The list is generous on purpose: a call a device path
 * makes only rarely must not end a guest, so it covers everything the
 * payload suites, the block and net backends, the gdb stub and the
 * control socket were seen to use, plus their close relatives.  What it
 * leaves out is the kernel surface a VM process never needs: mount and
 * namespace calls, ptrace and process_vm_*, module and kexec loading,
 * bpf, perf_event_open, keyrings, userfaultfd, personality, chroot,
 * setuid and friends, reboot, swap, clock and time setting.
 */
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#define SANDBOX_MAX_NR 1024

/* Grouped by use (laid out by hand, not by clang-format). */
/* clang-format off */
static const char *const sandbox_allowed[] = {
    /* files and descriptors */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
    "pwritev", "preadv2", "pwritev2", "open", "openat", "openat2", "close",
    "close_range", "dup", "dup2", "dup3", "fcntl", "lseek", "fstat", "stat",
    "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access",
    "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
    "ftruncate", "fallocate", "fsync", "fdatasync", "sync_file_range",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
    "mkdirat", "rmdir", "symlink", "symlinkat", "chmod", "fchmod",
    "fchmodat", "flock", "pipe", "pipe2", "memfd_create", "copy_file_range",
    "getcwd", "chdir", "fchdir", "umask", "ioctl", "fadvise64", "sendfile",
    /* memory */
    "mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mlock",
    "mlock2", "munlock", "mlockall", "munlockall", "mbind", "get_mempolicy",
    "set_mempolicy", "mincore", "msync",
    /* event loop, timers, polling */
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
    "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
    "timerfd_gettime", "signalfd", "signalfd4", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "clock_gettime", "clock_getres",
    "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    /* threads and signals */
    "clone", "clone3", "futex", "set_robust_list", "get_robust_list",
    "rseq", "set_tid_address", "gettid", "getpid", "getppid", "tgkill",
    "tkill", "kill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "rt_sigtimedwait", "rt_sigpending", "rt_sigsuspend", "sigaltstack",
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "exit",
    "exit_group", "wait4", "waitid", "prctl", "arch_prctl", "getrandom",
    "getrlimit", "prlimit64", "getrusage", "uname", "sysinfo", "membarrier",
    /* identity (read only) */
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
    "getresgid",
    /* sockets: control socket, gdb stub, UART sockets, slirp */
    "socket", "socketpair", "bind", "listen", "accept", "accept4",
    "connect", "shutdown", "getsockname", "getpeername", "setsockopt",
    "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
    "recvmmsg",
};
/* clang-format on */

/* Set once the filter is loaded. */
static volatile int sandbox_active;

/*
 * ASan builds (make SAN=1, for tests): LeakSanitizer's check at exit
 * stops the threads from a helper process with ptrace, which the filter
 * forbids, and the process would then wait for it forever.  LSan asks
 * this hook whether to check at all: not once the filter is in place.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifdef SANDBOX_ASAN
int __lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return sandbox_active;
}
#endif

/* Names by number, resolved before the filter exists: the SIGSYS
 * handler may not allocate. */
static const char *sandbox_names[SANDBOX_MAX_NR];

/* Appends s to buf at *off, within len: async-signal-safe. */
static void
sandbox_append(char *buf, size_t len, size_t *off, const char *s)
{
	while (*s != '\0' && *off + 1 < len)
		buf[(*off)++] = *s++;
}

static void
sandbox_on_sigsys(int signo, siginfo_t *si, void *uctx)
{
	char line[160], num[16];
	size_t off = 0, n = 0;
	int nr = si->si_syscall;
	unsigned v = nr < 0 ? 0 : (unsigned)nr;

	do {
		num[sizeof(num) - 1 - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(num) - 2);
	num[sizeof(num) - 1] = '\0';
	sandbox_append(line, sizeof(line), &off,
		       "bhyve: seccomp: forbidden system call ");
	sandbox_append(line, sizeof(line), &off, num + sizeof(num) - 1 - n);
	sandbox_append(line, sizeof(line), &off, " (");
	sandbox_append(line, sizeof(line), &off,
		       nr >= 0 && nr < SANDBOX_MAX_NR && sandbox_names[nr]
			   ? sandbox_names[nr]
			   : "unknown");
	sandbox_append(line, sizeof(line), &off, ")\n");
	if (write(STDERR_FILENO, line, off) < 0) {
		/* nothing else to tell */
	}
	_exit(4);
}

static void
sandbox_resolve_names(void)
{
	for (int nr = 0; nr < SANDBOX_MAX_NR; nr++)
		sandbox_names[nr] =
		    seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

static int
sandbox_set_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL);
}

/* The rules; a name this libseccomp or kernel does not know is skipped. */
static int
sandbox_allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc != 0) {
			fprintf(stderr, "bhyve: seccomp: cannot allow %s: %s\n",
				names[i], strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static int
sandbox_add_rules(scmp_filter_ctx ctx)
{
	return sandbox_allow(ctx, sandbox_allowed,
			     sizeof(sandbox_allowed) /
				 sizeof(sandbox_allowed[0]));
}

int
sandbox_install(void)
{
	scmp_filter_ctx ctx;
	int rc;

	sandbox_resolve_names();
	if (sandbox_set_handler() != 0) {
		fprintf(stderr, "bhyve: seccomp: sigaction: %s\n",
			strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (ctx == NULL) {
		fprintf(stderr, "bhyve: seccomp: cannot create a filter\n");
		return -1;
	}
	/* Threads that already exist get the filter too. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* i386 or x32 system calls: no trap handler can name those. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				      SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = sandbox_add_rules(ctx) == 0 ? 0 : -EINVAL;
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	sandbox_active = rc == 0;
	if (rc != 0) {
		fprintf(stderr, "bhyve: seccomp: cannot load the filter: %s\n",
			strerror(-rc));
		return -1;
	}
	return 0;
}
