/*
 * virtio-rnd's configuration: the "limit" key (bytes per second, with
 * k/M/G multiples) must be refused when it is out of range, including
 * values whose multiple overflows 64 bits, rather than wrap to a small
 * number or to 0 ("unlimited").  Each value is tried through init_pci()
 * on a detached VM, as bhyve's start-up does.
 */
#include <stdio.h>

#include "config.h"
#include "pci_emul.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

static struct vmctx *ctx;

/* init_pci()'s result for one virtio-rnd with limit=value. */
static int
rnd_init_with(const char *value)
{
	test_pci_world_reset();
	set_config_value("pci.0.4.0.device", "virtio-rnd");
	set_config_value("pci.0.4.0.limit", value);
	return init_pci(ctx);
}

static void
check_limit(const char *value, bool ok)
{
	char name[128];

	snprintf(name, sizeof(name), "virtio-rnd: limit=%s %s", value,
		 ok ? "accepted" : "refused");
	CHECK((rnd_init_with(value) == 0) == ok, name);
}

int
main(void)
{
	ctx = vm_create_detached("vtrndtest");
	if (ctx == NULL || vm_setup_memory(ctx, 16u << 20) != 0) {
		printf("FAIL: guest memory\n");
		return 1;
	}
	check_limit("0", true);
	check_limit("65536", true);
	check_limit("64k", true);
	check_limit("1M", true);
	check_limit("1024G", true);	    /* the largest: 2^40 */
	check_limit("1099511627776", true); /* the same in bytes */
	check_limit("1025G", false);
	check_limit("1099511627777", false);
	/* Multiples that overflow 64 bits: 2^64 would wrap to 0. */
	check_limit("17179869184G", false);
	check_limit("17592186044416M", false);
	check_limit("18014398509481984K", false);
	check_limit("18014398509481985k", false);
	check_limit("18446744073709551615G", false);
	check_limit("18446744073709551616", false); /* past strtoull */
	check_limit("", false);
	check_limit("k", false);
	check_limit("-1", false);
	check_limit("1T", false);
	check_limit("1kb", false);
	pci_emul_fini();
	fini_config();
	vm_destroy(ctx);
	return test_done();
}
