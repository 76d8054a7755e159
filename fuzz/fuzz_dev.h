/*
 * The setting every device-model fuzz target starts from: a detached VM
 * (guest memory, no vCPU, no KVM calls at run time) with the config, I/O
 * port, MMIO and interrupt layers that init_pci() and the model need, and
 * scratch disk images for the block models.  Failures abort: a target that
 * cannot build its VM has nothing to fuzz.
 */
#ifndef FUZZ_DEV_H
#define FUZZ_DEV_H

#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "vmmapi.h"
#include "fuzz_intr.h"

static inline struct vmctx *
fz_dev_vm(const char *name, size_t ram)
{
	struct vmctx *ctx = vm_create_detached(name);

	if (ctx == NULL || vm_setup_memory(ctx, ram) != 0)
		abort();
	init_config();
	init_inout();
	init_mem();
	pci_emul_set_intr_ops(&fz_intr_none);
	return ctx;
}

/*
 * A sparse image of SIZE bytes named from TMPL (mkstemp's XXXXXX form).
 * The caller unlinks it once the model has opened it, so nothing is left
 * behind when the target exits.
 */
static inline void
fz_dev_image(char *tmpl, off_t size)
{
	int fd = mkstemp(tmpl);

	if (fd < 0 || ftruncate(fd, size) != 0)
		abort();
	close(fd);
}

#endif
