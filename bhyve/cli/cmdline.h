/*
 * The bhyve(8) command line.  Every flag only writes configuration keys
 * (see docs/config.md); the VM is built later from the tree alone.
 */
#ifndef CMDLINE_H
#define CMDLINE_H

#include <stddef.h>
#include <stdint.h>

/* bhyve_parse_args() result: the caller should exit with status 0 now. */
#define BHYVE_ARGS_EXIT0 (-1)
/* bhyve's exit status for bad input. */
#define BHYVE_ARGS_ERROR 4

/*
 * Parses argv into the configuration tree (init_config() first), applies
 * bhyve's defaults to keys left unset, and validates the result.  Returns
 * 0; BHYVE_ARGS_EXIT0 after -h, -s help or -l help; or BHYVE_ARGS_ERROR
 * after printing one line "bhyve: <what is wrong>" to stderr.  Never exits.
 */
int bhyve_parse_args(int argc, char **argv);

/*
 * bhyve keys that beehive accepts but cannot honour (suspend_at_boot,
 * keyboard.layout, pci.*.bootindex): one notice each (notice.h), shown
 * once the VM starts.  For main(), after validation.
 */
void bhyve_note_unsupported(void);

#endif
