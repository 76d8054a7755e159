/*
 * Platform (motherboard) devices that exist independently of PCI: the
 * UARTs, power management, reset control ...  Each registers a struct
 * platform_dev in the platform_devs linker set; bhyve calls every init
 * after guest memory is set up and before any vCPU runs, in 'order'.
 */
#ifndef PLATFORM_DEV_H
#define PLATFORM_DEV_H

#include "linker_set.h"

struct vmctx;

struct platform_dev {
	const char *pd_name;
	int pd_order; /* lower first */
	/* Returns 0, or -1 after printing one line saying what is wrong. */
	int (*pd_init)(struct vmctx *ctx);
	/* Optional: undo init (restore terminals, flush files). */
	void (*pd_fini)(void);
};

#define PLATFORM_DEV_SET(x) DATA_SET(platform_devs, x)

int platform_init(struct vmctx *ctx);
void platform_fini(void);

#endif
