/* idp/adfs: adfs_sso_cookie_expiry() on the locked jar, as state.json
 * restores it (Netscape cookie-file lines). The rounds themselves:
 * tests/integration/test_kmsi.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "idp/adfs.h"
#include "util/macro.h"

#define HOST "#HttpOnly_adfs.example.com\tFALSE\t/adfs\tTRUE\t"

static usec_t expiry_of(const char *const *lines, size_t n)
{
	static char url[] = "https://adfs.example.com";
	struct conf c = { 0 }, *cp = &c;
	_cleanup_(curl_glue_freep) struct curl_glue *g = NULL;
	_cleanup_(adfs_freep) struct adfs *a = NULL;
	sd_event *e = NULL;
	usec_t r;

	c.adfs.url = url;
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(curl_glue_new(e, &g), 0);
	assert_int_equal(adfs_new(e, g, &cp, &a), 0);
	if (n)
		assert_int_equal(adfs_import_cookies(a, lines, n), 0);
	r = adfs_sso_cookie_expiry(a);
	a = adfs_free(a);
	g = curl_glue_free(g);
	sd_event_unref(e);
	return r;
}

static void test_none(void **state)
{
	const char *other[] = { HOST "1796400000\tMSISLoopDetectionCookie\tx" };

	assert_int_equal(expiry_of(NULL, 0), 0);
	assert_int_equal(expiry_of(other, 1), 0);
}

static void test_persistent(void **state)
{
	const char *lines[] = {
		HOST "1796500000\tMSISAuthenticated\tMy8xMC8yMDIx",
		HOST "1796400000\tMSISAuth\tAAAA",
		HOST "0\tMSISLoopDetectionCookie\tx",
	};

	/* MSISAuthenticated is not the SSO: only MSISAuth counts. */
	assert_int_equal(expiry_of(lines, ELEMENTSOF(lines)),
			 1796400000ULL * USEC_PER_SEC);
}

static void test_pieces(void **state)
{
	/* A large MSISAuth comes in pieces: the latest expiry. */
	const char *lines[] = {
		HOST "1796400000\tMSISAuth\tAAAA",
		HOST "1796400060\tMSISAuth1\tBBBB",
		HOST "1796500000\tMSISAuthX\tnot an auth cookie",
	};

	assert_int_equal(expiry_of(lines, ELEMENTSOF(lines)),
			 1796400060ULL * USEC_PER_SEC);
}

static void test_session_cookie(void **state)
{
	/* No Kmsi: a session cookie, whose end the cookie does not say. */
	const char *lines[] = {
		HOST "0\tMSISAuth\tAAAA",
		HOST "0\tMSISAuthenticated\tMy8xMC8yMDIx",
	};

	assert_int_equal(expiry_of(lines, ELEMENTSOF(lines)), 0);
}

static void test_malformed(void **state)
{
	const char *lines[] = {
		HOST "17964x0000\tMSISAuth\tAAAA",
	};
	const char *short_line[] = { "adfs.example.com\tMSISAuth\t1" };

	assert_int_equal(expiry_of(lines, 1), 0);
	assert_int_equal(expiry_of(short_line, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_persistent),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_session_cookie),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
