/*
 * The GDB remote serial protocol, independent of KVM and sockets: packet
 * framing ($data#cs, acks, 0x03 interrupts), the encodings (hex, binary
 * escapes, run-length), and the commands, which act on a target through
 * struct gdb_target_ops.  bhyve/debug/gdb.c provides the KVM target; unit
 * tests and the fuzzer provide fakes.
 *
 * Reference: GDB manual, appendix E "GDB Remote Serial Protocol".
 */
#ifndef GDB_PROTO_H
#define GDB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb_regs.h"

/* Largest packet payload either side sends (advertised as PacketSize). */
#define GDB_PKT_MAX 16384

/* GDB's own signal numbers (include/gdb/signals.def), not the host's. */
#define GDB_SIGINT  2
#define GDB_SIGTRAP 5

enum gdb_stop_kind {
	GDB_STOP_SIGNAL,  /* plain signal: step done, interrupt, foreign int3 */
	GDB_STOP_SWBREAK, /* one of our software breakpoints */
	GDB_STOP_HWBREAK, /* a hardware instruction breakpoint */
	GDB_STOP_WATCH,	  /* write watchpoint at addr */
	GDB_STOP_RWATCH,  /* read watchpoint at addr */
	GDB_STOP_AWATCH,  /* access watchpoint at addr */
};

struct gdb_stop {
	int cpu; /* vCPU index */
	int signal;
	enum gdb_stop_kind kind;
	uint64_t addr;
};

/* Z/z types (GDB manual, "Packets", 'Z type,addr,kind'). */
enum gdb_bp_type {
	GDB_BP_SW = 0,
	GDB_BP_HW = 1,
	GDB_WP_WRITE = 2,
	GDB_WP_READ = 3,
	GDB_WP_ACCESS = 4,
};

/* set_bp's answer when the target lacks that kind of breakpoint. */
#define GDB_BP_UNSUPPORTED 1

struct gdb_target_ops {
	int (*ncpus)(void *t);
	/* 0, or -1: the stub answers with an error. */
	int (*read_regs)(void *t, int cpu, struct gdb_regfile *rf);
	int (*write_regs)(void *t, int cpu, const struct gdb_regfile *rf);
	/* By guest virtual address; bytes done (a prefix may succeed). */
	size_t (*read_mem)(void *t, int cpu, uint64_t addr, uint8_t *buf,
			   size_t len);
	size_t (*write_mem)(void *t, int cpu, uint64_t addr, const uint8_t *buf,
			    size_t len);
	/* 0, -1 (error) or GDB_BP_UNSUPPORTED. */
	int (*set_bp)(void *t, int cpu, bool insert, enum gdb_bp_type type,
		      uint64_t addr, uint64_t kind);
	/*
	 * Lets the target run: step_cpu >= 0 single-steps that vCPU (the
	 * others stay stopped), -1 continues every vCPU.  The target later
	 * calls gdb_conn_stopped().
	 */
	void (*resume)(void *t, int step_cpu);
	/* Ctrl-C while running: stop soon, then call gdb_conn_stopped(). */
	void (*interrupt)(void *t);
	/* gdb detaches ('D') or kills ('k'): the session ends after this. */
	void (*detach)(void *t);
	void (*kill)(void *t);
	/* Bytes for the debugger. */
	void (*send)(void *t, const void *buf, size_t len);
};

enum gdb_rx_state { GDB_RX_IDLE, GDB_RX_DATA, GDB_RX_CSUM1, GDB_RX_CSUM2 };

struct gdb_conn {
	const struct gdb_target_ops *ops;
	void *t;
	/* receive side */
	enum gdb_rx_state rx_state;
	uint8_t rx_buf[GDB_PKT_MAX + 1];
	size_t rx_len;
	bool rx_overflow;
	uint8_t rx_sum;
	uint8_t rx_csum;
	/* session */
	bool noack;
	bool running;
	bool closed; /* after D or k */
	int gcpu;    /* Hg: registers and memory */
	int ccpu;    /* Hc: step/continue, -1 for all */
	struct gdb_stop last_stop;
	/* the last packet sent, for a '-' */
	uint8_t tx_buf[2 * GDB_PKT_MAX + 8];
	size_t tx_len;
	/* reply being built */
	char reply[2 * GDB_PKT_MAX + 8];
	size_t reply_len;
	bool reply_binary; /* qXfer data: escape, no run-length */
	uint8_t mem_buf[GDB_PKT_MAX / 2]; /* m/M data */
};

void gdb_conn_init(struct gdb_conn *c, const struct gdb_target_ops *ops,
		   void *t);
/* Bytes from the debugger: acks, packets, 0x03. */
void gdb_conn_input(struct gdb_conn *c, const uint8_t *buf, size_t len);
/* The target stopped: sends the stop reply if gdb is waiting for one. */
void gdb_conn_stopped(struct gdb_conn *c, const struct gdb_stop *stop);
/* The VM ended with this exit status: 'W' if the debugger waits. */
void gdb_conn_exited(struct gdb_conn *c, int status);
/* The stop-reply text for 'stop' (T05thread:01;swbreak:; ...). */
size_t gdb_stop_reply(const struct gdb_stop *stop, char *buf, size_t cap);

/* ---- encodings, exposed for tests ---- */
uint8_t gdb_checksum(const void *buf, size_t len);
int gdb_hexval(int ch); /* 0-15, or -1 */
void gdb_hex_encode(const uint8_t *in, size_t len, char *out);
/* Exactly 2*len hex digits expected; -1 on any non-hex digit. */
int gdb_hex_decode(const char *in, size_t len, uint8_t *out);
/* A hex number of at most 16 digits; advances *p; false if none. */
bool gdb_parse_hex(const char **p, const char *end, uint64_t *v);
/* Removes '}' escapes in place; returns the new length or -1. */
long gdb_unescape(uint8_t *buf, size_t len);
/* Escapes '#', '$', '}' and '*'; returns the output length or -1 if cap
 * is too small. */
long gdb_escape(const uint8_t *in, size_t len, char *out, size_t cap);
/* Run-length encoding of a reply ("0*'" = "00000000"). */
size_t gdb_rle_encode(const char *in, size_t len, char *out, size_t cap);
/* Expands run-length encoding; returns the length, -1 if malformed or
 * more than cap. */
long gdb_rle_decode(const char *in, size_t len, char *out, size_t cap);

#endif
