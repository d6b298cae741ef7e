/* Unit tests for idp/adfs-page.c: page kinds, chosen form, resolved
 * action, fields, error text and MFA hints. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idp/adfs-page.h"
#include "idp/saml.h"
#include "util/buf.h"
#include "util/encode.h"

#include "test-util.h"

#define BASE                                                                 \
	"https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx"           \
	"?loginToRp=urn:amazon:webservices"
#define LOGIN_ACTION BASE "&client-request-id=6d4c4c2b-7a1e-4f4e-8c09-0080010000e5"

static struct adfs_page *parse_fixture(const char *name, const char *base)
{
	struct adfs_page *p = NULL;
	struct buf b;

	test_read_fixture(name, &b);
	assert_int_equal(adfs_page_parse(b.data, b.len, base, &p), 0);
	assert_non_null(p);
	buf_clear(&b);
	return p;
}

static struct adfs_page *parse_str(const char *html, const char *base)
{
	struct adfs_page *p = NULL;

	assert_int_equal(adfs_page_parse(html, strlen(html), base, &p), 0);
	assert_non_null(p);
	return p;
}

static void check_field(const struct adfs_page *p, size_t i,
			const char *name, const char *value)
{
	assert_true(i < p->n_fields);
	assert_string_equal(p->fields[i].name, name);
	assert_string_equal(p->fields[i].value, value);
}

static void test_login(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-login.html", BASE);

	assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
	/* relative action, &amp; decoded, resolved against the page URL */
	assert_string_equal(p->action, LOGIN_ACTION);
	assert_int_equal(p->n_fields, 4);
	check_field(p, 0, "UserName", "");
	check_field(p, 1, "Password", "");
	/* unchecked checkbox listed too: the caller drops Kmsi */
	check_field(p, 2, "Kmsi", "true");
	check_field(p, 3, "AuthMethod", "FormsAuthentication");
	/* the empty span#errorText is no error */
	assert_null(p->error_text);
	assert_null(p->mfa_hint);
	assert_null(p->saml_response);
	assert_ptr_equal(adfs_page_field(p, "username"), &p->fields[0]);
	assert_ptr_equal(adfs_page_field(p, "AUTHMETHOD"), &p->fields[3]);
	assert_null(adfs_page_field(p, "Context"));
	assert_null(adfs_page_field(NULL, "UserName"));
}

static void test_login_error(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-login-error.html", BASE);

	assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
	assert_string_equal(p->error_text,
			    "Incorrect user ID or password. Type the correct "
			    "user ID and password, and try again.");
	/* &#64; decoded */
	check_field(p, 0, "UserName", "jdoe@example.com");
	assert_string_equal(p->action, LOGIN_ACTION);
}

static void test_error_label(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = parse_str(
		"<html><body><form method=\"post\" id=\"loginForm\" action=\"\">"
		"<label id=\"errorText\" for=\"\">\n  Your account is "
		"locked &amp; disabled.\n</label>"
		"<input name=\"UserName\" value=\"EXAMPLE\\jdoe\">"
		"<input name=\"Password\" type=\"password\">"
		"</form></body></html>",
		BASE);

	assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
	assert_string_equal(p->error_text,
			    "Your account is locked & disabled.");
	/* empty action posts to the page itself */
	assert_string_equal(p->action, BASE);
	check_field(p, 0, "UserName", "EXAMPLE\\jdoe");
	check_field(p, 1, "Password", "");
}

static void test_saml_page(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-saml.html", LOGIN_ACTION);
	_cleanup_(secret_freep) struct secret *xml = NULL;
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	struct buf b;

	assert_int_equal(p->kind, ADFS_PAGE_SAML);
	assert_string_equal(p->action, "https://signin.aws.amazon.com:443/saml");
	/* the value is only in the secret; the submit input has no name */
	assert_int_equal(p->n_fields, 0);
	assert_null(adfs_page_field(p, "SAMLResponse"));
	assert_non_null(p->saml_response);
	assert_null(strstr(p->saml_response->data, "&#43;"));

	/* the decoded value is exactly the fixture it was made from */
	test_read_fixture("saml-response.xml", &b);
	assert_int_equal(encode_base64_decode_secret(p->saml_response->data,
					      p->saml_response->len, &xml),
			 0);
	assert_int_equal(xml->len, b.len);
	assert_memory_equal(xml->data, b.data, b.len);
	buf_clear(&b);

	assert_int_equal(saml_parse_base64(p->saml_response->data,
					   p->saml_response->len, &info),
			 0);
	assert_int_equal(info->n_roles, 3);
	assert_string_equal(info->roles[1].role_arn,
			    "arn:aws:iam::123456789012:role/ADFS-Dev");
}

static void test_mfa_otp(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-mfa-otp.html", LOGIN_ACTION);

	/* AzureMfaAuthentication, but with a visible code box: OTP */
	assert_int_equal(p->kind, ADFS_PAGE_MFA_OTP);
	assert_string_equal(p->action, LOGIN_ACTION);
	assert_string_equal(p->mfa_hint,
			    "Enter the verification code from the Microsoft "
			    "Authenticator app on your phone \xe2\x80\x93 it "
			    "changes every 30 seconds.");
	assert_null(p->error_text);
	assert_int_equal(p->n_fields, 3);
	check_field(p, 0, "VerificationCode", "");
	check_field(p, 1, "AuthMethod", "AzureMfaAuthentication");
	check_field(p, 2, "Context",
		    "<EncryptedData xmlns=\"http://www.w3.org/2001/04/xmlenc#\">"
		    "OKAGqX/0w2h2Y8wD+uT4Q==</EncryptedData>");
	assert_null(p->saml_response);
}

static void test_mfa_push(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-mfa-push.html", LOGIN_ACTION);

	assert_int_equal(p->kind, ADFS_PAGE_MFA_PUSH);
	/* form#loginForm wins over the earlier, empty form#options; its
	 * action is relative to the page's directory */
	assert_string_equal(p->action,
			    BASE "&client-request-id="
				 "0c2a7b1e-33f4-4d2a-9b7c-0080020000a1");
	/* the number to match wins over the instructions */
	assert_string_equal(p->mfa_hint, "42");
	assert_int_equal(p->n_fields, 3);
	check_field(p, 0, "AuthMethod", "AzureMfaAuthentication");
	check_field(p, 1, "Context",
		    "AAEAAF9vX3NvbWVfb3BhcXVlX2NvbnRleHRfdmFsdWU=");
	check_field(p, 2, "VerificationCode", "");
	assert_null(p->error_text);
}

static void test_mfa_variants(void **state)
{
	static const struct {
		const char *html;
		enum adfs_page_kind kind;
		const char *action;
	} cases[] = {
		/* the MFA form is chosen over an empty form#options */
		{ "<form id=\"options\" action=\"/other\">"
		  "<input type=\"hidden\" name=\"AuthMethod\"></form>"
		  "<form method=\"post\" action=\"/adfs/ls/?x=1\">"
		  "<input type=\"hidden\" name=\"AuthMethod\" "
		  "value=\"VIPAuthenticationProviderWindowsAccountName\">"
		  "<input name=\"security_code\" type=\"text\"></form>",
		  ADFS_PAGE_MFA_OTP, "https://adfs.example.com/adfs/ls/?x=1" },
		/* RSA SecurID: AuthMethod and a Passcode box */
		{ "<form method=\"post\" id=\"loginForm\">"
		  "<input type=\"hidden\" name=\"AuthMethod\" "
		  "value=\"SecurIDAuthentication\">"
		  "<input type=\"hidden\" name=\"Context\" value=\"c\">"
		  "<input name=\"Passcode\" type=\"password\"></form>",
		  ADFS_PAGE_MFA_OTP, BASE },
		/* adapter name alone */
		{ "<form id=\"loginForm\" action=\"IdpInitiatedSignOn.aspx\">"
		  "<input type=\"hidden\" name=\"AuthMethod\" "
		  "value=\"VIPAuthenticationProviderUPN\"></form>",
		  ADFS_PAGE_MFA_OTP,
		  "https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx" },
		/* MFA Server push */
		{ "<form id=\"loginForm\" action=\"https://adfs.example.com/adfs/ls/\">"
		  "<input type=\"hidden\" name=\"AuthMethod\" "
		  "value=\"AzureMfaServerAuthentication\">"
		  "<input type=\"hidden\" name=\"Context\" value=\"c\"></form>",
		  ADFS_PAGE_MFA_PUSH, "https://adfs.example.com/adfs/ls/" },
		/* the method chooser (empty AuthMethod) is not an MFA page */
		{ "<form id=\"options\" action=\"/adfs/ls/\">"
		  "<input type=\"hidden\" name=\"AuthMethod\"></form>",
		  ADFS_PAGE_UNKNOWN, "https://adfs.example.com/adfs/ls/" },
		/* unrelated form: first form, unknown */
		{ "<form action=\"/search\"><input name=\"q\"></form>",
		  ADFS_PAGE_UNKNOWN, "https://adfs.example.com/search" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(adfs_page_freep) struct adfs_page *p =
			parse_str(cases[i].html, BASE);

		if (p->kind != cases[i].kind)
			fail_msg("case %zu: kind %d", i, (int)p->kind);
		assert_string_equal(p->action, cases[i].action);
	}
}

static void test_actions(void **state)
{
	static const struct {
		const char *form, *base, *want;
	} cases[] = {
		/* no action attribute: post to the page */
		{ "<form method=\"post\">", BASE, BASE },
		{ "<form action=\"  \">", BASE, BASE },
		{ "<form action=\"https://other.example.net:8443/p?a=1&amp;b=2\">",
		  BASE, "https://other.example.net:8443/p?a=1&b=2" },
		{ "<form action=\"../../x/./y\">", BASE,
		  "https://adfs.example.com/x/y" },
		{ "<form action=\"?client-request-id=1\">", BASE,
		  "https://adfs.example.com/adfs/ls/"
		  "IdpInitiatedSignOn.aspx?client-request-id=1" },
		{ "<form action=\"//sts.example.org/adfs/ls/\">", BASE,
		  "https://sts.example.org/adfs/ls/" },
		/* sloppy action with a space still resolves */
		{ "<form action=\"/adfs/ls/a b\">", BASE,
		  "https://adfs.example.com/adfs/ls/a%20b" },
		/* no base URL: the action as written, or none */
		{ "<form action=\"/adfs/ls/\">", NULL, "/adfs/ls/" },
		{ "<form>", NULL, NULL },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *html = NULL;
		_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;

		assert_true(asprintf(&html,
				     "<html><body>%s<input name=\"UserName\">"
				     "<input name=\"Password\"></form>"
				     "</body></html>",
				     cases[i].form) > 0);
		p = parse_str(html, cases[i].base);
		assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
		if (!cases[i].want)
			assert_null(p->action);
		else if (!p->action || strcmp(p->action, cases[i].want) != 0)
			fail_msg("case %zu: got '%s'", i,
				 p->action ? p->action : "(null)");
	}
}

static void test_field_cap(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
	struct buf html;
	char tmp[128];

	buf_init(&html, 1024 * 1024);
	assert_int_equal(buf_append_str(&html, "<form id=\"loginForm\">"), 0);
	for (unsigned i = 0; i < ADFS_MAX_FIELDS + 10; i++) {
		(void)snprintf(tmp, sizeof(tmp),
			       "<input name=\"f%u\" value=\"v%u\">"
			       "<input value=\"unnamed\"><input name=\"\">",
			       i, i);
		assert_int_equal(buf_append_str(&html, tmp), 0);
	}
	assert_int_equal(buf_append_str(&html, "</form>"), 0);
	assert_int_equal(adfs_page_parse(html.data, html.len, BASE, &p), 0);
	assert_int_equal(p->n_fields, ADFS_MAX_FIELDS);
	check_field(p, 0, "f0", "v0");
	check_field(p, ADFS_MAX_FIELDS - 1, "f63", "v63");
	buf_clear(&html);
}

static void test_saml_outside_form(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = parse_str(
		"<html><body><input type=\"hidden\" name=\"samlresponse\" "
		"value=\"PHg+PC94Pg==\"></body></html>",
		BASE);

	assert_int_equal(p->kind, ADFS_PAGE_SAML);
	assert_null(p->action);
	assert_int_equal(p->n_fields, 0);
	assert_string_equal(p->saml_response->data, "PHg+PC94Pg==");
}

static void test_garbage(void **state)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p =
		parse_fixture("adfs-garbage.html", BASE);
	_cleanup_(adfs_page_freep) struct adfs_page *empty = NULL;
	_cleanup_(adfs_page_freep) struct adfs_page *text = NULL;

	assert_int_equal(p->kind, ADFS_PAGE_UNKNOWN);
	assert_null(p->saml_response);
	assert_null(p->error_text);
	assert_null(p->mfa_hint);

	assert_int_equal(adfs_page_parse("", 0, BASE, &empty), 0);
	assert_int_equal(empty->kind, ADFS_PAGE_UNKNOWN);
	assert_null(empty->action);
	assert_int_equal(empty->n_fields, 0);

	text = parse_str("503 Service Unavailable", BASE);
	assert_int_equal(text->kind, ADFS_PAGE_UNKNOWN);
	assert_null(text->action);
}

static void test_random_bytes(void **state)
{
	static const char alphabet[] = "<>/=\"' &#;!-[]abcdefinpmortuxyz"
				       "AMNRS0123456789\n\t\x80\xc3\xff\x00";
	unsigned seed = 12345;
	char page[2048];

	/* Small deterministic fuzz: every input yields a page. */
	for (int round = 0; round < 300; round++) {
		_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(page));

		for (size_t i = 0; i < n; i++)
			page[i] = alphabet[rand_r(&seed) %
					   (int)(sizeof(alphabet) - 1)];
		assert_int_equal(adfs_page_parse(page, n, BASE, &p), 0);
		assert_non_null(p);
		assert_true(p->n_fields <= ADFS_MAX_FIELDS);
	}
}

static void test_oversized(void **state)
{
	struct adfs_page *p = NULL;
	_cleanup_free_ char *big = malloc(ADFS_MAX_PAGE + 1);

	assert_non_null(big);
	memset(big, 'x', ADFS_MAX_PAGE + 1);
	assert_int_equal(adfs_page_parse(big, ADFS_MAX_PAGE + 1, BASE, &p),
			 -E2BIG);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_login_error),
		cmocka_unit_test(test_error_label),
		cmocka_unit_test(test_saml_page),
		cmocka_unit_test(test_mfa_otp),
		cmocka_unit_test(test_mfa_push),
		cmocka_unit_test(test_mfa_variants),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(test_saml_outside_form),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_oversized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
