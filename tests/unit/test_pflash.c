/*
 * The CFI flash of the variable store (pflash.c): OVMF's probe, program,
 * erase, status, identifier and CFI query, the read-only slot following
 * the mode, write-through to the file, and malformed sequences.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem.h"
#include "pflash.h"
#include "test.h"
#include "vmmapi.h"

#define LEN (32u << 10)
#define GPA 0xfff00000ULL

static uint8_t
rd(struct pflash *fl, uint64_t off)
{
	uint64_t v = 0;

	pflash_access(fl, false, off, 1, &v);
	return (uint8_t)v;
}

static void
wr(struct pflash *fl, uint64_t off, uint8_t b)
{
	uint64_t v = b;

	pflash_access(fl, true, off, 1, &v);
}

static bool
mapped(struct vmctx *ctx)
{
	uint64_t gpa = 0;

	return vm_devmem_mapped(ctx, 0, &gpa) && gpa == GPA;
}

/* OVMF's QemuFlashDetected: 0x50 then read, 0x70 then read 0x00. */
static void
test_probe(struct pflash *fl, struct vmctx *ctx, uint8_t *array)
{
	array[0] = 0x5a;
	wr(fl, 0, 0x50);
	CHECK(rd(fl, 0) == 0x5a && mapped(ctx),
	      "after clear status the array reads back (not RAM)");
	wr(fl, 0, 0x70);
	CHECK(!mapped(ctx), "read status: the slot is removed");
	CHECK(rd(fl, 0) == 0x00, "cleared status reads 0 (flash detected)");
	wr(fl, 0, 0xff);
	CHECK(mapped(ctx) && pflash_read_array(fl),
	      "read array maps the slot again");
}

static void
test_program_erase(struct pflash *fl, struct vmctx *ctx, uint8_t *array, int fd)
{
	uint8_t b = 0;

	wr(fl, 0x1234, 0x10);
	CHECK(!mapped(ctx), "program setup removes the slot");
	wr(fl, 0x1234, 0xab);
	CHECK(array[0x1234] == 0xab, "byte programmed");
	CHECK(rd(fl, 0x1234) == PFLASH_SR_READY, "status ready after program");
	CHECK(pread(fd, &b, 1, 0x1234) == 1 && b == 0xab,
	      "program written through to the file");
	wr(fl, 0, 0x40);
	{
		uint64_t v = 0x44434241;

		pflash_access(fl, true, 0x2000, 4, &v);
	}
	CHECK(memcmp(array + 0x2000, "ABCD", 4) == 0, "4-byte program");
	wr(fl, 0, 0xff);
	CHECK(rd(fl, 0x1234) == 0xab, "read array sees the data");

	wr(fl, 0x1000, 0x20);
	wr(fl, 0x1800, 0xd0);
	CHECK(array[0x1234] == 0xff && array[0x0fff] != 0xff - 1,
	      "erase clears the 4 KiB block");
	CHECK(rd(fl, 0) == PFLASH_SR_READY, "status ready after erase");
	CHECK(pread(fd, &b, 1, 0x1234) == 1 && b == 0xff,
	      "erase written through to the file");
	CHECK(array[0x2000] == 'A', "the next block is untouched");
	wr(fl, 0, 0xff);
}

static void
test_bad_sequences(struct pflash *fl, struct vmctx *ctx, uint8_t *array)
{
	uint64_t v = 0;

	array[0x3000] = 0x11;
	wr(fl, 0x3000, 0x20);
	wr(fl, 0x3000, 0x00);
	CHECK(array[0x3000] == 0x11, "erase without confirm erases nothing");
	CHECK((rd(fl, 0) & (PFLASH_SR_ERASE_ERR | PFLASH_SR_PROGRAM_ERR)) ==
		  (PFLASH_SR_ERASE_ERR | PFLASH_SR_PROGRAM_ERR),
	      "command sequence error in status");
	wr(fl, 0, 0x50);
	CHECK(rd(fl, 0x3000) == 0x11 && mapped(ctx),
	      "clear status: back to read array");
	wr(fl, 0, 0x10);
	wr(fl, LEN - 1, 0x77);
	CHECK(array[LEN - 1] == 0x77, "last byte programmable");
	wr(fl, 0, 0x10);
	v = 0x1122;
	pflash_access(fl, true, LEN - 1, 2, &v);
	CHECK(array[LEN - 1] == 0x77 && (rd(fl, 0) & PFLASH_SR_PROGRAM_ERR),
	      "program past the end: error, nothing written");
	wr(fl, 0, 0x50);
	wr(fl, 0, 0x10);
	wr(fl, UINT64_MAX, 0x1);
	CHECK(rd(fl, 0) & PFLASH_SR_PROGRAM_ERR, "huge offset: error");
	wr(fl, 0, 0x20);
	wr(fl, UINT64_MAX - 1, 0xd0);
	CHECK(rd(fl, 0) & PFLASH_SR_ERASE_ERR, "erase past the end: error");
	wr(fl, 0, 0x3c);
	CHECK(pflash_read_array(fl), "unknown command: read array");
	pflash_access(fl, false, UINT64_MAX, 8, &v);
	CHECK(v == ~0ULL, "read past the end in array mode: all ones");
	pflash_access(fl, false, 0, 99, &v);
	CHECK(1, "bad width survives");
}

static void
test_id_cfi(struct pflash *fl)
{
	wr(fl, 0, 0x90);
	CHECK(rd(fl, 0) == 0x89 && rd(fl, 1) == 0x18, "identifier codes");
	wr(fl, 0, 0x98);
	CHECK(rd(fl, 0x10) == 'Q' && rd(fl, 0x11) == 'R' && rd(fl, 0x12) == 'Y',
	      "CFI query string");
	CHECK(rd(fl, 0x2f) == PFLASH_BLOCK / 256 &&
		  rd(fl, 0x2d) == LEN / PFLASH_BLOCK - 1,
	      "CFI erase block region");
	wr(fl, 0, 0xf0);
	CHECK(pflash_read_array(fl), "0xf0 is read array too");
}

static void
test_mmio_dispatch(struct pflash *fl, uint8_t *array)
{
	uint64_t v = 0x10;

	CHECK(mem_emulate(NULL, true, GPA + 0x10, 1, &v) == 0,
	      "MMIO write reaches the flash");
	v = 0x5c;
	mem_emulate(NULL, true, GPA + 0x10, 1, &v);
	CHECK(array[0x10] == 0x5c, "program through the MMIO range");
	v = 0xff;
	mem_emulate(NULL, true, GPA, 1, &v);
	CHECK(pflash_read_array(fl), "back to read array");
}

int
main(void)
{
	struct vmctx *ctx = vm_create_detached("t-pflash");
	char path[] = "/tmp/pflash-XXXXXX";
	uint8_t *array;
	struct pflash *fl;
	int fd = mkstemp(path);

	init_mem();
	array = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(array, 0xff, LEN);
	CHECK(fd >= 0 && ftruncate(fd, LEN) == 0, "scratch VARS file");
	CHECK(pflash_create(ctx, GPA, array, LEN - 1, fd) == NULL,
	      "size not a block multiple refused");
	fl = pflash_create(ctx, GPA, array, LEN, fd);
	CHECK(fl != NULL, "flash created");
	if (fl == NULL)
		return test_done();
	CHECK(mapped(ctx) && pflash_read_array(fl),
	      "starts in read-array mode, mapped");
	test_probe(fl, ctx, array);
	test_program_erase(fl, ctx, array, fd);
	test_bad_sequences(fl, ctx, array);
	test_id_cfi(fl);
	test_mmio_dispatch(fl, array);
	pflash_destroy(fl);
	CHECK(!vm_devmem_mapped(ctx, 0, NULL), "destroy removes the slot");
	vm_destroy(ctx);
	close(fd);
	unlink(path);
	return test_done();
}
