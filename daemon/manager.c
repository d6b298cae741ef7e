#include "manager-private.h"

#include <errno.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "password.h"
#include "session/persist.h"
#include "session/token.h"
#include "state.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/paths.h"
#include "util/text.h"
#include "util/timeutil.h"

static uint64_t random_upto(uint64_t max, void *userdata)
{
	uint64_t v = 0;

	if (!max)
		return 0;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)now_clock(CLOCK_MONOTONIC) * 6364136223846793005ULL;
	return v % (max + 1);
}

/* Jitter for plans and backoffs (session/refresh.c takes it as a
 * parameter so its tests are deterministic). */
const struct refresh_random manager_jitter = { random_upto, NULL };

static enum signin_auth signin_auth_of(const struct conf *c)
{
	return c->adfs.auth == CONF_AUTH_KERBEROS ? SIGNIN_AUTH_KERBEROS
	       : c->adfs.auth == CONF_AUTH_WSTRUST ? SIGNIN_AUTH_WSTRUST
						   : SIGNIN_AUTH_FORMS;
}

static void configure_signin(struct manager *m)
{
	signin_configure(&m->signin, signin_auth_of(m->conf),
			 m->conf->adfs.remember_password,
			 m->conf->adfs.password == CONF_PASSWORD_FILE ||
				 m->conf->adfs.password ==
					 CONF_PASSWORD_CREDENTIAL);
}


/* The last-call refresh (session/horizon.h): the time, before the
 * horizon h, of the last renewal that gains enough for some role; 0 when
 * none does. seen_at: the moment to judge from (just before the call,
 * when asking whether it is due). */
static usec_t last_call(struct manager *m, const struct horizon *h,
			usec_t seen_at)
{
	usec_t t = 0;

	for (size_t i = 0; i < m->store.n_roles; i++) {
		const struct role_session *r = &m->store.roles[i];
		usec_t exp = r->creds && role_has_valid_creds(r, seen_at)
				     ? r->creds->expiration
				     : 0,
		       lc = horizon_last_call(h, exp,
					      manager_renewal_length(r),
					      m->plans.v[i].next_refresh,
					      seen_at);

		if (lc && (!t || lc < t))
			t = lc;
	}
	return t;
}

/* When the horizon wants the timer: the warning notify.before ahead of
 * it, and the last-call refresh; USEC_INFINITY for neither. */
static usec_t horizon_wakeup(struct manager *m, usec_t now)
{
	struct horizon h = manager_horizon(m, now, NULL);
	usec_t w = USEC_INFINITY, before = m->conf->notify.before, lc;

	/* Signed in again (or a longer ticket): the warning about the old
	 * horizon is withdrawn; the new one gets its own. */
	if (m->warned_for && h.by != HORIZON_NONE && h.until > m->warned_for) {
		alert_clear(m->alert, ALERT_HUMAN_SOON);
		m->warned_for = 0;
	}
	if (h.by == HORIZON_NONE || h.until == USEC_INFINITY)
		return USEC_INFINITY;
	if (m->warned_for != h.until)
		w = h.until > before ? h.until - before : 0;
	lc = m->last_call_for != h.until ? last_call(m, &h, now) : 0;
	if (lc && lc < w)
		w = lc;
	return w;
}

/* The refresh timer is wanted at the earliest time any role needs us;
 * not while a cycle runs (its end arms it again). */
void manager_arm_timer(struct manager *m)
{
	usec_t now = now_wall(), when, h;
	bool can = !cycle_running(m->cycle) &&
		   signin_timer_may_start(&m->signin);

	if (cycle_running(m->cycle)) {
		schedule_disarm(m->schedule);
		return;
	}
	when = plans_next_wakeup(&m->plans, &m->store, now, can);
	h = can ? horizon_wakeup(m, now) : USEC_INFINITY;
	schedule_arm(m->schedule, h < when ? h : when);
}

/* "17:30", or "Fri 17:30" when not today (local time: for people). */
static const char *local_time(char buf[static 16], usec_t t, usec_t now)
{
	time_t s = (time_t)(t / USEC_PER_SEC), n = (time_t)(now / USEC_PER_SEC);
	struct tm tm, tn;

	if (!localtime_r(&s, &tm) || !localtime_r(&n, &tn) ||
	    strftime(buf, 16,
		     tm.tm_yday == tn.tm_yday && tm.tm_year == tn.tm_year
			     ? "%H:%M"
			     : "%a %H:%M",
		     &tm) == 0)
		(void)snprintf(buf, 16, "?");
	return buf;
}

/* The earliest served_until of the roles that hold credentials. */
static usec_t served_until_min(struct manager *m, const struct horizon *h,
			       usec_t now)
{
	usec_t t = USEC_INFINITY;

	for (size_t i = 0; i < m->store.n_roles; i++) {
		const struct role_session *r = &m->store.roles[i];
		usec_t s;

		if (!r->creds || !role_has_valid_creds(r, now))
			continue;
		s = manager_served_until(h, r, now);
		if (s < t)
			t = s;
	}
	return t;
}

/* notify.before ahead of the horizon: tell the user once per horizon. */
static void warn_human_soon(struct manager *m, const struct horizon *h,
			    usec_t now)
{
	char until[16], served[16], body[512];
	usec_t s = served_until_min(m, h, now);
	const char *what = h->by == HORIZON_KMSI ? "the keep-me-signed-in "
						   "cookie expires"
			   : h->by == HORIZON_KERBEROS
				   ? "the Kerberos ticket ends (kinit renews it)"
				   : "the ADFS sign-in session ends";

	m->warned_for = h->until;
	(void)local_time(until, h->until, now);
	if (s != USEC_INFINITY)
		(void)local_time(served, s, now);
	(void)snprintf(body, sizeof(body),
		       "Renewal needs you after %s, when %s.%s%s%s\n"
		       "Run 'adfs-credctl login' before then to keep jobs "
		       "running.",
		       until, what,
		       s != USEC_INFINITY ? " Credentials are served until "
					  : "",
		       s != USEC_INFINITY ? served : "",
		       s != USEC_INFINITY ? "." : "");
	log_warning("Renewal needs a person after %s (%s, %s)", until,
		    horizon_by_to_string(h->by),
		    horizon_source_to_string(h->source));
	(void)alert_raise(m->alert, ALERT_HUMAN_SOON, h->until / USEC_PER_SEC,
			  h->until, "adfs-credd: sign in again soon", body);
}

/* The timer fired: what the horizon wants now. Returns true when it
 * started the last-call refresh. */
static bool horizon_due(struct manager *m, usec_t now)
{
	struct horizon h = manager_horizon(m, now, NULL);
	usec_t before = m->conf->notify.before, lc;

	if (h.by == HORIZON_NONE || h.until == USEC_INFINITY)
		return false;
	if (m->warned_for != h.until && now + before >= h.until)
		warn_human_soon(m, &h, now);
	if (m->last_call_for == h.until || h.until <= HORIZON_LAST_CALL ||
	    now < h.until - HORIZON_LAST_CALL || now >= h.until)
		return false;
	/* Judged as just before the call: is it worth it for a role? */
	lc = last_call(m, &h, h.until - HORIZON_LAST_CALL - 1);
	m->last_call_for = h.until;
	if (!lc || cycle_running(m->cycle))
		return false;
	log_info("The last renewal before the %s ends: refreshing every role "
		 "now",
		 h.by == HORIZON_KERBEROS ? "Kerberos ticket"
		 : h.by == HORIZON_KMSI   ? "keep-me-signed-in cookie"
					  : "ADFS SSO");
	return cycle_start(m->cycle, "", false, false, false) == 0;
}

static struct state state_of(struct manager *m)
{
	return (struct state){
		.dir = m->state_dir,
		.identity = m->identity,
		.adfs = m->adfs,
		.store = &m->store,
		.plans = &m->plans,
		.signin = &m->signin,
	};
}

void manager_save_state(struct manager *m)
{
	struct state st = state_of(m);

	state_save(&st);
}

/* Restores what state_save() wrote: cookies, user, sessions. */
static void restore_state(struct manager *m)
{
	struct state st = state_of(m);

	state_restore(&st, m->conf->n_roles == 0,
		      m->conf->refresh.min_remaining, &manager_jitter);
	manager_arm_timer(m);
}


/* A sign-in that ends needing the user (ADFS rejected the password, or
 * the SSO ended and nothing can renew it) is told once per condition
 * (the key: which of the two); signed in again (or logged out), the
 * alerts are withdrawn (docs/internals/alerts.md). m->signin.error is our
 * text. */
static void alert_signin(struct manager *m)
{
	enum signin_state st = m->signin.state;
	char body[768];

	if (st == SIGNIN_SIGNED_IN || st == SIGNIN_SIGNED_OUT) {
		/* Over, or the user logged out: taken in hand. */
		alert_clear(m->alert, ALERT_SIGNIN_FAILED);
		alert_clear(m->alert, ALERT_MFA_RENEWAL);
		return;
	}
	if (st != SIGNIN_FAILED && st != SIGNIN_NOT_SIGNED_IN)
		return;
	/* A renewal that stopped at a second factor was told as such
	 * (on_cycle_mfa_renewal): one notification, not two. */
	if (st == SIGNIN_NOT_SIGNED_IN &&
	    alert_is_raised(m->alert, ALERT_MFA_RENEWAL))
		return;
	(void)snprintf(body, sizeof(body),
		       "%s\nRun 'adfs-credctl login' to sign in again.",
		       m->signin.error ? m->signin.error
		       : st == SIGNIN_FAILED ? "ADFS rejected the password"
					     : "The ADFS session ended");
	(void)alert_raise(m->alert, ALERT_SIGNIN_FAILED, (uint64_t)st, 0,
			  "adfs-credd: sign-in needed", body);
}

static void on_cycle_ended(void *ud, int r, const char *summary)
{
	struct manager *m = ud;

	if (m->reload_pending) {
		m->reload_pending = false;
		manager_reload(m);
	}
	free(m->mfa_hint);
	m->mfa_hint = NULL;
	manager_save_state(m);
	manager_arm_timer(m);
	alert_signin(m);
	manager_update_status(m);
	manager_tell_waiters(m, r, summary);
}

static void on_cycle_mfa(void *ud, bool push, const char *hint)
{
	struct manager *m = ud;

	m->mfa_push = push;
	free(m->mfa_hint);
	m->mfa_hint = hint ? strdup(hint) : NULL;
	manager_update_status(m);
	/* Hand the question to whoever waits (adfs-credctl login); they
	 * come back with manager_mfa(). */
	manager_tell_waiters(m, MANAGER_MFA_NEEDED, m->mfa_hint);
}

/* A renewal met a second factor with nobody at a terminal: tell the user
 * once per SSO window (alert.h), with the number to match when the daemon
 * waits on a push. ADFS's hint is escaped; nothing secret is in it. */
static void on_cycle_mfa_renewal(void *ud, bool pushing, const char *hint)
{
	struct manager *m = ud;
	_cleanup_free_ char *esc = hint ? text_escape(hint) : NULL;
	char body[512];

	if (pushing) {
		m->mfa_push = true;
		free(m->mfa_hint);
		m->mfa_hint = hint ? strdup(hint) : NULL;
	}
	if (!pushing)
		(void)snprintf(body, sizeof(body),
			       "ADFS asks for a second factor to renew the "
			       "sign-in. Run 'adfs-credctl login' to give it.");
	else if (esc && *esc && esc[strspn(esc, "0123456789")] == '\0')
		(void)snprintf(body, sizeof(body),
			       "Approve the sign-in on your phone; number %s",
			       esc);
	else
		(void)snprintf(body, sizeof(body),
			       "Approve the sign-in on your phone%s%.300s",
			       esc && *esc ? ": " : "", esc ? esc : "");
	(void)alert_raise(m->alert, ALERT_MFA_RENEWAL,
			  m->signin.sso_since / USEC_PER_SEC, 0,
			  "adfs-credd: second factor needed", body);
	manager_update_status(m);
}

static const struct cycle_hooks hooks = {
	.ended = on_cycle_ended,
	.mfa = on_cycle_mfa,
	.mfa_renewal = on_cycle_mfa_renewal,
};

static void on_login_at_start(struct manager *m, int r, const char *message,
			      void *userdata)
{
	if (r < 0)
		log_error("Automatic sign-in failed: %s", message);
	else
		log_info("Signed in to ADFS as %s: %s", strempty(m->store.user),
			 message);
}

/* Something changed in the password file's folder: when ADFS had
 * rejected the file's password, sign in with the new one (login reads it
 * and sends nothing while it is still the rejected version). */
static int on_password_file(sd_event_source *s, const struct inotify_event *ev,
			    void *userdata)
{
	struct manager *m = userdata;
	const char *base = strrchr(m->conf->adfs.password_ref, '/');

	base = base ? base + 1 : m->conf->adfs.password_ref;
	if (!signin_source_may_retry(&m->signin) || cycle_running(m->cycle) ||
	    (ev->len && !streq(ev->name, base)))
		return 0;
	(void)manager_login_now(m, NULL, on_login_at_start, NULL);
	return 0;
}

static void watch_password(struct manager *m)
{
	int r;

	m->password_watch = sd_event_source_disable_unref(m->password_watch);
	r = password_watch(m->event, m->conf, on_password_file, m,
			   &m->password_watch);
	if (r < 0)
		log_warning_errno(r, "Cannot watch the password file %s: %m; "
				     "after a rejection, run 'adfs-credctl "
				     "login' once it is right",
				  m->conf->adfs.password_ref);
}

/* The timer fired or the wall clock changed: trust only the wall clock
 * (after a suspend the boottime timer fires late relative to expiries and
 * plans); whatever is past is due now. */
static void on_schedule(void *userdata)
{
	struct manager *m = userdata;
	usec_t now = now_wall();
	int r;

	plans_expire(&m->store, now);
	if (!cycle_running(m->cycle) && signin_timer_may_start(&m->signin) &&
	    horizon_due(m, now))
		return;
	if (cycle_running(m->cycle) || !signin_timer_may_start(&m->signin) ||
	    !plans_any_due(&m->plans, &m->store, now)) {
		manager_arm_timer(m);
		return;
	}
	if (signin_timer_logs_in(&m->signin))
		/* The sign-in at start failed: again, as at start. */
		r = manager_login_now(m, NULL, on_login_at_start, NULL);
	else
		r = cycle_start(m->cycle, NULL, false, false, false);
	if (r == -ENOKEY) {
		manager_arm_timer(m);
		return;
	}
	if (r < 0) {
		if (!m->pw_error[0])
			log_error_errno(r, "Cannot start a refresh: %m, retrying "
					   "later");
		plans_start_failed(&m->plans, &m->store, now,
				   r == -EACCES && m->signin.error
					   ? m->signin.error
					   : "cannot start a refresh",
				   &manager_jitter);
		manager_arm_timer(m);
	}
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si,
		   void *userdata)
{
	struct manager *m = userdata;

	log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
	/* A login waiting on a push has its control request suspended:
	 * answered now, it is resumed before the control server stops
	 * (libmicrohttpd aborts the process on a suspended one). */
	manager_tell_waiters(m, -ESHUTDOWN, "adfs-credd is stopping");
	return sd_event_exit(m->event, 0);
}

/* Applies the configuration file again (SIGHUP). A bad file is rejected
 * with its errors; the old configuration stays. Listeners and roles are
 * fixed for the process lifetime; the rest applies now, by swapping
 * m->conf: every module reads the configuration through it. */
void manager_reload(struct manager *m)
{
	struct conf_errors errs = { 0 };
	_cleanup_free_ char *id = NULL;
	struct conf *n = NULL, *old = m->conf;
	int r;

	r = conf_load(old->path, &n, &errs);
	if (r < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		log_error("New configuration rejected, keeping the old one");
		conf_errors_clear(&errs);
		return;
	}
	id = persist_identity(n);
	if (!id || !streq(id, m->identity)) {
		log_warning("adfs.url, adfs.username, adfs.relying_party or the "
			    "STS endpoint changed: restart adfs-credd to apply "
			    "(the sign-in it holds belongs to the old ones); "
			    "keeping the old configuration");
		conf_free(n);
		return;
	}
	if (cycle_running(m->cycle)) {
		/* Calls in flight hold the old one. */
		m->reload_pending = true;
		log_info("Configuration reload waits for the refresh in progress");
		conf_free(n);
		return;
	}
	if (n->serve.ecs.enabled != old->serve.ecs.enabled ||
	    n->serve.ecs.port != old->serve.ecs.port ||
	    n->serve.imds.enabled != old->serve.imds.enabled ||
	    n->serve.imds.port != old->serve.imds.port ||
	    n->n_roles != old->n_roles)
		log_warning("Changes to serve.ecs, serve.imds and roles apply at "
			    "the next restart");
	m->conf = n;
	conf_free(old);
	configure_signin(m);
	watch_password(m);
	log_set_level(n->log_level);
	log_info("Configuration reloaded from %s", strempty(n->path));
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	(void)sd_notify(0, "RELOADING=1");
	manager_reload(userdata);
	(void)sd_notify(0, "READY=1");
	manager_update_status(userdata);
	return 0;
}

int manager_new(struct conf *conf_take, struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct conf *c = conf_take;
	struct cycle_setup cs;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m) {
		conf_free(c);
		return -ENOMEM;
	}
	m->conf = c;
	m->uid = geteuid();
	configure_signin(m);
	m->identity = persist_identity(c);
	if (!m->identity)
		return -ENOMEM;
	r = paths_state_dir(c->state_dir, &m->state_dir);
	if (r == -EINVAL)
		return log_error_errno(r, "XDG_RUNTIME_DIR is not set: set "
					  "state_dir in the configuration");
	if (r < 0)
		return r;
	r = sd_event_default(&m->event);
	if (r < 0)
		return r;
	r = curl_glue_new(m->event, &m->glue);
	if (r < 0)
		return r;
	r = adfs_new(m->event, m->glue, &m->conf, &m->adfs);
	if (r < 0)
		return r;
	r = backend_new(m->glue, m->adfs, &m->conf, &m->backend);
	if (r < 0)
		return r;
	r = alert_new(m->event, &m->conf, &m->alert);
	if (r < 0)
		return r;
	cs = (struct cycle_setup){
		.event = m->event,
		.store = &m->store,
		.plans = &m->plans,
		.signin = &m->signin,
		.conf = &m->conf,
		.ops = &backend_ops,
		.ops_ud = m->backend,
		.hooks = &hooks,
		.hooks_ud = m,
		.jitter = &manager_jitter,
	};
	r = cycle_new(&cs, &m->cycle);
	if (r < 0)
		return r;
	backend_attach(m->backend, m->cycle);
	for (size_t i = 0; i < c->n_roles; i++) {
		r = roles_add(&m->store, &m->plans, c->roles[i].name,
			      c->roles[i].arn, c->roles[i].principal_arn,
			      c->roles[i].duration);
		if (r < 0)
			return r;
		if (c->default_role && streq(c->default_role, c->roles[i].name))
			m->store.default_idx = i;
	}
	r = schedule_new(m->event, NULL, on_schedule, m, &m->schedule);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(struct manager *m)
{
	int r;

	r = state_dir_prepare(m->state_dir);
	if (r < 0)
		return log_error_errno(r, "Cannot use state directory %s: %m",
				       m->state_dir);
	r = token_load_or_create(m->state_dir, &m->token);
	if (r < 0)
		return log_error_errno(r, "Cannot create the endpoint token in "
					  "%s: %m",
				       m->state_dir);
	m->guard = (struct guard){
		.self = m->uid,
		.conf = &m->conf,
		.event = m->event,
	};
	m->ecs = (struct ecs){ .store = &m->store, .token = m->token,
			       .guard = &m->guard };
	restore_state(m);
	r = listen_take_activated(&m->listen);
	if (r < 0)
		return r;
	m->listen.guard = &m->guard;
	r = listen_setup_peer_diag(&m->listen, m->conf);
	if (r < 0)
		return r;
	r = listen_start(&m->listen, m->event, &m->conf->serve.ecs, "ecs",
			 "ECS credentials", ecs_handle, &m->ecs, &m->ecs_server);
	if (r < 0)
		return r;
	/* What `env` prints is where we listen, whatever a reload says. */
	if (m->conf->serve.ecs.enabled &&
	    asprintf(&m->ecs_url,
		     strchr(m->conf->serve.ecs.host, ':') ? "http://[%s]:%u"
							  : "http://%s:%u",
		     m->conf->serve.ecs.host, m->conf->serve.ecs.port) < 0)
		return log_oom();
	if (m->conf->serve.imds.enabled || listen_has(&m->listen, "imds")) {
		r = imds_init(&m->imds);
		if (r < 0)
			return log_error_errno(r, "Cannot start IMDS: %m");
		m->imds.store = &m->store;
		m->imds.guard = &m->guard;
		m->imds.conf = &m->conf;
		r = listen_start(&m->listen, m->event, &m->conf->serve.imds,
				 "imds", "EC2 IMDSv2", imds_handle, &m->imds,
				 &m->imds_server);
		if (r < 0)
			return r;
	}

	watch_password(m);
	r = sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_stop, m);
	r = r ?: sd_event_add_signal(m->event, &m->sigint, SIGINT, on_stop, m);
	r = r ?: sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_reload,
				     m);
	if (r < 0)
		return log_error_errno(r, "Cannot watch signals: %m");

	if (m->signin.state == SIGNIN_SIGNED_IN) {
		/* Restored: the refresh timer takes it from here. */
	} else if (m->conf->adfs.password != CONF_PASSWORD_PROMPT ||
		   m->conf->adfs.auth == CONF_AUTH_KERBEROS) {
		/* A password file ADFS rejected before a restart stays
		 * rejected: not fatal, the status says what to do. */
		r = manager_login_now(m, NULL, on_login_at_start, NULL);
		if (r < 0 && r != -EACCES)
			return r;
		alert_signin(m); /* a source ADFS rejected before */
	} else {
		log_info("Not signed in: run 'adfs-credctl login'");
	}
	return 0;
}

sd_event *manager_event(struct manager *m)
{
	return m->event;
}

const char *manager_state_dir(const struct manager *m)
{
	return m->state_dir;
}

int manager_take_control_fd(struct manager *m)
{
	return listen_take(&m->listen, "control");
}

/* The horizon for STATUS=: "renewable until 17:30 (sso), served until
 * 21:25", or "renews without you (password)". */
static const char *horizon_line(struct manager *m, usec_t now,
				char buf[static 96])
{
	struct horizon h = manager_horizon(m, now, NULL);
	usec_t s = served_until_min(m, &h, now);
	char until[16], served[16];

	if (h.until == USEC_INFINITY)
		(void)snprintf(buf, 96, "renews without you (%s)",
			       horizon_by_to_string(h.by));
	else if (h.by == HORIZON_NONE)
		(void)snprintf(buf, 96, "renewal needs you");
	else
		(void)snprintf(buf, 96, "renewable until %s (%s)%s%s",
			       local_time(until, h.until, now),
			       horizon_by_to_string(h.by),
			       s != USEC_INFINITY ? ", served until " : "",
			       s != USEC_INFINITY ? local_time(served, s, now)
						  : "");
	return buf;
}

/* STATUS= for `systemctl --user status`: a line a person reads. */
void manager_update_status(struct manager *m)
{
	usec_t now = now_wall(), next = plans_next_refresh(&m->plans);
	size_t valid = 0;
	char hm[8] = "-", line[96];

	for (size_t i = 0; i < m->store.n_roles; i++)
		if (role_has_valid_creds(&m->store.roles[i], now))
			valid++;
	if (next != USEC_INFINITY) {
		time_t t = (time_t)(next / USEC_PER_SEC);
		struct tm tm;

		if (localtime_r(&t, &tm))
			(void)strftime(hm, sizeof(hm), "%H:%M", &tm);
	}
	switch (m->signin.state) {
	case SIGNIN_SIGNED_IN: {
		_cleanup_free_ char *esc = notify_escape(strempty(m->store.user));

		if (!esc)
			break;
		(void)sd_notifyf(0, "STATUS=signed in as %s; %zu role%s valid; "
				    "next refresh %s; %s",
				 esc, valid, valid == 1 ? "" : "s", hm,
				 horizon_line(m, now, line));
		break;
	}
	case SIGNIN_SIGNING_IN:
		(void)sd_notify(0, "STATUS=signing in to ADFS");
		break;
	case SIGNIN_MFA_PENDING:
		(void)sd_notify(0, "STATUS=waiting for the second factor "
				   "(adfs-credctl login)");
		break;
	case SIGNIN_FAILED:
		(void)sd_notifyf(0, "STATUS=sign-in failed (%zu role%s still "
				    "valid): run adfs-credctl login",
				 valid, valid == 1 ? "" : "s");
		break;
	default:
		(void)sd_notifyf(0, "STATUS=not signed in: run adfs-credctl "
				    "login%s",
				 valid ? " (still serving valid credentials)" : "");
		break;
	}
}

int manager_run(struct manager *m)
{
	manager_update_status(m);
	return sd_event_loop(m->event);
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	/* Calls in flight stop first; nobody is told (we are going). */
	m->cycle = cycle_free(m->cycle);
	for (struct waiter *w = TAKE_PTR(m->waiters), *next; w; w = next) {
		next = w->next;
		free(w);
	}
	m->backend = backend_free(m->backend);
	m->alert = alert_free(m->alert);
	m->schedule = schedule_free(m->schedule);
	http_server_free(m->ecs_server);
	http_server_free(m->imds_server);
	imds_clear(&m->imds);
	guard_clear(&m->guard); /* logs the audit repeats still counted */
	adfs_free(m->adfs);
	curl_glue_free(m->glue);
	store_clear(&m->store);
	plans_clear(&m->plans);
	signin_clear(&m->signin);
	secret_free(m->token);
	free(m->mfa_hint);
	(void)sd_event_source_disable_unref(m->sigterm);
	(void)sd_event_source_disable_unref(m->sigint);
	(void)sd_event_source_disable_unref(m->sighup);
	(void)sd_event_source_disable_unref(m->password_watch);
	sd_event_unref(m->event);
	listen_clear(&m->listen);
	free(m->state_dir);
	free(m->identity);
	free(m->ecs_url);
	conf_free(m->conf);
	free(m);
	return NULL;
}
