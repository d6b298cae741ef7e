#include "session/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

int roles_add(struct store *s, struct plans *p, const char *name,
	      const char *arn, const char *principal_arn,
	      uint32_t duration_cfg)
{
	struct role_plan *v;
	char *pa = NULL;
	int r;

	if (principal_arn) {
		pa = strdup(principal_arn);
		if (!pa)
			return -ENOMEM;
	}
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v) {
		free(pa);
		return -ENOMEM;
	}
	p->v = v;
	r = store_add_role(s, name, arn, duration_cfg);
	if (r < 0) {
		free(pa);
		return r;
	}
	p->v[p->n++] = (struct role_plan){
		.principal_arn = pa,
		.duration_cfg = duration_cfg,
		.sizing.cfg = duration_cfg,
	};
	return 0;
}

struct role_plan *plan_of(struct plans *p, const struct store *s,
			  const struct role_session *r)
{
	size_t i = (size_t)(r - s->roles);

	return i < p->n ? &p->v[i] : NULL;
}

void plans_reset(struct plans *p)
{
	for (size_t i = 0; i < p->n; i++) {
		p->v[i].next_refresh = 0;
		p->v[i].failures = 0;
	}
}

void plans_clear(struct plans *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].principal_arn);
	free(p->v);
	*p = (struct plans){ 0 };
}

const char *roles_arn_name(const char *arn)
{
	const char *s = strrchr(arn, '/');

	return s ? s + 1 : arn;
}

int roles_adopt(struct store *s, struct plans *p,
		const struct saml_info *info, const char *default_role)
{
	for (size_t i = 0; i < info->n_roles; i++) {
		const struct saml_role *sr = &info->roles[i];
		const char *name = roles_arn_name(sr->role_arn);
		char alt[160];
		bool clash = false;
		int r;

		if (store_find_arn(s, sr->role_arn))
			continue;
		for (size_t j = 0; j < info->n_roles; j++)
			if (j != i &&
			    streq(roles_arn_name(info->roles[j].role_arn), name))
				clash = true;
		if (clash) {
			/* arn:aws:iam::ACCOUNT:role/... */
			const char *acct = sr->role_arn;

			for (int k = 0; k < 4 && acct; k++) {
				acct = strchr(acct, ':');
				if (acct)
					acct++;
			}
			(void)snprintf(alt, sizeof(alt), "%.12s/%.100s",
				       acct ? acct : "?", name);
			name = alt;
		}
		r = roles_add(s, p, name, sr->role_arn, sr->principal_arn, 0);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	if (default_role)
		for (size_t i = 0; i < s->n_roles; i++)
			if (streq(s->roles[i].name, default_role))
				s->default_idx = i;
	return 0;
}

static struct refresh_role view(const struct role_session *r,
				const struct role_plan *p)
{
	return (struct refresh_role){
		.next_refresh = p->next_refresh,
		.expiry = r->creds ? r->creds->expiration : 0,
		.empty = r->state == ROLE_EMPTY,
	};
}

void plans_failed(struct plans *p, struct store *s, size_t i, const char *msg,
		  bool retry, usec_t now, const struct refresh_random *jitter)
{
	struct role_session *r = &s->roles[i];
	struct role_plan *pl = &p->v[i];

	role_set_error(r, msg);
	pl->failures++;
	/* While valid credentials last, the backoff never outlives them. */
	if (retry)
		pl->next_refresh =
			now + refresh_backoff(pl->failures, now,
					      r->creds ? r->creds->expiration : 0,
					      jitter);
	else
		pl->next_refresh = 0;
	if (role_has_valid_creds(r, now))
		r->state = ROLE_VALID;
	else
		r->state = retry ? ROLE_EXPIRED : ROLE_FAILED;
}

bool plans_due(const struct plans *p, const struct store *s, size_t i,
	       usec_t now)
{
	struct refresh_role v = view(&s->roles[i], &p->v[i]);

	return refresh_is_due(&v, now);
}

void plans_expire(struct store *s, usec_t now)
{
	for (size_t i = 0; i < s->n_roles; i++) {
		struct role_session *r = &s->roles[i];

		if (r->creds && !role_has_valid_creds(r, now) &&
		    r->state == ROLE_VALID)
			r->state = ROLE_EXPIRED;
	}
}

bool plans_any_due(const struct plans *p, const struct store *s, usec_t now)
{
	for (size_t i = 0; i < s->n_roles && i < p->n; i++) {
		struct refresh_role v = view(&s->roles[i], &p->v[i]);

		if (refresh_planned_due(&v, now))
			return true;
	}
	return false;
}

usec_t plans_next_wakeup(const struct plans *p, const struct store *s,
			 usec_t now, bool planned)
{
	usec_t when = USEC_INFINITY;

	for (size_t i = 0; i < s->n_roles && i < p->n; i++) {
		struct refresh_role v = view(&s->roles[i], &p->v[i]);
		usec_t w = refresh_next_wakeup(&v, 1, now, planned);

		if (w < when)
			when = w;
	}
	return when;
}

void plans_start_failed(struct plans *p, struct store *s, usec_t now,
			const char *msg, const struct refresh_random *jitter)
{
	for (size_t i = 0; i < s->n_roles && i < p->n; i++) {
		struct refresh_role v = view(&s->roles[i], &p->v[i]);

		if (refresh_planned_due(&v, now))
			plans_failed(p, s, i, msg, true, now, jitter);
	}
}

size_t plans_restored(struct plans *p, const struct store *s, usec_t now,
		      usec_t min_remaining, const struct refresh_random *jitter)
{
	size_t valid = 0;

	for (size_t i = 0; i < s->n_roles && i < p->n; i++) {
		const struct role_session *r = &s->roles[i];

		if (role_has_valid_creds(r, now)) {
			valid++;
			p->v[i].next_refresh = refresh_plan(
				r->creds->expiration,
				r->creds->expiration - r->creds->issued,
				min_remaining, jitter);
		} else {
			p->v[i].next_refresh = now;
		}
	}
	return valid;
}

usec_t plans_next_refresh(const struct plans *p)
{
	usec_t next = USEC_INFINITY;

	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].next_refresh && p->v[i].next_refresh < next)
			next = p->v[i].next_refresh;
	return next;
}

void plans_kept(struct plans *p, struct store *s, size_t i,
		const struct plan_kept *k, usec_t now,
		const struct refresh_random *jitter)
{
	struct role_session *rs = &s->roles[i];
	struct role_plan *pl = &p->v[i];
	char exp[ISO8601_MAX], dur[32];

	rs->state = ROLE_VALID;
	pl->failures = 0;
	role_set_error(rs, NULL);
	pl->next_refresh = refresh_plan(k->expiry, k->lifetime,
					k->min_remaining, jitter);
	rs->max_source = pl->sizing.source;
	rs->max_duration = pl->duration_cfg      ? pl->duration_cfg
			   : pl->sizing.role_max ? pl->sizing.role_max
						 : rs->duration_used;
	/* The assertion (SessionDuration / SessionNotOnOrAfter) can only
	 * shorten a session (PROTOCOLS.md C4): when it did, the session got
	 * less than asked and the assertion is what capped it. */
	if (k->lifetime + 120 * USEC_PER_SEC <
	    (usec_t)rs->duration_used * USEC_PER_SEC) {
		uint32_t sd = k->session_duration;
		uint32_t got = (uint32_t)((k->lifetime + USEC_PER_SEC / 2) /
					  USEC_PER_SEC);

		rs->duration_used = sd && sd < rs->duration_used ? sd : got;
		rs->max_duration = rs->duration_used;
		rs->max_source = MAX_SOURCE_ASSERTION;
	}
	/* The cycle that first finds GetRole denied has probed from the top
	 * already: the next upward probe is a probe interval away. */
	if (pl->sizing.probe_up ||
	    (pl->sizing.get_role_denied && !pl->probed_up))
		pl->probed_up = now;
	log_id(LOG_INFO, LOG_ID_REFRESHED,
	       "Role %s: credentials valid until %s (%s, maximum from %s)",
	       rs->name, format_iso8601(exp, rs->creds->expiration),
	       format_duration(dur, k->lifetime),
	       max_source_to_string(rs->max_source));
}

int plans_pick(const struct plans *p, const struct store *s, const char *role,
	       usec_t now, size_t **ret, size_t *ret_n)
{
	size_t *v, n = 0;

	v = calloc(s->n_roles ? s->n_roles : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_roles; i++)
		if (role ? !*role || streq(role, s->roles[i].name)
			 : plans_due(p, s, i, now))
			v[n++] = i;
	if (n == 0 && role && !*role) {
		free(v);
		v = NULL;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
