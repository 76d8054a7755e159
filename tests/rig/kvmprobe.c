/*
 * kvmprobe: proves that /dev/kvm works where it runs (the nested rig's L1).
 *
 * It talks to KVM directly, not through libvmmapi, so that a failure here
 * points at the rig and not at beehive: API version 12, one VM with one
 * page of guest memory, one vCPU in real mode executing
 *	mov $0x42, %al; out %al, $0x10; hlt
 * which must give KVM_EXIT_IO (port 0x10, one byte 0x42 out) and then
 * KVM_EXIT_HLT. Output is one PASS:/FAIL: line per check (tests/unit/test.h);
 * the exit status is non-zero if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../unit/test.h"

#define PROBE_GPA  0x1000u
#define PROBE_PORT 0x10u
#define PROBE_BYTE 0x42u

static const uint8_t probe_code[] = {
    0xb0, PROBE_BYTE, /* mov $0x42, %al */
    0xe6, PROBE_PORT, /* out %al, $0x10 */
    0xf4,	      /* hlt */
};

struct probe {
	int kvm;
	int vm;
	int vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

static int
probe_open(struct probe *p)
{
	int version;

	p->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	CHECK(p->kvm >= 0, "open /dev/kvm");
	if (p->kvm < 0) {
		printf("       open: %s\n", strerror(errno));
		return -1;
	}
	version = ioctl(p->kvm, KVM_GET_API_VERSION, 0);
	CHECK_EQ_U64(version, 12, "KVM_GET_API_VERSION is 12");
	return version == 12 ? 0 : -1;
}

static int
probe_create_vm(struct probe *p)
{
	struct kvm_userspace_memory_region region;
	int rc;

	p->vm = ioctl(p->kvm, KVM_CREATE_VM, 0);
	CHECK(p->vm >= 0, "KVM_CREATE_VM");
	if (p->vm < 0)
		return -1;
	p->mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		CHECK(0, "mmap guest memory");
		return -1;
	}
	memcpy(p->mem, probe_code, sizeof(probe_code));
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = PROBE_GPA;
	region.memory_size = 0x1000;
	region.userspace_addr = (uintptr_t)p->mem;
	rc = ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region);
	CHECK(rc == 0, "KVM_SET_USER_MEMORY_REGION");
	return rc;
}

static int
probe_create_vcpu(struct probe *p)
{
	int size;

	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	CHECK(p->vcpu >= 0, "KVM_CREATE_VCPU");
	if (p->vcpu < 0)
		return -1;
	size = ioctl(p->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	CHECK(size >= (int)sizeof(struct kvm_run), "KVM_GET_VCPU_MMAP_SIZE");
	if (size < (int)sizeof(struct kvm_run))
		return -1;
	p->run_size = (size_t)size;
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->vcpu, 0);
	CHECK(p->run != MAP_FAILED, "mmap kvm_run");
	return p->run == MAP_FAILED ? -1 : 0;
}

/* Real mode at CS:IP = 0:PROBE_GPA, interrupts off (SDM vol. 3 9.1.4). */
static int
probe_set_regs(struct probe *p)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) != 0) {
		CHECK(0, "KVM_GET_SREGS");
		return -1;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) != 0) {
		CHECK(0, "KVM_SET_SREGS");
		return -1;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = PROBE_GPA;
	regs.rflags = 0x2; /* bit 1 is reserved and must be set */
	if (ioctl(p->vcpu, KVM_SET_REGS, &regs) != 0) {
		CHECK(0, "KVM_SET_REGS");
		return -1;
	}
	return 0;
}

static void
probe_run(struct probe *p)
{
	const uint8_t *data;
	int rc;

	rc = ioctl(p->vcpu, KVM_RUN, 0);
	CHECK(rc == 0, "KVM_RUN to the out instruction");
	CHECK_EQ_U64(p->run->exit_reason, KVM_EXIT_IO, "exit reason is IO");
	if (rc != 0 || p->run->exit_reason != KVM_EXIT_IO)
		return;
	CHECK_EQ_U64(p->run->io.direction, KVM_EXIT_IO_OUT, "IO is an out");
	CHECK_EQ_U64(p->run->io.port, PROBE_PORT, "IO port is 0x10");
	CHECK_EQ_U64(p->run->io.size, 1, "IO size is 1");
	CHECK_EQ_U64(p->run->io.count, 1, "IO count is 1");
	if (p->run->io.data_offset >= p->run_size) {
		CHECK(0, "IO data offset inside kvm_run");
		return;
	}
	data = (const uint8_t *)p->run + p->run->io.data_offset;
	CHECK_EQ_U64(*data, PROBE_BYTE, "IO value is 0x42");

	rc = ioctl(p->vcpu, KVM_RUN, 0);
	CHECK(rc == 0, "KVM_RUN to the hlt instruction");
	CHECK_EQ_U64(p->run->exit_reason, KVM_EXIT_HLT, "exit reason is HLT");
}

int
main(void)
{
	struct probe p;

	memset(&p, 0, sizeof(p));
	p.kvm = p.vm = p.vcpu = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (probe_open(&p) == 0 && probe_create_vm(&p) == 0 &&
	    probe_create_vcpu(&p) == 0 && probe_set_regs(&p) == 0)
		probe_run(&p);
	if (p.run != NULL && p.run != MAP_FAILED)
		munmap(p.run, p.run_size);
	if (p.mem != NULL && p.mem != MAP_FAILED)
		munmap(p.mem, 0x1000);
	if (p.vcpu >= 0)
		close(p.vcpu);
	if (p.vm >= 0)
		close(p.vm);
	if (p.kvm >= 0)
		close(p.kvm);
	return test_done();
}
