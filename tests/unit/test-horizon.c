/* The unattended horizon (session/horizon.c): what renews until when, how
 * long each role is served, the last-call refresh and check's answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "session/horizon.h"

#define H USEC_PER_HOUR
#define M USEC_PER_MINUTE
#define T0 ((usec_t)1800000000 * USEC_PER_SEC) /* 2027-01-15 */

static struct horizon_facts forms(void)
{
	return (struct horizon_facts){
		.state = SIGNIN_SIGNED_IN,
		.auth = SIGNIN_AUTH_FORMS,
		.sso_since = T0,
		.sso_lifetime = 8 * H,
	};
}

static void test_sso_from_config(void **state)
{
	struct horizon_facts f = forms();
	struct horizon h = horizon_of(&f);

	assert_int_equal(h.by, HORIZON_SSO);
	assert_int_equal(h.source, HORIZON_FROM_CONFIG);
	assert_true(h.until == T0 + 8 * H);
	assert_string_equal(horizon_by_to_string(h.by), "sso");
	assert_string_equal(horizon_source_to_string(h.source), "config");

	/* An SSO seen ending after 2 h: that is what the next ones last. */
	f.sso_lifetime_seen = 2 * H;
	h = horizon_of(&f);
	assert_int_equal(h.source, HORIZON_FROM_OBSERVED);
	assert_true(h.until == T0 + 2 * H);
	/* A longer one seen is no reason to trust more than configured. */
	f.sso_lifetime_seen = 10 * H;
	h = horizon_of(&f);
	assert_true(h.until == T0 + 8 * H);
	/* Still renewing past the configured end: at least until then. */
	f.sso_alive_at = T0 + 9 * H;
	h = horizon_of(&f);
	assert_int_equal(h.source, HORIZON_FROM_OBSERVED);
	assert_true(h.until == T0 + 9 * H);
	/* The SSO's start unknown: no promise. */
	f = forms();
	f.sso_since = 0;
	assert_int_equal(horizon_of(&f).by, HORIZON_NONE);
}

static void test_kmsi_and_kerberos(void **state)
{
	struct horizon_facts f = forms();
	struct horizon h;

	f.kmsi_expiry = T0 + 24 * H;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_KMSI);
	assert_int_equal(h.source, HORIZON_FROM_COOKIE);
	assert_true(h.until == T0 + 24 * H);
	/* The persistent cookie is the SSO: its expiry, even before the
	 * configured lifetime would end (a farm's KmsiLifetimeMins). */
	f.kmsi_expiry = T0 + H;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_KMSI);
	assert_true(h.until == T0 + H);

	/* Kerberos: the ticket, or the SSO it started when that is later;
	 * a ticket counts only for auth: kerberos. */
	f = forms();
	f.ticket_end = T0 + 10 * H;
	assert_int_equal(horizon_of(&f).by, HORIZON_SSO);
	f.auth = SIGNIN_AUTH_KERBEROS;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_KERBEROS);
	assert_int_equal(h.source, HORIZON_FROM_TICKET);
	assert_true(h.until == T0 + 10 * H);
	f.ticket_end = T0 + 4 * H;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_SSO);
	assert_true(h.until == T0 + 8 * H);
	/* No password makes Kerberos unbounded. */
	f.password_at_hand = true;
	assert_int_equal(horizon_of(&f).by, HORIZON_SSO);
	/* Not signed in (no ticket ADFS took): nothing renews. */
	f.state = SIGNIN_NOT_SIGNED_IN;
	assert_int_equal(horizon_of(&f).by, HORIZON_NONE);
}

static void test_password_and_none(void **state)
{
	struct horizon_facts f = forms();
	struct horizon h;

	f.password_at_hand = true;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_PASSWORD);
	assert_true(h.until == USEC_INFINITY);
	/* A password that needed a second factor cannot renew alone. */
	f.mfa_at_signin = true;
	assert_int_equal(horizon_of(&f).by, HORIZON_SSO);
	/* WS-Trust: the password each time, no SSO. */
	f = forms();
	f.auth = SIGNIN_AUTH_WSTRUST;
	assert_int_equal(horizon_of(&f).by, HORIZON_NONE);
	f.password_at_hand = true;
	assert_int_equal(horizon_of(&f).by, HORIZON_PASSWORD);
	/* Rejected, ended, signed out. */
	f = forms();
	f.password_at_hand = true;
	f.state = SIGNIN_FAILED;
	assert_int_equal(horizon_of(&f).by, HORIZON_NONE);
	f = forms();
	f.state = SIGNIN_NOT_SIGNED_IN;
	assert_int_equal(horizon_of(&f).by, HORIZON_NONE);
	f.state = SIGNIN_SIGNED_OUT;
	h = horizon_of(&f);
	assert_int_equal(h.by, HORIZON_NONE);
	assert_true(h.until == 0);
}

static void test_served_until(void **state)
{
	struct horizon unbounded = { HORIZON_PASSWORD, HORIZON_FROM_NONE,
				     USEC_INFINITY };
	struct horizon none = { HORIZON_NONE, HORIZON_FROM_NONE, 0 };
	struct horizon sso = { HORIZON_SSO, HORIZON_FROM_CONFIG, T0 + 8 * H };
	usec_t now = T0 + H;

	assert_true(horizon_served_until(&unbounded, T0 + 2 * H, H, now) ==
		    USEC_INFINITY);
	assert_true(horizon_served_until(&none, T0 + 2 * H, H, now) ==
		    T0 + 2 * H);
	/* The last renewal, 5 min before the SSO ends, gets 4 h more; the
	 * promise is 5 min less (the last call is skipped when it would
	 * gain less than that). */
	assert_true(horizon_served_until(&sso, T0 + 2 * H, 4 * H, now) ==
		    T0 + 8 * H - HORIZON_LAST_CALL + 4 * H -
			    HORIZON_LAST_CALL_GAIN);
	/* Past the last call: what is held. */
	assert_true(horizon_served_until(&sso, T0 + 11 * H, 4 * H,
					 T0 + 8 * H - M) == T0 + 11 * H);
	/* Held credentials outlasting any renewal count. */
	assert_true(horizon_served_until(&sso, T0 + 13 * H, H, now) ==
		    T0 + 13 * H);
}

static void test_last_call(void **state)
{
	struct horizon sso = { HORIZON_SSO, HORIZON_FROM_CONFIG, T0 + 8 * H };
	struct horizon unbounded = { HORIZON_PASSWORD, HORIZON_FROM_NONE,
				     USEC_INFINITY };
	usec_t last = T0 + 8 * H - HORIZON_LAST_CALL, now = T0 + 6 * H;

	/* The plan's next refresh is after the SSO ends: call it last. */
	assert_true(horizon_last_call(&sso, T0 + 9 * H, 4 * H, T0 + 8 * H + M,
				      now) == last);
	assert_true(horizon_last_call(&sso, T0 + 9 * H, 4 * H, 0, now) ==
		    last);
	/* The plan refreshes before: worked out again after that. */
	assert_true(horizon_last_call(&sso, T0 + 9 * H, 4 * H, T0 + 7 * H,
				      now) == 0);
	/* Too little to gain: what is held reaches nearly as far. */
	assert_true(horizon_last_call(&sso, last + 4 * H - 4 * M, 4 * H, 0,
				      now) == 0);
	assert_true(horizon_last_call(&sso, last + 4 * H - 6 * M, 4 * H, 0,
				      now) == last);
	/* Past it, or nothing to call for. */
	assert_true(horizon_last_call(&sso, T0 + 9 * H, 4 * H, 0, last) == 0);
	assert_true(horizon_last_call(&unbounded, T0 + 9 * H, 4 * H, 0,
				      now) == 0);
}

static void test_check(void **state)
{
	struct horizon sso = { HORIZON_SSO, HORIZON_FROM_CONFIG, T0 + 8 * H };
	struct horizon unbounded = { HORIZON_PASSWORD, HORIZON_FROM_NONE,
				     USEC_INFINITY };
	struct horizon none = { HORIZON_NONE, HORIZON_FROM_NONE, 0 };
	usec_t served = T0 + 10 * H, now = T0 + H;
	char buf[512];

	/* Each side of the boundary: 9 h fits, 9 h and a second does not. */
	assert_true(horizon_check(&sso, "prod", true, served, 9 * H, now, buf,
				  sizeof(buf)));
	assert_string_equal(buf, "prod is served until 2027-01-15 18:00 UTC "
				 "(9h from now)");
	assert_false(horizon_check(&sso, "prod", true, served,
				   9 * H + USEC_PER_SEC, now, buf,
				   sizeof(buf)));
	assert_non_null(strstr(buf, "prod is served until 2027-01-15 18:00 UTC"));
	assert_non_null(strstr(buf, "(9h from now)"));
	assert_non_null(strstr(buf, "when the ADFS SSO ends"));
	assert_non_null(strstr(buf, "adfs.keep_me_signed_in"));

	assert_true(horizon_check(&unbounded, "prod", true, USEC_INFINITY,
				  100 * H, now, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "no end in sight"));
	assert_false(horizon_check(&none, "prod", false, 0, M, now, buf,
				   sizeof(buf)));
	assert_non_null(strstr(buf, "no valid credentials"));
	assert_non_null(strstr(buf, "adfs-credctl login"));
	assert_false(horizon_check(&none, "prod", true, T0 + 2 * H, 2 * H,
				   now, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "nothing can renew it without you"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sso_from_config),
		cmocka_unit_test(test_kmsi_and_kerberos),
		cmocka_unit_test(test_password_and_none),
		cmocka_unit_test(test_served_until),
		cmocka_unit_test(test_last_call),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
