/* AWS partitions: the one table of what differs between aws, aws-cn,
 * aws-us-gov and aws-eusc (DNS suffix, STS/IAM endpoints, the IAM signing
 * region, the SAML sign-in URL and the usual ADFS relying party). Sources:
 * botocore/data/partitions.json (id, dnsSuffix, regionRegex,
 * implicitGlobalRegion) and iam/2010-05-08/endpoint-rule-set-1.json (the
 * IAM host and its SigV4 signingRegion per partition); PROTOCOLS.md C4/C5.
 * Pure and static: the entries are constants, never freed. */
#pragma once

struct partition {
	const char *name;          /* "aws", the ARN's second field */
	const char *region_prefix; /* "cn-"; "" for aws (the fallback) */
	const char *dns_suffix;    /* "amazonaws.com" */
	const char *sts_endpoint;  /* STS in the implicit global region */
	const char *iam_endpoint;  /* IAM is one endpoint per partition */
	const char *iam_region;    /* SigV4 region for IAM */
	const char *saml_signin;   /* SAML sign-in URL (Destination) */
	const char *relying_party; /* ADFS relying party trust identifier */
};

/* The partition that holds region (by its prefix: cn-, us-gov-, eusc-);
 * aws for NULL and for any other region. Never NULL. */
const struct partition *partition_from_region(const char *region);
/* The partition called name ("aws-cn"), or NULL. */
const struct partition *partition_from_name(const char *name);
/* The partition of an ARN ("arn:aws-cn:iam::..."), or NULL when the ARN
 * does not start with "arn:" and a known partition name. */
const struct partition *partition_from_arn(const char *arn);

/* The STS endpoint for region: "https://sts.<region>.<dns suffix>", or the
 * global aws endpoint when region is NULL. *ret is the caller's to free.
 * -ENOMEM. */
int partition_sts_endpoint(const char *region, char **ret);
