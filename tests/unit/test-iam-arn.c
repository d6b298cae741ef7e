/* util/iam-arn: IAM's naming rules, applied to what ADFS offers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idp/saml.h"
#include "util/iam-arn.h"
#include "util/macro.h"

#define PROV "arn:aws:iam::123456789012:saml-provider/ADFS"

static void test_role_arns(void **state)
{
	static const char *const good[] = {
		"arn:aws:iam::123456789012:role/ADFS-Dev",
		"arn:aws:iam::123456789012:role/a_b+c=d,e.f@g-h",
		"arn:aws:iam::123456789012:role/service-role/x+=",
		"arn:aws-us-gov:iam::123456789012:role/path/to/R",
		"arn:aws-cn:iam::123456789012:role/p,a!t~h/R",
		/* 64 characters */
		"arn:aws:iam::123456789012:role/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char *const bad[] = {
		"arn:aws:iam::123456789012:role/$(touch${IFS}pwned)",
		"arn:aws:iam::123456789012:role/x;touch${IFS}pwned",
		"arn:aws:iam::123456789012:role/a'b",
		"arn:aws:iam::123456789012:role/a\"b",
		"arn:aws:iam::123456789012:role/a`id`",
		"arn:aws:iam::123456789012:role/a b",
		"arn:aws:iam::123456789012:role/a\x1b[31mb",
		"arn:aws:iam::123456789012:role/a\nb",
		"arn:aws:iam::123456789012:role/caf\xc3\xa9",
		"arn:aws:iam::123456789012:role/p\x7fth/R",
		"arn:aws:iam::123456789012:role/p th/R",
		"arn:aws:iam::123456789012:role/",
		"arn:aws:iam::123456789012:role",
		"arn:aws:iam::12345678901:role/R",      /* 11 digits */
		"arn:aws:iam::1234567890123:role/R",    /* 13 digits */
		"arn:aws:iam::12345678901x:role/R",
		"arn:x:iam::123456789012:role/R",       /* partition */
		"arn:aws$(x):iam::123456789012:role/R",
		"arn:aws:sts::123456789012:role/R",
		"arn:aws:iam::123456789012:user/R",
		/* 65 characters */
		"arn:aws:iam::123456789012:role/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		NULL,
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		if (iam_arn_check_role(good[i]))
			fail_msg("'%s' refused: %s", good[i],
				 iam_arn_check_role(good[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (!iam_arn_check_role(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
}

static void test_paths(void **state)
{
	char path[600];

	assert_null(iam_arn_check_path("/", 1));
	assert_null(iam_arn_check_path("/a/b/", 5));
	assert_non_null(iam_arn_check_path("", 0));
	assert_non_null(iam_arn_check_path("a/", 2));
	assert_non_null(iam_arn_check_path("/a", 2));
	assert_non_null(iam_arn_check_path("/a b/", 5));
	/* "/" PATH "/" with PATH at least one character. */
	assert_non_null(iam_arn_check_path("//", 2));
	/* 512 characters, then 513 */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[511] = '/';
	assert_null(iam_arn_check_path(path, 512));
	path[511] = 'p';
	path[512] = '/';
	assert_non_null(iam_arn_check_path(path, 513));
}

static void test_role_names(void **state)
{
	assert_null(iam_arn_check_role_name("ADFS-Dev", 8));
	assert_null(iam_arn_check_role_name("a,b", 3));
	assert_non_null(iam_arn_check_role_name("", 0));
	assert_non_null(iam_arn_check_role_name("a/b", 3));
	assert_non_null(iam_arn_check_role_name("a$b", 3));
}

static void test_providers(void **state)
{
	assert_null(iam_arn_check_provider(PROV));
	assert_null(iam_arn_check_provider(
		"arn:aws-us-gov:iam::123456789012:saml-provider/a.b_c-d"));
	assert_non_null(iam_arn_check_provider(
		"arn:aws:iam::123456789012:saml-provider/a;b"));
	assert_non_null(iam_arn_check_provider(
		"arn:aws:iam::123456789012:saml-provider/"));
	assert_non_null(iam_arn_check_provider(
		"arn:aws:iam::123:saml-provider/ADFS"));
	assert_non_null(iam_arn_check_provider(NULL));
}

/* saml_parse refuses an assertion offering a role IAM would not accept,
 * with its own error: nothing of it becomes a role. */
static void test_assertion_refused(void **state)
{
	static const char *const tmpl =
		"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
		"protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
		"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:"
		"SAML:2.0:status:Success\"/></samlp:Status><saml:Assertion>"
		"<saml:AttributeStatement><saml:Attribute Name=\"https://aws."
		"amazon.com/SAML/Attributes/Role\"><saml:AttributeValue>%s,"
		PROV "</saml:AttributeValue></saml:Attribute>"
		"</saml:AttributeStatement></saml:Assertion></samlp:Response>";
	static const struct {
		const char *role;
		int r;
	} cases[] = {
		{ "arn:aws:iam::123456789012:role/ADFS-Dev", 0 },
		{ "arn:aws:iam::123456789012:role/x;touch${IFS}pwned", -EILSEQ },
		{ "arn:aws:iam::123456789012:role/$(id&gt;pwned)", -EILSEQ },
		{ "arn:aws:iam::1234:role/R", -EILSEQ },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct saml_info *s = NULL;
		char xml[2048];
		int n = snprintf(xml, sizeof(xml), tmpl, cases[i].role);
		int r;

		assert_true(n > 0 && (size_t)n < sizeof(xml));
		r = saml_parse(xml, (size_t)n, &s);
		if (r != cases[i].r)
			fail_msg("'%s': r=%d, %d expected", cases[i].role, r,
				 cases[i].r);
		if (r == 0)
			assert_int_equal(s->n_roles, 1);
		else
			assert_null(s);
		saml_info_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_arns),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_providers),
		cmocka_unit_test(test_assertion_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
