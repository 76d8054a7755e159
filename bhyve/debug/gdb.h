/*
 * bhyve's debug server (-G [w][addr:]port or -G [w]unix:PATH): the GDB
 * remote serial protocol on TCP or a Unix socket, with the guest's vCPUs
 * as gdb threads.  Only root and the VM's owner may connect.
 * Configuration keys: gdb.port (TCP), gdb.address (default 127.0.0.1),
 * gdb.socket (a Unix socket path instead of TCP; with neither set, no
 * server), gdb.wait (wait for the debugger before the first guest
 * instruction).  See docs/gdb.md.
 */
#ifndef GDB_H
#define GDB_H

struct vmctx;

/*
 * Starts the server; call once the vCPUs exist and before their threads
 * start.  With gdb.wait it returns only after a debugger has attached and
 * let the guest run (or detached).  Returns 0, or -1 with a message.
 */
int gdb_init(struct vmctx *ctx);
/* At the VM's end, before it is destroyed: tells gdb the exit status and
 * stops the debug server. */
void gdb_fini(int status);

#endif
