/* Port I/O and MMIO dispatch: registration, lookup, widths, defaults. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
	CHECK(mem_emulate(NULL, false, 0x1ffc, 8, &v) == 0 &&
		  v == 0xffffffff00000ffcULL && mem_calls == 1,
	      "mem: access straddling the range end: only its own half "
	      "dispatched, the rest floats");
	mem_calls = 0;
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
	CHECK(mem_emulate(NULL, false, 0x1000, 9, &v) == -1 &&
		  mem_emulate(NULL, false, 0x1000, 0, &v) == -1,
	      "mem: width outside 1-8 rejected");
	mem_set_strict(true);
	CHECK(mem_emulate(NULL, false, 0x2000, 4, &v) == -1,
	      "mem: strict unclaimed access fatal");
	mem_set_strict(false);
	CHECK(unregister_mem(&a) == 0, "mem: unregister");
	CHECK(mem_emulate(NULL, false, 0x1000, 1, &v) == 0 && v == 0xff,
	      "mem: unregistered range floats");
}

/* The pieces a split access reached, in order. */
#define MAX_PIECES 8
static struct piece {
	uint64_t addr, val;
	int size, dir;
	long range;
} pieces[MAX_PIECES];
static int npieces;

/* Byte a of a recording range reads as a's low byte, plus its range id. */
static int
piece_handler(struct vcpu *vcpu, int dir, uint64_t addr, int size,
	      uint64_t *val, void *arg1, long arg2)
{
	if (npieces < MAX_PIECES)
		pieces[npieces++] = (struct piece){
		    addr, dir == MEM_F_WRITE ? *val : 0, size, dir, arg2};
	if (dir == MEM_F_READ) {
		*val = 0;
		for (int i = size - 1; i >= 0; i--)
			*val = *val << 8 |
			       ((addr + (uint64_t)i + (uint64_t)arg2) & 0xff);
	}
	return 0;
}

/* A read, the pieces its handler calls must see, and the value. */
struct split_case {
	const char *name;
	uint64_t gpa;
	int size;
	uint64_t want;
	int npieces;
	struct {
		uint64_t addr;
		int size;
		long range; /* arg2: 0 for range r, 0x40 for s */
	} p[4];
};

static const struct split_case split_cases[] = {
    {"aligned 6-byte read is 4+2, little-endian",
     0x10000,
     6,
     0x050403020100ULL,
     2,
     {{0x10000, 4, 0}, {0x10004, 2, 0}}},
    {"6-byte read at 2 mod 4 is 2+4",
     0x10002,
     6,
     0x070605040302ULL,
     2,
     {{0x10002, 2, 0}, {0x10004, 4, 0}}},
    {"unaligned 6-byte read is 1+2+2+1",
     0x10001,
     6,
     0x060504030201ULL,
     4,
     {{0x10001, 1, 0}, {0x10002, 2, 0}, {0x10004, 2, 0}, {0x10006, 1, 0}}},
    {"3-byte read is 2+1",
     0x10000,
     3,
     0x020100,
     2,
     {{0x10000, 2, 0}, {0x10002, 1, 0}}},
    {"unaligned 3-byte read is 1+2",
     0x10001,
     3,
     0x030201,
     2,
     {{0x10001, 1, 0}, {0x10002, 2, 0}}},
    {"5-byte read is 4+1",
     0x10008,
     5,
     0x0c0b0a0908ULL,
     2,
     {{0x10008, 4, 0}, {0x1000c, 1, 0}}},
    {"7-byte read is 4+2+1",
     0x10010,
     7,
     0x16151413121110ULL,
     3,
     {{0x10010, 4, 0}, {0x10014, 2, 0}, {0x10016, 1, 0}}},
    {"unaligned 7-byte read is 1+2+4",
     0x10011,
     7,
     0x17161514131211ULL,
     3,
     {{0x10011, 1, 0}, {0x10012, 2, 0}, {0x10014, 4, 0}}},
    {"unaligned 4-byte read inside a range stays whole",
     0x10001,
     4,
     0x04030201,
     1,
     {{0x10001, 4, 0}}},
    /* lfs from the last 2 bytes of r: offset in r, selector in s. */
    {"access across two ranges reaches both",
     0x100fe,
     6,
     0x43424140fffeULL,
     2,
     {{0x100fe, 2, 0}, {0x10100, 4, 0x40}}},
    {"access running off a range: the rest floats",
     0x101fc,
     6,
     0xffff3f3e3d3cULL,
     1,
     {{0x101fc, 4, 0x40}}},
    {"access running into a range from unclaimed space",
     0xfffe,
     6,
     0x03020100ffffULL,
     1,
     {{0x10000, 4, 0}}},
};

/* Runs one case; true if the pieces and the value are as it says. */
static bool
split_read(const struct split_case *c)
{
	uint64_t v = 0;

	npieces = 0;
	if (mem_emulate(NULL, false, c->gpa, c->size, &v) != 0 ||
	    npieces != c->npieces || v != c->want) {
		printf("  note: %d pieces, value %#llx\n", npieces,
		       (unsigned long long)v);
		return false;
	}
	for (int i = 0; i < c->npieces; i++) {
		if (pieces[i].addr != c->p[i].addr ||
		    pieces[i].size != c->p[i].size ||
		    pieces[i].range != c->p[i].range)
			return false;
	}
	return true;
}

static void
test_mem_split(void)
{
	struct mem_range r = {"r", MEM_F_RW, piece_handler, NULL,
			      0,   0x10000,  0x100};
	struct mem_range s = {"s",  MEM_F_RW, piece_handler, NULL,
			      0x40, 0x10100,  0x100};
	char name[128];
	uint64_t v;

	init_mem();
	CHECK(register_mem(&r) == 0 && register_mem(&s) == 0,
	      "mem split: register two adjacent ranges");
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]);
	     i++) {
		snprintf(name, sizeof(name), "mem split: %s",
			 split_cases[i].name);
		CHECK(split_read(&split_cases[i]), name);
	}

	npieces = 0;
	v = 0xaabbccddeeffULL;
	CHECK(mem_emulate(NULL, true, 0x10020, 6, &v) == 0 && npieces == 2 &&
		  pieces[0].dir == MEM_F_WRITE && pieces[0].addr == 0x10020 &&
		  pieces[0].size == 4 && pieces[0].val == 0xccddeeffULL &&
		  pieces[1].addr == 0x10024 && pieces[1].size == 2 &&
		  pieces[1].val == 0xaabb,
	      "mem split: 6-byte write is 4+2, each piece its own bytes");
	mem_set_strict(true);
	CHECK(mem_emulate(NULL, false, 0x101fc, 6, &v) == -1,
	      "mem split: strict: the unclaimed piece is still an error");
	mem_set_strict(false);
	init_mem();
}

int
main(void)
{
	test_inout();
	test_mem();
	test_mem_split();
	return test_done();
}
