/*
 * Direct kernel boot, the dispatcher on top of bhyve/boot/: reads the
 * kernel and its modules, and hands the image to the first loader in the
 * table whose probe accepts it.  Everything below (the loaders, their
 * shared layer boot_load.c, the CPU state in boot_state.c, e820.c) is
 * called from here and never calls back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_load.h"
#include "boot_loader.h"
#include "config.h"
#include "e820.h"
#include "vmmapi.h"

/*
 * Tried in this order (docs/boot.md), so that a bzImage or a PVH vmlinux
 * that also carries a multiboot header boots through its native protocol.
 */
static const struct boot_loader *const boot_loaders[] = {
    &bzimage_loader,
    &pvh_loader,
    &multiboot_loader,
};

/* The loader whose probe accepts the image, or NULL. */
static const struct boot_loader *
boot_find_loader(const uint8_t *img, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(boot_loaders) / sizeof(boot_loaders[0]); i++) {
		if (boot_loaders[i]->probe(img, size))
			return boot_loaders[i];
	}
	return NULL;
}

int
boot_load_image(struct vmctx *ctx, const void *kernel, size_t klen,
		const struct boot_module *mods, int nmods, const char *cmdline,
		struct boot_cpu_state *st, char *err, size_t errlen)
{
	const struct boot_loader *loader;
	struct boot_ctx *bc;
	int rc;

	memset(st, 0, sizeof(*st));
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*bc = (struct boot_ctx){.vm = ctx,
				.img = kernel,
				.img_size = klen,
				.mods = mods,
				.nmods = nmods,
				.cmdline = cmdline != NULL ? cmdline : "",
				.st = st,
				.err = err,
				.errlen = errlen};
	if (nmods < 0 || nmods > BOOT_MAX_MODULES)
		rc = boot_error(bc, "at most %d modules", BOOT_MAX_MODULES);
	else if (!e820_initialized_for(ctx) && e820_init(ctx) != 0)
		rc = boot_error(bc, "guest memory is too small to boot a "
				    "kernel (need more than 1 MiB)");
	else if ((loader = boot_find_loader(bc->img, klen)) != NULL)
		rc = loader->load(bc);
	else
		rc = boot_error(bc, "unrecognized kernel format (not a "
				    "bzImage, PVH ELF or multiboot kernel)");
	free(bc);
	/* A loader may have tried a place that failed before one that did. */
	if (rc == 0 && errlen > 0)
		err[0] = '\0';
	return rc;
}

/* Reads a whole file; it cannot be larger than guest RAM anyway. */
static int
boot_read_file(const char *path, uint64_t max, uint8_t **data, size_t *size,
	       char *err, size_t errlen)
{
	struct stat sb;
	uint8_t *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)sb.st_size > max || (uint64_t)sb.st_size > SIZE_MAX) {
		snprintf(err, errlen, "%s: %lld bytes is larger than guest RAM",
			 path, (long long)sb.st_size);
		close(fd);
		return -1;
	}
	buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path,
				 n < 0 ? strerror(errno)
				       : "file shrank while read");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*size = got;
	return 0;
}

int
boot_load_files(struct vmctx *ctx, const struct boot_files *files,
		struct boot_cpu_state *st, char *err, size_t errlen)
{
	struct boot_module mods[BOOT_MAX_MODULES];
	uint8_t *kernel = NULL;
	size_t klen = 0;
	uint64_t ram;
	char *list = NULL, *path, *save = NULL;
	int i, nmods = 0, rc = -1;

	memset(st, 0, sizeof(*st));
	if (files->kernel == NULL || files->kernel[0] == '\0') {
		snprintf(err, errlen, "no kernel given (boot.kernel)");
		return -1;
	}
	ram = vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx);
	if (boot_read_file(files->kernel, ram, &kernel, &klen, err, errlen) !=
	    0)
		return -1;
	if (files->initrd != NULL && files->initrd[0] != '\0') {
		list = strdup(files->initrd);
		if (list == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (path = strtok_r(list, ",", &save); path != NULL;
		     path = strtok_r(NULL, ",", &save)) {
			uint8_t *data;
			size_t len;

			if (nmods == BOOT_MAX_MODULES) {
				snprintf(err, errlen, "at most %d modules",
					 BOOT_MAX_MODULES);
				goto out;
			}
			if (boot_read_file(path, ram, &data, &len, err,
					   errlen) != 0)
				goto out;
			mods[nmods++] = (struct boot_module){data, len, path};
		}
	}
	rc = boot_load_image(ctx, kernel, klen, mods, nmods, files->cmdline, st,
			     err, errlen);
	if (rc != 0 && errlen > 0) {
		/* Say which file the complaint is about. */
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", files->kernel, tmp);
	}
out:
	for (i = 0; i < nmods; i++)
		free((void *)mods[i].data);
	free(list);
	free(kernel);
	return rc;
}

int
boot_load(struct vmctx *ctx, struct boot_cpu_state *st, char *err,
	  size_t errlen)
{
	struct boot_files files = {
	    .kernel = get_config_value("boot.kernel"),
	    .initrd = get_config_value("boot.initrd"),
	    .cmdline = get_config_value("boot.cmdline"),
	};

	return boot_load_files(ctx, &files, st, err, errlen);
}
