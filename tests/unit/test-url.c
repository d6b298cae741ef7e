/* net/url: origins, hosts, Host header values and escaping through
 * libcurl's URL API. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "net/url.h"

static void expect(int (*fn)(const char *, char **), const char *url,
		   const char *want)
{
	char *s = NULL;

	if (!want) {
		assert_int_equal(fn(url, &s), -EINVAL);
		assert_null(s);
		return;
	}
	assert_int_equal(fn(url, &s), 0);
	assert_string_equal(s, want);
	free(s);
}

static void test_origin(void **state)
{
	expect(url_origin, "https://ADFS.Example.com/adfs/ls/?x=1",
	       "https://adfs.example.com:443");
	expect(url_origin, "https://adfs.example.com:8443/a",
	       "https://adfs.example.com:8443");
	expect(url_origin, "https://adfs.example.com:443",
	       "https://adfs.example.com:443");
	expect(url_origin, "https://[::1]:9443/", "https://[::1]:9443");
	/* Same host, other port or scheme: another origin. */
	expect(url_origin, "http://adfs.example.com/",
	       "http://adfs.example.com:80");
	expect(url_origin, "not a url", NULL);
	expect(url_origin, NULL, NULL);
}

static void test_host_and_authority(void **state)
{
	expect(url_host, "https://ADFS.example.com:8443/x",
	       "adfs.example.com");
	expect(url_host, "https://[::1]:9443/", "[::1]");
	expect(url_host, "::", NULL);
	expect(url_authority, "https://iam.amazonaws.com",
	       "iam.amazonaws.com");
	expect(url_authority, "https://127.0.0.1:4443/", "127.0.0.1:4443");
	expect(url_authority, "::", NULL);
}

static void test_escape(void **state)
{
	char *s = NULL;

	assert_int_equal(url_escape("urn:amazon:webservices", 22, &s), 0);
	assert_string_equal(s, "urn%3Aamazon%3Awebservices");
	free(s);
	assert_int_equal(url_escape("a b/c~d-e_f.g", 13, &s), 0);
	assert_string_equal(s, "a%20b%2Fc~d-e_f.g");
	free(s);
	/* Only len bytes, NUL included. */
	assert_int_equal(url_escape("a\0b", 3, &s), 0);
	assert_string_equal(s, "a%00b");
	free(s);
	assert_int_equal(url_escape("xyz", 0, &s), 0);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_host_and_authority),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
