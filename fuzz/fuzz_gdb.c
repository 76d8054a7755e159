/*
 * libFuzzer target for the gdb stub's protocol layer: the input is what a
 * hostile debugger sends (packets, acks, 0x03, noise), fed in chunks to
 * gdb_conn_input() against a fake target; the target stops again between
 * chunks.  Every frame the stub sends must be well formed: "$", payload,
 * "#", and the right checksum.  Also round-trips the encoders.
 *
 * Build and run (from the repository root):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *       -g -O1 -Ibhyve/debug -Ibhyve/core -Ilib/vmmapi -pthread \
 *       fuzz/fuzz_gdb.c bhyve/debug/gdb_proto.c bhyve/debug/gdb_regs.c \
 *       -o build/fuzz_gdb
 *   build/fuzz_gdb -max_total_time=10
 * (make fuzz builds it as build-fuzz/fuzz_gdb.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gdb_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_BASE 0x1000
#define MEM_SIZE 256

static uint8_t mem[MEM_SIZE];
static struct gdb_regfile regs;
static struct gdb_conn conn;

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static int
f_ncpus(void *t)
{
	return 3;
}

static int
f_read_regs(void *t, int cpu, struct gdb_regfile *rf)
{
	check(cpu >= 0 && cpu < 3);
	*rf = regs;
	return cpu == 2 ? -1 : 0;
}

static int
f_write_regs(void *t, int cpu, const struct gdb_regfile *rf)
{
	check(cpu >= 0 && cpu < 3);
	for (int i = 0; i < GDB_NREGS; i++) {
		if (rf->valid[i])
			memcpy(regs.data + gdb_reg_offset(i),
			       rf->data + gdb_reg_offset(i),
			       (size_t)gdb_reg_size(i));
	}
	return 0;
}

static size_t
f_span(uint64_t addr, size_t len)
{
	if (addr < MEM_BASE || addr >= MEM_BASE + MEM_SIZE)
		return 0;
	return len < MEM_BASE + MEM_SIZE - addr
		   ? len
		   : (size_t)(MEM_BASE + MEM_SIZE - addr);
}

static size_t
f_read_mem(void *t, int cpu, uint64_t addr, uint8_t *buf, size_t len)
{
	size_t n = f_span(addr, len);

	check(len <= GDB_PKT_MAX);
	if (n > 0)
		memcpy(buf, mem + (addr - MEM_BASE), n);
	return n;
}

static size_t
f_write_mem(void *t, int cpu, uint64_t addr, const uint8_t *buf, size_t len)
{
	size_t n = f_span(addr, len);

	check(len <= GDB_PKT_MAX);
	if (n > 0)
		memcpy(mem + (addr - MEM_BASE), buf, n);
	return n;
}

static int
f_set_bp(void *t, int cpu, bool insert, enum gdb_bp_type type, uint64_t addr,
	 uint64_t kind)
{
	check(type <= GDB_WP_ACCESS);
	return addr & 1 ? -1 : (addr & 2 ? GDB_BP_UNSUPPORTED : 0);
}

static void
f_resume(void *t, int step_cpu)
{
	check(step_cpu >= -1 && step_cpu < 3);
}

static void
f_nop(void *t)
{
}

/* Every frame out: "+", "-", or "$payload#cs" with the right sum. */
static void
f_send(void *t, const void *buf, size_t len)
{
	const char *p = buf;

	check(len > 0);
	if (len == 1) {
		check(p[0] == '+' || p[0] == '-');
		return;
	}
	check(len >= 4 && p[0] == '$' && p[len - 3] == '#');
	check((size_t)gdb_hexval(p[len - 2]) * 16 +
		  (size_t)gdb_hexval(p[len - 1]) ==
	      gdb_checksum(p + 1, len - 4));
}

static const struct gdb_target_ops ops = {
    .ncpus = f_ncpus,
    .read_regs = f_read_regs,
    .write_regs = f_write_regs,
    .read_mem = f_read_mem,
    .write_mem = f_write_mem,
    .set_bp = f_set_bp,
    .resume = f_resume,
    .interrupt = f_nop,
    .detach = f_nop,
    .kill = f_nop,
    .send = f_send,
};

/* The encoders on the raw input: escape/unescape and RLE round trips. */
static void
fuzz_encodings(const uint8_t *data, size_t size)
{
	static char esc[2 * 4096], rle[4096 + 8], back[4096 + 8];
	size_t n = size > 4096 ? 4096 : size;
	long e, u, d;
	size_t r;

	e = gdb_escape(data, n, esc, sizeof(esc));
	check(e >= (long)n);
	u = gdb_unescape((uint8_t *)esc, (size_t)e);
	check(u == (long)n && memcmp(esc, data, n) == 0);
	r = gdb_rle_encode((const char *)data, n, rle, sizeof(rle));
	d = gdb_rle_decode(rle, r, back, sizeof(back));
	/* Input holding '*' itself is not valid reply text. */
	if (memchr(data, '*', n) == NULL) {
		check(d == (long)n && memcmp(back, data, n) == 0);
		check(memchr(rle, '#', r) == NULL || memchr(data, '#', n));
	}
}

static void
stop_if_running(size_t off)
{
	if (conn.running) {
		struct gdb_stop st = {(int)(off % 3), GDB_SIGTRAP,
				      (enum gdb_stop_kind)(off % 6), off};

		gdb_conn_stopped(&conn, &st);
	}
}

/*
 * The input as newline-separated payloads, each framed with the right
 * checksum, so that the fuzzer reaches the command parsers directly.
 */
static void
fuzz_framed(const uint8_t *data, size_t size)
{
	static uint8_t frame[GDB_PKT_MAX + 8];
	size_t off = 0;

	gdb_conn_init(&conn, &ops, NULL);
	while (off < size && !conn.closed) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
		uint8_t sum;

		if (n > GDB_PKT_MAX)
			n = GDB_PKT_MAX;
		frame[0] = '$';
		memcpy(frame + 1, data + off, n);
		sum = gdb_checksum(frame + 1, n);
		frame[n + 1] = '#';
		frame[n + 2] = (uint8_t) "0123456789abcdef"[sum >> 4];
		frame[n + 3] = (uint8_t) "0123456789abcdef"[sum & 15];
		gdb_conn_input(&conn, frame, n + 4);
		off += n + 1;
		stop_if_running(off);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	memset(mem, 0x5a, sizeof(mem));
	memset(&regs, 0, sizeof(regs));
	for (int i = 0; i < GDB_NREGS; i++)
		regs.valid[i] = i % 5 != 0;
	fuzz_encodings(data, size);
	fuzz_framed(data, size);
	gdb_conn_init(&conn, &ops, NULL);
	/* Chunks of 1..64 bytes, the first byte of each giving the size. */
	while (off < size && !conn.closed) {
		size_t n = (size_t)(data[off] & 63) + 1;

		off++;
		if (n > size - off)
			n = size - off;
		gdb_conn_input(&conn, data + off, n);
		off += n;
		stop_if_running(off);
	}
	return 0;
}
