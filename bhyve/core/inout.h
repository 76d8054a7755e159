/*
 * Port I/O dispatch: devices register handlers for port ranges, and the
 * vCPU loop routes every port access through inout_emulate().  Unclaimed
 * ports read as all-ones and swallow writes, as on a PC, unless the
 * configuration asks for strict I/O (x86.strictio, bhyve's -e).
 */
#ifndef INOUT_H
#define INOUT_H

#include <stdbool.h>
#include <stdint.h>

struct vmctx;
struct vcpu;

#define IOPORT_F_IN    0x1
#define IOPORT_F_OUT   0x2
#define IOPORT_F_INOUT (IOPORT_F_IN | IOPORT_F_OUT)

/*
 * One item of port I/O.  For an IN, the handler stores the value in *eax
 * (only the low 'bytes' bytes are used); for an OUT, *eax holds the value.
 * Returns 0 on success, -1 if the access is an error (the VM then stops
 * with status 4).
 */
typedef int (*inout_func_t)(struct vcpu *vcpu, int in, int port, int bytes,
			    uint32_t *eax, void *arg);

struct inout_port {
	const char *name;
	int port;
	int size;  /* number of consecutive ports */
	int flags; /* IOPORT_F_* */
	inout_func_t handler;
	void *arg;
};

void init_inout(void);
/* Registers ports [port, port+size); -1/EEXIST if any is already taken. */
int register_inout(const struct inout_port *iop);
int unregister_inout(const struct inout_port *iop);
/* Handles one item; returns 0, or -1 on a fatal access. */
int inout_emulate(struct vcpu *vcpu, bool in, uint16_t port, int bytes,
		  uint32_t *eax);
void inout_set_strict(bool strict);

#endif
