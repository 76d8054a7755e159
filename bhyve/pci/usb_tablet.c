/*
 * A USB HID tablet ("slot.N.device=tablet" under an xhci controller): a
 * full-speed HID device whose one interrupt IN endpoint (0x81) reports
 * three buttons, an absolute X/Y position (0..0x7fff, HID 1.11, 6.2.2)
 * and a wheel.  It is the console's absolute pointer (inputdev.h), so a
 * VNC client's pointer lands where it is on the guest's screen without
 * any acceleration in between.
 *
 * Reports are queued only when the state changed; when the queue is full
 * (nobody polls) the newest entry is overwritten, so a guest that comes
 * back sees where the pointer is now.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inputdev.h"
#include "usb_dev.h"

#define TABLET_REPORT_LEN 6
#define TABLET_QUEUE	  16
#define TABLET_ABS_MAX	  0x7fff
#define TABLET_EP_MPS	  8

/* Standard requests (USB 2.0, 9.4) and HID class requests (HID 7.2). */
enum {
	REQ_GET_STATUS = 0x00,
	REQ_CLEAR_FEATURE = 0x01,
	REQ_SET_FEATURE = 0x03,
	REQ_SET_ADDRESS = 0x05,
	REQ_GET_DESCRIPTOR = 0x06,
	REQ_GET_CONFIGURATION = 0x08,
	REQ_SET_CONFIGURATION = 0x09,
	REQ_GET_INTERFACE = 0x0a,
	REQ_SET_INTERFACE = 0x0b,
	HID_GET_REPORT = 0x01,
	HID_GET_IDLE = 0x02,
	HID_GET_PROTOCOL = 0x03,
	HID_SET_REPORT = 0x09,
	HID_SET_IDLE = 0x0a,
	HID_SET_PROTOCOL = 0x0b,
};

enum {
	DT_DEVICE = 1,
	DT_CONFIG = 2,
	DT_STRING = 3,
	DT_HID = 0x21,
	DT_REPORT = 0x22,
};

/* Buttons (3 bits + 5 padding), X, Y (16 bits each), wheel (-127..127). */
static const uint8_t tablet_report_desc[] = {
    0x05, 0x01,	      /* Usage Page (Generic Desktop) */
    0x09, 0x02,	      /* Usage (Mouse) */
    0xa1, 0x01,	      /* Collection (Application) */
    0x09, 0x01,	      /*   Usage (Pointer) */
    0xa1, 0x00,	      /*   Collection (Physical) */
    0x05, 0x09,	      /*     Usage Page (Button) */
    0x19, 0x01,	      /*     Usage Minimum (1) */
    0x29, 0x03,	      /*     Usage Maximum (3) */
    0x15, 0x00,	      /*     Logical Minimum (0) */
    0x25, 0x01,	      /*     Logical Maximum (1) */
    0x95, 0x03,	      /*     Report Count (3) */
    0x75, 0x01,	      /*     Report Size (1) */
    0x81, 0x02,	      /*     Input (Data, Variable, Absolute) */
    0x95, 0x01,	      /*     Report Count (1) */
    0x75, 0x05,	      /*     Report Size (5) */
    0x81, 0x01,	      /*     Input (Constant) */
    0x05, 0x01,	      /*     Usage Page (Generic Desktop) */
    0x09, 0x30,	      /*     Usage (X) */
    0x09, 0x31,	      /*     Usage (Y) */
    0x15, 0x00,	      /*     Logical Minimum (0) */
    0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
    0x35, 0x00,	      /*     Physical Minimum (0) */
    0x46, 0xff, 0x7f, /*     Physical Maximum (32767) */
    0x75, 0x10,	      /*     Report Size (16) */
    0x95, 0x02,	      /*     Report Count (2) */
    0x81, 0x02,	      /*     Input (Data, Variable, Absolute) */
    0x09, 0x38,	      /*     Usage (Wheel) */
    0x15, 0x81,	      /*     Logical Minimum (-127) */
    0x25, 0x7f,	      /*     Logical Maximum (127) */
    0x35, 0x00,	      /*     Physical Minimum (0) */
    0x45, 0x00,	      /*     Physical Maximum (0) */
    0x75, 0x08,	      /*     Report Size (8) */
    0x95, 0x01,	      /*     Report Count (1) */
    0x81, 0x06,	      /*     Input (Data, Variable, Relative) */
    0xc0,	      /*   End Collection */
    0xc0,	      /* End Collection */
};

/*
 * bcdUSB 1.10: a full-speed-only device, so the host does not ask for a
 * device qualifier.  bhyve's tablet IDs (FreeBSD's PCI vendor 0xfb5d).
 */
static const uint8_t tablet_device_desc[18] = {
    18,	  DT_DEVICE, 0x10, 0x01, 0, 0, 0, 64, /* bMaxPacketSize0 */
    0x5d, 0xfb,	     0x01, 0x00,	      /* idVendor, idProduct */
    0x00, 0x01,	     1,	   2,	 3, 1,
};

#define TABLET_CONFIG_LEN (9 + 9 + 9 + 7)
static const uint8_t tablet_config_desc[TABLET_CONFIG_LEN] = {
    /* Configuration 1: bus powered, remote wakeup, 100 mA. */
    9,
    DT_CONFIG,
    TABLET_CONFIG_LEN,
    0,
    1,
    1,
    0,
    0xa0,
    50,
    /* Interface 0: HID, no boot protocol. */
    9,
    4,
    0,
    0,
    1,
    3,
    0,
    0,
    0,
    /* HID 1.11, one report descriptor. */
    9,
    DT_HID,
    0x11,
    0x01,
    0,
    1,
    DT_REPORT,
    sizeof(tablet_report_desc),
    0,
    /* Endpoint 0x81: interrupt IN, 8 bytes, every 10 ms. */
    7,
    5,
    0x81,
    3,
    TABLET_EP_MPS,
    0,
    10,
};

static const char *const tablet_strings[] = {NULL, "beehive",
					     "beehive USB tablet", "1"};

struct tablet_report {
	uint8_t buttons;
	uint16_t x, y;
	int8_t wheel;
};

struct usb_tablet {
	struct usb_dev dev; /* first: the controller's handle */
	pthread_mutex_t mtx;
	struct tablet_report cur; /* the state now (wheel 0) */
	struct tablet_report queue[TABLET_QUEUE];
	int head, count;
	uint8_t rfb_buttons; /* the console's last button mask */
	uint8_t config;	     /* SET_CONFIGURATION value */
	uint8_t idle, protocol;
	bool remote_wakeup;
};

static void
tablet_report_pack(const struct tablet_report *r, uint8_t *p)
{
	p[0] = r->buttons;
	p[1] = (uint8_t)r->x;
	p[2] = (uint8_t)(r->x >> 8);
	p[3] = (uint8_t)r->y;
	p[4] = (uint8_t)(r->y >> 8);
	p[5] = (uint8_t)r->wheel;
}

/* Appends r, or replaces the newest entry when the queue is full. */
static void
tablet_queue_push(struct usb_tablet *t, const struct tablet_report *r)
{
	int tail;

	if (t->count == TABLET_QUEUE) {
		tail = (t->head + t->count - 1) % TABLET_QUEUE;
	} else {
		tail = (t->head + t->count) % TABLET_QUEUE;
		t->count++;
	}
	t->queue[tail] = *r;
}

static uint16_t
tablet_scale(uint32_t v, uint32_t size)
{
	if (size <= 1)
		return 0;
	return (uint16_t)((uint64_t)v * TABLET_ABS_MAX / (size - 1));
}

/* inputdev's absolute pointer sink: runs on the console's thread. */
static void
tablet_pointer(void *arg, uint8_t buttons, uint32_t x, uint32_t y,
	       uint32_t width, uint32_t height)
{
	struct usb_tablet *t = arg;
	struct tablet_report r;
	uint8_t pressed;
	bool queued = false;

	pthread_mutex_lock(&t->mtx);
	/* RFB's wheel "buttons" 3 and 4 are clicks: one step per press. */
	pressed = buttons & ~t->rfb_buttons;
	t->rfb_buttons = buttons;
	r.buttons = buttons & 7;
	r.x = tablet_scale(x, width);
	r.y = tablet_scale(y, height);
	r.wheel = (int8_t)((pressed & 8 ? 1 : 0) - (pressed & 16 ? 1 : 0));
	if (t->config != 0 && (r.wheel != 0 || r.buttons != t->cur.buttons ||
			       r.x != t->cur.x || r.y != t->cur.y)) {
		tablet_queue_push(t, &r);
		queued = true;
	}
	t->cur = r;
	t->cur.wheel = 0;
	pthread_mutex_unlock(&t->mtx);
	if (queued && t->dev.notify != NULL)
		t->dev.notify(t->dev.hc, t->dev.port);
}

/* A string descriptor: index 0 lists English (US) only. */
static int
tablet_string(uint8_t idx, uint8_t *d, size_t cap)
{
	size_t n = 0;
	const char *s;

	if (idx == 0) {
		const uint8_t lang[4] = {4, DT_STRING, 0x09, 0x04};

		memcpy(d, lang, cap < 4 ? cap : 4);
		return cap < 4 ? (int)cap : 4;
	}
	if (idx >= sizeof(tablet_strings) / sizeof(tablet_strings[0]))
		return USB_STALL;
	s = tablet_strings[idx];
	if (cap >= 2) {
		d[0] = (uint8_t)(2 + 2 * strlen(s));
		d[1] = DT_STRING;
		n = 2;
	}
	for (; *s != '\0' && n + 2 <= cap; s++, n += 2) {
		d[n] = (uint8_t)*s; /* UTF-16LE of ASCII */
		d[n + 1] = 0;
	}
	return (int)n;
}

static int
tablet_copy(uint8_t *d, size_t cap, const uint8_t *src, size_t n)
{
	if (n > cap)
		n = cap;
	memcpy(d, src, n);
	return (int)n;
}

static int
tablet_get_descriptor(struct usb_tablet *t, const struct usb_setup *s,
		      uint8_t *d, size_t cap)
{
	uint8_t type = (uint8_t)(s->wValue >> 8), idx = (uint8_t)s->wValue;

	if (s->bmRequestType == 0x81) { /* the interface's HID descriptors */
		if (type == DT_REPORT)
			return tablet_copy(d, cap, tablet_report_desc,
					   sizeof(tablet_report_desc));
		if (type == DT_HID)
			return tablet_copy(d, cap, tablet_config_desc + 18, 9);
		return USB_STALL;
	}
	switch (type) {
	case DT_DEVICE:
		return tablet_copy(d, cap, tablet_device_desc,
				   sizeof(tablet_device_desc));
	case DT_CONFIG:
		return tablet_copy(d, cap, tablet_config_desc,
				   sizeof(tablet_config_desc));
	case DT_STRING:
		return tablet_string(idx, d, cap);
	default: /* device qualifier, BOS ...: a full-speed 1.1 device */
		return USB_STALL;
	}
}

static int
tablet_standard(struct usb_tablet *t, const struct usb_setup *s, uint8_t *d,
		size_t cap)
{
	switch (s->bRequest) {
	case REQ_GET_DESCRIPTOR:
		return tablet_get_descriptor(t, s, d, cap);
	case REQ_GET_STATUS: {
		const uint8_t st[2] = {
		    s->bmRequestType == 0x80 && t->remote_wakeup ? 2 : 0, 0};

		return tablet_copy(d, cap, st, sizeof(st));
	}
	case REQ_GET_CONFIGURATION:
		return tablet_copy(d, cap, &t->config, 1);
	case REQ_SET_CONFIGURATION:
		if (s->wValue > 1)
			return USB_STALL;
		t->config = (uint8_t)s->wValue;
		t->count = 0;
		return 0;
	case REQ_GET_INTERFACE: {
		const uint8_t alt = 0;

		return tablet_copy(d, cap, &alt, 1);
	}
	case REQ_SET_INTERFACE:
		return s->wIndex == 0 && s->wValue == 0 ? 0 : USB_STALL;
	case REQ_SET_FEATURE:
	case REQ_CLEAR_FEATURE:
		/* DEVICE_REMOTE_WAKEUP; ENDPOINT_HALT has nothing to clear. */
		if (s->bmRequestType == 0x00 && s->wValue == 1)
			t->remote_wakeup = s->bRequest == REQ_SET_FEATURE;
		return 0;
	case REQ_SET_ADDRESS: /* the controller's Address Device did it */
		return 0;
	default:
		return USB_STALL;
	}
}

static int
tablet_hid(struct usb_tablet *t, const struct usb_setup *s, uint8_t *d,
	   size_t cap)
{
	uint8_t rep[TABLET_REPORT_LEN];

	switch (s->bRequest) {
	case HID_GET_REPORT:
		tablet_report_pack(&t->cur, rep);
		return tablet_copy(d, cap, rep, sizeof(rep));
	case HID_GET_IDLE:
		return tablet_copy(d, cap, &t->idle, 1);
	case HID_GET_PROTOCOL:
		return tablet_copy(d, cap, &t->protocol, 1);
	case HID_SET_IDLE:
		t->idle = (uint8_t)(s->wValue >> 8);
		return 0;
	case HID_SET_PROTOCOL:
		t->protocol = (uint8_t)s->wValue;
		return 0;
	case HID_SET_REPORT: /* no output reports (LEDs) to take */
		return 0;
	default:
		return USB_STALL;
	}
}

static int
tablet_control(struct usb_dev *dev, const struct usb_setup *s, uint8_t *d,
	       size_t len)
{
	struct usb_tablet *t = (struct usb_tablet *)dev;
	int rc;

	pthread_mutex_lock(&t->mtx);
	if ((s->bmRequestType & 0x60) == 0x00)
		rc = tablet_standard(t, s, d, len);
	else if ((s->bmRequestType & 0x7f) == 0x21)
		rc = tablet_hid(t, s, d, len);
	else
		rc = USB_STALL;
	pthread_mutex_unlock(&t->mtx);
	return rc;
}

static int
tablet_transfer(struct usb_dev *dev, int ep, bool in, uint8_t *buf, size_t len)
{
	struct usb_tablet *t = (struct usb_tablet *)dev;
	uint8_t rep[TABLET_REPORT_LEN];
	int rc;

	if (ep != 1 || !in)
		return USB_STALL;
	pthread_mutex_lock(&t->mtx);
	if (t->config == 0 || t->count == 0) {
		rc = USB_NAK;
	} else {
		tablet_report_pack(&t->queue[t->head], rep);
		t->head = (t->head + 1) % TABLET_QUEUE;
		t->count--;
		rc = tablet_copy(buf, len, rep, sizeof(rep));
	}
	pthread_mutex_unlock(&t->mtx);
	return rc;
}

static bool
tablet_wakeup_enabled(struct usb_dev *dev)
{
	struct usb_tablet *t = (struct usb_tablet *)dev;
	bool on;

	pthread_mutex_lock(&t->mtx);
	on = t->remote_wakeup;
	pthread_mutex_unlock(&t->mtx);
	return on;
}

static void
tablet_reset(struct usb_dev *dev)
{
	struct usb_tablet *t = (struct usb_tablet *)dev;

	pthread_mutex_lock(&t->mtx);
	t->config = 0;
	t->count = 0;
	t->head = 0;
	t->idle = 0;
	t->protocol = 1; /* report protocol (HID 7.2.6) */
	t->remote_wakeup = false;
	pthread_mutex_unlock(&t->mtx);
}

static void
tablet_destroy(struct usb_dev *dev)
{
	struct usb_tablet *t = (struct usb_tablet *)dev;

	inputdev_set_abs_pointer(NULL, NULL);
	pthread_mutex_destroy(&t->mtx);
	free(t);
}

static const struct usb_dev_ops tablet_ops = {
    .name = "tablet",
    .speed = USB_SPEED_FULL,
    .control = tablet_control,
    .transfer = tablet_transfer,
    .wakeup_enabled = tablet_wakeup_enabled,
    .reset = tablet_reset,
    .destroy = tablet_destroy,
};

static struct usb_dev *
tablet_create(usb_notify_fn notify, void *hc, int port)
{
	struct usb_tablet *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->dev = (struct usb_dev){&tablet_ops, notify, hc, port};
	t->protocol = 1;
	pthread_mutex_init(&t->mtx, NULL);
	inputdev_set_abs_pointer(tablet_pointer, t);
	return &t->dev;
}

bool
usb_dev_known(const char *name)
{
	return name != NULL && strcmp(name, "tablet") == 0;
}

struct usb_dev *
usb_dev_create(const char *name, usb_notify_fn notify, void *hc, int port)
{
	if (!usb_dev_known(name))
		return NULL;
	return tablet_create(notify, hc, port);
}
