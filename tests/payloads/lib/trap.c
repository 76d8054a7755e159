/*
 * IDT, TSS and trap dispatch.  Every vector has a stub (trap.S); vectors
 * without an installed handler go to the exception fixup table, and
 * otherwise are reported as a test failure: the vector, its name, the
 * error code and where it happened, then the VM powers off.
 */
#include "payload.h"

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

/* 64-bit TSS, SDM Vol. 3A 8.7 (figure 8-11). */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct ex_entry {
	uint64_t insn;
	uint64_t fixup;
};

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern char trap_stubs[];
extern char trap_stack_top[];
extern uint64_t gdt_tss[2];
extern const struct ex_entry __ex_table_start[], __ex_table_end[];

#define GATE_INTR_DPL0 0x8e /* present, 64-bit interrupt gate */
#define TRAP_STUB_SIZE 16

static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static trap_handler_t handlers[256];

volatile uint32_t trap_last_vector;
volatile uint64_t trap_last_error;

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

const char *
trap_name(unsigned vector)
{
	if (vector < 32 && exception_names[vector] != NULL)
		return exception_names[vector];
	return vector < 32 ? "reserved" : "interrupt";
}

static void
idt_set_gate(unsigned vector, uint64_t addr, uint8_t type_attr)
{
	struct idt_gate *g = &idt[vector];

	g->offset_lo = (uint16_t)addr;
	g->selector = SEL_KCODE;
	g->ist = 0;
	g->type_attr = type_attr;
	g->offset_mid = (uint16_t)(addr >> 16);
	g->offset_hi = (uint32_t)(addr >> 32);
	g->reserved = 0;
}

void
trap_load_idt(void)
{
	struct desc_ptr p = {sizeof(idt) - 1, (uint64_t)idt};

	__asm__ volatile("lidt %0" : : "m"(p));
}

/* An available 64-bit TSS descriptor (type 9), SDM Vol. 3A 8.2.3. */
static void
tss_install(void)
{
	uint64_t base = (uint64_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	tss.rsp[0] = (uint64_t)trap_stack_top;
	/* No I/O bitmap: CPL3 port access is governed by IOPL alone. */
	tss.iomap_base = sizeof(tss);
	gdt_tss[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		     (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
		     (((base >> 24) & 0xff) << 56);
	gdt_tss[1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

void
trap_init(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt_set_gate(v, (uint64_t)trap_stubs + v * TRAP_STUB_SIZE,
			     GATE_INTR_DPL0);
	trap_load_idt();
	tss_install();
}

void
trap_set_handler(unsigned vector, trap_handler_t fn)
{
	if (vector < 256)
		handlers[vector] = fn;
}

bool
trap_fixup(struct trap_frame *tf)
{
	for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end;
	     e++) {
		if (e->insn == tf->rip) {
			trap_last_vector = (uint32_t)tf->vector;
			trap_last_error = tf->error;
			tf->rip = e->fixup;
			return true;
		}
	}
	return false;
}

static void
trap_report_unexpected(const struct trap_frame *tf)
{
	unsigned v = (unsigned)tf->vector;

	td_printf("unexpected %s (vector %u) error 0x%lx at rip 0x%lx cs 0x%lx "
		  "rsp 0x%lx",
		  trap_name(v), v, tf->error, tf->rip, tf->cs, tf->rsp);
	com1_printf("payload: unexpected %s (vector %u) at rip 0x%lx\n",
		    trap_name(v), v, tf->rip);
	td_result(0x1000 + v);
	acpi_poweroff();
}

void trap_dispatch(struct trap_frame *tf);

void
trap_dispatch(struct trap_frame *tf)
{
	unsigned v = (unsigned)tf->vector;

	if (handlers[v] != NULL) {
		handlers[v](tf);
		return;
	}
	if (v < 32 && trap_fixup(tf))
		return;
	if (v == VEC_SPURIOUS)
		return;
	trap_report_unexpected(tf);
}

int
rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	int fault = 0;

	__asm__ volatile("1: rdmsr\n\t"
			 "2:\n\t"
			 ".pushsection .fixup, \"ax\"\n\t"
			 "3: movl $1, %2\n\t"
			 "jmp 2b\n\t"
			 ".popsection\n\t" EX_TABLE(1b, 3b)
			 : "=a"(lo), "=d"(hi), "+r"(fault)
			 : "c"(msr));
	if (fault) {
		*val = 0;
		return (int)trap_last_vector;
	}
	*val = ((uint64_t)hi << 32) | lo;
	return 0;
}

int
wrmsr_safe(uint32_t msr, uint64_t val)
{
	int fault = 0;

	__asm__ volatile("1: wrmsr\n\t"
			 "2:\n\t"
			 ".pushsection .fixup, \"ax\"\n\t"
			 "3: movl $1, %0\n\t"
			 "jmp 2b\n\t"
			 ".popsection\n\t" EX_TABLE(1b, 3b)
			 : "+r"(fault)
			 : "c"(msr), "a"((uint32_t)val),
			   "d"((uint32_t)(val >> 32))
			 : "memory");
	return fault ? (int)trap_last_vector : 0;
}
