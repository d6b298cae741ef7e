/* The partition table (see partition.h for the sources). */
#include "util/partition.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

/* The first entry is the fallback for regions no prefix claims. The
 * aws-eusc sign-in host follows the partition's DNS domain; it is the one
 * value here that no SDK table publishes (docs/internals/wstrust.md). */
static const struct partition partitions[] = {
	{
		.name = "aws",
		.region_prefix = "",
		.dns_suffix = "amazonaws.com",
		.sts_endpoint = "https://sts.amazonaws.com",
		.iam_endpoint = "https://iam.amazonaws.com",
		.iam_region = "us-east-1",
		.saml_signin = "https://signin.aws.amazon.com/saml",
		.relying_party = "urn:amazon:webservices",
	},
	{
		.name = "aws-cn",
		.region_prefix = "cn-",
		.dns_suffix = "amazonaws.com.cn",
		.sts_endpoint = "https://sts.cn-north-1.amazonaws.com.cn",
		.iam_endpoint = "https://iam.cn-north-1.amazonaws.com.cn",
		.iam_region = "cn-north-1",
		.saml_signin = "https://signin.amazonaws.cn/saml",
		.relying_party = "urn:amazon:webservices:cn-north-1",
	},
	{
		.name = "aws-us-gov",
		.region_prefix = "us-gov-",
		.dns_suffix = "amazonaws.com",
		.sts_endpoint = "https://sts.us-gov-west-1.amazonaws.com",
		.iam_endpoint = "https://iam.us-gov.amazonaws.com",
		.iam_region = "us-gov-west-1",
		.saml_signin = "https://signin.amazonaws-us-gov.com/saml",
		.relying_party = "urn:amazon:webservices:govcloud",
	},
	{
		.name = "aws-eusc",
		.region_prefix = "eusc-",
		.dns_suffix = "amazonaws.eu",
		.sts_endpoint = "https://sts.eusc-de-east-1.amazonaws.eu",
		.iam_endpoint = "https://iam.eusc-de-east-1.amazonaws.eu",
		.iam_region = "eusc-de-east-1",
		.saml_signin = "https://signin.amazonaws.eu/saml",
		.relying_party = "urn:amazon:webservices",
	},
};

const struct partition *partition_from_region(const char *region)
{
	if (region)
		for (size_t i = 1; i < ELEMENTSOF(partitions); i++) {
			const char *pre = partitions[i].region_prefix;

			if (strneq(region, pre, strlen(pre)))
				return &partitions[i];
		}
	return &partitions[0];
}

const struct partition *partition_from_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(partitions); i++)
		if (streq(name, partitions[i].name))
			return &partitions[i];
	return NULL;
}

const struct partition *partition_from_arn(const char *arn)
{
	const char *colon;

	if (!arn || !strneq(arn, "arn:", 4))
		return NULL;
	arn += 4;
	colon = strchr(arn, ':');
	if (!colon)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(partitions); i++) {
		const char *n = partitions[i].name;

		if ((size_t)(colon - arn) == strlen(n) &&
		    strneq(arn, n, strlen(n)))
			return &partitions[i];
	}
	return NULL;
}

int partition_sts_endpoint(const char *region, char **ret)
{
	char *s;

	if (!region)
		s = strdup(partitions[0].sts_endpoint);
	else if (asprintf(&s, "https://sts.%s.%s", region,
			  partition_from_region(region)->dns_suffix) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
