/* The glue between the state file (session/persist.c) and the objects it
 * saves: the ADFS cookie jar, the store and the plans, the sign-in's SSO
 * start. Never the password. */
#pragma once

#include <stdbool.h>

#include "idp/adfs.h"
#include "session/plan.h"
#include "session/refresh.h"
#include "session/store.h"
#include "signin.h"

struct state {
	const char *dir;
	const char *identity;    /* ties the file to the configuration */
	struct adfs *adfs;
	struct store *store;
	struct plans *plans;
	struct signin *signin;
};

/* Saves cookies and sessions so a restart needs no new login; a failure
 * is logged (the next restart then needs a login). */
void state_save(const struct state *s);
/* Restores what state_save() wrote and plans every role (valid ones
 * before they expire, min_remaining ahead). add_roles: no `roles:` in the
 * configuration, hold the saved ones. Returns the roles with valid
 * credentials, -1 when nothing was restored (logged). */
int state_restore(const struct state *s, bool add_roles, usec_t min_remaining,
		  const struct refresh_random *jitter);
