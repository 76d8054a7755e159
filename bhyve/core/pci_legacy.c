/*
 * "-s slot,model[,opts]": slot parsing, the registry of PCI device models
 * the command line accepts, and the legacy option converters of every
 * model bhyve(8) documents, producing the keys bhyve's devices read.
 */
#include "pci_legacy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PCI Local Bus 3.0, 3.2.2.3.2: 256 buses, 32 devices, 8 functions. */
#define PCI_MAX_BUS  255
#define PCI_MAX_SLOT 31
#define PCI_MAX_FUNC 7

/* bhyve's limits for multi-port models. */
#define AHCI_MAX_PORTS	 32
#define VTCON_MAX_PORTS	 16
#define XHCI_MAX_DEVICES 32

SET_DECLARE(pci_legacy_models, const struct pci_legacy_model);

static char pci_legacy_errbuf[256];

void
pci_legacy_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pci_legacy_errbuf, sizeof(pci_legacy_errbuf), fmt, ap);
	va_end(ap);
}

/* Sets one option, failing (not aborting) on a malformed key. */
static int
pci_legacy_set(struct config_node *nvl, const char *name, const char *value)
{
	if (name[0] == '\0') {
		pci_legacy_error("empty option name");
		return -1;
	}
	if (set_config_value_node(nvl, name, value) != 0) {
		pci_legacy_error("invalid option '%s'", name);
		return -1;
	}
	return 0;
}

/* A writable copy of opts for strsep(), or NULL after recording why. */
static char *
pci_legacy_strdup(const char *opts)
{
	char *copy = strdup(opts);

	if (copy == NULL)
		pci_legacy_error("out of memory");
	return copy;
}

/*
 * A copy of the first comma-separated option of opts; *rest points past
 * its comma, or is NULL when it is the only one.
 */
static char *
pci_legacy_first(const char *opts, const char **rest)
{
	const char *comma = strchr(opts, ',');
	char *first;

	first = strndup(opts, comma ? (size_t)(comma - opts) : strlen(opts));
	if (first == NULL)
		pci_legacy_error("out of memory");
	*rest = comma ? comma + 1 : NULL;
	return first;
}

/* Creates the child node "<prefix>.<n>" of nvl (ports, USB slots). */
static struct config_node *
pci_legacy_child(struct config_node *nvl, const char *prefix, int n)
{
	struct config_node *child;
	char node[24];

	snprintf(node, sizeof(node), "%s.%d", prefix, n);
	child = create_relative_config_node(nvl, node);
	if (child == NULL)
		pci_legacy_error("cannot create %s", node);
	return child;
}

/* Creates "port.<n>" of a model that has at most max ports. */
static struct config_node *
pci_legacy_port(struct config_node *nvl, int n, int max)
{
	if (n >= max) {
		pci_legacy_error("more than %d ports", max);
		return NULL;
	}
	return pci_legacy_child(nvl, "port", n);
}

int
pci_legacy_generic_config(struct config_node *nvl, const char *opts)
{
	char *copy, *cur, *tok, *eq;
	int rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = pci_legacy_strdup(opts);
	if (copy == NULL)
		return -1;
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq = '\0';
			rc = pci_legacy_set(nvl, tok, eq + 1);
		} else {
			rc = pci_legacy_set(nvl, tok, "true");
		}
	}
	free(copy);
	return rc;
}

/* The first option is a positional 'key' value; the rest are generic. */
static int
pci_legacy_first_then_generic(struct config_node *nvl, const char *opts,
			      const char *key)
{
	const char *rest;
	char *first;
	int rc;

	if (opts == NULL)
		return 0;
	first = pci_legacy_first(opts, &rest);
	if (first == NULL)
		return -1;
	if (first[0] == '\0') {
		pci_legacy_error("missing %s", key);
		rc = -1;
	} else {
		rc = pci_legacy_set(nvl, key, first);
	}
	free(first);
	if (rc == 0 && rest != NULL)
		rc = pci_legacy_generic_config(nvl, rest);
	return rc;
}

int
pci_legacy_blockif_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_first_then_generic(nvl, opts, "path");
}

int
pci_legacy_netbe_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_first_then_generic(nvl, opts, "backend");
}

int
pci_legacy_path_config(struct config_node *nvl, const char *opts)
{
	if (opts == NULL)
		return 0;
	return pci_legacy_set(nvl, "path", opts);
}

/* illumos viona: the first option names the VNIC. */
static int
pci_legacy_viona_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_first_then_generic(nvl, opts, "vnic");
}

/* virtio-scsi: the first option (no '=') is the target device. */
static int
pci_legacy_vtscsi_config(struct config_node *nvl, const char *opts)
{
	if (opts != NULL && opts[0] != '\0' &&
	    strcspn(opts, ",=") < strcspn(opts, ","))
		return pci_legacy_generic_config(nvl, opts);
	return pci_legacy_first_then_generic(nvl, opts, "dev");
}

/* nvme: "ram=MiB[,opts]" for a RAM namespace, else a block device. */
static int
pci_legacy_nvme_config(struct config_node *nvl, const char *opts)
{
	if (opts != NULL && strncmp(opts, "ram=", 4) == 0)
		return pci_legacy_generic_config(nvl, opts);
	return pci_legacy_blockif_config(nvl, opts);
}

/* virtio-9p: "sharename=path[,ro]". */
static int
pci_legacy_vt9p_config(struct config_node *nvl, const char *opts)
{
	const char *rest;
	char *first, *eq;
	int rc;

	if (opts == NULL) {
		pci_legacy_error("needs sharename=path");
		return -1;
	}
	first = pci_legacy_first(opts, &rest);
	if (first == NULL)
		return -1;
	eq = strchr(first, '=');
	if (eq == NULL || eq == first || eq[1] == '\0') {
		pci_legacy_error("needs sharename=path, got '%s'", first);
		free(first);
		return -1;
	}
	*eq = '\0';
	rc = pci_legacy_set(nvl, "sharename", first);
	if (rc == 0)
		rc = pci_legacy_set(nvl, "path", eq + 1);
	free(first);
	if (rc == 0 && rest != NULL)
		rc = pci_legacy_generic_config(nvl, rest);
	return rc;
}

/* passthru: "bus/slot/func" of a host device, or a /dev path. */
static int
pci_legacy_passthru_config(struct config_node *nvl, const char *opts)
{
	unsigned b, s, f;
	const char *rest;
	char *first, tail;
	int rc = 0;

	if (opts == NULL) {
		pci_legacy_error("needs the host device as bus/slot/func");
		return -1;
	}
	first = pci_legacy_first(opts, &rest);
	if (first == NULL)
		return -1;
	if (first[0] == '/') {
		rc = pci_legacy_set(nvl, "path", first);
	} else if (sscanf(first, "%u/%u/%u%c", &b, &s, &f, &tail) == 3 &&
		   first[0] >= '0' && first[0] <= '9' && b <= PCI_MAX_BUS &&
		   s <= PCI_MAX_SLOT && f <= PCI_MAX_FUNC) {
		char v[8];

		snprintf(v, sizeof(v), "%u", b);
		rc = pci_legacy_set(nvl, "bus", v);
		snprintf(v, sizeof(v), "%u", s);
		rc = rc ? rc : pci_legacy_set(nvl, "slot", v);
		snprintf(v, sizeof(v), "%u", f);
		rc = rc ? rc : pci_legacy_set(nvl, "func", v);
	} else {
		pci_legacy_error(
		    "invalid host device '%s' (want bus/slot/func)", first);
		rc = -1;
	}
	free(first);
	if (rc == 0 && rest != NULL)
		rc = pci_legacy_generic_config(nvl, rest);
	return rc;
}

int
pci_legacy_vtcon_config(struct config_node *nvl, const char *opts)
{
	char *copy, *cur, *tok, *eq;
	struct config_node *port;
	int n = 0, rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = pci_legacy_strdup(opts);
	if (copy == NULL)
		return -1;
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		eq = strchr(tok, '=');
		if (eq == NULL || eq == tok || eq[1] == '\0') {
			pci_legacy_error("port '%s' needs name=path", tok);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (strcmp(tok, "transport") == 0) {
			rc = pci_legacy_set(nvl, "transport", eq + 1);
			continue;
		}
		port = pci_legacy_port(nvl, n++, VTCON_MAX_PORTS);
		if (port == NULL) {
			rc = -1;
			break;
		}
		rc = pci_legacy_set(port, "name", tok);
		if (rc == 0)
			rc = pci_legacy_set(port, "path", eq + 1);
	}
	free(copy);
	return rc;
}

/* xhci: "tablet,..." -> slot.N.device (N from 1). */
static int
pci_legacy_xhci_config(struct config_node *nvl, const char *opts)
{
	char *copy, *cur, *tok, *eq;
	struct config_node *slot;
	int n = 1, rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = pci_legacy_strdup(opts);
	if (copy == NULL)
		return -1;
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL) {
		if (n > XHCI_MAX_DEVICES) {
			pci_legacy_error("more than %d USB devices",
					 XHCI_MAX_DEVICES);
			rc = -1;
			break;
		}
		eq = strchr(tok, '=');
		if (eq != NULL)
			*eq++ = '\0';
		slot = pci_legacy_child(nvl, "slot", n++);
		if (slot == NULL) {
			rc = -1;
			break;
		}
		rc = pci_legacy_set(slot, "device", tok);
		if (rc == 0 && eq != NULL && *eq != '\0')
			rc = pci_legacy_generic_config(slot, eq);
	}
	free(copy);
	return rc;
}

/*
 * ahci: "hd:/a.img[,opts],cd:/b.iso[,opts]" -> port.N.type / port.N.path
 * plus each port's block options.  A port's options run up to the next
 * ",hd:" or ",cd:".
 */
static int
pci_legacy_ahci_ports(struct config_node *nvl, const char *opts,
		      const char *deftype)
{
	char *copy, *cur, *next, *hd, *cd;
	struct config_node *port;
	const char *type;
	int n = 0, rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = pci_legacy_strdup(opts);
	if (copy == NULL)
		return -1;
	for (; rc == 0 && cur != NULL; cur = next) {
		type = deftype;
		if (strncmp(cur, "hd:", 3) == 0 ||
		    strncmp(cur, "cd:", 3) == 0) {
			type = cur[0] == 'h' ? "hd" : "cd";
			cur += 3;
		}
		hd = strstr(cur, ",hd:");
		cd = strstr(cur, ",cd:");
		next = (hd == NULL || (cd != NULL && cd < hd)) ? cd : hd;
		if (next != NULL)
			*next++ = '\0';
		if (cur[0] == '\0')
			continue;
		if (type == NULL) {
			pci_legacy_error("port %d: missing type (hd: or cd:) "
					 "in '%s'",
					 n, cur);
			rc = -1;
			break;
		}
		port = pci_legacy_port(nvl, n++, AHCI_MAX_PORTS);
		if (port == NULL) {
			rc = -1;
			break;
		}
		rc = pci_legacy_set(port, "type", type);
		if (rc == 0)
			rc = pci_legacy_blockif_config(port, cur);
	}
	free(copy);
	return rc;
}

static int
pci_legacy_ahci_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_ahci_ports(nvl, opts, NULL);
}

static int
pci_legacy_ahci_hd_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_ahci_ports(nvl, opts, "hd");
}

static int
pci_legacy_ahci_cd_config(struct config_node *nvl, const char *opts)
{
	return pci_legacy_ahci_ports(nvl, opts, "cd");
}

/*
 * Every model bhyve(8) (FreeBSD and illumos) documents, as known but not
 * yet implemented; device files register implemented entries that win.
 */
#define PCI_KNOWN(var, model, conv)                                            \
	static const struct pci_legacy_model var = {                           \
	    .name = model,                                                     \
	    .implemented = false,                                              \
	    .legacy_config = conv,                                             \
	};                                                                     \
	PCI_LEGACY_MODEL_SET(var)

#define PCI_KNOWN_ALIAS(var, model, as, conv)                                  \
	static const struct pci_legacy_model var = {                           \
	    .name = model,                                                     \
	    .alias = as,                                                       \
	    .implemented = false,                                              \
	    .legacy_config = conv,                                             \
	};                                                                     \
	PCI_LEGACY_MODEL_SET(var)

PCI_KNOWN(pci_known_hostbridge, "hostbridge", pci_legacy_generic_config);
PCI_KNOWN(pci_known_amd_hostbridge, "amd_hostbridge",
	  pci_legacy_generic_config);
PCI_KNOWN(pci_known_lpc, "lpc", pci_legacy_generic_config);
PCI_KNOWN(pci_known_virtio_blk, "virtio-blk", pci_legacy_blockif_config);
PCI_KNOWN(pci_known_virtio_net, "virtio-net", pci_legacy_netbe_config);
PCI_KNOWN(pci_known_virtio_viona, "virtio-net-viona", pci_legacy_viona_config);
PCI_KNOWN(pci_known_virtio_rnd, "virtio-rnd", pci_legacy_generic_config);
PCI_KNOWN(pci_known_virtio_console, "virtio-console", pci_legacy_vtcon_config);
PCI_KNOWN(pci_known_virtio_9p, "virtio-9p", pci_legacy_vt9p_config);
PCI_KNOWN(pci_known_virtio_scsi, "virtio-scsi", pci_legacy_vtscsi_config);
PCI_KNOWN(pci_known_virtio_input, "virtio-input", pci_legacy_path_config);
PCI_KNOWN(pci_known_ahci, "ahci", pci_legacy_ahci_config);
PCI_KNOWN_ALIAS(pci_known_ahci_hd, "ahci-hd", "ahci",
		pci_legacy_ahci_hd_config);
PCI_KNOWN_ALIAS(pci_known_ahci_cd, "ahci-cd", "ahci",
		pci_legacy_ahci_cd_config);
PCI_KNOWN(pci_known_nvme, "nvme", pci_legacy_nvme_config);
PCI_KNOWN(pci_known_e1000, "e1000", pci_legacy_netbe_config);
PCI_KNOWN(pci_known_fbuf, "fbuf", pci_legacy_generic_config);
PCI_KNOWN(pci_known_xhci, "xhci", pci_legacy_xhci_config);
PCI_KNOWN(pci_known_hda, "hda", pci_legacy_generic_config);
PCI_KNOWN(pci_known_uart, "uart", pci_legacy_path_config);
PCI_KNOWN(pci_known_passthru, "passthru", pci_legacy_passthru_config);

const struct pci_legacy_model *
pci_legacy_find(const char *name)
{
	const struct pci_legacy_model *const *pp, *known = NULL;

	SET_FOREACH(pp, pci_legacy_models)
	{
		if (strcmp((*pp)->name, name) != 0)
			continue;
		if ((*pp)->implemented)
			return *pp;
		known = *pp;
	}
	return known;
}

static int
pci_legacy_name_cmp(const void *a, const void *b)
{
	const struct pci_legacy_model *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

void
pci_legacy_print_models(FILE *fp)
{
	const struct pci_legacy_model **v;
	size_t i, n = SET_COUNT(pci_legacy_models);

	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = SET_BEGIN(pci_legacy_models)[i];
	qsort(v, n, sizeof(*v), pci_legacy_name_cmp);
	for (i = 0; i < n; i++) {
		/* Print each name once, from its winning entry. */
		if (i > 0 && strcmp(v[i]->name, v[i - 1]->name) == 0)
			continue;
		if (pci_legacy_find(v[i]->name)->implemented)
			fprintf(fp, "%s\n", v[i]->name);
		else
			fprintf(fp, "%s (not implemented yet)\n", v[i]->name);
	}
	free(v);
}

/* A decimal number with no sign, spaces or leading zeros beyond "0". */
static bool
pci_parse_num(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "s", "s:f" or "b:s:f". */
static bool
pci_parse_bsf(const char *s, size_t len, unsigned *b, unsigned *sl, unsigned *f)
{
	const char *c1 = memchr(s, ':', len), *c2;

	*b = 0;
	*f = 0;
	if (c1 == NULL)
		return pci_parse_num(s, len, PCI_MAX_SLOT, sl);
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s));
	if (c2 == NULL)
		return pci_parse_num(s, (size_t)(c1 - s), PCI_MAX_SLOT, sl) &&
		       pci_parse_num(c1 + 1, len - (size_t)(c1 + 1 - s),
				     PCI_MAX_FUNC, f);
	return pci_parse_num(s, (size_t)(c1 - s), PCI_MAX_BUS, b) &&
	       pci_parse_num(c1 + 1, (size_t)(c2 - c1 - 1), PCI_MAX_SLOT, sl) &&
	       pci_parse_num(c2 + 1, len - (size_t)(c2 + 1 - s), PCI_MAX_FUNC,
			     f);
}

int
pci_legacy_parse_slot(const char *arg, char *err, size_t errlen)
{
	const struct pci_legacy_model *m;
	const char *comma, *emul, *opts;
	char node[32], model[64];
	struct config_node *nvl;
	unsigned b, s, f;
	size_t elen;

	comma = strchr(arg, ',');
	if (comma == NULL ||
	    !pci_parse_bsf(arg, (size_t)(comma - arg), &b, &s, &f)) {
		snprintf(err, errlen,
			 "invalid PCI slot '%s' (want "
			 "[bus:]slot[:func],model[,options])",
			 arg);
		return -1;
	}
	emul = comma + 1;
	opts = strchr(emul, ',');
	elen = opts ? (size_t)(opts - emul) : strlen(emul);
	if (opts != NULL)
		opts++;
	if (elen == 0 || elen >= sizeof(model)) {
		snprintf(err, errlen, "missing or invalid device model in '%s'",
			 arg);
		return -1;
	}
	memcpy(model, emul, elen);
	model[elen] = '\0';
	m = pci_legacy_find(model);
	if (m == NULL) {
		snprintf(err, errlen,
			 "unknown device model '%s' in '-s %s' "
			 "(see -s help)",
			 model, arg);
		return -1;
	}
	snprintf(node, sizeof(node), "pci.%u.%u.%u", b, s, f);
	if (find_config_node(node) != NULL) {
		snprintf(err, errlen,
			 "PCI slot %u:%u:%u is already in use "
			 "('-s %s')",
			 b, s, f, arg);
		return -1;
	}
	nvl = create_config_node(node);
	if (nvl == NULL || set_config_value_node(
			       nvl, "device", m->alias ? m->alias : m->name)) {
		snprintf(err, errlen, "cannot create %s for '-s %s'", node,
			 arg);
		return -1;
	}
	pci_legacy_errbuf[0] = '\0';
	if ((m->legacy_config ? m->legacy_config
			      : pci_legacy_generic_config)(nvl, opts) != 0) {
		snprintf(err, errlen, "%s: %s in '-s %s'", model,
			 pci_legacy_errbuf[0] ? pci_legacy_errbuf
					      : "invalid options",
			 arg);
		return -1;
	}
	return 0;
}

struct pci_check_state {
	char path[32];
	bool want_implemented;
	char *err;
	size_t errlen;
	int rc;
};

static bool
pci_check_num(const char *name, unsigned max)
{
	unsigned v;

	return pci_parse_num(name, strlen(name), max, &v);
}

static int
pci_check_func(const char *name, const struct config_node *node,
	       const char *value, void *arg)
{
	struct pci_check_state *st = arg;
	const struct pci_legacy_model *m;
	const char *dev;

	if (!st->want_implemented &&
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_MAX_FUNC))) {
		snprintf(st->err, st->errlen,
			 "invalid PCI function 'pci.%s.%s' in configuration",
			 st->path, name);
		return st->rc = -1;
	}
	if (config_node_is_leaf(node))
		return 0;
	dev = get_config_value_node(node, "device");
	m = dev ? pci_legacy_find(dev) : NULL;
	if (st->want_implemented) {
		if (m != NULL && !m->implemented) {
			char slot[sizeof(st->path)], *dot;

			snprintf(slot, sizeof(slot), "%s", st->path);
			while ((dot = strchr(slot, '.')) != NULL)
				*dot = ':';
			fprintf(stderr,
				"bhyve: device model '%s' (slot "
				"%s:%s) is not implemented yet\n",
				dev, slot, name);
			return st->rc = 4;
		}
		return 0;
	}
	if (dev == NULL) {
		snprintf(st->err, st->errlen, "pci.%s.%s has no 'device' key",
			 st->path, name);
		return st->rc = -1;
	}
	if (m == NULL) {
		snprintf(st->err, st->errlen,
			 "unknown device model '%s' in "
			 "pci.%s.%s.device (see -s help)",
			 dev, st->path, name);
		return st->rc = -1;
	}
	return 0;
}

static int
pci_check_slot(const char *name, const struct config_node *node,
	       const char *value, void *arg)
{
	struct pci_check_state *st = arg;
	size_t len = strlen(st->path);
	int rc;

	if (!st->want_implemented &&
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_MAX_SLOT))) {
		snprintf(st->err, st->errlen,
			 "invalid PCI slot 'pci.%s.%s' in configuration",
			 st->path, name);
		return st->rc = -1;
	}
	if (config_node_is_leaf(node))
		return 0;
	snprintf(st->path + len, sizeof(st->path) - len, ".%s", name);
	rc = walk_config_nodes(node, pci_check_func, st);
	st->path[len] = '\0';
	return rc;
}

static int
pci_check_bus(const char *name, const struct config_node *node,
	      const char *value, void *arg)
{
	struct pci_check_state *st = arg;

	if (!st->want_implemented &&
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_MAX_BUS))) {
		snprintf(st->err, st->errlen,
			 "invalid PCI bus 'pci.%s' in configuration", name);
		return st->rc = -1;
	}
	if (config_node_is_leaf(node))
		return 0;
	snprintf(st->path, sizeof(st->path), "%s", name);
	return walk_config_nodes(node, pci_check_slot, st);
}

static int
pci_check_walk(struct pci_check_state *st)
{
	struct config_node *pci = find_config_node("pci");

	if (pci != NULL)
		walk_config_nodes(pci, pci_check_bus, st);
	else if (!st->want_implemented && get_config_value("pci") != NULL) {
		snprintf(st->err, st->errlen, "'pci' must not be a value");
		st->rc = -1;
	}
	return st->rc;
}

int
pci_legacy_check_tree(char *err, size_t errlen)
{
	struct pci_check_state st = {"", false, err, errlen, 0};

	return pci_check_walk(&st);
}

int
pci_check_models_implemented(void)
{
	char err[8];
	struct pci_check_state st = {"", true, err, sizeof(err), 0};

	return pci_check_walk(&st);
}
