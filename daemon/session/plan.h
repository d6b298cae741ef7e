/* What the refresh cycle and the timer keep about each held role, beside
 * what the store serves: how to ask for it, what was learnt about its
 * maximum, when to refresh it next and how often it failed. plans.v[i]
 * belongs to store.roles[i]; roles_add() grows both. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
