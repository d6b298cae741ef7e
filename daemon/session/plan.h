/* What the refresh cycle and the timer keep about each held role, beside
 * what the store serves: how to ask for it, what was learnt about its
 * maximum, when to refresh it next and how often it failed. plans.v[i]
 * belongs to store.roles[i]; roles_add() grows both. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idp/saml.h"
#include "session/refresh.h"
#include "session/sizing.h"
#include "session/store.h"
#include "util/macro.h"

struct role_plan {
	char *principal_arn;   /* NULL until known (config or assertion) */
	uint32_t duration_cfg; /* 0 = max */
	struct sizing sizing;  /* what was learnt about the role's maximum */
	usec_t probed_up;      /* last upward probe (GetRole denied), wall */
	usec_t next_refresh;   /* wall clock, 0 when none planned */
	unsigned failures;     /* consecutive */
};

struct plans {
	struct role_plan *v;
	size_t n;
};

/* Adds a role to the store and its plan; -EEXIST when the name is taken. */
int roles_add(struct store *s, struct plans *p, const char *name,
	      const char *arn, const char *principal_arn,
	      uint32_t duration_cfg);
/* The plan of a role of the store. */
struct role_plan *plan_of(struct plans *p, const struct store *s,
			  const struct role_session *r);
/* Logout: forgets the schedule, keeps what was learnt about maxima. */
void plans_reset(struct plans *p);
void plans_clear(struct plans *p);

/* The part of an ARN after the last '/': the role's short name. */
const char *roles_arn_name(const char *arn);
/* With no `roles:` in the config, holds every role the assertion offers,
 * named after the role ("account-id/role" when names clash). */
int roles_adopt(struct store *s, struct plans *p,
		const struct saml_info *info, const char *default_role);

/* Role i failed at now: its error, one more failure, and a retry with
 * backoff (retry) or none (a permanent failure). It stays valid while its
 * credentials last. */
void plans_failed(struct plans *p, struct store *s, size_t i, const char *msg,
		  bool retry, usec_t now, const struct refresh_random *jitter);
/* What a cycle got for a role. */
struct plan_kept {
	usec_t expiry;            /* of the new credentials, our clock */
	usec_t lifetime;          /* what they had left when they came */
	uint32_t session_duration; /* the assertion's SessionDuration, 0 none */
	usec_t min_remaining;     /* refresh.min_remaining */
};

/* Role i keeps the session this cycle got (its creds are in the store):
 * valid, no failure, the next refresh planned (DESIGN.md "Refresh
 * timing"), the maximum and where it came from, as status shows them. */
void plans_kept(struct plans *p, struct store *s, size_t i,
		const struct plan_kept *k, usec_t now,
		const struct refresh_random *jitter);
/* Whether a cycle takes role i now (session/refresh.c refresh_is_due). */
bool plans_due(const struct plans *p, const struct store *s, size_t i,
	       usec_t now);
/* The roles a cycle serves, as indexes into the store (*ret the caller's):
 * role NULL = those due at now, "" = all, else the one so named. With ""
 * and no role at all, *ret is NULL: the assertion will tell. */
int plans_pick(const struct plans *p, const struct store *s, const char *role,
	       usec_t now, size_t **ret, size_t *ret_n);
/* Marks valid roles whose credentials ran out as expired. */
void plans_expire(struct store *s, usec_t now);
/* Whether any planned refresh is due now (what starts the timer's cycle). */
bool plans_any_due(const struct plans *p, const struct store *s, usec_t now);
/* When the timer should fire next (wall clock), USEC_INFINITY for never.
 * planned: planned refreshes count (else only expiries do). */
usec_t plans_next_wakeup(const struct plans *p, const struct store *s,
			 usec_t now, bool planned);
/* A cycle the timer wanted could not start: roles planned for now wait
 * with backoff. */
void plans_start_failed(struct plans *p, struct store *s, usec_t now,
			const char *msg, const struct refresh_random *jitter);
/* Plans every role after a restore: valid ones before they expire (lead
 * min_remaining), the others now. Returns how many are valid. */
size_t plans_restored(struct plans *p, const struct store *s, usec_t now,
		      usec_t min_remaining, const struct refresh_random *jitter);
/* The next planned refresh of any role (wall), USEC_INFINITY for none. */
usec_t plans_next_refresh(const struct plans *p);
