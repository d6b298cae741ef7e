#include "manager-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "idp/kerberos.h"
#include "password.h"
#include "session/persist.h"
#include "session/token.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/timeutil.h"

static int add_waiter(struct manager *m, manager_cycle_fn fn, void *userdata)
{
	struct waiter *w;

	if (!fn)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct waiter){ fn, userdata, m->waiters };
	m->waiters = w;
	return 0;
}

void manager_forget_waiter(struct manager *m, void *userdata)
{
	for (struct waiter **w = &m->waiters; *w;) {
		if ((*w)->userdata == userdata) {
			struct waiter *dead = *w;

			*w = dead->next;
			free(dead);
		} else {
			w = &(*w)->next;
		}
	}
}

/* Each waiter hears once, then is gone. */
void manager_tell_waiters(struct manager *m, int r, const char *message)
{
	struct waiter *w = TAKE_PTR(m->waiters);

	while (w) {
		struct waiter *next = w->next;

		w->fn(m, r, message, w->userdata);
		free(w);
		w = next;
	}
}

/* The daemon holds a password it may send again: remembered, typed (not
 * from a file), and not rejected. Then `login` asks only for the second
 * factor. */
static bool password_held(const struct manager *m)
{
	return m->signin.password && m->signin.remember &&
	       m->signin.state != SIGNIN_FAILED &&
	       m->conf->adfs.password == CONF_PASSWORD_PROMPT &&
	       m->conf->adfs.auth == CONF_AUTH_FORMS;
}

/* A login from the configured source or with password (taken). */
int manager_login_now(struct manager *m, struct secret *password_take,
		      manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *pw = password_take;
	struct signin_source from = { 0 };
	bool held = !pw && password_held(m);
	char why[256] = "";
	int r;

	if (cycle_running(m->cycle))
		return -EBUSY;
	if (!pw && !held && m->conf->adfs.auth != CONF_AUTH_KERBEROS) {
		r = password_read_source(m->conf, &pw, &from, why, sizeof(why));
		if (r >= 0 && signin_source_blocked(&m->signin, &from)) {
			/* Lockout safety across restarts and reloads: the
			 * version of the file ADFS rejected is not sent
			 * again; a new one, or a login, is. */
			(void)snprintf(why, sizeof(why),
				       "ADFS rejected the password in %s; put "
				       "the right one there, or run "
				       "'adfs-credctl login'",
				       from.ref);
			signin_source_refused(&m->signin, why);
			pw = secret_free(pw);
			r = -EACCES;
		}
		if (r < 0 && why[0] && !streq(why, m->pw_error)) {
			/* Said once: the timer looks again with backoff. */
			log_error("%s", why);
			(void)snprintf(m->pw_error, sizeof(m->pw_error), "%s",
				       why);
		}
		if (r < 0) {
			signin_source_clear(&from);
			return r;
		}
		m->pw_error[0] = '\0';
	}
	/* A held password stays as it is (ADFS has not rejected it). */
	if (!held)
		signin_login(&m->signin, TAKE_PTR(pw), from.ref ? &from : NULL);
	signin_source_clear(&from);
	/* A login that somebody waits on can relay a second factor. */
	r = cycle_start(m->cycle, "", true, fn && userdata, false);
	if (r < 0)
		return r;
	return add_waiter(m, fn, userdata);
}

int manager_login(struct manager *m, struct secret *password_take,
		  manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *pw = password_take;

	if ((!pw || pw->len == 0) &&
	    m->conf->adfs.password == CONF_PASSWORD_PROMPT &&
	    m->conf->adfs.auth != CONF_AUTH_KERBEROS && !password_held(m))
		return -EINVAL;
	if (pw && pw->len == 0)
		pw = secret_free(pw);
	log_info("Signing in to ADFS as %s", strempty(m->conf->adfs.username));
	/* Asked for by the user: a source ADFS rejected is read again. */
	signin_forget_rejection(&m->signin);
	return manager_login_now(m, TAKE_PTR(pw), fn, userdata);
}

int manager_mfa(struct manager *m, struct secret *code_take,
		manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *code = code_take;
	int r;

	if (code && code->len == 0)
		code = secret_free(code);
	/* A push approval may be noticed before the CLI comes back to
	 * wait for it: then the cycle is already over. */
	if (!code && !cycle_running(m->cycle) &&
	    m->signin.state == SIGNIN_SIGNED_IN)
		return -EALREADY;
	if (m->signin.state != SIGNIN_MFA_PENDING || !cycle_running(m->cycle))
		return -ENOENT;
	if (!m->mfa_push && !code)
		return -EINVAL;
	r = add_waiter(m, fn, userdata);
	if (r < 0)
		return r;
	signin_mfa_answered(&m->signin);
	return adfs_mfa_answer(m->adfs, code);
}

int manager_refresh(struct manager *m, const char *role, manager_cycle_fn fn,
		    void *userdata)
{
	int r;

	if (m->signin.state != SIGNIN_SIGNED_IN &&
	    m->signin.state != SIGNIN_NOT_SIGNED_IN)
		return -ENOTCONN;
	if (role && !store_find(&m->store, role))
		return -ENOENT;
	if (!signin_may_refresh(&m->signin))
		return -EACCES;
	if (!cycle_running(m->cycle)) {
		/* Asked for by the user: no backoff, and probed roles look
		 * for a raised maximum now. */
		r = cycle_start(m->cycle, role ? role : "", false, false, true);
		if (r < 0)
			return r;
	}
	return add_waiter(m, fn, userdata);
}

int manager_cancel(struct manager *m)
{
	if (!cycle_running(m->cycle))
		return 0;
	log_info("The sign-in or refresh in progress was cancelled");
	cycle_cancel(m->cycle);
	m->mfa_push = false;
	free(m->mfa_hint);
	m->mfa_hint = NULL;
	/* Back to where it was before the round: signed out (or signed in
	 * with the SSO it had). Nothing sends the password again by itself:
	 * it is wiped, and the next password round is a login. */
	signin_cancelled(&m->signin, "the sign-in was cancelled");
	if (m->reload_pending) {
		m->reload_pending = false;
		manager_reload(m);
	}
	manager_save_state(m);
	manager_arm_timer(m);
	manager_update_status(m);
	manager_tell_waiters(m, -ECANCELED, "the sign-in was cancelled");
	return 1;
}

int manager_logout(struct manager *m)
{
	struct secret *t = NULL;
	int r;

	if (cycle_running(m->cycle)) {
		cycle_cancel(m->cycle);
		free(m->mfa_hint);
	m->mfa_hint = NULL;
		manager_tell_waiters(m, -ECANCELED, "signed out");
		if (m->reload_pending) {
			m->reload_pending = false;
			manager_reload(m);
		}
	}
	signin_logout(&m->signin);
	/* The user took it in hand: a later failure is told anew. */
	alert_clear(m->alert, ALERT_SIGNIN_FAILED);
	alert_clear(m->alert, ALERT_MFA_RENEWAL);
	adfs_forget(m->adfs);
	cycle_forget(m->cycle, m->conf->n_roles == 0);
	/* IMDS sessions end with the sign-in, as the ECS token rotates. */
	imds_forget_tokens(&m->imds);
	r = persist_remove(m->state_dir);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the saved state: %m");
	r = token_rotate(m->state_dir, &t);
	if (r < 0)
		return log_error_errno(r, "Failed to rotate the endpoint token: %m");
	secret_free(m->token);
	m->token = t;
	m->ecs.token = t;
	manager_arm_timer(m);
	manager_update_status(m);
	log_info("Signed out: password, ADFS cookies and sessions forgotten");
	return 0;
}

struct horizon manager_horizon(struct manager *m, usec_t now,
			       usec_t *ret_ticket_renew_till)
{
	const struct signin *s = &m->signin;
	struct horizon_facts f = {
		.state = s->state,
		.auth = s->auth,
		.password_at_hand = signin_password_at_hand(s),
		.mfa_at_signin = s->mfa_at_signin,
		.sso_since = s->sso_since,
		.sso_lifetime = m->conf->adfs.sso_lifetime,
		.sso_lifetime_seen = s->sso_lifetime_seen,
		.sso_alive_at = s->sso_alive_at,
		.kmsi_expiry = adfs_sso_cookie_expiry(m->adfs),
	};
	usec_t renew_till = 0;

	/* Read each time: kinit, kinit -R or sssd may have renewed it. */
	if (s->auth == SIGNIN_AUTH_KERBEROS &&
	    kerberos_tgt_times(&f.ticket_end, &renew_till) < 0)
		f.ticket_end = renew_till = 0;
	if (f.ticket_end && f.ticket_end <= now)
		f.ticket_end = renew_till = 0;
	if (ret_ticket_renew_till)
		*ret_ticket_renew_till = renew_till;
	return horizon_of(&f);
}

/* How long the next renewal of r gets: what the last one got, else its
 * known maximum, else STS's default hour. */
usec_t manager_renewal_length(const struct role_session *r)
{
	uint32_t d = r->duration_used ? r->duration_used
		     : r->max_duration ? r->max_duration
				       : 3600;

	return (usec_t)d * USEC_PER_SEC;
}

usec_t manager_served_until(const struct horizon *h,
			    const struct role_session *r, usec_t now)
{
	usec_t exp = r->creds && role_has_valid_creds(r, now)
			     ? r->creds->expiration
			     : 0;

	return horizon_served_until(h, exp, manager_renewal_length(r), now);
}

int manager_check(struct manager *m, const char *role, usec_t need,
		  char *buf, size_t n)
{
	struct role_session *r =
		role ? store_find(&m->store, role) : store_default(&m->store);
	usec_t now = now_wall();
	struct horizon h;

	if (!r && !role) {
		/* No roles configured, and no assertion yet to adopt any. */
		(void)snprintf(buf, n, "no role is held yet: run 'adfs-credctl "
				       "login'");
		return 0;
	}
	if (!r)
		return -ENOENT;
	h = manager_horizon(m, now, NULL);
	return horizon_check(&h, r->name, role_has_valid_creds(r, now),
			     manager_served_until(&h, r, now), need, now, buf, n);
}

int manager_status(struct manager *m, struct manager_status *ret)
{
	struct manager_role_status *v;
	usec_t now = now_wall(), renew_till = 0, now_mono,
	       push_end = adfs_push_deadline(m->adfs);
	struct horizon h = manager_horizon(m, now, &renew_till);

	v = calloc(m->store.n_roles ? m->store.n_roles : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->store.n_roles; i++) {
		const struct role_session *r = &m->store.roles[i];

		v[i] = (struct manager_role_status){
			.name = r->name,
			.arn = r->arn,
			.state = role_state_shown(&m->store, r, now),
			.expires = r->creds ? r->creds->expiration : 0,
			.duration = r->duration_used,
			.max_duration = r->max_duration,
			.max_source = r->max_source,
			.next_refresh = m->plans.v[i].next_refresh,
			.served_until = manager_served_until(&h, r, now),
			.last_error = r->last_error,
		};
	}
	*ret = (struct manager_status){
		.signin = m->signin.state,
		.user = m->store.user,
		.error = m->signin.error,
		.mfa_push = m->mfa_push,
		.progress = cycle_progress(m->cycle),
		.password_held = password_held(m),
		.horizon = h,
		.sso_expires = h.by == HORIZON_SSO || h.by == HORIZON_KMSI
				       ? h.until
				       : 0,
		.ticket_renew_till = renew_till,
		.now = now,
		.roles = v,
		.n_roles = m->store.n_roles,
	};
	now_mono = now_clock(CLOCK_MONOTONIC);
	if (push_end > now_mono)
		ret->mfa_push_left = push_end - now_mono;
	return 0;
}

void manager_status_clear(struct manager_status *s)
{
	free(s->roles);
	*s = (struct manager_status){ 0 };
}

static struct role_session *pick_role(struct manager *m, const char *name)
{
	return name ? store_find(&m->store, name) : store_default(&m->store);
}

int manager_env(struct manager *m, const char *role, const char **ret_role,
		char **ret_url, const struct secret **ret_token,
		char **ret_token_file)
{
	struct role_session *r = pick_role(m, role);
	_cleanup_free_ char *url = NULL, *tf = NULL;

	if (!m->ecs_url)
		return -ENXIO;
	if (role && !r && m->conf->n_roles)
		return -ENOENT;
	url = strdup(m->ecs_url);
	if (!url || paths_token(m->state_dir, &tf) < 0)
		return -ENOMEM;
	*ret_role = role ? role : r ? r->name : NULL;
	*ret_url = TAKE_PTR(url);
	*ret_token = m->token;
	*ret_token_file = TAKE_PTR(tf);
	return 0;
}

int manager_credentials(struct manager *m, const char *role,
			struct creds **ret, bool *ret_signed_in)
{
	struct role_session *r = pick_role(m, role);

	*ret_signed_in = m->signin.state == SIGNIN_SIGNED_IN;
	if (!r)
		return -ENOENT;
	if (!role_has_valid_creds(r, now_wall()))
		return -ENODATA;
	*ret = creds_ref(r->creds);
	return 0;
}

const struct saml_info *manager_offered(struct manager *m)
{
	return cycle_offered(m->cycle);
}

const char *manager_held_as(struct manager *m, const char *arn)
{
	struct role_session *r = store_find_arn(&m->store, arn);

	return r ? r->name : NULL;
}

