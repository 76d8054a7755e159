/*
 * The PCI device models by name (pci_models.h): lookup over the linker
 * set and the table of unimplemented models, "-s help", the "-s" slot
 * parser and the checks of the pci.* configuration tree.
 */
#include "pci_models.h"

#include <stdlib.h>
#include <string.h>

#include "config_vm.h"
#include "legacy_config.h"

SET_DECLARE(pci_devemu_set, const struct pci_devemu);

const struct pci_devemu *
pci_model_find(const char *name)
{
	const struct pci_devemu *const *pp;

	SET_FOREACH(pp, pci_devemu_set)
	{
		if (strcmp((*pp)->pe_emu, name) == 0)
			return *pp;
	}
	for (size_t i = 0; i < pci_unimpl_nmodels; i++)
		if (strcmp(pci_unimpl_models[i].pe_emu, name) == 0)
			return &pci_unimpl_models[i];
	return NULL;
}

bool
pci_model_implemented(const struct pci_devemu *pe)
{
	if (pe->pe_init != NULL)
		return true;
	if (pe->pe_alias == NULL)
		return false;
	pe = pci_model_find(pe->pe_alias);
	return pe != NULL && pe->pe_init != NULL;
}

static int
pci_model_name_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

void
pci_models_print(FILE *fp)
{
	size_t i, n = 0, cap = SET_COUNT(pci_devemu_set) + pci_unimpl_nmodels;
	const struct pci_devemu *const *pp;
	const char **v;

	v = calloc(cap ? cap : 1, sizeof(*v));
	if (v == NULL)
		return;
	SET_FOREACH(pp, pci_devemu_set)
	{
		v[n++] = (*pp)->pe_emu;
	}
	for (i = 0; i < pci_unimpl_nmodels; i++)
		v[n++] = pci_unimpl_models[i].pe_emu;
	qsort(v, n, sizeof(*v), pci_model_name_cmp);
	for (i = 0; i < n; i++) {
		/* Print each name once, from the entry that wins. */
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (pci_model_implemented(pci_model_find(v[i])))
			fprintf(fp, "%s\n", v[i]);
		else
			fprintf(fp, "%s (not implemented yet)\n", v[i]);
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
		return pci_parse_num(s, len, PCI_SLOTMAX, sl);
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s));
	if (c2 == NULL)
		return pci_parse_num(s, (size_t)(c1 - s), PCI_SLOTMAX, sl) &&
		       pci_parse_num(c1 + 1, len - (size_t)(c1 + 1 - s),
				     PCI_FUNCMAX, f);
	return pci_parse_num(s, (size_t)(c1 - s), PCI_BUSMAX, b) &&
	       pci_parse_num(c1 + 1, (size_t)(c2 - c1 - 1), PCI_SLOTMAX, sl) &&
	       pci_parse_num(c2 + 1, len - (size_t)(c2 + 1 - s), PCI_FUNCMAX,
			     f);
}

int
pci_parse_slot(const char *arg, char *err, size_t errlen)
{
	const struct pci_devemu *m;
	const char *comma, *emul, *opts;
	char node[32], model[64], why[256];
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
	m = pci_model_find(model);
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
	if (nvl == NULL ||
	    set_config_value_node(nvl, "device",
				  m->pe_alias ? m->pe_alias : m->pe_emu)) {
		snprintf(err, errlen, "cannot create %s for '-s %s'", node,
			 arg);
		return -1;
	}
	if (legacy_config_apply(m->pe_legacy_config, nvl, opts, why,
				sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s in '-s %s'", model, why, arg);
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
	const struct pci_devemu *m;
	const char *dev;

	if (!st->want_implemented &&
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_FUNCMAX))) {
		snprintf(st->err, st->errlen,
			 "invalid PCI function 'pci.%s.%s' in configuration",
			 st->path, name);
		return st->rc = -1;
	}
	if (config_node_is_leaf(node))
		return 0;
	dev = get_config_value_node(node, "device");
	m = dev ? pci_model_find(dev) : NULL;
	if (st->want_implemented) {
		if (m != NULL && !pci_model_implemented(m)) {
			char slot[sizeof(st->path)], *dot;

			snprintf(slot, sizeof(slot), "%s", st->path);
			while ((dot = strchr(slot, '.')) != NULL)
				*dot = ':';
			fprintf(stderr,
				"bhyve: device model '%s' (slot "
				"%s:%s) is not implemented yet\n",
				dev, slot, name);
			st->rc = 4; /* go on: report every blocker */
		} else if (m != NULL && m->pe_check != NULL &&
			   m->pe_check(node, st->err, st->errlen) != 0) {
			fprintf(stderr, "bhyve: pci.%s.%s (%s): %s\n", st->path,
				name, dev, st->err);
			st->rc = 4;
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
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_SLOTMAX))) {
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
	    (config_node_is_leaf(node) || !pci_check_num(name, PCI_BUSMAX))) {
		snprintf(st->err, st->errlen,
			 "invalid PCI bus 'pci.%s' in configuration", name);
		return st->rc = -1;
	}
	if (config_node_is_leaf(node))
		return 0;
	/* OVMF's root bridge on "pc" is bus 0: it never scans others. */
	if (!st->want_implemented && strcmp(name, "0") != 0 &&
	    platform_firmware_is_uefi()) {
		snprintf(st->err, st->errlen,
			 "pci.%s: devices on PCI bus %s are not supported "
			 "with a boot ROM (lpc.bootrom): the firmware "
			 "scans bus 0 only",
			 name, name);
		return st->rc = -1;
	}
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
pci_check_tree(char *err, size_t errlen)
{
	struct pci_check_state st = {"", false, err, errlen, 0};

	return pci_check_walk(&st);
}

int
pci_check_models_implemented(void)
{
	char err[256];
	struct pci_check_state st = {"", true, err, sizeof(err), 0};

	return pci_check_walk(&st);
}
