/*
 * Boot ROM files (bootrom.c): the empty variable store built in code
 * against Debian's OVMF_VARS files, the firmware volume check, the
 * validation of lpc.bootrom/lpc.bootvars, and the reset-vector state.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_state.h"
#include "bootrom.h"
#include "config.h"
#include "test.h"

static uint8_t *
read_file(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) != 0 || (buf = malloc((size_t)sb.st_size)) == NULL ||
	    read(fd, buf, (size_t)sb.st_size) != sb.st_size) {
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

/* The store built in code is Debian's empty OVMF_VARS, byte for byte. */
static void
test_format_matches_ovmf(const char *path, size_t want_len)
{
	char name[160];
	size_t len = 0;
	uint8_t *ref = read_file(path, &len), *buf;

	if (ref == NULL) {
		snprintf(name, sizeof(name), "%s absent: comparison skipped",
			 path);
		CHECK(1, name);
		return;
	}
	CHECK_EQ_U64(len, want_len, path);
	buf = malloc(len);
	CHECK(buf != NULL && bootrom_format_vars(buf, len) == 0,
	      "format a store of the file's size");
	for (size_t i = 0; buf != NULL && i < len; i++) {
		if (buf[i] != ref[i]) {
			snprintf(name, sizeof(name),
				 "%s: first difference at 0x%zx: 0x%02x, "
				 "file has 0x%02x",
				 path, i, buf[i], ref[i]);
			CHECK(0, name);
			break;
		}
	}
	snprintf(name, sizeof(name), "built store equals %s", path);
	CHECK(buf != NULL && memcmp(buf, ref, len) == 0, name);
	free(buf);
	free(ref);
}

static void
test_format_sizes(void)
{
	static uint8_t buf[64 << 10];
	char err[200];

	CHECK(bootrom_format_vars(buf, 20 << 10) == -1, "20 KiB refused");
	CHECK(bootrom_format_vars(buf, (24 << 10) + 1) == -1,
	      "odd size refused");
	CHECK(bootrom_format_vars(buf, 24 << 10) == 0, "24 KiB formats");
	CHECK(bootrom_vars_valid(buf, 24 << 10, err, sizeof(err)),
	      "24 KiB store passes the FV check");
	CHECK(bootrom_format_vars(buf, sizeof(buf)) == 0, "64 KiB formats");
	CHECK(bootrom_vars_valid(buf, sizeof(buf), err, sizeof(err)),
	      "64 KiB store passes the FV check");
	buf[60] ^= 1;
	CHECK(!bootrom_vars_valid(buf, sizeof(buf), err, sizeof(err)) &&
		  strstr(err, "checksum") != NULL,
	      "a flipped header bit fails the checksum");
	buf[60] ^= 1;
	buf[40] = 'X';
	CHECK(!bootrom_vars_valid(buf, sizeof(buf), err, sizeof(err)) &&
		  strstr(err, "_FVH") != NULL,
	      "no signature");
	buf[40] = '_';
	buf[48] = 0xff;
	buf[49] = 0xff;
	CHECK(!bootrom_vars_valid(buf, 100, err, sizeof(err)) &&
		  strstr(err, "length") != NULL,
	      "header longer than the file");
	CHECK(!bootrom_vars_valid(buf, 10, err, sizeof(err)),
	      "a file shorter than a header");
}

static void
test_default_len(void)
{
	CHECK_EQ_U64(bootrom_default_vars_len(0x37c000), 0x84000,
		     "OVMF_CODE_4M gets a 528 KiB store");
	CHECK_EQ_U64(bootrom_default_vars_len(0x1e0000), 0x20000,
		     "OVMF_CODE (2 MiB) gets a 128 KiB store");
	CHECK_EQ_U64(bootrom_default_vars_len(0x200000), 0,
		     "a ROM filling its power of two gets none");
	CHECK_EQ_U64(bootrom_default_vars_len(0x3ff000), 0,
		     "less than 24 KiB left: none");
}

static const char *
write_tmp(const char *name, const void *buf, size_t len)
{
	static char path[8][256];
	static int n;
	char *p = path[n++ % 8];
	int fd;

	snprintf(p, 256, "%s/bootrom-%d-%s",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
		 name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, buf, len) != (ssize_t)len)
			len = 0;
		close(fd);
	}
	return p;
}

static void
test_setup(void)
{
	static uint8_t rom[96 << 10], vars[128 << 10];
	const struct bootrom *br;
	const char *romp, *varsp;
	int fd;

	memset(rom, 0x90, sizeof(rom));
	bootrom_format_vars(vars, sizeof(vars));
	romp = write_tmp("rom.fd", rom, sizeof(rom));
	varsp = write_tmp("vars.fd", vars, sizeof(vars));

	init_config();
	CHECK(bootrom_setup() == 0 && bootrom_get() == NULL,
	      "no boot ROM: nothing to do");
	set_config_value("lpc.bootrom", romp);
	CHECK(bootrom_setup() == 0 && (br = bootrom_get()) != NULL,
	      "ROM without VARS loads");
	br = bootrom_get();
	CHECK(br != NULL && br->rom_len == sizeof(rom) &&
		  memcmp(br->rom, rom, sizeof(rom)) == 0,
	      "ROM contents loaded");
	CHECK(br != NULL && br->vars_len == 32 << 10 && br->vars_fd == -1,
	      "in-memory store: the ROM's power of two less the ROM");
	CHECK(br != NULL &&
		  bootrom_rom_gpa(br) == 0x100000000ULL - (96 << 10) &&
		  bootrom_vars_gpa(br) == 0x100000000ULL - (128 << 10),
	      "ROM ends at 4 GiB, VARS directly below");

	set_config_value("lpc.bootvars", varsp);
	CHECK(bootrom_setup() == 0 && (br = bootrom_get()) != NULL &&
		  br->vars_len == sizeof(vars) && br->vars_fd >= 0,
	      "ROM with a VARS file loads");
	fd = open(varsp, O_RDWR);
	CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0,
	      "VARS file is locked");
	if (fd >= 0)
		close(fd);
	bootrom_release();
	fd = open(varsp, O_RDWR);
	CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0,
	      "released: the lock is gone");
	CHECK(bootrom_setup() != 0, "a second VM cannot take the store");
	if (fd >= 0)
		close(fd);

	set_config_value("boot.kernel", romp);
	CHECK(bootrom_setup() != 0 && bootrom_get() == NULL,
	      "boot.kernel beside a ROM is refused");
	unlink(romp);
	unlink(varsp);
	bootrom_release();
}

static void
test_reset_state(void)
{
	struct boot_cpu_state st;

	memset(&st, 0, sizeof(st));
	boot_state_reset(&st);
	CHECK(st.regs[VM_REG_GUEST_CS] == 0xf000 &&
		  st.segs[VM_REG_GUEST_CS].base == 0xffff0000 &&
		  st.regs[VM_REG_GUEST_RIP] == 0xfff0,
	      "reset vector: CS f000 base ffff0000, IP fff0");
	CHECK(st.regs[VM_REG_GUEST_CR0] == 0x60000010 &&
		  st.regs[VM_REG_GUEST_RFLAGS] == 2,
	      "real mode, CR0 and RFLAGS as at power-on");
	CHECK(!boot_state_has_reg(&st, VM_REG_GUEST_RDX),
	      "EDX keeps KVM's processor signature");
}

int
main(void)
{
	test_format_matches_ovmf("/usr/share/OVMF/OVMF_VARS_4M.fd", 0x84000);
	test_format_matches_ovmf("/usr/share/OVMF/OVMF_VARS.fd", 0x20000);
	test_format_sizes();
	test_default_len();
	test_setup();
	test_reset_state();
	return test_done();
}
