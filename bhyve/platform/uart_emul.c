/*
 * 16550A UART register model.  References are to the National
 * Semiconductor PC16550D datasheet (June 1995): "Registers" (section 8)
 * and Table IV (interrupt control functions).
 *
 * The transmitter is infinitely fast: a byte written to THR reaches the
 * backend at once, so THR and the transmitter are always empty (LSR THRE
 * and TEMT read 1) and the THRE interrupt fires again after every write.
 * The receiver has a real FIFO, 16 bytes in FIFO mode and 1 byte (the
 * 16450's RBR) otherwise; the backend is only asked for as many bytes as
 * fit, so host input is never dropped, while loopback can overrun.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "uart_emul.h"

#define UART_DEFAULT_DIVISOR 12 /* 9600 baud from a 1.8432 MHz clock */
#define UART_LSR_ERRORS	     (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

struct uart_fifo {
	uint8_t buf[UART_FIFO_SIZE];
	unsigned int head; /* index of the oldest byte */
	unsigned int count;
	unsigned int size; /* 16 in FIFO mode, 1 in 16450 mode */
};

struct uart_softc {
	pthread_mutex_t mtx; /* protects everything below */
	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr; /* only the error bits are stored; the rest is derived */
	uint8_t msr;
	uint8_t fcr;
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	uint8_t rbr; /* last byte read, returned again if RBR is empty */
	struct uart_fifo rx;
	bool thre_pending;
	bool intr_active;
	bool rx_enabled; /* what the backend was last told */
	struct uart_io io;
	uart_intr_func_t intr_assert;
	uart_intr_func_t intr_deassert;
	void *intr_arg;
};

static void
fifo_reset(struct uart_fifo *f, unsigned int size)
{
	f->head = 0;
	f->count = 0;
	f->size = size;
}

static bool
fifo_full(const struct uart_fifo *f)
{
	return f->count >= f->size;
}

static void
fifo_put(struct uart_fifo *f, uint8_t byte)
{
	f->buf[(f->head + f->count) % UART_FIFO_SIZE] = byte;
	f->count++;
}

static uint8_t
fifo_get(struct uart_fifo *f)
{
	uint8_t byte = f->buf[f->head];

	f->head = (f->head + 1) % UART_FIFO_SIZE;
	f->count--;
	return byte;
}

static bool
uart_fifo_mode(const struct uart_softc *sc)
{
	return (sc->fcr & UART_FCR_ENABLE) != 0;
}

static bool
uart_loopback(const struct uart_softc *sc)
{
	return (sc->mcr & UART_MCR_LOOPBACK) != 0;
}

/* FCR bits 7:6 select the RX FIFO trigger level (section 8.5). */
static unsigned int
uart_rx_trigger(const struct uart_softc *sc)
{
	static const unsigned int levels[4] = {1, 4, 8, 14};

	return levels[(sc->fcr & UART_FCR_TRIGGER) >> 6];
}

/*
 * A byte arrives at the receiver.  With a full FIFO it is an overrun: in
 * FIFO mode the new byte is lost, in 16450 mode it replaces the unread one
 * (section 8.6, LSR bit 1).
 */
static void
uart_rx_accept(struct uart_softc *sc, uint8_t byte)
{
	if (!fifo_full(&sc->rx)) {
		fifo_put(&sc->rx, byte);
		return;
	}
	sc->lsr |= UART_LSR_OE;
	if (!uart_fifo_mode(sc))
		sc->rx.buf[sc->rx.head] = byte;
}

/*
 * Modem status inputs.  In loopback the four modem outputs drive them
 * (section 8.7: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD).  Otherwise the
 * virtual cable reports a connected, ready peer (DCD, DSR, CTS) so that
 * neither a tty open nor hardware flow control stalls the guest.
 */
static uint8_t
uart_modem_lines(uint8_t mcr)
{
	uint8_t lines = 0;

	if ((mcr & UART_MCR_LOOPBACK) == 0)
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (mcr & UART_MCR_RTS)
		lines |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		lines |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		lines |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		lines |= UART_MSR_DCD;
	return lines;
}

/* Sets the MSR delta bits for a change of the input lines (section 8.8). */
static void
uart_set_modem_lines(struct uart_softc *sc, uint8_t lines)
{
	uint8_t old = sc->msr;
	uint8_t delta = sc->msr & UART_MSR_DELTA;

	if ((old ^ lines) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ lines) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old ^ lines) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	/* TERI reports only the trailing edge of RI. */
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	sc->msr = lines | delta;
}

/* The highest-priority pending interrupt, per Table IV. */
static uint8_t
uart_intr_reason(const struct uart_softc *sc)
{
	if ((sc->ier & UART_IER_ELSI) && (sc->lsr & UART_LSR_ERRORS))
		return UART_IIR_RLS;
	if ((sc->ier & UART_IER_ERBFI) && sc->rx.count > 0) {
		/*
		 * Below the trigger level a real FIFO raises the character
		 * timeout after four idle character times; host input comes
		 * in bursts, so the line is idle at once.
		 */
		if (uart_fifo_mode(sc) && sc->rx.count < uart_rx_trigger(sc))
			return UART_IIR_RXTIMEOUT;
		return UART_IIR_RXDATA;
	}
	if ((sc->ier & UART_IER_ETBEI) && sc->thre_pending)
		return UART_IIR_THRE;
	if ((sc->ier & UART_IER_EDSSI) && (sc->msr & UART_MSR_DELTA))
		return UART_IIR_MODEM;
	return UART_IIR_NOPEND;
}

static void
uart_update_intr(struct uart_softc *sc)
{
	bool active = uart_intr_reason(sc) != UART_IIR_NOPEND;

	if (active == sc->intr_active)
		return;
	sc->intr_active = active;
	if (active && sc->intr_assert != NULL)
		sc->intr_assert(sc->intr_arg);
	else if (!active && sc->intr_deassert != NULL)
		sc->intr_deassert(sc->intr_arg);
}

/*
 * Backend input is wanted only while the FIFO has room and the receiver
 * listens to the line (in loopback its input is disconnected).
 */
static void
uart_update_rx_flow(struct uart_softc *sc)
{
	bool want = !uart_loopback(sc) && !fifo_full(&sc->rx);

	if (want == sc->rx_enabled)
		return;
	sc->rx_enabled = want;
	if (sc->io.rx_enable != NULL)
		sc->io.rx_enable(sc->io.arg, want);
}

static void
uart_reset(struct uart_softc *sc)
{
	sc->ier = 0;
	sc->lcr = 0;
	sc->mcr = 0;
	sc->lsr = 0;
	sc->fcr = 0;
	sc->scr = 0;
	sc->dll = UART_DEFAULT_DIVISOR;
	sc->dlm = 0;
	sc->rbr = 0;
	sc->msr = uart_modem_lines(0);
	sc->thre_pending = false;
	sc->intr_active = false;
	sc->rx_enabled = true;
	fifo_reset(&sc->rx, 1);
}

struct uart_softc *
uart_init(uart_intr_func_t intr_assert, uart_intr_func_t intr_deassert,
	  void *arg)
{
	struct uart_softc *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return NULL;
	if (pthread_mutex_init(&sc->mtx, NULL) != 0) {
		free(sc);
		return NULL;
	}
	sc->intr_assert = intr_assert;
	sc->intr_deassert = intr_deassert;
	sc->intr_arg = arg;
	uart_reset(sc);
	return sc;
}

void
uart_destroy(struct uart_softc *sc)
{
	if (sc == NULL)
		return;
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

void
uart_set_io(struct uart_softc *sc, const struct uart_io *io)
{
	pthread_mutex_lock(&sc->mtx);
	if (io != NULL)
		sc->io = *io;
	else
		memset(&sc->io, 0, sizeof(sc->io));
	/* A new backend starts with its input enabled. */
	sc->rx_enabled = true;
	uart_update_rx_flow(sc);
	pthread_mutex_unlock(&sc->mtx);
}

static void
uart_write_fcr(struct uart_softc *sc, uint8_t value)
{
	/* Changing FCR0 switches mode and empties the FIFOs (8.5). */
	if ((sc->fcr ^ value) & UART_FCR_ENABLE)
		fifo_reset(&sc->rx,
			   (value & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1);
	/* The other bits are programmed only together with FCR0. */
	if ((value & UART_FCR_ENABLE) == 0) {
		sc->fcr = 0;
		return;
	}
	if (value & UART_FCR_RXRESET)
		fifo_reset(&sc->rx, UART_FIFO_SIZE);
	/* RX/TX reset are self-clearing; the TX FIFO is always empty. */
	sc->fcr = value & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER);
}

static void
uart_write_thr(struct uart_softc *sc, uint8_t value)
{
	/* In loopback the serial output is held marking (8.7). */
	if (uart_loopback(sc))
		uart_rx_accept(sc, value);
	else if (sc->io.write != NULL)
		sc->io.write(sc->io.arg, value);
	sc->thre_pending = true;
}

static void
uart_write_reg(struct uart_softc *sc, int offset, uint8_t value)
{
	switch (offset) {
	case UART_REG_DATA:
		uart_write_thr(sc, value);
		break;
	case UART_REG_IER:
		/*
		 * Enabling ETBEI while THR is empty raises THRE at once: the
		 * datasheet's THRE source is the empty-THR condition, and
		 * drivers use this to kick transmission.
		 */
		if (!(sc->ier & UART_IER_ETBEI) && (value & UART_IER_ETBEI))
			sc->thre_pending = true;
		sc->ier = value & 0x0f;
		break;
	case UART_REG_FCR:
		uart_write_fcr(sc, value);
		break;
	case UART_REG_LCR:
		sc->lcr = value;
		break;
	case UART_REG_MCR:
		sc->mcr = value & 0x1f;
		uart_set_modem_lines(sc, uart_modem_lines(sc->mcr));
		break;
	case UART_REG_SCR:
		sc->scr = value;
		break;
	default:
		/* LSR and MSR writes are for factory test only. */
		break;
	}
}

void
uart_write(struct uart_softc *sc, int offset, uint8_t value)
{
	pthread_mutex_lock(&sc->mtx);
	if ((sc->lcr & UART_LCR_DLAB) && offset == UART_REG_DATA)
		sc->dll = value;
	else if ((sc->lcr & UART_LCR_DLAB) && offset == UART_REG_IER)
		sc->dlm = value;
	else
		uart_write_reg(sc, offset, value);
	uart_update_rx_flow(sc);
	uart_update_intr(sc);
	pthread_mutex_unlock(&sc->mtx);
}

static uint8_t
uart_read_iir(struct uart_softc *sc)
{
	uint8_t reason = uart_intr_reason(sc);

	/* Reading IIR while it reports THRE clears that source (Table IV). */
	if (reason == UART_IIR_THRE)
		sc->thre_pending = false;
	return reason | (uart_fifo_mode(sc) ? UART_IIR_FIFOS : 0);
}

static uint8_t
uart_read_lsr(struct uart_softc *sc)
{
	uint8_t lsr = sc->lsr | UART_LSR_THRE | UART_LSR_TEMT;

	if (sc->rx.count > 0)
		lsr |= UART_LSR_DR;
	/* The error bits clear when LSR is read (8.6). */
	sc->lsr &= ~UART_LSR_ERRORS;
	return lsr;
}

static uint8_t
uart_read_reg(struct uart_softc *sc, int offset)
{
	uint8_t value;

	switch (offset) {
	case UART_REG_DATA:
		if (sc->rx.count > 0)
			sc->rbr = fifo_get(&sc->rx);
		return sc->rbr;
	case UART_REG_IER:
		return sc->ier;
	case UART_REG_IIR:
		return uart_read_iir(sc);
	case UART_REG_LCR:
		return sc->lcr;
	case UART_REG_MCR:
		return sc->mcr;
	case UART_REG_LSR:
		return uart_read_lsr(sc);
	case UART_REG_MSR:
		value = sc->msr;
		sc->msr &= ~UART_MSR_DELTA;
		return value;
	case UART_REG_SCR:
		return sc->scr;
	default:
		return 0xff;
	}
}

uint8_t
uart_read(struct uart_softc *sc, int offset)
{
	uint8_t value;

	pthread_mutex_lock(&sc->mtx);
	if ((sc->lcr & UART_LCR_DLAB) && offset == UART_REG_DATA)
		value = sc->dll;
	else if ((sc->lcr & UART_LCR_DLAB) && offset == UART_REG_IER)
		value = sc->dlm;
	else
		value = uart_read_reg(sc, offset);
	uart_update_rx_flow(sc);
	uart_update_intr(sc);
	pthread_mutex_unlock(&sc->mtx);
	return value;
}

void
uart_rx_drain(struct uart_softc *sc)
{
	uint8_t buf[UART_FIFO_SIZE];
	ssize_t n;
	size_t room;

	pthread_mutex_lock(&sc->mtx);
	room = sc->rx.size - sc->rx.count;
	if (!uart_loopback(sc) && room > 0 && sc->io.read != NULL) {
		n = sc->io.read(sc->io.arg, buf, room);
		for (ssize_t i = 0; i < n && (size_t)i < room; i++)
			uart_rx_accept(sc, buf[i]);
	}
	uart_update_rx_flow(sc);
	uart_update_intr(sc);
	pthread_mutex_unlock(&sc->mtx);
}

bool
uart_intr_active(struct uart_softc *sc)
{
	bool active;

	pthread_mutex_lock(&sc->mtx);
	active = sc->intr_active;
	pthread_mutex_unlock(&sc->mtx);
	return active;
}
