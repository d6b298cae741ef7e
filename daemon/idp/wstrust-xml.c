/* The two documents adfs-credd writes for WS-Trust (PROTOCOLS.md D4): the
 * SOAP 1.2 RequestSecurityToken (WS-Trust 1.3 section 4.1, WSS UsernameToken
 * Profile 1.0 PasswordText) and the samlp:Response wrapper STS
 * AssumeRoleWithSAML wants (PROTOCOLS.md C1). Both are pure and assemble
 * into locked memory. See docs/internals/wstrust.md. */
#include "idp/wstrust.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <libxml/xmlstring.h>
#include <systemd/sd-id128.h>

#include "idp/wstrust-ns.h"
#include "util/encode.h"
#include "util/timeutil.h"
#include "util/xml.h"

#define PASSWORD_TEXT                                                        \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-username-token-profile-1.0#PasswordText"

/* u:Timestamp validity (Created .. Expires). */
#define REQUEST_LIFETIME (5 * USEC_PER_MINUTE)

/* ---- small helpers ---------------------------------------------------- */

/* A random (version 4, RFC 9562 section 5.4) UUID in lower-case hex. */
static int random_uuid(char buf[static SD_ID128_UUID_STRING_MAX])
{
	sd_id128_t id;
	int r;

	r = sd_id128_randomize(&id);
	if (r < 0)
		return r;
	(void)sd_id128_to_uuid_string(id, buf);
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
	char message_id[SD_ID128_UUID_STRING_MAX];
	char token_id[SD_ID128_UUID_STRING_MAX];
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

int wstrust_wrap_response(const struct secret *assertion,
			  const char *destination, usec_t now,
			  struct secret **ret_b64)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	_cleanup_(secret_freep) struct secret *response = NULL;
	_cleanup_free_ char *issuer = NULL;
	char instant[ISO8601_MS_MAX], id[SD_ID128_STRING_MAX];
	sd_id128_t rnd;
	const char *start;
	xmlNode *root, *n;
	int r;

	assert(assertion);
	assert(ret_b64);

	if (!destination || !xml_text_ok(destination, strlen(destination)))
		return -EINVAL;

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
	r = sd_id128_randomize(&rnd);
	if (r < 0)
		return r;
	(void)sd_id128_to_string(rnd, id);
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
			LIT("\" Destination=\""),
			ESC(destination, strlen(destination)),
			LIT("\"><saml:Issuer>"),
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
	return encode_base64_secret(response, ret_b64);
}
