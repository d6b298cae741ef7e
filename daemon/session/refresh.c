#include "session/refresh.h"

static usec_t random_upto(const struct refresh_random *rnd, usec_t max)
{
	usec_t v;

	if (!rnd || !rnd->fn || max == 0)
		return 0;
	v = rnd->fn(max, rnd->userdata);
	return v > max ? max : v;
}

usec_t refresh_lead(usec_t min_remaining, usec_t duration)
{
	return min_remaining < duration / 2 ? min_remaining : duration / 2;
}

usec_t refresh_jitter_max(usec_t duration)
{
	return duration / 10 < REFRESH_JITTER_CAP ? duration / 10
						  : REFRESH_JITTER_CAP;
}

usec_t refresh_plan(usec_t expiry, usec_t duration, usec_t min_remaining,
		    const struct refresh_random *rnd)
{
	usec_t lead = refresh_lead(min_remaining, duration);

	lead += random_upto(rnd, refresh_jitter_max(duration));
	return expiry > lead ? expiry - lead : 0;
}

usec_t refresh_backoff(unsigned failures, usec_t now, usec_t expiry,
		       const struct refresh_random *rnd)
{
	usec_t d = REFRESH_BACKOFF_MIN;

	for (unsigned i = 1; i < failures && d < REFRESH_BACKOFF_MAX; i++)
		d *= 2;
	if (d > REFRESH_BACKOFF_MAX)
		d = REFRESH_BACKOFF_MAX;
	if (expiry > now) {
		usec_t cap = (expiry - now) / REFRESH_BACKOFF_REMAINING_DIV;

		if (cap < REFRESH_BACKOFF_MIN)
			cap = REFRESH_BACKOFF_MIN;
		if (d > cap)
			d = cap;
	}
	/* Jitter down to 3/4 so failing daemons spread out. */
	return d - random_upto(rnd, d / 4);
}

bool refresh_creds_valid(usec_t expiry, usec_t now)
{
	return expiry != 0 && expiry > now;
}

bool refresh_planned_due(const struct refresh_role *r, usec_t now)
{
	return r->next_refresh != 0 &&
	       r->next_refresh <= now + REFRESH_BATCH_WINDOW;
}

bool refresh_is_due(const struct refresh_role *r, usec_t now)
{
	return r->empty || r->next_refresh == 0 || refresh_planned_due(r, now);
}

bool refresh_any_due(const struct refresh_role *roles, size_t n, usec_t now)
{
	for (size_t i = 0; i < n; i++)
		if (refresh_planned_due(&roles[i], now))
			return true;
	return false;
}

usec_t refresh_next_wakeup(const struct refresh_role *roles, size_t n,
			   usec_t now, bool planned)
{
	usec_t when = USEC_INFINITY;

	for (size_t i = 0; i < n; i++) {
		const struct refresh_role *r = &roles[i];

		if (planned && r->next_refresh && r->next_refresh < when)
			when = r->next_refresh;
		if (refresh_creds_valid(r->expiry, now) && r->expiry < when)
			when = r->expiry;
	}
	return when;
}
