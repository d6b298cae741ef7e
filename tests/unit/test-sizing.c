/* Unit tests for session/sizing.c: which DurationSeconds to ask STS for,
 * driven by simulated STS/IAM answers for roles with known maxima. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "session/sizing.h"

/* A simulated account: a role with this maximum, GetRole allowed or not. */
struct world {
	uint32_t max;
	bool get_role_allowed;
	unsigned sts_calls, iam_calls;
	uint32_t asked[16];
};

/* Runs one cycle to the end; returns the duration of the credentials
 * held afterwards (0 when none). */
static uint32_t run_cycle(struct sizing *s, struct world *w)
{
	uint32_t d = 0, held = 0;
	enum sizing_action a = sizing_begin(s, &d);

	while (a != SIZING_DONE) {
		if (a == SIZING_ASSUME) {
			assert_true(w->sts_calls < 16);
			w->asked[w->sts_calls++] = d;
			if (d <= w->max) {
				held = d > held ? d : held;
				a = sizing_on_assume(s, SIZING_OK, &d);
			} else {
				a = sizing_on_assume(s, SIZING_TOO_LONG, &d);
			}
		} else {
			w->iam_calls++;
			a = sizing_on_get_role(s, w->get_role_allowed ? SIZING_OK
								       : SIZING_DENIED,
					       w->max, &d);
		}
	}
	return held;
}

static void test_configured(void **state)
{
	struct sizing s = { .cfg = 7200 };
	struct world w = { .max = 43200, .get_role_allowed = true };

	assert_int_equal(run_cycle(&s, &w), 7200);
	assert_int_equal(w.sts_calls, 1);
	assert_int_equal(w.iam_calls, 0);
	assert_int_equal(s.source, MAX_SOURCE_CONFIG);
}

static void test_get_role_12h(void **state)
{
	struct sizing s = { 0 };
	struct world w = { .max = 43200, .get_role_allowed = true };

	assert_int_equal(run_cycle(&s, &w), 43200);
	assert_int_equal(w.sts_calls, 1);
	assert_int_equal(w.iam_calls, 1);
	assert_int_equal(s.source, MAX_SOURCE_GET_ROLE);
	assert_int_equal(s.role_max, 43200);
}

static void test_get_role_4h(void **state)
{
	struct sizing s = { 0 };
	struct world w = { .max = 14400, .get_role_allowed = true };

	/* 12 h refused, 1 h granted, GetRole says 4 h, 4 h granted. */
	assert_int_equal(run_cycle(&s, &w), 14400);
	assert_int_equal(w.sts_calls, 3);
	assert_int_equal(w.asked[0], 43200);
	assert_int_equal(w.asked[1], 3600);
	assert_int_equal(w.asked[2], 14400);
	assert_int_equal(s.source, MAX_SOURCE_GET_ROLE);

	/* Next refresh: straight at 4 h, GetRole confirms. */
	w.sts_calls = w.iam_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 14400);
	assert_int_equal(w.sts_calls, 1);
	assert_int_equal(w.iam_calls, 1);

	/* The administrator raises it to 10 h: used at the next refresh. */
	w.max = 36000;
	w.sts_calls = w.iam_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 36000);
	assert_int_equal(w.sts_calls, 2);
	assert_int_equal(s.role_max, 36000);

	/* Lowered to 2 h: the first call is refused, and the role still gets
	 * a working session in the same cycle. */
	w.max = 7200;
	w.sts_calls = w.iam_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 7200);
	assert_int_equal(w.asked[0], 36000);
	assert_int_equal(w.asked[1], 3600);
	assert_int_equal(w.asked[2], 7200);
	assert_int_equal(s.role_max, 7200);
}

static void test_probe_when_get_role_denied(void **state)
{
	struct sizing s = { 0 };
	struct world w = { .max = 14400, .get_role_allowed = false };

	/* 12 h refused, 1 h granted, GetRole denied, 8 h refused, 4 h ok. */
	assert_int_equal(run_cycle(&s, &w), 14400);
	assert_int_equal(w.sts_calls, 4);
	assert_int_equal(w.iam_calls, 1);
	assert_true(s.get_role_denied);
	assert_int_equal(s.source, MAX_SOURCE_PROBE);
	assert_int_equal(s.role_max, 14400);

	/* Next refresh: one call, no GetRole (denial remembered). */
	w.sts_calls = w.iam_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 14400);
	assert_int_equal(w.sts_calls, 1);
	assert_int_equal(w.iam_calls, 0);

	/* A raise is only looked for when probing upwards is allowed. */
	w.max = 43200;
	w.sts_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 14400);
	s.probe_up = true;
	w.sts_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 43200);
	assert_int_equal(w.sts_calls, 2);
	assert_int_equal(s.role_max, 43200);
}

static void test_budget(void **state)
{
	struct sizing s = { 0 };
	struct world w = { .max = 3600, .get_role_allowed = false };

	/* 12 h no, 1 h yes, GetRole denied, 8 h, 4 h, 2 h no: 5 calls. */
	assert_int_equal(run_cycle(&s, &w), 3600);
	assert_int_equal(w.sts_calls, SIZING_MAX_STS_CALLS);
	assert_int_equal(s.role_max, 3600);
	w.sts_calls = 0;
	assert_int_equal(run_cycle(&s, &w), 3600);
	assert_int_equal(w.sts_calls, 1);
}

static void test_never_below_safe_without_reason(void **state)
{
	struct sizing s = { 0 };
	struct world w = { .max = 43200, .get_role_allowed = false };

	assert_int_equal(run_cycle(&s, &w), 43200);
	assert_int_equal(w.sts_calls, 1);
	assert_int_equal(s.source, MAX_SOURCE_PROBE);
}

/* When a cycle may look above the learnt maximum: where GetRole is
 * denied, every interval on the timer, at once on an explicit refresh. */
static void test_probe_up_due(void **state)
{
	const uint64_t h = 3600, every = 6 * h;
	struct sizing allowed = { .role_max = 3600 };
	struct sizing denied = { .role_max = 3600, .get_role_denied = true };
	struct world w = { .max = 43200, .get_role_allowed = false };

	/* GetRole tells the maximum: never probe, explicit or not. */
	assert_false(sizing_probe_up_due(&allowed, false, 100 * h, 0, every));
	assert_false(sizing_probe_up_due(&allowed, true, 100 * h, 0, every));

	/* Timer refreshes keep the slower cadence ... */
	assert_false(sizing_probe_up_due(&denied, false, 10 * h, 9 * h, every));
	assert_false(sizing_probe_up_due(&denied, false, 15 * h - 1, 9 * h,
					 every));
	assert_true(sizing_probe_up_due(&denied, false, 15 * h, 9 * h, every));
	/* ... an explicit refresh looks for a raise at once. */
	assert_true(sizing_probe_up_due(&denied, true, 9 * h + 1, 9 * h, every));

	/* And the raise is then found in the same cycle: 1 h, then 12 h. */
	denied.probe_up = sizing_probe_up_due(&denied, true, 9 * h + 1, 9 * h,
					      every);
	assert_int_equal(run_cycle(&denied, &w), 43200);
	assert_int_equal(w.sts_calls, 2);
	assert_int_equal(w.asked[0], 3600);
	assert_int_equal(w.asked[1], 43200);
	assert_int_equal(w.iam_calls, 0);
	assert_int_equal(denied.role_max, 43200);
	assert_int_equal(denied.source, MAX_SOURCE_PROBE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configured),
		cmocka_unit_test(test_get_role_12h),
		cmocka_unit_test(test_get_role_4h),
		cmocka_unit_test(test_probe_when_get_role_denied),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_never_below_safe_without_reason),
		cmocka_unit_test(test_probe_up_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
