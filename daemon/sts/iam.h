/* IAM GetRole (PROTOCOLS.md C5) signed with SigV4 using a role session's
 * own credentials, to learn the role's exact MaxSessionDuration. */
#pragma once

#include <stdint.h>

#include "conf/conf.h"
#include "net/curl-glue.h"
#include "util/secret.h"
#include "sts/sts-xml.h"

struct iam_call;

/* r == 0: max set (3600..43200). r < 0: err set when IAM sent an
 * ErrorResponse (owned by the callee; AccessDenied means the role may not
 * read itself), message always set (no secret). */
typedef void (*iam_done_fn)(int r, uint32_t max, struct sts_error *err,
			    const char *message, void *userdata);

/* The session a request is signed with (borrowed: used only while
 * iam_get_role() runs). */
struct iam_key {
	const char *access_key_id;
	const struct secret *secret_access_key;
	const struct secret *session_token;
};

/* role_name: the part of the ARN after "role/" (path excluded). */
int iam_get_role(struct curl_glue *g, const struct conf *conf,
		 const struct iam_key *key, const char *role_name, usec_t now,
		 iam_done_fn done, void *userdata, struct iam_call **ret);
struct iam_call *iam_call_free(struct iam_call *c);
DEFINE_FREEP(struct iam_call, iam_call_free)

/* The SigV4 region for IAM in conf's partition (util/partition.c:
 * us-east-1, cn-north-1, us-gov-west-1 or eusc-de-east-1). */
const char *iam_signing_region(const struct conf *conf);
