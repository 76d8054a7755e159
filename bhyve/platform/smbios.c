/*
 * SMBIOS structures; see smbios.h.  Section numbers are DSP0134 3.x's.
 * Each structure is a formatted area followed by its strings (each NUL
 * terminated) and one more NUL; a structure without strings ends in two
 * NULs (section 6.1.3).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "aml.h"
#include "config.h"
#include "fwtable.h"
#include "platform_dev.h"
#include "smbios.h"
#include "vmmapi.h"

#define SMB_MAX_FMT	0x40
#define SMB_MAX_STRINGS 2048
#define SMB_VERSION_MAJ 3
#define SMB_VERSION_MIN 0
#define SMB_EP21_LEN	0x1f
#define SMB_EP30_LEN	0x18
#define SMB_NO_HANDLE	0xffff
#define SMB_NO_ERRINFO	0xfffe

struct smb_rec {
	uint8_t f[SMB_MAX_FMT];
	uint8_t len;
	char s[SMB_MAX_STRINGS];
	size_t slen;
	int nstr;
};

struct smb_builder {
	struct aml_buf out;
	uint16_t next_handle;
	size_t max_struct;
	int count;
	bool failed;
};

static struct smb_builder smb_state;
static struct smbios_image smb_img;
static uint8_t smb_anchor[SMB_EP30_LEN];
static bool smb_built;

static void
smb_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t
smb_begin(struct smb_builder *sb, struct smb_rec *r, uint8_t type, uint8_t len)
{
	uint16_t h = sb->next_handle++;

	memset(r, 0, sizeof(*r));
	r->f[0] = type;
	r->f[1] = len;
	smb_le(r->f + 2, h, 2);
	r->len = len;
	return h;
}

/* Adds a string; its 1-based number, or 0 ("none") if empty. */
static uint8_t
smb_str(struct smb_rec *r, const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0' || r->nstr == 255)
		return 0;
	n = strlen(s);
	if (n + 1 > sizeof(r->s) - r->slen - 1)
		return 0;
	memcpy(r->s + r->slen, s, n + 1);
	r->slen += n + 1;
	return (uint8_t)++r->nstr;
}

/* A string from "node.key", else the default. */
static uint8_t
smb_cfg_str(struct smb_rec *r, const char *node, const char *key,
	    const char *def)
{
	char path[64];
	const char *v;

	snprintf(path, sizeof(path), "%s.%s", node, key);
	v = get_config_value(path);
	return smb_str(r, v != NULL ? v : def);
}

static void
smb_end(struct smb_builder *sb, struct smb_rec *r)
{
	static const uint8_t zeros[2];
	size_t start = sb->out.len;

	aml_bytes(&sb->out, r->f, r->len);
	if (r->nstr == 0) {
		aml_bytes(&sb->out, zeros, 2);
	} else {
		aml_bytes(&sb->out, r->s, r->slen);
		aml_bytes(&sb->out, zeros, 1);
	}
	if (sb->out.len - start > sb->max_struct)
		sb->max_struct = sb->out.len - start;
	sb->count++;
}

/* ---- the UUID ------------------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smbios_parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (int i = 0; s[i] != '\0'; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (n == 16 || (hi = hexval(s[i])) < 0 || s[i + 1] == '\0' ||
		    (lo = hexval(s[i + 1])) < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return n == 16 && strlen(s) == 36 ? 0 : -1;
}

/* FNV-1a, 64 bits, from a chosen basis. */
static uint64_t
fnv1a(const char *s, uint64_t h)
{
	while (*s != '\0') {
		h ^= (uint8_t)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int
smbios_get_uuid(uint8_t out[16])
{
	const char *v = get_config_value("uuid");
	uint8_t u[16];

	if (v != NULL) {
		if (smbios_parse_uuid(v, u) != 0)
			return -1;
	} else {
		/* Not random: the same name gives the same UUID each run.
		 * RFC 9562 version 8 (vendor-defined), RFC 4122 variant. */
		const char *name = get_config_value("name");
		uint64_t a, b;

		if (name == NULL)
			name = "";
		a = fnv1a(name, 0xcbf29ce484222325ULL);
		b = fnv1a(name, a ^ 0x6a09e667f3bcc908ULL);
		for (int i = 0; i < 8; i++) {
			u[i] = (uint8_t)(a >> (56 - 8 * i));
			u[8 + i] = (uint8_t)(b >> (56 - 8 * i));
		}
		u[6] = (uint8_t)((u[6] & 0x0f) | 0x80);
		u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	}
	/* 7.2.1: time_low, time_mid and time_hi_and_version little-endian. */
	out[0] = u[3], out[1] = u[2], out[2] = u[1], out[3] = u[0];
	out[4] = u[5], out[5] = u[4];
	out[6] = u[7], out[7] = u[6];
	memcpy(out + 8, u + 8, 8);
	return 0;
}

/* ---- the structures -------------------------------------------------- */

/* 7.1 BIOS Information, 2.4+ layout (0x18 bytes). */
static void
smb_type0(struct smb_builder *sb)
{
	struct smb_rec r;

	smb_begin(sb, &r, 0, 0x18);
	r.f[4] = smb_cfg_str(&r, "bios", "vendor", "BHYVE");
	r.f[5] = smb_cfg_str(&r, "bios", "version", "14.0");
	smb_le(r.f + 6, 0xf000, 2); /* starting segment */
	r.f[8] = smb_cfg_str(&r, "bios", "release_date", "10/17/2014");
	r.f[9] = 0; /* ROM size: 64 KiB */
	/* Characteristics: PCI (bit 7), selectable boot (bit 16). */
	smb_le(r.f + 10, 1u << 7 | 1u << 16, 8);
	r.f[0x12] = 0x01; /* ext 1: ACPI */
	r.f[0x13] = 0x18; /* ext 2: targeted content, virtual machine */
	r.f[0x14] = 0;	  /* BIOS release major.minor */
	r.f[0x15] = 0;
	r.f[0x16] = 0xff; /* no embedded controller */
	r.f[0x17] = 0xff;
	smb_end(sb, &r);
}

/* 7.2 System Information (0x1b bytes). */
static int
smb_type1(struct smb_builder *sb)
{
	struct smb_rec r;

	smb_begin(sb, &r, 1, 0x1b);
	r.f[4] = smb_cfg_str(&r, "system", "manufacturer", "FreeBSD");
	r.f[5] = smb_cfg_str(&r, "system", "product_name", "BHYVE");
	r.f[6] = smb_cfg_str(&r, "system", "version", "1.0");
	r.f[7] = smb_cfg_str(&r, "system", "serial_number", "None");
	if (smbios_get_uuid(r.f + 8) != 0)
		return -1;
	r.f[0x18] = 6; /* wake-up type: power switch */
	r.f[0x19] = smb_cfg_str(&r, "system", "sku", "None");
	r.f[0x1a] = smb_cfg_str(&r, "system", "family_name", "Virtual Machine");
	smb_end(sb, &r);
	return 0;
}

/* 7.3 Baseboard Information, no contained objects (0x0f bytes). */
static void
smb_type2(struct smb_builder *sb, uint16_t chassis)
{
	struct smb_rec r;

	smb_begin(sb, &r, 2, 0x0f);
	r.f[4] = smb_cfg_str(&r, "board", "manufacturer", "FreeBSD");
	r.f[5] = smb_cfg_str(&r, "board", "product_name", "BHYVE");
	r.f[6] = smb_cfg_str(&r, "board", "version", "1.0");
	r.f[7] = smb_cfg_str(&r, "board", "serial_number", "None");
	r.f[8] = smb_cfg_str(&r, "board", "asset_tag", "None");
	r.f[9] = 0x01; /* feature flags: hosting board */
	r.f[0x0a] = smb_cfg_str(&r, "board", "location", "None");
	smb_le(r.f + 0x0b, chassis, 2);
	r.f[0x0d] = 0x0a; /* motherboard */
	r.f[0x0e] = 0;	  /* no contained object handles */
	smb_end(sb, &r);
}

/* 7.4 System Enclosure, 2.7 layout with SKU (0x16 bytes). */
static uint16_t
smb_type3(struct smb_builder *sb)
{
	struct smb_rec r;
	uint16_t h = smb_begin(sb, &r, 3, 0x16);

	r.f[4] = smb_cfg_str(&r, "chassis", "manufacturer", "FreeBSD");
	r.f[5] = 0x01; /* type: other */
	r.f[6] = smb_cfg_str(&r, "chassis", "version", "1.0");
	r.f[7] = smb_cfg_str(&r, "chassis", "serial_number", "None");
	r.f[8] = smb_cfg_str(&r, "chassis", "asset_tag", "None");
	r.f[9] = 0x03;	  /* boot-up state: safe */
	r.f[0x0a] = 0x03; /* power supply: safe */
	r.f[0x0b] = 0x03; /* thermal: safe */
	r.f[0x0c] = 0x03; /* security: none */
	r.f[0x15] = smb_cfg_str(&r, "chassis", "sku", "None");
	smb_end(sb, &r);
	return h;
}

/* 7.5 Processor Information, 3.0 layout (0x30 bytes), one per socket. */
static void
smb_type4(struct smb_builder *sb, int socket, uint16_t cores, uint16_t threads)
{
	struct smb_rec r;
	char name[32];
	uint32_t nthreads = (uint32_t)cores * threads;

	smb_begin(sb, &r, 4, 0x30);
	snprintf(name, sizeof(name), "CPU #%d", socket);
	r.f[4] = smb_str(&r, name);
	r.f[5] = 0x03; /* central processor */
	r.f[6] = 0xfe; /* family: see family 2 */
	r.f[7] = smb_str(&r, "BHYVE");
	r.f[0x10] = smb_str(&r, "BHYVE");
	r.f[0x18] = 0x41; /* socket populated, CPU enabled */
	r.f[0x19] = 0x01; /* upgrade: other */
	smb_le(r.f + 0x1a, SMB_NO_HANDLE, 2);
	smb_le(r.f + 0x1c, SMB_NO_HANDLE, 2);
	smb_le(r.f + 0x1e, SMB_NO_HANDLE, 2);
	r.f[0x23] = (uint8_t)(cores > 255 ? 0xff : cores);
	r.f[0x24] = r.f[0x23];
	r.f[0x25] = (uint8_t)(nthreads > 255 ? 0xff : nthreads);
	smb_le(r.f + 0x26, 0x04, 2); /* 64-bit capable */
	smb_le(r.f + 0x28, 0x01, 2); /* family 2: other */
	smb_le(r.f + 0x2a, cores, 2);
	smb_le(r.f + 0x2c, cores, 2);
	smb_le(r.f + 0x2e, nthreads > 0xffff ? 0xffff : nthreads, 2);
	smb_end(sb, &r);
}

/* 7.17 Physical Memory Array (0x17 bytes). */
static uint16_t
smb_type16(struct smb_builder *sb, uint64_t total)
{
	struct smb_rec r;
	uint16_t h = smb_begin(sb, &r, 16, 0x17);
	uint64_t kib = total >> 10;

	r.f[4] = 0x03; /* system board */
	r.f[5] = 0x03; /* system memory */
	r.f[6] = 0x03; /* no error correction */
	if (kib < 0x80000000ULL) {
		smb_le(r.f + 7, kib, 4);
	} else {
		smb_le(r.f + 7, 0x80000000u, 4);
		smb_le(r.f + 0x0f, total, 8);
	}
	smb_le(r.f + 0x0b, SMB_NO_ERRINFO, 2);
	smb_le(r.f + 0x0d, 1, 2); /* one device */
	smb_end(sb, &r);
	return h;
}

/* 7.18 Memory Device, 2.8 layout (0x28 bytes). */
static void
smb_type17(struct smb_builder *sb, uint16_t array, uint64_t total)
{
	struct smb_rec r;
	uint64_t mib = total >> 20;

	smb_begin(sb, &r, 17, 0x28);
	smb_le(r.f + 4, array, 2);
	smb_le(r.f + 6, SMB_NO_ERRINFO, 2);
	smb_le(r.f + 8, 64, 2);	 /* total width */
	smb_le(r.f + 10, 64, 2); /* data width */
	if (mib < 0x7fff) {
		smb_le(r.f + 12, mib, 2);
	} else {
		smb_le(r.f + 12, 0x7fff, 2);
		smb_le(r.f + 0x1c, mib > 0x7fffffff ? 0x7fffffff : mib, 4);
	}
	r.f[0x0e] = 0x09; /* DIMM */
	r.f[0x10] = smb_str(&r, "DIMM 0");
	r.f[0x11] = smb_str(&r, "Bank 0");
	r.f[0x12] = 0x07;	       /* RAM */
	smb_le(r.f + 0x13, 0x0002, 2); /* type detail: unknown */
	r.f[0x17] = smb_str(&r, "BHYVE");
	r.f[0x18] = smb_str(&r, "None");
	r.f[0x19] = smb_str(&r, "None");
	r.f[0x1a] = smb_str(&r, "None");
	smb_end(sb, &r);
}

/* 7.20 Memory Array Mapped Address (0x1f bytes), [start, end] bytes. */
static void
smb_type19(struct smb_builder *sb, uint16_t array, uint64_t start, uint64_t end)
{
	struct smb_rec r;

	smb_begin(sb, &r, 19, 0x1f);
	if ((end >> 10) < 0xffffffffULL) {
		smb_le(r.f + 4, start >> 10, 4);
		smb_le(r.f + 8, end >> 10, 4);
	} else {
		smb_le(r.f + 4, 0xffffffffu, 4);
		smb_le(r.f + 8, 0xffffffffu, 4);
		smb_le(r.f + 0x0f, start, 8);
		smb_le(r.f + 0x17, end, 8);
	}
	smb_le(r.f + 12, array, 2);
	r.f[14] = 1; /* partition width */
	smb_end(sb, &r);
}

/* 7.33 System Boot Information (0x0b bytes): no errors. */
static void
smb_type32(struct smb_builder *sb)
{
	struct smb_rec r;

	smb_begin(sb, &r, 32, 0x0b);
	smb_end(sb, &r);
}

static void
smb_type127(struct smb_builder *sb)
{
	struct smb_rec r;

	smb_begin(sb, &r, 127, 4);
	smb_end(sb, &r);
}

static int
smb_build_structs(struct smb_builder *sb, struct vmctx *ctx)
{
	uint16_t sockets, cores, threads, maxcpus, chassis, array;
	uint64_t low = vm_get_lowmem_size(ctx), high = vm_get_highmem_size(ctx);

	vm_get_topology(ctx, &sockets, &cores, &threads, &maxcpus);
	smb_type0(sb);
	if (smb_type1(sb) != 0) {
		fprintf(stderr, "bhyve: smbios: invalid UUID '%s'\n",
			get_config_value("uuid"));
		return -1;
	}
	/* The chassis handle is needed by the baseboard: number it first. */
	sb->next_handle = 3;
	chassis = smb_type3(sb);
	sb->next_handle = 2;
	smb_type2(sb, chassis);
	sb->next_handle = 4;
	for (int s = 0; s < sockets; s++)
		smb_type4(sb, s, cores, threads);
	array = smb_type16(sb, low + high);
	smb_type17(sb, array, low + high);
	if (low != 0)
		smb_type19(sb, array, 0, low - 1);
	if (high != 0)
		smb_type19(sb, array, VM_HIGHMEM_BASE,
			   VM_HIGHMEM_BASE + high - 1);
	smb_type32(sb);
	smb_type127(sb);
	if (aml_failed(&sb->out) || sb->out.len > SMBIOS_TABLE_MAX) {
		fprintf(stderr,
			"bhyve: smbios: the tables do not fit in "
			"%llu KiB\n",
			(unsigned long long)(SMBIOS_TABLE_MAX >> 10));
		return -1;
	}
	return 0;
}

/* 5.2.2 SMBIOS 3.0 (64-bit) entry point. */
static void
smb_ep30(uint8_t *ep, const struct smb_builder *sb, uint64_t addr)
{
	memset(ep, 0, SMB_EP30_LEN);
	memcpy(ep, "_SM3_", 5);
	ep[6] = SMB_EP30_LEN;
	ep[7] = SMB_VERSION_MAJ;
	ep[8] = SMB_VERSION_MIN;
	ep[10] = 1; /* entry point revision 3.0 */
	smb_le(ep + 12, sb->out.len, 4);
	smb_le(ep + 16, addr, 8);
	ep[5] = fwtable_checksum(ep, SMB_EP30_LEN);
}

/* 5.2.1 SMBIOS 2.1 (32-bit) entry point. */
static void
smb_ep21(uint8_t *ep, const struct smb_builder *sb, uint32_t addr)
{
	memset(ep, 0, SMB_EP21_LEN);
	memcpy(ep, "_SM_", 4);
	ep[5] = SMB_EP21_LEN;
	ep[6] = SMB_VERSION_MAJ;
	ep[7] = SMB_VERSION_MIN;
	smb_le(ep + 8, sb->max_struct, 2);
	memcpy(ep + 0x10, "_DMI_", 5);
	smb_le(ep + 0x16, sb->out.len, 2);
	smb_le(ep + 0x18, addr, 4);
	smb_le(ep + 0x1c, (uint64_t)sb->count, 2);
	ep[0x1e] = SMB_VERSION_MAJ << 4 | SMB_VERSION_MIN;
	ep[0x15] = fwtable_checksum(ep + 0x10, SMB_EP21_LEN - 0x10);
	ep[4] = fwtable_checksum(ep, SMB_EP21_LEN);
}

void
smbios_reset(void)
{
	aml_free(&smb_state.out);
	memset(&smb_state, 0, sizeof(smb_state));
	memset(&smb_img, 0, sizeof(smb_img));
	smb_built = false;
}

int
smbios_build(struct vmctx *ctx)
{
	uint8_t *tbl, *ep21, *ep30;

	smbios_reset();
	if (smb_build_structs(&smb_state, ctx) != 0) {
		smbios_reset();
		return -1;
	}
	/* With a boot ROM the firmware installs them from fw_cfg. */
	if (acpi_tables_in_memory()) {
		tbl = vm_map_gpa(ctx, SMBIOS_TABLE_ADDR, smb_state.out.len);
		ep21 = vm_map_gpa(ctx, SMBIOS_EP21_ADDR, SMB_EP21_LEN);
		ep30 = vm_map_gpa(ctx, SMBIOS_EP30_ADDR, SMB_EP30_LEN);
		if (tbl == NULL || ep21 == NULL || ep30 == NULL) {
			fprintf(stderr, "bhyve: smbios: guest RAM too small "
					"for the tables\n");
			smbios_reset();
			return -1;
		}
		memcpy(tbl, smb_state.out.data, smb_state.out.len);
		smb_ep21(ep21, &smb_state, (uint32_t)SMBIOS_TABLE_ADDR);
		smb_ep30(ep30, &smb_state, SMBIOS_TABLE_ADDR);
	}
	smb_ep30(smb_anchor, &smb_state, 0);
	smb_img = (struct smbios_image){
	    .tables = smb_state.out.data,
	    .tables_len = smb_state.out.len,
	    .anchor = smb_anchor,
	    .anchor_len = sizeof(smb_anchor),
	    .nstructs = smb_state.count,
	};
	smb_built = true;
	return 0;
}

const struct smbios_image *
smbios_get_image(void)
{
	return smb_built ? &smb_img : NULL;
}

static int
smbios_pd_init(struct vmctx *ctx)
{
	return smbios_build(ctx);
}

static const struct platform_dev smbios_dev = {
    .pd_name = "smbios",
    .pd_order = SMBIOS_PD_ORDER,
    .pd_init = smbios_pd_init,
    .pd_fini = smbios_reset,
};
PLATFORM_DEV_SET(smbios_dev);
