/* Unit tests for idp/saml.c and the XML hardening in util/xml.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "idp/saml.h"
#include "util/buf.h"
#include "util/encode.h"
#include "util/xml.h"

#include "test-util.h"

#define ROLE_ATTR                                                            \
	"<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/Role\">"
#define DUR_ATTR                                                             \
	"<saml:Attribute "                                                   \
	"Name=\"https://aws.amazon.com/SAML/Attributes/SessionDuration\">"
#define PROV "arn:aws:iam::123456789012:saml-provider/ADFS"
#define ROLE_DEV "arn:aws:iam::123456789012:role/ADFS-Dev"

/* A samlp:Response around one assertion holding the given attribute
 * statement body; status is the top-level StatusCode value suffix. */
static char *make_response(const char *status, const char *attrs)
{
	char *s = NULL;
	int n;

	n = asprintf(
		&s,
		"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
		"xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
		"ID=\"_r\" Version=\"2.0\" IssueInstant=\"2024-05-14T09:12:33Z\">"
		"<samlp:Status><samlp:StatusCode "
		"Value=\"urn:oasis:names:tc:SAML:2.0:status:%s\"/></samlp:Status>"
		"<saml:Assertion ID=\"_a\" Version=\"2.0\" "
		"IssueInstant=\"2024-05-14T09:12:30Z\">"
		"<saml:Subject><saml:NameID>u</saml:NameID></saml:Subject>"
		"<saml:AttributeStatement>%s</saml:AttributeStatement>"
		"</saml:Assertion></samlp:Response>",
		status, attrs);
	assert_true(n > 0);
	return s;
}

static int parse_str(const char *s, struct saml_info **ret)
{
	return saml_parse(s, strlen(s), ret);
}

/* Parses a Response with one Role attribute holding value. */
static int parse_role_value(const char *value, struct saml_info **ret)
{
	_cleanup_free_ char *attrs = NULL, *doc = NULL;

	assert_true(asprintf(&attrs,
			     ROLE_ATTR "<saml:AttributeValue>%s"
				       "</saml:AttributeValue></saml:Attribute>",
			     value) > 0);
	doc = make_response("Success", attrs);
	return parse_str(doc, ret);
}

static void check_fixture_info(const struct saml_info *s)
{
	assert_int_equal(s->n_roles, 3);
	/* provider,role order */
	assert_string_equal(s->roles[0].role_arn,
			    "arn:aws:iam::123456789012:role/ADFS-Production");
	assert_string_equal(s->roles[0].principal_arn, PROV);
	/* role,provider order; its duplicate later is dropped */
	assert_string_equal(s->roles[1].role_arn, ROLE_DEV);
	assert_string_equal(s->roles[1].principal_arn, PROV);
	/* spaces around both halves trimmed */
	assert_string_equal(s->roles[2].role_arn,
			    "arn:aws:iam::210987654321:role/ADFS-ReadOnly");
	assert_string_equal(s->roles[2].principal_arn,
			    "arn:aws:iam::210987654321:saml-provider/ADFS");
	assert_string_equal(s->role_session_name, "jdoe@example.com");
	assert_string_equal(s->name_id, "EXAMPLE\\jdoe");
	assert_int_equal(s->session_duration, 28800);
	/* Response IssueInstant (.417), not the Assertion's (.401) */
	assert_int_equal(s->issue_instant, 1715677953417000ULL);
	/* SubjectConfirmationData 09:17:33.417 beats Conditions 10:12 */
	assert_int_equal(s->not_on_or_after, 1715678253417000ULL);
	assert_int_equal(s->session_not_on_or_after, 1715706753198000ULL);
	/* 2024-05-14T09:12:33.198Z: when the user authenticated. */
	assert_int_equal(s->authn_instant, 1715677953198000ULL);
}

static void test_response_fixture(void **state)
{
	_cleanup_(saml_info_freep) struct saml_info *s = NULL;
	struct buf b;

	test_read_fixture("saml-response.xml", &b);
	assert_int_equal(saml_parse(b.data, b.len, &s), 0);
	check_fixture_info(s);
	buf_clear(&b);
}

static void test_bare_assertion(void **state)
{
	_cleanup_(saml_info_freep) struct saml_info *s = NULL;
	struct buf b;

	test_read_fixture("saml-assertion.xml", &b);
	assert_int_equal(saml_parse(b.data, b.len, &s), 0);
	assert_int_equal(s->n_roles, 1);
	assert_string_equal(s->roles[0].role_arn, ROLE_DEV);
	assert_string_equal(s->roles[0].principal_arn, PROV);
	assert_null(s->role_session_name);
	assert_string_equal(s->name_id, "jdoe@example.com");
	/* 60 is outside 900..43200: treated as absent */
	assert_int_equal(s->session_duration, 0);
	assert_int_equal(s->issue_instant, 1715677953401000ULL);
	/* Conditions 09:15:00+00:00 is earlier than SCD 09:17:33Z */
	assert_int_equal(s->not_on_or_after, 1715678100000000ULL);
	assert_int_equal(s->session_not_on_or_after, 0);
	assert_int_equal(s->authn_instant, 0);
	buf_clear(&b);
}

static void test_base64_fixture(void **state)
{
	_cleanup_(saml_info_freep) struct saml_info *s = NULL;
	_cleanup_free_ char *enc = NULL, *wrapped = NULL;
	struct buf b;
	size_t n, w = 0;
	int elen;

	test_read_fixture("saml-response.xml", &b);
	n = (b.len + 2) / 3 * 4;
	enc = malloc(n + 1);
	assert_non_null(enc);
	elen = EVP_EncodeBlock((unsigned char *)enc,
			       (const unsigned char *)b.data, (int)b.len);
	assert_int_equal(elen, (int)n);

	/* Wrapped at 64 columns with CRLF, as some IdPs and tools do. */
	wrapped = malloc(n + (n / 64 + 2) * 2 + 1);
	assert_non_null(wrapped);
	for (size_t i = 0; i < n; i++) {
		wrapped[w++] = enc[i];
		if (i % 64 == 63) {
			wrapped[w++] = '\r';
			wrapped[w++] = '\n';
		}
	}
	wrapped[w++] = '\n';
	wrapped[w] = '\0';

	assert_int_equal(saml_parse_base64(wrapped, w, &s), 0);
	check_fixture_info(s);
	buf_clear(&b);
}

static void test_base64_decode(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: -EINVAL expected */
		size_t out_len;
	} cases[] = {
		{ "aGVsbG8=", "hello", 5 },
		{ "aGVsbG8", "hello", 5 }, /* padding left off */
		{ "aGVsbA==", "hell", 4 },
		{ "aGVsbA", "hell", 4 },
		{ "aGVs", "hel", 3 },
		{ " aGVs\n bG8=\r\n\t", "hello", 5 },
		{ "AAEC/w==", "\x00\x01\x02\xff", 4 },
		{ "+/+/", "\xfb\xff\xbf", 3 },
		{ "aGVsbG8=x", NULL, 0 },    /* data after padding */
		{ "aGV=bG8=", NULL, 0 },     /* padding in the middle */
		{ "aGVsbG8===", NULL, 0 },   /* three pad characters */
		{ "aGVs*G8=", NULL, 0 },     /* foreign character */
		{ "aGVs-G8_", NULL, 0 },     /* URL-safe alphabet */
		{ "a", NULL, 0 },            /* impossible length */
		{ "aGVsb", NULL, 0 },        /* 5 chars: impossible */
		{ "aGVsbG=", NULL, 0 },      /* 7 chars with one pad */
		{ "", NULL, 0 },
		{ " \n ", NULL, 0 },
		{ "====", NULL, 0 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(secret_freep) struct secret *s = NULL;
		int r = encode_base64_decode_secret(cases[i].in, strlen(cases[i].in),
					     &s);

		if (!cases[i].out) {
			if (r != -EINVAL)
				fail_msg("case %zu '%s': r=%d", i, cases[i].in,
					 r);
			assert_null(s);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu '%s': r=%d", i, cases[i].in, r);
		assert_int_equal(s->len, cases[i].out_len);
		assert_memory_equal(s->data, cases[i].out, cases[i].out_len);
		assert_int_equal(s->data[s->len], '\0');
	}
}

static void test_bad_base64(void **state)
{
	struct saml_info *s = NULL;
	const char *junk = "PHNhbWxwOlJlc3BvbnNl!!";

	assert_int_equal(saml_parse_base64(junk, strlen(junk), &s), -EINVAL);
	assert_null(s);
	/* Valid base64 of something that is not XML. */
	assert_int_equal(saml_parse_base64("aGVsbG8=", 8, &s), -EBADMSG);
	assert_null(s);
}

static void test_status_not_success(void **state)
{
	struct saml_info *s = NULL;
	_cleanup_free_ char *doc = NULL;
	struct buf b;

	test_read_fixture("saml-response-denied.xml", &b);
	assert_int_equal(saml_parse(b.data, b.len, &s), -EACCES);
	assert_null(s);
	buf_clear(&b);

	doc = make_response("AuthnFailed",
			    ROLE_ATTR "<saml:AttributeValue>" ROLE_DEV "," PROV
				      "</saml:AttributeValue></saml:Attribute>");
	assert_int_equal(parse_str(doc, &s), -EACCES);
	assert_null(s);
}

static void test_missing_status(void **state)
{
	struct saml_info *s = NULL;
	const char *doc =
		"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
		"xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
		"<saml:Assertion/></samlp:Response>";

	assert_int_equal(parse_str(doc, &s), -EBADMSG);
	assert_null(s);
}

static void test_encrypted_assertion(void **state)
{
	struct saml_info *s = NULL;
	const char *doc =
		"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
		"xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
		"<samlp:Status><samlp:StatusCode "
		"Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
		"</samlp:Status><saml:EncryptedAssertion>"
		"<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/>"
		"</saml:EncryptedAssertion></samlp:Response>";

	assert_int_equal(parse_str(doc, &s), -EOPNOTSUPP);
	assert_null(s);
}

static void test_not_saml(void **state)
{
	struct saml_info *s = NULL;
	/* Right local names, wrong namespace. */
	const char *wrong_ns =
		"<Response xmlns=\"urn:example\"><Assertion/></Response>";
	const char *no_ns = "<Assertion><AttributeStatement/></Assertion>";
	const char *html = "<html><body>Sign in</body></html>";

	assert_int_equal(parse_str(wrong_ns, &s), -EBADMSG);
	assert_int_equal(parse_str(no_ns, &s), -EBADMSG);
	assert_int_equal(parse_str(html, &s), -EBADMSG);
	assert_int_equal(saml_parse("", 0, &s), -EBADMSG);
	assert_null(s);
}

static void test_missing_role_attribute(void **state)
{
	_cleanup_free_ char *doc = NULL;
	struct saml_info *s = NULL;
	struct buf b;
	char *p;

	test_read_fixture("saml-response.xml", &b);
	p = strstr(b.data, "Attributes/Role\"");
	assert_non_null(p);
	memcpy(p, "Attributes/Rolx\"", 16);
	assert_int_equal(saml_parse(b.data, b.len, &s), -EBADMSG);
	assert_null(s);
	buf_clear(&b);

	/* A Role attribute without values is no better. */
	doc = make_response("Success", ROLE_ATTR "</saml:Attribute>");
	assert_int_equal(parse_str(doc, &s), -EBADMSG);
	assert_null(s);
}

static void test_malformed_roles(void **state)
{
	static const char *const bad[] = {
		ROLE_DEV,                             /* no provider */
		PROV,                                 /* no role */
		ROLE_DEV ",",                         /* empty half */
		"," PROV,
		ROLE_DEV "," ROLE_DEV,                /* two roles */
		PROV "," PROV,                        /* two providers */
		"foo,bar",
		"",
		"arn:aws:iam::123456789012:user/x," PROV, /* not a role */
		"arn:aws:iam::123456789012:role/A B," PROV, /* inner space */
		"arn:aws:iam::123:role/," PROV,       /* empty role name */
		/* three ARNs: the provider would have to hold a ',' */
		ROLE_DEV "," PROV ",arn:aws:iam::123456789012:role/B",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct saml_info *s = NULL;
		int r = parse_role_value(bad[i], &s);

		if (r != -EINVAL)
			fail_msg("'%s': r=%d", bad[i], r);
		assert_null(s);
	}
}

static void test_role_with_comma_in_path(void **state)
{
	static const char *const values[] = {
		PROV ",arn:aws:iam::123456789012:role/team,ops/Admin",
		"arn:aws:iam::123456789012:role/team,ops/Admin," PROV,
		"arn:aws:iam::123456789012:role/team,ops/Admin , " PROV,
	};

	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		_cleanup_(saml_info_freep) struct saml_info *s = NULL;

		assert_int_equal(parse_role_value(values[i], &s), 0);
		assert_int_equal(s->n_roles, 1);
		assert_string_equal(
			s->roles[0].role_arn,
			"arn:aws:iam::123456789012:role/team,ops/Admin");
		assert_string_equal(s->roles[0].principal_arn, PROV);
		assert_string_equal(s->name_id, "u");
		assert_int_equal(s->issue_instant, 1715677953000000ULL);
	}
}

static void test_role_cap(void **state)
{
	struct buf attrs;
	char v[256];

	for (unsigned n = SAML_MAX_ROLES; n <= SAML_MAX_ROLES + 1; n++) {
		_cleanup_(saml_info_freep) struct saml_info *s = NULL;
		_cleanup_free_ char *doc = NULL;

		buf_init(&attrs, 1024 * 1024);
		assert_int_equal(buf_append_str(&attrs, ROLE_ATTR), 0);
		for (unsigned i = 0; i < n; i++) {
			(void)snprintf(v, sizeof(v),
				       "<saml:AttributeValue>arn:aws:iam::"
				       "123456789012:role/R%u," PROV
				       "</saml:AttributeValue>",
				       i);
			assert_int_equal(buf_append_str(&attrs, v), 0);
			/* Duplicates never count against the cap. */
			assert_int_equal(buf_append_str(&attrs, v), 0);
		}
		assert_int_equal(buf_append_str(&attrs, "</saml:Attribute>"),
				 0);
		doc = make_response("Success", attrs.data);
		if (n <= SAML_MAX_ROLES) {
			assert_int_equal(parse_str(doc, &s), 0);
			assert_int_equal(s->n_roles, n);
			assert_string_equal(
				s->roles[n - 1].role_arn,
				"arn:aws:iam::123456789012:role/R255");
		} else {
			assert_int_equal(parse_str(doc, &s), -E2BIG);
			assert_null(s);
		}
		buf_clear(&attrs);
	}
}

static void test_session_duration(void **state)
{
	static const struct {
		const char *v;
		uint32_t want;
	} cases[] = {
		{ "900", 900 },     { "43200", 43200 }, { " 3600 ", 3600 },
		{ "899", 0 },       { "43201", 0 },     { "-3600", 0 },
		{ "3600s", 0 },     { "abc", 0 },       { "", 0 },
		{ "99999999999999999999", 0 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(saml_info_freep) struct saml_info *s = NULL;
		_cleanup_free_ char *attrs = NULL, *doc = NULL;

		assert_true(asprintf(&attrs,
				     ROLE_ATTR "<saml:AttributeValue>" ROLE_DEV
					       "," PROV
					       "</saml:AttributeValue></saml:Attribute>" DUR_ATTR
					       "<saml:AttributeValue>%s</saml:AttributeValue>"
					       "</saml:Attribute>",
				     cases[i].v) > 0);
		doc = make_response("Success", attrs);
		assert_int_equal(parse_str(doc, &s), 0);
		if (s->session_duration != cases[i].want)
			fail_msg("'%s': got %u", cases[i].v,
				 s->session_duration);
	}
}

static void test_bad_timestamp(void **state)
{
	struct saml_info *s = NULL;
	struct buf b;
	char *p;

	test_read_fixture("saml-response.xml", &b);
	p = strstr(b.data, "NotOnOrAfter=\"2024-05-14T09:17:33.417Z\"");
	assert_non_null(p);
	/* Drop the zone: parse_iso8601 rejects local times. */
	p[strlen("NotOnOrAfter=\"2024-05-14T09:17:33.417")] = ' ';
	assert_int_equal(saml_parse(b.data, b.len, &s), -EBADMSG);
	assert_null(s);
	buf_clear(&b);
}

static void test_truncated(void **state)
{
	struct saml_info *s = NULL;
	struct buf b;

	test_read_fixture("saml-response.xml", &b);
	assert_int_equal(saml_parse(b.data, b.len / 2, &s), -EBADMSG);
	assert_int_equal(saml_parse(b.data, b.len - 3, &s), -EBADMSG);
	assert_null(s);
	buf_clear(&b);
}

static void test_oversized(void **state)
{
	struct saml_info *s = NULL;
	_cleanup_free_ char *big = malloc(SAML_MAX_XML * 2);

	assert_non_null(big);
	memset(big, ' ', SAML_MAX_XML * 2);
	assert_int_equal(saml_parse(big, SAML_MAX_XML + 1, &s), -E2BIG);
	memset(big, 'A', SAML_MAX_XML * 2);
	assert_int_equal(saml_parse_base64(big, SAML_MAX_XML * 2, &s),
			 -E2BIG);
	assert_null(s);
}

static void test_xxe(void **state)
{
	struct saml_info *s = NULL;
	static const char *const docs[] = {
		/* classic file disclosure */
		"<?xml version=\"1.0\"?>"
		"<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
		"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
		"&xxe;</samlp:Response>",
		/* external DTD only */
		"<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\"><r/>",
		/* parameter entity out-of-band */
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x\"> %p;]><r/>",
		/* a harmless-looking DOCTYPE is refused too */
		"<!DOCTYPE saml><saml/>",
		/* entity used inside an attribute */
		"<!DOCTYPE r [<!ENTITY e \"x\">]><r a=\"&e;\"/>",
	};

	for (size_t i = 0; i < ELEMENTSOF(docs); i++)
		assert_int_equal(parse_str(docs[i], &s), -EBADMSG);
	assert_null(s);
}

static void test_billion_laughs(void **state)
{
	struct saml_info *s = NULL;
	xmlDoc *doc = NULL;
	const char *lol =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n"
		"<lolz a=\"&lol9;\">&lol9;</lolz>\n";

	assert_int_equal(parse_str(lol, &s), -EBADMSG);
	assert_null(s);
	assert_int_equal(xml_parse(lol, strlen(lol), 4096, &doc), -EBADMSG);
	assert_null(doc);
}

static void test_xml_parse_plain(void **state)
{
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *text = NULL, *attr = NULL;
	const char *x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<a xmlns=\"urn:x\"><b k=\"1 &amp; 2\">  one <![CDATA[<two>]]>\n"
			"<c>three</c> </b><!-- skipped --></a>";
	xmlNode *root, *b;

	assert_int_equal(xml_parse(x, strlen(x), 4096, &doc), 0);
	root = xmlDocGetRootElement(doc);
	assert_true(xml_is(root, "urn:x", "a"));
	assert_false(xml_is(root, NULL, "a"));
	b = xml_child(root, "urn:x", "b");
	assert_non_null(b);
	assert_string_equal(xml_attr(b, "k"), "1 & 2");
	assert_int_equal(xml_attr_dup(b, "k", &attr), 0);
	assert_string_equal(attr, "1 & 2");
	assert_null(xml_attr(b, "missing"));
	assert_int_equal(xml_text_dup(b, &text), 0);
	assert_string_equal(text, "one <two>\nthree");
	assert_ptr_equal(xml_find(root, NULL, "urn:x", "c"),
			 xml_child(b, "urn:x", "c"));
	assert_int_equal(xml_parse(x, strlen(x), 10, &doc), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_fixture),
		cmocka_unit_test(test_bare_assertion),
		cmocka_unit_test(test_base64_fixture),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_status_not_success),
		cmocka_unit_test(test_missing_status),
		cmocka_unit_test(test_encrypted_assertion),
		cmocka_unit_test(test_not_saml),
		cmocka_unit_test(test_missing_role_attribute),
		cmocka_unit_test(test_malformed_roles),
		cmocka_unit_test(test_role_with_comma_in_path),
		cmocka_unit_test(test_role_cap),
		cmocka_unit_test(test_session_duration),
		cmocka_unit_test(test_bad_timestamp),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_xml_parse_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
