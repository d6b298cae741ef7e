/* Fixtures shared by the unit tests: the data files under tests/unit/data
 * (TEST_DATA_DIR, which tests/CMakeLists.txt defines for every unit test)
 * and a fake wall clock. Include after <cmocka.h>: failures are cmocka
 * assertions. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/timeutil.h"

/* The largest fixture test_read_fixture() reads. */
#define TEST_FIXTURE_MAX (4u * 1024u * 1024u)

/* TEST_DATA_DIR/name into out (size bytes); the test fails if it does not
 * fit. Returns out. */
static inline char *test_data_path(const char *name, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s", TEST_DATA_DIR, name);

	assert_true(n > 0 && (size_t)n < size);
	return out;
}

/* Reads TEST_DATA_DIR/name into b, which it initialises (the caller frees
 * b->data). b->data is NUL-terminated; the NUL is not counted in b->len. */
static inline void test_read_fixture(const char *name, struct buf *b)
{
	char path[4096];

	test_data_path(name, path, sizeof(path));
	buf_init(b, TEST_FIXTURE_MAX);
	assert_int_equal(buf_read_file(b, path), 0);
	assert_int_equal(buf_append(b, "", 1), 0);
	b->len--;
}

/* The fake wall clock (util/timeutil.h's injectable now_wall()). */
static inline usec_t *test_clock_slot(void)
{
	static usec_t now;

	return &now;
}

static inline usec_t test_clock_now(void)
{
	return *test_clock_slot();
}

/* now_wall() returns t from here on (installs the fake clock). */
static inline void test_clock_set(usec_t t)
{
	*test_clock_slot() = t;
	timeutil_set_clock(test_clock_now);
}

/* now_wall() is the real clock again. */
static inline void test_clock_restore(void)
{
	timeutil_set_clock(NULL);
}
