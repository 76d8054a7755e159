/*
 * Direct kernel boot without /dev/kvm: the tests craft multiboot, PVH and
 * bzImage kernels in memory, load them into a detached VM, and check guest
 * memory and the returned CPU state against the specifications.  Debian's
 * cloud bzImage is loaded too when it is installed.  boot_apply() needs a
 * vCPU, so its check runs only where /dev/kvm exists.
 */
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "config.h"
#include "e820.h"
#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
/* Whichever version of Debian's cloud kernel is installed. */
static char debian_kernel[512] = "/boot/vmlinuz-*-cloud-amd64";
static char debian_initrd[512] = "/boot/initrd.img-*-cloud-amd64";
#define DEBIAN_KERNEL debian_kernel
#define DEBIAN_INITRD debian_initrd

static void
find_debian_kernel(void)
{
	glob_t g;

	if (glob("/boot/vmlinuz-*-cloud-amd64", 0, NULL, &g) != 0)
		return;
	if (g.gl_pathc > 0) {
		const char *k = g.gl_pathv[g.gl_pathc - 1];

		snprintf(debian_kernel, sizeof(debian_kernel), "%s", k);
		snprintf(debian_initrd, sizeof(debian_initrd),
			 "/boot/initrd.img-%s", k + strlen("/boot/vmlinuz-"));
	}
	globfree(&g);
}

static char err[512];

/* ---- little-endian buffer helpers ---- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the VM ---- */

static struct vmctx *
test_vm(uint64_t mem)
{
	struct vmctx *ctx = vm_create_detached("boot");

	if (ctx == NULL || vm_setup_memory(ctx, mem) != 0) {
		printf("FAIL: cannot create a detached VM\n");
		exit(1);
	}
	e820_reset();
	return ctx;
}

static void
test_vm_free(struct vmctx *ctx)
{
	vm_destroy(ctx);
	e820_reset();
}

static const uint8_t *
gmem(struct vmctx *ctx, uint64_t gpa, size_t len)
{
	static const uint8_t zero[4096];
	const uint8_t *p = vm_map_gpa(ctx, gpa, len);

	return p != NULL ? p : zero; /* the checks then fail, no crash */
}

static const char *
gstr(struct vmctx *ctx, uint64_t gpa)
{
	const char *s = (const char *)gmem(ctx, gpa, 1);

	return vm_map_gpa(ctx, gpa, 1) != NULL ? s : "(unmapped)";
}

static int
load(struct vmctx *ctx, const void *img, size_t len,
     const struct boot_module *mods, int nmods, const char *cmdline,
     struct boot_cpu_state *st)
{
	err[0] = '\0';
	return boot_load_image(ctx, img, len, mods, nmods, cmdline, st, err,
			       sizeof(err));
}

static int
err_has(const char *what)
{
	return strstr(err, what) != NULL;
}

/* ---- crafting ELF files ---- */

struct test_seg {
	uint32_t type;
	uint64_t vaddr, paddr, memsz;
	const void *data;
	size_t filesz;
};

/*
 * An ELF executable: header, program headers, then each segment's bytes.
 * Returns the malloc'd file; *off[i] tells where segment i's bytes went.
 */
static uint8_t *
make_elf(bool is64, uint64_t entry, const struct test_seg *segs, int nsegs,
	 size_t *len, size_t *offs)
{
	size_t ehsz = is64 ? 64 : 52, phsz = is64 ? 56 : 32, off, total;
	uint8_t *f;
	int i;

	total = ehsz + phsz * (size_t)nsegs;
	for (i = 0; i < nsegs; i++)
		total += (segs[i].filesz + 15) & ~(size_t)15;
	f = calloc(1, total);
	memcpy(f, "\177ELF", 4);
	f[4] = is64 ? 2 : 1;
	f[5] = 1; /* little-endian */
	f[6] = 1;
	put16(f + 16, 2); /* ET_EXEC */
	put16(f + 18, is64 ? 62 : 3);
	put32(f + 20, 1);
	if (is64) {
		put64(f + 24, entry);
		put64(f + 32, ehsz);
		put16(f + 52, (uint16_t)ehsz);
		put16(f + 54, (uint16_t)phsz);
		put16(f + 56, (uint16_t)nsegs);
	} else {
		put32(f + 24, (uint32_t)entry);
		put32(f + 28, (uint32_t)ehsz);
		put16(f + 40, (uint16_t)ehsz);
		put16(f + 42, (uint16_t)phsz);
		put16(f + 44, (uint16_t)nsegs);
	}
	off = ehsz + phsz * (size_t)nsegs;
	for (i = 0; i < nsegs; i++) {
		uint8_t *p = f + ehsz + phsz * (size_t)i;

		offs[i] = off;
		memcpy(f + off, segs[i].data, segs[i].filesz);
		if (is64) {
			put32(p, segs[i].type);
			put32(p + 4, 7);
			put64(p + 8, off);
			put64(p + 16, segs[i].vaddr);
			put64(p + 24, segs[i].paddr);
			put64(p + 32, segs[i].filesz);
			put64(p + 40, segs[i].memsz);
			put64(p + 48, segs[i].type == 4 ? 4 : 0x1000);
		} else {
			put32(p, segs[i].type);
			put32(p + 4, (uint32_t)off);
			put32(p + 8, (uint32_t)segs[i].vaddr);
			put32(p + 12, (uint32_t)segs[i].paddr);
			put32(p + 16, (uint32_t)segs[i].filesz);
			put32(p + 20, (uint32_t)segs[i].memsz);
			put32(p + 24, 7);
			put32(p + 28, segs[i].type == 4 ? 4 : 0x1000);
		}
		off += (segs[i].filesz + 15) & ~(size_t)15;
	}
	*len = total;
	return f;
}

/* ---- multiboot ---- */

#define MB_MAGIC 0x1badb002u

/* A multiboot header at p; with address fields when flags has bit 16. */
static void
put_mb_header(uint8_t *p, uint32_t flags, const uint32_t *addr)
{
	int i;

	put32(p, MB_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, (uint32_t)(0u - MB_MAGIC - flags));
	for (i = 0; addr != NULL && i < 5; i++)
		put32(p + 12 + 4 * i, addr[i]);
}

/* Checks the multiboot information block against the VM and inputs. */
static void
check_mbi(struct vmctx *ctx, const struct boot_cpu_state *st,
	  const char *cmdline, const struct boot_module *mods, int nmods,
	  uint64_t kernel_end, const char *tag)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t mbi = st->regs[VM_REG_GUEST_RBX];
	const uint8_t *b = gmem(ctx, mbi, 116);
	uint32_t mmap_len = get32(b + 44), mmap = get32(b + 48);
	char name[160];
	int i, n, ok;

	snprintf(name, sizeof(name), "%s: flags mem|cmdline|mods|mmap|name",
		 tag);
	CHECK_EQ_U64(get32(b), 0x1 | 0x4 | 0x8 | 0x40 | 0x200, name);
	snprintf(name, sizeof(name), "%s: mem_lower 639 KiB", tag);
	CHECK_EQ_U64(get32(b + 4), 639, name);
	snprintf(name, sizeof(name), "%s: mem_upper from 1 MiB", tag);
	CHECK_EQ_U64(get32(b + 8), (vm_get_lowmem_size(ctx) - MiB) / 1024,
		     name);
	snprintf(name, sizeof(name), "%s: command line", tag);
	CHECK_STR(gstr(ctx, get32(b + 16)), cmdline, name);
	snprintf(name, sizeof(name), "%s: boot loader name", tag);
	CHECK_STR(gstr(ctx, get32(b + 64)), "beehive", name);
	snprintf(name, sizeof(name), "%s: mods_count", tag);
	CHECK_EQ_U64(get32(b + 20), nmods, name);
	for (i = 0; i < nmods; i++) {
		const uint8_t *m = gmem(ctx, get32(b + 24) + 16ULL * i, 16);
		uint32_t start = get32(m), end = get32(m + 4);

		snprintf(name, sizeof(name),
			 "%s: module %d page aligned, "
			 "after the kernel",
			 tag, i);
		CHECK(start % 4096 == 0 && start >= kernel_end, name);
		snprintf(name, sizeof(name), "%s: module %d size", tag, i);
		CHECK_EQ_U64(end - start, mods[i].size, name);
		snprintf(name, sizeof(name), "%s: module %d contents", tag, i);
		CHECK(memcmp(gmem(ctx, start, mods[i].size), mods[i].data,
			     mods[i].size) == 0,
		      name);
		snprintf(name, sizeof(name), "%s: module %d string", tag, i);
		CHECK_STR(gstr(ctx, get32(m + 8)), mods[i].name, name);
	}
	n = e820_get(map, E820_MAX_ENTRIES);
	snprintf(name, sizeof(name), "%s: mmap_length", tag);
	CHECK_EQ_U64(mmap_len, 24 * n, name);
	ok = 1;
	for (i = 0; i < n; i++) {
		const uint8_t *e = gmem(ctx, mmap + 24ULL * i, 24);

		ok &= get32(e) == 20 && get64(e + 4) == map[i].base &&
		      get64(e + 12) == map[i].len &&
		      get32(e + 20) == map[i].type;
	}
	snprintf(name, sizeof(name), "%s: mmap matches E820", tag);
	CHECK(ok, name);
}

static void
check_flat32(const struct boot_cpu_state *st, uint64_t entry, const char *tag)
{
	char name[160];

	snprintf(name, sizeof(name), "%s: RIP is the entry", tag);
	CHECK_EQ_U64(st->regs[VM_REG_GUEST_RIP], entry, name);
	snprintf(name, sizeof(name), "%s: CR0 PE, paging off", tag);
	CHECK((st->regs[VM_REG_GUEST_CR0] & 0x80000001) == 1 &&
		  boot_state_has_reg(st, VM_REG_GUEST_CR0),
	      name);
	snprintf(name, sizeof(name), "%s: CR4 and EFER clear", tag);
	CHECK(st->regs[VM_REG_GUEST_CR4] == 0 &&
		  st->regs[VM_REG_GUEST_EFER] == 0 &&
		  boot_state_has_reg(st, VM_REG_GUEST_EFER),
	      name);
	snprintf(name, sizeof(name), "%s: RFLAGS only bit 1", tag);
	CHECK_EQ_U64(st->regs[VM_REG_GUEST_RFLAGS], 0x2, name);
	snprintf(name, sizeof(name), "%s: CS flat 32-bit code", tag);
	CHECK(boot_state_has_seg(st, VM_REG_GUEST_CS) &&
		  st->segs[VM_REG_GUEST_CS].base == 0 &&
		  st->segs[VM_REG_GUEST_CS].limit == 0xffffffff &&
		  st->segs[VM_REG_GUEST_CS].access == BOOT_ACCESS_CODE32,
	      name);
	snprintf(name, sizeof(name), "%s: DS/ES/SS flat data", tag);
	CHECK(st->segs[VM_REG_GUEST_DS].access == BOOT_ACCESS_DATA &&
		  st->segs[VM_REG_GUEST_ES].access == BOOT_ACCESS_DATA &&
		  st->segs[VM_REG_GUEST_SS].access == BOOT_ACCESS_DATA &&
		  st->segs[VM_REG_GUEST_SS].limit == 0xffffffff,
	      name);
	snprintf(name, sizeof(name), "%s: TR a 32-bit busy TSS", tag);
	CHECK(st->segs[VM_REG_GUEST_TR].access == BOOT_ACCESS_TSS32 &&
		  st->segs[VM_REG_GUEST_TR].limit == 0x67,
	      name);
}

static void
test_multiboot_elf32(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t code[0x2000];
	struct test_seg seg = {1,      0x100000, 0x100000,
			       0x5000, code,	 sizeof(code)};
	static const char m0[] = "first module", m1[] = "second";
	struct boot_module mods[2] = {{m0, sizeof(m0), "mod0 arg=1"},
				      {m1, sizeof(m1), "mod1"}};
	struct boot_cpu_state st;
	size_t len, off;
	uint8_t *img, *g;
	size_t i;

	for (i = 0; i < sizeof(code); i++)
		code[i] = (uint8_t)(i * 7 + 1);
	put_mb_header(code + 0x10, 0x3, NULL);
	img = make_elf(false, 0x100020, &seg, 1, &len, &off);
	/* Dirty guest memory: the loader must clear the bss. */
	g = vm_map_gpa(ctx, 0x100000, 0x5000);
	memset(g, 0xee, 0x5000);
	CHECK(load(ctx, img, len, mods, 2, "console=ttyS0 root=/dev/vda",
		   &st) == 0,
	      "mb elf32: loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK(st.kind == BOOT_KIND_MULTIBOOT, "mb elf32: multiboot kind");
	check_flat32(&st, 0x100020, "mb elf32");
	CHECK_EQ_U64(st.regs[VM_REG_GUEST_RAX], 0x2badb002,
		     "mb elf32: EAX magic");
	CHECK(st.regs[VM_REG_GUEST_RBX] >= BOOT_MBI_BASE &&
		  st.regs[VM_REG_GUEST_RBX] < 0x9fc00,
	      "mb elf32: info below 640 KiB");
	CHECK(memcmp(gmem(ctx, 0x100000, sizeof(code)), code, sizeof(code)) ==
		  0,
	      "mb elf32: segment bytes at p_paddr");
	g = vm_map_gpa(ctx, 0x100000 + sizeof(code), 0x5000 - sizeof(code));
	for (i = 0; g != NULL && i < 0x5000 - sizeof(code) && g[i] == 0; i++)
		;
	CHECK(i == 0x5000 - sizeof(code), "mb elf32: bss zeroed");
	check_mbi(ctx, &st, "console=ttyS0 root=/dev/vda", mods, 2, 0x105000,
		  "mb elf32");
	CHECK(get64(gmem(ctx, BOOT_GDT_ADDR + BOOT_SEL_CS, 8)) ==
		  0x00cf9b000000ffffULL,
	      "mb elf32: GDT code descriptor");
	free(img);
	test_vm_free(ctx);
}

/* ELF64, linked high: the virtual entry is translated like GRUB does. */
static void
test_multiboot_elf64(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t code[0x1000];
	struct test_seg segs[2] = {
	    {1, 0xffffffff80200000ULL, 0x200000, 0x1000, code, sizeof(code)},
	    {1, 0xffffffff80300000ULL, 0x300000, 0x3000, code, 0x100},
	};
	struct boot_cpu_state st;
	size_t len, offs[2];
	uint8_t *img;

	memset(code, 0x90, sizeof(code));
	put_mb_header(code + 0x40, 0x2, NULL);
	img = make_elf(true, 0xffffffff80200100ULL, segs, 2, &len, offs);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0, "mb elf64: loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	check_flat32(&st, 0x200100, "mb elf64");
	check_mbi(ctx, &st, "", NULL, 0, 0, "mb elf64");
	CHECK(gmem(ctx, 0x300000, 1)[0] == 0x90 &&
		  gmem(ctx, 0x300100, 1)[0] == 0,
	      "mb elf64: second segment and its bss");
	free(img);
	test_vm_free(ctx);
}

/* The a.out kludge: a flat binary (or any file) placed by the header. */
static void
test_multiboot_kludge(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t bin[0x3000];
	/* header_addr, load_addr, load_end_addr, bss_end_addr, entry */
	uint32_t addr[5] = {0x101000 + 0x40, 0x101000, 0, 0x108000, 0x101080};
	static const char mod[] = "payload";
	struct boot_module m = {mod, 5, "m"};
	struct boot_cpu_state st;
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i ^ 0x5a);
	put_mb_header(bin + 0x40, 0x10000 | 0x1, addr);
	memset(vm_map_gpa(ctx, 0x101000, 0x7000), 0xcc, 0x7000);
	CHECK(load(ctx, bin, sizeof(bin), &m, 1, "x", &st) == 0,
	      "mb kludge: loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	check_flat32(&st, 0x101080, "mb kludge");
	CHECK(memcmp(gmem(ctx, 0x101000, sizeof(bin)), bin, sizeof(bin)) == 0,
	      "mb kludge: whole file at load_addr (load_end_addr 0)");
	CHECK(gmem(ctx, 0x101000 + sizeof(bin), 1)[0] == 0 &&
		  gmem(ctx, 0x107fff, 1)[0] == 0,
	      "mb kludge: bss cleared to bss_end_addr");
	check_mbi(ctx, &st, "x", &m, 1, 0x108000, "mb kludge");

	/* load_end_addr shorter than the file: only that much is loaded. */
	test_vm_free(ctx);
	ctx = test_vm(64 * MiB);
	addr[2] = 0x102000;
	addr[3] = 0;
	put_mb_header(bin + 0x40, 0x10000, addr);
	memset(vm_map_gpa(ctx, 0x101000, 0x3000), 0xcc, 0x3000);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == 0,
	      "mb kludge: load_end_addr honoured");
	CHECK(gmem(ctx, 0x101fff, 1)[0] == bin[0xfff] &&
		  gmem(ctx, 0x102000, 1)[0] == 0xcc,
	      "mb kludge: nothing past load_end_addr");
	test_vm_free(ctx);
}

/* An ELF64 file whose multiboot header has address fields: they win. */
static void
test_multiboot_elf64_kludge(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t code[0x800];
	struct test_seg seg = {1,     0x40000000, 0x40000000,
			       0x800, code,	  sizeof(code)};
	struct boot_cpu_state st;
	uint32_t addr[5];
	size_t len, off;
	uint8_t *img;

	img = make_elf(true, 0x40000000, &seg, 1, &len, &off);
	/* The header sits at file offset off + 0x20: load the file from 0. */
	addr[0] = 0x200000 + (uint32_t)off + 0x20;
	addr[1] = 0x200000;
	addr[2] = 0;
	addr[3] = 0;
	addr[4] = 0x200000 + (uint32_t)off;
	put_mb_header(img + off + 0x20, 0x10000, addr);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0,
	      "mb elf64+kludge: loads by the address fields");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK_EQ_U64(st.regs[VM_REG_GUEST_RIP], 0x200000 + off,
		     "mb elf64+kludge: entry_addr");
	CHECK(memcmp(gmem(ctx, 0x200000, 4), "\177ELF", 4) == 0,
	      "mb elf64+kludge: file image at load_addr");
	free(img);
	test_vm_free(ctx);
}

static void
test_multiboot_bad(void)
{
	struct vmctx *ctx = test_vm(32 * MiB);
	static uint8_t bin[0x3000];
	uint32_t addr[5] = {0x100040, 0x100000, 0, 0, 0x100000};
	struct boot_cpu_state st;

	memset(bin, 0, sizeof(bin));
	put_mb_header(bin + 0x40, 0x10000, addr);
	put32(bin + 0x48, 0x12345678); /* bad checksum */
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("unrecognized"),
	      "mb bad: wrong checksum is not multiboot");

	put_mb_header(bin + 0x40, 0x10000 | 0x8, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("requires features"),
	      "mb bad: unknown required flag refused");

	addr[0] = 0x100000 - 4; /* header_addr below load_addr */
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("header_addr"),
	      "mb bad: header_addr below load_addr");

	addr[0] = 0x100040 + 0x1000; /* file would start before offset 0 */
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1,
	      "mb bad: header_addr too far past load_addr");

	addr[0] = 0x100040;
	addr[2] = 0x100000 + 0x10000; /* beyond the file */
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("file has only"),
	      "mb bad: load_end_addr past the file");

	addr[2] = 0x101000;
	addr[3] = 0x100800; /* bss ends before the image */
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("bss_end_addr"),
	      "mb bad: bss_end_addr below load end");

	addr[1] = 0xfffff000; /* beyond RAM and wraps */
	addr[0] = 0xfffff040;
	addr[2] = 0;
	addr[3] = 0;
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1,
	      "mb bad: image beyond 4 GiB refused");

	addr[0] = 0x4000040; /* 64 MiB: past this VM's 32 MiB */
	addr[1] = 0x4000000;
	put_mb_header(bin + 0x40, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("not in guest RAM"),
	      "mb bad: kernel outside RAM");

	/* The header must be within the first 8 KiB. */
	memset(bin, 0, sizeof(bin));
	put_mb_header(bin + 0x2000, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("unrecognized"),
	      "mb bad: header past 8 KiB ignored");

	/* Header cut short by the end of the file. */
	memset(bin, 0, sizeof(bin));
	put_mb_header(bin + sizeof(bin) - 16, 0x10000, NULL);
	CHECK(load(ctx, bin + 0x1000, 0x2000, NULL, 0, NULL, &st) == -1,
	      "mb bad: truncated address fields refused");

	/* A module that does not fit in RAM. */
	{
		static uint8_t tiny[0x100];
		uint32_t a2[5] = {0x100000, 0x100000, 0, 0, 0x100000};
		struct boot_module big = {tiny, 64 * MiB, "big"};

		put_mb_header(tiny, 0x10000, a2);
		CHECK(load(ctx, tiny, sizeof(tiny), &big, 1, NULL, &st) == -1 &&
			  err_has("no room for the module"),
		      "mb bad: module larger than RAM");
	}
	test_vm_free(ctx);
}

/* A kernel sitting on the low info area pushes the info above it. */
static void
test_multiboot_low_kernel(void)
{
	struct vmctx *ctx = test_vm(32 * MiB);
	static uint8_t bin[0x1000];
	uint32_t addr[5] = {0x8000, 0x8000, 0, 0x9fc00, 0x8000};
	struct boot_cpu_state st;

	put_mb_header(bin, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, "low", &st) == 0,
	      "mb low: kernel in the info area loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK(st.regs[VM_REG_GUEST_RBX] >= MiB,
	      "mb low: info moved above 1 MiB");
	check_mbi(ctx, &st, "low", NULL, 0, 0, "mb low");

	addr[1] = 0x400;
	addr[0] = 0x400;
	addr[3] = 0x2000;
	addr[4] = 0x400;
	put_mb_header(bin, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == -1 &&
		  err_has("overlaps"),
	      "mb low: kernel over the boot GDT refused");
	test_vm_free(ctx);
}

/* ---- PVH ---- */

/* A note: namesz, descsz, type, name (padded), desc (padded). */
static size_t
put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
	 uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	put32(p, namesz);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memcpy(p + off, desc, descsz);
	off += (descsz + 3) & ~3u;
	return off;
}

static uint8_t *
make_pvh(bool is64, uint64_t entry, uint32_t descsz, uint64_t paddr,
	 size_t *len, uint8_t *code, size_t codelen)
{
	static uint8_t notes[128];
	uint8_t desc[8], gnu[16] = {1, 2, 3};
	struct test_seg segs[2];
	size_t n, offs[2];

	memset(notes, 0, sizeof(notes));
	put64(desc, entry);
	n = put_note(notes, "GNU", 3, gnu, sizeof(gnu));
	n += put_note(notes + n, "Xen", 18, desc, descsz);
	segs[0] = (struct test_seg){4, 0, 0, 0, notes, n};
	segs[1] = (struct test_seg){
	    1, 0xffffffff81000000ULL, paddr, codelen + 0x1000, code, codelen};
	return make_elf(is64, 0xffffffff81000000ULL, segs, 2, len, offs);
}

static void
test_pvh(void)
{
	struct vmctx *ctx = test_vm(128 * MiB);
	static uint8_t code[0x4000];
	static uint8_t rd[10000];
	struct boot_module m = {rd, sizeof(rd), "initrd"};
	struct e820_entry map[E820_MAX_ENTRIES];
	struct boot_cpu_state st;
	const uint8_t *si, *mod;
	size_t len, i;
	uint8_t *img;
	int n, ok;

	memset(code, 0xf4, sizeof(code));
	for (i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 13);
	img = make_pvh(true, 0x1000123, 8, 0x1000000, &len, code, sizeof(code));
	CHECK(load(ctx, img, len, &m, 1, "console=hvc0 earlyprintk", &st) == 0,
	      "pvh: loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK(st.kind == BOOT_KIND_PVH, "pvh: PVH kind");
	check_flat32(&st, 0x1000123, "pvh");
	CHECK_EQ_U64(st.regs[VM_REG_GUEST_RBX], BOOT_INFO_ADDR,
		     "pvh: EBX is hvm_start_info");
	CHECK(memcmp(gmem(ctx, 0x1000000, sizeof(code)), code, sizeof(code)) ==
		  0,
	      "pvh: vmlinux segment at p_paddr, not p_vaddr");
	si = gmem(ctx, BOOT_INFO_ADDR, 56);
	CHECK_EQ_U64(get32(si), 0x336ec578, "pvh: start_info magic");
	CHECK_EQ_U64(get32(si + 4), 1, "pvh: start_info version 1");
	CHECK_EQ_U64(get32(si + 12), 1, "pvh: one module");
	CHECK_STR(gstr(ctx, get64(si + 24)), "console=hvc0 earlyprintk",
		  "pvh: command line");
	CHECK_EQ_U64(get64(si + 32), 0, "pvh: no RSDP given");
	mod = gmem(ctx, get64(si + 16), 32);
	CHECK(get64(mod) % 4096 == 0 && get64(mod) >= 0x1005000,
	      "pvh: initrd page aligned above the kernel");
	CHECK_EQ_U64(get64(mod + 8), sizeof(rd), "pvh: initrd size");
	CHECK(memcmp(gmem(ctx, get64(mod), sizeof(rd)), rd, sizeof(rd)) == 0,
	      "pvh: initrd contents");
	n = e820_get(map, E820_MAX_ENTRIES);
	CHECK_EQ_U64(get32(si + 48), n, "pvh: memmap_entries");
	ok = 1;
	for (i = 0; i < (size_t)n; i++) {
		const uint8_t *e = gmem(ctx, get64(si + 40) + 24 * i, 24);

		ok &= get64(e) == map[i].base && get64(e + 8) == map[i].len &&
		      get32(e + 16) == map[i].type;
	}
	CHECK(ok, "pvh: memmap is the E820 map with E820 types");
	free(img);

	/* ELF32 with a 4-byte entry note. */
	img = make_pvh(false, 0x200040, 4, 0x200000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0 &&
		  st.regs[VM_REG_GUEST_RIP] == 0x200040,
	      "pvh: ELF32 with a 4-byte note");
	free(img);

	img = make_pvh(true, 0, 8, 0x200000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("PVH entry"),
	      "pvh: zero entry refused");
	free(img);
	img = make_pvh(true, 0x100000000ULL, 8, 0x200000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("PVH entry"),
	      "pvh: entry above 4 GiB refused");
	free(img);
	img = make_pvh(true, 0x200000, 2, 0x200000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1,
	      "pvh: odd note size refused");
	free(img);
	img = make_pvh(true, 0x1000, 8, 0x1000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("overlaps"),
	      "pvh: kernel over start_info refused");
	free(img);
	img = make_pvh(true, 0x200000, 8, 0x7fff000, &len, code, 0x100);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("not in guest RAM"),
	      "pvh: segment past the end of RAM refused");
	free(img);
	test_vm_free(ctx);
}

static void
test_pvh_bad_elf(void)
{
	struct vmctx *ctx = test_vm(32 * MiB);
	static uint8_t code[0x100];
	struct boot_cpu_state st;
	size_t len;
	uint8_t *img;

	img = make_pvh(true, 0x200000, 8, 0x200000, &len, code, sizeof(code));
	/* Note namesz huge: the note is not found, nothing else matches. */
	put32(img + 64 + 2 * 56 + 32, 0xfffffff0);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("unrecognized"),
	      "pvh bad: runaway note size");
	free(img);

	img = make_pvh(true, 0x200000, 8, 0x200000, &len, code, sizeof(code));
	/* PT_LOAD p_offset far outside the file. */
	put64(img + 64 + 56 + 8, 0x7fffffffffffff00ULL);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("outside the file"),
	      "pvh bad: segment offset outside the file");
	free(img);

	img = make_pvh(true, 0x200000, 8, 0x200000, &len, code, sizeof(code));
	put64(img + 64 + 56 + 32, 0x10000); /* filesz > memsz */
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1,
	      "pvh bad: file size larger than memory size");
	free(img);

	img = make_pvh(true, 0x200000, 8, 0x200000, &len, code, sizeof(code));
	put16(img + 56, 0x1000); /* phnum */
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1,
	      "pvh bad: program headers past the end");
	free(img);

	img = make_pvh(true, 0x200000, 8, 0x200000, &len, code, sizeof(code));
	CHECK(load(ctx, img, 40, NULL, 0, NULL, &st) == -1,
	      "pvh bad: truncated ELF header");
	free(img);
	test_vm_free(ctx);
}

/* ---- bzImage ---- */

struct bz_opts {
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_max;
	uint32_t cmdline_size;
	uint64_t pref;
	uint32_t init_size;
	uint8_t setup_sects;
};

#define BZ_SETUP_SECTS 4
#define BZ_PAYLOAD     8192

static uint8_t *
make_bzimage(const struct bz_opts *o, size_t *len)
{
	size_t setup = ((size_t)o->setup_sects + 1) * 512;
	uint8_t *f = calloc(1, setup + BZ_PAYLOAD);
	size_t i;

	f[0x1f1] = o->setup_sects;
	put32(f + 0x1f4, BZ_PAYLOAD / 16);
	put16(f + 0x1fe, 0xaa55);
	f[0x200] = 0xeb;
	f[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(f + 0x202, "HdrS", 4);
	put16(f + 0x206, o->version);
	f[0x211] = o->loadflags;
	put32(f + 0x214, 0x100000);
	put32(f + 0x22c, o->initrd_max);
	put32(f + 0x230, 0x200000);
	f[0x234] = 1;
	f[0x235] = 21;
	put16(f + 0x236, o->xloadflags);
	put32(f + 0x238, o->cmdline_size);
	put64(f + 0x250, 0xdeadbeef); /* setup_data the loader must clear */
	put64(f + 0x258, o->pref);
	put32(f + 0x260, o->init_size);
	for (i = 0; i < BZ_PAYLOAD; i++)
		f[setup + i] = (uint8_t)(i * 31 + 7);
	*len = setup + BZ_PAYLOAD;
	return f;
}

static const struct bz_opts bz_default = {0x020f,     0x01,	     0x0003,
					  0x7fffffff, 2047,	     0x1000000,
					  0x200000,   BZ_SETUP_SECTS};

static void
check_zero_page_e820(struct vmctx *ctx, const char *tag)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	const uint8_t *bp = gmem(ctx, BOOT_INFO_ADDR, 4096);
	char name[128];
	int i, n, ok = 1;

	n = e820_get(map, E820_MAX_ENTRIES);
	snprintf(name, sizeof(name), "%s: e820_entries", tag);
	CHECK_EQ_U64(bp[0x1e8], n, name);
	for (i = 0; i < n; i++) {
		const uint8_t *e = bp + 0x2d0 + 20 * i;

		ok &= get64(e) == map[i].base && get64(e + 8) == map[i].len &&
		      get32(e + 16) == map[i].type;
	}
	snprintf(name, sizeof(name), "%s: e820_table", tag);
	CHECK(ok, name);
}

static void
check_long64(const struct boot_cpu_state *st, const char *tag)
{
	char name[128];

	snprintf(name, sizeof(name), "%s: long mode CR0/CR4/EFER", tag);
	CHECK(st->regs[VM_REG_GUEST_CR0] == 0x80000011 &&
		  st->regs[VM_REG_GUEST_CR4] == 0x20 &&
		  st->regs[VM_REG_GUEST_EFER] == 0x500,
	      name);
	snprintf(name, sizeof(name), "%s: CR3 at the page tables", tag);
	CHECK_EQ_U64(st->regs[VM_REG_GUEST_CR3], BOOT_PML4_ADDR, name);
	snprintf(name, sizeof(name), "%s: CS __BOOT_CS 64-bit", tag);
	CHECK(st->regs[VM_REG_GUEST_CS] == 0x10 &&
		  st->segs[VM_REG_GUEST_CS].access == BOOT_ACCESS_CODE64,
	      name);
	snprintf(name, sizeof(name), "%s: DS/ES/SS __BOOT_DS", tag);
	CHECK(st->regs[VM_REG_GUEST_DS] == 0x18 &&
		  st->regs[VM_REG_GUEST_ES] == 0x18 &&
		  st->regs[VM_REG_GUEST_SS] == 0x18 &&
		  st->segs[VM_REG_GUEST_SS].access == BOOT_ACCESS_DATA,
	      name);
	snprintf(name, sizeof(name), "%s: GDTR at the boot GDT", tag);
	CHECK(st->segs[VM_REG_GUEST_GDTR].base == BOOT_GDT_ADDR &&
		  st->segs[VM_REG_GUEST_GDTR].limit >= 0x1f,
	      name);
	snprintf(name, sizeof(name), "%s: RSI boot_params, RBP/RDI/RBX 0", tag);
	CHECK(st->regs[VM_REG_GUEST_RSI] == BOOT_INFO_ADDR &&
		  boot_state_has_reg(st, VM_REG_GUEST_RBX) &&
		  st->regs[VM_REG_GUEST_RBX] == 0 &&
		  st->regs[VM_REG_GUEST_RDI] == 0 &&
		  st->regs[VM_REG_GUEST_RBP] == 0,
	      name);
	snprintf(name, sizeof(name), "%s: interrupts off", tag);
	CHECK_EQ_U64(st->regs[VM_REG_GUEST_RFLAGS], 0x2, name);
}

static void
check_page_tables(struct vmctx *ctx)
{
	const uint8_t *pt = gmem(ctx, BOOT_PML4_ADDR, 6 * 4096);
	int ok = 1;
	uint64_t i;

	CHECK_EQ_U64(get64(pt), BOOT_PML4_ADDR + 0x1000 + 3,
		     "bz: PML4[0] -> PDPT");
	CHECK_EQ_U64(get64(pt + 8), 0, "bz: PML4[1] empty");
	for (i = 0; i < 4; i++)
		ok &= get64(pt + 0x1000 + 8 * i) ==
		      BOOT_PML4_ADDR + 0x2000 + 0x1000 * i + 3;
	CHECK(ok, "bz: PDPT[0..3] -> four page directories");
	for (i = 0; i < 2048; i++)
		ok &= get64(pt + 0x2000 + 8 * i) == ((i << 21) | 0x83);
	CHECK(ok, "bz: 2 MiB identity pages for 0..4 GiB");
	CHECK_EQ_U64(get64(gmem(ctx, BOOT_GDT_ADDR + 0x10, 8)),
		     0x00af9b000000ffffULL, "bz: GDT 0x10 64-bit code");
	CHECK_EQ_U64(get64(gmem(ctx, BOOT_GDT_ADDR + 0x18, 8)),
		     0x00cf93000000ffffULL, "bz: GDT 0x18 data");
}

static void
test_bzimage(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t rd[12345];
	struct boot_module m = {rd, sizeof(rd), "initrd"};
	struct boot_cpu_state st;
	const uint8_t *bp;
	uint32_t rdaddr;
	size_t len, i;
	uint8_t *img;

	for (i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 3);
	img = make_bzimage(&bz_default, &len);
	CHECK(load(ctx, img, len, &m, 1, "console=ttyS0 quiet", &st) == 0,
	      "bz: loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK(st.kind == BOOT_KIND_LINUX64, "bz: 64-bit entry");
	CHECK_EQ_U64(st.regs[VM_REG_GUEST_RIP], 0x100200,
		     "bz: RIP = code32_start + 0x200");
	check_long64(&st, "bz");
	check_page_tables(ctx);
	CHECK(memcmp(gmem(ctx, 0x100000, BZ_PAYLOAD), img + 5 * 512,
		     BZ_PAYLOAD) == 0,
	      "bz: protected-mode kernel at 1 MiB");
	bp = gmem(ctx, BOOT_INFO_ADDR, 4096);
	CHECK(memcmp(bp + 0x202, "HdrS", 4) == 0 && get16(bp + 0x206) == 0x20f,
	      "bz: setup header copied into the zero page");
	CHECK(bp[0x1f0] == 0 && bp[0x26c] == 0,
	      "bz: only the setup header copied");
	CHECK_EQ_U64(get64(bp + 0x258), 0x1000000, "bz: pref_address copied");
	CHECK_EQ_U64(bp[0x210], 0xff, "bz: type_of_loader 0xff");
	CHECK_EQ_U64(bp[0x211], 0x81, "bz: loadflags LOADED_HIGH|CAN_USE_HEAP");
	CHECK(get16(bp + 0x224) != 0, "bz: heap_end_ptr set");
	CHECK_EQ_U64(get16(bp + 0x1fa), 0xffff, "bz: vid_mode normal");
	CHECK_EQ_U64(get32(bp + 0x214), 0x100000, "bz: code32_start");
	CHECK_EQ_U64(get64(bp + 0x250), 0, "bz: setup_data cleared");
	CHECK_STR(gstr(ctx, get32(bp + 0x228)), "console=ttyS0 quiet",
		  "bz: cmd_line_ptr");
	CHECK_EQ_U64(get32(bp + 0xc8), 0, "bz: ext_cmd_line_ptr 0");
	rdaddr = get32(bp + 0x218);
	CHECK_EQ_U64(get32(bp + 0x21c), sizeof(rd), "bz: ramdisk_size");
	CHECK(get32(bp + 0xc0) == 0 && get32(bp + 0xc4) == 0,
	      "bz: ext_ramdisk fields 0 below 4 GiB");
	CHECK(rdaddr % 4096 == 0, "bz: initrd page aligned");
	CHECK(rdaddr + sizeof(rd) <= 64 * MiB &&
		  rdaddr + sizeof(rd) > 64 * MiB - 4096,
	      "bz: initrd at the top of low RAM");
	CHECK(rdaddr >= 0x1000000 + 0x200000,
	      "bz: initrd clear of pref_address + init_size");
	CHECK(memcmp(gmem(ctx, rdaddr, sizeof(rd)), rd, sizeof(rd)) == 0,
	      "bz: initrd contents");
	check_zero_page_e820(ctx, "bz");
	free(img);
	test_vm_free(ctx);
}

static void
test_bzimage_initrd_limits(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	static uint8_t rd[8192];
	struct boot_module m = {rd, sizeof(rd), "initrd"};
	struct bz_opts o = bz_default;
	struct boot_cpu_state st;
	uint32_t rdaddr;
	size_t len;
	uint8_t *img;

	/* initrd_addr_max is the last byte the initrd may use. */
	o.initrd_max = 0x1ffffff;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, &m, 1, NULL, &st) == 0,
	      "bz limits: loads with initrd_addr_max 32 MiB");
	rdaddr = get32(gmem(ctx, BOOT_INFO_ADDR + 0x218, 4));
	CHECK(rdaddr + sizeof(rd) - 1 <= 0x1ffffff &&
		  rdaddr + sizeof(rd) > 0x2000000 - 4096,
	      "bz limits: initrd just below initrd_addr_max");
	free(img);
	test_vm_free(ctx);

	/* Platform code reserved the top of RAM: the initrd stays below. */
	ctx = test_vm(64 * MiB);
	CHECK(e820_init(ctx) == 0 &&
		  e820_add_entry(63 * MiB, MiB, E820_TYPE_ACPI) == 0,
	      "bz limits: platform reserves the top MiB");
	img = make_bzimage(&bz_default, &len);
	CHECK(load(ctx, img, len, &m, 1, NULL, &st) == 0,
	      "bz limits: loads with a reserved top");
	rdaddr = get32(gmem(ctx, BOOT_INFO_ADDR + 0x218, 4));
	CHECK(rdaddr + sizeof(rd) <= 63 * MiB,
	      "bz limits: initrd below the reserved range");
	CHECK_EQ_U64(gmem(ctx, BOOT_INFO_ADDR, 4096)[0x1e8], 4,
		     "bz limits: the ACPI range is in the zero page's E820");
	free(img);
	test_vm_free(ctx);

	/* No room between the kernel's area and initrd_addr_max. */
	ctx = test_vm(64 * MiB);
	o.initrd_max = 0x11fffff;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, &m, 1, NULL, &st) == -1 &&
		  err_has("no room for the initrd"),
	      "bz limits: initrd cannot fit below initrd_addr_max");
	free(img);

	img = make_bzimage(&bz_default, &len);
	m.size = 60 * MiB;
	CHECK(load(ctx, img, len, &m, 1, NULL, &st) == -1 &&
		  err_has("no room for the initrd"),
	      "bz limits: initrd larger than free RAM");
	{
		struct boot_module two[2] = {{rd, 10, "a"}, {rd, 10, "b"}};

		CHECK(load(ctx, img, len, two, 2, NULL, &st) == -1 &&
			  err_has("one initrd"),
		      "bz limits: two initrds refused");
	}
	free(img);
	test_vm_free(ctx);
}

static void
test_bzimage_variants(void)
{
	struct vmctx *ctx = test_vm(64 * MiB);
	struct bz_opts o = bz_default;
	struct boot_cpu_state st;
	char longcmd[64];
	size_t len;
	uint8_t *img;

	/* Protocol 2.11: no 64-bit entry defined, use the 32-bit one. */
	o.version = 0x020b;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0 &&
		  st.kind == BOOT_KIND_LINUX32,
	      "bz 2.11: 32-bit entry");
	check_flat32(&st, 0x100000, "bz 2.11");
	CHECK(st.regs[VM_REG_GUEST_CS] == 0x10 &&
		  st.regs[VM_REG_GUEST_DS] == 0x18 &&
		  st.regs[VM_REG_GUEST_RSI] == BOOT_INFO_ADDR,
	      "bz 2.11: __BOOT_CS/__BOOT_DS and ESI");
	free(img);
	test_vm_free(ctx);

	ctx = test_vm(64 * MiB);
	o = bz_default;
	o.xloadflags = 0; /* new protocol, but a 32-bit kernel */
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0 &&
		  st.kind == BOOT_KIND_LINUX32 &&
		  st.regs[VM_REG_GUEST_RIP] == 0x100000,
	      "bz: no XLF_KERNEL_64 means 32-bit entry");
	free(img);

	o = bz_default;
	o.version = 0x0205;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("too old"),
	      "bz: protocol 2.05 refused");
	free(img);

	o = bz_default;
	o.loadflags = 0;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("zImage"),
	      "bz: zImage (not LOADED_HIGH) refused");
	free(img);

	img = make_bzimage(&bz_default, &len);
	img[0x1f1] = 0; /* means 4 */
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0 &&
		  memcmp(gmem(ctx, 0x100000, 64), img + 5 * 512, 64) == 0,
	      "bz: setup_sects 0 means 4");
	free(img);

	img = make_bzimage(&bz_default, &len);
	img[0x1f1] = 40; /* 41 sectors of setup > the whole file */
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("truncated"),
	      "bz: truncated image refused");
	free(img);

	o = bz_default;
	o.cmdline_size = 10;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, "0123456789", &st) == 0,
	      "bz: command line of exactly cmdline_size");
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	CHECK(load(ctx, img, len, NULL, 0, longcmd, &st) == -1 &&
		  err_has("command line"),
	      "bz: command line over cmdline_size refused");
	free(img);

	o = bz_default;
	o.init_size = 0x10000000; /* 256 MiB to decompress into */
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1 &&
		  err_has("to decompress"),
	      "bz: kernel needing more RAM than the VM has");
	free(img);

	o = bz_default;
	o.pref = 0xfffffffffff00000ULL;
	img = make_bzimage(&o, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == -1,
	      "bz: absurd pref_address refused");
	free(img);

	img = make_bzimage(&bz_default, &len);
	CHECK(load(ctx, img, 0x280, NULL, 0, NULL, &st) == -1,
	      "bz: header cut short");
	free(img);
	test_vm_free(ctx);
}

/* ---- the dispatcher, files and configuration ---- */

static void
test_dispatch(void)
{
	struct vmctx *ctx = test_vm(32 * MiB);
	struct boot_files files = {0};
	struct boot_cpu_state st;
	static uint8_t junk[4096];
	char path[] = "/tmp/test_boot_XXXXXX";
	int fd;

	CHECK(load(ctx, junk, 0, NULL, 0, NULL, &st) == -1 &&
		  err_has("unrecognized"),
	      "boot: empty image refused");
	memset(junk, 0x41, sizeof(junk));
	CHECK(load(ctx, junk, sizeof(junk), NULL, 0, NULL, &st) == -1 &&
		  err_has("unrecognized"),
	      "boot: junk refused");
	CHECK(st.kind == BOOT_KIND_NONE, "boot: failed load leaves no state");

	CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) == -1 &&
		  err_has("boot.kernel"),
	      "boot: no kernel named");
	files.kernel = "/nonexistent/vmlinuz";
	CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) == -1 &&
		  err_has("/nonexistent/vmlinuz") && err_has("No such file"),
	      "boot: missing kernel file");
	files.kernel = "/tmp";
	CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) == -1 &&
		  err_has("not a regular file"),
	      "boot: directory as kernel");

	/* A multiboot kernel in a file, with two module files. */
	fd = mkstemp(path);
	CHECK(fd >= 0, "boot: temp file");
	if (fd >= 0) {
		uint32_t addr[5] = {0x100000, 0x100000, 0, 0, 0x100000};
		char mods[2 * sizeof(path) + 1];

		put_mb_header(junk, 0x10000, addr);
		CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk),
		      "boot: write temp kernel");
		close(fd);
		files.kernel = path;
		snprintf(mods, sizeof(mods), "%s,%s", path, path);
		files.initrd = mods;
		files.cmdline = "hello";
		CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) ==
			      0 &&
			  st.kind == BOOT_KIND_MULTIBOOT,
		      "boot: multiboot kernel from a file");
		CHECK_EQ_U64(
		    get32(gmem(ctx, st.regs[VM_REG_GUEST_RBX] + 20, 4)), 2,
		    "boot: comma-separated modules");
		files.initrd = "/nonexistent/initrd";
		CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) ==
			      -1 &&
			  err_has("/nonexistent/initrd"),
		      "boot: missing initrd file");

		/* The configuration keys. */
		init_config();
		CHECK(boot_load(ctx, &st, err, sizeof(err)) == -1 &&
			  err_has("boot.kernel"),
		      "boot: boot_load without boot.kernel");
		set_config_value("boot.kernel", path);
		set_config_value("boot.cmdline", "from config");
		CHECK(boot_load(ctx, &st, err, sizeof(err)) == 0 &&
			  st.kind == BOOT_KIND_MULTIBOOT,
		      "boot: boot_load reads boot.kernel");
		CHECK_STR(
		    gstr(ctx,
			 get32(gmem(ctx, st.regs[VM_REG_GUEST_RBX] + 16, 4))),
		    "from config", "boot: boot_load reads boot.cmdline");
		fini_config();
		unlink(path);
	}
	test_vm_free(ctx);

	ctx = test_vm(MiB);
	CHECK(load(ctx, junk, sizeof(junk), NULL, 0, NULL, &st) == -1 &&
		  err_has("too small"),
	      "boot: 1 MiB VM is too small");
	test_vm_free(ctx);
}

/* The Debian cloud kernel: parse, load, and check the zero page. */
static void
test_debian_bzimage(void)
{
	struct boot_files files = {DEBIAN_KERNEL, NULL, "console=ttyS0"};
	struct boot_cpu_state st;
	struct vmctx *ctx;
	const uint8_t *bp;
	uint8_t head[1024];
	FILE *fp;

	if (access(DEBIAN_KERNEL, R_OK) != 0) {
		printf("SKIP: %s not installed\n", DEBIAN_KERNEL);
		return;
	}
	ctx = test_vm(512 * MiB);
	if (access(DEBIAN_INITRD, R_OK) == 0)
		files.initrd = DEBIAN_INITRD;
	CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) == 0,
	      "debian: cloud bzImage loads");
	if (err[0] != '\0')
		printf("     error: %s\n", err);
	CHECK(st.kind == BOOT_KIND_LINUX64, "debian: 64-bit entry");
	CHECK_EQ_U64(st.regs[VM_REG_GUEST_RIP], 0x100200,
		     "debian: entry at 1 MiB + 0x200");
	check_long64(&st, "debian");
	bp = gmem(ctx, BOOT_INFO_ADDR, 4096);
	CHECK(get16(bp + 0x206) >= 0x20c, "debian: protocol 2.12 or later");
	CHECK(get16(bp + 0x236) & 1, "debian: XLF_KERNEL_64");
	CHECK_EQ_U64(bp[0x210], 0xff, "debian: type_of_loader");
	CHECK(bp[0x211] & 0x80, "debian: CAN_USE_HEAP");
	CHECK_STR(gstr(ctx, get32(bp + 0x228)), "console=ttyS0",
		  "debian: command line");
	check_zero_page_e820(ctx, "debian");
	fp = fopen(DEBIAN_KERNEL, "rb");
	CHECK(fp != NULL && fread(head, 1, sizeof(head), fp) == sizeof(head),
	      "debian: read the image head");
	if (fp != NULL) {
		size_t setup =
		    ((size_t)(head[0x1f1] ? head[0x1f1] : 4) + 1) * 512;
		uint8_t k[512];

		CHECK(fseek(fp, (long)setup, SEEK_SET) == 0 &&
			  fread(k, 1, sizeof(k), fp) == sizeof(k) &&
			  memcmp(gmem(ctx, 0x100000, sizeof(k)), k,
				 sizeof(k)) == 0,
		      "debian: kernel body at 1 MiB");
		fclose(fp);
	}
	if (files.initrd != NULL) {
		uint32_t rd = get32(bp + 0x218), rdsz = get32(bp + 0x21c);
		uint64_t need = get64(bp + 0x258) + get32(bp + 0x260);

		CHECK(rd != 0 && rd % 4096 == 0 && rdsz > 0,
		      "debian: ramdisk placed");
		CHECK((uint64_t)rd + rdsz - 1 <= get32(bp + 0x22c) &&
			  (uint64_t)rd + rdsz <= 512 * MiB,
		      "debian: ramdisk below initrd_addr_max and RAM top");
		CHECK(rd >= need, "debian: ramdisk clear of init_size");
	}
	test_vm_free(ctx);

	/* 64 MiB is less than pref_address + init_size: a clear error. */
	ctx = test_vm(64 * MiB);
	files.initrd = NULL;
	CHECK(boot_load_files(ctx, &files, &st, err, sizeof(err)) == -1 &&
		  err_has(DEBIAN_KERNEL) && err_has("decompress"),
	      "debian: too little RAM is a clear error");
	test_vm_free(ctx);
}

/* boot_apply needs a vCPU and so /dev/kvm. */
static void
test_apply(void)
{
	static uint8_t bin[0x100];
	uint32_t addr[5] = {0x100000, 0x100000, 0, 0, 0x100000};
	struct boot_cpu_state st;
	struct vmctx *ctx;
	struct vcpu *vcpu;
	uint64_t v, base;
	uint32_t limit, acc;
	size_t len;
	uint8_t *img;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("SKIP: boot_apply needs /dev/kvm\n");
		return;
	}
	ctx = vm_create("boot-apply");
	CHECK(ctx != NULL && vm_setup_memory(ctx, 64 * MiB) == 0,
	      "apply: KVM VM");
	if (ctx == NULL)
		return;
	e820_reset();
	vcpu = vm_vcpu_open(ctx, 0);
	CHECK(vcpu != NULL, "apply: vCPU");
	put_mb_header(bin, 0x10000, addr);
	CHECK(load(ctx, bin, sizeof(bin), NULL, 0, NULL, &st) == 0 &&
		  boot_apply(vcpu, &st) == 0,
	      "apply: multiboot state accepted by KVM");
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_RAX, &v) == 0 &&
		  v == 0x2badb002,
	      "apply: EAX set");
	CHECK(vm_get_desc(vcpu, VM_REG_GUEST_CS, &base, &limit, &acc) == 0 &&
		  limit == 0xffffffff && (acc & SEG_ACCESS_DB),
	      "apply: CS set");
	img = make_bzimage(&bz_default, &len);
	CHECK(load(ctx, img, len, NULL, 0, NULL, &st) == 0 &&
		  boot_apply(vcpu, &st) == 0,
	      "apply: 64-bit Linux state accepted by KVM");
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_EFER, &v) == 0 &&
		  (v & 0x500) == 0x500,
	      "apply: long mode active");
	CHECK(vm_get_register(vcpu, VM_REG_GUEST_RIP, &v) == 0 && v == 0x100200,
	      "apply: RIP set");
	free(img);
	vm_destroy(ctx);
	e820_reset();
}

int
main(void)
{
	find_debian_kernel();
	test_multiboot_elf32();
	test_multiboot_elf64();
	test_multiboot_kludge();
	test_multiboot_elf64_kludge();
	test_multiboot_bad();
	test_multiboot_low_kernel();
	test_pvh();
	test_pvh_bad_elf();
	test_bzimage();
	test_bzimage_initrd_limits();
	test_bzimage_variants();
	test_dispatch();
	test_debian_bzimage();
	test_apply();
	return test_done();
}
