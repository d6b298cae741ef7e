/* Hex and base64 (RFC 4648). */
#include "util/encode.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";
static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void encode_hex(const void *p, size_t n, char *out)
{
	const unsigned char *d = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[d[i] >> 4];
		out[2 * i + 1] = hex_digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* RFC 4648 section 4 with the given alphabet; pad: append '=' to a
 * partial quantum (section 3.2). */
static size_t base64(const unsigned char *d, size_t n, char *out,
		     const char *alpha, bool pad)
{
	size_t o = 0, i = 0;

	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 |
			     d[i + 2];

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i > 0) {
		uint32_t v = (uint32_t)d[i] << 16;

		if (n - i == 2)
			v |= (uint32_t)d[i + 1] << 8;
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		if (n - i == 2)
			out[o++] = alpha[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t encode_base64(const void *p, size_t n, char *out)
{
	return base64(p, n, out, b64_std, true);
}

size_t encode_base64url(const void *p, size_t n, char *out)
{
	return base64(p, n, out, b64_url, false);
}

int encode_base64_secret(const struct secret *in, struct secret **ret)
{
	struct secret *out;

	assert(in);
	assert(ret);

	if (in->len > (SIZE_MAX - 8) / 4 * 3)
		return -E2BIG;
	out = secret_new(ENCODE_BASE64_LEN(in->len));
	if (!out)
		return -ENOMEM;
	out->len = encode_base64(in->data, in->len, out->data);
	*ret = out;
	return 0;
}

/* The 6-bit value of a standard base64 character, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v';
}

int encode_base64_decode_secret(const char *b64, size_t len,
				struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *out = NULL;
	size_t n = 0, pad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	assert(b64 || len == 0);
	assert(ret);

	/* Count the significant characters first, so that the output is
	 * sized once and no unlocked copy of the input is made. */
	for (size_t i = 0; i < len; i++) {
		char c = b64[i];

		if (is_space(c))
			continue;
		if (c == '=') {
			if (pad >= 2)
				return -EINVAL;
			pad++;
		} else if (b64_value(c) < 0 || pad > 0) {
			/* Data after padding, or a foreign character. */
			return -EINVAL;
		}
		n++;
	}
	if (n == 0)
		return -EINVAL;
	/* RFC 4648 3.2: accept input whose padding was left off, but not a
	 * length no encoder produces. */
	switch (n % 4) {
	case 0:
		break;
	case 1:
		return -EINVAL;
	default:
		if (pad > 0)
			return -EINVAL;
		break;
	}
	n -= pad;
	/* A quantum of 2 or 3 characters carries 1 or 2 bytes. */
	if (n % 4 == 1)
		return -EINVAL;
	out = secret_new(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v;

		if (is_space(b64[i]) || b64[i] == '=')
			continue;
		v = b64_value(b64[i]);
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[out->len++] = (char)(acc >> bits & 0xff);
		}
	}
	/* acc held decoded bytes. */
	explicit_bzero(&acc, sizeof(acc));
	out->data[out->len] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}
