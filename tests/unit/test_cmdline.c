/*
 * bhyve(8) command-line parsing: every flag, the -s legacy converters of
 * each known device model, -l devices, defaults, and the errors (exit
 * status 4, one line naming the argument).  Each case starts from an
 * empty tree, as bhyve's main() does.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "config.h"
#include "config_vm.h"
#include "notice.h"
#include "vcpu_run.h"
#include "pci_models.h"
#include "test.h"

#define MAX_ARGS 32

/* The stderr (the error line) and stdout text of the last parse. */
static char last_err[1024];
static char last_out[4096];

/* Runs bhyve_parse_args() on a NULL-terminated list after "bhyve". */
static int
parse(const char *first, ...)
{
	char *argv[MAX_ARGS + 2], *buf = NULL, *obuf = NULL;
	size_t len = 0, olen = 0;
	FILE *saved, *mem, *osaved, *omem;
	va_list ap;
	int argc = 0, rc;
	const char *a;

	init_config();
	argv[argc++] = "bhyve";
	va_start(ap, first);
	for (a = first; a != NULL && argc < MAX_ARGS; a = va_arg(ap, char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	mem = open_memstream(&buf, &len);
	omem = open_memstream(&obuf, &olen);
	saved = stderr;
	osaved = stdout;
	stderr = mem;
	stdout = omem;
	rc = bhyve_parse_args(argc, argv);
	stderr = saved;
	stdout = osaved;
	fclose(mem);
	fclose(omem);
	snprintf(last_err, sizeof(last_err), "%s", buf ? buf : "");
	snprintf(last_out, sizeof(last_out), "%s", obuf ? obuf : "");
	free(buf);
	free(obuf);
	return rc;
}

static bool
val_is(const char *key, const char *want)
{
	const char *v = get_config_value(key);

	if (v == NULL || strcmp(v, want) != 0) {
		printf("  note: %s = %s, want %s\n", key, v ? v : "(unset)",
		       want);
		return false;
	}
	return true;
}

/* rc 4, exactly one line, starting "bhyve: " and containing 'needle'. */
static bool
err_is(int rc, const char *needle)
{
	const char *nl = strchr(last_err, '\n');

	if (rc != BHYVE_ARGS_ERROR || strncmp(last_err, "bhyve: ", 7) != 0 ||
	    nl == NULL || nl[1] != '\0' || strstr(last_err, needle) == NULL) {
		printf("  note: rc=%d err=%s", rc, last_err);
		return false;
	}
	return true;
}

static void
test_defaults(void)
{
	CHECK(parse("vm", NULL) == 0, "bare vmname parses");
	CHECK(val_is("name", "vm"), "vmname -> name");
	CHECK(val_is("cpus", "1"), "default cpus 1");
	CHECK(val_is("memory.size", "256M"), "default memory 256M");
	CHECK(val_is("acpi_tables", "true"), "default acpi_tables true");
	CHECK(val_is("x86.strictmsr", "true"), "default strictmsr true");
	CHECK(val_is("lpc.fwcfg", "bhyve"), "default fwcfg bhyve");
	CHECK(get_config_value("x86.x2apic") == NULL, "no x2apic by default");

	CHECK(parse("-o", "name=fromopt", NULL) == 0, "name may come from -o");
	CHECK(val_is("name", "fromopt"), "-o name");
	CHECK(err_is(parse(NULL), "missing VM name"), "name is required");
	CHECK(err_is(parse("a", "b", NULL), "unexpected argument 'b'"),
	      "two names refused");
	CHECK(err_is(parse("vm", "-c", "2", NULL), "unexpected argument"),
	      "options after the name refused (bhyve stops at the name)");
	CHECK(err_is(parse("a/b", NULL), "invalid VM name"),
	      "slash in name refused");
}

static void
test_flags(void)
{
	static const struct {
		const char *flag, *key, *value;
	} flags[] = {
	    {"-A", "acpi_tables", "true"},
	    {"-a", "x86.x2apic", "false"},
	    {"-C", "memory.guest_in_core", "true"},
	    {"-D", "destroy_on_poweroff", "true"},
	    {"-d", "suspend_at_boot", "true"},
	    {"-e", "x86.strictio", "true"},
	    {"-H", "x86.vmexit_on_hlt", "true"},
	    {"-P", "x86.vmexit_on_pause", "true"},
	    {"-S", "memory.wired", "true"},
	    {"-u", "rtc.use_localtime", "false"},
	    {"-W", "virtio_msix", "false"},
	    {"-w", "x86.strictmsr", "false"},
	    {"-x", "x86.x2apic", "true"},
	    {"-Y", "x86.mptable", "false"},
	};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		snprintf(name, sizeof(name), "%s sets %s=%s", flags[i].flag,
			 flags[i].key, flags[i].value);
		CHECK(parse(flags[i].flag, "vm", NULL) == 0 &&
			  val_is(flags[i].key, flags[i].value),
		      name);
	}
	CHECK(parse("-I", "vm", NULL) == 0, "-I accepted and ignored");
	CHECK(parse("-AHPwx", "vm", NULL) == 0 &&
		  val_is("acpi_tables", "true") &&
		  val_is("x86.x2apic", "true") &&
		  val_is("x86.strictmsr", "false"),
	      "grouped flags");
	CHECK(parse("-x", "-a", "vm", NULL) == 0 &&
		  val_is("x86.x2apic", "false"),
	      "later flag wins");
	CHECK(parse("-K", "de", "vm", NULL) == 0 &&
		  val_is("keyboard.layout", "de"),
	      "-K keyboard.layout");
	CHECK(err_is(parse("-Q", "vm", NULL), "unknown option -Q"),
	      "unknown flag");
	CHECK(err_is(parse("-m", NULL), "-m needs an argument"),
	      "missing argument");
	CHECK(err_is(parse("-r", "/snap", "vm", NULL),
		     "snapshot restore is not supported"),
	      "-r refused");
	CHECK(parse("-h", NULL) == BHYVE_ARGS_EXIT0 &&
		  strstr(last_out, "Usage: bhyve") != NULL,
	      "-h prints usage, exits 0");
	CHECK(err_is(parse("-Q", "-h", NULL), "unknown option -Q"),
	      "-h after an error still fails (exit 4)");
	CHECK(parse("-s", "help", NULL) == BHYVE_ARGS_EXIT0 &&
		  strstr(last_out, "virtio-blk") != NULL &&
		  strstr(last_out, "passthru") != NULL,
	      "-s help lists models, exits 0");
	CHECK(parse("-s", "he", NULL) == BHYVE_ARGS_EXIT0,
	      "-s accepts a prefix of help (bhyve)");
	CHECK(parse("-l", "help", NULL) == BHYVE_ARGS_EXIT0 &&
		  strstr(last_out, "com4") != NULL &&
		  strstr(last_out, "bootrom") != NULL,
	      "-l help lists LPC devices, exits 0");
}

static void
test_topology(void)
{
	int c, s, co, t;
	char err[256];

	CHECK(parse("-c", "4", "vm", NULL) == 0 && val_is("cpus", "4"), "-c n");
	CHECK(config_get_topology(&c, &s, &co, &t, err, sizeof(err)) == 0 &&
		  c == 4 && s == 4 && co == 1 && t == 1,
	      "-c 4: 4 sockets of 1 core");
	CHECK(parse("-c", "cpus=8,sockets=2,cores=2,threads=2", "vm", NULL) ==
		      0 &&
		  val_is("cpus", "8") && val_is("sockets", "2") &&
		  val_is("cores", "2") && val_is("threads", "2"),
	      "-c full topology");
	CHECK(parse("-c", "sockets=2,cores=3", "vm", NULL) == 0 &&
		  val_is("cpus", "6"),
	      "cpus computed from topology when not given");
	CHECK(parse("-c", "", "vm", NULL) == 0 && val_is("cpus", "1") &&
		  val_is("sockets", "1"),
	      "empty -c is one vCPU (bhyve)");
	CHECK(err_is(parse("-c", "4,cores=2", "vm", NULL), "does not match"),
	      "cpus must equal sockets*cores*threads");
	CHECK(err_is(parse("-c", "0", "vm", NULL), "'-c 0'"), "zero cpus");
	CHECK(err_is(parse("-c", "two", "vm", NULL), "'-c two'"),
	      "malformed cpus");
	CHECK(err_is(parse("-c", "4,dies=2", "vm", NULL), "'dies'"),
	      "unknown topology field");
	CHECK(err_is(parse("-c", "sockets=256,cores=256", "vm", NULL),
		     "too many vCPUs"),
	      "topology overflow");
	CHECK(err_is(parse("-o", "cpus=3", "-o", "sockets=2", "vm", NULL),
		     "does not match"),
	      "topology from -o checked too");
}

static void
test_memory(void)
{
	uint64_t b = 0;

	CHECK(bhyve_parse_memsize("512", &b) == 0 && b == 512ULL << 20,
	      "bare number is MiB");
	CHECK(bhyve_parse_memsize("2G", &b) == 0 && b == 2ULL << 30, "2G");
	CHECK(bhyve_parse_memsize("2g", &b) == 0 && b == 2ULL << 30, "2g");
	CHECK(bhyve_parse_memsize("1024k", &b) == 0 && b == 1ULL << 20,
	      "1024k");
	CHECK(bhyve_parse_memsize("1T", &b) == 0 && b == 1ULL << 40, "1T");
	CHECK(bhyve_parse_memsize("4GiB", &b) == 0 && b == 4ULL << 30, "4GiB");
	CHECK(bhyve_parse_memsize("4GB", &b) == 0 && b == 4ULL << 30, "4GB");
	CHECK(bhyve_parse_memsize("2147483648", &b) == 0 && b == 1ULL << 31,
	      "large bare number is bytes (bhyve)");
	CHECK(bhyve_parse_memsize("0", &b) == -1, "zero refused");
	CHECK(bhyve_parse_memsize("", &b) == -1, "empty refused");
	CHECK(bhyve_parse_memsize("-1G", &b) == -1, "negative refused");
	CHECK(bhyve_parse_memsize("1X", &b) == -1, "bad suffix refused");
	CHECK(bhyve_parse_memsize("1GG", &b) == -1, "double suffix refused");
	CHECK(bhyve_parse_memsize("99999999999E", &b) == -1,
	      "overflow refused");
	CHECK(bhyve_parse_memsize("99999999999999999999999", &b) == -1,
	      "huge number refused");

	CHECK(parse("-m", "2G", "vm", NULL) == 0 && val_is("memory.size", "2G"),
	      "-m stored as given");
	CHECK(config_get_memsize(&b) == 0 && b == 2ULL << 30,
	      "config_get_memsize");
	CHECK(err_is(parse("-m", "lots", "vm", NULL), "'-m lots'"),
	      "bad -m names argument");
	CHECK(err_is(parse("-o", "memory.size=x", "vm", NULL), "memory.size"),
	      "bad memory.size from -o");
}

static void
test_options_and_files(void)
{
	char path[] = "/tmp/test_cmdline.XXXXXX";
	const char *text = "# vm\ncpus=2\nmemory.size=1G\nname=filevm\n"
			   "pci.0.3.0.device=virtio-rnd\n";
	int fd = mkstemp(path);

	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	      "write -k file");
	if (fd >= 0)
		close(fd);
	CHECK(parse("-k", path, NULL) == 0, "-k file parses");
	CHECK(val_is("name", "filevm") && val_is("cpus", "2") &&
		  val_is("memory.size", "1G") &&
		  val_is("pci.0.3.0.device", "virtio-rnd"),
	      "-k keys set");
	CHECK(parse("-k", path, "-c", "4", "-o", "memory.size=2G", NULL) == 0 &&
		  val_is("cpus", "4") && val_is("memory.size", "2G"),
	      "later flags override -k");
	CHECK(parse("-c", "4", "-k", path, NULL) == 0 && val_is("cpus", "2"),
	      "later -k overrides earlier flags");
	CHECK(err_is(parse("-k", path, "-s", "3,virtio-blk,/x", NULL),
		     "already in use"),
	      "-s slot clashing with -k slot");
	unlink(path);
	CHECK(err_is(parse("-k", "/nonexistent/vm.conf", "vm", NULL),
		     "/nonexistent/vm.conf"),
	      "missing -k file names it");

	CHECK(parse("-o", "boot.kernel=/k", "-o", "boot.cmdline=console=ttyS0",
		    "vm", NULL) == 0 &&
		  val_is("boot.kernel", "/k") &&
		  val_is("boot.cmdline", "console=ttyS0"),
	      "-o value may contain '='");
	CHECK(parse("-o", "dir=/vms/%(name)", "vm", NULL) == 0 &&
		  val_is("dir", "/vms/vm"),
	      "-o value expands %(name)");
	CHECK(err_is(parse("-o", "novalue", "vm", NULL), "'-o novalue'"),
	      "-o without '='");
	CHECK(err_is(parse("-o", "k=", "vm", NULL), "'-o k='"),
	      "-o with empty value (bhyve)");
	CHECK(err_is(parse("-o", "a..b=1", "vm", NULL), "a..b"),
	      "-o malformed key");
	CHECK(err_is(parse("-o", "x86=1", "-x", "vm", NULL), "x86.x2apic"),
	      "flag blocked by a leaf names the key");
	CHECK(err_is(parse("-o", "acpi_tables=perhaps", "vm", NULL),
		     "acpi_tables"),
	      "bad boolean caught at parse time");
	CHECK(parse("-o", "acpi_tables=on", "vm", NULL) == 0,
	      "boolean spelling 'on' accepted");
	CHECK(err_is(parse("-o", "x=%(y)", "vm", NULL), "'y'"),
	      "unset %() reference refused");
	CHECK(err_is(parse("-o", "x=%(y)", "-o", "y=%(x)", "vm", NULL), "loop"),
	      "%() loop refused");
}

static void
test_misc_flags(void)
{
	char path[] = "/tmp/test_cmdline_fw.XXXXXX";
	int fd;

	CHECK(parse("-U", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "vm", NULL) ==
		      0 &&
		  val_is("uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	      "-U uuid");
	CHECK(err_is(parse("-U", "6ba7b810-9dad-11d1-80b4", "vm", NULL),
		     "invalid UUID"),
	      "short uuid refused");
	CHECK(err_is(parse("-U", "6ba7b810-9dad-11d1-80b4-00c04fd430cg", "vm",
			   NULL),
		     "invalid UUID"),
	      "non-hex uuid refused");

	CHECK(parse("-G", "1234", "vm", NULL) == 0 &&
		  val_is("gdb.port", "1234") &&
		  get_config_value("gdb.wait") == NULL,
	      "-G port");
	CHECK(parse("-G", "w127.0.0.1:1234", "vm", NULL) == 0 &&
		  val_is("gdb.port", "1234") &&
		  val_is("gdb.address", "127.0.0.1") &&
		  val_is("gdb.wait", "true"),
	      "-G w addr:port");
	CHECK(parse("-G", "::1:5555", "vm", NULL) == 0 &&
		  val_is("gdb.address", "::1") && val_is("gdb.port", "5555"),
	      "-G IPv6 address splits at the last colon");
	CHECK(err_is(parse("-G", "70000", "vm", NULL), "'-G 70000'"),
	      "-G port out of range");
	CHECK(err_is(parse("-G", "w", "vm", NULL), "'-G w'"), "-G w alone");
	CHECK(parse("-G", "unix:/run/vm0.gdb", "vm", NULL) == 0 &&
		  val_is("gdb.socket", "/run/vm0.gdb") &&
		  get_config_value("gdb.port") == NULL &&
		  get_config_value("gdb.wait") == NULL,
	      "-G unix:PATH sets gdb.socket, no port");
	CHECK(parse("-G", "wunix:vm0.gdb", "vm", NULL) == 0 &&
		  val_is("gdb.socket", "vm0.gdb") && val_is("gdb.wait", "true"),
	      "-G wunix:PATH waits too");
	CHECK(err_is(parse("-G", "unix:", "vm", NULL), "empty socket path"),
	      "-G unix: without a path");
	CHECK(err_is(parse("-G", "unix:/a", "-G", "1234", "vm", NULL),
		     "exclusive"),
	      "-G unix:PATH and a TCP port together refused");
	CHECK(err_is(parse("-o", "gdb.socket=", "vm", NULL), "gdb.socket"),
	      "empty gdb.socket refused");
	CHECK(err_is(parse("-o",
			   "gdb.socket=/tmp/0123456789012345678901234567890123"
			   "456789012345678901234567890123456789012345678901234"
			   "5678901234567890123456789",
			   "vm", NULL),
		     "longer than 107 bytes"),
	      "gdb.socket longer than sun_path refused");

	CHECK(parse("-c", "2", "-p", "0:2", "-p", "0:3", "-p", "1:5", "vm",
		    NULL) == 0 &&
		  val_is("vcpu.0.cpuset", "2,3") &&
		  val_is("vcpu.1.cpuset", "5"),
	      "-p accumulates per vCPU");
	CHECK(err_is(parse("-p", "0:x", "vm", NULL), "'-p 0:x'"),
	      "-p malformed");
	CHECK(err_is(parse("-p", "-1:0", "vm", NULL), "'-p -1:0'"),
	      "-p negative vcpu");

	CHECK(parse("-B", "1,manufacturer=Acme,product=Widget,serial=42", "-B",
		    "2,asset_tag=A1", "-B", "0,vendor=Bee", "-B", "3,sku=S",
		    "vm", NULL) == 0 &&
		  val_is("system.manufacturer", "Acme") &&
		  val_is("system.product_name", "Widget") &&
		  val_is("system.serial_number", "42") &&
		  val_is("board.asset_tag", "A1") &&
		  val_is("bios.vendor", "Bee") && val_is("chassis.sku", "S"),
	      "-B SMBIOS types 0-3 with illumos legacy names");
	CHECK(parse("-B", "1,uuid=6ba7b810-9dad-11d1-80b4-00c04fd430c8", "vm",
		    NULL) == 0 &&
		  val_is("uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	      "-B uuid sets uuid");
	CHECK(parse("-U", "00000000-0000-0000-0000-000000000001", "-B",
		    "1,uuid=6ba7b810-9dad-11d1-80b4-00c04fd430c8", "vm",
		    NULL) == 0 &&
		  val_is("uuid", "00000000-0000-0000-0000-000000000001"),
	      "-U wins over -B uuid");
	CHECK(err_is(parse("-B", "4,a=b", "vm", NULL), "SMBIOS type"),
	      "-B bad type");
	CHECK(err_is(parse("-B", "2,family_name=x", "vm", NULL),
		     "unknown SMBIOS key 'family_name'"),
	      "-B key not valid for type");
	CHECK(err_is(parse("-B", "1,manufacturer", "vm", NULL), "key=value"),
	      "-B key without value");

	CHECK(parse("-f", "opt/org.test/a,string=hello", "-f",
		    "name=opt/org.test/b,string=x=y", "vm", NULL) == 0 &&
		  val_is("fwcfg.user.0.name", "opt/org.test/a") &&
		  val_is("fwcfg.user.0.string", "hello") &&
		  val_is("fwcfg.user.1.name", "opt/org.test/b") &&
		  val_is("fwcfg.user.1.string", "x=y"),
	      "-f string items");
	fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	CHECK(parse("-f", "opt/f", NULL) != 0, "-f without data refused");
	{
		char arg[128];

		snprintf(arg, sizeof(arg), "opt/f,file=%s", path);
		CHECK(parse("-f", arg, "vm", NULL) == 0 &&
			  val_is("fwcfg.user.0.file", path),
		      "-f file item");
	}
	unlink(path);
	CHECK(err_is(parse("-f", "opt/f,file=/nonexistent/x", "vm", NULL),
		     "/nonexistent/x"),
	      "-f missing file");
	CHECK(
	    err_is(
		parse("-f",
		      "opt/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		      "aaaaaaa,string=x",
		      "vm", NULL),
		"too long"),
	    "-f name too long");
}

static void
test_lpc(void)
{
	CHECK(parse("-l", "com1,stdio", "-l", "COM2,/dev/nmdm0A", "-l",
		    "com3,socket,/tmp/s", "-l", "com4,tcp=127.0.0.1:4444", "vm",
		    NULL) == 0 &&
		  val_is("lpc.com1.path", "stdio") &&
		  val_is("lpc.com2.path", "/dev/nmdm0A") &&
		  val_is("lpc.com3.path", "socket,/tmp/s") &&
		  val_is("lpc.com4.path", "tcp=127.0.0.1:4444"),
	      "-l com1..com4");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd", "vm", NULL) == 0 &&
		  val_is("lpc.bootrom", "/fw/CODE.fd") &&
		  get_config_value("lpc.bootvars") == NULL,
	      "-l bootrom,ROM");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd,/vm/VARS.fd", "vm", NULL) == 0 &&
		  val_is("lpc.bootvars", "/vm/VARS.fd"),
	      "-l bootrom,ROM,VARS");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd,fwcfg=qemu", "vm", NULL) == 0 &&
		  val_is("lpc.fwcfg", "qemu") &&
		  get_config_value("lpc.bootvars") == NULL,
	      "-l bootrom,ROM,fwcfg=qemu");
	CHECK(parse("-l", "fwcfg=qemu", "vm", NULL) == 0 &&
		  val_is("lpc.fwcfg", "qemu"),
	      "-l fwcfg=qemu");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd", "vm", NULL) == 0 &&
		  val_is("lpc.fwcfg", "qemu") &&
		  val_is("acpi_tables_in_memory", "false"),
	      "a boot ROM defaults to fw_cfg qemu, tables out of RAM");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd", "-l", "fwcfg=bhyve", "-o",
		    "acpi_tables_in_memory=true", "vm", NULL) == 0 &&
		  val_is("lpc.fwcfg", "bhyve") &&
		  val_is("acpi_tables_in_memory", "true"),
	      "a boot ROM with explicit fwcfg and in-memory tables");
	CHECK(parse("-o", "bootrom=/fw/CODE.fd", "vm", NULL) == 0 &&
		  val_is("lpc.fwcfg", "qemu"),
	      "bhyve's bootrom alias also selects fw_cfg qemu");
	CHECK(parse("vm", NULL) == 0 && val_is("acpi_tables_in_memory", "true"),
	      "no boot ROM: tables in RAM by default");
	CHECK(err_is(parse("-l", "bootrom,/fw/CODE.fd", "-s", "1:2:0,dummy",
			   "vm", NULL),
		     "pci.1: devices on PCI bus 1 are not supported with a "
		     "boot ROM"),
	      "a boot ROM refuses a device on bus 1");
	CHECK(err_is(parse("-l", "fwcfg=seabios", "vm", NULL), "seabios"),
	      "-l fwcfg bad value");
	CHECK(parse("-l", "pc-testdev", "vm", NULL) == 0 &&
		  val_is("lpc.pc-testdev", "true"),
	      "-l pc-testdev");
	CHECK(parse("-l", "testdev", "vm", NULL) == 0 &&
		  val_is("lpc.testdev", "true"),
	      "-l testdev (beehive)");
	CHECK(err_is(parse("-l", "tpm,swtpm,/run/swtpm.sock", "vm", NULL),
		     "TPM devices are not supported") &&
		  find_config_node("tpm") == NULL,
	      "-l tpm refused, nothing stored");
	CHECK(err_is(parse("-o", "tpm.type=swtpm", "vm", NULL),
		     "TPM devices are not supported"),
	      "tpm.* keys refused");
	CHECK(parse("-o", "bootrom=/fw/X.fd", "vm", NULL) == 0 &&
		  val_is("lpc.bootrom", "/fw/X.fd"),
	      "bootrom alias copied to lpc.bootrom");
	CHECK(err_is(parse("-l", "com5,stdio", "vm", NULL), "com5"),
	      "-l com5 unknown");
	CHECK(err_is(parse("-l", "com1", "vm", NULL), "needs a backend"),
	      "-l com1 without backend");
	CHECK(err_is(parse("-l", "bootrom", "vm", NULL), "ROM"),
	      "-l bootrom without ROM");
	CHECK(err_is(parse("-l", "floppy", "vm", NULL), "floppy"),
	      "-l unknown device");
}

static void
test_slots(void)
{
	CHECK(parse("-s", "3,virtio-rnd", "-s", "4:2,virtio-rnd", "-s",
		    "1:5:7,virtio-rnd", "vm", NULL) == 0 &&
		  val_is("pci.0.3.0.device", "virtio-rnd") &&
		  val_is("pci.0.4.2.device", "virtio-rnd") &&
		  val_is("pci.1.5.7.device", "virtio-rnd"),
	      "slot, slot:func, bus:slot:func");
	CHECK(err_is(parse("-s", "32,virtio-rnd", "vm", NULL), "32,virtio-rnd"),
	      "slot 32 refused");
	CHECK(err_is(parse("-s", "3:8,virtio-rnd", "vm", NULL), "3:8"),
	      "func 8 refused");
	CHECK(err_is(parse("-s", "256:0:0,virtio-rnd", "vm", NULL), "256:0:0"),
	      "bus 256 refused");
	CHECK(err_is(parse("-s", "3x,virtio-rnd", "vm", NULL), "3x"),
	      "trailing junk in slot");
	CHECK(err_is(parse("-s", "-1,virtio-rnd", "vm", NULL), "-1"),
	      "negative slot");
	CHECK(err_is(parse("-s", "3", "vm", NULL), "'3'"),
	      "slot without model");
	CHECK(err_is(parse("-s", "3,", "vm", NULL), "model"), "empty model");
	CHECK(err_is(parse("-s", "3,virtio-foo", "vm", NULL),
		     "unknown device model 'virtio-foo'"),
	      "unknown model");
	CHECK(err_is(parse("-s", "3,virtio-rnd", "-s", "3:0,virtio-rnd", "vm",
			   NULL),
		     "0:3:0 is already in use"),
	      "duplicate slot");
	CHECK(err_is(parse("-o", "pci.0.3.0.device=floppy", "vm", NULL),
		     "floppy"),
	      "unknown model from -o");
	CHECK(err_is(parse("-o", "pci.0.40.0.device=virtio-rnd", "vm", NULL),
		     "pci.0.40"),
	      "bad slot from -o");
	CHECK(err_is(parse("-o", "pci.0.3.0.path=/x", "vm", NULL), "device"),
	      "pci node without device");
}

static void
test_converters(void)
{
	CHECK(parse("-s",
		    "3,virtio-blk,/img,ro,sectorsize=512/4096,nocache,"
		    "direct,sync,nodelete,ser=BEE1",
		    "vm", NULL) == 0 &&
		  val_is("pci.0.3.0.path", "/img") &&
		  val_is("pci.0.3.0.ro", "true") &&
		  val_is("pci.0.3.0.sectorsize", "512/4096") &&
		  val_is("pci.0.3.0.nocache", "true") &&
		  val_is("pci.0.3.0.direct", "true") &&
		  val_is("pci.0.3.0.sync", "true") &&
		  val_is("pci.0.3.0.nodelete", "true") &&
		  val_is("pci.0.3.0.ser", "BEE1"),
	      "virtio-blk options");
	CHECK(parse("-s", "3,virtio-blk", "vm", NULL) == 0 &&
		  get_config_value("pci.0.3.0.path") == NULL,
	      "virtio-blk without options");
	CHECK(parse("-s", "4,virtio-net,tap0,mac=00:a0:98:11:22:33,mtu=9000",
		    "vm", NULL) == 0 &&
		  val_is("pci.0.4.0.backend", "tap0") &&
		  val_is("pci.0.4.0.mac", "00:a0:98:11:22:33") &&
		  val_is("pci.0.4.0.mtu", "9000"),
	      "virtio-net options");
	CHECK(parse("-s", "4,e1000,tap1", "vm", NULL) == 0 &&
		  val_is("pci.0.4.0.backend", "tap1"),
	      "e1000 backend");
	CHECK(parse("-s", "4,virtio-net-viona,vnic0", "vm", NULL) == 0 &&
		  val_is("pci.0.4.0.vnic", "vnic0"),
	      "viona vnic");
	CHECK(parse("-s", "2:0,ahci,hd:/a.img,nocache,cd:/b.iso,ro,hd:/c.img",
		    "vm", NULL) == 0 &&
		  val_is("pci.0.2.0.device", "ahci") &&
		  val_is("pci.0.2.0.port.0.type", "hd") &&
		  val_is("pci.0.2.0.port.0.path", "/a.img") &&
		  val_is("pci.0.2.0.port.0.nocache", "true") &&
		  val_is("pci.0.2.0.port.1.type", "cd") &&
		  val_is("pci.0.2.0.port.1.path", "/b.iso") &&
		  val_is("pci.0.2.0.port.1.ro", "true") &&
		  val_is("pci.0.2.0.port.2.path", "/c.img"),
	      "ahci ports");
	CHECK(parse("-s", "2,ahci-hd,/a.img", "-s", "5,ahci-cd,/b.iso", "vm",
		    NULL) == 0 &&
		  val_is("pci.0.2.0.device", "ahci") &&
		  val_is("pci.0.2.0.port.0.type", "hd") &&
		  val_is("pci.0.5.0.device", "ahci") &&
		  val_is("pci.0.5.0.port.0.type", "cd") &&
		  val_is("pci.0.5.0.port.0.path", "/b.iso"),
	      "ahci-hd / ahci-cd aliases");
	CHECK(err_is(parse("-s", "2,ahci,/a.img", "vm", NULL), "missing type"),
	      "ahci port without type");
	CHECK(parse("-s", "5,fbuf,tcp=0.0.0.0:5900,w=800,h=600,wait", "vm",
		    NULL) == 0 &&
		  val_is("pci.0.5.0.tcp", "0.0.0.0:5900") &&
		  val_is("pci.0.5.0.w", "800") &&
		  val_is("pci.0.5.0.h", "600") &&
		  val_is("pci.0.5.0.wait", "true"),
	      "fbuf options");
	CHECK(parse("-s", "7:1,passthru,3/0/4", "vm", NULL) == 0 &&
		  val_is("pci.0.7.1.bus", "3") &&
		  val_is("pci.0.7.1.slot", "0") &&
		  val_is("pci.0.7.1.func", "4"),
	      "passthru b/s/f");
	CHECK(parse("-s", "7,passthru,/dev/ppt0,rom=/r.bin", "vm", NULL) == 0 &&
		  val_is("pci.0.7.0.path", "/dev/ppt0") &&
		  val_is("pci.0.7.0.rom", "/r.bin"),
	      "passthru path");
	CHECK(err_is(parse("-s", "7,passthru,3/0", "vm", NULL), "3/0"),
	      "passthru malformed");
	CHECK(err_is(parse("-s", "7,passthru", "vm", NULL), "passthru"),
	      "passthru without host device");
	CHECK(parse("-s",
		    "6,virtio-console,org.qemu.guest_agent.0=/run/qga,"
		    "con1=stdio",
		    "vm", NULL) == 0 &&
		  val_is("pci.0.6.0.port.0.name", "org.qemu.guest_agent.0") &&
		  val_is("pci.0.6.0.port.0.path", "/run/qga") &&
		  val_is("pci.0.6.0.port.1.name", "con1") &&
		  val_is("pci.0.6.0.port.1.path", "stdio"),
	      "virtio-console ports");
	CHECK(err_is(parse("-s", "6,virtio-console,noport", "vm", NULL),
		     "noport"),
	      "virtio-console port without path");
	CHECK(parse("-s", "8,virtio-9p,share=/export,ro", "vm", NULL) == 0 &&
		  val_is("pci.0.8.0.sharename", "share") &&
		  val_is("pci.0.8.0.path", "/export") &&
		  val_is("pci.0.8.0.ro", "true"),
	      "virtio-9p");
	CHECK(
	    err_is(parse("-s", "8,virtio-9p,/export", "vm", NULL), "sharename"),
	    "virtio-9p without sharename");
	CHECK(
	    parse("-s", "9,nvme,/dev/zvol/a,maxq=4,ser=N1", "vm", NULL) == 0 &&
		val_is("pci.0.9.0.path", "/dev/zvol/a") &&
		val_is("pci.0.9.0.maxq", "4") && val_is("pci.0.9.0.ser", "N1"),
	    "nvme block");
	CHECK(parse("-s", "9,nvme,ram=1024", "vm", NULL) == 0 &&
		  val_is("pci.0.9.0.ram", "1024") &&
		  get_config_value("pci.0.9.0.path") == NULL,
	      "nvme ram");
	CHECK(parse("-s", "10,xhci,tablet", "vm", NULL) == 0 &&
		  val_is("pci.0.10.0.slot.1.device", "tablet"),
	      "xhci tablet");
	CHECK(parse("-s", "11,uart,/dev/ttyS9", "vm", NULL) == 0 &&
		  val_is("pci.0.11.0.path", "/dev/ttyS9"),
	      "pci uart path");
	CHECK(parse("-s", "12,virtio-input,/dev/input/event0", "vm", NULL) ==
		      0 &&
		  val_is("pci.0.12.0.path", "/dev/input/event0"),
	      "virtio-input path");
	CHECK(parse("-s", "13,virtio-scsi,/dev/cam/ctl1.1,iid=3", "vm", NULL) ==
		      0 &&
		  val_is("pci.0.13.0.dev", "/dev/cam/ctl1.1") &&
		  val_is("pci.0.13.0.iid", "3"),
	      "virtio-scsi");
	CHECK(parse("-s", "14,hda,play=/dev/dsp0", "vm", NULL) == 0 &&
		  val_is("pci.0.14.0.play", "/dev/dsp0"),
	      "hda");
	CHECK(err_is(parse("-s", "3,virtio-rnd,a,,b", "vm", NULL),
		     "empty option"),
	      "empty option refused");
}

static void
test_implemented(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *saved, *mem;
	int rc;

	CHECK(parse("-s", "0,hostbridge", "vm", NULL) == 0, "parse hostbridge");
	mem = open_memstream(&buf, &len);
	saved = stderr;
	stderr = mem;
	rc = pci_check_models_implemented();
	stderr = saved;
	fclose(mem);
	if (pci_model_implemented(pci_model_find("hostbridge"))) {
		CHECK(rc == 0, "implemented model passes the check");
	} else {
		CHECK(rc == 4 && strstr(buf, "'hostbridge' (slot 0:0:0) is "
					     "not implemented yet") != NULL,
		      "unimplemented model is reported with its slot");
	}
	free(buf);
	CHECK(pci_model_find("virtio-blk") != NULL, "virtio-blk is known");
	CHECK(pci_model_find("ahci-hd") != NULL &&
		  strcmp(pci_model_find("ahci-hd")->pe_alias, "ahci") == 0,
	      "ahci-hd aliases ahci");
	CHECK(pci_model_find("nonesuch") == NULL, "unknown model not found");
	CHECK(parse("vm", NULL) == 0 && pci_check_models_implemented() == 0,
	      "no devices passes the check");
}

/* lpc.comN.path: the backend's syntax is checked with the command line. */
static void
test_com_backends(void)
{
	CHECK(parse("-l", "com1,tcp=127.0.0.1:5555", "vm", NULL) == 0 &&
		  val_is("lpc.com1.path", "tcp=127.0.0.1:5555"),
	      "-l com1,tcp=ADDR:PORT");
	CHECK(parse("-l", "com2,tcp=[::1]:5555,wait", "vm", NULL) == 0,
	      "-l com2,tcp=[IPv6]:PORT,wait");
	CHECK(parse("-l", "com1,tcp=5555", "vm", NULL) == 0,
	      "-l com1,tcp=PORT (loopback)");
	CHECK(err_is(parse("-l", "com1,tcp=127.0.0.1:99999", "vm", NULL),
		     "invalid TCP port"),
	      "tcp port out of range refused");
	CHECK(
	    err_is(parse("-l", "com1,tcp=::1:5555", "vm", NULL), "in brackets"),
	    "unbracketed IPv6 refused");
	CHECK(err_is(parse("-l", "com1,tcp=host.example:5555", "vm", NULL),
		     "invalid IPv4 address 'host.example'"),
	      "tcp host name refused");
	CHECK(err_is(parse("-l", "com1,tcp=5555,nowait", "vm", NULL),
		     "unknown option 'nowait'"),
	      "tcp unknown option refused");
	CHECK(err_is(parse("-o", "lpc.com3.path=socket,", "vm", NULL),
		     "lpc.com3.path: empty address"),
	      "socket without a path refused (-o)");
	/* Existence of /dev paths is the host's: not checked in a dump. */
	CHECK(parse("-l", "com1,/dev/nmdm0A", "vm", NULL) == 0 &&
		  val_is("lpc.com1.path", "/dev/nmdm0A"),
	      "-l com1,/dev/nmdm0A accepted");
}

static void *
affinity_probe(void *arg)
{
	cpu_set_t *got = arg;

	if (pthread_getaffinity_np(pthread_self(), sizeof(*got), got) != 0)
		CPU_ZERO(got);
	return NULL;
}

/* A vCPU thread starts on its vcpu.N.cpuset (what vcpu_run_start uses). */
static void
test_pinning(int hostcpu)
{
	pthread_attr_t attr;
	cpu_set_t got;
	char pin[32];
	pthread_t t;

	snprintf(pin, sizeof(pin), "1:%d", hostcpu);
	CHECK(parse("-c", "2", "-p", pin, "vm", NULL) == 0, "-p 1:HOSTCPU");
	pthread_attr_init(&attr);
	CPU_ZERO(&got);
	CHECK(vcpu_run_thread_attr(1, &attr) == 0 &&
		  pthread_create(&t, &attr, affinity_probe, &got) == 0 &&
		  pthread_join(t, NULL) == 0 && CPU_COUNT(&got) == 1 &&
		  CPU_ISSET(hostcpu, &got),
	      "vCPU 1's thread runs on its one host CPU only");
	pthread_attr_destroy(&attr);
	pthread_attr_init(&attr);
	CHECK(vcpu_run_thread_attr(0, &attr) == 0 &&
		  pthread_create(&t, &attr, affinity_probe, &got) == 0 &&
		  pthread_join(t, NULL) == 0 &&
		  (CPU_COUNT(&got) > 1 || sysconf(_SC_NPROCESSORS_ONLN) == 1),
	      "vCPU 0 without a cpuset is not pinned");
	pthread_attr_destroy(&attr);
}

/* -p vcpu:hostcpu and vcpu.N.cpuset with cpuset(1) -l lists. */
static void
test_cpuset(void)
{
	char err[256];
	cpu_set_t set;

	CHECK(config_parse_cpulist("0-3,6", &set, err, sizeof(err)) == 0 &&
		  CPU_COUNT(&set) == 5 && CPU_ISSET(0, &set) &&
		  CPU_ISSET(3, &set) && !CPU_ISSET(4, &set) &&
		  CPU_ISSET(6, &set),
	      "cpulist 0-3,6");
	CHECK(config_parse_cpulist("5", &set, err, sizeof(err)) == 0 &&
		  CPU_COUNT(&set) == 1 && CPU_ISSET(5, &set),
	      "cpulist single CPU");
	CHECK(config_parse_cpulist("3-1", &set, err, sizeof(err)) != 0,
	      "cpulist reversed range refused");
	CHECK(config_parse_cpulist("1,,2", &set, err, sizeof(err)) != 0 &&
		  config_parse_cpulist("1-", &set, err, sizeof(err)) != 0 &&
		  config_parse_cpulist("", &set, err, sizeof(err)) != 0 &&
		  config_parse_cpulist("a", &set, err, sizeof(err)) != 0,
	      "cpulist junk refused");
	CHECK(config_parse_cpulist("1024", &set, err, sizeof(err)) != 0 &&
		  strstr(err, "out of range") != NULL,
	      "cpulist beyond CPU_SETSIZE refused");

	CHECK(parse("-c", "2", "-o", "vcpu.1.cpuset=0-3,6", "vm", NULL) == 0,
	      "vcpu.N.cpuset range list accepted");
	CHECK(err_is(parse("-o", "vcpu.0.cpuset=0-x", "vm", NULL),
		     "vcpu.0.cpuset: invalid CPU list"),
	      "malformed vcpu.N.cpuset refused");
	CHECK(err_is(parse("-c", "2", "-p", "2:0", "vm", NULL),
		     "vcpu.2: the VM has 2 vCPUs"),
	      "-p for a vCPU the VM lacks refused");
	CHECK(err_is(parse("-o", "vcpu.0=1", "vm", NULL), "vcpu.0.cpuset"),
	      "vcpu.N as a value refused");

	/* Host CPUs: the ones this process may run on. */
	CHECK(parse("-p", "0:1023", "vm", NULL) == 0 &&
		  config_get_vcpu_cpuset(0, &set, err, sizeof(err)) < 0 &&
		  strstr(err, "host CPU 1023 does not exist") != NULL,
	      "a host CPU that does not exist is refused");
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0, "own affinity");
	for (int c = 0; c < CPU_SETSIZE; c++) {
		char pin[32];
		cpu_set_t got;

		if (!CPU_ISSET(c, &set))
			continue;
		snprintf(pin, sizeof(pin), "0:%d", c);
		CHECK(parse("-p", pin, "vm", NULL) == 0 &&
			  config_get_vcpu_cpuset(0, &got, err, sizeof(err)) ==
			      1 &&
			  CPU_COUNT(&got) == 1 && CPU_ISSET(c, &got),
		      "a host CPU of this process is accepted");
		test_pinning(c);
		break;
	}
	CHECK(parse("vm", NULL) == 0 &&
		  config_get_vcpu_cpuset(0, &set, err, sizeof(err)) == 0,
	      "no cpuset: not pinned");
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Every blocker of a command line is reported, one line each. */
static void
test_every_blocker(void)
{
	int rc;

	rc = parse("-s", "3,virtio-floppy", "-s", "4,virtio-tape", "-m", "2Q",
		   "vm", NULL);
	CHECK(rc == BHYVE_ARGS_ERROR && count_lines(last_err) == 3 &&
		  strstr(last_err, "'virtio-floppy'") != NULL &&
		  strstr(last_err, "'virtio-tape'") != NULL &&
		  strstr(last_err, "'-m 2Q'") != NULL,
	      "two unknown models and a bad memory size: three lines");
	rc = parse("-c", "two", "-o", "x86.x2apic=maybe", "-U", "nope", "vm",
		   NULL);
	CHECK(rc == BHYVE_ARGS_ERROR && count_lines(last_err) == 3,
	      "parse-time and tree errors reported together");
	/* A bad option may have eaten the name: no "missing VM name" too. */
	CHECK(err_is(parse("-m", "vm", NULL), "'-m vm'"),
	      "no cascade to a missing VM name");
}

/* The notices bhyve_note_unsupported() queues, flushed into buf. */
static void
unsupported_notices(char *buf, size_t len)
{
	FILE *saved = stderr, *mem;
	char *out = NULL;
	size_t olen = 0;

	notice_discard();
	mem = open_memstream(&out, &olen);
	stderr = mem; /* after the first flush, notices print at once */
	bhyve_note_unsupported();
	notice_flush();
	stderr = saved;
	fclose(mem);
	snprintf(buf, len, "%s", out ? out : "");
	free(out);
}

/* Keys stored with no effect: one start-up notice each, naming the key. */
static void
test_unsupported_notices(void)
{
	char buf[1024];

	CHECK(parse("-d", "-K", "de", "-s", "3,virtio-blk,/a,bootindex=1", "-o",
		    "pci.0.4.0.device=hostbridge", "vm", NULL) == 0,
	      "-d -K and bootindex parse");
	unsupported_notices(buf, sizeof(buf));
	CHECK(
	    strstr(buf, "bhyve: suspend_at_boot (-d) has no effect") != NULL &&
		strstr(buf, "bhyve: keyboard.layout (-K) has no effect") !=
		    NULL &&
		strstr(buf, "bhyve: pci.0.3.0.bootindex has no effect") != NULL,
	    "-d, -K and bootindex each get a notice naming the key");
	CHECK(strstr(buf, "pci.0.4.0") == NULL,
	      "no notice for a slot without bootindex");
	CHECK(parse("-l", "bootrom,/fw/CODE.fd", "-s",
		    "3,virtio-blk,/a,bootindex=1", "vm", NULL) == 0,
	      "bootindex with a boot ROM parses");
	unsupported_notices(buf, sizeof(buf));
	CHECK(strstr(buf, "bhyve: pci.0.3.0.bootindex has no effect: beehive "
			  "passes no boot order to the boot ROM") != NULL &&
		  strstr(buf, "boot.kernel") == NULL,
	      "bootindex with a boot ROM: the notice speaks of the firmware");
	CHECK(parse("-a", "-c", "255", "vm", NULL) == 0,
	      "-a with 255 vCPUs (APIC ids 0-254)");
	CHECK(err_is(parse("-a", "-c", "256", "vm", NULL),
		     "an xAPIC stops at 254"),
	      "-a with 256 vCPUs refused");
	CHECK(err_is(parse("-a", "-c", "cpus=195,sockets=65,threads=3", "vm",
			   NULL),
		     "APIC ids up to 258"),
	      "-a refused where the topology's ids pass 254");
	CHECK(parse("-a", "-c", "cpus=192,sockets=64,threads=3", "vm", NULL) ==
		  0,
	      "-a: 64 sockets of 3 threads end at APIC id 254");
	CHECK(parse("-x", "-c", "256", "vm", NULL) == 0,
	      "x2APIC: 256 vCPUs fine");
	CHECK(parse("-x", "-p", "0:0", "vm", NULL) == 0, "-x -p parse");
	unsupported_notices(buf, sizeof(buf));
	CHECK(buf[0] == '\0', "-x and -p take effect: no notice");
}

/* -n (NUMA domains) and -M (monitor mode), FreeBSD's keys. */
static void
test_numa_and_monitor(void)
{
	int rc;

	rc = parse("-c", "2", "-m", "1G", "-n", "id=0,size=512M,cpus=0", "-n",
		   "id=1,size=512M,cpus=1,domain_policy=prefer:0", "vm", NULL);
	CHECK(rc == 0 && val_is("domains.0.size", "512M") &&
		  val_is("domains.0.cpus", "0") &&
		  val_is("domains.1.size", "512M") &&
		  val_is("domains.1.cpus", "1") &&
		  val_is("domains.1.domain_policy", "prefer:0"),
	      "cmdline: -n writes domains.N.size/cpus/domain_policy");
	fini_config();
	rc = parse("-c", "4", "-n", "id=0,cpus=0-1,3", "-n", "id=1,cpus=2",
		   "vm", NULL);
	CHECK(rc == 0 && val_is("domains.0.cpus", "0-1,3") &&
		  get_config_value("domains.0.size") == NULL,
	      "cmdline: -n cpus=0-1,3 keeps the whole CPU list");
	fini_config();
	rc = parse("-M", "vm", NULL);
	CHECK(rc == 0 && val_is("monitor", "true"), "cmdline: -M: monitor");
	fini_config();
	rc = parse("-o", "monitor=maybe", "vm", NULL);
	CHECK(err_is(rc, "invalid boolean 'maybe' for monitor"),
	      "cmdline: monitor is a boolean");
	fini_config();

	rc = parse("-n", "size=1G", "vm", NULL);
	CHECK(err_is(rc, "missing id=N"), "cmdline: -n without id");
	fini_config();
	rc = parse("-n", "id=8", "vm", NULL);
	CHECK(err_is(rc, "id must be 0-7"), "cmdline: -n id above 7");
	fini_config();
	rc = parse("-n", "id=0,bogus=1", "vm", NULL);
	CHECK(err_is(rc, "unknown key 'bogus'"), "cmdline: -n unknown key");
	fini_config();
	rc = parse("-n", "0,1G,0", "vm", NULL);
	CHECK(err_is(rc, "is not key=value"), "cmdline: -n positional");
	fini_config();
	rc = parse("-n", "id=1,cpus=0", "vm", NULL);
	CHECK(err_is(rc, "NUMA domain 0 is missing"),
	      "cmdline: -n domains must start at 0");
	fini_config();
	rc = parse("-c", "2", "-n", "id=0,cpus=0", "-n", "id=1", "vm", NULL);
	CHECK(err_is(rc, "NUMA domain 1 has no CPU set"),
	      "cmdline: -n id=1 alone declares domain 1, which needs CPUs");
	fini_config();
	rc = parse("-c", "2", "-n", "id=0,cpus=0-1", "-n", "id=1,cpus=1", "vm",
		   NULL);
	CHECK(err_is(rc, "vCPU 1 is already in NUMA domain 0"),
	      "cmdline: -n overlapping CPU sets");
	fini_config();
	rc = parse("-c", "3", "-n", "id=0,cpus=0", "-n", "id=1,cpus=2", "vm",
		   NULL);
	CHECK(err_is(rc, "vCPU 1 is in no NUMA domain"),
	      "cmdline: -n must cover every vCPU");
	fini_config();
	rc = parse("-c", "2", "-n", "id=0,cpus=0-2", "vm", NULL);
	CHECK(err_is(rc, "vCPU 2 does not exist"),
	      "cmdline: -n CPU beyond the topology");
	fini_config();
	rc = parse("-n", "id=0,size=1025K", "vm", NULL);
	CHECK(err_is(rc, "a multiple of 4 KiB"), "cmdline: -n odd size");
	fini_config();
	rc = parse("-n", "id=0,domain_policy=rr", "vm", NULL);
	CHECK(err_is(rc, "is not policy:domain-list"),
	      "cmdline: -n policy without a domain list");
	fini_config();
	rc = parse("-n", "id=0", "-o", "acpi_tables=false", "vm", NULL);
	CHECK(err_is(rc, "acpi_tables=false"), "cmdline: -n needs ACPI");
	fini_config();
	rc = parse("-o", "domains.00.size=1G", "vm", NULL);
	CHECK(err_is(rc, "invalid NUMA domain domains.00"),
	      "cmdline: domains.00 is not a domain id");
	fini_config();
	rc = parse("-o", "domains.0.sise=1G", "vm", NULL);
	CHECK(err_is(rc, "unknown NUMA domain key domains.0.sise"),
	      "cmdline: misspelt domain key");
	fini_config();
}

int
main(void)
{
	test_defaults();
	test_flags();
	test_topology();
	test_memory();
	test_options_and_files();
	test_misc_flags();
	test_lpc();
	test_slots();
	test_converters();
	test_implemented();
	test_com_backends();
	test_cpuset();
	test_every_blocker();
	test_unsupported_notices();
	test_numa_and_monitor();
	fini_config();
	return test_done();
}
