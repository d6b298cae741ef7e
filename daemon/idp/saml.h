/* SAML 2.0 Response parsing: what STS needs and what sizing uses.
 * saml_parse() is pure (bytes in, struct out) and fuzzable. The XML is
 * parsed with util/xml.h (no network, no DTD, no entity expansion). */
#pragma once

#include <stddef.h>

#include "util/macro.h"
#include "util/secret.h"

#define SAML_MAX_XML (1024u * 1024u)
#define SAML_MAX_ROLES 256u
#define SAML_ATTR_ROLE "https://aws.amazon.com/SAML/Attributes/Role"
#define SAML_ATTR_SESSION_NAME "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
#define SAML_ATTR_SESSION_DURATION "https://aws.amazon.com/SAML/Attributes/SessionDuration"

struct saml_role {
	char *role_arn;      /* arn:aws:iam::123456789012:role/Name */
	char *principal_arn; /* arn:aws:iam::123456789012:saml-provider/Name */
};

struct saml_info {
	struct saml_role *roles; /* in document order, duplicates removed */
	size_t n_roles;
	char *role_session_name;  /* NULL if absent */
	char *name_id;            /* Subject/NameID text, NULL if absent */
	uint32_t session_duration; /* SessionDuration attribute in s, 0 if absent */
	usec_t issue_instant;      /* Response (or Assertion) IssueInstant, 0 if absent */
	usec_t not_on_or_after;    /* earliest of SubjectConfirmationData and
				      Conditions NotOnOrAfter; 0 if absent */
	usec_t session_not_on_or_after; /* AuthnStatement SessionNotOnOrAfter, 0 if absent */
	usec_t authn_instant;      /* AuthnStatement AuthnInstant (when the user
				      authenticated: the SSO's start), the
				      latest; 0 if absent */
};

/* Parses a decoded samlp:Response (or a bare saml:Assertion). Role values
 * are "role,provider" in either order, spaces trimmed. -EBADMSG on XML
 * that is not a SAML response/assertion or has no Role attribute,
 * -EINVAL on malformed Role values, -EILSEQ on a Role value whose role or
 * provider ARN breaks IAM's naming rules (util/iam-arn.h), -E2BIG above SAML_MAX_XML or
 * SAML_MAX_ROLES, -EACCES when the Response's StatusCode is not Success,
 * -EOPNOTSUPP for a Response holding only an EncryptedAssertion. */
int saml_parse(const char *xml, size_t len, struct saml_info **ret);
/* Decodes base64 (whitespace allowed) then saml_parse(). */
int saml_parse_base64(const char *b64, size_t len, struct saml_info **ret);

struct saml_info *saml_info_free(struct saml_info *s);
DEFINE_FREEP(struct saml_info, saml_info_free)

