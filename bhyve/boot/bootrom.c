/*
 * Boot ROM and variable store files (bootrom.h): validation, loading,
 * locking, and the empty OVMF variable store built in code.
 */
#include "bootrom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_load.h" /* boot_le16, boot_put16/32/64 */
#include "config.h"

static struct bootrom bootrom_state = {.vars_fd = -1};
static bool bootrom_loaded;

const struct bootrom *
bootrom_get(void)
{
	return bootrom_loaded ? &bootrom_state : NULL;
}

uint64_t
bootrom_rom_gpa(const struct bootrom *br)
{
	return BOOTROM_TOP - br->rom_len;
}

uint64_t
bootrom_vars_gpa(const struct bootrom *br)
{
	return bootrom_rom_gpa(br) - br->vars_len;
}

/* EFI_FIRMWARE_VOLUME_HEADER (PI spec Vol. 3, 3.2.1) field offsets. */
#define FV_GUID	      16
#define FV_LENGTH     32
#define FV_SIGNATURE  40
#define FV_ATTRIBUTES 44
#define FV_HEADERLEN  48
#define FV_CHECKSUM   50
#define FV_REVISION   55
#define FV_BLOCKMAP   56
#define FV_MIN_HEADER (FV_BLOCKMAP + 16) /* one block entry + the end */
#define FV_BLOCK      0x1000u

bool
bootrom_vars_valid(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	uint16_t hlen, sum = 0;

	if (len < FV_MIN_HEADER || memcmp(buf + FV_SIGNATURE, "_FVH", 4) != 0) {
		snprintf(err, errlen,
			 "is not an EFI variable store (no firmware volume "
			 "signature _FVH at offset 40)");
		return false;
	}
	hlen = boot_le16(buf + FV_HEADERLEN);
	if (hlen < FV_MIN_HEADER || hlen % 2 != 0 || hlen > len) {
		snprintf(err, errlen,
			 "is not an EFI variable store (firmware volume header "
			 "length %u is invalid)",
			 hlen);
		return false;
	}
	for (uint16_t i = 0; i < hlen; i += 2)
		sum = (uint16_t)(sum + boot_le16(buf + i));
	if (sum != 0) {
		snprintf(err, errlen,
			 "is not an EFI variable store (firmware volume header "
			 "checksum is wrong)");
		return false;
	}
	return true;
}

/* GUIDs in their EFI byte order (the first three fields little-endian). */
static const uint8_t guid_system_nv_data_fv[16] = {
    0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c,
    0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50}; /* fff12b8d-7696-... */
static const uint8_t guid_authenticated_variable[16] = {
    0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43,
    0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92}; /* aaf32c78-947b-... */
static const uint8_t guid_ftw_working_block[16] = {
    0x2b, 0x29, 0x58, 0x9e, 0x68, 0x7c, 0x7d, 0x49,
    0xa0, 0xce, 0x65, 0x00, 0xfd, 0x9f, 0x1b, 0x95}; /* 9e58292b-7c68-... */

/* CRC-32 (IEEE 802.3, reflected), as EDK2's gBS->CalculateCrc32. */
static uint32_t
crc32_ieee(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

/*
 * OVMF's flash layout for VARS (OvmfPkg's VarStore.fdf.inc): the live
 * variable store, a 4 KiB event log, the 4 KiB FTW working block, then the
 * FTW spare area, as large as the store and those two pages together.
 */
#define FTW_HEADER_LEN 32

size_t
bootrom_default_vars_len(size_t rom_len)
{
	size_t total = BOOTROM_PAGE;

	while (total < rom_len && total < BOOTROM_MAX_TOTAL)
		total <<= 1;
	if (total <= rom_len || total - rom_len < BOOTROM_VARS_MIN)
		return 0;
	return total - rom_len;
}

int
bootrom_format_vars(uint8_t *buf, size_t len)
{
	size_t live, ftw;
	uint8_t *fv = buf, *vs, *wb;
	uint16_t sum = 0;

	if (len < BOOTROM_VARS_MIN || len % FV_BLOCK != 0 ||
	    len > BOOTROM_MAX_TOTAL)
		return -1;
	live = (len - 4 * FV_BLOCK) / 2 / FV_BLOCK * FV_BLOCK;
	ftw = live + FV_BLOCK;
	memset(buf, 0xff, len);

	/* The firmware volume header, covering all of VARS. */
	memset(fv, 0, FV_MIN_HEADER);
	memcpy(fv + FV_GUID, guid_system_nv_data_fv, 16);
	boot_put64(fv + FV_LENGTH, len);
	memcpy(fv + FV_SIGNATURE, "_FVH", 4);
	/* EFI_FVB2: read/write enabled and status, sticky write, memory
	 * mapped, erase polarity 1, 16-byte alignment capable ... (OVMF). */
	boot_put32(fv + FV_ATTRIBUTES, 0x0004feff);
	boot_put16(fv + FV_HEADERLEN, FV_MIN_HEADER);
	fv[FV_REVISION] = 2;
	boot_put32(fv + FV_BLOCKMAP, (uint32_t)(len / FV_BLOCK));
	boot_put32(fv + FV_BLOCKMAP + 4, FV_BLOCK);
	for (int i = 0; i < FV_MIN_HEADER; i += 2)
		sum = (uint16_t)(sum + boot_le16(fv + i));
	boot_put16(fv + FV_CHECKSUM, (uint16_t)(0x10000 - sum));

	/* VARIABLE_STORE_HEADER: formatted (0x5a), healthy (0xfe). */
	vs = fv + FV_MIN_HEADER;
	memcpy(vs, guid_authenticated_variable, 16);
	boot_put32(vs + 16, (uint32_t)(live - FV_MIN_HEADER));
	vs[20] = 0x5a;
	vs[21] = 0xfe;
	memset(vs + 22, 0, 6);

	/*
	 * EFI_FAULT_TOLERANT_WORKING_BLOCK_HEADER: its CRC is taken with the
	 * CRC field and the state byte erased, then the state byte says
	 * "working block valid".
	 */
	wb = buf + ftw;
	memcpy(wb, guid_ftw_working_block, 16);
	memset(wb + 16, 0xff, 8);
	boot_put64(wb + 24, FV_BLOCK - FTW_HEADER_LEN);
	boot_put32(wb + 16, crc32_ieee(wb, FTW_HEADER_LEN));
	wb[20] = 0xfe;
	return 0;
}

/* A page-aligned anonymous buffer that forked children share. */
static uint8_t *
bootrom_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int
read_all(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Opens path; its size (a regular file) in *len.  -1 after one line. */
static int
bootrom_open(const char *key, const char *path, int flags, size_t *len)
{
	struct stat sb;
	int fd;

	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bhyve: %s '%s': %s\n", key, path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "bhyve: %s '%s': not a regular file\n", key,
			path);
		close(fd);
		return -1;
	}
	*len = (size_t)sb.st_size;
	return fd;
}

static int
bootrom_load_rom(struct bootrom *br)
{
	const char *key = "lpc.bootrom";
	uint8_t *buf;
	size_t len;
	int fd, rc = -1;

	fd = bootrom_open(key, br->rom_path, O_RDONLY, &len);
	if (fd < 0)
		return -1;
	if (len == 0 || len % BOOTROM_PAGE != 0 || len > BOOTROM_MAX_TOTAL) {
		fprintf(stderr,
			"bhyve: %s '%s': a boot ROM must be a non-empty "
			"multiple of 4 KiB up to 16 MiB (this one is %zu "
			"bytes)\n",
			key, br->rom_path, len);
		goto out;
	}
	buf = bootrom_alloc(len);
	if (buf == NULL || read_all(fd, buf, len) != 0) {
		fprintf(stderr, "bhyve: %s '%s': %s\n", key, br->rom_path,
			strerror(errno));
		if (buf != NULL)
			munmap(buf, len);
		goto out;
	}
	(void)mprotect(buf, len, PROT_READ);
	br->rom = buf;
	br->rom_len = len;
	rc = 0;
out:
	close(fd);
	return rc;
}

static int
bootrom_load_vars(struct bootrom *br)
{
	const char *key = "lpc.bootvars";
	char why[160];
	size_t len;
	int fd;

	fd = bootrom_open(key, br->vars_path, O_RDWR, &len);
	if (fd < 0)
		return -1;
	if (len < BOOTROM_VARS_MIN || len % BOOTROM_PAGE != 0) {
		fprintf(stderr,
			"bhyve: %s '%s': a variable store must be a multiple "
			"of 4 KiB of at least 24 KiB (this one is %zu "
			"bytes)\n",
			key, br->vars_path, len);
		goto fail;
	}
	if (len > BOOTROM_MAX_TOTAL - br->rom_len) {
		fprintf(stderr,
			"bhyve: %s '%s': the boot ROM (%zu bytes) and the "
			"variable store (%zu bytes) together exceed 16 MiB\n",
			key, br->vars_path, br->rom_len, len);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "bhyve: %s '%s': %s\n", key, br->vars_path,
			errno == EWOULDBLOCK ? "in use by another VM (locked)"
					     : strerror(errno));
		goto fail;
	}
	br->vars = bootrom_alloc(len);
	if (br->vars == NULL || read_all(fd, br->vars, len) != 0) {
		fprintf(stderr, "bhyve: %s '%s': %s\n", key, br->vars_path,
			strerror(errno));
		goto fail;
	}
	br->vars_len = len;
	if (!bootrom_vars_valid(br->vars, len, why, sizeof(why))) {
		fprintf(stderr, "bhyve: %s '%s': %s\n", key, br->vars_path,
			why);
		goto fail;
	}
	br->vars_fd = fd;
	return 0;
fail:
	if (br->vars != NULL)
		munmap(br->vars, len);
	br->vars = NULL;
	br->vars_len = 0;
	close(fd);
	return -1;
}

static int
bootrom_fresh_vars(struct bootrom *br)
{
	size_t len = bootrom_default_vars_len(br->rom_len);

	if (len == 0)
		return 0; /* a ROM that fills its power of two: no store */
	br->vars = bootrom_alloc(len);
	if (br->vars == NULL) {
		fprintf(stderr, "bhyve: lpc.bootrom: variable store: %s\n",
			strerror(errno));
		return -1;
	}
	br->vars_len = len;
	return bootrom_format_vars(br->vars, len);
}

int
bootrom_setup(void)
{
	static const char *const direct[] = {"boot.kernel", "boot.initrd",
					     "boot.cmdline"};
	struct bootrom *br = &bootrom_state;
	int rc = 0;

	bootrom_release();
	br->rom_path = get_config_value("lpc.bootrom");
	br->vars_path = get_config_value("lpc.bootvars");
	if (br->rom_path == NULL) {
		if (br->vars_path != NULL) {
			fprintf(stderr, "bhyve: lpc.bootvars is set without "
					"a boot ROM (lpc.bootrom)\n");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++) {
		if (get_config_value(direct[i]) != NULL) {
			fprintf(stderr,
				"bhyve: %s cannot be used with a boot ROM "
				"(lpc.bootrom): the firmware boots the guest "
				"from its disks\n",
				direct[i]);
			rc = -1;
		}
	}
	if (bootrom_load_rom(br) != 0)
		rc = -1;
	if (br->vars_path != NULL)
		rc |= bootrom_load_vars(br);
	else if (rc == 0)
		rc = bootrom_fresh_vars(br);
	if (rc != 0) {
		bootrom_release();
		return -1;
	}
	bootrom_loaded = true;
	return 0;
}

void
bootrom_release(void)
{
	struct bootrom *br = &bootrom_state;

	if (br->rom != NULL)
		munmap((void *)br->rom, br->rom_len);
	if (br->vars != NULL)
		munmap(br->vars, br->vars_len);
	if (br->vars_fd >= 0)
		close(br->vars_fd);
	*br = (struct bootrom){.vars_fd = -1};
	bootrom_loaded = false;
}
