/* SAML 2.0 Response / Assertion parsing (SAML core 2.0 sections 2 and 3.2;
 * AWS attributes per the IAM user guide, PROTOCOLS.md C4). The signature
 * is not checked here: STS verifies it, we only read what we need to pick
 * a role and size the session. */
#include "idp/saml.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "util/encode.h"
#include "util/iam-arn.h"
#include "util/timeutil.h"
#include "util/xml.h"

#define NS_ASSERTION "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_PROTOCOL "urn:oasis:names:tc:SAML:2.0:protocol"
#define STATUS_SUCCESS "urn:oasis:names:tc:SAML:2.0:status:Success"

#define SESSION_DURATION_MIN 900u
#define SESSION_DURATION_MAX 43200u

struct saml_info *saml_info_free(struct saml_info *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_roles; i++) {
		free(s->roles[i].role_arn);
		free(s->roles[i].principal_arn);
	}
	free(s->roles);
	free(s->role_session_name);
	free(s->name_id);
	free(s);
	return NULL;
}

enum arn_kind {
	ARN_OTHER,
	ARN_ROLE,
	ARN_PROVIDER,
};

/* Classifies "arn:<partition>:iam::<account>:role/..." and
 * "...:saml-provider/..."; no whitespace anywhere. A role path may hold
 * ',' (IAM allows any printable ASCII in paths and ',' in role names);
 * a provider name may not ([A-Za-z0-9._-]+). */
static enum arn_kind arn_classify(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	bool comma = false;
	int colons = 0;

	if (len < 4 || !strneq(s, "arn:", 4))
		return ARN_OTHER;
	for (size_t i = 0; i < len; i++) {
		if (xml_is_space(s[i]))
			return ARN_OTHER;
		if (s[i] == ',')
			comma = true;
	}
	/* The resource starts after the fifth ':'. */
	while (p < end && colons < 5) {
		if (*p == ':')
			colons++;
		p++;
	}
	if (colons < 5)
		return ARN_OTHER;
	if ((size_t)(end - p) > 5 && strneq(p, "role/", 5))
		return ARN_ROLE;
	if ((size_t)(end - p) > 14 && strneq(p, "saml-provider/", 14) &&
	    !comma)
		return ARN_PROVIDER;
	return ARN_OTHER;
}

/* Trims [*s, *s + *len) in place (pointer and length only). */
static void trim_span(const char **s, size_t *len)
{
	while (*len > 0 && xml_is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && xml_is_space((*s)[*len - 1]))
		(*len)--;
}

/* Splits "role,provider" or "provider,role" at comma c. Returns 1 and
 * fills role/provider spans when both halves classify. */
static int split_role_at(const char *v, size_t len, const char *c,
			 const char **role, size_t *role_len,
			 const char **prov, size_t *prov_len)
{
	const char *a = v, *b = c + 1;
	size_t al = (size_t)(c - v), bl = len - al - 1;
	enum arn_kind ka, kb;

	trim_span(&a, &al);
	trim_span(&b, &bl);
	ka = arn_classify(a, al);
	kb = arn_classify(b, bl);
	if (ka == ARN_PROVIDER && kb == ARN_ROLE) {
		/* provider,role: swap so a is the role. */
		const char *tp = a;
		size_t tl = al;

		a = b;
		al = bl;
		b = tp;
		bl = tl;
	} else if (!(ka == ARN_ROLE && kb == ARN_PROVIDER)) {
		return 0;
	}
	*role = a;
	*role_len = al;
	*prov = b;
	*prov_len = bl;
	return 1;
}

static int add_role(struct saml_info *info, const char *value)
{
	const char *role = NULL, *prov = NULL, *first, *last;
	size_t role_len = 0, prov_len = 0, len = strlen(value);
	_cleanup_free_ char *ra = NULL, *pa = NULL;
	struct saml_role *roles;

	/* A provider name has no ',' but a role path may: splitting at the
	 * first and at the last comma covers both orders. */
	first = memchr(value, ',', len);
	last = strrchr(value, ',');
	if (!first)
		return -EINVAL;
	if (!split_role_at(value, len, first, &role, &role_len, &prov,
			   &prov_len) &&
	    !split_role_at(value, len, last, &role, &role_len, &prov,
			   &prov_len))
		return -EINVAL;

	ra = strndup(role, role_len);
	pa = strndup(prov, prov_len);
	if (!ra || !pa)
		return -ENOMEM;
	/* Role names reach ECS URLs, `adfs-credctl env` output for eval and
	 * terminals: what IAM would refuse is hostile, not a role. */
	if (iam_arn_check_role(ra) || iam_arn_check_provider(pa))
		return -EILSEQ;

	for (size_t i = 0; i < info->n_roles; i++)
		if (streq(info->roles[i].role_arn, ra) &&
		    streq(info->roles[i].principal_arn, pa))
			return 0;
	if (info->n_roles >= SAML_MAX_ROLES)
		return -E2BIG;

	roles = reallocarray(info->roles, info->n_roles + 1, sizeof(*roles));
	if (!roles)
		return -ENOMEM;
	info->roles = roles;
	info->roles[info->n_roles++] = (struct saml_role){
		.role_arn = TAKE_PTR(ra),
		.principal_arn = TAKE_PTR(pa),
	};
	return 1;
}

/* Parses a timestamp attribute when present. 0 if absent, -EBADMSG when
 * malformed: a broken validity window must not be guessed at. */
static int attr_time(const xmlNode *n, const char *name, usec_t *ret)
{
	const char *v = xml_attr(n, name);
	usec_t t;

	if (!v)
		return 0;
	if (parse_iso8601(v, &t) < 0)
		return -EBADMSG;
	*ret = t;
	return 1;
}

/* Keeps the earlier of *acc (0 = unset) and t. */
static void take_earliest(usec_t *acc, usec_t t)
{
	if (*acc == 0 || t < *acc)
		*acc = t;
}

/* SessionDuration: a decimal integer in 900..43200 (IAM user guide);
 * anything else is treated as if the attribute were absent (0). */
static uint32_t parse_session_duration(const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > SESSION_DURATION_MAX)
			return 0;
	}
	if (v < SESSION_DURATION_MIN)
		return 0;
	return (uint32_t)v;
}

/* Reads the AWS attributes of one AttributeStatement. */
static int parse_attributes(const xmlNode *stmt, struct saml_info *info,
			    bool *saw_role)
{
	int r;

	for (xmlNode *a = xml_child(stmt, NS_ASSERTION, "Attribute"); a;
	     a = xml_next_sibling(a, NS_ASSERTION, "Attribute")) {
		const char *name = xml_attr(a, "Name");

		if (!name)
			continue;
		if (streq(name, SAML_ATTR_ROLE)) {
			*saw_role = true;
			for (xmlNode *v = xml_child(a, NS_ASSERTION,
						    "AttributeValue");
			     v; v = xml_next_sibling(v, NS_ASSERTION,
						     "AttributeValue")) {
				_cleanup_free_ char *t = NULL;

				r = xml_text_dup(v, &t);
				if (r < 0)
					return r;
				r = add_role(info, t);
				if (r < 0)
					return r;
			}
		} else if (streq(name, SAML_ATTR_SESSION_NAME) ||
			   streq(name, SAML_ATTR_SESSION_DURATION)) {
			xmlNode *v = xml_child(a, NS_ASSERTION,
					       "AttributeValue");
			_cleanup_free_ char *t = NULL;

			if (!v)
				continue;
			r = xml_text_dup(v, &t);
			if (r < 0)
				return r;
			if (streq(name, SAML_ATTR_SESSION_DURATION)) {
				if (!info->session_duration)
					info->session_duration =
						parse_session_duration(t);
			} else if (*t && !info->role_session_name) {
				info->role_session_name = TAKE_PTR(t);
			}
		}
	}
	return 0;
}

static int parse_assertion(const xmlNode *as, struct saml_info *info)
{
	xmlNode *subject, *n;
	bool saw_role = false;
	usec_t t;
	int r;

	if (!info->issue_instant) {
		r = attr_time(as, "IssueInstant", &info->issue_instant);
		if (r < 0)
			return r;
	}

	subject = xml_child(as, NS_ASSERTION, "Subject");
	n = xml_child(subject, NS_ASSERTION, "NameID");
	if (n) {
		_cleanup_free_ char *t_id = NULL;

		r = xml_text_dup(n, &t_id);
		if (r < 0)
			return r;
		if (*t_id)
			info->name_id = TAKE_PTR(t_id);
	}
	for (xmlNode *sc = xml_child(subject, NS_ASSERTION,
				     "SubjectConfirmation");
	     sc; sc = xml_next_sibling(sc, NS_ASSERTION,
				       "SubjectConfirmation")) {
		n = xml_child(sc, NS_ASSERTION, "SubjectConfirmationData");
		r = attr_time(n, "NotOnOrAfter", &t);
		if (r < 0)
			return r;
		if (r > 0)
			take_earliest(&info->not_on_or_after, t);
	}

	n = xml_child(as, NS_ASSERTION, "Conditions");
	r = attr_time(n, "NotOnOrAfter", &t);
	if (r < 0)
		return r;
	if (r > 0)
		take_earliest(&info->not_on_or_after, t);

	for (n = xml_child(as, NS_ASSERTION, "AuthnStatement"); n;
	     n = xml_next_sibling(n, NS_ASSERTION, "AuthnStatement")) {
		r = attr_time(n, "SessionNotOnOrAfter", &t);
		if (r < 0)
			return r;
		if (r > 0)
			take_earliest(&info->session_not_on_or_after, t);
		/* Informational (the horizon): a malformed one is left out. */
		if (attr_time(n, "AuthnInstant", &t) > 0 &&
		    t > info->authn_instant)
			info->authn_instant = t;
	}

	for (n = xml_child(as, NS_ASSERTION, "AttributeStatement"); n;
	     n = xml_next_sibling(n, NS_ASSERTION, "AttributeStatement")) {
		r = parse_attributes(n, info, &saw_role);
		if (r < 0)
			return r;
	}
	if (!saw_role || info->n_roles == 0)
		return -EBADMSG;
	return 0;
}

/* SAML core 3.2.2.2: only a top-level StatusCode of Success carries an
 * assertion worth reading. Anything else means the IdP refused. */
static int check_status(const xmlNode *response)
{
	xmlNode *status = xml_child(response, NS_PROTOCOL, "Status");
	xmlNode *code = xml_child(status, NS_PROTOCOL, "StatusCode");
	const char *v = xml_attr(code, "Value");

	if (!status || !code || !v)
		return -EBADMSG;
	if (!streq(v, STATUS_SUCCESS))
		return -EACCES;
	return 0;
}

int saml_parse(const char *xml, size_t len, struct saml_info **ret)
{
	_cleanup_(xml_doc_free_wipedp) xmlDoc *doc = NULL;
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	xmlNode *root, *as;
	int r;

	assert(xml || len == 0);
	assert(ret);

	r = xml_parse(xml, len, SAML_MAX_XML, &doc);
	if (r < 0)
		return r;

	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;

	root = xmlDocGetRootElement(doc);
	if (xml_is(root, NS_PROTOCOL, "Response")) {
		r = check_status(root);
		if (r < 0)
			return r;
		r = attr_time(root, "IssueInstant", &info->issue_instant);
		if (r < 0)
			return r;
		as = xml_child(root, NS_ASSERTION, "Assertion");
		/* Encrypted assertions need the SP's key, which only AWS
		 * has; we cannot read the roles from one. */
		if (!as && xml_child(root, NS_ASSERTION, "EncryptedAssertion"))
			return -EOPNOTSUPP;
	} else if (xml_is(root, NS_ASSERTION, "Assertion")) {
		as = root;
	} else {
		return -EBADMSG;
	}
	if (!as)
		return -EBADMSG;

	r = parse_assertion(as, info);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(info);
	return 0;
}

int saml_parse_base64(const char *b64, size_t len, struct saml_info **ret)
{
	_cleanup_(secret_freep) struct secret *xml = NULL;
	size_t chars = 0;
	int r;

	assert(b64 || len == 0);
	assert(ret);

	/* Refuse before decoding what cannot fit SAML_MAX_XML decoded. */
	for (size_t i = 0; i < len; i++)
		if (!xml_is_space(b64[i]))
			chars++;
	if (chars / 4 > SAML_MAX_XML / 3 + 1)
		return -E2BIG;

	r = encode_base64_decode_secret(b64, len, &xml);
	if (r < 0)
		return r;
	return saml_parse(xml->data, xml->len, ret);
}
