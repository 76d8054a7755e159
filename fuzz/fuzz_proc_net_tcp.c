/*
 * libFuzzer target for the /proc/net/tcp parser (bhyve/debug/peer.c) that
 * decides whose TCP connection may reach the gdb stub.  Each input line is
 * parsed on its own; then the whole input is searched as a file for the
 * first established entry found that way, and the search must find it
 * with the same uid (the two readings of the text must agree).
 *
 * Build and run (from the repository root; `make fuzz` does the same):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *       -g -O1 -Ilib/vmmapi -Ibhyve/debug fuzz/fuzz_proc_net_tcp.c \
 *       bhyve/debug/peer.c bhyve/debug/gdb_proto.c bhyve/debug/gdb_regs.c \
 *       -o build-fuzz/fuzz_proc_net_tcp
 *   build-fuzz/fuzz_proc_net_tcp -max_total_time=10
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first established entry of text's lines, parsed one by one. */
static bool
fuzz_first_established(char *text, struct peer_tcp_entry *first)
{
	struct peer_tcp_entry e;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (peer_tcp_parse_line(line, &e) != 0)
			continue;
		if (e.state == PEER_TCP_ESTABLISHED) {
			*first = e;
			return true;
		}
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_tcp_entry first;
	char *text, *lines;
	bool found;
	uint32_t uid;
	FILE *f;

	/* A NUL would end a line for one reader and not the other. */
	text = malloc(size + 1);
	lines = malloc(size + 1);
	if (text == NULL || lines == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		text[i] = data[i] == '\0' ? ' ' : (char)data[i];
	text[size] = '\0';
	memcpy(lines, text, size + 1);
	found = fuzz_first_established(lines, &first);
	f = fmemopen(text, size + 1, "r");
	if (f == NULL)
		abort();
	if (found &&
	    (peer_tcp_find_uid(f, &first.local, &first.remote, &uid) != 0 ||
	     uid != first.uid))
		abort();
	fclose(f);
	free(lines);
	free(text);
	return 0;
}
