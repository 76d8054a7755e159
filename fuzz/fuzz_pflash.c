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
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LEN   (24u << 10)
#define GUARD 4096u
#define GPA   0xffc00000ULL

static const int widths[4] = {1, 2, 4, 8};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static struct vmctx *ctx;
	struct fz_input in = {data, size};
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
		uint8_t op = (uint8_t)fz_take(&in, 1);
		uint64_t off, val;
		int w;

		switch (op & 3) {
		case 0:
			off = fz_take(&in, 4) % (LEN + 64);
			w = widths[fz_take(&in, 1) & 3];
			val = fz_take(&in, 8);
			pflash_access(fl, true, off, w, &val);
			break;
		case 1:
			off = fz_take(&in, 4) % (LEN + 64);
			w = widths[fz_take(&in, 1) & 3];
			val = 0;
			pflash_access(fl, false, off, w, &val);
			break;
		case 2:
			off = fz_take(&in, 2);
			val = fz_take(&in, 1);
			/* Through the MMIO dispatch, as the vCPU loop does. */
			mem_emulate(NULL, true, GPA + off % LEN, 1, &val);
			break;
		default:
			val = fz_take(&in, 1);
			pflash_access(fl, true, UINT64_MAX - fz_take(&in, 1), 8,
				      &val);
			break;
		}
		if (vm_devmem_mapped(ctx, 0, NULL) != pflash_read_array(fl))
			abort();
		if (pflash_read_array(fl)) {
			uint64_t o = fz_take(&in, 2) % LEN, v = 0;

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
