/* Unit tests for sts/sts-xml.c: AssumeRoleWithSAML, ErrorResponse and
 * IAM GetRole replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts/sts-xml.h"
#include "util/buf.h"

#include "test-util.h"

/* A copy of fixture name with the first occurrence of from replaced by
 * to (from must occur). */
static char *fixture_edit(const char *name, const char *from, const char *to)
{
	struct buf b;
	char *p, *out = NULL;

	test_read_fixture(name, &b);
	p = strstr(b.data, from);
	if (!p)
		fail_msg("'%s' not in %s", from, name);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(p - b.data), b.data, to,
			     p + strlen(from)) > 0);
	buf_clear(&b);
	return out;
}

/* Removes the element <tag>...</tag> (first occurrence). */
static char *fixture_drop(const char *name, const char *tag)
{
	_cleanup_free_ char *open = NULL, *close = NULL;
	struct buf b;
	char *s, *e, *out = NULL;

	assert_true(asprintf(&open, "<%s>", tag) > 0);
	assert_true(asprintf(&close, "</%s>", tag) > 0);
	test_read_fixture(name, &b);
	s = strstr(b.data, open);
	assert_non_null(s);
	e = strstr(s, close);
	assert_non_null(e);
	e += strlen(close);
	assert_true(asprintf(&out, "%.*s%s", (int)(s - b.data), b.data, e) >
		    0);
	buf_clear(&b);
	return out;
}

static void test_assume_ok(void **state)
{
	_cleanup_(sts_creds_freep) struct sts_creds *c = NULL;
	struct buf b;

	test_read_fixture("sts-assume-ok.xml", &b);
	assert_int_equal(sts_xml_parse_assume(b.data, b.len, &c), 0);
	assert_string_equal(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
	assert_string_equal(c->secret_access_key->data,
			    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
	assert_int_equal(c->secret_access_key->len, 41);
	/* The token is indented over several lines in the fixture. */
	assert_string_equal(
		c->session_token->data,
		"IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletokenexampletokenAiB+EXAMPLE/TOKEN+VALUE==");
	assert_int_equal(c->session_token->len,
			 strlen(c->session_token->data));
	assert_int_equal(c->expiration, 1715681555000000ULL);
	assert_string_equal(
		c->assumed_role_arn,
		"arn:aws:sts::123456789012:assumed-role/ADFS-Dev/jdoe@example.com");
	assert_string_equal(c->assumed_role_id,
			    "AROAJ2WR3CSGXQ5EXAMPLE:jdoe@example.com");
	assert_string_equal(c->account_id, "123456789012");
	buf_clear(&b);
}

static void test_assume_fractional(void **state)
{
	_cleanup_(sts_creds_freep) struct sts_creds *c = NULL;
	struct buf b;

	test_read_fixture("sts-assume-frac.xml", &b);
	assert_int_equal(sts_xml_parse_assume(b.data, b.len, &c), 0);
	assert_int_equal(c->expiration, 1572640007528000ULL);
	assert_string_equal(c->access_key_id, "ASIA3XFRBF535EXAMPLE");
	/* &amp; decoded */
	assert_string_equal(c->session_token->data,
			    "FQoGZXIvYXdzEExampleSessionToken&Escaped");
	assert_string_equal(c->account_id, "098765432109");
	assert_string_equal(c->assumed_role_id, "AROA3XFRBF535EXAMPLE:jdoe");
	buf_clear(&b);
}

static void test_assume_namespace(void **state)
{
	_cleanup_free_ char *none = NULL, *foreign = NULL;
	struct sts_creds *c = NULL;

	/* A reply without a namespace is tolerated. */
	none = fixture_edit("sts-assume-ok.xml",
			    " xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"",
			    "");
	assert_int_equal(sts_xml_parse_assume(none, strlen(none), &c), 0);
	assert_string_equal(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
	assert_string_equal(c->account_id, "123456789012");
	c = sts_creds_free(c);

	/* One in another service's namespace is not. */
	foreign = fixture_edit("sts-assume-ok.xml",
			       "https://sts.amazonaws.com/doc/2011-06-15/",
			       "https://iam.amazonaws.com/doc/2010-05-08/");
	assert_int_equal(sts_xml_parse_assume(foreign, strlen(foreign), &c),
			 -EBADMSG);
	assert_null(c);
}

static void test_assume_missing_fields(void **state)
{
	static const char *const required[] = {
		"AccessKeyId", "SecretAccessKey", "SessionToken",
		"Expiration",  "Arn",             "Credentials",
		"AssumedRoleUser", "AssumeRoleWithSAMLResult",
	};

	for (size_t i = 0; i < ELEMENTSOF(required); i++) {
		_cleanup_free_ char *x =
			fixture_drop("sts-assume-ok.xml", required[i]);
		struct sts_creds *c = NULL;

		if (sts_xml_parse_assume(x, strlen(x), &c) != -EBADMSG)
			fail_msg("without %s: not -EBADMSG", required[i]);
		assert_null(c);
	}
}

static void test_assume_optional_role_id(void **state)
{
	_cleanup_free_ char *x =
		fixture_drop("sts-assume-ok.xml", "AssumedRoleId");
	_cleanup_(sts_creds_freep) struct sts_creds *c = NULL;

	assert_int_equal(sts_xml_parse_assume(x, strlen(x), &c), 0);
	assert_null(c->assumed_role_id);
	assert_string_equal(c->account_id, "123456789012");
}

static void test_assume_bad_values(void **state)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "<AccessKeyId>ASIAIOSFODNN7EXAMPLE<", "<AccessKeyId> <" },
		{ "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY<",
		  "<SecretAccessKey><" },
		{ "2024-05-14T10:12:35Z", "2024-05-14T10:12:35" },
		{ "2024-05-14T10:12:35Z", "2024-05-14 10:12:35Z" },
		{ "2024-05-14T10:12:35Z", "tomorrow" },
		{ "arn:aws:sts::123456789012:", "arn:aws:sts::12345:" },
		{ "arn:aws:sts::123456789012:", "arn:aws:sts::12345678901x:" },
		{ "arn:aws:sts::123456789012:assumed-role", "ASIA" },
		{ "</Credentials>", "</Credential>" }, /* not well-formed */
	};

	for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
		_cleanup_free_ char *x = fixture_edit(
			"sts-assume-ok.xml", edits[i].from, edits[i].to);
		struct sts_creds *c = NULL;

		if (sts_xml_parse_assume(x, strlen(x), &c) != -EBADMSG)
			fail_msg("edit %zu not -EBADMSG", i);
		assert_null(c);
	}
}

static void test_assume_given_error(void **state)
{
	struct sts_creds *c = NULL;
	struct buf b;

	test_read_fixture("sts-error-expired.xml", &b);
	assert_int_equal(sts_xml_parse_assume(b.data, b.len, &c), -EBADMSG);
	assert_null(c);
	buf_clear(&b);
}

static void check_error(const char *file, const char *type, const char *code,
			const char *message, const char *request_id)
{
	_cleanup_(sts_error_freep) struct sts_error *e = NULL;
	struct buf b;

	test_read_fixture(file, &b);
	assert_int_equal(sts_xml_parse_error(b.data, b.len, &e), 0);
	assert_string_equal(e->type, type);
	assert_string_equal(e->code, code);
	assert_string_equal(e->message, message);
	assert_string_equal(e->request_id, request_id);
	buf_clear(&b);
}

static void test_error_replies(void **state)
{
	check_error("sts-error-validation.xml", "Sender", "ValidationError",
		    "The requested DurationSeconds exceeds the "
		    "MaxSessionDuration set for this role.",
		    "0f8a5a3c-2b7e-4a56-8f0d-3c1e9b7d2a44");
	check_error("sts-error-expired.xml", "Sender", "ExpiredTokenException",
		    "Token must be redeemed within 5 minutes of issuance",
		    "5d4e1c2b-8a9f-4b3e-a7d6-0c1b2a3d4e5f");
	check_error("sts-error-access-denied.xml", "Sender", "AccessDenied",
		    "Not authorized to perform sts:AssumeRoleWithSAML",
		    "9b2f6e1a-4c3d-4e8f-b1a0-7d6c5b4a3f21");
	/* RequestId inside Error */
	check_error("sts-error-throttling.xml", "Sender", "Throttling",
		    "Rate exceeded", "e3f1b2c4-5d6a-4b7c-8d9e-0f1a2b3c4d5e");
	/* IAM namespace */
	check_error("iam-error-access-denied.xml", "Sender", "AccessDenied",
		    "User: arn:aws:sts::123456789012:assumed-role/ADFS-Dev/"
		    "jdoe@example.com is not authorized to perform: "
		    "iam:GetRole on resource: role ADFS-Dev because no "
		    "identity-based policy allows the iam:GetRole action",
		    "1c8e2f7a-3b4d-4c5e-9f60-a7b8c9d0e1f2");
}

static void test_error_optional_parts(void **state)
{
	_cleanup_(sts_error_freep) struct sts_error *e = NULL;
	const char *minimal =
		"<ErrorResponse><Error><Code>InternalFailure</Code></Error>"
		"</ErrorResponse>";

	assert_int_equal(sts_xml_parse_error(minimal, strlen(minimal), &e),
			 0);
	assert_null(e->type);
	assert_string_equal(e->code, "InternalFailure");
	assert_string_equal(e->message, "");
	assert_null(e->request_id);
}

static void test_error_not_an_error(void **state)
{
	static const char *const docs[] = {
		"<ErrorResponse><Error><Message>x</Message></Error></ErrorResponse>",
		"<ErrorResponse><Error><Code> </Code></Error></ErrorResponse>",
		"<ErrorResponse/>",
		("<ErrorResponse xmlns=\"urn:other\"><Error><Code>X</Code>"
		 "</Error></ErrorResponse>"),
		"<Response><Errors><Error><Code>X</Code></Error></Errors></Response>",
		"<html><body>502 Bad Gateway</body></html>",
		"502 Bad Gateway",
	};
	struct sts_error *e = NULL;
	struct buf b;

	for (size_t i = 0; i < ELEMENTSOF(docs); i++)
		if (sts_xml_parse_error(docs[i], strlen(docs[i]), &e) !=
		    -EBADMSG)
			fail_msg("doc %zu not -EBADMSG", i);
	test_read_fixture("sts-assume-ok.xml", &b);
	assert_int_equal(sts_xml_parse_error(b.data, b.len, &e), -EBADMSG);
	assert_null(e);
	buf_clear(&b);
}

static void test_get_role(void **state)
{
	static const struct {
		const char *to;
		int r;
		uint32_t v;
	} cases[] = {
		{ "43200", 0, 43200 },   { "3600", 0, 3600 },
		{ " 7200\n", 0, 7200 },  { "3599", -EBADMSG, 0 },
		{ "43201", -EBADMSG, 0 }, { "0", -EBADMSG, 0 },
		{ "-3600", -EBADMSG, 0 }, { "1h", -EBADMSG, 0 },
		{ "", -EBADMSG, 0 },
		{ "99999999999999999999999", -EBADMSG, 0 },
	};
	struct buf b;
	uint32_t v;

	test_read_fixture("iam-get-role.xml", &b);
	v = 1;
	assert_int_equal(sts_xml_parse_get_role(b.data, b.len, &v), 0);
	assert_int_equal(v, 43200);
	buf_clear(&b);

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *x = fixture_edit(
			"iam-get-role.xml",
			"<MaxSessionDuration>43200</MaxSessionDuration>", "");
		_cleanup_free_ char *y = NULL;
		char *p = strstr(x, "<RoleId>");

		assert_non_null(p);
		assert_true(asprintf(&y,
				     "%.*s<MaxSessionDuration>%s"
				     "</MaxSessionDuration>%s",
				     (int)(p - x), x, cases[i].to, p) > 0);
		v = 1;
		assert_int_equal(sts_xml_parse_get_role(y, strlen(y), &v),
				 cases[i].r);
		/* ret_* written only on success */
		assert_int_equal(v, cases[i].r == 0 ? cases[i].v : 1);
	}
}

static void test_get_role_failures(void **state)
{
	_cleanup_free_ char *missing = fixture_drop("iam-get-role.xml",
						    "MaxSessionDuration");
	_cleanup_free_ char *sts_ns = fixture_edit(
		"iam-get-role.xml", "https://iam.amazonaws.com/doc/2010-05-08/",
		"https://sts.amazonaws.com/doc/2011-06-15/");
	struct buf b;
	uint32_t v = 7;

	assert_int_equal(sts_xml_parse_get_role(missing, strlen(missing), &v),
			 -EBADMSG);
	assert_int_equal(sts_xml_parse_get_role(sts_ns, strlen(sts_ns), &v),
			 -EBADMSG);
	test_read_fixture("iam-error-access-denied.xml", &b);
	assert_int_equal(sts_xml_parse_get_role(b.data, b.len, &v), -EBADMSG);
	assert_int_equal(v, 7);
	buf_clear(&b);
}

static void test_hostile(void **state)
{
	static const char *const docs[] = {
		"<?xml version=\"1.0\"?><!DOCTYPE AssumeRoleWithSAMLResponse "
		"[<!ENTITY xxe SYSTEM \"file:///etc/shadow\">]>"
		"<AssumeRoleWithSAMLResponse><AssumeRoleWithSAMLResult>"
		"<Credentials><AccessKeyId>&xxe;</AccessKeyId>"
		"</Credentials></AssumeRoleWithSAMLResult>"
		"</AssumeRoleWithSAMLResponse>",
		"<!DOCTYPE ErrorResponse [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
		"<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
		"<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
		"<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">"
		"<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">]>"
		"<ErrorResponse><Error><Code>&g;</Code></Error></ErrorResponse>",
		"<ErrorResponse><Error><Code>X</Code></Error>",
		("<ErrorResponse><Error><Code>&undeclared;</Code></Error>"
		 "</ErrorResponse>"),
		"",
	};
	struct sts_creds *c = NULL;
	struct sts_error *e = NULL;
	uint32_t v = 5;

	for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
		size_t l = strlen(docs[i]);

		assert_int_equal(sts_xml_parse_assume(docs[i], l, &c),
				 -EBADMSG);
		assert_int_equal(sts_xml_parse_error(docs[i], l, &e), -EBADMSG);
		assert_int_equal(sts_xml_parse_get_role(docs[i], l, &v),
				 -EBADMSG);
	}
	assert_null(c);
	assert_null(e);
	assert_int_equal(v, 5);
}

static void test_oversized(void **state)
{
	_cleanup_free_ char *big = NULL;
	struct sts_creds *c = NULL;
	struct sts_error *e = NULL;
	struct buf b;
	uint32_t v = 5;
	size_t n = STS_MAX_REPLY + 1;

	/* A valid reply padded with whitespace past the cap. */
	test_read_fixture("sts-assume-ok.xml", &b);
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, b.data, b.len);
	assert_int_equal(sts_xml_parse_assume(big, n, &c), -E2BIG);
	assert_int_equal(sts_xml_parse_error(big, n, &e), -E2BIG);
	assert_int_equal(sts_xml_parse_get_role(big, n, &v), -E2BIG);
	/* ... and accepted just under it. */
	assert_int_equal(sts_xml_parse_assume(big, n - 1, &c), 0);
	assert_string_equal(c->access_key_id, "ASIAIOSFODNN7EXAMPLE");
	c = sts_creds_free(c);
	assert_null(e);
	buf_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assume_ok),
		cmocka_unit_test(test_assume_fractional),
		cmocka_unit_test(test_assume_namespace),
		cmocka_unit_test(test_assume_missing_fields),
		cmocka_unit_test(test_assume_optional_role_id),
		cmocka_unit_test(test_assume_bad_values),
		cmocka_unit_test(test_assume_given_error),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_error_optional_parts),
		cmocka_unit_test(test_error_not_an_error),
		cmocka_unit_test(test_get_role),
		cmocka_unit_test(test_get_role_failures),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_oversized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
