/* ADFS page classification (PROTOCOLS.md D1, D2). The HTML parser is
 * libxml2's, in recovery mode: it turns any byte string into some tree,
 * decodes entities in attribute values and text, and lower-cases tag and
 * attribute names. Elements are found by id, not by tag, because ADFS
 * themes move ids between span, label and p. */
#include "idp/adfs-page.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/uri.h>

#include "util/xml.h"

/* Input names that take a one-time code (saml2aws checkResponse and
 * updateOTPFormData; RSA SecurID passcode.html). */
static const char *const otp_inputs[] = {
	"VerificationCode", "OathCode", "security_code",
	"ChallengeQuestionAnswer", "Passcode",
};

/* AuthMethod values of adapters that ask for a code. */
static const char *const otp_methods[] = {
	"VIPAuthenticationProviderWindowsAccountName",
	"VIPAuthenticationProviderUPN",
	"Defender AD FS Adapter",
	"SymantecVipAdapter",
	"SecurIDAuthentication",
	"SecurIDv2Authentication",
};

/* AuthMethod values of adapters that wait for approval on a phone. */
static const char *const push_methods[] = {
	"AzureMfaAuthentication",
	"AzureMfaServerAuthentication",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	if (!s)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(s, list[i]) == 0)
			return true;
	return false;
}

struct adfs_page *adfs_page_free(struct adfs_page *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_fields; i++) {
		free(p->fields[i].name);
		/* Values may be one-time contexts; wipe them like bodies. */
		erase_and_free(p->fields[i].value);
	}
	free(p->fields);
	free(p->action);
	free(p->error_text);
	free(p->error_detail);
	free(p->mfa_hint);
	(void)secret_free(p->saml_response);
	free(p);
	return NULL;
}

struct adfs_field *adfs_page_field(struct adfs_page *p, const char *name)
{
	if (!p || !name)
		return NULL;
	for (size_t i = 0; i < p->n_fields; i++)
		if (strcasecmp(p->fields[i].name, name) == 0)
			return &p->fields[i];
	return NULL;
}

/* The first <input name=name> (case-insensitive) below root, or NULL. */
static xmlNode *find_input(const xmlNode *root, const char *name)
{
	xmlNode *n = NULL;

	while ((n = xml_find(root, n, NULL, "input"))) {
		const char *v = xml_attr(n, "name");

		if (v && strcasecmp(v, name) == 0)
			return n;
	}
	return NULL;
}

static bool input_hidden(const xmlNode *n)
{
	const char *t = xml_attr(n, "type");

	return t && strcasecmp(t, "hidden") == 0;
}

/* Whether form has an input for a code; visible_only skips hidden ones. */
static bool has_otp_input(const xmlNode *form, bool visible_only)
{
	xmlNode *n = NULL;

	while ((n = xml_find(form, n, NULL, "input")))
		if (in_list(xml_attr(n, "name"), otp_inputs,
			    ELEMENTSOF(otp_inputs)) &&
		    !(visible_only && input_hidden(n)))
			return true;
	return false;
}

static const char *auth_method(const xmlNode *form)
{
	return xml_attr(find_input(form, "AuthMethod"), "value");
}

static bool form_is_mfa(const xmlNode *form)
{
	const char *m = auth_method(form);

	return has_otp_input(form, false) ||
	       in_list(m, otp_methods, ELEMENTSOF(otp_methods)) ||
	       in_list(m, push_methods, ELEMENTSOF(push_methods));
}

static xmlNode *enclosing_form(const xmlNode *n)
{
	for (xmlNode *p = n ? n->parent : NULL; p; p = p->parent)
		if (xml_is(p, NULL, "form"))
			return p;
	return NULL;
}

static xmlNode *form_by_id(const xmlNode *root, const char *id)
{
	xmlNode *f = NULL;

	while ((f = xml_find(root, f, NULL, "form"))) {
		const char *v = xml_attr(f, "id");

		if (v && streq(v, id))
			return f;
	}
	return NULL;
}

/* The order documented in adfs-page.h, with one refinement: a form with
 * an MFA input is preferred to form#options, because ADFS also uses
 * form#options for the empty "sign in another way" chooser. */
static xmlNode *choose_form(const xmlNode *root, const xmlNode *saml_input)
{
	xmlNode *f;

	f = enclosing_form(saml_input);
	if (f)
		return f;
	f = form_by_id(root, "loginForm");
	if (f)
		return f;
	f = NULL;
	while ((f = xml_find(root, f, NULL, "form")))
		if (form_is_mfa(f))
			return f;
	f = form_by_id(root, "options");
	if (f)
		return f;
	return xml_find(root, NULL, NULL, "form");
}

static enum adfs_page_kind classify(const xmlNode *form,
				    const xmlNode *saml_input)
{
	const char *m;

	if (saml_input)
		return ADFS_PAGE_SAML;
	if (!form)
		return ADFS_PAGE_UNKNOWN;
	if (find_input(form, "UserName") && find_input(form, "Password"))
		return ADFS_PAGE_LOGIN;
	/* A visible code box wins over the adapter name: Azure MFA shows
	 * one when the user's default method is an OATH code. */
	if (has_otp_input(form, true))
		return ADFS_PAGE_MFA_OTP;
	m = auth_method(form);
	if (in_list(m, push_methods, ELEMENTSOF(push_methods)))
		return ADFS_PAGE_MFA_PUSH;
	if (in_list(m, otp_methods, ELEMENTSOF(otp_methods)) ||
	    has_otp_input(form, false))
		return ADFS_PAGE_MFA_OTP;
	return ADFS_PAGE_UNKNOWN;
}

/* Trimmed text of the first element with this id whose text is not empty;
 * 0 with *ret untouched when there is none. */
static int text_by_id(const xmlNode *root, const char *id, char **ret)
{
	xmlNode *n = NULL;
	int r;

	while ((n = xml_next_element(root, n))) {
		_cleanup_free_ char *t = NULL;
		const char *v = xml_attr(n, "id");

		if (!v || !streq(v, id))
			continue;
		r = xml_text_dup(n, &t);
		if (r < 0)
			return r;
		if (*t) {
			*ret = TAKE_PTR(t);
			return 1;
		}
	}
	return 0;
}

/* Percent-encodes the bytes RFC 3986 never allows in a URI (space,
 * controls, non-ASCII, and "<>\"\\^`{|}"), leaving '%' and reserved
 * characters alone, so that a sloppy action still resolves. */
static char *escape_sloppy(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>\"\\^`{|}", *p)) {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* RFC 3986 section 5 reference resolution of action against base_url. */
static int resolve_action(const char *action, const char *base_url,
			  char **ret)
{
	_cleanup_free_ char *trimmed = NULL, *escaped = NULL;
	_cleanup_(xml_char_freep) xmlChar *uri = NULL;
	char *s;

	/* HTML: an absent or empty action submits to the document's URL. */
	if (action) {
		trimmed = strdup(action);
		if (!trimmed)
			return -ENOMEM;
		(void)xml_strip(trimmed);
	}
	if (!trimmed || !*trimmed) {
		if (!base_url)
			return 0;
		s = strdup(base_url);
		if (!s)
			return -ENOMEM;
		*ret = s;
		return 0;
	}
	if (!base_url) {
		*ret = TAKE_PTR(trimmed);
		return 0;
	}
	uri = xmlBuildURI(XC(trimmed), XC(base_url));
	if (!uri) {
		escaped = escape_sloppy(trimmed);
		if (!escaped)
			return -ENOMEM;
		uri = xmlBuildURI(XC(escaped), XC(base_url));
	}
	/* Unresolvable: leave action NULL, the caller refuses to post. */
	if (!uri)
		return 0;
	s = strdup(CC(uri));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int collect_fields(struct adfs_page *p, const xmlNode *form)
{
	xmlNode *n = NULL;
	int r;

	p->fields = calloc(ADFS_MAX_FIELDS, sizeof(*p->fields));
	if (!p->fields)
		return -ENOMEM;
	while ((n = xml_find(form, n, NULL, "input"))) {
		struct adfs_field *f;
		const char *name = xml_attr(n, "name");

		if (!name || !*name)
			continue;
		/* The assertion lives only in saml_response (a secret). */
		if (strcasecmp(name, "SAMLResponse") == 0)
			continue;
		/* Real ADFS forms have fewer than ten inputs; beyond the
		 * cap the rest is ignored rather than failing the page. */
		if (p->n_fields >= ADFS_MAX_FIELDS)
			break;
		f = &p->fields[p->n_fields];
		f->name = strdup(name);
		if (!f->name)
			return -ENOMEM;
		r = xml_attr_dup(n, "value", &f->value);
		if (r == -ENOENT) {
			f->value = strdup("");
			r = f->value ? 0 : -ENOMEM;
		}
		/* Counted now so adfs_page_free() frees the name either way. */
		p->n_fields++;
		if (r < 0)
			return r;
	}
	return 0;
}

int adfs_page_parse(const char *html, size_t len, const char *base_url,
		    struct adfs_page **ret)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
	xmlNode *root, *form, *saml_input;
	int r;

	assert(html || len == 0);
	assert(ret);

	if (len > ADFS_MAX_PAGE)
		return -E2BIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;

	r = html_parse(html, len, ADFS_MAX_PAGE, base_url, &doc);
	if (r == -EBADMSG) {
		/* Nothing libxml2 could build a tree from: a page of no
		 * known kind, which the caller reports. */
		p->kind = ADFS_PAGE_UNKNOWN;
		*ret = TAKE_PTR(p);
		return 0;
	}
	if (r < 0)
		return r;
	root = (xmlNode *)doc;

	saml_input = find_input(root, "SAMLResponse");
	form = choose_form(root, saml_input);
	p->kind = classify(form, saml_input);

	if (saml_input) {
		r = xml_attr_secret(saml_input, "value", &p->saml_response);
		if (r == -ENOENT) {
			p->saml_response = secret_new(0);
			r = p->saml_response ? 0 : -ENOMEM;
		}
		if (r < 0)
			return r;
	}
	if (form) {
		r = resolve_action(xml_attr(form, "action"), base_url,
				   &p->action);
		if (r < 0)
			return r;
		r = collect_fields(p, form);
		if (r < 0)
			return r;
	}
	/* #errorText on the login and MFA forms; #errorMessage and
	 * #errorDetailCode on ADFS's generic "An error occurred" page. */
	r = text_by_id(root, "errorText", &p->error_text);
	if (r == 0)
		r = text_by_id(root, "errorMessage", &p->error_text);
	if (r < 0)
		return r;
	r = text_by_id(root, "errorDetailCode", &p->error_detail);
	if (r < 0)
		return r;
	r = text_by_id(root, "validEntropyNumber", &p->mfa_hint);
	if (r == 0)
		r = text_by_id(root, "instructions", &p->mfa_hint);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(p);
	return 0;
}
