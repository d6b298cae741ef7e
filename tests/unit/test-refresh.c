/* Unit tests for session/refresh.c: when sessions are refreshed, how
 * failures back off, which roles one cycle takes, when the timer fires.
 * Time is explicit (and, for the simulations, an injected wall clock);
 * randomness comes from sources the tests choose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "session/refresh.h"
#include "session/store.h"
#include "util/timeutil.h"

#include "test-util.h"

#define MIN (USEC_PER_MINUTE)
#define HOUR (USEC_PER_HOUR)
#define SEC (USEC_PER_SEC)
/* 2026-01-01T00:00:00Z: any fixed wall-clock time will do. */
#define T0 ((usec_t)1767225600 * USEC_PER_SEC)

/* Random sources: always the smallest value, always the largest, and a
 * seeded generator that also records the largest `max` it was asked. */
static uint64_t rnd_zero(uint64_t max, void *u)
{
	return 0;
}

static uint64_t rnd_max(uint64_t max, void *u)
{
	return max;
}

struct lcg {
	uint64_t state;
	uint64_t last_max;
};

static uint64_t rnd_lcg(uint64_t max, void *u)
{
	struct lcg *g = u;

	g->last_max = max;
	g->state = g->state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (g->state >> 11) % (max + 1);
}

static const struct refresh_random LOW = { rnd_zero, NULL };
static const struct refresh_random HIGH = { rnd_max, NULL };

/* The fake wall clock (test-util.h) for the simulations. */
static int use_fake_clock(void **state)
{
	test_clock_set(T0);
	return 0;
}

static int use_real_clock(void **state)
{
	test_clock_restore();
	return 0;
}

static void test_lead(void **state)
{
	/* lead = min(min_remaining, duration / 2) */
	assert_int_equal(refresh_lead(30 * MIN, 12 * HOUR), 30 * MIN);
	assert_int_equal(refresh_lead(30 * MIN, 1 * HOUR), 30 * MIN);
	assert_int_equal(refresh_lead(45 * MIN, 1 * HOUR), 30 * MIN);
	assert_int_equal(refresh_lead(30 * MIN, 15 * MIN), 7 * MIN + 30 * SEC);
	assert_int_equal(refresh_lead(6 * HOUR, 12 * HOUR), 6 * HOUR);
	assert_int_equal(refresh_lead(1 * MIN, 12 * HOUR), 1 * MIN);
}

static void test_jitter_bounds(void **state)
{
	struct lcg g = { .state = 42 };
	struct refresh_random r = { rnd_lcg, &g };

	/* min(5 min, duration / 10) */
	assert_int_equal(refresh_jitter_max(12 * HOUR), 5 * MIN);
	assert_int_equal(refresh_jitter_max(1 * HOUR), 5 * MIN);
	assert_int_equal(refresh_jitter_max(40 * MIN), 4 * MIN);
	assert_int_equal(refresh_jitter_max(15 * MIN), 90 * SEC);

	/* The random source is asked for exactly that range, and the plan
	 * stays inside [expiry - lead - jitter_max, expiry - lead]. */
	for (int i = 0; i < 2000; i++) {
		usec_t d = i % 2 ? 12 * HOUR : 15 * MIN;
		usec_t exp = T0 + d;
		usec_t p = refresh_plan(exp, d, 30 * MIN, &r);
		usec_t lead = refresh_lead(30 * MIN, d);

		assert_int_equal(g.last_max, refresh_jitter_max(d));
		assert_true(p <= exp - lead);
		assert_true(p >= exp - lead - refresh_jitter_max(d));
	}
	/* No random source: no jitter. */
	assert_int_equal(refresh_plan(T0 + HOUR, HOUR, 30 * MIN, NULL),
			 T0 + 30 * MIN);
}

static void test_plan_12h(void **state)
{
	usec_t exp = T0 + 12 * HOUR;

	/* Refreshed between 11h25m and 11h30m after it was issued. */
	assert_int_equal(refresh_plan(exp, 12 * HOUR, 30 * MIN, &LOW),
			 T0 + 11 * HOUR + 30 * MIN);
	assert_int_equal(refresh_plan(exp, 12 * HOUR, 30 * MIN, &HIGH),
			 T0 + 11 * HOUR + 25 * MIN);
}

static void test_plan_1h(void **state)
{
	usec_t exp = T0 + HOUR;

	/* At 30 min, minus up to 5 min of jitter. */
	assert_int_equal(refresh_plan(exp, HOUR, 30 * MIN, &LOW),
			 T0 + 30 * MIN);
	assert_int_equal(refresh_plan(exp, HOUR, 30 * MIN, &HIGH),
			 T0 + 25 * MIN);
}

static void test_plan_15min(void **state)
{
	usec_t exp = T0 + 15 * MIN;

	/* lead = 7m30s (half the session), jitter up to 90 s. */
	assert_int_equal(refresh_plan(exp, 15 * MIN, 30 * MIN, &LOW),
			 T0 + 7 * MIN + 30 * SEC);
	assert_int_equal(refresh_plan(exp, 15 * MIN, 30 * MIN, &HIGH),
			 T0 + 6 * MIN);
	/* Degenerate input never plans before the epoch. */
	assert_int_equal(refresh_plan(10 * SEC, 15 * MIN, 30 * MIN, &HIGH), 0);
}

static void test_backoff_sequence(void **state)
{
	static const usec_t want[] = { 30 * SEC,  60 * SEC,  120 * SEC,
				       240 * SEC, 480 * SEC, 600 * SEC,
				       600 * SEC, 600 * SEC };
	struct lcg g = { .state = 7 };
	struct refresh_random r = { rnd_lcg, &g };

	for (unsigned n = 1; n <= ELEMENTSOF(want); n++) {
		usec_t w = want[n - 1];

		/* No credentials left (expiry 0): the plain sequence. */
		assert_int_equal(refresh_backoff(n, T0, 0, &LOW), w);
		/* Jittered down by at most a quarter. */
		assert_int_equal(refresh_backoff(n, T0, 0, &HIGH), w - w / 4);
		for (int i = 0; i < 200; i++) {
			usec_t d = refresh_backoff(n, T0, 0, &r);

			assert_true(d <= w && d >= w - w / 4);
		}
	}
	/* The cap holds for any count, without overflow. */
	assert_int_equal(refresh_backoff(1000, T0, 0, &LOW), 10 * MIN);
	assert_int_equal(refresh_backoff(UINT32_MAX, T0, 0, &LOW), 10 * MIN);
	/* Expired credentials do not cap it. */
	assert_int_equal(refresh_backoff(6, T0, T0 - 1, &LOW), 10 * MIN);
	assert_int_equal(refresh_backoff(6, T0, T0, &LOW), 10 * MIN);
}

static void test_backoff_never_outlives_credentials(void **state)
{
	struct lcg g = { .state = 99 };
	struct refresh_random r = { rnd_lcg, &g };

	/* 20 min left: the 6th failure waits 5 min, not 10. */
	assert_int_equal(refresh_backoff(6, T0, T0 + 20 * MIN, &LOW), 5 * MIN);
	/* 8 min left: 2 min. */
	assert_int_equal(refresh_backoff(6, T0, T0 + 8 * MIN, &LOW), 2 * MIN);
	/* Early failures are short anyway. */
	assert_int_equal(refresh_backoff(1, T0, T0 + 8 * MIN, &LOW), 30 * SEC);
	/* Never under 30 s, however little is left. */
	assert_int_equal(refresh_backoff(6, T0, T0 + 60 * SEC, &LOW), 30 * SEC);
	assert_int_equal(refresh_backoff(6, T0, T0 + 1, &LOW), 30 * SEC);

	/* Whenever more than 30 s are left, the next try comes before the
	 * credentials end. */
	for (usec_t left = 31 * SEC; left < 13 * HOUR;
	     left += 7 * SEC + left / 9)
		for (unsigned n = 1; n < 12; n++) {
			usec_t d = refresh_backoff(n, T0, T0 + left, &r);

			assert_true(d < left);
			assert_true(d <= REFRESH_BACKOFF_MAX);
		}
}

static void test_batching(void **state)
{
	usec_t now = T0;
	struct refresh_role roles[] = {
		{ .next_refresh = now + 299 * SEC, .expiry = now + HOUR },
		{ .next_refresh = now + 5 * MIN, .expiry = now + HOUR },
		{ .next_refresh = now + 5 * MIN + 1, .expiry = now + HOUR },
		{ .next_refresh = 0, .expiry = now + HOUR }, /* none planned */
		{ .empty = true },                           /* never had any */
		{ .next_refresh = now - 2 * HOUR, .expiry = now - HOUR },
	};
	bool want[] = { true, true, false, true, true, true };

	for (size_t i = 0; i < ELEMENTSOF(roles); i++)
		assert_int_equal(refresh_is_due(&roles[i], now), want[i]);
	assert_true(refresh_any_due(roles, ELEMENTSOF(roles), now));
	/* Only a planned refresh makes the timer start a cycle: one due in
	 * 5 min + 1 us, an unplanned role and an empty one do not. */
	assert_false(refresh_any_due(&roles[2], 3, now));
	/* ... and 1 us later it does. */
	assert_true(refresh_any_due(&roles[2], 1, now + 1));
}

static void test_expired_never_valid(void **state)
{
	struct creds c = { .expiration = T0 + HOUR };
	struct role_session r = { .creds = &c };
	struct role_session none = { 0 };

	assert_true(refresh_creds_valid(T0 + HOUR, T0 + HOUR - 1));
	assert_false(refresh_creds_valid(T0 + HOUR, T0 + HOUR));
	assert_false(refresh_creds_valid(T0 + HOUR, T0 + 2 * HOUR));
	assert_false(refresh_creds_valid(0, 0));
	assert_false(refresh_creds_valid(0, T0));
	/* The store (what the endpoints serve) uses the same rule. */
	assert_true(role_has_valid_creds(&r, T0 + HOUR - 1));
	assert_false(role_has_valid_creds(&r, T0 + HOUR));
	assert_false(role_has_valid_creds(&none, T0));
}

static void test_next_wakeup(void **state)
{
	usec_t now = T0;
	struct refresh_role roles[] = {
		{ .next_refresh = now + 3 * HOUR, .expiry = now + 4 * HOUR },
		{ .next_refresh = now + 40 * MIN, .expiry = now + HOUR },
		{ .next_refresh = 0, .expiry = now + 20 * MIN }, /* unplanned */
		{ .next_refresh = 0, .expiry = now - MIN },      /* expired */
	};

	assert_int_equal(refresh_next_wakeup(roles, 2, now, true),
			 now + 40 * MIN);
	/* Valid credentials that nobody will refresh: wake at their end,
	 * to mark them expired on time. */
	assert_int_equal(refresh_next_wakeup(roles, 3, now, true),
			 now + 20 * MIN);
	/* When no cycle can start, only expiries count. */
	assert_int_equal(refresh_next_wakeup(roles, 2, now, false), now + HOUR);
	/* Expired credentials are no reason to wake up. */
	assert_int_equal(refresh_next_wakeup(&roles[3], 1, now, true),
			 USEC_INFINITY);
	assert_int_equal(refresh_next_wakeup(roles, 0, now, true),
			 USEC_INFINITY);
}

static void test_wall_clock_jump(void **state)
{
	/* A 12 h session planned at 11h30m; the laptop sleeps from hour 2 to
	 * hour 13. On resume the wall clock is past the plan (and the
	 * expiry): the role is due at once and the timer fires at once. */
	usec_t exp = T0 + 12 * HOUR;
	struct refresh_role r = {
		.next_refresh = refresh_plan(exp, 12 * HOUR, 30 * MIN, &LOW),
		.expiry = exp,
	};
	usec_t before = T0 + 2 * HOUR, after = T0 + 13 * HOUR;

	assert_false(refresh_any_due(&r, 1, before));
	assert_int_equal(refresh_next_wakeup(&r, 1, before, true),
			 r.next_refresh);
	assert_true(refresh_any_due(&r, 1, after));
	assert_true(refresh_is_due(&r, after));
	assert_true(refresh_next_wakeup(&r, 1, after, true) <= after);
	assert_false(refresh_creds_valid(r.expiry, after));

	/* A shorter sleep, to 11h40m: past the plan, before the expiry. */
	after = T0 + 11 * HOUR + 40 * MIN;
	assert_true(refresh_any_due(&r, 1, after));
	assert_true(refresh_next_wakeup(&r, 1, after, true) <= after);
	assert_true(refresh_creds_valid(r.expiry, after));
}

/* A role simulated over a day on the injected clock: the timer fires at
 * refresh_next_wakeup, a cycle refreshes what refresh_is_due says, STS
 * fails during `outage`. Checks what an SDK would see. */
struct sim {
	usec_t duration;
	usec_t outage_from, outage_to;
	usec_t min_left_at_refresh, max_left_at_refresh;
	usec_t min_left_seen; /* over the whole run, sampled every minute */
	unsigned expired_seen; /* samples without valid credentials */
	usec_t recovered_at;   /* first success at or after outage_to */
	unsigned refreshes, failures;
};

static void simulate(struct sim *s, usec_t span, struct refresh_random *rnd)
{
	struct refresh_role r = { .empty = true };
	unsigned failures = 0;
	usec_t end = now_wall() + span, sample = now_wall();

	s->min_left_at_refresh = s->min_left_seen = USEC_INFINITY;
	while (now_wall() < end) {
		usec_t now = now_wall(), wake;

		if (refresh_is_due(&r, now)) {
			if (now >= s->outage_from && now < s->outage_to) {
				failures++;
				s->failures++;
				r.next_refresh =
					now + refresh_backoff(failures, now,
							      r.expiry, rnd);
			} else {
				usec_t left = r.expiry > now ? r.expiry - now
							     : 0;

				if (!r.empty) {
					if (left < s->min_left_at_refresh)
						s->min_left_at_refresh = left;
					if (left > s->max_left_at_refresh)
						s->max_left_at_refresh = left;
				}
				if (s->outage_to && now >= s->outage_to &&
				    !s->recovered_at)
					s->recovered_at = now;
				failures = 0;
				s->refreshes++;
				r.empty = false;
				r.expiry = now + s->duration;
				r.next_refresh = refresh_plan(
					r.expiry, s->duration, 30 * MIN, rnd);
			}
		}
		wake = refresh_next_wakeup(&r, 1, now, true);
		assert_true(wake != USEC_INFINITY);
		/* What a client fetching every minute meanwhile sees. */
		for (; sample < wake && sample < end; sample += MIN) {
			usec_t left = r.expiry > sample ? r.expiry - sample : 0;

			if (!refresh_creds_valid(r.expiry, sample))
				s->expired_seen++;
			else if (left < s->min_left_seen)
				s->min_left_seen = left;
		}
		test_clock_set(wake > now ? wake : now + 1);
	}
}

static void test_simulated_day(void **state)
{
	struct lcg g = { .state = 2024 };
	struct refresh_random rnd = { rnd_lcg, &g };
	struct sim h1 = { .duration = HOUR }, h12 = { .duration = 12 * HOUR };
	struct sim m15 = { .duration = 15 * MIN };

	simulate(&h1, 24 * HOUR, &rnd);
	/* Refreshed with 30..35 min left; never served with less. */
	assert_true(h1.min_left_at_refresh >= 30 * MIN);
	assert_true(h1.max_left_at_refresh <= 35 * MIN);
	assert_true(h1.min_left_seen >= 30 * MIN);
	assert_int_equal(h1.expired_seen, 0);
	/* one every 25..30 min, plus the first */
	assert_true(h1.refreshes >= 49 && h1.refreshes <= 59);

	test_clock_set(T0);
	simulate(&h12, 24 * HOUR, &rnd);
	assert_true(h12.min_left_at_refresh >= 30 * MIN);
	assert_true(h12.max_left_at_refresh <= 35 * MIN);
	assert_int_equal(h12.refreshes, 3);

	test_clock_set(T0);
	simulate(&m15, 6 * HOUR, &rnd);
	assert_true(m15.min_left_at_refresh >= 7 * MIN + 30 * SEC);
	assert_true(m15.max_left_at_refresh <= 9 * MIN);
}

static void test_simulated_outage(void **state)
{
	struct lcg g = { .state = 77 };
	struct refresh_random rnd = { rnd_lcg, &g };
	/* 1 h sessions; STS fails for 20 min over the refresh at ~0h30m. */
	struct sim s = { .duration = HOUR,
			 .outage_from = T0 + 20 * MIN,
			 .outage_to = T0 + 40 * MIN };

	simulate(&s, 3 * HOUR, &rnd);
	assert_true(s.failures >= 3);
	/* The old credentials were served until the refresh worked, and the
	 * retries grew no longer than a quarter of what was left: recovered
	 * within a few minutes of the outage's end, before they ran out. */
	assert_int_equal(s.expired_seen, 0);
	assert_true(s.recovered_at >= s.outage_to);
	assert_true(s.recovered_at <= s.outage_to + 5 * MIN);
	assert_true(s.min_left_seen >= 15 * MIN);

	/* An outage longer than the session: the credentials run out (the
	 * endpoint then answers 503), retries go on at most 10 min apart,
	 * and the first one after the outage brings credentials back. */
	test_clock_set(T0);
	s = (struct sim){ .duration = HOUR,
			  .outage_from = T0 + 20 * MIN,
			  .outage_to = T0 + 3 * HOUR };
	simulate(&s, 5 * HOUR, &rnd);
	assert_true(s.expired_seen >= 100);
	assert_true(s.recovered_at >= s.outage_to);
	assert_true(s.recovered_at <= s.outage_to + REFRESH_BACKOFF_MAX);
	assert_true(s.min_left_at_refresh == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lead),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_plan_12h),
		cmocka_unit_test(test_plan_1h),
		cmocka_unit_test(test_plan_15min),
		cmocka_unit_test(test_backoff_sequence),
		cmocka_unit_test(test_backoff_never_outlives_credentials),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_expired_never_valid),
		cmocka_unit_test(test_next_wakeup),
		cmocka_unit_test(test_wall_clock_jump),
		cmocka_unit_test_setup_teardown(test_simulated_day,
						use_fake_clock, use_real_clock),
		cmocka_unit_test_setup_teardown(test_simulated_outage,
						use_fake_clock, use_real_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
