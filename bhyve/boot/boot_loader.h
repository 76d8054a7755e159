/*
 * One kernel format: how to recognize its image and how to load it.  The
 * dispatcher (boot.c) tries the loaders in its table in order; a loader
 * knows nothing of the others or of the dispatcher.
 */
#ifndef BOOT_LOADER_H
#define BOOT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot_ctx;

struct boot_loader {
	/* Whether the image is in this format (it may still be invalid). */
	bool (*probe)(const uint8_t *img, size_t size);
	/* Loads bc's image; 0, or -1 with boot_error() called. */
	int (*load)(struct boot_ctx *bc);
};

extern const struct boot_loader bzimage_loader;	  /* bzimage.c */
extern const struct boot_loader pvh_loader;	  /* pvh.c */
extern const struct boot_loader multiboot_loader; /* multiboot.c */

#endif
