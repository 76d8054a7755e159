/*
 * bhyve's legacy option strings ("-s 4,virtio-blk,disk.img,ro",
 * "-l com1,stdio" ...) turned into configuration keys.  The command line
 * only ever writes keys (bhyve_config(5)); each device model that accepts
 * a legacy string names its converter in its own declaration and builds
 * it from these pieces.  A converter returns 0, or -1 after
 * legacy_config_error() recorded why.
 */
#ifndef LEGACY_CONFIG_H
#define LEGACY_CONFIG_H

#include <stddef.h>

#include "config.h"

typedef int (*legacy_config_t)(struct config_node *nvl, const char *opts);

/* "a,b=c": a=true, b=c (bhyve's pci_parse_legacy_config()).  NULL: 0. */
int legacy_config_generic(struct config_node *nvl, const char *opts);
/* "v[,opts]": key=v, then generic.  An empty v is an error. */
int legacy_config_positional(struct config_node *nvl, const char *opts,
			     const char *key);
/* Like legacy_config_positional, unless the first option has an '='. */
int legacy_config_positional_opt(struct config_node *nvl, const char *opts,
				 const char *key);
/* The whole string is one value: key=opts (paths may hold commas). */
int legacy_config_whole(struct config_node *nvl, const char *opts,
			const char *key);

/*
 * Calls fn on each comma-separated option of opts (a writable copy; the
 * first call with a non-zero result ends the walk and is returned).
 * NULL opts: 0.
 */
int legacy_config_each(const char *opts, int (*fn)(char *opt, void *arg),
		       void *arg);

/* Sets one key, failing (not aborting) on a malformed name. */
int legacy_config_set(struct config_node *nvl, const char *name,
		      const char *value);
/*
 * A copy of the first comma-separated option of opts; *rest points past
 * its comma, or is NULL when it is the only one.  NULL when out of memory.
 */
char *legacy_config_first(const char *opts, const char **rest);
/* A writable copy of opts for strsep(), or NULL after recording why. */
char *legacy_config_strdup(const char *opts);
/*
 * Creates the child node "<prefix>.<n>" of nvl (ports, USB slots), n
 * below max; NULL after recording why.
 */
struct config_node *legacy_config_child(struct config_node *nvl,
					const char *prefix, int n, int max);

/* Records the reason a converter failed (printf-style, one line). */
void legacy_config_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Runs conv (NULL: legacy_config_generic) on opts.  Returns 0, or -1 with
 * the recorded reason (or "invalid options") in why.
 */
int legacy_config_apply(legacy_config_t conv, struct config_node *nvl,
			const char *opts, char *why, size_t whylen);

#endif
