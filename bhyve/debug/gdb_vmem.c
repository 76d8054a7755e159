/*
 * The gdb stub's access to guest memory by virtual address.
 */
#include <string.h>

#include "gdb_vmem.h"
#include "vmmapi.h"

size_t
gdb_vmem_copy(struct vmctx *ctx, const struct pagewalk_cpu *pg, uint64_t gla,
	      void *buf, size_t len, bool write)
{
	uint8_t *b = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t gpa, pagesize, room;
		size_t n;
		void *host;

		if (pagewalk_gla2gpa(ctx, pg, gla + done, &gpa, &pagesize, NULL,
				     0) != PAGEWALK_OK)
			break;
		/* Bytes from gla+done to the end of its page. */
		room = pagesize - ((gla + done) & (pagesize - 1));
		n = len - done < room ? len - done : (size_t)room;
		host = vm_map_gpa(ctx, gpa, n);
		if (host == NULL)
			break;
		if (write)
			memcpy(host, b + done, n);
		else
			memcpy(b + done, host, n);
		done += n;
	}
	return done;
}
