/*
 * COM1-COM4: 16550A UARTs at the standard ISA resources, each enabled by
 * its configuration key lpc.comN.path (bhyve_config(5); "-l comN,<path>"
 * writes it) whose value names the backend (uart_backend.h).
 */
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "inout.h"
#include "notice.h"
#include "platform_dev.h"
#include "registry.h"
#include "uart_backend.h"
#include "uart_emul.h"
#include "vmmapi.h"

struct lpc_uart {
	const char *name;
	int iobase;
	int irq;
	struct uart_softc *sc;
	struct uart_backend *be;
	bool ports_registered;
};

/* The PC/AT assignments: COM1/COM3 share IRQ 4, COM2/COM4 IRQ 3. */
static struct lpc_uart lpc_uarts[] = {
    {.name = "com1", .iobase = 0x3f8, .irq = 4},
    {.name = "com2", .iobase = 0x2f8, .irq = 3},
    {.name = "com3", .iobase = 0x3e8, .irq = 4},
    {.name = "com4", .iobase = 0x2e8, .irq = 3},
};

#define LPC_UART_COUNT (sizeof(lpc_uarts) / sizeof(lpc_uarts[0]))

static struct vmctx *lpc_uart_ctx;

/*
 * The UART drives its ISA line as a level: high while an interrupt is
 * pending.  (On the 8259 in edge mode, each low-to-high change is one
 * interrupt, as with a real 16550 on the ISA bus.)
 */
static void
lpc_uart_intr_assert(void *arg)
{
	struct lpc_uart *lu = arg;

	vm_isa_assert_irq(lpc_uart_ctx, lu->irq, lu->irq);
}

static void
lpc_uart_intr_deassert(void *arg)
{
	struct lpc_uart *lu = arg;

	vm_isa_deassert_irq(lpc_uart_ctx, lu->irq, lu->irq);
}

/*
 * The UART is an 8-bit device: a wider access is split by the bus into
 * byte accesses of consecutive ports; bytes beyond the 8 registers float.
 */
static int
lpc_uart_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	    void *arg)
{
	struct lpc_uart *lu = arg;
	int offset = port - lu->iobase;
	uint32_t value = 0;

	if (offset < 0 || offset >= UART_NREGS || bytes < 1 || bytes > 4)
		return -1;
	for (int i = 0; i < bytes; i++) {
		int reg = offset + i;
		uint32_t byte = 0xff;

		if (in) {
			if (reg < UART_NREGS)
				byte = uart_read(lu->sc, reg);
			value |= byte << (8 * i);
		} else if (reg < UART_NREGS) {
			uart_write(lu->sc, reg, (uint8_t)(*eax >> (8 * i)));
		}
	}
	if (in)
		*eax = value;
	return 0;
}

/*
 * A /dev/nmdm device became a pty (Linux has no nmdm): say where its
 * other end is, and link it from the VM's registry entry so that scripts
 * find it at a fixed place (RUNDIR/NAME/comN).
 */
static void
lpc_uart_publish_pty(struct lpc_uart *lu, const char *nmdm)
{
	const char *pty = uart_backend_pty_path(lu->be);

	if (pty == NULL)
		return;
	if (registry_link(lu->name, pty) == 0)
		notice("%s: %s is the pty %s (also %s/%s)", lu->name, nmdm, pty,
		       registry_entry_path(), lu->name);
	else
		notice("%s: %s is the pty %s", lu->name, nmdm, pty);
}

static int
lpc_uart_init_one(struct lpc_uart *lu, const char *opts)
{
	struct inout_port iop = {
	    .name = lu->name,
	    .port = lu->iobase,
	    .size = UART_NREGS,
	    .flags = IOPORT_F_INOUT,
	    .handler = lpc_uart_io,
	    .arg = lu,
	};

	lu->be = uart_backend_open(lu->name, opts);
	if (lu->be == NULL)
		return -1;
	lpc_uart_publish_pty(lu, opts);
	lu->sc = uart_init(lpc_uart_intr_assert, lpc_uart_intr_deassert, lu);
	if (lu->sc == NULL) {
		fprintf(stderr, "bhyve: %s: out of memory\n", lu->name);
		return -1;
	}
	if (uart_backend_attach(lu->be, lu->sc) != 0)
		return -1;
	if (register_inout(&iop) != 0) {
		fprintf(stderr, "bhyve: %s: ports %#x-%#x are already in use\n",
			lu->name, lu->iobase, lu->iobase + UART_NREGS - 1);
		return -1;
	}
	lu->ports_registered = true;
	return 0;
}

static void
lpc_uart_fini(void)
{
	for (size_t i = 0; i < LPC_UART_COUNT; i++) {
		struct lpc_uart *lu = &lpc_uarts[i];
		struct inout_port iop = {
		    .name = lu->name,
		    .port = lu->iobase,
		    .size = UART_NREGS,
		    .flags = IOPORT_F_INOUT,
		    .handler = lpc_uart_io,
		    .arg = lu,
		};

		if (lu->ports_registered)
			unregister_inout(&iop);
		lu->ports_registered = false;
		/* Restores the terminal and closes output files. */
		uart_backend_close(lu->be);
		lu->be = NULL;
		uart_destroy(lu->sc);
		lu->sc = NULL;
	}
}

static int
lpc_uart_init(struct vmctx *ctx)
{
	char key[32];
	const char *opts;

	lpc_uart_ctx = ctx;
	for (size_t i = 0; i < LPC_UART_COUNT; i++) {
		snprintf(key, sizeof(key), "lpc.%s.path", lpc_uarts[i].name);
		opts = get_config_value(key);
		if (opts == NULL)
			continue;
		if (lpc_uart_init_one(&lpc_uarts[i], opts) != 0) {
			lpc_uart_fini();
			return -1;
		}
	}
	return 0;
}

static const struct platform_dev lpc_uart_dev = {
    .pd_name = "lpc-uart",
    .pd_order = 20,
    .pd_init = lpc_uart_init,
    .pd_fini = lpc_uart_fini,
};
PLATFORM_DEV_SET(lpc_uart_dev);
