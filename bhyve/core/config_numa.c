/*
 * The guest's NUMA domains from the domains.* keys (config_numa.h), with
 * FreeBSD bhyve's rules: ids from 0 without gaps, sizes that add up to
 * the guest's memory (their sum replaces memory.size; a missing size
 * splits memory.size evenly), CPU sets, and a host allocation policy in
 * cpuset(1) -n syntax.  beehive is stricter where bhyve says nothing:
 * every vCPU must be in exactly one domain, unknown keys are errors.
 */
#include "config_numa.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_vm.h"

#define WORD_BITS (8 * sizeof(unsigned long))

static void
node_set(unsigned long *mask, int n)
{
	mask[n / WORD_BITS] |= 1UL << (n % WORD_BITS);
}

bool
numa_policy_has_node(const struct numa_domain *d, int n)
{
	if (n < 0 || n >= NUMA_HOST_NODES)
		return false;
	return (d->host_nodes[n / WORD_BITS] >> (n % WORD_BITS)) & 1;
}

/* A decimal number 0..max at *p, advancing p; -1 if none. */
static long
list_number(const char **p, long max)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return -1;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > max)
			return -1;
		(*p)++;
	}
	return v;
}

/*
 * "a-b,c,..." (cpuset(1) lists): calls add(arg, n) for each member, in
 * order; -1 if malformed, a number is above max, or add() fails.
 */
static int
parse_list(const char *s, long max, int (*add)(void *arg, long n), void *arg)
{
	const char *p = s;
	long lo, hi;

	if (s == NULL || *s == '\0')
		return -1;
	for (;;) {
		lo = hi = list_number(&p, max);
		if (lo < 0)
			return -1;
		if (*p == '-') {
			p++;
			hi = list_number(&p, max);
			if (hi < lo)
				return -1;
		}
		for (long n = lo; n <= hi; n++) {
			if (add(arg, n) != 0)
				return -1;
		}
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

static int
add_host_node(void *arg, long n)
{
	node_set(((struct numa_domain *)arg)->host_nodes, (int)n);
	return 0;
}

int
numa_parse_policy(const char *s, struct numa_domain *d, char *err,
		  size_t errlen)
{
	static const struct {
		const char *name;
		enum numa_policy policy;
	} names[] = {
	    {"first-touch", NUMA_POLICY_FIRST_TOUCH},
	    {"ft", NUMA_POLICY_FIRST_TOUCH},
	    {"round-robin", NUMA_POLICY_ROUND_ROBIN},
	    {"rr", NUMA_POLICY_ROUND_ROBIN},
	    {"prefer", NUMA_POLICY_PREFER},
	    {"interleave", NUMA_POLICY_INTERLEAVE},
	    {"il", NUMA_POLICY_INTERLEAVE},
	};
	const char *colon = strchr(s, ':');
	size_t len = colon != NULL ? (size_t)(colon - s) : 0;
	int count = 0;

	d->policy = NUMA_POLICY_NONE;
	d->host_all = false;
	memset(d->host_nodes, 0, sizeof(d->host_nodes));
	for (size_t i = 0;
	     colon != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len &&
		    strncmp(s, names[i].name, len) == 0)
			d->policy = names[i].policy;
	}
	if (d->policy == NUMA_POLICY_NONE) {
		snprintf(err, errlen,
			 "'%s' is not policy:domain-list (policies: "
			 "first-touch, round-robin, prefer, interleave)",
			 s);
		return -1;
	}
	if (strcmp(colon + 1, "all") == 0) {
		d->host_all = true;
	} else if (parse_list(colon + 1, NUMA_HOST_NODES - 1, add_host_node,
			      d) != 0) {
		snprintf(err, errlen,
			 "'%s': bad host domain list (e.g. 0-1,3 or all; "
			 "nodes 0-%d)",
			 s, NUMA_HOST_NODES - 1);
		return -1;
	}
	for (int n = 0; n < NUMA_HOST_NODES; n++)
		count += numa_policy_has_node(d, n);
	if (d->policy == NUMA_POLICY_PREFER && (d->host_all || count != 1)) {
		snprintf(err, errlen, "'%s': prefer takes exactly one domain",
			 s);
		return -1;
	}
	return 0;
}

/* ---- domains.* ----------------------------------------------------- */

struct numa_walk {
	struct numa_config *nc;
	bool present[NUMA_MAX_DOMAINS];
	char *err;
	size_t errlen;
	const char *id; /* the domain node being walked */
};

static int
check_domain_key(const char *name, const struct config_node *node,
		 const char *value, void *arg)
{
	struct numa_walk *w = arg;

	if (value == NULL ||
	    (strcmp(name, "size") != 0 && strcmp(name, "cpus") != 0 &&
	     strcmp(name, "domain_policy") != 0)) {
		snprintf(w->err, w->errlen,
			 "unknown NUMA domain key domains.%s.%s (size, cpus, "
			 "domain_policy)",
			 w->id, name);
		return -1;
	}
	return 0;
}

static int
check_domain_node(const char *name, const struct config_node *node,
		  const char *value, void *arg)
{
	struct numa_walk *w = arg;
	long id;

	/* One digit: bhyve numbers domains 0-7, and "00" or "0x1" would
	 * name the same domain twice. */
	if (strlen(name) != 1 ||
	    !config_parse_long(name, 0, NUMA_MAX_DOMAINS - 1, &id) ||
	    value != NULL) {
		snprintf(w->err, w->errlen,
			 "invalid NUMA domain domains.%s (ids are 0-%d, each "
			 "with size, cpus, domain_policy)",
			 name, NUMA_MAX_DOMAINS - 1);
		return -1;
	}
	w->present[id] = true;
	w->id = name;
	return walk_config_nodes(node, check_domain_key, w);
}

struct cpu_walk {
	struct numa_config *nc;
	int dom;
	long bad; /* the vCPU that failed */
};

static int
add_cpu(void *arg, long n)
{
	struct cpu_walk *c = arg;

	if (n >= c->nc->ncpus || c->nc->cpu_domain[n] >= 0) {
		c->bad = n;
		return -1;
	}
	c->nc->cpu_domain[n] = c->dom;
	return 0;
}

static int
numa_cpus(struct numa_config *nc, int dom, const char *cpus, char *err,
	  size_t errlen)
{
	struct cpu_walk c = {nc, dom, -1};

	if (cpus == NULL) {
		if (nc->ndomains > 1) {
			snprintf(err, errlen,
				 "NUMA domain %d has no CPU set "
				 "(domains.%d.cpus)",
				 dom, dom);
			return -1;
		}
		/* One domain without a CPU set holds every vCPU (bhyve). */
		for (int i = 0; i < nc->ncpus; i++)
			nc->cpu_domain[i] = dom;
		return 0;
	}
	if (parse_list(cpus, INT_MAX, add_cpu, &c) == 0)
		return 0;
	if (c.bad >= nc->ncpus)
		snprintf(err, errlen,
			 "domains.%d.cpus '%s': vCPU %ld does not exist "
			 "(vCPUs are 0-%d)",
			 dom, cpus, c.bad, nc->ncpus - 1);
	else if (c.bad >= 0)
		snprintf(err, errlen,
			 "domains.%d.cpus '%s': vCPU %ld is already in NUMA "
			 "domain %d",
			 dom, cpus, c.bad, nc->cpu_domain[c.bad]);
	else
		snprintf(err, errlen,
			 "domains.%d.cpus '%s': not a CPU list (e.g. 0-3,6)",
			 dom, cpus);
	return -1;
}

static int
numa_sizes(struct numa_config *nc, uint64_t memsize, char *err, size_t errlen)
{
	char key[32];
	const char *v;
	uint64_t each, off = 0;

	nc->split_evenly = false;
	for (int i = 0; i < nc->ndomains; i++) {
		snprintf(key, sizeof(key), "domains.%d.size", i);
		v = get_config_value(key);
		if (v == NULL) {
			nc->split_evenly = true;
			continue;
		}
		if (bhyve_parse_memsize(v, &nc->dom[i].size) != 0 ||
		    nc->dom[i].size % NUMA_SIZE_ALIGN != 0) {
			snprintf(err, errlen,
				 "invalid NUMA domain size '%s' (%s): a "
				 "multiple of 4 KiB",
				 v, key);
			return -1;
		}
	}
	if (nc->split_evenly) {
		/*
		 * bhyve: one missing size spreads memory.size evenly over all
		 * domains.  In 2 MiB units; the last domain takes the rest.
		 */
		each = memsize / (uint64_t)nc->ndomains / NUMA_SPLIT_UNIT *
		       NUMA_SPLIT_UNIT;
		if (each == 0) {
			snprintf(
			    err, errlen,
			    "memory size %llu MiB is too small for %d NUMA "
			    "domains of at least 2 MiB",
			    (unsigned long long)(memsize >> 20), nc->ndomains);
			return -1;
		}
		for (int i = 0; i < nc->ndomains; i++)
			nc->dom[i].size = each;
		nc->dom[nc->ndomains - 1].size =
		    memsize - each * (uint64_t)(nc->ndomains - 1);
	}
	for (int i = 0; i < nc->ndomains; i++) {
		if (nc->dom[i].size > UINT64_MAX - off) {
			snprintf(err, errlen, "NUMA domain sizes overflow");
			return -1;
		}
		nc->dom[i].offset = off;
		off += nc->dom[i].size;
	}
	nc->memsize = off;
	return 0;
}

void
config_numa_free(struct numa_config *nc)
{
	free(nc->cpu_domain);
	nc->cpu_domain = NULL;
}

int
config_get_numa(struct numa_config *nc, uint64_t memsize, int ncpus, char *err,
		size_t errlen)
{
	struct config_node *root = find_config_node("domains");
	struct numa_walk w = {.nc = nc, .err = err, .errlen = errlen};
	char key[40];
	const char *v;

	memset(nc, 0, sizeof(*nc));
	nc->memsize = memsize;
	nc->ncpus = ncpus;
	if (root == NULL)
		return 0;
	if (config_node_is_leaf(root)) {
		snprintf(err, errlen,
			 "'domains' must hold NUMA domains (domains.0.size, "
			 "...), not a value");
		return -1;
	}
	if (walk_config_nodes(root, check_domain_node, &w) != 0)
		return -1;
	while (nc->ndomains < NUMA_MAX_DOMAINS && w.present[nc->ndomains])
		nc->ndomains++;
	for (int i = nc->ndomains; i < NUMA_MAX_DOMAINS; i++) {
		if (w.present[i]) {
			snprintf(err, errlen,
				 "NUMA domain %d is missing (domain ids count "
				 "from 0 without gaps; domain %d is set)",
				 nc->ndomains, i);
			return -1;
		}
	}
	if (nc->ndomains == 0)
		return 0;
	if (ncpus < 1 || numa_sizes(nc, memsize, err, errlen) != 0)
		return -1;
	nc->cpu_domain = malloc((size_t)ncpus * sizeof(*nc->cpu_domain));
	if (nc->cpu_domain == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < ncpus; i++)
		nc->cpu_domain[i] = -1;
	for (int i = 0; i < nc->ndomains; i++) {
		snprintf(key, sizeof(key), "domains.%d.cpus", i);
		if (numa_cpus(nc, i, get_config_value(key), err, errlen) != 0)
			return -1;
		snprintf(key, sizeof(key), "domains.%d.domain_policy", i);
		v = get_config_value(key);
		if (v != NULL) {
			char why[160];

			if (numa_parse_policy(v, &nc->dom[i], why,
					      sizeof(why)) != 0) {
				snprintf(err, errlen, "%s: %s", key, why);
				return -1;
			}
		}
	}
	for (int i = 0; i < ncpus; i++) {
		if (nc->cpu_domain[i] < 0) {
			snprintf(err, errlen,
				 "vCPU %d is in no NUMA domain (each vCPU "
				 "must be in one domains.N.cpus)",
				 i);
			return -1;
		}
	}
	return 0;
}

int
numa_domain_ranges(const struct numa_domain *d, uint64_t lowmem,
		   uint64_t highmem_base, struct numa_range r[2])
{
	uint64_t start = d->offset, end = d->offset + d->size;
	int n = 0;

	if (start < lowmem)
		r[n++] = (struct numa_range){
		    start, (end < lowmem ? end : lowmem) - start};
	if (end > lowmem) {
		uint64_t hs = start > lowmem ? start : lowmem;

		r[n++] =
		    (struct numa_range){highmem_base + (hs - lowmem), end - hs};
	}
	return n;
}
