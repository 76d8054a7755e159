/*
 * libFuzzer target for the RFB messages a VNC client can send: the input
 * follows a valid handshake (version 3.8, security type None, ClientInit)
 * and goes through a socketpair into the VNC server's handling of one
 * client (libvncserver's parser, then bhyve/ui/vnc.c's key and pointer
 * handlers, which feed inputdev).  Checked invariants: the sinks see
 * pointer positions inside the screen, and nothing crashes or leaks under
 * ASan/UBSan.  A first input byte of 'V' starts at the version exchange
 * instead (the handshake itself is fuzzed).
 *
 * Build and run (from the repository root):
 *   make fuzz && build-fuzz/fuzz_rfb -max_total_time=10
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "inputdev.h"
#include "vnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FB_W 64
#define FB_H 32

static uint8_t fuzz_fb[FB_W * FB_H * 4];
static struct vnc_server *fuzz_vs;

static void
fuzz_get_mode(void *arg, struct vnc_mode *m)
{
	*m = (struct vnc_mode){fuzz_fb, FB_W, FB_H, 32, FB_W * 4};
}

static void
fuzz_key(void *arg, bool down, uint32_t keysym)
{
}

static void
fuzz_abs(void *arg, uint8_t buttons, uint32_t x, uint32_t y, uint32_t w,
	 uint32_t h)
{
	if (x >= w || y >= h)
		abort();
}

static void
fuzz_setup(void)
{
	static const struct vnc_display disp = {fuzz_get_mode, NULL};
	struct vnc_config cfg = {.width = FB_W, .height = FB_H};
	char err[128];

	/* A reply the socket cannot take fails fast instead of after 20 s. */
	rfbMaxClientWait = 100;
	fuzz_vs = vnc_server_start(&cfg, &disp, err, sizeof(err));
	if (fuzz_vs == NULL)
		abort();
	inputdev_set_keyboard(fuzz_key, NULL);
	inputdev_set_abs_pointer(fuzz_abs, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char handshake[] = "RFB 003.008\n\x01\x01";
	int sv[2], flags;
	char sink[4096];

	if (fuzz_vs == NULL)
		fuzz_setup();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	if (size > 0 && data[0] == 'V') {
		data++;
		size--;
	} else if (write(sv[0], handshake, sizeof(handshake) - 1) < 0) {
		goto out;
	}
	/* The whole input fits the socket buffer: no reader needed. */
	if (size > 0 && write(sv[0], data, size) < 0)
		goto out;
	shutdown(sv[0], SHUT_WR);
	/* The server's replies must not block it: they are thrown away. */
	flags = fcntl(sv[0], F_GETFL);
	fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);
	vnc_server_serve_fd(fuzz_vs, sv[1], 4096);
	while (read(sv[0], sink, sizeof(sink)) > 0)
		;
out:
	close(sv[0]);
	return 0;
}
