/* util/aws-config: the adfs-credd block in the AWS config file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/aws-config.h"
#include "util/macro.h"

static const char *const roles[] = { "dev", "prod" };
static const struct aws_config_block blk = {
	.roles = roles,
	.n_roles = 2,
	.region = "eu-west-1",
};

#define BLOCK_LF                                                             \
	AWS_CONFIG_BEGIN " (adfs-credctl aws-config --write keeps this "    \
			 "block; edits inside it are replaced)\n"           \
	"[profile dev]\n"                                                    \
	"credential_process = adfs-credctl credential-process dev\n"         \
	"region = eu-west-1\n"                                               \
	"\n"                                                                 \
	"[profile prod]\n"                                                   \
	"credential_process = adfs-credctl credential-process prod\n"        \
	"region = eu-west-1\n" AWS_CONFIG_END "\n"

/* Updates text with b; checks the result is want, and that a second
 * update of the result changes nothing (idempotence). */
static void check_update(const struct aws_config_block *b, const char *text,
			 const char *want)
{
	struct aws_config_error err = { 0 };
	_cleanup_free_ char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	assert_int_equal(aws_config_update(text, text ? strlen(text) : 0, b,
					   &out, &len, &err),
			 0);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, want);
	assert_int_equal(aws_config_update(out, len, b, &again, &len2, &err), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, out, len);
}

/* Expects a refusal r at line. */
static void check_refused(const char *text, int r, unsigned line,
			  const char *words)
{
	struct aws_config_error err = { 0 };
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(aws_config_update(text, strlen(text), &blk, &out, &len,
					   &err),
			 r);
	assert_null(out);
	assert_int_equal(err.line, line);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_render(void **state)
{
	static const char *const odd[] = { "a.b@c+d=e-f_G9" };
	const struct aws_config_block b = {
		.roles = odd,
		.n_roles = 1,
		.prefix = "adfs-",
		.config_path = "/home/al ice/it's/c.yaml",
	};
	struct aws_config_error err = { 0 };
	_cleanup_free_ char *out = NULL, *crlf = NULL;

	assert_int_equal(aws_config_render(&blk, "\n", &out, &err), 0);
	assert_string_equal(out, BLOCK_LF);
	free(TAKE_PTR(out));
	/* The path as one shell word: botocore (shlex) and the Go and JS
	 * SDKs (sh -c) read 'it'\''s' alike. No region: no line. */
	assert_int_equal(aws_config_render(&b, "\r\n", &crlf, &err), 0);
	assert_non_null(strstr(crlf, "\r\n[profile adfs-a.b@c+d=e-f_G9]\r\n"
				     "credential_process = adfs-credctl "
				     "--config '/home/al ice/it'\\''s/c.yaml' "
				     "credential-process a.b@c+d=e-f_G9\r\n" AWS_CONFIG_END
				     "\r\n"));
	assert_null(strstr(crlf, "region"));
}

static void test_render_refuses(void **state)
{
	static const char *const dash[] = { "-x" };
	static const char *const space[] = { "a b" };
	struct aws_config_block b = blk;
	struct aws_config_error err = { 0 };
	char *out = NULL;

	assert_true(aws_config_prefix_ok(""));
	assert_true(aws_config_prefix_ok("adfs-"));
	assert_false(aws_config_prefix_ok("a b"));
	assert_false(aws_config_prefix_ok("a]"));
	b.prefix = "x]";
	assert_int_equal(aws_config_render(&b, "\n", &out, &err), -EINVAL);
	b = blk;
	b.roles = dash;
	b.n_roles = 1;
	assert_int_equal(aws_config_render(&b, "\n", &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'-x'"));
	b.roles = space;
	assert_int_equal(aws_config_render(&b, "\n", &out, &err), -EINVAL);
	b = blk;
	b.config_path = "/tmp/a\nregion = x";
	assert_int_equal(aws_config_render(&b, "\n", &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "control character"));
	assert_null(out);
}

static void test_no_file_and_empty(void **state)
{
	/* No file (NULL) and an empty one: the block alone. */
	check_update(&blk, NULL, BLOCK_LF);
	check_update(&blk, "", BLOCK_LF);
}

static void test_absent_appends(void **state)
{
	/* One blank line between the user's text and the block. */
	check_update(&blk, "[default]\nregion = us-east-1\n",
		     "[default]\nregion = us-east-1\n\n" BLOCK_LF);
	/* Already a blank line at the end: no second one. */
	check_update(&blk, "[default]\nregion = us-east-1\n\n",
		     "[default]\nregion = us-east-1\n\n" BLOCK_LF);
	/* No final newline: the last line is ended, then the blank one. */
	check_update(&blk, "[default]\nregion = us-east-1",
		     "[default]\nregion = us-east-1\n\n" BLOCK_LF);
	/* Only comments: no section is needed before the block. */
	check_update(&blk, "# mine\n", "# mine\n\n" BLOCK_LF);
}

static void test_present_replaced(void **state)
{
	static const char before[] = "# top\n[default]\nregion = us-east-1\n\n";
	static const char after[] = "\n[profile mine] \n  ; note\nx = 1\n"
				    "s3 =\n  max_concurrent_requests = 2\n"
				    "y: 2";
	static const char old_block[] = AWS_CONFIG_BEGIN "\n[profile old]\n"
					"credential_process = stale\n"
					"garbage that is not INI\n"
					"[profile dev]\n" AWS_CONFIG_END
					" trailing words\n";
	char text[1024], want[2048];

	/* In the middle: replaced in place, the tail kept without its
	 * final newline; what was inside (not INI, even) is not read. */
	(void)snprintf(text, sizeof(text), "%s%s%s", before, old_block, after);
	(void)snprintf(want, sizeof(want), "%s%s%s", before, BLOCK_LF, after);
	check_update(&blk, text, want);
	/* At the start of the file. */
	(void)snprintf(text, sizeof(text), "%s%s", old_block, after);
	(void)snprintf(want, sizeof(want), "%s%s", BLOCK_LF, after);
	check_update(&blk, text, want);
	/* At the end, its end marker with no newline. */
	(void)snprintf(text, sizeof(text), "%s%.*s", before,
		       (int)strlen(old_block) - 1, old_block);
	(void)snprintf(want, sizeof(want), "%s%s", before, BLOCK_LF);
	check_update(&blk, text, want);
	/* The whole file. */
	check_update(&blk, old_block, BLOCK_LF);
}

static void test_crlf(void **state)
{
	static const char text[] = "[default]\r\nregion = us-east-1\r\n";
	struct aws_config_error err = { 0 };
	_cleanup_free_ char *out = NULL, *block = NULL, *want = NULL;
	size_t len = 0;

	/* The block takes the file's line ends; the user's bytes stay. */
	assert_int_equal(aws_config_render(&blk, "\r\n", &block, &err), 0);
	assert_int_equal(asprintf(&want, "%s\r\n%s", text, block) > 0, 1);
	check_update(&blk, text, want);
	/* A CRLF block in the middle of a CRLF file is replaced in place. */
	free(TAKE_PTR(want));
	assert_int_equal(asprintf(&want, "[default]\r\n%s[profile z]\r\nk = v",
				  block) > 0,
			 1);
	check_update(&blk,
		     "[default]\r\n" AWS_CONFIG_BEGIN "\r\n" AWS_CONFIG_END
		     "\r\n[profile z]\r\nk = v",
		     want);
	assert_int_equal(aws_config_update(text, strlen(text), &blk, &out, &len,
					   &err),
			 0);
	assert_memory_equal(out, text, strlen(text));
	/* One line ending in \r and no \n (found by fuzz-aws-config): the
	 * line end added makes it CRLF, so the block is CRLF too, or the
	 * next run would rewrite it. */
	free(TAKE_PTR(want));
	assert_int_equal(asprintf(&want, "\r\r\n%s", block) > 0, 1);
	check_update(&blk, "\r", want);
}

static void test_prefix(void **state)
{
	struct aws_config_block b = blk;

	/* The user's [profile dev] is no conflict for adfs-dev. */
	b.prefix = "adfs-";
	b.region = NULL;
	check_update(&b, "[profile dev]\nregion = x\n",
		     "[profile dev]\nregion = x\n\n" AWS_CONFIG_BEGIN
		     " (adfs-credctl aws-config --write keeps this block; "
		     "edits inside it are replaced)\n"
		     "[profile adfs-dev]\n"
		     "credential_process = adfs-credctl credential-process dev\n"
		     "\n"
		     "[profile adfs-prod]\n"
		     "credential_process = adfs-credctl credential-process prod\n"
		     AWS_CONFIG_END "\n");
}

static void test_refusals(void **state)
{
	check_refused("[default]\n" AWS_CONFIG_BEGIN "\n[profile dev]\n",
		      -EBADMSG, 2, "has no '" AWS_CONFIG_END "' line");
	check_refused(AWS_CONFIG_BEGIN "\n" AWS_CONFIG_END "\n[a]\n"
		      AWS_CONFIG_BEGIN "\n" AWS_CONFIG_END "\n",
		      -EBADMSG, 4, "second adfs-credd block");
	check_refused(AWS_CONFIG_BEGIN "\n" AWS_CONFIG_BEGIN "\n"
		      AWS_CONFIG_END "\n",
		      -EBADMSG, 2, "second adfs-credd block");
	check_refused("[a]\n" AWS_CONFIG_END "\n", -EBADMSG, 2,
		      "end marker with no");
	check_refused(AWS_CONFIG_BEGIN "\n" AWS_CONFIG_END "\n"
		      AWS_CONFIG_END "\n",
		      -EBADMSG, 3, "end marker with no");
	check_refused("[default]\nregion = x\njust words\n", -EBADMSG, 3,
		      "not a line of an INI file");
	check_refused("[default]\n= x\n", -EBADMSG, 2, "not a line of an INI");
	check_refused("[default\nx = 1\n", -EBADMSG, 1, "section header");
	check_refused("[default] x\n", -EBADMSG, 1, "section header");
	check_refused("x = 1\n[default]\n", -EBADMSG, 1, "before any [section]");
	check_refused(AWS_CONFIG_BEGIN "\n" AWS_CONFIG_END "\nx = 1\n",
		      -EBADMSG, 3, "right after the adfs-credd block");
	check_refused("[default]\n" AWS_CONFIG_BEGIN "\n" AWS_CONFIG_END
		      "\n\n   indented = 1\n",
		      -EBADMSG, 5, "right after the adfs-credd block");
	/* A profile the block defines, however botocore would spell it. */
	check_refused("[default]\n[profile prod]\n", -EEXIST, 2,
		      "profile 'prod' is defined here");
	check_refused("[profile  \"dev\" ]\n", -EEXIST, 1, "--profile-prefix");
	check_refused("[profile\tdev]\n", -EEXIST, 1, "'dev'");
}

static void test_refusals_raw(void **state)
{
	static const char nul[] = "[default]\nx = 1\0\n";
	static const char *const def[] = { "default" };
	struct aws_config_block b = blk;
	struct aws_config_error err = { 0 };
	char *out = NULL, *big;
	size_t len = 0;

	assert_int_equal(aws_config_update(nul, sizeof(nul) - 1, &blk, &out,
					   &len, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "NUL"));
	big = calloc(1, AWS_CONFIG_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, '#', AWS_CONFIG_MAX_SIZE + 1);
	assert_int_equal(aws_config_update(big, AWS_CONFIG_MAX_SIZE + 1, &blk,
					   &out, &len, &err),
			 -EFBIG);
	free(big);
	/* A role named default would be [profile default]: [default]. */
	b.roles = def;
	b.n_roles = 1;
	assert_int_equal(aws_config_update("[default]\n", 10, &b, &out, &len,
					   &err),
			 -EEXIST);
	assert_null(out);
	/* Not profiles: [sso-session dev], [dev], [services prod]. */
	check_update(&blk, "[sso-session dev]\n[dev]\n[services prod]\n",
		     "[sso-session dev]\n[dev]\n[services prod]\n\n" BLOCK_LF);
}

static void check_diff(const char *a, const char *b, const char *want)
{
	_cleanup_free_ char *out = NULL;

	assert_int_equal(aws_config_diff(a, strlen(a), b, strlen(b), "OLD",
					 "NEW", &out),
			 0);
	assert_string_equal(out, want);
}

static void test_diff(void **state)
{
	check_diff("a\nb\n", "a\nb\n", "");
	check_diff("", "x\ny\n", "--- OLD\n+++ NEW\n@@ -0,0 +1,2 @@\n+x\n+y\n");
	check_diff("1\n2\n3\n4\n5\nold\n6\n7\n8\n9\n",
		   "1\n2\n3\n4\n5\nnew\nnew2\n6\n7\n8\n9\n",
		   "--- OLD\n+++ NEW\n@@ -3,7 +3,8 @@\n 3\n 4\n 5\n-old\n"
		   "+new\n+new2\n 6\n 7\n 8\n");
	check_diff("a\nb", "a\nb\n\nc\n",
		   "--- OLD\n+++ NEW\n@@ -1,2 +1,4 @@\n a\n-b\n"
		   "\\ No newline at end of file\n+b\n+\n+c\n");
	check_diff("x\n", "y\n", "--- OLD\n+++ NEW\n@@ -1 +1 @@\n-x\n+y\n");
	check_diff("k\nx\n", "k\n", "--- OLD\n+++ NEW\n@@ -1,2 +1 @@\n k\n-x\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_refuses),
		cmocka_unit_test(test_no_file_and_empty),
		cmocka_unit_test(test_absent_appends),
		cmocka_unit_test(test_present_replaced),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusals_raw),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
