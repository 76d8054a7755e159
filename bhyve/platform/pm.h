/* ACPI power management and reset control: addresses shared with the
 * firmware tables (FADT) that describe them. */
#ifndef PM_H
#define PM_H

#include <stdbool.h>
#include <stdint.h>

#define PM1A_EVT_ADDR	0x400
#define PM1A_CNT_ADDR	0x404
#define PM_TMR_ADDR	0x408
#define PM_SMI_CMD	0xb2
#define PM_ACPI_ENABLE	0xa0
#define PM_ACPI_DISABLE 0xa1
#define PM_RESET_PORT	0xcf9
#define PM_SLP_TYP_S5	5 /* the _S5 package value in beehive's DSDT */
/* PM1 control where OVMF's reset library writes it (PIIX4 PMBA 0xB000). */
#define PM_UEFI_PM1_CNT_ADDR 0xb004

/*
 * Whether the PM timer wraps at 24 bits (with a boot ROM) rather than 32;
 * the FADT's TMR_VAL_EXT flag says which.
 */
bool pm_timer_is_24bit(void);

uint16_t pm_get_pm1_control(void);
/*
 * Presses the ACPI power button: sets PWRBTN_STS and raises the SCI.
 * Returns true when the guest OS has ACPI on and the button enabled, i.e.
 * when it will act on the press.
 */
bool pm_power_button_press(void);

#endif
