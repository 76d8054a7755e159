/*
 * The machine-wide configuration keys every layer reads: memory.size and
 * the vCPU topology (cpus, sockets, cores, threads), with bhyve's rules.
 * The command line writes them; the VM, the firmware tables and the vCPU
 * loop read them here.
 */
#ifndef CONFIG_VM_H
#define CONFIG_VM_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPOLOGY_MAX 65535 /* vm_set_topology() takes uint16_t */

/*
 * A whole decimal (or 0x hex) number in [min, max], nothing around it;
 * false if s is NULL, empty, malformed or out of range.
 */
bool config_parse_long(const char *s, long min, long max, long *out);

/*
 * "size[K|M|G|T|P|E]" (optionally followed by B or iB; case-insensitive)
 * in bytes.  A bare number below 1 MiB means MiB, as in bhyve.  -1 if
 * malformed, zero or overflowing.
 */
int bhyve_parse_memsize(const char *s, uint64_t *bytes);
/* memory.size in bytes; -1 if unset or malformed. */
int config_get_memsize(uint64_t *bytes);

/*
 * The vCPU topology from cpus/sockets/cores/threads with bhyve's rules:
 * sockets defaults to cpus, cores and threads to 1; an explicit cpus must
 * equal sockets * cores * threads.  -1 (with a reason in err) if invalid.
 */
int config_get_topology(int *cpus, int *sockets, int *cores, int *threads,
			char *err, size_t errlen);
/*
 * The configured vCPU count (1 if the topology is invalid, which the
 * command line has refused already): what the firmware tables describe.
 */
int config_ncpus(void);

/*
 * A CPU list as cpuset(1) -l and Linux's cpulist write it: numbers and
 * ranges separated by commas ("0-3,6").  0 and the set, or -1 with a
 * reason in err.
 */
int config_parse_cpulist(const char *s, cpu_set_t *set, char *err,
			 size_t errlen);
/*
 * The host CPUs vCPU 'vcpu' may run on (vcpu.N.cpuset, "-p vcpu:hostcpu"
 * appends to it): 1 and the set when the key is set, 0 when it is not,
 * -1 with a reason in err when it is malformed or names a CPU that this
 * process cannot run on (offline, absent, or outside its affinity).
 */
int config_get_vcpu_cpuset(int vcpu, cpu_set_t *set, char *err, size_t errlen);

/*
 * True when the guest starts in a UEFI boot ROM (lpc.bootrom is set)
 * rather than in a kernel beehive loads itself.  The platform then looks
 * like the machine the firmware was built for (OVMF: QEMU's i440FX/PIIX4
 * "pc"), and the firmware, not beehive, places BARs and builds the memory
 * map from fw_cfg.
 */
bool platform_firmware_is_uefi(void);

#endif
