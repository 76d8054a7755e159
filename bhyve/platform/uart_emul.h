/*
 * A 16550A UART (National Semiconductor PC16550D datasheet), independent
 * of KVM and of where its bytes go: the owner supplies two interrupt
 * callbacks, a backend supplies byte I/O (struct uart_io).
 *
 * Threads: uart_read()/uart_write() run on vCPU threads, uart_rx_drain()
 * on the event thread; one mutex per UART serialises them.  The interrupt
 * callbacks and the uart_io functions are called with that mutex held and
 * must not call back into the UART.
 */
#ifndef UART_EMUL_H
#define UART_EMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Register offsets from the base port (datasheet Table II). */
#define UART_REG_DATA 0 /* RBR read, THR write; DLL when LCR.DLAB */
#define UART_REG_IER  1 /* DLM when LCR.DLAB */
#define UART_REG_IIR  2 /* read */
#define UART_REG_FCR  2 /* write */
#define UART_REG_LCR  3
#define UART_REG_MCR  4
#define UART_REG_LSR  5
#define UART_REG_MSR  6
#define UART_REG_SCR  7
#define UART_NREGS    8

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NOPEND	   0x01
#define UART_IIR_MODEM	   0x00
#define UART_IIR_THRE	   0x02
#define UART_IIR_RXDATA	   0x04
#define UART_IIR_RLS	   0x06
#define UART_IIR_RXTIMEOUT 0x0c
#define UART_IIR_FIFOS	   0xc0 /* both bits set in FIFO mode */

#define UART_FCR_ENABLE	 0x01
#define UART_FCR_RXRESET 0x02
#define UART_FCR_TXRESET 0x04
#define UART_FCR_DMA	 0x08
#define UART_FCR_TRIGGER 0xc0

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR	  0x01
#define UART_MCR_RTS	  0x02
#define UART_MCR_OUT1	  0x04
#define UART_MCR_OUT2	  0x08
#define UART_MCR_LOOPBACK 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_PE   0x04
#define UART_LSR_FE   0x08
#define UART_LSR_BI   0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_DELTA 0x0f
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80

#define UART_FIFO_SIZE 16

struct uart_softc;

typedef void (*uart_intr_func_t)(void *arg);

/* Byte I/O of a backend; any function may be NULL. */
struct uart_io {
	/* One transmitted byte. */
	void (*write)(void *arg, uint8_t byte);
	/* Up to len received bytes: the count, 0 if none now, -1 at EOF. */
	ssize_t (*read)(void *arg, uint8_t *buf, size_t len);
	/*
	 * Input flow control: false while the UART cannot take bytes (RX
	 * FIFO full, loopback), so the backend stops polling its input.
	 */
	void (*rx_enable)(void *arg, bool on);
	void *arg;
};

/*
 * 'assert' runs when the interrupt output goes active, 'deassert' when it
 * goes inactive: level semantics, called on transitions only.
 */
struct uart_softc *uart_init(uart_intr_func_t intr_assert,
			     uart_intr_func_t intr_deassert, void *arg);
void uart_destroy(struct uart_softc *sc);
/* Connects a backend (io is copied); NULL disconnects. */
void uart_set_io(struct uart_softc *sc, const struct uart_io *io);

/* Register access by offset 0..7 from the base port. */
uint8_t uart_read(struct uart_softc *sc, int offset);
void uart_write(struct uart_softc *sc, int offset, uint8_t value);

/* The backend has input: moves what fits into the RX FIFO. */
void uart_rx_drain(struct uart_softc *sc);
/* Whether the interrupt output is active now. */
bool uart_intr_active(struct uart_softc *sc);

#endif
