/*
 * A small ACPI Machine Language (AML) encoder (ACPI 6.5, chapter 20,
 * "ACPI Machine Language (AML) Specification").  Enough to describe a
 * virtual PC in a DSDT: named objects, integers, strings, buffers,
 * packages, methods that return a constant, Device and Scope blocks, and
 * resource templates (section 6.4, "Resource Data Types for ACPI").
 *
 * Output accumulates in a growable byte buffer.  Constructs that carry a
 * PkgLength (Scope, Device, Method, Package, Buffer) are opened with an
 * aml_*_begin() call that returns a mark and closed with aml_end(mark),
 * which encodes the PkgLength in the fewest bytes (section 20.2.4).
 * Allocation failures and malformed names set a sticky error flag
 * checked once at the end (aml_failed()), so builders need no error path
 * per call.
 */
#ifndef AML_H
#define AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
};

void aml_init(struct aml_buf *b);
void aml_free(struct aml_buf *b);
bool aml_failed(const struct aml_buf *b);

/* Raw bytes (opcodes the builder has no helper for). */
void aml_byte(struct aml_buf *b, uint8_t v);
void aml_bytes(struct aml_buf *b, const void *p, size_t n);

/*
 * A NameString: "\_SB.PC00", "^FOO", "COM1".  Segments shorter than four
 * characters are padded with '_'; a segment must be 1-4 characters of
 * A-Z, 0-9 and '_' and not start with a digit.
 */
void aml_name_string(struct aml_buf *b, const char *name);

/* Integers in their shortest encoding: Zero, One, Byte/Word/DWord/QWord. */
void aml_integer(struct aml_buf *b, uint64_t v);
/* A String constant (ASCII, no NUL inside). */
void aml_string(struct aml_buf *b, const char *s);
/* A compressed EISA id ("PNP0A03") as an integer; section 6.1.5. */
void aml_eisaid(struct aml_buf *b, const char *id);
uint32_t aml_eisaid_value(const char *id);

/* Name(NAME, <object follows>): emit the object after this call. */
void aml_name(struct aml_buf *b, const char *name);
/* Shorthands for Name(NAME, integer / string / EISAID(...)). */
void aml_name_integer(struct aml_buf *b, const char *name, uint64_t v);
void aml_name_string_value(struct aml_buf *b, const char *name, const char *s);
void aml_name_eisaid(struct aml_buf *b, const char *name, const char *id);

/* Blocks with a PkgLength; close each with aml_end(). */
size_t aml_scope_begin(struct aml_buf *b, const char *name);
size_t aml_device_begin(struct aml_buf *b, const char *name);
/* Method(NAME, nargs, serialized) with sync level 0. */
size_t aml_method_begin(struct aml_buf *b, const char *name, int nargs,
			bool serialized);
/* Package(nelem){ ... }: nelem at most 255. */
size_t aml_package_begin(struct aml_buf *b, unsigned int nelem);
void aml_end(struct aml_buf *b, size_t mark);
/* Buffer(){ ... }: closed by aml_buffer_end(), which also inserts the
 * BufferSize operand. */
size_t aml_buffer_begin(struct aml_buf *b);
void aml_buffer_end(struct aml_buf *b, size_t mark);

/* Return(<object follows>). */
void aml_return(struct aml_buf *b);

/*
 * Resource template descriptors (section 6.4), emitted inside a Buffer:
 *
 *	aml_name(b, "_CRS");
 *	m = aml_buffer_begin(b);
 *	aml_res_io(b, 0x3f8, 0x3f8, 1, 8);
 *	aml_res_irq_noflags(b, 1u << 4);
 *	aml_res_end_tag(b);
 *	aml_buffer_end(b, m);
 */
void aml_res_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align,
		uint8_t len);
void aml_res_irq_noflags(struct aml_buf *b, uint16_t mask);
void aml_res_memory32_fixed(struct aml_buf *b, bool writable, uint32_t base,
			    uint32_t len);
/* Address space descriptors for a bridge's windows (ResourceProducer,
 * MinFixed, MaxFixed, PosDecode); 'len' is max - min + 1. */
void aml_res_word_bus_number(struct aml_buf *b, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml_buf *b, uint16_t min, uint16_t max);
/* Cacheable, ReadWrite memory. */
void aml_res_dword_memory(struct aml_buf *b, uint32_t min, uint32_t max);
void aml_res_qword_memory(struct aml_buf *b, uint64_t min, uint64_t max);
void aml_res_end_tag(struct aml_buf *b);

/* Encodes a PkgLength for a total length (its own bytes included) into
 * out[4]; returns the number of bytes, or 0 if it cannot be encoded.
 * 'content' is the length of what follows the PkgLength. */
int aml_pkglength_encode(size_t content, uint8_t out[4]);

#endif
