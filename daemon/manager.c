#include "manager.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "control/control.h"
#include "session/persist.h"
#include "session/token.h"
#include "sts/iam.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/socket.h"
#include "util/timeutil.h"

/* Where iam:GetRole is denied, how often to look for a raised maximum. */
#define PROBE_UP_INTERVAL (6 * USEC_PER_HOUR)
#define BATCH_WINDOW (5 * USEC_PER_MINUTE)
#define BACKOFF_MIN (30 * USEC_PER_SEC)
#define BACKOFF_MAX (10 * USEC_PER_MINUTE)

static void arm_refresh_timer(struct manager *m);
static void save_state(struct manager *m);
static void assume_next(struct manager *m);

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

static usec_t random_upto(usec_t max)
{
	return max ? random_u64() % (max + 1) : 0;
}

static void set_signin_error(struct manager *m, const char *msg)
{
	free(m->signin_error);
	m->signin_error = msg ? strdup(msg) : NULL;
}

/* DESIGN.md "Refresh timing": refresh at expiry - lead - jitter, lead =
 * min(min_remaining, duration / 2), jitter in [0, min(5 min, duration/10)]. */
static usec_t plan_refresh(const struct manager *m, usec_t expiry,
			   usec_t duration)
{
	usec_t lead = m->conf->refresh.min_remaining;
	usec_t jmax = duration / 10;

	if (lead > duration / 2)
		lead = duration / 2;
	if (jmax > 5 * USEC_PER_MINUTE)
		jmax = 5 * USEC_PER_MINUTE;
	lead += random_upto(jmax);
	return expiry > lead ? expiry - lead : 0;
}

static usec_t backoff_delay(unsigned failures)
{
	usec_t d = BACKOFF_MIN;

	for (unsigned i = 1; i < failures && d < BACKOFF_MAX; i++)
		d *= 2;
	if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	/* Jitter down to 3/4 so failing daemons spread out. */
	return d - random_upto(d / 4);
}

static void role_failed(struct manager *m, struct role_session *r,
			const char *msg, bool retry)
{
	usec_t now = now_wall();

	role_set_error(r, msg);
	r->failures++;
	if (retry)
		r->next_refresh = now + backoff_delay(r->failures);
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
	m->cycle.sts = sts_call_free(m->cycle.sts);
	m->cycle.iam = iam_call_free(m->cycle.iam);
	free(m->cycle.first_error);
	m->cycle.first_error = NULL;
	m->cycle.failed = 0;
	m->cycle.running = false;
	m->cycle.waiters = NULL;
	free(m->mfa_hint);
	m->mfa_hint = NULL;
	/* Without remember_password the password lives only for one round. */
	if (!m->conf->adfs.remember_password)
		m->password = secret_free(m->password);

	if (r != -ECANCELED)
		save_state(m);
	arm_refresh_timer(m);
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
	return r->state == ROLE_EMPTY || r->next_refresh == 0 ||
	       r->next_refresh <= now + BATCH_WINDOW;
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
		log_error("%s; not retrying: run 'adfs-credctl login' with the "
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
		for (size_t i = 0; i < m->cycle.n_due; i++)
			role_failed(m, &m->store.roles[m->cycle.due[i]], msg,
				    true);
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
		for (size_t i = 0; i < m->cycle.n_due; i++)
			role_failed(m, &m->store.roles[m->cycle.due[i]], why,
				    true);
		cycle_end(m, r, why);
		return;
	}

	if (m->cycle.with_password)
		m->sso_since = now;
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
	m->cycle.info = TAKE_PTR(info);
	m->cycle.next = 0;
	assume_next(m);
}

/* Credentials for a role come and go in a sizing conversation with STS
 * and IAM (session/sizing.c); these run it on the loop. */
static void dispatch(struct manager *m, struct role_session *rs,
		     enum sizing_action a, uint32_t d);

static void role_next(struct manager *m)
{
	m->cycle.next++;
	assume_next(m);
}

/* The role's part of the cycle is over: it keeps what it got. */
static void role_done(struct manager *m, struct role_session *rs)
{
	char exp[ISO8601_MAX], dur[32];
	usec_t lifetime = m->cycle.got_lifetime;

	if (!m->cycle.got) {
		role_next(m);
		return;
	}
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
	if (rs->sizing.probe_up)
		rs->probed_up = now_wall();
	log_info("Role %s: credentials valid until %s (%s, maximum from %s)",
		 rs->name, format_iso8601(exp, rs->creds->expiration),
		 format_duration(dur, lifetime),
		 max_source_to_string(rs->max_source));
	role_next(m);
}

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
	log_error("Role %s: %s", rs->name, msg);
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
	r = creds_new_take(sc, rs->arn, now, &c);
	if (r < 0) {
		role_error(m, rs, "STS returned credentials that cannot be "
				  "served");
		return;
	}
	/* Plan with STS's clock: what is left there is what is left. */
	if (server_date) {
		ahead = server_date > now;
		skew = ahead ? server_date - now : now - server_date;
	}
	exp_local = ahead ? c->expiration - skew : c->expiration + skew;
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

static void dispatch(struct manager *m, struct role_session *rs,
		     enum sizing_action a, uint32_t d)
{
	const struct saml_role *sr = offered(m->cycle.info, rs->arn);
	int r;

	switch (a) {
	case SIZING_ASSUME:
		m->cycle.try_duration = d;
		r = sts_assume_role_with_saml(
			m->glue, m->conf, rs->arn,
			rs->principal_arn ? rs->principal_arn : sr->principal_arn,
			m->cycle.saml, d, on_sts, m, &m->cycle.sts);
		if (r < 0)
			role_error(m, rs, "cannot start the STS call");
		return;
	case SIZING_GET_ROLE:
		/* Signed with the session STS just issued for this role. */
		r = iam_get_role(m->glue, m->conf, rs->creds,
				 arn_role_name(rs->arn), now_wall(), on_iam, m,
				 &m->cycle.iam);
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
		 * now and then (a few extra STS calls), not every refresh. */
		rs->sizing.probe_up = rs->sizing.get_role_denied &&
				      now >= rs->probed_up + PROBE_UP_INTERVAL;
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
	if (with_password && m->password)
		pw = m->password;
	else if (m->conf->adfs.remember_password && m->password &&
		 m->signin != SIGNIN_FAILED)
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
		r = cycle_start(m, role ? role : "", false, false);
		if (r < 0)
			return r;
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
	log_info("Signed out: password, ADFS cookies and sessions forgotten");
	return 0;
}

static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	usec_t now = now_wall();
	bool any = false;
	int r;

	/* Wall-clock re-check: after a suspend the boottime timer fires
	 * late or early relative to expiries; trust only the wall clock. */
	for (size_t i = 0; i < m->store.n_roles; i++) {
		struct role_session *rs = &m->store.roles[i];

		if (rs->creds && !role_has_valid_creds(rs, now) &&
		    rs->state == ROLE_VALID)
			rs->state = ROLE_EXPIRED;
		if (rs->next_refresh && rs->next_refresh <= now + BATCH_WINDOW)
			any = true;
	}
	if (!any || m->cycle.running ||
	    (m->signin != SIGNIN_SIGNED_IN && m->signin != SIGNIN_SIGNING_IN &&
	     !(m->signin == SIGNIN_NOT_SIGNED_IN &&
	       m->conf->adfs.auth == CONF_AUTH_KERBEROS))) {
		arm_refresh_timer(m);
		return 0;
	}
	r = cycle_start(m, NULL, false, false);
	if (r == -ENOKEY) {
		arm_refresh_timer(m);
		return 0;
	}
	if (r < 0) {
		log_error_errno(r, "Cannot start a refresh: %m, retrying later");
		for (size_t i = 0; i < m->store.n_roles; i++)
			if (m->store.roles[i].next_refresh <= now + BATCH_WINDOW)
				role_failed(m, &m->store.roles[i],
					    "cannot start a refresh", true);
		arm_refresh_timer(m);
	}
	return 0;
}

static void arm_refresh_timer(struct manager *m)
{
	usec_t now = now_wall(), when = USEC_INFINITY;

	for (size_t i = 0; i < m->store.n_roles; i++) {
		const struct role_session *rs = &m->store.roles[i];

		if (rs->next_refresh && rs->next_refresh < when)
			when = rs->next_refresh;
		/* Wake at expiry too, to show `expired` promptly. */
		if (rs->creds && rs->creds->expiration > now &&
		    rs->creds->expiration < when)
			when = rs->creds->expiration;
	}
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

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si,
		   void *userdata)
{
	struct manager *m = userdata;

	log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
	return sd_event_exit(m->event, 0);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *userdata)
{
	struct manager *m = userdata;
	struct conf_errors errs = { 0 };
	struct conf *n = NULL;
	int r;

	r = conf_load(m->conf->path, &n, &errs);
	if (r < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		log_error("New configuration rejected, keeping the old one");
		conf_errors_clear(&errs);
		return 0;
	}
	if (m->cycle.running || !streq(n->adfs.url, m->conf->adfs.url)) {
		log_warning("Configuration reload deferred: a refresh is "
			    "running or adfs.url changed (restart to apply)");
		conf_free(n);
		return 0;
	}
	/* Listeners and roles are fixed for the process lifetime; the
	 * rest (timeouts, CA files, endpoints, levels) applies now. */
	adfs_set_conf(m->adfs, n);
	conf_free(m->conf);
	m->conf = n;
	log_set_level(n->log_level);
	log_info("Configuration reloaded from %s", strempty(n->path));
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
	*ret = TAKE_PTR(m);
	return 0;
}

char *manager_ecs_url(struct manager *m)
{
	const struct conf_listen *l = &m->conf->serve.ecs;
	char *u;

	if (!l->enabled)
		return NULL;
	if (asprintf(&u, strchr(l->host, ':') ? "http://[%s]:%u" : "http://%s:%u",
		     l->host, l->port) < 0)
		return NULL;
	return u;
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

static int start_listener(struct manager *m, const struct conf_listen *l,
			  const char *what, MHD_AccessHandlerCallback handler,
			  void *cls, struct http_server **ret)
{
	int fd, r;

	if (!l->enabled)
		return 0;
	r = listen_tcp(l->host, l->port, &fd);
	if (r < 0)
		return log_error_errno(r, "Cannot listen on %s:%u for the %s "
					  "endpoint: %m",
				       l->host, l->port, what);
	r = http_server_new(m->event, fd, false, handler, cls, NULL, what, ret);
	if (r < 0) {
		(void)close(fd);
		return log_error_errno(r, "Cannot start the %s endpoint: %m",
				       what);
	}
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
	};
	m->ecs = (struct ecs){ .store = &m->store, .token = m->token,
			       .guard = &m->guard };
	restore_state(m);
	r = start_listener(m, &m->conf->serve.ecs, "ECS credentials", ecs_handle,
			   &m->ecs, &m->ecs_server);
	if (r < 0)
		return r;
	if (m->conf->serve.imds.enabled) {
		r = imds_init(&m->imds);
		if (r < 0)
			return log_error_errno(r, "Cannot start IMDS: %m");
		m->imds.store = &m->store;
		m->imds.guard = &m->guard;
		m->imds.role = m->conf->serve.imds_role ? m->conf->serve.imds_role
							: m->conf->default_role;
		r = start_listener(m, &m->conf->serve.imds, "EC2 IMDSv2",
				   imds_handle, &m->imds, &m->imds_server);
		if (r < 0)
			return r;
	}
	r = control_new(m, &m->control);
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

int manager_run(struct manager *m)
{
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
	adfs_free(m->adfs);
	curl_glue_free(m->glue);
	store_clear(&m->store);
	secret_free(m->token);
	secret_free(m->password);
	saml_info_free(m->last_saml);
	free(m->signin_error);
	free(m->mfa_hint);
	(void)sd_event_source_disable_unref(m->refresh_timer);
	(void)sd_event_source_disable_unref(m->sigterm);
	(void)sd_event_source_disable_unref(m->sigint);
	(void)sd_event_source_disable_unref(m->sighup);
	sd_event_unref(m->event);
	free(m->state_dir);
	free(m->identity);
	conf_free(m->conf);
	free(m);
	return NULL;
}
