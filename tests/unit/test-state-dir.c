/* util/paths: paths_prepare_state_dir refuses what another user could swap
 * (issue 15, item 6). Runs as root for the chown cases, as the suite
 * does; as another user those cases are left out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/paths.h"

static char base[] = "/tmp/adfs-credd-state-dir-XXXXXX";

static char *at(const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", base, name) > 0);
	return p;
}

static int prepare(const char *dir, const char **why)
{
	char *where = NULL;
	int r;

	*why = NULL;
	r = paths_prepare_state_dir(dir, why, &where);
	free(where);
	return r;
}

static void test_rules(void **state)
{
	_cleanup_free_ char *open_dir = at("open"), *open_state = at("open/s"),
			    *sticky = at("sticky"), *sticky_state = at("sticky/s"),
			    *mine = at("mine"), *link = at("link"),
			    *file = at("file"), *theirs = at("theirs"),
			    *their_parent = at("tp"), *tp_state = at("tp/s");
	const char *why;
	struct stat st;
	FILE *f;

	/* Fresh, in a directory of ours: created 0700. */
	assert_int_equal(prepare(mine, &why), 0);
	assert_int_equal(lstat(mine, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Again, after someone widened it: back to 0700. */
	assert_int_equal(chmod(mine, 0755), 0);
	assert_int_equal(prepare(mine, &why), 0);
	assert_int_equal(lstat(mine, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* A parent anyone may write, not sticky. */
	assert_int_equal(mkdir(open_dir, 0777), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	assert_int_equal(prepare(open_state, &why), -EACCES);
	assert_string_equal(why, "can be written by other users and is not "
				 "sticky");
	assert_int_equal(access(open_state, F_OK), -1);

	/* Sticky and ours (or root's): fine. */
	assert_int_equal(mkdir(sticky, 0777), 0);
	assert_int_equal(chmod(sticky, 01777), 0);
	assert_int_equal(prepare(sticky_state, &why), 0);

	/* A symlink to a directory of ours. */
	assert_int_equal(symlink(mine, link), 0);
	assert_int_equal(prepare(link, &why), -ELOOP);
	assert_string_equal(why, "is a symbolic link");

	/* Not a directory. */
	f = fopen(file, "we");
	assert_non_null(f);
	(void)fclose(f);
	assert_int_equal(prepare(file, &why), -ENOTDIR);

	if (geteuid() != 0)
		return;
	/* Another user's directory, and a parent of another user's. */
	assert_int_equal(mkdir(theirs, 0700), 0);
	assert_int_equal(chown(theirs, 65534, 65534), 0);
	assert_int_equal(prepare(theirs, &why), -EPERM);
	assert_string_equal(why, "belongs to another user");
	assert_int_equal(mkdir(their_parent, 0755), 0);
	assert_int_equal(chown(their_parent, 65533, 65533), 0);
	assert_int_equal(prepare(tp_state, &why), -EACCES);
	assert_string_equal(why, "belongs to another user");
}

static int setup(void **state)
{
	if (!mkdtemp(base) || chmod(base, 0755) < 0)
		return -1;
	return 0;
}

static int cleanup(void **state)
{
	static const char *const names[] = {
		"open/s", "open", "sticky/s", "sticky", "mine", "link", "file",
		"theirs", "tp/s", "tp",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char *p = at(names[i]);

		if (unlink(p) < 0)
			(void)rmdir(p);
		free(p);
	}
	(void)rmdir(base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rules, setup, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
