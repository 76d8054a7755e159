/* bhyvectl --write-core: an ELF core of a running guest that gdb opens. */
#ifndef CTL_CORE_H
#define CTL_CORE_H

#include <stddef.h>

#include "ctl_client.h"

int ctl_write_core(struct ctl_conn *c, const char *vmname, const char *path,
		   char *err, size_t errlen);

#endif
