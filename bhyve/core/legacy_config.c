/*
 * The pieces legacy option converters are built from, and the loop that
 * runs one (legacy_config.h).  Device-specific syntaxes live with their
 * models; this file knows none of them.
 */
#include "legacy_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Converters run at parse time, on the main thread only. */
static char legacy_config_why[256];

void
legacy_config_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(legacy_config_why, sizeof(legacy_config_why), fmt, ap);
	va_end(ap);
}

int
legacy_config_apply(legacy_config_t conv, struct config_node *nvl,
		    const char *opts, char *why, size_t whylen)
{
	legacy_config_why[0] = '\0';
	if ((conv ? conv : legacy_config_generic)(nvl, opts) == 0)
		return 0;
	snprintf(why, whylen, "%s",
		 legacy_config_why[0] ? legacy_config_why : "invalid options");
	return -1;
}

int
legacy_config_set(struct config_node *nvl, const char *name, const char *value)
{
	if (name[0] == '\0') {
		legacy_config_error("empty option name");
		return -1;
	}
	if (set_config_value_node(nvl, name, value) != 0) {
		legacy_config_error("invalid option '%s'", name);
		return -1;
	}
	return 0;
}

char *
legacy_config_strdup(const char *opts)
{
	char *copy = strdup(opts);

	if (copy == NULL)
		legacy_config_error("out of memory");
	return copy;
}

char *
legacy_config_first(const char *opts, const char **rest)
{
	const char *comma = strchr(opts, ',');
	char *first;

	first = strndup(opts, comma ? (size_t)(comma - opts) : strlen(opts));
	if (first == NULL)
		legacy_config_error("out of memory");
	*rest = comma ? comma + 1 : NULL;
	return first;
}

struct config_node *
legacy_config_child(struct config_node *nvl, const char *prefix, int n, int max)
{
	struct config_node *child;
	char node[24];

	if (n >= max) {
		legacy_config_error("more than %d %ss", max, prefix);
		return NULL;
	}
	snprintf(node, sizeof(node), "%s.%d", prefix, n);
	child = create_relative_config_node(nvl, node);
	if (child == NULL)
		legacy_config_error("cannot create %s", node);
	return child;
}

int
legacy_config_each(const char *opts, int (*fn)(char *opt, void *arg), void *arg)
{
	char *copy, *cur, *tok;
	int rc = 0;

	if (opts == NULL)
		return 0;
	copy = cur = legacy_config_strdup(opts);
	if (copy == NULL)
		return -1;
	while (rc == 0 && (tok = strsep(&cur, ",")) != NULL)
		rc = fn(tok, arg);
	free(copy);
	return rc;
}

/* "a" -> a=true, "b=c" -> b=c. */
static int
legacy_config_option(char *opt, void *arg)
{
	char *eq = strchr(opt, '=');

	if (eq == NULL)
		return legacy_config_set(arg, opt, "true");
	*eq = '\0';
	return legacy_config_set(arg, opt, eq + 1);
}

int
legacy_config_generic(struct config_node *nvl, const char *opts)
{
	return legacy_config_each(opts, legacy_config_option, nvl);
}

int
legacy_config_positional(struct config_node *nvl, const char *opts,
			 const char *key)
{
	const char *rest;
	char *first;
	int rc;

	if (opts == NULL)
		return 0;
	first = legacy_config_first(opts, &rest);
	if (first == NULL)
		return -1;
	if (first[0] == '\0') {
		legacy_config_error("missing %s", key);
		rc = -1;
	} else {
		rc = legacy_config_set(nvl, key, first);
	}
	free(first);
	if (rc == 0 && rest != NULL)
		rc = legacy_config_generic(nvl, rest);
	return rc;
}

int
legacy_config_positional_opt(struct config_node *nvl, const char *opts,
			     const char *key)
{
	if (opts != NULL && opts[0] != '\0' &&
	    strcspn(opts, ",=") < strcspn(opts, ","))
		return legacy_config_generic(nvl, opts);
	return legacy_config_positional(nvl, opts, key);
}

int
legacy_config_whole(struct config_node *nvl, const char *opts, const char *key)
{
	if (opts == NULL)
		return 0;
	return legacy_config_set(nvl, key, opts);
}
