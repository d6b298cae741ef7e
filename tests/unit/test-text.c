/* util/text: remote text escaped for terminals, quoted for shells. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/text.h"

static void test_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "plain text", "plain text" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "a\x1b]0;title\x07z", "a\\x1b]0;title\\x07z" },
		{ "line\nforged", "line\\x0aforged" },
		{ "cr\rtab\tdel\x7f", "cr\\x0dtab\\x09del\\x7f" },
		/* C1 CSI in UTF-8, and a lone 8-bit CSI byte */
		{ "a\xc2\x9b" "31m", "a\\u009b31m" },
		{ "a\x9b" "31m", "a\\x9b31m" },
		/* not UTF-8: overlong, truncated, surrogate */
		{ "\xc0\x8a", "\\xc0\\x8a" },
		{ "\xe2\x82", "\\xe2\\x82" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
		/* a backslash is text: DOMAIN\user stays readable */
		{ "EXAMPLE\\alice", "EXAMPLE\\alice" },
	};

	/* The bidirectional overrides RLO and LRI, built here: as literals
	 * they would reorder this very file in an editor. */
	static const char rlo[] = { 'x', (char)0xe2, (char)0x80, (char)0xae,
				    'y', 0 };
	static const char lri[] = { 'x', (char)0xe2, (char)0x81, (char)0xa6,
				    'y', 0 };
	char *b;

	b = text_escape(rlo);
	assert_string_equal(b, "x\\u202ey");
	free(b);
	b = text_escape(lri);
	assert_string_equal(b, "x\\u2066y");
	free(b);

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *e = text_escape(cases[i].in);

		assert_non_null(e);
		if (!streq(e, cases[i].out))
			fail_msg("case %zu: '%s', '%s' expected", i, e,
				 cases[i].out);
		free(e);
	}
	assert_null(text_escape(NULL));
}

/* What sh makes of "printf %s WORD": the word back, and nothing run. */
static void sh_roundtrip(const char *s)
{
	char *q = text_shell_quote(s), *cmd = NULL, got[512];
	FILE *f;
	size_t n;

	assert_non_null(q);
	assert_true(asprintf(&cmd, "cd /tmp && printf %%s %s", q) > 0);
	/* sh on purpose: what it makes of the word is the test. */
	f = popen(cmd, "r"); /* NOLINT(cert-env33-c) */
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	assert_int_equal(pclose(f), 0);
	if (!streq(got, s))
		fail_msg("'%s' quoted as %s came back as '%s'", s, q, got);
	free(cmd);
	free(q);
}

static void test_shell_quote(void **state)
{
	static const char *const words[] = {
		"http://127.0.0.1:9911/role/ADFS-Dev",
		"abc-_DEF0123+/=",
		"",
		"a b",
		"$(touch${IFS}/tmp/adfs-credd-text-pwned)",
		"x;touch /tmp/adfs-credd-text-pwned;",
		"`touch /tmp/adfs-credd-text-pwned`",
		"it's",
		"''",
		"a\nb",
		"\\",
		"*",
	};
	char *q;

	q = text_shell_quote("http://127.0.0.1:9911/role/ADFS-Dev");
	assert_string_equal(q, "http://127.0.0.1:9911/role/ADFS-Dev");
	free(q);
	q = text_shell_quote("it's");
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = text_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
	assert_null(text_shell_quote(NULL));

	(void)unlink("/tmp/adfs-credd-text-pwned");
	for (size_t i = 0; i < ELEMENTSOF(words); i++)
		sh_roundtrip(words[i]);
	assert_int_equal(access("/tmp/adfs-credd-text-pwned", F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_shell_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
