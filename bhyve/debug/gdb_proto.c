/*
 * GDB remote serial protocol: framing, encodings and commands (GDB
 * manual, appendix E).  Everything that arrives here comes from the
 * network: lengths and numbers are bounded before use, and a malformed
 * packet gets an error reply, never a crash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gdb_proto.h"

#define E_INVAL "E16" /* EINVAL, as gdbserver numbers errors */
#define E_FAULT "E0e" /* EFAULT */
#define E_NOENT "E02"

static const char hexdigits[] = "0123456789abcdef";

/* ---- encodings ---- */

uint8_t
gdb_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum;
}

int
gdb_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void
gdb_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
}

int
gdb_hex_decode(const char *in, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = gdb_hexval((unsigned char)in[2 * i]);
		int lo = gdb_hexval((unsigned char)in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool
gdb_parse_hex(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t val = 0;
	int n = 0;

	while (s < end && gdb_hexval((unsigned char)*s) >= 0) {
		if (++n > 16)
			return false;
		val = val << 4 | (uint64_t)gdb_hexval((unsigned char)*s);
		s++;
	}
	if (n == 0)
		return false;
	*p = s;
	*v = val;
	return true;
}

long
gdb_unescape(uint8_t *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '}') {
			if (++i == len)
				return -1;
			buf[o++] = buf[i] ^ 0x20;
		} else {
			buf[o++] = buf[i];
		}
	}
	return (long)o;
}

static bool
needs_escape(uint8_t b)
{
	return b == '#' || b == '$' || b == '}' || b == '*';
}

long
gdb_escape(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		bool esc = needs_escape(in[i]);

		if (o + (esc ? 2 : 1) > cap)
			return -1;
		if (esc) {
			out[o++] = '}';
			out[o++] = (char)(in[i] ^ 0x20);
		} else {
			out[o++] = (char)in[i];
		}
	}
	return (long)o;
}

/*
 * "c*N" stands for c followed by N-29 more copies of c; N must be
 * printable and neither '#' nor '$', so runs of 6 or 7 extra copies are
 * sent as 5 (GDB manual, E.1 "Overview").
 */
size_t
gdb_rle_encode(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < len && o < cap) {
		size_t run = 1;

		while (i + run < len && in[i + run] == in[i] && run < 98)
			run++;
		out[o++] = in[i];
		if (run >= 4 && o + 2 <= cap) {
			size_t extra = run - 1;

			if (extra == 6 || extra == 7)
				extra = 5;
			out[o++] = '*';
			out[o++] = (char)(extra + 29);
			i += extra + 1;
		} else {
			i++;
		}
	}
	return o;
}

long
gdb_rle_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '*') {
			if (o >= cap)
				return -1;
			out[o++] = in[i];
			continue;
		}
		if (o == 0 || i + 1 >= len || (unsigned char)in[i + 1] < 32 ||
		    (unsigned char)in[i + 1] > 126)
			return -1;
		size_t n = (size_t)((unsigned char)in[++i] - 29);
		if (n > cap - o)
			return -1;
		memset(out + o, out[o - 1], n);
		o += n;
	}
	return (long)o;
}

/* ---- sending ---- */

static void
send_raw(struct gdb_conn *c, const void *buf, size_t len)
{
	c->ops->send(c->t, buf, len);
}

/* Frames and sends c->reply, keeping the frame for a retransmission. */
static void
send_reply(struct gdb_conn *c)
{
	char *f = (char *)c->tx_buf;
	size_t n;

	f[0] = '$';
	if (c->reply_binary) {
		memcpy(f + 1, c->reply, c->reply_len);
		n = c->reply_len;
	} else {
		n = gdb_rle_encode(c->reply, c->reply_len, f + 1,
				   sizeof(c->tx_buf) - 4);
	}
	uint8_t sum = gdb_checksum(f + 1, n);
	f[1 + n] = '#';
	f[2 + n] = hexdigits[sum >> 4];
	f[3 + n] = hexdigits[sum & 0xf];
	c->tx_len = n + 4;
	send_raw(c, c->tx_buf, c->tx_len);
	c->reply_len = 0;
	c->reply_binary = false;
}

static void
reply_str(struct gdb_conn *c, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(c->reply) - c->reply_len)
		n = sizeof(c->reply) - c->reply_len;
	memcpy(c->reply + c->reply_len, s, n);
	c->reply_len += n;
}

static void
reply_hex(struct gdb_conn *c, const uint8_t *buf, size_t len)
{
	if (2 * len > sizeof(c->reply) - c->reply_len)
		len = (sizeof(c->reply) - c->reply_len) / 2;
	gdb_hex_encode(buf, len, c->reply + c->reply_len);
	c->reply_len += 2 * len;
}

static void reply_fmt(struct gdb_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply_fmt(struct gdb_conn *c, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	reply_str(c, tmp);
}

size_t
gdb_stop_reply(const struct gdb_stop *s, char *buf, size_t cap)
{
	int n =
	    snprintf(buf, cap, "T%02xthread:%x;", s->signal & 0xff, s->cpu + 1);
	const char *what = NULL;

	switch (s->kind) {
	case GDB_STOP_SWBREAK:
		what = "swbreak:;";
		break;
	case GDB_STOP_HWBREAK:
		what = "hwbreak:;";
		break;
	case GDB_STOP_WATCH:
		what = "watch";
		break;
	case GDB_STOP_RWATCH:
		what = "rwatch";
		break;
	case GDB_STOP_AWATCH:
		what = "awatch";
		break;
	default:
		break;
	}
	if (what != NULL && n > 0 && (size_t)n < cap) {
		if (s->kind >= GDB_STOP_WATCH)
			n += snprintf(buf + n, cap - (size_t)n, "%s:%llx;",
				      what, (unsigned long long)s->addr);
		else
			n += snprintf(buf + n, cap - (size_t)n, "%s", what);
	}
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

static void
reply_stop(struct gdb_conn *c, const struct gdb_stop *s)
{
	char tmp[128];

	gdb_stop_reply(s, tmp, sizeof(tmp));
	reply_str(c, tmp);
}

/* ---- command helpers ---- */

/* A thread id: -1 all, 0 any, N = vCPU N-1.  false if malformed. */
static bool
parse_tid(const char **p, const char *end, int *tid)
{
	uint64_t v;

	if (end - *p >= 2 && (*p)[0] == '-' && (*p)[1] == '1') {
		*p += 2;
		*tid = -1;
		return true;
	}
	if (!gdb_parse_hex(p, end, &v) || v > 0x7fffffff)
		return false;
	*tid = (int)v;
	return true;
}

static bool
cpu_valid(struct gdb_conn *c, int cpu)
{
	return cpu >= 0 && cpu < c->ops->ncpus(c->t);
}

static bool
starts(const char *pkt, const char *prefix)
{
	return strncmp(pkt, prefix, strlen(prefix)) == 0;
}

/* ---- queries ---- */

static void
cmd_qsupported(struct gdb_conn *c)
{
	reply_fmt(c,
		  "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;"
		  "swbreak+;hwbreak+;vContSupported+",
		  GDB_PKT_MAX);
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static void
cmd_qxfer_features(struct gdb_conn *c, const char *args, const char *end)
{
	const char *xml = gdb_target_xml(), *colon;
	size_t xlen = strlen(xml);
	uint64_t off, len;
	long n;

	colon = memchr(args, ':', (size_t)(end - args));
	if (colon == NULL) {
		reply_str(c, E_INVAL);
		return;
	}
	if ((size_t)(colon - args) != strlen("target.xml") ||
	    memcmp(args, "target.xml", strlen("target.xml")) != 0) {
		reply_str(c, E_NOENT);
		return;
	}
	args = colon + 1;
	if (!gdb_parse_hex(&args, end, &off) || args >= end || *args++ != ',' ||
	    !gdb_parse_hex(&args, end, &len) || args != end) {
		reply_str(c, E_INVAL);
		return;
	}
	if (off >= xlen) {
		reply_str(c, "l");
		return;
	}
	/* Escaping may double the data; keep the frame within PacketSize. */
	if (len > GDB_PKT_MAX / 2 - 1)
		len = GDB_PKT_MAX / 2 - 1;
	if (len > xlen - off)
		len = xlen - off;
	reply_str(c, off + len < xlen ? "m" : "l");
	n = gdb_escape((const uint8_t *)xml + off, len, c->reply + c->reply_len,
		       sizeof(c->reply) - c->reply_len);
	if (n < 0) {
		c->reply_len = 0;
		reply_str(c, E_INVAL);
		return;
	}
	c->reply_len += (size_t)n;
	c->reply_binary = true;
}

static void
cmd_thread_info(struct gdb_conn *c)
{
	int n = c->ops->ncpus(c->t);

	reply_str(c, "m");
	for (int i = 0; i < n; i++)
		reply_fmt(c, i ? ",%x" : "%x", i + 1);
}

static void
cmd_thread_extra(struct gdb_conn *c, const char *args, const char *end)
{
	char name[32];
	int tid;

	if (!parse_tid(&args, end, &tid) || args != end ||
	    !cpu_valid(c, tid - 1)) {
		reply_str(c, E_INVAL);
		return;
	}
	snprintf(name, sizeof(name), "vCPU %d", tid - 1);
	reply_hex(c, (const uint8_t *)name, strlen(name));
}

static void
cmd_query(struct gdb_conn *c, const char *pkt, const char *end)
{
	if (starts(pkt, "qSupported"))
		cmd_qsupported(c);
	else if (starts(pkt, "qXfer:features:read:"))
		cmd_qxfer_features(c, pkt + strlen("qXfer:features:read:"),
				   end);
	else if (strcmp(pkt, "qAttached") == 0 || starts(pkt, "qAttached:"))
		reply_str(c, "1");
	else if (strcmp(pkt, "qC") == 0)
		reply_fmt(c, "QC%x", c->gcpu + 1);
	else if (strcmp(pkt, "qfThreadInfo") == 0)
		cmd_thread_info(c);
	else if (strcmp(pkt, "qsThreadInfo") == 0)
		reply_str(c, "l");
	else if (starts(pkt, "qThreadExtraInfo,"))
		cmd_thread_extra(c, pkt + strlen("qThreadExtraInfo,"), end);
	else if (starts(pkt, "qSymbol:"))
		reply_str(c, "OK");
	/* Anything else: the empty reply, "not supported". */
}

/* ---- threads ---- */

static void
cmd_set_thread(struct gdb_conn *c, const char *pkt, const char *end)
{
	const char *p = pkt + 2;
	int tid;

	if (end - pkt < 3 || (pkt[1] != 'g' && pkt[1] != 'c') ||
	    !parse_tid(&p, end, &tid) || p != end) {
		reply_str(c, E_INVAL);
		return;
	}
	if (tid > 0 && !cpu_valid(c, tid - 1)) {
		reply_str(c, E_INVAL);
		return;
	}
	if (pkt[1] == 'g') {
		if (tid > 0)
			c->gcpu = tid - 1;
	} else {
		c->ccpu = tid > 0 ? tid - 1 : -1;
	}
	reply_str(c, "OK");
}

static void
cmd_thread_alive(struct gdb_conn *c, const char *pkt, const char *end)
{
	const char *p = pkt + 1;
	int tid;

	if (parse_tid(&p, end, &tid) && p == end && cpu_valid(c, tid - 1))
		reply_str(c, "OK");
	else
		reply_str(c, E_INVAL);
}

/* ---- registers ---- */

static void
reply_reg(struct gdb_conn *c, const struct gdb_regfile *rf, int regno)
{
	int off = gdb_reg_offset(regno), size = gdb_reg_size(regno);

	if (rf->valid[regno]) {
		reply_hex(c, rf->data + off, (size_t)size);
		return;
	}
	/* 'x' digits: "unavailable" (GDB manual, 'g' packet). */
	for (int i = 0; i < 2 * size; i++)
		reply_str(c, "x");
}

static void
cmd_read_regs(struct gdb_conn *c)
{
	struct gdb_regfile rf;

	if (c->ops->read_regs(c->t, c->gcpu, &rf) != 0) {
		reply_str(c, E_FAULT);
		return;
	}
	for (int i = 0; i < GDB_NREGS; i++)
		reply_reg(c, &rf, i);
}

static void
cmd_write_regs(struct gdb_conn *c, const char *pkt, const char *end)
{
	struct gdb_regfile rf;
	size_t ndig = (size_t)(end - pkt - 1);
	int off = 0;

	if (ndig % 2 != 0 || ndig / 2 > GDB_REGFILE_SIZE ||
	    gdb_hex_decode(pkt + 1, ndig / 2, rf.data) != 0) {
		reply_str(c, E_INVAL);
		return;
	}
	/* A shorter image writes the registers it covers completely. */
	for (int i = 0; i < GDB_NREGS; i++) {
		off += gdb_reg_size(i);
		rf.valid[i] = (size_t)off <= ndig / 2;
	}
	reply_str(c,
		  c->ops->write_regs(c->t, c->gcpu, &rf) == 0 ? "OK" : E_FAULT);
}

static bool
parse_regno(const char **p, const char *end, int *regno)
{
	uint64_t v;

	if (!gdb_parse_hex(p, end, &v) || v >= GDB_NREGS)
		return false;
	*regno = (int)v;
	return true;
}

static void
cmd_read_reg(struct gdb_conn *c, const char *pkt, const char *end)
{
	struct gdb_regfile rf;
	const char *p = pkt + 1;
	int regno;

	if (!parse_regno(&p, end, &regno) || p != end) {
		reply_str(c, E_INVAL);
		return;
	}
	if (c->ops->read_regs(c->t, c->gcpu, &rf) != 0) {
		reply_str(c, E_FAULT);
		return;
	}
	reply_reg(c, &rf, regno);
}

static void
cmd_write_reg(struct gdb_conn *c, const char *pkt, const char *end)
{
	struct gdb_regfile rf;
	const char *p = pkt + 1;
	int regno, size;

	memset(&rf, 0, sizeof(rf));
	if (!parse_regno(&p, end, &regno) || p >= end || *p++ != '=') {
		reply_str(c, E_INVAL);
		return;
	}
	size = gdb_reg_size(regno);
	if (end - p != 2 * size ||
	    gdb_hex_decode(p, (size_t)size, rf.data + gdb_reg_offset(regno)) !=
		0) {
		reply_str(c, E_INVAL);
		return;
	}
	rf.valid[regno] = true;
	reply_str(c,
		  c->ops->write_regs(c->t, c->gcpu, &rf) == 0 ? "OK" : E_FAULT);
}

/* ---- memory ---- */

/* "ADDR,LEN" then 'sep' (or the end when sep is 0). */
static bool
parse_addr_len(const char **p, const char *end, uint64_t *addr, uint64_t *len,
	       char sep)
{
	if (!gdb_parse_hex(p, end, addr) || *p >= end || *(*p)++ != ',' ||
	    !gdb_parse_hex(p, end, len))
		return false;
	if (sep == 0)
		return *p == end;
	return *p < end && *(*p)++ == sep;
}

static void
cmd_read_mem(struct gdb_conn *c, const char *pkt, const char *end)
{
	uint8_t *buf = c->mem_buf;
	const char *p = pkt + 1;
	uint64_t addr, len;
	size_t done;

	if (!parse_addr_len(&p, end, &addr, &len, 0)) {
		reply_str(c, E_INVAL);
		return;
	}
	if (len > sizeof(c->mem_buf))
		len = sizeof(c->mem_buf);
	if (len == 0)
		return; /* empty data */
	done = c->ops->read_mem(c->t, c->gcpu, addr, buf, (size_t)len);
	if (done == 0) {
		reply_str(c, E_FAULT);
		return;
	}
	reply_hex(c, buf, done);
}

static void
cmd_write_mem_hex(struct gdb_conn *c, const char *pkt, const char *end)
{
	uint8_t *buf = c->mem_buf;
	const char *p = pkt + 1;
	uint64_t addr, len;

	if (!parse_addr_len(&p, end, &addr, &len, ':') ||
	    len > sizeof(c->mem_buf) || (uint64_t)(end - p) != 2 * len ||
	    gdb_hex_decode(p, (size_t)len, buf) != 0) {
		reply_str(c, E_INVAL);
		return;
	}
	if (len != 0 &&
	    c->ops->write_mem(c->t, c->gcpu, addr, buf, (size_t)len) != len) {
		reply_str(c, E_FAULT);
		return;
	}
	reply_str(c, "OK");
}

/* X: binary data, escaped; the packet buffer is unescaped in place. */
static void
cmd_write_mem_bin(struct gdb_conn *c, char *pkt, const char *end)
{
	const char *p = pkt + 1;
	uint64_t addr, len;
	long n;

	if (!parse_addr_len(&p, end, &addr, &len, ':')) {
		reply_str(c, E_INVAL);
		return;
	}
	n = gdb_unescape((uint8_t *)pkt + (p - pkt), (size_t)(end - p));
	if (n < 0 || (uint64_t)n != len) {
		reply_str(c, E_INVAL);
		return;
	}
	if (len != 0 &&
	    c->ops->write_mem(c->t, c->gcpu, addr, (const uint8_t *)p,
			      (size_t)len) != len) {
		reply_str(c, E_FAULT);
		return;
	}
	reply_str(c, "OK");
}

/* ---- breakpoints ---- */

static void
cmd_breakpoint(struct gdb_conn *c, const char *pkt, const char *end)
{
	const char *p = pkt + 1;
	uint64_t type, addr, kind;
	int rc;

	if (!gdb_parse_hex(&p, end, &type) || type > GDB_WP_ACCESS ||
	    p >= end || *p++ != ',') {
		reply_str(c, E_INVAL);
		return;
	}
	/* Conditions and commands after ';' (target-side) are not
	 * advertised; gdb sends none. */
	if (!parse_addr_len(&p, end, &addr, &kind, 0)) {
		reply_str(c, E_INVAL);
		return;
	}
	rc = c->ops->set_bp(c->t, c->gcpu, pkt[0] == 'Z',
			    (enum gdb_bp_type)type, addr, kind);
	if (rc == 0)
		reply_str(c, "OK");
	else if (rc != GDB_BP_UNSUPPORTED)
		reply_str(c, E_INVAL);
}

/* ---- execution ---- */

static void
resume(struct gdb_conn *c, int step_cpu)
{
	c->running = true;
	c->ops->resume(c->t, step_cpu);
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr]: the address form is
 * not supported (gdb itself never sends it). */
static void
cmd_continue(struct gdb_conn *c, const char *pkt, const char *end)
{
	bool step = pkt[0] == 's' || pkt[0] == 'S';
	const char *p = pkt + 1;
	uint64_t sig;

	if (pkt[0] == 'C' || pkt[0] == 'S') {
		if (!gdb_parse_hex(&p, end, &sig)) {
			reply_str(c, E_INVAL);
			return;
		}
	}
	if (p != end) {
		reply_str(c, E_INVAL);
		return;
	}
	if (step)
		resume(c, c->ccpu >= 0 ? c->ccpu : c->gcpu);
	else
		resume(c, -1);
}

/*
 * vCont;ACTION[:TID][;ACTION[:TID]]...  Only one vCPU is stepped (the
 * first 's' names it; others stay stopped meanwhile); without any 's'
 * every vCPU continues.
 */
static void
cmd_vcont(struct gdb_conn *c, const char *p, const char *end)
{
	int step_cpu = -2; /* none yet */
	bool any = false;

	while (p < end) {
		char act;
		int tid = -1;
		uint64_t sig;

		if (*p++ != ';' || p >= end) {
			reply_str(c, E_INVAL);
			return;
		}
		act = *p++;
		if (act == 'C' || act == 'S') {
			if (!gdb_parse_hex(&p, end, &sig)) {
				reply_str(c, E_INVAL);
				return;
			}
		} else if (act != 'c' && act != 's') {
			reply_str(c, E_INVAL);
			return;
		}
		if (p < end && *p == ':') {
			p++;
			if (!parse_tid(&p, end, &tid) ||
			    (tid > 0 && !cpu_valid(c, tid - 1))) {
				reply_str(c, E_INVAL);
				return;
			}
		}
		if ((act == 's' || act == 'S') && step_cpu == -2)
			step_cpu = tid > 0 ? tid - 1 : c->gcpu;
		any = true;
	}
	if (!any) {
		reply_str(c, E_INVAL);
		return;
	}
	resume(c, step_cpu >= 0 ? step_cpu : -1);
}

static void
cmd_v(struct gdb_conn *c, const char *pkt, const char *end)
{
	if (strcmp(pkt, "vCont?") == 0) {
		reply_str(c, "vCont;c;C;s;S");
	} else if (starts(pkt, "vCont;")) {
		cmd_vcont(c, pkt + strlen("vCont"), end);
	} else if (starts(pkt, "vKill")) {
		reply_str(c, "OK");
		send_reply(c);
		c->closed = true;
		c->ops->kill(c->t);
	}
	/* vMustReplyEmpty and the rest: the empty reply. */
}

/* ---- dispatch ---- */

/* Handles one packet; returns whether a reply is due now. */
static bool
handle_packet(struct gdb_conn *c, char *pkt, size_t len)
{
	const char *end = pkt + len;

	c->reply_len = 0;
	c->reply_binary = false;
	if (len == 0)
		return true;
	switch (pkt[0]) {
	case '?':
		reply_stop(c, &c->last_stop);
		break;
	case 'q':
		cmd_query(c, pkt, end);
		break;
	case 'Q':
		if (strcmp(pkt, "QStartNoAckMode") == 0) {
			reply_str(c, "OK");
			send_reply(c);
			c->noack = true;
			return false;
		}
		break;
	case 'H':
		cmd_set_thread(c, pkt, end);
		break;
	case 'T':
		cmd_thread_alive(c, pkt, end);
		break;
	case 'g':
		cmd_read_regs(c);
		break;
	case 'G':
		cmd_write_regs(c, pkt, end);
		break;
	case 'p':
		cmd_read_reg(c, pkt, end);
		break;
	case 'P':
		cmd_write_reg(c, pkt, end);
		break;
	case 'm':
		cmd_read_mem(c, pkt, end);
		break;
	case 'M':
		cmd_write_mem_hex(c, pkt, end);
		break;
	case 'X':
		cmd_write_mem_bin(c, pkt, end);
		break;
	case 'Z':
	case 'z':
		cmd_breakpoint(c, pkt, end);
		break;
	case 'c':
	case 'C':
	case 's':
	case 'S':
		cmd_continue(c, pkt, end);
		return !c->running; /* an error reply, or the stop later */
	case 'v':
		cmd_v(c, pkt, end);
		return !c->running && !c->closed;
	case 'D':
		reply_str(c, "OK");
		send_reply(c);
		c->closed = true;
		c->ops->detach(c->t);
		return false;
	case 'k':
		c->closed = true;
		c->ops->kill(c->t);
		return false;
	default:
		break;
	}
	return true;
}

static void
packet_done(struct gdb_conn *c)
{
	bool ok = !c->rx_overflow && c->rx_sum == c->rx_csum;

	if (!c->noack)
		send_raw(c, ok ? "+" : "-", 1);
	if (!ok)
		return;
	/* NUL-terminated for the name comparisons; X data may hold NULs,
	 * so the parsers go by the length. */
	c->rx_buf[c->rx_len] = '\0';
	if (handle_packet(c, (char *)c->rx_buf, c->rx_len))
		send_reply(c);
}

static void
input_byte(struct gdb_conn *c, uint8_t b)
{
	int v;

	switch (c->rx_state) {
	case GDB_RX_IDLE:
		if (b == '$') {
			c->rx_state = GDB_RX_DATA;
			c->rx_len = 0;
			c->rx_sum = 0;
			c->rx_overflow = false;
		} else if (b == 0x03) {
			if (c->running)
				c->ops->interrupt(c->t);
		} else if (b == '-' && !c->noack && c->tx_len > 0) {
			send_raw(c, c->tx_buf, c->tx_len);
		}
		/* '+' and noise between packets are ignored. */
		break;
	case GDB_RX_DATA:
		if (b == '#') {
			c->rx_state = GDB_RX_CSUM1;
			break;
		}
		c->rx_sum = (uint8_t)(c->rx_sum + b);
		if (c->rx_len < GDB_PKT_MAX)
			c->rx_buf[c->rx_len++] = b;
		else
			c->rx_overflow = true;
		break;
	case GDB_RX_CSUM1:
	case GDB_RX_CSUM2:
		v = gdb_hexval(b);
		if (v < 0) {
			c->rx_overflow = true; /* forces a '-' */
			v = 0;
		}
		if (c->rx_state == GDB_RX_CSUM1) {
			c->rx_csum = (uint8_t)(v << 4);
			c->rx_state = GDB_RX_CSUM2;
		} else {
			c->rx_csum |= (uint8_t)v;
			c->rx_state = GDB_RX_IDLE;
			packet_done(c);
		}
		break;
	}
}

void
gdb_conn_input(struct gdb_conn *c, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len && !c->closed; i++)
		input_byte(c, buf[i]);
}

void
gdb_conn_init(struct gdb_conn *c, const struct gdb_target_ops *ops, void *t)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->t = t;
	c->ccpu = -1;
	c->last_stop = (struct gdb_stop){0, GDB_SIGTRAP, GDB_STOP_SIGNAL, 0};
}

void
gdb_conn_stopped(struct gdb_conn *c, const struct gdb_stop *stop)
{
	c->last_stop = *stop;
	if (cpu_valid(c, stop->cpu))
		c->gcpu = stop->cpu;
	if (!c->running || c->closed)
		return;
	c->running = false;
	c->reply_len = 0;
	c->reply_binary = false;
	reply_stop(c, stop);
	send_reply(c);
}

void
gdb_conn_exited(struct gdb_conn *c, int status)
{
	if (c->closed)
		return;
	c->running = false;
	c->reply_len = 0;
	c->reply_binary = false;
	reply_fmt(c, "W%02x", status & 0xff);
	send_reply(c);
	c->closed = true;
}
