/* The unattended horizon (docs/internals/horizon.md): how long the daemon
 * can go on renewing without a person, and so how long each role will be
 * served. Pure: the manager gathers the facts (sign-in state, the SSO's
 * start and lifetime, the persistent cookie, the Kerberos ticket) and
 * these functions decide; no clock, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signin.h"
#include "util/macro.h"

/* The last renewal before the horizon is planned this long ahead of it
 * (the last-call refresh), so the sessions it gets run on after it. */
#define HORIZON_LAST_CALL (5 * USEC_PER_MINUTE)
/* A last-call refresh is worth its STS calls only when it gains this much
 * over what is already served; so served_until promises this much less
 * than the last call would get (it may not be made). */
#define HORIZON_LAST_CALL_GAIN (5 * USEC_PER_MINUTE)

/* What renews assertions until the horizon. */
enum horizon_by {
	HORIZON_NONE,     /* nothing: a person is needed now */
	HORIZON_PASSWORD, /* a password at hand, no second factor: unbounded */
	HORIZON_SSO,      /* the ADFS SSO cookies, until the SSO ends */
	HORIZON_KMSI,     /* the persistent "keep me signed in" cookie */
	HORIZON_KERBEROS, /* the Kerberos ticket (or the SSO it started) */
	HORIZON_BY_COUNT,
};

/* Where the SSO's end comes from. */
enum horizon_source {
	HORIZON_FROM_NONE,
	HORIZON_FROM_CONFIG,   /* sso_since + adfs.sso_lifetime */
	HORIZON_FROM_OBSERVED, /* a lifetime the daemon saw end earlier */
	HORIZON_FROM_COOKIE,   /* the persistent cookie's expiry */
	HORIZON_FROM_TICKET,   /* the ticket's end time */
	HORIZON_FROM_COUNT,
};

struct horizon_facts {
	enum signin_state state;
	enum signin_auth auth;
	bool password_at_hand;  /* remembered, or re-read from its source */
	bool mfa_at_signin;     /* the last password sign-in asked a second
				 * factor: a password alone cannot renew */
	usec_t sso_since;       /* wall clock of the last password or
				 * Kerberos sign-in; 0: unknown */
	usec_t sso_lifetime;    /* adfs.sso_lifetime */
	usec_t sso_lifetime_seen; /* an SSO seen ending this long after it
				   * began (shorter than configured); 0 */
	usec_t sso_alive_at;    /* the last cookie round that worked */
	usec_t kmsi_expiry;     /* the persistent cookie's expiry (it is the
				 * SSO then, whatever the lifetime); 0 none */
	usec_t ticket_end;      /* the Kerberos TGT's end; 0 none */
};

struct horizon {
	enum horizon_by by;
	enum horizon_source source;
	/* After this, a fresh assertion needs a person. USEC_INFINITY when
	 * unbounded (by password), 0 when nothing renews (HORIZON_NONE). */
	usec_t until;
};

struct horizon horizon_of(const struct horizon_facts *f);

/* When the role's credentials run out if nothing more can be renewed:
 * the later of its current expiry and the session the last renewal
 * before the horizon gets (duration long, less LAST_CALL_GAIN: never a
 * promise the plan may not keep). USEC_INFINITY when the horizon is.
 * expires: 0 when the role holds none. */
usec_t horizon_served_until(const struct horizon *h, usec_t expires,
			    usec_t duration, usec_t now);

/* The last-call refresh time for a role, or 0 when none is worth it: the
 * horizon is finite and ahead, and a refresh at (until - LAST_CALL) gains
 * at least LAST_CALL_GAIN over its expiry. next_refresh: when the plan
 * refreshes it anyway (0 none); when that comes before the last call
 * and the session it gets already reaches as far, none is needed. */
usec_t horizon_last_call(const struct horizon *h, usec_t expires,
			 usec_t duration, usec_t next_refresh, usec_t now);

/* The answer to "will this role be served for need from now?". served:
 * horizon_served_until(); valid: the role holds valid credentials now.
 * Returns true when it will, false when not; either way a line for
 * people in buf (size n): until when, and when not, why it ends and what
 * would help. */
bool horizon_check(const struct horizon *h, const char *role, bool valid,
		   usec_t served, usec_t need, usec_t now, char *buf,
		   size_t n);

const char *horizon_by_to_string(enum horizon_by b);
const char *horizon_source_to_string(enum horizon_source s);
