/* SigV4 against AWS's published example (IAM ListUsers, "Signature
 * Version 4 signing process" in the AWS General Reference) and against
 * the session-token variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sts/sigv4.h"
#include "util/timeutil.h"

/* 2015-08-30T12:36:00Z */
#define EXAMPLE_TIME ((usec_t)1440938160 * USEC_PER_SEC)

static void test_aws_example(void **state)
{
	struct secret *sk = secret_new_from(
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 40);
	struct sigv4_request req = {
		.method = "GET",
		.host = "iam.amazonaws.com",
		.path = "/",
		.query = "Action=ListUsers&Version=2010-05-08",
		.content_type = "application/x-www-form-urlencoded; charset=utf-8",
		.region = "us-east-1",
		.service = "iam",
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = sk,
		.now = EXAMPLE_TIME,
	};
	char date[SIGV4_AMZ_DATE_LEN + 1];
	char *auth = NULL;

	assert_int_equal(sigv4_sign(&req, &auth, date), 0);
	assert_string_equal(date, "20150830T123600Z");
	assert_string_equal(
		auth,
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
		"iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
		"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b"
		"5924a6f2b5d7");
	free(auth);
	secret_free(sk);
}

static void test_session_token_is_signed(void **state)
{
	struct secret *sk = secret_new_from("secret", 6);
	struct secret *t1 = secret_new_from("token-one", 9);
	struct secret *t2 = secret_new_from("token-two", 9);
	struct sigv4_request req = {
		.method = "POST",
		.host = "iam.amazonaws.com",
		.path = "/",
		.query = "",
		.content_type = "application/x-www-form-urlencoded; charset=utf-8",
		.body = "Action=GetRole&RoleName=X&Version=2010-05-08",
		.region = "us-east-1",
		.service = "iam",
		.access_key_id = "ASIAEXAMPLE",
		.secret_access_key = sk,
		.session_token = t1,
		.now = EXAMPLE_TIME,
	};
	char date[SIGV4_AMZ_DATE_LEN + 1];
	char *a1 = NULL, *a2 = NULL, *a3 = NULL;

	req.body_len = strlen(req.body);
	assert_int_equal(sigv4_sign(&req, &a1, date), 0);
	assert_non_null(strstr(a1, "SignedHeaders=content-type;host;x-amz-date;"
				   "x-amz-security-token, "));
	req.session_token = t2;
	assert_int_equal(sigv4_sign(&req, &a2, date), 0);
	assert_string_not_equal(a1, a2);
	/* The body is signed too. */
	req.body = "Action=GetRole&RoleName=Y&Version=2010-05-08";
	assert_int_equal(sigv4_sign(&req, &a3, date), 0);
	assert_string_not_equal(a2, a3);
	free(a1);
	free(a2);
	free(a3);
	secret_free(sk);
	secret_free(t1);
	secret_free(t2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_example),
		cmocka_unit_test(test_session_token_is_signed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
