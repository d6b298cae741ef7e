/* The partition table: region and ARN lookups, and the endpoints each
 * partition gets (botocore partitions.json; IAM's endpoint rule set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/partition.h"

static void test_from_region(void **state)
{
	assert_string_equal(partition_from_region(NULL)->name, "aws");
	assert_string_equal(partition_from_region("eu-west-1")->name, "aws");
	assert_string_equal(partition_from_region("us-east-1")->name, "aws");
	assert_string_equal(partition_from_region("cn-north-1")->name,
			    "aws-cn");
	assert_string_equal(partition_from_region("cn-northwest-1")->name,
			    "aws-cn");
	assert_string_equal(partition_from_region("us-gov-west-1")->name,
			    "aws-us-gov");
	assert_string_equal(partition_from_region("us-gov-east-1")->name,
			    "aws-us-gov");
	assert_string_equal(partition_from_region("eusc-de-east-1")->name,
			    "aws-eusc");
	/* eu-south-1 is commercial, not the sovereign cloud. */
	assert_string_equal(partition_from_region("eu-south-1")->name, "aws");
}

static void test_from_name_and_arn(void **state)
{
	assert_string_equal(partition_from_name("aws-eusc")->dns_suffix,
			    "amazonaws.eu");
	assert_null(partition_from_name("aws-mars"));
	assert_null(partition_from_name(NULL));

	assert_string_equal(
		partition_from_arn("arn:aws:iam::123456789012:role/R")->name,
		"aws");
	assert_string_equal(
		partition_from_arn("arn:aws-cn:iam::123456789012:role/R")
			->name,
		"aws-cn");
	assert_string_equal(
		partition_from_arn("arn:aws-us-gov:iam::123456789012:role/R")
			->name,
		"aws-us-gov");
	assert_string_equal(
		partition_from_arn("arn:aws-eusc:iam::123456789012:role/R")
			->name,
		"aws-eusc");
	/* A prefix of a name is not the name. */
	assert_null(partition_from_arn("arn:aws-c:iam::1:role/R"));
	assert_null(partition_from_arn("arn:aws-cnx:iam::1:role/R"));
	assert_null(partition_from_arn("arn:aws"));
	assert_null(partition_from_arn("aws:iam::1:role/R"));
	assert_null(partition_from_arn(NULL));
}

static void test_endpoints(void **state)
{
	const struct partition *p;
	char *s = NULL;

	assert_int_equal(partition_sts_endpoint(NULL, &s), 0);
	assert_string_equal(s, "https://sts.amazonaws.com");
	free(s);
	assert_int_equal(partition_sts_endpoint("eu-west-1", &s), 0);
	assert_string_equal(s, "https://sts.eu-west-1.amazonaws.com");
	free(s);
	assert_int_equal(partition_sts_endpoint("cn-north-1", &s), 0);
	assert_string_equal(s, "https://sts.cn-north-1.amazonaws.com.cn");
	free(s);
	assert_int_equal(partition_sts_endpoint("us-gov-west-1", &s), 0);
	assert_string_equal(s, "https://sts.us-gov-west-1.amazonaws.com");
	free(s);
	/* The sovereign cloud is not under amazonaws.com. */
	assert_int_equal(partition_sts_endpoint("eusc-de-east-1", &s), 0);
	assert_string_equal(s, "https://sts.eusc-de-east-1.amazonaws.eu");
	free(s);

	p = partition_from_region("eu-west-1");
	assert_string_equal(p->iam_endpoint, "https://iam.amazonaws.com");
	assert_string_equal(p->iam_region, "us-east-1");
	assert_string_equal(p->saml_signin,
			    "https://signin.aws.amazon.com/saml");
	p = partition_from_region("cn-northwest-1");
	assert_string_equal(p->iam_endpoint,
			    "https://iam.cn-north-1.amazonaws.com.cn");
	assert_string_equal(p->iam_region, "cn-north-1");
	assert_string_equal(p->saml_signin, "https://signin.amazonaws.cn/saml");
	p = partition_from_region("us-gov-east-1");
	assert_string_equal(p->iam_endpoint, "https://iam.us-gov.amazonaws.com");
	assert_string_equal(p->iam_region, "us-gov-west-1");
	assert_string_equal(p->saml_signin,
			    "https://signin.amazonaws-us-gov.com/saml");
	p = partition_from_region("eusc-de-east-1");
	assert_string_equal(p->iam_endpoint,
			    "https://iam.eusc-de-east-1.amazonaws.eu");
	assert_string_equal(p->iam_region, "eusc-de-east-1");
	assert_null(strstr(p->saml_signin, "amazonaws.com"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_region),
		cmocka_unit_test(test_from_name_and_arn),
		cmocka_unit_test(test_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
