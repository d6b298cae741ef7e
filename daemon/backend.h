/* The refresh cycle's ops (session/cycle.h) on the real network: ADFS
 * sign-on or WS-Trust for assertions, STS AssumeRoleWithSAML, IAM GetRole.
 * It translates each module's result into the cycle's terms, and holds the
 * calls in flight so that a cancel stops them all. */
#pragma once

#include "conf/conf.h"
#include "idp/adfs.h"
#include "net/curl-glue.h"
#include "session/cycle.h"

struct backend;

/* glue and adfs are borrowed; conf is the manager's slot. */
int backend_new(struct curl_glue *glue, struct adfs *adfs,
		struct conf *const *conf, struct backend **ret);
struct backend *backend_free(struct backend *b);
DEFINE_FREEP(struct backend, backend_free)
/* The cycle the results go to (created with backend_ops and b). */
void backend_attach(struct backend *b, struct cycle *c);

extern const struct cycle_ops backend_ops;
