/*
 * pc-testdev (-l pc-testdev, key lpc.pc-testdev): the test device bhyve
 * offers for kvm-unit-tests, compatible with QEMU's pc-testdev plus
 * isa-debug-exit:
 *
 *   0xf4-0xf7      write v: the VM ends with exit status (v << 1) | 1
 *   0xe0-0xe3      a 32-bit scratch register, any width at any offset
 *   0x2000+pin     byte write: level of IOAPIC pin (ISA line below 16)
 *   0xff000000     64 KiB of scratch MMIO
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "platform_dev.h"
#include "vcpu_run.h"

#define PCT_EXIT_PORT  0xf4
#define PCT_EXIT_LEN   4
#define PCT_IOPORT     0xe0
#define PCT_IOPORT_LEN 4
#define PCT_IRQ_PORT   0x2000
#define PCT_IOMEM_BASE 0xff000000ULL
#define PCT_IOMEM_LEN  0x10000

static pthread_mutex_t pct_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint32_t pct_ioport_data;
static uint8_t pct_iomem[PCT_IOMEM_LEN];
static struct vmctx *pct_ctx;
static int pct_pins;

static int
pct_exit_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		 void *arg)
{
	if (in) {
		*eax = 0;
		return 0;
	}
	/* The status is 8 bits wide: only the low 7 bits of v survive. */
	bhyve_request_exit((int)(((*eax << 1) | 1) & 0xff));
	return 0;
}

static int
pct_ioport_handler(struct vcpu *vcpu, int in, int port, int bytes,
		   uint32_t *eax, void *arg)
{
	int shift = 8 * (port - PCT_IOPORT);
	uint32_t mask;

	if ((port - PCT_IOPORT) + bytes > PCT_IOPORT_LEN) {
		if (in)
			*eax = 0xffffffffu;
		return 0;
	}
	mask = (bytes == 4 ? 0xffffffffu : (1u << (8 * bytes)) - 1) << shift;
	pthread_mutex_lock(&pct_mtx);
	if (in)
		*eax = (pct_ioport_data & mask) >> shift;
	else
		pct_ioport_data =
		    (pct_ioport_data & ~mask) | ((*eax << shift) & mask);
	pthread_mutex_unlock(&pct_mtx);
	return 0;
}

static int
pct_irq_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		void *arg)
{
	int pin = port - PCT_IRQ_PORT;
	bool level;

	if (in) {
		*eax = 0;
		return 0;
	}
	if (bytes != 1)
		return 0; /* the line registers are bytes; ignore the rest */
	level = (*eax & 0xff) != 0;
	if (pin < 16)
		return level ? vm_isa_assert_irq(pct_ctx, pin, pin)
			     : vm_isa_deassert_irq(pct_ctx, pin, pin);
	return level ? vm_ioapic_assert_irq(pct_ctx, pin)
		     : vm_ioapic_deassert_irq(pct_ctx, pin);
}

static int
pct_iomem_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size,
		  uint64_t *val, void *arg1, long arg2)
{
	uint64_t off = addr - PCT_IOMEM_BASE;

	/* mem.c only dispatches accesses wholly inside the range. */
	pthread_mutex_lock(&pct_mtx);
	if (dir == MEM_F_READ) {
		*val = 0;
		memcpy(val, pct_iomem + off, (size_t)size);
	} else {
		memcpy(pct_iomem + off, val, (size_t)size);
	}
	pthread_mutex_unlock(&pct_mtx);
	return 0;
}

static int
pctestdev_init(struct vmctx *ctx)
{
	struct inout_port ex = {"isa-debug-exit", PCT_EXIT_PORT,
				PCT_EXIT_LEN,	  IOPORT_F_INOUT,
				pct_exit_handler, NULL};
	struct inout_port io = {"pc-testdev-ioport", PCT_IOPORT,
				PCT_IOPORT_LEN,	     IOPORT_F_INOUT,
				pct_ioport_handler,  NULL};
	struct inout_port irq = {"pc-testdev-irq-line", PCT_IRQ_PORT,	 0,
				 IOPORT_F_INOUT,	pct_irq_handler, NULL};
	struct mem_range mr = {
	    "pc-testdev-iomem", MEM_F_RW,     pct_iomem_handler, NULL, 0,
	    PCT_IOMEM_BASE,	PCT_IOMEM_LEN};

	if (!get_config_bool_default("lpc.pc-testdev", false))
		return 0;
	pct_ctx = ctx;
	pct_ioport_data = 0;
	memset(pct_iomem, 0, sizeof(pct_iomem));
	if (vm_ioapic_pincount(ctx, &pct_pins) != 0)
		pct_pins = 24;
	irq.size = pct_pins;
	if (register_inout(&ex) != 0 || register_inout(&io) != 0 ||
	    register_inout(&irq) != 0 || register_mem(&mr) != 0) {
		fprintf(stderr, "bhyve: pc-testdev: its ports or memory are "
				"already taken\n");
		return -1;
	}
	return 0;
}

static const struct platform_dev pctestdev_dev = {
    .pd_name = "pc-testdev",
    .pd_order = 20,
    .pd_init = pctestdev_init,
};
PLATFORM_DEV_SET(pctestdev_dev);
