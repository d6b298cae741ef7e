#include "signin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *signin_state_to_string(enum signin_state s)
{
	static const char *const names[] = {
		[SIGNIN_SIGNED_OUT] = "signed_out",
		[SIGNIN_SIGNING_IN] = "signing_in",
		[SIGNIN_MFA_PENDING] = "mfa_pending",
		[SIGNIN_SIGNED_IN] = "signed_in",
		[SIGNIN_NOT_SIGNED_IN] = "not_signed_in",
		[SIGNIN_FAILED] = "failed",
	};
	return (size_t)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

static void set_error(struct signin *s, const char *msg)
{
	free(s->error);
	s->error = msg ? strdup(msg) : NULL;
}

void signin_configure(struct signin *s, enum signin_auth auth, bool remember,
		      bool password_source)
{
	s->auth = auth;
	s->remember = remember;
	s->password_source = password_source;
}

void signin_source_clear(struct signin_source *src)
{
	free(src->ref);
	*src = (struct signin_source){ 0 };
}

int signin_source_copy(struct signin_source *dst,
		       const struct signin_source *src)
{
	char *ref = NULL;

	if (src && src->ref) {
		ref = strdup(src->ref);
		if (!ref)
			return -ENOMEM;
	}
	signin_source_clear(dst);
	if (src && ref) {
		*dst = *src;
		dst->ref = ref;
	}
	return 0;
}

void signin_clear(struct signin *s)
{
	s->password = secret_free(s->password);
	signin_source_clear(&s->used);
	signin_source_clear(&s->rejected);
	set_error(s, NULL);
}

void signin_login(struct signin *s, struct secret *password_take,
		  const struct signin_source *from)
{
	secret_free(s->password);
	s->password = password_take;
	/* A copy that fails leaves the source unknown: then a rejection is
	 * only remembered until the next login, as for a typed password. */
	(void)signin_source_copy(&s->used, from);
	signin_source_clear(&s->rejected);
	s->cancelled = false;
	/* A new password is the only way out of FAILED; the round that
	 * sends it decides the state. */
	if (s->state == SIGNIN_FAILED)
		s->state = s->signed_in ? SIGNIN_SIGNED_IN : SIGNIN_SIGNED_OUT;
}

const struct secret *signin_begin_round(struct signin *s, bool login)
{
	const struct secret *pw = NULL;

	s->mfa_this_round = false;
	if (s->password && s->state != SIGNIN_FAILED &&
	    (login || s->remember))
		pw = s->password;
	if (pw)
		s->state = SIGNIN_SIGNING_IN;
	return pw;
}

void signin_forget_rejection(struct signin *s)
{
	signin_source_clear(&s->rejected);
}

bool signin_source_blocked(const struct signin *s,
			   const struct signin_source *id)
{
	const struct signin_source *r = &s->rejected;

	if (!r->ref || !id->ref || !streq(r->ref, id->ref))
		return false;
	return r->credential || (r->dev == id->dev && r->ino == id->ino &&
				 r->mtime_ns == id->mtime_ns &&
				 r->ctime_ns == id->ctime_ns);
}

void signin_source_refused(struct signin *s, const char *msg)
{
	s->state = SIGNIN_FAILED;
	set_error(s, msg);
}

void signin_rejected(struct signin *s, const char *msg)
{
	s->password = secret_free(s->password);
	if (s->used.ref)
		(void)signin_source_copy(&s->rejected, &s->used);
	s->state = SIGNIN_FAILED;
	set_error(s, msg);
}

void signin_sso_ended(struct signin *s, const char *msg, usec_t now)
{
	/* It ended between the last round that worked and now: the
	 * lower bound is what the next SSO is trusted for, so the last
	 * renewal planned before its end still finds it alive. Only a
	 * shorter one than configured counts (session/horizon.c): a
	 * persistent (keep me signed in) cookie outlives the lifetime. */
	if (s->auth == SIGNIN_AUTH_FORMS && s->signed_in && s->sso_since &&
	    s->sso_alive_at > s->sso_since)
		s->sso_lifetime_seen = s->sso_alive_at - s->sso_since;
	s->state = SIGNIN_NOT_SIGNED_IN;
	s->signed_in = false;
	set_error(s, msg);
}

void signin_round_failed(struct signin *s, const char *msg)
{
	if (s->state == SIGNIN_SIGNING_IN || s->state == SIGNIN_MFA_PENDING)
		s->state = s->signed_in ? SIGNIN_SIGNED_IN : SIGNIN_SIGNED_OUT;
	set_error(s, msg);
}

void signin_cancelled(struct signin *s, const char *msg)
{
	if (s->state != SIGNIN_SIGNING_IN && s->state != SIGNIN_MFA_PENDING)
		return;
	s->password = secret_free(s->password);
	s->cancelled = true;
	s->state = s->signed_in ? SIGNIN_SIGNED_IN : SIGNIN_SIGNED_OUT;
	set_error(s, msg);
}

void signin_succeeded(struct signin *s, bool posted_password, usec_t now)
{
	s->cancelled = false;
	if (posted_password) {
		s->sso_since = now;
		s->mfa_at_signin = s->mfa_this_round;
	}
	s->sso_alive_at = now;
	/* This SSO outlives what was seen before: the bound moves up. */
	if (s->sso_lifetime_seen && s->sso_since &&
	    now - s->sso_since > s->sso_lifetime_seen)
		s->sso_lifetime_seen = now - s->sso_since;
	s->state = SIGNIN_SIGNED_IN;
	s->signed_in = true;
	set_error(s, NULL);
}

void signin_mfa_pending(struct signin *s)
{
	s->mfa_this_round = true;
	s->state = SIGNIN_MFA_PENDING;
}

void signin_mfa_answered(struct signin *s)
{
	s->state = SIGNIN_SIGNING_IN;
}

void signin_round_end(struct signin *s)
{
	if (!s->remember)
		s->password = secret_free(s->password);
}

void signin_logout(struct signin *s)
{
	s->password = secret_free(s->password);
	signin_source_clear(&s->used);
	signin_source_clear(&s->rejected);
	s->state = SIGNIN_SIGNED_OUT;
	s->signed_in = false;
	s->cancelled = false;
	s->sso_since = s->sso_alive_at = 0;
	s->mfa_at_signin = false;
	set_error(s, NULL);
}

void signin_restored(struct signin *s, usec_t sso_since)
{
	s->state = SIGNIN_SIGNED_IN;
	s->signed_in = true;
	s->sso_since = sso_since;
}

bool signin_may_refresh(const struct signin *s)
{
	return s->state != SIGNIN_FAILED;
}

static bool password_at_hand(const struct signin *s)
{
	return (s->remember && s->password) || s->password_source;
}

bool signin_password_at_hand(const struct signin *s)
{
	return s->state != SIGNIN_FAILED && password_at_hand(s);
}

bool signin_timer_may_start(const struct signin *s)
{
	bool kerberos = s->auth == SIGNIN_AUTH_KERBEROS;

	switch (s->state) {
	case SIGNIN_SIGNED_IN:
	case SIGNIN_SIGNING_IN:
		return true;
	case SIGNIN_NOT_SIGNED_IN:
		return kerberos;
	case SIGNIN_SIGNED_OUT:
		/* A sign-in that failed for another reason than the password
		 * (ADFS unreachable at boot): try again, with backoff. */
		return !s->cancelled && (kerberos || password_at_hand(s));
	default: /* failed (password rejected), waiting for a second factor */
		return false;
	}
}

bool signin_timer_logs_in(const struct signin *s)
{
	return s->state == SIGNIN_SIGNED_OUT && !(s->remember && s->password);
}

bool signin_source_may_retry(const struct signin *s)
{
	return s->state == SIGNIN_FAILED && s->rejected.ref &&
	       !s->rejected.credential;
}
