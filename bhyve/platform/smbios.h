/*
 * SMBIOS tables (DMTF DSP0134 3.x): BIOS (type 0), system (1), baseboard
 * (2), chassis (3), one processor per socket (4), the physical memory
 * array (16), memory device (17), mapped address ranges (19), system
 * boot information (32) and the end marker (127).  Strings come from the
 * bios.*, system.*, board.* and chassis.* keys (illumos bhyve's -B
 * names), the system UUID from "uuid" (-U) or, when unset, from a hash
 * of the VM name so that it is stable across runs.
 *
 * In guest RAM: the structure table at 0xE0000, a 3.0 entry point
 * ("_SM3_") at 0xF1020 and a 2.1 one ("_SM_") at 0xF1000, where a kernel
 * scanning 0xF0000-0xFFFFF finds them.  For fw_cfg, the structures and a
 * 3.0 anchor whose table address the firmware fills in.
 */
#ifndef SMBIOS_H
#define SMBIOS_H

#include <stddef.h>
#include <stdint.h>

struct vmctx;

#define SMBIOS_EP21_ADDR  0xf1000ULL
#define SMBIOS_EP30_ADDR  0xf1020ULL
#define SMBIOS_TABLE_ADDR 0xe0000ULL
#define SMBIOS_TABLE_MAX  0x10000ULL
#define SMBIOS_PD_ORDER	  80

#define SMBIOS_FWCFG_TABLES "etc/smbios/smbios-tables"
#define SMBIOS_FWCFG_ANCHOR "etc/smbios/smbios-anchor"

struct smbios_image {
	const uint8_t *tables; /* the structure table */
	size_t tables_len;
	const uint8_t *anchor; /* the 3.0 entry point, address 0 */
	size_t anchor_len;
	int nstructs;
};

/* Builds the tables and writes them to guest RAM; 0, or -1 with a line
 * on stderr. */
int smbios_build(struct vmctx *ctx);
const struct smbios_image *smbios_get_image(void);
void smbios_reset(void);

/*
 * The system UUID in SMBIOS byte order (section 7.2.1: the first three
 * fields little-endian): from the "uuid" key, else derived from the VM
 * name.  -1 if the key is malformed.
 */
int smbios_get_uuid(uint8_t out[16]);
/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into RFC 4122 order. */
int smbios_parse_uuid(const char *s, uint8_t out[16]);

#endif
