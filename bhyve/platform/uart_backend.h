/*
 * Where a UART's bytes go, chosen by the same strings as bhyve's
 * "-l comN,<backend>" (the value of lpc.comN.path):
 *
 *   stdio                 the terminal: stdin in raw mode when it is a tty
 *                         (restored at exit), output to stdout
 *   socket,PATH[,wait]    a Unix stream socket listening at PATH, one client
 *                         at a time (illumos bhyve); "wait" blocks until the
 *                         first client connects, before the VM starts
 *   PATH (char device     read and written, e.g. a pty or /dev/nmdm*-like
 *         or FIFO)        device; a tty is put in raw mode
 *   PATH (anything else)  output written to a file, created or truncated;
 *                         no input
 *
 * Output to stdout and files is never dropped (writes block); output to a
 * socket or device whose peer does not read is dropped when its buffer is
 * full, so a stuck peer cannot stall the guest.
 */
#ifndef UART_BACKEND_H
#define UART_BACKEND_H

struct uart_backend;
struct uart_softc;

/*
 * Opens the backend that 'opts' names; 'name' ("com1") prefixes messages.
 * NULL after printing one line saying what is wrong.
 */
struct uart_backend *uart_backend_open(const char *name, const char *opts);
/* Connects the backend to a UART and starts watching its input (mevent). */
int uart_backend_attach(struct uart_backend *be, struct uart_softc *sc);
/*
 * Detaches from the UART, writes out pending output, restores a terminal,
 * removes a socket path and closes everything.
 */
void uart_backend_close(struct uart_backend *be);

#endif
