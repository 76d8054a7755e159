/*
 * Guest page-table walks: a guest linear address to a guest physical
 * address, reading the guest's own tables through vm_copyin() so that no
 * table outside RAM is ever touched.  Shared by the control socket's
 * gla2gpa and anything else that needs to follow guest pointers.
 */
#ifndef PAGEWALK_H
#define PAGEWALK_H

#include <stddef.h>
#include <stdint.h>

#include "vmmapi.h"

/* The control state that selects the paging mode (SDM Vol. 3A 4.1.1). */
struct pagewalk_cpu {
	uint64_t cr0;
	uint64_t cr3;
	uint64_t cr4;
	uint64_t efer;
};

enum pagewalk_status {
	PAGEWALK_OK = 0,    /* *gpa holds the translation */
	PAGEWALK_FAULT = 1, /* the guest would take #PF (or #GP) */
	PAGEWALK_ERROR = -1 /* a table lies outside guest RAM */
};

/*
 * Translates 'gla'.  On a fault or an error, 'why' (if not NULL) says
 * which entry stopped the walk.  'pagesize' (if not NULL) receives the
 * size of the page that maps gla.
 */
enum pagewalk_status pagewalk_gla2gpa(struct vmctx *ctx,
				      const struct pagewalk_cpu *cpu,
				      uint64_t gla, uint64_t *gpa,
				      uint64_t *pagesize, char *why,
				      size_t whylen);

/* The paging mode's name: "none", "32-bit", "pae", "4-level", "5-level". */
const char *pagewalk_mode_name(const struct pagewalk_cpu *cpu);

#endif
