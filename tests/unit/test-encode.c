/* util/encode (RFC 4648 section 10 test vectors, hex, base64url, the
 * lenient decoder) and the ISO 8601 formatters/parser of util/timeutil. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/encode.h"
#include "util/timeutil.h"

static void test_hex(void **state)
{
	const unsigned char d[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[ENCODE_HEX_LEN(sizeof(d)) + 1];

	encode_hex(d, sizeof(d), out);
	assert_string_equal(out, "00017f80abff");
	encode_hex(d, 0, out);
	assert_string_equal(out, "");
}

static void test_base64_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
					  "fooba", "foobar" };
	static const char *const std[] = { "", "Zg==", "Zm8=", "Zm9v",
					   "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	static const char *const url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
					   "Zm9vYmE", "Zm9vYmFy" };
	char out[16];

	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(in[i]);

		assert_int_equal(encode_base64(in[i], n, out), strlen(std[i]));
		assert_string_equal(out, std[i]);
		assert_int_equal(strlen(std[i]), ENCODE_BASE64_LEN(n));
		assert_int_equal(encode_base64url(in[i], n, out),
				 strlen(url[i]));
		assert_string_equal(out, url[i]);
		assert_int_equal(strlen(url[i]), ENCODE_BASE64URL_LEN(n));
	}
	{
		/* The two alphabets differ in 62 and 63 only. */
		const unsigned char d[] = { 0xfb, 0xff, 0xbf };

		encode_base64(d, 3, out);
		assert_string_equal(out, "+/+/");
		encode_base64url(d, 3, out);
		assert_string_equal(out, "-_-_");
	}
}

static void test_base64_secret_round_trip(void **state)
{
	struct secret *in = secret_new_from("foobar\0\xff", 8);
	struct secret *b64 = NULL, *back = NULL;

	assert_non_null(in);
	assert_int_equal(encode_base64_secret(in, &b64), 0);
	assert_string_equal(b64->data, "Zm9vYmFyAP8=");
	assert_int_equal(b64->len, 12);
	assert_int_equal(encode_base64_decode_secret(b64->data, b64->len,
						     &back),
			 0);
	assert_int_equal(back->len, 8);
	assert_memory_equal(back->data, "foobar\0\xff", 8);
	secret_free(in);
	secret_free(b64);
	secret_free(back);
}

static void test_base64_decode(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: -EINVAL */
	} cases[] = {
		{ "Zm9vYmFy", "foobar" },
		{ "Zm9v\r\nYmE=", "fooba" },
		{ " Zm 9v\tYg== ", "foob" },
		{ "Zm9vYg", "foob" },  /* padding left off */
		{ "Zm9vYmE", "fooba" },
		{ "Zg", "f" },
		{ "Z", NULL },         /* no encoder writes one character */
		{ "Zm9vY", NULL },
		{ "", NULL },
		{ "  ", NULL },
		{ "Zg=", NULL },       /* partial padding */
		{ "Zg===", NULL },
		{ "Zg==Zg==", NULL },  /* data after padding */
		{ "Zm9v!", NULL },
		{ "Zm9-", NULL },      /* base64url is not base64 */
		{ "====", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct secret *s = NULL;
		int r = encode_base64_decode_secret(cases[i].in,
						    strlen(cases[i].in), &s);

		if (!cases[i].out) {
			assert_int_equal(r, -EINVAL);
			assert_null(s);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(s->data, cases[i].out);
		assert_int_equal(s->len, strlen(cases[i].out));
		secret_free(s);
	}
}

static void test_iso8601(void **state)
{
	/* 2015-08-30T12:36:00.417Z */
	usec_t t = (usec_t)1440938160 * USEC_PER_SEC + 417 * USEC_PER_MSEC +
		   999;
	char a[ISO8601_MAX], b[ISO8601_MS_MAX], c[ISO8601_BASIC_MAX];
	usec_t back = 0;

	assert_string_equal(format_iso8601(a, t), "2015-08-30T12:36:00Z");
	assert_string_equal(format_iso8601_ms(b, t),
			    "2015-08-30T12:36:00.417Z");
	assert_string_equal(format_iso8601_basic(c, t), "20150830T123600Z");
	assert_string_equal(format_iso8601_ms(b, 0),
			    "1970-01-01T00:00:00.000Z");

	assert_int_equal(parse_iso8601("2015-08-30T12:36:00.417Z", &back), 0);
	assert_true(back == t - 999);
	assert_int_equal(parse_iso8601("2015-08-30T14:36:00+02:00", &back),
			 0);
	assert_true(back == (usec_t)1440938160 * USEC_PER_SEC);
	assert_int_equal(parse_iso8601("2015-08-30T12:36:00", &back),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_secret_round_trip),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_iso8601),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
