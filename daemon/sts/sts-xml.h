/* STS / IAM query-protocol replies: AssumeRoleWithSAML success, GetRole
 * success, and the shared ErrorResponse shape. Pure and fuzzable. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"
#include "util/secret.h"

#define STS_MAX_REPLY (64u * 1024u)

struct sts_creds {
	char *access_key_id;
	struct secret *secret_access_key;
	struct secret *session_token;   /* <SessionToken>, served as "Token" */
	usec_t expiration;              /* wall clock, usec since epoch */
	char *assumed_role_arn;         /* AssumedRoleUser/Arn */
	char *assumed_role_id;          /* AssumedRoleUser/AssumedRoleId */
	char *account_id;               /* 5th field of assumed_role_arn */
};

struct sts_error {
	char *type;       /* Sender / Receiver, may be NULL */
	char *code;       /* e.g. ValidationError, ExpiredTokenException */
	char *message;
	char *request_id; /* may be NULL */
};

/* Parses an AssumeRoleWithSAMLResponse. -EBADMSG when a required element
 * (all four Credentials fields, AssumedRoleUser/Arn) is missing or the
 * Expiration does not parse; -E2BIG above STS_MAX_REPLY. */
int sts_xml_parse_assume(const char *xml, size_t len, struct sts_creds **ret);
/* Parses an ErrorResponse (STS and IAM share it). -EBADMSG if it is not one. */
int sts_xml_parse_error(const char *xml, size_t len, struct sts_error **ret);
/* Parses a GetRoleResponse; *ret = MaxSessionDuration (3600..43200). */
int sts_xml_parse_get_role(const char *xml, size_t len, uint32_t *ret);

struct sts_creds *sts_creds_free(struct sts_creds *c);
DEFINE_FREEP(struct sts_creds, sts_creds_free)
struct sts_error *sts_error_free(struct sts_error *e);
DEFINE_FREEP(struct sts_error, sts_error_free)
