/*
 * libvmmapi: VM creation and guest memory.
 *
 * Guest RAM is one memfd so that other processes (bhyvectl, debuggers,
 * a future live-migration helper) can map exactly what the guest sees.  It
 * is mapped once into the VMM and given to KVM as (at most) two memory
 * slots: [0, lowmem) and [4 GiB, 4 GiB + highmem).  The hole between the
 * low-memory limit and 4 GiB belongs to PCI and platform MMIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/memfd.h>
#include <linux/mempolicy.h>
#include <unistd.h>

#include "vmm_impl.h"

#define KVM_DEV "/dev/kvm"
/*
 * The pages KVM needs for its real-mode helpers on Intel: the identity map
 * page, then three TSS pages (0xfeffc000-0xfeffffff, where QEMU puts them).
 * They lie in the PCI hole below the local APIC, reserved in the E820 map
 * (e820.c), clear of a boot ROM and its flash at the top of 4 GiB.
 */
#define KVM_IDMAP_ADDR VM_KVM_PRIVATE_BASE
#define KVM_TSS_ADDR   (VM_KVM_PRIVATE_BASE + 0x1000)
#define HUGEPAGE_SIZE  (2ULL << 20)

int
vmm_vm_ioctl(struct vmctx *ctx, unsigned long req, void *arg)
{
	if (ctx->vmfd < 0) {
		errno = ENODEV;
		return -1;
	}
	return ioctl(ctx->vmfd, req, arg);
}

static struct vmctx *
vm_alloc_ctx(const char *name)
{
	struct vmctx *ctx;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->name = strdup(name != NULL ? name : "vm");
	if (ctx->name == NULL) {
		free(ctx);
		return NULL;
	}
	ctx->kvmfd = -1;
	ctx->vmfd = -1;
	ctx->memfd = -1;
	ctx->lowmem_limit = VM_LOWMEM_LIMIT_DEF;
	ctx->sockets = ctx->cores = ctx->threads = 1;
	ctx->maxcpus = 1;
	pthread_mutex_init(&ctx->lock, NULL);
	return ctx;
}

static struct kvm_cpuid2 *
vm_fetch_supported_cpuid(int kvmfd)
{
	struct kvm_cpuid2 *c;

	for (int nent = 64; nent <= 4096; nent *= 2) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (c == NULL)
			return NULL;
		c->nent = nent;
		if (ioctl(kvmfd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	errno = E2BIG;
	return NULL;
}

static void
vm_vcpu_kick_handler(int sig)
{
	/* Nothing: the signal exists to make KVM_RUN return EINTR. */
	(void)sig;
}

static int
vm_setup_platform(struct vmctx *ctx)
{
	uint64_t idmap = KVM_IDMAP_ADDR;
	struct kvm_pit_config pit = {.flags = 0};
	struct sigaction sa;

	/* Intel-only helpers; other hosts accept or ignore them. */
	(void)ioctl(ctx->vmfd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	(void)ioctl(ctx->vmfd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	_Static_assert(KVM_TSS_ADDR + 3 * 0x1000 ==
			   VM_KVM_PRIVATE_BASE + VM_KVM_PRIVATE_SIZE,
		       "KVM's TSS is three pages after the identity map");

	if (ioctl(ctx->vmfd, KVM_CREATE_IRQCHIP, 0) != 0)
		return -1;
	if (ioctl(ctx->vmfd, KVM_CREATE_PIT2, &pit) != 0)
		return -1;
	if (vmm_routes_init(ctx) != 0)
		return -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vm_vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR2, &sa, NULL);
}

struct vmctx *
vm_create(const char *name)
{
	struct vmctx *ctx;
	int saved;

	ctx = vm_alloc_ctx(name);
	if (ctx == NULL)
		return NULL;
	ctx->kvmfd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	if (ctx->kvmfd < 0)
		goto fail;
	if (ioctl(ctx->kvmfd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = ENOTSUP;
		goto fail;
	}
	ctx->vmfd = ioctl(ctx->kvmfd, KVM_CREATE_VM, 0);
	if (ctx->vmfd < 0)
		goto fail;
	ctx->run_size = ioctl(ctx->kvmfd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ctx->run_size <= 0)
		goto fail;
	ctx->supported_cpuid = vm_fetch_supported_cpuid(ctx->kvmfd);
	if (ctx->supported_cpuid == NULL)
		goto fail;
	if (vm_setup_platform(ctx) != 0)
		goto fail;
	return ctx;
fail:
	saved = errno;
	vm_destroy(ctx);
	errno = saved;
	return NULL;
}

struct vmctx *
vm_create_detached(const char *name)
{
	return vm_alloc_ctx(name);
}

void
vm_destroy(struct vmctx *ctx)
{
	if (ctx == NULL)
		return;
	for (int i = 0; i < VM_MAXCPU; i++) {
		if (ctx->vcpus[i] != NULL)
			vm_vcpu_close(ctx->vcpus[i]);
	}
	if (ctx->membase != NULL)
		munmap(ctx->membase, ctx->lowmem + ctx->highmem);
	if (ctx->memfd >= 0)
		close(ctx->memfd);
	if (ctx->vmfd >= 0)
		close(ctx->vmfd);
	if (ctx->kvmfd >= 0)
		close(ctx->kvmfd);
	free(ctx->supported_cpuid);
	vmm_routes_fini(ctx);
	vmm_devmem_fini(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->name);
	free(ctx);
}

const char *
vm_get_name(struct vmctx *ctx)
{
	return ctx->name;
}

int
vm_get_kvm_fd(struct vmctx *ctx)
{
	return ctx->kvmfd;
}

int
vm_get_vm_fd(struct vmctx *ctx)
{
	return ctx->vmfd;
}

void
vm_set_x2apic_offered(struct vmctx *ctx, bool offered)
{
	ctx->no_x2apic = !offered;
}

void
vm_set_memflags(struct vmctx *ctx, int flags)
{
	ctx->memflags = flags;
}

int
vm_get_memflags(struct vmctx *ctx)
{
	return ctx->memflags;
}

void
vm_set_lowmem_limit(struct vmctx *ctx, uint64_t limit)
{
	ctx->lowmem_limit = limit;
}

uint64_t
vm_get_lowmem_limit(struct vmctx *ctx)
{
	return ctx->lowmem_limit;
}

static int
vm_add_slot(struct vmctx *ctx, uint32_t slot, uint64_t gpa, uint64_t len,
	    void *host)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot,
	    .flags = 0,
	    .guest_phys_addr = gpa,
	    .memory_size = len,
	    .userspace_addr = (uintptr_t)host,
	};

	if (ctx->vmfd < 0 || len == 0)
		return 0;
	return ioctl(ctx->vmfd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int
vm_alloc_memfd(struct vmctx *ctx, uint64_t total)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char label[64];

	if (ctx->memflags & VM_MEM_F_HUGEPAGES) {
		flags = MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB;
		if (total % HUGEPAGE_SIZE != 0) {
			errno = EINVAL;
			return -1;
		}
	}
	snprintf(label, sizeof(label), "beehive:%s", ctx->name);
	ctx->memfd = memfd_create(label, flags);
	if (ctx->memfd < 0)
		return -1;
	if (ftruncate(ctx->memfd, (off_t)total) != 0)
		return -1;
	/* The size is fixed for the VM's life: mappers may rely on it. */
	if (!(ctx->memflags & VM_MEM_F_HUGEPAGES))
		(void)fcntl(ctx->memfd, F_ADD_SEALS,
			    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	return 0;
}

/* mbind(2) and get_mempolicy(2) without libnuma: maxnode counts bits + 1. */
static int
vm_mbind(void *addr, uint64_t len, int mode, const unsigned long *nodes)
{
	return (int)syscall(SYS_mbind, addr, (unsigned long)len, mode, nodes,
			    (unsigned long)VM_HOST_NODES + 1, 0UL);
}

int
vm_host_nodes_allowed(unsigned long *mask)
{
	memset(mask, 0, VM_HOST_NODE_WORDS * sizeof(unsigned long));
	return (int)syscall(SYS_get_mempolicy, NULL, mask,
			    (unsigned long)VM_HOST_NODES + 1, NULL,
			    (unsigned long)MPOL_F_MEMS_ALLOWED);
}

static bool
vm_domains_ok(size_t len, const struct vm_mem_domain *doms, int ndoms)
{
	uint64_t sum = 0;

	if (ndoms < 0 || ndoms > VM_MAXMEMDOM || (ndoms > 0 && doms == NULL))
		return false;
	for (int i = 0; i < ndoms; i++) {
		if (doms[i].size == 0 || doms[i].size % 4096 != 0 ||
		    doms[i].size > len - sum)
			return false;
		sum += doms[i].size;
		if (doms[i].mode != MPOL_DEFAULT && doms[i].mode != MPOL_BIND &&
		    doms[i].mode != MPOL_PREFERRED &&
		    doms[i].mode != MPOL_INTERLEAVE)
			return false;
	}
	return ndoms == 0 || sum == len;
}

int
vm_setup_memory(struct vmctx *ctx, size_t len)
{
	return vm_setup_memory_domains(ctx, len, NULL, 0);
}

int
vm_setup_memory_domains(struct vmctx *ctx, size_t len,
			const struct vm_mem_domain *doms, int ndoms)
{
	uint64_t total = len, off = 0;
	void *p;

	if (ctx->membase != NULL || len == 0 || len % 4096 != 0 ||
	    !vm_domains_ok(len, doms, ndoms)) {
		errno = EINVAL;
		return -1;
	}
	/* Highmem starts at 4 GiB: make sure it cannot wrap the space. */
	if (total > (1ULL << 46)) {
		errno = E2BIG;
		return -1;
	}
	ctx->lowmem = total < ctx->lowmem_limit ? total : ctx->lowmem_limit;
	ctx->highmem = total - ctx->lowmem;
	if (vm_alloc_memfd(ctx, total) != 0)
		return -1;
	p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, ctx->memfd, 0);
	if (p == MAP_FAILED)
		return -1;
	ctx->membase = p;
	/* Before any page exists: mlock (-S) below faults them all in. */
	for (int i = 0; i < ndoms; i++) {
		if (doms[i].mode != MPOL_DEFAULT &&
		    vm_mbind(ctx->membase + off, doms[i].size, doms[i].mode,
			     doms[i].nodes) != 0)
			return -1;
		off += doms[i].size;
	}
	/*
	 * Ask for transparent huge pages: every 4 KiB page the guest touches
	 * first is a nested page fault, and 2 MiB pages make 512 times fewer.
	 * For a memfd this takes effect where the host's shmem THP policy is
	 * "advise" (/sys/kernel/mm/transparent_hugepage/shmem_enabled).
	 */
	if (!(ctx->memflags & VM_MEM_F_HUGEPAGES))
		(void)madvise(p, total, MADV_HUGEPAGE);
	if (!(ctx->memflags & VM_MEM_F_INCORE))
		(void)madvise(p, total, MADV_DONTDUMP);
	if ((ctx->memflags & VM_MEM_F_WIRED) && mlock(p, total) != 0)
		return -1;
	if (vm_add_slot(ctx, 0, 0, ctx->lowmem, p) != 0)
		return -1;
	if (vm_add_slot(ctx, 1, VM_HIGHMEM_BASE, ctx->highmem,
			ctx->membase + ctx->lowmem) != 0)
		return -1;
	return 0;
}

/*
 * The one gate between device models and guest memory: NULL unless
 * [gpa, gpa+len) lies entirely inside one RAM range.  Written so that no
 * sum can overflow, whatever the guest puts in gpa and len.
 */
void *
vm_map_gpa(struct vmctx *ctx, uint64_t gpa, size_t len)
{
	if (ctx->membase == NULL)
		return NULL;
	if (gpa < ctx->lowmem) {
		if (len > ctx->lowmem - gpa)
			return NULL;
		return ctx->membase + gpa;
	}
	if (gpa >= VM_HIGHMEM_BASE && gpa - VM_HIGHMEM_BASE < ctx->highmem) {
		uint64_t off = gpa - VM_HIGHMEM_BASE;

		if (len > ctx->highmem - off)
			return NULL;
		return ctx->membase + ctx->lowmem + off;
	}
	return NULL;
}

/*
 * A boot loader clears a kernel's .bss with this: on a fresh memfd those
 * pages are holes already, and writing zeros would only make them
 * resident.  Punching works on any memfd page (also after a reset, when
 * the guest left data there).  Hugepage memory is cleared by hand: a hole
 * there would have to cover whole 2 MiB pages.
 */
int
vm_zero_gpa(struct vmctx *ctx, uint64_t gpa, size_t len)
{
	uint8_t *p = vm_map_gpa(ctx, gpa, len);
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), off, first, last;

	if (p == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (len == 0)
		return 0;
	off = (uint64_t)(p - ctx->membase);
	first = (off + pg - 1) / pg * pg;
	last = (off + len) / pg * pg;
	if (ctx->memfd >= 0 && !(ctx->memflags & VM_MEM_F_HUGEPAGES) &&
	    first < last &&
	    fallocate(ctx->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)first, (off_t)(last - first)) == 0) {
		memset(p, 0, first - off);
		memset(ctx->membase + last, 0, off + len - last);
		return 0;
	}
	memset(p, 0, len);
	return 0;
}

int
vm_copyin(struct vmctx *ctx, uint64_t gpa, void *dst, size_t len)
{
	void *src = vm_map_gpa(ctx, gpa, len);

	if (src == NULL) {
		errno = EFAULT;
		return -1;
	}
	memcpy(dst, src, len);
	return 0;
}

int
vm_copyout(struct vmctx *ctx, const void *src, uint64_t gpa, size_t len)
{
	void *dst = vm_map_gpa(ctx, gpa, len);

	if (dst == NULL) {
		errno = EFAULT;
		return -1;
	}
	memcpy(dst, src, len);
	return 0;
}

uint64_t
vm_get_lowmem_size(struct vmctx *ctx)
{
	return ctx->lowmem;
}

uint64_t
vm_get_highmem_size(struct vmctx *ctx)
{
	return ctx->highmem;
}

int
vm_get_memfd(struct vmctx *ctx)
{
	return ctx->memfd;
}

int
vm_get_memmap(struct vmctx *ctx, struct vm_memseg_info *segs, int max)
{
	int n = 0;

	if (ctx->lowmem != 0 && n < max) {
		segs[n++] = (struct vm_memseg_info){0, ctx->lowmem, 0};
	}
	if (ctx->highmem != 0 && n < max) {
		segs[n++] = (struct vm_memseg_info){VM_HIGHMEM_BASE,
						    ctx->highmem, ctx->lowmem};
	}
	return n;
}

int
vm_set_topology(struct vmctx *ctx, uint16_t sockets, uint16_t cores,
		uint16_t threads, uint16_t maxcpus)
{
	if (sockets == 0 || cores == 0 || threads == 0 || maxcpus == 0 ||
	    maxcpus > VM_MAXCPU ||
	    (uint32_t)sockets * cores * threads < maxcpus) {
		errno = EINVAL;
		return -1;
	}
	ctx->sockets = sockets;
	ctx->cores = cores;
	ctx->threads = threads;
	ctx->maxcpus = maxcpus;
	return 0;
}

void
vm_get_topology(struct vmctx *ctx, uint16_t *sockets, uint16_t *cores,
		uint16_t *threads, uint16_t *maxcpus)
{
	*sockets = ctx->sockets;
	*cores = ctx->cores;
	*threads = ctx->threads;
	*maxcpus = ctx->maxcpus;
}

int
vm_set_msr_exits(struct vmctx *ctx, bool enable)
{
	struct kvm_enable_cap cap = {
	    .cap = KVM_CAP_X86_USER_SPACE_MSR,
	    .args = {enable ? KVM_MSR_EXIT_REASON_UNKNOWN : 0},
	};

	return vmm_vm_ioctl(ctx, KVM_ENABLE_CAP, &cap);
}

const char *
vm_exitcode_name(enum vm_exitcode code)
{
	static const char *const names[VM_EXITCODE_MAX] = {
	    [VM_EXITCODE_INOUT] = "inout",
	    [VM_EXITCODE_MMIO] = "mmio",
	    [VM_EXITCODE_HLT] = "hlt",
	    [VM_EXITCODE_SHUTDOWN] = "shutdown",
	    [VM_EXITCODE_SUSPENDED] = "suspended",
	    [VM_EXITCODE_RDMSR] = "rdmsr",
	    [VM_EXITCODE_WRMSR] = "wrmsr",
	    [VM_EXITCODE_DEBUG] = "debug",
	    [VM_EXITCODE_INTERNAL_ERROR] = "internal-error",
	    [VM_EXITCODE_FAIL_ENTRY] = "fail-entry",
	    [VM_EXITCODE_INTERRUPTED] = "interrupted",
	    [VM_EXITCODE_UNKNOWN] = "unknown",
	};

	if ((unsigned)code >= VM_EXITCODE_MAX || names[code] == NULL)
		return "invalid";
	return names[code];
}
