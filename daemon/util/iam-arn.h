/* IAM's naming rules for what an assertion names (IAM API Reference: the
 * Role and SAMLProvider data types, CreateRole). Text from ADFS reaches
 * role names, ECS URLs, `adfs-credctl env` output and the journal: what
 * IAM itself would refuse is refused here. Each check returns NULL when s
 * is acceptable, else a phrase saying why not (static). */
#pragma once

#include <stddef.h>

#define IAM_ARN_NAME_MAX 64u   /* a role name */
#define IAM_ARN_PATH_MAX 512u  /* a path, both slashes included */

/* A role name: [\w+=,.@-]{1,64} (ASCII \w). */
const char *iam_arn_check_role_name(const char *s, size_t n);
/* A path: "/" or "/" [\x21-\x7E]+ "/", at most 512 characters. */
const char *iam_arn_check_path(const char *s, size_t n);
/* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, PARTITION [a-z-]+ starting
 * with "aws", ACCOUNT 12 digits. */
const char *iam_arn_check_role(const char *arn);
/* arn:PARTITION:iam::ACCOUNT:saml-provider/NAME, NAME [\w.-]{1,128}. */
const char *iam_arn_check_provider(const char *arn);
