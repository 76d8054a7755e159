/*
 * Helpers shared by the firmware tables built for the guest: ACPI (6.5,
 * 5.2.5.3 RSDP, 5.2.6 table header), SMBIOS (3.x, 5.2.1/5.2.2 entry
 * points) and the MP table (1.4, 4.1/4.2).  Each such structure is valid
 * when all its bytes sum to zero modulo 256.
 */
#ifndef FWTABLE_H
#define FWTABLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The checksum byte for len bytes at p (whose own checksum byte is zero):
 * the value that brings their sum to zero modulo 256.
 */
static inline uint8_t
fwtable_checksum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len-- > 0)
		s = (uint8_t)(s + *p++);
	return (uint8_t)(0x100 - s);
}

#endif
