/* STATE_DIR/state.json: what a restart needs to go on without a new
 * login (DESIGN.md "Persistence"): the ADFS cookie jar, each role's
 * credentials and what was learnt about its duration. Never the password.
 * Written to a temp file, fsync'd and renamed, mode 0600. A file that does
 * not parse, has another version, or belongs to another configuration
 * (identity) is ignored with a warning. */
#pragma once

#include <stddef.h>

#include "conf/conf.h"
#include "session/plan.h"
#include "session/store.h"
#include "signin.h"
#include "util/macro.h"

#define PERSIST_FILE "state.json"
#define PERSIST_VERSION 1
#define PERSIST_MAX_SIZE (2u * 1024u * 1024u)

/* What the sign-in knows of its ADFS SSO session (signin.h, the
 * horizon's facts). */
struct persist_sso {
	usec_t since;         /* the last password sign-in */
	usec_t alive_at;      /* the last cookie round that worked */
	usec_t lifetime_seen; /* an SSO seen ending this long after it began */
	bool mfa;             /* that sign-in asked a second factor */
};

struct persist_state {
	char **cookies;  /* Netscape cookie-file lines; secrets: wiped */
	size_t n_cookies;
	char *user;
	struct persist_sso sso;
	usec_t saved;
	struct signin_source rejected; /* a password source ADFS rejected */
};

/* What ties a state file to a config: SHA-256 (hex) of the ADFS URL, user
 * name, relying party and STS endpoint. Caller frees. */
char *persist_identity(const struct conf *c);

/* Writes the state. cookies: n lines (may be 0). sso: NULL for none.
 * rejected: the password
 * source ADFS rejected (NULL or no ref: none), by name and file version:
 * nothing derived from the password. */
int persist_save(const char *state_dir, const char *identity,
		 const struct store *s, const struct plans *p,
		 const char *const *cookies, size_t n,
		 const struct persist_sso *sso,
		 const struct signin_source *rejected, usec_t now);

/* Reads the state. Roles are matched to s by ARN; when add_roles is set
 * (no `roles:` in the config) the saved roles are added to s. Credentials
 * already expired at now are dropped. Returns 1 when a state was loaded,
 * 0 when there was none or it was ignored (reason in *ret_why, a static
 * string), negative errno on allocation failure. */
int persist_load(const char *state_dir, const char *identity, usec_t now,
		 struct store *s, struct plans *p, bool add_roles,
		 struct persist_state *ret,
		 const char **ret_why);

/* Deletes the state file (logout); 0 when it did not exist. */
int persist_remove(const char *state_dir);

void persist_state_clear(struct persist_state *p);
