/*
 * Port I/O dispatch.  The x86 port space is only 64 Ki entries, so a flat
 * table indexed by port gives a constant-time lookup on the exit path.
 * The table holds 16-bit indexes into the (few) registrations rather than
 * the registrations themselves: 128 KiB instead of 2.5 MiB resident.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "inout.h"

#define MAX_IOPORTS    0x10000
#define MAX_INOUT_REGS 4096 /* registrations alive at once */

struct inout_slot {
	const char *name;
	int flags;
	inout_func_t handler;
	void *arg;
	int base; /* first port of the registration, for unregister */
};

static uint16_t inout_table[MAX_IOPORTS]; /* 0: unclaimed */
static struct inout_slot inout_regs[MAX_INOUT_REGS];
static pthread_rwlock_t inout_lock = PTHREAD_RWLOCK_INITIALIZER;
static bool inout_strict;

void
init_inout(void)
{
	pthread_rwlock_wrlock(&inout_lock);
	memset(inout_table, 0, sizeof(inout_table));
	memset(inout_regs, 0, sizeof(inout_regs));
	inout_strict = false;
	pthread_rwlock_unlock(&inout_lock);
}

void
inout_set_strict(bool strict)
{
	inout_strict = strict;
}

static bool
inout_range_ok(const struct inout_port *iop)
{
	return iop->handler != NULL && iop->port >= 0 && iop->size > 0 &&
	       iop->size <= MAX_IOPORTS - iop->port &&
	       (iop->flags & IOPORT_F_INOUT) != 0;
}

static int
inout_free_reg(void)
{
	for (int i = 1; i < MAX_INOUT_REGS; i++) {
		if (inout_regs[i].handler == NULL)
			return i;
	}
	return -1;
}

int
register_inout(const struct inout_port *iop)
{
	int r;

	if (!inout_range_ok(iop)) {
		errno = EINVAL;
		return -1;
	}
	pthread_rwlock_wrlock(&inout_lock);
	for (int p = iop->port; p < iop->port + iop->size; p++) {
		if (inout_table[p] != 0) {
			pthread_rwlock_unlock(&inout_lock);
			errno = EEXIST;
			return -1;
		}
	}
	r = inout_free_reg();
	if (r < 0) {
		pthread_rwlock_unlock(&inout_lock);
		errno = ENOSPC;
		return -1;
	}
	inout_regs[r] = (struct inout_slot){iop->name, iop->flags, iop->handler,
					    iop->arg, iop->port};
	for (int p = iop->port; p < iop->port + iop->size; p++)
		inout_table[p] = (uint16_t)r;
	pthread_rwlock_unlock(&inout_lock);
	return 0;
}

int
unregister_inout(const struct inout_port *iop)
{
	int r;

	if (!inout_range_ok(iop)) {
		errno = EINVAL;
		return -1;
	}
	pthread_rwlock_wrlock(&inout_lock);
	r = inout_table[iop->port];
	for (int p = iop->port; p < iop->port + iop->size; p++) {
		if (r == 0 || inout_table[p] != r ||
		    inout_regs[r].handler != iop->handler ||
		    inout_regs[r].base != iop->port) {
			pthread_rwlock_unlock(&inout_lock);
			errno = ENOENT;
			return -1;
		}
	}
	for (int p = iop->port; p < iop->port + iop->size; p++)
		inout_table[p] = 0;
	/* Ports of the registration outside [port, port+size) keep it. */
	bool still_used = false;
	for (int p = 0; p < MAX_IOPORTS && !still_used; p++)
		still_used = inout_table[p] == r;
	if (!still_used)
		memset(&inout_regs[r], 0, sizeof(inout_regs[r]));
	pthread_rwlock_unlock(&inout_lock);
	return 0;
}

static uint32_t
inout_mask(int bytes)
{
	return bytes >= 4 ? 0xffffffffu : (1u << (8 * bytes)) - 1;
}

int
inout_emulate(struct vcpu *vcpu, bool in, uint16_t port, int bytes,
	      uint32_t *eax)
{
	struct inout_slot s;
	int rc;

	if (bytes != 1 && bytes != 2 && bytes != 4)
		return -1;
	pthread_rwlock_rdlock(&inout_lock);
	s = inout_regs[inout_table[port]];
	pthread_rwlock_unlock(&inout_lock);

	if (s.handler == NULL ||
	    !(s.flags & (in ? IOPORT_F_IN : IOPORT_F_OUT))) {
		if (inout_strict) {
			fprintf(stderr, "bhyve: unhandled %s%d 0x%04x\n",
				in ? "in" : "out", bytes * 8, port);
			return -1;
		}
		/* Nothing decodes the cycle: the bus floats high. */
		if (in)
			*eax = inout_mask(bytes);
		return 0;
	}
	if (!in)
		*eax &= inout_mask(bytes);
	rc = s.handler(vcpu, in, port, bytes, eax, s.arg);
	if (in)
		*eax &= inout_mask(bytes);
	return rc;
}
