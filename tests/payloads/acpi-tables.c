/*
 * The firmware tables as a guest OS finds them (ACPI 6.5, 5.2.5): the RSDP
 * by scanning 0xE0000-0xFFFFF on 16-byte boundaries, both its checksums,
 * the XSDT and every table it lists (signature and checksum), the FADT's
 * DSDT, and one MADT processor entry per vCPU (run with -c 2).
 */
#include "payload.h"

#define BIOS_LO 0xe0000u
#define BIOS_HI 0x100000u

static uint8_t
sum(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	while (len-- > 0)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool
sig_is(const uint8_t *t, const char *sig)
{
	return t[0] == sig[0] && t[1] == sig[1] && t[2] == sig[2] &&
	       t[3] == sig[3];
}

static const uint8_t *
find_rsdp(void)
{
	for (uint32_t a = BIOS_LO; a < BIOS_HI; a += 16) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)a;

		if (sig_is(p, "RSD ") && sig_is(p + 4, "PTR ") &&
		    sum(p, 20) == 0)
			return p;
	}
	return NULL;
}

/* Counts the MADT's processor local APIC entries that are enabled. */
static unsigned
madt_cpus(const uint8_t *madt)
{
	uint32_t len = le32(madt + 4), off = 44;
	unsigned n = 0;

	while (off + 2 <= len && madt[off + 1] >= 2) {
		if (madt[off] == 0 && (le32(madt + off + 4) & 1))
			n++;
		off += madt[off + 1];
	}
	return n;
}

void
payload_main(void)
{
	const uint8_t *rsdp = find_rsdp(), *xsdt, *t, *fadt = NULL,
		      *madt = NULL;
	unsigned ntables, bad = 0, found = 0;

	CHECK(rsdp != NULL);
	if (rsdp == NULL)
		return;
	td_printf("acpi: RSDP at %p, revision %u", (const void *)rsdp,
		  rsdp[15]);
	CHECK(rsdp[15] >= 2 && sum(rsdp, le32(rsdp + 20)) == 0);
	xsdt = (const uint8_t *)(uintptr_t)le64(rsdp + 24);
	CHECK(sig_is(xsdt, "XSDT") && sum(xsdt, le32(xsdt + 4)) == 0);
	ntables = (le32(xsdt + 4) - 36) / 8;
	for (unsigned i = 0; i < ntables; i++) {
		t = (const uint8_t *)(uintptr_t)le64(xsdt + 36 + 8 * i);
		if (sum(t, le32(t + 4)) != 0)
			bad++;
		if (sig_is(t, "FACP"))
			fadt = t;
		if (sig_is(t, "APIC"))
			madt = t;
		if (sig_is(t, "FACP") || sig_is(t, "APIC") ||
		    sig_is(t, "HPET") || sig_is(t, "MCFG"))
			found++;
	}
	td_printf("acpi: XSDT lists %u tables, %u with a bad checksum", ntables,
		  bad);
	CHECK_EQ(bad, 0);
	CHECK_EQ(found, 4);
	if (fadt != NULL) {
		t = (const uint8_t *)(uintptr_t)le64(fadt + 140); /* X_DSDT */
		CHECK(sig_is(t, "DSDT") && sum(t, le32(t + 4)) == 0);
		td_printf("acpi: DSDT of %u bytes", le32(t + 4));
	}
	if (madt != NULL) {
		td_printf("acpi: MADT lists %u CPUs", madt_cpus(madt));
		CHECK_EQ(madt_cpus(madt), 2);
	}
	CHECK(fadt != NULL && madt != NULL);
}
