/*
 * The input reader that fuzz targets driving a device with a "program" of
 * operations share: numbers are taken little-endian from the fuzzer's
 * bytes, and an exhausted input reads as zeros, so that every input,
 * however short, is a whole program.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct fz_input {
	const uint8_t *p;
	size_t n;
};

/* The next 'bytes' (at most 8) input bytes as a little-endian number. */
static inline uint64_t
fz_take(struct fz_input *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++) {
		uint64_t b = 0;

		if (in->n > 0) {
			b = *in->p++;
			in->n--;
		}
		v |= b << (8 * i);
	}
	return v;
}

#endif
