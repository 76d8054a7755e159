/*
 * libFuzzer target for the boot ROM's CFI flash (pflash.c): the input is a
 * program of guest accesses at arbitrary offsets and widths, inside and
 * outside the array.  Checked invariants: nothing outside the array is
 * ever written (guard pages around it stay intact), the read-only slot is
 * mapped exactly when the device is in read-array mode, and array-mode
 * reads return the array's bytes.
 *
 * Build and run: make fuzz; build-fuzz/fuzz_pflash -max_total_time=10
 *
 * Program bytes: op = byte & 3, operands follow (missing ones read as 0).
 *   0 write  off32, size, val64     1 read  off32, size
 *   2 command byte at off16          3 write at a huge offset
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem.h"
#include "pflash.h"
#include "vmmapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LEN   (24u << 10)
#define GUARD 4096u
#define GPA   0xffc00000ULL

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t
take(struct input *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;

		if (in->n > 0) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static const int widths[4] = {1, 2, 4, 8};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static struct vmctx *ctx;
	struct input in = {data, size};
	struct pflash *fl;
	uint8_t *array;

	if (mem == NULL) {
		mem = mmap(NULL, LEN + 2 * GUARD, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			abort();
	}
	ctx = vm_create_detached("fuzz-pflash");
	init_mem();
	memset(mem, 0xa5, LEN + 2 * GUARD);
	array = mem + GUARD;
	memset(array, 0xff, LEN / 2);
	fl = pflash_create(ctx, GPA, array, LEN, -1);
	if (fl == NULL)
		abort();
	while (in.n > 0) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint64_t off, val;
		int w;

		switch (op & 3) {
		case 0:
			off = take(&in, 4) % (LEN + 64);
			w = widths[take(&in, 1) & 3];
			val = take(&in, 8);
			pflash_access(fl, true, off, w, &val);
			break;
		case 1:
			off = take(&in, 4) % (LEN + 64);
			w = widths[take(&in, 1) & 3];
			val = 0;
			pflash_access(fl, false, off, w, &val);
			break;
		case 2:
			off = take(&in, 2);
			val = take(&in, 1);
			/* Through the MMIO dispatch, as the vCPU loop does. */
			mem_emulate(NULL, true, GPA + off % LEN, 1, &val);
			break;
		default:
			val = take(&in, 1);
			pflash_access(fl, true, UINT64_MAX - take(&in, 1), 8,
				      &val);
			break;
		}
		if (vm_devmem_mapped(ctx, 0, NULL) != pflash_read_array(fl))
			abort();
		if (pflash_read_array(fl)) {
			uint64_t o = take(&in, 2) % LEN, v = 0;

			pflash_access(fl, false, o, 1, &v);
			if ((uint8_t)v != array[o])
				abort();
		}
	}
	for (size_t i = 0; i < GUARD; i++) {
		if (mem[i] != 0xa5 || mem[GUARD + LEN + i] != 0xa5)
			abort();
	}
	pflash_destroy(fl);
	vm_destroy(ctx);
	return 0;
}
