/* The manager owns the event loop and every module instance and wires
 * them (docs/internals/daemon.md): the sign-in (signin.c), the refresh
 * cycle (session/cycle.c) on the real network (backend.c), the timer
 * (session/schedule.c), the listeners (listen.c) and the endpoints. It
 * handles signals, reload and STATUS. What the control socket may ask and
 * do is the API below; the struct is private. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "idp/saml.h"
#include "session/cycle.h"
#include "session/horizon.h"
#include "session/store.h"
#include "signin.h"
#include "util/secret.h"

struct manager;

/* Called when a refresh cycle that a caller waited on ends. r is 0 when
 * every role it covered got credentials; message is a one-line summary.
 * r == MANAGER_MFA_NEEDED: the cycle waits for a second factor (message is
 * the hint or NULL); the waiter is dropped and answers with manager_mfa(). */
#define MANAGER_MFA_NEEDED 1
typedef void (*manager_cycle_fn)(struct manager *m, int r,
				 const char *message, void *userdata);

int manager_new(struct conf *conf_take, struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_FREEP(struct manager, manager_free)
/* Opens listeners and the token; signs in at once when the password comes
 * from a file or a systemd credential. */
int manager_start(struct manager *m);
int manager_run(struct manager *m);

sd_event *manager_event(struct manager *m);
const char *manager_state_dir(const struct manager *m);
/* The control socket systemd passed (taken), or -1. */
int manager_take_control_fd(struct manager *m);

/* Signs in with password (taken; NULL = from the configured file or
 * credential, or the remembered one the daemon holds: password_held in
 * the status), assumes every role, then calls fn. -EINVAL: the password
 * is empty, the configuration prompts for it and none is held. */
int manager_login(struct manager *m, struct secret *password_take,
		  manager_cycle_fn fn, void *userdata);
/* Answers a pending second factor (code_take: the OTP, NULL for push)
 * and waits for the cycle like manager_login. -ENOENT when none pends,
 * -EALREADY when a push was approved and the cycle already ended,
 * -EINVAL when an OTP is asked for and code is empty. */
int manager_mfa(struct manager *m, struct secret *code_take,
		manager_cycle_fn fn, void *userdata);
/* Forgets password, cookies and every session; rotates the token. */
int manager_logout(struct manager *m);
/* Refreshes role (NULL = all) now, bypassing backoff, then calls fn.
 * -ENOTCONN when not signed in, -ENOENT for an unknown role, -EACCES
 * after a rejected password. */
int manager_refresh(struct manager *m, const char *role, manager_cycle_fn fn,
		    void *userdata);
/* Stops the sign-in or refresh in flight (adfs-credctl login interrupted
 * or --force): its calls end, a push is no longer waited on, every waiter
 * hears -ECANCELED. Nothing is retried: the password of a login that was
 * cancelled is forgotten as at the end of any round (unless remembered).
 * Returns 1 when a cycle was stopped, 0 when none ran. */
int manager_cancel(struct manager *m);
/* Drops a waiter whose requester went away. */
void manager_forget_waiter(struct manager *m, void *userdata);

/* A snapshot for status: valid until the loop runs again. */
struct manager_role_status {
	const char *name, *arn;
	enum role_state state; /* as status shows it (role_state_shown) */
	usec_t expires;        /* 0 when none */
	uint32_t duration, max_duration;
	enum max_source max_source;
	usec_t next_refresh;   /* 0 when none planned */
	usec_t served_until;   /* USEC_INFINITY: unbounded; 0: nothing */
	const char *last_error;
};

struct manager_status {
	enum signin_state signin;
	const char *user, *error;
	bool mfa_push;         /* in SIGNIN_MFA_PENDING */
	usec_t mfa_push_left;  /* how much longer a push is waited on; 0 */
	struct cycle_progress progress; /* the cycle running, if any */
	bool password_held;    /* login may send the password it holds */
	struct horizon horizon; /* how long renewal goes on without a person */
	usec_t sso_expires;    /* the SSO's end (cookie or lifetime); 0 */
	usec_t ticket_renew_till; /* Kerberos: the TGT's renew-till; 0 */
	usec_t now;            /* the daemon's wall clock */
	struct manager_role_status *roles;
	size_t n_roles;
};

int manager_status(struct manager *m, struct manager_status *ret);
void manager_status_clear(struct manager_status *s);

/* The unattended horizon now (session/horizon.h); ret_ticket_renew_till
 * may be NULL. */
struct horizon manager_horizon(struct manager *m, usec_t now,
			       usec_t *ret_ticket_renew_till);
/* Whether role (NULL: the default) will be served for need from now
 * without a person: 1 yes, 0 no with the reason in buf. -ENOENT: no such
 * role. */
int manager_check(struct manager *m, const char *role, usec_t need,
		  char *buf, size_t n);

/* What `env` prints. -ENXIO: the ECS endpoint is off; -ENOENT: no such
 * role. *ret_role: the role (borrowed, NULL when none), ret_url and
 * ret_token_file are the caller's, ret_token is borrowed. */
int manager_env(struct manager *m, const char *role, const char **ret_role,
		char **ret_url, const struct secret **ret_token,
		char **ret_token_file);
/* A reference to role's (NULL: the default) valid credentials. -ENOENT:
 * no such role; -ENODATA: none valid (signed in or not: *ret_signed_in). */
int manager_credentials(struct manager *m, const char *role,
			struct creds **ret, bool *ret_signed_in);
/* The roles the last assertion offered (NULL before one came), and the
 * name a role ARN is held as (NULL when not held). */
const struct saml_info *manager_offered(struct manager *m);
const char *manager_held_as(struct manager *m, const char *arn);
