/*
 * The floor for the exit-path benchmark: the least a VMM can do per port
 * read.  A bare KVM VM runs "in al, 0x80" in a real-mode loop and this
 * program answers each KVM_EXIT_IO with nothing but a store.  Prints the
 * nanoseconds per exit.
 *
 *   kvm_floor N
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const uint8_t guest_code[] = {
    0x66, 0xb9, 0, 0, 0, 0, /* mov ecx, N (patched) */
    0xe4, 0x80,		    /* 1: in al, 0x80 */
    0x66, 0x49,		    /* dec ecx */
    0x75, 0xfa,		    /* jnz 1b */
    0xf4,		    /* hlt */
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 100000;
	int kvm, vm, vcpu;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
	uint8_t *mem;
	uint64_t exits = 0;
	double t0, t1;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || n == 0) {
		perror("kvm_floor: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memcpy(mem + 0x1000, guest_code, sizeof(guest_code));
	memcpy(mem + 0x1000 + 2, &n, 4);
	struct kvm_userspace_memory_region r = {.slot = 0,
						.memory_size = 0x10000,
						.userspace_addr =
						    (uintptr_t)mem};
	if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) != 0) {
		perror("kvm_floor: VM");
		return 1;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
		   PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	ioctl(vcpu, KVM_GET_SREGS, &sregs);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ioctl(vcpu, KVM_SET_SREGS, &sregs);
	ioctl(vcpu, KVM_SET_REGS, &regs);
	t0 = now_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) != 0) {
			perror("kvm_floor: KVM_RUN");
			return 1;
		}
		if (run->exit_reason == KVM_EXIT_IO) {
			((uint8_t *)run)[run->io.data_offset] = 0xff;
			exits++;
			continue;
		}
		break;
	}
	t1 = now_ns();
	if (run->exit_reason != KVM_EXIT_HLT || exits != n) {
		fprintf(stderr, "kvm_floor: exit %u after %llu reads\n",
			run->exit_reason, (unsigned long long)exits);
		return 1;
	}
	printf("floor_ns_per_exit %.1f\n", (t1 - t0) / n);
	return 0;
}
