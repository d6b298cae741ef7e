#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idp/wstrust.h"
#include "sts/iam.h"
#include "sts/sts.h"
#include "util/timeutil.h"

struct backend {
	struct curl_glue *glue;
	struct adfs *adfs;
	struct conf *const *conf;
	struct cycle *cycle;
	struct wstrust_call *wstrust;
	struct sts_call *sts;
	struct iam_call *iam;

	/* A round nobody waits on met a second factor it did not get (the
	 * notify path, or the one push it started was not approved): until
	 * a sign-in succeeds or the user runs `login`, such rounds send no
	 * password, since posting it would make ADFS ask (for Azure MFA:
	 * push) again. This is the push budget: one per renewal window. */
	bool mfa_needs_user;
	bool pushing;          /* this round started a push by itself */
	bool held_back;        /* this round held the password back */
};

int backend_new(struct curl_glue *glue, struct adfs *adfs,
		struct conf *const *conf, struct backend **ret)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->glue = glue;
	b->adfs = adfs;
	b->conf = conf;
	*ret = b;
	return 0;
}

static void cancel(void *ud)
{
	struct backend *b = ud;

	adfs_cancel(b->adfs);
	b->wstrust = wstrust_call_free(b->wstrust);
	b->sts = sts_call_free(b->sts);
	b->iam = iam_call_free(b->iam);
}

struct backend *backend_free(struct backend *b)
{
	if (!b)
		return NULL;
	cancel(b);
	free(b);
	return NULL;
}

void backend_attach(struct backend *b, struct cycle *c)
{
	b->cycle = c;
}

static void on_assertion(int r, struct secret *saml, const char *msg,
			 void *ud)
{
	struct backend *b = ud;
	char why[640];

	if (r == 0) {
		b->mfa_needs_user = false;
	} else if (b->pushing && r != -EACCES && r != -ENOKEY) {
		/* Denied, not approved in time, or ADFS went away while we
		 * polled: no second push, a person decides. */
		(void)snprintf(why, sizeof(why),
			       "not signed in: the sign-in request sent to "
			       "your phone was not approved (%s); run "
			       "'adfs-credctl login'",
			       strempty(msg));
		r = -ENOKEY;
		msg = why;
	} else if (b->held_back && r == -ENOKEY) {
		msg = "not signed in: ADFS asks for a second factor to renew "
		      "the sign-in, which needs you; run 'adfs-credctl login'";
	}
	b->pushing = b->held_back = false;
	cycle_assertion_done(b->cycle, r, saml, msg);
}

static void on_wstrust(int r, struct secret *saml, const char *msg, void *ud)
{
	struct backend *b = ud;
	struct wstrust_call *c = TAKE_PTR(b->wstrust);

	cycle_assertion_done(b->cycle, r, saml, msg);
	wstrust_call_free(c);
}

static int on_mfa(enum adfs_mfa_kind kind, const char *hint, void *ud)
{
	struct backend *b = ud;

	cycle_mfa_asked(b->cycle, kind == ADFS_MFA_PUSH, hint);
	return 0;
}

/* A round nobody waits on (the timer, a refresh, a sign-in at start) met
 * a second factor: with adfs.mfa_on_renewal: push and an Azure MFA push
 * page, wait for the push ADFS sent (once: see mfa_needs_user); else end
 * the round, not signed in. The user is told either way. */
static int on_mfa_unattended(enum adfs_mfa_kind kind, const char *hint,
			     void *ud)
{
	struct backend *b = ud;
	bool push = kind == ADFS_MFA_PUSH &&
		    (*b->conf)->adfs.mfa_on_renewal == CONF_MFA_RENEWAL_PUSH;

	b->mfa_needs_user = true;
	b->pushing = push;
	cycle_mfa_unattended(b->cycle, push, push ? hint : NULL);
	return push ? 0 : -ENOKEY;
}

/* WS-Trust sends the password every time; the sign-on page uses cookies,
 * Kerberos or the password. */
static int get_assertion(void *ud, const struct secret *pw, bool interactive)
{
	struct backend *b = ud;

	if ((*b->conf)->adfs.auth == CONF_AUTH_WSTRUST) {
		if (!pw)
			return -ENOKEY;
		return wstrust_fetch(b->glue, *b->conf, pw, on_wstrust, b,
				     &b->wstrust);
	}
	b->pushing = false;
	b->held_back = false;
	if (interactive) {
		/* The user is here: a second factor can be asked again. */
		b->mfa_needs_user = false;
	} else if (pw && b->mfa_needs_user) {
		/* Cookies only: if the SSO ended, that is not_signed_in. */
		pw = NULL;
		b->held_back = true;
	} else if (b->mfa_needs_user &&
		   (*b->conf)->adfs.auth == CONF_AUTH_KERBEROS) {
		/* Kerberos has no password to hold back: the ticket would
		 * meet the second factor again, and ADFS sends a push each
		 * time it shows that page. Not ADFS's again until a person
		 * signs in. */
		cycle_assertion_done(b->cycle, -ENOKEY, NULL,
				     "not signed in: ADFS asks for a second "
				     "factor after Kerberos; run 'adfs-credctl "
				     "login'");
		return 0;
	}
	/* A login somebody runs is a new sign-in, with a new SSO (a
	 * later horizon), not a cookie round. */
	return adfs_fetch(b->adfs, pw, interactive, on_assertion,
			  interactive ? on_mfa : on_mfa_unattended, b);
}

static void on_sts(int r, struct sts_creds *sc, struct sts_error *err,
		   const char *msg, usec_t server_date, void *ud)
{
	struct backend *b = ud;
	_cleanup_(sts_error_freep) struct sts_error *e = err;
	enum cycle_sts_result res = CYCLE_STS_OK;

	/* This callback is the call's last act: free it before the next
	 * call starts. */
	b->sts = sts_call_free(b->sts);
	if (r < 0)
		res = sts_error_is_duration_too_long(e) ? CYCLE_STS_TOO_LONG
							: CYCLE_STS_FAILED;
	cycle_assume_done(b->cycle, res, r < 0 ? NULL : sc, msg, server_date);
	if (r < 0)
		sts_creds_free(sc);
}

static int assume(void *ud, const char *role_arn, const char *principal_arn,
		  const struct secret *saml, uint32_t duration)
{
	struct backend *b = ud;

	return sts_assume_role_with_saml(b->glue, *b->conf, role_arn,
					 principal_arn, saml, duration, on_sts,
					 b, &b->sts);
}

static void on_iam(int r, uint32_t max, struct sts_error *err,
		   const char *msg, void *ud)
{
	struct backend *b = ud;
	_cleanup_(sts_error_freep) struct sts_error *e = err;
	enum sizing_result res = SIZING_OK;

	b->iam = iam_call_free(b->iam);
	if (r < 0)
		res = e && e->code && streq(e->code, "AccessDenied")
			      ? SIZING_DENIED
			      : SIZING_FAILED;
	cycle_get_role_done(b->cycle, res, max, msg);
}

static int get_role(void *ud, const struct creds *c, const char *role_name,
		    usec_t now)
{
	struct backend *b = ud;
	struct iam_key key;

	if (!c)
		return -ENOKEY;
	key = (struct iam_key){
		.access_key_id = c->access_key_id,
		.secret_access_key = c->secret_access_key,
		.session_token = c->session_token,
	};
	return iam_get_role(b->glue, *b->conf, &key, role_name, now, on_iam, b,
			    &b->iam);
}

static bool posted_password(void *ud)
{
	struct backend *b = ud;

	return adfs_posted_password(b->adfs);
}

static usec_t now_boot(void *ud)
{
	return now_clock(CLOCK_BOOTTIME);
}

const struct cycle_ops backend_ops = {
	.get_assertion = get_assertion,
	.assume = assume,
	.get_role = get_role,
	.cancel = cancel,
	.posted_password = posted_password,
	.now_boot = now_boot,
};
