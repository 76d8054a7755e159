/*
 * The guest payload library: what a test payload sees.
 *
 * A payload is a multiboot v1 kernel.  lib/start.S takes it from the
 * loader's 32-bit protected mode into long mode with 0..8 GiB identity
 * mapped (2 MiB pages, user-accessible), lib/runtime.c sets up the IDT and
 * TSS and calls payload_main().  When payload_main() returns, the library
 * reports the tally of CHECK()s through the beehive test device
 * (docs/testdev.md) and powers the VM off.
 *
 * CPL0 code may be emulated one instruction at a time on some hosts: keep
 * CPL0 work short and run loops at CPL3 with run_user().
 */
#ifndef PAYLOAD_H
#define PAYLOAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The test's entry point, called once on the BSP. */
void payload_main(void);

/* Segment selectors of lib/start.S's GDT. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define SEL_TSS	  0x28

/* ---- multiboot v1 (Multiboot Specification 0.6.96, section 3.3) ---- */
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u
#define MB_INFO_MEMORY	     (1u << 0)
#define MB_INFO_CMDLINE	     (1u << 2)
#define MB_INFO_MMAP	     (1u << 6)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
	uint32_t size; /* of the rest of the entry */
	uint64_t addr;
	uint64_t len;
	uint32_t type; /* 1: available RAM */
} __attribute__((packed));

extern uint32_t mb_magic;
extern uint32_t mb_info;

/* The info structure, or NULL when the loader's magic was wrong. */
const struct multiboot_info *multiboot_get_info(void);
/* True when the kernel command line contains the word 'word'. */
bool multiboot_cmdline_has(const char *word);

/* ---- instructions ---- */
static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t
inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t
inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t
inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* MMIO accessors: exactly one access of the given width each. */
static inline uint8_t
mmio_read8(uint64_t addr)
{
	uint8_t v;

	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint16_t
mmio_read16(uint64_t addr)
{
	uint16_t v;

	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint32_t
mmio_read32(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint64_t
mmio_read64(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void
mmio_write8(uint64_t addr, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}

static inline void
mmio_write16(uint64_t addr, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void
mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void
mmio_write64(uint64_t addr, uint64_t v)
{
	__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs
cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v),
			   "d"((uint32_t)(v >> 32)));
}

static inline void
cpu_pause(void)
{
	__asm__ volatile("pause");
}

static inline void
irq_disable(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void
irq_enable(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static inline uint16_t
read_cs(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

/* Busy-waits about 'cycles' TSC cycles. */
void delay_cycles(uint64_t cycles);

/*
 * Exception fixups: EX_TABLE(insn, fixup) in inline assembly says "if the
 * instruction at label 'insn' raises an exception with no handler
 * installed, resume at 'fixup'"; trap_last_vector/trap_last_error then hold
 * what was raised.  rdmsr_safe()/wrmsr_safe() are built on it.
 */
#define EX_TABLE(insn, fixup)                                                  \
	".pushsection .ex_table, \"a\"\n\t.balign 8\n\t.quad " #insn           \
	", " #fixup "\n\t.popsection\n\t"

extern volatile uint32_t trap_last_vector;
extern volatile uint64_t trap_last_error;

/* 0 and the value, or the exception vector raised (e.g. 13 for #GP). */
int rdmsr_safe(uint32_t msr, uint64_t *val);
int wrmsr_safe(uint32_t msr, uint64_t val);

/* ---- traps ---- */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

typedef void (*trap_handler_t)(struct trap_frame *tf);

#define VEC_DE	     0
#define VEC_NMI	     2
#define VEC_BP	     3
#define VEC_UD	     6
#define VEC_DF	     8
#define VEC_GP	     13
#define VEC_PF	     14
#define VEC_SPURIOUS 0xff

/*
 * Installs 'fn' for 'vector' (NULL restores the default, which reports
 * the unexpected trap through testdev and COM1 and fails the test).  A
 * handler returns to tf->rip, which it may change to skip an instruction.
 */
void trap_set_handler(unsigned vector, trap_handler_t fn);
const char *trap_name(unsigned vector);
/*
 * For handlers: if tf->rip has an EX_TABLE entry, records the trap in
 * trap_last_vector/trap_last_error, moves tf->rip to the fixup and
 * returns true.
 */
bool trap_fixup(struct trap_frame *tf);
/* Loads the IDT on the calling CPU (the BSP's is loaded at start-up). */
void trap_load_idt(void);

/*
 * Runs fn(arg) at CPL3 on a user stack with IOPL 3 (so port I/O works) and
 * the caller's interrupt flag, and returns its result.  All memory is
 * user-accessible.  The way back is SYSCALL (run_user() sets EFER.SCE,
 * STAR, LSTAR and FMASK), which works on every KVM.  BSP only, not nested.
 */
uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg);

/* ---- output ---- */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* COM1 (16550 at 0x3f8), polled. */
void com1_puts(const char *s);
void com1_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- beehive test device (docs/testdev.md) ---- */
#define TD_PORT_MSG	  0x0f00
#define TD_PORT_VALUE	  0x0f04
#define TD_PORT_RESULT	  0x0f08
#define TD_PORT_INJECT	  0x0f0c
#define TD_PORT_ERRCODE	  0x0f10
#define TD_PORT_SCRATCH	  0x0f14
#define TD_PORT_SEQ	  0x0f18
#define TD_PORT_IRQ	  0x0f1c
#define TD_INJECT_ERRCODE (1u << 8)
#define TD_INJECT_NMI	  (1u << 9)
#define TD_MMIO_BASE	  0xfe000000ul
#define TD_MMIO_SCRATCH	  (TD_MMIO_BASE + 0)
#define TD_MMIO_COUNT	  (TD_MMIO_BASE + 8)

/* One line "testdev: <text>" on bhyve's stderr (a '\n' is added). */
void td_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void td_value(uint32_t v);
void td_result(uint32_t v);

/*
 * Checks: a failed one prints "check failed: ..." through testdev and is
 * counted; payload_finish() reports "pass" or "fail <count>".
 */
void check_failed(const char *what, const char *file, int line);
void check_failed_eq(const char *what, uint64_t got, uint64_t want,
		     const char *file, int line);
extern volatile unsigned check_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			check_failed(#cond, __FILE__, __LINE__);               \
	} while (0)

#define CHECK_EQ(got, want)                                                    \
	do {                                                                   \
		uint64_t check_got_ = (uint64_t)(got);                         \
		uint64_t check_want_ = (uint64_t)(want);                       \
		if (check_got_ != check_want_)                                 \
			check_failed_eq(#got " == " #want, check_got_,         \
					check_want_, __FILE__, __LINE__);      \
	} while (0)

/* Reports the tally through testdev and powers off. */
void payload_finish(void) __attribute__((noreturn));

/* ---- power ---- */
/* ACPI PM1a control (bhyve's 0x404): SLP_TYP 5 | SLP_EN; exit status 1. */
void acpi_poweroff(void) __attribute__((noreturn));
/* Reset control register 0xCF9: exit status 0. */
void cf9_reset(void) __attribute__((noreturn));
/* cli; hlt forever. */
void halt_forever(void) __attribute__((noreturn));

/* ---- interrupt controllers ---- */
#define LAPIC_BASE   0xfee00000ul
#define IOAPIC_BASE  0xfec00000ul
#define LAPIC_ID     0x020
#define LAPIC_TPR    0x080
#define LAPIC_EOI    0x0b0
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT0   0x350
#define LAPIC_LVT1   0x360

uint32_t lapic_read(unsigned reg);
void lapic_write(unsigned reg, uint32_t v);
uint32_t lapic_id(void);
/* Software-enables the local APIC (spurious vector 0xff, TPR 0). */
void lapic_enable(void);
void lapic_eoi(void);
/* Sends an IPI; icr_lo holds mode, shorthand and vector. */
void lapic_send_ipi(uint32_t dest, uint32_t icr_lo);

uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
/* Edge-triggered, active-high, fixed delivery of 'pin' to 'vector'. */
void ioapic_route(unsigned pin, unsigned vector, uint32_t dest_apic_id);

/* Initializes both 8259s with vectors master_base/slave_base, all masked. */
void pic_init(uint8_t master_base, uint8_t slave_base);
/* Bit n set masks IRQ n (IRQ 2, the cascade, is unmasked for slave IRQs). */
void pic_set_mask(uint16_t mask);
void pic_eoi(unsigned irq);

/* ---- SMP ---- */
#define MAX_CPUS      8
#define AP_TRAMP_ADDR 0x8000

/* Counts CPUs that reached long mode, the BSP included. */
extern volatile uint32_t smp_cpus_online;

/*
 * Wakes every other CPU with INIT-SIPI-SIPI; each runs fn(cpu index)
 * (1, 2, ...) on its own stack with this IDT, then halts.  Waits until
 * 'expected' CPUs in all are online or about 'timeout_cycles' pass;
 * returns smp_cpus_online.
 */
uint32_t smp_start_aps(void (*fn)(unsigned cpu), uint32_t expected,
		       uint64_t timeout_cycles);

/* ---- freestanding C library ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* A spinlock usable at CPL0 and CPL3 and across CPUs. */
typedef struct {
	volatile uint32_t locked;
} spinlock_t;

void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

#endif
