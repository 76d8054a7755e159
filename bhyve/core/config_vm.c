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
