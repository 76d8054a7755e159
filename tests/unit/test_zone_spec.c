/*
 * The zone spec (zone/zone_spec.h): which host paths a VM's keys share
 * with the zone and how (read-only or not, device or file), relative
 * paths made absolute, the limits as their cgroup files take them, the
 * errors for bad specs, and the bhyve -k file written for the zone.
 */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"
#include "zone_spec.h"

static char dir[] = "/tmp/test_zone_spec.XXXXXX";
static char err[1024];

static void
touch(const char *name)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp != NULL)
		fclose(fp);
}

/* Loads a spec made of the common keys and 'extra' (lines). */
static int
load(struct zone_spec *z, const char *extra)
{
	char path[256];
	FILE *fp;

	fini_config();
	init_config();
	snprintf(path, sizeof(path), "%s/spec.conf", dir);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp,
		"name=vm1\nrundir=%s/run\nzone.user=nobody\n"
		"zone.bhyve=/bin/sh\n%s",
		dir, extra);
	fclose(fp);
	err[0] = '\0';
	return zone_spec_load(path, z, err, sizeof(err));
}

/* The shared path named 'name' in dir: its entry, or NULL. */
static const struct zone_path *
find(const struct zone_spec *z, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < z->npaths; i++)
		if (strcmp(z->paths[i].path, path) == 0)
			return &z->paths[i];
	return NULL;
}

static const struct zone_path *
find_abs(const struct zone_spec *z, const char *path)
{
	for (int i = 0; i < z->npaths; i++)
		if (strcmp(z->paths[i].path, path) == 0)
			return &z->paths[i];
	return NULL;
}

static void
test_paths(void)
{
	struct zone_spec z;
	char keys[2048];
	const struct zone_path *p;

	snprintf(keys, sizeof(keys),
		 "pci.0.4.0.device=virtio-blk\npci.0.4.0.path=%s/disk.img\n"
		 "pci.0.5.0.device=virtio-blk\npci.0.5.0.path=%s/ro.img\n"
		 "pci.0.5.0.ro=true\n"
		 "pci.0.6.0.device=ahci\npci.0.6.0.port.0.type=cd\n"
		 "pci.0.6.0.port.0.path=%s/cd.iso\n"
		 "pci.0.6.0.port.1.type=hd\npci.0.6.0.port.1.path=%s/hd.img\n"
		 "lpc.bootrom=%s/rom.fd\nlpc.bootvars=%s/vars.fd\n"
		 "boot.kernel=%s/vmlinuz\nboot.initrd=%s/initrd\n"
		 "gdb.socket=%s/sock/gdb.sock\n"
		 "lpc.com1.path=socket,%s/sock/com1.sock,wait\n"
		 "lpc.com2.path=stdio\n"
		 "pci.0.7.0.device=virtio-net\npci.0.7.0.backend=tap0\n",
		 dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
	CHECK(load(&z, keys) == 0, "a full VM spec loads");
	if (err[0])
		printf("    %s\n", err);
	p = find(&z, "disk.img");
	CHECK(p && !p->ro && p->kind == ZONE_PATH_FILE,
	      "a virtio-blk disk is shared read-write");
	p = find(&z, "ro.img");
	CHECK(p && p->ro, "a disk with ro=true is shared read-only");
	p = find(&z, "cd.iso");
	CHECK(p && p->ro, "an AHCI CD is shared read-only");
	p = find(&z, "hd.img");
	CHECK(p && !p->ro, "an AHCI disk is shared read-write");
	CHECK(find(&z, "rom.fd") && find(&z, "rom.fd")->ro &&
		  find(&z, "vmlinuz") && find(&z, "vmlinuz")->ro &&
		  find(&z, "initrd") && find(&z, "initrd")->ro,
	      "the boot ROM, kernel and initrd are read-only");
	CHECK(find(&z, "vars.fd") && !find(&z, "vars.fd")->ro,
	      "the UEFI variable store is read-write");
	p = find(&z, "sock");
	CHECK(p && !p->ro, "a socket's directory is shared read-write");
	CHECK(find_abs(&z, "/dev/net/tun") == NULL && z.ntaps == 1 &&
		  strcmp(z.taps[0].name, "tap0") == 0 &&
		  strcmp(z.taps[0].node, "pci.0.7.0") == 0,
	      "a tap backend is recorded for bhyvezone to open, "
	      "/dev/net/tun stays out");
	CHECK(find_abs(&z, "/bin/sh") && find_abs(&z, "/bin/sh")->ro,
	      "the program the zone runs is read-only");
	CHECK(find_abs(&z, "/dev/null") != NULL, "/dev/null is always there");
	CHECK(z.uid != 0 && z.gid != 0, "the zone's user is not root");
	CHECK(strstr(z.root, "/run-zones/vm1") != NULL,
	      "the default root is RUNDIR-zones/NAME");
	CHECK(z.seccomp && !z.netns, "seccomp on, netns off by default");
}

static void
test_relative(void)
{
	struct zone_spec z;
	char cwd[256], want[300];

	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(dir) != 0)
		return;
	CHECK(load(&z, "pci.0.4.0.device=virtio-blk\n"
		       "pci.0.4.0.path=disk.img\n") == 0,
	      "a relative disk path loads");
	snprintf(want, sizeof(want), "%s/disk.img", dir);
	CHECK_STR(get_config_value("pci.0.4.0.path"), want,
		  "a relative path is made absolute in the VM's keys");
	CHECK(find(&z, "disk.img") != NULL, "and shared at that path");
	if (chdir(cwd) != 0)
		return;
}

static void
test_limits(void)
{
	struct zone_spec z;

	CHECK(load(&z, "zone.memory.max=512M\nzone.memory.swap.max=0\n"
		       "zone.cpu.weight=50\n"
		       "zone.cpu.max=50000\nzone.pids.max=max\n"
		       "zone.io.weight=200\n") == 0,
	      "limits load");
	CHECK_STR(z.limits.memory_max, "536870912", "memory.max in bytes");
	CHECK_STR(z.limits.swap_max, "0", "memory.swap.max may be 0");
	CHECK_STR(z.limits.cpu_weight, "50", "cpu.weight");
	CHECK_STR(z.limits.cpu_max, "50000 100000",
		  "cpu.max with the default period");
	CHECK_STR(z.limits.pids_max, "max", "pids.max max");
	CHECK_STR(z.limits.io_weight, "default 200", "io.weight as default N");
	CHECK(load(&z, "zone.cpu.max=max 20000\n") == 0 &&
		  strcmp(z.limits.cpu_max, "max 20000") == 0,
	      "cpu.max max with a period");
}

static void
test_errors(void)
{
	static const struct {
		const char *keys, *want;
	} bad[] = {
	    {"zone.memroy.max=1G\n", "unknown zone key 'zone.memroy.max'"},
	    {"zone.user=root\n", "may not run as root"},
	    {"zone.memory.max=1X\n", "zone.memory.max '1X'"},
	    {"zone.memory.max=0\n", "zone.memory.max '0'"},
	    {"zone.cpu.weight=10001\n", "zone.cpu.weight '10001'"},
	    {"zone.cpu.max=100 100000\n", "zone.cpu.max '100 100000'"},
	    {"zone.pids.max=0\n", "zone.pids.max '0'"},
	    {"zone.io.weight=x\n", "zone.io.weight 'x'"},
	    {"zone.netns=2\n", "zone.netns '2'"},
	    {"zone.root=rel\n", "zone.root 'rel'"},
	    {"zone.allow=rel\n", "zone.allow 'rel'"},
	    {"pci.0.4.0.device=virtio-blk\npci.0.4.0.path=/nonexistent.img\n",
	     "pci.0.4.0.path '/nonexistent.img': No such file"},
	    {"pci.0.4.0.device=virtio-net\npci.0.4.0.backend=tap=a/b\n",
	     "pci.0.4.0.backend 'tap=a/b': invalid tap name"},
	    {"lpc.com1.path=socket,relative.sock\n",
	     "a zone needs an absolute socket path"},
	};
	struct zone_spec z;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[160];

		snprintf(name, sizeof(name), "bad spec: %s", bad[i].want);
		CHECK(load(&z, bad[i].keys) != 0 &&
			  strstr(err, bad[i].want) != NULL &&
			  strchr(err, '\n') == NULL,
		      name);
		if (strstr(err, bad[i].want) == NULL)
			printf("    got: %s\n", err);
	}
}

static void
test_vm_config(void)
{
	struct zone_spec z;
	char path[256], text[4096], want[300];
	size_t n;
	FILE *fp;
	int fd;

	CHECK(load(&z, "zone.memory.max=1G\nmemory.size=64M\n") == 0,
	      "a spec for the -k file loads");
	snprintf(path, sizeof(path), "%s/vm.conf", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && zone_spec_write_vm_config(&z, fd) == 0,
	      "the VM's -k file is written");
	fp = fopen(path, "r");
	n = fp ? fread(text, 1, sizeof(text) - 1, fp) : 0;
	text[n] = '\0';
	if (fp)
		fclose(fp);
	snprintf(want, sizeof(want), "rundir=%s/run\n", dir);
	CHECK(strstr(text, want) != NULL, "it names the run directory");
	CHECK(strstr(text, "zone.seccomp=true\n") != NULL,
	      "it turns bhyve's seccomp filter on");
	CHECK(strstr(text, "zone.memory") == NULL &&
		  strstr(text, "zone.user") == NULL,
	      "it holds no other zone.* key");
	CHECK(strstr(text, "memory.size=64M\n") != NULL &&
		  strstr(text, "name=vm1\n") != NULL,
	      "it holds the VM's keys");
}

int
main(void)
{
	static const char *const files[] = {
	    "disk.img", "ro.img",  "cd.iso",  "hd.img",
	    "rom.fd",	"vars.fd", "vmlinuz", "initrd",
	};
	char cmd[300];

	if (getpwnam("nobody") == NULL) {
		printf("SKIP: zone spec: no user 'nobody'\n");
		return 77;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		touch(files[i]);
	snprintf(cmd, sizeof(cmd), "%s/sock", dir);
	mkdir(cmd, 0755);
	init_config();
	test_paths();
	test_relative();
	test_limits();
	test_errors();
	test_vm_config();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("    could not remove %s\n", dir);
	return test_done();
}
