/*
 * The configuration tree (bhyve_config(5)).
 *
 * Every node has a name; a node is either a leaf holding a string value or
 * an interior node holding children.  Paths are dotted ("pci.0.3.0.path").
 * Values are stored raw and expanded on read: "%(path)" is replaced by the
 * (expanded) value of another key and "%%" by a single '%'.  Expansion
 * results are cached per leaf and stay valid until the next change to the
 * tree, which is what lets get_config_value() hand out a plain pointer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounds that keep hostile configurations (fuzzing, typos) cheap. */
#define CONFIG_MAX_PATH		4096
#define CONFIG_MAX_EXPANDED	(64 * 1024)
#define CONFIG_MAX_EXPAND_DEPTH 64
#define CONFIG_MAX_LINE		(64 * 1024)

struct config_node {
	char *name;
	struct config_node *parent;
	bool is_leaf;
	/* Leaf state. */
	char *value;
	char *expanded;
	unsigned long expanded_gen;
	bool expanding;
	/* Interior state: children in insertion order. */
	struct config_node *first_child;
	struct config_node *last_child;
	struct config_node *next;
};

static struct config_node *config_root;
/* Bumped by every change; cached expansions of older generations are stale. */
static unsigned long config_gen = 1;
/* First problem met while expanding, for config_check_expansions(). */
static char config_expand_err[256];

static struct config_node *
config_node_alloc(const char *name, size_t len, bool leaf)
{
	struct config_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->name = strndup(name, len);
	if (n->name == NULL) {
		free(n);
		return NULL;
	}
	n->is_leaf = leaf;
	return n;
}

static void
config_node_free(struct config_node *n)
{
	struct config_node *c, *next;

	if (n == NULL)
		return;
	for (c = n->first_child; c != NULL; c = next) {
		next = c->next;
		config_node_free(c);
	}
	free(n->name);
	free(n->value);
	free(n->expanded);
	free(n);
}

static void
config_node_link(struct config_node *parent, struct config_node *child)
{
	child->parent = parent;
	if (parent->last_child != NULL)
		parent->last_child->next = child;
	else
		parent->first_child = child;
	parent->last_child = child;
}

static void
config_node_unlink(struct config_node *child)
{
	struct config_node *parent = child->parent, **pp;

	for (pp = &parent->first_child; *pp != NULL; pp = &(*pp)->next) {
		if (*pp != child)
			continue;
		*pp = child->next;
		if (parent->last_child == child) {
			struct config_node *c = parent->first_child;

			while (c != NULL && c->next != NULL)
				c = c->next;
			parent->last_child = c;
		}
		child->next = NULL;
		child->parent = NULL;
		return;
	}
}

void
init_config(void)
{
	fini_config();
	config_root = config_node_alloc("", 0, false);
	if (config_root == NULL) {
		fprintf(stderr, "bhyve: out of memory\n");
		exit(4);
	}
	config_gen++;
}

void
fini_config(void)
{
	config_node_free(config_root);
	config_root = NULL;
	config_gen++;
}

static struct config_node *
config_root_node(void)
{
	if (config_root == NULL)
		init_config();
	return config_root;
}

static struct config_node *
config_child(const struct config_node *parent, const char *name, size_t len)
{
	struct config_node *c;

	for (c = parent->first_child; c != NULL; c = c->next) {
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c;
	}
	return NULL;
}

/*
 * A path component may hold anything but '.', '=', whitespace and
 * control characters: '=' would make "-o" and "-k" lines ambiguous.
 */
static bool
config_component_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '=' || c == 0x7f)
			return false;
	}
	return true;
}

static bool
config_path_valid(const char *path)
{
	const char *p = path, *dot;

	if (path == NULL || strlen(path) >= CONFIG_MAX_PATH)
		return false;
	for (;;) {
		dot = strchr(p, '.');
		if (!config_component_valid(p, dot ? (size_t)(dot - p)
						   : strlen(p)))
			return false;
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

/*
 * Walks 'path' below 'parent'.  With 'create', missing interior nodes are
 * made.  The last component is returned whatever its kind; NULL if it is
 * missing or a leaf is in the way earlier on.
 */
static struct config_node *
config_lookup(struct config_node *parent, const char *path, bool create,
	      bool leaf)
{
	struct config_node *n = parent, *c;
	const char *p = path, *dot;
	size_t len;

	if (!config_path_valid(path))
		return NULL;
	for (;;) {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (n->is_leaf)
			return NULL;
		c = config_child(n, p, len);
		if (c == NULL) {
			if (!create)
				return NULL;
			c = config_node_alloc(p, len, dot == NULL && leaf);
			if (c == NULL)
				return NULL;
			config_node_link(n, c);
			config_gen++;
		}
		n = c;
		if (dot == NULL)
			return n;
		p = dot + 1;
	}
}

static struct config_node *
config_base(const struct config_node *parent)
{
	return parent ? (struct config_node *)parent : config_root_node();
}

struct config_node *
find_relative_config_node(struct config_node *parent, const char *path)
{
	struct config_node *n;

	if (path != NULL && path[0] == '\0')
		return config_base(parent);
	n = config_lookup(config_base(parent), path, false, false);
	return (n != NULL && !n->is_leaf) ? n : NULL;
}

struct config_node *
create_relative_config_node(struct config_node *parent, const char *path)
{
	struct config_node *n;

	if (path != NULL && path[0] == '\0')
		return config_base(parent);
	n = config_lookup(config_base(parent), path, true, false);
	return (n != NULL && !n->is_leaf) ? n : NULL;
}

struct config_node *
find_config_node(const char *path)
{
	return find_relative_config_node(NULL, path);
}

struct config_node *
create_config_node(const char *path)
{
	return create_relative_config_node(NULL, path);
}

static struct config_node *
config_find_leaf(const struct config_node *parent, const char *path)
{
	struct config_node *n;

	n = config_lookup(config_base(parent), path, false, false);
	return (n != NULL && n->is_leaf) ? n : NULL;
}

/* A growable string for expansion; 'failed' once a bound is hit. */
struct config_buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void
config_buf_add(struct config_buf *b, const char *s, size_t n)
{
	size_t need;
	char *ns;

	if (b->failed)
		return;
	if (n > CONFIG_MAX_EXPANDED - b->len) {
		b->failed = true;
		return;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < need)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (ns == NULL) {
			b->failed = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
config_expand_error(const char *fmt, const char *a, const char *b)
{
	if (config_expand_err[0] != '\0')
		return;
	snprintf(config_expand_err, sizeof(config_expand_err), fmt, a, b);
}

static const char *config_expand_leaf(struct config_node *leaf, int depth);

/* Appends the value %(ref) names; unresolved references stay literal. */
static void
config_expand_ref(struct config_buf *b, const struct config_node *leaf,
		  const char *ref, size_t len, int depth)
{
	char path[CONFIG_MAX_PATH];
	struct config_node *target;
	const char *v;

	if (len >= sizeof(path))
		goto literal;
	memcpy(path, ref, len);
	path[len] = '\0';
	target = config_find_leaf(NULL, path);
	if (target == NULL) {
		config_expand_error("%.64s refers to unset key '%.128s'",
				    leaf->name, path);
		goto literal;
	}
	if (target->expanding || depth >= CONFIG_MAX_EXPAND_DEPTH) {
		config_expand_error("%.64s: reference loop through '%.128s'",
				    leaf->name, path);
		goto literal;
	}
	v = config_expand_leaf(target, depth + 1);
	if (v == NULL) {
		b->failed = true;
		return;
	}
	config_buf_add(b, v, strlen(v));
	return;
literal:
	config_buf_add(b, "%(", 2);
	config_buf_add(b, ref, len);
	config_buf_add(b, ")", 1);
}

static const char *
config_expand_leaf(struct config_node *leaf, int depth)
{
	struct config_buf b = {0};
	const char *p, *close;

	if (strchr(leaf->value, '%') == NULL)
		return leaf->value;
	if (leaf->expanded != NULL && leaf->expanded_gen == config_gen)
		return leaf->expanded;
	leaf->expanding = true;
	config_buf_add(&b, "", 0);
	for (p = leaf->value; *p != '\0' && !b.failed;) {
		if (p[0] == '%' && p[1] == '%') {
			config_buf_add(&b, "%", 1);
			p += 2;
		} else if (p[0] == '%' && p[1] == '(' &&
			   (close = strchr(p + 2, ')')) != NULL) {
			config_expand_ref(&b, leaf, p + 2,
					  (size_t)(close - (p + 2)), depth);
			p = close + 1;
		} else {
			config_buf_add(&b, p, 1);
			p++;
		}
	}
	leaf->expanding = false;
	if (b.failed) {
		config_expand_error("%.64s: value too long after expansion%s",
				    leaf->name, "");
		free(b.s);
		return NULL;
	}
	free(leaf->expanded);
	leaf->expanded = b.s;
	leaf->expanded_gen = config_gen;
	return leaf->expanded;
}

const char *
get_config_value_node(const struct config_node *parent, const char *name)
{
	struct config_node *leaf = config_find_leaf(parent, name);

	return leaf ? config_expand_leaf(leaf, 0) : NULL;
}

const char *
get_config_value(const char *path)
{
	return get_config_value_node(NULL, path);
}

const char *
get_raw_config_value(const char *path)
{
	struct config_node *leaf = config_find_leaf(NULL, path);

	return leaf ? leaf->value : NULL;
}

int
set_config_value_node(struct config_node *parent, const char *name,
		      const char *value)
{
	struct config_node *leaf;
	char *copy;

	if (value == NULL)
		return -1;
	leaf = config_lookup(config_base(parent), name, true, true);
	if (leaf == NULL || !leaf->is_leaf)
		return -1;
	copy = strdup(value);
	if (copy == NULL)
		return -1;
	free(leaf->value);
	leaf->value = copy;
	config_gen++;
	return 0;
}

int
set_config_value(const char *path, const char *value)
{
	return set_config_value_node(NULL, path, value);
}

int
set_config_value_if_unset(const char *path, const char *value)
{
	if (config_find_leaf(NULL, path) != NULL)
		return 0;
	return set_config_value(path, value);
}

int
set_config_bool_node(struct config_node *parent, const char *name, bool value)
{
	return set_config_value_node(parent, name, value ? "true" : "false");
}

int
set_config_bool(const char *path, bool value)
{
	return set_config_bool_node(NULL, path, value);
}

int
unset_config_value(const char *path)
{
	struct config_node *n;

	if (!config_path_valid(path))
		return -1;
	n = config_lookup(config_root_node(), path, false, false);
	if (n == NULL)
		return 0;
	if (!n->is_leaf)
		return -1;
	config_node_unlink(n);
	config_node_free(n);
	config_gen++;
	return 0;
}

bool
parse_config_bool(const char *s, bool *ok)
{
	static const char *const truths[] = {"true", "on", "yes", "1"};
	static const char *const lies[] = {"false", "off", "no", "0"};
	size_t i;

	*ok = true;
	for (i = 0; s != NULL && i < sizeof(truths) / sizeof(truths[0]); i++) {
		if (strcasecmp(s, truths[i]) == 0)
			return true;
		if (strcasecmp(s, lies[i]) == 0)
			return false;
	}
	*ok = false;
	return false;
}

/*
 * bhyve treats a malformed boolean as a fatal configuration error (exit
 * status 4); bhyve_parse_args() checks the known boolean keys up front so
 * this is a last resort for keys a device reads later.
 */
static bool
config_bool_or_die(const char *path, const char *v)
{
	bool ok, b = parse_config_bool(v, &ok);

	if (!ok) {
		fprintf(stderr, "bhyve: invalid boolean value '%s' for %s\n", v,
			path);
		exit(4);
	}
	return b;
}

bool
get_config_bool(const char *path)
{
	const char *v = get_config_value(path);

	if (v == NULL) {
		fprintf(stderr, "bhyve: missing boolean setting %s\n", path);
		exit(4);
	}
	return config_bool_or_die(path, v);
}

bool
get_config_bool_default(const char *path, bool def)
{
	const char *v = get_config_value(path);

	return v ? config_bool_or_die(path, v) : def;
}

bool
get_config_bool_node_default(const struct config_node *parent, const char *name,
			     bool def)
{
	const char *v = get_config_value_node(parent, name);

	return v ? config_bool_or_die(name, v) : def;
}

int
walk_config_nodes(const struct config_node *parent, config_walk_cb cb,
		  void *arg)
{
	const struct config_node *base = config_base(parent), *c;
	int rc;

	for (c = base->first_child; c != NULL; c = c->next) {
		const char *v = NULL;

		if (c->is_leaf)
			v = config_expand_leaf((struct config_node *)c, 0);
		rc = cb(c->name, c, v, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

const char *
config_node_name(const struct config_node *node)
{
	return node ? node->name : NULL;
}

bool
config_node_is_leaf(const struct config_node *node)
{
	return node != NULL && node->is_leaf;
}

static char *
config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One "key=value" line; -1 with the reason in err. */
static int
config_load_line(char *line, char *err, size_t errlen)
{
	char *eq, *key, *value;

	line = config_trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "expected key=value, got '%.64s'", line);
		return -1;
	}
	*eq = '\0';
	key = config_trim(line);
	value = config_trim(eq + 1);
	if (!config_path_valid(key)) {
		snprintf(err, errlen, "invalid key '%.64s'", key);
		return -1;
	}
	if (set_config_value(key, value) != 0) {
		snprintf(err, errlen,
			 "cannot set '%.64s' (clashes with "
			 "another key)",
			 key);
		return -1;
	}
	return 0;
}

/*
 * Reads one line into buf (without the newline).  Returns its length, -1
 * at end of file, -2 for a NUL byte and -3 for a line longer than the
 * buffer: a -k of /dev/zero must fail, not eat memory.
 */
static long
config_read_line(FILE *fp, char *buf, size_t cap)
{
	size_t len = 0;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == '\0')
			return -2;
		if (len + 1 >= cap)
			return -3;
		buf[len++] = (char)c;
	}
	if (c == EOF && len == 0)
		return -1;
	buf[len] = '\0';
	return (long)len;
}

int
load_config_file(const char *path, char *err, size_t errlen)
{
	char *line, why[160];
	unsigned long lineno = 0;
	FILE *fp;
	long n;
	int rc = 0;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	line = malloc(CONFIG_MAX_LINE);
	if (line == NULL) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while ((n = config_read_line(fp, line, CONFIG_MAX_LINE)) != -1) {
		lineno++;
		if (n == -2 || n == -3) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno,
				 n == -2 ? "NUL byte in line"
					 : "line too long");
			rc = -1;
			break;
		}
		if (config_load_line(line, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(fp);
	return rc;
}

/* Collected "path=value" lines for a sorted dump. */
struct config_lines {
	char **v;
	size_t n, cap;
};

static void
config_collect(const struct config_node *n, char *path, size_t plen,
	       struct config_lines *out)
{
	const struct config_node *c;

	for (c = n->first_child; c != NULL; c = c->next) {
		size_t nlen = strlen(c->name), len = plen;

		if (len + nlen + 2 > CONFIG_MAX_PATH)
			continue;
		if (len > 0)
			path[len++] = '.';
		memcpy(path + len, c->name, nlen + 1);
		if (c->is_leaf) {
			const char *v =
			    config_expand_leaf((struct config_node *)c, 0);
			char *line;

			if (out->n == out->cap) {
				size_t cap = out->cap ? out->cap * 2 : 64;
				char **nv = realloc(out->v, cap * sizeof(*nv));

				if (nv == NULL)
					continue;
				out->v = nv;
				out->cap = cap;
			}
			if (asprintf(&line, "%s=%s", path, v ? v : c->value) <
			    0)
				continue;
			out->v[out->n++] = line;
		} else {
			config_collect(c, path, len + nlen, out);
		}
		path[plen] = '\0';
	}
}

static int
config_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dump_config(FILE *fp)
{
	struct config_lines lines = {0};
	char path[CONFIG_MAX_PATH] = "";
	size_t i;

	config_collect(config_root_node(), path, 0, &lines);
	qsort(lines.v, lines.n, sizeof(*lines.v), config_line_cmp);
	for (i = 0; i < lines.n; i++) {
		fprintf(fp, "%s\n", lines.v[i]);
		free(lines.v[i]);
	}
	free(lines.v);
}

/* Full path of a leaf, for error messages. */
static void
config_leaf_path(const struct config_node *n, char *buf, size_t len)
{
	const struct config_node *chain[64];
	size_t depth = 0, off = 0;

	while (n != NULL && n->parent != NULL && depth < 64) {
		chain[depth++] = n;
		n = n->parent;
	}
	buf[0] = '\0';
	while (depth > 0 && off < len) {
		int w = snprintf(buf + off, len - off, "%s%s", off ? "." : "",
				 chain[--depth]->name);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static int
config_check_node(const struct config_node *n, char *err, size_t errlen)
{
	const struct config_node *c;
	char path[256];

	for (c = n->first_child; c != NULL; c = c->next) {
		if (!c->is_leaf) {
			if (config_check_node(c, err, errlen) != 0)
				return -1;
			continue;
		}
		if (strchr(c->value, '%') == NULL)
			continue;
		config_expand_err[0] = '\0';
		config_gen++;
		if (config_expand_leaf((struct config_node *)c, 0) == NULL ||
		    config_expand_err[0] != '\0') {
			config_leaf_path(c, path, sizeof(path));
			snprintf(err, errlen,
				 "config key %s: cannot expand "
				 "'%s' (%s)",
				 path, c->value, config_expand_err);
			return -1;
		}
	}
	return 0;
}

int
config_check_expansions(char *err, size_t errlen)
{
	return config_check_node(config_root_node(), err, errlen);
}
