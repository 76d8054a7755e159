/*
 * bootrom-flash: a boot ROM that proves what bhyve's -l bootrom gives
 * firmware.  It starts at the reset vector (start16.S), checks that the
 * ROM cannot be written, drives the VARS flash below it with CFI commands
 * as OVMF does (probe, identifier, CFI query, program, erase, status), and
 * resets.  Run under the monitor (-M), the next boot finds what the first
 * one programmed, checks it, and powers off.  The ROM is 64 KiB at
 * 0xffff0000, the VARS template 32 KiB directly below.
 */
#include <stdint.h>

#include "payload.h" /* port I/O and the testdev ports */

#define ROM_BASE  0xffff0000u
#define VARS_BASE 0xfffe8000u
#define MARK_OFF  0x1000u
#define ERASE_OFF 0x2000u

#define PM1A_CNT 0x404

static const char mark[16] = "BEEHIVE-FLASH-OK";

static void
say(const char *s)
{
	while (*s != '\0')
		outb(TD_PORT_MSG, (uint8_t)*s++);
	outb(TD_PORT_MSG, '\n');
}

/* ACPI poweroff: SLP_TYP 5 and SLP_EN in PM1a control. */
static void
poweroff(void)
{
	outw(PM1A_CNT, 0x3400);
}

static volatile uint8_t *
flash(uint32_t off)
{
	return (volatile uint8_t *)(uintptr_t)(VARS_BASE + off);
}

/* A ROM has no writable data: the count lives in RAM. */
#define failures (*(volatile int *)0x1000)

static void
check(int ok, const char *what)
{
	if (!ok) {
		failures++;
		outb(TD_PORT_MSG, 'F');
		outb(TD_PORT_MSG, 'A');
		outb(TD_PORT_MSG, 'I');
		outb(TD_PORT_MSG, 'L');
		outb(TD_PORT_MSG, ' ');
		say(what);
	}
}

/* Writing the ROM changes nothing (read-only slot, writes dropped). */
static void
check_rom(void)
{
	volatile uint32_t *p =
	    (volatile uint32_t *)(uintptr_t)(ROM_BASE + 0x10);
	uint32_t before = *p;

	*p = ~before;
	check(*p == before, "rom: a write changed the ROM");
	check(*(volatile uint8_t *)0xfffffff0u == 0xe9 ||
		  *(volatile uint8_t *)0xfffffff0u == 0xeb,
	      "rom: no jump at the reset vector");
}

/* OVMF's probe: 0x50 leaves the array readable, 0x70 reads status 0. */
static void
check_probe(void)
{
	uint8_t orig = *flash(40);

	*flash(40) = 0x50;
	check(*flash(40) == orig, "flash: clear status must read the array");
	*flash(40) = 0x70;
	check(*flash(40) == 0x00, "flash: cleared status must read 0");
	*flash(40) = 0x90;
	check(*flash(0) == 0x89, "flash: manufacturer code");
	*flash(0) = 0x98;
	check(*flash(0x10) == 'Q' && *flash(0x11) == 'R' && *flash(0x12) == 'Y',
	      "flash: CFI query");
	*flash(0) = 0xff;
	check(*flash(40) == '_' && *flash(41) == 'F', "flash: read array");
}

static void
program(uint32_t off, const char *data, int n)
{
	for (int i = 0; i < n; i++) {
		*flash(off + i) = 0x10;
		*flash(off + i) = (uint8_t)data[i];
		check(*flash(off + i) == 0x80, "flash: status after program");
	}
	*flash(0) = 0xff;
}

static int
marked(void)
{
	for (int i = 0; i < 16; i++) {
		if (*flash(MARK_OFF + i) != (uint8_t)mark[i])
			return 0;
	}
	return 1;
}

static int
erased(uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 61) {
		if (*flash(off + i) != 0xff)
			return 0;
	}
	return *flash(off + len - 1) == 0xff;
}

static void
boot1(void)
{
	say("rom: boot 1");
	check_rom();
	check_probe();
	check(*flash(ERASE_OFF) == 0x5a, "flash: template pattern");
	program(MARK_OFF, mark, 16);
	check(marked(), "flash: programmed bytes read back");
	*flash(ERASE_OFF + 0x10) = 0x20;
	*flash(ERASE_OFF + 0x10) = 0xd0;
	check(*flash(ERASE_OFF) == 0x80, "flash: status after erase");
	*flash(0) = 0x50;
	check(erased(ERASE_OFF, 0x1000), "flash: block 2 erased");
	check(marked(), "flash: block 1 kept over the erase");
	/* An erase without its confirm byte: error status, nothing erased. */
	*flash(MARK_OFF) = 0x20;
	*flash(MARK_OFF) = 0x00;
	check((*flash(0) & 0x30) == 0x30, "flash: sequence error status");
	*flash(0) = 0x50;
	check(marked(), "flash: unconfirmed erase erased nothing");
	if (failures != 0) {
		outl(TD_PORT_RESULT, (uint32_t)failures);
		poweroff();
		return;
	}
	say("rom: boot 1 done, resetting");
	outb(0xcf9, 0x06);
}

static void
boot2(void)
{
	say("rom: boot 2 sees the flash data");
	check_rom();
	check(erased(ERASE_OFF, 0x1000), "flash: the erase persisted");
	outl(TD_PORT_RESULT, (uint32_t)failures);
	poweroff();
}

void rom_main(void);

void
rom_main(void)
{
	failures = 0;
	if (marked())
		boot2();
	else
		boot1();
	say("rom: the VM did not stop");
}
