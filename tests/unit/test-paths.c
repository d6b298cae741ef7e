/* util/paths: the state directory rule shared by daemon and CLI. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/paths.h"

static void test_state_dir(void **state)
{
	char *p = NULL;

	/* The configured directory wins, whatever the environment says. */
	assert_int_equal(setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1), 0);
	assert_int_equal(paths_state_dir("/srv/creds", &p), 0);
	assert_string_equal(p, "/srv/creds");
	free(p);

	assert_int_equal(paths_state_dir(NULL, &p), 0);
	assert_string_equal(p, "/run/user/1000/adfs-credd");
	free(p);

	/* Unset, empty or relative: no default. */
	p = NULL;
	assert_int_equal(setenv("XDG_RUNTIME_DIR", "run/user/1000", 1), 0);
	assert_int_equal(paths_state_dir(NULL, &p), -EINVAL);
	assert_int_equal(setenv("XDG_RUNTIME_DIR", "", 1), 0);
	assert_int_equal(paths_state_dir(NULL, &p), -EINVAL);
	assert_int_equal(unsetenv("XDG_RUNTIME_DIR"), 0);
	assert_int_equal(paths_state_dir(NULL, &p), -EINVAL);
	assert_null(p);
}

static void test_files(void **state)
{
	char *p = NULL;

	assert_int_equal(paths_control_socket("/run/user/1000/adfs-credd", &p),
			 0);
	assert_string_equal(p, "/run/user/1000/adfs-credd/control.sock");
	free(p);
	assert_int_equal(paths_token("/srv/creds", &p), 0);
	assert_string_equal(p, "/srv/creds/token");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_dir),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
