/* Port I/O and MMIO dispatch: registration, lookup, widths, defaults. */
#include <errno.h>
#include <stdint.h>

#include "inout.h"
#include "mem.h"
#include "test.h"

static int io_calls;
static int io_last_port, io_last_bytes, io_last_in;

static int
io_handler(struct vcpu *vcpu, int in, int port, int bytes, uint32_t *eax,
	   void *arg)
{
	io_calls++;
	io_last_port = port;
	io_last_bytes = bytes;
	io_last_in = in;
	if (in)
		*eax = 0xdeadbeef; /* wider than the access: must be masked */
	else
		*(uint32_t *)arg = *eax;
	return 0;
}

static void
test_inout(void)
{
	uint32_t sink = 0, eax;
	struct inout_port p = {"t",	   0x100, 4, IOPORT_F_INOUT,
			       io_handler, &sink};
	struct inout_port overlap = {"o",	 0x103, 2, IOPORT_F_INOUT,
				     io_handler, &sink};
	struct inout_port bad = {"b",	     0xfffe, 4, IOPORT_F_INOUT,
				 io_handler, NULL};
	struct inout_port inonly = {"i",	 0x200,	     1,
				    IOPORT_F_IN, io_handler, &sink};

	init_inout();
	CHECK(register_inout(&p) == 0, "inout: register");
	CHECK(register_inout(&overlap) == -1 && errno == EEXIST,
	      "inout: overlapping registration refused");
	CHECK(register_inout(&bad) == -1 && errno == EINVAL,
	      "inout: range past port 0xffff refused");
	CHECK(register_inout(&inonly) == 0, "inout: in-only register");

	eax = 0;
	CHECK(inout_emulate(NULL, true, 0x102, 1, &eax) == 0 && eax == 0xef,
	      "inout: 8-bit in masked to its width");
	CHECK(io_last_port == 0x102 && io_last_bytes == 1 && io_last_in,
	      "inout: handler sees port, width and direction");
	CHECK(inout_emulate(NULL, true, 0x100, 2, &eax) == 0 && eax == 0xbeef,
	      "inout: 16-bit in masked");
	CHECK(inout_emulate(NULL, true, 0x100, 4, &eax) == 0 &&
		  eax == 0xdeadbeef,
	      "inout: 32-bit in");
	eax = 0x12345678;
	CHECK(inout_emulate(NULL, false, 0x101, 2, &eax) == 0 && sink == 0x5678,
	      "inout: 16-bit out masked before handler");
	CHECK(inout_emulate(NULL, true, 0x100, 3, &eax) == -1,
	      "inout: width 3 rejected");

	io_calls = 0;
	eax = 0;
	CHECK(inout_emulate(NULL, true, 0x300, 2, &eax) == 0 && eax == 0xffff &&
		  io_calls == 0,
	      "inout: unclaimed port reads all-ones");
	eax = 0x55;
	CHECK(inout_emulate(NULL, false, 0x300, 1, &eax) == 0 && io_calls == 0,
	      "inout: unclaimed write ignored");
	eax = 0x55;
	CHECK(inout_emulate(NULL, false, 0x200, 1, &eax) == 0 && io_calls == 0,
	      "inout: out to in-only port not dispatched");
	inout_set_strict(true);
	CHECK(inout_emulate(NULL, true, 0x300, 1, &eax) == -1,
	      "inout: strict mode makes unclaimed access fatal");
	inout_set_strict(false);

	CHECK(unregister_inout(&overlap) == -1, "inout: unregister mismatch");
	CHECK(unregister_inout(&p) == 0, "inout: unregister");
	CHECK(inout_emulate(NULL, true, 0x100, 1, &eax) == 0 && eax == 0xff,
	      "inout: unregistered port floats");
	CHECK(register_inout(&overlap) == 0, "inout: range reusable");
}

static uint64_t mem_reg;
static int mem_calls;

static int
mem_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size, uint64_t *val,
	    void *arg1, long arg2)
{
	mem_calls++;
	if (dir == MEM_F_WRITE)
		mem_reg = *val + (uint64_t)arg2;
	else
		*val = addr - (uint64_t)(uintptr_t)arg1;
	return 0;
}

static void
test_mem(void)
{
	uint64_t v;
	struct mem_range a = {"a", MEM_F_RW, mem_handler, (void *)0x1000,
			      0,   0x1000,   0x1000};
	struct mem_range b = {"b", MEM_F_RW, mem_handler, (void *)0x3000,
			      1,   0x3000,   0x100};
	struct mem_range ov = {"ov", MEM_F_RW, mem_handler, NULL, 0, 0x1fff, 2};
	struct mem_range top = {"top",	     MEM_F_READ,
				mem_handler, (void *)0xfffffffffffff000,
				0,	     0xfffffffffffff000ULL,
				0x1000};
	struct mem_range wrap = {"wrap", MEM_F_RW, mem_handler,
				 NULL,	 0,	   0xfffffffffffff000ULL,
				 0x2000};

	init_mem();
	CHECK(register_mem(&b) == 0 && register_mem(&a) == 0,
	      "mem: register out of order");
	CHECK(register_mem(&ov) == -1 && errno == EEXIST,
	      "mem: overlap refused");
	CHECK(register_mem(&wrap) == -1 && errno == EINVAL,
	      "mem: range wrapping the address space refused");
	CHECK(register_mem(&top) == 0, "mem: range ending at 2^64-1");

	CHECK(mem_emulate(NULL, false, 0x1ff8, 8, &v) == 0 && v == 0xff8,
	      "mem: read dispatched with address");
	CHECK(mem_emulate(NULL, true, 0x3004, 4, &(uint64_t){7}) == 0 &&
		  mem_reg == 8,
	      "mem: write dispatched to second range");
	mem_calls = 0;
	CHECK(mem_emulate(NULL, false, 0x1ffc, 8, &v) == 0 && v == ~0ULL &&
		  mem_calls == 0,
	      "mem: access straddling the range end is not dispatched");
	CHECK(mem_emulate(NULL, false, 0x2000, 4, &v) == 0 &&
		  v == 0xffffffffULL && mem_calls == 0,
	      "mem: unclaimed read is all-ones of its width");
	CHECK(mem_emulate(NULL, true, 0xfffffffffffff008ULL, 4,
			  &(uint64_t){1}) == 0 &&
		  mem_calls == 0,
	      "mem: write to read-only range ignored");
	CHECK(mem_emulate(NULL, false, 0xfffffffffffffff8ULL, 8, &v) == 0 &&
		  v == 0xff8,
	      "mem: last 8 bytes of the address space");
	CHECK(mem_emulate(NULL, false, 0x1000, 3, &v) == -1,
	      "mem: width 3 rejected");
	mem_set_strict(true);
	CHECK(mem_emulate(NULL, false, 0x2000, 4, &v) == -1,
	      "mem: strict unclaimed access fatal");
	mem_set_strict(false);
	CHECK(unregister_mem(&a) == 0, "mem: unregister");
	CHECK(mem_emulate(NULL, false, 0x1000, 1, &v) == 0 && v == 0xff,
	      "mem: unregistered range floats");
}

int
main(void)
{
	test_inout();
	test_mem();
	return test_done();
}
