/*
 * i8042 keyboard controller at 0x60/0x64 (IRQ 1 keyboard, IRQ 12 mouse).
 *
 * Bytes for the guest wait in two queues: the controller's own (command
 * replies, the loopback commands D2/D3, the aux-port timeouts) and the
 * keyboard's; the one-byte output buffer is refilled from them, the
 * controller first, whenever the guest empties it.  The keyboard only
 * delivers while its port is enabled in the command byte.  IRQ 1/12 are
 * levels: up while the output buffer is full and its interrupt enabled.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "atkbdc.h"
#include "inout.h"
#include "platform_dev.h"
#include "vcpu_run.h"
#include "vmmapi.h"

#define ATKBDC_QLEN	16
#define ATKBDC_RAM_SIZE 32
/* Queue entry flags above the data byte. */
#define Q_AUX	  0x100 /* from the auxiliary (mouse) port */
#define Q_TIMEOUT 0x200 /* the device did not answer */

/* Controller commands (port 0x64). */
#define CMD_READ_RAM	   0x20 /* 0x20-0x3f */
#define CMD_WRITE_RAM	   0x60 /* 0x60-0x7f */
#define CMD_AUX_DISABLE	   0xa7
#define CMD_AUX_ENABLE	   0xa8
#define CMD_AUX_TEST	   0xa9
#define CMD_SELF_TEST	   0xaa
#define CMD_KBD_TEST	   0xab
#define CMD_KBD_DISABLE	   0xad
#define CMD_KBD_ENABLE	   0xae
#define CMD_READ_INPUT	   0xc0
#define CMD_READ_OUTPUT	   0xd0
#define CMD_WRITE_OUTPUT   0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX	   0xd4
#define CMD_READ_TEST	   0xe0
#define CMD_PULSE	   0xf0 /* 0xf0-0xff: pulse output bits 0-3 low */

/* Keyboard commands and replies (PS/2). */
#define KBD_SET_LEDS  0xed
#define KBD_ECHO      0xee
#define KBD_SCANSET   0xf0
#define KBD_GET_ID    0xf2
#define KBD_TYPEMATIC 0xf3
#define KBD_ENABLE    0xf4
#define KBD_DISABLE   0xf5
#define KBD_DEFAULTS  0xf6
#define KBD_RESEND    0xfe
#define KBD_RESET     0xff
#define KBD_ACK	      0xfa
#define KBD_BAT_OK    0xaa
#define KBD_NAK	      0xfe

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00

struct atkbdc_queue {
	uint16_t buf[ATKBDC_QLEN];
	unsigned int head, len;
};

struct atkbdc_softc {
	pthread_mutex_t mtx;
	struct atkbdc_ops ops;
	uint8_t ram[ATKBDC_RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t outport;
	uint16_t obuf; /* data byte and Q_* flags */
	bool obf;
	bool a2;	 /* last write went to port 0x64 */
	uint8_t pending; /* command waiting for its data byte */
	bool irq1, irq12;
	bool reset_request;
	struct atkbdc_queue ctrlq, kbdq;
	/* The keyboard. */
	uint8_t kbd_pending; /* keyboard command waiting for its argument */
	uint8_t kbd_set;     /* scan code set */
	uint8_t kbd_leds, kbd_typematic;
	bool kbd_scanning;
};

static void
atkbdc_push(struct atkbdc_queue *q, uint16_t v)
{
	if (q->len == ATKBDC_QLEN)
		return; /* a full device buffer drops bytes */
	q->buf[(q->head + q->len) % ATKBDC_QLEN] = v;
	q->len++;
}

static uint16_t
atkbdc_pop(struct atkbdc_queue *q)
{
	uint16_t v = q->buf[q->head];

	q->head = (q->head + 1) % ATKBDC_QLEN;
	q->len--;
	return v;
}

static void
atkbdc_refill(struct atkbdc_softc *sc)
{
	if (sc->obf)
		return;
	if (sc->ctrlq.len > 0) {
		sc->obuf = atkbdc_pop(&sc->ctrlq);
		sc->obf = true;
	} else if (sc->kbdq.len > 0 && !(sc->ram[0] & ATKBDC_CTR_KBDDIS)) {
		sc->obuf = atkbdc_pop(&sc->kbdq);
		sc->obf = true;
	}
}

static void
atkbdc_sync_irq(struct atkbdc_softc *sc)
{
	bool aux = (sc->obuf & Q_AUX) != 0;
	bool irq1 = sc->obf && !aux && (sc->ram[0] & ATKBDC_CTR_KBDINT);
	bool irq12 = sc->obf && aux && (sc->ram[0] & ATKBDC_CTR_AUXINT);

	if (irq1 != sc->irq1) {
		sc->irq1 = irq1;
		sc->ops.set_irq(sc->ops.arg, ATKBDC_KBD_IRQ, irq1);
	}
	if (irq12 != sc->irq12) {
		sc->irq12 = irq12;
		sc->ops.set_irq(sc->ops.arg, ATKBDC_AUX_IRQ, irq12);
	}
}

static uint8_t
atkbdc_status(const struct atkbdc_softc *sc)
{
	uint8_t st = ATKBDC_STS_UNLOCK;

	if (sc->obf) {
		st |= ATKBDC_STS_OBF;
		if (sc->obuf & Q_AUX)
			st |= ATKBDC_STS_AUXB;
		if (sc->obuf & Q_TIMEOUT)
			st |= ATKBDC_STS_TIMEOUT;
	}
	if (sc->ram[0] & ATKBDC_CTR_SYS)
		st |= ATKBDC_STS_SYS;
	if (sc->a2)
		st |= ATKBDC_STS_A2;
	return st;
}

/* --- the keyboard --- */

static void
kbd_reply(struct atkbdc_softc *sc, uint8_t v)
{
	atkbdc_push(&sc->kbdq, v);
}

static void
kbd_defaults(struct atkbdc_softc *sc)
{
	sc->kbd_set = 2;
	sc->kbd_leds = 0;
	sc->kbd_typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
}

/* The argument byte of SET_LEDS, TYPEMATIC or SCANSET. */
static void
kbd_argument(struct atkbdc_softc *sc, uint8_t cmd, uint8_t val)
{
	switch (cmd) {
	case KBD_SET_LEDS:
		sc->kbd_leds = val & 0x07;
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_TYPEMATIC:
		sc->kbd_typematic = val & 0x7f;
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_SCANSET:
		if (val > 3) {
			kbd_reply(sc, KBD_NAK);
			break;
		}
		kbd_reply(sc, KBD_ACK);
		if (val == 0)
			kbd_reply(sc, sc->kbd_set);
		else
			sc->kbd_set = val;
		break;
	}
}

static void
kbd_write(struct atkbdc_softc *sc, uint8_t val)
{
	uint8_t cmd = sc->kbd_pending;

	sc->kbd_pending = 0;
	if (cmd != 0) {
		kbd_argument(sc, cmd, val);
		return;
	}
	switch (val) {
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCANSET:
		sc->kbd_pending = val;
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_reply(sc, KBD_ECHO);
		break;
	case KBD_GET_ID:
		/* An MF2 keyboard; the second byte as the 8042 translates
		 * it when translation is on. */
		kbd_reply(sc, KBD_ACK);
		kbd_reply(sc, 0xab);
		kbd_reply(sc, (sc->ram[0] & ATKBDC_CTR_XLATE) ? 0x41 : 0x83);
		break;
	case KBD_ENABLE:
		sc->kbd_scanning = true;
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_DISABLE:
		sc->kbd_scanning = false;
		kbd_defaults(sc);
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_DEFAULTS:
		kbd_defaults(sc);
		kbd_reply(sc, KBD_ACK);
		break;
	case KBD_RESET:
		sc->kbdq.len = 0;
		kbd_defaults(sc);
		sc->kbd_scanning = true;
		kbd_reply(sc, KBD_ACK);
		kbd_reply(sc, KBD_BAT_OK);
		break;
	default:
		/* 0xf7-0xfe: per-key modes and resend, all accepted. */
		kbd_reply(sc, val >= 0xf7 ? KBD_ACK : KBD_NAK);
		break;
	}
}

/* --- the controller --- */

static void
ctrl_reply(struct atkbdc_softc *sc, uint16_t v)
{
	atkbdc_push(&sc->ctrlq, v);
}

static uint8_t
ctrl_output_port(const struct atkbdc_softc *sc)
{
	uint8_t v =
	    sc->outport & (uint8_t) ~(ATKBDC_OUT_KBD_OBF | ATKBDC_OUT_AUX_OBF);

	if (sc->obf)
		v |= (sc->obuf & Q_AUX) ? ATKBDC_OUT_AUX_OBF
					: ATKBDC_OUT_KBD_OBF;
	return v;
}

static void
ctrl_write_output_port(struct atkbdc_softc *sc, uint8_t val)
{
	/* A20 is always on in a VM; bit 1 is only remembered. */
	sc->outport = val;
	if (!(val & ATKBDC_OUT_RESET_N))
		sc->reset_request = true;
}

static void
ctrl_command(struct atkbdc_softc *sc, uint8_t cmd)
{
	sc->pending = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + ATKBDC_RAM_SIZE) {
		ctrl_reply(sc, sc->ram[cmd - CMD_READ_RAM]);
		return;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + ATKBDC_RAM_SIZE) {
		sc->pending = cmd;
		return;
	}
	if (cmd >= CMD_PULSE) {
		/* Bits 0-3 of the command select output lines to pulse
		 * low: 0xfe (and any even value) pulses the reset line. */
		if (!(cmd & ATKBDC_OUT_RESET_N))
			sc->reset_request = true;
		return;
	}
	switch (cmd) {
	case CMD_AUX_DISABLE:
		sc->ram[0] |= ATKBDC_CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		sc->ram[0] &= (uint8_t)~ATKBDC_CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		ctrl_reply(sc, PORT_TEST_OK);
		break;
	case CMD_SELF_TEST:
		sc->ram[0] |= ATKBDC_CTR_SYS;
		ctrl_reply(sc, SELF_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		sc->ram[0] |= ATKBDC_CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		sc->ram[0] &= (uint8_t)~ATKBDC_CTR_KBDDIS;
		break;
	case CMD_READ_INPUT:
		ctrl_reply(sc, 0x80); /* keyboard not inhibited */
		break;
	case CMD_READ_OUTPUT:
		ctrl_reply(sc, ctrl_output_port(sc));
		break;
	case CMD_READ_TEST:
		ctrl_reply(sc, 0x00);
		break;
	case CMD_WRITE_OUTPUT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		sc->pending = cmd;
		break;
	default:
		break; /* unknown commands are ignored, as by real parts */
	}
}

static void
ctrl_data(struct atkbdc_softc *sc, uint8_t val)
{
	uint8_t cmd = sc->pending;

	sc->pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + ATKBDC_RAM_SIZE) {
		sc->ram[cmd - CMD_WRITE_RAM] = val;
		return;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPUT:
		ctrl_write_output_port(sc, val);
		break;
	case CMD_WRITE_KBD_OBUF:
		ctrl_reply(sc, val);
		break;
	case CMD_WRITE_AUX_OBUF:
		ctrl_reply(sc, val | Q_AUX);
		break;
	case CMD_WRITE_AUX:
		/* No mouse: the byte goes nowhere and the port times out. */
		ctrl_reply(sc, KBD_NAK | Q_AUX | Q_TIMEOUT);
		break;
	default:
		/* Plain data is for the keyboard, which also re-enables its
		 * port (as real controllers do). */
		sc->ram[0] &= (uint8_t)~ATKBDC_CTR_KBDDIS;
		kbd_write(sc, val);
		break;
	}
}

static void
atkbdc_finish(struct atkbdc_softc *sc)
{
	bool reset = sc->reset_request;

	sc->reset_request = false;
	atkbdc_refill(sc);
	atkbdc_sync_irq(sc);
	pthread_mutex_unlock(&sc->mtx);
	if (reset)
		sc->ops.reset(sc->ops.arg);
}

uint8_t
atkbdc_read(struct atkbdc_softc *sc, int port)
{
	uint8_t v;

	pthread_mutex_lock(&sc->mtx);
	if (port == ATKBDC_CMD_PORT) {
		v = atkbdc_status(sc);
	} else {
		/* With nothing new, the data port repeats its last byte. */
		v = (uint8_t)sc->obuf;
		sc->obf = false;
		/* Let the line fall before the next byte moves in: the
		 * 8259 and IOAPIC see ISA interrupts as edges. */
		atkbdc_sync_irq(sc);
	}
	atkbdc_finish(sc);
	return v;
}

void
atkbdc_write(struct atkbdc_softc *sc, int port, uint8_t val)
{
	pthread_mutex_lock(&sc->mtx);
	sc->a2 = port == ATKBDC_CMD_PORT;
	if (port == ATKBDC_CMD_PORT)
		ctrl_command(sc, val);
	else
		ctrl_data(sc, val);
	atkbdc_finish(sc);
}

struct atkbdc_softc *
atkbdc_create(const struct atkbdc_ops *ops)
{
	struct atkbdc_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	pthread_mutex_init(&sc->mtx, NULL);
	sc->ops = *ops;
	/* As firmware leaves it: keyboard on with its interrupt, scan code
	 * translation, self-test passed; reset line high, A20 on. */
	sc->ram[0] = ATKBDC_CTR_KBDINT | ATKBDC_CTR_SYS | ATKBDC_CTR_XLATE;
	sc->outport = ATKBDC_OUT_RESET_N | ATKBDC_OUT_A20;
	sc->kbd_scanning = true;
	kbd_defaults(sc);
	return sc;
}

void
atkbdc_destroy(struct atkbdc_softc *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/* --- the platform device --- */

static struct atkbdc_softc *atkbdc_sc;
static struct vmctx *atkbdc_ctx;
static int atkbdc_nregistered;

static void
atkbdc_glue_set_irq(void *arg, int irq, bool level)
{
	if (atkbdc_ctx == NULL)
		return;
	if (level)
		vm_isa_assert_irq(atkbdc_ctx, irq, irq);
	else
		vm_isa_deassert_irq(atkbdc_ctx, irq, irq);
}

static void
atkbdc_glue_reset(void *arg)
{
	bhyve_request_suspend(VM_SUSPEND_RESET);
}

/* The 8042's ports are byte registers: wider accesses use the low byte. */
static int
atkbdc_glue_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	       void *arg)
{
	if (in)
		*eax = atkbdc_read(atkbdc_sc, port);
	else
		atkbdc_write(atkbdc_sc, port, (uint8_t)*eax);
	return 0;
}

static const struct inout_port atkbdc_ports[] = {
    {"atkbdc-data", ATKBDC_DATA_PORT, 1, IOPORT_F_INOUT, atkbdc_glue_io, NULL},
    {"atkbdc-cmd", ATKBDC_CMD_PORT, 1, IOPORT_F_INOUT, atkbdc_glue_io, NULL},
};

static void
atkbdc_fini(void)
{
	while (atkbdc_nregistered > 0)
		unregister_inout(&atkbdc_ports[--atkbdc_nregistered]);
	atkbdc_destroy(atkbdc_sc);
	atkbdc_sc = NULL;
	atkbdc_ctx = NULL;
}

static int
atkbdc_init(struct vmctx *ctx)
{
	static const struct atkbdc_ops ops = {
	    .set_irq = atkbdc_glue_set_irq,
	    .reset = atkbdc_glue_reset,
	};

	atkbdc_ctx = ctx;
	atkbdc_sc = atkbdc_create(&ops);
	if (atkbdc_sc == NULL) {
		fprintf(stderr, "bhyve: atkbdc: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < sizeof(atkbdc_ports) / sizeof(atkbdc_ports[0]);
	     i++) {
		if (register_inout(&atkbdc_ports[i]) != 0) {
			fprintf(stderr,
				"bhyve: atkbdc: port %#x already in "
				"use\n",
				atkbdc_ports[i].port);
			atkbdc_fini();
			return -1;
		}
		atkbdc_nregistered++;
	}
	return 0;
}

static const struct platform_dev atkbdc_dev = {
    .pd_name = "atkbdc",
    .pd_order = 20,
    .pd_init = atkbdc_init,
    .pd_fini = atkbdc_fini,
};
PLATFORM_DEV_SET(atkbdc_dev);
