/*
 * Where a graphical console's keyboard and pointer events go.  A console
 * (the VNC server) reports events here; input devices register as sinks:
 * the PS/2 keyboard (atkbdc) for keys, an absolute pointer (a USB tablet)
 * or a relative one (a PS/2 mouse) for the pointer.  Pointer events go to
 * the absolute pointer if one is registered, else to the relative one as
 * motion since the last event, else nowhere.  Keeping this in the core
 * layer lets the console and the devices stay apart (tests/layers).
 */
#ifndef INPUTDEV_H
#define INPUTDEV_H

#include <stdbool.h>
#include <stdint.h>

/* keysym: an X11/RFB keysym (RFC 6143, 7.5.4). */
typedef void (*inputdev_key_fn)(void *arg, bool down, uint32_t keysym);
/* buttons: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down (RFB). */
typedef void (*inputdev_abs_fn)(void *arg, uint8_t buttons, uint32_t x,
				uint32_t y, uint32_t width, uint32_t height);
typedef void (*inputdev_rel_fn)(void *arg, uint8_t buttons, int dx, int dy);

/* Each replaces the previous sink; fn NULL removes it. */
void inputdev_set_keyboard(inputdev_key_fn fn, void *arg);
void inputdev_set_abs_pointer(inputdev_abs_fn fn, void *arg);
void inputdev_set_rel_pointer(inputdev_rel_fn fn, void *arg);

/* From a console: dropped while no sink is registered. */
void inputdev_key(bool down, uint32_t keysym);
/* (x, y) on a width x height screen; out-of-range values are clamped. */
void inputdev_pointer(uint8_t buttons, uint32_t x, uint32_t y, uint32_t width,
		      uint32_t height);

#endif
