/*
 * The control socket (see control.h and docs/control.md).
 *
 * Requests are parsed with jansson and answered one at a time on the main
 * thread.  Anything that touches a vCPU runs on that vCPU's own thread
 * while every vCPU is parked (bhyve_pause_vcpus + bhyve_vcpu_call): KVM
 * serializes a vCPU's ioctls with KVM_RUN, so calling them from here
 * would block until the guest happened to exit.
 *
 * The peer is root or the VM's owner; it is still treated as untrusted
 * input: every field is type-checked and every guest range goes through
 * vm_map_gpa().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include <jansson.h>

#include "control.h"
#include "mevent.h"
#include "pagewalk.h"
#include "peer.h"
#include "registry.h"
#include "vcpu_run.h"
#include "vmm_ctl.h"

#define CTL_MAX_CLIENTS 32
#define CTL_OUT_MAX	(4u << 20) /* unsent reply bytes per client */
#define CTL_OUT_TIMEOUT 60000	   /* ms a client may leave them unread */
#define CTL_MAX_STATS	512
#define CTL_ERR_MAX	256
#define CTL_FXSAVE_LEN	512

const struct control_reg control_regs[] = {
    {"rax", VM_REG_GUEST_RAX, CONTROL_REG_PLAIN},
    {"rbx", VM_REG_GUEST_RBX, CONTROL_REG_PLAIN},
    {"rcx", VM_REG_GUEST_RCX, CONTROL_REG_PLAIN},
    {"rdx", VM_REG_GUEST_RDX, CONTROL_REG_PLAIN},
    {"rsi", VM_REG_GUEST_RSI, CONTROL_REG_PLAIN},
    {"rdi", VM_REG_GUEST_RDI, CONTROL_REG_PLAIN},
    {"rbp", VM_REG_GUEST_RBP, CONTROL_REG_PLAIN},
    {"rsp", VM_REG_GUEST_RSP, CONTROL_REG_PLAIN},
    {"r8", VM_REG_GUEST_R8, CONTROL_REG_PLAIN},
    {"r9", VM_REG_GUEST_R9, CONTROL_REG_PLAIN},
    {"r10", VM_REG_GUEST_R10, CONTROL_REG_PLAIN},
    {"r11", VM_REG_GUEST_R11, CONTROL_REG_PLAIN},
    {"r12", VM_REG_GUEST_R12, CONTROL_REG_PLAIN},
    {"r13", VM_REG_GUEST_R13, CONTROL_REG_PLAIN},
    {"r14", VM_REG_GUEST_R14, CONTROL_REG_PLAIN},
    {"r15", VM_REG_GUEST_R15, CONTROL_REG_PLAIN},
    {"rip", VM_REG_GUEST_RIP, CONTROL_REG_PLAIN},
    {"rflags", VM_REG_GUEST_RFLAGS, CONTROL_REG_PLAIN},
    {"cr0", VM_REG_GUEST_CR0, CONTROL_REG_PLAIN},
    {"cr2", VM_REG_GUEST_CR2, CONTROL_REG_PLAIN},
    {"cr3", VM_REG_GUEST_CR3, CONTROL_REG_PLAIN},
    {"cr4", VM_REG_GUEST_CR4, CONTROL_REG_PLAIN},
    {"cr8", VM_REG_GUEST_CR8, CONTROL_REG_PLAIN},
    {"dr0", VM_REG_GUEST_DR0, CONTROL_REG_PLAIN},
    {"dr1", VM_REG_GUEST_DR1, CONTROL_REG_PLAIN},
    {"dr2", VM_REG_GUEST_DR2, CONTROL_REG_PLAIN},
    {"dr3", VM_REG_GUEST_DR3, CONTROL_REG_PLAIN},
    {"dr6", VM_REG_GUEST_DR6, CONTROL_REG_PLAIN},
    {"dr7", VM_REG_GUEST_DR7, CONTROL_REG_PLAIN},
    {"efer", VM_REG_GUEST_EFER, CONTROL_REG_PLAIN},
    {"cs", VM_REG_GUEST_CS, CONTROL_REG_SEGMENT},
    {"ds", VM_REG_GUEST_DS, CONTROL_REG_SEGMENT},
    {"es", VM_REG_GUEST_ES, CONTROL_REG_SEGMENT},
    {"fs", VM_REG_GUEST_FS, CONTROL_REG_SEGMENT},
    {"gs", VM_REG_GUEST_GS, CONTROL_REG_SEGMENT},
    {"ss", VM_REG_GUEST_SS, CONTROL_REG_SEGMENT},
    {"tr", VM_REG_GUEST_TR, CONTROL_REG_SEGMENT},
    {"ldtr", VM_REG_GUEST_LDTR, CONTROL_REG_SEGMENT},
    {"gdtr", VM_REG_GUEST_GDTR, CONTROL_REG_TABLE},
    {"idtr", VM_REG_GUEST_IDTR, CONTROL_REG_TABLE},
};
const int control_nregs = sizeof(control_regs) / sizeof(control_regs[0]);

#define CTL_NREGS (sizeof(control_regs) / sizeof(control_regs[0]))

const struct control_reg *
control_reg_lookup(const char *name)
{
	for (int i = 0; i < control_nregs; i++) {
		if (strcmp(control_regs[i].name, name) == 0)
			return &control_regs[i];
	}
	return NULL;
}

/* One reply (with its newline) that the client has yet to read. */
struct ctl_out {
	struct ctl_out *next;
	int fd; /* to pass with the first byte, or -1 */
	size_t len, off;
	char text[];
};

struct ctl_client {
	int fd;
	struct mevent
	    *ev; /* EVF_READ, or EVF_WRITE while replies are pending */
	enum ev_type ev_type;
	struct mevent *stall; /* fires if replies stay pending too long */
	struct ctl_out *out, **out_tail;
	size_t out_bytes; /* unsent bytes in out */
	bool hangup;	  /* close once out is sent */
	struct control_session session;
	size_t len;
	char buf[CONTROL_REQ_MAX + 1];
	struct ctl_client *next;
};

static struct {
	struct vmctx *ctx;
	void (*suspend)(enum vm_suspend_how how);
	int listenfd;
	struct mevent *listen_ev;
	struct ctl_client *clients;
	int nclients;
	struct timespec started;
	size_t out_max;
	unsigned out_timeout_ms;
} ctl = {.suspend = bhyve_request_suspend,
	 .listenfd = -1,
	 .out_max = CTL_OUT_MAX,
	 .out_timeout_ms = CTL_OUT_TIMEOUT};

/* One request being answered. */
struct ctl_req {
	struct control_session *s;
	json_t *req;
	json_t *resp;
	int fd; /* to send with the response, or -1 */
	char err[CTL_ERR_MAX];
};

static int __attribute__((format(printf, 2, 3)))
ctl_fail(struct ctl_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int
ctl_set(struct ctl_req *r, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(r->resp, key, v) != 0)
		return ctl_fail(r, "out of memory");
	return 0;
}

/* A number: a non-negative JSON integer or a string strtoull accepts. */
static int
ctl_parse_u64(json_t *v, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (s[0] < '0' || s[0] > '9' || json_string_length(v) > 24)
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

static int
ctl_arg_u64(struct ctl_req *r, const char *key, uint64_t *out, bool required)
{
	json_t *v = json_object_get(r->req, key);

	if (v == NULL) {
		if (required)
			return ctl_fail(r, "missing argument '%s'", key);
		return 0;
	}
	if (ctl_parse_u64(v, out) != 0)
		return ctl_fail(r,
				"argument '%s' must be a non-negative "
				"number or a number string",
				key);
	return 0;
}

static int
ctl_need_vm(struct ctl_req *r)
{
	if (ctl.ctx == NULL)
		return ctl_fail(r, "no VM attached to this control socket");
	return 0;
}

/* "vcpu" (default 0) names an existing vCPU. */
static int
ctl_arg_vcpu(struct ctl_req *r, int *id)
{
	uint64_t v = 0;

	if (ctl_arg_u64(r, "vcpu", &v, false) != 0)
		return -1;
	if (v >= VM_MAXCPU || bhyve_vcpu((int)v) == NULL)
		return ctl_fail(r, "no vCPU %" PRIu64 " (the VM has %d)", v,
				bhyve_ncpus());
	*id = (int)v;
	return 0;
}

/* Runs fn on vCPU id's thread with every vCPU parked. */
static int
ctl_on_vcpu(struct ctl_req *r, int id, int (*fn)(struct vcpu *, void *),
	    void *arg)
{
	int rc;

	bhyve_pause_vcpus();
	rc = bhyve_vcpu_call(id, fn, arg);
	bhyve_resume_vcpus();
	if (rc != 0)
		return ctl_fail(
		    r, "vCPU %d: operation failed%s", id,
		    bhyve_vcpus_paused() ? "" : " (is the VM stopping?)");
	return 0;
}

/* ---- status ---- */

static int
cmd_status(struct ctl_req *r)
{
	struct timespec now;
	uint64_t low, high;

	if (ctl_need_vm(r) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	low = vm_get_lowmem_size(ctl.ctx);
	high = vm_get_highmem_size(ctl.ctx);
	if (ctl_set(r, "name", json_string(vm_get_name(ctl.ctx))) != 0 ||
	    ctl_set(r, "version", json_integer(CONTROL_PROTO_VERSION)) != 0 ||
	    ctl_set(r, "pid", json_integer(getpid())) != 0 ||
	    ctl_set(r, "uid", json_integer(getuid())) != 0 ||
	    ctl_set(r, "cpus", json_integer(bhyve_ncpus())) != 0 ||
	    ctl_set(r, "memory", vm_ctl_json_hex(low + high)) != 0 ||
	    ctl_set(r, "lowmem", vm_ctl_json_hex(low)) != 0 ||
	    ctl_set(r, "highmem", vm_ctl_json_hex(high)) != 0 ||
	    ctl_set(r, "uptime_s",
		    json_integer(now.tv_sec - ctl.started.tv_sec)) != 0 ||
	    ctl_set(r, "paused",
		    json_boolean(r->s != NULL && r->s->pauses > 0)) != 0)
		return -1;
	return 0;
}

/* ---- vCPU list ---- */

static int
job_run_state(struct vcpu *vcpu, void *arg)
{
	return vm_get_run_state(vcpu, arg);
}

static const char *
ctl_mp_state_name(uint32_t mp)
{
	switch (mp) {
	case KVM_MP_STATE_RUNNABLE:
		return "runnable";
	case KVM_MP_STATE_UNINITIALIZED:
		return "uninitialized";
	case KVM_MP_STATE_INIT_RECEIVED:
		return "wait-for-sipi";
	case KVM_MP_STATE_HALTED:
		return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED:
		return "sipi-received";
	default:
		return "other";
	}
}

static int
cmd_vcpus(struct ctl_req *r)
{
	json_t *list = json_array(), *active = json_array();
	uint32_t mp;

	if (ctl_set(r, "vcpus", list) != 0 || ctl_set(r, "active", active) != 0)
		return -1;
	for (int i = 0; i < bhyve_ncpus(); i++) {
		const char *state = "unknown";

		if (bhyve_vcpu(i) == NULL)
			continue;
		bhyve_pause_vcpus();
		if (bhyve_vcpu_call(i, job_run_state, &mp) == 0)
			state = ctl_mp_state_name(mp);
		bhyve_resume_vcpus();
		json_array_append_new(
		    list, json_pack("{s:i, s:s}", "id", i, "state", state));
		/* bhyve's notion: started and not parked waiting for SIPI. */
		if (strcmp(state, "uninitialized") != 0 &&
		    strcmp(state, "wait-for-sipi") != 0)
			json_array_append_new(active, json_integer(i));
	}
	return 0;
}

/* ---- registers ---- */

#define SET_VALUE  0x1
#define SET_BASE   0x2
#define SET_LIMIT  0x4
#define SET_ACCESS 0x8

struct reg_item {
	const struct control_reg *cr;
	uint64_t value; /* a plain register, or a segment's selector */
	uint64_t base;
	uint32_t limit, access;
	unsigned set;
};

struct reg_job {
	struct reg_item items[CTL_NREGS];
	int n;
	bool write;
	const char *failed; /* the register that failed */
};

static int
reg_item_get(struct vcpu *vcpu, struct reg_item *it)
{
	switch (it->cr->kind) {
	case CONTROL_REG_PLAIN:
		return vm_get_register(vcpu, it->cr->reg, &it->value);
	case CONTROL_REG_SEGMENT:
		if (vm_get_register(vcpu, it->cr->reg, &it->value) != 0)
			return -1;
		/* FALLTHROUGH */
	case CONTROL_REG_TABLE:
		return vm_get_desc(vcpu, it->cr->reg, &it->base, &it->limit,
				   &it->access);
	}
	return -1;
}

/* Read-modify-write, so that a request may change one field only. */
static int
reg_item_put(struct vcpu *vcpu, struct reg_item *it)
{
	struct reg_item cur = {.cr = it->cr};

	if (it->cr->kind == CONTROL_REG_PLAIN)
		return vm_set_register(vcpu, it->cr->reg, it->value);
	if (reg_item_get(vcpu, &cur) != 0)
		return -1;
	if (it->set & SET_BASE)
		cur.base = it->base;
	if (it->set & SET_LIMIT)
		cur.limit = it->limit;
	if (it->set & SET_ACCESS)
		cur.access = it->access;
	if ((it->set & (SET_BASE | SET_LIMIT | SET_ACCESS)) &&
	    vm_set_desc(vcpu, it->cr->reg, cur.base, cur.limit, cur.access) !=
		0)
		return -1;
	if ((it->set & SET_VALUE) &&
	    vm_set_register(vcpu, it->cr->reg, it->value) != 0)
		return -1;
	return reg_item_get(vcpu, it);
}

static int
job_regs(struct vcpu *vcpu, void *arg)
{
	struct reg_job *job = arg;

	for (int i = 0; i < job->n; i++) {
		struct reg_item *it = &job->items[i];

		if ((job->write ? reg_item_put(vcpu, it)
				: reg_item_get(vcpu, it)) != 0) {
			job->failed = it->cr->name;
			return -1;
		}
	}
	return 0;
}

static json_t *
reg_item_json(const struct reg_item *it)
{
	switch (it->cr->kind) {
	case CONTROL_REG_PLAIN:
		return vm_ctl_json_hex(it->value);
	case CONTROL_REG_SEGMENT:
		return json_pack("{s:o, s:o, s:o, s:o}", "sel",
				 vm_ctl_json_hex(it->value), "base",
				 vm_ctl_json_hex(it->base), "limit",
				 vm_ctl_json_hex(it->limit), "access",
				 vm_ctl_json_hex(it->access));
	case CONTROL_REG_TABLE:
		return json_pack("{s:o, s:o}", "base",
				 vm_ctl_json_hex(it->base), "limit",
				 vm_ctl_json_hex(it->limit));
	}
	return NULL;
}

static int
reg_job_run(struct ctl_req *r, int id, struct reg_job *job)
{
	json_t *regs;

	if (ctl_on_vcpu(r, id, job_regs, job) != 0) {
		if (job->failed != NULL)
			return ctl_fail(r, "vCPU %d: cannot %s register %s", id,
					job->write ? "set" : "read",
					job->failed);
		return -1;
	}
	regs = json_object();
	if (ctl_set(r, "vcpu", json_integer(id)) != 0 ||
	    ctl_set(r, "regs", regs) != 0)
		return -1;
	for (int i = 0; i < job->n; i++)
		json_object_set_new(regs, job->items[i].cr->name,
				    reg_item_json(&job->items[i]));
	return 0;
}

static int
reg_job_add(struct ctl_req *r, struct reg_job *job, const char *name,
	    const struct control_reg **crp)
{
	const struct control_reg *cr = control_reg_lookup(name);

	if (cr == NULL)
		return ctl_fail(r, "unknown register '%.64s'", name);
	for (int i = 0; i < job->n; i++) {
		if (job->items[i].cr == cr)
			return ctl_fail(r, "register '%s' given twice", name);
	}
	job->items[job->n] = (struct reg_item){.cr = cr};
	*crp = cr;
	job->n++;
	return 0;
}

static int
cmd_get_regs(struct ctl_req *r)
{
	struct reg_job job = {.write = false};
	json_t *names = json_object_get(r->req, "regs"), *v;
	const struct control_reg *cr;
	size_t i;
	int id;

	if (ctl_need_vm(r) != 0 || ctl_arg_vcpu(r, &id) != 0)
		return -1;
	if (names == NULL) {
		for (int k = 0; k < control_nregs; k++)
			job.items[job.n++] =
			    (struct reg_item){.cr = &control_regs[k]};
		return reg_job_run(r, id, &job);
	}
	if (!json_is_array(names) || json_array_size(names) > CTL_NREGS)
		return ctl_fail(r,
				"'regs' must be an array of at most %zu "
				"register names",
				CTL_NREGS);
	json_array_foreach(names, i, v)
	{
		if (!json_is_string(v))
			return ctl_fail(r, "'regs' must hold register names");
		if (reg_job_add(r, &job, json_string_value(v), &cr) != 0)
			return -1;
	}
	return reg_job_run(r, id, &job);
}

static int
reg_field_u32(struct ctl_req *r, json_t *obj, const char *reg, const char *key,
	      uint32_t *out, unsigned bit, unsigned *set)
{
	json_t *v = json_object_get(obj, key);
	uint64_t x;

	if (v == NULL)
		return 0;
	if (ctl_parse_u64(v, &x) != 0 || x > UINT32_MAX)
		return ctl_fail(r, "%s.%s must be a 32-bit number", reg, key);
	*out = (uint32_t)x;
	*set |= bit;
	return 0;
}

/* A segment or table register's new value: an object of fields. */
static int
reg_parse_fields(struct ctl_req *r, struct reg_item *it, json_t *v)
{
	const char *name = it->cr->name;
	json_t *f;

	if (!json_is_object(v))
		return ctl_fail(r,
				"%s takes an object {sel, base, limit, "
				"access}",
				name);
	if ((f = json_object_get(v, "sel")) != NULL) {
		if (it->cr->kind != CONTROL_REG_SEGMENT ||
		    ctl_parse_u64(f, &it->value) != 0 || it->value > 0xffff)
			return ctl_fail(r, "%s.sel must be a 16-bit selector",
					name);
		it->set |= SET_VALUE;
	}
	if ((f = json_object_get(v, "base")) != NULL) {
		if (ctl_parse_u64(f, &it->base) != 0)
			return ctl_fail(r, "%s.base must be a number", name);
		it->set |= SET_BASE;
	}
	if (reg_field_u32(r, v, name, "limit", &it->limit, SET_LIMIT,
			  &it->set) != 0)
		return -1;
	if (it->cr->kind == CONTROL_REG_SEGMENT &&
	    reg_field_u32(r, v, name, "access", &it->access, SET_ACCESS,
			  &it->set) != 0)
		return -1;
	if (it->set == 0)
		return ctl_fail(r, "%s: nothing to set", name);
	return 0;
}

static int
cmd_set_regs(struct ctl_req *r)
{
	struct reg_job job = {.write = true};
	json_t *regs = json_object_get(r->req, "regs"), *v;
	const struct control_reg *cr;
	const char *name;
	int id;

	if (ctl_need_vm(r) != 0 || ctl_arg_vcpu(r, &id) != 0)
		return -1;
	if (!json_is_object(regs) || json_object_size(regs) == 0 ||
	    json_object_size(regs) > CTL_NREGS)
		return ctl_fail(r, "'regs' must be an object of register "
				   "values");
	json_object_foreach(regs, name, v)
	{
		struct reg_item *it;

		if (reg_job_add(r, &job, name, &cr) != 0)
			return -1;
		it = &job.items[job.n - 1];
		if (cr->kind != CONTROL_REG_PLAIN) {
			if (reg_parse_fields(r, it, v) != 0)
				return -1;
		} else if (ctl_parse_u64(v, &it->value) != 0) {
			return ctl_fail(r, "value of %s must be a number",
					name);
		} else {
			it->set = SET_VALUE;
		}
	}
	return reg_job_run(r, id, &job);
}

/* ---- FPU ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4 base64, padded. */
static char *
ctl_base64(const uint8_t *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static char *
ctl_hexstr(const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = malloc(len * 2 + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

static int
ctl_set_bytes(struct ctl_req *r, const uint8_t *p, size_t len, bool b64)
{
	char *s = b64 ? ctl_base64(p, len) : ctl_hexstr(p, len);
	int rc;

	if (s == NULL)
		return ctl_fail(r, "out of memory");
	rc = ctl_set(r, "data", json_string(s));
	free(s);
	return rc;
}

static int
ctl_arg_encoding(struct ctl_req *r, bool *b64)
{
	json_t *v = json_object_get(r->req, "encoding");

	*b64 = false;
	if (v == NULL)
		return 0;
	if (json_is_string(v) && strcmp(json_string_value(v), "hex") == 0)
		return 0;
	if (json_is_string(v) && strcmp(json_string_value(v), "base64") == 0) {
		*b64 = true;
		return 0;
	}
	return ctl_fail(r, "'encoding' must be \"hex\" or \"base64\"");
}

struct fpu_job {
	uint8_t fxsave[CTL_FXSAVE_LEN];
};

static int
job_get_fpu(struct vcpu *vcpu, void *arg)
{
	struct fpu_job *job = arg;

	return vm_get_fpu(vcpu, job->fxsave, sizeof(job->fxsave));
}

static int
cmd_get_fpu(struct ctl_req *r)
{
	struct fpu_job job;
	bool b64;
	int id;

	if (ctl_need_vm(r) != 0 || ctl_arg_vcpu(r, &id) != 0 ||
	    ctl_arg_encoding(r, &b64) != 0 ||
	    ctl_on_vcpu(r, id, job_get_fpu, &job) != 0)
		return -1;
	return ctl_set_bytes(r, job.fxsave, sizeof(job.fxsave), b64);
}

/* ---- memory ---- */

static json_t *
ctl_memmap_json(void)
{
	struct vm_memseg_info segs[4];
	int n = vm_get_memmap(ctl.ctx, segs, 4);
	json_t *list = json_array();

	for (int i = 0; i < n && list != NULL; i++)
		json_array_append_new(
		    list, json_pack("{s:o, s:o, s:o}", "gpa",
				    vm_ctl_json_hex(segs[i].gpa), "len",
				    vm_ctl_json_hex(segs[i].len), "fd_offset",
				    vm_ctl_json_hex(segs[i].fd_offset)));
	return list;
}

static int
cmd_memmap(struct ctl_req *r)
{
	if (ctl_need_vm(r) != 0)
		return -1;
	if (ctl_set(r, "lowmem",
		    vm_ctl_json_hex(vm_get_lowmem_size(ctl.ctx))) != 0 ||
	    ctl_set(r, "highmem",
		    vm_ctl_json_hex(vm_get_highmem_size(ctl.ctx))) != 0 ||
	    ctl_set(r, "lowmem_limit",
		    vm_ctl_json_hex(vm_get_lowmem_limit(ctl.ctx))) != 0 ||
	    ctl_set(r, "ranges", ctl_memmap_json()) != 0)
		return -1;
	return 0;
}

static int
cmd_read_mem(struct ctl_req *r)
{
	uint64_t gpa = 0, len = 0;
	const uint8_t *p;
	bool b64;

	if (ctl_need_vm(r) != 0 || ctl_arg_u64(r, "gpa", &gpa, true) != 0 ||
	    ctl_arg_u64(r, "len", &len, true) != 0 ||
	    ctl_arg_encoding(r, &b64) != 0)
		return -1;
	if (len == 0 || len > CONTROL_READ_MAX)
		return ctl_fail(r, "'len' must be 1 to %d bytes",
				CONTROL_READ_MAX);
	p = vm_map_gpa(ctl.ctx, gpa, (size_t)len);
	if (p == NULL)
		return ctl_fail(
		    r, "0x%" PRIx64 "+0x%" PRIx64 " is not inside guest RAM",
		    gpa, len);
	if (ctl_set(r, "gpa", vm_ctl_json_hex(gpa)) != 0 ||
	    ctl_set(r, "len", json_integer((json_int_t)len)) != 0)
		return -1;
	return ctl_set_bytes(r, p, (size_t)len, b64);
}

/*
 * A read-only descriptor of guest RAM (illumos' vmm segment driver does
 * the same for mdb).  Opening /proc/self/fd/N makes a new open file
 * description with O_RDONLY: the receiver can neither write() nor map it
 * writable.  The peer is root or the owner, who could ptrace bhyve anyway:
 * read-only guards against mistakes, not against them.
 */
static int
cmd_get_memfd(struct ctl_req *r)
{
	char path[64];
	int memfd;

	if (ctl_need_vm(r) != 0)
		return -1;
	memfd = vm_get_memfd(ctl.ctx);
	if (memfd < 0)
		return ctl_fail(r, "the VM has no guest memory");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return ctl_fail(r, "cannot reopen guest memory read-only: %s",
				strerror(errno));
	if (ctl_set(r, "size",
		    vm_ctl_json_hex(vm_get_lowmem_size(ctl.ctx) +
				    vm_get_highmem_size(ctl.ctx))) != 0 ||
	    ctl_set(r, "ranges", ctl_memmap_json()) != 0)
		return -1;
	return 0;
}

/* ---- translation ---- */

struct walk_job {
	struct pagewalk_cpu cpu;
};

static int
job_paging_regs(struct vcpu *vcpu, void *arg)
{
	struct walk_job *job = arg;

	if (vm_get_register(vcpu, VM_REG_GUEST_CR0, &job->cpu.cr0) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_CR3, &job->cpu.cr3) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_CR4, &job->cpu.cr4) != 0 ||
	    vm_get_register(vcpu, VM_REG_GUEST_EFER, &job->cpu.efer) != 0)
		return -1;
	return 0;
}

static int
cmd_gla2gpa(struct ctl_req *r)
{
	struct walk_job job;
	uint64_t gla = 0, gpa, size;
	char why[160];
	int id;

	if (ctl_need_vm(r) != 0 || ctl_arg_vcpu(r, &id) != 0 ||
	    ctl_arg_u64(r, "gla", &gla, true) != 0 ||
	    ctl_on_vcpu(r, id, job_paging_regs, &job) != 0)
		return -1;
	switch (pagewalk_gla2gpa(ctl.ctx, &job.cpu, gla, &gpa, &size, why,
				 sizeof(why))) {
	case PAGEWALK_OK:
		break;
	case PAGEWALK_FAULT:
		return ctl_fail(r, "0x%" PRIx64 " is not mapped: %s", gla, why);
	default:
		return ctl_fail(r, "cannot translate 0x%" PRIx64 ": %s", gla,
				why);
	}
	if (ctl_set(r, "gla", vm_ctl_json_hex(gla)) != 0 ||
	    ctl_set(r, "gpa", vm_ctl_json_hex(gpa)) != 0 ||
	    ctl_set(r, "pagesize", vm_ctl_json_hex(size)) != 0 ||
	    ctl_set(r, "mode", json_string(pagewalk_mode_name(&job.cpu))) != 0)
		return -1;
	return 0;
}

/* ---- statistics ---- */

static json_t *
ctl_vcpu_stats(int id)
{
	struct vm_stat *st = calloc(CTL_MAX_STATS, sizeof(*st));
	json_t *o;
	int n;

	if (st == NULL)
		return NULL;
	n = vm_get_stats(bhyve_vcpu(id), st, CTL_MAX_STATS);
	o = n >= 0 ? json_object() : NULL;
	for (int i = 0; i < n && o != NULL; i++)
		json_object_set_new(o, st[i].name,
				    st[i].value <= INT64_MAX
					? json_integer((json_int_t)st[i].value)
					: vm_ctl_json_hex(st[i].value));
	free(st);
	return o;
}

/* KVM's binary stats file descriptor needs no vCPU pause. */
static int
cmd_stats(struct ctl_req *r)
{
	json_t *list = json_array();
	int first = 0, last = bhyve_ncpus() - 1;

	if (ctl_need_vm(r) != 0 || ctl_set(r, "stats", list) != 0)
		return -1;
	if (json_object_get(r->req, "vcpu") != NULL) {
		if (ctl_arg_vcpu(r, &first) != 0)
			return -1;
		last = first;
	}
	for (int i = first; i <= last; i++) {
		json_t *o = ctl_vcpu_stats(i);

		if (o == NULL)
			return ctl_fail(r,
					"vCPU %d: KVM statistics "
					"unavailable: %s",
					i, strerror(errno));
		json_array_append_new(
		    list, json_pack("{s:i, s:o}", "vcpu", i, "values", o));
	}
	return 0;
}

/* ---- actions ---- */

static int
job_nmi(struct vcpu *vcpu, void *arg)
{
	return vm_inject_nmi(vcpu);
}

static int
cmd_inject_nmi(struct ctl_req *r)
{
	int id;

	if (ctl_need_vm(r) != 0 || ctl_arg_vcpu(r, &id) != 0)
		return -1;
	return ctl_on_vcpu(r, id, job_nmi, NULL);
}

static int
ctl_suspend(struct ctl_req *r, enum vm_suspend_how how, const char *what)
{
	if (ctl_need_vm(r) != 0)
		return -1;
	fprintf(stderr, "bhyve: %s requested on the control socket\n", what);
	ctl.suspend(how);
	return 0;
}

static int
cmd_force_reset(struct ctl_req *r)
{
	return ctl_suspend(r, VM_SUSPEND_RESET, "reset");
}

static int
cmd_force_poweroff(struct ctl_req *r)
{
	return ctl_suspend(r, VM_SUSPEND_POWEROFF, "poweroff");
}

/* As when FreeBSD destroys a VM under bhyve: it ends with status 4. */
static int
cmd_destroy(struct ctl_req *r)
{
	return ctl_suspend(r, VM_SUSPEND_LAST, "destroy");
}

static int
cmd_pause(struct ctl_req *r)
{
	if (ctl_need_vm(r) != 0)
		return -1;
	if (r->s == NULL)
		return ctl_fail(r, "pause needs a connection");
	if (r->s->pauses >= CONTROL_PAUSE_MAX)
		return ctl_fail(r, "at most %d nested pauses",
				CONTROL_PAUSE_MAX);
	bhyve_pause_vcpus();
	r->s->pauses++;
	return ctl_set(r, "pauses", json_integer(r->s->pauses));
}

static int
cmd_resume(struct ctl_req *r)
{
	if (r->s == NULL || r->s->pauses == 0)
		return ctl_fail(r, "this connection holds no pause");
	bhyve_resume_vcpus();
	r->s->pauses--;
	return ctl_set(r, "pauses", json_integer(r->s->pauses));
}

static int cmd_help(struct ctl_req *r);

static const struct {
	const char *name;
	int (*fn)(struct ctl_req *r);
} ctl_cmds[] = {
    {"status", cmd_status},
    {"info", cmd_status},
    {"vcpus", cmd_vcpus},
    {"get-regs", cmd_get_regs},
    {"set-regs", cmd_set_regs},
    {"get-fpu", cmd_get_fpu},
    {"memmap", cmd_memmap},
    {"read-mem", cmd_read_mem},
    {"get-memfd", cmd_get_memfd},
    {"gla2gpa", cmd_gla2gpa},
    {"stats", cmd_stats},
    {"inject-nmi", cmd_inject_nmi},
    {"force-reset", cmd_force_reset},
    {"force-poweroff", cmd_force_poweroff},
    {"destroy", cmd_destroy},
    {"pause", cmd_pause},
    {"resume", cmd_resume},
    {"help", cmd_help},
};

static int
cmd_help(struct ctl_req *r)
{
	json_t *list = json_array();

	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		json_array_append_new(list, json_string(ctl_cmds[i].name));
	return ctl_set(r, "commands", list);
}

static int
ctl_dispatch(struct ctl_req *r, const char *req, size_t len)
{
	json_error_t jerr;
	json_t *cmd;

	if (len > CONTROL_REQ_MAX)
		return ctl_fail(r, "request longer than %d bytes",
				CONTROL_REQ_MAX);
	r->req = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
	if (r->req == NULL)
		return ctl_fail(r, "malformed JSON: %s", jerr.text);
	if (!json_is_object(r->req))
		return ctl_fail(r, "a request must be a JSON object");
	json_object_set(r->resp, "id", json_object_get(r->req, "id"));
	cmd = json_object_get(r->req, "cmd");
	if (!json_is_string(cmd))
		return ctl_fail(r, "missing \"cmd\" string");
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(ctl_cmds[i].name, json_string_value(cmd)) == 0)
			return ctl_cmds[i].fn(r);
	}
	return ctl_fail(r, "unknown command '%.64s'", json_string_value(cmd));
}

char *
control_handle(struct control_session *s, const char *req, size_t len, int *fdp)
{
	struct ctl_req r = {.s = s, .fd = -1};
	json_t *err;
	char *text;
	int rc;

	*fdp = -1;
	r.resp = json_object();
	if (r.resp == NULL)
		return NULL;
	rc = ctl_dispatch(&r, req, len);
	if (rc != 0) {
		/* A failed command returns nothing but the error. */
		json_t *id = json_incref(json_object_get(r.resp, "id"));

		json_object_clear(r.resp);
		if (id != NULL)
			json_object_set_new(r.resp, "id", id);
		err = json_string(r.err);
		json_object_set_new(r.resp, "error", err);
		if (r.fd >= 0)
			close(r.fd);
		r.fd = -1;
	}
	json_object_set_new(r.resp, "ok", json_boolean(rc == 0));
	text = json_dumps(r.resp, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r.resp);
	json_decref(r.req);
	if (text == NULL && r.fd >= 0)
		close(r.fd);
	else
		*fdp = r.fd;
	return text;
}

void
control_session_end(struct control_session *s)
{
	for (; s->pauses > 0; s->pauses--)
		bhyve_resume_vcpus();
}

void
control_init(struct vmctx *ctx)
{
	ctl.ctx = ctx;
	clock_gettime(CLOCK_MONOTONIC, &ctl.started);
}

void
control_set_suspend_hook(void (*fn)(enum vm_suspend_how how))
{
	ctl.suspend = fn != NULL ? fn : bhyve_request_suspend;
}

void
control_set_output_limits(size_t max_bytes, unsigned timeout_ms)
{
	ctl.out_max = max_bytes != 0 ? max_bytes : CTL_OUT_MAX;
	ctl.out_timeout_ms = timeout_ms != 0 ? timeout_ms : CTL_OUT_TIMEOUT;
}

/* ---- the socket ---- */

/*
 * The server never waits for a client: sockets are non-blocking, replies
 * go into a per-client queue, and a client that does not read is watched
 * for EVF_WRITE instead of being polled.  While its replies are pending
 * its further requests are not answered (back-pressure), so one client
 * holds at most one reply here; the byte bound guards against a command
 * with a huge reply, the time bound against a client that stops reading.
 */

/* Sends what the socket takes now (the fd rides on the first byte):
 * the bytes sent, 0 if it would block, -1 if the peer is gone. */
static ssize_t
ctl_send_some(int sock, const char *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.space;
		msg.msg_controllen = sizeof(cm.space);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n > 0 ? n : -1;
}

/* Queues a reply and its newline; takes text and fd.  false: no memory. */
static bool
ctl_queue(struct ctl_client *c, char *text, int fd)
{
	size_t len = text != NULL ? strlen(text) : 0;
	struct ctl_out *o = text != NULL ? malloc(sizeof(*o) + len + 1) : NULL;

	if (o == NULL) {
		if (fd >= 0)
			close(fd);
		free(text);
		return false;
	}
	memcpy(o->text, text, len);
	o->text[len] = '\n';
	o->len = len + 1;
	o->off = 0;
	o->fd = fd;
	o->next = NULL;
	free(text);
	*c->out_tail = o;
	c->out_tail = &o->next;
	c->out_bytes += o->len;
	return true;
}

static void
ctl_out_pop(struct ctl_client *c)
{
	struct ctl_out *o = c->out;

	c->out = o->next;
	if (c->out == NULL)
		c->out_tail = &c->out;
	c->out_bytes -= o->len - o->off;
	if (o->fd >= 0)
		close(o->fd);
	free(o);
}

/* Sends queued replies until the socket is full; -1 if the peer is gone. */
static int
ctl_flush(struct ctl_client *c)
{
	while (c->out != NULL) {
		struct ctl_out *o = c->out;
		ssize_t n = ctl_send_some(c->fd, o->text + o->off,
					  o->len - o->off, o->fd);

		if (n <= 0)
			return (int)n;
		if (o->fd >= 0) {
			/* It went with the first byte: ours is a copy. */
			close(o->fd);
			o->fd = -1;
		}
		o->off += (size_t)n;
		c->out_bytes -= (size_t)n;
		if (o->off == o->len)
			ctl_out_pop(c);
	}
	return 0;
}

static void
ctl_client_close(struct ctl_client *c)
{
	struct ctl_client **pp;

	for (pp = &ctl.clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	control_session_end(&c->session);
	while (c->out != NULL)
		ctl_out_pop(c);
	if (c->stall != NULL)
		mevent_delete(c->stall);
	if (c->ev != NULL)
		mevent_delete_close(c->ev); /* closes c->fd after the batch */
	else
		close(c->fd);
	ctl.nclients--;
	free(c);
}

static char *
ctl_error_text(const char *msg)
{
	json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	char *t =
	    o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return t;
}

/* Answers the first buffered request: 1 if one was, 0 if none is
 * complete, -1 to drop the client. */
static int
ctl_client_answer(struct ctl_client *c)
{
	char *nl = memchr(c->buf, '\n', c->len), *text;
	size_t n;
	int fd;

	if (nl == NULL) {
		if (c->len <= CONTROL_REQ_MAX)
			return 0;
		/* No way to find the next request boundary: hang up once
		 * the error has been sent. */
		c->hangup = true;
		return ctl_queue(c, ctl_error_text("request too long"), -1)
			   ? 1
			   : -1;
	}
	n = (size_t)(nl - c->buf);
	text = control_handle(&c->session, c->buf, n, &fd);
	if (!ctl_queue(c, text, fd))
		return -1;
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return 1;
}

static void ctl_client_io(int fd, enum ev_type type, void *arg);

/* Waits for one kind of readiness: requests, or room for replies.  The
 * two never overlap, and epoll takes one registration per descriptor. */
static int
ctl_client_watch(struct ctl_client *c, enum ev_type type)
{
	if (c->ev != NULL && c->ev_type == type)
		return 0;
	if (c->ev != NULL)
		mevent_delete(c->ev);
	c->ev = mevent_add(c->fd, type, ctl_client_io, c);
	c->ev_type = type;
	return c->ev != NULL ? 0 : -1;
}

static void
ctl_client_stalled(int fd, enum ev_type type, void *arg)
{
	struct ctl_client *c = arg;

	c->stall = NULL; /* a one-shot timer: mevent deletes it */
	fprintf(stderr,
		"bhyve: control socket: dropping a client that left its "
		"replies unread for %u ms\n",
		ctl.out_timeout_ms);
	ctl_client_close(c);
}

/* Replies are pending: wait for room, and for no longer than the limit. */
static int
ctl_client_pending(struct ctl_client *c)
{
	if (c->stall == NULL) {
		c->stall = mevent_add_timer_ns((uint64_t)ctl.out_timeout_ms *
						   1000000ULL,
					       0, ctl_client_stalled, c);
		if (c->stall == NULL)
			return -1;
	}
	return ctl_client_watch(c, EVF_WRITE);
}

/* Everything is sent: read requests again. */
static int
ctl_client_idle(struct ctl_client *c)
{
	if (c->stall != NULL)
		mevent_delete(c->stall);
	c->stall = NULL;
	return ctl_client_watch(c, EVF_READ);
}

/* Answers buffered requests while no reply is pending, then waits for
 * what comes next.  false: drop the client. */
static bool
ctl_client_run(struct ctl_client *c)
{
	int rc = 0;

	if (ctl_flush(c) != 0)
		return false;
	while (c->out == NULL && !c->hangup &&
	       (rc = ctl_client_answer(c)) > 0) {
		if (c->out_bytes > ctl.out_max) {
			fprintf(stderr,
				"bhyve: control socket: dropping a client "
				"whose replies exceed %zu bytes\n",
				ctl.out_max);
			return false;
		}
		if (ctl_flush(c) != 0)
			return false;
	}
	if (rc < 0)
		return false;
	if (c->out != NULL)
		return ctl_client_pending(c) == 0;
	return !c->hangup && ctl_client_idle(c) == 0;
}

/* Reads what the client sent; false if it has gone. */
static bool
ctl_client_read(struct ctl_client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	return true;
}

static void
ctl_client_io(int fd, enum ev_type type, void *arg)
{
	struct ctl_client *c = arg;

	if ((type == EVF_READ && !ctl_client_read(c)) || !ctl_client_run(c))
		ctl_client_close(c);
}

/* Best effort: a fresh socket has room for one short line. */
static void
ctl_refuse(int fd, const char *why)
{
	char *text = ctl_error_text(why);
	size_t len = text != NULL ? strlen(text) : 0;

	if (text != NULL && ctl_send_some(fd, text, len, -1) == (ssize_t)len)
		(void)ctl_send_some(fd, "\n", 1, -1);
	free(text);
}

static void
ctl_accept(int lfd, enum ev_type type, void *arg)
{
	struct ctl_client *c;
	char why[128];
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!peer_unix_allowed(fd, why, sizeof(why)) ||
	    ctl.nclients >= CTL_MAX_CLIENTS) {
		if (ctl.nclients >= CTL_MAX_CLIENTS)
			snprintf(why, sizeof(why), "too many connections");
		ctl_refuse(fd, why);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->out_tail = &c->out;
	if (ctl_client_watch(c, EVF_READ) != 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = ctl.clients;
	ctl.clients = c;
	ctl.nclients++;
}

int
control_start(struct vmctx *ctx)
{
	struct sockaddr_un sun;
	socklen_t sl;
	int dirfd = registry_entry_dirfd();

	control_init(ctx);
	if (dirfd < 0) {
		fprintf(stderr, "bhyve: control socket: no registry entry\n");
		return -1;
	}
	registry_set_vm_info(bhyve_ncpus(), vm_get_lowmem_size(ctx) +
						vm_get_highmem_size(ctx));
	if (vm_ctl_sockaddr(dirfd, registry_entry_path(), "ctl", &sun, &sl) !=
	    0)
		goto fail;
	ctl.listenfd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl.listenfd < 0)
		goto fail;
	unlinkat(dirfd, "ctl", 0);
	if (bind(ctl.listenfd, (struct sockaddr *)&sun, sl) != 0 ||
	    fchmodat(dirfd, "ctl", 0600, 0) != 0 ||
	    listen(ctl.listenfd, 16) != 0)
		goto fail;
	ctl.listen_ev = mevent_add(ctl.listenfd, EVF_READ, ctl_accept, NULL);
	if (ctl.listen_ev == NULL)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "bhyve: cannot create the control socket %s: %s\n",
		registry_ctl_path(), strerror(errno));
	if (ctl.listenfd >= 0)
		close(ctl.listenfd);
	ctl.listenfd = -1;
	return -1;
}

void
control_stop(void)
{
	while (ctl.clients != NULL)
		ctl_client_close(ctl.clients);
	if (ctl.listen_ev != NULL)
		mevent_delete_close(ctl.listen_ev);
	ctl.listen_ev = NULL;
	ctl.listenfd = -1;
}
