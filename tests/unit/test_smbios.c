/*
 * SMBIOS: built into a detached VM (no /dev/kvm) and parsed back the way
 * dmidecode does: both entry points found by scanning 0xF0000-0xFFFFF
 * with valid checksums, every structure's formatted area and string set
 * walked to the end-of-table marker, the -B strings and the -U UUID (in
 * SMBIOS byte order) in place, one processor per socket, memory sizes
 * matching the VM.
 */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "smbios.h"
#include "test.h"
#include "test_util.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

struct smb_walk {
	int count, n0, n1, n3, n4, n16, n17, n19, n32, n127;
	const uint8_t *t1, *t0, *t16, *t17;
	const uint8_t *t19[2];
	bool sane;
};

/* String 'n' (1-based) of the structure at s, or NULL. */
static const char *
smb_string(const uint8_t *s, const uint8_t *end, int n)
{
	const char *p = (const char *)s + s[1];

	if (n == 0)
		return NULL;
	while (--n > 0) {
		p += strlen(p) + 1;
		if ((const uint8_t *)p >= end || *p == '\0')
			return NULL;
	}
	return p;
}

static void
smb_walk(const uint8_t *t, size_t len, struct smb_walk *w)
{
	const uint8_t *p = t, *end = t + len;

	memset(w, 0, sizeof(*w));
	w->sane = true;
	while (p + 4 <= end) {
		const uint8_t *q = p + p[1];

		if (p[1] < 4 || q + 2 > end) {
			w->sane = false;
			return;
		}
		while (q + 1 < end && !(q[0] == 0 && q[1] == 0))
			q++;
		if (q + 1 >= end) {
			w->sane = false;
			return;
		}
		w->count++;
		switch (p[0]) {
		case 0:
			w->n0++;
			w->t0 = p;
			break;
		case 1:
			w->n1++;
			w->t1 = p;
			break;
		case 3:
			w->n3++;
			break;
		case 4:
			w->n4++;
			break;
		case 16:
			w->n16++;
			w->t16 = p;
			break;
		case 17:
			w->n17++;
			w->t17 = p;
			break;
		case 19:
			if (w->n19 < 2)
				w->t19[w->n19] = p;
			w->n19++;
			break;
		case 32:
			w->n32++;
			break;
		case 127:
			w->n127++;
			break;
		}
		p = q + 2;
		if (w->n127 > 0)
			break; /* the end-of-table structure */
	}
	w->sane = w->sane && p == end;
}

static uint64_t
scan(struct vmctx *ctx, const char *sig, size_t siglen)
{
	for (uint64_t a = 0xf0000; a < 0x100000; a += 16) {
		const uint8_t *p = vm_map_gpa(ctx, a, 32);

		if (p != NULL && memcmp(p, sig, siglen) == 0)
			return a;
	}
	return 0;
}

static void
test_tables(void)
{
	static const uint8_t want_uuid[16] = {
	    0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
	    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	struct vmctx *ctx = vm_create_detached("smb");
	const uint8_t *ep3, *ep2, *t, *end;
	struct smb_walk w;
	uint64_t a3, a2, len;

	CHECK(ctx != NULL, "smbios: detached VM");
	if (ctx == NULL)
		return;
	vm_set_lowmem_limit(ctx, 2 * GiB);
	CHECK(vm_setup_memory(ctx, 3 * GiB) == 0, "smbios: 3 GiB VM");
	vm_set_topology(ctx, 2, 2, 2, 8);
	init_config();
	set_config_value("name", "vm1");
	set_config_value("uuid", "00112233-4455-6677-8899-aabbccddeeff");
	set_config_value("system.product_name", "Beehive Test");
	set_config_value("bios.vendor", "Bees");
	CHECK(smbios_build(ctx) == 0, "smbios: build");
	a3 = scan(ctx, "_SM3_", 5);
	a2 = scan(ctx, "_SM_", 4);
	CHECK_EQ_U64(a3, SMBIOS_EP30_ADDR, "smbios: _SM3_ found by scan");
	CHECK_EQ_U64(a2, SMBIOS_EP21_ADDR, "smbios: _SM_ found by scan");
	ep3 = vm_map_gpa(ctx, SMBIOS_EP30_ADDR, 24);
	ep2 = vm_map_gpa(ctx, SMBIOS_EP21_ADDR, 31);
	if (ep3 == NULL || ep2 == NULL)
		return;
	CHECK(test_sum8(ep3, ep3[6]) == 0 && ep3[6] == 24 && ep3[7] == 3,
	      "smbios: 3.0 entry point checksum and version");
	CHECK(test_sum8(ep2, ep2[5]) == 0 && test_sum8(ep2 + 16, 15) == 0 &&
		  memcmp(ep2 + 16, "_DMI_", 5) == 0,
	      "smbios: 2.1 entry point checksums");
	CHECK(test_le(ep3 + 16, 8) == test_le(ep2 + 24, 4) &&
		  test_le(ep3 + 12, 4) == test_le(ep2 + 22, 2),
	      "smbios: both entry points describe one table");
	len = test_le(ep3 + 12, 4);
	t = vm_map_gpa(ctx, test_le(ep3 + 16, 8), len);
	CHECK(t != NULL, "smbios: table in RAM");
	if (t == NULL)
		return;
	end = t + len;
	smb_walk(t, len, &w);
	CHECK(w.sane, "smbios: every structure well formed up to type 127");
	CHECK_EQ_U64(w.count, test_le(ep2 + 28, 2), "smbios: structure count");
	CHECK(w.n0 == 1 && w.n1 == 1 && w.n3 == 1 && w.n16 == 1 && w.n17 == 1 &&
		  w.n32 == 1 && w.n127 == 1,
	      "smbios: types 0, 1, 3, 16, 17, 32, 127");
	CHECK_EQ_U64(w.n4, 2, "smbios: one type 4 per socket");
	CHECK_EQ_U64(w.n19, 2, "smbios: type 19 for low and high memory");
	if (w.t1 != NULL) {
		CHECK(memcmp(w.t1 + 8, want_uuid, 16) == 0,
		      "smbios: -U UUID in SMBIOS byte order");
		CHECK_STR(smb_string(w.t1, end, w.t1[5]), "Beehive Test",
			  "smbios: system.product_name");
		CHECK_STR(smb_string(w.t1, end, w.t1[4]), "FreeBSD",
			  "smbios: default manufacturer");
	}
	if (w.t0 != NULL)
		CHECK_STR(smb_string(w.t0, end, w.t0[4]), "Bees",
			  "smbios: bios.vendor");
	if (w.t16 != NULL)
		CHECK_EQ_U64(test_le(w.t16 + 7, 4), 3 * GiB >> 10,
			     "smbios: type 16 capacity");
	if (w.t17 != NULL)
		CHECK_EQ_U64(test_le(w.t17 + 12, 2), 3072,
			     "smbios: type 17 MiB");
	if (w.t19[0] != NULL && w.t19[1] != NULL)
		CHECK(test_le(w.t19[0] + 8, 4) == (2 * GiB >> 10) - 1 &&
			  test_le(w.t19[1] + 4, 4) == (4 * GiB >> 10) &&
			  test_le(w.t19[1] + 8, 4) == (5 * GiB >> 10) - 1,
		      "smbios: type 19 ranges");
	CHECK(smbios_get_image() != NULL &&
		  smbios_get_image()->tables_len == len &&
		  memcmp(smbios_get_image()->anchor, "_SM3_", 5) == 0 &&
		  test_le(smbios_get_image()->anchor + 16, 8) == 0,
	      "smbios: fw_cfg image and anchor");
	smbios_reset();
	fini_config();
	vm_destroy(ctx);
}

static void
test_uuid(void)
{
	uint8_t a[16], b[16], c[16];

	init_config();
	set_config_value("name", "alpha");
	CHECK(smbios_get_uuid(a) == 0, "smbios: UUID from name");
	CHECK(smbios_get_uuid(b) == 0 && memcmp(a, b, 16) == 0,
	      "smbios: derived UUID is stable");
	set_config_value("name", "beta");
	CHECK(smbios_get_uuid(c) == 0 && memcmp(a, c, 16) != 0,
	      "smbios: other name, other UUID");
	CHECK((c[7] & 0xf0) == 0x80 && (c[8] & 0xc0) == 0x80,
	      "smbios: derived UUID version 8, RFC 4122 variant");
	set_config_value("uuid", "not-a-uuid");
	CHECK(smbios_get_uuid(a) != 0, "smbios: malformed uuid refused");
	CHECK(smbios_parse_uuid("00112233-4455-6677-8899-aabbccddeef", a) != 0,
	      "smbios: short uuid refused");
	CHECK(smbios_parse_uuid("00112233-4455-6677-8899-aabbccddeeff0", a) !=
		  0,
	      "smbios: long uuid refused");
	CHECK(smbios_parse_uuid("0011223344556677-8899-aabbccddeeff-", a) != 0,
	      "smbios: misplaced dashes refused");
	fini_config();
}

int
main(void)
{
	test_tables();
	test_uuid();
	return test_done();
}
