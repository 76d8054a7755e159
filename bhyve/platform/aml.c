/*
 * AML encoder; see aml.h.  Opcode values are from ACPI 6.5 section 20.3
 * ("AML Byte Stream Byte Values"), resource descriptor layouts from
 * section 6.4.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"

#define AML_ZERO_OP	      0x00
#define AML_ONE_OP	      0x01
#define AML_NAME_OP	      0x08
#define AML_BYTE_PREFIX	      0x0a
#define AML_WORD_PREFIX	      0x0b
#define AML_DWORD_PREFIX      0x0c
#define AML_STRING_PREFIX     0x0d
#define AML_QWORD_PREFIX      0x0e
#define AML_SCOPE_OP	      0x10
#define AML_BUFFER_OP	      0x11
#define AML_PACKAGE_OP	      0x12
#define AML_METHOD_OP	      0x14
#define AML_DUAL_NAME_PREFIX  0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX     0x5b
#define AML_DEVICE_OP	      0x82 /* after the extended prefix */
#define AML_ROOT_CHAR	      '\\'
#define AML_PARENT_CHAR	      '^'
#define AML_RETURN_OP	      0xa4

/* Room reserved for a PkgLength before the content is known. */
#define AML_PKGLEN_MAX 4

/* Resource descriptor tags (section 6.4.2 small, 6.4.3 large). */
#define RES_IRQ_NOFLAGS	 0x22 /* small item 0x4, length 2 */
#define RES_IO		 0x47 /* small item 0x8, length 7 */
#define RES_END_TAG	 0x79 /* small item 0xf, length 1 */
#define RES_MEM32_FIXED	 0x86
#define RES_DWORD_ADDR	 0x87
#define RES_WORD_ADDR	 0x88
#define RES_QWORD_ADDR	 0x8a
#define RES_SPACE_MEMORY 0
#define RES_SPACE_IO	 1
#define RES_SPACE_BUS	 2
/* General flags: producer (bit 0 clear), PosDecode, MinFixed, MaxFixed. */
#define RES_GEN_FIXED_PRODUCER 0x0c
/* Type-specific flags: I/O EntireRange; memory Cacheable + ReadWrite. */
#define RES_IO_ENTIRE_RANGE  0x03
#define RES_MEM_CACHEABLE_RW 0x03

void
aml_init(struct aml_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
aml_free(struct aml_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

bool
aml_failed(const struct aml_buf *b)
{
	return b->failed;
}

static bool
aml_reserve(struct aml_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	cap = b->cap != 0 ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
aml_bytes(struct aml_buf *b, const void *p, size_t n)
{
	if (n == 0 || !aml_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_bytes(b, &v, 1);
}

static void
aml_le(struct aml_buf *b, uint64_t v, int n)
{
	uint8_t tmp[8];

	for (int i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(b, tmp, (size_t)n);
}

/* LeadNameChar := 'A'-'Z' | '_'; NameChar adds '0'-'9' (20.2.2). */
static bool
aml_seg_valid(const char *s, size_t n)
{
	if (n == 0 || n > 4 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

void
aml_name_string(struct aml_buf *b, const char *name)
{
	const char *p = name, *dot;
	char segs[255][4];
	size_t nseg = 0, n;

	if (*p == AML_ROOT_CHAR) {
		aml_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_CHAR) {
			aml_byte(b, AML_PARENT_CHAR);
			p++;
		}
	}
	while (*p != '\0') {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (!aml_seg_valid(p, n) || nseg == 255) {
			b->failed = true;
			return;
		}
		memset(segs[nseg], '_', 4);
		memcpy(segs[nseg], p, n);
		nseg++;
		p += n;
		if (*p == '.' && *++p == '\0') {
			b->failed = true; /* trailing dot */
			return;
		}
	}
	/* NamePath := NameSeg | DualNamePath | MultiNamePath | NullName. */
	if (nseg == 0) {
		aml_byte(b, 0x00);
		return;
	}
	if (nseg == 2) {
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nseg);
	}
	aml_bytes(b, segs, 4 * nseg);
}

void
aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0) {
		aml_byte(b, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(b, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		aml_le(b, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		aml_le(b, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(b, AML_DWORD_PREFIX);
		aml_le(b, v, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		aml_le(b, v, 8);
	}
}

void
aml_string(struct aml_buf *b, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		/* AsciiCharList: 0x01-0x7f. */
		if ((unsigned char)*p > 0x7f) {
			b->failed = true;
			return;
		}
	}
	aml_byte(b, AML_STRING_PREFIX);
	aml_bytes(b, s, strlen(s) + 1);
}

/*
 * Three letters of five bits each ('A' = 1) and four hex digits, stored
 * big-endian in the 32-bit integer (section 19.6.41, EISAID macro).
 */
uint32_t
aml_eisaid_value(const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v = v << 5 | (uint32_t)(id[i] - '@');
	}
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return 0;
		v = v << 4 | d;
	}
	return __builtin_bswap32(v);
}

void
aml_eisaid(struct aml_buf *b, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (v == 0) {
		b->failed = true;
		return;
	}
	/* Always a DWord, as iasl emits EISAID(). */
	aml_byte(b, AML_DWORD_PREFIX);
	aml_le(b, v, 4);
}

void
aml_name(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	aml_name_string(b, name);
}

void
aml_name_integer(struct aml_buf *b, const char *name, uint64_t v)
{
	aml_name(b, name);
	aml_integer(b, v);
}

void
aml_name_string_value(struct aml_buf *b, const char *name, const char *s)
{
	aml_name(b, name);
	aml_string(b, s);
}

void
aml_name_eisaid(struct aml_buf *b, const char *name, const char *id)
{
	aml_name(b, name);
	aml_eisaid(b, id);
}

/*
 * PkgLength (20.2.4): one byte holds lengths up to 63; otherwise bits
 * 7-6 of the lead byte count the following bytes (1-3), its low nibble
 * holds bits 3-0 and each following byte the next eight bits.  The
 * length counts the PkgLength bytes themselves.
 */
int
aml_pkglength_encode(size_t content, uint8_t out[4])
{
	for (int n = 1; n <= AML_PKGLEN_MAX; n++) {
		size_t total = content + (size_t)n;
		size_t max =
		    n == 1 ? 0x3f : ((size_t)1 << (4 + 8 * (n - 1))) - 1;

		if (total < content || total > max)
			continue;
		if (n == 1) {
			out[0] = (uint8_t)total;
			return 1;
		}
		out[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
		for (int i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

/* Inserts 'n' bytes at offset 'at', moving what follows. */
static void
aml_insert(struct aml_buf *b, size_t at, const uint8_t *p, size_t n)
{
	if (at > b->len || !aml_reserve(b, n))
		return;
	memmove(b->data + at + n, b->data + at, b->len - at);
	memcpy(b->data + at, p, n);
	b->len += n;
}

void
aml_end(struct aml_buf *b, size_t mark)
{
	uint8_t pl[AML_PKGLEN_MAX];
	int n;

	if (b->failed || mark > b->len) {
		b->failed = true;
		return;
	}
	n = aml_pkglength_encode(b->len - mark, pl);
	if (n == 0) {
		b->failed = true;
		return;
	}
	aml_insert(b, mark, pl, (size_t)n);
}

size_t
aml_scope_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_SCOPE_OP);
	mark = b->len;
	aml_name_string(b, name);
	return mark;
}

size_t
aml_device_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_DEVICE_OP);
	mark = b->len;
	aml_name_string(b, name);
	return mark;
}

size_t
aml_method_begin(struct aml_buf *b, const char *name, int nargs,
		 bool serialized)
{
	size_t mark;

	if (nargs < 0 || nargs > 7)
		b->failed = true;
	aml_byte(b, AML_METHOD_OP);
	mark = b->len;
	aml_name_string(b, name);
	/* MethodFlags: ArgCount (bits 2-0), SerializeFlag (bit 3). */
	aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t
aml_package_begin(struct aml_buf *b, unsigned int nelem)
{
	size_t mark;

	if (nelem > 255)
		b->failed = true;
	aml_byte(b, AML_PACKAGE_OP);
	mark = b->len;
	aml_byte(b, (uint8_t)nelem);
	return mark;
}

size_t
aml_buffer_begin(struct aml_buf *b)
{
	aml_byte(b, AML_BUFFER_OP);
	return b->len;
}

void
aml_buffer_end(struct aml_buf *b, size_t mark)
{
	struct aml_buf size;

	if (b->failed || mark > b->len) {
		b->failed = true;
		return;
	}
	/* BufferSize is a TermArg inside the PkgLength: insert it first. */
	aml_init(&size);
	aml_integer(&size, b->len - mark);
	if (size.failed) {
		b->failed = true;
	} else {
		aml_insert(b, mark, size.data, size.len);
		aml_end(b, mark);
	}
	aml_free(&size);
}

void
aml_return(struct aml_buf *b)
{
	aml_byte(b, AML_RETURN_OP);
}

/* 6.4.2.5 I/O Port Descriptor, 16-bit decode. */
void
aml_res_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align,
	   uint8_t len)
{
	aml_byte(b, RES_IO);
	aml_byte(b, 0x01); /* Decode16 */
	aml_le(b, min, 2);
	aml_le(b, max, 2);
	aml_byte(b, align);
	aml_byte(b, len);
}

/* 6.4.2.1 IRQ Descriptor without the flags byte: edge, active-high. */
void
aml_res_irq_noflags(struct aml_buf *b, uint16_t mask)
{
	aml_byte(b, RES_IRQ_NOFLAGS);
	aml_le(b, mask, 2);
}

/* 6.4.3.4 32-Bit Fixed Memory Range Descriptor. */
void
aml_res_memory32_fixed(struct aml_buf *b, bool writable, uint32_t base,
		       uint32_t len)
{
	aml_byte(b, RES_MEM32_FIXED);
	aml_le(b, 9, 2);
	aml_byte(b, writable ? 1 : 0);
	aml_le(b, base, 4);
	aml_le(b, len, 4);
}

/*
 * 6.4.3.5 Address Space Descriptors: tag, length, resource type, general
 * flags, type-specific flags, then granularity, minimum, maximum,
 * translation offset and length, each 'width' bytes.
 */
static void
aml_res_addr(struct aml_buf *b, uint8_t tag, int width, uint8_t type,
	     uint8_t tflags, uint64_t min, uint64_t max)
{
	aml_byte(b, tag);
	aml_le(b, 3 + 5 * (uint64_t)width, 2);
	aml_byte(b, type);
	aml_byte(b, RES_GEN_FIXED_PRODUCER);
	aml_byte(b, tflags);
	aml_le(b, 0, width);
	aml_le(b, min, width);
	aml_le(b, max, width);
	aml_le(b, 0, width);
	aml_le(b, max - min + 1, width);
	if (max < min)
		b->failed = true;
}

void
aml_res_word_bus_number(struct aml_buf *b, uint16_t min, uint16_t max)
{
	aml_res_addr(b, RES_WORD_ADDR, 2, RES_SPACE_BUS, 0, min, max);
}

void
aml_res_word_io(struct aml_buf *b, uint16_t min, uint16_t max)
{
	aml_res_addr(b, RES_WORD_ADDR, 2, RES_SPACE_IO, RES_IO_ENTIRE_RANGE,
		     min, max);
}

void
aml_res_dword_memory(struct aml_buf *b, uint32_t min, uint32_t max)
{
	aml_res_addr(b, RES_DWORD_ADDR, 4, RES_SPACE_MEMORY,
		     RES_MEM_CACHEABLE_RW, min, max);
}

void
aml_res_qword_memory(struct aml_buf *b, uint64_t min, uint64_t max)
{
	aml_res_addr(b, RES_QWORD_ADDR, 8, RES_SPACE_MEMORY,
		     RES_MEM_CACHEABLE_RW, min, max);
}

/* 6.4.2.9 End Tag: a zero checksum means "treat as valid". */
void
aml_res_end_tag(struct aml_buf *b)
{
	aml_byte(b, RES_END_TAG);
	aml_byte(b, 0x00);
}
