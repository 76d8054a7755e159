/*
 * The configuration tree: paths, leaves versus interior nodes, %()
 * expansion with loop detection, boolean spellings, -k files and the
 * sorted dump that -o config.dump=1 prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static void
test_set_get(void)
{
	init_config();
	CHECK(get_config_value("cpus") == NULL, "unset key reads NULL");
	CHECK(set_config_value("cpus", "2") == 0, "set top-level key");
	CHECK_STR(get_config_value("cpus"), "2", "read top-level key");
	CHECK(set_config_value("pci.0.3.0.device", "virtio-blk") == 0,
	      "set nested key");
	CHECK_STR(get_config_value("pci.0.3.0.device"), "virtio-blk",
		  "read nested key");
	CHECK(find_config_node("pci.0.3") != NULL, "interior node found");
	CHECK(find_config_node("pci.0.3.0.device") == NULL,
	      "find_config_node ignores leaves");
	CHECK(set_config_value("pci.0.3", "x") == -1,
	      "leaf cannot replace interior node");
	CHECK(set_config_value("cpus.x", "1") == -1,
	      "path cannot cross a leaf");
	CHECK(set_config_value("a..b", "1") == -1, "empty component refused");
	CHECK(set_config_value(".a", "1") == -1, "leading dot refused");
	CHECK(set_config_value("a.", "1") == -1, "trailing dot refused");
	CHECK(set_config_value("", "1") == -1, "empty path refused");
	CHECK(set_config_value("a=b", "1") == -1, "'=' in key refused");
	CHECK(set_config_value("cpus", "4") == 0, "overwrite");
	CHECK_STR(get_config_value("cpus"), "4", "later setting wins");
	CHECK(set_config_value_if_unset("cpus", "1") == 0 &&
		  strcmp(get_config_value("cpus"), "4") == 0,
	      "if_unset keeps existing value");
	CHECK(set_config_value_if_unset("memory.size", "256M") == 0,
	      "if_unset sets missing value");
	CHECK_STR(get_config_value("memory.size"), "256M", "default applied");
	CHECK(unset_config_value("cpus") == 0 &&
		  get_config_value("cpus") == NULL,
	      "unset removes leaf");
	CHECK(unset_config_value("nothere") == 0, "unset of absent key is ok");
	CHECK(unset_config_value("pci.0") == -1, "unset refuses interior node");
	CHECK(set_config_value("cpus", "8") == 0 &&
		  strcmp(get_config_value("cpus"), "8") == 0,
	      "key can be set again after unset");
}

static void
test_nodes(void)
{
	struct config_node *n;

	init_config();
	n = create_config_node("pci.0.4.0");
	CHECK(n != NULL, "create_config_node");
	CHECK(set_config_value_node(n, "path", "/img") == 0,
	      "set relative to node");
	CHECK_STR(get_config_value("pci.0.4.0.path"), "/img",
		  "relative set visible by full path");
	CHECK_STR(get_config_value_node(n, "path"), "/img", "relative get");
	CHECK(find_relative_config_node(find_config_node("pci"), "0.4") != NULL,
	      "find_relative_config_node");
	CHECK(create_relative_config_node(n, "port.0") != NULL,
	      "create_relative_config_node");
	CHECK(set_config_bool_node(n, "ro", true) == 0 &&
		  get_config_bool_node_default(n, "ro", false),
	      "bool relative to node");
	CHECK(create_config_node("pci.0.4.0.path") == NULL,
	      "create_config_node refuses a leaf in the way");
	CHECK_STR(config_node_name(n), "0", "config_node_name");
}

struct walk_state {
	char names[128];
	int leaves;
};

static int
walk_cb(const char *name, const struct config_node *node, const char *value,
	void *arg)
{
	struct walk_state *w = arg;

	strncat(w->names, name, sizeof(w->names) - strlen(w->names) - 2);
	strcat(w->names, ",");
	if (value != NULL && config_node_is_leaf(node))
		w->leaves++;
	return strcmp(name, "stop") == 0 ? 7 : 0;
}

static void
test_walk(void)
{
	struct walk_state w = {"", 0};

	init_config();
	set_config_value("x.b", "1");
	set_config_value("x.a", "%(x.b)");
	set_config_value("x.sub.c", "3");
	CHECK(walk_config_nodes(find_config_node("x"), walk_cb, &w) == 0,
	      "walk returns 0");
	CHECK_STR(w.names, "b,a,sub,", "walk visits direct children in order");
	CHECK(w.leaves == 2, "walk passes values of leaves only");
	set_config_value("x.stop", "1");
	set_config_value("x.after", "1");
	memset(&w, 0, sizeof(w));
	CHECK(walk_config_nodes(find_config_node("x"), walk_cb, &w) == 7,
	      "walk stops at first non-zero return");
	CHECK(strstr(w.names, "after") == NULL, "walk stopped early");
}

static void
test_expansion(void)
{
	char err[256];

	init_config();
	set_config_value("name", "vm1");
	set_config_value("dir", "/vms/%(name)");
	set_config_value("disk", "%(dir)/disk.img");
	CHECK_STR(get_config_value("disk"), "/vms/vm1/disk.img",
		  "recursive expansion");
	CHECK_STR(get_raw_config_value("disk"), "%(dir)/disk.img",
		  "raw value kept");
	set_config_value("name", "vm2");
	CHECK_STR(get_config_value("disk"), "/vms/vm2/disk.img",
		  "expansion follows later changes");
	set_config_value("pct", "100%% sure %");
	CHECK_STR(get_config_value("pct"), "100% sure %", "%% is a literal %");
	set_config_value("open", "%(name");
	CHECK_STR(get_config_value("open"), "%(name", "unterminated %( kept");
	CHECK(config_check_expansions(err, sizeof(err)) == 0,
	      "valid tree passes expansion check");

	set_config_value("a", "x%(b)");
	set_config_value("b", "y%(a)");
	CHECK(get_config_value("a") != NULL, "loop does not hang or crash");
	CHECK(strstr(get_config_value("a"), "%(") != NULL,
	      "looping reference left literal");
	CHECK(config_check_expansions(err, sizeof(err)) == -1,
	      "expansion check reports loop");
	CHECK(strstr(err, "loop") != NULL, "loop message says loop");

	init_config();
	set_config_value("self", "%(self)");
	CHECK_STR(get_config_value("self"), "%(self)", "self reference");
	init_config();
	set_config_value("u", "%(nosuch.key)");
	CHECK_STR(get_config_value("u"), "%(nosuch.key)",
		  "unset reference left literal");
	CHECK(config_check_expansions(err, sizeof(err)) == -1 &&
		  strstr(err, "nosuch.key") != NULL,
	      "expansion check names the unset key");

	/* Doubling at each level: 2^40 bytes unless bounded. */
	init_config();
	set_config_value("l0", "xxxxxxxxxxxxxxxx");
	for (int i = 1; i < 40; i++) {
		char k[16], v[48];

		snprintf(k, sizeof(k), "l%d", i);
		snprintf(v, sizeof(v), "%%(l%d)%%(l%d)", i - 1, i - 1);
		set_config_value(k, v);
	}
	CHECK(get_config_value("l39") == NULL, "explosive expansion bounded");
	CHECK(config_check_expansions(err, sizeof(err)) == -1,
	      "expansion check reports oversized value");
}

static void
test_bools(void)
{
	static const char *const t[] = {"true", "on",	"yes",
					"1",	"TRUE", "Yes"};
	static const char *const f[] = {"false", "off", "no", "0", "OFF"};
	bool ok;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(parse_config_bool(t[i], &ok) && ok, t[i]);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		CHECK(!parse_config_bool(f[i], &ok) && ok, f[i]);
	parse_config_bool("maybe", &ok);
	CHECK(!ok, "malformed bool flagged");
	parse_config_bool("", &ok);
	CHECK(!ok, "empty bool flagged");
	parse_config_bool("2", &ok);
	CHECK(!ok, "2 is not a bool");

	init_config();
	set_config_bool("x86.x2apic", true);
	CHECK_STR(get_config_value("x86.x2apic"), "true", "set_config_bool");
	CHECK(get_config_bool("x86.x2apic"), "get_config_bool");
	CHECK(get_config_bool_default("absent", true), "default true");
	CHECK(!get_config_bool_default("absent", false), "default false");
	set_config_value("on.ref", "%(x86.x2apic)");
	CHECK(get_config_bool_default("on.ref", false),
	      "bool read through expansion");
}

static char *
write_tmp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

static void
test_load(void)
{
	char err[256] = "", *p;

	init_config();
	p = write_tmp("# a VM\n\nname=vm1\n  cpus = 2  \r\n"
		      "pci.0.3.0.device=virtio-blk\n"
		      "pci.0.3.0.path=/vms/%(name).img\n"
		      "\t# indented comment\nempty=\nurl=a=b#c\n");
	CHECK(p != NULL, "write temp file");
	CHECK(load_config_file(p, err, sizeof(err)) == 0, "load good file");
	CHECK_STR(get_config_value("cpus"), "2", "whitespace trimmed");
	CHECK_STR(get_config_value("pci.0.3.0.path"), "/vms/vm1.img",
		  "loaded value expands");
	CHECK_STR(get_config_value("empty"), "", "empty value allowed");
	CHECK_STR(get_config_value("url"), "a=b#c",
		  "value keeps '=' and '#' after the first '='");
	unlink(p);

	p = write_tmp("name=vm1\n# ok\nthis line is wrong\n");
	CHECK(load_config_file(p, err, sizeof(err)) == -1, "bad line fails");
	CHECK(strstr(err, ":3:") != NULL, "error names line 3");
	unlink(p);

	p = write_tmp("a=1\na.b=2\n");
	CHECK(load_config_file(p, err, sizeof(err)) == -1,
	      "leaf/interior clash fails");
	CHECK(strstr(err, ":2:") != NULL, "clash error names line 2");
	unlink(p);

	p = write_tmp("=novalue\n");
	CHECK(load_config_file(p, err, sizeof(err)) == -1, "empty key fails");
	unlink(p);

	{
		static char big[70 * 1024];

		memset(big, 'a', sizeof(big) - 2);
		big[0] = 'k';
		big[1] = '=';
		big[sizeof(big) - 2] = '\n';
		p = write_tmp(big);
		CHECK(load_config_file(p, err, sizeof(err)) == -1 &&
			  strstr(err, "too long") != NULL,
		      "overlong line refused");
		unlink(p);
	}
	CHECK(load_config_file("/dev/zero", err, sizeof(err)) == -1 &&
		  strstr(err, "NUL") != NULL,
	      "-k /dev/zero fails quickly");
	p = write_tmp("a=1\nlast=no newline");
	CHECK(load_config_file(p, err, sizeof(err)) == 0 &&
		  strcmp(get_config_value("last"), "no newline") == 0,
	      "last line without newline");
	unlink(p);

	CHECK(load_config_file("/nonexistent/x.conf", err, sizeof(err)) == -1,
	      "missing file fails");
	CHECK(strstr(err, "/nonexistent/x.conf") != NULL,
	      "missing file error names file");
}

static void
test_dump(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	init_config();
	set_config_value("name", "vm");
	set_config_value("pci.0.3.0.path", "/d/%(name)");
	set_config_value("pci.0.3.0.device", "virtio-blk");
	set_config_value("cpus", "2");
	set_config_value("a-b.c", "1");
	set_config_value("a.c", "1");
	fp = open_memstream(&buf, &len);
	dump_config(fp);
	fclose(fp);
	CHECK_STR(buf,
		  "a-b.c=1\na.c=1\ncpus=2\nname=vm\n"
		  "pci.0.3.0.device=virtio-blk\npci.0.3.0.path=/d/vm\n",
		  "dump sorted and expanded");
	free(buf);
	fini_config();
}

int
main(void)
{
	test_set_get();
	test_nodes();
	test_walk();
	test_expansion();
	test_bools();
	test_load();
	test_dump();
	fini_config();
	return test_done();
}
