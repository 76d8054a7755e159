/*
 * Guest NUMA domains (-n) below the command line: config_get_numa()'s
 * sizes, offsets and CPU map, the guest-physical ranges of a domain that
 * crosses the PCI hole, cpuset(1)-style policies, the host memory policy
 * libvmmapi installs with mbind(2) (read back with get_mempolicy(2) on
 * the guest memory mapping), and monitor mode's restart loop (-M).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include "config.h"
#include "config_numa.h"
#include "monitor.h"
#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static int
numa_from(const char *const *kv, uint64_t memsize, int ncpus,
	  struct numa_config *nc, char *err, size_t errlen)
{
	int rc;

	init_config();
	for (; *kv != NULL; kv += 2)
		set_config_value(kv[0], kv[1]);
	rc = config_get_numa(nc, memsize, ncpus, err, errlen);
	fini_config();
	return rc;
}

static void
test_sizes_and_cpus(void)
{
	static const char *const two[] = {"domains.0.size",
					  "1G",
					  "domains.0.cpus",
					  "0,2",
					  "domains.1.size",
					  "3G",
					  "domains.1.cpus",
					  "1,3",
					  NULL};
	static const char *const even[] = {"domains.0.cpus",
					   "0",
					   "domains.1.size",
					   "100M",
					   "domains.1.cpus",
					   "1",
					   "domains.2.cpus",
					   "2",
					   NULL};
	static const char *const none[] = {NULL};
	static const char *const one[] = {"domains.0.size", "512M", NULL};
	struct numa_config nc;
	char err[256] = "";

	CHECK(numa_from(none, 256 * MiB, 2, &nc, err, sizeof(err)) == 0 &&
		  nc.ndomains == 0,
	      "numa: no domains.* keys: no domains");
	config_numa_free(&nc);

	CHECK(numa_from(two, 256 * MiB, 4, &nc, err, sizeof(err)) == 0 &&
		  nc.ndomains == 2,
	      "numa: two domains");
	CHECK(nc.memsize == 4 * GiB && !nc.split_evenly,
	      "numa: the sum of the sizes replaces memory.size (bhyve)");
	CHECK(nc.dom[0].offset == 0 && nc.dom[1].offset == 1 * GiB &&
		  nc.dom[1].size == 3 * GiB,
	      "numa: domains follow each other in RAM order");
	CHECK(nc.cpu_domain != NULL && nc.cpu_domain[0] == 0 &&
		  nc.cpu_domain[1] == 1 && nc.cpu_domain[2] == 0 &&
		  nc.cpu_domain[3] == 1,
	      "numa: CPU lists map vCPUs to domains");
	config_numa_free(&nc);

	/* bhyve: one size missing spreads memory.size over every domain. */
	CHECK(numa_from(even, 1 * GiB, 3, &nc, err, sizeof(err)) == 0 &&
		  nc.split_evenly && nc.memsize == 1 * GiB,
	      "numa: a missing size splits memory.size evenly");
	CHECK(nc.dom[0].size == 340 * MiB && nc.dom[1].size == 340 * MiB &&
		  nc.dom[2].size == 344 * MiB,
	      "numa: even split in 2 MiB units, the rest to the last");
	config_numa_free(&nc);

	CHECK(numa_from(one, 256 * MiB, 3, &nc, err, sizeof(err)) == 0 &&
		  nc.ndomains == 1 && nc.memsize == 512 * MiB &&
		  nc.cpu_domain[0] == 0 && nc.cpu_domain[2] == 0,
	      "numa: one domain without cpus holds every vCPU");
	config_numa_free(&nc);

	CHECK(numa_from(even, 4 * MiB, 3, &nc, err, sizeof(err)) != 0 &&
		  strstr(err, "too small") != NULL,
	      "numa: memory too small to split");
	config_numa_free(&nc);
}

static void
test_ranges(void)
{
	struct numa_domain d = {.offset = 2 * GiB, .size = 2 * GiB};
	struct numa_range r[2];
	int n;

	/* Low memory ends at 3 GiB: the domain crosses the PCI hole. */
	n = numa_domain_ranges(&d, 3 * GiB, 4 * GiB, r);
	CHECK(n == 2 && r[0].gpa == 2 * GiB && r[0].len == 1 * GiB &&
		  r[1].gpa == 4 * GiB && r[1].len == 1 * GiB,
	      "numa: a domain across the hole has two ranges");
	d = (struct numa_domain){.offset = 0, .size = 1 * GiB};
	n = numa_domain_ranges(&d, 3 * GiB, 4 * GiB, r);
	CHECK(n == 1 && r[0].gpa == 0 && r[0].len == 1 * GiB,
	      "numa: a domain below the hole");
	d = (struct numa_domain){.offset = 3 * GiB, .size = 1 * GiB};
	n = numa_domain_ranges(&d, 3 * GiB, 4 * GiB, r);
	CHECK(n == 1 && r[0].gpa == 4 * GiB && r[0].len == 1 * GiB,
	      "numa: a domain starting at lowmem lies above 4 GiB");
	d = (struct numa_domain){.offset = 4 * GiB, .size = 512 * MiB};
	n = numa_domain_ranges(&d, 3 * GiB, 4 * GiB, r);
	CHECK(n == 1 && r[0].gpa == 5 * GiB && r[0].len == 512 * MiB,
	      "numa: a domain above the hole");
}

static void
test_policies(void)
{
	struct numa_domain d;
	char err[256];

	CHECK(numa_parse_policy("prefer:1", &d, err, sizeof(err)) == 0 &&
		  d.policy == NUMA_POLICY_PREFER &&
		  numa_policy_has_node(&d, 1) && !numa_policy_has_node(&d, 0),
	      "numa: prefer:1");
	CHECK(numa_parse_policy("rr:0-2,5", &d, err, sizeof(err)) == 0 &&
		  d.policy == NUMA_POLICY_ROUND_ROBIN &&
		  numa_policy_has_node(&d, 0) && numa_policy_has_node(&d, 2) &&
		  !numa_policy_has_node(&d, 3) && numa_policy_has_node(&d, 5),
	      "numa: rr:0-2,5");
	CHECK(numa_parse_policy("first-touch:all", &d, err, sizeof(err)) == 0 &&
		  d.policy == NUMA_POLICY_FIRST_TOUCH && d.host_all,
	      "numa: first-touch:all");
	CHECK(numa_parse_policy("il:1023", &d, err, sizeof(err)) == 0 &&
		  d.policy == NUMA_POLICY_INTERLEAVE &&
		  numa_policy_has_node(&d, 1023),
	      "numa: il:1023 (the highest host node)");
	CHECK(numa_parse_policy("il:1024", &d, err, sizeof(err)) != 0,
	      "numa: host node 1024 refused");
	CHECK(numa_parse_policy("prefer:all", &d, err, sizeof(err)) != 0,
	      "numa: prefer needs exactly one node");
	CHECK(numa_parse_policy("fast:0", &d, err, sizeof(err)) != 0 &&
		  numa_parse_policy("rr", &d, err, sizeof(err)) != 0 &&
		  numa_parse_policy("rr:", &d, err, sizeof(err)) != 0 &&
		  numa_parse_policy("rr:2-1", &d, err, sizeof(err)) != 0 &&
		  numa_parse_policy("rr:0,", &d, err, sizeof(err)) != 0,
	      "numa: malformed policies refused");
}

/* get_mempolicy(2) for the page at addr: its mode and node mask. */
static int
policy_at(void *addr, int *mode, unsigned long *nodes)
{
	memset(nodes, 0, VM_HOST_NODE_WORDS * sizeof(unsigned long));
	return (int)syscall(SYS_get_mempolicy, mode, nodes,
			    (unsigned long)VM_HOST_NODES + 1, addr,
			    (unsigned long)MPOL_F_ADDR);
}

static void
test_mbind(void)
{
	unsigned long allowed[VM_HOST_NODE_WORDS], nodes[VM_HOST_NODE_WORDS];
	struct vm_mem_domain doms[3];
	struct vmctx *ctx;
	uint8_t *lo, *mid, *hi;
	int mode0 = -1, mode1 = -1, mode2 = -1;

	if (vm_host_nodes_allowed(allowed) != 0) {
		printf("SKIP: numa: mbind: no NUMA support here (%s)\n",
		       strerror(errno));
		return;
	}
	CHECK(allowed[0] & 1, "numa: host node 0 is allowed");
	memset(doms, 0, sizeof(doms));
	doms[0] =
	    (struct vm_mem_domain){.size = 32 * MiB, .mode = MPOL_PREFERRED};
	doms[0].nodes[0] = 1;
	doms[1] =
	    (struct vm_mem_domain){.size = 16 * MiB, .mode = MPOL_DEFAULT};
	doms[2] = (struct vm_mem_domain){.size = 16 * MiB, .mode = MPOL_BIND};
	doms[2].nodes[0] = 1;

	ctx = vm_create_detached("numa");
	if (ctx == NULL)
		return;
	vm_set_lowmem_limit(ctx, 40 * MiB);
	CHECK(vm_setup_memory_domains(ctx, 64 * MiB, doms, 3) == 0,
	      "numa: vm_setup_memory_domains: three domains");
	lo = vm_map_gpa(ctx, 0, 4096);
	mid = vm_map_gpa(ctx, 32 * MiB, 4096);
	/* Domain 2 is RAM offset 48 MiB: above 4 GiB, since lowmem is 40. */
	hi = vm_map_gpa(ctx, VM_HIGHMEM_BASE + 8 * MiB, 4096);
	CHECK(lo != NULL && mid != NULL && hi != NULL,
	      "numa: the domains' memory is mapped");
	if (lo == NULL || mid == NULL || hi == NULL) {
		vm_destroy(ctx);
		return;
	}
	CHECK(policy_at(lo, &mode0, nodes) == 0 && mode0 == MPOL_PREFERRED &&
		  nodes[0] == 1,
	      "numa: get_mempolicy: domain 0 prefers node 0");
	CHECK(policy_at(mid, &mode1, nodes) == 0 && mode1 == MPOL_DEFAULT,
	      "numa: get_mempolicy: domain 1 has the default policy");
	CHECK(policy_at(hi, &mode2, nodes) == 0 && mode2 == MPOL_BIND &&
		  nodes[0] == 1,
	      "numa: get_mempolicy: domain 2 (high memory) bound to node 0");
	lo[0] = 1; /* a page allocated under the policy */
	CHECK(lo[0] == 1, "numa: bound memory is usable");
	vm_destroy(ctx);

	ctx = vm_create_detached("numa-bad");
	if (ctx == NULL)
		return;
	doms[1].size = 8 * MiB; /* 32 + 8 + 16 != 64 MiB */
	errno = 0;
	CHECK(vm_setup_memory_domains(ctx, 64 * MiB, doms, 3) == -1 &&
		  errno == EINVAL,
	      "numa: sizes that do not add up are EINVAL");
	vm_destroy(ctx);
}

/* A child run by the monitor: counts its runs in a file. */
static int
monitor_child_run(const char *counter, int resets, int final)
{
	FILE *f = fopen(counter, "r+");
	int n = 0;

	if (f == NULL)
		return 99;
	if (fscanf(f, "%d", &n) != 1)
		n = 0;
	rewind(f);
	fprintf(f, "%d\n", n + 1);
	fclose(f);
	return n < resets ? 0 : final;
}

/* Runs monitor_run() in a process of its own; its wait status. */
static int
monitor_case(const char *counter, int resets, int final)
{
	FILE *f = fopen(counter, "w");
	int status = -1;
	pid_t pid;

	if (f == NULL)
		return -1;
	fputs("0\n", f);
	fclose(f);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int rc = monitor_run();

		if (rc < 0) {
			rc = monitor_child_run(counter, resets, final);
			if (rc == 128 + SIGKILL)
				raise(SIGKILL);
			_exit(rc);
		}
		_exit(rc);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

static int
monitor_runs(const char *counter)
{
	FILE *f = fopen(counter, "r");
	int n = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static void
test_monitor(void)
{
	char counter[] = "/tmp/test_numa_monitor.XXXXXX";
	int fd = mkstemp(counter), st;

	if (fd < 0)
		return;
	close(fd);
	st = monitor_case(counter, 2, 1);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		  monitor_runs(counter) == 3,
	      "monitor: two resets then a poweroff: three runs, status 1");
	st = monitor_case(counter, 0, 4);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4 &&
		  monitor_runs(counter) == 1,
	      "monitor: an error ends it at once with status 4");
	st = monitor_case(counter, 1, 128 + SIGKILL);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL &&
		  monitor_runs(counter) == 2,
	      "monitor: a child killed by SIGKILL kills the monitor alike");
	unlink(counter);
}

int
main(void)
{
	test_sizes_and_cpus();
	test_ranges();
	test_policies();
	test_mbind();
	test_monitor();
	return test_done();
}
