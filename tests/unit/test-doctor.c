/* util/doctor: the verdicts of adfs-credctl doctor and libcurl's choice of
 * proxy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/doctor.h"
#include "util/macro.h"

static void test_names_and_worst(void **state)
{
	assert_string_equal(doctor_result_name(DOCTOR_OK), "OK");
	assert_string_equal(doctor_result_name(DOCTOR_WARN), "WARN");
	assert_string_equal(doctor_result_name(DOCTOR_FAIL), "FAIL");
	assert_string_equal(doctor_result_name(DOCTOR_SKIP), "SKIP");
	assert_string_equal(doctor_result_key(DOCTOR_OK), "ok");
	assert_string_equal(doctor_result_key(DOCTOR_WARN), "warn");
	assert_string_equal(doctor_result_key(DOCTOR_FAIL), "fail");
	assert_string_equal(doctor_result_key(DOCTOR_SKIP), "skip");
	assert_int_equal(doctor_result_worst(DOCTOR_OK, DOCTOR_WARN),
			 DOCTOR_WARN);
	assert_int_equal(doctor_result_worst(DOCTOR_FAIL, DOCTOR_WARN),
			 DOCTOR_FAIL);
	/* A skipped part does not hide what was found elsewhere. */
	assert_int_equal(doctor_result_worst(DOCTOR_SKIP, DOCTOR_OK),
			 DOCTOR_OK);
	assert_int_equal(doctor_result_worst(DOCTOR_FAIL, DOCTOR_SKIP),
			 DOCTOR_FAIL);
	assert_int_equal(doctor_result_worst(DOCTOR_SKIP, DOCTOR_SKIP),
			 DOCTOR_SKIP);
}

static void test_skew(void **state)
{
	static const struct {
		int64_t skew;
		enum doctor_result want;
	} cases[] = {
	    {0, DOCTOR_OK},
	    {59 * (int64_t)USEC_PER_SEC, DOCTOR_OK},
	    {60 * (int64_t)USEC_PER_SEC, DOCTOR_OK},
	    {61 * (int64_t)USEC_PER_SEC, DOCTOR_WARN},
	    {-61 * (int64_t)USEC_PER_SEC, DOCTOR_WARN},
	    {300 * (int64_t)USEC_PER_SEC, DOCTOR_WARN},
	    {301 * (int64_t)USEC_PER_SEC, DOCTOR_FAIL},
	    {-600 * (int64_t)USEC_PER_SEC, DOCTOR_FAIL},
	    {INT64_MIN, DOCTOR_FAIL},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_int_equal(doctor_skew_verdict(cases[i].skew),
				 cases[i].want);
}

static void test_cert(void **state)
{
	const usec_t now = 1800000000 * USEC_PER_SEC;

	assert_int_equal(doctor_cert_verdict(now - USEC_PER_DAY,
					     now + 15 * USEC_PER_DAY, now),
			 DOCTOR_OK);
	assert_int_equal(doctor_cert_verdict(now - USEC_PER_DAY,
					     now + 14 * USEC_PER_DAY, now),
			 DOCTOR_WARN);
	assert_int_equal(
	    doctor_cert_verdict(now - USEC_PER_DAY, now + USEC_PER_SEC, now),
	    DOCTOR_WARN);
	assert_int_equal(doctor_cert_verdict(now - USEC_PER_DAY, now, now),
			 DOCTOR_FAIL);
	assert_int_equal(doctor_cert_verdict(now - 2 * USEC_PER_DAY,
					     now - USEC_PER_DAY, now),
			 DOCTOR_FAIL);
	/* Not valid yet. */
	assert_int_equal(doctor_cert_verdict(now + USEC_PER_SEC,
					     now + 90 * USEC_PER_DAY, now),
			 DOCTOR_FAIL);
}

static void test_no_proxy(void **state)
{
	static const struct {
		const char *list, *host;
		bool want;
	} cases[] = {
	    {NULL, "adfs.example.com", false},
	    {"", "adfs.example.com", false},
	    {"*", "adfs.example.com", true},
	    {" * ", "10.1.2.3", true},
	    {"*.example.com", "adfs.example.com", false}, /* not a glob */
	    {"example.com", "example.com", true},
	    {"example.com", "adfs.example.com", true},
	    {".example.com", "adfs.example.com", true},
	    {".example.com", "example.com", true},
	    {"example.com", "badexample.com", false},
	    {"EXAMPLE.com", "adfs.Example.COM", true},
	    {"example.com.", "adfs.example.com", true},
	    {"other.org, example.com", "sts.example.com", true},
	    {"other.org example.com", "sts.example.com", true},
	    {"other.org,,", "sts.example.com", false},
	    {"localhost,127.0.0.1", "127.0.0.1", true},
	    {"127.0.0.1", "127.0.0.10", false},
	    {"10.0.0.0/8", "10.200.3.4", true},
	    {"10.0.0.0/8", "11.0.0.1", false},
	    {"192.168.4.0/22", "192.168.7.255", true},
	    {"192.168.4.0/22", "192.168.8.0", false},
	    {"0.0.0.0/0", "8.8.8.8", true},
	    {"fd00::/8", "fd12::1", true},
	    {"fd00::/8", "fe80::1", false},
	    {"::1", "::1", true},
	    {"10.0.0.0/33", "10.0.0.1", false},
	    {"10.0.0.0/x", "10.0.0.1", false},
	    {"example.com", "", false},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		bool got = doctor_no_proxy_match(cases[i].list, cases[i].host);

		if (got != cases[i].want)
			fail_msg("no_proxy '%s' host '%s': got %d",
				 cases[i].list ? cases[i].list : "(null)",
				 cases[i].host, got);
	}
}

static void test_proxy_for(void **state)
{
	struct doctor_proxy_env e = {0};

	assert_null(doctor_proxy_for(&e, "adfs.example.com"));
	e.all_proxy = "http://all:3128";
	assert_string_equal(doctor_proxy_for(&e, "adfs.example.com"),
			    "http://all:3128");
	e.HTTPS_PROXY = "http://upper:3128";
	assert_string_equal(doctor_proxy_for(&e, "adfs.example.com"),
			    "http://upper:3128");
	e.https_proxy = "http://lower:3128";
	assert_string_equal(doctor_proxy_for(&e, "adfs.example.com"),
			    "http://lower:3128");
	/* An empty variable counts as unset. */
	e.https_proxy = "";
	assert_string_equal(doctor_proxy_for(&e, "adfs.example.com"),
			    "http://upper:3128");
	e.NO_PROXY = "example.com";
	assert_null(doctor_proxy_for(&e, "adfs.example.com"));
	assert_non_null(doctor_proxy_for(&e, "sts.amazonaws.com"));
	/* no_proxy, when set, is the one read (even empty). */
	e.no_proxy = "";
	assert_non_null(doctor_proxy_for(&e, "adfs.example.com"));
	e.no_proxy = "amazonaws.com";
	assert_null(doctor_proxy_for(&e, "sts.eu-west-1.amazonaws.com"));
}

static void test_proxy_display(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"http://proxy:3128", "http://proxy:3128"},
	    {"proxy:3128", "proxy:3128"},
	    {"http://alice:s3cret@proxy:3128", "http://proxy:3128"},
	    {"http://alice:p@ss@proxy:3128/", "http://proxy:3128/"},
	    {"alice:s3cret@proxy:3128", "proxy:3128"},
	    {"socks5h://u@10.0.0.1:1080", "socks5h://10.0.0.1:1080"},
	    {"http://proxy/path@x", "http://proxy/path@x"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *got = doctor_proxy_display(cases[i].in);

		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		assert_null(strstr(got, "s3cret"));
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_and_worst),
	    cmocka_unit_test(test_skew),
	    cmocka_unit_test(test_cert),
	    cmocka_unit_test(test_no_proxy),
	    cmocka_unit_test(test_proxy_for),
	    cmocka_unit_test(test_proxy_display),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
