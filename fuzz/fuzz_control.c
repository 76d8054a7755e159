/*
 * libFuzzer target for the control socket's request handler, answering
 * against a detached VM (guest memory, no vCPUs).  Each input is used
 * twice: split at newlines into raw requests, as the socket does; and as
 * a structured request (command, gpa, len, vcpu, encoding and a register
 * object taken from the bytes) that reaches past the JSON parser even
 * from an empty corpus.  Every answer must be one line of JSON with a
 * boolean "ok".
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
#include <stdio.h>
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

static void
fuzz_one(struct control_session *s, const char *req, size_t len)
{
	int fd;
	char *text = control_handle(s, req, len, &fd);

	fuzz_check(text);
	free(text);
	if (fd >= 0)
		close(fd);
}

static const char *const fuzz_cmds[] = {
    "status",	      "vcpus",	 "get-regs",   "set-regs",
    "get-fpu",	      "memmap",	 "read-mem",   "get-memfd",
    "gla2gpa",	      "stats",	 "inject-nmi", "force-reset",
    "force-poweroff", "destroy", "pause",      "resume",
    "help",	      "nope"};

static uint64_t
fuzz_u64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p, n < 8 ? n : 8);
	return v;
}

/* Bytes: cmd, 8 gpa, 2 len, 1 vcpu, 1 flags, then a JSON "regs" value. */
static void
fuzz_structured(struct control_session *s, const uint8_t *d, size_t size)
{
	char num[24];
	json_t *req, *regs;
	char *text;

	if (size < 13)
		return;
	req = json_object();
	json_object_set_new(
	    req, "cmd",
	    json_string(
		fuzz_cmds[d[0] % (sizeof(fuzz_cmds) / sizeof(fuzz_cmds[0]))]));
	snprintf(num, sizeof(num), "0x%llx",
		 (unsigned long long)fuzz_u64(d + 1, 8));
	json_object_set_new(req, "gpa", json_string(num));
	json_object_set_new(req, "gla", json_string(num));
	json_object_set_new(req, "len", json_integer(fuzz_u64(d + 9, 2)));
	if (d[12] & 1)
		json_object_set_new(req, "vcpu", json_integer(d[11]));
	if (d[12] & 2)
		json_object_set_new(req, "encoding",
				    json_string(d[12] & 4 ? "base64" : "hex"));
	regs =
	    json_loadb((const char *)d + 13, size - 13, JSON_DECODE_ANY, NULL);
	if (regs != NULL)
		json_object_set_new(req, "regs", regs);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text != NULL)
		fuzz_one(s, text, strlen(text));
	free(text);
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

		fuzz_one(&s, p, n);
		p += n + 1;
	}
	fuzz_structured(&s, data, size);
	control_session_end(&s);
	return 0;
}
