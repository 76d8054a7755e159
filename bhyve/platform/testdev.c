/*
 * beehive's test device (docs/testdev.md): how guest test payloads report
 * results and ask the host to act on them (inject an exception or NMI,
 * raise an interrupt later).  Present only with -l testdev.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "mevent.h"
#include "platform_dev.h"
#include "vcpu_run.h"

#define TD_PORT_BASE	0x0f00
#define TD_PORT_COUNT	0x20
#define TD_MSG		0x00
#define TD_VALUE	0x04
#define TD_RESULT	0x08
#define TD_ACTION	0x0c
#define TD_ERRCODE	0x10
#define TD_SCRATCH	0x14
#define TD_SEQ		0x18
#define TD_IRQ		0x1c
#define TD_ACT_ERRCODE	0x100
#define TD_ACT_NMI	0x200
#define TD_MMIO_BASE	0xfe000000ULL
#define TD_MMIO_SIZE	0x1000
#define TD_MSG_MAX	256
#define TD_IRQ_DELAY_NS 10000000ULL

static pthread_mutex_t td_mtx = PTHREAD_MUTEX_INITIALIZER;
static char td_msg[TD_MSG_MAX + 1];
static size_t td_msglen;
static uint32_t td_errcode, td_scratch, td_seq;
static uint64_t td_mmio_scratch, td_mmio_count;
static struct vmctx *td_ctx;

static void
td_flush_msg(void)
{
	td_msg[td_msglen] = '\0';
	fprintf(stderr, "testdev: %s\n", td_msg);
	td_msglen = 0;
}

static void
td_msg_byte(uint8_t c)
{
	if (c == '\n') {
		td_flush_msg();
		return;
	}
	td_msg[td_msglen++] = (char)c;
	if (td_msglen == TD_MSG_MAX)
		td_flush_msg();
}

static void
td_irq_fire(int fd, enum ev_type type, void *arg)
{
	int irq = (int)(intptr_t)arg;

	vm_isa_pulse_irq(td_ctx, irq, irq);
}

static void
td_irq_request(uint32_t v)
{
	int irq = (int)(v & 0xff);

	if (irq >= 16) {
		fprintf(stderr, "testdev: bad irq request %u\n", v);
		return;
	}
	if (mevent_add_timer_ns(TD_IRQ_DELAY_NS, 0, td_irq_fire,
				(void *)(intptr_t)irq) == NULL)
		fprintf(stderr, "testdev: cannot arm irq timer\n");
}

static int
td_action(struct vcpu *vcpu, uint32_t v)
{
	int rc;

	if (v & TD_ACT_NMI)
		rc = vm_inject_nmi(vcpu);
	else
		rc = vm_inject_exception(vcpu, (int)(v & 0xff),
					 (v & TD_ACT_ERRCODE) != 0, td_errcode,
					 0);
	if (rc != 0)
		fprintf(stderr, "testdev: injection of 0x%x failed\n", v);
	return 0;
}

/* Reads/writes 'bytes' bytes at byte offset 'off' of a little-endian reg. */
static uint64_t
td_merge(uint64_t reg, int off, int bytes, uint64_t val)
{
	uint64_t mask = bytes == 8 ? ~0ULL : ((1ULL << (8 * bytes)) - 1);

	return (reg & ~(mask << (8 * off))) | ((val & mask) << (8 * off));
}

static int
td_port_out(struct vcpu *vcpu, int off, int bytes, uint32_t v)
{
	switch (off & ~3) {
	case TD_MSG:
		td_msg_byte((uint8_t)v);
		break;
	case TD_VALUE:
		fprintf(stderr, "testdev: value 0x%08x\n", v);
		break;
	case TD_RESULT:
		if (v == 0)
			fprintf(stderr, "testdev: pass\n");
		else
			fprintf(stderr, "testdev: fail %u\n", v);
		break;
	case TD_ACTION:
		return td_action(vcpu, v);
	case TD_ERRCODE:
		td_errcode = v;
		break;
	case TD_SCRATCH:
		td_scratch = (uint32_t)td_merge(td_scratch, off & 3, bytes, v);
		break;
	case TD_SEQ:
		td_seq = v;
		break;
	case TD_IRQ:
		td_irq_request(v);
		break;
	}
	return 0;
}

static uint32_t
td_port_in(int off)
{
	switch (off & ~3) {
	case TD_SCRATCH:
		return td_scratch >> (8 * (off & 3));
	case TD_SEQ:
		return td_seq++;
	default:
		return 0xffffffffu;
	}
}

static int
td_port_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		void *arg)
{
	int off = port - TD_PORT_BASE, rc = 0;

	/* An access must not run past its register into the next one. */
	if ((off & 3) + bytes > 4) {
		if (in)
			*eax = 0xffffffffu;
		return 0;
	}
	pthread_mutex_lock(&td_mtx);
	if (in)
		*eax = td_port_in(off);
	else
		rc = td_port_out(vcpu, off, bytes, *eax);
	pthread_mutex_unlock(&td_mtx);
	return rc;
}

static int
td_mmio_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size,
		uint64_t *val, void *arg1, long arg2)
{
	uint64_t off = addr - TD_MMIO_BASE;

	pthread_mutex_lock(&td_mtx);
	td_mmio_count++;
	if (off + (uint64_t)size <= 8) {
		if (dir == MEM_F_WRITE)
			td_mmio_scratch =
			    td_merge(td_mmio_scratch, (int)off, size, *val);
		else
			*val = td_mmio_scratch >> (8 * off);
	} else if (off == 8 && dir == MEM_F_READ) {
		*val = td_mmio_count;
	} else if (dir == MEM_F_READ) {
		*val = 0;
	}
	pthread_mutex_unlock(&td_mtx);
	return 0;
}

static int
testdev_init(struct vmctx *ctx)
{
	struct inout_port iop = {"testdev",	 TD_PORT_BASE,	  TD_PORT_COUNT,
				 IOPORT_F_INOUT, td_port_handler, NULL};
	struct mem_range mr = {"testdev", MEM_F_RW,	td_mmio_handler, NULL,
			       0,	  TD_MMIO_BASE, TD_MMIO_SIZE};

	if (!get_config_bool_default("lpc.testdev", false))
		return 0;
	td_ctx = ctx;
	td_msglen = 0;
	td_errcode = td_scratch = td_seq = 0;
	td_mmio_scratch = td_mmio_count = 0;
	if (register_inout(&iop) != 0 || register_mem(&mr) != 0) {
		fprintf(stderr, "bhyve: testdev: ports or MMIO range busy\n");
		return -1;
	}
	return 0;
}

static void
testdev_fini(void)
{
	pthread_mutex_lock(&td_mtx);
	if (td_msglen > 0)
		td_flush_msg();
	pthread_mutex_unlock(&td_mtx);
	fflush(stderr);
}

static const struct platform_dev testdev_dev = {
    .pd_name = "testdev",
    .pd_order = 90,
    .pd_init = testdev_init,
    .pd_fini = testdev_fini,
};
PLATFORM_DEV_SET(testdev_dev);
