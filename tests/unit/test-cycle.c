/* The refresh cycle (session/cycle.c), the sign-in rules it applies
 * (signin.c) and the timer (session/schedule.c), with fake network ops, a
 * fake wall clock and a fake boot clock: each test runs in milliseconds.
 * The ops answer from inside the call (sync) or when the test says
 * (async), so both orders are covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/guard.h"
#include "http/peer.h"
#include "http/route.h"
#include "session/cycle.h"
#include "session/persist.h"
#include "session/schedule.h"
#include "signin.h"
#include "test-util.h"
#include "util/log.h"

#define NOW (1700000000ULL * USEC_PER_SEC)
#define PROD "arn:aws:iam::123456789012:role/ADFS-Production"
#define DEV "arn:aws:iam::123456789012:role/ADFS-Dev"

enum pending { NONE, ASSERTION, ASSUME, GET_ROLE };

struct fake {
	/* What the next calls answer. */
	int assertion_r;
	const char *saml;          /* base64 response to hand out */
	enum cycle_sts_result sts[32]; /* per AssumeRole call; then OK */
	size_t n_sts_script;
	uint32_t sts_cap;          /* > 0: longer durations are refused */
	usec_t sts_call_takes;     /* boot clock advance per STS call */
	enum sizing_result iam;
	uint32_t iam_max;
	bool async;                /* answer only in fake_answer() */

	/* What was asked. */
	unsigned n_assertion, n_pw_sent, n_assume, n_get_role, n_cancel;
	char last_pw[64];
	uint32_t durations[64];
	enum pending pending;
	usec_t boot;
};

struct fixture {
	sd_event *e;
	struct conf *conf;
	struct store store;
	struct plans plans;
	struct signin signin;
	struct cycle *cycle;
	struct fake fake;
	unsigned n_ended, n_mfa;
	int ended_r;
	char summary[640];
};

static struct fixture F;
static char *saml_both, *saml_prod_only;

static uint64_t no_jitter(uint64_t max, void *ud)
{
	return 0;
}

static const struct refresh_random jitter = { no_jitter, NULL };

static void answer(void)
{
	struct fake *f = &F.fake;
	enum pending p = f->pending;

	f->pending = NONE;
	switch (p) {
	case ASSERTION:
		if (f->assertion_r < 0) {
			cycle_assertion_done(F.cycle, f->assertion_r, NULL,
					     f->assertion_r == -EACCES
						     ? "Incorrect user ID or "
						       "password"
						     : "ADFS is down");
		} else {
			cycle_assertion_done(
				F.cycle, 0,
				secret_new_from(f->saml, strlen(f->saml)), NULL);
		}
		break;
	case ASSUME: {
		uint32_t d = f->durations[f->n_assume - 1];
		enum cycle_sts_result res =
			f->n_assume <= f->n_sts_script ? f->sts[f->n_assume - 1]
						       : CYCLE_STS_OK;
		struct sts_creds *sc;

		if (res == CYCLE_STS_OK && f->sts_cap && d > f->sts_cap)
			res = CYCLE_STS_TOO_LONG;
		if (res != CYCLE_STS_OK) {
			cycle_assume_done(F.cycle, res, NULL,
					  res == CYCLE_STS_TOO_LONG
						  ? "too long"
						  : "STS is down",
					  0);
			break;
		}
		sc = calloc(1, sizeof(*sc));
		assert_non_null(sc);
		sc->access_key_id = strdup("ASIAFAKE");
		sc->secret_access_key = secret_new_from("SECRET", 6);
		sc->session_token = secret_new_from("TOKEN", 5);
		sc->expiration = now_wall() + (usec_t)d * USEC_PER_SEC;
		sc->account_id = strdup("123456789012");
		cycle_assume_done(F.cycle, CYCLE_STS_OK, sc, NULL, 0);
		break;
	}
	case GET_ROLE:
		cycle_get_role_done(F.cycle, f->iam, f->iam_max,
				    f->iam == SIZING_DENIED ? "denied"
							    : "IAM is down");
		break;
	default:
		fail_msg("nothing pending");
	}
}

static int op_get_assertion(void *ud, const struct secret *pw,
			    bool interactive)
{
	struct fake *f = ud;

	f->n_assertion++;
	if (pw) {
		f->n_pw_sent++;
		(void)snprintf(f->last_pw, sizeof(f->last_pw), "%s", pw->data);
	}
	f->pending = ASSERTION;
	if (!f->async)
		answer();
	return 0;
}

static int op_assume(void *ud, const char *role_arn, const char *principal_arn,
		     const struct secret *saml, uint32_t duration)
{
	struct fake *f = ud;

	assert_non_null(saml);
	assert_non_null(principal_arn);
	assert_true(f->n_assume < ELEMENTSOF(f->durations));
	f->durations[f->n_assume++] = duration;
	f->boot += f->sts_call_takes;
	f->pending = ASSUME;
	if (!f->async)
		answer();
	return 0;
}

static int op_get_role(void *ud, const struct creds *c, const char *role_name,
		       usec_t now)
{
	struct fake *f = ud;

	assert_non_null(c);
	f->n_get_role++;
	f->pending = GET_ROLE;
	if (!f->async)
		answer();
	return 0;
}

static void op_cancel(void *ud)
{
	struct fake *f = ud;

	f->n_cancel++;
	f->pending = NONE;
}

static bool op_posted(void *ud)
{
	return true;
}

static usec_t op_now_boot(void *ud)
{
	struct fake *f = ud;

	return f->boot;
}

static const struct cycle_ops ops = {
	.get_assertion = op_get_assertion,
	.assume = op_assume,
	.get_role = op_get_role,
	.cancel = op_cancel,
	.posted_password = op_posted,
	.now_boot = op_now_boot,
};

static void on_ended(void *ud, int r, const char *summary)
{
	F.n_ended++;
	F.ended_r = r;
	(void)snprintf(F.summary, sizeof(F.summary), "%s", summary);
}

static void on_mfa(void *ud, bool push, const char *hint)
{
	F.n_mfa++;
}

static const struct cycle_hooks hooks = { on_ended, on_mfa, NULL };

/* Runs the loop until nothing is left to dispatch. */
static void run(void)
{
	for (int i = 0; i < 1000; i++)
		if (sd_event_run(F.e, 0) == 0)
			return;
	fail_msg("the loop does not settle");
}

static struct conf *make_conf(bool remember, bool roles)
{
	static const char *const base =
		"adfs:\n"
		"  url: https://adfs.example.com\n"
		"  username: EXAMPLE\\jdoe\n"
		"  remember_password: %s\n"
		"%s";
	static const char *const two =
		"roles:\n"
		"  - name: prod\n"
		"    arn: " PROD "\n"
		"  - name: dev\n"
		"    arn: " DEV "\n";
	struct conf_errors errs = { 0 };
	struct conf *c = NULL;
	char yaml[1024];
	int n;

	n = snprintf(yaml, sizeof(yaml), base, remember ? "true" : "false",
		     roles ? two : "");
	assert_true(n > 0 && (size_t)n < sizeof(yaml));
	assert_int_equal(conf_parse_yaml("test.yaml", yaml, (size_t)n, &c, &errs),
			 0);
	conf_errors_clear(&errs);
	return c;
}

static void setup_with(bool remember, bool roles)
{
	struct cycle_setup cs;

	memset(&F, 0, sizeof(F));
	test_clock_set(NOW);
	F.fake.saml = saml_both;
	F.fake.iam = SIZING_OK;
	F.fake.iam_max = 43200;
	F.fake.boot = 1000 * USEC_PER_SEC;
	assert_int_equal(sd_event_new(&F.e), 0);
	F.conf = make_conf(remember, roles);
	signin_configure(&F.signin, SIGNIN_AUTH_FORMS, remember, false);
	for (size_t i = 0; i < F.conf->n_roles; i++)
		assert_int_equal(roles_add(&F.store, &F.plans,
					   F.conf->roles[i].name,
					   F.conf->roles[i].arn, NULL, 0),
				 0);
	cs = (struct cycle_setup){
		.event = F.e,
		.store = &F.store,
		.plans = &F.plans,
		.signin = &F.signin,
		.conf = &F.conf,
		.ops = &ops,
		.ops_ud = &F.fake,
		.hooks = &hooks,
		.hooks_ud = &F,
		.jitter = &jitter,
	};
	assert_int_equal(cycle_new(&cs, &F.cycle), 0);
}

static int setup(void **state)
{
	setup_with(false, true);
	return 0;
}

static int teardown(void **state)
{
	F.cycle = cycle_free(F.cycle);
	store_clear(&F.store);
	plans_clear(&F.plans);
	signin_clear(&F.signin);
	conf_free(F.conf);
	sd_event_unref(F.e);
	test_clock_restore();
	return 0;
}

static struct secret *pw(const char *s)
{
	struct secret *p = secret_new_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

/* A login as manager_login() does it. */
static int login(const char *password)
{
	signin_login(&F.signin, password ? pw(password) : NULL, NULL);
	return cycle_start(F.cycle, "", true, false, false);
}

/* A timer cycle as the manager's timer starts it. */
static int timer_cycle(void)
{
	return cycle_start(F.cycle, NULL, false, false, false);
}

static void test_login_ok(void **state)
{
	assert_int_equal(login("right"), 0);
	/* Nothing happens inside the call, even with ops that answer at
	 * once: the cycle steps from the loop. */
	assert_int_equal(F.n_ended, 0);
	assert_true(cycle_running(F.cycle));
	run();
	assert_int_equal(F.n_ended, 1);
	assert_int_equal(F.ended_r, 0);
	assert_string_equal(F.summary, "2 role(s) refreshed");
	assert_false(cycle_running(F.cycle));
	assert_int_equal(F.signin.state, SIGNIN_SIGNED_IN);
	assert_true(F.store.signed_in);
	assert_string_equal(F.store.user, "EXAMPLE\\jdoe");
	/* Not remembered: the password is gone with the round. */
	assert_null(F.signin.password);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(F.store.roles[i].state, ROLE_VALID);
		assert_true(role_has_valid_creds(&F.store.roles[i], NOW));
		assert_int_equal(F.store.roles[i].duration_used, 43200);
		assert_int_equal(F.store.roles[i].max_source,
				 MAX_SOURCE_GET_ROLE);
		assert_non_null(F.plans.v[i].principal_arn);
		/* 12 h session: refresh min_remaining (default) before. */
		assert_true(F.plans.v[i].next_refresh > NOW);
		assert_true(F.plans.v[i].next_refresh <
			    NOW + 43200 * USEC_PER_SEC);
	}
	assert_int_equal(F.fake.n_pw_sent, 1);
	assert_string_equal(F.fake.last_pw, "right");
}

/* The lockout rule: a rejected password is never sent again, by no path
 * but a new login. */
static void test_rejected_password_never_resent(void **state)
{
	struct persist_state st = { 0 };
	struct store restored = { 0 };
	struct plans rplans = { 0 };
	struct signin fresh = { 0 };
	const char *why = NULL;
	char dir[] = "/tmp/test-cycle-XXXXXX";

	teardown(state);
	setup_with(true, true); /* remember_password: true */
	F.fake.assertion_r = -EACCES;
	assert_int_equal(login("wrong"), 0);
	run();
	assert_int_equal(F.fake.n_pw_sent, 1);
	assert_int_equal(F.ended_r, -EACCES);
	assert_int_equal(F.signin.state, SIGNIN_FAILED);
	assert_null(F.signin.password); /* wiped at once */
	assert_string_equal(F.signin.error, "Incorrect user ID or password");
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(F.store.roles[i].state, ROLE_FAILED);
		assert_int_equal(F.plans.v[i].next_refresh, 0);
	}

	/* The timer: may not start, and a refresh is refused. */
	assert_false(signin_timer_may_start(&F.signin));
	assert_false(signin_may_refresh(&F.signin));
	/* Even a cycle started anyway (a bug elsewhere) gets no password. */
	F.fake.assertion_r = -ENOKEY;
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.fake.n_assertion, 2);
	assert_int_equal(F.fake.n_pw_sent, 1);
	/* An explicit refresh the same way. */
	assert_int_equal(cycle_start(F.cycle, "", false, false, true), 0);
	run();
	assert_int_equal(F.fake.n_pw_sent, 1);
	/* A reload (remember_password set again). */
	signin_configure(&F.signin, SIGNIN_AUTH_FORMS, true, false);
	assert_null(signin_begin_round(&F.signin, false));
	/* A restart: nothing saved holds a password, so the new process
	 * has none to send. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(persist_save(dir, "id", &F.store, &F.plans, NULL, 0,
				      NULL, NULL, NOW),
			 0);
	assert_int_equal(persist_load(dir, "id", NOW, &restored, &rplans, true,
				      &st, &why),
			 1);
	signin_configure(&fresh, SIGNIN_AUTH_FORMS, true, false);
	assert_null(fresh.password);
	assert_null(signin_begin_round(&fresh, false));
	assert_int_equal(persist_remove(dir), 0);
	assert_int_equal(rmdir(dir), 0);
	persist_state_clear(&st);
	store_clear(&restored);
	plans_clear(&rplans);

	/* Only a new login sends a password, and it is the new one. */
	F.fake.assertion_r = 0;
	assert_int_equal(login("right"), 0);
	run();
	assert_int_equal(F.fake.n_pw_sent, 2);
	assert_string_equal(F.fake.last_pw, "right");
	assert_int_equal(F.signin.state, SIGNIN_SIGNED_IN);
	/* Remembered now, and sent by the timer's rounds. */
	assert_non_null(F.signin.password);
	test_clock_set(F.plans.v[0].next_refresh);
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.fake.n_pw_sent, 3);
}

/* STS down on the timer: each role waits with a backoff that grows, no
 * longer than the credentials it still has last; it recovers at once. */
static void test_sts_outage_backoff(void **state)
{
	usec_t t;

	assert_int_equal(login("pw"), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	t = F.plans.v[0].next_refresh;
	for (int k = 0; k < 6; k++) {
		usec_t delay, want, cap;

		test_clock_set(t);
		F.fake.n_sts_script = F.fake.n_assume + 64;
		for (size_t i = 0; i < ELEMENTSOF(F.fake.sts); i++)
			F.fake.sts[i] = CYCLE_STS_FAILED;
		F.fake.n_assume = 0;
		assert_int_equal(timer_cycle(), 0);
		run();
		assert_int_equal(F.ended_r, -EREMOTEIO);
		assert_int_equal(F.plans.v[0].failures, (unsigned)k + 1);
		/* Still valid: served meanwhile. */
		assert_int_equal(F.store.roles[0].state, ROLE_VALID);
		assert_string_equal(F.store.roles[0].last_error, "STS is down");
		/* 30 s, doubling, at most 10 min, and at most a quarter
		 * of what the credentials have left (no jitter here). */
		delay = F.plans.v[0].next_refresh - t;
		want = REFRESH_BACKOFF_MIN << k;
		if (want > REFRESH_BACKOFF_MAX)
			want = REFRESH_BACKOFF_MAX;
		cap = (F.store.roles[0].creds->expiration - t) / 4;
		if (cap < REFRESH_BACKOFF_MIN)
			cap = REFRESH_BACKOFF_MIN;
		if (want > cap)
			want = cap;
		assert_true(delay == want);
		assert_true(F.plans.v[0].next_refresh <
			    F.store.roles[0].creds->expiration);
		t = F.plans.v[0].next_refresh;
	}
	/* STS is back. */
	test_clock_set(t);
	F.fake.n_sts_script = 0;
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	assert_int_equal(F.plans.v[0].failures, 0);
	assert_null(F.store.roles[0].last_error);
}

/* A cycle that outlives its assertion (4 min) fetches a new one for the
 * roles left, without the password on a timer cycle. */
static void test_stale_assertion_refetch(void **state)
{
	assert_int_equal(login("pw"), 0);
	run();
	test_clock_set(F.plans.v[1].next_refresh);
	F.fake.sts_call_takes = 5 * USEC_PER_MINUTE;
	F.fake.n_assertion = 0;
	F.fake.n_assume = 0;
	F.fake.iam = SIZING_OK;
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	/* prod: STS (5 min), GetRole; dev: the assertion is 5 min old, STS
	 * would refuse it: a new one first. */
	assert_int_equal(F.fake.n_assertion, 2);
	assert_int_equal(F.fake.n_pw_sent, 1); /* the login's only */
	assert_int_equal(F.fake.n_assume, 2);
	assert_int_equal(F.store.roles[1].state, ROLE_VALID);
}

/* A role the new assertion no longer offers fails without retry; the
 * one that was served keeps its new session. */
static void test_role_removed_mid_cycle(void **state)
{
	assert_int_equal(login("pw"), 0);
	run();
	test_clock_set(F.plans.v[1].next_refresh);
	F.fake.sts_call_takes = 5 * USEC_PER_MINUTE;
	F.fake.saml = saml_prod_only;
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.ended_r, -EREMOTEIO);
	assert_int_equal(F.store.roles[0].state, ROLE_VALID);
	assert_int_equal(F.store.roles[1].state, ROLE_VALID); /* still valid */
	assert_int_equal(F.plans.v[1].next_refresh, 0);       /* no retry */
	assert_non_null(strstr(F.store.roles[1].last_error,
			       "ADFS does not offer role"));
}

/* GetRole denied: probe with STS from then on. GetRole failing (a 500):
 * keep the session, try GetRole again next time. */
static void test_get_role_denied_vs_failed(void **state)
{
	F.fake.iam = SIZING_DENIED;
	F.fake.sts_cap = 14400;
	assert_int_equal(login("pw"), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	assert_true(F.plans.v[0].sizing.get_role_denied);
	assert_int_equal(F.store.roles[0].max_source, MAX_SOURCE_PROBE);
	assert_int_equal(F.store.roles[0].duration_used, 14400);
	assert_int_not_equal(F.plans.v[0].probed_up, 0);
	assert_true(F.fake.n_assume > 2);

	teardown(state);
	setup(state);
	F.fake.iam = SIZING_FAILED;
	F.fake.sts_cap = 14400;
	assert_int_equal(login("pw"), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	assert_false(F.plans.v[0].sizing.get_role_denied);
	assert_int_equal(F.plans.v[0].probed_up, 0);
	assert_int_equal(F.store.roles[0].state, ROLE_VALID);
	assert_null(F.store.roles[0].last_error);
	assert_int_not_equal(F.store.roles[0].max_source, MAX_SOURCE_GET_ROLE);
}

/* Logout while STS is being asked: the calls stop, no hook runs, a late
 * answer changes nothing. */
static void test_logout_mid_cycle(void **state)
{
	struct sts_creds *late = calloc(1, sizeof(*late));

	F.fake.async = true;
	assert_int_equal(login("pw"), 0);
	run();
	answer(); /* the assertion */
	run();
	assert_int_equal(F.fake.pending, ASSUME);
	cycle_cancel(F.cycle);
	signin_logout(&F.signin);
	cycle_forget(F.cycle, false);
	assert_int_equal(F.fake.n_cancel, 1);
	assert_false(cycle_running(F.cycle));
	assert_null(F.signin.password);
	/* A stale answer after the cancel is dropped. */
	assert_non_null(late);
	cycle_assume_done(F.cycle, CYCLE_STS_OK, late, NULL, 0);
	run();
	assert_int_equal(F.n_ended, 0);
	assert_null(F.store.roles[0].creds);
	assert_int_equal(F.store.roles[0].state, ROLE_EMPTY);
	/* And a new cycle can start. */
	F.fake.async = false;
	assert_int_equal(login("pw"), 0);
	run();
	assert_int_equal(F.ended_r, 0);
}

/* A reload swaps the configuration under a running cycle: the cycle reads
 * it through the one slot, never a copy of the old one. */
static void test_reload_mid_cycle(void **state)
{
	struct conf *n;

	F.fake.async = true;
	assert_int_equal(login("pw"), 0);
	run();
	answer();
	run();
	n = make_conf(false, true);
	n->refresh.min_remaining = 2 * USEC_PER_HOUR;
	conf_free(F.conf);
	F.conf = n;
	while (F.fake.pending != NONE) {
		answer();
		run();
	}
	assert_int_equal(F.n_ended, 1);
	assert_int_equal(F.ended_r, 0);
	/* Planned with the new lead: 2 h before the 12 h expiry. */
	assert_true(F.plans.v[0].next_refresh ==
		    F.store.roles[0].creds->expiration - 2 * USEC_PER_HOUR);
}

/* ADFS down: roles due wait with backoff, the sign-in goes back to where
 * it was, nothing valid is dropped. */
static void test_adfs_down(void **state)
{
	assert_int_equal(login("pw"), 0);
	run();
	test_clock_set(F.plans.v[0].next_refresh);
	F.fake.assertion_r = -ETIMEDOUT;
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.ended_r, -ETIMEDOUT);
	assert_int_equal(F.signin.state, SIGNIN_SIGNED_IN);
	assert_int_equal(F.store.roles[0].state, ROLE_VALID);
	assert_int_equal(F.plans.v[0].failures, 1);
	assert_true(F.plans.v[0].next_refresh > now_wall());
}

struct clock_fake {
	usec_t boot;
	unsigned fired;
};

static usec_t fake_wall(void *ud)
{
	return now_wall();
}

static usec_t fake_boot(void *ud)
{
	return ((struct clock_fake *)ud)->boot;
}

/* What the ECS endpoint answers for role at now (the pure route, as a
 * request from our own uid on loopback with the right token). */
static unsigned ecs_status(const char *role, usec_t now)
{
	struct secret *token = secret_new_from("tok", 3);
	struct peer_info peer = { .loopback = true, .uid_known = true,
				  .uid = 1000 };
	struct guard g = { .self = 1000, .conf = &F.conf };
	struct ecs e = { .store = &F.store, .token = token, .guard = &g };
	char path[64];
	struct http_request req = {
		.method = "GET",
		.path = path,
		.host = "127.0.0.1:9911",
		.n_host = 1,
		.authorization = "tok",
		.peer = &peer,
		.now_wall = now,
		.now_mono = 1,
	};
	struct http_answer a;
	unsigned st;

	assert_non_null(token);
	(void)snprintf(path, sizeof(path), "/role/%s", role);
	http_answer_init(&a);
	http_route_ecs(&e, &req, &a);
	st = a.status;
	http_answer_clear(&a);
	guard_clear(&g);
	secret_free(token);
	return st;
}

static void on_fired(void *ud)
{
	((struct clock_fake *)ud)->fired++;
}

/* A suspend: wall and boot clocks jump 10 h. The watch fires, the roles
 * that ran out are expired (never served), and the refresh is due at
 * once. */
static void test_suspend_10h(void **state)
{
	struct clock_fake cf = { .boot = 5000 * USEC_PER_SEC };
	struct schedule_clock clk = { fake_wall, fake_boot, &cf };
	struct schedule *s = NULL;
	usec_t when, now;

	assert_int_equal(schedule_new(F.e, &clk, on_fired, &cf, &s), 0);
	assert_int_equal(login("pw"), 0);
	run();
	when = plans_next_wakeup(&F.plans, &F.store, now_wall(), true);
	schedule_arm(s, when);
	assert_int_equal(ecs_status("prod", now_wall()), 200);
	assert_true(schedule_armed_at(s) == cf.boot + (when - NOW));

	now = NOW + F.store.roles[0].duration_used * USEC_PER_SEC +
	      10 * USEC_PER_HOUR;
	test_clock_set(now);
	cf.boot += 10 * USEC_PER_HOUR + 43200 * USEC_PER_SEC;
	/* Nothing that ran out is served, before the timer even looks. */
	assert_int_equal(ecs_status("prod", now), 503);
	assert_int_equal(ecs_status("dev", now), 503);
	schedule_clock_changed(s);
	assert_int_equal(cf.fired, 1);
	/* What the manager does when it fires. */
	plans_expire(&F.store, now);
	for (size_t i = 0; i < 2; i++) {
		assert_false(role_has_valid_creds(&F.store.roles[i], now));
		assert_int_equal(F.store.roles[i].state, ROLE_EXPIRED);
		assert_int_equal(role_state_shown(&F.store, &F.store.roles[i],
						  now),
				 ROLE_EXPIRED);
	}
	assert_true(plans_any_due(&F.plans, &F.store, now));
	when = plans_next_wakeup(&F.plans, &F.store, now, true);
	assert_true(when <= now);
	schedule_arm(s, when);
	assert_true(schedule_armed_at(s) == cf.boot); /* at once */
	assert_int_equal(timer_cycle(), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	assert_true(role_has_valid_creds(&F.store.roles[0], now));
	assert_int_equal(ecs_status("prod", now), 200);
	schedule_free(s);
}

/* With no roles configured, the assertion's roles are adopted. */
static void test_adopt_roles(void **state)
{
	teardown(state);
	setup_with(false, false);
	assert_int_equal(login("pw"), 0);
	run();
	assert_int_equal(F.ended_r, 0);
	assert_int_equal(F.store.n_roles, 3);
	assert_int_equal(F.plans.n, 3);
	assert_non_null(store_find(&F.store, "ADFS-ReadOnly"));
	cycle_forget(F.cycle, true);
	assert_int_equal(F.store.n_roles, 0);
	assert_int_equal(F.plans.n, 0);
	assert_null(cycle_offered(F.cycle));
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	(void)EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
			      (int)n);
	return out;
}

static char *drop_lines(const char *s, const char *needle)
{
	char *out = strdup(s), *p;

	assert_non_null(out);
	while ((p = strstr(out, needle))) {
		char *bol = p, *eol = strchr(p, '\n');

		while (bol > out && bol[-1] != '\n')
			bol--;
		memmove(bol, eol ? eol + 1 : p + strlen(p),
			strlen(eol ? eol + 1 : p + strlen(p)) + 1);
	}
	return out;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rejected_password_never_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sts_outage_backoff, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_assertion_refetch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_removed_mid_cycle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_role_denied_vs_failed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_logout_mid_cycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reload_mid_cycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adfs_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend_10h, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_adopt_roles, setup,
						teardown),
	};
	struct buf b;
	char *only;
	int r;

	log_set_level(LOG_CRIT);
	test_read_fixture("saml-response.xml", &b);
	saml_both = b64(b.data);
	only = drop_lines(b.data, "ADFS-Dev");
	saml_prod_only = b64(only);
	free(only);
	buf_clear(&b);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	free(saml_both);
	free(saml_prod_only);
	return r;
}
