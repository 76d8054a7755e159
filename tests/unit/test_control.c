/*
 * The control protocol without a running VM: malformed and hostile
 * requests get error responses (never a crash), memory commands work on a
 * detached context, get-memfd hands out a descriptor that cannot write,
 * the destructive commands reach the suspend hook, and the page walker
 * translates through guest tables built by hand (4-level with 1 GiB and
 * 2 MiB pages, PAE, 32-bit with PSE, no paging).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "mevent.h"
#include "registry.h"
#include "pagewalk.h"
#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)

static struct control_session session;
static enum vm_suspend_how last_suspend = VM_SUSPEND_NONE;
static int suspend_calls;

static void
record_suspend(enum vm_suspend_how how)
{
	last_suspend = how;
	suspend_calls++;
}

/* Sends one request; returns the parsed response (caller decrefs). */
static json_t *
req_n(const char *text, size_t len, int *fdp)
{
	int fd;
	char *out = control_handle(&session, text, len, &fd);
	json_t *o = out != NULL ? json_loads(out, 0, NULL) : NULL;

	if (out != NULL && strchr(out, '\n') != NULL)
		printf("# response contains a newline: %s\n", out);
	free(out);
	if (fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return o;
}

static json_t *
req(const char *text)
{
	return req_n(text, strlen(text), NULL);
}

static bool
is_ok(json_t *o)
{
	return json_is_true(json_object_get(o, "ok"));
}

/* An error response whose message contains 'want'. */
static bool
is_err(json_t *o, const char *want)
{
	const char *e = json_string_value(json_object_get(o, "error"));

	if (!json_is_false(json_object_get(o, "ok")) || e == NULL) {
		printf("# not an error response\n");
		return false;
	}
	if (strstr(e, want) == NULL) {
		printf("# error was: %s\n", e);
		return false;
	}
	return true;
}

static void
check_err(const char *request, const char *want, const char *name)
{
	json_t *o = req(request);

	CHECK(o != NULL && is_err(o, want), name);
	json_decref(o);
}

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
test_no_vm(void)
{
	control_init(NULL);
	check_err("{\"cmd\":\"status\"}", "no VM attached", "no VM: status");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":0,\"len\":1}", "no VM",
		  "no VM: read-mem");
	check_err("{\"cmd\":\"force-poweroff\"}", "no VM",
		  "no VM: force-poweroff refused");
	CHECK(suspend_calls == 0, "no VM: nothing suspended");
}

static void
test_malformed(void)
{
	char *big, *deep;
	size_t n;
	json_t *o;

	check_err("", "malformed JSON", "malformed: empty");
	check_err("{", "malformed JSON", "malformed: truncated object");
	check_err("{\"cmd\":\"status\"} trailing", "malformed JSON",
		  "malformed: trailing garbage");
	check_err("[\"status\"]", "must be a JSON object", "malformed: array");
	check_err("42", "malformed JSON", "malformed: bare number");
	check_err("{}", "missing \"cmd\"", "malformed: no cmd");
	check_err("{\"cmd\":7}", "missing \"cmd\"",
		  "malformed: cmd not a string");
	check_err("{\"cmd\":\"status\",\"cmd\":\"status\"}", "malformed JSON",
		  "malformed: duplicate keys refused");
	check_err("{\"cmd\":\"launch-missiles\"}", "unknown command",
		  "unknown command");
	o = req_n("{\"cmd\":\"st\0atus\"}", 17, NULL);
	CHECK(o != NULL && is_err(o, "malformed JSON"),
	      "malformed: NUL byte inside a string");
	json_decref(o);

	/* Oversize: one byte over the limit, even if it is valid JSON. */
	n = CONTROL_REQ_MAX + 1;
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"cmd\":\"help\"}", 14);
	o = req_n(big, n, NULL);
	CHECK(o != NULL && is_err(o, "longer than"),
	      "oversize request refused");
	json_decref(o);
	free(big);

	/* Deep nesting must not exhaust the stack. */
	n = 60000;
	deep = malloc(n + 1);
	memset(deep, '[', n);
	deep[n] = '\0';
	o = req_n(deep, n, NULL);
	CHECK(o != NULL && is_err(o, "malformed JSON"), "deep nesting refused");
	json_decref(o);
	free(deep);

	o = req("{\"cmd\":\"help\",\"id\":\"abc\"}");
	CHECK(o != NULL && is_ok(o) && str(o, "id") != NULL &&
		  strcmp(str(o, "id"), "abc") == 0,
	      "id echoed on success");
	json_decref(o);
	o = req("{\"cmd\":\"nope\",\"id\":12}");
	CHECK(o != NULL && json_integer_value(json_object_get(o, "id")) == 12 &&
		  !is_ok(o),
	      "id echoed on error");
	json_decref(o);
}

static void
test_status_memmap(struct vmctx *ctx)
{
	json_t *o = req("{\"cmd\":\"status\"}"), *r;

	CHECK(o != NULL && is_ok(o) && str(o, "name") != NULL &&
		  strcmp(str(o, "name"), "ctl-test") == 0,
	      "status: name");
	CHECK(o != NULL && str(o, "memory") != NULL &&
		  strcmp(str(o, "memory"), "0x4000000") == 0,
	      "status: memory as hex string");
	json_decref(o);
	o = req("{\"cmd\":\"memmap\"}");
	r = json_array_get(json_object_get(o, "ranges"), 0);
	CHECK(o != NULL && is_ok(o) &&
		  json_array_size(json_object_get(o, "ranges")) == 1 &&
		  strcmp(str(r, "gpa"), "0x0") == 0 &&
		  strcmp(str(r, "len"), "0x4000000") == 0,
	      "memmap: one low range of 64 MiB");
	json_decref(o);
}

static void
test_read_mem(struct vmctx *ctx)
{
	json_t *o;

	vm_copyout(ctx, "\x01\xab\xff\x10\x20", 0x1000, 5);
	o = req("{\"cmd\":\"read-mem\",\"gpa\":4096,\"len\":5}");
	CHECK(o != NULL && is_ok(o) && str(o, "data") != NULL &&
		  strcmp(str(o, "data"), "01abff1020") == 0,
	      "read-mem: hex");
	json_decref(o);
	o = req("{\"cmd\":\"read-mem\",\"gpa\":\"0x1000\",\"len\":\"5\","
		"\"encoding\":\"base64\"}");
	CHECK(o != NULL && is_ok(o) && str(o, "data") != NULL &&
		  strcmp(str(o, "data"), "Aav/ECA=") == 0,
	      "read-mem: base64, number strings");
	json_decref(o);
	o = req("{\"cmd\":\"read-mem\",\"gpa\":\"0x3ffffff\",\"len\":1}");
	CHECK(o != NULL && is_ok(o), "read-mem: last byte of RAM");
	json_decref(o);
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\"0x3ffffff\",\"len\":2}",
		  "not inside guest RAM", "read-mem: range past the end");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\"0xfffffffffffffff0\","
		  "\"len\":32}",
		  "not inside guest RAM", "read-mem: wrapping range");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\"0xfec00000\",\"len\":4}",
		  "not inside guest RAM", "read-mem: MMIO hole");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":0,\"len\":0}", "'len' must be",
		  "read-mem: zero length");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":0,\"len\":65537}",
		  "'len' must be", "read-mem: over the length bound");
	check_err("{\"cmd\":\"read-mem\",\"len\":4}", "missing argument 'gpa'",
		  "read-mem: missing gpa");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":-1,\"len\":4}", "'gpa' must",
		  "read-mem: negative gpa");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\"0x10zz\",\"len\":4}",
		  "'gpa' must", "read-mem: garbage in number string");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\" 1\",\"len\":4}",
		  "'gpa' must", "read-mem: leading space refused");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":\"99999999999999999999999\","
		  "\"len\":4}",
		  "'gpa' must", "read-mem: overflowing number string");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":1.5,\"len\":4}", "'gpa' must",
		  "read-mem: real number refused");
	check_err("{\"cmd\":\"read-mem\",\"gpa\":0,\"len\":4,\"encoding\":"
		  "\"rot13\"}",
		  "'encoding' must", "read-mem: unknown encoding");
}

static void
test_memfd(struct vmctx *ctx)
{
	json_t *o;
	char buf[8] = "";
	void *p;
	int fd;

	o = req_n("{\"cmd\":\"get-memfd\"}", strlen("{\"cmd\":\"get-memfd\"}"),
		  &fd);
	CHECK(o != NULL && is_ok(o) && fd >= 0, "memfd: descriptor returned");
	CHECK(o != NULL && strcmp(str(o, "size"), "0x4000000") == 0,
	      "memfd: size reported");
	json_decref(o);
	if (fd < 0)
		return;
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
	      "memfd: opened read-only");
	CHECK(pread(fd, buf, 5, 0x1000) == 5 &&
		  memcmp(buf, "\x01\xab\xff\x10\x20", 5) == 0,
	      "memfd: reads guest memory");
	CHECK(pwrite(fd, "x", 1, 0x1000) == -1 && errno == EBADF,
	      "memfd: write refused");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EACCES,
	      "memfd: writable shared mapping refused");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0x1000);
	CHECK(p != MAP_FAILED && memcmp(p, "\x01\xab", 2) == 0,
	      "memfd: read-only mapping works");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
}

static void
test_vcpu_args(void)
{
	check_err("{\"cmd\":\"get-regs\"}", "no vCPU 0",
		  "regs: no vCPU in a detached context");
	check_err("{\"cmd\":\"get-regs\",\"vcpu\":5000}", "no vCPU 5000",
		  "regs: vCPU beyond VM_MAXCPU");
	check_err("{\"cmd\":\"get-regs\",\"vcpu\":\"x\"}", "'vcpu' must",
		  "regs: vCPU not a number");
	check_err("{\"cmd\":\"set-regs\",\"vcpu\":-3}", "'vcpu' must",
		  "regs: negative vCPU");
	check_err("{\"cmd\":\"inject-nmi\",\"vcpu\":1}", "no vCPU 1",
		  "inject-nmi: no such vCPU");
	check_err("{\"cmd\":\"gla2gpa\",\"gla\":0}", "no vCPU",
		  "gla2gpa: no such vCPU");
	check_err("{\"cmd\":\"get-fpu\"}", "no vCPU", "get-fpu: no such vCPU");
}

static void
test_actions(void)
{
	json_t *o;

	o = req("{\"cmd\":\"force-poweroff\"}");
	CHECK(o != NULL && is_ok(o) && last_suspend == VM_SUSPEND_POWEROFF,
	      "force-poweroff: suspend with POWEROFF");
	json_decref(o);
	o = req("{\"cmd\":\"force-reset\"}");
	CHECK(o != NULL && is_ok(o) && last_suspend == VM_SUSPEND_RESET,
	      "force-reset: suspend with RESET");
	json_decref(o);
	o = req("{\"cmd\":\"destroy\"}");
	CHECK(o != NULL && is_ok(o) && last_suspend == VM_SUSPEND_LAST,
	      "destroy: suspend as an error exit");
	json_decref(o);
	CHECK(suspend_calls == 3, "actions: one suspend each");
	check_err("{\"cmd\":\"resume\"}", "holds no pause",
		  "resume without pause refused");
	o = req("{\"cmd\":\"pause\"}");
	CHECK(o != NULL && is_ok(o) && session.pauses == 1, "pause counted");
	json_decref(o);
	o = req("{\"cmd\":\"resume\"}");
	CHECK(o != NULL && is_ok(o) && session.pauses == 0, "resume counted");
	json_decref(o);
	for (int i = 0; i < CONTROL_PAUSE_MAX; i++)
		json_decref(req("{\"cmd\":\"pause\"}"));
	check_err("{\"cmd\":\"pause\"}", "nested pauses", "pause: bounded");
	control_session_end(&session);
	CHECK(session.pauses == 0, "session end drops its pauses");
	o = req("{\"cmd\":\"stats\"}");
	CHECK(o != NULL && is_ok(o) &&
		  json_array_size(json_object_get(o, "stats")) == 0,
	      "stats: empty without vCPUs");
	json_decref(o);
}

static void
test_reg_names(void)
{
	CHECK(control_reg_lookup("rip") != NULL &&
		  control_reg_lookup("rip")->reg == VM_REG_GUEST_RIP,
	      "reg table: rip");
	CHECK(control_reg_lookup("cs") != NULL &&
		  control_reg_lookup("cs")->kind == CONTROL_REG_SEGMENT,
	      "reg table: cs is a segment");
	CHECK(control_reg_lookup("gdtr") != NULL &&
		  control_reg_lookup("gdtr")->kind == CONTROL_REG_TABLE,
	      "reg table: gdtr is a table");
	CHECK(control_reg_lookup("rpi") == NULL, "reg table: typo unknown");
}

/* ---- page walks ---- */

static void
put64(struct vmctx *ctx, uint64_t gpa, uint64_t v)
{
	vm_copyout(ctx, &v, gpa, 8);
}

static void
put32(struct vmctx *ctx, uint64_t gpa, uint32_t v)
{
	vm_copyout(ctx, &v, gpa, 4);
}

static int
walk(struct vmctx *ctx, const struct pagewalk_cpu *cpu, uint64_t gla,
     uint64_t *gpa, uint64_t *size)
{
	char why[160];

	*gpa = 0xdeadULL;
	return pagewalk_gla2gpa(ctx, cpu, gla, gpa, size, why, sizeof(why));
}

#define P  0x1ULL
#define RW 0x2ULL
#define PS 0x80ULL

static void
test_walk_4level(struct vmctx *ctx)
{
	struct pagewalk_cpu cpu = {
	    .cr0 = 0x80000011ULL, .cr3 = 0x10000, .cr4 = 0x20, .efer = 0x500};
	uint64_t gpa, size;

	put64(ctx, 0x10000 + 0 * 8, 0x11000 | P | RW);	     /* PML4[0] */
	put64(ctx, 0x11000 + 0 * 8, 0x12000 | P | RW);	     /* PDPT[0] */
	put64(ctx, 0x11000 + 1 * 8, 0xc0000000ULL | P | PS); /* 1 GiB */
	put64(ctx, 0x12000 + 0 * 8, 0x13000 | P | RW);	     /* PD[0] */
	/* 2 MiB page with the PAT bit (12) set: not part of the frame. */
	put64(ctx, 0x12000 + 1 * 8, 0x600000ULL | 0x1000 | P | PS);
	put64(ctx, 0x12000 + 2 * 8, 0x10000000ULL | P); /* table not in RAM */
	put64(ctx, 0x13000 + 5 * 8, 0x7000 | P);	/* PT[5] */
	put64(ctx, 0x13000 + 6 * 8, 0x8000);		/* not present */
	put64(ctx, 0x10000 + 2 * 8, 0x14000 | P | PS);	/* PS in PML4E */
	put64(ctx, 0x10000 + 511 * 8, 0x15000 | P);	/* high half */
	put64(ctx, 0x15000 + 510 * 8, 0x80000000ULL | P | PS);

	CHECK(walk(ctx, &cpu, 0x5abc, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x7abc && size == 4096,
	      "4-level: 4 KiB page");
	CHECK(walk(ctx, &cpu, 0x6000, &gpa, &size) == PAGEWALK_FAULT,
	      "4-level: non-present PTE faults");
	CHECK(walk(ctx, &cpu, 0x201234, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x601234 && size == 2 * MiB,
	      "4-level: 2 MiB page, PAT bit masked");
	CHECK(walk(ctx, &cpu, 0x40012345ULL, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0xc0012345ULL && size == 1ULL << 30,
	      "4-level: 1 GiB page");
	CHECK(walk(ctx, &cpu, 0x8000000000ULL, &gpa, &size) == PAGEWALK_FAULT,
	      "4-level: non-present PML4E faults");
	CHECK(walk(ctx, &cpu, 0x400000ULL, &gpa, &size) == PAGEWALK_ERROR,
	      "4-level: table outside RAM is an error");
	CHECK(walk(ctx, &cpu, 0x10000000000ULL, &gpa, &size) == PAGEWALK_FAULT,
	      "4-level: PS in a PML4E faults");
	CHECK(walk(ctx, &cpu, 0xffffffff80000100ULL, &gpa, &size) ==
		      PAGEWALK_OK &&
		  gpa == 0x80000100ULL,
	      "4-level: high-half 1 GiB page");
	CHECK(walk(ctx, &cpu, 0x0000800000000000ULL, &gpa, &size) ==
		  PAGEWALK_FAULT,
	      "4-level: non-canonical faults");
	CHECK_STR(pagewalk_mode_name(&cpu), "4-level", "4-level: mode name");
	cpu.cr3 = 0x3fff000; /* the last page of RAM: all zero entries */
	CHECK(walk(ctx, &cpu, 0x1000, &gpa, &size) == PAGEWALK_FAULT,
	      "4-level: empty PML4 faults");
	cpu.cr3 = 0x7ffff000ULL;
	CHECK(walk(ctx, &cpu, 0x1000, &gpa, &size) == PAGEWALK_ERROR,
	      "4-level: CR3 outside RAM is an error");
}

static void
test_walk_pae(struct vmctx *ctx)
{
	/* CR3 bits 31:5 locate the PDPT: 0x20000 + 0x20. */
	struct pagewalk_cpu cpu = {
	    .cr0 = 0x80000011ULL, .cr3 = 0x20020, .cr4 = 0x20, .efer = 0};
	uint64_t gpa, size;

	put64(ctx, 0x20020 + 0 * 8, 0x21000 | P); /* PDPTE 0 */
	put64(ctx, 0x20020 + 3 * 8, 0);		  /* PDPTE 3 absent */
	put64(ctx, 0x21000 + 0 * 8, 0x22000 | P); /* PD[0] -> PT */
	put64(ctx, 0x21000 + 2 * 8, 0x400000 | P | PS);
	put64(ctx, 0x22000 + 1 * 8, 0x123000 | P);

	CHECK(walk(ctx, &cpu, 0x1abc, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x123abc && size == 4096,
	      "pae: 4 KiB page");
	CHECK(walk(ctx, &cpu, 0x400010, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x400010 && size == 2 * MiB,
	      "pae: 2 MiB page");
	CHECK(walk(ctx, &cpu, 0xc0000000ULL, &gpa, &size) == PAGEWALK_FAULT,
	      "pae: non-present PDPTE faults");
	CHECK(walk(ctx, &cpu, 0x100001abcULL, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x123abc,
	      "pae: linear addresses are 32 bits");
	CHECK_STR(pagewalk_mode_name(&cpu), "pae", "pae: mode name");
}

static void
test_walk_32bit(struct vmctx *ctx)
{
	struct pagewalk_cpu cpu = {.cr0 = 0x80000011ULL,
				   .cr3 = 0x30000,
				   .cr4 = 0x10, /* PSE */
				   .efer = 0};
	uint64_t gpa, size;

	put32(ctx, 0x30000 + 0 * 4, 0x31000 | P); /* PDE 0 -> PT */
	/* 4 MiB page at 0x1_00800000: PSE-36 bits 20:13 hold bits 39:32. */
	put32(ctx, 0x30000 + 1 * 4, 0x00800000u | (1u << 13) | P | PS);
	put32(ctx, 0x30000 + 2 * 4, 0);
	put32(ctx, 0x31000 + 2 * 4, 0x99000 | P);
	put32(ctx, 0x31000 + 3 * 4, 0x98000); /* not present */

	CHECK(walk(ctx, &cpu, 0x2fff, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x99fff && size == 4096,
	      "32-bit: 4 KiB page");
	CHECK(walk(ctx, &cpu, 0x3000, &gpa, &size) == PAGEWALK_FAULT,
	      "32-bit: non-present PTE faults");
	CHECK(walk(ctx, &cpu, 0x400123, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x100800123ULL && size == 4 * MiB,
	      "32-bit: 4 MiB PSE page with PSE-36 bits");
	CHECK(walk(ctx, &cpu, 0x800000, &gpa, &size) == PAGEWALK_FAULT,
	      "32-bit: non-present PDE faults");
	cpu.cr4 = 0; /* without CR4.PSE the PS bit is ignored */
	/* PDE 1 then points at a page table at 0x802000. */
	put32(ctx, 0x802000, 0x55000 | P);
	CHECK(walk(ctx, &cpu, 0x400123, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0x55123 && size == 4096,
	      "32-bit: PS ignored without CR4.PSE");
	CHECK_STR(pagewalk_mode_name(&cpu), "32-bit", "32-bit: mode name");
}

static void
test_walk_none(struct vmctx *ctx)
{
	struct pagewalk_cpu cpu = {.cr0 = 0x11};
	uint64_t gpa, size;

	CHECK(walk(ctx, &cpu, 0xb8000, &gpa, &size) == PAGEWALK_OK &&
		  gpa == 0xb8000,
	      "no paging: identity");
	CHECK(walk(ctx, &cpu, 0x100000000ULL, &gpa, &size) == PAGEWALK_FAULT,
	      "no paging: beyond 4 GiB faults");
	CHECK_STR(pagewalk_mode_name(&cpu), "none", "no paging: mode name");
}

/* ---- the socket, with a served VM in a child process ---- */

/* The served VM's limits on unread replies: a 32 KiB reply fits, a
 * 128 KiB one does not; a client may leave them unread for 3 s. */
#define SLOW_OUT_MAX (100 * 1024)
#define SLOW_OUT_MS  3000
#define SLOW_NREQ    40 /* 32 KiB replies: more than a socket buffers */

static int
sock_server(int readyfd)
{
	char err[256];
	struct vmctx *ctx;

	control_set_suspend_hook(NULL); /* the real bhyve_request_suspend */
	control_set_output_limits(SLOW_OUT_MAX, SLOW_OUT_MS);
	if (mevent_init() != 0 || registry_claim("sock-vm", err, 256) != 0)
		return 10;
	ctx = vm_create_detached("sock-vm");
	if (ctx == NULL || vm_setup_memory(ctx, 16 * MiB) != 0 ||
	    vm_copyout(ctx, "vm_open sees me", 0x1000, 16) != 0 ||
	    control_start(ctx) != 0)
		return 11;
	if (write(readyfd, "r", 1) != 1)
		return 12;
	close(readyfd);
	return mevent_dispatch();
}

/* Reads one response line, collecting a passed descriptor. */
static json_t *
sock_read(int fd, int *passed)
{
	static char buf[1 << 18];
	static size_t len;
	char *nl;
	json_t *o;

	while ((nl = memchr(buf, '\n', len)) == NULL) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = {buf + len, sizeof(buf) - len};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cm.space,
				     .msg_controllen = sizeof(cm.space)};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;

		if (n <= 0) {
			len = 0;
			return NULL;
		}
		if (h != NULL && h->cmsg_type == SCM_RIGHTS && passed != NULL)
			memcpy(passed, CMSG_DATA(h), sizeof(int));
		len += (size_t)n;
	}
	o = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	len -= (size_t)(nl - buf) + 1;
	memmove(buf, nl + 1, len);
	return o;
}

static bool
sock_send(int fd, const char *text)
{
	return send(fd, text, strlen(text), MSG_NOSIGNAL) ==
	       (ssize_t)strlen(text);
}

/*
 * A peer that is neither root nor the owner is turned away by the
 * SO_PEERCRED check even when file permissions would let it connect.
 */
static void
sock_other_uid(const char *rundir)
{
	char path[256], entry[256];
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return; /* only root can become someone else */
	/* The registry makes both directories 0700; open them up so that
	 * only the socket's own peer check stands in the way. */
	snprintf(entry, sizeof(entry), "%s/sock-vm", rundir);
	snprintf(path, sizeof(path), "%s/sock-vm/ctl", rundir);
	if (chmod(rundir, 0755) != 0 || chmod(entry, 0755) != 0 ||
	    chmod(path, 0666) != 0) {
		CHECK(0, "socket: open up the socket file");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		json_t *o;
		int fd;

		if (setresuid(65534, 65534, 65534) != 0)
			_exit(2);
		fd = registry_connect("sock-vm");
		if (fd < 0)
			_exit(3);
		o = sock_read(fd, NULL);
		_exit(o != NULL && is_err(o, "permission denied") ? 0 : 4);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  WEXITSTATUS(st) == 0,
	      "socket: other uid refused (SO_PEERCRED)");
	chmod(path, 0600);
	chmod(entry, 0700);
	chmod(rundir, 0700);
}

/* libvmmapi's vm_open(): a read-only view of the served VM's memory. */
static void
test_vm_open(const char *rundir)
{
	struct vmctx *ctx = vm_open_rundir(rundir, "sock-vm");
	const char *p;

	CHECK(ctx != NULL, "vm_open: attached through the registry");
	if (ctx == NULL)
		return;
	CHECK_EQ_U64(vm_get_lowmem_size(ctx), 16 * MiB, "vm_open: memory size");
	p = vm_map_gpa(ctx, 0x1000, 16);
	CHECK(p != NULL && memcmp(p, "vm_open sees me", 16) == 0,
	      "vm_open: sees what the VM wrote");
	CHECK(vm_map_gpa(ctx, 16 * MiB, 1) == NULL, "vm_open: bounds kept");
	CHECK(vm_vcpu_open(ctx, 0) == NULL && errno == ENODEV,
	      "vm_open: no vCPU access");
	vm_destroy(ctx);
	CHECK(vm_open_rundir(rundir, "no-such-vm") == NULL && errno == ENOENT,
	      "vm_open: unknown name is ENOENT");
	CHECK(vm_open_rundir(rundir, "../x") == NULL, "vm_open: bad name");
	/* vm_open() has no configuration: it finds the VM through the env. */
	setenv("BEEHIVE_RUNDIR", rundir, 1);
	ctx = vm_open("sock-vm");
	CHECK(ctx != NULL, "vm_open: run directory from $BEEHIVE_RUNDIR");
	vm_destroy(ctx);
	unsetenv("BEEHIVE_RUNDIR");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends n read-mem requests for len bytes each, then optionally get-memfd. */
static bool
sock_flood(int fd, int n, unsigned len, bool memfd)
{
	char line[128];
	bool ok = true;

	snprintf(line, sizeof(line),
		 "{\"cmd\":\"read-mem\",\"gpa\":0,\"len\":%u}\n", len);
	for (int i = 0; i < n && ok; i++)
		ok = sock_send(fd, line);
	return ok && (!memfd || sock_send(fd, "{\"cmd\":\"get-memfd\"}\n"));
}

/* A client with a request answered, and how long the answer took. */
static bool
sock_status_within(double limit, const char *name)
{
	int fd = registry_connect("sock-vm");
	double t0 = now_s(), dt;
	json_t *o = fd >= 0 && sock_send(fd, "{\"cmd\":\"status\"}\n")
			? sock_read(fd, NULL)
			: NULL;
	bool ok = o != NULL && is_ok(o);

	dt = now_s() - t0;
	if (dt >= limit)
		printf("# %s: answered after %.2f s\n", name, dt);
	CHECK(ok && dt < limit, name);
	json_decref(o);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Reads until the server hangs up; false if it is still there after 10 s. */
static bool
sock_hung_up(int fd)
{
	struct timeval tv = {.tv_sec = 10};
	char buf[65536];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/*
 * A client that asks for much and reads nothing must not hold the event
 * loop: another client is answered at once, and the slow one still gets
 * every reply (and the descriptor get-memfd passes) when it reads.
 */
static void
sock_slow_reader(void)
{
	int fd = registry_connect("sock-vm"), passed = -1, good = 0;
	json_t *o;

	CHECK(fd >= 0 && sock_flood(fd, SLOW_NREQ, 16384, true),
	      "slow reader: requests sent");
	usleep(200 * 1000); /* let the server fill the socket */
	sock_status_within(1.0, "slow reader: another client answered at once");
	sock_status_within(1.0, "slow reader: and again");
	/* A read may take the start of the get-memfd reply, and its fd. */
	for (int i = 0; i < SLOW_NREQ; i++) {
		o = sock_read(fd, &passed);
		if (o != NULL && is_ok(o) &&
		    json_string_length(json_object_get(o, "data")) == 32768)
			good++;
		json_decref(o);
	}
	CHECK(good == SLOW_NREQ, "slow reader: every queued reply arrives");
	o = sock_read(fd, &passed);
	CHECK(o != NULL && is_ok(o) && passed >= 0 &&
		  lseek(passed, 0, SEEK_END) == (off_t)(16 * MiB),
	      "slow reader: queued get-memfd still passes its descriptor");
	json_decref(o);
	if (passed >= 0)
		close(passed);
	o = sock_send(fd, "{\"cmd\":\"help\"}\n") ? sock_read(fd, NULL) : NULL;
	CHECK(o != NULL && is_ok(o), "slow reader: served again once drained");
	json_decref(o);
	close(fd);
}

/* Over the byte bound, or silent for too long: dropped, others served. */
static void
sock_greedy_reader(void)
{
	int big = registry_connect("sock-vm"),
	    mute = registry_connect("sock-vm");
	double t0;

	CHECK(big >= 0 && sock_flood(big, 1, 65536, false),
	      "greedy: a large reply requested");
	CHECK(mute >= 0 && sock_flood(mute, SLOW_NREQ, 16384, false),
	      "greedy: replies left unread");
	sock_status_within(1.0, "greedy: another client answered meanwhile");
	CHECK(sock_hung_up(big), "greedy: reply over the bound: dropped");
	/* Reading would let the replies flow: wait past the limit first. */
	t0 = now_s();
	usleep((SLOW_OUT_MS + 1000) * 1000);
	sock_status_within(1.0, "greedy: others served while one is mute");
	CHECK(sock_hung_up(mute) && now_s() - t0 < SLOW_OUT_MS / 1000.0 + 3,
	      "greedy: unread for too long: dropped");
	sock_status_within(1.0, "greedy: others still served");
	if (big >= 0)
		close(big);
	if (mute >= 0)
		close(mute);
}

static void
test_socket(void)
{
	char tmpl[] = "/tmp/beehive-control-XXXXXX", cmd[128], *big;
	int ready[2], fd, passed = -1, st;
	json_t *o, *o2;
	pid_t pid;

	if (mkdtemp(tmpl) == NULL || pipe(ready) != 0) {
		CHECK(0, "socket: setup");
		return;
	}
	set_config_value("rundir", tmpl);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		exit(sock_server(ready[1])); /* atexit releases the entry */
	}
	close(ready[1]);
	CHECK(read(ready[0], cmd, 1) == 1, "socket: server ready");
	close(ready[0]);
	fd = registry_connect("sock-vm");
	CHECK(fd >= 0, "socket: connected through the registry");
	if (fd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return;
	}
	/* Two requests in one write: two responses, in order. */
	CHECK(sock_send(fd, "{\"cmd\":\"status\",\"id\":1}\n{\"cmd\":\"bad\","
			    "\"id\":2}\n"),
	      "socket: pipelined send");
	o = sock_read(fd, NULL);
	o2 = sock_read(fd, NULL);
	CHECK(o != NULL && is_ok(o) &&
		  json_integer_value(json_object_get(o, "id")) == 1 &&
		  json_integer_value(json_object_get(o, "pid")) == pid,
	      "socket: status answered with the server's pid");
	CHECK(o2 != NULL && is_err(o2, "unknown command") &&
		  json_integer_value(json_object_get(o2, "id")) == 2,
	      "socket: second request answered");
	json_decref(o);
	json_decref(o2);
	sock_send(fd, "{\"cmd\":\"get-memfd\"}\n");
	o = sock_read(fd, &passed);
	CHECK(o != NULL && is_ok(o) && passed >= 0 &&
		  (fcntl(passed, F_GETFL) & O_ACCMODE) == O_RDONLY,
	      "socket: read-only memfd passed with SCM_RIGHTS");
	CHECK(passed >= 0 && lseek(passed, 0, SEEK_END) == (off_t)(16 * MiB),
	      "socket: memfd has the guest's size");
	json_decref(o);
	if (passed >= 0)
		close(passed);
	test_vm_open(tmpl);
	sock_other_uid(tmpl);
	sock_slow_reader();
	sock_greedy_reader();

	/* An endless line: one error, then the server hangs up. */
	big = malloc(CONTROL_REQ_MAX + 100);
	memset(big, 'x', CONTROL_REQ_MAX + 99);
	big[CONTROL_REQ_MAX + 99] = '\0';
	sock_send(fd, big);
	free(big);
	o = sock_read(fd, NULL);
	CHECK(o != NULL && is_err(o, "too long"),
	      "socket: endless line refused");
	json_decref(o);
	CHECK(sock_read(fd, NULL) == NULL, "socket: then hung up");
	close(fd);

	fd = registry_connect("sock-vm");
	sock_send(fd, "{\"cmd\":\"force-poweroff\"}\n");
	o = sock_read(fd, NULL);
	CHECK(o != NULL && is_ok(o), "socket: force-poweroff acknowledged");
	json_decref(o);
	close(fd);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  WEXITSTATUS(st) == 1,
	      "socket: server ended with status 1");
	snprintf(cmd, sizeof(cmd), "%s/sock-vm", tmpl);
	CHECK(access(cmd, F_OK) != 0, "socket: registry entry removed at exit");
	rmdir(tmpl);
}

int
main(void)
{
	struct vmctx *ctx;

	control_set_suspend_hook(record_suspend);
	test_no_vm();
	test_malformed();
	test_reg_names();
	ctx = vm_create_detached("ctl-test");
	if (ctx == NULL || vm_setup_memory(ctx, 64 * MiB) != 0) {
		printf("FAIL: control: detached context with memory\n");
		return 1;
	}
	control_init(ctx);
	test_status_memmap(ctx);
	test_read_mem(ctx);
	test_memfd(ctx);
	test_vcpu_args();
	test_actions();
	test_walk_4level(ctx);
	test_walk_pae(ctx);
	test_walk_32bit(ctx);
	test_walk_none(ctx);
	control_init(NULL);
	vm_destroy(ctx);
	test_socket();
	return test_done();
}
