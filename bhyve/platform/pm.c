/*
 * ACPI fixed-hardware power management (ACPI 6.5, chapter 4.8) at the
 * I/O addresses bhyve uses, and the PC reset control register at 0xCF9.
 *
 *   0x400  PM1a_EVT_BLK: PM1 status (2 bytes) and enable (2 bytes)
 *   0x404  PM1a_CNT_BLK: SCI_EN, SLP_TYP, SLP_EN
 *   0x408  PM_TMR_BLK:   3.579545 MHz, 32 bits (FADT TMR_VAL_EXT), or
 *                        24 bits with a boot ROM (OVMF's timer library
 *                        computes with a 24-bit counter, as on PIIX4)
 *   0x0b2  SMI_CMD:      ACPI enable/disable handshake
 *   0xcf9  reset control (Intel ICH "RST_CNT")
 *   0xb004 PM1 control again, with a boot ROM only: OVMF's reset library
 *          on QEMU "pc" powers off through PIIX4's PMBA default 0xB000
 *          (SLP_TYP 0 with SLP_EN), whatever PMBA reads
 *
 * Sleeping into S5 powers the VM off (exit 1); a reset request ends it
 * with exit 0, which tells the caller to start it again, as with bhyve.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config_vm.h"
#include "inout.h"
#include "pci_emul.h"
#include "platform_dev.h"
#include "pm.h"
#include "vcpu_run.h"
#include "vtimer.h"

#define PM1_SCI_EN     0x0001
#define PM1_PWRBTN     0x0100 /* PWRBTN_STS / PWRBTN_EN */
#define PM_SCI_IRQ     9
#define PM1_SLP_TYP(v) (((v) >> 10) & 0x7)
#define PM1_SLP_EN     0x2000
#define PM_TMR_HZ      3579545ULL
#define PM_TMR_MASK24  0x00ffffffu

_Static_assert(PCI_PIIX4_PM_BASE == PM1A_EVT_ADDR,
	       "piix4-pm's PMBA must name the PM registers decoded here");
#define RST_CNT_SYS 0x02 /* full reset rather than CPU-only */
#define RST_CNT_CPU 0x04 /* the 0->1 edge requests the reset */

static pthread_mutex_t pm_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint16_t pm1_status, pm1_enable, pm1_control;
static uint8_t rst_cnt;
static struct vmctx *pm_ctx;
static bool sci_asserted;
static uint32_t pm_tmr_mask = 0xffffffffu;

/*
 * The SCI is a level-triggered line (ACPI 6.5, 4.8.2.1): asserted while an
 * enabled status bit is set and the OS has ACPI mode on.  Called with
 * pm_mtx held.
 */
static void
pm_sci_update(void)
{
	bool want = (pm1_control & PM1_SCI_EN) &&
		    (pm1_status & pm1_enable & PM1_PWRBTN);

	if (want == sci_asserted || pm_ctx == NULL)
		return;
	sci_asserted = want;
	if (want)
		vm_isa_assert_irq(pm_ctx, PM_SCI_IRQ, PM_SCI_IRQ);
	else
		vm_isa_deassert_irq(pm_ctx, PM_SCI_IRQ, PM_SCI_IRQ);
}

bool
pm_power_button_press(void)
{
	bool armed;

	pthread_mutex_lock(&pm_mtx);
	armed = (pm1_control & PM1_SCI_EN) && (pm1_enable & PM1_PWRBTN);
	pm1_status |= PM1_PWRBTN;
	pm_sci_update();
	pthread_mutex_unlock(&pm_mtx);
	return armed;
}

static uint32_t
pm_timer_now(void)
{
	uint64_t ns = vtimer_now_ns();

	/* ns * 3579545 / 1e9 without overflowing for centuries. */
	return (uint32_t)((ns / 1000000000ULL) * PM_TMR_HZ +
			  (ns % 1000000000ULL) * PM_TMR_HZ / 1000000000ULL);
}

static int
pm1_evt_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		void *arg)
{
	int off = port - PM1A_EVT_ADDR;
	uint32_t reg;

	pthread_mutex_lock(&pm_mtx);
	reg = (uint32_t)pm1_status | ((uint32_t)pm1_enable << 16);
	if (in) {
		*eax = reg >> (8 * off);
	} else if (off < 2) {
		/* Status bits are write-one-to-clear. */
		pm1_status &= (uint16_t) ~(*eax << (8 * off));
	} else {
		uint32_t mask = (bytes >= 2 ? 0xffffu : 0xffu)
				<< (8 * (off - 2));

		pm1_enable = (uint16_t)((pm1_enable & ~mask) |
					((*eax << (8 * (off - 2))) & mask));
	}
	pm_sci_update();
	pthread_mutex_unlock(&pm_mtx);
	return 0;
}

static int
pm1_cnt_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		void *arg)
{
	uint16_t v;

	pthread_mutex_lock(&pm_mtx);
	if (in) {
		*eax = pm1_control;
		pthread_mutex_unlock(&pm_mtx);
		return 0;
	}
	v = (uint16_t)*eax;
	/* SCI_EN belongs to the SMI_CMD handshake, not to the OS. */
	pm1_control = (uint16_t)((v & ~(PM1_SLP_EN | PM1_SCI_EN)) |
				 (pm1_control & PM1_SCI_EN));
	pm_sci_update();
	pthread_mutex_unlock(&pm_mtx);
	if ((v & PM1_SLP_EN) && PM1_SLP_TYP(v) == PM_SLP_TYP_S5)
		bhyve_request_suspend(VM_SUSPEND_POWEROFF);
	return 0;
}

/*
 * PM1 control at the firmware's address (PM_UEFI_PM1_CNT_ADDR): reads
 * as the real one; SLP_EN with any sleep type powers off, since the
 * firmware's SLP_TYP values are PIIX4's, not those of beehive's \_S5.
 */
static int
pm1_cnt_fw_handler(struct vcpu *vcpu, int in, int port, int bytes,
		   uint32_t *eax, void *arg)
{
	if (in) {
		*eax = pm_get_pm1_control();
		return 0;
	}
	if (*eax & PM1_SLP_EN) {
		bhyve_request_suspend(VM_SUSPEND_POWEROFF);
		return 0;
	}
	return pm1_cnt_handler(vcpu, in, PM1A_CNT_ADDR, bytes, eax, arg);
}

static int
pm_tmr_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	       void *arg)
{
	if (in)
		*eax = (pm_timer_now() & pm_tmr_mask) >>
		       (8 * (port - PM_TMR_ADDR));
	return 0;
}

bool
pm_timer_is_24bit(void)
{
	return platform_firmware_is_uefi();
}

static int
smi_cmd_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
		void *arg)
{
	if (in) {
		*eax = 0;
		return 0;
	}
	pthread_mutex_lock(&pm_mtx);
	if ((*eax & 0xff) == PM_ACPI_ENABLE)
		pm1_control |= PM1_SCI_EN;
	else if ((*eax & 0xff) == PM_ACPI_DISABLE)
		pm1_control &= (uint16_t)~PM1_SCI_EN;
	pm_sci_update();
	pthread_mutex_unlock(&pm_mtx);
	return 0;
}

static int
reset_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	      void *arg)
{
	uint8_t old;

	pthread_mutex_lock(&pm_mtx);
	if (in) {
		*eax = rst_cnt;
		pthread_mutex_unlock(&pm_mtx);
		return 0;
	}
	old = rst_cnt;
	rst_cnt = (uint8_t)(*eax & (RST_CNT_SYS | RST_CNT_CPU));
	pthread_mutex_unlock(&pm_mtx);
	if (!(old & RST_CNT_CPU) && (rst_cnt & RST_CNT_CPU))
		bhyve_request_suspend(VM_SUSPEND_RESET);
	return 0;
}

uint16_t
pm_get_pm1_control(void)
{
	uint16_t v;

	pthread_mutex_lock(&pm_mtx);
	v = pm1_control;
	pthread_mutex_unlock(&pm_mtx);
	return v;
}

static const struct inout_port pm_ports[] = {
    {"pm1_evt", PM1A_EVT_ADDR, 4, IOPORT_F_INOUT, pm1_evt_handler, NULL},
    {"pm1_cnt", PM1A_CNT_ADDR, 2, IOPORT_F_INOUT, pm1_cnt_handler, NULL},
    {"pm_tmr", PM_TMR_ADDR, 4, IOPORT_F_IN, pm_tmr_handler, NULL},
    {"smi_cmd", PM_SMI_CMD, 1, IOPORT_F_INOUT, smi_cmd_handler, NULL},
    {"reset", PM_RESET_PORT, 1, IOPORT_F_INOUT, reset_handler, NULL},
};

static const struct inout_port pm_fw_cnt_port = {
    "pm1_cnt_fw",   PM_UEFI_PM1_CNT_ADDR, 2,
    IOPORT_F_INOUT, pm1_cnt_fw_handler,	  NULL};

static int
pm_init(struct vmctx *ctx)
{
	pm1_status = pm1_enable = pm1_control = 0;
	rst_cnt = 0;
	sci_asserted = false;
	pm_ctx = ctx;
	pm_tmr_mask = pm_timer_is_24bit() ? PM_TMR_MASK24 : 0xffffffffu;
	for (size_t i = 0; i < sizeof(pm_ports) / sizeof(pm_ports[0]); i++) {
		if (register_inout(&pm_ports[i]) != 0)
			return -1;
	}
	if (platform_firmware_is_uefi() && register_inout(&pm_fw_cnt_port) != 0)
		return -1;
	return 0;
}

static const struct platform_dev pm_dev = {
    .pd_name = "pm",
    .pd_order = 10,
    .pd_init = pm_init,
};
PLATFORM_DEV_SET(pm_dev);
