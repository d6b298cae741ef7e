#include "manager.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "control/control.h"
#include "http/peer.h"
#include "session/persist.h"
#include "session/refresh.h"
#include "session/token.h"
#include "sts/iam.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/socket.h"
#include "util/timeutil.h"

/* Where iam:GetRole is denied, how often to look for a raised maximum. */
#define PROBE_UP_INTERVAL (6 * USEC_PER_HOUR)
/* STS redeems an assertion within 5 min of its issue ("Token must be
 * redeemed within 5 minutes of issuance", PROTOCOLS.md C3): a cycle still
 * running after this long fetches a new one (a cookie round) first. */
#define ASSERTION_REUSE_MAX (4 * USEC_PER_MINUTE)

static void arm_refresh_timer(struct manager *m);
static void update_status(struct manager *m);
static void save_state(struct manager *m);
static void reload(struct manager *m);
static void assume_next(struct manager *m);
static void role_keep(struct manager *m, struct role_session *rs);
static void dispatch(struct manager *m, struct role_session *rs,
		     enum sizing_action a, uint32_t d);

const char *signin_state_to_string(enum signin_state s)
{
	static const char *const names[] = {
		[SIGNIN_SIGNED_OUT] = "signed_out",
		[SIGNIN_SIGNING_IN] = "signing_in",
		[SIGNIN_MFA_PENDING] = "mfa_pending",
		[SIGNIN_SIGNED_IN] = "signed_in",
		[SIGNIN_NOT_SIGNED_IN] = "not_signed_in",
		[SIGNIN_FAILED] = "failed",
	};
	return (size_t)s < ELEMENTSOF(names) ? names[s] : "unknown";
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)now_clock(CLOCK_MONOTONIC) * 6364136223846793005ULL;
	return v;
}

static uint64_t random_upto(uint64_t max, void *userdata)
{
	return max ? random_u64() % (max + 1) : 0;
}

/* Jitter for plans and backoffs (session/refresh.c takes it as a
 * parameter so its tests are deterministic). */
static const struct refresh_random jitter = { random_upto, NULL };

static void set_signin_error(struct manager *m, const char *msg)
{
	free(m->signin_error);
	m->signin_error = msg ? strdup(msg) : NULL;
}

/* DESIGN.md "Refresh timing" (session/refresh.c): expiry - lead - jitter. */
static usec_t plan_refresh(const struct manager *m, usec_t expiry,
			   usec_t duration)
{
	return refresh_plan(expiry, duration, m->conf->refresh.min_remaining,
			    &jitter);
}

/* What session/refresh.c needs to know about a role. */
static struct refresh_role role_view(const struct role_session *r)
{
	return (struct refresh_role){
		.next_refresh = r->next_refresh,
		.expiry = r->creds ? r->creds->expiration : 0,
		.empty = r->state == ROLE_EMPTY,
	};
}

/* Every role's view (free it); NULL only when out of memory. */
static struct refresh_role *role_views(const struct manager *m)
{
	struct refresh_role *v;

	v = calloc(m->store.n_roles ? m->store.n_roles : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->store.n_roles; i++)
		v[i] = role_view(&m->store.roles[i]);
	return v;
}

static void role_failed(struct manager *m, struct role_session *r,
			const char *msg, bool retry)
{
	usec_t now = now_wall();

	role_set_error(r, msg);
	r->failures++;
	/* While valid credentials last, the backoff never outlives them. */
	if (retry)
		r->next_refresh =
			now + refresh_backoff(r->failures, now,
					      r->creds ? r->creds->expiration : 0,
					      &jitter);
	else
		r->next_refresh = 0;
	if (role_has_valid_creds(r, now))
		r->state = ROLE_VALID;
	else
		r->state = retry ? ROLE_EXPIRED : ROLE_FAILED;
}

/* Reads the password from file:PATH (must be 0600) or credential:NAME. */
static int read_password_source(const struct conf *c, struct secret **ret)
{
	_cleanup_free_ char *path = NULL;
	struct buf b;
	struct stat st;
	int r;

	if (c->adfs.password == CONF_PASSWORD_FILE) {
		path = strdup(c->adfs.password_ref);
		if (!path)
			return -ENOMEM;
		if (stat(path, &st) < 0)
			return log_error_errno(errno,
					       "Cannot read password file %s: %m",
					       path);
		if (st.st_mode & 0077)
			return log_error_errno(EPERM,
					       "Password file %s must have mode "
					       "0600 (it is %04o); run chmod 600 %s",
					       path, st.st_mode & 07777, path);
	} else if (c->adfs.password == CONF_PASSWORD_CREDENTIAL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir)
			return log_error_errno(ENOENT,
					       "adfs.password is credential:%s but "
					       "CREDENTIALS_DIRECTORY is not set; "
					       "use LoadCredential=%s:... in the unit",
					       c->adfs.password_ref,
					       c->adfs.password_ref);
		if (asprintf(&path, "%s/%s", dir, c->adfs.password_ref) < 0)
			return -ENOMEM;
	} else {
		return -ENOKEY;
	}
	buf_init(&b, 4096);
	r = buf_read_file(&b, path);
	if (r < 0) {
		buf_clear(&b);
		return log_error_errno(r, "Cannot read password from %s: %m",
				       path);
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	*ret = secret_new_from(b.data, b.len);
	buf_clear(&b);
	return *ret ? 0 : -ENOMEM;
}

/* Short role name from an ARN: the part after the last '/'. */
static const char *arn_role_name(const char *arn)
{
	const char *s = strrchr(arn, '/');

	return s ? s + 1 : arn;
}

/* With no `roles:` in the config, hold every role the assertion offers,
 * named after the role ("account-id/role" when names clash). */
static int adopt_roles(struct manager *m, const struct saml_info *info)
{
	for (size_t i = 0; i < info->n_roles; i++) {
		const struct saml_role *sr = &info->roles[i];
		const char *name = arn_role_name(sr->role_arn);
		char alt[160];
		int clash = 0, r;

		if (store_find_arn(&m->store, sr->role_arn))
			continue;
		for (size_t j = 0; j < info->n_roles; j++)
			if (j != i &&
			    streq(arn_role_name(info->roles[j].role_arn), name))
				clash = 1;
		if (clash) {
			/* arn:aws:iam::ACCOUNT:role/... */
			const char *acct = sr->role_arn;

			for (int k = 0; k < 4 && acct; k++) {
				acct = strchr(acct, ':');
				if (acct)
					acct++;
			}
			(void)snprintf(alt, sizeof(alt), "%.12s/%.100s",
				       acct ? acct : "?", name);
			name = alt;
		}
		r = store_add_role(&m->store, name, sr->role_arn,
				   sr->principal_arn, 0);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	if (m->conf->default_role) {
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (streq(m->store.roles[i].name, m->conf->default_role))
				m->store.default_idx = i;
	}
	return 0;
}

static const struct saml_role *offered(const struct saml_info *info,
				       const char *arn)
{
	for (size_t i = 0; i < info->n_roles; i++)
		if (streq(info->roles[i].role_arn, arn))
			return &info->roles[i];
	return NULL;
}

static void cycle_end(struct manager *m, int r, const char *msg)
{
	struct cycle_waiter *w = m->cycle.waiters;
	char summary[640];

	if (r == 0 && m->cycle.failed)
		r = -EREMOTEIO;
	if (r == 0)
		(void)snprintf(summary, sizeof(summary),
			       "%zu role(s) refreshed", m->cycle.n_due);
	else
		(void)snprintf(summary, sizeof(summary), "%s",
			       msg ? msg
				   : strempty(m->cycle.first_error));

	m->cycle.saml = secret_free(m->cycle.saml);
	if (m->cycle.info) {
		saml_info_free(m->last_saml);
		m->last_saml = TAKE_PTR(m->cycle.info);
	}
	free(m->cycle.due);
	m->cycle.due = NULL;
	m->cycle.n_due = m->cycle.next = 0;
	m->cycle.refetching = false;
	m->cycle.explicit_refresh = false;
	m->cycle.resume_duration = 0;
	m->cycle.sts = sts_call_free(m->cycle.sts);
	m->cycle.iam = iam_call_free(m->cycle.iam);
	free(m->cycle.first_error);
	m->cycle.first_error = NULL;
	m->cycle.failed = 0;
	m->cycle.running = false;
	m->cycle.waiters = NULL;
	if (m->reload_pending) {
		m->reload_pending = false;
		reload(m);
	}
	free(m->mfa_hint);
	m->mfa_hint = NULL;
	/* Without remember_password the password lives only for one round. */
	if (!m->conf->adfs.remember_password)
		m->password = secret_free(m->password);

	if (r != -ECANCELED)
		save_state(m);
	arm_refresh_timer(m);
	update_status(m);
	while (w) {
		struct cycle_waiter *next = w->next;

		w->fn(m, r, summary, w->userdata);
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
	r = persist_save(m->state_dir, m->identity, &m->store, lines, n,
			 m->sso_since, now_wall());
	for (struct curl_slist *l = cookies; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(cookies);
	free(lines);
	if (r < 0)
		log_warning_errno(r, "Failed to save state in %s: %m, a restart "
				     "will need a new login",
				  m->state_dir);
}

/* Restores what persist_save wrote: cookies, user, sessions. */
static void restore_state(struct manager *m)
{
	struct persist_state st = { 0 };
	const char *why = NULL;
	usec_t now = now_wall();
	size_t valid = 0;
	int r;

	r = persist_load(m->state_dir, m->identity, now, &m->store,
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
	for (size_t i = 0; i < m->store.n_roles; i++) {
		struct role_session *rs = &m->store.roles[i];

		if (role_has_valid_creds(rs, now)) {
			valid++;
			rs->next_refresh = plan_refresh(
				m, rs->creds->expiration,
				rs->creds->expiration - rs->creds->issued);
		} else {
			rs->next_refresh = now;
		}
	}
	if (st.n_cookies || valid) {
		m->signin = SIGNIN_SIGNED_IN;
		m->store.signed_in = true;
		free(m->store.user);
		m->store.user = TAKE_PTR(st.user);
		m->sso_since = st.sso_since;
		log_info("Restored the saved state: signed in as %s, %zu role(s) "
			 "with valid credentials",
			 strempty(m->store.user), valid);
	}
	persist_state_clear(&st);
	arm_refresh_timer(m);
}

static bool role_is_due(const struct role_session *r, usec_t now)
{
	struct refresh_role v = role_view(r);

	return refresh_is_due(&v, now);
}

/* Nothing can get an assertion without the user: keep serving what is
 * valid, plan no refresh, say what to do. */
static void sso_ended(struct manager *m, const char *msg)
{
	usec_t now = now_wall();

	m->signin = SIGNIN_NOT_SIGNED_IN;
	m->store.signed_in = false;
	set_signin_error(m, msg);
	log_warning("%s", msg);
	for (size_t i = 0; i < m->store.n_roles; i++) {
		struct role_session *rs = &m->store.roles[i];

		role_set_error(rs, msg);
		rs->next_refresh = 0;
		if (!role_has_valid_creds(rs, now))
			rs->state = ROLE_NOT_SIGNED_IN;
	}
}

/* The cycle has no usable assertion: each role it was still to serve
 * waits for the next try, with backoff. A cycle the timer started chooses
 * its roles once the assertion is there, so when there is none, those are
 * the roles due now. (They got no backoff before: during an ADFS outage
 * the timer started a new cycle about every second.) When a cycle's second
 * assertion fails, what the current role already got is kept. */
static void fail_cycle_roles(struct manager *m, const char *msg)
{
	usec_t now = now_wall();
	size_t i = m->cycle.next;

	if (!m->cycle.due) {
		for (i = 0; i < m->store.n_roles; i++)
			if (role_is_due(&m->store.roles[i], now))
				role_failed(m, &m->store.roles[i], msg, true);
		return;
	}
	if (m->cycle.refetching && m->cycle.got && i < m->cycle.n_due)
		role_keep(m, &m->store.roles[m->cycle.due[i++]]);
	for (; i < m->cycle.n_due; i++)
		role_failed(m, &m->store.roles[m->cycle.due[i]], msg, true);
}

static void on_assertion(int r, struct secret *saml, const char *msg,
			 void *userdata)
{
	struct manager *m = userdata;
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	usec_t now = now_wall();

	if (r == -EACCES) {
		/* Lockout safety: a rejected password is wiped at once and
		 * never sent again; only a new `login` leaves this state. */
		m->password = secret_free(m->password);
		m->signin = SIGNIN_FAILED;
		set_signin_error(m, msg);
		log_id(LOG_ERR, LOG_ID_SIGNIN_FAILED,
		       "%s; not retrying: run 'adfs-credctl login' with the "
		       "right password",
		       msg);
		for (size_t i = 0; i < m->store.n_roles; i++)
			role_failed(m, &m->store.roles[i], msg, false);
		cycle_end(m, r, msg);
		return;
	}
	if (r == -ENOKEY) {
		sso_ended(m, msg);
		/* Kerberos needs no user at the keyboard: once a ticket is
		 * there again (kinit, sssd), the next try works. Keep trying
		 * with backoff; no password is ever involved. */
		if (m->conf->adfs.auth == CONF_AUTH_KERBEROS)
			for (size_t i = 0; i < m->store.n_roles; i++)
				role_failed(m, &m->store.roles[i], msg, true);
		cycle_end(m, r, msg);
		return;
	}
	if (r < 0) {
		log_warning("Sign-in to ADFS failed: %s", msg);
		if (m->signin == SIGNIN_SIGNING_IN ||
		    m->signin == SIGNIN_MFA_PENDING)
			m->signin = m->store.signed_in ? SIGNIN_SIGNED_IN
						       : SIGNIN_SIGNED_OUT;
		set_signin_error(m, msg);
		fail_cycle_roles(m, msg);
		cycle_end(m, r, msg);
		return;
	}

	m->cycle.saml = saml;
	r = saml_parse_base64(saml->data, saml->len, &info);
	if (r < 0) {
		const char *why =
			r == -EACCES
				? "ADFS returned a SAML response whose status "
				  "is not Success"
			: r == -EOPNOTSUPP
				? "ADFS encrypted the SAML assertion; adfs-credd "
				  "needs it unencrypted (disable encryption on "
				  "the AWS relying party trust)"
				: "the SAML response from ADFS does not parse "
				  "or offers no AWS role";

		log_error("%s", why);
		fail_cycle_roles(m, why);
		cycle_end(m, r, why);
		return;
	}

	/* A remembered password rides along on every round; only a round
	 * that posted it started a new SSO session. */
	if (m->cycle.with_password &&
	    (m->conf->adfs.auth == CONF_AUTH_WSTRUST ||
	     adfs_posted_password(m->adfs))) {
		m->sso_since = now;
		log_id(LOG_INFO, LOG_ID_SIGNED_IN, "Signed in to ADFS as %s",
		       info->name_id ? info->name_id
				     : strempty(m->conf->adfs.username));
	}
	m->signin = SIGNIN_SIGNED_IN;
	m->store.signed_in = true;
	set_signin_error(m, NULL);
	free(m->store.user);
	m->store.user = strdup(info->name_id ? info->name_id
					     : strempty(m->conf->adfs.username));

	if (m->conf->n_roles == 0) {
		r = adopt_roles(m, info);
		if (r < 0) {
			cycle_end(m, r, "out of memory");
			return;
		}
	}
	for (size_t i = 0; i < m->store.n_roles; i++) {
		struct role_session *rs = &m->store.roles[i];
		const struct saml_role *sr = offered(info, rs->arn);

		if (!rs->principal_arn && sr)
			rs->principal_arn = strdup(sr->principal_arn);
	}

	/* Which roles this cycle serves: the ones chosen at start (a login
	 * or a manual refresh) or, when none, every role due soon. */
	if (!m->cycle.due) {
		m->cycle.due = calloc(m->store.n_roles ? m->store.n_roles : 1,
				      sizeof(size_t));
		if (!m->cycle.due) {
			cycle_end(m, -ENOMEM, "out of memory");
			return;
		}
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (role_is_due(&m->store.roles[i], now))
				m->cycle.due[m->cycle.n_due++] = i;
	}
	/* A cycle's later assertion replaces its first. */
	saml_info_free(m->cycle.info);
	m->cycle.info = TAKE_PTR(info);
	m->cycle.saml_at = now_clock(CLOCK_BOOTTIME);
	if (m->cycle.refetching) {
		/* Go on where the old assertion got too old. */
		m->cycle.refetching = false;
		dispatch(m, &m->store.roles[m->cycle.due[m->cycle.next]],
			 SIZING_ASSUME, m->cycle.resume_duration);
		return;
	}
	m->cycle.next = 0;
	assume_next(m);
}

/* Credentials for a role come and go in a sizing conversation with STS
 * and IAM (session/sizing.c); these run it on the loop. */
static void dispatch(struct manager *m, struct role_session *rs,
		     enum sizing_action a, uint32_t d);

/* role_next -> assume_next -> dispatch -> role_done / role_error ->
 * role_next recurses when a call fails to start: one level per role of the
 * cycle (at most CONF_MAX_ROLES), as each step advances cycle.next. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static void role_next(struct manager *m)
{
	m->cycle.next++;
	assume_next(m);
}

/* The role's part of the cycle is over: it keeps what it got. */
/* The role keeps the session it got in this cycle. */
static void role_keep(struct manager *m, struct role_session *rs)
{
	char exp[ISO8601_MAX], dur[32];
	usec_t lifetime = m->cycle.got_lifetime;

	rs->state = ROLE_VALID;
	rs->failures = 0;
	role_set_error(rs, NULL);
	rs->next_refresh = plan_refresh(m, m->cycle.got_exp, lifetime);
	rs->max_source = rs->sizing.source;
	rs->max_duration = rs->duration_cfg      ? rs->duration_cfg
			   : rs->sizing.role_max ? rs->sizing.role_max
						 : rs->duration_used;
	/* The assertion (SessionDuration / SessionNotOnOrAfter) can only
	 * shorten a session (PROTOCOLS.md C4): when it did, the session got
	 * less than asked and the assertion is what capped it. */
	if (lifetime + 120 * USEC_PER_SEC <
	    (usec_t)rs->duration_used * USEC_PER_SEC) {
		uint32_t sd = m->cycle.info->session_duration;
		uint32_t got = (uint32_t)((lifetime + USEC_PER_SEC / 2) /
					  USEC_PER_SEC);

		rs->duration_used = sd && sd < rs->duration_used ? sd : got;
		rs->max_duration = rs->duration_used;
		rs->max_source = MAX_SOURCE_ASSERTION;
	}
	/* The cycle that first finds GetRole denied has probed from the top
	 * already: the next upward probe is PROBE_UP_INTERVAL away (it was
	 * the very next refresh: four refused STS calls for nothing). */
	if (rs->sizing.probe_up ||
	    (rs->sizing.get_role_denied && !rs->probed_up))
		rs->probed_up = now_wall();
	log_id(LOG_INFO, LOG_ID_REFRESHED,
	       "Role %s: credentials valid until %s (%s, maximum from %s)",
	       rs->name, format_iso8601(exp, rs->creds->expiration),
	       format_duration(dur, lifetime),
	       max_source_to_string(rs->max_source));
}

/* Our wall clock moved to STS's, as its last Date header showed it. */
static usec_t sts_clock(const struct manager *m)
{
	usec_t now = now_wall();

	if (m->sts_ahead)
		return now + m->sts_skew;
	return now > m->sts_skew ? now - m->sts_skew : now;
}

/* NOLINTNEXTLINE(misc-no-recursion): see role_next() */
static void role_done(struct manager *m, struct role_session *rs)
{
	if (m->cycle.got)
		role_keep(m, rs);
	role_next(m);
}

/* NOLINTNEXTLINE(misc-no-recursion): see role_next() */
static void role_error(struct manager *m, struct role_session *rs,
		       const char *msg)
{
	if (m->cycle.got) {
		/* A larger duration or GetRole failed after a success:
		 * keep the session we have. */
		log_warning("Role %s: %s, keeping the %us session", rs->name,
			    msg, rs->duration_used);
		role_done(m, rs);
		return;
	}
	log_id(LOG_ERR, LOG_ID_REFRESH_FAILED, "Role %s: %s", rs->name, msg);
	m->cycle.failed++;
	if (!m->cycle.first_error)
		m->cycle.first_error = strdup(msg);
	role_failed(m, rs, msg, true);
	role_next(m);
}

static void on_sts(int r, struct sts_creds *sc, struct sts_error *err,
		   const char *msg, usec_t server_date, void *userdata)
{
	struct manager *m = userdata;
	struct role_session *rs = &m->store.roles[m->cycle.due[m->cycle.next]];
	_cleanup_(sts_error_freep) struct sts_error *e = err;
	usec_t now = now_wall(), skew = 0, exp_local;
	struct creds *c = NULL;
	enum sizing_action a;
	bool ahead = false;
	uint32_t d = 0;

	/* This callback is the call's last act: free it before the next
	 * call starts. */
	m->cycle.sts = sts_call_free(m->cycle.sts);

	if (r < 0 && sts_error_is_duration_too_long(e)) {
		log_info("Role %s: %us exceeds its MaxSessionDuration",
			 rs->name, m->cycle.try_duration);
		a = sizing_on_assume(&rs->sizing, SIZING_TOO_LONG, &d);
		if (a == SIZING_DONE && !m->cycle.got)
			role_error(m, rs, msg);
		else
			dispatch(m, rs, a, d);
		return;
	}
	if (r < 0) {
		role_error(m, rs, msg);
		return;
	}
	/* What is left on STS's clock is what is left. The expiry is kept,
	 * served and checked on our clock: SDKs compare it with the same
	 * clock. Under 2 s is the Date header's resolution, not a skew. */
	if (server_date) {
		ahead = server_date > now;
		skew = ahead ? server_date - now : now - server_date;
		if (skew < 2 * USEC_PER_SEC)
			skew = 0;
		m->sts_skew = skew;
		m->sts_ahead = ahead;
	}
	exp_local = ahead ? sc->expiration - skew : sc->expiration + skew;
	sc->expiration = exp_local;
	r = creds_new_take(sc, rs->arn, now, &c);
	if (r < 0) {
		role_error(m, rs, "STS returned credentials that cannot be "
				  "served");
		return;
	}
	store_set_creds(rs, c);
	m->cycle.got = true;
	m->cycle.got_exp = exp_local;
	m->cycle.got_lifetime = exp_local > now ? exp_local - now : 0;
	rs->duration_used = m->cycle.try_duration;
	a = sizing_on_assume(&rs->sizing, SIZING_OK, &d);
	dispatch(m, rs, a, d);
}

static void on_iam(int r, uint32_t max, struct sts_error *err,
		   const char *msg, void *userdata)
{
	struct manager *m = userdata;
	struct role_session *rs = &m->store.roles[m->cycle.due[m->cycle.next]];
	_cleanup_(sts_error_freep) struct sts_error *e = err;
	enum sizing_result res = SIZING_OK;
	enum sizing_action a;
	uint32_t d = 0;

	m->cycle.iam = iam_call_free(m->cycle.iam);
	if (r < 0 && e && e->code && streq(e->code, "AccessDenied")) {
		if (!rs->sizing.get_role_denied)
			log_info("Role %s: iam:GetRole is not allowed, "
				 "finding the maximum by asking STS instead",
				 rs->name);
		res = SIZING_DENIED;
	} else if (r < 0) {
		log_warning("Role %s: %s, trying again at the next refresh",
			    rs->name, msg);
		res = SIZING_FAILED;
	} else {
		log_debug("Role %s: MaxSessionDuration is %us", rs->name, max);
	}
	a = sizing_on_get_role(&rs->sizing, res, max, &d);
	dispatch(m, rs, a, d);
}

static int fetch_assertion(struct manager *m, const struct secret *pw,
			   bool interactive);

/* The cycle outlived its assertion (a slow STS, many roles): get a new one
 * the way a timer cycle would (SSO cookies; the password only when this
 * cycle had one), then AssumeRole with duration d as planned. */
static void refetch_assertion(struct manager *m, uint32_t d)
{
	const struct secret *pw = m->cycle.with_password ? m->password : NULL;
	int r;

	log_info("The assertion is more than %llu min old: fetching a new one "
		 "for the %zu role(s) left",
		 (unsigned long long)(ASSERTION_REUSE_MAX / USEC_PER_MINUTE),
		 m->cycle.n_due - m->cycle.next);
	m->cycle.saml = secret_free(m->cycle.saml);
	m->cycle.resume_duration = d;
	m->cycle.refetching = true;
	r = fetch_assertion(m, pw, false);
	if (r < 0) {
		fail_cycle_roles(m, "cannot fetch a new SAML assertion");
		cycle_end(m, r, "cannot fetch a new SAML assertion");
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): see role_next() */
static void dispatch(struct manager *m, struct role_session *rs,
		     enum sizing_action a, uint32_t d)
{
	const struct saml_role *sr = offered(m->cycle.info, rs->arn);
	int r;

	switch (a) {
	case SIZING_ASSUME:
		if (now_clock(CLOCK_BOOTTIME) - m->cycle.saml_at >
		    ASSERTION_REUSE_MAX) {
			refetch_assertion(m, d);
			return;
		}
		m->cycle.try_duration = d;
		r = sts_assume_role_with_saml(
			m->glue, m->conf, rs->arn,
			rs->principal_arn ? rs->principal_arn : sr->principal_arn,
			m->cycle.saml, d, on_sts, m, &m->cycle.sts);
		if (r < 0)
			role_error(m, rs, "cannot start the STS call");
		return;
	case SIZING_GET_ROLE:
		/* Signed with the session STS just issued for this role, at
		 * STS's time: IAM refuses a signature 15 min off its clock. */
		r = iam_get_role(m->glue, m->conf, rs->creds,
				 arn_role_name(rs->arn), sts_clock(m), on_iam,
				 m, &m->cycle.iam);
		if (r < 0) {
			uint32_t next = 0;

			a = sizing_on_get_role(&rs->sizing, SIZING_FAILED, 0,
					       &next);
			dispatch(m, rs, a, next);
		}
		return;
	default:
		role_done(m, rs);
		return;
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): see role_next() */
static void assume_next(struct manager *m)
{
	usec_t now = now_wall();

	while (m->cycle.next < m->cycle.n_due) {
		struct role_session *rs =
			&m->store.roles[m->cycle.due[m->cycle.next]];
		enum sizing_action a;
		uint32_t d = 0;

		if (!offered(m->cycle.info, rs->arn)) {
			char msg[256];

			(void)snprintf(msg, sizeof(msg),
				       "ADFS does not offer role %.200s to "
				       "this user",
				       rs->arn);
			log_error("Role %s: %s", rs->name, msg);
			m->cycle.failed++;
			if (!m->cycle.first_error)
				m->cycle.first_error = strdup(msg);
			role_failed(m, rs, msg, false);
			m->cycle.next++;
			continue;
		}
		if (role_has_valid_creds(rs, now))
			rs->state = ROLE_REFRESHING;
		m->cycle.got = false;
		/* Where GetRole is denied, look for an administrator's raise
		 * now and then (a few extra STS calls), not every refresh;
		 * at once when the user asks for a refresh. */
		rs->sizing.probe_up = sizing_probe_up_due(
			&rs->sizing, m->cycle.explicit_refresh, now,
			rs->probed_up, PROBE_UP_INTERVAL);
		a = sizing_begin(&rs->sizing, &d);
		dispatch(m, rs, a, d);
		return;
	}
	cycle_end(m, 0, NULL);
}

static int add_waiter(struct manager *m, manager_cycle_fn fn, void *userdata)
{
	struct cycle_waiter *w;

	if (!fn)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->userdata = userdata;
	w->next = m->cycle.waiters;
	m->cycle.waiters = w;
	return 0;
}

void manager_forget_waiter(struct manager *m, void *userdata)
{
	for (struct cycle_waiter **w = &m->cycle.waiters; *w;) {
		if ((*w)->userdata == userdata) {
			struct cycle_waiter *dead = *w;

			*w = dead->next;
			free(dead);
		} else {
			w = &(*w)->next;
		}
	}
}

static void on_mfa(enum adfs_mfa_kind kind, const char *hint, void *userdata)
{
	struct manager *m = userdata;
	struct cycle_waiter *w = m->cycle.waiters;

	m->signin = SIGNIN_MFA_PENDING;
	m->mfa_kind = kind;
	free(m->mfa_hint);
	m->mfa_hint = hint ? strdup(hint) : NULL;
	update_status(m);
	log_info("ADFS asks for a second factor (%s)",
		 kind == ADFS_MFA_PUSH ? "approve the request on your device"
				       : "a verification code");
	/* Hand the question to whoever waits (adfs-credctl login); they
	 * come back with manager_mfa(). */
	m->cycle.waiters = NULL;
	while (w) {
		struct cycle_waiter *next = w->next;

		w->fn(m, MANAGER_MFA_NEEDED, m->mfa_hint, w->userdata);
		free(w);
		w = next;
	}
}

int manager_mfa(struct manager *m, struct secret *code_take,
		manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *code = code_take;
	int r;

	/* A push approval may be noticed before the CLI comes back to
	 * wait for it: then the cycle is already over. */
	if (!code && !m->cycle.running && m->signin == SIGNIN_SIGNED_IN)
		return -EALREADY;
	if (m->signin != SIGNIN_MFA_PENDING || !m->cycle.running)
		return -ENOENT;
	if (m->mfa_kind == ADFS_MFA_OTP && (!code || code->len == 0))
		return -EINVAL;
	r = add_waiter(m, fn, userdata);
	if (r < 0)
		return r;
	m->signin = SIGNIN_SIGNING_IN;
	return adfs_mfa_answer(m->adfs, code);
}

static void on_wstrust(int r, struct secret *saml, const char *msg,
		       void *userdata)
{
	struct manager *m = userdata;
	struct wstrust_call *c = TAKE_PTR(m->cycle.wstrust);

	on_assertion(r, saml, msg, m);
	wstrust_call_free(c);
}

/* Gets an assertion the configured way: WS-Trust (password every time)
 * or the sign-on page (cookies, Kerberos or the password). */
static int fetch_assertion(struct manager *m, const struct secret *pw,
			   bool interactive)
{
	if (m->conf->adfs.auth == CONF_AUTH_WSTRUST) {
		if (!pw)
			return -ENOKEY;
		return wstrust_fetch(m->glue, m->conf, pw, on_wstrust, m,
				     &m->cycle.wstrust);
	}
	return adfs_fetch(m->adfs, pw, on_assertion,
			  interactive ? on_mfa : NULL, m);
}

static void cancel_fetch(struct manager *m)
{
	adfs_cancel(m->adfs);
	m->cycle.wstrust = wstrust_call_free(m->cycle.wstrust);
}

/* Starts a cycle. due_only: NULL = roles due soon (timer), "" = all,
 * else that role. The password for this round is m->password. */
static int cycle_start(struct manager *m, const char *role, bool with_password,
		       bool interactive)
{
	const struct secret *pw = NULL;
	int r;

	if (m->cycle.running)
		return -EBUSY;
	m->cycle.due = NULL;
	m->cycle.n_due = 0;
	if (role) {
		m->cycle.due = calloc(m->store.n_roles ? m->store.n_roles : 1,
				      sizeof(size_t));
		if (!m->cycle.due)
			return -ENOMEM;
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (!*role || streq(role, m->store.roles[i].name))
				m->cycle.due[m->cycle.n_due++] = i;
		/* With no configured roles the list is only known once
		 * the assertion arrives: let on_assertion choose. */
		if (m->cycle.n_due == 0 && !*role) {
			free(m->cycle.due);
			m->cycle.due = NULL;
		}
	}
	/* A new login's password, or a remembered one that ADFS has not
	 * rejected (a rejected password is never sent again). */
	if (m->password &&
	    (with_password || (m->conf->adfs.remember_password &&
			       m->signin != SIGNIN_FAILED)))
		pw = m->password;
	m->cycle.with_password = pw != NULL;
	if (pw)
		m->signin = SIGNIN_SIGNING_IN;
	r = fetch_assertion(m, pw, interactive);
	if (r == -ENOKEY)
		/* WS-Trust has no single sign-on: without a remembered
		 * password there is nothing to renew with. */
		sso_ended(m, "not signed in: WS-Trust needs the password for "
			     "every assertion; run 'adfs-credctl login' or set "
			     "adfs.remember_password: true");
	if (r < 0) {
		free(m->cycle.due);
		m->cycle.due = NULL;
		return r;
	}
	m->cycle.running = true;
	return 0;
}

int manager_login(struct manager *m, struct secret *password_take,
		  manager_cycle_fn fn, void *userdata)
{
	_cleanup_(secret_freep) struct secret *pw = password_take;
	int r;

	if (m->cycle.running)
		return -EBUSY;
	if (!pw && m->conf->adfs.auth != CONF_AUTH_KERBEROS) {
		r = read_password_source(m->conf, &pw);
		if (r == -ENOKEY)
			return -ENOKEY;
		if (r < 0)
			return r;
	}
	secret_free(m->password);
	m->password = TAKE_PTR(pw);
	/* A new login clears a rejected-password lockout. A login that
	 * somebody waits on can relay a second factor to them. */
	r = cycle_start(m, "", true, fn != NULL && userdata != NULL);
	if (r < 0)
		return r;
	return add_waiter(m, fn, userdata);
}

int manager_refresh(struct manager *m, const char *role, manager_cycle_fn fn,
		    void *userdata)
{
	int r;

	if (role && !store_find(&m->store, role))
		return -ENOENT;
	if (m->signin == SIGNIN_FAILED)
		return -EACCES;
	if (!m->cycle.running) {
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (!role || streq(role, m->store.roles[i].name))
				m->store.roles[i].failures = 0;
		/* Asked for by the user: probed roles look for a raised
		 * maximum now, not at the next PROBE_UP_INTERVAL. */
		m->cycle.explicit_refresh = true;
		r = cycle_start(m, role ? role : "", false, false);
		if (r < 0) {
			m->cycle.explicit_refresh = false;
			return r;
		}
	}
	return add_waiter(m, fn, userdata);
}

int manager_logout(struct manager *m)
{
	struct secret *t = NULL;
	int r;

	if (m->cycle.running) {
		cancel_fetch(m);
		cycle_end(m, -ECANCELED, "signed out");
	}
	m->password = secret_free(m->password);
	adfs_forget(m->adfs);
	store_reset(&m->store);
	if (m->conf->n_roles == 0) {
		/* Roles learnt from the assertion go with it. */
		store_clear(&m->store);
	}
	m->last_saml = saml_info_free(m->last_saml);
	m->signin = SIGNIN_SIGNED_OUT;
	set_signin_error(m, NULL);
	r = persist_remove(m->state_dir);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the saved state: %m");
	r = token_rotate(m->state_dir, &t);
	if (r < 0)
		return log_error_errno(r, "Failed to rotate the endpoint token: %m");
	secret_free(m->token);
	m->token = t;
	m->ecs.token = t;
	arm_refresh_timer(m);
	update_status(m);
	log_info("Signed out: password, ADFS cookies and sessions forgotten");
	return 0;
}

static bool password_at_hand(const struct manager *m)
{
	return (m->conf->adfs.remember_password && m->password) ||
	       m->conf->adfs.password == CONF_PASSWORD_FILE ||
	       m->conf->adfs.password == CONF_PASSWORD_CREDENTIAL;
}

/* Whether the timer may start a cycle now: none is running, and an
 * assertion can be had without the user (SSO cookies, Kerberos, or a
 * password at hand). Otherwise the timer waits only for expiries: a
 * planned refresh that cannot start must not wake the loop again and
 * again (it did, once a second, until the next login). */
static bool timer_can_refresh(const struct manager *m)
{
	bool kerberos = m->conf->adfs.auth == CONF_AUTH_KERBEROS;

	if (m->cycle.running)
		return false;
	switch (m->signin) {
	case SIGNIN_SIGNED_IN:
	case SIGNIN_SIGNING_IN:
		return true;
	case SIGNIN_NOT_SIGNED_IN:
		return kerberos;
	case SIGNIN_SIGNED_OUT:
		/* A sign-in that failed for another reason than the password
		 * (ADFS unreachable at boot): try again, with backoff. */
		return kerberos || password_at_hand(m);
	default: /* failed (password rejected), waiting for MFA */
		return false;
	}
}

static void on_login_at_start(struct manager *m, int r, const char *message,
			      void *userdata);

static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	_cleanup_free_ struct refresh_role *views = NULL;
	usec_t now = now_wall();
	bool any;
	int r;

	/* Trust only the wall clock: after a suspend, or when the clock was
	 * set, the boottime timer fires late or early relative to expiries
	 * and plans; whatever is past is due now. */
	for (size_t i = 0; i < m->store.n_roles; i++) {
		struct role_session *rs = &m->store.roles[i];

		if (rs->creds && !role_has_valid_creds(rs, now) &&
		    rs->state == ROLE_VALID)
			rs->state = ROLE_EXPIRED;
	}
	views = role_views(m);
	any = !views || refresh_any_due(views, m->store.n_roles, now);
	if (!any || !timer_can_refresh(m)) {
		arm_refresh_timer(m);
		return 0;
	}
	if (m->signin == SIGNIN_SIGNED_OUT &&
	    !(m->conf->adfs.remember_password && m->password))
		/* The sign-in at start failed: again, as at start. */
		r = manager_login(m, NULL, on_login_at_start, NULL);
	else
		r = cycle_start(m, NULL, false, false);
	if (r == -ENOKEY) {
		arm_refresh_timer(m);
		return 0;
	}
	if (r < 0) {
		log_error_errno(r, "Cannot start a refresh: %m, retrying later");
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (views && refresh_planned_due(&views[i], now))
				role_failed(m, &m->store.roles[i],
					    "cannot start a refresh", true);
		arm_refresh_timer(m);
	}
	return 0;
}

/* One CLOCK_BOOTTIME timer at the earliest time any role needs the
 * manager (docs/internals/daemon.md "Refresh cycles" says why one is
 * enough). Plans are wall-clock times: converted at arming, re-checked
 * when it fires. */
static void arm_refresh_timer(struct manager *m)
{
	_cleanup_free_ struct refresh_role *views = NULL;
	usec_t now = now_wall(), when;

	if (m->cycle.running) {
		/* cycle_end() arms it again. */
		(void)sd_event_source_set_enabled(m->refresh_timer,
						  SD_EVENT_OFF);
		return;
	}
	views = role_views(m);
	if (views)
		when = refresh_next_wakeup(views, m->store.n_roles, now,
					   timer_can_refresh(m));
	else
		when = now + USEC_PER_SEC; /* out of memory: look again */
	if (when == USEC_INFINITY) {
		(void)sd_event_source_set_enabled(m->refresh_timer,
						  SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(m->refresh_timer,
				       now_clock(CLOCK_BOOTTIME) +
					       (when > now ? when - now : 0));
	(void)sd_event_source_set_enabled(m->refresh_timer, SD_EVENT_ONESHOT);
}

/* A CLOCK_REALTIME timerfd that never expires but is cancelled whenever
 * the wall clock is set or jumps, which the kernel also does on resume
 * from suspend: then every plan is looked at again at once. */
static int arm_clock_watch(int fd)
{
	struct itimerspec its = { .it_value = { .tv_sec = LONG_MAX } };

	if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    &its, NULL) < 0)
		return -errno;
	return 0;
}

static int on_clock_change(sd_event_source *s, int fd, uint32_t revents,
			   void *userdata)
{
	struct manager *m = userdata;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno == ECANCELED) {
		log_debug("The wall clock changed (set, or resumed from "
			  "suspend): re-planning refreshes");
		if (arm_clock_watch(fd) < 0)
			(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
		arm_refresh_timer(m);
	}
	return 0;
}

static int watch_clock(struct manager *m)
{
	int fd, r;

	fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = arm_clock_watch(fd);
	if (r >= 0)
		r = sd_event_add_io(m->event, &m->clock_watch, fd, EPOLLIN,
				    on_clock_change, m);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	(void)sd_event_source_set_io_fd_own(m->clock_watch, true);
	(void)sd_event_source_set_description(m->clock_watch, "clock-change");
	return 0;
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
 * fixed for the process lifetime; the rest applies now. */
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
	if (m->cycle.running) {
		/* Modules hold the configuration while a cycle runs. */
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

	/* Everything that borrows from the configuration moves over
	 * before the old one is freed. */
	adfs_set_conf(m->adfs, n);
	m->guard.allowed = n->serve.allowed_uids;
	m->guard.n_allowed = n->serve.n_allowed_uids;
	m->imds.role = n->serve.imds_role ? n->serve.imds_role : n->default_role;
	m->conf = n;
	conf_free(old);
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
	int r;

	m = calloc(1, sizeof(*m));
	if (!m) {
		conf_free(c);
		return -ENOMEM;
	}
	m->conf = c;
	m->uid = geteuid();
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
	for (size_t i = 0; i < c->n_roles; i++) {
		r = store_add_role(&m->store, c->roles[i].name, c->roles[i].arn,
				   c->roles[i].principal_arn,
				   c->roles[i].duration);
		if (r < 0)
			return r;
		if (c->default_role && streq(c->default_role, c->roles[i].name))
			m->store.default_idx = i;
	}
	r = sd_event_add_time(m->event, &m->refresh_timer, CLOCK_BOOTTIME,
			      USEC_INFINITY, USEC_PER_SEC, on_refresh_timer, m);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(m->refresh_timer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(m->refresh_timer, "refresh");
	r = watch_clock(m);
	if (r < 0)
		log_debug_errno(r, "Cannot watch for wall-clock changes: %m; "
				   "relying on the refresh timer alone");
	*ret = TAKE_PTR(m);
	return 0;
}

char *manager_ecs_url(struct manager *m)
{
	return m->ecs_url ? strdup(m->ecs_url) : NULL;
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

/* Socket activation (adfs-credd.socket): systemd passes the listeners by
 * name; only the expected names are taken, each checked to be a listening
 * TCP socket. Returns the fd for name, or -1. */
static int activated_fd(struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->n_activated; i++)
		if (m->activated[i].fd >= 0 && streq(m->activated[i].name, name)) {
			int fd = m->activated[i].fd;

			m->activated[i].fd = -1;
			return fd;
		}
	return -1;
}

static bool activated_fd_named(struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->n_activated; i++)
		if (m->activated[i].fd >= 0 && streq(m->activated[i].name, name))
			return true;
	return false;
}

/* The fd named name, left in m->activated (closed by manager_free), or -1. */
static int activated_peek(struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->n_activated; i++)
		if (m->activated[i].fd >= 0 && streq(m->activated[i].name, name))
			return m->activated[i].fd;
	return -1;
}

/* The peer uid of an endpoint connection comes from NETLINK_SOCK_DIAG, and
 * the kernel maps it into the user namespace of the netlink socket's
 * creator. Under PrivateUsers= (the packaged unit) that is the service's
 * own namespace, where every other user is 65534; the socket systemd passes
 * as "diag" (adfs-credd-diag.socket) is created by the user manager, outside
 * it, and gives real uids. Without it, allowed_uids cannot work here: the
 * configuration is refused rather than never matching (or, with 65534,
 * letting every user in). docs/internals/security.md. */
static int setup_peer_diag(struct manager *m)
{
	int diag = activated_peek(m, "diag"), userns;

	if (diag >= 0) {
		log_debug("Peer uids come from the netlink socket systemd "
			  "passed (diag)");
		m->peer_userns = false;
		return 0;
	}
	userns = peer_in_userns();
	if (userns < 0)
		log_debug("Cannot read /proc/self/uid_map (%s), assuming the "
			  "initial user namespace",
			  strerror(-userns));
	m->peer_userns = userns > 0;
	if (!m->peer_userns)
		return 0;
	m->peer_overflow_uid = peer_overflow_uid();
	if (m->conf->serve.n_allowed_uids > 0)
		return log_error_errno(
			EINVAL,
			"serve.allowed_uids cannot work here: adfs-credd runs in "
			"a user namespace of its own (PrivateUsers=), where the "
			"kernel reports every other user as uid %lu. Start it "
			"with adfs-credd-diag.socket (the packaged "
			"adfs-credd.service does), or remove serve.allowed_uids",
			(unsigned long)m->peer_overflow_uid);
	log_info("Running in a user namespace without the diag socket: other "
		 "users' requests are refused with peer_uid=-1");
	return 0;
}

static int take_activated_fds(struct manager *m)
{
	char **names = NULL;
	int n, r = 0;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0)
		return log_error_errno(n, "Cannot take the sockets systemd "
					  "passed: %m");
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";

		if ((!streq(name, "ecs") && !streq(name, "imds") &&
		     !streq(name, "control") && !streq(name, "diag")) ||
		    m->n_activated >= ELEMENTSOF(m->activated)) {
			log_warning("Ignoring socket %d named '%s' from systemd "
				    "(expected FileDescriptorName=ecs, imds, "
				    "control or diag)",
				    fd, name);
			(void)close(fd);
			continue;
		}
		/* control: adfs-credd-control.socket (ListenStream=PATH);
		 * diag: adfs-credd-diag.socket (ListenNetlink=inet-diag). */
		if (streq(name, "control") &&
		    sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_warning("Ignoring the socket named 'control' from "
				    "systemd: not a listening unix stream socket");
			(void)close(fd);
			continue;
		}
		if (streq(name, "diag") &&
		    sd_is_socket(fd, AF_NETLINK, SOCK_RAW, -1) <= 0 &&
		    sd_is_socket(fd, AF_NETLINK, SOCK_DGRAM, -1) <= 0) {
			log_warning("Ignoring the socket named 'diag' from "
				    "systemd: not a netlink socket");
			(void)close(fd);
			continue;
		}
		if ((streq(name, "ecs") || streq(name, "imds")) &&
		    sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0) {
			r = log_error_errno(EINVAL,
					    "The socket named '%s' from systemd "
					    "is not a listening TCP socket",
					    name);
			(void)close(fd);
			continue;
		}
		m->activated[m->n_activated].fd = fd;
		(void)snprintf(m->activated[m->n_activated].name,
			       sizeof(m->activated[0].name), "%s", name);
		m->n_activated++;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int start_listener(struct manager *m, const struct conf_listen *l,
			  const char *name, const char *what,
			  MHD_AccessHandlerCallback handler, void *cls,
			  struct http_server **ret)
{
	int fd, r;
	bool activated;

	fd = activated_fd(m, name);
	activated = fd >= 0;
	if (!activated && !l->enabled)
		return 0;
	if (!activated) {
		r = listen_tcp(l->host, l->port, &fd);
		if (r < 0)
			return log_error_errno(r, "Cannot listen on %s:%u for "
						  "the %s endpoint: %m",
					       l->host, l->port, what);
	} else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1,
				     l->enabled ? l->port : 0) <= 0) {
		log_warning("The socket systemd passed for %s is not on port %u "
			    "(serve.%s); serving on it anyway",
			    what, l->port, name);
	}
	r = http_server_new(m->event, fd, false, handler, cls, NULL, what, ret);
	if (r < 0) {
		(void)close(fd);
		return log_error_errno(r, "Cannot start the %s endpoint: %m",
				       what);
	}
	if (activated)
		log_info("Serving %s on the socket from systemd (socket "
			 "activation)",
			 what);
	else
		log_info("Serving %s on http://%s%s%s:%u/", what,
			 strchr(l->host, ':') ? "[" : "", l->host,
			 strchr(l->host, ':') ? "]" : "", l->port);
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
	r = take_activated_fds(m);
	if (r < 0)
		return r;
	r = setup_peer_diag(m);
	if (r < 0)
		return r;
	r = start_listener(m, &m->conf->serve.ecs, "ecs", "ECS credentials",
			   ecs_handle, &m->ecs, &m->ecs_server);
	if (r < 0)
		return r;
	/* What `env` prints is where we listen, whatever a reload says. */
	if (m->conf->serve.ecs.enabled &&
	    asprintf(&m->ecs_url,
		     strchr(m->conf->serve.ecs.host, ':') ? "http://[%s]:%u"
							  : "http://%s:%u",
		     m->conf->serve.ecs.host, m->conf->serve.ecs.port) < 0)
		return log_oom();
	if (m->conf->serve.imds.enabled || activated_fd_named(m, "imds")) {
		r = imds_init(&m->imds);
		if (r < 0)
			return log_error_errno(r, "Cannot start IMDS: %m");
		m->imds.store = &m->store;
		m->imds.guard = &m->guard;
		m->imds.role = m->conf->serve.imds_role ? m->conf->serve.imds_role
							: m->conf->default_role;
		r = start_listener(m, &m->conf->serve.imds, "imds", "EC2 IMDSv2",
				   imds_handle, &m->imds, &m->imds_server);
		if (r < 0)
			return r;
	}
	if (m->ecs_server)
		http_server_set_peer_diag(m->ecs_server, activated_peek(m, "diag"),
					  m->peer_userns, m->peer_overflow_uid);
	if (m->imds_server)
		http_server_set_peer_diag(m->imds_server,
					  activated_peek(m, "diag"),
					  m->peer_userns, m->peer_overflow_uid);
	r = control_new(m, activated_fd(m, "control"), &m->control);
	if (r < 0)
		return r;

	r = sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_stop, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, &m->sigint, SIGINT, on_stop, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_reload,
					m);
	if (r < 0)
		return log_error_errno(r, "Cannot watch signals: %m");

	if (m->signin == SIGNIN_SIGNED_IN) {
		/* Restored: the refresh timer takes it from here. */
	} else if (m->conf->adfs.password != CONF_PASSWORD_PROMPT ||
		   m->conf->adfs.auth == CONF_AUTH_KERBEROS) {
		r = manager_login(m, NULL, on_login_at_start, NULL);
		if (r < 0)
			return r;
	} else {
		log_info("Not signed in: run 'adfs-credctl login'");
	}
	return 0;
}

/* STATUS= for `systemctl --user status`: a line a person reads. */
static void update_status(struct manager *m)
{
	usec_t now = now_wall(), next = USEC_INFINITY;
	size_t valid = 0;
	char hm[8] = "-";

	for (size_t i = 0; i < m->store.n_roles; i++) {
		const struct role_session *rs = &m->store.roles[i];

		if (role_has_valid_creds(rs, now))
			valid++;
		if (rs->next_refresh && rs->next_refresh < next)
			next = rs->next_refresh;
	}
	if (next != USEC_INFINITY) {
		time_t t = (time_t)(next / USEC_PER_SEC);
		struct tm tm;

		if (localtime_r(&t, &tm))
			(void)strftime(hm, sizeof(hm), "%H:%M", &tm);
	}
	switch (m->signin) {
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

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	if (m->cycle.running) {
		cancel_fetch(m);
		cycle_end(m, -ECANCELED, "stopping");
	}
	control_free(m->control);
	http_server_free(m->ecs_server);
	http_server_free(m->imds_server);
	imds_clear(&m->imds);
	guard_clear(&m->guard); /* logs the audit repeats still counted */
	adfs_free(m->adfs);
	curl_glue_free(m->glue);
	store_clear(&m->store);
	secret_free(m->token);
	secret_free(m->password);
	saml_info_free(m->last_saml);
	free(m->signin_error);
	free(m->mfa_hint);
	(void)sd_event_source_disable_unref(m->refresh_timer);
	(void)sd_event_source_disable_unref(m->clock_watch);
	(void)sd_event_source_disable_unref(m->sigterm);
	(void)sd_event_source_disable_unref(m->sigint);
	(void)sd_event_source_disable_unref(m->sighup);
	sd_event_unref(m->event);
	for (size_t i = 0; i < m->n_activated; i++)
		if (m->activated[i].fd >= 0)
			(void)close(m->activated[i].fd);
	free(m->state_dir);
	free(m->identity);
	free(m->ecs_url);
	conf_free(m->conf);
	free(m);
	return NULL;
}
