/* Reading ADFS's WS-Trust answer (PROTOCOLS.md D4): the
 * RequestSecurityTokenResponse(Collection) (WS-Trust 1.3 section 4.3) or
 * the SOAP 1.2 Fault (SOAP 1.2 part 1 section 5.4), and taking the SAML 2.0
 * Assertion out of it so that it means the same on its own. Pure. See
 * docs/internals/wstrust.md. */
#include "idp/wstrust.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/xmlstring.h>

#include "idp/wstrust-ns.h"
#include "util/xml.h"

/* Fault text handed back for messages: one line, at most this many bytes. */
#define FAULT_TEXT_MAX 400u

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
