/*
 * The POST diagnostic port 0x80.  Firmware writes progress codes here,
 * and Linux writes to it as an I/O delay; a read returns the last value
 * written, as on boards with a POST code latch.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "inout.h"
#include "platform_dev.h"

#define POST_PORT 0x80

static _Atomic uint8_t post_code;
static bool post_registered;

static int
post_io(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	void *arg)
{
	if (in)
		*eax = atomic_load(&post_code);
	else
		atomic_store(&post_code, (uint8_t)*eax);
	return 0;
}

static const struct inout_port post_port = {
    .name = "post",
    .port = POST_PORT,
    .size = 1,
    .flags = IOPORT_F_INOUT,
    .handler = post_io,
};

static int
post_init(struct vmctx *ctx)
{
	atomic_store(&post_code, 0);
	if (register_inout(&post_port) != 0) {
		fprintf(stderr, "bhyve: post: port 0x80 already in use\n");
		return -1;
	}
	post_registered = true;
	return 0;
}

static void
post_fini(void)
{
	if (post_registered)
		unregister_inout(&post_port);
	post_registered = false;
}

static const struct platform_dev post_dev = {
    .pd_name = "post",
    .pd_order = 20,
    .pd_init = post_init,
    .pd_fini = post_fini,
};
PLATFORM_DEV_SET(post_dev);
