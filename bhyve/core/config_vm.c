/*
 * The machine-wide keys every layer reads (config_vm.h): memory.size and
 * the vCPU topology, with bhyve's rules, in one place.
 */
#include "config_vm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define MIB (1024ULL * 1024)

bool
config_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int
bhyve_parse_memsize(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0)
		return -1;
	if (*end == '\0') {
		/* bhyve: a bare number below one MiB counts in MiB. */
		if (v < MIB)
			v *= MIB;
	} else {
		switch (tolower((unsigned char)*end)) {
		case 'b':
			shift = 0;
			break;
		case 'k':
			shift = 10;
			break;
		case 'm':
			shift = 20;
			break;
		case 'g':
			shift = 30;
			break;
		case 't':
			shift = 40;
			break;
		case 'p':
			shift = 50;
			break;
		case 'e':
			shift = 60;
			break;
		default:
			return -1;
		}
		end++;
		if (shift != 0 &&
		    (strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
			end += strlen(end);
		if (*end != '\0')
			return -1;
		if (shift != 0 && v > (UINT64_MAX >> shift))
			return -1;
		v <<= shift;
	}
	if (v == 0)
		return -1;
	*bytes = v;
	return 0;
}

int
config_get_memsize(uint64_t *bytes)
{
	return bhyve_parse_memsize(get_config_value("memory.size"), bytes);
}

static int
config_topology_value(const char *key, int def, int *out, char *err,
		      size_t errlen)
{
	const char *v = get_config_value(key);
	long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!config_parse_long(v, 1, TOPOLOGY_MAX, &n)) {
		snprintf(err, errlen, "invalid value for %s: '%s' (1-%d)", key,
			 v, TOPOLOGY_MAX);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int
config_get_topology(int *cpus, int *sockets, int *cores, int *threads,
		    char *err, size_t errlen)
{
	bool explicit_cpus = get_config_value("cpus") != NULL;
	uint64_t product;

	if (config_topology_value("cpus", 1, cpus, err, errlen) != 0 ||
	    config_topology_value("cores", 1, cores, err, errlen) != 0 ||
	    config_topology_value("threads", 1, threads, err, errlen) != 0 ||
	    config_topology_value("sockets", *cpus, sockets, err, errlen) != 0)
		return -1;
	product = (uint64_t)*sockets * (uint64_t)*cores * (uint64_t)*threads;
	if (product > TOPOLOGY_MAX) {
		snprintf(err, errlen, "topology gives too many vCPUs: %llu",
			 (unsigned long long)product);
		return -1;
	}
	if (explicit_cpus && product != (uint64_t)*cpus) {
		snprintf(err, errlen,
			 "topology (%d sockets, %d cores, %d threads) does not "
			 "match %d vCPUs",
			 *sockets, *cores, *threads, *cpus);
		return -1;
	}
	*cpus = (int)product;
	return 0;
}

int
config_ncpus(void)
{
	int cpus, sockets, cores, threads;
	char err[128];

	if (config_get_topology(&cpus, &sockets, &cores, &threads, err,
				sizeof(err)) != 0)
		return 1;
	return cpus;
}

int
config_parse_cpulist(const char *s, cpu_set_t *set, char *err, size_t errlen)
{
	const char *p = s;
	unsigned long lo, hi;
	char *end;

	CPU_ZERO(set);
	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty CPU list");
		return -1;
	}
	for (;;) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		lo = hi = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (errno != 0 || lo > hi)
			goto bad;
		if (hi >= CPU_SETSIZE) {
			snprintf(err, errlen,
				 "CPU %lu in '%s' is out of range (0-%d)", hi,
				 s, CPU_SETSIZE - 1);
			return -1;
		}
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, set);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(err, errlen,
		 "invalid CPU list '%s' (want numbers and ranges: 0-3,6)", s);
	return -1;
}

int
config_get_vcpu_cpuset(int vcpu, cpu_set_t *set, char *err, size_t errlen)
{
	char key[32], why[160];
	cpu_set_t usable;
	const char *v;

	snprintf(key, sizeof(key), "vcpu.%d.cpuset", vcpu);
	v = get_config_value(key);
	if (v == NULL)
		return 0;
	if (config_parse_cpulist(v, set, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", key, why);
		return -1;
	}
	/* What this process may run on: online, present, allowed. */
	if (sched_getaffinity(0, sizeof(usable), &usable) != 0)
		return 1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, set) && !CPU_ISSET(c, &usable)) {
			snprintf(err, errlen,
				 "%s: host CPU %d does not exist or is not "
				 "available to bhyve (it may use %d CPUs)",
				 key, c, CPU_COUNT(&usable));
			return -1;
		}
	}
	return 1;
}

bool
platform_firmware_is_uefi(void)
{
	return get_config_value("lpc.bootrom") != NULL;
}
