/*
 * The PC keyboard controller (Intel 8042 / "i8042") with a keyboard and a
 * plain PS/2 mouse (ID 0, three-byte packets) that answer the PS/2
 * commands an OS sends while probing; both are fed by a graphical console
 * (inputdev.h).  Its reset line (output port bit 0) reboots the VM.
 *
 * The model has no KVM in it: interrupts and resets are reported through
 * atkbdc_ops.  atkbdc.c also holds the platform device.
 */
#ifndef ATKBDC_H
#define ATKBDC_H

#include <stdbool.h>
#include <stdint.h>

#define ATKBDC_DATA_PORT 0x60
#define ATKBDC_CMD_PORT	 0x64 /* reads: status */
#define ATKBDC_KBD_IRQ	 1
#define ATKBDC_AUX_IRQ	 12

/* Status register. */
#define ATKBDC_STS_OBF	   0x01
#define ATKBDC_STS_IBF	   0x02
#define ATKBDC_STS_SYS	   0x04
#define ATKBDC_STS_A2	   0x08 /* last write was a command */
#define ATKBDC_STS_UNLOCK  0x10 /* keyboard not inhibited */
#define ATKBDC_STS_AUXB	   0x20 /* output buffer holds mouse data */
#define ATKBDC_STS_TIMEOUT 0x40

/* Command byte (controller RAM byte 0). */
#define ATKBDC_CTR_KBDINT 0x01
#define ATKBDC_CTR_AUXINT 0x02
#define ATKBDC_CTR_SYS	  0x04
#define ATKBDC_CTR_KBDDIS 0x10
#define ATKBDC_CTR_AUXDIS 0x20
#define ATKBDC_CTR_XLATE  0x40

/* Output port. */
#define ATKBDC_OUT_RESET_N 0x01 /* 0 holds the CPU in reset */
#define ATKBDC_OUT_A20	   0x02
#define ATKBDC_OUT_KBD_OBF 0x10
#define ATKBDC_OUT_AUX_OBF 0x20

struct atkbdc_softc;

struct atkbdc_ops {
	/* IRQ 1 or 12 changed level (called with the model locked). */
	void (*set_irq)(void *arg, int irq, bool level);
	/* The guest pulsed or lowered the reset line (model unlocked). */
	void (*reset)(void *arg);
	void *arg;
};

struct atkbdc_softc *atkbdc_create(const struct atkbdc_ops *ops);
void atkbdc_destroy(struct atkbdc_softc *sc);
/* Guest byte accesses to port 0x60 or 0x64. */
uint8_t atkbdc_read(struct atkbdc_softc *sc, int port);
void atkbdc_write(struct atkbdc_softc *sc, int port, uint8_t val);
/*
 * A key pressed or released on a console, as an X11/RFB keysym: queued
 * as the keyboard's scan codes, set 1 when the controller translates (or
 * set 1 was selected), else set 2 (set 3 is sent as set 2).  Dropped
 * while the keyboard is not scanning or the keysym has no PC key.
 * Returns whether bytes were queued.
 */
bool atkbdc_event_key(struct atkbdc_softc *sc, bool down, uint32_t keysym);
/*
 * Console pointer motion (dy positive: down the screen) and RFB buttons
 * (bit 0 left, 1 middle, 2 right): queued as movement packets while the
 * guest has reporting on in stream mode, a long move split into packets
 * of at most 255 counts.  Returns whether a packet was queued.
 */
bool atkbdc_event_mouse(struct atkbdc_softc *sc, uint8_t buttons, int dx,
			int dy);

#endif
