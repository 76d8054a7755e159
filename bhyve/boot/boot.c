/*
 * Direct kernel boot: reads the kernel and its modules, picks the loader
 * for the image's format, and turns the resulting CPU state into vCPU
 * registers.  The placement helpers here keep every structure a loader
 * writes inside E820 RAM and away from everything placed before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_impl.h"
#include "config.h"
#include "e820.h"
#include "vmmapi.h"

_Static_assert(VM_REG_LAST <= 64, "register masks are 64 bits");

int
boot_error(struct boot_ctx *bc, const char *fmt, ...)
{
	va_list ap;

	if (bc->err != NULL && bc->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(bc->err, bc->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- guest-memory placement ---- */

static const struct boot_claim *
boot_claim_overlap(const struct boot_ctx *bc, uint64_t base, uint64_t end)
{
	int i;

	for (i = 0; i < bc->nclaims; i++) {
		if (base < bc->claims[i].end && bc->claims[i].base < end)
			return &bc->claims[i];
	}
	return NULL;
}

static bool
boot_place_ok(const struct boot_ctx *bc, uint64_t base, uint64_t len)
{
	return e820_is_ram(base, len) &&
	       vm_map_gpa(bc->vm, base, (size_t)len) != NULL &&
	       boot_claim_overlap(bc, base, base + len) == NULL;
}

int
boot_claim(struct boot_ctx *bc, uint64_t base, uint64_t len, const char *what)
{
	const struct boot_claim *c;

	if (len == 0)
		return 0;
	if (base + len < base || len > SIZE_MAX || !e820_is_ram(base, len) ||
	    vm_map_gpa(bc->vm, base, (size_t)len) == NULL)
		return boot_error(
		    bc,
		    "%s at %#llx-%#llx is not in guest RAM (too little "
		    "memory?)",
		    what, (unsigned long long)base,
		    (unsigned long long)(base + len - 1));
	c = boot_claim_overlap(bc, base, base + len);
	if (c != NULL)
		return boot_error(bc,
				  "%s at %#llx-%#llx overlaps the %s at "
				  "%#llx-%#llx",
				  what, (unsigned long long)base,
				  (unsigned long long)(base + len - 1), c->what,
				  (unsigned long long)c->base,
				  (unsigned long long)(c->end - 1));
	if (bc->nclaims == BOOT_MAX_CLAIMS)
		return boot_error(bc, "too many pieces to load");
	bc->claims[bc->nclaims++] = (struct boot_claim){base, base + len, what};
	return 0;
}

/* Tries one candidate address: aligned, inside [lo, hi), free. */
static bool
boot_alloc_try(const struct boot_ctx *bc, uint64_t cand, uint64_t lo,
	       uint64_t hi, uint64_t len)
{
	return cand >= lo && boot_range_ok(cand, len, hi) &&
	       boot_place_ok(bc, cand, len);
}

int
boot_alloc(struct boot_ctx *bc, uint64_t lo, uint64_t hi, uint64_t len,
	   uint64_t align, bool top, const char *what, uint64_t *gpa)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t best = 0, cand;
	bool found = false;
	int i, n;

	/*
	 * The best place starts where a free area starts (lowest fit) or
	 * ends where one ends (highest fit); free areas are bounded by the
	 * window, the E820 entries and the earlier claims.
	 */
	n = e820_get(map, E820_MAX_ENTRIES);
	for (i = -1; i < n + bc->nclaims; i++) {
		uint64_t edge_lo, edge_hi;

		if (i < 0) {
			edge_lo = lo;
			edge_hi = hi;
		} else if (i < n) {
			edge_lo = map[i].base;
			edge_hi = map[i].base + map[i].len;
		} else {
			edge_lo = bc->claims[i - n].end;
			edge_hi = bc->claims[i - n].base;
		}
		if (top) {
			if (edge_hi < len)
				continue;
			cand = (edge_hi - len) & ~(align - 1);
			if (boot_alloc_try(bc, cand, lo, hi, len) &&
			    (!found || cand > best)) {
				best = cand;
				found = true;
			}
		} else {
			if (edge_lo > UINT64_MAX - align)
				continue;
			cand = boot_align_up(edge_lo, align);
			if (boot_alloc_try(bc, cand, lo, hi, len) &&
			    (!found || cand < best)) {
				best = cand;
				found = true;
			}
		}
	}
	if (!found)
		return boot_error(
		    bc,
		    "no room for the %s (%llu bytes) between %#llx and %#llx",
		    what, (unsigned long long)len, (unsigned long long)lo,
		    (unsigned long long)hi);
	*gpa = best;
	return boot_claim(bc, best, len, what);
}

int
boot_copyout(struct boot_ctx *bc, uint64_t gpa, const void *src, size_t len,
	     const char *what)
{
	if (len != 0 && vm_copyout(bc->vm, src, gpa, len) != 0)
		return boot_error(bc, "cannot write the %s at %#llx", what,
				  (unsigned long long)gpa);
	return 0;
}

int
boot_zero(struct boot_ctx *bc, uint64_t gpa, uint64_t len, const char *what)
{
	void *p;

	if (len == 0)
		return 0;
	p = len <= SIZE_MAX ? vm_map_gpa(bc->vm, gpa, (size_t)len) : NULL;
	if (p == NULL)
		return boot_error(bc, "cannot clear the %s at %#llx", what,
				  (unsigned long long)gpa);
	memset(p, 0, (size_t)len);
	return 0;
}

uint64_t
boot_claims_end(const struct boot_ctx *bc, const char *what)
{
	uint64_t end = 0;
	int i;

	for (i = 0; i < bc->nclaims; i++) {
		if (strcmp(bc->claims[i].what, what) == 0 &&
		    bc->claims[i].end > end)
			end = bc->claims[i].end;
	}
	return end;
}

/* ---- structures shared by the loaders ---- */

int
boot_put_cmdline(struct boot_ctx *bc, uint64_t maxlen, uint64_t *gpa)
{
	size_t len = strlen(bc->cmdline) + 1;

	if (maxlen > BOOT_CMDLINE_MAX)
		maxlen = BOOT_CMDLINE_MAX;
	if (len > maxlen)
		return boot_error(
		    bc,
		    "command line is %zu bytes; this kernel takes at most "
		    "%llu",
		    len - 1, (unsigned long long)(maxlen - 1));
	*gpa = BOOT_CMDLINE_ADDR;
	if (boot_claim(bc, BOOT_CMDLINE_ADDR, len, "command line") != 0)
		return -1;
	return boot_copyout(bc, BOOT_CMDLINE_ADDR, bc->cmdline, len,
			    "command line");
}

/* One GDT descriptor from base, limit and VMX-style access rights. */
static uint64_t
boot_gdt_entry(uint32_t base, uint32_t limit, uint32_t access)
{
	uint64_t d;

	if (access & SEG_ACCESS_G)
		limit >>= 12;
	d = limit & 0xffffULL;
	d |= (uint64_t)(base & 0xffffff) << 16;
	d |= (uint64_t)(access & 0xff) << 40;
	d |= (uint64_t)((limit >> 16) & 0xf) << 48;
	d |= (uint64_t)((access >> 12) & 0xf) << 52;
	d |= (uint64_t)(base >> 24) << 56;
	return d;
}

int
boot_put_gdt(struct boot_ctx *bc, bool long_mode)
{
	uint8_t gdt[4 * 8];

	/* Entries 0 and 1 are null: Linux's boot GDT has code at 0x10. */
	memset(gdt, 0, sizeof(gdt));
	boot_put64(gdt + BOOT_SEL_CS,
		   boot_gdt_entry(0, 0xffffffff,
				  long_mode ? BOOT_ACCESS_CODE64
					    : BOOT_ACCESS_CODE32));
	boot_put64(gdt + BOOT_SEL_DS,
		   boot_gdt_entry(0, 0xffffffff, BOOT_ACCESS_DATA));
	if (boot_claim(bc, BOOT_GDT_ADDR, sizeof(gdt), "boot GDT") != 0)
		return -1;
	return boot_copyout(bc, BOOT_GDT_ADDR, gdt, sizeof(gdt), "boot GDT");
}

int
boot_put_page_tables(struct boot_ctx *bc)
{
	/* PML4, PDPT, then four page directories of 2 MiB pages. */
	const uint64_t pdpt = BOOT_PML4_ADDR + BOOT_PAGE;
	const uint64_t pd = pdpt + BOOT_PAGE;
	uint8_t *pt;
	uint64_t i;

	if (boot_claim(bc, BOOT_PML4_ADDR, 6 * BOOT_PAGE, "page tables") != 0)
		return -1;
	pt = vm_map_gpa(bc->vm, BOOT_PML4_ADDR, 6 * BOOT_PAGE);
	if (pt == NULL)
		return boot_error(bc, "cannot write the page tables");
	memset(pt, 0, 6 * BOOT_PAGE);
	/* Present | writable; PS (bit 7) in a PDE maps 2 MiB (SDM 4.5). */
	boot_put64(pt, pdpt | 0x3);
	for (i = 0; i < 4; i++)
		boot_put64(pt + BOOT_PAGE + i * 8, (pd + i * BOOT_PAGE) | 0x3);
	for (i = 0; i < 4 * 512; i++)
		boot_put64(pt + 2 * BOOT_PAGE + i * 8, (i << 21) | 0x83);
	return 0;
}

/* ---- CPU state ---- */

void
boot_state_set_reg(struct boot_cpu_state *st, int reg, uint64_t val)
{
	if (reg < 0 || reg >= VM_REG_LAST)
		return;
	st->regs[reg] = val;
	st->regs_set |= 1ULL << reg;
}

void
boot_state_set_seg(struct boot_cpu_state *st, int reg, uint16_t sel,
		   uint64_t base, uint32_t limit, uint32_t access)
{
	if (reg < 0 || reg >= VM_REG_LAST)
		return;
	st->segs[reg] = (struct boot_seg){base, limit, access};
	st->segs_set |= 1ULL << reg;
	if (reg != VM_REG_GUEST_GDTR && reg != VM_REG_GUEST_IDTR)
		boot_state_set_reg(st, reg, sel);
}

int
boot_state_has_reg(const struct boot_cpu_state *st, int reg)
{
	return reg >= 0 && reg < VM_REG_LAST && (st->regs_set >> reg & 1);
}

int
boot_state_has_seg(const struct boot_cpu_state *st, int reg)
{
	return reg >= 0 && reg < VM_REG_LAST && (st->segs_set >> reg & 1);
}

static void
boot_state_segments(struct boot_cpu_state *st, uint32_t cs_access)
{
	static const int data[] = {VM_REG_GUEST_DS, VM_REG_GUEST_ES,
				   VM_REG_GUEST_FS, VM_REG_GUEST_GS,
				   VM_REG_GUEST_SS};
	size_t i;

	boot_state_set_seg(st, VM_REG_GUEST_CS, BOOT_SEL_CS, 0, 0xffffffff,
			   cs_access);
	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		boot_state_set_seg(st, data[i], BOOT_SEL_DS, 0, 0xffffffff,
				   BOOT_ACCESS_DATA);
	/* VMX needs a usable busy TSS in TR even if the guest never uses it. */
	boot_state_set_seg(st, VM_REG_GUEST_TR, 0, 0, 0x67, BOOT_ACCESS_TSS32);
	boot_state_set_seg(st, VM_REG_GUEST_LDTR, 0, 0, 0xffff,
			   BOOT_ACCESS_LDT | SEG_ACCESS_UNUSABLE);
	boot_state_set_seg(st, VM_REG_GUEST_GDTR, 0, BOOT_GDT_ADDR, 4 * 8 - 1,
			   0);
	boot_state_set_seg(st, VM_REG_GUEST_IDTR, 0, 0, 0, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RFLAGS, 0x2);
	boot_state_set_reg(st, VM_REG_GUEST_DR7, 0x400);
	boot_state_set_reg(st, VM_REG_GUEST_RSP, BOOT_STACK_TOP);
}

void
boot_state_flat32(struct boot_cpu_state *st, uint64_t entry)
{
	boot_state_segments(st, BOOT_ACCESS_CODE32);
	/* PE and ET; paging off (multiboot 3.2, PVH "start of day"). */
	boot_state_set_reg(st, VM_REG_GUEST_CR0, 0x11);
	boot_state_set_reg(st, VM_REG_GUEST_CR3, 0);
	boot_state_set_reg(st, VM_REG_GUEST_CR4, 0);
	boot_state_set_reg(st, VM_REG_GUEST_EFER, 0);
	boot_state_set_reg(st, VM_REG_GUEST_RIP, entry);
	st->entry = entry;
}

void
boot_state_long64(struct boot_cpu_state *st, uint64_t entry)
{
	boot_state_segments(st, BOOT_ACCESS_CODE64);
	/* PG, ET, PE; PAE; LME and LMA: long mode already active. */
	boot_state_set_reg(st, VM_REG_GUEST_CR0, 0x80000011);
	boot_state_set_reg(st, VM_REG_GUEST_CR3, BOOT_PML4_ADDR);
	boot_state_set_reg(st, VM_REG_GUEST_CR4, 0x20);
	boot_state_set_reg(st, VM_REG_GUEST_EFER, 0x500);
	boot_state_set_reg(st, VM_REG_GUEST_RIP, entry);
	st->entry = entry;
}

const char *
boot_kind_name(enum boot_kind kind)
{
	switch (kind) {
	case BOOT_KIND_LINUX64:
		return "Linux bzImage (64-bit entry)";
	case BOOT_KIND_LINUX32:
		return "Linux bzImage (32-bit entry)";
	case BOOT_KIND_PVH:
		return "PVH ELF kernel";
	case BOOT_KIND_MULTIBOOT:
		return "multiboot kernel";
	default:
		return "none";
	}
}

/*
 * Control registers go in one vm_set_register_set() call: KVM accepts
 * CR0.PG, EFER.LMA and CS.L only together, so they are set as a group
 * (libvmmapi turns one set into one KVM_SET_SREGS), then the segments,
 * then everything else.
 */
int
boot_apply(struct vcpu *vcpu, const struct boot_cpu_state *st)
{
	static const int ctl[] = {VM_REG_GUEST_CR4, VM_REG_GUEST_CR3,
				  VM_REG_GUEST_EFER, VM_REG_GUEST_CR0};
	int regnums[VM_REG_LAST];
	uint64_t regvals[VM_REG_LAST];
	uint64_t done = 0;
	unsigned int n = 0;
	size_t i;
	int r;

	for (i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		if (!boot_state_has_reg(st, ctl[i]))
			continue;
		regnums[n] = ctl[i];
		regvals[n++] = st->regs[ctl[i]];
		done |= 1ULL << ctl[i];
	}
	if (n != 0 && vm_set_register_set(vcpu, n, regnums, regvals) != 0)
		return -1;
	for (r = 0; r < VM_REG_LAST; r++) {
		if (!boot_state_has_seg(st, r))
			continue;
		if (vm_set_desc(vcpu, r, st->segs[r].base, st->segs[r].limit,
				st->segs[r].access) != 0)
			return -1;
	}
	n = 0;
	for (r = 0; r < VM_REG_LAST; r++) {
		if (!boot_state_has_reg(st, r) || (done >> r & 1))
			continue;
		regnums[n] = r;
		regvals[n++] = st->regs[r];
	}
	if (n != 0 && vm_set_register_set(vcpu, n, regnums, regvals) != 0)
		return -1;
	return 0;
}

/* ---- the dispatcher ---- */

int
boot_load_image(struct vmctx *ctx, const void *kernel, size_t klen,
		const struct boot_module *mods, int nmods, const char *cmdline,
		struct boot_cpu_state *st, char *err, size_t errlen)
{
	struct boot_ctx *bc;
	int rc;

	memset(st, 0, sizeof(*st));
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*bc = (struct boot_ctx){.vm = ctx,
				.img = kernel,
				.img_size = klen,
				.mods = mods,
				.nmods = nmods,
				.cmdline = cmdline != NULL ? cmdline : "",
				.st = st,
				.err = err,
				.errlen = errlen};
	if (nmods < 0 || nmods > BOOT_MAX_MODULES)
		rc = boot_error(bc, "at most %d modules", BOOT_MAX_MODULES);
	else if (!e820_initialized_for(ctx) && e820_init(ctx) != 0)
		rc = boot_error(bc, "guest memory is too small to boot a "
				    "kernel (need more than 1 MiB)");
	else if (bzimage_probe(bc->img, klen))
		rc = bzimage_load(bc);
	else if (pvh_probe(bc->img, klen))
		rc = pvh_load(bc);
	else if (multiboot_probe(bc->img, klen))
		rc = multiboot_load(bc);
	else
		rc = boot_error(bc, "unrecognized kernel format (not a "
				    "bzImage, PVH ELF or multiboot kernel)");
	free(bc);
	/* A loader may have tried a place that failed before one that did. */
	if (rc == 0 && errlen > 0)
		err[0] = '\0';
	return rc;
}

/* Reads a whole file; it cannot be larger than guest RAM anyway. */
static int
boot_read_file(const char *path, uint64_t max, uint8_t **data, size_t *size,
	       char *err, size_t errlen)
{
	struct stat sb;
	uint8_t *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)sb.st_size > max || (uint64_t)sb.st_size > SIZE_MAX) {
		snprintf(err, errlen, "%s: %lld bytes is larger than guest RAM",
			 path, (long long)sb.st_size);
		close(fd);
		return -1;
	}
	buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path,
				 n < 0 ? strerror(errno)
				       : "file shrank while read");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*size = got;
	return 0;
}

int
boot_load_files(struct vmctx *ctx, const struct boot_files *files,
		struct boot_cpu_state *st, char *err, size_t errlen)
{
	struct boot_module mods[BOOT_MAX_MODULES];
	uint8_t *kernel = NULL;
	size_t klen = 0;
	uint64_t ram;
	char *list = NULL, *path, *save = NULL;
	int i, nmods = 0, rc = -1;

	memset(st, 0, sizeof(*st));
	if (files->kernel == NULL || files->kernel[0] == '\0') {
		snprintf(err, errlen, "no kernel given (boot.kernel)");
		return -1;
	}
	ram = vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx);
	if (boot_read_file(files->kernel, ram, &kernel, &klen, err, errlen) !=
	    0)
		return -1;
	if (files->initrd != NULL && files->initrd[0] != '\0') {
		list = strdup(files->initrd);
		if (list == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (path = strtok_r(list, ",", &save); path != NULL;
		     path = strtok_r(NULL, ",", &save)) {
			uint8_t *data;
			size_t len;

			if (nmods == BOOT_MAX_MODULES) {
				snprintf(err, errlen, "at most %d modules",
					 BOOT_MAX_MODULES);
				goto out;
			}
			if (boot_read_file(path, ram, &data, &len, err,
					   errlen) != 0)
				goto out;
			mods[nmods++] = (struct boot_module){data, len, path};
		}
	}
	rc = boot_load_image(ctx, kernel, klen, mods, nmods, files->cmdline, st,
			     err, errlen);
	if (rc != 0 && errlen > 0) {
		/* Say which file the complaint is about. */
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", files->kernel, tmp);
	}
out:
	for (i = 0; i < nmods; i++)
		free((void *)mods[i].data);
	free(list);
	free(kernel);
	return rc;
}

int
boot_load(struct vmctx *ctx, struct boot_cpu_state *st, char *err,
	  size_t errlen)
{
	struct boot_files files = {
	    .kernel = get_config_value("boot.kernel"),
	    .initrd = get_config_value("boot.initrd"),
	    .cmdline = get_config_value("boot.cmdline"),
	};

	return boot_load_files(ctx, &files, st, err, errlen);
}
