/* The manager owns the event loop and every module instance, and wires
 * them: sign-in (ADFS) -> SAML -> STS per role -> store -> endpoints, the
 * refresh timer, and the control socket. Only main and control see it. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "http/ecs.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/server.h"
#include "idp/adfs.h"
#include "idp/saml.h"
#include "idp/wstrust.h"
#include "net/curl-glue.h"
#include "session/store.h"
#include "sts/iam.h"
#include "sts/sts.h"

enum signin_state {
	SIGNIN_SIGNED_OUT,
	SIGNIN_SIGNING_IN,
	SIGNIN_MFA_PENDING,   /* waiting on the user for a second factor */
	SIGNIN_SIGNED_IN,
	SIGNIN_NOT_SIGNED_IN, /* the ADFS SSO ended and nothing can renew it */
	SIGNIN_FAILED,        /* ADFS rejected the password: wait for login */
};

struct manager;
struct control;

/* Called when a refresh cycle that a caller waited on ends. r is 0 when
 * every role it covered got credentials; message is a one-line summary.
 * r == MANAGER_MFA_NEEDED: the cycle waits for a second factor (see
 * manager.mfa_kind, message is the hint or NULL); the waiter is dropped
 * and answers with manager_mfa(). */
#define MANAGER_MFA_NEEDED 1
typedef void (*manager_cycle_fn)(struct manager *m, int r,
				 const char *message, void *userdata);

struct cycle_waiter {
	manager_cycle_fn fn;
	void *userdata;
	struct cycle_waiter *next;
};

struct manager {
	sd_event *event;
	struct conf *conf;
	char *state_dir;
	char *identity;          /* ties state.json to this config */
	char *ecs_url;           /* where the ECS endpoint listens */
	struct {                 /* sockets from systemd (socket activation) */
		int fd;
		char name[16];
	} activated[6];         /* ecs, imds, control, diag */
	size_t n_activated;
	bool reload_pending;     /* SIGHUP during a cycle */
	bool peer_userns;        /* peer uids come from a namespaced socket */
	uid_t peer_overflow_uid; /* ... where this uid names no user */
	uid_t uid;

	struct curl_glue *glue;
	struct adfs *adfs;
	struct store store;
	struct secret *token;
	struct guard guard;
	struct ecs ecs;
	struct http_server *ecs_server;
	struct imds imds;
	struct http_server *imds_server;
	struct control *control;

	enum signin_state signin;
	char *signin_error;      /* why not signed in; no secret */
	struct secret *password; /* only while signing in, or remembered */
	usec_t sso_since;        /* wall clock of the last password round */
	enum adfs_mfa_kind mfa_kind; /* valid in SIGNIN_MFA_PENDING */
	char *mfa_hint;
	struct saml_info *last_saml; /* roles offered, for `roles` */
	usec_t sts_skew;         /* |STS's clock - ours| at its last reply */
	bool sts_ahead;          /* STS's clock is the later one */

	/* The refresh cycle in progress (at most one). */
	struct {
		bool running;
		bool with_password;
		bool explicit_refresh;   /* adfs-credctl refresh: look for a
					  * raised maximum now */
		struct secret *saml;     /* the assertion being redeemed */
		usec_t saml_at;          /* CLOCK_BOOTTIME when it came */
		bool refetching;         /* getting a newer one mid-cycle */
		uint32_t resume_duration; /* ... then AssumeRole with this */
		struct saml_info *info;
		size_t *due;             /* indexes into store.roles */
		size_t n_due, next;
		uint32_t try_duration;   /* for the role being assumed */
		bool got;                /* it got credentials this cycle */
		usec_t got_exp;          /* their expiry on our clock */
		usec_t got_lifetime;
		struct sts_call *sts;
		struct iam_call *iam;
		struct wstrust_call *wstrust;
		unsigned failed;
		char *first_error;
		struct cycle_waiter *waiters;
	} cycle;

	sd_event_source *refresh_timer;
	sd_event_source *clock_watch; /* wall-clock jumps and resumes */
	sd_event_source *sigterm, *sigint, *sighup;
};

int manager_new(struct conf *conf_take, struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_FREEP(struct manager, manager_free)
/* Opens listeners, the control socket and the token; signs in at once
 * when the password comes from a file or a systemd credential. */
int manager_start(struct manager *m);
int manager_run(struct manager *m);

/* Signs in with password (taken; NULL = from the configured file or
 * credential), assumes every role, then calls fn. */
int manager_login(struct manager *m, struct secret *password_take,
		  manager_cycle_fn fn, void *userdata);
/* Answers a pending second factor (code_take: the OTP, NULL for push)
 * and waits for the cycle like manager_login. -ENOENT when none pends,
 * -EALREADY when a push was approved and the cycle already ended. */
int manager_mfa(struct manager *m, struct secret *code_take,
		manager_cycle_fn fn, void *userdata);
/* Forgets password, cookies and every session; rotates the token. */
int manager_logout(struct manager *m);
/* Refreshes role (NULL = all) now, bypassing backoff, then calls fn. */
int manager_refresh(struct manager *m, const char *role, manager_cycle_fn fn,
		    void *userdata);
/* Drops a waiter whose requester went away. */
void manager_forget_waiter(struct manager *m, void *userdata);

const char *signin_state_to_string(enum signin_state s);
/* The ECS base URL "http://127.0.0.1:9911", NULL if ECS is off; free. */
char *manager_ecs_url(struct manager *m);
