/*
 * libFuzzer target for the kernel loaders: arbitrary bytes as a kernel
 * image, steered into each loader.  Build and run (from the repo root):
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib/vmmapi -Ibhyve/core -Ibhyve/boot fuzz/fuzz_boot.c \
 *       bhyve/boot/[a-z]*.c bhyve/core/config.c lib/vmmapi/[a-z]*.c -pthread \
 *       -o build/fuzz_boot
 *   build/fuzz_boot -max_total_time=10
 *
 * The first input byte picks the treatment of the rest: as is (the format
 * probes decide), with a bzImage header signature stamped in, with the ELF
 * magic, or behind a valid multiboot header whose flags and address fields
 * come from the input.  The guest is a detached VM (no /dev/kvm needed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "e820.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RAM (48ULL << 20)

static struct vmctx *fuzz_vm;

static void
fuzz_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86 is little-endian */
}

static struct vmctx *
fuzz_get_vm(void)
{
	if (fuzz_vm == NULL) {
		fuzz_vm = vm_create_detached("fuzz");
		if (fuzz_vm == NULL || vm_setup_memory(fuzz_vm, FUZZ_RAM) != 0)
			abort();
		if (e820_init(fuzz_vm) != 0 ||
		    e820_add_reserved(40ULL << 20, 1ULL << 20) != 0)
			abort();
	}
	return fuzz_vm;
}

/* Rewrites the image so that the chosen loader gets past its probe. */
static void
fuzz_shape(uint8_t mode, uint8_t *img, size_t size)
{
	switch (mode % 4) {
	case 1: /* bzImage */
		if (size >= 0x290) {
			img[0x1fe] = 0x55;
			img[0x1ff] = 0xaa;
			memcpy(img + 0x202, "HdrS", 4);
		}
		break;
	case 2: /* ELF, for PVH or multiboot */
		if (size >= 8) {
			memcpy(img, "\177ELF", 4);
			img[5] = 1;
		}
		break;
	case 3: /* multiboot header at a 4-byte aligned offset */
		if (size >= 0x3c + 12) {
			size_t off = (size_t)(img[0] & 0x3c);
			uint32_t flags;

			memcpy(&flags, img + 4, 4);
			fuzz_put32(img + off, 0x1badb002u);
			fuzz_put32(img + off + 4, flags);
			fuzz_put32(img + off + 8, 0u - 0x1badb002u - flags);
		}
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t module[] = "module contents";
	struct boot_module mods[2] = {{module, sizeof(module), "m0"},
				      {module, 3, NULL}};
	struct boot_cpu_state st;
	char err[256];
	uint8_t *img;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	img = malloc(size - 1 + 1);
	if (img == NULL)
		return 0;
	memcpy(img, data + 1, size - 1);
	fuzz_shape(mode, img, size - 1);
	/* The exact size matters: reads past it are what ASan looks for. */
	(void)boot_load_image(
	    fuzz_get_vm(), img, size - 1, mods, (mode >> 2) % 3,
	    (mode & 0x80) ? "console=ttyS0" : NULL, &st, err, sizeof(err));
	free(img);
	return 0;
}
