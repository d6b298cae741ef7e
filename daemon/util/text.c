/* Escaping remote text for terminals and shells (see text.h). */
#include "util/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHELL_SAFE                                                  \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" \
	"_@%+=:,./-"

/* The length of the UTF-8 sequence at p (shortest form, no surrogates),
 * and its code point; 0 when p does not start one. */
static size_t utf8_len(const unsigned char *p, uint32_t *ret)
{
	uint32_t c;
	size_t n;

	if (p[0] < 0x80) {
		*ret = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07u;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3fu);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*ret = c;
	return n;
}

/* Writes a backslash, esc and digits hex digits of c at o; returns the
 * end. */
static char *put_escape(char *o, char esc, uint32_t c, int digits)
{
	static const char hex[] = "0123456789abcdef";

	*o++ = '\\';
	*o++ = esc;
	for (int i = digits - 1; i >= 0; i--)
		*o++ = hex[(c >> (4 * i)) & 0xfu];
	return o;
}

static bool is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

char *text_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;

	if (!s)
		return NULL;
	/* "\uHHHH" (6) is the longest escape of a sequence of 2 or more
	 * bytes, "\xHH" (4) of one byte. */
	out = malloc(strlen(s) * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	while (*p) {
		uint32_t c = 0;
		size_t n = utf8_len(p, &c);

		if (n == 0) {
			o = put_escape(o, 'x', *p, 2);
			p++;
			continue;
		}
		if (is_control(c) && c < 0x80) {
			o = put_escape(o, 'x', c, 2);
		} else if (is_control(c)) {
			o = put_escape(o, 'u', c, 4);
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	return out;
}

char *text_shell_quote(const char *s)
{
	char *out, *o;

	if (!s)
		return NULL;
	if (*s && strspn(s, SHELL_SAFE) == strlen(s))
		return strdup(s);
	/* Each ' becomes 4 characters; two quotes around. */
	out = malloc(strlen(s) * 4 + 3);
	if (!out)
		return NULL;
	o = out;
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *s;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}
