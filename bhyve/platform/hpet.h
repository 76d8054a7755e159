/*
 * The High Precision Event Timer (IA-PC HPET Specification 1.0a): one
 * 64-bit main counter and three comparators, memory-mapped at the
 * address the ACPI HPET table gives.  Interrupts go to IOAPIC pins 20-23
 * or, with the legacy replacement route, to IRQ 0 and IRQ 8; no FSB
 * (MSI) delivery.
 *
 * As with the RTC, the model (hpet_create ...) has no KVM in it: it
 * reports interrupt lines and timer requests through hpet_ops.  hpet.c
 * also holds the platform device that wires it to the VM.
 */
#ifndef HPET_H
#define HPET_H

#include <stdbool.h>
#include <stdint.h>

#define HPET_BASE	0xfed00000ULL
#define HPET_MMIO_SIZE	0x400
#define HPET_NUM_TIMERS 3
#define HPET_FREQ_HZ	16777216ULL /* 2^24 Hz, as bhyve's */
#define HPET_PERIOD_FS	59604644ULL /* 10^15 / HPET_FREQ_HZ */
#define HPET_VENDOR_ID	0x8086
#define HPET_REV_ID	0x01

/* General Capabilities and ID, low half (also the ACPI table's ID). */
#define HPET_CAP_LEG_RT	  (1u << 15)
#define HPET_CAP_COUNT_64 (1u << 13)
#define HPET_BLOCK_ID                                                          \
	((uint32_t)HPET_VENDOR_ID << 16 | HPET_CAP_LEG_RT |                    \
	 HPET_CAP_COUNT_64 | (uint32_t)(HPET_NUM_TIMERS - 1) << 8 |            \
	 HPET_REV_ID)
/* The ACPI HPET table's minimum periodic tick: 100 us. */
#define HPET_MIN_PERIODIC_TICKS (HPET_FREQ_HZ / 10000)
/* IOAPIC pins a comparator may be routed to (bit n = pin n). */
#define HPET_INT_ROUTE_CAP 0x00f00000u
/* IOAPIC pins of the legacy replacement route (8259 IRQ 0 and 8). */
#define HPET_LEGACY_PIN_T0 2
#define HPET_LEGACY_PIN_T1 8

/* Register offsets. */
#define HPET_GCAP_ID	0x000
#define HPET_GEN_CONF	0x010
#define HPET_GINTR_STA	0x020
#define HPET_MAIN_CNT	0x0f0
#define HPET_TN_CONF(n) (0x100u + 0x20u * (unsigned int)(n))
#define HPET_TN_CMP(n)	(0x108u + 0x20u * (unsigned int)(n))
#define HPET_TN_FSB(n)	(0x110u + 0x20u * (unsigned int)(n))

#define HPET_CNF_ENABLE 0x1
#define HPET_CNF_LEG_RT 0x2

#define HPET_TN_LEVEL	    (1u << 1)
#define HPET_TN_INT_ENB	    (1u << 2)
#define HPET_TN_PERIODIC    (1u << 3)
#define HPET_TN_PER_CAP	    (1u << 4)
#define HPET_TN_SIZE_CAP    (1u << 5)
#define HPET_TN_VAL_SET	    (1u << 6)
#define HPET_TN_32BIT	    (1u << 8)
#define HPET_TN_ROUTE_SHIFT 9
#define HPET_TN_ROUTE_MASK  (0x1fu << HPET_TN_ROUTE_SHIFT)

struct hpet_softc;

struct hpet_ops {
	/* IOAPIC pin 'pin' changed level; an edge is a true/false pair.
	 * Called with the model locked. */
	void (*set_irq)(void *arg, int pin, bool level);
	/* Call hpet_timer_expired(n) once, delay_ns from now. */
	void (*timer_arm)(void *arg, int n, uint64_t delay_ns);
	void (*timer_cancel)(void *arg, int n);
	/* A monotonic clock in nanoseconds. */
	uint64_t (*now_ns)(void *arg);
	/* Optional: the legacy replacement route was switched on or off. */
	void (*legacy_route)(void *arg, bool on);
	void *arg;
};

struct hpet_softc *hpet_create(const struct hpet_ops *ops);
void hpet_destroy(struct hpet_softc *sc);
/* Guest accesses: size 1, 2, 4 or 8 within one 8-byte register. */
uint64_t hpet_mmio_read(struct hpet_softc *sc, uint64_t offset, int size);
void hpet_mmio_write(struct hpet_softc *sc, uint64_t offset, int size,
		     uint64_t val);
void hpet_timer_expired(struct hpet_softc *sc, int n);

#endif
