/* The manager's state, shared by manager.c (lifecycle, wiring, signals,
 * reload, STATUS) and manager-api.c (what the control socket may ask and
 * do). Nothing else includes this. */
#pragma once

#include "alert.h"
#include "backend.h"
#include "http/ecs.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/server.h"
#include "idp/adfs.h"
#include "listen.h"
#include "manager.h"
#include "net/curl-glue.h"
#include "session/cycle.h"
#include "session/plan.h"
#include "session/schedule.h"

struct waiter {
	manager_cycle_fn fn;
	void *userdata;
	struct waiter *next;
};

struct manager {
	sd_event *event;
	struct conf *conf;       /* the one swap point of a reload */
	char *state_dir;
	char *identity;          /* ties state.json to this config */
	char *ecs_url;           /* where the ECS endpoint listens */
	bool reload_pending;     /* SIGHUP during a cycle */
	uid_t uid;
	struct listen listen;

	struct curl_glue *glue;
	struct adfs *adfs;
	struct backend *backend;
	struct cycle *cycle;
	struct schedule *schedule;
	struct store store;
	struct plans plans;
	struct signin signin;
	struct secret *token;
	struct guard guard;
	struct ecs ecs;
	struct http_server *ecs_server;
	struct imds imds;
	struct http_server *imds_server;
	struct alert *alert;     /* desktop notification, notify.command */

	bool mfa_push;           /* valid in SIGNIN_MFA_PENDING */
	char *mfa_hint;
	/* The horizon each of these was done for (its end), so each
	 * happens once per horizon: the last-call refresh and the warning
	 * notify.before ahead of it (manager.c). */
	usec_t last_call_for, warned_for;
	char pw_error[256];      /* the password-source error last logged */
	struct waiter *waiters;
	sd_event_source *sigterm, *sigint, *sighup;
	sd_event_source *password_watch; /* a file: source's folder */
};

extern const struct refresh_random manager_jitter;

void manager_save_state(struct manager *m);
void manager_arm_timer(struct manager *m);
/* When role i's next renewal is worth how long it gets (manager-api.c). */
usec_t manager_renewal_length(const struct role_session *r);
/* When r runs out if nothing more is renewed (session/horizon.h). */
usec_t manager_served_until(const struct horizon *h,
			    const struct role_session *r, usec_t now);
void manager_reload(struct manager *m);
void manager_update_status(struct manager *m);
/* The end of a cycle reaches every waiter once (then they are gone). */
void manager_tell_waiters(struct manager *m, int r, const char *message);
/* A login from the configured source (password_take NULL) or with it. */
int manager_login_now(struct manager *m, struct secret *password_take,
		      manager_cycle_fn fn, void *userdata);
