/* Unit tests for idp/wstrust.c: the RST envelope, RSTR/Fault parsing, the
 * samlp:Response wrapper, and whole rounds against a throwaway local TLS
 * server (a forked child speaking just enough HTTP/1.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/c14n.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <systemd/sd-event.h>

#include "idp/saml.h"
#include "idp/wstrust.h"
#include "net/curl-glue.h"
#include "util/partition.h"
#include "util/buf.h"
#include "util/encode.h"
#include "util/xml.h"

#include "test-util.h"

#define SIGNIN_AWS "https://signin.aws.amazon.com/saml"
#define SIGNIN_CN "https://signin.amazonaws.cn/saml"
#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_WSU                                                               \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_WSSE                                                              \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_TRUST "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
#define NS_WSP "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define NS_SAML2 "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_SAML2P "urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XS "http://www.w3.org/2001/XMLSchema"

#define ENDPOINT "https://adfs.example.com/adfs/services/trust/13/usernamemixed"
#define USERNAME "EXAMPLE\\j&<d>\"o'e"
#define PASSWORD "p&ss<w>rd\"' ]]> &amp;"
#define RELYING_PARTY "urn:amazon:webservices?a=1&b=<2>"
/* 2024-05-14T09:12:33.417Z */
#define NOW 1715677953417000ULL
#define ISSUER "http://adfs.example.com/adfs/services/trust"
#define ROLE_DEV "arn:aws:iam::123456789012:role/ADFS-Dev"
#define ROLE_PROD "arn:aws:iam::123456789012:role/ADFS-Production"
#define PROVIDER "arn:aws:iam::123456789012:saml-provider/ADFS"
#define AUTH_FAULT_TEXT                                                      \
	"ID3242: The security token could not be authenticated or "          \
	"authorized. (a:FailedAuthentication)"

/* ---- helpers ---------------------------------------------------------- */

static struct secret *password(void)
{
	struct secret *s = secret_new_from(PASSWORD, strlen(PASSWORD));

	assert_non_null(s);
	return s;
}

/* The trimmed text of n, checked against want. */
static void assert_text(const xmlNode *n, const char *want)
{
	_cleanup_free_ char *t = NULL;

	assert_non_null(n);
	assert_int_equal(xml_text_dup(n, &t), 0);
	assert_string_equal(t, want);
}

/* Whether n carries the namespaced attribute ns:name with value want. */
static void assert_ns_attr(xmlNode *n, const char *ns, const char *name,
			   const char *want)
{
	_cleanup_(xml_char_freep) xmlChar *v = NULL;

	assert_non_null(n);
	v = xmlGetNsProp(n, XC(name), XC(ns));
	assert_non_null(v);
	assert_string_equal(CC(v), want);
}

/* Visibility for xmlC14NExecute: everything inside the subtree of the
 * element passed as user data (namespace nodes go by their element). */
static int in_subtree(void *user_data, xmlNode *node, xmlNode *parent)
{
	const xmlNode *root = user_data;
	const xmlNode *n = node;

	if (!n || n->type == XML_NAMESPACE_DECL)
		n = parent;
	for (; n; n = n->parent)
		if (n == root)
			return 1;
	return 0;
}

/* Exclusive C14N 1.0 (what ADFS signs with) of the subtree at root. */
static char *exc_c14n(xmlDoc *doc, xmlNode *root)
{
	xmlOutputBuffer *out = xmlAllocOutputBuffer(NULL);
	char *s;

	assert_non_null(out);
	assert_true(xmlC14NExecute(doc, in_subtree, root,
				   XML_C14N_EXCLUSIVE_1_0, NULL, 0, out) >= 0);
	s = strndup(CC(xmlOutputBufferGetContent(out)),
		    xmlOutputBufferGetSize(out));
	assert_non_null(s);
	assert_int_equal(xmlOutputBufferClose(out), 0);
	return s;
}

/* The substring of s from the first "<tag" to the end of "</tag>". */
static char *element_text(const char *s, const char *tag)
{
	_cleanup_free_ char *open = NULL, *close = NULL;
	const char *a, *b;
	char *r;

	assert_true(asprintf(&open, "<%s", tag) > 0);
	assert_true(asprintf(&close, "</%s>", tag) > 0);
	a = strstr(s, open);
	assert_non_null(a);
	b = strstr(a, close);
	assert_non_null(b);
	r = strndup(a, (size_t)(b - a) + strlen(close));
	assert_non_null(r);
	return r;
}

/* The exclusive C14N of the first saml2 Assertion in the fixture. */
static char *fixture_assertion_c14n(const struct buf *b)
{
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	xmlNode *as;

	assert_int_equal(xml_parse(b->data, b->len, WSTRUST_MAX_REPLY, &doc),
			 0);
	as = xml_find(xmlDocGetRootElement(doc), NULL, NS_SAML2, "Assertion");
	assert_non_null(as);
	return exc_c14n(doc, as);
}

static int parse_str(const char *s, struct secret **ret_assertion,
		     char **ret_fault)
{
	return wstrust_parse_response(s, strlen(s), ret_assertion, ret_fault);
}

#define FIXTURE_START_TAG                                                    \
	"<saml:Assertion xmlns:saml=\"" NS_SAML2 "\" xmlns:ds=\"" NS_DSIG   \
	"\" xmlns:xsi=\"" NS_XSI "\" xmlns:xs=\"" NS_XS "\" "                \
	"ID=\"_7c1e4d2a-9b3f-4e6a-8d5c-0f1a2b3c4d5e\" "                        \
	"IssueInstant=\"2024-05-14T09:12:33.401Z\" Version=\"2.0\">"

/* ---- the request ------------------------------------------------------ */

static void test_build_request(void **state)
{
	_cleanup_(secret_freep) struct secret *pw = password();
	_cleanup_(secret_freep) struct secret *req = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *mid = NULL;
	xmlNode *env, *hdr, *n, *sec, *ts, *tok, *body, *rst;
	const char *id;

	assert_int_equal(wstrust_build_request(ENDPOINT, USERNAME, pw,
					       RELYING_PARTY, NOW, &req),
			 0);
	/* Escaped: the raw specials never show up, so no injection. */
	assert_null(strstr(req->data, PASSWORD));
	assert_null(strstr(req->data, USERNAME));
	assert_null(strstr(req->data, "<w>"));
	assert_int_equal(strlen(req->data), req->len);

	assert_int_equal(xml_parse(req->data, req->len, 65536, &doc), 0);
	env = xmlDocGetRootElement(doc);
	assert_true(xml_is(env, NS_SOAP12, "Envelope"));
	hdr = xml_child(env, NS_SOAP12, "Header");
	assert_non_null(hdr);

	n = xml_child(hdr, NS_WSA, "Action");
	assert_text(n, NS_TRUST "/RST/Issue");
	assert_ns_attr(n, NS_SOAP12, "mustUnderstand", "1");

	n = xml_child(hdr, NS_WSA, "MessageID");
	assert_non_null(n);
	assert_int_equal(xml_text_dup(n, &mid), 0);
	/* urn:uuid: + 8-4-4-4-12, version 4, RFC 9562 variant */
	assert_int_equal(strlen(mid), 9 + 36);
	assert_true(strneq(mid, "urn:uuid:", 9));
	assert_int_equal(mid[9 + 14], '4');
	assert_non_null(strchr("89ab", mid[9 + 19]));

	n = xml_child(xml_child(hdr, NS_WSA, "ReplyTo"), NS_WSA, "Address");
	assert_text(n, NS_WSA "/anonymous");

	n = xml_child(hdr, NS_WSA, "To");
	assert_text(n, ENDPOINT);
	assert_ns_attr(n, NS_SOAP12, "mustUnderstand", "1");

	sec = xml_child(hdr, NS_WSSE, "Security");
	assert_non_null(sec);
	assert_ns_attr(sec, NS_SOAP12, "mustUnderstand", "1");
	ts = xml_child(sec, NS_WSU, "Timestamp");
	assert_ns_attr(ts, NS_WSU, "Id", "_0");
	assert_text(xml_child(ts, NS_WSU, "Created"),
		    "2024-05-14T09:12:33.417Z");
	assert_text(xml_child(ts, NS_WSU, "Expires"),
		    "2024-05-14T09:17:33.417Z");

	tok = xml_child(sec, NS_WSSE, "UsernameToken");
	assert_non_null(tok);
	{
		_cleanup_(xml_char_freep) xmlChar *v =
			xmlGetNsProp(tok, XC("Id"), XC(NS_WSU));

		assert_non_null(v);
		assert_true(strneq(CC(v), "uuid-", 5));
	}
	assert_text(xml_child(tok, NS_WSSE, "Username"), USERNAME);
	n = xml_child(tok, NS_WSSE, "Password");
	assert_text(n, PASSWORD);
	id = xml_attr(n, "Type");
	assert_non_null(id);
	assert_string_equal(id, "http://docs.oasis-open.org/wss/2004/01/"
				"oasis-200401-wss-username-token-profile-1.0"
				"#PasswordText");

	body = xml_child(env, NS_SOAP12, "Body");
	rst = xml_child(body, NS_TRUST, "RequestSecurityToken");
	assert_non_null(rst);
	n = xml_child(xml_child(xml_child(rst, NS_WSP, "AppliesTo"), NS_WSA,
				"EndpointReference"),
		      NS_WSA, "Address");
	assert_text(n, RELYING_PARTY);
	assert_text(xml_child(rst, NS_TRUST, "KeyType"), NS_TRUST "/Bearer");
	assert_text(xml_child(rst, NS_TRUST, "RequestType"), NS_TRUST "/Issue");
	assert_text(xml_child(rst, NS_TRUST, "TokenType"), NS_SAML2);
}

static void test_build_request_ids_differ(void **state)
{
	_cleanup_(secret_freep) struct secret *pw = password();
	_cleanup_(secret_freep) struct secret *a = NULL, *b = NULL;
	const char *ma, *mb;

	assert_int_equal(
		wstrust_build_request(ENDPOINT, "u", pw, "rp", NOW, &a), 0);
	assert_int_equal(
		wstrust_build_request(ENDPOINT, "u", pw, "rp", NOW, &b), 0);
	ma = strstr(a->data, "urn:uuid:");
	mb = strstr(b->data, "urn:uuid:");
	assert_non_null(ma);
	assert_non_null(mb);
	assert_memory_not_equal(ma, mb, 9 + 36);
}

static void test_build_request_rejects(void **state)
{
	_cleanup_(secret_freep) struct secret *pw = password();
	_cleanup_(secret_freep) struct secret *ctl = NULL, *nul = NULL;
	struct secret *out = NULL;

	ctl = secret_new_from("a\001b", 3);
	nul = secret_new_from("a\0b", 3);
	assert_non_null(ctl);
	assert_non_null(nul);
	assert_int_equal(wstrust_build_request(ENDPOINT, "u", ctl, "rp", NOW,
					       &out),
			 -EINVAL);
	assert_int_equal(wstrust_build_request(ENDPOINT, "u", nul, "rp", NOW,
					       &out),
			 -EINVAL);
	assert_int_equal(wstrust_build_request(ENDPOINT, "bad\xff", pw, "rp",
					       NOW, &out),
			 -EINVAL);
	assert_int_equal(wstrust_build_request(ENDPOINT, NULL, pw, "rp", NOW,
					       &out),
			 -EINVAL);
	assert_int_equal(wstrust_build_request(ENDPOINT, "u", NULL, "rp", NOW,
					       &out),
			 -EINVAL);
	assert_null(out);
}

/* ---- the reply -------------------------------------------------------- */

static void test_parse_fixture(void **state)
{
	_cleanup_(secret_freep) struct secret *as = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *orig = NULL, *want_c14n = NULL, *got_c14n = NULL;
	_cleanup_free_ char *fault = NULL;
	const char *orig_rest, *got_rest;
	xmlNode *root, *n;
	struct buf b;

	test_read_fixture("wstrust-rstr.xml", &b);
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, &fault), 0);
	assert_null(fault);
	assert_non_null(as);
	assert_int_equal(strlen(as->data), as->len);

	/* It stands alone: every prefix it uses is declared on it. */
	assert_int_equal(xml_parse(as->data, as->len, WSTRUST_MAX_REPLY, &doc),
			 0);
	root = xmlDocGetRootElement(doc);
	assert_true(xml_is(root, NS_SAML2, "Assertion"));
	assert_string_equal(xml_attr(root, "ID"),
			    "_7c1e4d2a-9b3f-4e6a-8d5c-0f1a2b3c4d5e");
	assert_string_equal(xml_attr(root, "IssueInstant"),
			    "2024-05-14T09:12:33.401Z");
	assert_string_equal(xml_attr(root, "Version"), "2.0");
	n = xml_child(root, NS_DSIG, "Signature");
	assert_non_null(n);
	n = xml_child(n, NS_DSIG, "SignatureValue");
	assert_non_null(n);
	/* The QName in xsi:type still resolves (prefix from the envelope). */
	n = xml_find(root, NULL, NS_SAML2, "AttributeValue");
	assert_ns_attr(n, NS_XSI, "type", "xs:string");
	assert_non_null(xmlSearchNs(doc, n, XC("xs")));
	assert_string_equal(CC(xmlSearchNs(doc, n, XC("xs"))->href), NS_XS);

	/* Bytes: everything after the start tag is the fixture's own text
	 * (the start tag only gains namespace declarations). */
	orig = element_text(b.data, "saml:Assertion");
	orig_rest = strchr(orig, '>');
	got_rest = strchr(as->data, '>');
	assert_non_null(orig_rest);
	assert_non_null(got_rest);
	assert_string_equal(got_rest, orig_rest);
	/* It gains exactly what it uses from the envelope: saml and ds
	 * (names), xsi (an attribute name), xs (inside xsi:type values);
	 * not s, a, u or trust. */
	assert_true(strneq(as->data, FIXTURE_START_TAG,
			   strlen(FIXTURE_START_TAG)));
	assert_non_null(strstr(as->data, "Jöhn Dœ &amp; Söhne &lt;IT&gt;"));

	/* What the signature covers is unchanged: the exclusive C14N of the
	 * assertion in place equals that of the standalone copy. */
	want_c14n = fixture_assertion_c14n(&b);
	got_c14n = exc_c14n(doc, root);
	assert_string_equal(got_c14n, want_c14n);
	buf_clear(&b);
}

/* The shape real ADFS writes: a bare RSTR, the assertion in the default
 * namespace declared on itself (after its attributes, .NET style). Nothing
 * is carried (the envelope's unrelated xs: stays out); libxml2 writes
 * namespace declarations before attributes, which C14N does not see. */
static void test_parse_bare_rstr_self_declared(void **state)
{
#define ATTRS                                                                \
	"ID=\"_x\" IssueInstant=\"2024-05-14T09:12:33.401Z\" Version=\"2.0\""
#define XMLNS "xmlns=\"" NS_SAML2 "\""
#define CONTENT                                                              \
	"<Issuer>" ISSUER "</Issuer><ds:Signature xmlns:ds=\"" NS_DSIG "\">"  \
	"<ds:SignedInfo/></ds:Signature><AttributeStatement>"               \
	"<Attribute Name=\"r\"><AttributeValue xmlns:xs=\"" NS_XS "\" "       \
	"xmlns:i=\"" NS_XSI "\" i:type=\"xs:string\">v &amp; w"               \
	"</AttributeValue></Attribute></AttributeStatement></Assertion>"
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:xs=\"urn:other\">"
		"<s:Body><t:RequestSecurityTokenResponse xmlns:t=\"" NS_TRUST
		"\"><t:RequestedSecurityToken>\n"
		"<Assertion " ATTRS " " XMLNS ">" CONTENT
		"</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>"
		"</s:Body></s:Envelope>";
	_cleanup_(secret_freep) struct secret *as = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *orig = NULL;
	_cleanup_free_ char *want = NULL, *got = NULL;

	assert_int_equal(parse_str(xml, &as, NULL), 0);
	assert_string_equal(as->data,
			    "<Assertion " XMLNS " " ATTRS ">" CONTENT);
	assert_int_equal(xml_parse(as->data, as->len, 65536, &doc), 0);
	assert_true(xml_is(xmlDocGetRootElement(doc), NS_SAML2, "Assertion"));
	assert_int_equal(xml_parse(xml, strlen(xml), 65536, &orig), 0);
	want = exc_c14n(orig, xml_find(xmlDocGetRootElement(orig), NULL,
				       NS_SAML2, "Assertion"));
	got = exc_c14n(doc, xmlDocGetRootElement(doc));
	assert_string_equal(got, want);
#undef ATTRS
#undef XMLNS
#undef CONTENT
}

/* Prefixes an exclusive C14N PrefixList names (and "#default") are
 * carried too, and so is the prefix of an xsi:type value; unused
 * declarations of the envelope are not. */
static void test_parse_prefix_list(void **state)
{
#define START                                                                \
	"<saml:Assertion xmlns:saml=\"" NS_SAML2 "\" xmlns:foo=\"urn:foo\" "  \
	"xmlns=\"urn:default\" xmlns:xsi=\"" NS_XSI "\" "                     \
	"xmlns:bar=\"urn:bar\">"
	static const char xml[] =
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:foo=\"urn:foo\" "
		"xmlns:bar=\"urn:bar\" xmlns:baz=\"urn:baz\" "
		"xmlns=\"urn:default\" xmlns:xsi=\"" NS_XSI "\">"
		"<s:Body><t:RequestSecurityTokenResponse xmlns:t=\"" NS_TRUST
		"\"><t:RequestedSecurityToken>"
		"<saml:Assertion xmlns:saml=\"" NS_SAML2 "\"><saml:Issuer>i"
		"</saml:Issuer><ds:Transform xmlns:ds=\"" NS_DSIG "\">"
		"<ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/"
		"xml-exc-c14n#\" PrefixList=\" foo\t#default \"/>"
		"</ds:Transform><saml:AttributeValue xsi:type=\" bar:thing \">"
		"x</saml:AttributeValue></saml:Assertion>"
		"</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>"
		"</s:Body></s:Envelope>";
	_cleanup_(secret_freep) struct secret *as = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;

	assert_int_equal(parse_str(xml, &as, NULL), 0);
	assert_true(strneq(as->data, START, strlen(START)));
	assert_null(strstr(as->data, "urn:baz"));
	assert_null(strstr(as->data, NS_SOAP12));
	assert_int_equal(xml_parse(as->data, as->len, 65536, &doc), 0);
#undef START
}

static void test_fault_auth(void **state)
{
	_cleanup_free_ char *fault = NULL;
	struct secret *as = NULL;
	struct buf b;

	test_read_fixture("wstrust-fault-auth.xml", &b);
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, &fault),
			 -EACCES);
	assert_null(as);
	assert_non_null(fault);
	assert_string_equal(fault, AUTH_FAULT_TEXT);
	/* The caller may not want the text. */
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, NULL),
			 -EACCES);
	buf_clear(&b);
}

static void test_fault_auth_by_text(void **state)
{
	static const char by_text[] =
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body><s:Fault>"
		"<s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason>"
		"<s:Text xml:lang=\"en-US\">The user could not be "
		"authenticated.</s:Text></s:Reason></s:Fault></s:Body>"
		"</s:Envelope>";
	static const char by_code[] =
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body><s:Fault>"
		"<s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value "
		"xmlns:w=\"" NS_WSSE "\">w:FailedAuthentication</s:Value>"
		"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">"
		"nope\n\tno</s:Text></s:Reason></s:Fault></s:Body>"
		"</s:Envelope>";
	struct secret *as = NULL;
	char *fault = NULL;

	assert_int_equal(parse_str(by_text, &as, &fault), -EACCES);
	assert_string_equal(fault, "The user could not be authenticated.");
	free(fault);
	fault = NULL;
	/* Control characters become spaces: the text goes into one line. */
	assert_int_equal(parse_str(by_code, &as, &fault), -EACCES);
	assert_string_equal(fault, "nope  no (w:FailedAuthentication)");
	free(fault);
	assert_null(as);
}

static void test_fault_other(void **state)
{
	_cleanup_free_ char *fault = NULL;
	struct secret *as = NULL;
	struct buf b;

	test_read_fixture("wstrust-fault-other.xml", &b);
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, &fault),
			 -EREMOTEIO);
	assert_null(as);
	/* The English text is preferred over the first one. */
	assert_string_equal(fault,
			    "MSIS7007: The requested relying party trust "
			    "'urn:amazon:webservices' is unspecified or "
			    "unsupported. (a:InvalidRequest)");
	buf_clear(&b);
}

static void test_fault_without_reason(void **state)
{
	static const char xml[] =
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body><s:Fault>"
		"<s:Code><s:Value>s:Receiver</s:Value></s:Code></s:Fault>"
		"</s:Body></s:Envelope>";
	_cleanup_free_ char *fault = NULL, *long_xml = NULL, *long_fault = NULL;
	_cleanup_free_ char *text = NULL;
	struct secret *as = NULL;

	assert_int_equal(parse_str(xml, &as, &fault), -EREMOTEIO);
	assert_string_equal(fault, "s:Receiver");

	/* A huge reason is cut (not in the middle of a UTF-8 sequence). */
	text = malloc(3001);
	assert_non_null(text);
	for (size_t i = 0; i < 3000; i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[3000] = '\0';
	assert_true(asprintf(&long_xml,
			     "<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>"
			     "<s:Fault><s:Reason><s:Text>%s</s:Text>"
			     "</s:Reason></s:Fault></s:Body></s:Envelope>",
			     text) > 0);
	assert_int_equal(parse_str(long_xml, &as, &long_fault), -EREMOTEIO);
	assert_true(strlen(long_fault) <= 400);
	assert_true(strlen(long_fault) >= 398);
	assert_int_equal(strlen(long_fault) % 2, 0);
	assert_null(as);
}

static void test_saml11(void **state)
{
	_cleanup_free_ char *fault = NULL;
	struct secret *as = NULL;
	struct buf b;

	test_read_fixture("wstrust-rstr-saml11.xml", &b);
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, &fault),
			 -EOPNOTSUPP);
	assert_null(as);
	assert_non_null(fault);
	assert_non_null(strstr(fault, "SAML 1.1"));
	assert_non_null(strstr(fault, "relying party"));
	assert_non_null(strstr(fault, "SAML 2.0"));
	buf_clear(&b);
}

static void test_encrypted_assertion(void **state)
{
	static const char xml[] =
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>"
		"<t:RequestSecurityTokenResponseCollection xmlns:t=\"" NS_TRUST
		"\"><t:RequestSecurityTokenResponse><t:RequestedSecurityToken>"
		"<EncryptedAssertion xmlns=\"" NS_SAML2 "\"/>"
		"</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>"
		"</t:RequestSecurityTokenResponseCollection></s:Body>"
		"</s:Envelope>";
	_cleanup_free_ char *fault = NULL;
	struct secret *as = NULL;

	assert_int_equal(parse_str(xml, &as, &fault), -EOPNOTSUPP);
	assert_non_null(strstr(fault, "encrypt"));
	assert_null(as);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"garbage",
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body/></s:Envelope>",
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"/>",
		/* SOAP 1.1 is not what usernamemixed/13 speaks */
		"<s:Envelope "
		"xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
		"<s:Body><s:Fault><faultstring>x</faultstring></s:Fault>"
		"</s:Body></s:Envelope>",
		/* an RSTR without a token */
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>"
		"<t:RequestSecurityTokenResponse xmlns:t=\"" NS_TRUST "\">"
		"<t:RequestedSecurityToken>  </t:RequestedSecurityToken>"
		"</t:RequestSecurityTokenResponse></s:Body></s:Envelope>",
		/* a token of another kind */
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>"
		"<t:RequestSecurityTokenResponse xmlns:t=\"" NS_TRUST "\">"
		"<t:RequestedSecurityToken><x:Token xmlns:x=\"urn:x\"/>"
		"</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>"
		"</s:Body></s:Envelope>",
		/* WS-Trust 2005 (the /trust/2005 endpoints) */
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>"
		"<t:RequestSecurityTokenResponse "
		"xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\">"
		"<t:RequestedSecurityToken><Assertion xmlns=\"" NS_SAML2 "\"/>"
		"</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>"
		"</s:Body></s:Envelope>",
		/* truncated */
		"<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body>",
		/* XXE: a DOCTYPE is refused before anything in it is read */
		"<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY x "
		"SYSTEM \"file:///etc/passwd\">]><s:Envelope xmlns:s=\""
		NS_SOAP12 "\"><s:Body><s:Fault><s:Reason><s:Text>&x;"
		"</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
		/* billion laughs */
		"<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
		"\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>",
		/* a harmless DOCTYPE is refused too */
		"<!DOCTYPE s:Envelope><s:Envelope xmlns:s=\"" NS_SOAP12 "\"/>",
	};
	struct secret *as = NULL;
	char *fault = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(parse_str(bad[i], &as, &fault), -EBADMSG);
		assert_null(as);
		assert_null(fault);
	}
	assert_int_equal(wstrust_parse_response("", 0, &as, &fault), -EBADMSG);
}

static void test_parse_oversize(void **state)
{
	_cleanup_free_ char *big = NULL;
	struct secret *as = NULL;
	char *fault = NULL;
	size_t n = WSTRUST_MAX_REPLY + 1;

	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "<x>", 3);
	memcpy(big + n - 4, "</x>", 4);
	assert_int_equal(wstrust_parse_response(big, n, &as, &fault), -E2BIG);
	assert_null(as);
	assert_null(fault);
}

/* ---- the wrapper ------------------------------------------------------ */

static void test_wrap(void **state)
{
	_cleanup_(secret_freep) struct secret *as = NULL, *b64 = NULL;
	_cleanup_(secret_freep) struct secret *xml = NULL;
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *want_c14n = NULL, *got_c14n = NULL;
	const char *id;
	xmlNode *root, *n;
	struct buf b;

	test_read_fixture("wstrust-rstr.xml", &b);
	assert_int_equal(wstrust_parse_response(b.data, b.len, &as, NULL), 0);
	assert_int_equal(wstrust_wrap_response(as, SIGNIN_AWS, NOW, &b64), 0);
	assert_int_equal(strlen(b64->data), b64->len);
	assert_null(strpbrk(b64->data, "\r\n "));

	/* What the rest of the daemon does with it. */
	assert_int_equal(saml_parse_base64(b64->data, b64->len, &info), 0);
	assert_int_equal(info->n_roles, 2);
	assert_string_equal(info->roles[0].role_arn, ROLE_DEV);
	assert_string_equal(info->roles[0].principal_arn, PROVIDER);
	assert_string_equal(info->roles[1].role_arn, ROLE_PROD);
	assert_string_equal(info->roles[1].principal_arn, PROVIDER);
	assert_string_equal(info->role_session_name, "jdoe@example.com");
	assert_string_equal(info->name_id, "EXAMPLE\\jdoe");
	assert_int_equal(info->issue_instant, NOW);
	/* SubjectConfirmationData 09:17:33.401 */
	assert_int_equal(info->not_on_or_after, 1715678253401000ULL);

	/* The Response around it. */
	assert_int_equal(encode_base64_decode_secret(b64->data, b64->len, &xml), 0);
	assert_int_equal(xml_parse(xml->data, xml->len, SAML_MAX_XML, &doc), 0);
	root = xmlDocGetRootElement(doc);
	assert_true(xml_is(root, NS_SAML2P, "Response"));
	assert_string_equal(xml_attr(root, "Version"), "2.0");
	assert_string_equal(xml_attr(root, "IssueInstant"),
			    "2024-05-14T09:12:33.417Z");
	assert_string_equal(xml_attr(root, "Destination"), SIGNIN_AWS);
	id = xml_attr(root, "ID");
	assert_non_null(id);
	assert_int_equal(strlen(id), 33);
	assert_int_equal(id[0], '_');
	assert_text(xml_child(root, NS_SAML2, "Issuer"), ISSUER);
	n = xml_child(xml_child(root, NS_SAML2P, "Status"), NS_SAML2P,
		      "StatusCode");
	assert_string_equal(xml_attr(n, "Value"),
			    "urn:oasis:names:tc:SAML:2.0:status:Success");
	/* The assertion is the original, byte for byte and for C14N. */
	n = xml_child(root, NS_SAML2, "Assertion");
	assert_non_null(n);
	assert_non_null(strstr(xml->data, as->data));
	want_c14n = fixture_assertion_c14n(&b);
	got_c14n = exc_c14n(doc, n);
	assert_string_equal(got_c14n, want_c14n);
	buf_clear(&b);
}

static void test_wrap_ids_differ(void **state)
{
	static const char a[] = "<Assertion xmlns=\"" NS_SAML2 "\"><Issuer>"
				"i</Issuer></Assertion>";
	_cleanup_(secret_freep) struct secret *as = NULL, *x = NULL, *y = NULL;

	as = secret_new_from(a, strlen(a));
	assert_non_null(as);
	assert_int_equal(wstrust_wrap_response(as, SIGNIN_AWS, NOW, &x), 0);
	assert_int_equal(wstrust_wrap_response(as, SIGNIN_AWS, NOW, &y), 0);
	assert_false(streq(x->data, y->data));
}

static void test_wrap_rejects(void **state)
{
	static const struct {
		const char *xml;
		int r;
	} cases[] = {
		{ "garbage", -EBADMSG },
		{ "<x/>", -EBADMSG },
		/* SAML core 2.3.3: Issuer is required */
		{ "<Assertion xmlns=\"" NS_SAML2 "\"/>", -EBADMSG },
		{ "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:"
		  "assertion\"/>",
		  -EOPNOTSUPP },
		{ "<!DOCTYPE a><Assertion xmlns=\"" NS_SAML2 "\"><Issuer>i"
		  "</Issuer></Assertion>",
		  -EBADMSG },
	};
	struct secret *out = NULL;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(secret_freep) struct secret *as =
			secret_new_from(cases[i].xml, strlen(cases[i].xml));

		assert_non_null(as);
		assert_int_equal(wstrust_wrap_response(as, SIGNIN_AWS, NOW, &out),
				 cases[i].r);
		assert_null(out);
	}
	{
		static const char a[] = "<Assertion xmlns=\"" NS_SAML2 "\">"
					"<Issuer>i</Issuer></Assertion>";
		_cleanup_(secret_freep) struct secret *as =
			secret_new_from(a, strlen(a));

		assert_int_equal(wstrust_wrap_response(as, NULL, NOW, &out),
				 -EINVAL);
		assert_int_equal(wstrust_wrap_response(as, "bad\x01", NOW,
						       &out),
				 -EINVAL);
		assert_null(out);
	}
}

/* The Destination is the SAML sign-in URL of the partition: from the
 * region, else from the roles' ARNs, else the commercial one. */
static void test_destination_follows_partition(void **state)
{
	struct conf_role cn_role = {
		.arn = (char *)"arn:aws-cn:iam::123456789012:role/Dev",
	};
	struct conf_role eusc_role = {
		.arn = (char *)"arn:aws-eusc:iam::123456789012:role/Dev",
	};
	struct conf conf = { 0 };
	const char *d;

	assert_string_equal(wstrust_destination(&conf), SIGNIN_AWS);
	conf.aws.region = (char *)"eu-west-1";
	assert_string_equal(wstrust_destination(&conf), SIGNIN_AWS);
	conf.aws.region = (char *)"cn-north-1";
	assert_string_equal(wstrust_destination(&conf), SIGNIN_CN);
	conf.aws.region = (char *)"us-gov-west-1";
	assert_string_equal(wstrust_destination(&conf),
			    "https://signin.amazonaws-us-gov.com/saml");
	conf.aws.region = (char *)"eusc-de-east-1";
	d = wstrust_destination(&conf);
	assert_null(strstr(d, "amazon.com"));
	assert_null(strstr(d, "amazonaws.com"));
	assert_string_equal(d, partition_from_name("aws-eusc")->saml_signin);

	/* No region: the roles' partition. */
	conf.aws.region = NULL;
	conf.roles = &cn_role;
	conf.n_roles = 1;
	assert_string_equal(wstrust_destination(&conf), SIGNIN_CN);
	conf.roles = &eusc_role;
	assert_string_equal(wstrust_destination(&conf), d);
}

/* The wrapper writes the Destination it is given, escaped. */
static void test_wrap_destination(void **state)
{
	static const char a[] = "<Assertion xmlns=\"" NS_SAML2 "\"><Issuer>"
				"i</Issuer></Assertion>";
	_cleanup_(secret_freep) struct secret *as = NULL, *b64 = NULL;
	_cleanup_(secret_freep) struct secret *xml = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;

	as = secret_new_from(a, strlen(a));
	assert_non_null(as);
	assert_int_equal(wstrust_wrap_response(as, SIGNIN_CN, NOW, &b64), 0);
	assert_int_equal(encode_base64_decode_secret(b64->data, b64->len,
						     &xml),
			 0);
	assert_int_equal(xml_parse(xml->data, xml->len, SAML_MAX_XML, &doc),
			 0);
	assert_string_equal(xml_attr(xmlDocGetRootElement(doc),
				     "Destination"),
			    SIGNIN_CN);
}

/* An assertion handed over with an XML declaration (or a BOM) still makes
 * a well-formed Response; the issuer is escaped. */
static void test_wrap_declaration(void **state)
{
	static const char a[] =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<saml:Assertion xmlns:saml=\"" NS_SAML2 "\"><saml:Issuer>"
		"https://x/?a=1&amp;b=&lt;2&gt;</saml:Issuer>"
		"<saml:AttributeStatement><saml:Attribute Name=\""
		"https://aws.amazon.com/SAML/Attributes/Role\">"
		"<saml:AttributeValue>" ROLE_DEV "," PROVIDER
		"</saml:AttributeValue></saml:Attribute>"
		"</saml:AttributeStatement></saml:Assertion>";
	_cleanup_(secret_freep) struct secret *as = NULL, *b64 = NULL;
	_cleanup_(secret_freep) struct secret *xml = NULL;
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;

	as = secret_new_from(a, strlen(a));
	assert_non_null(as);
	assert_int_equal(wstrust_wrap_response(as, SIGNIN_AWS, NOW, &b64), 0);
	assert_int_equal(saml_parse_base64(b64->data, b64->len, &info), 0);
	assert_int_equal(info->n_roles, 1);
	assert_int_equal(encode_base64_decode_secret(b64->data, b64->len, &xml), 0);
	assert_int_equal(xml_parse(xml->data, xml->len, SAML_MAX_XML, &doc), 0);
	assert_text(xml_child(xmlDocGetRootElement(doc), NS_SAML2, "Issuer"),
		    "https://x/?a=1&b=<2>");
}

/* ---- whole rounds against a local TLS server --------------------------- */

struct tls_server {
	EVP_PKEY *key;
	X509 *cert;
	char ca_path[64];
};

static struct tls_server server;

/* A self-signed P-256 certificate for 127.0.0.1, also used as the CA. */
static int make_cert(void **state)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	X509_NAME *name;
	FILE *f;
	int fd;

	server.key = EVP_EC_gen("P-256");
	server.cert = X509_new();
	assert_non_null(server.key);
	assert_non_null(server.cert);
	assert_true(X509_set_version(server.cert, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(server.cert), 1));
	assert_non_null(
		X509_gmtime_adj(X509_getm_notBefore(server.cert), -3600));
	assert_non_null(
		X509_gmtime_adj(X509_getm_notAfter(server.cert), 86400));
	assert_true(X509_set_pubkey(server.cert, server.key));
	name = X509_get_subject_name(server.cert);
	assert_true(X509_NAME_add_entry_by_txt(
		name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1",
		-1, -1, 0));
	assert_true(X509_set_issuer_name(server.cert, name));
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, server.cert, server.cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
				  "IP:127.0.0.1");
	assert_non_null(ext);
	assert_true(X509_add_ext(server.cert, ext, -1));
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  "critical,CA:TRUE");
	assert_non_null(ext);
	assert_true(X509_add_ext(server.cert, ext, -1));
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(server.cert, server.key, EVP_sha256()) > 0);

	(void)snprintf(server.ca_path, sizeof(server.ca_path),
		       "/tmp/test-wstrust-ca-XXXXXX");
	fd = mkstemp(server.ca_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_true(PEM_write_X509(f, server.cert));
	assert_int_equal(fclose(f), 0);
	return 0;
}

static int drop_cert(void **state)
{
	(void)unlink(server.ca_path);
	X509_free(server.cert);
	EVP_PKEY_free(server.key);
	return 0;
}

/* What the child saw and what the round reported. */
struct round {
	int r;
	bool called;
	char msg[512];
	struct secret *saml;
	struct wstrust_call *call;
	char request[16384];
	size_t request_len;
};

/* Serves one HTTPS request on listener with status/body, after writing
 * the raw request to fd out. Runs in the forked child; never returns. */
static void serve_one(int listener, int out, int status, const char *body)
{
	char req[16384], head[256];
	size_t got = 0, want = 0;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, n;

	/* Never outlive the test, whatever the client does. */
	(void)alarm(20);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, server.cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, server.key) != 1)
		_exit(2);
	fd = accept(listener, NULL, NULL);
	if (fd < 0)
		_exit(3);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
		/* The client refused our certificate. */
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		_exit(0);
	}
	for (;;) {
		char *end;

		n = SSL_read(ssl, req + got, (int)(sizeof(req) - 1 - got));
		if (n <= 0)
			_exit(4);
		got += (size_t)n;
		req[got] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (!end)
			continue;
		if (!want) {
			const char *cl = strcasestr(req, "Content-Length:");

			want = (size_t)(end - req) + 4 +
			       (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (got >= want || got >= sizeof(req) - 1)
			break;
	}
	if (write(out, req, got) != (ssize_t)got)
		_exit(5);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d X\r\nContent-Type: application/soap+xml; "
		     "charset=utf-8\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n",
		     status, strlen(body));
	if (SSL_write(ssl, head, n) != n ||
	    SSL_write(ssl, body, (int)strlen(body)) != (int)strlen(body))
		_exit(6);
	(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	(void)close(fd);
	_exit(0);
}

static void on_round_done(int r, struct secret *saml, const char *message,
			  void *userdata)
{
	struct round *rd = userdata;

	assert_false(rd->called);
	rd->called = true;
	rd->r = r;
	rd->saml = saml;
	if (message)
		(void)snprintf(rd->msg, sizeof(rd->msg), "%s", message);
	/* The contract: done is the call's last act, so it may be freed. */
	rd->call = wstrust_call_free(rd->call);
}

/* aws.region for the next run_round (NULL: none). */
static char *round_region;

/* Runs one wstrust_fetch against a child serving status/body. */
static void run_round(int status, const char *body, bool trust,
		      struct round *rd)
{
	_cleanup_(secret_freep) struct secret *pw = password();
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct curl_glue *g = NULL;
	char url[64];
	struct conf conf = { 0 };
	sd_event *e = NULL;
	int listener, pipefd[2], wstatus;
	pid_t pid;
	ssize_t n;

	memset(rd, 0, sizeof(*rd));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listener, 4), 0);
	assert_int_equal(getsockname(listener, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(pipe(pipefd), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)close(pipefd[0]);
		serve_one(listener, pipefd[1], status, body);
	}
	(void)close(listener);
	(void)close(pipefd[1]);

	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%u",
		       (unsigned)ntohs(sa.sin_port));
	conf.adfs.url = url;
	conf.adfs.username = (char *)"EXAMPLE\\jdoe";
	conf.adfs.relying_party = (char *)CONF_DEFAULT_RELYING_PARTY;
	conf.adfs.auth = CONF_AUTH_WSTRUST;
	conf.adfs.ca_file = trust ? server.ca_path : NULL;
	conf.adfs.timeout = 10 * USEC_PER_SEC;
	conf.aws.region = round_region;

	assert_true(sd_event_new(&e) >= 0);
	assert_int_equal(curl_glue_new(e, &g), 0);
	assert_int_equal(wstrust_fetch(g, &conf, pw, on_round_done, rd,
				       &rd->call),
			 0);
	for (int i = 0; i < 200 && !rd->called; i++)
		assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
	assert_true(rd->called);
	assert_null(rd->call);
	/* No message ever carries the password. */
	assert_null(strstr(rd->msg, PASSWORD));

	n = read(pipefd[0], rd->request, sizeof(rd->request) - 1);
	rd->request_len = n > 0 ? (size_t)n : 0;
	rd->request[rd->request_len] = '\0';
	(void)close(pipefd[0]);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
	curl_glue_free(g);
	sd_event_unref(e);
}

static char *fixture_string(const char *name)
{
	struct buf b;
	char *s;

	test_read_fixture(name, &b);
	s = strdup(b.data);
	assert_non_null(s);
	buf_clear(&b);
	return s;
}

static void test_fetch_ok(void **state)
{
	_cleanup_free_ char *body = fixture_string("wstrust-rstr.xml");
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	struct round rd;
	const char *env;
	xmlNode *tok;

	run_round(200, body, true, &rd);
	assert_int_equal(rd.r, 0);
	assert_string_equal(rd.msg, "");
	assert_non_null(rd.saml);
	assert_int_equal(saml_parse_base64(rd.saml->data, rd.saml->len, &info),
			 0);
	assert_int_equal(info->n_roles, 2);
	assert_string_equal(info->roles[0].role_arn, ROLE_DEV);
	rd.saml = secret_free(rd.saml);

	/* What went over the wire. */
	assert_true(strneq(rd.request,
			   "POST " WSTRUST_PATH " HTTP/1.1\r\n",
			   strlen("POST " WSTRUST_PATH " HTTP/1.1\r\n")));
	assert_non_null(strcasestr(rd.request,
				   "\r\nContent-Type: application/soap+xml; "
				   "charset=utf-8\r\n"));
	env = strstr(rd.request, "\r\n\r\n");
	assert_non_null(env);
	env += 4;
	assert_int_equal(xml_parse(env, strlen(env), 65536, &doc), 0);
	tok = xml_find(xmlDocGetRootElement(doc), NULL, NS_WSSE,
		       "UsernameToken");
	assert_text(xml_child(tok, NS_WSSE, "Username"), "EXAMPLE\\jdoe");
	assert_text(xml_child(tok, NS_WSSE, "Password"), PASSWORD);
	{
		xmlNode *n = xml_find(xmlDocGetRootElement(doc), NULL, NS_WSA,
				      "To");
		_cleanup_free_ char *to = NULL;

		assert_non_null(n);
		assert_int_equal(xml_text_dup(n, &to), 0);
		assert_true(strneq(to, "https://127.0.0.1:", 18));
		assert_true(strlen(to) > strlen(WSTRUST_PATH));
		assert_string_equal(to + strlen(to) - strlen(WSTRUST_PATH),
				    WSTRUST_PATH);
	}
	explicit_bzero(rd.request, sizeof(rd.request));
}

/* A round for an aws-eusc region wraps the assertion for that
 * partition's sign-in URL, not the commercial one. */
static void test_fetch_partition(void **state)
{
	_cleanup_free_ char *body = fixture_string("wstrust-rstr.xml");
	_cleanup_(secret_freep) struct secret *xml = NULL;
	_cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
	struct round rd;

	round_region = (char *)"eusc-de-east-1";
	run_round(200, body, true, &rd);
	round_region = NULL;
	assert_int_equal(rd.r, 0);
	assert_non_null(rd.saml);
	assert_int_equal(encode_base64_decode_secret(rd.saml->data,
						     rd.saml->len, &xml),
			 0);
	rd.saml = secret_free(rd.saml);
	explicit_bzero(rd.request, sizeof(rd.request));
	assert_int_equal(xml_parse(xml->data, xml->len, SAML_MAX_XML, &doc),
			 0);
	assert_string_equal(xml_attr(xmlDocGetRootElement(doc),
				     "Destination"),
			    partition_from_name("aws-eusc")->saml_signin);
}

static void test_fetch_auth_fault(void **state)
{
	_cleanup_free_ char *body = fixture_string("wstrust-fault-auth.xml");
	struct round rd;

	run_round(500, body, true, &rd);
	assert_int_equal(rd.r, -EACCES);
	assert_null(rd.saml);
	assert_string_equal(rd.msg,
			    "ADFS rejected the sign-in: " AUTH_FAULT_TEXT);
	explicit_bzero(rd.request, sizeof(rd.request));
}

static void test_fetch_other_fault(void **state)
{
	_cleanup_free_ char *body = fixture_string("wstrust-fault-other.xml");
	struct round rd;

	run_round(500, body, true, &rd);
	assert_int_equal(rd.r, -EREMOTEIO);
	assert_true(strneq(rd.msg, "ADFS WS-Trust fault: MSIS7007: ", 31));
	explicit_bzero(rd.request, sizeof(rd.request));
}

static void test_fetch_saml11(void **state)
{
	_cleanup_free_ char *body = fixture_string("wstrust-rstr-saml11.xml");
	struct round rd;

	run_round(200, body, true, &rd);
	assert_int_equal(rd.r, -EOPNOTSUPP);
	assert_non_null(strstr(rd.msg, "must issue SAML 2.0"));
	explicit_bzero(rd.request, sizeof(rd.request));
}

static void test_fetch_not_published(void **state)
{
	struct round rd;

	run_round(404, "<html>Not Found</html>", true, &rd);
	assert_int_equal(rd.r, -EPROTO);
	assert_string_equal(rd.msg,
			    "the WS-Trust endpoint "
			    "/adfs/services/trust/13/usernamemixed is not "
			    "published (Get-AdfsEndpoint; enable it or use "
			    "auth: forms)");
	explicit_bzero(rd.request, sizeof(rd.request));
}

static void test_fetch_unexpected(void **state)
{
	struct round rd;

	run_round(503, "<html>Service Unavailable</html>", true, &rd);
	assert_int_equal(rd.r, -EPROTO);
	assert_non_null(strstr(rd.msg, "HTTP 503"));
	explicit_bzero(rd.request, sizeof(rd.request));

	run_round(200, "<html>hello</html>", true, &rd);
	assert_int_equal(rd.r, -EPROTO);
	assert_non_null(strstr(rd.msg, "neither a SAML 2.0 assertion nor a "
					"SOAP fault"));
	explicit_bzero(rd.request, sizeof(rd.request));
}

static void test_fetch_untrusted(void **state)
{
	struct round rd;

	run_round(200, "", false, &rd);
	assert_int_equal(rd.r, -EPROTO);
	assert_non_null(strstr(rd.msg, "TLS to ADFS at 127.0.0.1 failed"));
	assert_non_null(strstr(rd.msg, "adfs.ca_file"));
	assert_int_equal(rd.request_len, 0);
}

static void test_fetch_no_password(void **state)
{
	struct conf conf = { 0 };
	struct wstrust_call *c = NULL;
	struct curl_glue *g = NULL;
	sd_event *e = NULL;
	struct round rd = { 0 };

	conf.adfs.url = (char *)"https://adfs.example.com";
	conf.adfs.username = (char *)"u";
	assert_true(sd_event_new(&e) >= 0);
	assert_int_equal(curl_glue_new(e, &g), 0);
	assert_int_equal(wstrust_fetch(g, &conf, NULL, on_round_done, &rd, &c),
			 -ENOKEY);
	assert_null(c);
	assert_true(sd_event_run(e, 0) >= 0);
	assert_false(rd.called);
	assert_null(wstrust_call_free(NULL));
	curl_glue_free(g);
	sd_event_unref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_request),
		cmocka_unit_test(test_build_request_ids_differ),
		cmocka_unit_test(test_build_request_rejects),
		cmocka_unit_test(test_parse_fixture),
		cmocka_unit_test(test_parse_bare_rstr_self_declared),
		cmocka_unit_test(test_parse_prefix_list),
		cmocka_unit_test(test_fault_auth),
		cmocka_unit_test(test_fault_auth_by_text),
		cmocka_unit_test(test_fault_other),
		cmocka_unit_test(test_fault_without_reason),
		cmocka_unit_test(test_saml11),
		cmocka_unit_test(test_encrypted_assertion),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_oversize),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_wrap_ids_differ),
		cmocka_unit_test(test_wrap_rejects),
		cmocka_unit_test(test_wrap_declaration),
		cmocka_unit_test(test_destination_follows_partition),
		cmocka_unit_test(test_wrap_destination),
		cmocka_unit_test(test_fetch_partition),
		cmocka_unit_test(test_fetch_ok),
		cmocka_unit_test(test_fetch_auth_fault),
		cmocka_unit_test(test_fetch_other_fault),
		cmocka_unit_test(test_fetch_saml11),
		cmocka_unit_test(test_fetch_not_published),
		cmocka_unit_test(test_fetch_unexpected),
		cmocka_unit_test(test_fetch_untrusted),
		cmocka_unit_test(test_fetch_no_password),
	};

	return cmocka_run_group_tests(tests, make_cert, drop_cert);
}
