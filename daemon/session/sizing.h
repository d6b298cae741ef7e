/* Choosing DurationSeconds for one role (DESIGN.md "Choosing
 * DurationSeconds"): a pure state machine the manager drives with what STS
 * and IAM answered. It never chains roles; every duration it asks for is an
 * AssumeRoleWithSAML on the same assertion.
 *
 *   - start at the configured duration, else the learnt maximum, else 12 h;
 *   - after a success, ask GetRole (with the new session's keys) unless it
 *     is known to be denied, and re-assume at MaxSessionDuration when that
 *     is larger (an administrator's raise is used at the next refresh);
 *   - on "exceeds the MaxSessionDuration": when GetRole may work, take 1 h
 *     (every role allows it) and let GetRole tell the exact maximum; else
 *     walk the console presets between what worked and what was refused;
 *   - at most SIZING_MAX_STS_CALLS AssumeRoleWithSAML calls per assertion. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Where a role's session length came from (status `max_source`). */
enum max_source {
	MAX_SOURCE_DEFAULT,
	MAX_SOURCE_CONFIG,
	MAX_SOURCE_GET_ROLE,
	MAX_SOURCE_PROBE,
	MAX_SOURCE_ASSERTION,
};

#define SIZING_MAX_STS_CALLS 5
#define SIZING_SAFE_DURATION 3600u /* every role's MaxSessionDuration >= 1 h */

enum sizing_action {
	SIZING_ASSUME,   /* call AssumeRoleWithSAML with *ret_duration */
	SIZING_GET_ROLE, /* call iam:GetRole with the credentials just issued */
	SIZING_DONE,     /* keep the best credentials (if any) */
};

enum sizing_result {
	SIZING_OK,
	SIZING_TOO_LONG, /* ValidationError: exceeds the MaxSessionDuration */
	SIZING_FAILED,   /* any other error */
	SIZING_DENIED,   /* GetRole: AccessDenied */
};

struct sizing {
	/* Kept across cycles (the manager copies them to and from the role). */
	uint32_t cfg;           /* configured duration, 0 = max */
	uint32_t role_max;      /* learnt MaxSessionDuration, 0 unknown */
	bool get_role_denied;
	bool probe_up;          /* may try above role_max this cycle */
	enum max_source source;

	/* This cycle. */
	uint32_t trying;
	uint32_t best;          /* largest duration STS granted, 0 none */
	uint32_t fail_above;    /* smallest duration STS refused as too long */
	unsigned sts_calls;
	bool get_role_done;
};

/* Starts a cycle for the role: resets the per-cycle part, returns the
 * first action (always SIZING_ASSUME) and its duration. */
enum sizing_action sizing_begin(struct sizing *s, uint32_t *ret_duration);
/* Feeds the AssumeRoleWithSAML result of the duration last asked for. */
enum sizing_action sizing_on_assume(struct sizing *s, enum sizing_result res,
				    uint32_t *ret_duration);
/* Feeds the GetRole result (max valid with SIZING_OK). */
enum sizing_action sizing_on_get_role(struct sizing *s, enum sizing_result res,
				      uint32_t max, uint32_t *ret_duration);
/* Whether this cycle may probe above the learnt maximum (s->probe_up):
 * only where GetRole is denied, and then on an explicit refresh (the user
 * asks for the role's maximum now), or when the last upward probe (wall
 * clock, any unit) is at least interval old. */
bool sizing_probe_up_due(const struct sizing *s, bool explicit_refresh,
			 uint64_t now, uint64_t last_probe_up,
			 uint64_t interval);
