/*
 * The AML encoder, byte for byte against what the reference compiler
 * (ACPICA iasl 20200925) emits for the same ASL:
 *
 *	Name (\I0, Zero) ... Name (\I5, 0x123456789A)
 *	Name (\S0, "abc")
 *	Name (\E0, EisaId ("PNP0A03"))
 *	Scope (\_SB) {
 *	    Device (COM1) {
 *	        Name (_HID, EisaId ("PNP0501"))
 *	        Name (_UID, One)
 *	        Name (_CRS, ResourceTemplate () {
 *	            IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
 *	            IRQNoFlags () {4}
 *	        })
 *	    }
 *	    Device (PC00) {
 *	        Name (_CRS, ResourceTemplate () {
 *	            WordBusNumber (..., 0x0000, 0x00FF, ...)
 *	            WordIO (..., 0x0000, 0x0CF7, ...)
 *	            DWordMemory (..., 0xC0000000, 0xDFFFFFFF, ...)
 *	            QWordMemory (..., 0x800000000, 0xFFFFFFFFF, ...)
 *	            Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400)
 *	        })
 *	        Name (_PRT, Package (0x01) {
 *	            Package (0x04) { 0x0003FFFF, Zero, Zero, 0x10 } })
 *	    }
 *	}
 *	Name (\_S5, Package (0x02) { 0x05, Zero })
 *	Method (\MTH, 0, Serialized) { Return (0x2A) }
 *
 * (the bytes after the 36-byte table header), plus the PkgLength
 * boundaries and malformed names.
 */
#include <stdint.h>
#include <string.h>

#include "aml.h"
#include "test.h"

static const uint8_t iasl_body[] = {
    0x08, 0x5c, 0x49, 0x30, 0x5f, 0x5f, 0x00, 0x08, 0x5c, 0x49, 0x31, 0x5f,
    0x5f, 0x01, 0x08, 0x5c, 0x49, 0x32, 0x5f, 0x5f, 0x0a, 0x12, 0x08, 0x5c,
    0x49, 0x33, 0x5f, 0x5f, 0x0b, 0x34, 0x12, 0x08, 0x5c, 0x49, 0x34, 0x5f,
    0x5f, 0x0c, 0x78, 0x56, 0x34, 0x12, 0x08, 0x5c, 0x49, 0x35, 0x5f, 0x5f,
    0x0e, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x08, 0x5c, 0x53,
    0x30, 0x5f, 0x5f, 0x0d, 0x61, 0x62, 0x63, 0x00, 0x08, 0x5c, 0x45, 0x30,
    0x5f, 0x5f, 0x0c, 0x41, 0xd0, 0x0a, 0x03, 0x10, 0x40, 0x0d, 0x5c, 0x5f,
    0x53, 0x42, 0x5f, 0x5b, 0x82, 0x2b, 0x43, 0x4f, 0x4d, 0x31, 0x08, 0x5f,
    0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x08, 0x5f, 0x55, 0x49,
    0x44, 0x01, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x10, 0x0a, 0x0d, 0x47,
    0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00,
    0x5b, 0x82, 0x4a, 0x09, 0x50, 0x43, 0x30, 0x30, 0x08, 0x5f, 0x43, 0x52,
    0x53, 0x11, 0x4a, 0x07, 0x0a, 0x76, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x0d,
    0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x0c, 0x00, 0x00,
    0xf8, 0x0c, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x20, 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04,
    0x00, 0x00, 0x79, 0x00, 0x08, 0x5f, 0x50, 0x52, 0x54, 0x12, 0x0e, 0x01,
    0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x10,
    0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00,
    0x14, 0x0a, 0x5c, 0x4d, 0x54, 0x48, 0x5f, 0x08, 0xa4, 0x0a, 0x2a,
};

static void
build_reference(struct aml_buf *b)
{
	size_t scope, dev, buf, pkg, inner, meth;

	aml_name_integer(b, "\\I0", 0);
	aml_name_integer(b, "\\I1", 1);
	aml_name_integer(b, "\\I2", 0x12);
	aml_name_integer(b, "\\I3", 0x1234);
	aml_name_integer(b, "\\I4", 0x12345678);
	aml_name_integer(b, "\\I5", 0x123456789aULL);
	aml_name_string_value(b, "\\S0", "abc");
	aml_name_eisaid(b, "\\E0", "PNP0A03");
	scope = aml_scope_begin(b, "\\_SB");
	dev = aml_device_begin(b, "COM1");
	aml_name_eisaid(b, "_HID", "PNP0501");
	aml_name_integer(b, "_UID", 1);
	aml_name(b, "_CRS");
	buf = aml_buffer_begin(b);
	aml_res_io(b, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(b, 1u << 4);
	aml_res_end_tag(b);
	aml_buffer_end(b, buf);
	aml_end(b, dev);
	dev = aml_device_begin(b, "PC00");
	aml_name(b, "_CRS");
	buf = aml_buffer_begin(b);
	aml_res_word_bus_number(b, 0, 0xff);
	aml_res_word_io(b, 0, 0xcf7);
	aml_res_dword_memory(b, 0xc0000000u, 0xdfffffffu);
	aml_res_qword_memory(b, 0x800000000ULL, 0xfffffffffULL);
	aml_res_memory32_fixed(b, false, 0xfed00000u, 0x400);
	aml_res_end_tag(b);
	aml_buffer_end(b, buf);
	aml_name(b, "_PRT");
	pkg = aml_package_begin(b, 1);
	inner = aml_package_begin(b, 4);
	aml_integer(b, 0x0003ffff);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_integer(b, 0x10);
	aml_end(b, inner);
	aml_end(b, pkg);
	aml_end(b, dev);
	aml_end(b, scope);
	aml_name(b, "\\_S5");
	pkg = aml_package_begin(b, 2);
	aml_integer(b, 5);
	aml_integer(b, 0);
	aml_end(b, pkg);
	meth = aml_method_begin(b, "\\MTH", 0, true);
	aml_return(b);
	aml_integer(b, 0x2a);
	aml_end(b, meth);
}

static void
test_reference(void)
{
	struct aml_buf b;
	size_t first = 0;

	aml_init(&b);
	build_reference(&b);
	CHECK(!aml_failed(&b), "aml: reference block builds");
	CHECK_EQ_U64(b.len, sizeof(iasl_body), "aml: length matches iasl");
	if (b.len == sizeof(iasl_body)) {
		while (first < b.len && b.data[first] == iasl_body[first])
			first++;
	}
	CHECK_EQ_U64(first, sizeof(iasl_body),
		     "aml: bytes match iasl (first difference)");
	aml_free(&b);
}

static void
test_pkglength(void)
{
	uint8_t pl[4];

	/* Content 62 + 1 byte = 63: the largest one-byte length. */
	CHECK_EQ_U64(aml_pkglength_encode(62, pl), 1, "aml: 63 in one byte");
	CHECK_EQ_U64(pl[0], 63, "aml: one-byte value");
	/* Content 63 needs two bytes: total 65 = 0x41. */
	CHECK_EQ_U64(aml_pkglength_encode(63, pl), 2, "aml: 65 in two bytes");
	CHECK(pl[0] == 0x41 && pl[1] == 0x04, "aml: two-byte 0x41");
	CHECK_EQ_U64(aml_pkglength_encode(0xffd, pl), 2,
		     "aml: 0xfff in two bytes");
	CHECK(pl[0] == 0x4f && pl[1] == 0xff, "aml: two-byte 0xfff");
	CHECK_EQ_U64(aml_pkglength_encode(0xffe, pl), 3,
		     "aml: 0x1001 in three bytes");
	CHECK(pl[0] == 0x81 && pl[1] == 0x00 && pl[2] == 0x01,
	      "aml: three-byte 0x1001");
	CHECK_EQ_U64(aml_pkglength_encode(0xffffc, pl), 3,
		     "aml: 0xfffff in three bytes");
	CHECK_EQ_U64(aml_pkglength_encode(0xffffd, pl), 4,
		     "aml: 0x100001 in four bytes");
	CHECK(pl[0] == 0xc1 && pl[1] == 0x00 && pl[2] == 0x00 && pl[3] == 0x01,
	      "aml: four-byte 0x100001");
	CHECK_EQ_U64(aml_pkglength_encode(0x10000000, pl), 0,
		     "aml: 2^28 cannot be encoded");
}

/* A 100-byte device body: the PkgLength grows to two bytes in place. */
static void
test_pkglength_in_place(void)
{
	struct aml_buf b;
	size_t m;
	char name[5];

	aml_init(&b);
	m = aml_device_begin(&b, "BIG");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "N%03d", i);
		aml_name_integer(&b, name, 0x1234); /* 8 bytes each */
	}
	aml_end(&b, m);
	CHECK(!aml_failed(&b), "aml: big device builds");
	/* 5B 82 <pkglen 2> "BIG_" 80 bytes: total 2 + 4 + 80 = 86. */
	CHECK_EQ_U64(b.len, 2 + 2 + 4 + 80, "aml: big device length");
	CHECK(b.len > 4 && b.data[2] == (0x40 | (86 & 0xf)) &&
		  b.data[3] == (86 >> 4),
	      "aml: big device PkgLength");
	CHECK(b.len > 8 && memcmp(b.data + 4, "BIG_", 4) == 0,
	      "aml: name follows the PkgLength");
	aml_free(&b);
}

static void
test_names(void)
{
	static const uint8_t multi[] = {0x5c, 0x2f, 0x03, '_', 'S',
					'B',  '_',  'P',  'C', '0',
					'0',  'I',  'S',  'A', '_'};
	static const uint8_t parent[] = {0x5e, 0x5e, 'F', 'O', 'O', '_'};
	struct aml_buf b;

	aml_init(&b);
	aml_name_string(&b, "\\_SB.PC00.ISA");
	CHECK(!aml_failed(&b) && b.len == sizeof(multi) &&
		  memcmp(b.data, multi, sizeof(multi)) == 0,
	      "aml: three segments use MultiNamePrefix");
	aml_free(&b);
	aml_init(&b);
	aml_name_string(&b, "^^FOO");
	CHECK(!aml_failed(&b) && b.len == sizeof(parent) &&
		  memcmp(b.data, parent, sizeof(parent)) == 0,
	      "aml: parent prefixes");
	aml_free(&b);

	static const char *const bad[] = {"lower", "TOOLONG", "1ABC",
					  "A..B",  "AB.",     "A-B"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&b);
		aml_name_string(&b, bad[i]);
		CHECK(aml_failed(&b), "aml: malformed name refused");
		aml_free(&b);
	}
	aml_init(&b);
	aml_eisaid(&b, "pnp0a03");
	CHECK(aml_failed(&b), "aml: lower-case EISA id refused");
	aml_free(&b);
	CHECK_EQ_U64(aml_eisaid_value("PNP0A03"), 0x030ad041,
		     "aml: EISAID(PNP0A03)");
	CHECK_EQ_U64(aml_eisaid_value("PNP0B00"), 0x000bd041,
		     "aml: EISAID(PNP0B00)");
}

static void
test_integers(void)
{
	static const struct {
		uint64_t v;
		uint8_t len;
		uint8_t op;
	} cases[] = {
	    {0, 1, 0x00},	   {1, 1, 0x01},	  {2, 2, 0x0a},
	    {0xff, 2, 0x0a},	   {0x100, 3, 0x0b},	  {0xffff, 3, 0x0b},
	    {0x10000, 5, 0x0c},	   {0xffffffff, 5, 0x0c}, {1ULL << 32, 9, 0x0e},
	    {UINT64_MAX, 9, 0x0e},
	};
	struct aml_buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		aml_init(&b);
		aml_integer(&b, cases[i].v);
		CHECK(b.len == cases[i].len && b.data[0] == cases[i].op,
		      "aml: integer uses the shortest encoding");
		aml_free(&b);
	}
}

int
main(void)
{
	test_reference();
	test_pkglength();
	test_pkglength_in_place();
	test_names();
	test_integers();
	return test_done();
}
