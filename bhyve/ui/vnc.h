/*
 * The graphical console: an RFB (VNC, RFC 6143) server on libvncserver
 * that shows a display device's framebuffer and sends keyboard and
 * pointer events to inputdev.h.  It polls the display about 30 times a
 * second, compares it with the picture it last sent (per tile) and lets
 * libvncserver send the changed rectangles to every client; each client
 * is served by its own libvncserver thread.
 */
#ifndef VNC_H
#define VNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest picture a display may show (bhyve's fbuf limits). */
#define VNC_MAX_WIDTH  1920
#define VNC_MAX_HEIGHT 1200

/*
 * What the display shows now.  base points at the first visible pixel,
 * and height rows of stride bytes (the last only width * bpp / 8) lie in
 * memory that stays mapped while the server runs; the device checks that.
 */
struct vnc_mode {
	const uint8_t *base; /* NULL: blank (display off or mode invalid) */
	uint32_t width, height;
	uint32_t bpp; /* 16 (RGB565), 24 or 32 (XRGB, little-endian) */
	uint64_t stride;
};

struct vnc_display {
	/* Called on the server's thread; the device takes its own lock. */
	void (*get_mode)(void *arg, struct vnc_mode *mode);
	void *arg;
};

struct vnc_config {
	/* TCP listener: an IPv4 or IPv6 literal; NULL: no TCP listener. */
	const char *host;
	int port;
	const char *unix_path;	/* a Unix-socket listener, or NULL */
	const char *password;	/* VNC authentication, or NULL */
	bool wait;		/* vnc_server_start returns after a client */
	uint32_t width, height; /* the picture while the display is blank */
};

struct vnc_server;

/* NULL with the reason in err. */
struct vnc_server *vnc_server_start(const struct vnc_config *cfg,
				    const struct vnc_display *disp, char *err,
				    size_t errlen);
void vnc_server_stop(struct vnc_server *vs);
/* One poll of the display now (tests; the server also polls itself). */
void vnc_server_refresh(struct vnc_server *vs);
/*
 * Serves one client on fd on the calling thread until it disconnects or
 * max_messages messages were handled, then closes fd: for fuzzers, on a
 * server started with no listener (host and unix_path NULL), which runs
 * no libvncserver threads.
 */
void vnc_server_serve_fd(struct vnc_server *vs, int fd,
			 unsigned int max_messages);
/* Connections accepted so far. */
unsigned int vnc_server_nclients(struct vnc_server *vs);

/*
 * "tcp=" / "rfb=" values: "[host:]port", "host", "[v6]:port" or "[v6]";
 * the host defaults to 127.0.0.1 and the port to 5900.  host must hold
 * 64 bytes.  0, or -1 with the reason in err.
 */
int vnc_parse_addr(const char *s, char *host, int *port, char *err,
		   size_t errlen);

#endif
