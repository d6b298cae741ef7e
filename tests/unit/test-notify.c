/* Unit tests for util/notify.c: what the daemon puts in STATUS=. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "util/notify.h"

static void check(const char *in, const char *want)
{
	char *got = notify_escape(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_backslash_doubled(void **state)
{
	check("EXAMPLE\\alice", "EXAMPLE\\\\alice");
	check("\\\\", "\\\\\\\\");
	check("a\\", "a\\\\");
}

static void test_control_characters_are_spaces(void **state)
{
	/* A newline would end STATUS= and start a field of the sender's
	 * choosing (READY=1, MAINPID=...). */
	check("alice\nREADY=1", "alice READY=1");
	check("a\rb\tc\x7f" "d\x1b[31m", "a b c d [31m");
}

static void test_plain_text_unchanged(void **state)
{
	check("", "");
	check("alice@example.com", "alice@example.com");
	check("Zoë", "Zoë");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backslash_doubled),
		cmocka_unit_test(test_control_characters_are_spaces),
		cmocka_unit_test(test_plain_text_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
