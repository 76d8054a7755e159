/*
 * The configuration tree (bhyve_config(5)): every setting of a VM is a
 * string key in a tree of dotted paths ("pci.0.3.0.device").  Command-line
 * flags, -k files and -o options all write keys here; devices read them.
 * Values may refer to other keys with %(name), expanded when read.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config_node;

void init_config(void);
void fini_config(void);

/* Finds a node by dotted path; NULL if absent or a leaf. */
struct config_node *find_config_node(const char *path);
/* Creates intermediate nodes as needed; NULL if a leaf is in the way. */
struct config_node *create_config_node(const char *path);
struct config_node *find_relative_config_node(struct config_node *parent,
					      const char *path);
struct config_node *create_relative_config_node(struct config_node *parent,
						const char *path);

/* Values come back expanded; NULL if unset.  Valid until the next set. */
const char *get_config_value(const char *path);
const char *get_config_value_node(const struct config_node *parent,
				  const char *name);
/* The stored text before %() expansion. */
const char *get_raw_config_value(const char *path);

/* Returns 0, or -1 if the path is malformed or crosses a leaf. */
int set_config_value(const char *path, const char *value);
int set_config_value_node(struct config_node *parent, const char *name,
			  const char *value);
/* Sets only when unset (defaults). */
int set_config_value_if_unset(const char *path, const char *value);
int set_config_bool(const char *path, bool value);
int set_config_bool_node(struct config_node *parent, const char *name,
			 bool value);
int unset_config_value(const char *path);

/* true/false/on/off/yes/no/1/0; *ok=false (and def) if malformed. */
bool parse_config_bool(const char *s, bool *ok);
bool get_config_bool(const char *path);
bool get_config_bool_default(const char *path, bool def);
bool get_config_bool_node_default(const struct config_node *parent,
				  const char *name, bool def);

/* Calls cb for each direct child; stops at the first non-zero return. */
typedef int (*config_walk_cb)(const char *name, const struct config_node *node,
			      const char *value, void *arg);
int walk_config_nodes(const struct config_node *parent, config_walk_cb cb,
		      void *arg);

/* Loads "key=value" lines ('#' comments, blank lines). -1 with a message. */
int load_config_file(const char *path, char *err, size_t errlen);
/* Writes every leaf as "path=value", sorted, expanded. */
void dump_config(FILE *fp);

/* Extensions (beehive): a node's own name and kind, for walk callbacks. */
const char *config_node_name(const struct config_node *node);
bool config_node_is_leaf(const struct config_node *node);
/*
 * Expands every value once; -1 with a message naming the key if a %()
 * reference is unset, loops, or grows beyond 64 KiB.  Unresolved
 * references otherwise read back literally.
 */
int config_check_expansions(char *err, size_t errlen);

#endif
