/*
 * A tiny unit-test harness: each CHECK prints one result line the runner
 * counts ("PASS: name" / "FAIL: name: why"), and test_done() makes the
 * process exit non-zero if anything failed.
 */
#ifndef TEST_H
#define TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_count;

#define CHECK(cond, name)                                                      \
	do {                                                                   \
		test_count++;                                                  \
		if (cond) {                                                    \
			printf("PASS: %s\n", (name));                          \
		} else {                                                       \
			test_failures++;                                       \
			printf("FAIL: %s: %s (%s:%d)\n", (name), #cond,        \
			       __FILE__, __LINE__);                            \
		}                                                              \
	} while (0)

#define CHECK_EQ_U64(a, b, name)                                               \
	do {                                                                   \
		unsigned long long _a = (unsigned long long)(a);               \
		unsigned long long _b = (unsigned long long)(b);               \
		test_count++;                                                  \
		if (_a == _b) {                                                \
			printf("PASS: %s\n", (name));                          \
		} else {                                                       \
			test_failures++;                                       \
			printf("FAIL: %s: %s = %#llx, expected %#llx "         \
			       "(%s:%d)\n",                                    \
			       (name), #a, _a, _b, __FILE__, __LINE__);        \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b, name)                                                  \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		test_count++;                                                  \
		if (_a != NULL && _b != NULL && strcmp(_a, _b) == 0) {         \
			printf("PASS: %s\n", (name));                          \
		} else {                                                       \
			test_failures++;                                       \
			printf("FAIL: %s: %s = \"%s\", expected \"%s\" "       \
			       "(%s:%d)\n",                                    \
			       (name), #a, _a ? _a : "(null)",                 \
			       _b ? _b : "(null)", __FILE__, __LINE__);        \
		}                                                              \
	} while (0)

static inline int
test_done(void)
{
	if (test_count == 0) {
		printf("FAIL: no checks ran\n");
		return 1;
	}
	return test_failures != 0;
}

#endif
