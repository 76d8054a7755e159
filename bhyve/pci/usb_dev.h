/*
 * The interface between a USB host controller model (pci_xhci.c) and the
 * USB device models behind its root ports (usb_tablet.c).  The
 * controller owns the rings and guest memory; a device sees only
 * requests and bounce buffers, so it never touches a guest address.
 */
#ifndef USB_DEV_H
#define USB_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Device speeds as xHCI's default Protocol Speed IDs (xHCI 1.2, 7.2.1). */
#define USB_SPEED_FULL	1
#define USB_SPEED_LOW	2
#define USB_SPEED_HIGH	3
#define USB_SPEED_SUPER 4

/* A transfer's outcome, besides a byte count >= 0. */
#define USB_STALL (-1) /* the endpoint stalled the request */
#define USB_NAK	  (-2) /* nothing to send now; try again after notify */

/* The 8-byte SETUP packet of a control transfer (USB 2.0, 9.3). */
struct usb_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
};

struct usb_dev;

/* How a device tells its controller that an IN endpoint has data. */
typedef void (*usb_notify_fn)(void *hc, int port);

struct usb_dev_ops {
	const char *name;
	int speed;
	/*
	 * A control request on endpoint 0.  data holds len bytes: the OUT
	 * data stage, or room for the IN one (len <= wLength).  Returns
	 * the IN bytes produced (or 0 for OUT), or USB_STALL.
	 */
	int (*control)(struct usb_dev *dev, const struct usb_setup *setup,
		       uint8_t *data, size_t len);
	/* A transfer on endpoint ep (1..15); bytes, USB_NAK or USB_STALL. */
	int (*transfer)(struct usb_dev *dev, int ep, bool in, uint8_t *buf,
			size_t len);
	/* Whether the host enabled remote wakeup (USB 2.0, 9.4.5). */
	bool (*wakeup_enabled)(struct usb_dev *dev);
	/* A port reset or controller reset: back to the default state. */
	void (*reset)(struct usb_dev *dev);
	void (*destroy)(struct usb_dev *dev);
};

struct usb_dev {
	const struct usb_dev_ops *ops;
	usb_notify_fn notify;
	void *hc;
	int port;
};

/* Builds the device named in "slot.N.device"; NULL if unknown. */
struct usb_dev *usb_dev_create(const char *name, usb_notify_fn notify, void *hc,
			       int port);
/* Whether usb_dev_create() knows the name. */
bool usb_dev_known(const char *name);

#endif
