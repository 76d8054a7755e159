/*
 * libFuzzer target for the control socket's request handler: each input
 * is split at newlines into requests, as the socket does, and answered
 * against a detached VM (guest memory, no vCPUs).  Every answer must be
 * one line of JSON with a boolean "ok".
 *
 * Build and run (from the repository root; `make fuzz` does the same),
 * with SRCS the core, debug and vmmapi sources:
 *   SRCS="bhyve/debug/control.c bhyve/debug/pagewalk.c
 *         bhyve/debug/registry.c $(ls bhyve/core/[a-z]*.c lib/vmmapi/[a-z]*.c)"
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *       -g -O1 -pthread -Ilib/vmmapi -Ibhyve/core -Ibhyve/debug \
 *       fuzz/fuzz_control.c $SRCS -ljansson -o build-fuzz/fuzz_control
 *   build-fuzz/fuzz_control -max_total_time=10
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "control.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_no_suspend(enum vm_suspend_how how)
{
	(void)how;
}

static void
fuzz_setup(void)
{
	static bool done;
	struct vmctx *ctx;

	if (done)
		return;
	done = true;
	ctx = vm_create_detached("fuzz");
	if (ctx == NULL || vm_setup_memory(ctx, 1u << 20) != 0)
		abort();
	memcpy(vm_map_gpa(ctx, 0x1000, 8), "beehive!", 8);
	control_init(ctx);
	control_set_suspend_hook(fuzz_no_suspend);
}

static void
fuzz_check(const char *text)
{
	json_t *o;

	if (text == NULL || strchr(text, '\n') != NULL)
		abort();
	o = json_loads(text, 0, NULL);
	if (!json_is_boolean(json_object_get(o, "ok")))
		abort();
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_session s = {0};
	const char *p = (const char *)data, *end = p + size;

	fuzz_setup();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int fd;
		char *text = control_handle(&s, p, n, &fd);

		fuzz_check(text);
		free(text);
		if (fd >= 0)
			close(fd);
		p += n + 1;
	}
	control_session_end(&s);
	return 0;
}
