/* Unit tests for http/guard.c's peer rules (issue 15, items 1 and 2): the
 * uid decides for every peer whose socket is on this host, whatever its
 * address; remote peers get ECS (with the token, checked by the route)
 * and IMDS only with serve.imds_for_remote_peers; guard_admit() says at
 * accept who may hold a connection, and how many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../http-fixture.h"
#include "http/guard.h"
#include "http/peer.h"
#include "http/route.h"
#include "util/log.h"

#define SELF 1000u
#define OTHER 1001u

static struct http_fixture F;

static int setup(void **state)
{
	static const struct http_fixture_spec spec = {
		.prod_secret = "sEcReT",
		.dev_secret = "sEcReT",
		.broken_error = "STS said no",
		.issued = 1800000000ull * USEC_PER_SEC,
		.self = SELF,
	};

	memset(&F, 0, sizeof(F));
	assert_int_equal(http_fixture_init(&F, &spec), 0);
	return 0;
}

static int teardown(void **state)
{
	http_fixture_clear(&F);
	return 0;
}

/* guard_check() for peer p (with a benign request); *why on refusal. */
static enum guard_verdict check(const struct peer_info *p, const char **why)
{
	struct http_request req = {
		.method = "GET", .path = "/", .host = "127.0.0.1:9911",
		.n_host = 1, .peer = p,
	};
	static char buf[160];

	*why = NULL;
	return guard_check(&F.guard, &req, buf, sizeof(buf), why);
}

/* A local user on a non-loopback address (192.0.2.2 bound on lo): the
 * kernel found its socket, so its uid decides, allow_non_loopback or not.
 * Before issue 15 allow_non_loopback let it through unchecked. */
static void test_local_non_loopback_peer_checked(void **state)
{
	struct peer_info other = { .local = true, .uid_known = true,
				   .uid = OTHER };
	struct peer_info self = { .local = true, .uid_known = true,
				  .uid = SELF };
	struct peer_info unmapped = { .local = true, .uid_known = false };
	const char *why;

	for (int allow = 0; allow <= 1; allow++) {
		F.conf.serve.allow_non_loopback = allow;
		F.conf.serve.imds_for_remote_peers = allow;
		for (int imds = 0; imds <= 1; imds++) {
			other.imds = self.imds = unmapped.imds = imds;
			assert_int_equal(check(&other, &why), GUARD_REFUSE);
			assert_string_equal(why,
					    "user 1001 may not read these "
					    "credentials (serve.allowed_uids)");
			assert_int_equal(check(&unmapped, &why), GUARD_REFUSE);
			assert_string_equal(why,
					    "cannot tell which user is asking");
			assert_int_equal(check(&self, &why), GUARD_OK);
		}
	}
}

/* Remote peers (no socket here): refused unless allow_non_loopback; then
 * ECS (its token is the route's next check), and IMDS only with
 * serve.imds_for_remote_peers. */
static void test_remote_peer(void **state)
{
	struct peer_info ecs = { 0 }, imds = { .imds = true };
	const char *why;

	assert_true(peer_is_remote(&ecs));
	assert_int_equal(check(&ecs, &why), GUARD_REFUSE);
	assert_string_equal(why, "requests from other hosts are refused");
	F.conf.serve.allow_non_loopback = true;
	assert_int_equal(check(&ecs, &why), GUARD_OK);
	assert_int_equal(check(&imds, &why), GUARD_REFUSE);
	assert_string_equal(why, "IMDS is not served to other hosts "
				 "(serve.imds_for_remote_peers)");
	F.conf.serve.imds_for_remote_peers = true;
	assert_int_equal(check(&imds, &why), GUARD_OK);
}

/* A lookup that failed is never taken for a remote peer. */
static void test_failed_lookup_refused(void **state)
{
	struct peer_info failed = { .lookup_failed = true };
	struct peer_info failed_lo = { .loopback = true, .lookup_failed = true };
	const char *why;

	F.conf.serve.allow_non_loopback = true;
	F.conf.serve.imds_for_remote_peers = true;
	assert_false(peer_is_remote(&failed));
	assert_int_equal(check(&failed, &why), GUARD_REFUSE);
	assert_string_equal(why, "cannot tell who is asking");
	assert_false(peer_is_remote(&failed_lo));
	assert_int_equal(check(&failed_lo, &why), GUARD_REFUSE);
	assert_string_equal(why, "cannot tell which user is asking");
}

/* At accept: the owner without a per-uid cap, allowed uids and remote
 * peers capped, everyone else refused before holding a slot. */
static void test_admit(void **state)
{
	struct peer_info self = { .loopback = true, .local = true,
				  .uid_known = true, .uid = SELF };
	struct peer_info allowed = { .loopback = true, .local = true,
				     .uid_known = true,
				     .uid = HTTP_FIXTURE_ALLOWED };
	struct peer_info other = { .local = true, .uid_known = true,
				   .uid = OTHER };
	struct peer_info unknown = { .loopback = true, .lookup_failed = true };
	struct peer_info remote = { .imds = true };
	const char *why = NULL;
	char buf[160];

	assert_int_equal(guard_admit(&F.guard, &self, buf, sizeof(buf), &why),
			 GUARD_CONN_OWNER);
	assert_int_equal(guard_admit(&F.guard, &allowed, buf, sizeof(buf),
				     &why),
			 GUARD_CONN_PER_PEER);
	assert_int_equal(guard_admit(&F.guard, &other, buf, sizeof(buf), &why),
			 0);
	assert_string_equal(why, "user 1001 may not read these credentials "
				 "(serve.allowed_uids)");
	assert_int_equal(guard_admit(&F.guard, &unknown, buf, sizeof(buf),
				     &why),
			 0);
	assert_int_equal(guard_admit(&F.guard, &remote, buf, sizeof(buf),
				     &why),
			 0);
	assert_string_equal(why, "requests from other hosts are refused");
	F.conf.serve.allow_non_loopback = true;
	assert_int_equal(guard_admit(&F.guard, &remote, buf, sizeof(buf),
				     &why),
			 0);
	F.conf.serve.imds_for_remote_peers = true;
	assert_int_equal(guard_admit(&F.guard, &remote, buf, sizeof(buf),
				     &why),
			 GUARD_CONN_PER_PEER);
}

/* The warning --check-config prints. */
static void test_conf_warning(void **state)
{
	struct conf c = { 0 };

	assert_null(conf_warning(&c));
	c.serve.imds_for_remote_peers = true;
	assert_non_null(strstr(conf_warning(&c), "has no effect"));
	c.serve.allow_non_loopback = true;
	assert_non_null(strstr(conf_warning(&c), "IMDS has no secret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_local_non_loopback_peer_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_peer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_lookup_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_admit, setup, teardown),
		cmocka_unit_test(test_conf_warning),
	};

	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
