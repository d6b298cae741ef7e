#include "manager.h"

#include <errno.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "backend.h"
#include "http/ecs.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/server.h"
#include "idp/adfs.h"
#include "listen.h"
#include "net/curl-glue.h"
#include "session/cycle.h"
#include "session/persist.h"
#include "session/plan.h"
#include "session/schedule.h"
#include "session/token.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/timeutil.h"

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

	bool mfa_push;           /* valid in SIGNIN_MFA_PENDING */
	char *mfa_hint;
	char pw_error[256];      /* the password-source error last logged */
	struct waiter *waiters;
	sd_event_source *sigterm, *sigint, *sighup;
};

static void update_status(struct manager *m);

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
static const struct refresh_random jitter = { random_upto, NULL };

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

/* Reads the password from file:PATH (must be 0600) or credential:NAME.
 * why (no secret) says what went wrong. */
static int read_password_source(const struct conf *c, struct secret **ret,
				char *why, size_t n)
{
	_cleanup_free_ char *path = NULL;
	struct buf b;
	struct stat st;
	int r;

	if (c->adfs.password == CONF_PASSWORD_FILE) {
		path = strdup(c->adfs.password_ref);
		if (!path)
			return -ENOMEM;
		if (stat(path, &st) < 0) {
			r = -errno;
			(void)snprintf(why, n, "Cannot read password file %s: %s",
				       path, strerror(-r));
			return r;
		}
		if (st.st_mode & 0077) {
			(void)snprintf(why, n,
				       "Password file %s must have mode 0600 (it "
				       "is %04o); run chmod 600 %s",
				       path, st.st_mode & 07777, path);
			return -EPERM;
		}
	} else if (c->adfs.password == CONF_PASSWORD_CREDENTIAL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir) {
			(void)snprintf(why, n,
				       "adfs.password is credential:%s but "
				       "CREDENTIALS_DIRECTORY is not set; use "
				       "LoadCredential=%s:... in the unit",
				       c->adfs.password_ref, c->adfs.password_ref);
			return -ENOENT;
		}
		if (asprintf(&path, "%s/%s", dir, c->adfs.password_ref) < 0)
			return -ENOMEM;
	} else {
		return -ENOKEY;
	}
	buf_init(&b, 4096);
	r = buf_read_file(&b, path);
	if (r < 0) {
		buf_clear(&b);
		(void)snprintf(why, n, "Cannot read password from %s: %s", path,
			       strerror(-r));
		return r;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	*ret = secret_new_from(b.data, b.len);
	buf_clear(&b);
	return *ret ? 0 : -ENOMEM;
}

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
static void tell_waiters(struct manager *m, int r, const char *message)
{
	struct waiter *w = TAKE_PTR(m->waiters);

	while (w) {
		struct waiter *next = w->next;

		w->fn(m, r, message, w->userdata);
		free(w);
		w = next;
	}
}

/* Saves cookies and sessions so a restart needs no new login. */
static void save_state(struct manager *m)
{
	struct curl_slist *cookies = adfs_export_cookies(m->adfs);
	const char **lines = NULL;
	size_t n = 0;
	int r;

	for (struct curl_slist *l = cookies; l; l = l->next)
		n++;
	if (n) {
		lines = calloc(n, sizeof(char *));
		if (!lines) {
			curl_slist_free_all(cookies);
			return;
		}
		n = 0;
		for (struct curl_slist *l = cookies; l; l = l->next)
			lines[n++] = l->data;
	}
	r = persist_save(m->state_dir, m->identity, &m->store, &m->plans, lines,
			 n, m->signin.sso_since, now_wall());
	for (struct curl_slist *l = cookies; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(cookies);
	free(lines);
	if (r < 0)
		log_warning_errno(r, "Failed to save state in %s: %m, a restart "
				     "will need a new login",
				  m->state_dir);
}

/* The refresh timer is wanted at the earliest time any role needs us;
 * not while a cycle runs (its end arms it again). */
static void arm_timer(struct manager *m)
{
	bool can = !cycle_running(m->cycle) &&
		   signin_timer_may_start(&m->signin);

	if (cycle_running(m->cycle))
		schedule_disarm(m->schedule);
	else
		schedule_arm(m->schedule,
			     cycle_next_wakeup(m->cycle, now_wall(), can));
}

/* Restores what persist_save wrote: cookies, user, sessions. */
static void restore_state(struct manager *m)
{
	struct persist_state st = { 0 };
	const char *why = NULL;
	usec_t now = now_wall();
	size_t valid;
	int r;

	r = persist_load(m->state_dir, m->identity, now, &m->store, &m->plans,
			 m->conf->n_roles == 0, &st, &why);
	if (why)
		log_warning("Ignoring the saved state %s/%s: %s", m->state_dir,
			    PERSIST_FILE, why);
	if (r <= 0) {
		if (r < 0)
			log_warning_errno(r, "Cannot restore the saved state: %m");
		return;
	}
	if (st.n_cookies &&
	    adfs_import_cookies(m->adfs, (const char *const *)st.cookies,
				st.n_cookies) < 0)
		log_warning("Some saved ADFS cookies could not be restored");
	valid = cycle_plan_restored(m->cycle, now);
	if (st.n_cookies || valid) {
		signin_restored(&m->signin, st.sso_since);
		m->store.signed_in = true;
		free(m->store.user);
		m->store.user = TAKE_PTR(st.user);
		log_info("Restored the saved state: signed in as %s, %zu role(s) "
			 "with valid credentials",
			 strempty(m->store.user), valid);
	}
	persist_state_clear(&st);
	arm_timer(m);
}

static void reload(struct manager *m);

static void on_cycle_ended(void *ud, int r, const char *summary)
{
	struct manager *m = ud;

	if (m->reload_pending) {
		m->reload_pending = false;
		reload(m);
	}
	free(m->mfa_hint);
	m->mfa_hint = NULL;
	save_state(m);
	arm_timer(m);
	update_status(m);
	tell_waiters(m, r, summary);
}

static void on_cycle_mfa(void *ud, bool push, const char *hint)
{
	struct manager *m = ud;

	m->mfa_push = push;
	free(m->mfa_hint);
	m->mfa_hint = hint ? strdup(hint) : NULL;
	update_status(m);
	/* Hand the question to whoever waits (adfs-credctl login); they
	 * come back with manager_mfa(). */
	tell_waiters(m, MANAGER_MFA_NEEDED, m->mfa_hint);
}

static const struct cycle_hooks hooks = {
	.ended = on_cycle_ended,
	.mfa = on_cycle_mfa,
};

/* A login from the configured source or with password (taken). */
static int login(struct manager *m, struct secret *password_take,
		 manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *pw = password_take;
	char why[256] = "";
	int r;

	if (cycle_running(m->cycle))
		return -EBUSY;
	if (!pw && m->conf->adfs.auth != CONF_AUTH_KERBEROS) {
		r = read_password_source(m->conf, &pw, why, sizeof(why));
		if (r < 0 && why[0] && !streq(why, m->pw_error)) {
			/* Said once: the timer tries again with backoff. */
			log_error("%s", why);
			(void)snprintf(m->pw_error, sizeof(m->pw_error), "%s",
				       why);
		}
		if (r < 0)
			return r;
		m->pw_error[0] = '\0';
	}
	signin_login(&m->signin, TAKE_PTR(pw));
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
	    m->conf->adfs.auth != CONF_AUTH_KERBEROS)
		return -EINVAL;
	if (pw && pw->len == 0)
		pw = secret_free(pw);
	log_info("Signing in to ADFS as %s", strempty(m->conf->adfs.username));
	return login(m, TAKE_PTR(pw), fn, userdata);
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

int manager_logout(struct manager *m)
{
	struct secret *t = NULL;
	int r;

	if (cycle_running(m->cycle)) {
		cycle_cancel(m->cycle);
		free(m->mfa_hint);
	m->mfa_hint = NULL;
		tell_waiters(m, -ECANCELED, "signed out");
		if (m->reload_pending) {
			m->reload_pending = false;
			reload(m);
		}
	}
	signin_logout(&m->signin);
	adfs_forget(m->adfs);
	cycle_forget(m->cycle, m->conf->n_roles == 0);
	r = persist_remove(m->state_dir);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the saved state: %m");
	r = token_rotate(m->state_dir, &t);
	if (r < 0)
		return log_error_errno(r, "Failed to rotate the endpoint token: %m");
	secret_free(m->token);
	m->token = t;
	m->ecs.token = t;
	arm_timer(m);
	update_status(m);
	log_info("Signed out: password, ADFS cookies and sessions forgotten");
	return 0;
}

static void on_login_at_start(struct manager *m, int r, const char *message,
			      void *userdata)
{
	if (r < 0)
		log_error("Automatic sign-in failed: %s", message);
	else
		log_info("Signed in to ADFS as %s: %s", strempty(m->store.user),
			 message);
}

/* The timer fired or the wall clock changed: trust only the wall clock
 * (after a suspend the boottime timer fires late relative to expiries and
 * plans); whatever is past is due now. */
static void on_schedule(void *userdata)
{
	struct manager *m = userdata;
	usec_t now = now_wall();
	int r;

	cycle_expire(m->cycle, now);
	if (cycle_running(m->cycle) || !signin_timer_may_start(&m->signin) ||
	    !cycle_any_due(m->cycle, now)) {
		arm_timer(m);
		return;
	}
	if (signin_timer_logs_in(&m->signin))
		/* The sign-in at start failed: again, as at start. */
		r = login(m, NULL, on_login_at_start, NULL);
	else
		r = cycle_start(m->cycle, NULL, false, false, false);
	if (r == -ENOKEY) {
		arm_timer(m);
		return;
	}
	if (r < 0) {
		if (!m->pw_error[0])
			log_error_errno(r, "Cannot start a refresh: %m, retrying "
					   "later");
		cycle_start_failed(m->cycle, now, "cannot start a refresh");
		arm_timer(m);
	}
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si,
		   void *userdata)
{
	struct manager *m = userdata;

	log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
	return sd_event_exit(m->event, 0);
}

/* Applies the configuration file again (SIGHUP). A bad file is rejected
 * with its errors; the old configuration stays. Listeners and roles are
 * fixed for the process lifetime; the rest applies now, by swapping
 * m->conf: every module reads the configuration through it. */
static void reload(struct manager *m)
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
	/* TODO(slot) */
	adfs_set_conf(m->adfs, n);
	m->guard.allowed = n->serve.allowed_uids;
	m->guard.n_allowed = n->serve.n_allowed_uids;
	m->imds.role = n->serve.imds_role ? n->serve.imds_role : n->default_role;
	m->conf = n;
	conf_free(old);
	configure_signin(m);
	log_set_level(n->log_level);
	log_info("Configuration reloaded from %s", strempty(n->path));
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	(void)sd_notify(0, "RELOADING=1");
	reload(userdata);
	(void)sd_notify(0, "READY=1");
	update_status(userdata);
	return 0;
}

static char *default_state_dir(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char *p;

	if (!rt || rt[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/adfs-credd", rt) < 0)
		return NULL;
	return p;
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
	m->state_dir = c->state_dir ? strdup(c->state_dir) : default_state_dir();
	if (!m->state_dir)
		return log_error_errno(EINVAL,
				       "XDG_RUNTIME_DIR is not set: set state_dir "
				       "in the configuration");
	r = sd_event_default(&m->event);
	if (r < 0)
		return r;
	r = curl_glue_new(m->event, &m->glue);
	if (r < 0)
		return r;
	r = adfs_new(m->event, m->glue, m->conf, &m->adfs);
	if (r < 0)
		return r;
	r = backend_new(m->glue, m->adfs, &m->conf, &m->backend);
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
		.jitter = &jitter,
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
		.allowed = m->conf->serve.allowed_uids,
		.n_allowed = m->conf->serve.n_allowed_uids,
		.allow_non_loopback = m->conf->serve.allow_non_loopback,
		.event = m->event,
	};
	m->ecs = (struct ecs){ .store = &m->store, .token = m->token,
			       .guard = &m->guard };
	restore_state(m);
	r = listen_take_activated(&m->listen);
	if (r < 0)
		return r;
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
		m->imds.role = m->conf->serve.imds_role
					? m->conf->serve.imds_role
					: m->conf->default_role;
		r = listen_start(&m->listen, m->event, &m->conf->serve.imds,
				 "imds", "EC2 IMDSv2", imds_handle, &m->imds,
				 &m->imds_server);
		if (r < 0)
			return r;
	}

	r = sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_stop, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, &m->sigint, SIGINT, on_stop, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_reload,
					m);
	if (r < 0)
		return log_error_errno(r, "Cannot watch signals: %m");

	if (m->signin.state == SIGNIN_SIGNED_IN) {
		/* Restored: the refresh timer takes it from here. */
	} else if (m->conf->adfs.password != CONF_PASSWORD_PROMPT ||
		   m->conf->adfs.auth == CONF_AUTH_KERBEROS) {
		r = login(m, NULL, on_login_at_start, NULL);
		if (r < 0)
			return r;
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

/* STATUS= for `systemctl --user status`: a line a person reads. */
static void update_status(struct manager *m)
{
	usec_t now = now_wall(), next = cycle_next_refresh(m->cycle);
	size_t valid = 0;
	char hm[8] = "-";

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
				    "next refresh %s",
				 esc, valid, valid == 1 ? "" : "s", hm);
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
	update_status(m);
	return sd_event_loop(m->event);
}

int manager_status(struct manager *m, struct manager_status *ret)
{
	struct manager_role_status *v;
	usec_t now = now_wall();

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
			.last_error = r->last_error,
		};
	}
	*ret = (struct manager_status){
		.signin = m->signin.state,
		.user = m->store.user,
		.error = m->signin.error,
		.mfa_push = m->mfa_push,
		.roles = v,
		.n_roles = m->store.n_roles,
	};
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
	tf = token_path(m->state_dir);
	if (!url || !tf)
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
	sd_event_unref(m->event);
	listen_clear(&m->listen);
	free(m->state_dir);
	free(m->identity);
	free(m->ecs_url);
	conf_free(m->conf);
	free(m);
	return NULL;
}
