/*
 * bhyve: the virtual machine process.
 *
 * main() turns the command line into configuration keys, validates them
 * before any VM state exists, builds the VM from the configuration tree,
 * runs one thread per vCPU, and leaves the main thread to the device event
 * loop.  The VM ends through bhyve_request_suspend(), whose reason becomes
 * bhyve's exit status: 0 reset, 1 poweroff, 2 halt, 3 triple fault,
 * 4 error.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/mempolicy.h>

#include "boot.h"
#include "boot_state.h"
#include "bootrom.h"
#include "cmdline.h"
#include "config.h"
#include "config_numa.h"
#include "config_vm.h"
#include "control.h" /* ctl: issue 7 */
#include "gdb.h"
#include "inout.h"
#include "mem.h"
#include "mevent.h"
#include "monitor.h"
#include "pci_models.h"
#include "platform_dev.h"
#include "pm.h"
#include "notice.h"
#include "registry.h" /* ctl: issue 7 */
#include "sandbox.h"
#include "uart_backend.h"
#include "vcpu_run.h"

/* ---- building the VM from the configuration ---- */

/*
 * SIGTERM asks the guest to shut down, as pressing a PC's power button
 * does, when the guest has ACPI on to hear it; a second SIGTERM, SIGINT,
 * or a guest without ACPI ends the VM at once (exit status 1).
 */
static void
bhyve_on_signal(int signo, enum ev_type type, void *arg)
{
	static int sigterms;

	if (signo == SIGTERM && sigterms++ == 0 && pm_power_button_press()) {
		fprintf(stderr, "bhyve: SIGTERM: pressed the ACPI power "
				"button; send SIGTERM again to stop now\n");
		return;
	}
	fprintf(stderr, "bhyve: %s: stopping the VM\n",
		signo == SIGINT ? "SIGINT" : "SIGTERM");
	bhyve_request_suspend(VM_SUSPEND_POWEROFF);
}

struct bhyve_opts {
	const char *name;
	uint64_t memsize;
	int cpus, sockets, cores, threads;
	int memflags;
	struct vm_mem_domain doms[VM_MAXMEMDOM]; /* -n; ndoms 0: none */
	int ndoms;
};

/*
 * What the host must provide for the configuration: COM backends' device
 * paths and the host CPUs of vcpu.N.cpuset.  (The syntax was checked with
 * the command line; these depend on the host, so a dump skips them.)
 */
static int
bhyve_check_host(int cpus)
{
	char key[32], err[256];
	const char *v;
	cpu_set_t set;
	int rc = 0;

	for (int unit = 1; unit <= 4; unit++) {
		snprintf(key, sizeof(key), "lpc.com%d.path", unit);
		v = get_config_value(key);
		if (v != NULL &&
		    uart_backend_check(v, true, err, sizeof(err)) != 0) {
			fprintf(stderr, "bhyve: %s: %s\n", key, err);
			rc = -1;
		}
	}
	for (int i = 0; i < cpus; i++) {
		if (config_get_vcpu_cpuset(i, &set, err, sizeof(err)) < 0) {
			fprintf(stderr, "bhyve: %s\n", err);
			rc = -1;
		}
	}
	return rc;
}

/* A NUMA domain's host policy (cpuset(1) -n names) as mbind(2) modes. */
static int
bhyve_numa_mode(enum numa_policy p)
{
	switch (p) {
	case NUMA_POLICY_FIRST_TOUCH:
		/* Local node first, within the list: MPOL_BIND allocates
		 * from the allowed node nearest the faulting CPU. */
		return MPOL_BIND;
	case NUMA_POLICY_ROUND_ROBIN:
	case NUMA_POLICY_INTERLEAVE:
		return MPOL_INTERLEAVE;
	case NUMA_POLICY_PREFER:
		return MPOL_PREFERRED;
	case NUMA_POLICY_NONE:
		break;
	}
	return MPOL_DEFAULT;
}

/*
 * The NUMA domains (-n): their sizes become the guest's memory size, and
 * every host node a domain_policy names must be one this process may
 * allocate from (a host without that node, or without NUMA support, is
 * an error here, before any VM state exists).
 */
static int
bhyve_validate_numa(struct bhyve_opts *o)
{
	unsigned long allowed[VM_HOST_NODE_WORDS];
	struct numa_config nc;
	char err[512];
	bool have_allowed = false;
	int rc = -1;

	if (config_get_numa(&nc, o->memsize, o->cpus, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s\n", err);
		goto out;
	}
	o->ndoms = nc.ndomains;
	if (nc.ndomains > 0)
		o->memsize = nc.memsize;
	for (int i = 0; i < nc.ndomains; i++) {
		const struct numa_domain *d = &nc.dom[i];
		struct vm_mem_domain *v = &o->doms[i];

		memset(v, 0, sizeof(*v));
		v->size = d->size;
		if (get_config_bool_default("memory.hugepages", false) &&
		    d->size % (2ULL << 20) != 0) {
			fprintf(stderr,
				"bhyve: domains.%d.size: with "
				"memory.hugepages a NUMA domain must be a "
				"multiple of 2 MiB\n",
				i);
			goto out;
		}
		v->mode = bhyve_numa_mode(d->policy);
		if (v->mode == MPOL_DEFAULT)
			continue;
		if (!have_allowed && vm_host_nodes_allowed(allowed) != 0) {
			fprintf(stderr,
				"bhyve: domains.%d.domain_policy: the host "
				"kernel has no NUMA memory policies "
				"(get_mempolicy: %s)\n",
				i, strerror(errno));
			goto out;
		}
		have_allowed = true;
		for (int n = 0; n < VM_HOST_NODES; n++) {
			bool want = d->host_all || numa_policy_has_node(d, n);
			bool ok = (allowed[n / (8 * sizeof(long))] >>
				   (n % (8 * sizeof(long)))) &
				  1;

			if (want && ok)
				v->nodes[n / (8 * sizeof(long))] |=
				    1UL << (n % (8 * sizeof(long)));
			if (want && !ok && !d->host_all) {
				char key[40];

				snprintf(key, sizeof(key),
					 "domains.%d.domain_policy", i);
				fprintf(stderr,
					"bhyve: %s '%s': host NUMA node %d "
					"does not exist or is not allowed "
					"to this process\n",
					key, get_config_value(key), n);
				goto out;
			}
		}
	}
	rc = 0;
out:
	config_numa_free(&nc);
	return rc;
}

/*
 * Everything the user typed is checked here, before any VM state exists;
 * every problem is reported (one line each), not only the first.
 */
static int
bhyve_validate(struct bhyve_opts *o)
{
	char err[256];
	const char *kernel;
	bool mem_ok = true;
	int rc = 0;

	o->name = get_config_value("name");
	if (o->name == NULL || o->name[0] == '\0') {
		fprintf(stderr, "bhyve: no VM name given\n");
		rc = -1;
	}
	if (config_get_memsize(&o->memsize) != 0 || o->memsize % 4096 != 0) {
		fprintf(stderr, "bhyve: invalid memory size '%s'\n",
			get_config_value("memory.size")
			    ? get_config_value("memory.size")
			    : "");
		mem_ok = false;
		rc = -1;
	}
	if (config_get_topology(&o->cpus, &o->sockets, &o->cores, &o->threads,
				err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s\n", err);
		o->cpus = 0;
		rc = -1;
	}
	/* Domains are checked against a valid memory size and topology. */
	if (mem_ok && o->cpus > 0 && bhyve_validate_numa(o) != 0)
		rc = -1;
	/* Unimplemented models, and each model's own host checks. */
	if (pci_check_models_implemented() != 0)
		rc = -1;
	if (bhyve_check_host(o->cpus) != 0)
		rc = -1;
	/* A boot ROM (-l bootrom) boots the guest; else boot.kernel does. */
	if (bootrom_setup() != 0) {
		rc = -1;
	} else if (!platform_firmware_is_uefi()) {
		kernel = get_config_value("boot.kernel");
		if (kernel == NULL) {
			fprintf(stderr,
				"bhyve: nothing to boot: set boot.kernel "
				"(-o boot.kernel=PATH) or a boot ROM (-l "
				"bootrom,ROM[,VARS])\n");
			rc = -1;
		} else if (access(kernel, R_OK) != 0) {
			fprintf(stderr, "bhyve: boot.kernel '%s': %s\n", kernel,
				strerror(errno));
			rc = -1;
		}
	}
	if (!platform_firmware_is_uefi() &&
	    get_config_value("boot.initrd") != NULL &&
	    access(get_config_value("boot.initrd"), R_OK) != 0) {
		fprintf(stderr, "bhyve: boot.initrd '%s': %s\n",
			get_config_value("boot.initrd"), strerror(errno));
		rc = -1;
	}
	o->memflags = 0;
	if (get_config_bool_default("memory.wired", false))
		o->memflags |= VM_MEM_F_WIRED;
	if (get_config_bool_default("memory.guest_in_core", false))
		o->memflags |= VM_MEM_F_INCORE;
	if (get_config_bool_default("memory.hugepages", false))
		o->memflags |= VM_MEM_F_HUGEPAGES;
	if (rc == 0)
		bhyve_note_unsupported();
	return rc;
}

static int
bhyve_create_vm(const struct bhyve_opts *o, struct vmctx **ctxp)
{
	struct vmctx *bhyve_ctx;

	bhyve_ctx = *ctxp = vm_create(o->name);
	if (bhyve_ctx == NULL) {
		fprintf(stderr, "bhyve: cannot create VM '%s': %s\n", o->name,
			errno == ENOENT ? "/dev/kvm is missing"
					: strerror(errno));
		return -1;
	}
	if (vm_set_topology(bhyve_ctx, (uint16_t)o->sockets, (uint16_t)o->cores,
			    (uint16_t)o->threads, (uint16_t)o->cpus) != 0) {
		fprintf(stderr, "bhyve: topology: %s\n", strerror(errno));
		return -1;
	}
	/* bhyve's -a / x86.x2apic=false: the guest sees an xAPIC only. */
	vm_set_x2apic_offered(bhyve_ctx,
			      get_config_bool_default("x86.x2apic", true));
	vm_set_memflags(bhyve_ctx, o->memflags);
	if (vm_setup_memory_domains(bhyve_ctx, o->memsize, o->doms, o->ndoms) !=
	    0) {
		fprintf(stderr,
			"bhyve: cannot allocate %llu MiB of guest "
			"memory: %s\n",
			(unsigned long long)(o->memsize >> 20),
			strerror(errno));
		return -1;
	}
	if (vm_set_msr_exits(bhyve_ctx, true) != 0) {
		fprintf(stderr, "bhyve: KVM lacks userspace MSR exits: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int
bhyve_boot(void)
{
	struct boot_cpu_state st;
	char err[256];

	/*
	 * With a boot ROM, vCPU 0 starts at the reset vector in the ROM and
	 * the APs wait for INIT/SIPI, as KVM creates them; a guest reset ends
	 * this process (status 0), and the monitor (-M) starts a fresh VM
	 * here again.
	 */
	if (platform_firmware_is_uefi()) {
		memset(&st, 0, sizeof(st));
		boot_state_reset(&st);
	} else if (boot_load(bhyve_vmctx(), &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "bhyve: %s\n", err);
		return -1;
	}
	if (boot_apply(bhyve_vcpu(0), &st) != 0) {
		fprintf(stderr, "bhyve: cannot set the boot CPU state: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int
bhyve_setup_events(void)
{
	if (mevent_init() != 0 ||
	    mevent_add(SIGTERM, EVF_SIGNAL, bhyve_on_signal, NULL) == NULL ||
	    mevent_add(SIGINT, EVF_SIGNAL, bhyve_on_signal, NULL) == NULL ||
	    vcpu_run_arm_halt_check() != 0) {
		fprintf(stderr, "bhyve: cannot set up the event loop: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static void
bhyve_teardown(void)
{
	vcpu_run_join();
	platform_fini();
	fflush(stdout);
	fflush(stderr);
}

int
main(int argc, char **argv)
{
	struct bhyve_opts o;
	struct vmctx *ctx = NULL;
	int rc;

	/* Socket backends report a vanished peer as EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	init_config();
	rc = bhyve_parse_args(argc, argv);
	if (rc == BHYVE_ARGS_EXIT0)
		return 0;
	if (rc != 0)
		return BHYVE_EXIT_ERROR;
	if (get_config_bool_default("config.dump", false)) {
		dump_config(stdout);
		return 0;
	}
	if (bhyve_validate(&o) != 0)
		return BHYVE_EXIT_ERROR;
	/* -M: this process supervises; each child runs the guest once. */
	if (get_config_bool_default("monitor", false)) {
		rc = monitor_run();
		if (rc >= 0)
			return rc;
	}
	/* zone.seccomp (bhyvezone sets it): before any VM state exists. */
	if (get_config_bool_default("zone.seccomp", false) &&
	    sandbox_install() != 0)
		return BHYVE_EXIT_ERROR;
	if (registry_claim_or_report(o.name) != 0) /* ctl: registry, issue 7 */
		return BHYVE_EXIT_ERROR;

	init_inout();
	init_mem();
	inout_set_strict(get_config_bool_default("x86.strictio", false));
	mem_set_strict(get_config_bool_default("x86.strictio", false));
	if (bhyve_setup_events() != 0 || bhyve_create_vm(&o, &ctx) != 0 ||
	    platform_init(ctx) != 0 ||
	    vcpu_run_open(ctx, o.cpus,
			  get_config_bool_default("x86.strictmsr", true)) !=
		0 ||
	    bhyve_boot() != 0 ||
	    control_start(ctx) != 0 || /* ctl: control socket, issue 7 */
	    gdb_init(ctx) != 0) {      /* waits for gdb here with -G w... */
		notice_discard();
		platform_fini();
		return BHYVE_EXIT_ERROR;
	}
	notice_flush();
	if (vcpu_run_start() != 0) {
		bhyve_request_suspend(VM_SUSPEND_LAST);
		bhyve_teardown();
		return BHYVE_EXIT_ERROR;
	}
	rc = mevent_dispatch();
	gdb_fini(rc < 0 ? BHYVE_EXIT_ERROR : rc);
	bhyve_teardown();
	vm_destroy(ctx);
	return rc < 0 ? BHYVE_EXIT_ERROR : rc;
}
