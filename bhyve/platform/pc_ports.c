/*
 * Two more ports of QEMU's "pc" machine that OVMF, built for it, uses;
 * registered with a boot ROM only (platform_firmware_is_uefi()):
 *
 *   0x92           System Control Port A ("fast A20"): the firmware's
 *                  reset vector code enables A20 through it.  Reads
 *                  0x02 (A20 on; KVM never masks A20), writes are taken
 *                  and change nothing (bit 0, the fast reset, included).
 *   0xAF00-0xAF0B  QEMU's CPU hotplug register block on PIIX4.  OVMF
 *                  probes it for the number of possible CPUs; reading
 *                  all-ones says "no such block", so it counts CPUs from
 *                  fw_cfg instead.  Claimed so that x86.strictio does
 *                  not turn the probe into an error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config_vm.h"
#include "inout.h"
#include "platform_dev.h"

#define PC_PORT_A      0x92
#define PC_PORT_A_A20  0x02
#define PC_CPUHP_BASE  0xaf00
#define PC_CPUHP_LEN   12
#define PC_PORTS_ORDER 20

static bool pc_ports_registered;

static int
pc_port_a_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	     void *arg)
{
	if (in)
		*eax = PC_PORT_A_A20;
	return 0;
}

static int
pc_cpuhp_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	    void *arg)
{
	if (in)
		*eax = 0xffffffffu;
	return 0;
}

static const struct inout_port pc_ports[] = {
    {"port-a", PC_PORT_A, 1, IOPORT_F_INOUT, pc_port_a_io, NULL},
    {"cpu-hotplug", PC_CPUHP_BASE, PC_CPUHP_LEN, IOPORT_F_INOUT, pc_cpuhp_io,
     NULL},
};

static void
pc_ports_fini(void)
{
	if (!pc_ports_registered)
		return;
	for (size_t i = 0; i < sizeof(pc_ports) / sizeof(pc_ports[0]); i++)
		unregister_inout(&pc_ports[i]);
	pc_ports_registered = false;
}

static int
pc_ports_init(struct vmctx *ctx)
{
	if (!platform_firmware_is_uefi())
		return 0;
	for (size_t i = 0; i < sizeof(pc_ports) / sizeof(pc_ports[0]); i++) {
		if (register_inout(&pc_ports[i]) != 0) {
			fprintf(stderr, "bhyve: %s: port %#x already in use\n",
				pc_ports[i].name, pc_ports[i].port);
			while (i-- > 0)
				unregister_inout(&pc_ports[i]);
			return -1;
		}
	}
	pc_ports_registered = true;
	return 0;
}

static const struct platform_dev pc_ports_dev = {
    .pd_name = "pc-ports",
    .pd_order = PC_PORTS_ORDER,
    .pd_init = pc_ports_init,
    .pd_fini = pc_ports_fini,
};
PLATFORM_DEV_SET(pc_ports_dev);
