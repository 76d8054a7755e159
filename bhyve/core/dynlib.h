/*
 * Libraries that only some devices need (libslirp for a slirp NIC,
 * libvncserver for fbuf) are opened with dlopen when the first such device
 * starts, not linked: a VM without those devices maps neither the library
 * nor what it pulls in (glib; gnutls, gcrypt, libjpeg...), which would be
 * most of bhyve's resident memory at start-up (issue 19).  The library's
 * own header still declares the functions, so callers keep its types
 * (a table of function pointers, filled here).
 */
#ifndef DYNLIB_H
#define DYNLIB_H

#include <pthread.h>
#include <stddef.h>

struct dynlib_sym {
	const char *name; /* the exported function */
	size_t off;	  /* where its pointer goes in the table */
};

struct dynlib {
	const char *soname;  /* e.g. "libslirp.so.0" */
	const char *package; /* the Debian package that installs it */
	const struct dynlib_sym *syms;
	size_t nsyms;
	void *table; /* a struct of function pointers */
	/* Filled by dynlib_load: the first call's outcome, kept. */
	pthread_mutex_t mtx;
	int state; /* 0 not tried, 1 loaded, -1 failed */
	char why[224];
};

/* The symbol named as the header names it, macros expanded (libvncserver's
 * rfbInitServer is a macro for the variant the library was built as). */
#define DYNLIB_STR(x) #x
#define DYNLIB_SYM(type, member)                                               \
	{                                                                      \
		DYNLIB_STR(member), offsetof(type, member)                     \
	}

/*
 * Loads dl->soname and every symbol into dl->table, once; later calls
 * report the first one's outcome.  0, or -1 with one line in err.
 */
int dynlib_load(struct dynlib *dl, char *err, size_t errlen);

#endif
