/*
 * Output: a small vsnprintf, COM1 (polled 16550) and the test device's
 * message port.  Lines are formatted into a buffer first and written
 * under a lock, so lines from several CPUs do not interleave.
 */
#include "payload.h"

#define COM1_THR   0x3f8
#define COM1_LSR   0x3fd
#define LSR_THRE   0x20
#define LINE_MAX   256
#define THRE_POLLS 100000

struct outbuf {
	char *buf;
	size_t size;
	size_t len; /* would-be length, as C's snprintf counts */
};

static spinlock_t out_lock;

static void
out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
out_number(struct outbuf *o, uint64_t v, unsigned base, bool neg, int width,
	   char pad)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	if (neg)
		digits[n++] = '-';
	for (int i = n; i < width; i++)
		out_char(o, pad);
	while (n > 0)
		out_char(o, digits[--n]);
}

/* Supports %c %s %d %i %u %x %p %% with '0', a width and 'l'/'ll'/'z'. */
int
vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = {buf, size, 0};

	for (; *fmt != '\0'; fmt++) {
		char pad = ' ';
		int width = 0, lng = 0;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (s == NULL)
				s = "(null)";
			while (*s != '\0')
				out_char(&o, *s++);
			break;
		}
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			out_number(&o, mag, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x':
			out_number(&o,
				   lng ? va_arg(ap, uint64_t)
				       : va_arg(ap, unsigned),
				   *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		case 'p':
			out_char(&o, '0');
			out_char(&o, 'x');
			out_number(&o, (uint64_t)va_arg(ap, void *), 16, false,
				   width, pad);
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_char(&o, *fmt);
			break;
		}
	}
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int
snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void
com1_putc(char c)
{
	/* Bounded: a missing UART reads all ones, which shows THRE set. */
	for (int i = 0; i < THRE_POLLS && !(inb(COM1_LSR) & LSR_THRE); i++)
		cpu_pause();
	outb(COM1_THR, (uint8_t)c);
}

static void
com1_write(const char *s)
{
	for (; *s != '\0'; s++) {
		/* The stdio backend puts the terminal in raw mode. */
		if (*s == '\n')
			com1_putc('\r');
		com1_putc(*s);
	}
}

void
com1_puts(const char *s)
{
	spin_lock(&out_lock);
	com1_write(s);
	spin_unlock(&out_lock);
}

void
com1_printf(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	com1_puts(line);
}

/*
 * With "mirror" on the kernel command line, everything sent to the test
 * device is also printed on COM1, so a payload's logic can be followed
 * under a VMM without the device (QEMU -kernel ... -append mirror).
 */
static bool
td_mirror(void)
{
	static int mirror = -1;

	if (mirror < 0)
		mirror = multiboot_cmdline_has("mirror");
	return mirror;
}

void
td_printf(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	spin_lock(&out_lock);
	/* One OUT per byte: rep outsb has a test of its own (stringio). */
	for (const char *s = line; *s != '\0'; s++)
		outb(TD_PORT_MSG, (uint8_t)*s);
	if (td_mirror()) {
		com1_write("testdev: ");
		com1_write(line);
	}
	spin_unlock(&out_lock);
}

void
td_value(uint32_t v)
{
	outl(TD_PORT_VALUE, v);
	if (td_mirror())
		com1_printf("testdev: value 0x%08x\n", v);
}

void
td_result(uint32_t v)
{
	outl(TD_PORT_RESULT, v);
	if (!td_mirror())
		return;
	if (v == 0)
		com1_printf("testdev: pass\n");
	else
		com1_printf("testdev: fail %u\n", v);
}
