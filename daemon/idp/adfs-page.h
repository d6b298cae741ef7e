/* Classifies an ADFS HTML page and extracts its form (PROTOCOLS.md D1,
 * D2). Pure: bytes in, struct out; uses libxml2's HTML parser with no
 * network. The caller decides what to post. */
#pragma once

#include <stddef.h>

#include "util/macro.h"
#include "util/secret.h"

#define ADFS_MAX_PAGE (1024u * 1024u)
#define ADFS_MAX_FIELDS 64u

enum adfs_page_kind {
	ADFS_PAGE_UNKNOWN,   /* none of the below */
	ADFS_PAGE_LOGIN,     /* form with UserName + Password inputs */
	ADFS_PAGE_SAML,      /* an input named SAMLResponse */
	ADFS_PAGE_MFA_OTP,   /* VerificationCode / OathCode / security_code / Passcode ... */
	ADFS_PAGE_MFA_PUSH,  /* AuthMethod AzureMfaAuthentication / AzureMfaServerAuthentication */
};

struct adfs_field {
	char *name;
	char *value; /* entity-decoded; "" when absent */
};

struct adfs_page {
	enum adfs_page_kind kind;
	char *action;      /* the form's action resolved against base_url; NULL if no form */
	struct adfs_field *fields; /* the form's <input> elements with a name, in order */
	size_t n_fields;
	char *error_text;  /* text of #errorText, else #errorMessage (trimmed),
			      NULL when absent/empty */
	char *error_detail; /* #errorDetailCode of the error page ("MSIS7012:
			       ..."), NULL when absent */
	char *mfa_hint;    /* #validEntropyNumber or #instructions text, NULL if none */
	struct secret *saml_response; /* base64 SAMLResponse value for ADFS_PAGE_SAML */
};

/* Parses an HTML page fetched from base_url. The form chosen: the one that
 * holds SAMLResponse, else form#loginForm, else the first form with an
 * MFA input (ADFS's form#options is only the "other ways" chooser), else
 * the first form. SAMLResponse is not listed in fields. -E2BIG above ADFS_MAX_PAGE,
 * -ENOMEM; any HTML (even garbage) yields a page of some kind. */
int adfs_page_parse(const char *html, size_t len, const char *base_url,
		    struct adfs_page **ret);

/* The field named name (case-insensitive), or NULL. */
struct adfs_field *adfs_page_field(struct adfs_page *p, const char *name);

struct adfs_page *adfs_page_free(struct adfs_page *p);
DEFINE_FREEP(struct adfs_page, adfs_page_free)
