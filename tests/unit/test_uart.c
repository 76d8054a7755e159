/*
 * 16550A model and backends, without KVM: register semantics through an
 * in-memory backend, then the file, socket and pty backends end to end
 * with the real event loop, then the COM1 platform device through the
 * port dispatcher.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "inout.h"
#include "mevent.h"
#include "platform_dev.h"
#include "test.h"
#include "test_util.h"
#include "uart_backend.h"
#include "uart_emul.h"

/* Interrupt line as the callbacks report it. */
struct irq_probe {
	int asserts;
	int deasserts;
	bool level;
};

static void
probe_assert(void *arg)
{
	struct irq_probe *p = arg;

	p->asserts++;
	p->level = true;
}

static void
probe_deassert(void *arg)
{
	struct irq_probe *p = arg;

	p->deasserts++;
	p->level = false;
}

/* A backend in memory: input queued by the test, output recorded. */
struct mem_backend {
	uint8_t in[64];
	size_t in_len;
	size_t in_pos;
	uint8_t out[64];
	size_t out_len;
	bool rx_on;
	int rx_toggles;
};

static void
mem_write(void *arg, uint8_t byte)
{
	struct mem_backend *m = arg;

	if (m->out_len < sizeof(m->out))
		m->out[m->out_len++] = byte;
}

static ssize_t
mem_read(void *arg, uint8_t *buf, size_t len)
{
	struct mem_backend *m = arg;
	size_t n = m->in_len - m->in_pos;

	if (n > len)
		n = len;
	memcpy(buf, m->in + m->in_pos, n);
	m->in_pos += n;
	return (ssize_t)n;
}

static void
mem_rx_enable(void *arg, bool on)
{
	struct mem_backend *m = arg;

	m->rx_on = on;
	m->rx_toggles++;
}

static void
mem_input(struct mem_backend *m, const char *s)
{
	size_t len = strlen(s);

	memcpy(m->in + m->in_len, s, len);
	m->in_len += len;
}

static struct uart_softc *
uart_new(struct irq_probe *p, struct mem_backend *m)
{
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, p);
	struct uart_io io = {
	    .write = mem_write,
	    .read = mem_read,
	    .rx_enable = mem_rx_enable,
	    .arg = m,
	};

	memset(p, 0, sizeof(*p));
	memset(m, 0, sizeof(*m));
	m->rx_on = true;
	uart_set_io(sc, &io);
	return sc;
}

static void
test_reset_state(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	CHECK_EQ_U64(uart_read(sc, UART_REG_IER), 0, "reset: IER 0");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x01, "reset: IIR none");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LCR), 0, "reset: LCR 0");
	CHECK_EQ_U64(uart_read(sc, UART_REG_MCR), 0, "reset: MCR 0");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x60, "reset: LSR THRE|TEMT");
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0xb0,
		     "reset: MSR DCD|DSR|CTS, no deltas");
	CHECK(p.asserts == 0 && !uart_intr_active(sc), "reset: no interrupt");
	uart_destroy(sc);
}

static void
test_scratch_and_masks(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	uart_write(sc, UART_REG_SCR, 0x5a);
	CHECK_EQ_U64(uart_read(sc, UART_REG_SCR), 0x5a, "scratch 0x5a");
	uart_write(sc, UART_REG_SCR, 0xa5);
	CHECK_EQ_U64(uart_read(sc, UART_REG_SCR), 0xa5, "scratch 0xa5");
	uart_write(sc, UART_REG_IER, 0xf0);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IER), 0, "IER bits 7:4 read 0");
	uart_write(sc, UART_REG_MCR, 0xe3);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MCR), 0x03, "MCR bits 7:5 read 0");
	uart_write(sc, UART_REG_LSR, 0x00);
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x60, "LSR ignores writes");
	uart_destroy(sc);
}

static void
test_divisor_latch(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	uart_write(sc, UART_REG_LCR, UART_LCR_DLAB | 0x03);
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 12, "DLL resets to 12");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IER), 0, "DLM resets to 0");
	uart_write(sc, UART_REG_DATA, 0x01);
	uart_write(sc, UART_REG_IER, 0x80);
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 0x01, "DLL holds 0x01");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IER), 0x80, "DLM holds 0x80");
	CHECK(m.out_len == 0, "DLL write is not transmitted");
	uart_write(sc, UART_REG_LCR, 0x03);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IER), 0, "IER untouched by DLM");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LCR), 0x03, "LCR reads back");
	uart_write(sc, UART_REG_DATA, 'Z');
	uart_write(sc, UART_REG_LCR, UART_LCR_DLAB);
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 0x01,
		     "DLL untouched by THR write");
	CHECK(m.out_len == 1 && m.out[0] == 'Z', "THR write reaches backend");
	uart_destroy(sc);
}

static void
test_thre(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	uart_write(sc, UART_REG_DATA, 'h');
	uart_write(sc, UART_REG_DATA, 'i');
	CHECK(m.out_len == 2 && memcmp(m.out, "hi", 2) == 0,
	      "THR bytes go out in order");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR) & 0x60, 0x60,
		     "LSR THRE and TEMT after a write");
	CHECK(p.asserts == 0, "no THRE interrupt while ETBEI is off");

	uart_write(sc, UART_REG_IER, UART_IER_ETBEI);
	CHECK(p.level && p.asserts == 1, "enabling ETBEI raises THRE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x02, "IIR reports THRE");
	CHECK(!p.level && p.deasserts == 1, "IIR read clears THRE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x01, "then IIR is empty");
	uart_write(sc, UART_REG_DATA, '!');
	CHECK(p.level && p.asserts == 2, "THR write raises THRE again");
	uart_write(sc, UART_REG_IER, UART_IER_ETBEI);
	CHECK(p.asserts == 2, "callbacks only on transitions");
	uart_write(sc, UART_REG_IER, 0);
	CHECK(!p.level, "disabling ETBEI drops the line");
	uart_destroy(sc);
}

static void
test_rx_16450(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	mem_input(&m, "AB");
	uart_rx_drain(sc);
	CHECK(m.in_pos == 1, "16450 mode takes one byte");
	CHECK(!m.rx_on, "full RBR stops backend input");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x61, "LSR DR set");
	CHECK(!p.level, "no RX interrupt while ERBFI is off");
	uart_write(sc, UART_REG_IER, UART_IER_ERBFI);
	CHECK(p.level, "ERBFI with data raises the line");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x04, "IIR reports RX data");
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'A', "RBR gives 'A'");
	CHECK(!p.level, "reading RBR clears the RX interrupt");
	CHECK(m.rx_on, "empty RBR resumes backend input");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x60, "LSR DR clear");
	uart_rx_drain(sc);
	CHECK(p.level, "next byte raises the line again");
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'B', "RBR gives 'B'");
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'B',
		     "empty RBR repeats the last byte");
	uart_destroy(sc);
}

static void
test_fifo(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);
	char got[17] = {0};

	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc1,
		     "IIR bits 7:6 set in FIFO mode");
	mem_input(&m, "0123456789abcdefXYZ");
	uart_rx_drain(sc);
	CHECK(m.in_pos == 16, "FIFO takes 16 bytes");
	CHECK(!m.rx_on, "full FIFO stops backend input");
	uart_rx_drain(sc);
	CHECK(m.in_pos == 16, "drain with a full FIFO reads nothing");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x61,
		     "full FIFO from the host is no overrun");
	for (int i = 0; i < 16; i++)
		got[i] = (char)uart_read(sc, UART_REG_DATA);
	CHECK_STR(got, "0123456789abcdef", "FIFO keeps order");
	CHECK(m.rx_on, "reading resumes backend input");
	uart_rx_drain(sc);
	CHECK(m.in_pos == 19, "rest of the input arrives");

	/* Trigger level 14: below it the character timeout is reported. */
	uart_write(sc, UART_REG_FCR, 0xc0 | UART_FCR_ENABLE | UART_FCR_RXRESET);
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR) & UART_LSR_DR, 0,
		     "FCR RX reset empties the FIFO");
	uart_write(sc, UART_REG_IER, UART_IER_ERBFI);
	memset(&m.in, 0, sizeof(m.in));
	m.in_len = m.in_pos = 0;
	mem_input(&m, "0123456789abcd");
	m.in_len = 4;
	uart_rx_drain(sc);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xcc,
		     "below trigger: character timeout");
	m.in_len = 14;
	uart_rx_drain(sc);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc4,
		     "at trigger: RX data available");
	uart_write(sc, UART_REG_FCR, 0);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x01,
		     "leaving FIFO mode empties the FIFO");
	CHECK(!p.level, "and drops the line");
	uart_destroy(sc);
}

static void
test_loopback_and_overrun(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK);
	CHECK(!m.rx_on, "loopback disconnects backend input");
	mem_input(&m, "q");
	uart_rx_drain(sc);
	CHECK(m.in_pos == 0, "loopback leaves host input queued");
	uart_write(sc, UART_REG_DATA, 'x');
	CHECK(m.out_len == 0, "loopback keeps THR off the line");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x61, "echo sets DR");
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'x', "echo reads back");

	/* 16450 mode: a second byte overwrites the unread one. */
	uart_write(sc, UART_REG_DATA, 'a');
	uart_write(sc, UART_REG_DATA, 'b');
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x63, "16450 overrun: OE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x61, "LSR read clears OE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'b',
		     "16450 overrun keeps the newest byte");

	/* FIFO mode: the 17th byte is lost; priorities in Table IV order. */
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(sc, UART_REG_IER,
		   UART_IER_ELSI | UART_IER_ERBFI | UART_IER_ETBEI |
		       UART_IER_EDSSI);
	for (int i = 0; i < 17; i++)
		uart_write(sc, UART_REG_DATA, (uint8_t)('A' + i));
	CHECK(p.level, "line active");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc6,
		     "IIR priority 1: line status");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR), 0x63, "FIFO overrun: OE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc4,
		     "IIR priority 2: RX data");
	for (int i = 0; i < 15; i++)
		(void)uart_read(sc, UART_REG_DATA);
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'P',
		     "FIFO overrun drops the 17th byte");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc2, "IIR priority 3: THRE");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc0,
		     "IIR priority 4: modem status");
	(void)uart_read(sc, UART_REG_MSR);
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0xc1, "IIR then empty");
	CHECK(!p.level, "line inactive");

	uart_write(sc, UART_REG_MCR, 0);
	CHECK(m.rx_on, "leaving loopback reconnects input");
	uart_rx_drain(sc);
	CHECK_EQ_U64(uart_read(sc, UART_REG_DATA), 'q',
		     "host input kept through loopback");
	uart_destroy(sc);
}

static void
test_msr(void)
{
	struct irq_probe p = {0};
	struct mem_backend m;
	struct uart_softc *sc = uart_new(&p, &m);

	uart_write(sc, UART_REG_IER, UART_IER_EDSSI);
	CHECK(!p.level, "no modem interrupt without a change");
	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK);
	CHECK(p.level, "modem status change raises the line");
	CHECK_EQ_U64(uart_read(sc, UART_REG_IIR), 0x00, "IIR modem status");
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x0b,
		     "loopback drops CTS/DSR/DCD: DCTS|DDSR|DDCD");
	CHECK(!p.level, "MSR read clears the modem interrupt");
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x00, "deltas cleared");
	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK | UART_MCR_RTS);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x11, "RTS -> CTS, DCTS");
	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK | UART_MCR_DTR);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x23,
		     "DTR -> DSR, DDSR, and DCTS");
	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK | UART_MCR_OUT1);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x42,
		     "OUT1 -> RI, no TERI on the leading edge");
	uart_write(sc, UART_REG_MCR, UART_MCR_LOOPBACK | UART_MCR_OUT2);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0x8c,
		     "OUT2 -> DCD, DDCD, TERI on RI's trailing edge");
	uart_write(sc, UART_REG_MCR, 0);
	CHECK_EQ_U64(uart_read(sc, UART_REG_MSR), 0xb3,
		     "leaving loopback: DCD|DSR|CTS, DCTS|DDSR");
	uart_destroy(sc);
}

/* --- backends end to end, with the event loop on its own thread --- */

static char tmpdir[] = "/tmp/test_uart.XXXXXX";
static pthread_t mevent_thread;
static bool mevent_running;

static void *
mevent_main(void *arg)
{
	mevent_dispatch();
	return NULL;
}

static void
events_start(void)
{
	if (mevent_init() == 0 &&
	    pthread_create(&mevent_thread, NULL, mevent_main, NULL) == 0)
		mevent_running = true;
	CHECK(mevent_running, "event loop starts");
}

static void
events_stop(void)
{
	if (!mevent_running)
		return;
	mevent_exit(0);
	pthread_join(mevent_thread, NULL);
	mevent_fini();
}

static char *
tmp_path(const char *name)
{
	static char buf[4][128];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* Waits up to 2 s until LSR.DR, then reads RBR until n bytes or timeout. */
static size_t
uart_recv(struct uart_softc *sc, char *buf, size_t n)
{
	size_t got = 0;

	for (int tries = 0; tries < 2000 && got < n; tries++) {
		while (got < n && (uart_read(sc, UART_REG_LSR) & UART_LSR_DR))
			buf[got++] = (char)uart_read(sc, UART_REG_DATA);
		if (got < n)
			usleep(1000);
	}
	return got;
}

static ssize_t
read_timeout(int fd, char *buf, size_t n)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t r;

	while (got < n && poll(&pfd, 1, 2000) == 1) {
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return got > 0 ? (ssize_t)got : r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static char *
slurp(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
uart_send(struct uart_softc *sc, const char *s)
{
	while (*s != '\0')
		uart_write(sc, UART_REG_DATA, (uint8_t)*s++);
}

static void
test_file_backend(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	const char *path = tmp_path("out.txt");
	struct uart_backend *be;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "old contents\n", 13) == 13,
	      "file: stale file");
	close(fd);
	be = uart_backend_open("com1", path);
	CHECK(be != NULL, "file: opens");
	if (be == NULL)
		return;
	CHECK(uart_backend_attach(be, sc) == 0, "file: attaches");
	uart_send(sc, "hello\r\n");
	CHECK_EQ_U64(uart_read(sc, UART_REG_LSR) & UART_LSR_DR, 0,
		     "file: no input");
	uart_backend_close(be);
	CHECK_STR(slurp(path), "hello\r\n", "file: truncated, output written");
	uart_destroy(sc);

	CHECK(uart_backend_open("com2", tmp_path("no/such/dir")) == NULL,
	      "file: missing directory refused");
	CHECK(uart_backend_open("com2", tmpdir) == NULL,
	      "file: a directory refused");
	CHECK(uart_backend_open("com2", "") == NULL, "empty backend refused");
}

static int
sock_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
test_socket_backend(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	const char *path = tmp_path("com1.sock");
	struct uart_backend *be;
	char opts[160], buf[64] = {0};
	int c1, c2;

	snprintf(opts, sizeof(opts), "socket,%s", path);
	be = uart_backend_open("com1", opts);
	CHECK(be != NULL, "socket: listens");
	if (be == NULL)
		return;
	CHECK(uart_backend_attach(be, sc) == 0, "socket: attaches");
	uart_send(sc, "lost"); /* nobody connected: dropped, no stall */
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(sc, UART_REG_IER, UART_IER_ERBFI);

	c1 = sock_connect(path);
	CHECK(c1 >= 0, "socket: client connects");
	CHECK(write(c1, "ping", 4) == 4, "socket: client sends");
	CHECK(uart_recv(sc, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0,
	      "socket: bytes arrive in RBR");
	CHECK(p.asserts >= 1, "socket: input raised the interrupt");

	uart_send(sc, "pong");
	memset(buf, 0, sizeof(buf));
	CHECK(read_timeout(c1, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0,
	      "socket: THR bytes reach the client");

	/* More than a FIFO's worth: flow control keeps every byte. */
	const char *big = "The quick brown fox jumps over the lazy dog 0123";
	CHECK(write(c1, big, strlen(big)) == (ssize_t)strlen(big),
	      "socket: client sends 48 bytes");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, strlen(big)) == strlen(big) &&
		  strcmp(buf, big) == 0,
	      "socket: 48 bytes through a 16-byte FIFO, none lost");

	c2 = sock_connect(path);
	CHECK(c2 >= 0 && read_timeout(c2, buf, 1) == 0,
	      "socket: second client refused");
	if (c2 >= 0)
		close(c2);

	close(c1);
	usleep(20000);
	c2 = sock_connect(path);
	CHECK(c2 >= 0, "socket: reconnect after disconnect");
	CHECK(write(c2, "again", 5) == 5, "socket: new client sends");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, 5) == 5 && strcmp(buf, "again") == 0,
	      "socket: new client's bytes arrive");
	uart_send(sc, "ok");
	CHECK(read_timeout(c2, buf, 2) == 2 && memcmp(buf, "ok", 2) == 0,
	      "socket: output goes to the new client");
	close(c2);

	uart_backend_close(be);
	CHECK(access(path, F_OK) != 0, "socket: path removed at close");
	uart_destroy(sc);
}

static void *
late_client(void *arg)
{
	int fd;

	usleep(100000);
	fd = sock_connect(arg);
	if (fd >= 0)
		(void)write(fd, "w", 1);
	return (void *)(intptr_t)fd;
}

static void
test_socket_wait(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	char *path = tmp_path("wait.sock");
	char opts[160], buf[4] = {0};
	struct uart_backend *be;
	pthread_t t;
	void *ret;
	int fd;

	snprintf(opts, sizeof(opts), "socket,%s,wait", path);
	pthread_create(&t, NULL, late_client, path);
	be = uart_backend_open("com2", opts);
	pthread_join(t, &ret);
	fd = (int)(intptr_t)ret;
	CHECK(be != NULL && fd >= 0, "socket wait: returns once connected");
	if (be != NULL) {
		CHECK(uart_backend_attach(be, sc) == 0,
		      "socket wait: attaches");
		CHECK(uart_recv(sc, buf, 1) == 1 && buf[0] == 'w',
		      "socket wait: first client's byte arrives");
		uart_backend_close(be);
	}
	if (fd >= 0)
		close(fd);
	uart_destroy(sc);

	snprintf(opts, sizeof(opts), "socket,%s,bogus", path);
	CHECK(uart_backend_open("com2", opts) == NULL,
	      "socket: unknown option refused");
	CHECK(uart_backend_open("com2", "socket,") == NULL,
	      "socket: empty path refused");
	snprintf(opts, sizeof(opts), "socket,%s", tmp_path("out.txt"));
	CHECK(uart_backend_open("com2", opts) == NULL,
	      "socket: existing non-socket path refused");
	CHECK(access(tmp_path("out.txt"), F_OK) == 0,
	      "socket: the file is left alone");
}

static void
test_pty_backend(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	struct uart_backend *be;
	char buf[8] = {0};

	CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0,
	      "pty: allocated");
	if (master < 0)
		return;
	be = uart_backend_open("com3", ptsname(master));
	CHECK(be != NULL, "pty: device opens");
	if (be == NULL) {
		close(master);
		return;
	}
	CHECK(uart_backend_attach(be, sc) == 0, "pty: attaches");
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	CHECK(write(master, "tty", 3) == 3, "pty: host writes");
	CHECK(uart_recv(sc, buf, 3) == 3 && memcmp(buf, "tty", 3) == 0,
	      "pty: bytes arrive raw (no line buffering)");
	uart_send(sc, "out\n");
	memset(buf, 0, sizeof(buf));
	CHECK(read_timeout(master, buf, 4) == 4 && memcmp(buf, "out\n", 4) == 0,
	      "pty: output raw (no newline translation)");
	uart_backend_close(be);
	close(master);
	uart_destroy(sc);
}

/*
 * stdio on a terminal, in a child whose stdin/stdout are a pty slave: the
 * terminal goes raw while the UART owns it and is restored by the atexit
 * hook when the process exits without closing the backend.
 */
static void
stdio_child(int slave)
{
	struct uart_softc *sc = uart_init(NULL, NULL, NULL);
	struct uart_backend *be;
	pthread_t t;
	char buf[2];

	if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0)
		_exit(2);
	be = uart_backend_open("com1", "stdio");
	if (be == NULL || uart_backend_open("com2", "stdio") != NULL)
		_exit(3); /* the terminal belongs to one UART only */
	if (mevent_init() != 0 || uart_backend_attach(be, sc) != 0 ||
	    pthread_create(&t, NULL, mevent_main, NULL) != 0)
		_exit(4);
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_send(sc, "ready\n");
	if (uart_recv(sc, buf, 2) != 2)
		_exit(5);
	uart_write(sc, UART_REG_DATA, '<');
	uart_write(sc, UART_REG_DATA, (uint8_t)buf[0]);
	uart_write(sc, UART_REG_DATA, (uint8_t)buf[1]);
	uart_write(sc, UART_REG_DATA, '>');
	exit(0); /* atexit restores the terminal */
}

static void
test_stdio_backend(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	struct termios before, during, after;
	char buf[16] = {0};
	int slave, status = -1;
	pid_t pid;

	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
	    (slave = open(ptsname(master), O_RDWR | O_NOCTTY)) < 0) {
		CHECK(false, "stdio: pty allocated");
		return;
	}
	tcgetattr(slave, &before);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		stdio_child(slave);
	CHECK(read_timeout(master, buf, 6) == 6 &&
		  memcmp(buf, "ready\n", 6) == 0,
	      "stdio: output on stdout, no CR added");
	tcgetattr(slave, &during);
	CHECK((during.c_lflag & (ICANON | ECHO | ISIG)) == 0,
	      "stdio: terminal is raw while the VM runs");
	CHECK(write(master, "hi", 2) == 2, "stdio: host types");
	memset(buf, 0, sizeof(buf));
	CHECK(read_timeout(master, buf, 4) == 4 && memcmp(buf, "<hi>", 4) == 0,
	      "stdio: typed bytes reach RBR, no echo");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "stdio: child ran cleanly");
	tcgetattr(slave, &after);
	CHECK(after.c_lflag == before.c_lflag &&
		  after.c_oflag == before.c_oflag,
	      "stdio: terminal restored at exit");
	close(slave);
	close(master);
}

/* --- COM1 as the platform device, through the port dispatcher --- */

static void
test_lpc_uart(void)
{
	const struct platform_dev *pd = test_platform_dev("lpc-uart");
	const char *path = tmp_path("com1.txt");
	uint32_t v;

	CHECK(pd != NULL, "lpc: registered as a platform device");
	if (pd == NULL)
		return;
	init_config();
	init_inout();
	set_config_value("lpc.com1.path", path);
	CHECK(pd->pd_init(NULL) == 0, "lpc: COM1 initialises");
	v = 0x42;
	CHECK(inout_emulate(NULL, false, 0x3ff, 1, &v) == 0,
	      "lpc: SCR write at 0x3ff");
	v = 0;
	CHECK(inout_emulate(NULL, true, 0x3ff, 1, &v) == 0 && v == 0x42,
	      "lpc: SCR reads back at 0x3ff");
	CHECK(inout_emulate(NULL, true, 0x3fd, 1, &v) == 0 && v == 0x60,
	      "lpc: LSR at 0x3fd");
	v = 'O';
	inout_emulate(NULL, false, 0x3f8, 1, &v);
	v = 'K';
	inout_emulate(NULL, false, 0x3f8, 1, &v);
	v = 0;
	CHECK(inout_emulate(NULL, true, 0x2fd, 1, &v) == 0 && v == 0xff,
	      "lpc: unconfigured COM2 floats");
	pd->pd_fini();
	CHECK_STR(slurp(path), "OK", "lpc: COM1 output in the file");
	v = 0;
	inout_emulate(NULL, true, 0x3ff, 1, &v);
	CHECK_EQ_U64(v & 0xff, 0xff, "lpc: ports released at fini");

	set_config_value("lpc.com1.path", tmp_path("no/such/dir"));
	CHECK(pd->pd_init(NULL) == -1, "lpc: bad path fails init");
	pd->pd_fini();
	fini_config();
}

/* "tcp=" addresses: the forms bhyve accepts, loopback by default. */
static void
test_tcp_parse(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	char err[256];
	socklen_t len;

	CHECK(uart_tcp_parse("127.0.0.1:5555", &ss, &len, err, sizeof(err)) ==
		      0 &&
		  ss.ss_family == AF_INET && ntohs(sin->sin_port) == 5555 &&
		  sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		  len == sizeof(*sin),
	      "tcp: ADDR:PORT");
	CHECK(uart_tcp_parse("0.0.0.0:23", &ss, &len, err, sizeof(err)) == 0 &&
		  sin->sin_addr.s_addr == htonl(INADDR_ANY),
	      "tcp: any address when written out");
	CHECK(uart_tcp_parse("5555", &ss, &len, err, sizeof(err)) == 0 &&
		  ss.ss_family == AF_INET &&
		  sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	      "tcp: PORT alone is loopback");
	CHECK(uart_tcp_parse(":5555", &ss, &len, err, sizeof(err)) == 0 &&
		  sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	      "tcp: :PORT is loopback");
	CHECK(uart_tcp_parse("localhost:5555", &ss, &len, err, sizeof(err)) ==
		      0 &&
		  sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	      "tcp: localhost");
	CHECK(uart_tcp_parse("[::1]:5555", &ss, &len, err, sizeof(err)) == 0 &&
		  ss.ss_family == AF_INET6 && ntohs(sin6->sin6_port) == 5555 &&
		  IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) &&
		  len == sizeof(*sin6),
	      "tcp: [IPv6]:PORT");
	CHECK(uart_tcp_parse("::1:5555", &ss, &len, err, sizeof(err)) != 0 &&
		  strstr(err, "brackets") != NULL,
	      "tcp: IPv6 without brackets refused");
	CHECK(uart_tcp_parse("[::1]5555", &ss, &len, err, sizeof(err)) != 0,
	      "tcp: [IPv6] without :PORT refused");
	CHECK(uart_tcp_parse("[1.2.3.4]:5", &ss, &len, err, sizeof(err)) != 0,
	      "tcp: IPv4 in brackets refused");
	CHECK(uart_tcp_parse("1.2.3:5", &ss, &len, err, sizeof(err)) != 0,
	      "tcp: bad IPv4 refused");
	CHECK(uart_tcp_parse("127.0.0.1:0", &ss, &len, err, sizeof(err)) != 0 &&
		  uart_tcp_parse("127.0.0.1:65536", &ss, &len, err,
				 sizeof(err)) != 0 &&
		  uart_tcp_parse("127.0.0.1:", &ss, &len, err, sizeof(err)) !=
		      0 &&
		  uart_tcp_parse("127.0.0.1:+5", &ss, &len, err, sizeof(err)) !=
		      0,
	      "tcp: ports outside 1-65535 refused");
	CHECK(uart_backend_check("tcp=5555,wait", true, err, sizeof(err)) == 0,
	      "tcp: wait option");
	CHECK(uart_backend_check("tcp=", false, err, sizeof(err)) != 0,
	      "tcp: empty address refused");
}

/* A free loopback port: bound, then released for the backend to take. */
static int
free_tcp_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((in_port_t)port);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The TCP console end to end through the 16550: both directions, one
 * client at a time, a disconnect leaves the guest side alone and a new
 * client takes over.
 */
static void
test_tcp_backend(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	int port = free_tcp_port(), c1, c2;
	struct uart_backend *be;
	char opts[64], buf[64] = {0};

	CHECK(port > 0, "tcp: a free port");
	snprintf(opts, sizeof(opts), "tcp=%d", port);
	be = uart_backend_open("com1", opts);
	CHECK(be != NULL, "tcp: listens");
	if (be == NULL)
		return;
	snprintf(buf, sizeof(buf), "%d", port);
	CHECK(uart_backend_tcp_address(be) != NULL &&
		  strcmp(uart_backend_tcp_address(be), buf) == 0,
	      "tcp: address reported");
	CHECK(uart_backend_attach(be, sc) == 0, "tcp: attaches");
	uart_send(sc, "lost"); /* nobody connected: dropped, no stall */
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	uart_write(sc, UART_REG_IER, UART_IER_ERBFI);

	c1 = tcp_connect(port);
	CHECK(c1 >= 0, "tcp: client connects");
	CHECK(write(c1, "ping", 4) == 4, "tcp: client sends");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0,
	      "tcp: bytes arrive in RBR");
	CHECK(p.asserts >= 1, "tcp: input raised the interrupt");
	uart_send(sc, "pong");
	memset(buf, 0, sizeof(buf));
	CHECK(read_timeout(c1, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0,
	      "tcp: THR bytes reach the client");

	c2 = tcp_connect(port);
	CHECK(c2 < 0 || read_timeout(c2, buf, 1) <= 0,
	      "tcp: second client refused");
	if (c2 >= 0)
		close(c2);

	close(c1);
	usleep(20000);
	uart_send(sc, "gone"); /* the guest goes on writing: no stall */
	CHECK((uart_read(sc, UART_REG_LSR) & UART_LSR_TEMT) != 0,
	      "tcp: disconnect does not stall the transmitter");
	c2 = tcp_connect(port);
	CHECK(c2 >= 0, "tcp: reconnect after disconnect");
	CHECK(write(c2, "again", 5) == 5, "tcp: new client sends");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, 5) == 5 && strcmp(buf, "again") == 0,
	      "tcp: new client's bytes arrive");
	uart_send(sc, "ok");
	CHECK(read_timeout(c2, buf, 2) == 2 && memcmp(buf, "ok", 2) == 0,
	      "tcp: output goes to the new client");
	close(c2);
	uart_backend_close(be);
	CHECK(tcp_connect(port) < 0, "tcp: closed with the backend");
	uart_destroy(sc);

	/* A port in use is an error, with the bhyve: line. */
	c1 = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sin = {.sin_family = AF_INET};
		int on = 1;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((in_port_t)port);
		/* (Past the closed connections' TIME_WAIT.) */
		CHECK(c1 >= 0 &&
			  setsockopt(c1, SOL_SOCKET, SO_REUSEADDR, &on,
				     sizeof(on)) == 0 &&
			  bind(c1, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
			  listen(c1, 1) == 0,
		      "tcp: port taken by another listener");
	}
	CHECK(uart_backend_open("com2", opts) == NULL,
	      "tcp: a port in use is refused");
	close(c1);
}

/*
 * /dev/nmdm*: a pty whose other end the user opens; a user closing it
 * is no hangup, and may open it again.
 */
static void
test_nmdm_pty(void)
{
	struct irq_probe p = {0};
	struct uart_softc *sc = uart_init(probe_assert, probe_deassert, &p);
	struct uart_backend *be;
	const char *pty;
	char buf[16] = {0};
	int fd;

	CHECK(uart_is_nmdm_path("/dev/nmdm0A") &&
		  uart_is_nmdm_path("/dev/nmdmvm1B") &&
		  !uart_is_nmdm_path("/dev/nmdm") &&
		  !uart_is_nmdm_path("/dev/nmdm0") &&
		  !uart_is_nmdm_path("/tmp/nmdm0A"),
	      "nmdm: names recognised");
	be = uart_backend_open("com1", "/dev/nmdm0A");
	CHECK(be != NULL, "nmdm: opens as a pty");
	if (be == NULL)
		return;
	CHECK(access("/dev/nmdm0A", F_OK) != 0, "nmdm: nothing made in /dev");
	pty = uart_backend_pty_path(be);
	CHECK(pty != NULL && strncmp(pty, "/dev/pts/", 9) == 0,
	      "nmdm: the pty's other end is named");
	CHECK(uart_backend_attach(be, sc) == 0, "nmdm: attaches");
	uart_write(sc, UART_REG_FCR, UART_FCR_ENABLE);
	fd = pty ? open(pty, O_RDWR | O_NOCTTY) : -1;
	CHECK(fd >= 0, "nmdm: user opens the pty");
	uart_send(sc, "hi");
	CHECK(read_timeout(fd, buf, 2) == 2 && memcmp(buf, "hi", 2) == 0,
	      "nmdm: guest output reaches the user");
	CHECK(write(fd, "yo", 2) == 2, "nmdm: user types");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, 2) == 2 && memcmp(buf, "yo", 2) == 0,
	      "nmdm: user input reaches the guest");
	close(fd);
	usleep(20000);
	fd = pty ? open(pty, O_RDWR | O_NOCTTY) : -1;
	CHECK(fd >= 0 && write(fd, "re", 2) == 2, "nmdm: user opens it again");
	memset(buf, 0, sizeof(buf));
	CHECK(uart_recv(sc, buf, 2) == 2 && memcmp(buf, "re", 2) == 0,
	      "nmdm: input still flows after the user came back");
	if (fd >= 0)
		close(fd);
	uart_backend_close(be);
	uart_destroy(sc);
}

/* A path under /dev names a device: never created. */
static void
test_dev_paths(void)
{
	char err[256];

	CHECK(uart_backend_check("/dev/ttyNOSUCH9", true, err, sizeof(err)) !=
		      0 &&
		  strstr(err, "never created") != NULL,
	      "dev: a missing device is refused");
	CHECK(uart_backend_check("/dev/ttyNOSUCH9", false, err, sizeof(err)) ==
		  0,
	      "dev: syntax alone does not look at the host");
	CHECK(uart_backend_open("com1", "/dev/ttyNOSUCH9") == NULL &&
		  access("/dev/ttyNOSUCH9", F_OK) != 0,
	      "dev: open refuses it and creates nothing");
	CHECK(uart_backend_check("/dev/null", true, err, sizeof(err)) == 0,
	      "dev: an existing character device is fine");
	CHECK(uart_backend_check("/dev/shm", true, err, sizeof(err)) != 0 &&
		  strstr(err, "not a character device") != NULL,
	      "dev: a directory under /dev is refused");
}

int
main(void)
{
	test_reset_state();
	test_scratch_and_masks();
	test_divisor_latch();
	test_thre();
	test_rx_16450();
	test_fifo();
	test_loopback_and_overrun();
	test_msr();

	test_stdio_backend(); /* forks: before any thread exists */
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	events_start();
	test_file_backend();
	if (mevent_running) {
		test_socket_backend();
		test_socket_wait();
		test_pty_backend();
		test_tcp_backend();
		test_nmdm_pty();
	}
	test_tcp_parse();
	test_dev_paths();
	test_lpc_uart();
	events_stop();
	(void)unlink(tmp_path("out.txt"));
	(void)unlink(tmp_path("com1.txt"));
	(void)rmdir(tmpdir);
	return test_done();
}
