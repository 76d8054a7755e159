/*
 * Where a UART's bytes go, chosen by the same strings as bhyve's
 * "-l comN,<backend>" (the value of lpc.comN.path):
 *
 *   stdio                 the terminal: stdin in raw mode when it is a tty
 *                         (restored at exit), output to stdout
 *   socket,PATH[,wait]    a Unix stream socket listening at PATH, one client
 *                         at a time (illumos bhyve); "wait" blocks until the
 *                         first client connects, before the VM starts
 *   tcp=[ADDR:]PORT[,wait] a TCP socket listening at ADDR (default
 *                         127.0.0.1; IPv6 as [ADDR]:PORT), one client at a
 *                         time, as the Unix socket
 *   /dev/nmdmNA, NB       FreeBSD's null-modem pair, which Linux lacks: a
 *                         pty instead, whose peer (/dev/pts/N) the user
 *                         opens; uart_backend_pty_path() names it
 *   PATH (char device     read and written, e.g. a pty or a serial line; a
 *         or FIFO)        tty is put in raw mode
 *   PATH under /dev/      must exist and be a device (never created)
 *   PATH (anything else)  output written to a file, created or truncated;
 *                         no input
 *
 * Output to stdout and files is never dropped (writes block); output to a
 * socket or device whose peer does not read is dropped when its buffer is
 * full, so a stuck peer cannot stall the guest.
 */
#ifndef UART_BACKEND_H
#define UART_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct uart_backend;
struct uart_softc;

/*
 * Checks 'opts' as uart_backend_open() reads it, opening nothing: 0, or
 * -1 with what is wrong in err (no "bhyve:" prefix).  For validation
 * before the VM exists.  Without 'host', only the syntax (a configuration
 * dump does not depend on the host); with it, also that a device path
 * under /dev exists.
 */
int uart_backend_check(const char *opts, bool host, char *err, size_t errlen);
/*
 * Parses the address of "tcp=[ADDR:]PORT" (spec: what follows "tcp=",
 * without ",wait"): 0 and the address in ss and sslen, or -1 with err.
 */
int uart_tcp_parse(const char *spec, struct sockaddr_storage *ss,
		   socklen_t *sslen, char *err, size_t errlen);
/* true for the FreeBSD nmdm(4) device names, /dev/nmdm<unit>A or B. */
bool uart_is_nmdm_path(const char *path);

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
/* The pty a /dev/nmdm device stands for, made for the user, else NULL. */
const char *uart_backend_pty_path(const struct uart_backend *be);
/* What a tcp= backend listens on, as written ("5555"), else NULL. */
const char *uart_backend_tcp_address(const struct uart_backend *be);

#endif
