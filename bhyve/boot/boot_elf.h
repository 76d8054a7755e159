/*
 * Minimal, bounds-checked ELF reading for the kernel loaders: the header,
 * program headers (ELF32 and ELF64, little-endian x86), notes, and loading
 * PT_LOAD segments at their physical addresses.  Every field comes from an
 * untrusted file, so every offset and size is checked before use.
 */
#ifndef BOOT_ELF_H
#define BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot_ctx;

struct boot_elf {
	bool is64;
	uint16_t machine;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phentsize;
	uint16_t phnum;
};

struct boot_elf_seg {
	uint32_t type;
	uint64_t offset;
	uint64_t vaddr;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

#define BOOT_PT_LOAD 1
#define BOOT_PT_NOTE 4

/* True if the image starts with the ELF magic. */
bool boot_elf_is_elf(const uint8_t *img, size_t size);
/*
 * Parses and validates the ELF header and program header table of an x86
 * or x86-64 little-endian executable.  Returns NULL on success, else a
 * static message saying what is wrong.
 */
const char *boot_elf_parse(const uint8_t *img, size_t size,
			   struct boot_elf *elf);
/* Program header i (< phnum); its file range is checked against size. */
const char *boot_elf_seg(const uint8_t *img, size_t size,
			 const struct boot_elf *elf, unsigned int i,
			 struct boot_elf_seg *seg);
/*
 * Finds the note (name, type) in the PT_NOTE segments.  Returns true and
 * points *desc (inside img) at its descriptor of *desclen bytes.
 */
bool boot_elf_find_note(const uint8_t *img, size_t size,
			const struct boot_elf *elf, const char *name,
			uint32_t type, const uint8_t **desc, size_t *desclen);
/*
 * Loads every PT_LOAD segment at its physical address, each claimed as
 * "kernel" and below 'limit'; zero-fills the rest of memsz.  Returns 0 or
 * -1 with the context's error set.
 */
int boot_elf_load(struct boot_ctx *bc, const struct boot_elf *elf,
		  uint64_t limit);
/* Translates a virtual entry point through the PT_LOAD segments. */
uint64_t boot_elf_entry_paddr(const uint8_t *img, size_t size,
			      const struct boot_elf *elf);

#endif
