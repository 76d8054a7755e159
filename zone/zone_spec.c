/*
 * Reading and checking a zone spec (zone_spec.h).
 */
#include "zone_spec.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "registry.h"

/* Every zone.* key; anything else under zone. is a typo. */
static const char *const zone_keys[] = {
    "zone.user",	  "zone.group",	     "zone.root",
    "zone.cgroup.parent", "zone.memory.max", "zone.memory.swap.max",
    "zone.cpu.weight",	  "zone.cpu.max",    "zone.pids.max",
    "zone.io.weight",	  "zone.allow",	     "zone.netns",
    "zone.seccomp",	  "zone.bhyve",
};

/* Device nodes every VM process uses (besides those its keys name). */
static const char *const zone_base_devices[] = {
    "/dev/kvm", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
};

typedef int (*zone_leaf_fn)(const char *path, const char *value, void *arg);

struct zone_walk {
	char path[512];
	size_t len;
	zone_leaf_fn fn;
	void *arg;
};

static int
zone_walk_cb(const char *name, const struct config_node *node,
	     const char *value, void *arg)
{
	struct zone_walk *w = arg;
	size_t len = w->len, nlen = strlen(name);
	int rc;

	if (len + nlen + 2 > sizeof(w->path))
		return 0;
	if (len > 0)
		w->path[w->len++] = '.';
	memcpy(w->path + w->len, name, nlen + 1);
	w->len += nlen;
	if (config_node_is_leaf(node))
		rc = w->fn(w->path, value ? value : "", w->arg);
	else
		rc = walk_config_nodes(node, zone_walk_cb, w);
	w->len = len;
	w->path[len] = '\0';
	return rc;
}

/* Calls fn for every leaf under prefix ("" for all) with its full path. */
static int
zone_walk_leaves(const char *prefix, zone_leaf_fn fn, void *arg)
{
	struct zone_walk w = {.fn = fn, .arg = arg};
	const struct config_node *n = NULL;

	if (prefix[0] != '\0') {
		n = find_config_node(prefix);
		if (n == NULL)
			return 0;
		snprintf(w.path, sizeof(w.path), "%s", prefix);
		w.len = strlen(w.path);
	}
	return walk_config_nodes(n, zone_walk_cb, &w);
}

struct zone_err {
	char *buf;
	size_t len;
};

int
zone_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int __attribute__((format(printf, 2, 3)))
zone_fail(struct zone_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -1;
}

static int
zone_check_key(const char *path, const char *value, void *arg)
{
	for (size_t i = 0; i < sizeof(zone_keys) / sizeof(zone_keys[0]); i++)
		if (strcmp(path, zone_keys[i]) == 0)
			return 0;
	return zone_fail(arg, "unknown zone key '%s'", path);
}

/* A user or group given by name or number. */
static int
zone_spec_user(struct zone_spec *z, struct zone_err *e)
{
	const char *user = get_config_value("zone.user");
	const char *group = get_config_value("zone.group");
	struct passwd *pw;
	struct group *gr;
	int n = ZONE_MAX_GROUPS;

	if (user == NULL || user[0] == '\0')
		return zone_fail(e, "zone.user: not set (the unprivileged "
				    "user the VM runs as)");
	pw = getpwnam(user);
	if (pw == NULL)
		return zone_fail(e, "zone.user '%s': no such user", user);
	z->uid = pw->pw_uid;
	z->gid = pw->pw_gid;
	if (group != NULL) {
		gr = getgrnam(group);
		if (gr == NULL)
			return zone_fail(e, "zone.group '%s': no such group",
					 group);
		z->gid = gr->gr_gid;
	}
	if (z->uid == 0 || z->gid == 0)
		return zone_fail(e, "zone.user/zone.group: the VM may not "
				    "run as root (uid or gid 0)");
	/* The user's own supplementary groups (kvm, for /dev/kvm). */
	if (getgrouplist(pw->pw_name, z->gid, z->groups, &n) < 0)
		return zone_fail(e, "zone.user '%s': more than %d groups", user,
				 ZONE_MAX_GROUPS);
	z->ngroups = n;
	for (int i = 0; i < z->ngroups; i++)
		if (z->groups[i] == 0)
			return zone_fail(e, "zone.user '%s': is in group 0",
					 user);
	return 0;
}

/* An unsigned decimal within [lo, hi]; false if malformed. */
static bool
zone_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *v >= lo && *v <= hi;
}

/* "max" or bytes with an optional K, M, G or T suffix (0 if zero_ok). */
static bool
zone_parse_bytes(const char *s, char *out, size_t outlen, bool zero_ok)
{
	char num[32], *end;
	uint64_t v, mult = 1;
	size_t n = strlen(s);

	if (strcmp(s, "max") == 0) {
		snprintf(out, outlen, "max");
		return true;
	}
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	end = strchr("kKmMgGtT", num[n - 1]) ? &num[n - 1] : NULL;
	if (end != NULL) {
		int shift = (int)(strchr("kmgt", *end | 0x20) - "kmgt" + 1);

		mult = 1ULL << (10 * shift);
		*end = '\0';
	}
	if (!zone_parse_u64(num, zero_ok ? 0 : 1, UINT64_MAX / mult, &v))
		return false;
	snprintf(out, outlen, "%" PRIu64, v * mult);
	return true;
}

/* cpu.max: "max", "QUOTA" or "QUOTA PERIOD" (microseconds). */
static bool
zone_parse_cpu_max(const char *s, char *out, size_t outlen)
{
	char quota[24];
	const char *sp = strchr(s, ' ');
	uint64_t q, p = 100000;
	size_t n = sp ? (size_t)(sp - s) : strlen(s);

	if (n == 0 || n >= sizeof(quota))
		return false;
	memcpy(quota, s, n);
	quota[n] = '\0';
	if (sp != NULL && !zone_parse_u64(sp + 1, 1000, 1000000, &p))
		return false;
	if (strcmp(quota, "max") == 0) {
		snprintf(out, outlen, "max %" PRIu64, p);
		return true;
	}
	if (!zone_parse_u64(quota, 1000, UINT64_MAX / 2, &q))
		return false;
	snprintf(out, outlen, "%" PRIu64 " %" PRIu64, q, p);
	return true;
}

static int
zone_spec_limits(struct zone_limits *l, struct zone_err *e)
{
	const char *v;
	uint64_t n;

	if ((v = get_config_value("zone.memory.max")) != NULL &&
	    !zone_parse_bytes(v, l->memory_max, sizeof(l->memory_max), false))
		return zone_fail(e,
				 "zone.memory.max '%s': want max or bytes "
				 "with an optional K, M, G or T suffix",
				 v);
	if ((v = get_config_value("zone.memory.swap.max")) != NULL &&
	    !zone_parse_bytes(v, l->swap_max, sizeof(l->swap_max), true))
		return zone_fail(e,
				 "zone.memory.swap.max '%s': want max or "
				 "bytes with an optional K, M, G or T suffix",
				 v);
	if ((v = get_config_value("zone.cpu.weight")) != NULL) {
		if (!zone_parse_u64(v, 1, 10000, &n))
			return zone_fail(e,
					 "zone.cpu.weight '%s': want 1 to "
					 "10000",
					 v);
		snprintf(l->cpu_weight, sizeof(l->cpu_weight), "%" PRIu64, n);
	}
	if ((v = get_config_value("zone.cpu.max")) != NULL &&
	    !zone_parse_cpu_max(v, l->cpu_max, sizeof(l->cpu_max)))
		return zone_fail(e,
				 "zone.cpu.max '%s': want max, QUOTA or "
				 "'QUOTA PERIOD' in microseconds (quota "
				 ">= 1000, period 1000 to 1000000)",
				 v);
	if ((v = get_config_value("zone.pids.max")) != NULL) {
		if (strcmp(v, "max") != 0 && !zone_parse_u64(v, 1, 4194304, &n))
			return zone_fail(e,
					 "zone.pids.max '%s': want max or "
					 "1 to 4194304",
					 v);
		snprintf(l->pids_max, sizeof(l->pids_max), "%s", v);
	}
	if ((v = get_config_value("zone.io.weight")) != NULL) {
		if (!zone_parse_u64(v, 1, 10000, &n))
			return zone_fail(e,
					 "zone.io.weight '%s': want 1 to "
					 "10000",
					 v);
		snprintf(l->io_weight, sizeof(l->io_weight), "default %" PRIu64,
			 n);
	}
	return 0;
}

/* Adds path (absolute) once; an existing entry becomes rw if asked. */
static int
zone_add_path(struct zone_spec *z, const char *path, enum zone_path_kind kind,
	      bool ro, const char *why, struct zone_err *e)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return zone_fail(e, "%s '%s': %s", why, path, strerror(errno));
	if (kind == ZONE_PATH_DEVICE && !S_ISCHR(st.st_mode) &&
	    !S_ISBLK(st.st_mode))
		return zone_fail(e, "%s '%s': not a device node", why, path);
	for (int i = 0; i < z->npaths; i++) {
		if (strcmp(z->paths[i].path, path) == 0) {
			z->paths[i].ro = z->paths[i].ro && ro;
			return 0;
		}
	}
	if (z->npaths == ZONE_MAX_PATHS)
		return zone_fail(e, "more than %d host paths", ZONE_MAX_PATHS);
	if (strlen(path) >= sizeof(z->paths[0].path))
		return zone_fail(e, "%s: path too long", why);
	snprintf(z->paths[z->npaths].path, PATH_MAX, "%s", path);
	z->paths[z->npaths].kind = kind;
	z->paths[z->npaths].ro = ro;
	z->npaths++;
	return 0;
}

/*
 * A path the VM's key names, made absolute in the tree: inside the zone
 * the working directory is /, so a relative path would miss.
 */
static int
zone_add_key_path(struct zone_spec *z, const char *key, const char *value,
		  bool ro, struct zone_err *e)
{
	char abs[PATH_MAX], cwd[PATH_MAX];

	if (value[0] == '\0')
		return zone_fail(e, "%s: empty path", key);
	if (value[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, value) >=
			(int)sizeof(abs))
			return zone_fail(e, "%s '%s': path too long", key,
					 value);
		if (set_config_value(key, abs) != 0)
			return zone_fail(e, "%s: cannot rewrite", key);
		value = get_config_value(key);
	}
	return zone_add_path(z, value, ZONE_PATH_FILE, ro, key, e);
}

/* The directory a Unix socket is created in: the zone shares it rw. */
static int
zone_add_socket_dir(struct zone_spec *z, const char *key, const char *sock,
		    struct zone_err *e)
{
	char dir[PATH_MAX];
	char *slash;

	if (sock[0] != '/')
		return zone_fail(e,
				 "%s '%s': a zone needs an absolute "
				 "socket path",
				 key, sock);
	snprintf(dir, sizeof(dir), "%s", sock);
	slash = strrchr(dir, '/');
	if (slash == dir)
		return zone_fail(e,
				 "%s '%s': a socket directly in / cannot "
				 "be shared",
				 key, sock);
	*slash = '\0';
	return zone_add_path(z, dir, ZONE_PATH_FILE, false, key, e);
}

/* The value of the sibling leaf 'name' of key (same parent node). */
static const char *
zone_sibling(const char *key, const char *name)
{
	char path[512];
	const char *dot = strrchr(key, '.');
	int n = dot ? (int)(dot - key) : 0;

	snprintf(path, sizeof(path), "%.*s%s%s", n, key, n ? "." : "", name);
	return get_config_value(path);
}

static bool
zone_sibling_bool(const char *key, const char *name)
{
	const char *v = zone_sibling(key, name);
	bool ok;

	return v != NULL && parse_config_bool(v, &ok) && ok;
}

/* pci.B.S.F's device model, for a key below it. */
static const char *
zone_pci_device(const char *key)
{
	char path[64];
	unsigned b, s, f;

	if (sscanf(key, "pci.%u.%u.%u.", &b, &s, &f) != 3)
		return NULL;
	snprintf(path, sizeof(path), "pci.%u.%u.%u.device", b, s, f);
	return get_config_value(path);
}

/* A COM port's backend: a tty device, a Unix socket, or nothing. */
static int
zone_add_com(struct zone_spec *z, const char *key, const char *v,
	     struct zone_err *e)
{
	char sock[PATH_MAX];
	const char *comma;

	if (strncmp(v, "/dev/nmdm", 9) == 0)
		return 0; /* a pty of the zone's own devpts */
	if (strncmp(v, "/dev/", 5) == 0)
		return zone_add_path(z, v, ZONE_PATH_DEVICE, false, key, e);
	if (strncmp(v, "socket,", 7) != 0)
		return 0; /* stdio, tcp=: no host path */
	comma = strchr(v + 7, ',');
	snprintf(sock, sizeof(sock), "%.*s",
		 comma ? (int)(comma - v - 7) : (int)strlen(v + 7), v + 7);
	return zone_add_socket_dir(z, key, sock, e);
}

/*
 * A tap backend: bhyvezone opens the tap itself, as root and in the
 * host's network namespace, and hands bhyve the descriptor (tapfd), so
 * the zone needs neither /dev/net/tun nor the right to attach.
 */
static int
zone_add_tap(struct zone_spec *z, const char *key, const char *v,
	     struct zone_err *e)
{
	const char *name = strncmp(v, "tap=", 4) == 0 ? v + 4 : v;
	const char *vhost = zone_sibling(key, "vhost");
	struct zone_tap *t;
	bool ok;

	if (strncmp(v, "tap", 3) != 0 && strncmp(v, "vmnet", 5) != 0)
		return 0; /* slirp: no host device */
	if (name[0] == '\0' || strlen(name) >= sizeof(t->name) ||
	    strchr(name, '/') != NULL)
		return zone_fail(e, "%s '%s': invalid tap name", key, v);
	if (z->ntaps == ZONE_MAX_TAPS)
		return zone_fail(e, "more than %d taps", ZONE_MAX_TAPS);
	t = &z->taps[z->ntaps++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->node, sizeof(t->node), "%.*s",
		 (int)(strrchr(key, '.') - key), key);
	/* vhost-net is on unless vhost=false, where the host has it. */
	if ((vhost == NULL || parse_config_bool(vhost, &ok)) &&
	    access("/dev/vhost-net", F_OK) == 0)
		return zone_add_path(z, "/dev/vhost-net", ZONE_PATH_DEVICE,
				     false, key, e);
	return 0;
}

/* One leaf of the VM's configuration: a host path it names, if any. */
static int
zone_collect_leaf(const char *key, const char *v, void *arg)
{
	struct zone_spec *z = ((void **)arg)[0];
	struct zone_err *e = ((void **)arg)[1];
	const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
	const char *dev;

	if (strncmp(key, "zone.", 5) == 0)
		return 0;
	if (strncmp(key, "lpc.com", 7) == 0 && strcmp(leaf, "path") == 0)
		return zone_add_com(z, key, v, e);
	if (strcmp(key, "lpc.bootrom") == 0 ||
	    strcmp(key, "boot.kernel") == 0 || strcmp(key, "boot.initrd") == 0)
		return zone_add_key_path(z, key, v, true, e);
	if (strncmp(key, "fwcfg.user.", 11) == 0 && strcmp(leaf, "file") == 0)
		return zone_add_key_path(z, key, v, true, e);
	if (strcmp(key, "lpc.bootvars") == 0)
		return zone_add_key_path(z, key, v, false, e);
	if (strcmp(key, "gdb.socket") == 0)
		return zone_add_socket_dir(z, key, v, e);
	if (strncmp(key, "pci.", 4) != 0)
		return 0;
	dev = zone_pci_device(key);
	if (strcmp(leaf, "backend") == 0)
		return zone_add_tap(z, key, v, e);
	if (strcmp(leaf, "path") != 0)
		return 0;
	if (dev != NULL && strcmp(dev, "virtio-console") == 0)
		return zone_add_socket_dir(z, key, v, e);
	/* Read-only disks and CD media stay read-only in the zone. */
	return zone_add_key_path(
	    z, key, v,
	    zone_sibling_bool(key, "ro") ||
		(zone_sibling(key, "type") != NULL &&
		 strcmp(zone_sibling(key, "type"), "cd") == 0),
	    e);
}

/* zone.allow: "PATH[:ro],PATH[:ro]..." */
static int
zone_spec_allow(struct zone_spec *z, struct zone_err *e)
{
	const char *v = get_config_value("zone.allow");
	char list[4096], *save = NULL, *tok;

	if (v == NULL)
		return 0;
	if (strlen(v) >= sizeof(list))
		return zone_fail(e, "zone.allow: too long");
	snprintf(list, sizeof(list), "%s", v);
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);
		bool ro = n > 3 && strcmp(tok + n - 3, ":ro") == 0;
		struct stat st;

		if (ro)
			tok[n - 3] = '\0';
		if (tok[0] != '/')
			return zone_fail(e,
					 "zone.allow '%s': not an absolute "
					 "path",
					 tok);
		if (stat(tok, &st) != 0)
			return zone_fail(e, "zone.allow '%s': %s", tok,
					 strerror(errno));
		if (zone_add_path(z, tok,
				  S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
				      ? ZONE_PATH_DEVICE
				      : ZONE_PATH_FILE,
				  ro, "zone.allow", e) != 0)
			return -1;
	}
	return 0;
}

static int
zone_spec_paths(struct zone_spec *z, struct zone_err *e)
{
	void *arg[2] = {z, e};
	size_t n = sizeof(zone_base_devices) / sizeof(zone_base_devices[0]);

	/* Those the host has: without /dev/kvm, bhyve says so itself. */
	for (size_t i = 0; i < n; i++)
		if (access(zone_base_devices[i], F_OK) == 0 &&
		    zone_add_path(z, zone_base_devices[i], ZONE_PATH_DEVICE,
				  false, "a VM device", e) != 0)
			return -1;
	if (zone_add_path(z, z->bhyve, ZONE_PATH_FILE, true, "zone.bhyve", e) !=
	    0)
		return -1;
	if (zone_walk_leaves("", zone_collect_leaf, arg) != 0)
		return -1;
	return zone_spec_allow(z, e);
}

/* The VM's name, run directory, root and program. */
static int
zone_spec_places(struct zone_spec *z, struct zone_err *e)
{
	const char *v = get_config_value("name");
	char self[PATH_MAX];
	ssize_t n;

	if (v == NULL || !registry_name_valid(v) || strlen(v) > ZONE_NAME_MAX)
		return zone_fail(e, "name: the spec must name the VM (name=, "
				    "no '/' or spaces)");
	snprintf(z->name, sizeof(z->name), "%s", v);
	if (registry_rundir(z->rundir, sizeof(z->rundir)) != 0)
		return zone_fail(e, "rundir: too long");
	v = get_config_value("zone.root");
	if (v != NULL && v[0] != '/')
		return zone_fail(e, "zone.root '%s': not an absolute path", v);
	if (snprintf(z->root, sizeof(z->root), "%s", v ? v : "") >=
		(int)sizeof(z->root) ||
	    (v == NULL && snprintf(z->root, sizeof(z->root), "%s-zones/%s",
				   z->rundir, z->name) >= (int)sizeof(z->root)))
		return zone_fail(e, "zone.root: path too long");
	v = get_config_value("zone.cgroup.parent");
	if (v != NULL && v[0] != '/')
		return zone_fail(e,
				 "zone.cgroup.parent '%s': not an absolute "
				 "path",
				 v);
	snprintf(z->cgparent, sizeof(z->cgparent), "%s", v ? v : "");
	v = get_config_value("zone.bhyve");
	if (v == NULL) {
		/* The bhyve built or installed beside bhyvezone. */
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return zone_fail(e, "zone.bhyve: cannot find bhyve");
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(z->bhyve, sizeof(z->bhyve), "%.*s/bhyve",
			 (int)(sizeof(z->bhyve) - 8), self);
	} else if (v[0] != '/') {
		return zone_fail(e, "zone.bhyve '%s': not an absolute path", v);
	} else {
		snprintf(z->bhyve, sizeof(z->bhyve), "%s", v);
	}
	return 0;
}

static int
zone_spec_bool(const char *key, bool def, bool *out, struct zone_err *e)
{
	const char *v = get_config_value(key);
	bool ok = true;

	*out = v ? parse_config_bool(v, &ok) : def;
	return ok ? 0 : zone_fail(e, "%s '%s': want on or off", key, v);
}

/* Shorter paths first: a directory's bind mount must not cover the
 * mounts of the paths below it. */
static int
zone_path_cmp(const void *a, const void *b)
{
	size_t la = strlen(((const struct zone_path *)a)->path);
	size_t lb = strlen(((const struct zone_path *)b)->path);

	return la < lb ? -1 : la > lb;
}

int
zone_spec_load(const char *file, struct zone_spec *z, char *err, size_t errlen)
{
	struct zone_err e = {err, errlen};

	memset(z, 0, sizeof(*z));
	if (load_config_file(file, err, errlen) != 0)
		return -1;
	if (config_check_expansions(err, errlen) != 0)
		return -1;
	if (zone_walk_leaves("zone", zone_check_key, &e) != 0 ||
	    zone_spec_bool("zone.netns", false, &z->netns, &e) != 0 ||
	    zone_spec_bool("zone.seccomp", true, &z->seccomp, &e) != 0 ||
	    zone_spec_places(z, &e) != 0 || zone_spec_user(z, &e) != 0 ||
	    zone_spec_limits(&z->limits, &e) != 0 ||
	    zone_spec_paths(z, &e) != 0)
		return -1;
	qsort(z->paths, (size_t)z->npaths, sizeof(z->paths[0]), zone_path_cmp);
	return 0;
}

static int
zone_unset_leaf(const char *path, const char *value, void *arg)
{
	char(*keys)[128] = ((void **)arg)[0];
	int *n = ((void **)arg)[1];

	if (*n < 32)
		snprintf(keys[(*n)++], 128, "%s", path);
	return 0;
}

int
zone_spec_write_vm_config(const struct zone_spec *z, int fd)
{
	char keys[32][128];
	int n = 0;
	void *arg[2] = {keys, &n};
	FILE *fp;

	zone_walk_leaves("zone", zone_unset_leaf, arg);
	for (int i = 0; i < n; i++)
		unset_config_value(keys[i]);
	/* bhyve inside runs as another user: name the run dir outright. */
	if (set_config_value("rundir", z->rundir) != 0 ||
	    set_config_bool("zone.seccomp", z->seccomp) != 0)
		return -1;
	fp = fdopen(fd, "w");
	if (fp == NULL)
		return -1;
	dump_config(fp);
	return fclose(fp) == 0 ? 0 : -1;
}
