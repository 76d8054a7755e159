/*
 * Start-up notices (notice.h): queued until the VM starts, dropped when
 * the start fails, so that an error is never preceded by them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notice.h"
#include "test.h"

static char captured[1024];

/* Runs fn with stderr captured into 'captured'. */
static void
capture(void (*fn)(void))
{
	FILE *saved = stderr, *mem;
	char *buf = NULL;
	size_t len = 0;

	mem = open_memstream(&buf, &len);
	stderr = mem;
	fn();
	stderr = saved;
	fclose(mem);
	snprintf(captured, sizeof(captured), "%s", buf ? buf : "");
	free(buf);
}

static void
queue_two(void)
{
	notice("keyboard.layout (-K) has no effect");
	notice("pci.%d.%d.%d.bootindex has no effect", 0, 3, 0);
}

static void
start_fails(void)
{
	queue_two();
	fprintf(stderr, "bhyve: the error\n");
	notice_discard();
}

static void
start_succeeds(void)
{
	queue_two();
	notice_flush();
	notice("after the start");
}

int
main(void)
{
	capture(queue_two);
	CHECK(captured[0] == '\0' && notice_pending() == 2,
	      "notices are queued, not printed");
	notice_discard();
	CHECK(notice_pending() == 0, "discard drops them");

	capture(start_fails);
	CHECK(strcmp(captured, "bhyve: the error\n") == 0,
	      "a failed start prints its error alone");

	capture(start_succeeds);
	CHECK(strcmp(captured, "bhyve: keyboard.layout (-K) has no effect\n"
			       "bhyve: pci.0.3.0.bootindex has no effect\n"
			       "bhyve: after the start\n") == 0,
	      "flush prints them in order; later ones print at once");
	CHECK(notice_pending() == 0, "nothing left queued");
	return test_done();
}
