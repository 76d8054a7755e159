/*
 * bhyvectl: inspect and control a running beehive VM through its control
 * socket (docs/control.md), with FreeBSD bhyvectl's options where they
 * make sense on KVM.
 *
 *   bhyvectl --list
 *   bhyvectl --vm=NAME [--cpu=N] [--get-<reg>] [--set-<reg>=VAL] ...
 *
 * Sets run before gets, gets before actions (NMI, reset, poweroff,
 * destroy), as in bhyvectl.  Every error is one line on stderr and exit
 * status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "ctl_core.h"
#include "registry.h"
#include "vmm_ctl.h"

#define READ_MEM_MAX	 (16u << 20) /* bytes one --read-mem may dump */
#define ANSWER_TIMEOUT_S 60	     /* a stuck bhyve must not hang us */

enum {
	OPT_VM = 1,
	OPT_CPU,
	OPT_RUNDIR,
	OPT_LIST,
	OPT_DESTROY,
	OPT_FORCE_RESET,
	OPT_FORCE_POWEROFF,
	OPT_INJECT_NMI,
	OPT_GET_STATS,
	OPT_GET_ALL,
	OPT_GET_LOWMEM,
	OPT_GET_HIGHMEM,
	OPT_GET_MEMMAP,
	OPT_GET_ACTIVE_CPUS,
	OPT_READ_MEM,
	OPT_GLA2GPA,
	OPT_WRITE_CORE,
	OPT_HELP,
	OPT_REG_BASE = 1000 /* + register index * 4 + enum reg_op */
};

enum reg_op { OP_GET, OP_SET, OP_GET_DESC, OP_SET_DESC };

struct get_item {
	const struct control_reg *cr;
	enum reg_op op;
};

static struct {
	const char *vm;
	int cpu;
	bool list, destroy, force_reset, force_poweroff, inject_nmi;
	bool get_stats, get_all, get_lowmem, get_highmem, get_memmap;
	bool get_active;
	const char *read_mem, *gla2gpa, *write_core;
	struct get_item gets[256];
	int ngets;
	json_t *sets; /* the "regs" object of one set-regs request */
	bool want_vm;
} opt = {.cpu = 0};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("bhyvectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bhyvectl --list [--rundir=DIR]\n"
	    "       bhyvectl --vm=NAME [--cpu=N] [--rundir=DIR] OPTIONS\n"
	    "  --get-all  --get-<reg>  --set-<reg>=VALUE\n"
	    "      <reg>: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip rflags\n"
	    "             cr0 cr2 cr3 cr4 cr8 dr0-dr3 dr6 dr7 efer\n"
	    "             cs ds es fs gs ss tr ldtr (selectors)\n"
	    "  --get-desc-<seg>  --set-desc-<seg>=BASE,LIMIT,ACCESS\n"
	    "  --get-gdtr --get-idtr  --set-gdtr=BASE,LIMIT --set-idtr=...\n"
	    "  --get-lowmem --get-highmem --get-memmap --get-active-cpus\n"
	    "  --get-stats --read-mem=GPA,LEN --gla2gpa=GLA\n"
	    "  --write-core=PATH --inject-nmi --force-reset\n"
	    "  --force-poweroff --destroy\n");
}

static uint64_t
parse_u64(const char *s, const char *what)
{
	char *end;
	uint64_t v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		die("invalid number '%s' for %s", s ? s : "", what);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		die("invalid number '%s' for %s", s, what);
	return v;
}

/* Splits "A,B[,C]" into exactly n numbers. */
static void
parse_list(const char *arg, const char *what, uint64_t *out, int n)
{
	char *copy = strdup(arg), *p = copy, *tok;
	int i = 0;

	if (copy == NULL)
		die("out of memory");
	while ((tok = strsep(&p, ",")) != NULL) {
		if (i == n)
			die("%s takes %d comma-separated numbers", what, n);
		out[i++] = parse_u64(tok, what);
	}
	if (i != n)
		die("%s takes %d comma-separated numbers", what, n);
	free(copy);
}

static json_t *
set_obj(const char *reg)
{
	json_t *o = json_object_get(opt.sets, reg);

	if (o == NULL) {
		o = json_object();
		json_object_set_new(opt.sets, reg, o);
	}
	if (!json_is_object(o))
		die("register %s set twice", reg);
	return o;
}

static void
opt_reg(int code, const char *arg)
{
	int idx = (code - OPT_REG_BASE) / 4;
	enum reg_op op = (enum reg_op)((code - OPT_REG_BASE) % 4);
	const struct control_reg *cr = &control_regs[idx];
	char what[48];
	uint64_t v[3];
	json_t *o;

	snprintf(what, sizeof(what), "--%s-%s%s",
		 op == OP_SET || op == OP_SET_DESC ? "set" : "get",
		 op >= OP_GET_DESC ? "desc-" : "", cr->name);
	opt.want_vm = true;
	if (op == OP_GET || op == OP_GET_DESC) {
		if (opt.ngets == (int)(sizeof(opt.gets) / sizeof(opt.gets[0])))
			die("too many --get options");
		opt.gets[opt.ngets++] = (struct get_item){cr, op};
		return;
	}
	if (cr->kind == CONTROL_REG_PLAIN) {
		if (json_object_get(opt.sets, cr->name) != NULL)
			die("register %s set twice", cr->name);
		json_object_set_new(opt.sets, cr->name,
				    vm_ctl_json_hex(parse_u64(arg, what)));
	} else if (cr->kind == CONTROL_REG_TABLE) {
		parse_list(arg, what, v, 2);
		o = set_obj(cr->name);
		json_object_set_new(o, "base", vm_ctl_json_hex(v[0]));
		json_object_set_new(o, "limit", vm_ctl_json_hex(v[1]));
	} else if (op == OP_SET) {
		json_object_set_new(set_obj(cr->name), "sel",
				    vm_ctl_json_hex(parse_u64(arg, what)));
	} else {
		parse_list(arg, what, v, 3);
		o = set_obj(cr->name);
		json_object_set_new(o, "base", vm_ctl_json_hex(v[0]));
		json_object_set_new(o, "limit", vm_ctl_json_hex(v[1]));
		json_object_set_new(o, "access", vm_ctl_json_hex(v[2]));
	}
}

static const struct option fixed_opts[] = {
    {"vm", required_argument, NULL, OPT_VM},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"rundir", required_argument, NULL, OPT_RUNDIR},
    {"list", no_argument, NULL, OPT_LIST},
    {"destroy", no_argument, NULL, OPT_DESTROY},
    {"force-reset", no_argument, NULL, OPT_FORCE_RESET},
    {"force-poweroff", no_argument, NULL, OPT_FORCE_POWEROFF},
    {"inject-nmi", no_argument, NULL, OPT_INJECT_NMI},
    {"get-stats", no_argument, NULL, OPT_GET_STATS},
    {"get-all", no_argument, NULL, OPT_GET_ALL},
    {"get-lowmem", no_argument, NULL, OPT_GET_LOWMEM},
    {"get-highmem", no_argument, NULL, OPT_GET_HIGHMEM},
    {"get-memmap", no_argument, NULL, OPT_GET_MEMMAP},
    {"get-active-cpus", no_argument, NULL, OPT_GET_ACTIVE_CPUS},
    {"read-mem", required_argument, NULL, OPT_READ_MEM},
    {"gla2gpa", required_argument, NULL, OPT_GLA2GPA},
    {"write-core", required_argument, NULL, OPT_WRITE_CORE},
    {"help", no_argument, NULL, OPT_HELP},
};

#define NFIXED (sizeof(fixed_opts) / sizeof(fixed_opts[0]))

static void
add_opt(struct option *o, int *n, const char *fmt, const char *name,
	int has_arg, int val)
{
	char *s;

	if (asprintf(&s, fmt, name) < 0)
		die("out of memory");
	o[(*n)++] = (struct option){s, has_arg, NULL, val};
}

/* The fixed options plus get/set (and desc) for every register. */
static struct option *
build_opts(void)
{
	struct option *o =
	    calloc(NFIXED + (size_t)control_nregs * 4 + 1, sizeof(*o));
	int n = 0;

	if (o == NULL)
		die("out of memory");
	memcpy(o, fixed_opts, sizeof(fixed_opts));
	n = (int)NFIXED;
	for (int i = 0; i < control_nregs; i++) {
		const char *r = control_regs[i].name;
		int base = OPT_REG_BASE + i * 4;

		add_opt(o, &n, "get-%s", r, no_argument, base + OP_GET);
		add_opt(o, &n, "set-%s", r, required_argument, base + OP_SET);
		if (control_regs[i].kind != CONTROL_REG_SEGMENT)
			continue;
		add_opt(o, &n, "get-desc-%s", r, no_argument,
			base + OP_GET_DESC);
		add_opt(o, &n, "set-desc-%s", r, required_argument,
			base + OP_SET_DESC);
	}
	return o;
}

/* getopt's '?': say which register name was not understood. */
static void __attribute__((noreturn)) bad_option(const char *arg)
{
	const char *name = NULL;

	if (arg == NULL)
		die("bad option (try --help)");
	if (strncmp(arg, "--get-desc-", 11) == 0 ||
	    strncmp(arg, "--set-desc-", 11) == 0)
		name = arg + 11;
	else if (strncmp(arg, "--get-", 6) == 0 ||
		 strncmp(arg, "--set-", 6) == 0)
		name = arg + 6;
	if (name != NULL) {
		int len = (int)strcspn(name, "=");

		if (control_reg_lookup(name) == NULL ||
		    len != (int)strlen(name))
			die("unknown register '%.*s' in %s (try --help)", len,
			    name, arg);
	}
	die("bad option '%s' (try --help)", arg);
}

static void
parse_args(int argc, char **argv)
{
	struct option *longopts = build_opts();
	int c, idx;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (c) {
		case OPT_VM:
			opt.vm = optarg;
			break;
		case OPT_CPU:
			opt.cpu = (int)parse_u64(optarg, "--cpu");
			if (opt.cpu < 0 || opt.cpu >= 1024)
				die("invalid vCPU number '%s'", optarg);
			break;
		case OPT_RUNDIR:
			set_config_value("rundir", optarg);
			break;
		case OPT_LIST:
			opt.list = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case '?':
		case ':':
			bad_option(argv[optind - 1]);
		default:
			opt.want_vm = true;
			if (c >= OPT_REG_BASE) {
				opt_reg(c, optarg);
				break;
			}
			opt.destroy |= c == OPT_DESTROY;
			opt.force_reset |= c == OPT_FORCE_RESET;
			opt.force_poweroff |= c == OPT_FORCE_POWEROFF;
			opt.inject_nmi |= c == OPT_INJECT_NMI;
			opt.get_stats |= c == OPT_GET_STATS;
			opt.get_all |= c == OPT_GET_ALL;
			opt.get_lowmem |= c == OPT_GET_LOWMEM;
			opt.get_highmem |= c == OPT_GET_HIGHMEM;
			opt.get_memmap |= c == OPT_GET_MEMMAP;
			opt.get_active |= c == OPT_GET_ACTIVE_CPUS;
			if (c == OPT_READ_MEM)
				opt.read_mem = optarg;
			if (c == OPT_GLA2GPA)
				opt.gla2gpa = optarg;
			if (c == OPT_WRITE_CORE)
				opt.write_core = optarg;
			break;
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (try --help)", argv[optind]);
	for (int i = (int)NFIXED; longopts[i].name != NULL; i++)
		free((char *)longopts[i].name);
	free(longopts);
}

/* ---- --list ---- */

static int
list_one(const struct registry_entry *e, void *arg)
{
	char when[32] = "-";
	time_t t = (time_t)e->start_time;
	struct tm tm;

	if (e->start_time > 0 && localtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-20s %8lld %6lld %4d %8" PRIu64 "M  %s\n", e->name, e->pid,
	       e->uid, e->cpus, e->memory >> 20, when);
	return 0;
}

static int
do_list(void)
{
	printf("%-20s %8s %6s %4s %9s  %s\n", "NAME", "PID", "UID", "CPUS",
	       "MEMORY", "STARTED");
	if (registry_list(list_one, NULL) < 0)
		die("cannot list VMs: %s", strerror(errno));
	return 0;
}

/* ---- requests ---- */

static struct vm_ctl conn;

/* Connects to --vm, saying which run directory lacks it if need be. */
static void
ctl_connect(const char *name)
{
	struct registry_entry e;
	char dir[4096] = "?";

	if (registry_lookup(name, &e) != 0) {
		registry_rundir(dir, sizeof(dir));
		die("no VM named '%s' is running (run directory %s)", name,
		    dir);
	}
	if (registry_rundir(dir, sizeof(dir)) != 0 ||
	    vm_ctl_open(&conn, dir, name, ANSWER_TIMEOUT_S) != 0)
		die("cannot connect to VM '%s': %s", name, strerror(errno));
}

static json_t *
call(json_t *req, int *fdp)
{
	char err[512];
	json_t *resp = vm_ctl_call(&conn, req, fdp, err, sizeof(err));

	if (resp == NULL)
		die("%s", err);
	return resp;
}

static uint64_t
field(json_t *o, const char *key)
{
	uint64_t v = 0;

	if (vm_ctl_json_u64(o, key, &v) != 0)
		die("response lacks '%s'", key);
	return v;
}

static void
do_sets(void)
{
	json_decref(call(json_pack("{s:s, s:i, s:O}", "cmd", "set-regs", "vcpu",
				   opt.cpu, "regs", opt.sets),
			 NULL));
}

static void
print_reg(json_t *regs, const struct control_reg *cr, enum reg_op op)
{
	json_t *v = json_object_get(regs, cr->name);

	switch (cr->kind) {
	case CONTROL_REG_PLAIN:
		printf("%s[%d]\t0x%016" PRIx64 "\n", cr->name, opt.cpu,
		       field(regs, cr->name));
		break;
	case CONTROL_REG_SEGMENT:
		if (op == OP_GET) {
			printf("%s[%d]\t0x%04" PRIx64 "\n", cr->name, opt.cpu,
			       field(v, "sel"));
			break;
		}
		printf("desc-%s[%d]\tbase 0x%016" PRIx64 " limit 0x%08" PRIx64
		       " access 0x%08" PRIx64 "\n",
		       cr->name, opt.cpu, field(v, "base"), field(v, "limit"),
		       field(v, "access"));
		break;
	case CONTROL_REG_TABLE:
		printf("%s[%d]\tbase 0x%016" PRIx64 " limit 0x%04" PRIx64 "\n",
		       cr->name, opt.cpu, field(v, "base"), field(v, "limit"));
		break;
	}
}

static void
do_gets(void)
{
	json_t *req, *names = json_array(), *resp, *regs;

	/* Without a "regs" list the server returns every register. */
	req = json_pack("{s:s, s:i}", "cmd", "get-regs", "vcpu", opt.cpu);
	for (int i = 0; i < opt.ngets && !opt.get_all; i++) {
		const char *name = opt.gets[i].cr->name;
		bool dup = false;
		size_t k;
		json_t *v;

		json_array_foreach(names, k, v) dup =
		    dup || strcmp(json_string_value(v), name) == 0;
		if (!dup)
			json_array_append_new(names, json_string(name));
	}
	if (opt.get_all)
		json_decref(names);
	else
		json_object_set_new(req, "regs", names);
	resp = call(req, NULL);
	regs = json_object_get(resp, "regs");
	if (opt.get_all) {
		for (int i = 0; i < control_nregs; i++) {
			print_reg(regs, &control_regs[i], OP_GET);
			if (control_regs[i].kind == CONTROL_REG_SEGMENT)
				print_reg(regs, &control_regs[i], OP_GET_DESC);
		}
	}
	for (int i = 0; i < opt.ngets; i++)
		print_reg(regs, opt.gets[i].cr, opt.gets[i].op);
	json_decref(resp);
}

static void
do_memory_info(void)
{
	json_t *resp = call(json_pack("{s:s}", "cmd", "memmap"), NULL), *r;
	size_t i;

	if (opt.get_lowmem)
		printf("lowmem\t\t0x%016" PRIx64 "\n", field(resp, "lowmem"));
	if (opt.get_highmem)
		printf("highmem\t\t0x%016" PRIx64 "\n", field(resp, "highmem"));
	if (opt.get_memmap) {
		json_array_foreach(json_object_get(resp, "ranges"), i, r)
		{
			uint64_t gpa = field(r, "gpa"), len = field(r, "len");

			printf("gpa 0x%016" PRIx64 "-0x%016" PRIx64
			       " len 0x%" PRIx64 " (%" PRIu64 " MiB) sysmem\n",
			       gpa, gpa + len - 1, len, len >> 20);
		}
	}
	json_decref(resp);
}

static void
do_active_cpus(void)
{
	json_t *resp = call(json_pack("{s:s}", "cmd", "vcpus"), NULL), *v;
	const char *sep = "";
	size_t i;

	printf("active cpus:\t");
	json_array_foreach(json_object_get(resp, "active"), i, v)
	{
		printf("%s%lld", sep, (long long)json_integer_value(v));
		sep = ",";
	}
	printf("%s\n", *sep == '\0' ? "(none)" : "");
	json_decref(resp);
}

static void
do_stats(void)
{
	json_t *resp = call(
	    json_pack("{s:s, s:i}", "cmd", "stats", "vcpu", opt.cpu), NULL);
	json_t *entry = json_array_get(json_object_get(resp, "stats"), 0), *v;
	const char *name;

	printf("vcpu%d stats:\n", opt.cpu);
	json_object_foreach(json_object_get(entry, "values"), name, v)
	{
		uint64_t x = 0;

		vm_ctl_json_u64(json_object_get(entry, "values"), name, &x);
		printf("%-40s\t%" PRIu64 "\n", name, x);
	}
	json_decref(resp);
}

static void
hexdump_line(uint64_t addr, const uint8_t *p, size_t n)
{
	printf("%016" PRIx64 " ", addr);
	for (size_t i = 0; i < 16; i++) {
		if (i < n)
			printf(" %02x", p[i]);
		else
			printf("   ");
	}
	printf("  |");
	for (size_t i = 0; i < n; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
	printf("|\n");
}

static void
do_read_mem(void)
{
	uint64_t v[2], gpa, len;
	uint8_t line[16];

	parse_list(opt.read_mem, "--read-mem=GPA,LEN", v, 2);
	gpa = v[0];
	len = v[1];
	if (len == 0 || len > READ_MEM_MAX)
		die("--read-mem: LEN must be 1 to %u bytes", READ_MEM_MAX);
	if (gpa + len < gpa)
		die("--read-mem: 0x%" PRIx64 "+0x%" PRIx64 " wraps around", gpa,
		    len);
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < CONTROL_READ_MAX ? len - done
							   : CONTROL_READ_MAX;
		json_t *resp =
		    call(json_pack("{s:s, s:o, s:I}", "cmd", "read-mem", "gpa",
				   vm_ctl_json_hex(gpa + done), "len",
				   (json_int_t)n),
			 NULL);
		const char *hex =
		    json_string_value(json_object_get(resp, "data"));

		if (hex == NULL || strlen(hex) != n * 2)
			die("malformed read-mem response");
		for (uint64_t off = 0; off < n; off += 16) {
			size_t k = n - off < 16 ? (size_t)(n - off) : 16;

			for (size_t i = 0; i < k; i++) {
				unsigned b;

				sscanf(hex + 2 * (off + i), "%2x", &b);
				line[i] = (uint8_t)b;
			}
			hexdump_line(gpa + done + off, line, k);
		}
		json_decref(resp);
		done += n;
	}
}

static void
do_gla2gpa(void)
{
	uint64_t gla = parse_u64(opt.gla2gpa, "--gla2gpa");
	json_t *resp =
	    call(json_pack("{s:s, s:i, s:o}", "cmd", "gla2gpa", "vcpu", opt.cpu,
			   "gla", vm_ctl_json_hex(gla)),
		 NULL);

	printf("gla 0x%016" PRIx64 " gpa 0x%016" PRIx64 " (%s paging, page "
	       "size 0x%" PRIx64 ")\n",
	       gla, field(resp, "gpa"),
	       json_string_value(json_object_get(resp, "mode")),
	       field(resp, "pagesize"));
	json_decref(resp);
}

static void
do_action(const char *cmd, bool with_vcpu)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd);

	if (with_vcpu)
		json_object_set_new(req, "vcpu", json_integer(opt.cpu));
	json_decref(call(req, NULL));
}

int
main(int argc, char **argv)
{
	char err[512];

	init_config();
	opt.sets = json_object();
	parse_args(argc, argv);
	if (opt.list)
		return do_list();
	if (opt.vm == NULL) {
		usage(stderr);
		die("no VM given: --vm=NAME (or --list)");
	}
	if (!opt.want_vm)
		die("nothing to do for VM '%s' (try --help)", opt.vm);
	ctl_connect(opt.vm);
	if (json_object_size(opt.sets) > 0)
		do_sets();
	if (opt.ngets > 0 || opt.get_all)
		do_gets();
	if (opt.get_lowmem || opt.get_highmem || opt.get_memmap)
		do_memory_info();
	if (opt.get_active)
		do_active_cpus();
	if (opt.get_stats)
		do_stats();
	if (opt.read_mem != NULL)
		do_read_mem();
	if (opt.gla2gpa != NULL)
		do_gla2gpa();
	if (opt.write_core != NULL) {
		if (ctl_write_core(&conn, opt.vm, opt.write_core, err,
				   sizeof(err)) != 0)
			die("--write-core: %s", err);
		printf("core written to %s\n", opt.write_core);
	}
	if (opt.inject_nmi)
		do_action("inject-nmi", true);
	if (opt.force_reset)
		do_action("force-reset", false);
	if (opt.force_poweroff)
		do_action("force-poweroff", false);
	if (opt.destroy)
		do_action("destroy", false);
	vm_ctl_close(&conn);
	json_decref(opt.sets);
	return 0;
}
