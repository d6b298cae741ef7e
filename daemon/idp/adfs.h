/* ADFS IdP-initiated sign-on (PROTOCOLS.md D1): fetch a SAMLResponse with
 * the SSO cookies we hold, or by posting the login form with a password.
 * Asynchronous on curl-glue. Redirects are followed by hand and must stay
 * on the ADFS origin, so a password is never posted anywhere else. A
 * password that ADFS rejects is reported as -EACCES and never re-posted. */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "net/curl-glue.h"
#include "util/macro.h"
#include "util/secret.h"

#define ADFS_MAX_STEPS 24
#define ADFS_PUSH_POLL_INTERVAL (3 * USEC_PER_SEC)
#define ADFS_PUSH_MAX_WAIT (2 * USEC_PER_MINUTE)
#define ADFS_MFA_ANSWER_TIMEOUT (5 * USEC_PER_MINUTE)
#define ADFS_WIA_USER_AGENT \
	"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"

struct adfs;

/* r: 0 with saml (base64 SAMLResponse, owned by the callee) set;
 *   -ENOKEY  the SSO cookies are gone and no password was given, or a
 *            second factor is needed and nobody can answer it (renewal);
 *   -EACCES  ADFS rejected the password (message: ADFS's own text);
 *   -EBADE   ADFS rejected or denied the second factor;
 *   -EPROTO / -ETIMEDOUT / ... with message saying what went wrong.
 * message is borrowed for the duration of the call and holds no secret. */
typedef void (*adfs_done_fn)(int r, struct secret *saml, const char *message,
			     void *userdata);

enum adfs_mfa_kind {
	ADFS_MFA_OTP,  /* a code is needed: adfs_mfa_answer() */
	ADFS_MFA_PUSH, /* approve on the phone; we poll ADFS meanwhile */
};

/* ADFS asks for a second factor. hint: the number to match or the
 * instructions (push), or NULL. Returns 0 and the round waits: for a code
 * (OTP), or for the approval that polling notices (push, for
 * ADFS_PUSH_MAX_WAIT at most). Returns < 0 when nobody will answer: the
 * round ends with -ENOKEY. Either way, ADFS's MFA adapter has already
 * sent the push or the text message when it showed the page. */
typedef int (*adfs_mfa_fn)(enum adfs_mfa_kind kind, const char *hint,
			   void *userdata);

/* conf is the manager's slot: the object reads the configuration through
 * it, so a reload (same adfs.url) swaps it for every round after. */
int adfs_new(sd_event *event, struct curl_glue *g, struct conf *const *conf,
	     struct adfs **ret);
struct adfs *adfs_free(struct adfs *a);
DEFINE_FREEP(struct adfs, adfs_free)

/* Starts a sign-on round. password may be NULL (cookie round only); it is
 * borrowed until done runs. fresh (with a password: a login): the round
 * starts without the SSO cookies, so that ADFS takes the password and a
 * new SSO begins; they are kept, and come back if it fails. mfa may be
 * NULL: then a second factor ends the round with -ENOKEY. -EBUSY while a
 * round is running. */
int adfs_fetch(struct adfs *a, const struct secret *password, bool fresh,
	       adfs_done_fn done, adfs_mfa_fn mfa, void *userdata);
/* Answers an OTP prompt with code (copied). -ENOENT when no OTP prompt is
 * waiting. For a push prompt there is nothing to answer: returns 0. */
int adfs_mfa_answer(struct adfs *a, const struct secret *code);
/* Cookies as Netscape cookie-file lines (for persistence); the list is
 * the caller's (curl_slist_free_all), NULL when there are none. */
struct curl_slist *adfs_export_cookies(struct adfs *a);
/* Loads cookie-file lines saved by adfs_export_cookies. */
int adfs_import_cookies(struct adfs *a, const char *const *lines, size_t n);
/* Aborts a running round without calling done. */
void adfs_cancel(struct adfs *a);
/* Forgets every cookie (logout). */
void adfs_forget(struct adfs *a);
/* The wall-clock expiry of the persistent ADFS authentication cookie in
 * the jar (MSISAuth, or the latest-expiring MSISAuth<n> piece): what
 * "Keep me signed in" (adfs.keep_me_signed_in) got. 0 when there is none,
 * or when it is a session cookie (no Kmsi: the SSO lasts AD FS's
 * WebSsoLifetime, which the cookie does not tell). */
usec_t adfs_sso_cookie_expiry(const struct adfs *a);
/* Whether the last round posted the password (a new SSO session), rather
 * than getting the assertion with cookies alone. */
bool adfs_posted_password(const struct adfs *a);
/* When the round stops waiting for the approval of the push it waits on
 * (CLOCK_MONOTONIC), or 0 when it waits on none. */
usec_t adfs_push_deadline(const struct adfs *a);
/* The IdpInitiatedSignOn URL for conf; caller frees. */
char *adfs_signon_url(const struct conf *conf);
