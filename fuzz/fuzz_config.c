/*
 * libFuzzer target for the configuration tree and the bhyve(8) command
 * line: -k file parsing, -o keys, %() expansion and every flag parser.
 *
 * Build: "make fuzz" (build-fuzz/fuzz_config; it links every bhyve
 * object, so that "-s" finds each device model's declaration).
 * Run, seeded with realistic command lines and -k files:
 *   ./fuzz_config -max_total_time=60 -close_fd_mask=2 fuzz/corpus_config/
 * (-close_fd_mask=2 silences the "bhyve: ..." lines of bad inputs;
 * libFuzzer still reports crashes.)
 *
 * Input: the first byte picks the mode; the rest is either the text of a
 * -k file (mode even) or NUL-separated argv words (mode odd).  After a
 * successful parse the whole tree is dumped (every value expanded) and
 * the device check is run, as bhyverun.c would.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmdline.h"
#include "config.h"
#include "config_vm.h"
#include "pci_models.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fuzz_null;

static void
fuzz_after_parse(void)
{
	uint64_t bytes;

	dump_config(fuzz_null);
	(void)config_get_memsize(&bytes);
	(void)get_config_bool_default("config.dump", false);
	(void)pci_check_models_implemented();
}

/* The body as a -k file, through a memfd so no real file is touched. */
static void
fuzz_file(const uint8_t *data, size_t size)
{
	char path[64], err[256];
	int fd = memfd_create("fuzz_config", 0);

	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		init_config();
		if (load_config_file(path, err, sizeof(err)) == 0)
			(void)config_check_expansions(err, sizeof(err));
		dump_config(fuzz_null);
	}
	close(fd);
}

/* The body as argv; words naming devices or proc files are skipped. */
static void
fuzz_args(const uint8_t *data, size_t size)
{
	char *buf, *argv[FUZZ_MAX_ARGS + 2], *p, *end;
	int argc = 0;

	buf = malloc(size + 1);
	if (buf == NULL)
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* -k /dev/stdin would block; -k /proc/... is slow and pointless. */
	if (memmem(buf, size, "/dev", 4) != NULL ||
	    memmem(buf, size, "/proc", 5) != NULL ||
	    memmem(buf, size, "/sys", 4) != NULL)
		goto out;
	argv[argc++] = "bhyve";
	for (p = buf, end = buf + size; p <= end && argc < FUZZ_MAX_ARGS;) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	init_config();
	if (bhyve_parse_args(argc, argv) == 0)
		fuzz_after_parse();
out:
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_null == NULL) {
		fuzz_null = fopen("/dev/null", "w");
		/* -h and -s help print to stdout; keep the log readable. */
		if (freopen("/dev/null", "w", stdout) == NULL)
			return 0;
	}
	if (size < 1 || fuzz_null == NULL)
		return 0;
	if (data[0] & 1)
		fuzz_args(data + 1, size - 1);
	else
		fuzz_file(data + 1, size - 1);
	fini_config();
	return 0;
}
