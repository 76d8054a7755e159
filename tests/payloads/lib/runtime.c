/*
 * C start-up and the pieces every payload uses: multiboot info, the check
 * tally, power control, delays, locks and the few C library functions
 * the compiler may call on its own (memset, memcpy, memcmp).
 */
#include "payload.h"

#define PM1A_CNT     0x404 /* bhyve's PM1a control block */
#define PM1_SLP_TYP5 (5u << 10)
#define PM1_SLP_EN   (1u << 13)
#define RCR_PORT     0xcf9 /* PIIX reset control register */
#define RCR_RESET    0x06  /* SYS_RST | RST_CPU */

volatile unsigned check_failures;

void trap_init(void);
void payload_start(void);

const struct multiboot_info *
multiboot_get_info(void)
{
	if (mb_magic != MULTIBOOT_BOOT_MAGIC)
		return NULL;
	return (const struct multiboot_info *)(uintptr_t)mb_info;
}

bool
multiboot_cmdline_has(const char *word)
{
	const struct multiboot_info *mbi = multiboot_get_info();
	size_t n = strlen(word);
	const char *p;

	if (mbi == NULL || !(mbi->flags & MB_INFO_CMDLINE) || mbi->cmdline == 0)
		return false;
	for (p = (const char *)(uintptr_t)mbi->cmdline; *p != '\0'; p++) {
		bool start =
		    p == (const char *)(uintptr_t)mbi->cmdline || p[-1] == ' ';

		if (start && strncmp(p, word, n) == 0 &&
		    (p[n] == '\0' || p[n] == ' '))
			return true;
	}
	return false;
}

void
payload_start(void)
{
	trap_init();
	if (mb_magic != MULTIBOOT_BOOT_MAGIC) {
		td_printf("check failed: multiboot magic 0x%x, want 0x%x",
			  mb_magic, MULTIBOOT_BOOT_MAGIC);
		check_failures++;
	}
	payload_main();
	payload_finish();
}

void
check_failed(const char *what, const char *file, int line)
{
	td_printf("check failed: %s (%s:%d)", what, file, line);
	check_failures++;
}

void
check_failed_eq(const char *what, uint64_t got, uint64_t want, const char *file,
		int line)
{
	td_printf("check failed: %s: got 0x%lx, want 0x%lx (%s:%d)", what, got,
		  want, file, line);
	check_failures++;
}

void
payload_finish(void)
{
	unsigned n = check_failures;

	td_result(n);
	if (n == 0)
		com1_printf("payload: all checks passed\n");
	else
		com1_printf("payload: %u checks failed\n", n);
	acpi_poweroff();
}

void
acpi_poweroff(void)
{
	outw(PM1A_CNT, PM1_SLP_TYP5 | PM1_SLP_EN);
	com1_printf("payload: ACPI poweroff did not stop the VM\n");
	halt_forever();
}

void
cf9_reset(void)
{
	outb(RCR_PORT, RCR_RESET);
	com1_printf("payload: reset through 0xcf9 did not stop the VM\n");
	halt_forever();
}

void
halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void
delay_cycles(uint64_t cycles)
{
	uint64_t start = rdtsc();

	while (rdtsc() - start < cycles)
		cpu_pause();
}

void
spin_lock(spinlock_t *l)
{
	uint32_t one = 1;

	for (;;) {
		__asm__ volatile("xchgl %0, %1"
				 : "+r"(one), "+m"(l->locked)
				 :
				 : "memory");
		if (one == 0)
			return;
		one = 1;
		while (l->locked)
			cpu_pause();
	}
}

void
spin_unlock(spinlock_t *l)
{
	__asm__ volatile("" : : : "memory");
	l->locked = 0;
}

void *
memset(void *d, int c, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *
memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

int
strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1
									 : 1;
		if (a[i] == '\0')
			return 0;
	}
	return 0;
}
