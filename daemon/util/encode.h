/* Hex and base64 (RFC 4648 sections 4, 5 and 8): the one home for both.
 * Encoders write into caller buffers sized with the macros below; the
 * secret variants keep encoded secrets in locked memory. */
#pragma once

#include <stddef.h>

#include "util/secret.h"

/* Characters (without the NUL) that n bytes need. */
#define ENCODE_HEX_LEN(n) (2 * (n))
#define ENCODE_BASE64_LEN(n) (((n) + 2) / 3 * 4)
#define ENCODE_BASE64URL_LEN(n) (((n) * 4 + 2) / 3)

/* Writes n bytes as 2n lower-case hex digits and a NUL to out. */
void encode_hex(const void *p, size_t n, char *out);
/* Writes the base64 of n bytes (padded, no line breaks) and a NUL to out
 * (ENCODE_BASE64_LEN(n) + 1 bytes); returns the length. */
size_t encode_base64(const void *p, size_t n, char *out);
/* The same in base64url without padding (ENCODE_BASE64URL_LEN(n) + 1). */
size_t encode_base64url(const void *p, size_t n, char *out);

/* The base64 of a secret, in a new secret (the caller's). -ENOMEM,
 * -E2BIG. */
int encode_base64_secret(const struct secret *in, struct secret **ret);
/* Decodes base64 (whitespace ignored, missing padding accepted) into a new
 * secret (the caller's; encoded assertions are secrets too). -EINVAL on
 * bad input, -ENOMEM. */
int encode_base64_decode_secret(const char *b64, size_t len,
				struct secret **ret);
