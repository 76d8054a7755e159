/*
 * Guest virtual memory for the debugger: copies data by guest linear
 * address, page by page, translating with the guest's own page tables
 * (pagewalk.h) and touching guest RAM only through vm_map_gpa.
 */
#ifndef GDB_VMEM_H
#define GDB_VMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pagewalk.h"

/* Copies len bytes between guest virtual memory and buf; returns how
 * many were copied before the first unmapped or non-RAM byte.  Access
 * rights are not checked: a debugger may write read-only pages. */
size_t gdb_vmem_copy(struct vmctx *ctx, const struct pagewalk_cpu *pg,
		     uint64_t gla, void *buf, size_t len, bool write);

#endif
