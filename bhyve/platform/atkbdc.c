/*
 * i8042 keyboard controller at 0x60/0x64 (IRQ 1 keyboard, IRQ 12 mouse).
 *
 * Bytes for the guest wait in three queues: the controller's own (command
 * replies, the loopback commands D2/D3), the keyboard's and the mouse's;
 * the one-byte output buffer is refilled from them, in that order,
 * whenever the guest empties it.  The keyboard and the mouse only deliver
 * while their port is enabled in the command byte.  IRQ 1/12 are
 * levels: up while the output buffer is full and its interrupt enabled.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "atkbdc.h"
#include "inout.h"
#include "inputdev.h"
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
	struct atkbdc_queue ctrlq, kbdq, auxq;
	/* The keyboard. */
	uint8_t kbd_pending; /* keyboard command waiting for its argument */
	uint8_t kbd_set;     /* scan code set */
	uint8_t kbd_leds, kbd_typematic;
	bool kbd_scanning;
	/* The mouse (a plain PS/2 mouse, ID 0, in stream mode). */
	uint8_t aux_pending; /* mouse command waiting for its argument */
	uint8_t aux_rate, aux_res;
	bool aux_reporting, aux_scaling21, aux_remote;
	uint8_t aux_buttons;
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
	} else if (sc->auxq.len > 0 && !(sc->ram[0] & ATKBDC_CTR_AUXDIS)) {
		sc->obuf = atkbdc_pop(&sc->auxq) | Q_AUX;
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

/* --- the mouse --- */

/* Mouse commands (PS/2 mouse protocol). */
#define AUX_SET_SCALING11 0xe6
#define AUX_SET_SCALING21 0xe7
#define AUX_SET_RES	  0xe8
#define AUX_STATUS	  0xe9
#define AUX_STREAM	  0xea
#define AUX_READ_DATA	  0xeb
#define AUX_RESET_WRAP	  0xec
#define AUX_WRAP	  0xee
#define AUX_REMOTE	  0xf0
#define AUX_GET_ID	  0xf2
#define AUX_SET_RATE	  0xf3
#define AUX_ENABLE	  0xf4
#define AUX_DISABLE	  0xf5
#define AUX_DEFAULTS	  0xf6
#define AUX_RESEND	  0xfe
#define AUX_RESET	  0xff

/* Packet byte 0. */
#define AUX_PKT_ALWAYS1 0x08
#define AUX_PKT_XSIGN	0x10
#define AUX_PKT_YSIGN	0x20
#define AUX_PKT_MAX	255 /* 9-bit motion: -256..255, kept symmetric */

static void
aux_reply(struct atkbdc_softc *sc, uint8_t v)
{
	atkbdc_push(&sc->auxq, v);
}

static void
aux_defaults(struct atkbdc_softc *sc)
{
	sc->aux_rate = 100;
	sc->aux_res = 2; /* 4 counts/mm */
	sc->aux_scaling21 = false;
	sc->aux_reporting = false;
}

/* One movement packet of at most AUX_PKT_MAX each way, if it fits. */
static bool
aux_packet(struct atkbdc_softc *sc, int dx, int dy)
{
	uint8_t b0 = AUX_PKT_ALWAYS1 | sc->aux_buttons;

	if (sc->auxq.len + 3 > ATKBDC_QLEN)
		return false;
	if (dx < 0)
		b0 |= AUX_PKT_XSIGN;
	if (dy < 0)
		b0 |= AUX_PKT_YSIGN;
	aux_reply(sc, b0);
	aux_reply(sc, (uint8_t)dx);
	aux_reply(sc, (uint8_t)dy);
	return true;
}

static void
aux_argument(struct atkbdc_softc *sc, uint8_t cmd, uint8_t val)
{
	if (cmd == AUX_SET_RATE)
		sc->aux_rate = val;
	else
		sc->aux_res = val & 3;
	aux_reply(sc, KBD_ACK);
}

static void
aux_status(struct atkbdc_softc *sc)
{
	/* Byte 0: remote, enable, scaling, then left, middle, right. */
	uint8_t st =
	    (uint8_t)((sc->aux_remote ? 0x40 : 0) |
		      (sc->aux_reporting ? 0x20 : 0) |
		      (sc->aux_scaling21 ? 0x10 : 0) |
		      (sc->aux_buttons & 1) << 2 | (sc->aux_buttons & 4) >> 1 |
		      (sc->aux_buttons & 2) >> 1);

	aux_reply(sc, KBD_ACK);
	aux_reply(sc, st);
	aux_reply(sc, sc->aux_res);
	aux_reply(sc, sc->aux_rate);
}

/* A byte the guest sent to the mouse (controller command 0xd4). */
static void
aux_write(struct atkbdc_softc *sc, uint8_t val)
{
	uint8_t cmd = sc->aux_pending;

	sc->aux_pending = 0;
	if (cmd != 0) {
		aux_argument(sc, cmd, val);
		return;
	}
	switch (val) {
	case AUX_SET_RES:
	case AUX_SET_RATE:
		sc->aux_pending = val;
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_SET_SCALING11:
	case AUX_SET_SCALING21:
		sc->aux_scaling21 = val == AUX_SET_SCALING21;
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_STATUS:
		aux_status(sc);
		break;
	case AUX_STREAM:
	case AUX_REMOTE:
		sc->aux_remote = val == AUX_REMOTE;
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_READ_DATA:
		aux_reply(sc, KBD_ACK);
		(void)aux_packet(sc, 0, 0);
		break;
	case AUX_WRAP:
	case AUX_RESET_WRAP:
		/* Echo (wrap) mode is not modelled: acknowledged only. */
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_GET_ID:
		aux_reply(sc, KBD_ACK);
		aux_reply(sc, 0x00); /* a standard mouse, no wheel */
		break;
	case AUX_ENABLE:
		sc->aux_reporting = true;
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_DISABLE:
	case AUX_DEFAULTS:
		aux_defaults(sc);
		aux_reply(sc, KBD_ACK);
		break;
	case AUX_RESET:
		sc->auxq.len = 0;
		aux_defaults(sc);
		sc->aux_remote = false;
		aux_reply(sc, KBD_ACK);
		aux_reply(sc, KBD_BAT_OK);
		aux_reply(sc, 0x00);
		break;
	default:
		aux_reply(sc, KBD_NAK);
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
		aux_write(sc, val);
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

/* --- console keys --- */

/* A PC key: its set-1 and set-2 make codes; KEY_E0 marks an extended key. */
#define KEY_E0 0x100

struct kbd_key {
	uint32_t keysym;
	uint16_t set1, set2;
};

/* Keysyms of keys that are not characters (X11 keysymdef.h values). */
static const struct kbd_key kbd_special_keys[] = {
    {0xff1b, 0x01, 0x76},		    /* Escape */
    {0xff08, 0x0e, 0x66},		    /* BackSpace */
    {0xff09, 0x0f, 0x0d},		    /* Tab */
    {0xfe20, 0x0f, 0x0d},		    /* ISO_Left_Tab (shift-tab) */
    {0xff0d, 0x1c, 0x5a},		    /* Return */
    {0xffe3, 0x1d, 0x14},		    /* Control_L */
    {0xffe1, 0x2a, 0x12},		    /* Shift_L */
    {0xffe2, 0x36, 0x59},		    /* Shift_R */
    {0xffe9, 0x38, 0x11},		    /* Alt_L */
    {0xffe7, 0x38, 0x11},		    /* Meta_L */
    {0xffe5, 0x3a, 0x58},		    /* Caps_Lock */
    {0xffbe, 0x3b, 0x05},		    /* F1 */
    {0xffbf, 0x3c, 0x06},		    /* F2 */
    {0xffc0, 0x3d, 0x04},		    /* F3 */
    {0xffc1, 0x3e, 0x0c},		    /* F4 */
    {0xffc2, 0x3f, 0x03},		    /* F5 */
    {0xffc3, 0x40, 0x0b},		    /* F6 */
    {0xffc4, 0x41, 0x83},		    /* F7 */
    {0xffc5, 0x42, 0x0a},		    /* F8 */
    {0xffc6, 0x43, 0x01},		    /* F9 */
    {0xffc7, 0x44, 0x09},		    /* F10 */
    {0xffc8, 0x57, 0x78},		    /* F11 */
    {0xffc9, 0x58, 0x07},		    /* F12 */
    {0xff7f, 0x45, 0x77},		    /* Num_Lock */
    {0xff14, 0x46, 0x7e},		    /* Scroll_Lock */
    {0xffaa, 0x37, 0x7c},		    /* KP_Multiply */
    {0xffad, 0x4a, 0x7b},		    /* KP_Subtract */
    {0xffab, 0x4e, 0x79},		    /* KP_Add */
    {0xff8d, KEY_E0 | 0x1c, KEY_E0 | 0x5a}, /* KP_Enter */
    {0xffaf, KEY_E0 | 0x35, KEY_E0 | 0x4a}, /* KP_Divide */
    {0xffe4, KEY_E0 | 0x1d, KEY_E0 | 0x14}, /* Control_R */
    {0xffea, KEY_E0 | 0x38, KEY_E0 | 0x11}, /* Alt_R */
    {0xfe03, KEY_E0 | 0x38, KEY_E0 | 0x11}, /* ISO_Level3_Shift (AltGr) */
    {0xffeb, KEY_E0 | 0x5b, KEY_E0 | 0x1f}, /* Super_L */
    {0xffec, KEY_E0 | 0x5c, KEY_E0 | 0x27}, /* Super_R */
    {0xff67, KEY_E0 | 0x5d, KEY_E0 | 0x2f}, /* Menu */
    {0xff50, KEY_E0 | 0x47, KEY_E0 | 0x6c}, /* Home */
    {0xff51, KEY_E0 | 0x4b, KEY_E0 | 0x6b}, /* Left */
    {0xff52, KEY_E0 | 0x48, KEY_E0 | 0x75}, /* Up */
    {0xff53, KEY_E0 | 0x4d, KEY_E0 | 0x74}, /* Right */
    {0xff54, KEY_E0 | 0x50, KEY_E0 | 0x72}, /* Down */
    {0xff55, KEY_E0 | 0x49, KEY_E0 | 0x7d}, /* Page_Up */
    {0xff56, KEY_E0 | 0x51, KEY_E0 | 0x7a}, /* Page_Down */
    {0xff57, KEY_E0 | 0x4f, KEY_E0 | 0x69}, /* End */
    {0xff63, KEY_E0 | 0x52, KEY_E0 | 0x70}, /* Insert */
    {0xffff, KEY_E0 | 0x53, KEY_E0 | 0x71}, /* Delete */
};

/*
 * The US layout's character keys: the unshifted and shifted character of
 * each, so that a client sending '!' (it sent Shift itself) gets key 1.
 */
static const struct {
	char plain, shifted;
	uint8_t set1, set2;
} kbd_char_keys[] = {
    {'`', '~', 0x29, 0x0e},  {'1', '!', 0x02, 0x16},  {'2', '@', 0x03, 0x1e},
    {'3', '#', 0x04, 0x26},  {'4', '$', 0x05, 0x25},  {'5', '%', 0x06, 0x2e},
    {'6', '^', 0x07, 0x36},  {'7', '&', 0x08, 0x3d},  {'8', '*', 0x09, 0x3e},
    {'9', '(', 0x0a, 0x46},  {'0', ')', 0x0b, 0x45},  {'-', '_', 0x0c, 0x4e},
    {'=', '+', 0x0d, 0x55},  {'q', 'Q', 0x10, 0x15},  {'w', 'W', 0x11, 0x1d},
    {'e', 'E', 0x12, 0x24},  {'r', 'R', 0x13, 0x2d},  {'t', 'T', 0x14, 0x2c},
    {'y', 'Y', 0x15, 0x35},  {'u', 'U', 0x16, 0x3c},  {'i', 'I', 0x17, 0x43},
    {'o', 'O', 0x18, 0x44},  {'p', 'P', 0x19, 0x4d},  {'[', '{', 0x1a, 0x54},
    {']', '}', 0x1b, 0x5b},  {'\\', '|', 0x2b, 0x5d}, {'a', 'A', 0x1e, 0x1c},
    {'s', 'S', 0x1f, 0x1b},  {'d', 'D', 0x20, 0x23},  {'f', 'F', 0x21, 0x2b},
    {'g', 'G', 0x22, 0x34},  {'h', 'H', 0x23, 0x33},  {'j', 'J', 0x24, 0x3b},
    {'k', 'K', 0x25, 0x42},  {'l', 'L', 0x26, 0x4b},  {';', ':', 0x27, 0x4c},
    {'\'', '"', 0x28, 0x52}, {'z', 'Z', 0x2c, 0x1a},  {'x', 'X', 0x2d, 0x22},
    {'c', 'C', 0x2e, 0x21},  {'v', 'V', 0x2f, 0x2a},  {'b', 'B', 0x30, 0x32},
    {'n', 'N', 0x31, 0x31},  {'m', 'M', 0x32, 0x3a},  {',', '<', 0x33, 0x41},
    {'.', '>', 0x34, 0x49},  {'/', '?', 0x35, 0x4a},  {' ', ' ', 0x39, 0x29},
};

/* The key for keysym, or false if a PC keyboard has none. */
static bool
kbd_lookup(uint32_t keysym, struct kbd_key *key)
{
	size_t i;

	for (i = 0; i < sizeof(kbd_char_keys) / sizeof(kbd_char_keys[0]); i++) {
		if (keysym == (uint8_t)kbd_char_keys[i].plain ||
		    keysym == (uint8_t)kbd_char_keys[i].shifted) {
			key->set1 = kbd_char_keys[i].set1;
			key->set2 = kbd_char_keys[i].set2;
			return true;
		}
	}
	for (i = 0; i < sizeof(kbd_special_keys) / sizeof(kbd_special_keys[0]);
	     i++) {
		if (keysym == kbd_special_keys[i].keysym) {
			*key = kbd_special_keys[i];
			return true;
		}
	}
	return false;
}

bool
atkbdc_event_key(struct atkbdc_softc *sc, bool down, uint32_t keysym)
{
	struct kbd_key key;
	bool set1;
	uint16_t code;
	unsigned int len;

	if (!kbd_lookup(keysym, &key))
		return false;
	pthread_mutex_lock(&sc->mtx);
	if (!sc->kbd_scanning) {
		pthread_mutex_unlock(&sc->mtx);
		return false;
	}
	/* With translation on, the 8042 turns the keyboard's set 2 into
	 * set 1 before the guest sees it: send what the guest would see. */
	set1 = (sc->ram[0] & ATKBDC_CTR_XLATE) || sc->kbd_set == 1;
	code = set1 ? key.set1 : key.set2;
	/* A whole key or nothing: half a sequence would garble the next. */
	len = 1 + ((code & KEY_E0) != 0) + (!set1 && !down);
	if (sc->kbdq.len + len > ATKBDC_QLEN) {
		pthread_mutex_unlock(&sc->mtx);
		return false;
	}
	if (code & KEY_E0)
		kbd_reply(sc, 0xe0);
	if (set1) {
		kbd_reply(sc, (uint8_t)(code | (down ? 0 : 0x80)));
	} else {
		if (!down)
			kbd_reply(sc, 0xf0);
		kbd_reply(sc, (uint8_t)code);
	}
	/* atkbdc_finish unlocks and raises IRQ 1 for the new bytes. */
	atkbdc_finish(sc);
	return true;
}

bool
atkbdc_event_mouse(struct atkbdc_softc *sc, uint8_t buttons, int dx, int dy)
{
	bool sent = false;

	pthread_mutex_lock(&sc->mtx);
	/* RFB buttons are left, middle, right; PS/2 left, right, middle. */
	sc->aux_buttons =
	    (uint8_t)((buttons & 1) | (buttons & 4) >> 1 | (buttons & 2) << 1);
	if (sc->aux_reporting && !sc->aux_remote) {
		/* PS/2 counts up as positive, screens count down. */
		dy = -dy;
		do {
			int px = dx > AUX_PKT_MAX    ? AUX_PKT_MAX
				 : dx < -AUX_PKT_MAX ? -AUX_PKT_MAX
						     : dx;
			int py = dy > AUX_PKT_MAX    ? AUX_PKT_MAX
				 : dy < -AUX_PKT_MAX ? -AUX_PKT_MAX
						     : dy;

			if (!aux_packet(sc, px, py))
				break; /* the rest of a long move is lost */
			sent = true;
			dx -= px;
			dy -= py;
		} while (dx != 0 || dy != 0);
	}
	atkbdc_finish(sc);
	return sent;
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
	aux_defaults(sc);
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

/* Console keys (VNC) arrive on the console's thread. */
static void
atkbdc_glue_key(void *arg, bool down, uint32_t keysym)
{
	if (atkbdc_sc != NULL)
		(void)atkbdc_event_key(atkbdc_sc, down, keysym);
}

/* Without an absolute pointer (USB tablet), console motion comes here. */
static void
atkbdc_glue_mouse(void *arg, uint8_t buttons, int dx, int dy)
{
	if (atkbdc_sc != NULL)
		(void)atkbdc_event_mouse(atkbdc_sc, buttons, dx, dy);
}

static void
atkbdc_fini(void)
{
	inputdev_set_keyboard(NULL, NULL);
	inputdev_set_rel_pointer(NULL, NULL);
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
	inputdev_set_keyboard(atkbdc_glue_key, NULL);
	inputdev_set_rel_pointer(atkbdc_glue_mouse, NULL);
	return 0;
}

static const struct platform_dev atkbdc_dev = {
    .pd_name = "atkbdc",
    .pd_order = 20,
    .pd_init = atkbdc_init,
    .pd_fini = atkbdc_fini,
};
PLATFORM_DEV_SET(atkbdc_dev);
