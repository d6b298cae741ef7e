/* What the endpoints serve: one role_session per held role, each with its
 * current credentials. Credentials are refcounted and immutable; a refresh
 * swaps in a new set, a response still being sent keeps its reference, the
 * last unref wipes them. The ECS JSON is rendered once per refresh. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "session/sizing.h"
#include "sts/sts-xml.h"
#include "util/macro.h"
#include "util/secret.h"

enum role_state {
	ROLE_EMPTY,
	ROLE_VALID,
	ROLE_REFRESHING,
	ROLE_EXPIRED,
	ROLE_FAILED,
	ROLE_NOT_SIGNED_IN,
};


struct creds {
	unsigned n_ref;
	char *access_key_id;
	struct secret *secret_access_key;
	struct secret *session_token;
	usec_t expiration;     /* wall clock */
	usec_t issued;         /* wall clock at receipt */
	char *role_arn;
	char *account_id;
	struct secret *ecs_json; /* INTERFACE.md ECS 200 body */
	struct secret *imds_json; /* PROTOCOLS.md B3 credentials document */
};

/* Takes the STS result (consumes it, even on failure) and renders JSON.
 * role_arn: the configured role ARN. */
int creds_new_take(struct sts_creds *sc, const char *role_arn, usec_t now,
		   struct creds **ret);
struct creds *creds_ref(struct creds *c);
struct creds *creds_unref(struct creds *c);
DEFINE_FREEP(struct creds, creds_unref)

/* A held role as it is served and shown; the cycle's plan for it is in
 * session/plan.h. */
struct role_session {
	char *name;
	char *arn;
	struct creds *creds;   /* NULL when none */
	enum role_state state;
	char *last_error;      /* no secret; NULL when the last attempt worked */
	uint32_t duration_used; /* what the session got, as status shows it */
	uint32_t max_duration; /* the cap on this session, as status shows it */
	enum max_source max_source; /* where that cap came from (status) */
};

struct store {
	struct role_session *roles;
	size_t n_roles;
	size_t default_idx;
	bool signed_in;
	char *user;
};

/* Adds a role; -EEXIST when the name is taken. duration_cfg: the
 * configured duration (0 = max), which shows as the maximum's source. */
int store_add_role(struct store *s, const char *name, const char *arn,
		   uint32_t duration_cfg);
struct role_session *store_find(struct store *s, const char *name);
struct role_session *store_find_arn(struct store *s, const char *arn);
struct role_session *store_default(struct store *s);
/* Installs new creds for a role (takes the reference). */
void store_set_creds(struct role_session *r, struct creds *c);
/* Whether the role has credentials that are still valid at now. */
bool role_has_valid_creds(const struct role_session *r, usec_t now);
void role_set_error(struct role_session *r, const char *msg);
/* The state status shows for a role at now: a valid role whose
 * credentials ran out is expired; one never fetched is being fetched, or
 * waits for a login (INTERFACE.md knows no "empty"). */
enum role_state role_state_shown(const struct store *s,
				 const struct role_session *r, usec_t now);
/* Drops every role's credentials and state (logout). */
void store_reset(struct store *s);
void store_clear(struct store *s);

const char *role_state_to_string(enum role_state s);
const char *max_source_to_string(enum max_source s);
