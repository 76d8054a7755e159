/* Guest memory layout and the vm_map_gpa() gate, on a detached context. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "vmmapi.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void
test_small(void)
{
	struct vmctx *ctx = vm_create_detached("t-small");
	struct vm_memseg_info segs[4];
	uint8_t buf[16];

	CHECK(ctx != NULL, "detached context");
	CHECK(vm_setup_memory(ctx, 64 * MiB) == 0, "64 MiB setup");
	CHECK(vm_setup_memory(ctx, 64 * MiB) == -1, "setup only once");
	CHECK_EQ_U64(vm_get_lowmem_size(ctx), 64 * MiB, "all low");
	CHECK_EQ_U64(vm_get_highmem_size(ctx), 0, "no high memory");
	CHECK(vm_map_gpa(ctx, 0, 64 * MiB) != NULL, "whole RAM maps");
	CHECK(vm_map_gpa(ctx, 64 * MiB - 1, 1) != NULL, "last byte maps");
	CHECK(vm_map_gpa(ctx, 64 * MiB - 1, 2) == NULL,
	      "range past the end refused");
	CHECK(vm_map_gpa(ctx, 64 * MiB, 0) == NULL, "address past end");
	CHECK(vm_map_gpa(ctx, 1, UINT64_MAX) == NULL,
	      "huge length cannot wrap");
	CHECK(vm_map_gpa(ctx, UINT64_MAX, 2) == NULL,
	      "huge address cannot wrap");
	CHECK(vm_copyout(ctx, "beehive", 0x1000, 8) == 0 &&
		  vm_copyin(ctx, 0x1000, buf, 8) == 0 &&
		  memcmp(buf, "beehive", 8) == 0,
	      "copy round trip");
	CHECK(vm_copyin(ctx, 64 * MiB - 4, buf, 8) == -1 && errno == EFAULT,
	      "copyin past end fails with EFAULT");
	CHECK(vm_get_memmap(ctx, segs, 4) == 1 && segs[0].len == 64 * MiB,
	      "memmap one range");
	CHECK(vm_vcpu_open(ctx, 0) == NULL && errno == ENODEV,
	      "no vCPUs without KVM");
	vm_destroy(ctx);
}

static void
test_split(void)
{
	struct vmctx *ctx = vm_create_detached("t-split");
	struct vm_memseg_info segs[4];
	uint8_t *lo, *hi;
	int fd;

	/* 3 GiB + 512 MiB: the PCI hole pushes 512 MiB above 4 GiB. */
	CHECK(vm_setup_memory(ctx, 3 * GiB + 512 * MiB) == 0,
	      "3.5 GiB setup (memfd is sparse)");
	CHECK_EQ_U64(vm_get_lowmem_size(ctx), 3 * GiB, "low = 3 GiB");
	CHECK_EQ_U64(vm_get_highmem_size(ctx), 512 * MiB, "high = 512 MiB");
	CHECK(vm_map_gpa(ctx, 3 * GiB - 4096, 4096) != NULL,
	      "top page of low memory maps");
	CHECK(vm_map_gpa(ctx, 3 * GiB - 4096, 8192) == NULL,
	      "range into the PCI hole refused");
	CHECK(vm_map_gpa(ctx, 3 * GiB, 1) == NULL, "PCI hole is not RAM");
	CHECK(vm_map_gpa(ctx, 4 * GiB - 1, 2) == NULL,
	      "range from hole into high memory refused");
	hi = vm_map_gpa(ctx, 4 * GiB, 512 * MiB);
	CHECK(hi != NULL, "all high memory maps");
	CHECK(vm_map_gpa(ctx, 4 * GiB + 512 * MiB, 1) == NULL,
	      "past high memory refused");
	lo = vm_map_gpa(ctx, 3 * GiB - 1, 1);
	CHECK(lo != NULL && hi == lo + 1,
	      "high memory follows low memory in the segment");
	CHECK(vm_get_memmap(ctx, segs, 4) == 2 && segs[1].gpa == 4 * GiB &&
		  segs[1].fd_offset == 3 * GiB,
	      "memmap gives both ranges with memfd offsets");
	/* Another mapping of the memfd sees what the guest sees. */
	fd = vm_get_memfd(ctx);
	hi[100] = 0x5a;
	{
		uint8_t *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
				  (off_t)(3 * GiB));
		CHECK(m != MAP_FAILED && m[100] == 0x5a,
		      "memfd shares guest memory with other mappers");
		if (m != MAP_FAILED)
			munmap(m, 4096);
	}
	CHECK(ftruncate(fd, 4096) == -1, "memfd size is sealed");
	vm_destroy(ctx);
}

static void
test_lowmem_limit(void)
{
	struct vmctx *ctx = vm_create_detached("t-limit");

	vm_set_lowmem_limit(ctx, 256 * MiB);
	CHECK(vm_setup_memory(ctx, 512 * MiB) == 0, "custom low limit");
	CHECK_EQ_U64(vm_get_highmem_size(ctx), 256 * MiB,
		     "rest goes above 4 GiB");
	vm_destroy(ctx);
	ctx = vm_create_detached("t-bad");
	CHECK(vm_setup_memory(ctx, 4097) == -1 && errno == EINVAL,
	      "size not a page multiple refused");
	CHECK(vm_setup_memory(ctx, 0) == -1, "zero size refused");
	vm_destroy(ctx);
}

static void
test_topology(void)
{
	struct vmctx *ctx = vm_create_detached("t-topo");
	uint16_t s, c, t, m;

	CHECK(vm_set_topology(ctx, 1, 2, 2, 4) == 0, "topology 1x2x2");
	vm_get_topology(ctx, &s, &c, &t, &m);
	CHECK(s == 1 && c == 2 && t == 2 && m == 4, "topology read back");
	CHECK(vm_set_topology(ctx, 1, 1, 1, 2) == -1,
	      "fewer slots than CPUs refused");
	CHECK(vm_set_topology(ctx, 0, 1, 1, 1) == -1, "zero sockets refused");
	vm_destroy(ctx);
}

/* Device memory segments: bookkeeping and the overlap rules. */
static void
test_devmem(void)
{
	struct vmctx *ctx = vm_create_detached("t-devmem");
	void *a = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = (uint8_t *)a + 32 * 1024;
	uint64_t gpa = 0;
	int s0, s1;

	CHECK(vm_setup_memory(ctx, 3 * GiB + 512 * MiB) == 0, "memory");
	CHECK(vm_create_devmem(ctx, "x", (uint8_t *)a + 1, 4096, 0) == -1 &&
		  errno == EINVAL,
	      "unaligned host memory refused");
	CHECK(vm_create_devmem(ctx, "x", a, 100, 0) == -1 && errno == EINVAL,
	      "partial page refused");
	CHECK(vm_create_devmem(ctx, "x", a, 4096, 0x80) == -1,
	      "unknown flag refused");
	s0 = vm_create_devmem(ctx, "rom", a, 32 * 1024, VM_DEVMEM_READONLY);
	s1 = vm_create_devmem(ctx, "vars", b, 32 * 1024, VM_DEVMEM_READONLY);
	CHECK(s0 >= 0 && s1 >= 0 && s0 != s1, "two segments");
	CHECK(!vm_devmem_mapped(ctx, s0, NULL), "not mapped yet");
	CHECK(vm_mmap_devmem(ctx, s0, 3 * GiB - 4096) == -1 && errno == EEXIST,
	      "overlapping low RAM refused");
	CHECK(vm_mmap_devmem(ctx, s0, 4 * GiB) == -1 && errno == EEXIST,
	      "overlapping high RAM refused");
	CHECK(vm_mmap_devmem(ctx, s0, 4 * GiB - 32 * 1024 + 1) == -1 &&
		  errno == EINVAL,
	      "unaligned gpa refused");
	CHECK(vm_mmap_devmem(ctx, s0, UINT64_MAX - 4095) == -1,
	      "wrapping range refused");
	CHECK(vm_mmap_devmem(ctx, s0, 4 * GiB - 32 * 1024) == 0,
	      "ROM below 4 GiB");
	CHECK(vm_mmap_devmem(ctx, s0, 4 * GiB - 32 * 1024) == -1,
	      "mapped twice refused");
	CHECK(vm_mmap_devmem(ctx, s1, 4 * GiB - 48 * 1024) == -1 &&
		  errno == EEXIST,
	      "overlapping another segment refused");
	CHECK(vm_mmap_devmem(ctx, s1, 4 * GiB - 64 * 1024) == 0 &&
		  vm_devmem_mapped(ctx, s1, &gpa) && gpa == 4 * GiB - 64 * 1024,
	      "VARS directly below");
	CHECK(vm_map_gpa(ctx, 4 * GiB - 4096, 1) == NULL,
	      "device memory is no RAM for vm_map_gpa");
	CHECK(vm_munmap_devmem(ctx, s1) == 0 &&
		  !vm_devmem_mapped(ctx, s1, NULL),
	      "removed");
	CHECK(vm_munmap_devmem(ctx, s1) == -1, "removed twice refused");
	CHECK(vm_mmap_devmem(ctx, s1, 4 * GiB - 64 * 1024) == 0,
	      "and added again");
	CHECK(vm_mmap_devmem(ctx, 7, 0) == -1 &&
		  vm_mmap_devmem(ctx, -1, 0) == -1,
	      "unknown segment ids refused");
	vm_destroy(ctx);
	munmap(a, 64 * 1024);
}

static bool
resident(const void *p)
{
	unsigned char v = 0;

	return mincore((void *)p, 4096, &v) == 0 && (v & 1);
}

/* vm_zero_gpa: zeros exactly the range, and leaves its whole pages as
 * holes (not resident) instead of writing them. */
static void
test_zero(void)
{
	struct vmctx *ctx = vm_create_detached("t-zero");
	uint8_t *p;
	size_t i, bad = 0;

	CHECK(ctx != NULL && vm_setup_memory(ctx, 64 * MiB) == 0,
	      "zero: 64 MiB");
	p = vm_map_gpa(ctx, MiB, 5 * 4096);
	CHECK(p != NULL, "zero: five pages map");
	if (p == NULL)
		return;
	memset(p, 0xaa, 5 * 4096);
	CHECK(vm_zero_gpa(ctx, MiB + 100, 4 * 4096 - 50) == 0,
	      "zero: unaligned range over five pages");
	CHECK(!resident(p + 4096) && !resident(p + 2 * 4096) &&
		  !resident(p + 3 * 4096) && resident(p),
	      "zero: its whole pages were dropped, the edge page kept");
	for (i = 0; i < 5 * 4096; i++) {
		bool in = i >= 100 && i < 100 + 4 * 4096 - 50;

		bad += in ? p[i] != 0 : p[i] != 0xaa;
	}
	CHECK(bad == 0, "zero: exactly the range reads zero, the rest intact");
	p = vm_map_gpa(ctx, 2 * MiB, 8 * 4096);
	CHECK(p != NULL && vm_zero_gpa(ctx, 2 * MiB, 8 * 4096) == 0 &&
		  !resident(p) && !resident(p + 7 * 4096),
	      "zero: untouched pages are not made resident");
	CHECK(vm_zero_gpa(ctx, 64 * MiB - 4, 8) == -1 && errno == EFAULT,
	      "zero: a range past the end fails with EFAULT");
	CHECK(vm_zero_gpa(ctx, 64 * MiB, 0) == -1, "zero: address past end");
	vm_destroy(ctx);
}

int
main(void)
{
	test_small();
	test_zero();
	test_split();
	test_lowmem_limit();
	test_topology();
	test_devmem();
	CHECK_STR(vm_exitcode_name(VM_EXITCODE_MMIO), "mmio", "exit names");
	CHECK_STR(vm_exitcode_name(VM_EXITCODE_MAX), "invalid",
		  "bad exit name");
	return test_done();
}
