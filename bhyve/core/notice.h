/*
 * Start-up notices: lines for the user ("bhyve: <key> has no effect ...")
 * that must not precede the error that explains a failed start.  They are
 * queued until notice_flush(), which main() calls once the VM is built and
 * about to run; a start that fails discards them, so its error line is the
 * only thing on stderr.  After the flush, notices print at once.
 */
#ifndef NOTICE_H
#define NOTICE_H

/* Queues (or, after notice_flush(), prints) one line "bhyve: <text>". */
void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the queued lines in order; later notices print at once. */
void notice_flush(void);
/* Drops the queued lines (a failed start). */
void notice_discard(void);
/* How many lines are queued (tests). */
int notice_pending(void);

#endif
