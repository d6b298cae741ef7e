#include "session/cycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

/* Where a cycle is. The WAIT_* steps wait on an op; the others run from
 * the defer source, one after the other, until a WAIT_* or IDLE. */
enum step {
	STEP_IDLE,
	STEP_WAIT_ASSERTION,
	STEP_ASSERTION,  /* an assertion result is in */
	STEP_NEXT_ROLE,  /* begin the role at c->next */
	STEP_ACT,        /* carry out c->action for the current role */
	STEP_WAIT_ASSUME,
	STEP_ASSUMED,    /* an AssumeRoleWithSAML result is in */
	STEP_WAIT_GET_ROLE,
	STEP_GOT_ROLE,   /* a GetRole result is in */
	STEP_END,        /* the cycle is over: c->end_r, c->end_msg */
};

struct cycle {
	struct cycle_setup s;
	sd_event_source *defer;
	enum step step;

	bool with_password;      /* it sends one */
	bool explicit_refresh;
	struct secret *saml;     /* the assertion being redeemed */
	usec_t saml_at;          /* CLOCK_BOOTTIME when it came */
	bool refetching;         /* getting a newer one mid-cycle */
	struct saml_info *info;  /* what the assertion offers */
	struct saml_info *last_info; /* ... the last cycle's, for `roles` */
	size_t *due;             /* indexes into store.roles */
	size_t n_due, next;
	enum sizing_action action; /* STEP_ACT: what to do next */
	uint32_t duration;       /* ... with this duration */
	uint32_t try_duration;   /* for the role being assumed */
	bool got;                /* it got credentials this cycle */
	usec_t got_exp;          /* their expiry on our clock */
	usec_t got_lifetime;
	unsigned failed;
	char *first_error;
	usec_t sts_skew;         /* |STS's clock - ours| at its last reply */
	bool sts_ahead;          /* STS's clock is the later one */

	/* The result an op handed in, for the step that reads it. */
	struct {
		int r;
		struct secret *saml;
		char *msg;
		enum cycle_sts_result sts;
		struct sts_creds *creds;
		usec_t server_date;
		enum sizing_result iam;
		uint32_t max;
	} res;

	int end_r;
	char *end_msg;
};

static const struct conf *conf(const struct cycle *c)
{
	return *c->s.conf;
}

static struct role_session *role_at(struct cycle *c, size_t i)
{
	return &c->s.store->roles[i];
}

static struct role_plan *plan_at(struct cycle *c, size_t i)
{
	return &c->s.plans->v[i];
}

static size_t cur(const struct cycle *c)
{
	return c->due[c->next];
}

static void kick(struct cycle *c)
{
	(void)sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

static void set_str(char **p, const char *v)
{
	free(*p);
	*p = v ? strdup(v) : NULL;
}

static void res_clear(struct cycle *c)
{
	c->res.saml = secret_free(c->res.saml);
	c->res.creds = sts_creds_free(c->res.creds);
	set_str(&c->res.msg, NULL);
}

static void fail(struct cycle *c, size_t i, const char *msg, bool retry)
{
	plans_failed(c->s.plans, c->s.store, i, msg, retry, now_wall(),
		     c->s.jitter);
}

static void fail_all(struct cycle *c, const char *msg, bool retry)
{
	for (size_t i = 0; i < c->s.store->n_roles; i++)
		plans_failed(c->s.plans, c->s.store, i, msg, retry, now_wall(),
			     c->s.jitter);
}

static void end(struct cycle *c, int r, const char *msg)
{
	c->end_r = r;
	set_str(&c->end_msg, msg);
	c->step = STEP_END;
}

static const struct saml_role *offered(const struct saml_info *info,
				       const char *arn)
{
	for (size_t i = 0; info && i < info->n_roles; i++)
		if (streq(info->roles[i].role_arn, arn))
			return &info->roles[i];
	return NULL;
}

/* Nothing can get an assertion without the user: keep serving what is
 * valid, plan no refresh, say what to do. */
static void sso_ended(struct cycle *c, const char *msg)
{
	usec_t now = now_wall();

	signin_sso_ended(c->s.signin, msg, now);
	c->s.store->signed_in = false;
	log_warning("%s", msg);
	for (size_t i = 0; i < c->s.store->n_roles; i++) {
		struct role_session *rs = role_at(c, i);

		role_set_error(rs, msg);
		plan_at(c, i)->next_refresh = 0;
		if (!role_has_valid_creds(rs, now))
			rs->state = ROLE_NOT_SIGNED_IN;
	}
}

/* The role keeps the session it got in this cycle. */
static void role_keep(struct cycle *c, size_t i)
{
	struct plan_kept k = {
		.expiry = c->got_exp,
		.lifetime = c->got_lifetime,
		.session_duration = c->info->session_duration,
		.min_remaining = conf(c)->refresh.min_remaining,
	};

	plans_kept(c->s.plans, c->s.store, i, &k, now_wall(), c->s.jitter);
}

/* The cycle has no usable assertion: each role it was still to serve
 * waits for the next try, with backoff. A cycle the timer started chooses
 * its roles once the assertion is there, so when there is none, those are
 * the roles due now. When a cycle's second assertion fails, what the
 * current role already got is kept. */
static void fail_cycle_roles(struct cycle *c, const char *msg)
{
	usec_t now = now_wall();
	size_t i = c->next;

	if (!c->due) {
		for (i = 0; i < c->s.store->n_roles; i++)
			if (plans_due(c->s.plans, c->s.store, i, now))
				fail(c, i, msg, true);
		return;
	}
	if (c->refetching && c->got && i < c->n_due)
		role_keep(c, c->due[i++]);
	for (; i < c->n_due; i++)
		fail(c, c->due[i], msg, true);
}

/* The current role's part is over; the next one begins. */
static void role_next(struct cycle *c)
{
	c->next++;
	c->step = STEP_NEXT_ROLE;
}

static void role_done(struct cycle *c)
{
	if (c->got)
		role_keep(c, cur(c));
	role_next(c);
}

static void role_error(struct cycle *c, const char *msg)
{
	struct role_session *rs = role_at(c, cur(c));

	if (c->got) {
		/* A larger duration or GetRole failed after a success:
		 * keep the session we have. */
		log_warning("Role %s: %s, keeping the %us session", rs->name,
			    msg, rs->duration_used);
		role_done(c);
		return;
	}
	log_id(LOG_ERR, LOG_ID_REFRESH_FAILED, "Role %s: %s", rs->name, msg);
	c->failed++;
	if (!c->first_error)
		c->first_error = strdup(msg);
	fail(c, cur(c), msg, true);
	role_next(c);
}

static void act(struct cycle *c, enum sizing_action a, uint32_t d)
{
	c->action = a;
	c->duration = d;
	c->step = STEP_ACT;
}

static int fetch_assertion(struct cycle *c, const struct secret *pw,
			   bool interactive)
{
	int r;

	c->step = STEP_WAIT_ASSERTION;
	r = c->s.ops->get_assertion(c->s.ops_ud, pw, interactive);
	if (r < 0 && c->step == STEP_WAIT_ASSERTION)
		c->step = STEP_IDLE;
	return r;
}

/* What an assertion result means for the sign-in and the roles. Returns
 * false when the cycle ends here. */
static bool take_assertion(struct cycle *c)
{
	_cleanup_(saml_info_freep) struct saml_info *info = NULL;
	const char *msg = c->res.msg ? c->res.msg : "ADFS sign-in failed";
	const struct conf *cf = conf(c);
	struct store *st = c->s.store;
	usec_t now = now_wall();
	int r = c->res.r;

	if (r == -EACCES) {
		/* Lockout safety: a rejected password is wiped at once and
		 * never sent again; only a new `login` leaves this state. */
		signin_rejected(c->s.signin, msg);
		log_id(LOG_ERR, LOG_ID_SIGNIN_FAILED,
		       "%s; not retrying: run 'adfs-credctl login' with the "
		       "right password",
		       msg);
		fail_all(c, msg, false);
		end(c, r, msg);
		return false;
	}
	if (r == -ENOKEY) {
		sso_ended(c, msg);
		/* Kerberos needs no user at the keyboard: once a ticket is
		 * there again (kinit, sssd), the next try works. Keep trying
		 * with backoff; no password is ever involved. */
		if (cf->adfs.auth == CONF_AUTH_KERBEROS)
			fail_all(c, msg, true);
		end(c, r, msg);
		return false;
	}
	if (r < 0) {
		log_warning("Sign-in to ADFS failed: %s", msg);
		signin_round_failed(c->s.signin, msg);
		fail_cycle_roles(c, msg);
		end(c, r, msg);
		return false;
	}

	secret_free(c->saml);
	c->saml = TAKE_PTR(c->res.saml);
	r = saml_parse_base64(c->saml->data, c->saml->len, &info);
	if (r < 0) {
		const char *why =
			r == -EACCES
				? "ADFS returned a SAML response whose status "
				  "is not Success"
			: r == -EOPNOTSUPP
				? "ADFS encrypted the SAML assertion; adfs-credd "
				  "needs it unencrypted (disable encryption on "
				  "the AWS relying party trust)"
			: r == -EILSEQ
				? "ADFS offered a role that IAM would not "
				  "accept (a role name is 1 to 64 of A-Z a-z "
				  "0-9 _ + = , . @ -, a path printable ASCII, "
				  "an account ID 12 digits): the SAML response "
				  "was refused"
				: "the SAML response from ADFS does not parse "
				  "or offers no AWS role";

		log_error("%s", why);
		fail_cycle_roles(c, why);
		end(c, r, why);
		return false;
	}

	/* A remembered password rides along on every round; only a round
	 * that posted it started a new SSO session. */
	if (c->with_password && (cf->adfs.auth == CONF_AUTH_WSTRUST ||
				 c->s.ops->posted_password(c->s.ops_ud))) {
		signin_succeeded(c->s.signin, true, now);
		log_id(LOG_INFO, LOG_ID_SIGNED_IN, "Signed in to ADFS as %s",
		       info->name_id ? info->name_id
				     : strempty(cf->adfs.username));
	} else {
		signin_succeeded(c->s.signin, false, now);
	}
	/* Kerberos posts nothing: the SSO it started began when ADFS says
	 * the user authenticated (a time of its clock, not in the future). */
	if (cf->adfs.auth == CONF_AUTH_KERBEROS && info->authn_instant &&
	    info->authn_instant <= now + 5 * USEC_PER_MINUTE)
		c->s.signin->sso_since = info->authn_instant;
	st->signed_in = true;
	set_str(&st->user,
		info->name_id ? info->name_id : strempty(cf->adfs.username));

	if (cf->n_roles == 0) {
		r = roles_adopt(st, c->s.plans, info, cf->default_role);
		if (r < 0) {
			end(c, r, "out of memory");
			return false;
		}
	}
	for (size_t i = 0; i < st->n_roles; i++) {
		const struct saml_role *sr = offered(info, st->roles[i].arn);
		struct role_plan *p = plan_at(c, i);

		if (!p->principal_arn && sr)
			p->principal_arn = strdup(sr->principal_arn);
	}

	/* Which roles this cycle serves: the ones chosen at start (a login
	 * or a manual refresh) or, when none, every role due soon. */
	if (!c->due && plans_pick(c->s.plans, st, NULL, now, &c->due,
				  &c->n_due) < 0) {
		end(c, -ENOMEM, "out of memory");
		return false;
	}
	/* A cycle's later assertion replaces its first. */
	saml_info_free(c->info);
	c->info = TAKE_PTR(info);
	c->saml_at = c->s.ops->now_boot(c->s.ops_ud);
	return true;
}

static void step_assertion(struct cycle *c)
{
	if (!take_assertion(c))
		return;
	if (c->refetching) {
		/* Go on where the old assertion got too old. */
		c->refetching = false;
		act(c, SIZING_ASSUME, c->duration);
		return;
	}
	c->next = 0;
	c->step = STEP_NEXT_ROLE;
}

static void step_next_role(struct cycle *c)
{
	usec_t now = now_wall();

	while (c->next < c->n_due) {
		struct role_session *rs = role_at(c, cur(c));
		struct role_plan *p = plan_at(c, cur(c));
		enum sizing_action a;
		uint32_t d = 0;

		if (!offered(c->info, rs->arn)) {
			char msg[256];

			(void)snprintf(msg, sizeof(msg),
				       "ADFS does not offer role %.200s to "
				       "this user",
				       rs->arn);
			log_error("Role %s: %s", rs->name, msg);
			c->failed++;
			if (!c->first_error)
				c->first_error = strdup(msg);
			fail(c, cur(c), msg, false);
			c->next++;
			continue;
		}
		if (role_has_valid_creds(rs, now))
			rs->state = ROLE_REFRESHING;
		c->got = false;
		/* Where GetRole is denied, look for an administrator's raise
		 * now and then (a few extra STS calls), not every refresh;
		 * at once when the user asks for a refresh. */
		p->sizing.probe_up = sizing_probe_up_due(
			&p->sizing, c->explicit_refresh, now, p->probed_up,
			CYCLE_PROBE_UP_INTERVAL);
		a = sizing_begin(&p->sizing, &d);
		act(c, a, d);
		return;
	}
	end(c, 0, NULL);
}

/* Our wall clock moved to STS's, as its last Date header showed it. */
static usec_t sts_clock(const struct cycle *c)
{
	usec_t now = now_wall();

	if (c->sts_ahead)
		return now + c->sts_skew;
	return now > c->sts_skew ? now - c->sts_skew : now;
}

static void step_act(struct cycle *c)
{
	struct role_session *rs = role_at(c, cur(c));
	struct role_plan *p = plan_at(c, cur(c));
	const struct saml_role *sr = offered(c->info, rs->arn);
	uint32_t d = c->duration;
	int r;

	switch (c->action) {
	case SIZING_ASSUME:
		if (c->s.ops->now_boot(c->s.ops_ud) - c->saml_at >
		    CYCLE_ASSERTION_REUSE_MAX) {
			/* The cycle outlived its assertion (a slow STS, many
			 * roles): get a new one the way a timer cycle would
			 * (SSO cookies; the password only when this cycle had
			 * one), then AssumeRole with d as planned. */
			log_info("The assertion is more than %llu min old: "
				 "fetching a new one for the %zu role(s) left",
				 (unsigned long long)(CYCLE_ASSERTION_REUSE_MAX /
						      USEC_PER_MINUTE),
				 c->n_due - c->next);
			c->saml = secret_free(c->saml);
			c->refetching = true;
			r = fetch_assertion(
				c,
				c->with_password ? c->s.signin->password : NULL,
				false);
			if (r < 0) {
				fail_cycle_roles(c, "cannot fetch a new SAML "
						    "assertion");
				end(c, r, "cannot fetch a new SAML assertion");
			}
			return;
		}
		c->try_duration = d;
		c->step = STEP_WAIT_ASSUME;
		r = c->s.ops->assume(c->s.ops_ud, rs->arn,
				     p->principal_arn ? p->principal_arn
						      : sr->principal_arn,
				     c->saml, d);
		if (r < 0)
			role_error(c, "cannot start the STS call");
		return;
	case SIZING_GET_ROLE:
		/* Signed with the session STS just issued for this role, at
		 * STS's time: IAM refuses a signature 15 min off its clock. */
		c->step = STEP_WAIT_GET_ROLE;
		r = c->s.ops->get_role(c->s.ops_ud, rs->creds,
				       roles_arn_name(rs->arn), sts_clock(c));
		if (r < 0) {
			uint32_t next = 0;
			enum sizing_action a = sizing_on_get_role(
				&p->sizing, SIZING_FAILED, 0, &next);

			act(c, a, next);
		}
		return;
	default:
		role_done(c);
		return;
	}
}

static void step_assumed(struct cycle *c)
{
	struct role_session *rs = role_at(c, cur(c));
	struct role_plan *p = plan_at(c, cur(c));
	const char *msg = c->res.msg ? c->res.msg : "STS call failed";
	usec_t now = now_wall(), skew = 0, exp_local;
	struct sts_creds *sc;
	struct creds *cr = NULL;
	enum sizing_action a;
	bool ahead = false;
	uint32_t d = 0;
	int r;

	if (c->res.sts == CYCLE_STS_TOO_LONG) {
		log_info("Role %s: %us exceeds its MaxSessionDuration",
			 rs->name, c->try_duration);
		a = sizing_on_assume(&p->sizing, SIZING_TOO_LONG, &d);
		if (a == SIZING_DONE && !c->got)
			role_error(c, msg);
		else
			act(c, a, d);
		return;
	}
	if (c->res.sts != CYCLE_STS_OK || !c->res.creds) {
		role_error(c, msg);
		return;
	}
	/* What is left on STS's clock is what is left. The expiry is kept,
	 * served and checked on our clock: SDKs compare it with the same
	 * clock. Under 2 s is the Date header's resolution, not a skew. */
	if (c->res.server_date) {
		ahead = c->res.server_date > now;
		skew = ahead ? c->res.server_date - now
			     : now - c->res.server_date;
		if (skew < 2 * USEC_PER_SEC)
			skew = 0;
		c->sts_skew = skew;
		c->sts_ahead = ahead;
	}
	sc = TAKE_PTR(c->res.creds);
	exp_local = ahead ? sc->expiration - skew : sc->expiration + skew;
	sc->expiration = exp_local;
	r = creds_new_take(sc, rs->arn, now, &cr);
	if (r < 0) {
		role_error(c, "STS returned credentials that cannot be served");
		return;
	}
	store_set_creds(rs, cr);
	c->got = true;
	c->got_exp = exp_local;
	c->got_lifetime = exp_local > now ? exp_local - now : 0;
	rs->duration_used = c->try_duration;
	a = sizing_on_assume(&p->sizing, SIZING_OK, &d);
	act(c, a, d);
}

static void step_got_role(struct cycle *c)
{
	struct role_session *rs = role_at(c, cur(c));
	struct role_plan *p = plan_at(c, cur(c));
	enum sizing_action a;
	uint32_t d = 0;

	if (c->res.iam == SIZING_DENIED && !p->sizing.get_role_denied)
		log_info("Role %s: iam:GetRole is not allowed, finding the "
			 "maximum by asking STS instead",
			 rs->name);
	else if (c->res.iam == SIZING_FAILED)
		log_warning("Role %s: %s, trying again at the next refresh",
			    rs->name, strempty(c->res.msg));
	else if (c->res.iam == SIZING_OK)
		log_debug("Role %s: MaxSessionDuration is %us", rs->name,
			  c->res.max);
	a = sizing_on_get_role(&p->sizing, c->res.iam, c->res.max, &d);
	act(c, a, d);
}

static void reset(struct cycle *c)
{
	c->saml = secret_free(c->saml);
	if (c->info) {
		saml_info_free(c->last_info);
		c->last_info = TAKE_PTR(c->info);
	}
	free(c->due);
	c->due = NULL;
	c->n_due = c->next = 0;
	c->refetching = false;
	c->explicit_refresh = false;
	free(c->first_error);
	c->first_error = NULL;
	c->failed = 0;
	res_clear(c);
	c->step = STEP_IDLE;
	/* Without remember_password the password lives only for one round. */
	signin_round_end(c->s.signin);
}

static void step_end(struct cycle *c)
{
	char summary[640];
	int r = c->end_r;

	if (r == 0 && c->failed)
		r = -EREMOTEIO;
	if (r == 0)
		(void)snprintf(summary, sizeof(summary), "%zu role(s) refreshed",
			       c->n_due);
	else
		(void)snprintf(summary, sizeof(summary), "%s",
			       c->end_msg ? c->end_msg
					  : strempty(c->first_error));
	set_str(&c->end_msg, NULL);
	reset(c);
	c->s.hooks->ended(c->s.hooks_ud, r, summary);
}

static int on_defer(sd_event_source *s, void *userdata)
{
	struct cycle *c = userdata;

	for (;;) {
		switch (c->step) {
		case STEP_ASSERTION:
			step_assertion(c);
			break;
		case STEP_NEXT_ROLE:
			step_next_role(c);
			break;
		case STEP_ACT:
			step_act(c);
			break;
		case STEP_ASSUMED:
			step_assumed(c);
			break;
		case STEP_GOT_ROLE:
			step_got_role(c);
			break;
		case STEP_END:
			step_end(c);
			return 0;
		default: /* idle, or waiting on an op */
			return 0;
		}
		/* A result an op handed in is read once. */
		if (c->step != STEP_ASSERTION && c->step != STEP_ASSUMED &&
		    c->step != STEP_GOT_ROLE)
			res_clear(c);
	}
}

int cycle_new(const struct cycle_setup *setup, struct cycle **ret)
{
	_cleanup_(cycle_freep) struct cycle *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->s = *setup;
	r = sd_event_add_defer(setup->event, &c->defer, on_defer, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(c->defer, "refresh-cycle");
	*ret = TAKE_PTR(c);
	return 0;
}

struct cycle *cycle_free(struct cycle *c)
{
	if (!c)
		return NULL;
	if (cycle_running(c))
		cycle_cancel(c);
	(void)sd_event_source_disable_unref(c->defer);
	saml_info_free(c->info);
	saml_info_free(c->last_info);
	secret_free(c->saml);
	res_clear(c);
	free(c->due);
	free(c->first_error);
	free(c->end_msg);
	free(c);
	return NULL;
}

bool cycle_running(const struct cycle *c)
{
	return c->step != STEP_IDLE;
}

int cycle_start(struct cycle *c, const char *role, bool login,
		bool interactive, bool explicit_refresh)
{
	struct store *st = c->s.store;
	const struct secret *pw;
	int r;

	if (cycle_running(c))
		return -EBUSY;
	c->due = NULL;
	c->n_due = 0;
	/* With no configured roles the list is only known once the
	 * assertion arrives: then it chooses (c->due stays NULL). */
	if (role && plans_pick(c->s.plans, st, role, 0, &c->due, &c->n_due) < 0)
		return -ENOMEM;
	if (explicit_refresh)
		for (size_t i = 0; i < st->n_roles; i++)
			if (!role || !*role || streq(role, st->roles[i].name))
				plan_at(c, i)->failures = 0;
	/* A new login's password, or a remembered one that ADFS has not
	 * rejected (a rejected password is never sent again). */
	pw = signin_begin_round(c->s.signin, login);
	c->with_password = pw != NULL;
	c->explicit_refresh = explicit_refresh;
	r = fetch_assertion(c, pw, interactive);
	if (r == -ENOKEY)
		/* WS-Trust has no single sign-on: without a remembered
		 * password there is nothing to renew with. */
		sso_ended(c, "not signed in: WS-Trust needs the password for "
			     "every assertion; run 'adfs-credctl login' or set "
			     "adfs.remember_password: true");
	if (r < 0) {
		free(c->due);
		c->due = NULL;
		c->explicit_refresh = false;
		c->step = STEP_IDLE;
		return r;
	}
	return 0;
}

void cycle_cancel(struct cycle *c)
{
	if (!cycle_running(c))
		return;
	c->s.ops->cancel(c->s.ops_ud);
	/* The role in the middle keeps what it has: the session got in
	 * this cycle, else the one it had (the roles done already kept
	 * theirs). c->info is there from the assertion on. */
	if (c->due && c->info && c->next < c->n_due &&
	    cycle_progress(c).phase == CYCLE_PHASE_ROLES) {
		if (c->got)
			role_keep(c, cur(c));
		else if (role_at(c, cur(c))->state == ROLE_REFRESHING)
			role_at(c, cur(c))->state = ROLE_VALID;
	}
	(void)sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
	set_str(&c->end_msg, NULL);
	reset(c);
}

void cycle_assertion_done(struct cycle *c, int r, struct secret *saml_take,
			  const char *msg)
{
	if (c->step != STEP_WAIT_ASSERTION) {
		secret_free(saml_take);
		return;
	}
	res_clear(c);
	c->res.r = r;
	c->res.saml = saml_take;
	set_str(&c->res.msg, msg);
	c->step = STEP_ASSERTION;
	kick(c);
}

void cycle_assume_done(struct cycle *c, enum cycle_sts_result res,
		       struct sts_creds *creds_take, const char *msg,
		       usec_t server_date)
{
	if (c->step != STEP_WAIT_ASSUME) {
		sts_creds_free(creds_take);
		return;
	}
	res_clear(c);
	c->res.sts = res;
	c->res.creds = creds_take;
	c->res.server_date = server_date;
	set_str(&c->res.msg, msg);
	c->step = STEP_ASSUMED;
	kick(c);
}

void cycle_get_role_done(struct cycle *c, enum sizing_result res,
			 uint32_t max, const char *msg)
{
	if (c->step != STEP_WAIT_GET_ROLE)
		return;
	res_clear(c);
	c->res.iam = res;
	c->res.max = max;
	set_str(&c->res.msg, msg);
	c->step = STEP_GOT_ROLE;
	kick(c);
}

void cycle_mfa_asked(struct cycle *c, bool push, const char *hint)
{
	if (c->step != STEP_WAIT_ASSERTION)
		return;
	signin_mfa_pending(c->s.signin);
	log_info("ADFS asks for a second factor (%s)",
		 push ? "approve the request on your device"
		      : "a verification code");
	c->s.hooks->mfa(c->s.hooks_ud, push, hint);
}

void cycle_mfa_unattended(struct cycle *c, bool pushing, const char *hint)
{
	if (c->step != STEP_WAIT_ASSERTION)
		return;
	if (pushing) {
		signin_mfa_pending(c->s.signin);
		log_warning("ADFS asks for a second factor to renew the "
			    "sign-in: waiting for the push sent to the phone "
			    "to be approved");
	}
	if (c->s.hooks->mfa_renewal)
		c->s.hooks->mfa_renewal(c->s.hooks_ud, pushing, hint);
}

const char *cycle_phase_to_string(enum cycle_phase p)
{
	static const char *const names[] = {
		[CYCLE_PHASE_IDLE] = "idle",
		[CYCLE_PHASE_SIGN_IN] = "sign_in",
		[CYCLE_PHASE_ROLES] = "roles",
	};
	return (size_t)p < ELEMENTSOF(names) ? names[p] : "unknown";
}

struct cycle_progress cycle_progress(const struct cycle *c)
{
	struct cycle_progress p = { .total = c->n_due };

	if (!cycle_running(c))
		return (struct cycle_progress){ .phase = CYCLE_PHASE_IDLE };
	/* A refetch in the middle of the roles is still the roles' phase. */
	if ((c->step == STEP_WAIT_ASSERTION || c->step == STEP_ASSERTION) &&
	    !c->refetching)
		p.phase = CYCLE_PHASE_SIGN_IN;
	else
		p.phase = CYCLE_PHASE_ROLES;
	p.done = c->next < c->n_due ? c->next : c->n_due;
	return p;
}

const struct saml_info *cycle_offered(const struct cycle *c)
{
	return c->last_info;
}

void cycle_forget(struct cycle *c, bool forget_roles)
{
	store_reset(c->s.store);
	plans_reset(c->s.plans);
	if (forget_roles) {
		/* Roles learnt from the assertion go with it. */
		store_clear(c->s.store);
		plans_clear(c->s.plans);
	}
	c->last_info = saml_info_free(c->last_info);
}
