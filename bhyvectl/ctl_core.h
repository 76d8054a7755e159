/* bhyvectl --write-core: an ELF core of a running guest that gdb opens. */
#ifndef CTL_CORE_H
#define CTL_CORE_H

#include <stddef.h>

#include "vmm_ctl.h"

int ctl_write_core(struct vm_ctl *c, const char *vmname, const char *path,
		   char *err, size_t errlen);

#endif
