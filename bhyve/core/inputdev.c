/*
 * The console input registry (inputdev.h).  One mutex orders sink
 * changes against events; sinks are called with it held, so a sink must
 * not register or unregister from inside its callback.
 */
#include <pthread.h>
#include <stdint.h>

#include "inputdev.h"

static pthread_mutex_t inputdev_mtx = PTHREAD_MUTEX_INITIALIZER;
static inputdev_key_fn inputdev_kbd_fn;
static void *inputdev_kbd_arg;
static inputdev_abs_fn inputdev_abs;
static void *inputdev_abs_arg;
static inputdev_rel_fn inputdev_rel;
static void *inputdev_rel_arg;
/* The last absolute position, to turn positions into motion. */
static uint32_t inputdev_last_x, inputdev_last_y;
static bool inputdev_have_last;

/* Motion between two positions of a huge screen still fits an int. */
static int
inputdev_clamp(int64_t d)
{
	if (d > INT32_MAX)
		return INT32_MAX;
	if (d < -INT32_MAX)
		return -INT32_MAX;
	return (int)d;
}

void
inputdev_set_keyboard(inputdev_key_fn fn, void *arg)
{
	pthread_mutex_lock(&inputdev_mtx);
	inputdev_kbd_fn = fn;
	inputdev_kbd_arg = arg;
	pthread_mutex_unlock(&inputdev_mtx);
}

void
inputdev_set_abs_pointer(inputdev_abs_fn fn, void *arg)
{
	pthread_mutex_lock(&inputdev_mtx);
	inputdev_abs = fn;
	inputdev_abs_arg = arg;
	pthread_mutex_unlock(&inputdev_mtx);
}

void
inputdev_set_rel_pointer(inputdev_rel_fn fn, void *arg)
{
	pthread_mutex_lock(&inputdev_mtx);
	inputdev_rel = fn;
	inputdev_rel_arg = arg;
	inputdev_have_last = false;
	pthread_mutex_unlock(&inputdev_mtx);
}

void
inputdev_key(bool down, uint32_t keysym)
{
	pthread_mutex_lock(&inputdev_mtx);
	if (inputdev_kbd_fn != NULL)
		inputdev_kbd_fn(inputdev_kbd_arg, down, keysym);
	pthread_mutex_unlock(&inputdev_mtx);
}

void
inputdev_pointer(uint8_t buttons, uint32_t x, uint32_t y, uint32_t width,
		 uint32_t height)
{
	int64_t dx, dy;

	if (width == 0 || height == 0)
		return;
	if (x >= width)
		x = width - 1;
	if (y >= height)
		y = height - 1;
	pthread_mutex_lock(&inputdev_mtx);
	if (inputdev_abs != NULL) {
		inputdev_abs(inputdev_abs_arg, buttons, x, y, width, height);
	} else if (inputdev_rel != NULL) {
		dx = inputdev_have_last ? (int64_t)x - inputdev_last_x : 0;
		dy = inputdev_have_last ? (int64_t)y - inputdev_last_y : 0;
		inputdev_rel(inputdev_rel_arg, buttons, inputdev_clamp(dx),
			     inputdev_clamp(dy));
	}
	inputdev_last_x = x;
	inputdev_last_y = y;
	inputdev_have_last = true;
	pthread_mutex_unlock(&inputdev_mtx);
}
