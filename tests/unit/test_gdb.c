/*
 * Unit tests of the gdb stub's protocol layer (bhyve/debug/gdb_proto.c,
 * gdb_regs.c) against a fake target: framing, checksums, acks, escapes,
 * run-length encoding, hex, qSupported, the target description, and the
 * register, memory, breakpoint and execution commands.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gdb_proto.h"
#include "gdb_regs.h"
#include "test.h"

/* ---- a fake target ---- */

#define FAKE_MEM_BASE 0x1000
#define FAKE_MEM_SIZE 4096

static struct fake {
	struct gdb_regfile regs[2];
	uint8_t mem[FAKE_MEM_SIZE];
	char out[70000];
	size_t out_len;
	int resumed_step; /* -2: not resumed */
	int interrupts, detaches, kills;
	int bp_calls;
	bool bp_insert;
	enum gdb_bp_type bp_type;
	uint64_t bp_addr, bp_kind;
	int bp_rc;
	int last_cpu;
} fk;

static int
fake_ncpus(void *t)
{
	return 2;
}

static int
fake_read_regs(void *t, int cpu, struct gdb_regfile *rf)
{
	fk.last_cpu = cpu;
	*rf = fk.regs[cpu];
	return 0;
}

static int
fake_write_regs(void *t, int cpu, const struct gdb_regfile *rf)
{
	for (int i = 0; i < GDB_NREGS; i++) {
		if (!rf->valid[i])
			continue;
		memcpy(fk.regs[cpu].data + gdb_reg_offset(i),
		       rf->data + gdb_reg_offset(i), (size_t)gdb_reg_size(i));
	}
	fk.last_cpu = cpu;
	return 0;
}

/* Memory is FAKE_MEM_BASE .. +FAKE_MEM_SIZE; a prefix may succeed. */
static size_t
fake_span(uint64_t addr, size_t len)
{
	if (addr < FAKE_MEM_BASE || addr >= FAKE_MEM_BASE + FAKE_MEM_SIZE)
		return 0;
	if (len > FAKE_MEM_BASE + FAKE_MEM_SIZE - addr)
		len = (size_t)(FAKE_MEM_BASE + FAKE_MEM_SIZE - addr);
	return len;
}

static size_t
fake_read_mem(void *t, int cpu, uint64_t addr, uint8_t *buf, size_t len)
{
	len = fake_span(addr, len);
	memcpy(buf, fk.mem + (addr - FAKE_MEM_BASE) * (len != 0), len);
	return len;
}

static size_t
fake_write_mem(void *t, int cpu, uint64_t addr, const uint8_t *buf, size_t len)
{
	len = fake_span(addr, len);
	memcpy(fk.mem + (addr - FAKE_MEM_BASE) * (len != 0), buf, len);
	return len;
}

static int
fake_set_bp(void *t, int cpu, bool insert, enum gdb_bp_type type, uint64_t addr,
	    uint64_t kind)
{
	fk.bp_calls++;
	fk.bp_insert = insert;
	fk.bp_type = type;
	fk.bp_addr = addr;
	fk.bp_kind = kind;
	return fk.bp_rc;
}

static void
fake_resume(void *t, int step_cpu)
{
	fk.resumed_step = step_cpu;
}

static void
fake_interrupt(void *t)
{
	fk.interrupts++;
}

static void
fake_detach(void *t)
{
	fk.detaches++;
}

static void
fake_kill(void *t)
{
	fk.kills++;
}

static void
fake_send(void *t, const void *buf, size_t len)
{
	if (len > sizeof(fk.out) - fk.out_len - 1)
		len = sizeof(fk.out) - fk.out_len - 1;
	memcpy(fk.out + fk.out_len, buf, len);
	fk.out_len += len;
	fk.out[fk.out_len] = '\0';
}

static const struct gdb_target_ops fake_ops = {
    .ncpus = fake_ncpus,
    .read_regs = fake_read_regs,
    .write_regs = fake_write_regs,
    .read_mem = fake_read_mem,
    .write_mem = fake_write_mem,
    .set_bp = fake_set_bp,
    .resume = fake_resume,
    .interrupt = fake_interrupt,
    .detach = fake_detach,
    .kill = fake_kill,
    .send = fake_send,
};

static struct gdb_conn conn;

static void
fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.resumed_step = -2;
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < GDB_REGFILE_SIZE; i++)
			fk.regs[c].data[i] = (uint8_t)(i + c);
		for (int i = 0; i < GDB_NREGS; i++)
			fk.regs[c].valid[i] = true;
	}
	for (int i = 0; i < FAKE_MEM_SIZE; i++)
		fk.mem[i] = (uint8_t)(i * 7);
	gdb_conn_init(&conn, &fake_ops, NULL);
}

/* ---- helpers ---- */

static void
feed(const char *s)
{
	gdb_conn_input(&conn, (const uint8_t *)s, strlen(s));
}

/* Sends one framed packet with a correct checksum. */
static void
send_pkt(const char *payload)
{
	char frame[40000];

	snprintf(frame, sizeof(frame), "$%s#%02x", payload,
		 gdb_checksum(payload, strlen(payload)));
	feed(frame);
}

static char reply[70000];

/*
 * The payload of the first packet in the output, run-length decoded;
 * NULL if there is none or its checksum is wrong.  Consumes the output.
 */
static const char *
take_reply(void)
{
	char *d = strchr(fk.out, '$'), *h;
	unsigned sum;
	long n;

	if (d == NULL || (h = strchr(d, '#')) == NULL || strlen(h) < 3)
		return NULL;
	if (sscanf(h + 1, "%2x", &sum) != 1 ||
	    sum != gdb_checksum(d + 1, (size_t)(h - d - 1)))
		return NULL;
	n = gdb_rle_decode(d + 1, (size_t)(h - d - 1), reply,
			   sizeof(reply) - 1);
	if (n < 0)
		return NULL;
	reply[n] = '\0';
	fk.out_len = 0;
	fk.out[0] = '\0';
	return reply;
}

static const char *
exchange(const char *payload)
{
	fk.out_len = 0;
	fk.out[0] = '\0';
	send_pkt(payload);
	return take_reply();
}

#define CHECK_REPLY(pkt, want, name) CHECK_STR(exchange(pkt), want, name)

/* ---- encodings ---- */

static void
test_encodings(void)
{
	uint8_t bin[4] = {0xde, 0xad, 0x00, 0x7f}, back[4];
	char hex[9] = {0};
	uint8_t esc_in[6] = {'a', '#', '$', '}', '*', 0};
	char esc[16];
	uint8_t unesc[16];
	char rle[64], exp[256];
	long n;
	const char *p, *s;
	uint64_t v;

	CHECK_EQ_U64(gdb_checksum("OK", 2), 0x9a, "checksum of OK");
	CHECK_EQ_U64(gdb_checksum("", 0), 0, "checksum of nothing");
	gdb_hex_encode(bin, 4, hex);
	CHECK_STR(hex, "dead007f", "hex encode");
	CHECK(gdb_hex_decode("DEad007F", 4, back) == 0 &&
		  memcmp(back, bin, 4) == 0,
	      "hex decode, either case");
	CHECK(gdb_hex_decode("de0g", 2, back) == -1, "hex decode rejects g");
	s = "1f,";
	p = s;
	CHECK(gdb_parse_hex(&p, s + 3, &v) && v == 0x1f && *p == ',',
	      "parse hex number");
	s = "12345678123456789";
	p = s;
	CHECK(!gdb_parse_hex(&p, s + 17, &v), "17 hex digits overflow");

	n = gdb_escape(esc_in, 6, esc, sizeof(esc));
	CHECK(n == 10 && memcmp(esc, "a}\x03}\x04}]}\x0a\0", 10) == 0,
	      "escape # $ } *");
	memcpy(unesc, esc, (size_t)n);
	CHECK(gdb_unescape(unesc, (size_t)n) == 6 &&
		  memcmp(unesc, esc_in, 6) == 0,
	      "unescape round trip");
	memcpy(unesc, "ab}", 3);
	CHECK(gdb_unescape(unesc, 3) == -1, "escape at the end rejected");
	CHECK(gdb_escape(esc_in, 6, esc, 5) == -1, "escape overflow refused");

	n = (long)gdb_rle_encode("0000000000", 10, rle, sizeof(rle));
	CHECK(n == 3 && memcmp(rle, "0*&", 3) == 0, "RLE of ten zeros");
	n = (long)gdb_rle_encode("abc", 3, rle, sizeof(rle));
	CHECK(n == 3 && memcmp(rle, "abc", 3) == 0, "RLE leaves short runs");
	/* Seven and eight copies would need '#' and '$' as counts. */
	for (int len = 1; len < 120; len++) {
		char in[128];
		bool ok;

		memset(in, 'f', (size_t)len);
		n = (long)gdb_rle_encode(in, (size_t)len, rle, sizeof(rle));
		ok = memchr(rle, '#', (size_t)n) == NULL &&
		     memchr(rle, '$', (size_t)n) == NULL;
		n = gdb_rle_decode(rle, (size_t)n, exp, sizeof(exp));
		if (!ok || n != len || memcmp(exp, in, (size_t)len) != 0) {
			CHECK(false, "RLE round trip of every run length");
			break;
		}
		if (len == 119)
			CHECK(true, "RLE round trip of every run length");
	}
	CHECK(gdb_rle_decode("*a", 2, exp, sizeof(exp)) == -1,
	      "RLE without a character to repeat");
	CHECK(gdb_rle_decode("0*", 2, exp, sizeof(exp)) == -1,
	      "RLE without a count");
	CHECK(gdb_rle_decode("0*~", 3, exp, 10) == -1, "RLE beyond capacity");
}

/* ---- framing ---- */

static void
test_framing(void)
{
	const char *r;

	fake_reset();
	feed("$?#3f");
	CHECK(fk.out[0] == '+', "valid packet acked");
	r = take_reply();
	CHECK_STR(r, "T05thread:1;", "'?' reports the initial stop");

	fake_reset();
	feed("$?#00");
	CHECK_STR(fk.out, "-", "bad checksum: '-' and no reply");
	feed("$?#zz");
	CHECK_STR(fk.out, "--", "non-hex checksum: '-'");

	fake_reset();
	send_pkt("qC");
	r = take_reply();
	CHECK_STR(r, "QC1", "qC");
	feed("-");
	CHECK(strstr(fk.out, "$QC1#") != NULL, "'-' resends the last reply");

	fake_reset();
	feed("garbage+$qC#b4");
	CHECK(strstr(fk.out, "$QC1#") != NULL, "noise between packets ignored");

	fake_reset();
	fk.out_len = 0;
	send_pkt("QStartNoAckMode");
	CHECK(strncmp(fk.out, "+$OK#9a", 7) == 0, "QStartNoAckMode acked, OK");
	fk.out_len = 0;
	fk.out[0] = '\0';
	send_pkt("qC");
	CHECK(fk.out[0] == '$', "no '+' in no-ack mode");
	fk.out_len = 0;
	feed("-");
	CHECK(fk.out_len == 0, "no resend in no-ack mode");

	/* A packet longer than PacketSize is refused, not overrun. */
	fake_reset();
	{
		static char big[GDB_PKT_MAX + 100];

		memset(big, 'A', sizeof(big) - 1);
		big[0] = 'M';
		send_pkt(big);
		CHECK(fk.out[0] == '-', "oversized packet refused");
	}
}

/* ---- queries ---- */

static void
test_queries(void)
{
	const char *r;
	char xml[32768] = "";
	size_t off = 0;
	int regs = 0;

	fake_reset();
	r = exchange("qSupported:multiprocess+;swbreak+;hwbreak+;"
		     "xmlRegisters=i386");
	CHECK(r != NULL && strstr(r, "PacketSize=4000") != NULL,
	      "qSupported: PacketSize");
	CHECK(r != NULL && strstr(r, "qXfer:features:read+") != NULL,
	      "qSupported: target description");
	CHECK(r != NULL && strstr(r, "swbreak+") && strstr(r, "hwbreak+") &&
		  strstr(r, "QStartNoAckMode+"),
	      "qSupported: swbreak, hwbreak, no-ack");
	CHECK_REPLY("vMustReplyEmpty", "", "unknown v packet: empty");
	CHECK_REPLY("qTStatus", "", "unknown query: empty");
	CHECK_REPLY("qAttached", "1", "qAttached");
	CHECK_REPLY("qfThreadInfo", "m1,2", "qfThreadInfo lists vCPUs");
	CHECK_REPLY("qsThreadInfo", "l", "qsThreadInfo ends the list");
	CHECK_REPLY("qThreadExtraInfo,2", "764350552031",
		    "qThreadExtraInfo names the vCPU");
	CHECK_REPLY("qThreadExtraInfo,9", "E16", "qThreadExtraInfo bad tid");
	CHECK_REPLY("T2", "OK", "thread 2 alive");
	CHECK_REPLY("T3", "E16", "thread 3 does not exist");

	/* The description in small pieces, as gdb reads it. */
	for (int i = 0; i < 200; i++) {
		char q[64];

		snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,%x",
			 off, 0x100);
		r = exchange(q);
		if (r == NULL || (r[0] != 'm' && r[0] != 'l'))
			break;
		/* No byte of the XML needs escaping. */
		memcpy(xml + off, r + 1, strlen(r + 1));
		off += strlen(r + 1);
		if (r[0] == 'l')
			break;
	}
	CHECK_STR(xml, gdb_target_xml(), "qXfer reassembles target.xml");
	CHECK(strstr(xml, "<architecture>i386:x86-64</architecture>") != NULL,
	      "target.xml: x86-64");
	CHECK(strstr(xml, "org.gnu.gdb.i386.core") &&
		  strstr(xml, "org.gnu.gdb.i386.sse") &&
		  strstr(xml, "org.gnu.gdb.i386.segments"),
	      "target.xml: gdb's i386 features");
	for (const char *p = xml; (p = strstr(p, "<reg ")) != NULL; p++)
		regs++;
	CHECK_EQ_U64(regs, GDB_NREGS, "target.xml: one <reg> per register");
	CHECK(strstr(xml, "name=\"rip\" bitsize=\"64\" type=\"code_ptr\" "
			  "regnum=\"16\"") != NULL,
	      "target.xml: rip is register 16");
	CHECK(strstr(xml, "name=\"st0\" bitsize=\"80\"") &&
		  strstr(xml, "name=\"xmm15\" bitsize=\"128\"") &&
		  strstr(xml, "name=\"mxcsr\"") &&
		  strstr(xml, "name=\"fop\"") &&
		  strstr(xml, "name=\"fs_base\"") &&
		  strstr(xml, "name=\"gs_base\"") &&
		  strstr(xml, "name=\"cr0\"") && strstr(xml, "name=\"cr2\"") &&
		  strstr(xml, "name=\"cr3\"") && strstr(xml, "name=\"cr4\"") &&
		  strstr(xml, "name=\"cr8\"") && strstr(xml, "name=\"efer\""),
	      "target.xml: FPU, SSE, segment bases, control registers");
	CHECK_EQ_U64(
	    gdb_reg_offset(GDB_NREGS - 1) + gdb_reg_size(GDB_NREGS - 1),
	    GDB_REGFILE_SIZE, "register sizes add up to the 'g' image");
	CHECK_EQ_U64(gdb_reg_lookup("eflags"), GDB_REG_EFLAGS,
		     "register lookup by name");
	r = exchange("qXfer:features:read:target.xml:100000,10");
	CHECK_STR(r, "l", "qXfer past the end: empty last chunk");
	CHECK_REPLY("qXfer:features:read:other.xml:0,10", "E02",
		    "qXfer of an unknown annex");
	CHECK_REPLY("qXfer:features:read:target.xml:zz", "E16",
		    "qXfer with a bad offset");
}

/* ---- registers ---- */

static void
test_registers(void)
{
	const char *r;
	char want[16], cmd[2 * GDB_REGFILE_SIZE + 8];
	int rip = gdb_reg_offset(GDB_REG_RIP);

	fake_reset();
	r = exchange("g");
	CHECK(r != NULL && strlen(r) == 2 * GDB_REGFILE_SIZE,
	      "g: 600 bytes of registers");
	snprintf(want, sizeof(want), "%02x%02x", rip & 0xff, (rip + 1) & 0xff);
	CHECK(r != NULL && strncmp(r + 2 * rip, want, 4) == 0,
	      "g: rip at its offset");

	fk.regs[0].valid[GDB_REG_ST0] = false;
	r = exchange("g");
	CHECK(r != NULL && strncmp(r + 2 * gdb_reg_offset(GDB_REG_ST0),
				   "xxxxxxxxxxxxxxxxxxxx", 20) == 0,
	      "g: unavailable register as x digits");

	CHECK_REPLY("Hg2", "OK", "Hg2 selects vCPU 1");
	r = exchange("p10");
	snprintf(want, sizeof(want), "%02x", (rip + 1) & 0xff);
	CHECK(r != NULL && strlen(r) == 16 && strncmp(r, want, 2) == 0,
	      "p10 reads vCPU 1's rip");
	CHECK_EQ_U64(fk.last_cpu, 1, "register read went to vCPU 1");
	CHECK_REPLY("Hg5", "E16", "Hg of a missing vCPU");
	CHECK_REPLY("Hg0", "OK", "Hg0 keeps the current vCPU");
	CHECK_REPLY("Hc-1", "OK", "Hc-1");

	CHECK_REPLY("P10=efbeadde00000000", "OK", "P writes rip");
	CHECK(fk.regs[1].data[rip] == 0xef &&
		  fk.regs[1].data[rip + 3] == 0xde &&
		  fk.regs[1].data[rip + 4] == 0,
	      "P stored little-endian");
	CHECK(fk.regs[1].data[0] == 1, "P leaves other registers");
	CHECK_REPLY("P10=efbe", "E16", "P with a short value");
	CHECK_REPLY("P99=00", "E16", "P of a register that does not exist");
	CHECK_REPLY("p", "E16", "p without a number");

	memset(cmd, 0, sizeof(cmd));
	cmd[0] = 'G';
	for (int i = 0; i < GDB_REGFILE_SIZE; i++)
		snprintf(cmd + 1 + 2 * i, 3, "%02x", 0xa5);
	CHECK_REPLY(cmd, "OK", "G writes every register");
	CHECK(fk.regs[1].data[0] == 0xa5 &&
		  fk.regs[1].data[GDB_REGFILE_SIZE - 1] == 0xa5,
	      "G stored all 600 bytes");
	cmd[5] = 'q';
	CHECK_REPLY(cmd, "E16", "G with a bad digit");
	CHECK_REPLY("G0", "E16", "G with an odd length");
}

/* ---- memory ---- */

static void
test_memory(void)
{
	const char *r;
	char x[64];
	int n;

	fake_reset();
	r = exchange("m1000,4");
	CHECK_STR(r, "00070e15", "m reads memory");
	r = exchange("m1ffe,8");
	CHECK_STR(r, "f2f9", "m returns the readable prefix");
	CHECK_REPLY("m5000,4", "E0e", "m of unmapped memory");
	CHECK_REPLY("m1000", "E16", "m without a length");
	CHECK_REPLY("mzz,4", "E16", "m with a bad address");
	r = exchange("m1000,100000");
	CHECK(r != NULL && strlen(r) == 2 * FAKE_MEM_SIZE,
	      "m length clamped to what the reply can hold");

	CHECK_REPLY("M1004,2:beef", "OK", "M writes memory");
	CHECK(fk.mem[4] == 0xbe && fk.mem[5] == 0xef, "M stored the bytes");
	CHECK_REPLY("M1004,2:be", "E16", "M with too few digits");
	CHECK_REPLY("M1004,1:zz", "E16", "M with a bad digit");
	CHECK_REPLY("M5000,1:00", "E0e", "M to unmapped memory");

	/* X: binary, with '#', '$', '}' escaped, and a NUL inside. */
	n = snprintf(x, sizeof(x), "$X1010,5:a}\x03}\x04}]");
	x[n++] = '\0';
	x[n] = '\0';
	{
		char frame[64];
		uint8_t sum = gdb_checksum(x + 1, (size_t)n - 1);

		memcpy(frame, x, (size_t)n);
		n += snprintf(frame + n, sizeof(frame) - (size_t)n, "#%02x",
			      sum);
		fk.out_len = 0;
		gdb_conn_input(&conn, (const uint8_t *)frame, (size_t)n);
		CHECK_STR(take_reply(), "OK", "X writes binary data");
	}
	CHECK(memcmp(fk.mem + 0x10, "a#$}\0", 5) == 0,
	      "X unescaped #, $, } and kept a NUL");
	CHECK_REPLY("X1000,0:", "OK", "X probe with no data");
	CHECK_REPLY("X1000,3:ab", "E16", "X length mismatch");
}

/* ---- breakpoints and execution ---- */

static void
test_execution(void)
{
	struct gdb_stop st;
	const char *r;

	fake_reset();
	CHECK_REPLY("Z0,1023d0,1", "OK", "Z0 inserts");
	CHECK(fk.bp_insert && fk.bp_type == GDB_BP_SW &&
		  fk.bp_addr == 0x1023d0 && fk.bp_kind == 1,
	      "Z0 parsed: type, address, kind");
	CHECK_REPLY("z2,2000,8", "OK", "z2 removes a watchpoint");
	CHECK(!fk.bp_insert && fk.bp_type == GDB_WP_WRITE &&
		  fk.bp_addr == 0x2000 && fk.bp_kind == 8,
	      "z2 parsed");
	CHECK_REPLY("Z5,0,1", "E16", "Z of an unknown type");
	CHECK_REPLY("Z1,zz,1", "E16", "Z with a bad address");
	fk.bp_rc = GDB_BP_UNSUPPORTED;
	CHECK_REPLY("Z4,0,1", "", "unsupported breakpoint: empty reply");
	fk.bp_rc = -1;
	CHECK_REPLY("Z1,0,1", "E16", "failed breakpoint: error");

	CHECK_REPLY("vCont?", "vCont;c;C;s;S", "vCont? lists actions");
	r = exchange("vCont;s:2;c");
	CHECK(r == NULL && fk.resumed_step == 1 && conn.running,
	      "vCont;s:2;c steps vCPU 1, no reply yet");
	feed("\x03");
	CHECK_EQ_U64(fk.interrupts, 1, "0x03 while running interrupts");
	st = (struct gdb_stop){1, GDB_SIGTRAP, GDB_STOP_SWBREAK, 0};
	gdb_conn_stopped(&conn, &st);
	CHECK_STR(take_reply(), "T05thread:2;swbreak:;",
		  "stop reply names the thread and swbreak");
	CHECK(!conn.running && conn.gcpu == 1, "stopped vCPU becomes current");
	feed("\x03");
	CHECK_EQ_U64(fk.interrupts, 1, "0x03 while stopped is ignored");

	fk.resumed_step = -2;
	exchange("vCont;c");
	CHECK_EQ_U64(fk.resumed_step, -1, "vCont;c continues all");
	st = (struct gdb_stop){0, GDB_SIGTRAP, GDB_STOP_WATCH, 0x4000};
	gdb_conn_stopped(&conn, &st);
	CHECK_STR(take_reply(), "T05thread:1;watch:4000;",
		  "watchpoint stop reply");
	fk.resumed_step = -2;
	exchange("vCont;S05:1");
	CHECK_EQ_U64(fk.resumed_step, 0, "vCont;S05:1 steps vCPU 0");
	st = (struct gdb_stop){0, GDB_SIGINT, GDB_STOP_SIGNAL, 0};
	gdb_conn_stopped(&conn, &st);
	CHECK_STR(take_reply(), "T02thread:1;", "SIGINT stop reply");
	CHECK_REPLY("vCont;x", "E16", "vCont with a bad action");
	CHECK_REPLY("vCont;s:9", "E16", "vCont with a bad thread");
	CHECK_REPLY("vCont", "", "vCont without actions: unsupported");
	fk.resumed_step = -2;
	exchange("Hc2");
	exchange("s");
	CHECK_EQ_U64(fk.resumed_step, 1, "s steps the Hc vCPU");
	gdb_conn_stopped(&conn, &st);
	take_reply();
	exchange("c");
	CHECK_EQ_U64(fk.resumed_step, -1, "c continues");
	gdb_conn_exited(&conn, 1);
	CHECK_STR(take_reply(), "W01", "exit reported as W01");

	fake_reset();
	CHECK_REPLY("D", "OK", "D detaches");
	CHECK(fk.detaches == 1 && conn.closed, "D closed the session");
	fake_reset();
	feed("$k#6b");
	CHECK(fk.kills == 1 && conn.closed, "k kills");
}

/* ---- register conversions ---- */

static void
test_conversions(void)
{
	struct gdb_cpu_regs r, back;
	struct gdb_regfile rf;
	uint8_t *fx = r.fx;

	memset(&r, 0, sizeof(r));
	r.gpr[0] = 0x1122334455667788ULL;
	r.rip = 0xffffffff81000000ULL;
	r.rflags = 0x246;
	r.seg[0] = 0x10;
	r.cr3 = 0x1000;
	r.efer = 0x500;
	r.fx_valid = true;
	/* fninit; fld1: TOP=7, ST(0) = 1.0 in physical register 7. */
	fx[2] = 0x00;
	fx[3] = 0x38; /* FSW.TOP = 7 */
	fx[4] = 0x80; /* abridged tag: register 7 in use */
	memcpy(fx + 32, "\x00\x00\x00\x00\x00\x00\x00\x80\xff\x3f", 10);
	fx[24] = 0x80;
	fx[25] = 0x1f; /* MXCSR 0x1f80 */
	memset(fx + 160, 0x5a, 16);

	gdb_regs_to_file(&r, &rf);
	CHECK(memcmp(rf.data + gdb_reg_offset(GDB_REG_RAX),
		     "\x88\x77\x66\x55\x44\x33\x22\x11", 8) == 0,
	      "rax image little-endian");
	CHECK(rf.data[gdb_reg_offset(GDB_REG_EFLAGS)] == 0x46 &&
		  rf.data[gdb_reg_offset(GDB_REG_EFLAGS) + 1] == 0x02,
	      "eflags image");
	CHECK(memcmp(rf.data + gdb_reg_offset(GDB_REG_ST0),
		     "\x00\x00\x00\x00\x00\x00\x00\x80\xff\x3f", 10) == 0,
	      "st0 image");
	/* Physical 7 valid (00), the rest empty (11): 0x3fff. */
	CHECK_EQ_U64(gdb_fx_full_ftag(fx), 0x3fff, "full tag word from FXSAVE");
	CHECK_EQ_U64(gdb_fx_abridged_ftag(0x3fff), 0x80, "abridged tag word");
	CHECK_EQ_U64(gdb_fx_abridged_ftag(0x0000), 0xff, "all valid: 0xff");
	CHECK(rf.data[gdb_reg_offset(GDB_REG_MXCSR)] == 0x80 &&
		  rf.data[gdb_reg_offset(GDB_REG_MXCSR) + 1] == 0x1f,
	      "mxcsr image");
	CHECK(rf.data[gdb_reg_offset(GDB_REG_XMM0)] == 0x5a, "xmm0 image");

	back = r;
	memset(back.fx, 0, sizeof(back.fx));
	back.rip = 0;
	CHECK(gdb_regs_from_file(&back, &rf), "FPU registers marked dirty");
	CHECK_EQ_U64(back.rip, r.rip, "rip back from the image");
	CHECK(memcmp(back.fx + 32, fx + 32, 10) == 0 && back.fx[4] == 0x80 &&
		  back.fx[3] == 0x38,
	      "FXSAVE rebuilt: st0, tag, status");
	memset(&rf.valid, 0, sizeof(rf.valid));
	rf.valid[GDB_REG_CR3] = true;
	CHECK(!gdb_regs_from_file(&back, &rf), "cr3 alone: FPU untouched");

	r.fx_valid = false;
	gdb_regs_to_file(&r, &rf);
	CHECK(!rf.valid[GDB_REG_ST0] && !rf.valid[GDB_REG_MXCSR] &&
		  rf.valid[GDB_REG_EFER],
	      "no FPU state: FPU registers unavailable");
}

int
main(void)
{
	test_encodings();
	test_framing();
	test_queries();
	test_registers();
	test_memory();
	test_execution();
	test_conversions();
	return test_done();
}
