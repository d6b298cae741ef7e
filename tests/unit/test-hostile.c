/* Hostile input for every parser of untrusted bytes: XML external
 * entities (file:// and http://), billion laughs, parameter entities,
 * external DTDs and other ways a document can name a resource, against
 * SAML (plain and base64), STS AssumeRoleWithSAML replies and errors, IAM
 * GetRole, WS-Trust, ADFS pages (HTML) and the config (YAML anchors,
 * aliases and tags). Each is refused with a clear error (or, for HTML,
 * parsed without expanding anything), and a probe proves that no file was
 * opened and no connection made. Then every size cap, read from the
 * headers: input at the cap parses, one byte more is refused. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "conf/conf.h"
#include "idp/adfs-page.h"
#include "idp/saml.h"
#include "idp/wstrust.h"
#include "sts/sts-xml.h"
#include "util/buf.h"
#include "util/socket.h"

#include "test-util.h"

#define MARKER "hostile-test-marker-d3b07384"
#define BASE_URL "https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx"

/* ---- the probe: a file nobody may open, a port nobody may call ---- */

static struct {
	char path[64];  /* holds MARKER; inotify reports any open or read */
	int inotify_fd;
	int listen_fd;  /* 127.0.0.1, nobody should connect */
	unsigned port;
} P = { .inotify_fd = -1, .listen_fd = -1 };

static int probe_setup(void **state)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	int fd;

	(void)snprintf(P.path, sizeof(P.path), "/tmp/adfs-credd-hostile-XXXXXX");
	fd = mkstemp(P.path);
	if (fd < 0 || write(fd, MARKER, strlen(MARKER)) != (ssize_t)strlen(MARKER))
		return -1;
	(void)close(fd);
	P.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (P.inotify_fd < 0 ||
	    inotify_add_watch(P.inotify_fd, P.path, IN_OPEN | IN_ACCESS) < 0)
		return -1;
	if (listen_tcp("127.0.0.1", 0, &P.listen_fd) < 0 ||
	    getsockname(P.listen_fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	P.port = ntohs(sa.sin_port);
	return 0;
}

static int probe_teardown(void **state)
{
	if (P.path[0])
		(void)unlink(P.path);
	if (P.inotify_fd >= 0)
		(void)close(P.inotify_fd);
	if (P.listen_fd >= 0)
		(void)close(P.listen_fd);
	return 0;
}

/* Whether the file was opened or the port called since the last check;
 * clears what it saw. */
static bool probe_touched(void)
{
	char ev[4096] __attribute__((aligned(8)));
	bool touched = false;
	int c;

	while (read(P.inotify_fd, ev, sizeof(ev)) > 0)
		touched = true;
	while ((c = accept(P.listen_fd, NULL, NULL)) >= 0) {
		(void)close(c);
		touched = true;
	}
	return touched;
}

/* Fills template t: each %F becomes the probe file's path, each %H the
 * probe's http://127.0.0.1:PORT address. */
static char *expand(const char *t)
{
	struct buf b;
	char port[16];

	(void)snprintf(port, sizeof(port), "%u", P.port);
	buf_init(&b, 1u << 20);
	for (const char *s = t; *s; s++) {
		if (s[0] == '%' && s[1] == 'F') {
			assert_int_equal(buf_append_str(&b, P.path), 0);
			s++;
		} else if (s[0] == '%' && s[1] == 'H') {
			assert_int_equal(buf_append_str(&b, "http://127.0.0.1:"), 0);
			assert_int_equal(buf_append_str(&b, port), 0);
			s++;
		} else {
			assert_int_equal(buf_append(&b, s, 1), 0);
		}
	}
	assert_int_equal(buf_append(&b, "", 1), 0);
	return b.data;
}

/* ---- the XML parsers, each over a real reply (tests/unit/data) ---- */

static int parse_saml(const char *x, size_t n)
{
	struct saml_info *s = NULL;
	int r = saml_parse(x, n, &s);

	saml_info_free(s);
	return r;
}

static char *base64(const char *x, size_t n, size_t *ret_len)
{
	char *out = malloc((n + 2) / 3 * 4 + 1);

	assert_non_null(out);
	*ret_len = (size_t)EVP_EncodeBlock((unsigned char *)out,
					   (const unsigned char *)x, (int)n);
	return out;
}

static int parse_saml_b64(const char *x, size_t n)
{
	struct saml_info *s = NULL;
	size_t len;
	char *b = base64(x, n, &len);
	int r = saml_parse_base64(b, len, &s);

	free(b);
	saml_info_free(s);
	return r;
}

static int parse_assume(const char *x, size_t n)
{
	struct sts_creds *c = NULL;
	int r = sts_xml_parse_assume(x, n, &c);

	sts_creds_free(c);
	return r;
}

static int parse_error(const char *x, size_t n)
{
	struct sts_error *e = NULL;
	int r = sts_xml_parse_error(x, n, &e);

	sts_error_free(e);
	return r;
}

static int parse_get_role(const char *x, size_t n)
{
	uint32_t max = 0;

	return sts_xml_parse_get_role(x, n, &max);
}

static int parse_wstrust(const char *x, size_t n)
{
	struct secret *a = NULL;
	char *fault = NULL;
	int r = wstrust_parse_response(x, n, &a, &fault);

	secret_free(a);
	free(fault);
	return r;
}

struct xml_parser {
	const char *name;
	const char *fixture;
	const char *needle; /* text in the fixture an entity reference replaces */
	size_t cap;
	int (*parse)(const char *x, size_t n);
};

static const struct xml_parser PARSERS[] = {
	{ "saml_parse", "saml-response.xml",
	  "http://adfs.example.com/adfs/services/trust", SAML_MAX_XML,
	  parse_saml },
	{ "saml_parse_base64", "saml-response.xml",
	  "http://adfs.example.com/adfs/services/trust", SAML_MAX_XML,
	  parse_saml_b64 },
	{ "sts_xml_parse_assume", "sts-assume-ok.xml", "ASIAIOSFODNN7EXAMPLE",
	  STS_MAX_REPLY, parse_assume },
	{ "sts_xml_parse_error", "sts-error-access-denied.xml",
	  "Not authorized to perform sts:AssumeRoleWithSAML", STS_MAX_REPLY,
	  parse_error },
	{ "sts_xml_parse_error (IAM)", "iam-error-access-denied.xml", "AccessDenied",
	  STS_MAX_REPLY, parse_error },
	{ "sts_xml_parse_get_role", "iam-get-role.xml", "AROAJ2WR3CSGXQ5EXAMPLE",
	  STS_MAX_REPLY, parse_get_role },
	{ "wstrust_parse_response", "wstrust-rstr.xml",
	  "urn:uuid:3f0c2b7e-5a1d-4c8e-9b2f-6d7e8f9a0b1c", WSTRUST_MAX_REPLY,
	  parse_wstrust },
};

/* The fixture with prolog inserted before its root element (after any
 * XML declaration) and the first needle replaced by value. */
static char *hostile(const struct xml_parser *p, const char *prolog,
		     const char *value)
{
	struct buf in, out;
	const char *root, *hit;

	test_read_fixture(p->fixture, &in);
	root = in.data;
	if (strncmp(root, "<?xml", 5) == 0)
		root = strstr(root, "?>") + 2;
	hit = strstr(root, p->needle);
	assert_non_null(hit);
	buf_init(&out, 4u * 1024u * 1024u);
	assert_int_equal(buf_append(&out, in.data, (size_t)(root - in.data)), 0);
	assert_int_equal(buf_append_str(&out, prolog), 0);
	assert_int_equal(buf_append(&out, root, (size_t)(hit - root)), 0);
	assert_int_equal(buf_append_str(&out, value), 0);
	assert_int_equal(buf_append_str(&out, hit + strlen(p->needle)), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	buf_clear(&in);
	return out.data;
}

/* Every XML parser refuses the document with -EBADMSG, touching nothing. */
static void refuse_everywhere(const char *prolog_t, const char *value)
{
	char *prolog = expand(prolog_t);

	for (size_t i = 0; i < ELEMENTSOF(PARSERS); i++) {
		const struct xml_parser *p = &PARSERS[i];
		char *doc = hostile(p, prolog, value);
		int r = p->parse(doc, strlen(doc));
		bool touched = probe_touched();

		if (r != -EBADMSG || touched)
			fail_msg("%s: got %d (want -EBADMSG = %d), probe %s, "
				 "for:\n%.600s",
				 p->name, r, -EBADMSG,
				 touched ? "touched" : "untouched", doc);
		free(doc);
	}
	free(prolog);
}

/* ---- tests ---- */

/* The probe sees an open and a connection (so the tests below can fail),
 * and every fixture parses as it is, and with the needle kept as a
 * predefined entity (so a refusal below comes from the hostile part). */
static void test_probe_and_controls(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	FILE *f;
	int c;

	assert_false(probe_touched());
	f = fopen(P.path, "r");
	assert_non_null(f);
	(void)fclose(f);
	assert_true(probe_touched());
	assert_false(probe_touched());

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)P.port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true(probe_touched());
	(void)close(c);

	for (size_t i = 0; i < ELEMENTSOF(PARSERS); i++) {
		const struct xml_parser *p = &PARSERS[i];
		char *doc = hostile(p, "<!-- no DTD -->", "A&amp;B");
		struct buf b;

		test_read_fixture(p->fixture, &b);
		if (p->parse(b.data, b.len) != 0 ||
		    p->parse(doc, strlen(doc)) != 0)
			fail_msg("%s: the control does not parse", p->name);
		buf_clear(&b);
		free(doc);
	}
	assert_false(probe_touched());
}

static void test_xxe_file(void **state)
{
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY xxe SYSTEM \"file://%F\">]>",
			  "&xxe;");
	/* A relative SYSTEM id resolves against nothing, or the cwd. */
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY xxe SYSTEM \"%F\">]>",
			  "&xxe;");
}

static void test_xxe_http(void **state)
{
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY xxe SYSTEM \"%H/xxe\">]>",
			  "&xxe;");
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY xxe PUBLIC \"-//X//Y\" "
			  "\"%H/xxe\">]>",
			  "&xxe;");
}

static void test_billion_laughs(void **state)
{
	refuse_everywhere(
		"<!DOCTYPE doc [\n"
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
		"]>",
		"&lol9;");
	/* Quadratic blowup: one big entity referenced many times. */
	{
		struct buf b;

		buf_init(&b, 1u << 20);
		assert_int_equal(buf_append_str(&b, "<!DOCTYPE doc [<!ENTITY a \""), 0);
		for (int i = 0; i < 20000; i++)
			assert_int_equal(buf_append(&b, "a", 1), 0);
		assert_int_equal(buf_append_str(&b, "\">]>"), 0);
		assert_int_equal(buf_append(&b, "", 1), 0);
		refuse_everywhere(b.data, "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;");
		buf_clear(&b);
	}
}

static void test_parameter_entities(void **state)
{
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY % p SYSTEM \"%H/p.dtd\"> %p;]>",
			  "x");
	refuse_everywhere("<!DOCTYPE doc [<!ENTITY % p SYSTEM \"file://%F\"> %p;]>",
			  "x");
	/* The out-of-band exfiltration shape. */
	refuse_everywhere(
		"<!DOCTYPE doc [<!ENTITY % file SYSTEM \"file://%F\">"
		"<!ENTITY % dtd SYSTEM \"%H/evil.dtd\"> %dtd; %file;]>",
		"&send;");
}

static void test_external_dtd(void **state)
{
	refuse_everywhere("<!DOCTYPE doc SYSTEM \"%H/doc.dtd\">", "x");
	refuse_everywhere("<!DOCTYPE doc SYSTEM \"file://%F\">", "x");
	refuse_everywhere("<!DOCTYPE doc PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
			  "\"%H/xhtml1-strict.dtd\">",
			  "&nbsp;");
	/* Even a DOCTYPE that names nothing is refused. */
	refuse_everywhere("<!DOCTYPE doc>", "x");
	refuse_everywhere("<!DOCTYPE doc []>", "x");
}

/* Other ways a document names a resource: XInclude, a stylesheet PI and
 * schemaLocation. None is processed; the documents may parse, but nothing
 * is fetched and the file's content never shows up. */
static void test_other_references(void **state)
{
	static const char *const values[] = {
		"<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
		"href=\"file://%F\" parse=\"text\"/>",
		"<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
		"href=\"%H/inc.xml\"/>",
		"<x xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		"xsi:schemaLocation=\"urn:x %H/x.xsd\" "
		"xsi:noNamespaceSchemaLocation=\"file://%F\"/>",
	};

	for (size_t v = 0; v < ELEMENTSOF(values); v++) {
		char *value = expand(values[v]);
		char *pi = expand("<?xml-stylesheet type=\"text/xsl\" "
				  "href=\"%H/x.xsl\"?>");

		for (size_t i = 0; i < ELEMENTSOF(PARSERS); i++) {
			char *doc = hostile(&PARSERS[i], pi, value);

			(void)PARSERS[i].parse(doc, strlen(doc));
			if (probe_touched())
				fail_msg("%s fetched something for:\n%.600s",
					 PARSERS[i].name, doc);
			free(doc);
		}
		free(pi);
		free(value);
	}
}

/* HTML has no entity declarations: the parser keeps any page, expands
 * only HTML's built-in entities and fetches nothing. */
static void test_adfs_page_hostile(void **state)
{
	char *html = expand(
		"<!DOCTYPE html SYSTEM \"%H/html.dtd\" [<!ENTITY xxe SYSTEM "
		"\"file://%F\"><!ENTITY % p SYSTEM \"%H/p\"> %p;]>\n"
		"<html><head><link rel=\"stylesheet\" href=\"%H/s.css\">"
		"<script src=\"%H/s.js\"></script>"
		"<base href=\"%H/\"></head><body>"
		"<iframe src=\"file://%F\"></iframe><img src=\"%H/i.png\">"
		"<form method=\"post\" id=\"loginForm\" action=\"/adfs/ls/?x=1\">"
		"<input name=\"UserName\" value=\"&xxe;\">"
		"<input name=\"Password\" type=\"password\">"
		"<input name=\"AuthMethod\" value=\"&amp;FormsAuthentication\">"
		"</form><span id=\"errorText\">&xxe;&lol;</span></body></html>");
	struct adfs_page *p = NULL;
	struct adfs_field *f;

	assert_int_equal(adfs_page_parse(html, strlen(html), BASE_URL, &p), 0);
	assert_false(probe_touched());
	assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
	f = adfs_page_field(p, "UserName");
	assert_non_null(f);
	assert_null(strstr(f->value, MARKER));
	assert_string_equal(adfs_page_field(p, "AuthMethod")->value,
			    "&FormsAuthentication");
	assert_true(!p->error_text || !strstr(p->error_text, MARKER));
	/* The action resolves against the page, not a <base> it names. */
	assert_string_equal(p->action, "https://adfs.example.com/adfs/ls/?x=1");
	adfs_page_free(p);
	free(html);
}

static void conf_refused(const char *yaml_t, const char *want)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char *yaml = expand(yaml_t);
	bool found = false;
	int r;

	r = conf_parse_yaml("hostile.yaml", yaml, strlen(yaml), &c, &errs);
	assert_false(probe_touched());
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msgs[i], want))
			found = true;
	if (r != -EINVAL || c || !found) {
		conf_errors_print(&errs, stderr);
		fail_msg("want -EINVAL and \"%s\" for:\n%s", want, yaml);
	}
	conf_errors_clear(&errs);
	free(yaml);
}

/* YAML's own hostile shapes: an alias bomb (billion laughs with anchors),
 * tags asking for objects or includes, directives. */
static void test_conf_hostile(void **state)
{
	conf_refused("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		     "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		     "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		     "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		     "adfs:\n  url: https://adfs.example.com\n  username: *g\n",
		     "anchors (&a) are not supported");
	conf_refused("adfs:\n  url: https://adfs.example.com\n"
		     "  username: !include file://%F\n",
		     "is not supported");
	conf_refused("adfs:\n  url: https://adfs.example.com\n  username: alice\n"
		     "  ca_file: !!python/object/apply:os.system [\"cat %F\"]\n",
		     "is not supported");
	conf_refused("%TAG !x! tag:example.com,2000:\n---\n"
		     "adfs:\n  url: !x!file %F\n  username: alice\n",
		     "is not supported");
	/* A path is only a path: parsing never opens it. */
	{
		struct conf_errors errs = { .n = 0 };
		struct conf *c = NULL;
		char *yaml = expand("adfs:\n  url: https://adfs.example.com\n"
				    "  username: alice\n"
				    "  password: file:%F\n  ca_file: %F\n");

		assert_int_equal(conf_parse_yaml("t.yaml", yaml, strlen(yaml),
						 &c, &errs),
				 0);
		assert_false(probe_touched());
		conf_free(c);
		conf_errors_clear(&errs);
		free(yaml);
	}
}

/* ---- size caps ---- */

/* The fixture followed by whitespace up to exactly n bytes. */
static char *padded(const char *fixture, size_t n)
{
	struct buf b;
	char *s;

	test_read_fixture(fixture, &b);
	assert_true(b.len <= n);
	s = malloc(n + 1);
	assert_non_null(s);
	memcpy(s, b.data, b.len);
	memset(s + b.len, '\n', n - b.len);
	s[n] = '\0';
	buf_clear(&b);
	return s;
}

static void test_xml_caps(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(PARSERS); i++) {
		const struct xml_parser *p = &PARSERS[i];
		char *at = padded(p->fixture, p->cap);
		char *above = padded(p->fixture, p->cap + 1);
		int r_at = p->parse(at, p->cap);
		int r_above = p->parse(above, p->cap + 1);

		if (r_at != 0 || r_above != -E2BIG)
			fail_msg("%s: %zu bytes gave %d (want 0), %zu bytes "
				 "gave %d (want -E2BIG)",
				 p->name, p->cap, r_at, p->cap + 1, r_above);
		free(at);
		free(above);
	}
}

/* Base64 text is refused before decoding once it cannot decode to at
 * most SAML_MAX_XML bytes, whatever whitespace it carries. */
static void test_saml_base64_cap(void **state)
{
	char *big = malloc(SAML_MAX_XML * 2);
	struct saml_info *s = NULL;

	assert_non_null(big);
	memset(big, 'A', SAML_MAX_XML * 2);
	assert_int_equal(saml_parse_base64(big, SAML_MAX_XML * 2, &s), -E2BIG);
	assert_null(s);
	free(big);
}

static void test_adfs_page_cap(void **state)
{
	char *at = padded("adfs-login.html", ADFS_MAX_PAGE);
	char *above = padded("adfs-login.html", ADFS_MAX_PAGE + 1);
	struct adfs_page *p = NULL;

	assert_int_equal(adfs_page_parse(above, ADFS_MAX_PAGE + 1, BASE_URL, &p),
			 -E2BIG);
	assert_null(p);
	assert_int_equal(adfs_page_parse(at, ADFS_MAX_PAGE, BASE_URL, &p), 0);
	assert_int_equal(p->kind, ADFS_PAGE_LOGIN);
	adfs_page_free(p);
	free(at);
	free(above);
}

static void test_conf_cap(void **state)
{
	static const char base[] = "adfs:\n  url: https://adfs.example.com\n"
				   "  username: alice\n";
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char *y = malloc(CONF_MAX_SIZE + 2);
	size_t n = strlen(base);

	/* A comment line fills the file up to the cap. */
	assert_non_null(y);
	memcpy(y, base, n);
	y[n] = '#';
	memset(y + n + 1, 'x', CONF_MAX_SIZE + 1 - n - 1);
	y[CONF_MAX_SIZE - 1] = '\n';
	assert_int_equal(conf_parse_yaml("t.yaml", y, CONF_MAX_SIZE, &c, &errs),
			 0);
	assert_int_equal(errs.n, 0);
	c = conf_free(c);

	y[CONF_MAX_SIZE - 1] = 'x';
	y[CONF_MAX_SIZE] = '\n';
	assert_int_equal(conf_parse_yaml("t.yaml", y, CONF_MAX_SIZE + 1, &c,
					 &errs),
			 -EINVAL);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "too large for a configuration"));
	conf_errors_clear(&errs);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_and_controls),
		cmocka_unit_test(test_xxe_file),
		cmocka_unit_test(test_xxe_http),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_parameter_entities),
		cmocka_unit_test(test_external_dtd),
		cmocka_unit_test(test_other_references),
		cmocka_unit_test(test_adfs_page_hostile),
		cmocka_unit_test(test_conf_hostile),
		cmocka_unit_test(test_xml_caps),
		cmocka_unit_test(test_saml_base64_cap),
		cmocka_unit_test(test_adfs_page_cap),
		cmocka_unit_test(test_conf_cap),
	};

	/* A parser that did call the probe's port would wait for a reply
	 * forever: end the run instead. */
	(void)alarm(60);
	return cmocka_run_group_tests(tests, probe_setup, probe_teardown);
}
