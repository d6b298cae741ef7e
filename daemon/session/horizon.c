#include "session/horizon.h"

#include <stdio.h>
#include <time.h>

#include "util/timeutil.h"

static const char *const by_names[HORIZON_BY_COUNT] = {
	[HORIZON_NONE] = "none",
	[HORIZON_PASSWORD] = "password",
	[HORIZON_SSO] = "sso",
	[HORIZON_KMSI] = "kmsi",
	[HORIZON_KERBEROS] = "kerberos",
};

static const char *const source_names[HORIZON_FROM_COUNT] = {
	[HORIZON_FROM_NONE] = "none",
	[HORIZON_FROM_CONFIG] = "config",
	[HORIZON_FROM_OBSERVED] = "observed",
	[HORIZON_FROM_COOKIE] = "cookie",
	[HORIZON_FROM_TICKET] = "ticket",
};

const char *horizon_by_to_string(enum horizon_by b)
{
	return b < HORIZON_BY_COUNT ? by_names[b] : "none";
}

const char *horizon_source_to_string(enum horizon_source s)
{
	return s < HORIZON_FROM_COUNT ? source_names[s] : "none";
}

static usec_t later(usec_t a, usec_t b)
{
	return a > b ? a : b;
}

static struct horizon at(enum horizon_by by, enum horizon_source source,
			 usec_t until)
{
	return (struct horizon){ .by = by, .source = source, .until = until };
}

/* The end of the SSO the cookies hold: its start plus the lifetime (the
 * configured one, or a shorter one seen ending before), and never before
 * a cookie round that still worked. */
static struct horizon sso_end(const struct horizon_facts *f)
{
	enum horizon_source src = HORIZON_FROM_CONFIG;
	usec_t life = f->sso_lifetime, end;

	if (!f->sso_since)
		return at(HORIZON_NONE, HORIZON_FROM_NONE, 0);
	if (f->sso_lifetime_seen && f->sso_lifetime_seen < life) {
		life = f->sso_lifetime_seen;
		src = HORIZON_FROM_OBSERVED;
	}
	end = f->sso_since + life;
	if (f->sso_alive_at > end) {
		/* It lasted longer than we thought: at least this long. */
		end = f->sso_alive_at;
		src = HORIZON_FROM_OBSERVED;
	}
	return at(HORIZON_SSO, src, end);
}

struct horizon horizon_of(const struct horizon_facts *f)
{
	struct horizon h;

	if (f->state == SIGNIN_FAILED)
		return at(HORIZON_NONE, HORIZON_FROM_NONE, 0);
	/* A password at hand signs in again whenever the SSO ends, unless
	 * ADFS wants a second factor with it. Kerberos never uses one. */
	if (f->password_at_hand && !f->mfa_at_signin &&
	    f->auth != SIGNIN_AUTH_KERBEROS)
		return at(HORIZON_PASSWORD, HORIZON_FROM_NONE, USEC_INFINITY);
	/* WS-Trust has no SSO: without the password nothing renews. */
	if (f->state == SIGNIN_NOT_SIGNED_IN ||
	    f->state == SIGNIN_SIGNED_OUT || f->auth == SIGNIN_AUTH_WSTRUST)
		return at(HORIZON_NONE, HORIZON_FROM_NONE, 0);

	/* A persistent cookie is the SSO (AD FS's KmsiLifetimeMins replaces
	 * the web SSO lifetime): its expiry is exact. */
	h = f->kmsi_expiry
		    ? at(HORIZON_KMSI, HORIZON_FROM_COOKIE, f->kmsi_expiry)
		    : sso_end(f);
	if (f->auth == SIGNIN_AUTH_KERBEROS && f->ticket_end > h.until)
		h = at(HORIZON_KERBEROS, HORIZON_FROM_TICKET, f->ticket_end);
	return h;
}

usec_t horizon_served_until(const struct horizon *h, usec_t expires,
			    usec_t duration, usec_t now)
{
	usec_t last;

	if (h->until == USEC_INFINITY)
		return USEC_INFINITY;
	if (h->by == HORIZON_NONE || h->until <= HORIZON_LAST_CALL)
		return expires;
	last = h->until - HORIZON_LAST_CALL;
	if (last < now)
		return expires;
	return later(expires, last + duration -
				      (duration > HORIZON_LAST_CALL_GAIN
					       ? HORIZON_LAST_CALL_GAIN
					       : duration));
}

usec_t horizon_last_call(const struct horizon *h, usec_t expires,
			 usec_t duration, usec_t next_refresh, usec_t now)
{
	usec_t last;

	if (h->by == HORIZON_NONE || h->until == USEC_INFINITY ||
	    h->until <= HORIZON_LAST_CALL)
		return 0;
	last = h->until - HORIZON_LAST_CALL;
	if (last <= now)
		return 0;
	/* The plan refreshes before then anyway: the last call is worked
	 * out again from what that refresh gets. */
	if (next_refresh && next_refresh <= last)
		return 0;
	if (last + duration < expires + HORIZON_LAST_CALL_GAIN)
		return 0;
	return last;
}

/* "2026-12-03 17:42 UTC" */
static const char *when(char buf[static 32], usec_t t)
{
	time_t s = (time_t)(t / USEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&s, &tm) ||
	    strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		(void)snprintf(buf, 32, "?");
	return buf;
}

static const char *why_it_ends(const struct horizon *h, char buf[static 160])
{
	char w[32];

	switch (h->by) {
	case HORIZON_SSO:
		(void)snprintf(buf, 160,
			       "renewal needs you after %s, when the ADFS SSO "
			       "ends (adfs.sso_lifetime)",
			       when(w, h->until));
		break;
	case HORIZON_KMSI:
		(void)snprintf(buf, 160,
			       "renewal needs you after %s, when the keep-me-"
			       "signed-in cookie expires",
			       when(w, h->until));
		break;
	case HORIZON_KERBEROS:
		(void)snprintf(buf, 160,
			       "renewal needs you after %s, when the Kerberos "
			       "ticket ends (renew it with kinit -R or kinit)",
			       when(w, h->until));
		break;
	default:
		(void)snprintf(buf, 160, "nothing can renew it without you");
		break;
	}
	return buf;
}

bool horizon_check(const struct horizon *h, const char *role, bool valid,
		   usec_t served, usec_t need, usec_t now, char *buf,
		   size_t n)
{
	char w[32], left[32], want[32], short_by[32], why[160];

	if (!valid) {
		(void)snprintf(buf, n,
			       "%s has no valid credentials now%s", role,
			       h->by == HORIZON_NONE
				       ? ": run 'adfs-credctl login'"
				       : " (see 'adfs-credctl status')");
		return false;
	}
	if (served == USEC_INFINITY) {
		(void)snprintf(buf, n,
			       "%s is served with no end in sight: renewal "
			       "needs no one (%s)",
			       role, horizon_by_to_string(h->by));
		return true;
	}
	if (served > now && served - now >= need) {
		(void)snprintf(buf, n, "%s is served until %s (%s from now)",
			       role, when(w, served),
			       format_duration(left, served - now));
		return true;
	}
	(void)snprintf(buf, n,
		       "%s is served until %s (%s from now), %s short of %s: "
		       "%s; run 'adfs-credctl login' to start a new sign-in%s",
		       role, when(w, served),
		       format_duration(left, served > now ? served - now : 0),
		       format_duration(short_by, now + need - served),
		       format_duration(want, need), why_it_ends(h, why),
		       h->by == HORIZON_SSO ? ", or set adfs.keep_me_signed_in "
					      "or adfs.remember_password"
					    : "");
	return false;
}
