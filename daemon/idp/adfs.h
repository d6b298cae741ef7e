/* ADFS IdP-initiated sign-on (PROTOCOLS.md D1): fetch a SAMLResponse with
 * the SSO cookies we hold, or by posting the login form with a password.
 * Asynchronous on curl-glue. Redirects are followed by hand and must stay
 * on the ADFS origin, so a password is never posted anywhere else. A
 * password that ADFS rejects is reported as -EACCES and never re-posted. */
#pragma once

#include <curl/curl.h>

#include "conf/conf.h"
#include "net/curl-glue.h"
#include "util/macro.h"
#include "util/secret.h"

#define ADFS_MAX_STEPS 12
#define ADFS_WIA_USER_AGENT \
	"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"

struct adfs;

/* r: 0 with saml (base64 SAMLResponse, owned by the callee) set;
 *   -ENOKEY  the SSO cookies are gone and no password was given;
 *   -EACCES  ADFS rejected the password (message: ADFS's own text);
 *   -EOPNOTSUPP a second factor is required (not handled yet);
 *   -EPROTO / -ETIMEDOUT / ... with message saying what went wrong.
 * message is borrowed for the duration of the call and holds no secret. */
typedef void (*adfs_done_fn)(int r, struct secret *saml, const char *message,
			     void *userdata);

/* conf is borrowed and must outlive the object (the manager swaps both). */
int adfs_new(struct curl_glue *g, const struct conf *conf, struct adfs **ret);
struct adfs *adfs_free(struct adfs *a);
DEFINE_FREEP(struct adfs, adfs_free)

/* Points at a new conf after a reload (same adfs.url); not while a round
 * is running. */
void adfs_set_conf(struct adfs *a, const struct conf *conf);
/* Starts a sign-on round. password may be NULL (cookie round only); it is
 * borrowed until done runs. -EBUSY while a round is running. */
int adfs_fetch(struct adfs *a, const struct secret *password,
	       adfs_done_fn done, void *userdata);
/* Aborts a running round without calling done. */
void adfs_cancel(struct adfs *a);
/* Forgets every cookie (logout). */
void adfs_forget(struct adfs *a);
/* Whether we hold any ADFS cookie. */
bool adfs_has_cookies(struct adfs *a);
/* The IdpInitiatedSignOn URL for conf; caller frees. */
char *adfs_signon_url(const struct conf *conf);
