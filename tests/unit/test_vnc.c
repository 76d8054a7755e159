/*
 * The VNC server against real RFB clients (libvncclient) over loopback
 * and a Unix socket: ServerInit size, framebuffer updates whose pixels
 * match what was written into the "guest" framebuffer (32 and 16 bpp, a
 * mode change), VNC authentication accepted and refused, key and pointer
 * events reaching the input registry, a garbage-sending client dropped
 * while another keeps working, and wait= holding the start until a
 * client connects.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfbclient.h>

#include "inputdev.h"
#include "test.h"
#include "vnc.h"

#define W 640
#define H 480

static uint8_t guest_fb[W * H * 4];
static struct vnc_mode guest_mode;
static pthread_mutex_t guest_mtx = PTHREAD_MUTEX_INITIALIZER;
static int server_port;
static int trying_port; /* set before each start: wait= blocks in it */

static void
guest_get_mode(void *arg, struct vnc_mode *m)
{
	pthread_mutex_lock(&guest_mtx);
	*m = guest_mode;
	pthread_mutex_unlock(&guest_mtx);
}

static void
guest_set_mode(uint32_t w, uint32_t h, uint32_t bpp)
{
	pthread_mutex_lock(&guest_mtx);
	guest_mode =
	    (struct vnc_mode){guest_fb, w, h, bpp, (uint64_t)w * bpp / 8};
	pthread_mutex_unlock(&guest_mtx);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
quiet_log(const char *fmt, ...)
{
}

static const char *server_host = "127.0.0.1";

static struct vnc_server *
server_start(const char *password, const char *unix_path, bool wait)
{
	static const struct vnc_display disp = {guest_get_mode, NULL};
	char err[160];

	for (int i = 0; i < 20; i++) {
		struct vnc_config cfg = {
		    .host = server_host,
		    .port = 20000 + (int)((getpid() * 13 + i * 97) % 30000),
		    .unix_path = unix_path,
		    .password = password,
		    .wait = wait,
		    .width = 800,
		    .height = 600,
		};
		struct vnc_server *vs;

		__atomic_store_n(&trying_port, cfg.port, __ATOMIC_SEQ_CST);
		vs = vnc_server_start(&cfg, &disp, err, sizeof(err));

		if (vs != NULL) {
			server_port = cfg.port;
			return vs;
		}
	}
	printf("vnc_server_start: %s\n", err);
	return NULL;
}

static const char *client_password;

static char *
client_get_password(rfbClient *c)
{
	return strdup(client_password);
}

/* A connected client (ServerInit read), or NULL; host may be a path. */
static rfbClient *
client_connect(const char *host, int port)
{
	rfbClient *c = rfbGetClient(8, 3, 4);

	free(c->serverHost); /* rfbGetClient's "" */
	c->serverHost = strdup(host);
	c->serverPort = port;
	c->appData.encodingsString = "raw";
	c->GetPassword = client_get_password;
	c->canHandleNewFBSize = TRUE;
	if (!rfbInitClient(c, NULL, NULL))
		return NULL; /* rfbInitClient freed it */
	return c;
}

static void
client_close(rfbClient *c)
{
	if (c == NULL)
		return;
	free(c->frameBuffer);
	c->frameBuffer = NULL;
	rfbClientCleanup(c);
}

/* The client's pixel (R in bits 0-7 for rfbGetClient(8, 3, 4)). */
static uint32_t
client_pixel(rfbClient *c, int x, int y)
{
	uint32_t v;

	memcpy(&v, c->frameBuffer + ((size_t)y * c->width + x) * 4, 4);
	return v & 0xffffff;
}

static uint32_t
rgb_to_client(uint32_t rgb)
{
	return (rgb >> 16 & 0xff) | (rgb & 0xff00) | (rgb & 0xff) << 16;
}

/* Requests updates until pixel (x, y) is rgb, for up to 5 s. */
static bool
client_wait_pixel(rfbClient *c, int x, int y, uint32_t rgb)
{
	double end = now() + 5;

	while (now() < end) {
		if (!SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height,
						  TRUE))
			return false;
		if (WaitForMessage(c, 100000) > 0 && !HandleRFBServerMessage(c))
			return false;
		if (x < c->width && y < c->height &&
		    client_pixel(c, x, y) == rgb_to_client(rgb))
			return true;
	}
	return false;
}

/* Reads server messages until the size is w x h, for up to 5 s. */
static bool
client_wait_size(rfbClient *c, int w, int h)
{
	double end = now() + 5;

	while (now() < end && (c->width != w || c->height != h)) {
		SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height,
					     TRUE);
		if (WaitForMessage(c, 100000) > 0 && !HandleRFBServerMessage(c))
			return false;
	}
	return c->width == w && c->height == h;
}

static void
put32(int x, int y, uint32_t rgb)
{
	memcpy(guest_fb + ((size_t)y * W + x) * 4, &rgb, 4);
}

static void
test_picture(void)
{
	struct vnc_server *vs;
	rfbClient *c;
	uint16_t p565 = 0xf800; /* pure red */

	{
		static const struct vnc_display disp = {guest_get_mode, NULL};
		struct vnc_config big = {.width = VNC_MAX_WIDTH + 1,
					 .height = 600};
		char err[128];

		CHECK(vnc_server_start(&big, &disp, err, sizeof(err)) == NULL,
		      "picture wider than the maximum refused");
	}
	guest_set_mode(W, H, 32);
	vs = server_start(NULL, NULL, false);
	CHECK(vs != NULL, "server starts on loopback");
	if (vs == NULL)
		return;
	c = client_connect("127.0.0.1", server_port);
	CHECK(c != NULL, "client connects (no authentication)");
	if (c == NULL) {
		vnc_server_stop(vs);
		return;
	}
	CHECK(c->width == W && c->height == H,
	      "ServerInit: the guest mode's size");
	put32(10, 20, 0x123456);
	put32(W - 1, H - 1, 0xabcdef);
	vnc_server_refresh(vs);
	CHECK(client_wait_pixel(c, 10, 20, 0x123456),
	      "update: pixel (10,20) as written");
	CHECK(client_pixel(c, W - 1, H - 1) == rgb_to_client(0xabcdef),
	      "update: the last pixel as written");
	put32(300, 200, 0xff0000);
	CHECK(client_wait_pixel(c, 300, 200, 0xff0000),
	      "a later write shows up (30 Hz poll)");

	memset(guest_fb, 0, sizeof(guest_fb));
	memcpy(guest_fb + (5 * 320 + 7) * 2, &p565, 2);
	guest_set_mode(320, 240, 16);
	CHECK(client_wait_size(c, 320, 240), "mode change: new size sent");
	CHECK(client_wait_pixel(c, 7, 5, 0xff0000),
	      "16 bpp: RGB565 red converted");
	guest_set_mode(0, 0, 0);
	CHECK(client_wait_size(c, 800, 600),
	      "display off: configured size, blank");
	client_close(c);
	vnc_server_stop(vs);
}

static void
test_auth(void)
{
	struct vnc_server *vs;
	rfbClient *c;

	guest_set_mode(W, H, 32);
	vs = server_start("s3cret", NULL, false);
	if (vs == NULL) {
		CHECK(false, "server with password starts");
		return;
	}
	client_password = "wrong";
	c = client_connect("127.0.0.1", server_port);
	CHECK(c == NULL, "password: wrong one refused");
	client_close(c);
	client_password = "s3cret";
	c = client_connect("127.0.0.1", server_port);
	CHECK(c != NULL && c->width == W, "password: right one accepted");
	client_close(c);
	vnc_server_stop(vs);
}

static uint32_t last_key;
static bool last_down;
static int nkeys;
static uint32_t abs_x, abs_y, abs_w;
static uint8_t abs_buttons;
static int rel_dx, rel_dy, nrel;

static void
key_hook(void *arg, bool down, uint32_t keysym)
{
	last_key = keysym;
	last_down = down;
	__atomic_add_fetch(&nkeys, 1, __ATOMIC_SEQ_CST);
}

static void
abs_hook(void *arg, uint8_t buttons, uint32_t x, uint32_t y, uint32_t w,
	 uint32_t h)
{
	abs_buttons = buttons;
	abs_x = x;
	abs_y = y;
	__atomic_store_n(&abs_w, w, __ATOMIC_SEQ_CST);
}

static void
rel_hook(void *arg, uint8_t buttons, int dx, int dy)
{
	rel_dx = dx;
	rel_dy = dy;
	__atomic_add_fetch(&nrel, 1, __ATOMIC_SEQ_CST);
}

static bool
wait_for(int *counter, int n)
{
	for (int i = 0; i < 500; i++) {
		if (__atomic_load_n(counter, __ATOMIC_SEQ_CST) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* Connects a raw socket and sends bytes no RFB server expects. */
static int
garbage_client(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	static const char junk[] = "RFB 003.008\n\x77\xff\xff\xff\xff"
				   "\x00\x01\x02garbage garbage garbage";
	char buf[64];
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return -1;
	if (read(s, buf, 12) != 12 || write(s, junk, sizeof(junk)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static void
test_input_and_clients(void)
{
	struct vnc_server *vs;
	rfbClient *c1, *c2;
	int g;
	char buf[64];

	guest_set_mode(W, H, 32);
	vs = server_start(NULL, NULL, false);
	if (vs == NULL) {
		CHECK(false, "server starts");
		return;
	}
	inputdev_set_keyboard(key_hook, NULL);
	c1 = client_connect("127.0.0.1", server_port);
	c2 = client_connect("127.0.0.1", server_port);
	CHECK(c1 != NULL && c2 != NULL, "two clients at once");
	if (c1 == NULL || c2 == NULL) {
		client_close(c1);
		client_close(c2);
		vnc_server_stop(vs);
		return;
	}
	SendKeyEvent(c1, 'q', TRUE);
	CHECK(wait_for(&nkeys, 1) && last_key == 'q' && last_down,
	      "key event reaches the keyboard hook");
	SendKeyEvent(c2, 'q', FALSE);
	CHECK(wait_for(&nkeys, 2) && !last_down,
	      "key release from the second client");

	inputdev_set_rel_pointer(rel_hook, NULL);
	SendPointerEvent(c1, 100, 100, 0);
	SendPointerEvent(c1, 110, 95, 1);
	CHECK(wait_for(&nrel, 2) && rel_dx == 10 && rel_dy == -5,
	      "pointer: no tablet, relative motion to the mouse");
	inputdev_set_abs_pointer(abs_hook, NULL);
	SendPointerEvent(c1, 320, 240, 4);
	for (int i = 0;
	     i < 500 && __atomic_load_n(&abs_w, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(10000);
	CHECK(abs_x == 320 && abs_y == 240 && abs_w == W && abs_buttons == 4,
	      "pointer: absolute device preferred when present");
	inputdev_set_abs_pointer(NULL, NULL);
	inputdev_set_rel_pointer(NULL, NULL);

	g = garbage_client(server_port);
	CHECK(g >= 0, "garbage client connects");
	/* The server hangs up on it: read until EOF (or 5 s). */
	if (g >= 0) {
		struct timeval tv = {5, 0};
		ssize_t n;

		setsockopt(g, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while ((n = read(g, buf, sizeof(buf))) > 0)
			;
		/* Closing with our junk unread sends a reset instead. */
		CHECK(n == 0 || errno == ECONNRESET,
		      "garbage client dropped by the server");
		close(g);
	}
	put32(1, 1, 0x00ff00);
	CHECK(client_wait_pixel(c1, 1, 1, 0x00ff00),
	      "other client still served after the garbage one");
	client_close(c2);
	put32(2, 2, 0x0000ff);
	CHECK(client_wait_pixel(c1, 2, 2, 0x0000ff),
	      "one client leaving does not affect the other");
	CHECK(vnc_server_nclients(vs) >= 3, "connections counted");
	client_close(c1);
	inputdev_set_keyboard(NULL, NULL);
	vnc_server_stop(vs);
}

static void
test_unix(void)
{
	char path[64];
	struct vnc_server *vs;
	rfbClient *c;

	snprintf(path, sizeof(path), "/tmp/beehive-vnc-%d.sock", (int)getpid());
	guest_set_mode(W, H, 32);
	server_host = NULL; /* no TCP listener at all */
	vs = server_start(NULL, path, false);
	server_host = "127.0.0.1";
	CHECK(vs != NULL, "unix= listener alone starts");
	if (vs == NULL)
		return;
	c = client_connect(path, 0);
	CHECK(c != NULL && c->width == W, "client over the Unix socket");
	put32(3, 3, 0x345678);
	CHECK(c != NULL && client_wait_pixel(c, 3, 3, 0x345678),
	      "update over the Unix socket");
	client_close(c);
	vnc_server_stop(vs);
	CHECK(access(path, F_OK) != 0, "socket file removed at stop");
}

struct waiter {
	struct vnc_server *vs;
	bool done;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->vs = server_start(NULL, NULL, true);
	__atomic_store_n(&w->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
test_wait(void)
{
	struct waiter w = {NULL, false};
	pthread_t t;
	rfbClient *c = NULL;

	guest_set_mode(W, H, 32);
	pthread_create(&t, NULL, wait_thread, &w);
	usleep(200000);
	CHECK(!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST),
	      "wait: start blocks without a client");
	for (int i = 0; i < 100 && c == NULL; i++) {
		c = client_connect(
		    "127.0.0.1",
		    __atomic_load_n(&trying_port, __ATOMIC_SEQ_CST));
		if (c == NULL)
			usleep(20000);
	}
	pthread_join(t, NULL);
	CHECK(c != NULL && w.vs != NULL, "wait: the first client releases it");
	client_close(c);
	vnc_server_stop(w.vs);
}

/* IPv6 loopback, where the host has it. */
static void
test_ipv6(void)
{
	struct vnc_server *vs;
	rfbClient *c;
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT};

	if (s6 < 0 || bind(s6, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
		printf("SKIP: vnc: no IPv6 loopback here\n");
		if (s6 >= 0)
			close(s6);
		return;
	}
	close(s6);
	server_host = "::1";
	guest_set_mode(W, H, 32);
	vs = server_start(NULL, NULL, false);
	server_host = "127.0.0.1";
	CHECK(vs != NULL, "server on [::1]");
	if (vs == NULL)
		return;
	c = client_connect("::1", server_port);
	CHECK(c != NULL && c->width == W, "client over IPv6 loopback");
	client_close(c);
	vnc_server_stop(vs);
}

int
main(void)
{
	rfbClientLog = quiet_log;
	rfbClientErr = quiet_log;
	test_picture();
	test_auth();
	test_input_and_clients();
	test_unix();
	test_ipv6();
	test_wait();
	return test_done();
}
