/* The sign-in rules (signin.c), as pure transitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "signin.h"

static struct secret *pw(const char *s)
{
	struct secret *p = secret_new_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

static void test_login_round(void **state)
{
	struct signin s = { 0 };
	const struct secret *p;

	signin_configure(&s, SIGNIN_AUTH_FORMS, false, false);
	assert_null(signin_begin_round(&s, false));
	assert_int_equal(s.state, SIGNIN_SIGNED_OUT);
	signin_login(&s, pw("secret"), NULL);
	p = signin_begin_round(&s, true);
	assert_non_null(p);
	assert_int_equal(s.state, SIGNIN_SIGNING_IN);
	signin_succeeded(&s, true, 42);
	assert_int_equal(s.state, SIGNIN_SIGNED_IN);
	assert_true(s.sso_since == 42);
	signin_round_end(&s);
	/* Not remembered: gone after the round. */
	assert_null(s.password);
	signin_clear(&s);
}

static void test_remembered(void **state)
{
	struct signin s = { 0 };

	signin_configure(&s, SIGNIN_AUTH_FORMS, true, false);
	signin_login(&s, pw("secret"), NULL);
	assert_non_null(signin_begin_round(&s, true));
	signin_succeeded(&s, true, 1);
	signin_round_end(&s);
	assert_non_null(s.password);
	/* A refresh round sends it, and it stays. */
	assert_non_null(signin_begin_round(&s, false));
	signin_succeeded(&s, false, 2);
	assert_true(s.sso_since == 1); /* no password posted: same SSO */
	signin_round_end(&s);
	assert_non_null(s.password);
	signin_logout(&s);
	assert_null(s.password);
	assert_int_equal(s.state, SIGNIN_SIGNED_OUT);
	signin_clear(&s);
}

/* What the horizon learns: the SSO's start, the last round that worked,
 * a lifetime seen ending early (and forgotten when one outlives it), and
 * whether the password needed a second factor. */
static void test_sso_facts(void **state)
{
	struct signin s = { 0 };
	const usec_t h = USEC_PER_HOUR;

	signin_configure(&s, SIGNIN_AUTH_FORMS, true, false);
	signin_login(&s, pw("secret"), NULL);
	assert_non_null(signin_begin_round(&s, true));
	signin_mfa_pending(&s);
	signin_mfa_answered(&s);
	signin_succeeded(&s, true, 100 * h);
	assert_true(s.mfa_at_signin);
	assert_true(signin_password_at_hand(&s));
	(void)signin_begin_round(&s, false);
	signin_succeeded(&s, false, 101 * h);
	assert_true(s.sso_since == 100 * h && s.sso_alive_at == 101 * h);
	assert_true(s.mfa_at_signin); /* a cookie round changes nothing */
	signin_sso_ended(&s, "ended", 102 * h);
	/* It ended after the last round that worked: at least 1 h. */
	assert_true(s.sso_lifetime_seen == 1 * h);
	/* The next sign-in without a second factor, outliving 1 h. */
	signin_login(&s, pw("secret"), NULL);
	assert_non_null(signin_begin_round(&s, true));
	signin_succeeded(&s, true, 200 * h);
	assert_false(s.mfa_at_signin);
	signin_succeeded(&s, false, 201 * h);
	assert_true(s.sso_lifetime_seen == 1 * h);
	signin_succeeded(&s, false, 203 * h);
	assert_true(s.sso_lifetime_seen == 3 * h);
	/* Kerberos: no cookie lifetime is learnt from a missing ticket. */
	signin_configure(&s, SIGNIN_AUTH_KERBEROS, false, false);
	signin_sso_ended(&s, "no ticket", 204 * h);
	assert_true(s.sso_lifetime_seen == 3 * h);
	/* A rejected password is not at hand. */
	signin_configure(&s, SIGNIN_AUTH_FORMS, true, false);
	signin_login(&s, pw("wrong"), NULL);
	(void)signin_begin_round(&s, true);
	signin_rejected(&s, "no");
	assert_false(signin_password_at_hand(&s));
	signin_logout(&s);
	assert_true(s.sso_since == 0 && s.sso_alive_at == 0);
	signin_clear(&s);
}

static void test_rejected(void **state)
{
	struct signin s = { 0 };

	signin_configure(&s, SIGNIN_AUTH_FORMS, true, true);
	signin_login(&s, pw("wrong"), NULL);
	assert_non_null(signin_begin_round(&s, true));
	signin_rejected(&s, "Incorrect user ID or password");
	assert_int_equal(s.state, SIGNIN_FAILED);
	assert_null(s.password);
	assert_string_equal(s.error, "Incorrect user ID or password");
	/* No path sends it again. */
	assert_null(signin_begin_round(&s, false));
	assert_false(signin_timer_may_start(&s));
	assert_false(signin_may_refresh(&s));
	signin_configure(&s, SIGNIN_AUTH_FORMS, true, true); /* reload */
	assert_null(signin_begin_round(&s, false));
	assert_false(signin_timer_may_start(&s));
	/* A new login does. */
	signin_login(&s, pw("right"), NULL);
	assert_int_not_equal(s.state, SIGNIN_FAILED);
	assert_string_equal(signin_begin_round(&s, true)->data, "right");
	signin_clear(&s);
}

static void test_timer_rules(void **state)
{
	struct signin s = { 0 };

	/* Signed out, prompt: the timer waits for a login. */
	signin_configure(&s, SIGNIN_AUTH_FORMS, false, false);
	assert_false(signin_timer_may_start(&s));
	/* A password file: the sign-in at start failed, try again. */
	signin_configure(&s, SIGNIN_AUTH_FORMS, false, true);
	assert_true(signin_timer_may_start(&s));
	assert_true(signin_timer_logs_in(&s));
	/* Kerberos renews alone, even after the SSO ended. */
	signin_configure(&s, SIGNIN_AUTH_KERBEROS, false, false);
	signin_sso_ended(&s, "ended", 10);
	assert_int_equal(s.state, SIGNIN_NOT_SIGNED_IN);
	assert_true(signin_timer_may_start(&s));
	signin_configure(&s, SIGNIN_AUTH_FORMS, false, false);
	assert_false(signin_timer_may_start(&s));
	/* Waiting on a second factor: not the timer's. */
	signin_mfa_pending(&s);
	assert_false(signin_timer_may_start(&s));
	signin_mfa_answered(&s);
	assert_int_equal(s.state, SIGNIN_SIGNING_IN);
	/* ADFS down during a round: back to where it was. */
	signin_round_failed(&s, "timeout");
	assert_int_equal(s.state, SIGNIN_SIGNED_OUT);
	signin_restored(&s, 7);
	assert_int_equal(s.state, SIGNIN_SIGNED_IN);
	assert_true(s.signed_in);
	assert_null(signin_begin_round(&s, false));
	signin_round_failed(&s, "timeout");
	assert_int_equal(s.state, SIGNIN_SIGNED_IN);
	assert_string_equal(signin_state_to_string(s.state), "signed_in");
	signin_clear(&s);
}

/* A login the user cancelled: back to where it was, the password wiped
 * (remembered too), and the timer sends none, not even from a file,
 * until the next login. */
static void test_cancelled(void **state)
{
	struct signin s = { 0 };

	signin_configure(&s, SIGNIN_AUTH_FORMS, true, true);
	signin_login(&s, pw("secret"), NULL);
	assert_non_null(signin_begin_round(&s, true));
	signin_mfa_pending(&s);
	signin_mfa_answered(&s);
	signin_cancelled(&s, "the sign-in was cancelled");
	assert_int_equal(s.state, SIGNIN_SIGNED_OUT);
	assert_null(s.password);
	assert_string_equal(s.error, "the sign-in was cancelled");
	assert_false(signin_timer_may_start(&s));
	assert_null(signin_begin_round(&s, false));
	/* Not a rejection: a login may go on at once. */
	assert_true(signin_may_refresh(&s));
	signin_login(&s, pw("secret"), NULL);
	assert_true(signin_timer_may_start(&s));
	assert_non_null(signin_begin_round(&s, true));
	signin_succeeded(&s, true, 5);

	/* Signed in, a renewal with the remembered password cancelled:
	 * still signed in with the SSO it had. */
	assert_non_null(signin_begin_round(&s, false));
	signin_cancelled(&s, "the sign-in was cancelled");
	assert_int_equal(s.state, SIGNIN_SIGNED_IN);
	assert_null(s.password);
	/* A round without a password (cookies) is left as it is. */
	assert_null(signin_begin_round(&s, false));
	signin_cancelled(&s, "x");
	assert_int_equal(s.state, SIGNIN_SIGNED_IN);
	signin_clear(&s);
}

/* A password file ADFS rejected stays rejected, by its version, until it
 * changes or the user logs in; a credential until a login. */
static void test_rejected_source(void **state)
{
	struct signin_source v1 = { .ref = (char *)"file:/home/a/pw", .dev = 1,
				    .ino = 10, .mtime_ns = 100, .ctime_ns = 100 };
	struct signin_source v2 = v1, other = v1, cred = { 0 };
	struct signin s = { 0 }, restarted = { 0 };

	v2.mtime_ns = 200; /* written anew */
	other.ref = (char *)"file:/home/a/pw2";
	signin_configure(&s, SIGNIN_AUTH_FORMS, false, true);
	signin_login(&s, pw("wrong"), &v1);
	assert_false(signin_source_blocked(&s, &v1));
	assert_non_null(signin_begin_round(&s, true));
	signin_rejected(&s, "Incorrect user ID or password");
	assert_null(s.password);
	assert_true(signin_source_blocked(&s, &v1));
	assert_false(signin_source_blocked(&s, &v2));    /* changed */
	assert_false(signin_source_blocked(&s, &other)); /* another source */
	assert_true(signin_source_may_retry(&s));
	/* A reload keeps it. */
	signin_configure(&s, SIGNIN_AUTH_FORMS, false, true);
	assert_true(signin_source_blocked(&s, &v1));
	/* A restart keeps it (state.c copies the saved one back). */
	assert_int_equal(signin_source_copy(&restarted.rejected, &s.rejected),
			 0);
	assert_true(signin_source_blocked(&restarted, &v1));
	signin_source_refused(&restarted, "rejected before");
	assert_int_equal(restarted.state, SIGNIN_FAILED);
	signin_clear(&restarted);
	/* A login clears it. */
	signin_forget_rejection(&s);
	assert_false(signin_source_blocked(&s, &v1));
	/* A credential: systemd writes it anew at every start, so only a
	 * login clears it. */
	cred = v1;
	cred.ref = (char *)"credential:adfs-password";
	cred.credential = true;
	signin_login(&s, pw("wrong"), &cred);
	(void)signin_begin_round(&s, true);
	signin_rejected(&s, "Incorrect user ID or password");
	cred.ino = 11;
	cred.mtime_ns = 300;
	assert_true(signin_source_blocked(&s, &cred));
	assert_false(signin_source_may_retry(&s));
	signin_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_round),
		cmocka_unit_test(test_remembered),
		cmocka_unit_test(test_sso_facts),
		cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_timer_rules),
		cmocka_unit_test(test_rejected_source),
		cmocka_unit_test(test_cancelled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
