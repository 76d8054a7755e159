/*
 * libFuzzer target for the 16550A model: the input is a program of guest
 * register reads and writes plus host input bursts, checked against the
 * invariants the datasheet guarantees.
 *
 * Build and run (from the repository root):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *       -g -O1 -Ibhyve/platform -Ibhyve/core \
 *       fuzz/fuzz_uart.c bhyve/platform/uart_emul.c -o build/fuzz_uart
 *   build/fuzz_uart -max_total_time=10
 *
 * Program bytes: 0b1wwwwrrr = write register rrr with the next byte;
 * 0b0xxxxrrr = read register rrr, except 0x78..0x7f: the host delivers
 * (next byte & 31) bytes, to test flow control and overrun paths.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uart_emul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
	bool level;
	bool rx_on;
	size_t host_pending; /* bytes the host still wants to deliver */
	uint8_t next_byte;
	uint8_t lcr; /* the guest's last LCR write, to know about DLAB */
};

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static void
fuzz_assert(void *arg)
{
	struct fuzz_state *st = arg;

	check(!st->level); /* callbacks come on transitions only */
	st->level = true;
}

static void
fuzz_deassert(void *arg)
{
	struct fuzz_state *st = arg;

	check(st->level);
	st->level = false;
}

static void
fuzz_write(void *arg, uint8_t byte)
{
	(void)arg;
	(void)byte;
}

static ssize_t
fuzz_read(void *arg, uint8_t *buf, size_t len)
{
	struct fuzz_state *st = arg;
	size_t n = st->host_pending < len ? st->host_pending : len;

	check(len <= UART_FIFO_SIZE);
	for (size_t i = 0; i < n; i++)
		buf[i] = st->next_byte++;
	st->host_pending -= n;
	return (ssize_t)n;
}

static void
fuzz_rx_enable(void *arg, bool on)
{
	struct fuzz_state *st = arg;

	check(st->rx_on != on); /* also transitions only */
	st->rx_on = on;
}

static void
check_read(const struct fuzz_state *st, int reg, uint8_t v)
{
	bool dlab = (st->lcr & UART_LCR_DLAB) != 0;

	switch (reg) {
	case UART_REG_IER:
		check(dlab || v <= 0x0f);
		break;
	case UART_REG_IIR: {
		uint8_t id = v & 0x0f;

		check((v & 0x30) == 0);
		check(id == 0x01 || id == 0x00 || id == 0x02 || id == 0x04 ||
		      id == 0x06 || id == 0x0c);
		break;
	}
	case UART_REG_MCR:
		check(v <= 0x1f);
		break;
	case UART_REG_LSR:
		check((v & (UART_LSR_THRE | UART_LSR_TEMT)) ==
		      (UART_LSR_THRE | UART_LSR_TEMT));
		check((v & 0x80) == 0);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state st = {.rx_on = true};
	struct uart_io io = {
	    .write = fuzz_write,
	    .read = fuzz_read,
	    .rx_enable = fuzz_rx_enable,
	    .arg = &st,
	};
	struct uart_softc *sc = uart_init(fuzz_assert, fuzz_deassert, &st);
	size_t i = 0;

	if (sc == NULL)
		return 0;
	uart_set_io(sc, &io);
	while (i < size) {
		uint8_t op = data[i++];
		int reg = op & 7;
		uint8_t v = i < size ? data[i] : 0;

		if (op & 0x80) {
			i++;
			uart_write(sc, reg, v);
			if (reg == UART_REG_LCR)
				st.lcr = v;
		} else if (op >= 0x78) {
			i++;
			st.host_pending += v & 31;
			uart_rx_drain(sc);
		} else {
			check_read(&st, reg, uart_read(sc, reg));
		}
		check(uart_intr_active(sc) == st.level);
	}
	uart_destroy(sc);
	return 0;
}
