/* ADFS WS-Trust 1.3 usernamemixed client (PROTOCOLS.md D4): a SOAP 1.2
 * RequestSecurityToken (WS-Trust 1.3 section 4.1, WSS UsernameToken
 * Profile 1.0 PasswordText), the RequestSecurityTokenResponse(Collection)
 * or SOAP 1.2 Fault it answers with (SOAP 1.2 part 1 section 5.4), and the
 * samlp:Response wrapper STS AssumeRoleWithSAML wants (PROTOCOLS.md C1).
 * The three builders/parsers are pure; wstrust_fetch does the one POST.
 * See docs/internals/wstrust.md. */
#include "idp/wstrust.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <libxml/xmlstring.h>

#include "net/http-call.h"
#include "util/timeutil.h"
#include "util/xml.h"

#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_ADDRESSING "http://www.w3.org/2005/08/addressing"
#define NS_WSU                                                               \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_WSSE                                                              \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_TRUST "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
#define NS_POLICY "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define NS_SAML2 "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_SAML2P "urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_SAML11 "urn:oasis:names:tc:SAML:1.0:assertion"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"

#define PASSWORD_TEXT                                                        \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-username-token-profile-1.0#PasswordText"
#define AWS_SAML_DESTINATION "https://signin.aws.amazon.com/saml"

/* u:Timestamp validity (Created .. Expires). */
#define REQUEST_LIFETIME (5 * USEC_PER_MINUTE)
/* Fault text handed back for messages: one line, at most this many bytes. */
#define FAULT_TEXT_MAX 400u
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes) and its NUL, with room. */
#define ISO8601_MS_MAX 32
/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" and its NUL. */
#define UUID_STRING_MAX 37

struct wstrust_call {
	struct http_call *http;
	wstrust_done_fn done;
	void *userdata;
	char *url;  /* the usernamemixed endpoint, for messages */
	char *host; /* its host, for TLS messages */
};

/* ---- small helpers ---------------------------------------------------- */

/* Formats t as an xs:dateTime in UTC with milliseconds, as WCF writes the
 * u:Timestamp ("2024-05-14T09:12:33.417Z"). */
static char *format_iso8601_ms(char buf[static ISO8601_MS_MAX], usec_t t)
{
	time_t s = (time_t)(t / USEC_PER_SEC);
	unsigned ms = (unsigned)(t % USEC_PER_SEC / USEC_PER_MSEC);
	char base[ISO8601_MAX];
	struct tm tm;

	if (!gmtime_r(&s, &tm) ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		(void)snprintf(base, sizeof(base), "1970-01-01T00:00:00");
	(void)snprintf(buf, ISO8601_MS_MAX, "%s.%03uZ", base, ms);
	return buf;
}

/* A random (version 4, RFC 9562 section 5.4) UUID in lower-case hex. */
static int random_uuid(char buf[static UUID_STRING_MAX])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	(void)snprintf(buf, UUID_STRING_MAX,
		       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		       "%02x%02x%02x%02x%02x%02x",
		       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
		       b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* Whether len bytes at p can be carried as XML 1.0 character data: valid
 * UTF-8 without NUL or C0 controls other than tab, LF and CR. */
static bool xml_text_ok(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return false;
	}
	/* The loop above rules out NUL, so p is a C string of length len. */
	return len == 0 || xmlCheckUTF8((const unsigned char *)p) == 1;
}

/* Appends len bytes of p to s with & < > " ' escaped (so the text is safe
 * in element content and in either kind of attribute quotes). CR becomes
 * a character reference so that it survives XML line-end normalisation. */
static int append_escaped(struct secret *s, const char *p, size_t len)
{
	size_t start = 0;
	int r;

	for (size_t i = 0; i < len; i++) {
		const char *rep;

		switch (p[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		default:
			continue;
		}
		r = secret_append(s, p + start, i - start);
		if (r < 0)
			return r;
		r = secret_append(s, rep, strlen(rep));
		if (r < 0)
			return r;
		start = i + 1;
	}
	return secret_append(s, p + start, len - start);
}

/* A piece of a document being assembled into a secret. */
struct part {
	const char *s;
	size_t len;
	bool escape;
};

#define LIT(x) { .s = (x), .len = sizeof(x) - 1, .escape = false }
#define RAW(x) { .s = (x), .len = strlen(x), .escape = false }
#define ESC(x, n) { .s = (x), .len = (n), .escape = true }

/* Sums the worst-case size of parts (escaping grows a byte to at most 6);
 * -E2BIG on overflow. */
static int parts_size(const struct part *parts, size_t n, size_t *ret)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l;

		if (__builtin_mul_overflow(parts[i].len,
					   parts[i].escape ? 6u : 1u, &l) ||
		    __builtin_add_overflow(total, l, &total))
			return -E2BIG;
	}
	*ret = total;
	return 0;
}

/* Assembles parts into a new secret sized for them. */
static int parts_build(const struct part *parts, size_t n,
		       struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *s = NULL;
	size_t cap;
	int r;

	r = parts_size(parts, n, &cap);
	if (r < 0)
		return r;
	s = secret_new(cap);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct part *pt = &parts[i];

		r = pt->escape ? append_escaped(s, pt->s, pt->len)
			       : secret_append(s, pt->s, pt->len);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- the request ------------------------------------------------------ */

int wstrust_build_request(const char *endpoint, const char *username,
			  const struct secret *password,
			  const char *relying_party, usec_t now,
			  struct secret **ret)
{
	char created[ISO8601_MS_MAX], expires[ISO8601_MS_MAX];
	char message_id[UUID_STRING_MAX], token_id[UUID_STRING_MAX];
	int r;

	assert(ret);

	if (!endpoint || !username || !password || !relying_party)
		return -EINVAL;
	/* What cannot be written as XML text would make ADFS answer with a
	 * parse fault that reads like a server problem: refuse it here. */
	if (!xml_text_ok(endpoint, strlen(endpoint)) ||
	    !xml_text_ok(username, strlen(username)) ||
	    !xml_text_ok(password->data, password->len) ||
	    !xml_text_ok(relying_party, strlen(relying_party)))
		return -EINVAL;

	r = random_uuid(message_id);
	if (r < 0)
		return r;
	r = random_uuid(token_id);
	if (r < 0)
		return r;
	(void)format_iso8601_ms(created, now);
	(void)format_iso8601_ms(expires, now + REQUEST_LIFETIME);

	{
		/* Namespace prefixes as the WCF clients of PROTOCOLS.md D4
		 * write them, all declared on the Envelope. */
		const struct part parts[] = {
			LIT("<s:Envelope"
			    " xmlns:s=\"" NS_SOAP12 "\""
			    " xmlns:a=\"" NS_ADDRESSING "\""
			    " xmlns:u=\"" NS_WSU "\""
			    " xmlns:o=\"" NS_WSSE "\""
			    " xmlns:t=\"" NS_TRUST "\""
			    " xmlns:wsp=\"" NS_POLICY "\">"
			    "<s:Header>"
			    "<a:Action s:mustUnderstand=\"1\">"
			    NS_TRUST "/RST/Issue</a:Action>"
			    "<a:MessageID>urn:uuid:"),
			RAW(message_id),
			LIT("</a:MessageID>"
			    "<a:ReplyTo><a:Address>"
			    NS_ADDRESSING "/anonymous"
			    "</a:Address></a:ReplyTo>"
			    "<a:To s:mustUnderstand=\"1\">"),
			ESC(endpoint, strlen(endpoint)),
			LIT("</a:To>"
			    "<o:Security s:mustUnderstand=\"1\">"
			    "<u:Timestamp u:Id=\"_0\"><u:Created>"),
			RAW(created),
			LIT("</u:Created><u:Expires>"),
			RAW(expires),
			LIT("</u:Expires></u:Timestamp>"
			    "<o:UsernameToken u:Id=\"uuid-"),
			RAW(token_id),
			LIT("-1\"><o:Username>"),
			ESC(username, strlen(username)),
			LIT("</o:Username>"
			    "<o:Password Type=\"" PASSWORD_TEXT "\">"),
			ESC(password->data, password->len),
			LIT("</o:Password></o:UsernameToken>"
			    "</o:Security>"
			    "</s:Header>"
			    "<s:Body>"
			    "<t:RequestSecurityToken>"
			    "<wsp:AppliesTo><a:EndpointReference><a:Address>"),
			ESC(relying_party, strlen(relying_party)),
			LIT("</a:Address></a:EndpointReference></wsp:AppliesTo>"
			    "<t:KeyType>" NS_TRUST "/Bearer</t:KeyType>"
			    "<t:RequestType>" NS_TRUST "/Issue</t:RequestType>"
			    "<t:TokenType>" NS_SAML2 "</t:TokenType>"
			    "</t:RequestSecurityToken>"
			    "</s:Body>"
			    "</s:Envelope>"),
		};

		return parts_build(parts, ELEMENTSOF(parts), ret);
	}
}

/* ---- the reply -------------------------------------------------------- */

/* Copies text into a new one-line string of at most FAULT_TEXT_MAX bytes:
 * control characters become spaces (ADFS text goes into log lines) and a
 * cut never splits a UTF-8 sequence. */
static char *fault_line(const char *text)
{
	size_t n = strlen(text);
	char *s;

	if (n > FAULT_TEXT_MAX) {
		n = FAULT_TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	s = strndup(text, n);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/* Whether the QName in the text of value names local, e.g.
 * "a:FailedAuthentication". The namespace is not compared: ADFS writes the
 * WS-Trust one, WS-Security defines the same code in its own. */
static bool qname_is(const char *value, const char *local)
{
	const char *colon = strrchr(value, ':');

	return streq(colon ? colon + 1 : value, local);
}

/* The s:Reason/s:Text to show: English if there is one, else the first. */
static xmlNode *fault_reason_text(const xmlNode *fault)
{
	xmlNode *reason = xml_child(fault, NS_SOAP12, "Reason");
	xmlNode *first = xml_child(reason, NS_SOAP12, "Text");

	for (xmlNode *t = first; t;
	     t = xml_next_sibling(t, NS_SOAP12, "Text")) {
		_cleanup_(xml_char_freep) xmlChar *lang = xmlNodeGetLang(t);

		if (lang && xmlStrncasecmp(lang, XC("en"), 2) == 0)
			return t;
	}
	return first;
}

/* Reads a SOAP 1.2 Fault (part 1, 5.4): Reason/Text, Code/Value and the
 * Subcode chain. -EACCES for an authentication failure, else -EREMOTEIO;
 * the text goes to *ret_fault when asked for. */
static int parse_fault(const xmlNode *fault, char **ret_fault)
{
	_cleanup_free_ char *reason = NULL, *code = NULL, *subcode = NULL;
	_cleanup_free_ char *text = NULL;
	xmlNode *n, *c;
	bool auth = false;
	int r;

	n = fault_reason_text(fault);
	if (n) {
		r = xml_text_dup(n, &reason);
		if (r < 0)
			return r;
	}
	c = xml_child(fault, NS_SOAP12, "Code");
	n = xml_child(c, NS_SOAP12, "Value");
	if (n) {
		r = xml_text_dup(n, &code);
		if (r < 0)
			return r;
	}
	/* Subcodes nest; keep the innermost, look at all of them. The
	 * depth is bounded by the parser's own depth limit. */
	for (c = xml_child(c, NS_SOAP12, "Subcode"); c;
	     c = xml_child(c, NS_SOAP12, "Subcode")) {
		n = xml_child(c, NS_SOAP12, "Value");
		if (!n)
			continue;
		free(subcode);
		subcode = NULL;
		r = xml_text_dup(n, &subcode);
		if (r < 0)
			return r;
		if (qname_is(subcode, "FailedAuthentication"))
			auth = true;
	}
	/* ADFS answers a wrong password or a locked/disabled account with
	 * "ID3242: The security token could not be authenticated or
	 * authorized." and Subcode a:FailedAuthentication. */
	if (reason && (strneq(reason, "ID3242", 6) ||
		       strstr(reason, "could not be authenticated")))
		auth = true;

	if (ret_fault) {
		const char *main_text = reason && *reason ? reason
					: code && *code ? code
							: "(no reason given)";
		_cleanup_free_ char *joined = NULL;

		if (subcode && *subcode) {
			if (asprintf(&joined, "%s (%s)", main_text,
				     subcode) < 0)
				return -ENOMEM;
			text = fault_line(joined);
		} else {
			text = fault_line(main_text);
		}
		if (!text)
			return -ENOMEM;
		*ret_fault = TAKE_PTR(text);
	}
	return auth ? -EACCES : -EREMOTEIO;
}

/* Reports an unusable token with a message in *ret_fault. */
static int unsupported(char **ret_fault, const char *msg)
{
	if (ret_fault) {
		char *s = strdup(msg);

		if (!s)
			return -ENOMEM;
		*ret_fault = s;
	}
	return -EOPNOTSUPP;
}

/* The token element inside the first RequestedSecurityToken of an RSTR
 * or of any RSTR of an RSTR Collection (WS-Trust 1.3 section 4.3), or
 * NULL. */
static xmlNode *requested_token(const xmlNode *top)
{
	const xmlNode *rstr;

	if (xml_is(top, NS_TRUST, "RequestSecurityTokenResponseCollection"))
		rstr = xml_child(top, NS_TRUST, "RequestSecurityTokenResponse");
	else if (xml_is(top, NS_TRUST, "RequestSecurityTokenResponse"))
		rstr = top;
	else
		return NULL;
	for (; rstr; rstr = xml_next_sibling(rstr, NS_TRUST,
					      "RequestSecurityTokenResponse")) {
		xmlNode *rst = xml_child(rstr, NS_TRUST,
					 "RequestedSecurityToken");

		for (xmlNode *t = rst ? rst->children : NULL; t; t = t->next)
			if (t->type == XML_ELEMENT_NODE)
				return t;
	}
	return NULL;
}

/* Makes prefix (NULL: the default namespace), used at e, resolve inside
 * the subtree at top as it does in place: when no element from e up to top
 * declares it, top gets the declaration in scope there. */
static int need_prefix(xmlDoc *doc, xmlNode *top, const xmlNode *e,
		       const xmlChar *prefix)
{
	xmlNs *ns;

	/* xml: is bound by definition and may not be declared. */
	if (prefix && xmlStrEqual(prefix, XC("xml")))
		return 0;
	for (const xmlNode *p = e; p; p = p->parent) {
		for (const xmlNs *d = p->nsDef; d; d = d->next)
			if (xmlStrEqual(d->prefix, prefix))
				return 0;
		if (p == top)
			break;
	}
	ns = xmlSearchNs(doc, top, prefix);
	if (!ns || !ns->href)
		return 0; /* unbound in place too (a QName we guessed at) */
	return xmlNewNs(top, ns->href, ns->prefix) ? 0 : -ENOMEM;
}

/* need_prefix for the prefix of the QName q (an xsi:type value; XML
 * Schema collapses the whitespace around it). */
static int need_qname_prefix(xmlDoc *doc, xmlNode *top, const xmlNode *e,
			     const char *q)
{
	const char *colon;
	xmlChar *prefix;
	size_t n;
	int r;

	while (xml_is_space(*q))
		q++;
	n = strcspn(q, " \t\r\n");
	colon = memchr(q, ':', n);
	if (!colon)
		return need_prefix(doc, top, e, NULL);
	prefix = xmlStrndup(XC(q), (int)(colon - q));
	if (!prefix)
		return -ENOMEM;
	r = need_prefix(doc, top, e, prefix);
	xmlFree(prefix);
	return r;
}

/* need_prefix for each prefix of an exclusive C14N PrefixList
 * ("#default" is the default namespace). */
static int need_prefix_list(xmlDoc *doc, xmlNode *top, const xmlNode *e,
			    const char *list)
{
	const char *p = list;
	int r;

	for (;;) {
		size_t n;

		while (xml_is_space(*p))
			p++;
		if (!*p)
			return 0;
		n = strcspn(p, " \t\r\n");
		if (n == 8 && strneq(p, "#default", 8)) {
			r = need_prefix(doc, top, e, NULL);
		} else {
			xmlChar *prefix = xmlStrndup(XC(p), (int)n);

			if (!prefix)
				return -ENOMEM;
			r = need_prefix(doc, top, e, prefix);
			xmlFree(prefix);
		}
		if (r < 0)
			return r;
		p += n;
	}
}

/* The value of attribute a when it is one text node, else NULL. */
static const char *attr_value(const xmlAttr *a)
{
	if (!a->children || a->children->next ||
	    a->children->type != XML_TEXT_NODE)
		return NULL;
	return CC(a->children->content);
}

/* Declares on top every namespace its subtree uses but inherits from
 * outside, so that top serialized alone means what it meant in place
 * (SAML core 5.4.4 / exclusive C14N: a signed assertion must survive
 * being moved between documents). "Uses" is what exclusive C14N renders
 * (element and attribute prefixes) plus the prefixes in xsi:type values
 * and in an InclusiveNamespaces PrefixList, which it may also render. An
 * assertion that declares everything itself, as ADFS writes it, gains
 * nothing. */
static int carry_namespaces(xmlDoc *doc, xmlNode *top)
{
	int r;

	for (xmlNode *e = top; e; e = xml_next_element(top, e)) {
		if (e->ns) {
			r = need_prefix(doc, top, e, e->ns->prefix);
			if (r < 0)
				return r;
		}
		for (const xmlAttr *a = e->properties; a; a = a->next) {
			const char *v = attr_value(a);

			if (a->ns) {
				r = need_prefix(doc, top, e, a->ns->prefix);
				if (r < 0)
					return r;
			}
			if (!v)
				continue;
			if (a->ns && xmlStrEqual(a->ns->href, XC(NS_XSI)) &&
			    xmlStrEqual(a->name, XC("type"))) {
				r = need_qname_prefix(doc, top, e, v);
				if (r < 0)
					return r;
			}
			if (!a->ns && xml_is(e, NS_EXC_C14N,
					     "InclusiveNamespaces") &&
			    xmlStrEqual(a->name, XC("PrefixList"))) {
				r = need_prefix_list(doc, top, e, v);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* Serializes n (no declaration, no added whitespace) into a new secret.
 * The xmlBuffer is sized up front so that it is not reallocated (which
 * would leave an unwiped copy behind) and is wiped before it is freed. */
static int serialize_secret(xmlDoc *doc, xmlNode *n, size_t hint,
			    struct secret **ret)
{
	xmlBuffer *b;
	struct secret *s;
	size_t size;

	if (__builtin_mul_overflow(hint, 2u, &size) ||
	    __builtin_add_overflow(size, 8192u, &size) || size > INT_MAX)
		return -E2BIG;
	b = xmlBufferCreateSize(size);
	if (!b)
		return -ENOMEM;
	if (xmlNodeDump(b, doc, n, 0, 0) < 0 || !b->content) {
		if (b->content)
			explicit_bzero(b->content, b->size);
		xmlBufferFree(b);
		return -ENOMEM;
	}
	s = secret_new_from(b->content, b->use);
	explicit_bzero(b->content, b->size);
	xmlBufferFree(b);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int wstrust_parse_response(const char *xml, size_t len,
			   struct secret **ret_assertion, char **ret_fault)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	xmlNode *root, *top, *token;
	int r;

	assert(xml || len == 0);
	assert(ret_assertion);

	r = xml_parse(xml, len, WSTRUST_MAX_REPLY, &doc);
	if (r < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	if (xml_is(root, NS_SOAP12, "Envelope")) {
		xmlNode *body = xml_child(root, NS_SOAP12, "Body");
		xmlNode *fault = xml_child(body, NS_SOAP12, "Fault");

		if (fault)
			return parse_fault(fault, ret_fault);
		top = body ? body->children : NULL;
		while (top && top->type != XML_ELEMENT_NODE)
			top = top->next;
	} else {
		/* An RSTR(C) handed over without its envelope. */
		top = root;
	}

	token = requested_token(top);
	if (!token)
		return -EBADMSG;
	if (xml_is(token, NS_SAML11, "Assertion"))
		return unsupported(ret_fault,
				   "ADFS issued a SAML 1.1 assertion, but AWS "
				   "accepts only SAML 2.0: the relying party "
				   "trust must issue SAML 2.0 tokens");
	if (xml_is(token, NS_SAML2, "EncryptedAssertion"))
		return unsupported(ret_fault,
				   "ADFS encrypted the assertion, which only "
				   "AWS can decrypt: remove the encryption "
				   "certificate from the relying party trust");
	if (!xml_is(token, NS_SAML2, "Assertion"))
		return -EBADMSG;

	r = carry_namespaces(doc, token);
	if (r < 0)
		return r;
	return serialize_secret(doc, token, len, ret_assertion);
}

/* ---- the samlp:Response wrapper --------------------------------------- */

/* Where the element starts in an assertion's bytes: after whitespace, a
 * UTF-8 BOM and an XML declaration, none of which may sit inside the
 * Response. */
static const char *element_start(const char *p, const char *end)
{
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && xml_is_space(*p))
		p++;
	if (end - p >= 5 && memcmp(p, "<?xml", 5) == 0) {
		const char *q = memmem(p, (size_t)(end - p), "?>", 2);

		if (!q)
			return end;
		p = q + 2;
		while (p < end && xml_is_space(*p))
			p++;
	}
	return p;
}

static int base64_secret(const struct secret *in, struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *out = NULL;
	int n;

	if (in->len > (size_t)INT_MAX / 4 * 3)
		return -E2BIG;
	out = secret_new((in->len + 2) / 3 * 4);
	if (!out)
		return -ENOMEM;
	/* EVP_EncodeBlock writes no newlines and NUL-terminates. */
	n = EVP_EncodeBlock((unsigned char *)out->data,
			    (const unsigned char *)in->data, (int)in->len);
	if (n < 0)
		return -EIO;
	out->len = (size_t)n;
	*ret = TAKE_PTR(out);
	return 0;
}

int wstrust_wrap_response(const struct secret *assertion, usec_t now,
			  struct secret **ret_b64)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	_cleanup_(secret_freep) struct secret *response = NULL;
	_cleanup_free_ char *issuer = NULL;
	char instant[ISO8601_MS_MAX], id[33];
	unsigned char rnd[16];
	const char *start;
	xmlNode *root, *n;
	int r;

	assert(assertion);
	assert(ret_b64);

	r = xml_parse(assertion->data, assertion->len, WSTRUST_MAX_REPLY, &doc);
	if (r < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	if (xml_is(root, NS_SAML11, "Assertion"))
		return -EOPNOTSUPP;
	if (!xml_is(root, NS_SAML2, "Assertion"))
		return -EBADMSG;
	/* SAML core 2.3.3: Issuer is required in an Assertion. */
	n = xml_child(root, NS_SAML2, "Issuer");
	if (!n)
		return -EBADMSG;
	r = xml_text_dup(n, &issuer);
	if (r < 0)
		return r;

	/* SAML core 1.3.4: an ID starts with a letter or '_'. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		(void)snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	(void)format_iso8601_ms(instant, now);

	start = element_start(assertion->data,
			      assertion->data + assertion->len);
	{
		const struct part parts[] = {
			LIT("<samlp:Response"
			    " xmlns:samlp=\"" NS_SAML2P "\""
			    " xmlns:saml=\"" NS_SAML2 "\""
			    " ID=\"_"),
			RAW(id),
			LIT("\" Version=\"2.0\" IssueInstant=\""),
			RAW(instant),
			LIT("\" Destination=\"" AWS_SAML_DESTINATION "\">"
			    "<saml:Issuer>"),
			ESC(issuer, strlen(issuer)),
			LIT("</saml:Issuer>"
			    "<samlp:Status><samlp:StatusCode Value=\""
			    "urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
			    "</samlp:Status>"),
			{ .s = start,
			  .len = (size_t)(assertion->data + assertion->len -
					  start),
			  .escape = false },
			LIT("</samlp:Response>"),
		};

		r = parts_build(parts, ELEMENTSOF(parts), &response);
		if (r < 0)
			return r;
	}
	return base64_secret(response, ret_b64);
}

/* ---- the round -------------------------------------------------------- */

struct wstrust_call *wstrust_call_free(struct wstrust_call *c)
{
	if (!c)
		return NULL;
	http_call_free(c->http);
	free(c->url);
	free(c->host);
	free(c);
	return NULL;
}

/* The host of url, for messages; NULL when it does not parse. */
static char *host_of(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *h = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		h = strdup(host);
	curl_free(host);
	curl_url_cleanup(u);
	return h;
}

/* Judges a finished POST: 0 with *ret_saml, or an error with msg set. */
static int evaluate(struct wstrust_call *c, struct http_call *h, int error,
		    struct secret **ret_saml, char *msg, size_t size)
{
	_cleanup_(secret_freep) struct secret *assertion = NULL;
	_cleanup_free_ char *fault = NULL;
	int r;

	if (error == -ENOBUFS) {
		(void)snprintf(msg, size,
			       "the WS-Trust reply from %s is larger than %u "
			       "bytes; refusing it",
			       c->url, WSTRUST_MAX_REPLY);
		return error;
	}
	if (error == -EPROTO) {
		(void)snprintf(msg, size,
			       "TLS to ADFS at %s failed (%s); if ADFS uses a "
			       "private CA, set adfs.ca_file",
			       c->host ? c->host : c->url,
			       http_call_strerror(h));
		return error;
	}
	if (error < 0) {
		(void)snprintf(msg, size,
			       "ADFS WS-Trust request to %s failed: %s", c->url,
			       http_call_strerror(h));
		return error;
	}
	if (h->status == 404) {
		(void)snprintf(msg, size,
			       "the WS-Trust endpoint " WSTRUST_PATH " is not "
			       "published (Get-AdfsEndpoint; enable it or use "
			       "auth: forms)");
		return -EPROTO;
	}

	r = wstrust_parse_response(h->body.data, h->body.len, &assertion,
				   &fault);
	switch (r) {
	case 0:
		if (h->status != 200)
			break;
		r = wstrust_wrap_response(assertion, now_wall(), ret_saml);
		if (r < 0)
			(void)snprintf(msg, size,
				       "Failed to wrap the WS-Trust assertion "
				       "in a SAML Response");
		return r;
	case -EACCES:
		(void)snprintf(msg, size, "ADFS rejected the sign-in: %s",
			       fault);
		return r;
	case -EREMOTEIO:
		(void)snprintf(msg, size, "ADFS WS-Trust fault: %s", fault);
		return r;
	case -EOPNOTSUPP:
		(void)snprintf(msg, size, "%s", fault);
		return r;
	case -ENOMEM:
		(void)snprintf(msg, size, "out of memory");
		return r;
	default:
		if (h->status == 200) {
			(void)snprintf(msg, size,
				       "ADFS answered the WS-Trust request at "
				       "%s with neither a SAML 2.0 assertion "
				       "nor a SOAP fault",
				       c->url);
			return -EPROTO;
		}
		break;
	}
	(void)snprintf(msg, size, "ADFS answered HTTP %ld to the WS-Trust "
		       "request at %s", h->status, c->url);
	return -EPROTO;
}

static void on_done(struct http_call *h, int error, void *userdata)
{
	struct wstrust_call *c = userdata;
	wstrust_done_fn done = c->done;
	void *ud = c->userdata;
	struct secret *saml = NULL;
	char msg[512] = "";
	int r;

	r = evaluate(c, h, error, &saml, msg, sizeof(msg));
	/* The last act: the callee may free c (and with it h). */
	done(r, saml, r < 0 ? msg : NULL, ud);
}

int wstrust_fetch(struct curl_glue *g, const struct conf *conf,
		  const struct secret *password, wstrust_done_fn done,
		  void *userdata, struct wstrust_call **ret)
{
	struct http_call_opts o = {
		.ca_file = conf->adfs.ca_file,
		.timeout = conf->adfs.timeout,
		.max_body = WSTRUST_MAX_REPLY,
	};
	_cleanup_(wstrust_call_freep) struct wstrust_call *c = NULL;
	_cleanup_(secret_freep) struct secret *body = NULL;
	int r;

	assert(g);
	assert(done);
	assert(ret);

	/* There are no cookies to fall back on: no password, no round. */
	if (!password)
		return -ENOKEY;
	if (!conf->adfs.url || !conf->adfs.username)
		return -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->userdata = userdata;
	/* conf_parse_yaml drops trailing slashes from adfs.url. */
	if (asprintf(&c->url, "%s%s", conf->adfs.url, WSTRUST_PATH) < 0) {
		c->url = NULL;
		return -ENOMEM;
	}
	c->host = host_of(c->url);

	r = wstrust_build_request(c->url, conf->adfs.username, password,
				  conf->adfs.relying_party
					  ? conf->adfs.relying_party
					  : CONF_DEFAULT_RELYING_PARTY,
				  now_wall(), &body);
	if (r < 0)
		return r;
	r = http_call_new(c->url, &o, &c->http);
	if (r < 0)
		return r;
	r = http_call_set_post_take(c->http, TAKE_PTR(body),
				    "application/soap+xml; charset=utf-8");
	if (r < 0)
		return r;
	r = http_call_start(c->http, g, on_done, c);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}
