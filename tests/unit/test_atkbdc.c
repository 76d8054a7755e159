/*
 * i8042 model without KVM: the command sequences Linux's i8042 and atkbd
 * drivers send while probing, the interrupt lines and the reset line;
 * then the platform devices at 0x60/0x64 and the POST port 0x80 through
 * the port dispatcher.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "atkbdc.h"
#include "inout.h"
#include "platform_dev.h"
#include "test.h"
#include "test_util.h"

struct probe {
	bool irq1, irq12;
	int rises1, rises12;
	int resets;
};

static void
probe_irq(void *arg, int irq, bool level)
{
	struct probe *p = arg;

	if (irq == ATKBDC_KBD_IRQ) {
		p->rises1 += level && !p->irq1;
		p->irq1 = level;
	} else if (irq == ATKBDC_AUX_IRQ) {
		p->rises12 += level && !p->irq12;
		p->irq12 = level;
	}
}

static void
probe_reset(void *arg)
{
	((struct probe *)arg)->resets++;
}

static struct atkbdc_softc *
new_kbdc(struct probe *p)
{
	struct atkbdc_ops ops = {probe_irq, probe_reset, p};

	memset(p, 0, sizeof(*p));
	return atkbdc_create(&ops);
}

static uint8_t
status(struct atkbdc_softc *sc)
{
	return atkbdc_read(sc, ATKBDC_CMD_PORT);
}

static void
cmd(struct atkbdc_softc *sc, uint8_t c)
{
	atkbdc_write(sc, ATKBDC_CMD_PORT, c);
}

static void
data(struct atkbdc_softc *sc, uint8_t v)
{
	atkbdc_write(sc, ATKBDC_DATA_PORT, v);
}

/* Reads one byte as a driver does: only when OBF says there is one. */
static int
next_byte(struct atkbdc_softc *sc)
{
	if (!(status(sc) & ATKBDC_STS_OBF))
		return -1;
	return atkbdc_read(sc, ATKBDC_DATA_PORT);
}

static void
test_controller(void)
{
	struct probe p;
	struct atkbdc_softc *sc = new_kbdc(&p);
	uint8_t st = status(sc);

	CHECK(!(st & ATKBDC_STS_OBF), "reset: output buffer empty");
	CHECK(st & ATKBDC_STS_SYS, "reset: system flag set");
	CHECK(st & ATKBDC_STS_UNLOCK, "reset: keyboard not inhibited");
	CHECK(!(st & ATKBDC_STS_IBF), "input buffer never busy");

	cmd(sc, 0xaa);
	CHECK(status(sc) & ATKBDC_STS_A2, "A2: last write was a command");
	CHECK(p.irq1, "reply raises IRQ 1 (KBDINT on)");
	CHECK_EQ_U64(next_byte(sc), 0x55, "self-test 0xaa -> 0x55");
	CHECK(!p.irq1, "reading the reply lowers IRQ 1");
	CHECK_EQ_U64(next_byte(sc), -1, "nothing more");
	CHECK_EQ_U64(atkbdc_read(sc, ATKBDC_DATA_PORT), 0x55,
		     "empty data port repeats the last byte");
	cmd(sc, 0xab);
	CHECK_EQ_U64(next_byte(sc), 0x00, "keyboard interface test -> 0");
	cmd(sc, 0xa9);
	CHECK_EQ_U64(next_byte(sc), 0x00, "aux interface test -> 0");

	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc), 0x45, "command byte: KBDINT|SYS|XLATE");
	cmd(sc, 0x60);
	data(sc, 0x47);
	CHECK(!(status(sc) & ATKBDC_STS_A2), "A2 clear after data");
	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc), 0x47, "command byte written by 0x60");
	cmd(sc, 0x61);
	data(sc, 0x99);
	cmd(sc, 0x21);
	CHECK_EQ_U64(next_byte(sc), 0x99, "controller RAM byte 1");

	cmd(sc, 0xad);
	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc) & ATKBDC_CTR_KBDDIS, ATKBDC_CTR_KBDDIS,
		     "0xad disables the keyboard port");
	cmd(sc, 0xae);
	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc) & ATKBDC_CTR_KBDDIS, 0, "0xae enables it");
	cmd(sc, 0xa7);
	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc) & ATKBDC_CTR_AUXDIS, ATKBDC_CTR_AUXDIS,
		     "0xa7 disables the aux port");
	cmd(sc, 0xa8);
	cmd(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc) & ATKBDC_CTR_AUXDIS, 0, "0xa8 enables it");

	/* Interrupts follow the command byte. */
	cmd(sc, 0x60);
	data(sc, 0x44); /* KBDINT off */
	p.rises1 = 0;
	cmd(sc, 0xaa);
	CHECK(!p.irq1 && p.rises1 == 0, "KBDINT off: no IRQ 1");
	CHECK_EQ_U64(next_byte(sc), 0x55, "KBDINT off: byte still there");
	atkbdc_destroy(sc);
}

static void
test_output_port_and_reset(void)
{
	struct probe p;
	struct atkbdc_softc *sc = new_kbdc(&p);

	cmd(sc, 0xd0);
	CHECK_EQ_U64(next_byte(sc), 0x03, "output port: reset high, A20 on");
	cmd(sc, 0xd1);
	data(sc, 0x03);
	CHECK_EQ_U64(p.resets, 0, "output port write with bit 0 set: no reset");
	cmd(sc, 0xd1);
	data(sc, 0x02);
	CHECK_EQ_U64(p.resets, 1, "output port bit 0 cleared: reset");
	cmd(sc, 0xfe);
	CHECK_EQ_U64(p.resets, 2, "pulse 0xfe: reset");
	cmd(sc, 0xff);
	CHECK_EQ_U64(p.resets, 2, "pulse 0xff: no line, no reset");
	cmd(sc, 0xf0);
	CHECK_EQ_U64(p.resets, 3, "pulse 0xf0 includes the reset line");
	/* The byte after 0xd1 is not for the keyboard. */
	CHECK_EQ_U64(next_byte(sc), -1, "0xd1 data produced no reply");
	atkbdc_destroy(sc);
}

static void
test_keyboard(void)
{
	struct probe p;
	struct atkbdc_softc *sc = new_kbdc(&p);

	data(sc, 0xff);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "kbd reset: ACK");
	CHECK_EQ_U64(next_byte(sc), 0xaa, "kbd reset: self-test passed");
	CHECK_EQ_U64(p.rises1, 2, "kbd reset: one IRQ 1 per byte");
	data(sc, 0xf2);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "get ID: ACK");
	CHECK_EQ_U64(next_byte(sc), 0xab, "get ID: 0xab");
	CHECK_EQ_U64(next_byte(sc), 0x41, "get ID: 0x41 when translating");
	cmd(sc, 0x60);
	data(sc, 0x05); /* no translation */
	data(sc, 0xf2);
	next_byte(sc);
	next_byte(sc);
	CHECK_EQ_U64(next_byte(sc), 0x83, "get ID: 0x83 untranslated");
	data(sc, 0xed);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "set LEDs: ACK");
	data(sc, 0x07);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "set LEDs: argument ACK");
	data(sc, 0xf3);
	next_byte(sc);
	data(sc, 0x20);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "typematic: argument ACK");
	data(sc, 0xf0);
	next_byte(sc);
	data(sc, 0x00);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "get scan set: ACK");
	CHECK_EQ_U64(next_byte(sc), 0x02, "get scan set: 2");
	data(sc, 0xf0);
	next_byte(sc);
	data(sc, 0x09);
	CHECK_EQ_U64(next_byte(sc), 0xfe, "bad scan set: NAK");
	data(sc, 0xee);
	CHECK_EQ_U64(next_byte(sc), 0xee, "echo");
	data(sc, 0xf4);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "enable scanning: ACK");
	data(sc, 0xf5);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "disable scanning: ACK");
	data(sc, 0x01);
	CHECK_EQ_U64(next_byte(sc), 0xfe, "unknown command: NAK");

	/* A disabled keyboard port holds the keyboard's bytes back. */
	data(sc, 0xff);
	cmd(sc, 0xad);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "byte already in the buffer");
	CHECK_EQ_U64(next_byte(sc), -1, "port disabled: held back");
	cmd(sc, 0xae);
	CHECK_EQ_U64(next_byte(sc), 0xaa, "port enabled: delivered");
	cmd(sc, 0xad);
	data(sc, 0xee);
	CHECK_EQ_U64(next_byte(sc), 0xee, "writing to the keyboard re-enables");
	atkbdc_destroy(sc);
}

static void
test_aux(void)
{
	struct probe p;
	struct atkbdc_softc *sc = new_kbdc(&p);
	uint8_t st;

	/* Linux: loopback to tell PS/2 from AT controllers. */
	cmd(sc, 0xd3);
	data(sc, 0x5a);
	st = status(sc);
	CHECK((st & ATKBDC_STS_OBF) && (st & ATKBDC_STS_AUXB),
	      "aux loopback: byte marked as aux data");
	CHECK(!p.irq12 && !p.irq1, "AUXINT off: no IRQ 12, and no IRQ 1");
	CHECK_EQ_U64(next_byte(sc), 0x5a, "aux loopback: same byte");
	cmd(sc, 0x60);
	data(sc, 0x47); /* AUXINT on */
	cmd(sc, 0xd3);
	data(sc, 0xa5);
	CHECK(p.irq12 && !p.irq1, "aux loopback raises IRQ 12");
	CHECK_EQ_U64(next_byte(sc), 0xa5, "aux loopback with IRQ 12");
	CHECK(!p.irq12, "read lowers IRQ 12");
	/* The mouse, probed as Linux's psmouse does. */
	cmd(sc, 0xd4);
	data(sc, 0xf2);
	st = status(sc);
	CHECK((st & ATKBDC_STS_AUXB) && !(st & ATKBDC_STS_TIMEOUT) && p.irq12,
	      "mouse get ID: aux data with IRQ 12");
	CHECK_EQ_U64(next_byte(sc), 0xfa, "mouse get ID: ACK");
	CHECK_EQ_U64(next_byte(sc), 0x00, "mouse get ID: 0 (standard mouse)");
	cmd(sc, 0xd4);
	data(sc, 0xff);
	CHECK(next_byte(sc) == 0xfa && next_byte(sc) == 0xaa &&
		  next_byte(sc) == 0x00,
	      "mouse reset: FA AA 00");
	cmd(sc, 0xd4);
	data(sc, 0xf3);
	cmd(sc, 0xd4);
	data(sc, 0xc8);
	CHECK(next_byte(sc) == 0xfa && next_byte(sc) == 0xfa,
	      "mouse set rate: two ACKs");
	cmd(sc, 0xd4);
	data(sc, 0xe9);
	CHECK(next_byte(sc) == 0xfa && next_byte(sc) == 0x00 &&
		  next_byte(sc) == 0x02 && next_byte(sc) == 200,
	      "mouse status: off, resolution 2, rate 200");
	CHECK(!atkbdc_event_mouse(sc, 1, 10, 5),
	      "reporting off: no movement packet");
	cmd(sc, 0xd4);
	data(sc, 0xf4);
	CHECK_EQ_U64(next_byte(sc), 0xfa, "mouse enable: ACK");
	CHECK(atkbdc_event_mouse(sc, 1, 10, 5), "reporting on: packet");
	CHECK(next_byte(sc) == 0x29 && next_byte(sc) == 10 &&
		  next_byte(sc) == 0xfb,
	      "packet: left button, +10 right, 5 down (PS/2: -5)");
	atkbdc_event_mouse(sc, 4, -600, 0);
	CHECK(next_byte(sc) == 0x1a && next_byte(sc) == 0x01 &&
		  next_byte(sc) == 0 && next_byte(sc) == 0x1a &&
		  next_byte(sc) == 0x01 && next_byte(sc) == 0 &&
		  next_byte(sc) == 0x1a && next_byte(sc) == 0xa6,
	      "long move: split into -255, -255, -90; right button");
	CHECK_EQ_U64(next_byte(sc), 0, "long move: no vertical motion");
	cmd(sc, 0xa7); /* aux port off */
	atkbdc_event_mouse(sc, 0, 1, 1);
	CHECK_EQ_U64(next_byte(sc), -1, "aux port disabled: held back");
	cmd(sc, 0xa8);
	CHECK(next_byte(sc) == 0x28 && next_byte(sc) == 1 &&
		  next_byte(sc) == 0xff,
	      "aux port enabled: delivered");
	for (int i = 0; i < 10; i++)
		atkbdc_event_mouse(sc, 0, 1, 0);
	int m = 0;
	while (next_byte(sc) >= 0)
		m++;
	CHECK(m > 0 && m % 3 == 0, "full mouse queue: whole packets only");
	cmd(sc, 0xd4);
	data(sc, 0x01);
	CHECK_EQ_U64(next_byte(sc), 0xfe, "unknown mouse command: NAK");
	cmd(sc, 0xd4);
	data(sc, 0xf5);
	next_byte(sc);
	CHECK(!atkbdc_event_mouse(sc, 0, 1, 1), "mouse disabled: no packet");
	/* 0xd2 writes the keyboard's buffer. */
	cmd(sc, 0xd2);
	data(sc, 0x1c);
	st = status(sc);
	CHECK((st & ATKBDC_STS_OBF) && !(st & ATKBDC_STS_AUXB) && p.irq1,
	      "0xd2: keyboard data with IRQ 1");
	cmd(sc, 0xd0);
	CHECK_EQ_U64(next_byte(sc), 0x1c, "0xd2 byte first");
	CHECK_EQ_U64(next_byte(sc) & (ATKBDC_OUT_KBD_OBF | 1), 0x11,
		     "output port shows the keyboard OBF line");
	/* Many bytes while nobody reads: the queues are bounded. */
	for (int i = 0; i < 100; i++)
		data(sc, 0xee);
	int n = 0;
	while (next_byte(sc) >= 0 && n < 1000)
		n++;
	CHECK(n > 0 && n <= 17, "keyboard queue bounded");
	atkbdc_destroy(sc);
}

/* --- platform devices through the dispatcher --- */

static void
test_platform(void)
{
	const struct platform_dev *kbd = test_platform_dev("atkbdc");
	const struct platform_dev *post = test_platform_dev("post");
	uint32_t v;

	CHECK(kbd != NULL && post != NULL, "platform: atkbdc and post");
	if (kbd == NULL || post == NULL)
		return;
	init_inout();
	CHECK(kbd->pd_init(NULL) == 0, "platform: atkbdc initialises");
	CHECK(post->pd_init(NULL) == 0, "platform: post initialises");
	v = 0xaa;
	inout_emulate(NULL, false, ATKBDC_CMD_PORT, 1, &v);
	v = 0;
	inout_emulate(NULL, true, ATKBDC_CMD_PORT, 1, &v);
	CHECK(v & ATKBDC_STS_OBF, "platform: status at 0x64");
	inout_emulate(NULL, true, ATKBDC_DATA_PORT, 1, &v);
	CHECK_EQ_U64(v, 0x55, "platform: self-test through 0x60/0x64");
	v = 0x42;
	inout_emulate(NULL, false, 0x80, 1, &v);
	v = 0;
	inout_emulate(NULL, true, 0x80, 1, &v);
	CHECK_EQ_U64(v, 0x42, "post: 0x80 reads the last code");
	CHECK(post->pd_init(NULL) == -1, "post: port already taken");
	post->pd_fini();
	kbd->pd_fini();
	v = 0;
	inout_emulate(NULL, true, 0x80, 1, &v);
	CHECK_EQ_U64(v & 0xff, 0xff, "post: port released");
	inout_emulate(NULL, true, ATKBDC_CMD_PORT, 1, &v);
	CHECK_EQ_U64(v & 0xff, 0xff, "platform: atkbdc ports released");
}

/* Console keys (RFB keysyms) as the guest reads them. */
static void
test_console_keys(void)
{
	struct probe p;
	struct atkbdc_softc *sc = new_kbdc(&p);

	CHECK(atkbdc_event_key(sc, true, 'a'), "key a: queued");
	CHECK(p.irq1, "key: IRQ 1 raised");
	CHECK_EQ_U64(next_byte(sc), 0x1e, "key a down: set 1 (translated)");
	atkbdc_event_key(sc, false, 'A');
	CHECK_EQ_U64(next_byte(sc), 0x9e, "key A up: the a key, break code");
	atkbdc_event_key(sc, true, 0xff53); /* Right */
	CHECK_EQ_U64(next_byte(sc), 0xe0, "right down: E0 prefix");
	CHECK_EQ_U64(next_byte(sc), 0x4d, "right down: set 1 code");
	atkbdc_event_key(sc, true, '!');
	CHECK_EQ_U64(next_byte(sc), 0x02, "'!' is the 1 key");
	CHECK(!atkbdc_event_key(sc, true, 0x20ac), "euro sign: no PC key");
	CHECK_EQ_U64(next_byte(sc), -1, "unknown keysym: nothing queued");

	cmd(sc, 0x60);
	data(sc, 0x01); /* no translation: the guest reads set 2 */
	atkbdc_event_key(sc, true, 'a');
	CHECK_EQ_U64(next_byte(sc), 0x1c, "key a down: set 2");
	atkbdc_event_key(sc, false, 'a');
	CHECK_EQ_U64(next_byte(sc), 0xf0, "key a up: set 2 F0");
	CHECK_EQ_U64(next_byte(sc), 0x1c, "key a up: set 2 code");
	atkbdc_event_key(sc, false, 0xff53);
	CHECK(next_byte(sc) == 0xe0 && next_byte(sc) == 0xf0 &&
		  next_byte(sc) == 0x74,
	      "right up: E0 F0 74");

	for (int i = 0; i < 20; i++)
		atkbdc_event_key(sc, false, 0xff53);
	int n = 0, b, last = -1;
	while ((b = next_byte(sc)) >= 0) {
		n++;
		last = b;
	}
	CHECK(n % 3 == 0 && last == 0x74,
	      "full queue: whole key sequences only");

	data(sc, 0xf5); /* disable scanning */
	next_byte(sc);
	CHECK(!atkbdc_event_key(sc, true, 'a'), "not scanning: key dropped");
	atkbdc_destroy(sc);
}

int
main(void)
{
	test_controller();
	test_output_port_and_reset();
	test_keyboard();
	test_console_keys();
	test_aux();
	test_platform();
	return test_done();
}
