/* Refresh timing (DESIGN.md "Refresh timing") as pure functions: when to
 * refresh a session, how long to wait after a failure, which roles a cycle
 * takes, and when the one refresh timer must fire. No clock and no global
 * state: callers pass `now` (wall clock, usec) and a random source, so unit
 * tests are deterministic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/* One cycle takes every role whose refresh is due within this window, so
 * one assertion serves roles that fall due at about the same time. */
#define REFRESH_BATCH_WINDOW (5 * USEC_PER_MINUTE)
/* The jitter subtracted from a planned refresh: up to min(this,
 * duration / 10). */
#define REFRESH_JITTER_CAP (5 * USEC_PER_MINUTE)
/* Failure backoff: 30 s doubling up to 10 min, jittered down to 3/4. */
#define REFRESH_BACKOFF_MIN (30 * USEC_PER_SEC)
#define REFRESH_BACKOFF_MAX (10 * USEC_PER_MINUTE)
/* While valid credentials are served, a retry comes no later than this
 * fraction of the time they have left (but not sooner than
 * REFRESH_BACKOFF_MIN): the backoff never outlives them. */
#define REFRESH_BACKOFF_REMAINING_DIV 4

/* A uniform random number in [0, max]. */
typedef uint64_t (*refresh_random_fn)(uint64_t max, void *userdata);

struct refresh_random {
	refresh_random_fn fn;
	void *userdata;
};

/* lead = min(min_remaining, duration / 2). */
usec_t refresh_lead(usec_t min_remaining, usec_t duration);
/* The largest jitter for a session of this duration:
 * min(REFRESH_JITTER_CAP, duration / 10). */
usec_t refresh_jitter_max(usec_t duration);
/* When to refresh a session that ends at expiry and lasts duration:
 * expiry - lead - jitter, jitter uniform in [0, refresh_jitter_max]. 0 when
 * that would be before the epoch. rnd NULL: no jitter. */
usec_t refresh_plan(usec_t expiry, usec_t duration, usec_t min_remaining,
		    const struct refresh_random *rnd);
/* The delay before trying again after `failures` failures in a row (1 =
 * the first): REFRESH_BACKOFF_MIN * 2^(failures-1), at most
 * REFRESH_BACKOFF_MAX; while credentials valid until expiry (0 = none) are
 * served, at most (expiry - now) / REFRESH_BACKOFF_REMAINING_DIV; never
 * under REFRESH_BACKOFF_MIN. Then jittered down by up to a quarter. */
usec_t refresh_backoff(unsigned failures, usec_t now, usec_t expiry,
		       const struct refresh_random *rnd);

/* Credentials are valid strictly before their expiry; none (0) never. */
bool refresh_creds_valid(usec_t expiry, usec_t now);

/* What the scheduler knows about one role. */
struct refresh_role {
	usec_t next_refresh; /* wall clock; 0 = none planned */
	usec_t expiry;	     /* of the credentials held; 0 = none */
	bool empty;	     /* never had credentials */
};

/* Whether a role's planned refresh calls for a cycle at now (it is
 * within REFRESH_BATCH_WINDOW, or past: after a suspend or a wall-clock
 * jump it is due at once). */
bool refresh_planned_due(const struct refresh_role *r, usec_t now);
/* Whether a cycle started at now by the timer takes the role: its planned
 * refresh is due, or it has no credentials yet, or no refresh is planned
 * (a permanent failure, the SSO ended) and this cycle may fix that. */
bool refresh_is_due(const struct refresh_role *r, usec_t now);
/* Whether any planned refresh is due: the timer then starts a cycle. */
bool refresh_any_due(const struct refresh_role *roles, size_t n, usec_t now);
/* When the refresh timer must fire next (wall clock): the earliest planned
 * refresh (when `planned`, i.e. a cycle could start), or else the earliest
 * expiry of credentials still valid (to mark them expired on time).
 * USEC_INFINITY when there is nothing to wait for; <= now: fire at once. */
usec_t refresh_next_wakeup(const struct refresh_role *roles, size_t n,
			   usec_t now, bool planned);
