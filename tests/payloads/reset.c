/* A reset through the reset control register 0xCF9: bhyve exits with 0. */
#include "payload.h"

void
payload_main(void)
{
	td_printf("reset: writing 0x06 to port 0xcf9");
	cf9_reset();
}
