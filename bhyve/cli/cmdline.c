/*
 * The bhyve(8) command line.  As in bhyve, each flag only writes keys into
 * the configuration tree, so "-c 2", "-o cpus=2" and a "-k" file line
 * "cpus=2" are the same thing; the tree is checked as a whole at the end,
 * whoever set each key.  Flags follow FreeBSD's bhyve(8) plus illumos'
 * -B and -d; see docs/config.md.
 */
#include "cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/un.h>

#include "config.h"
#include "config_numa.h"
#include "config_vm.h"
#include "legacy_config.h"
#include "notice.h"
#include "pci_models.h"
#include "uart_backend.h"

#define VM_NAME_MAX    128
#define FWCFG_NAME_MAX 55 /* QEMU fw_cfg file names: 56 bytes w/ NUL */
#define LPC_UART_COUNT 4
#define CMD_SUN_PATH   (((struct sockaddr_un *)0)->sun_path)

#define CMDLINE_OPTSTRING "+:aAB:c:CdDef:G:hHIk:K:l:m:Mn:o:p:Pr:s:SuU:wWxY"

static int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Errors so far: parsing goes on after one, so that the user sees every
 * blocker of a command line at once.
 */
static int cmd_errors;

/* The error line each bad input produces (one per blocker). */
static int
cmd_fail(const char *fmt, ...)
{
	va_list ap;

	cmd_errors++;
	fputs("bhyve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return BHYVE_ARGS_ERROR;
}

/* Sets a key; fails when another key is in the way ("x86=1" then -x). */
static int
cmd_set(const char *key, const char *value)
{
	if (set_config_value(key, value) != 0)
		return cmd_fail("cannot set %s: a conflicting key is set", key);
	return 0;
}

static void
cmd_usage(FILE *fp)
{
	fprintf(
	    fp,
	    "Usage: bhyve [-aCDdeHhMPSuWwxY]\n"
	    "       [-c [[cpus=]numcpus][,sockets=n][,cores=n][,threads=n]]\n"
	    "       [-B type,key=value,...] [-f name,string|file=data]\n"
	    "       [-G [w][address:]port | -G [w]unix:path]\n"
	    "       [-k config_file] [-K layout] [-l lpc] [-m mem]\n"
	    "       [-o var=value] [-p vcpu:hostcpu] [-s pci] [-U uuid] "
	    "vmname\n"
	    "  -A: create ACPI tables\n"
	    "  -a: local APIC is in xAPIC mode (deprecated)\n"
	    "  -B: set SMBIOS information\n"
	    "  -C: include guest memory in core file\n"
	    "  -c: number of CPUs and/or topology specification\n"
	    "  -D: destroy on power-off\n"
	    "  -d: suspend CPU at boot\n"
	    "  -e: exit on unhandled I/O access\n"
	    "  -f: add a fw_cfg file\n"
	    "  -G: start a debug server (TCP, or a Unix socket)\n"
	    "  -H: vmexit from the guest on HLT\n"
	    "  -h: help\n"
	    "  -k: key=value flat config file\n"
	    "  -K: PS2 keyboard layout\n"
	    "  -l: LPC device configuration (-l help lists them)\n"
	    "  -M: monitor mode: run the guest again after each reset\n"
	    "  -m: memory size (bare number: MiB)\n"
	    "  -n: NUMA domain: id=N,size=S,cpus=LIST[,domain_policy=P]\n"
	    "  -o: set config 'var' to 'value'\n"
	    "  -P: vmexit from the guest on pause\n"
	    "  -p: pin 'vcpu' to 'hostcpu'\n"
	    "  -S: guest memory cannot be swapped\n"
	    "  -s: <slot,driver,configinfo> PCI slot config (-s help)\n"
	    "  -U: UUID\n"
	    "  -u: RTC keeps UTC time\n"
	    "  -W: force virtio to use single-vector MSI\n"
	    "  -w: ignore unimplemented MSRs\n"
	    "  -x: local APIC is in x2APIC mode\n"
	    "  -Y: disable MPtable generation\n");
}

/* bhyve accepts any prefix of "help" for -s and -l. */
static bool
cmd_is_help(const char *arg)
{
	return arg[0] != '\0' && strncmp(arg, "help", strlen(arg)) == 0;
}

/* -c [[cpus=]n][,sockets=n][,cores=n][,threads=n] */
static int
cmd_topology(const char *arg)
{
	static const char *const keys[] = {"cpus", "sockets", "cores",
					   "threads"};
	char *copy, *cur, *tok, *eq;
	const char *key, *val;
	int rc = 0;
	long n;
	size_t i;

	if (arg[0] == '\0') {
		/* bhyve: an empty -c means one vCPU. */
		for (i = 0; i < 4; i++) {
			if (cmd_set(keys[i], "1") != 0)
				return BHYVE_ARGS_ERROR;
		}
		return 0;
	}
	copy = cur = strdup(arg);
	if (copy == NULL)
		return cmd_fail("out of memory");
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		key = "cpus";
		val = tok;
		eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq = '\0';
			key = NULL;
			for (i = 0; i < 4; i++) {
				if (strcmp(tok, keys[i]) == 0)
					key = keys[i];
			}
			val = eq + 1;
		}
		if (key == NULL)
			rc = cmd_fail("invalid CPU topology '-c %s': unknown "
				      "field '%s'",
				      arg, tok);
		else if (!config_parse_long(val, 1, TOPOLOGY_MAX, &n))
			rc = cmd_fail("invalid CPU topology '-c %s': %s must "
				      "be 1-%d",
				      arg, key, TOPOLOGY_MAX);
		else
			rc = cmd_set(key, val);
	}
	free(copy);
	return rc;
}

/* -p vcpu:hostcpu, repeatable: appends to vcpu.N.cpuset. */
static int
cmd_pincpu(const char *arg)
{
	char key[32], *vcpu_s, *newval;
	const char *colon = strchr(arg, ':'), *old;
	long vcpu, pcpu;
	int rc = 0;

	if (colon == NULL)
		return cmd_fail("invalid vCPU pinning '-p %s' (want "
				"vcpu:hostcpu)",
				arg);
	vcpu_s = strndup(arg, (size_t)(colon - arg));
	if (vcpu_s == NULL)
		return cmd_fail("out of memory");
	if (!config_parse_long(vcpu_s, 0, TOPOLOGY_MAX - 1, &vcpu) ||
	    !config_parse_long(colon + 1, 0, CPU_SETSIZE - 1, &pcpu)) {
		free(vcpu_s);
		return cmd_fail("invalid vCPU pinning '-p %s' (vcpu 0-%d, "
				"hostcpu 0-%d)",
				arg, TOPOLOGY_MAX - 1, CPU_SETSIZE - 1);
	}
	free(vcpu_s);
	snprintf(key, sizeof(key), "vcpu.%ld.cpuset", vcpu);
	old = get_config_value(key);
	if (asprintf(&newval, "%s%s%ld", old ? old : "", old ? "," : "", pcpu) <
	    0)
		return cmd_fail("out of memory");
	if (set_config_value(key, newval) != 0)
		rc = cmd_fail("cannot set %s for '-p %s'", key, arg);
	free(newval);
	return rc;
}

/* -G [w]unix:PATH, after the 'w': a Unix socket instead of TCP. */
static int
cmd_gdb_unix(const char *arg, const char *path)
{
	if (path[0] == '\0')
		return cmd_fail("invalid debug server '-G %s': empty socket "
				"path",
				arg);
	return cmd_set("gdb.socket", path);
}

/* -G [w][address:]port or -G [w]unix:PATH */
static int
cmd_gdb(const char *arg)
{
	const char *p = arg, *colon;
	char *addr;
	long port;
	int rc = 0;

	if (*p == 'w') {
		if (cmd_set("gdb.wait", "true") != 0)
			return BHYVE_ARGS_ERROR;
		p++;
	}
	if (strncmp(p, "unix:", 5) == 0)
		return cmd_gdb_unix(arg, p + 5);
	colon = strrchr(p, ':');
	if (colon != NULL) {
		if (colon == p)
			return cmd_fail("invalid debug server '-G %s': empty "
					"address",
					arg);
		addr = strndup(p, (size_t)(colon - p));
		if (addr == NULL)
			return cmd_fail("out of memory");
		if (set_config_value("gdb.address", addr) != 0)
			rc =
			    cmd_fail("invalid debug server address '%s'", addr);
		free(addr);
		if (rc != 0)
			return rc;
		p = colon + 1;
	}
	if (!config_parse_long(p, 1, 65535, &port) ||
	    !isdigit((unsigned char)*p))
		return cmd_fail(
		    "invalid debug server port in '-G %s' (1-65535)", arg);
	return cmd_set("gdb.port", p);
}

static bool
cmd_uuid_valid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* -o key=value (bhyve refuses an empty value). */
static int
cmd_option(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *key;
	int rc = 0;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return cmd_fail("invalid configuration option '-o %s' (want "
				"key=value)",
				arg);
	key = strndup(arg, (size_t)(eq - arg));
	if (key == NULL)
		return cmd_fail("out of memory");
	if (set_config_value(key, eq + 1) != 0)
		rc = cmd_fail("invalid configuration key '%s' in '-o %s'", key,
			      arg);
	free(key);
	return rc;
}

static int
cmd_config_file(const char *path)
{
	char err[512];

	if (load_config_file(path, err, sizeof(err)) != 0)
		return cmd_fail("-k %s", err);
	return 0;
}

/*
 * SMBIOS strings settable with -B, per type (SMBIOS 3.x, 7.1-7.4); the
 * key names are illumos bhyve's.
 */
static const char *const smbios_keys[4][7] = {
    {"vendor", "version", "release_date"},
    {"manufacturer", "product_name", "version", "serial_number", "sku",
     "family_name"},
    {"manufacturer", "product_name", "version", "serial_number", "asset_tag",
     "location"},
    {"manufacturer", "version", "serial_number", "asset_tag", "sku"},
};
static const char *const smbios_nodes[4] = {"bios", "system", "board",
					    "chassis"};

/* illumos' older type 1 key names. */
static const char *
smbios_legacy_key(long type, const char *key)
{
	if (type != 1)
		return key;
	if (strcmp(key, "product") == 0)
		return "product_name";
	if (strcmp(key, "serial") == 0)
		return "serial_number";
	if (strcmp(key, "family") == 0)
		return "family_name";
	return key;
}

static int
cmd_smbios_pair(long type, char *tok, const char *arg)
{
	char path[64], *val = strchr(tok, '=');
	const char *key;
	size_t i;

	if (val == NULL || val == tok || val[1] == '\0')
		return cmd_fail("invalid SMBIOS setting '%s' in '-B %s' (want "
				"key=value)",
				tok, arg);
	*val++ = '\0';
	/* uuid is the VM's own (-U wins). */
	if (strcmp(tok, "uuid") == 0) {
		if (!cmd_uuid_valid(val))
			return cmd_fail("invalid UUID '%s' in '-B %s'", val,
					arg);
		set_config_value_if_unset("uuid", val);
		return 0;
	}
	key = smbios_legacy_key(type, tok);
	for (i = 0; i < 7 && smbios_keys[type][i] != NULL; i++) {
		if (strcmp(smbios_keys[type][i], key) == 0)
			break;
	}
	if (i == 7 || smbios_keys[type][i] == NULL)
		return cmd_fail(
		    "unknown SMBIOS key '%s' for type %ld in '-B %s'", tok,
		    type, arg);
	snprintf(path, sizeof(path), "%s.%s", smbios_nodes[type], key);
	return cmd_set(path, val);
}

/* -B type,key=value,... (illumos) */
static int
cmd_smbios(const char *arg)
{
	char *copy, *cur, *tok;
	long type;
	int rc = 0;

	copy = cur = strdup(arg);
	if (copy == NULL)
		return cmd_fail("out of memory");
	tok = strsep(&cur, ",");
	if (!config_parse_long(tok, 0, 3, &type) ||
	    !isdigit((unsigned char)*tok))
		rc = cmd_fail("invalid SMBIOS type in '-B %s' (0-3)", arg);
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		if (*tok != '\0')
			rc = cmd_smbios_pair(type, tok, arg);
	}
	free(copy);
	return rc;
}

/* -f [name=]NAME,string=DATA | -f [name=]NAME,file=PATH */
static int
cmd_fwcfg(const char *arg)
{
	const char *p = arg, *comma, *kind, *data;
	char node[48], *name;
	struct config_node *nvl;
	int n;

	if (strncmp(p, "name=", 5) == 0)
		p += 5;
	comma = strchr(p, ',');
	if (comma == NULL || comma == p)
		return cmd_fail("invalid fw_cfg item '-f %s' (want "
				"name,string=data or name,file=path)",
				arg);
	if (comma - p > FWCFG_NAME_MAX)
		return cmd_fail("fw_cfg name too long in '-f %s' (at most %d "
				"characters)",
				arg, FWCFG_NAME_MAX);
	if (strncmp(comma + 1, "string=", 7) == 0) {
		kind = "string";
		data = comma + 8;
	} else if (strncmp(comma + 1, "file=", 5) == 0) {
		kind = "file";
		data = comma + 6;
		if (access(data, R_OK) != 0)
			return cmd_fail("cannot read fw_cfg file '%s' in "
					"'-f %s': %s",
					data, arg, strerror(errno));
	} else {
		return cmd_fail("invalid fw_cfg item '-f %s' (want "
				"name,string=data or name,file=path)",
				arg);
	}
	for (n = 0;; n++) {
		snprintf(node, sizeof(node), "fwcfg.user.%d", n);
		if (find_config_node(node) == NULL)
			break;
	}
	nvl = create_config_node(node);
	name = strndup(p, (size_t)(comma - p));
	if (nvl == NULL || name == NULL) {
		free(name);
		return cmd_fail("cannot add fw_cfg item '-f %s'", arg);
	}
	set_config_value_node(nvl, "name", name);
	set_config_value_node(nvl, kind, data);
	free(name);
	return 0;
}

static void
cmd_lpc_print(FILE *fp)
{
	fprintf(fp, "bootrom\ncom1\ncom2\ncom3\ncom4\nfwcfg\npc-testdev\n"
		    "testdev\ntpm\n");
}

/* Options after -l bootrom,ROM[,VARS]: key=value into lpc.*. */
static int
cmd_lpc_options(char *rest, const char *arg)
{
	struct config_node *lpc = create_config_node("lpc");

	if (lpc == NULL || legacy_config_generic(lpc, rest) != 0)
		return cmd_fail("invalid LPC option in '-l %s'", arg);
	return 0;
}

static int
cmd_lpc_bootrom(char *rest, const char *arg)
{
	char *rom = rest ? strsep(&rest, ",") : NULL, *vars;

	if (rom == NULL || rom[0] == '\0')
		return cmd_fail("'-l %s' needs a ROM file (bootrom,ROM[,VARS])",
				arg);
	if (cmd_set("lpc.bootrom", rom) != 0)
		return BHYVE_ARGS_ERROR;
	vars = rest ? strsep(&rest, ",") : NULL;
	if (vars == NULL)
		return 0;
	if (strchr(vars, '=') == NULL) {
		if (vars[0] == '\0')
			return cmd_fail("empty VARS file in '-l %s'", arg);
		if (cmd_set("lpc.bootvars", vars) != 0)
			return BHYVE_ARGS_ERROR;
	} else if (cmd_lpc_options(vars, arg) != 0) {
		return BHYVE_ARGS_ERROR;
	}
	return rest ? cmd_lpc_options(rest, arg) : 0;
}

/* bhyve's TPM passthrough/swtpm device: not emulated here (yet). */
static int
cmd_lpc_tpm(const char *arg)
{
	return cmd_fail("'-l %s': TPM devices are not supported", arg);
}

/* -l lpcdev[,conf] */
static int
cmd_lpc(const char *arg)
{
	char *copy, *rest, *dev, key[32];
	int rc = 0, unit;

	copy = rest = strdup(arg);
	if (copy == NULL)
		return cmd_fail("out of memory");
	dev = strsep(&rest, ",");
	if (strcasecmp(dev, "bootrom") == 0) {
		rc = cmd_lpc_bootrom(rest, arg);
	} else if (strcasecmp(dev, "tpm") == 0) {
		rc = cmd_lpc_tpm(arg);
	} else if (strncasecmp(dev, "com", 3) == 0 && dev[3] >= '1' &&
		   dev[3] < '1' + LPC_UART_COUNT && dev[4] == '\0') {
		unit = dev[3] - '0';
		if (rest == NULL || rest[0] == '\0')
			rc = cmd_fail("'-l %s' needs a backend (e.g. "
				      "com%d,stdio)",
				      arg, unit);
		else {
			snprintf(key, sizeof(key), "lpc.com%d.path", unit);
			rc = cmd_set(key, rest);
		}
	} else if (strncasecmp(dev, "fwcfg=", 6) == 0 && rest == NULL) {
		rc = cmd_set("lpc.fwcfg", dev + 6);
	} else if (strcasecmp(dev, "pc-testdev") == 0 && rest == NULL) {
		rc = cmd_set("lpc.pc-testdev", "true");
	} else if (strcasecmp(dev, "testdev") == 0 && rest == NULL) {
		rc = cmd_set("lpc.testdev", "true");
	} else {
		rc = cmd_fail("unknown LPC device '-l %s' (see -l help)", arg);
	}
	free(copy);
	return rc;
}

/*
 * -n id=N[,size=S][,cpus=LIST][,domain_policy=P], repeatable: writes
 * domains.N.*.  A bare item after cpus= continues the CPU list, so
 * "cpus=0-1,4" means vCPUs 0, 1 and 4.  The values are checked with the
 * whole tree (config_get_numa()).
 */
static int
cmd_numa(const char *arg)
{
	static const char *const keys[] = {"size", "cpus", "domain_policy"};
	char *vals[3] = {NULL, NULL, NULL}, *copy, *cur, *tok, *eq, *grown;
	char key[48];
	long id = -1;
	int rc = 0, last = -1;
	size_t i;

	copy = cur = strdup(arg);
	if (copy == NULL)
		return cmd_fail("out of memory");
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		eq = strchr(tok, '=');
		if (eq == NULL && last == 1 && tok[0] != '\0') {
			if (asprintf(&grown, "%s,%s", vals[1], tok) < 0) {
				rc = cmd_fail("out of memory");
				break;
			}
			free(vals[1]);
			vals[1] = grown;
			continue;
		}
		if (eq == NULL || eq[1] == '\0') {
			rc = cmd_fail("invalid NUMA domain '-n %s': '%s' is "
				      "not key=value with a value (id, size, "
				      "cpus, domain_policy)",
				      arg, tok);
			break;
		}
		*eq = '\0';
		if (strcmp(tok, "id") == 0) {
			if (strlen(eq + 1) != 1 ||
			    !config_parse_long(eq + 1, 0, NUMA_MAX_DOMAINS - 1,
					       &id))
				rc = cmd_fail("invalid NUMA domain '-n %s': "
					      "id must be 0-%d",
					      arg, NUMA_MAX_DOMAINS - 1);
			last = -1;
			continue;
		}
		for (i = 0; i < 3 && strcmp(tok, keys[i]) != 0; i++)
			;
		if (i == 3) {
			rc = cmd_fail("invalid NUMA domain '-n %s': unknown "
				      "key '%s' (id, size, cpus, "
				      "domain_policy)",
				      arg, tok);
			break;
		}
		free(vals[i]);
		vals[i] = strdup(eq + 1);
		if (vals[i] == NULL)
			rc = cmd_fail("out of memory");
		last = (int)i;
	}
	if (rc == 0 && id < 0)
		rc = cmd_fail("invalid NUMA domain '-n %s': missing id=N", arg);
	/* "-n id=1" alone still declares domain 1 (bhyve creates its node). */
	snprintf(key, sizeof(key), "domains.%ld", id);
	if (rc == 0 && find_config_node(key) == NULL &&
	    create_config_node(key) == NULL)
		rc = cmd_fail("cannot set %s: a conflicting key is set", key);
	for (i = 0; i < 3; i++) {
		if (rc == 0 && vals[i] != NULL) {
			snprintf(key, sizeof(key), "domains.%ld.%s", id,
				 keys[i]);
			rc = cmd_set(key, vals[i]);
		}
		free(vals[i]);
	}
	free(copy);
	return rc;
}

static int
cmd_slot(const char *arg)
{
	char err[512];

	if (pci_parse_slot(arg, err, sizeof(err)) != 0)
		return cmd_fail("%s", err);
	return 0;
}

/* Flags without an argument: each sets one key. */
static const struct cmd_flag {
	char flag;
	const char *key;
	const char *value;
} cmd_flags[] = {
    {'a', "x86.x2apic", "false"},
    {'A', "acpi_tables", "true"},
    {'C', "memory.guest_in_core", "true"},
    {'d', "suspend_at_boot", "true"},
    {'D', "destroy_on_poweroff", "true"},
    {'e', "x86.strictio", "true"},
    {'H', "x86.vmexit_on_hlt", "true"},
    /* bhyve: the I/O APIC is always present; -I is a no-op. */
    {'I', NULL, NULL},
    {'M', "monitor", "true"},
    {'P', "x86.vmexit_on_pause", "true"},
    {'S', "memory.wired", "true"},
    {'u', "rtc.use_localtime", "false"},
    {'w', "x86.strictmsr", "false"},
    {'W', "virtio_msix", "false"},
    {'x', "x86.x2apic", "true"},
    {'Y', "x86.mptable", "false"},
};

static const struct cmd_flag *
cmd_find_flag(int c)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_flags) / sizeof(cmd_flags[0]); i++) {
		if (cmd_flags[i].flag == c)
			return &cmd_flags[i];
	}
	return NULL;
}

static int
cmd_option_arg(int c, const char *arg)
{
	switch (c) {
	case 'B':
		return cmd_smbios(arg);
	case 'c':
		return cmd_topology(arg);
	case 'f':
		return cmd_fwcfg(arg);
	case 'G':
		return cmd_gdb(arg);
	case 'k':
		return cmd_config_file(arg);
	case 'K':
		return cmd_set("keyboard.layout", arg);
	case 'l':
		if (cmd_is_help(arg)) {
			cmd_lpc_print(stdout);
			return BHYVE_ARGS_EXIT0;
		}
		return cmd_lpc(arg);
	case 'm': {
		uint64_t bytes;

		if (bhyve_parse_memsize(arg, &bytes) != 0)
			return cmd_fail("invalid memory size '-m %s'", arg);
		return cmd_set("memory.size", arg);
	}
	case 'n':
		return cmd_numa(arg);
	case 'o':
		return cmd_option(arg);
	case 'p':
		return cmd_pincpu(arg);
	case 'r':
		return cmd_fail("-r %s: snapshot restore is not supported",
				arg);
	case 's':
		if (cmd_is_help(arg)) {
			pci_models_print(stdout);
			return BHYVE_ARGS_EXIT0;
		}
		return cmd_slot(arg);
	case 'U':
		if (!cmd_uuid_valid(arg))
			return cmd_fail("invalid UUID '-U %s'", arg);
		return cmd_set("uuid", arg);
	}
	return cmd_fail("unknown option -%c (see bhyve -h)", c);
}

/* Keys bhyve reads as booleans; a bad spelling is caught here, early. */
static const char *const cmd_bool_keys[] = {
    "config.dump",
    "acpi_tables",
    "acpi_tables_in_memory",
    "destroy_on_poweroff",
    "gdb.wait",
    "lpc.pc-testdev",
    "lpc.testdev",
    "memory.guest_in_core",
    "memory.hugepages",
    "memory.wired",
    "monitor",
    "rtc.use_localtime",
    "suspend_at_boot",
    "virtio.msix",
    "virtio_msix",
    "x86.mptable",
    "x86.strictio",
    "x86.strictmsr",
    "x86.vmexit_on_hlt",
    "x86.vmexit_on_pause",
    "x86.x2apic",
    "zone.seccomp",
};

static int
cmd_check_bools(void)
{
	const char *v;
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(cmd_bool_keys) / sizeof(cmd_bool_keys[0]); i++) {
		v = get_config_value(cmd_bool_keys[i]);
		if (v == NULL)
			continue;
		parse_config_bool(v, &ok);
		if (!ok)
			cmd_fail("invalid boolean '%s' for %s (use "
				 "true/false/on/off/yes/no/1/0)",
				 v, cmd_bool_keys[i]);
	}
	return 0;
}

static int
cmd_check_name(void)
{
	const char *name = get_config_value("name");
	size_t i;

	/* A bad option may have taken the name as its argument (-m vm). */
	if (name == NULL && cmd_errors > 0)
		return BHYVE_ARGS_ERROR;
	if (name == NULL)
		return cmd_fail("missing VM name (bhyve [options] vmname)");
	if (name[0] == '\0' || strlen(name) > VM_NAME_MAX ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cmd_fail("invalid VM name '%s'", name);
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c == '/' || c >= 0x7f)
			return cmd_fail("invalid VM name '%s' (no '/', spaces "
					"or control characters)",
					name);
	}
	return 0;
}

/* The debug server: a TCP port or a Unix socket path, not both. */
static int
cmd_check_gdb(void)
{
	const char *port = get_config_value("gdb.port");
	const char *path = get_config_value("gdb.socket");
	long n;

	if (port != NULL && !config_parse_long(port, 1, 65535, &n))
		return cmd_fail("invalid debug server port '%s' (gdb.port)",
				port);
	if (port != NULL && path != NULL)
		return cmd_fail("gdb.port and gdb.socket are exclusive (one "
				"debug server: TCP or a Unix socket)");
	if (path != NULL &&
	    (path[0] == '\0' || strlen(path) >= sizeof(CMD_SUN_PATH)))
		return cmd_fail(
		    "invalid debug server socket '%s' (gdb.socket): "
		    "empty or longer than %zu bytes",
		    path, sizeof(CMD_SUN_PATH) - 1);
	return 0;
}

/* lpc.comN.path names a backend uart_backend_open() can open; no TPM. */
static void
cmd_check_lpc(void)
{
	char key[32], err[256];
	const char *v;

	for (int unit = 1; unit <= LPC_UART_COUNT; unit++) {
		snprintf(key, sizeof(key), "lpc.com%d.path", unit);
		v = get_config_value(key);
		if (v != NULL &&
		    uart_backend_check(v, false, err, sizeof(err)) != 0)
			cmd_fail("%s: %s", key, err);
	}
	if (find_config_node("tpm") != NULL)
		cmd_fail("tpm.*: TPM devices are not supported");
}

/* NUMA domains (-n): against the memory size and vCPUs; need ACPI. */
static void
cmd_check_numa(uint64_t memsize, int cpus)
{
	struct numa_config nc;
	char err[512];

	if (config_get_numa(&nc, memsize, cpus, err, sizeof(err)) != 0)
		cmd_fail("%s", err);
	else if (nc.ndomains > 0 &&
		 !get_config_bool_default("acpi_tables", true))
		cmd_fail("NUMA domains (-n) are described by ACPI tables, "
			 "and acpi_tables=false is set");
	config_numa_free(&nc);
}

static int
cmd_check_vcpu_node(const char *name, const struct config_node *node,
		    const char *value, void *arg)
{
	int cpus = *(int *)arg;
	char err[256];
	cpu_set_t set;
	long n;

	if (!config_parse_long(name, 0, TOPOLOGY_MAX - 1, &n) ||
	    !isdigit((unsigned char)name[0])) {
		cmd_fail("unknown key vcpu.%s (want vcpu.N.cpuset)", name);
		return 0;
	}
	if (cpus > 0 && n >= cpus) {
		cmd_fail("vcpu.%ld: the VM has %d vCPU%s (0-%d)", n, cpus,
			 cpus > 1 ? "s" : "", cpus - 1);
		return 0;
	}
	if (value != NULL) {
		cmd_fail("unknown key vcpu.%ld (want vcpu.%ld.cpuset)", n, n);
		return 0;
	}
	value = get_config_value_node(node, "cpuset");
	if (value != NULL &&
	    config_parse_cpulist(value, &set, err, sizeof(err)) != 0)
		cmd_fail("vcpu.%ld.cpuset: %s", n, err);
	return 0;
}

/*
 * vcpu.N.cpuset (-p): N a vCPU of this VM, a well-formed CPU list.  (That
 * the host has those CPUs is checked before the VM is built, not here:
 * a configuration dump does not depend on the host.)
 */
static void
cmd_check_vcpus(int cpus)
{
	const struct config_node *vcpu = find_config_node("vcpu");

	if (vcpu != NULL)
		walk_config_nodes(vcpu, cmd_check_vcpu_node, &cpus);
}

static unsigned int
cmd_bits_for(int n)
{
	unsigned int b = 0;

	while ((1 << b) < n)
		b++;
	return b;
}

/*
 * -a (x86.x2apic=false) leaves the guest an xAPIC, whose 8-bit ids stop
 * at 254 (255 is broadcast); the ids pack thread, core and socket fields
 * as libvmmapi assigns them.
 */
static void
cmd_check_xapic(int sockets, int cores, int threads)
{
	unsigned int smt = cmd_bits_for(threads), core = cmd_bits_for(cores);
	const char *v = get_config_value("x86.x2apic");
	unsigned long maxid;
	bool ok;

	/* Unset means x2APIC; a malformed value is cmd_check_bools' line. */
	if (v == NULL || parse_config_bool(v, &ok) || !ok)
		return;
	maxid = ((unsigned long)(sockets - 1) << (smt + core)) |
		((unsigned long)(cores - 1) << smt) |
		(unsigned long)(threads - 1);
	if (maxid > 254)
		cmd_fail(
		    "x86.x2apic=false (-a): this topology needs APIC ids up "
		    "to %lu, an xAPIC stops at 254",
		    maxid);
}

/*
 * Checks the final tree, whichever of -k, -o or a flag set each key;
 * every problem is reported, one line each.
 */
static void
cmd_check_tree(void)
{
	int cpus = 0, sockets, cores, threads;
	char err[512], n[16];
	const char *v;
	uint64_t bytes = 0;
	bool mem_ok = false;

	if (config_check_expansions(err, sizeof(err)) != 0) {
		/* The values below cannot be read. */
		cmd_fail("%s", err);
		return;
	}
	cmd_check_name();
	if (config_get_topology(&cpus, &sockets, &cores, &threads, err,
				sizeof(err)) != 0) {
		cmd_fail("%s", err);
		cpus = 0;
	} else {
		snprintf(n, sizeof(n), "%d", cpus);
		set_config_value_if_unset("cpus", n);
	}
	if (cpus > 0)
		cmd_check_xapic(sockets, cores, threads);
	v = get_config_value("memory.size");
	if (v == NULL)
		cmd_fail("memory.size is not set");
	else if (bhyve_parse_memsize(v, &bytes) != 0)
		cmd_fail("invalid memory size '%s' (memory.size)", v);
	else
		mem_ok = true;
	v = get_config_value("uuid");
	if (v != NULL && !cmd_uuid_valid(v))
		cmd_fail("invalid UUID '%s' (uuid)", v);
	cmd_check_gdb();
	v = get_config_value("lpc.fwcfg");
	if (v != NULL && strcmp(v, "bhyve") != 0 && strcmp(v, "qemu") != 0)
		cmd_fail("invalid lpc.fwcfg '%s' (bhyve or qemu)", v);
	cmd_check_lpc();
	cmd_check_vcpus(cpus);
	if (pci_check_tree(err, sizeof(err)) != 0)
		cmd_fail("%s", err);
	cmd_check_bools();
	/* Domains are checked against a memory size and vCPU count that
	 * are themselves valid (their errors were reported above). */
	if (mem_ok && cpus > 0)
		cmd_check_numa(bytes, cpus);
}

/* bhyve_init_config()'s defaults, applied where nothing set the key. */
static void
cmd_defaults(void)
{
	const char *v;

	/* bhyve's compatibility aliases: "bootrom" is lpc.bootrom. */
	v = get_config_value("bootrom");
	if (v != NULL)
		set_config_value_if_unset("lpc.bootrom", v);
	v = get_config_value("bootvars");
	if (v != NULL)
		set_config_value_if_unset("lpc.bootvars", v);
	set_config_value_if_unset("memory.size", "256M");
	/* ACPI tables are always built, as FreeBSD 15 does; -A is a no-op. */
	set_config_value_if_unset("acpi_tables", "true");
	/* A boot ROM (OVMF) takes the tables from QEMU's fw_cfg instead. */
	set_config_value_if_unset("acpi_tables_in_memory",
				  platform_firmware_is_uefi() ? "false"
							      : "true");
	set_config_value_if_unset("x86.strictmsr", "true");
	set_config_value_if_unset(
	    "lpc.fwcfg", platform_firmware_is_uefi() ? "qemu" : "bhyve");
}

int
bhyve_parse_args(int argc, char **argv)
{
	const struct cmd_flag *flag;
	int c, rc;

	cmd_errors = 0;
	/* glibc re-initialises getopt() when optind is 0. */
	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, CMDLINE_OPTSTRING)) != -1) {
		if (c == ':') {
			cmd_fail("option -%c needs an argument", optopt);
			continue;
		}
		if (c == '?') {
			cmd_fail("unknown option -%c (see bhyve -h)",
				 isprint(optopt) ? optopt : '?');
			continue;
		}
		if (c == 'h') {
			/* After a reported error, -h does not turn the run
			 * into a success ("bhyve -m 2Q -h" exits 4 with the
			 * error lines alone). */
			if (cmd_errors > 0)
				return BHYVE_ARGS_ERROR;
			cmd_usage(stdout);
			return BHYVE_ARGS_EXIT0;
		}
		flag = cmd_find_flag(c);
		if (flag != NULL)
			rc = flag->key ? cmd_set(flag->key, flag->value) : 0;
		else
			rc = cmd_option_arg(c, optarg);
		if (rc == BHYVE_ARGS_EXIT0)
			return rc;
	}
	if (argc - optind > 1)
		cmd_fail("unexpected argument '%s' after VM name '%s' "
			 "(options go before the name)",
			 argv[optind + 1], argv[optind]);
	if (argc - optind >= 1 && set_config_value("name", argv[optind]) != 0)
		cmd_fail("cannot set VM name '%s'", argv[optind]);
	cmd_defaults();
	cmd_check_tree();
	return cmd_errors > 0 ? BHYVE_ARGS_ERROR : 0;
}

static int
bhyve_note_bootindex(const char *name, const struct config_node *node,
		     const char *value, void *arg)
{
	char *path = arg;
	size_t len = strlen(path);

	if (value != NULL) {
		if (strcmp(name, "bootindex") == 0 &&
		    platform_firmware_is_uefi())
			notice("%s.bootindex has no effect: beehive passes no "
			       "boot order to the boot ROM; the firmware "
			       "follows its own boot variables",
			       path);
		else if (strcmp(name, "bootindex") == 0)
			notice("%s.bootindex has no effect: beehive boots "
			       "boot.kernel directly, without firmware",
			       path);
		return 0;
	}
	if (len + strlen(name) + 2 > 64)
		return 0;
	snprintf(path + len, 64 - len, ".%s", name);
	walk_config_nodes(node, bhyve_note_bootindex, path);
	path[len] = '\0';
	return 0;
}

void
bhyve_note_unsupported(void)
{
	const struct config_node *pci = find_config_node("pci");
	char path[64] = "pci";

	if (get_config_bool_default("suspend_at_boot", false))
		notice("suspend_at_boot (-d) has no effect: the vCPUs start "
		       "at once (pause them with bhyvectl)");
	if (get_config_value("keyboard.layout") != NULL)
		notice("keyboard.layout (-K) has no effect: the fbuf "
		       "console's keyboard is US only");
	if (pci != NULL)
		walk_config_nodes(pci, bhyve_note_bootindex, path);
}
