/* ADFS WS-Trust 1.3 username/password endpoint (PROTOCOLS.md D4):
 * POST a SOAP 1.2 RequestSecurityToken to
 * <adfs.url>/adfs/services/trust/13/usernamemixed, take the SAML 2.0
 * Assertion out of the RequestSecurityTokenResponse(Collection), and wrap it
 * in a samlp:Response so that STS AssumeRoleWithSAML can take it (STS
 * documents SAMLAssertion as the base64 of a whole Response). There are no
 * SSO cookies: every assertion needs the password.
 *
 * Unverified against a real farm: whether AWS accepts the wrapped assertion
 * (see docs/internals/wstrust.md). */
#pragma once

#include <stddef.h>

#include "conf/conf.h"
#include "net/curl-glue.h"
#include "util/macro.h"
#include "util/secret.h"

#define WSTRUST_PATH "/adfs/services/trust/13/usernamemixed"
#define WSTRUST_MAX_REPLY (1024u * 1024u)

struct wstrust_call;

/* Same contract as adfs_done_fn: r == 0 with saml (base64 samlp:Response,
 * owned by the callee); -EACCES when ADFS rejected the credentials
 * (message: ADFS's fault text); -EPROTO etc. with a message. */
typedef void (*wstrust_done_fn)(int r, struct secret *saml,
				const char *message, void *userdata);

/* Pure: builds the SOAP envelope (a secret: it holds the password).
 * endpoint: the full usernamemixed URL (a:To); now: wall clock usec for the
 * u:Timestamp (Created = now, Expires = now + 5 min). */
int wstrust_build_request(const char *endpoint, const char *username,
			  const struct secret *password,
			  const char *relying_party, usec_t now,
			  struct secret **ret);
/* Pure: parses an RSTR (or a SOAP Fault). On success *ret_assertion is the
 * serialized saml:Assertion element (exact bytes, a secret). On a fault,
 * -EACCES for authentication failures (ID3242 / FailedAuthentication),
 * else -EREMOTEIO, with *ret_fault set to the fault text (caller frees). */
int wstrust_parse_response(const char *xml, size_t len,
			   struct secret **ret_assertion, char **ret_fault);
/* Pure: wraps an Assertion in a minimal samlp:Response (Status Success,
 * the given Destination, Issuer copied from the assertion) and
 * base64-encodes it. -EINVAL when destination is NULL or not XML text. */
int wstrust_wrap_response(const struct secret *assertion,
			  const char *destination, usec_t now,
			  struct secret **ret_b64);
/* The SAML sign-in URL of conf's partition (from aws.region, else from the
 * roles' ARNs, else aws): the Destination wstrust_fetch() writes. Static
 * storage. */
const char *wstrust_destination(const struct conf *conf);

/* Starts one round; password borrowed until done runs. */
int wstrust_fetch(struct curl_glue *g, const struct conf *conf,
		  const struct secret *password, wstrust_done_fn done,
		  void *userdata, struct wstrust_call **ret);
/* Cancels (no callback) and frees; accepts NULL. */
struct wstrust_call *wstrust_call_free(struct wstrust_call *c);
DEFINE_FREEP(struct wstrust_call, wstrust_call_free)
