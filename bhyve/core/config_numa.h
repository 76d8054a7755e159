/*
 * The guest's NUMA domains, as FreeBSD's bhyve(8) -n writes them:
 * domains.<id>.size, domains.<id>.cpus and domains.<id>.domain_policy,
 * ids 0-7 (bhyve's VM_MAXMEMDOM).  config_get_numa() reads and checks
 * them against the memory size and the vCPU count; the ACPI tables (SRAT,
 * SLIT) and the guest memory setup (mbind per domain) read the result.
 *
 * Guest RAM is laid out in one order, "RAM offset": low memory [0, lowmem)
 * first, then high memory [4 GiB, 4 GiB + highmem), the same order as the
 * memfd behind it.  Domain 0 takes the first size0 bytes of that order,
 * domain 1 the next size1 bytes, and so on; a domain that crosses lowmem
 * has two guest-physical ranges, one on each side of the PCI hole.
 */
#ifndef CONFIG_NUMA_H
#define CONFIG_NUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NUMA_MAX_DOMAINS 8	      /* bhyve's VM_MAXMEMDOM */
#define NUMA_SIZE_ALIGN	 4096ULL      /* domain sizes: whole pages */
#define NUMA_SPLIT_UNIT	 (2ULL << 20) /* an even split: 2 MiB units */
#define NUMA_HOST_NODES	 1024	      /* host nodes a policy may name */
#define NUMA_HOST_WORDS	 (NUMA_HOST_NODES / (8 * sizeof(unsigned long)))
#define NUMA_DIST_LOCAL	 10 /* SLIT distances (ACPI 5.2.17) */
#define NUMA_DIST_REMOTE 20

/* cpuset(1) -n policies (domainset(9)), FreeBSD's names. */
enum numa_policy {
	NUMA_POLICY_NONE, /* no domain_policy: the host's default */
	NUMA_POLICY_FIRST_TOUCH,
	NUMA_POLICY_ROUND_ROBIN,
	NUMA_POLICY_PREFER,
	NUMA_POLICY_INTERLEAVE,
};

struct numa_domain {
	uint64_t size;
	uint64_t offset; /* RAM offset of its first byte */
	enum numa_policy policy;
	bool host_all; /* "policy:all": every node this process may use */
	unsigned long host_nodes[NUMA_HOST_WORDS];
};

struct numa_config {
	int ndomains; /* 0: no domains.* keys, no NUMA description */
	struct numa_domain dom[NUMA_MAX_DOMAINS];
	uint64_t memsize;  /* the sum of the sizes: the guest's RAM */
	bool split_evenly; /* a size was missing: memory.size split */
	int ncpus;
	int *cpu_domain; /* [ncpus]: each vCPU's domain */
};

/* A guest-physical range of a domain. */
struct numa_range {
	uint64_t gpa, len;
};

/*
 * Reads domains.*; memsize is memory.size in bytes, ncpus the vCPU count.
 * 0 (nc->ndomains 0 when nothing is configured), or -1 with one line's
 * reason in err.  config_numa_free() releases nc either way.
 */
int config_get_numa(struct numa_config *nc, uint64_t memsize, int ncpus,
		    char *err, size_t errlen);
void config_numa_free(struct numa_config *nc);

/* "policy:domain-list" (cpuset(1) -n) into d; -1 with a reason. */
int numa_parse_policy(const char *s, struct numa_domain *d, char *err,
		      size_t errlen);
/* Whether host node n is in d's policy list (n < NUMA_HOST_NODES). */
bool numa_policy_has_node(const struct numa_domain *d, int n);

/*
 * The guest-physical ranges of d when low memory holds lowmem bytes and
 * high memory starts at highmem_base: 1 or 2 (split by the PCI hole).
 */
int numa_domain_ranges(const struct numa_domain *d, uint64_t lowmem,
		       uint64_t highmem_base, struct numa_range r[2]);

#endif
