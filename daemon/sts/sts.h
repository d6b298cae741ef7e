/* STS AssumeRoleWithSAML (PROTOCOLS.md C1-C3): an unsigned query-protocol
 * POST, asynchronous on curl-glue. */
#pragma once

#include <stdint.h>

#include "conf/conf.h"
#include "net/curl-glue.h"
#include "sts/sts-xml.h"
#include "util/secret.h"

struct sts_call;

/* r == 0: creds set (owned by the callee). r < 0: err set when STS sent
 * an ErrorResponse (owned by the callee), message always set (no secret).
 * server_date: STS's Date header (0 when absent), for skew. */
typedef void (*sts_done_fn)(int r, struct sts_creds *creds,
			    struct sts_error *err, const char *message,
			    usec_t server_date, void *userdata);

/* Starts AssumeRoleWithSAML. saml_b64 is copied; duration 0 = omit. */
int sts_assume_role_with_saml(struct curl_glue *g, const struct conf *conf,
			      const char *role_arn, const char *principal_arn,
			      const struct secret *saml_b64, uint32_t duration,
			      sts_done_fn done, void *userdata,
			      struct sts_call **ret);
/* Cancels (no callback) and frees; accepts NULL. */
struct sts_call *sts_call_free(struct sts_call *c);
DEFINE_FREEP(struct sts_call, sts_call_free)

/* True when err is STS's "DurationSeconds exceeds the MaxSessionDuration". */
bool sts_error_is_duration_too_long(const struct sts_error *err);
