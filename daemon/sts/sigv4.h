/* AWS Signature Version 4 for the query-protocol POSTs we sign (IAM
 * GetRole with a freshly issued session's own keys). PROTOCOLS.md C5;
 * written here rather than CURLOPT_AWS_SIGV4 so the secret key never
 * leaves locked memory. Pure: no I/O, no clock. */
#pragma once

#include <stddef.h>

#include "util/macro.h"
#include "util/secret.h"

#define SIGV4_AMZ_DATE_LEN 16 /* "20150830T123600Z" */

struct sigv4_request {
	const char *method;       /* "POST" */
	const char *host;         /* Host header value, e.g. "iam.amazonaws.com" */
	const char *path;         /* canonical URI, "/" */
	const char *query;        /* canonical query string (sorted, encoded), "" */
	const char *content_type; /* signed when set */
	const char *body;
	size_t body_len;
	const char *region;       /* "us-east-1" */
	const char *service;      /* "iam" */
	const char *access_key_id;
	const struct secret *secret_access_key;
	const struct secret *session_token; /* X-Amz-Security-Token, NULL = none */
	usec_t now;               /* wall clock: X-Amz-Date */
};

/* Computes the Authorization header value ("AWS4-HMAC-SHA256
 * Credential=..., SignedHeaders=..., Signature=...") and the X-Amz-Date
 * value. Signed headers: content-type (if set), host, x-amz-date,
 * x-amz-security-token (if set). *ret_auth is the caller's to free. */
int sigv4_sign(const struct sigv4_request *req, char **ret_auth,
	       char ret_amz_date[static SIGV4_AMZ_DATE_LEN + 1]);
