#include "session/sizing.h"

#include "conf/conf.h"

/* The console's presets, largest first. */
static const uint32_t presets[] = { 43200, 28800, 14400, 7200, 3600 };

static bool budget_left(const struct sizing *s)
{
	return s->sts_calls < SIZING_MAX_STS_CALLS;
}

static enum sizing_action assume(struct sizing *s, uint32_t d,
				 uint32_t *ret_duration)
{
	s->trying = d;
	*ret_duration = d;
	return SIZING_ASSUME;
}

/* The largest preset strictly between what worked and what was refused. */
static uint32_t next_probe(const struct sizing *s)
{
	for (size_t i = 0; i < ELEMENTSOF(presets); i++)
		if (presets[i] > s->best && presets[i] < s->fail_above)
			return presets[i];
	return 0;
}

enum sizing_action sizing_begin(struct sizing *s, uint32_t *ret_duration)
{
	s->best = 0;
	s->fail_above = CONF_DURATION_MAX + 1;
	s->sts_calls = 0;
	s->get_role_done = false;
	if (s->cfg) {
		s->source = MAX_SOURCE_CONFIG;
		return assume(s, s->cfg, ret_duration);
	}
	return assume(s, s->role_max ? s->role_max : CONF_DURATION_MAX,
		      ret_duration);
}

/* After a success or a refusal without GetRole: probe if allowed. */
static enum sizing_action probe_or_done(struct sizing *s,
					uint32_t *ret_duration)
{
	uint32_t next;

	/* Walking down from a refusal in this cycle always; walking up from
	 * a success when nothing was refused only when allowed (the manager
	 * allows it now and then, to notice an administrator's raise). */
	if (s->fail_above > CONF_DURATION_MAX && !s->probe_up)
		return SIZING_DONE;
	next = next_probe(s);
	if (!next || !budget_left(s))
		return SIZING_DONE;
	return assume(s, next, ret_duration);
}

enum sizing_action sizing_on_assume(struct sizing *s, enum sizing_result res,
				    uint32_t *ret_duration)
{
	s->sts_calls++;
	if (s->cfg)
		return SIZING_DONE;

	switch (res) {
	case SIZING_OK:
		if (s->trying > s->best)
			s->best = s->trying;
		if (!s->get_role_denied && !s->get_role_done)
			return SIZING_GET_ROLE;
		if (s->get_role_denied) {
			s->source = MAX_SOURCE_PROBE;
			if (s->best > s->role_max || s->best == CONF_DURATION_MAX)
				s->role_max = s->best;
		}
		return s->get_role_denied ? probe_or_done(s, ret_duration)
					  : SIZING_DONE;
	case SIZING_TOO_LONG:
		if (s->trying < s->fail_above)
			s->fail_above = s->trying;
		/* The maximum we knew was lowered: forget it. */
		if (s->role_max && s->role_max >= s->fail_above)
			s->role_max = 0;
		if (!budget_left(s))
			return SIZING_DONE;
		if (!s->best && !s->get_role_denied &&
		    s->trying > SIZING_SAFE_DURATION)
			return assume(s, SIZING_SAFE_DURATION, ret_duration);
		s->source = MAX_SOURCE_PROBE;
		return probe_or_done(s, ret_duration);
	default:
		return SIZING_DONE;
	}
}

enum sizing_action sizing_on_get_role(struct sizing *s, enum sizing_result res,
				      uint32_t max, uint32_t *ret_duration)
{
	s->get_role_done = true;
	switch (res) {
	case SIZING_OK:
		s->role_max = max;
		s->source = MAX_SOURCE_GET_ROLE;
		if (max > s->best && max < s->fail_above && budget_left(s))
			return assume(s, max, ret_duration);
		return SIZING_DONE;
	case SIZING_DENIED:
		s->get_role_denied = true;
		s->source = MAX_SOURCE_PROBE;
		if (s->best > s->role_max)
			s->role_max = s->best;
		/* Fell back to 1 h after a refusal: find the real maximum. */
		return probe_or_done(s, ret_duration);
	default:
		/* IAM unreachable: keep what we have, try again next time. */
		return SIZING_DONE;
	}
}

bool sizing_probe_up_due(const struct sizing *s, bool explicit_refresh,
			 uint64_t now, uint64_t last_probe_up,
			 uint64_t interval)
{
	return s->get_role_denied &&
	       (explicit_refresh || now >= last_probe_up + interval);
}
