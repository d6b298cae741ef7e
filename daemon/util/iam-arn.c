/* IAM naming rules (see iam-arn.h). */
#include "util/iam-arn.h"

#include <stdbool.h>
#include <string.h>

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"
#define WORD LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "_"
#define PARTITION_MAX 32u

static bool all_in(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

const char *iam_arn_check_role_name(const char *s, size_t n)
{
	if (n < 1 || n > IAM_ARN_NAME_MAX || !all_in(s, n, WORD "+=,.@-"))
		return "a role name is 1 to 64 characters of A-Z a-z 0-9 "
		       "_ + = , . @ -";
	return NULL;
}

const char *iam_arn_check_path(const char *s, size_t n)
{
	static const char bad[] = "a role path is / or /PATH/ with PATH "
				  "printable ASCII without spaces, at most "
				  "512 characters";

	if (n < 1 || n > IAM_ARN_PATH_MAX || n == 2 || s[0] != '/' ||
	    s[n - 1] != '/')
		return bad;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return bad;
	return NULL;
}

/* "arn:PARTITION:iam::ACCOUNT:" then kind; returns what follows kind. */
static const char *iam_rest(const char *arn, const char *kind,
			    const char **why)
{
	const char *p;
	size_t n;

	*why = "not an IAM ARN (arn:aws:iam::ACCOUNT:...)";
	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return NULL;
	p = arn + 4;
	n = strspn(p, LOWER "-");
	if (n < 3 || n > PARTITION_MAX || strncmp(p, "aws", 3) != 0)
		return NULL;
	p += n;
	if (strncmp(p, ":iam::", 6) != 0)
		return NULL;
	p += 6;
	if (strspn(p, DIGITS) != 12 || p[12] != ':') {
		*why = "an account ID is 12 digits";
		return NULL;
	}
	p += 13;
	n = strlen(kind);
	if (strncmp(p, kind, n) != 0)
		return NULL;
	*why = NULL;
	return p + n;
}

const char *iam_arn_check_role(const char *arn)
{
	const char *why, *p = iam_rest(arn, "role", &why), *slash;

	if (!p)
		return why;
	/* p is "/[PATH/]NAME": the path runs to the last '/'. */
	slash = strrchr(p, '/');
	if (!slash)
		return "not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)";
	why = iam_arn_check_path(p, (size_t)(slash - p) + 1);
	if (why)
		return why;
	return iam_arn_check_role_name(slash + 1, strlen(slash + 1));
}

const char *iam_arn_check_provider(const char *arn)
{
	const char *why, *p = iam_rest(arn, "saml-provider/", &why);
	size_t n;

	if (!p)
		return why;
	n = strlen(p);
	if (n < 1 || n > 128 || !all_in(p, n, WORD ".-"))
		return "a SAML provider name is 1 to 128 characters of "
		       "A-Z a-z 0-9 _ . -";
	return NULL;
}
