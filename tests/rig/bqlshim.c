/*
 * bqlshim: an LD_PRELOAD library for the rig's L0 QEMU (QEMU 7.2, TCG) only.
 *
 * UEFI firmware (EDK2/OVMF) in L2 rewrites CR8 on every interrupt. Under
 * the nested SVM that L0's TCG emulates, with a virtual interrupt pending,
 * TCG's CR8 write helper calls cpu_interrupt() from the vCPU thread without
 * the big QEMU lock, and tcg_handle_interrupt() asserts that it holds it:
 *
 *   ERROR:../../accel/tcg/tcg-accel-ops.c:81:tcg_handle_interrupt:
 *   assertion failed: (qemu_mutex_iothread_locked())
 *
 * With one TCG thread (the rig's default) nothing else runs guest code
 * concurrently, so the missing lock is harmless there; the assertion is the
 * only casualty. This library overrides glib's g_assertion_message_expr()
 * (QEMU's g_assert() calls it) and returns, instead of aborting, for exactly
 * that assertion: expression "qemu_mutex_iothread_locked()" in function
 * "tcg_handle_interrupt", and only when the caller really is the exported
 * function tcg_handle_interrupt (dladdr on the return address), because in
 * Debian's build the call is inline in that function and returning resumes
 * it at the next statement (interrupt_request |= mask). A build that moved
 * the call to a cold section would land elsewhere, so it aborts as glib
 * would. Every other assertion goes to glib's own function (print, abort).
 * At exit it prints how many it swallowed to stderr, when any.
 *
 * Build: gcc -shared -fPIC -O2 -o bqlshim.so bqlshim.c -ldl
 * (tests/rig/rig-run does, into $RIG_CACHE; RIG_BQLSHIM=0 disables it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BQL_FUNC "tcg_handle_interrupt"
#define BQL_EXPR "qemu_mutex_iothread_locked()"

/* glib 2.74 gtestutils.h: G_NORETURN void g_assertion_message_expr(...);
 * declared here so the shim needs no glib headers. Not marked noreturn:
 * this definition returns for the one assertion it swallows. */
void g_assertion_message_expr(const char *domain, const char *file, int line,
			      const char *func, const char *expr);

typedef void (*assert_fn)(const char *, const char *, int, const char *,
			  const char *);

static atomic_ulong swallowed;

static int
caller_is(const void *ret, const char *name)
{
	Dl_info info;

	if (!dladdr(ret, &info) || !info.dli_sname)
		return 0;
	return strcmp(info.dli_sname, name) == 0;
}

void
g_assertion_message_expr(const char *domain, const char *file, int line,
			 const char *func, const char *expr)
{
	const void *ret = __builtin_return_address(0);
	assert_fn real;

	if (expr && func && strcmp(expr, BQL_EXPR) == 0 &&
	    strcmp(func, BQL_FUNC) == 0 && caller_is(ret, BQL_FUNC)) {
		if (atomic_fetch_add(&swallowed, 1) == 0)
			fprintf(stderr,
				"bqlshim: swallowing %s:%d:%s: assertion "
				"failed: (%s)\n",
				file ? file : "?", line, func, expr);
		return;
	}
	real = (assert_fn)dlsym(RTLD_NEXT, "g_assertion_message_expr");
	if (real)
		real(domain, file, line, func, expr);
	/* glib's never returns; without glib behave as it would. */
	fprintf(stderr, "ERROR:%s:%d:%s: assertion failed: (%s)\n",
		file ? file : "?", line, func ? func : "?",
		expr ? expr : "code should not be reached");
	abort();
}

__attribute__((destructor)) static void
bqlshim_report(void)
{
	unsigned long n = atomic_load(&swallowed);

	if (n)
		fprintf(stderr,
			"bqlshim: swallowed %lu BQL assertion%s in %s\n", n,
			n == 1 ? "" : "s", BQL_FUNC);
}
