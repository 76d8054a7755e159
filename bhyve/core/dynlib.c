/*
 * dlopen on first use for device libraries (dynlib.h says why).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dynlib.h"

static bool
dynlib_open_all(struct dynlib *dl)
{
	void *h = dlopen(dl->soname, RTLD_NOW | RTLD_LOCAL), *sym;
	size_t i;

	if (h == NULL) {
		snprintf(dl->why, sizeof(dl->why), "%s (install %s)", dlerror(),
			 dl->package);
		return false;
	}
	for (i = 0; i < dl->nsyms; i++) {
		sym = dlsym(h, dl->syms[i].name);
		if (sym == NULL) {
			snprintf(dl->why, sizeof(dl->why), "%s has no %s",
				 dl->soname, dl->syms[i].name);
			dlclose(h);
			return false;
		}
		/* dlsym's object pointer into a function pointer slot: POSIX
		 * requires the two to share a representation. */
		memcpy((char *)dl->table + dl->syms[i].off, &sym, sizeof(sym));
	}
	return true; /* kept open for the process's life */
}

int
dynlib_load(struct dynlib *dl, char *err, size_t errlen)
{
	int st;

	pthread_mutex_lock(&dl->mtx);
	if (dl->state == 0)
		dl->state = dynlib_open_all(dl) ? 1 : -1;
	st = dl->state;
	if (st < 0)
		snprintf(err, errlen, "%s", dl->why);
	pthread_mutex_unlock(&dl->mtx);
	return st > 0 ? 0 : -1;
}
