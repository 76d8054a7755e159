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

uint16_t pm_get_pm1_control(void);
/*
 * Presses the ACPI power button: sets PWRBTN_STS and raises the SCI.
 * Returns true when the guest OS has ACPI on and the button enabled, i.e.
 * when it will act on the press.
 */
bool pm_power_button_press(void);

#endif
