/* daemon/alert: the once-per-key rule and the text an alert shows (the
 * session bus and notify.command: tests/integration/test_alerts.py). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "util/macro.h"

static void test_text(void **state)
{
	static const struct {
		const char *in, *plain, *markup;
	} cases[] = {
		{ "", "", "" },
		{ "Sign in again", "Sign in again", "Sign in again" },
		/* the body is a subset of HTML: no tag and no entity of
		 * anyone's gets through */
		{ "<b>x</b> & y", "<b>x</b> & y",
		  "&lt;b&gt;x&lt;/b&gt; &amp; y" },
		{ "&amp;", "&amp;", "&amp;amp;" },
		/* lines stay lines; control characters do not act */
		{ "one\ntwo\n", "one\ntwo\n", "one\ntwo\n" },
		{ "a\x1b[31mb\r", "a\\x1b[31mb\\x0d", "a\\x1b[31mb\\x0d" },
		/* D-Bus takes only UTF-8: a stray byte is shown, not sent */
		{ "caf\xc3\xa9 \xff", "caf\xc3\xa9 \\xff",
		  "caf\xc3\xa9 \\xff" },
	};

	assert_null(alert_text(NULL, true));
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *p = alert_text(cases[i].in, false);
		_cleanup_free_ char *m = alert_text(cases[i].in, true);

		assert_non_null(p);
		assert_non_null(m);
		if (!streq(p, cases[i].plain) || !streq(m, cases[i].markup))
			fail_msg("case %zu: '%s' and '%s', '%s' and '%s' "
				 "expected",
				 i, p, m, cases[i].plain, cases[i].markup);
	}
}

static void test_once_per_key(void **state)
{
	struct conf c = { 0 };
	struct conf *slot = &c;
	sd_event *e = NULL;
	struct alert *a = NULL;

	c.notify.desktop = false;
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(alert_new(e, &slot, &a), 0);

	assert_false(alert_is_raised(a, ALERT_SIGNIN_FAILED));
	assert_int_equal(alert_raise(a, ALERT_SIGNIN_FAILED, 7, 0, "s", "b"),
			 1);
	assert_true(alert_is_raised(a, ALERT_SIGNIN_FAILED));
	assert_int_equal(alert_raise(a, ALERT_SIGNIN_FAILED, 7, 0, "s", "b"),
			 0);
	/* Another event is told on its own. */
	assert_int_equal(alert_raise(a, ALERT_HUMAN_SOON, 7, 0, "s", "b"), 1);
	/* A new key is a new event; cleared, the same key is told again. */
	assert_int_equal(alert_raise(a, ALERT_SIGNIN_FAILED, 8, 0, "s", "b"),
			 1);
	alert_clear(a, ALERT_SIGNIN_FAILED);
	assert_false(alert_is_raised(a, ALERT_SIGNIN_FAILED));
	assert_true(alert_is_raised(a, ALERT_HUMAN_SOON));
	assert_int_equal(alert_raise(a, ALERT_SIGNIN_FAILED, 8, 0, "s", "b"),
			 1);
	assert_int_equal(alert_raise(a, ALERT_EVENT_COUNT, 1, 0, "s", "b"),
			 -EINVAL);
	assert_int_equal(alert_raise(a, ALERT_SIGNIN_FAILED, 9, 0, NULL, "b"),
			 -EINVAL);
	alert_clear(a, ALERT_EVENT_COUNT);

	alert_free(a);
	sd_event_unref(e);
}

/* No session bus: told (in the journal), nothing fails, nothing waits. */
static void test_no_bus(void **state)
{
	struct conf c = { 0 };
	struct conf *slot = &c;
	sd_event *e = NULL;
	struct alert *a = NULL;

	c.notify.desktop = true;
	assert_int_equal(setenv("DBUS_SESSION_BUS_ADDRESS",
				"unix:path=/nonexistent/adfs-credd-test", 1),
			 0);
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(alert_new(e, &slot, &a), 0);
	assert_int_equal(alert_raise(a, ALERT_MFA_RENEWAL, 1, 0, "s", "b"), 1);
	assert_int_equal(alert_raise(a, ALERT_MFA_RENEWAL, 2, 0, "s", "b"), 1);
	alert_clear(a, ALERT_MFA_RENEWAL);
	alert_free(a);
	sd_event_unref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_once_per_key),
		cmocka_unit_test(test_no_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
