/* util/waitline: the countdown and progress line of adfs-credctl login. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/macro.h"
#include "util/waitline.h"

static void test_clock(void **state)
{
	char b[16];

	assert_string_equal(waitline_clock(b, 0), "0:00");
	assert_string_equal(waitline_clock(b, 7), "0:07");
	assert_string_equal(waitline_clock(b, 107), "1:47");
	assert_string_equal(waitline_clock(b, 120), "2:00");
	assert_string_equal(waitline_clock(b, 3600), "60:00");
	assert_string_equal(waitline_clock(b, -5), "0:00");
}

static void test_push(void **state)
{
	char b[128];

	assert_string_equal(waitline_push(b, sizeof(b), "42", 107),
			    "Approve on your device, number 42: 1:47 left");
	/* No number, or instructions instead of one: no number shown. */
	assert_string_equal(waitline_push(b, sizeof(b), NULL, 59),
			    "Approve on your device: 0:59 left");
	assert_string_equal(waitline_push(b, sizeof(b), "Open the app", 1),
			    "Approve on your device: 0:01 left");
	assert_string_equal(waitline_push(b, sizeof(b), "", 30),
			    "Approve on your device: 0:30 left");
	assert_string_equal(waitline_push(b, sizeof(b), "42", 0),
			    "Approve on your device, number 42: time is up");
	/* Cut to the buffer, still terminated. */
	assert_string_equal(waitline_push(b, 16, "42", 107),
			    "Approve on your");
}

static void test_progress(void **state)
{
	char b[128];

	assert_string_equal(waitline_progress(b, sizeof(b), "roles", 12, 40),
			    "Signing in: 12/40 roles");
	assert_string_equal(waitline_progress(b, sizeof(b), "roles", 41, 40),
			    "Signing in: 40/40 roles");
	assert_string_equal(waitline_progress(b, sizeof(b), "roles", 0, 0),
			    "Signing in: assuming the roles...");
	assert_string_equal(waitline_progress(b, sizeof(b), "sign_in", 0, 3),
			    "Signing in to ADFS...");
	assert_string_equal(waitline_progress(b, sizeof(b), "mfa", 0, 3),
			    "Waiting for the second factor...");
	assert_string_equal(waitline_progress(b, sizeof(b), "what", 1, 2), "");
	assert_string_equal(waitline_progress(b, sizeof(b), NULL, 1, 2), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_push),
		cmocka_unit_test(test_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
