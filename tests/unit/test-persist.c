/* Unit tests for session/persist.c: the state file that lets a restart go
 * on without a new login. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "session/persist.h"
#include "session/plan.h"
#include "util/timeutil.h"

#define NOW ((usec_t)1800000000 * USEC_PER_SEC)
#define ID "0123abcd"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/test-persist-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	(void)snprintf(p, sizeof(p), "%s/%s", dir, PERSIST_FILE);
	(void)unlink(p);
	(void)rmdir(dir);
	return 0;
}

static struct creds *make_creds(const char *akid, usec_t exp)
{
	struct sts_creds *sc = calloc(1, sizeof(*sc));
	struct creds *c = NULL;

	assert_non_null(sc);
	sc->access_key_id = strdup(akid);
	sc->account_id = strdup("111122223333");
	sc->secret_access_key = secret_new_from("SECRETKEY", 9);
	sc->session_token = secret_new_from("TOKEN+/=", 8);
	sc->expiration = exp;
	assert_int_equal(creds_new_take(sc, "arn:aws:iam::111122223333:role/A",
					NOW - USEC_PER_HOUR, &c),
			 0);
	return c;
}

static void fill(struct store *s, struct plans *p)
{
	assert_int_equal(roles_add(s, p, "a", "arn:aws:iam::111122223333:role/A",
					"arn:aws:iam::111122223333:saml-provider/P",
					0),
			 0);
	assert_int_equal(roles_add(s, p, "b", "arn:aws:iam::111122223333:role/B",
					NULL, 3600),
			 0);
	store_set_creds(&s->roles[0], make_creds("ASIAAAAA", NOW + 4 * USEC_PER_HOUR));
	s->roles[0].duration_used = 14400;
	p->v[0].sizing.role_max = 14400;
	p->v[0].sizing.get_role_denied = true;
	s->roles[0].max_duration = 14400;
	s->roles[0].max_source = MAX_SOURCE_PROBE;
	/* b's credentials expire before the restart. */
	store_set_creds(&s->roles[1], make_creds("ASIABBBB", NOW - USEC_PER_SEC));
	s->user = strdup("EXAMPLE\\alice");
}

static void test_round_trip(void **state)
{
	const char *cookies[] = { "#HttpOnly_127.0.0.1\tFALSE\t/adfs\tTRUE\t0\tMSISAuth\tabc" };
	struct store in = { 0 }, out = { 0 };
	struct plans pin = { 0 }, pout = { 0 };
	struct persist_state st = { 0 };
	const char *why = "x";
	char p[128];
	struct stat sb;
	/* A rejected password file: its name and version, no password. */
	struct signin_source rejected = { .ref = (char *)"file:/home/a/pw",
					  .dev = 2049, .ino = 77,
					  .mtime_ns = 1700000000123456789,
					  .ctime_ns = 1700000000223456789 };
	const struct persist_sso sso = {
		.since = NOW - 60 * USEC_PER_SEC,
		.alive_at = NOW - 30 * USEC_PER_SEC,
		.lifetime_seen = 2 * USEC_PER_HOUR,
		.mfa = true,
	};

	fill(&in, &pin);
	assert_int_equal(persist_save(dir, ID, &in, &pin, cookies, 1, &sso,
				      &rejected, NOW),
			 0);
	(void)snprintf(p, sizeof(p), "%s/%s", dir, PERSIST_FILE);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* No roles configured: the saved ones come back. */
	assert_int_equal(persist_load(dir, ID, NOW, &out, &pout, true, &st, &why), 1);
	assert_null(why);
	assert_int_equal(out.n_roles, 2);
	assert_string_equal(out.roles[0].name, "a");
	assert_string_equal(pout.v[0].principal_arn,
			    "arn:aws:iam::111122223333:saml-provider/P");
	assert_non_null(out.roles[0].creds);
	assert_string_equal(out.roles[0].creds->access_key_id, "ASIAAAAA");
	assert_string_equal(out.roles[0].creds->secret_access_key->data, "SECRETKEY");
	assert_string_equal(out.roles[0].creds->session_token->data, "TOKEN+/=");
	assert_true(out.roles[0].creds->expiration == NOW + 4 * USEC_PER_HOUR);
	assert_true(out.roles[0].creds->issued == NOW - USEC_PER_HOUR);
	assert_non_null(strstr(out.roles[0].creds->ecs_json->data, "\"AccountId\":\"111122223333\""));
	assert_int_equal(pout.v[0].sizing.role_max, 14400);
	assert_true(pout.v[0].sizing.get_role_denied);
	assert_int_equal(out.roles[0].max_source, MAX_SOURCE_PROBE);
	assert_int_equal(out.roles[0].state, ROLE_VALID);
	/* Expired credentials are dropped, the role stays. */
	assert_null(out.roles[1].creds);
	assert_int_equal(st.n_cookies, 1);
	assert_string_equal(st.cookies[0], cookies[0]);
	assert_string_equal(st.user, "EXAMPLE\\alice");
	assert_true(st.sso.since == NOW - 60 * USEC_PER_SEC);
	assert_true(st.sso.alive_at == NOW - 30 * USEC_PER_SEC);
	assert_true(st.sso.lifetime_seen == 2 * USEC_PER_HOUR);
	assert_true(st.sso.mfa);
	assert_string_equal(st.rejected.ref, "file:/home/a/pw");
	assert_false(st.rejected.credential);
	assert_true(st.rejected.dev == 2049 && st.rejected.ino == 77);
	assert_true(st.rejected.mtime_ns == 1700000000123456789);
	assert_true(st.rejected.ctime_ns == 1700000000223456789);

	persist_state_clear(&st);
	store_clear(&in);
	plans_clear(&pin);
	store_clear(&out);
	plans_clear(&pout);
}

static void test_configured_roles_only(void **state)
{
	struct store in = { 0 }, out = { 0 };
	struct plans pin = { 0 }, pout = { 0 };
	struct persist_state st = { 0 };
	const char *why;

	fill(&in, &pin);
	assert_int_equal(persist_save(dir, ID, &in, &pin, NULL, 0, NULL, NULL, NOW), 0);
	/* Only role B is configured now: A's saved session is not adopted. */
	assert_int_equal(roles_add(&out, &pout, "b", "arn:aws:iam::111122223333:role/B",
					NULL, 3600),
			 0);
	assert_int_equal(persist_load(dir, ID, NOW, &out, &pout, false, &st, &why), 1);
	assert_int_equal(out.n_roles, 1);
	/* A configured duration keeps its source. */
	assert_int_equal(out.roles[0].max_source, MAX_SOURCE_CONFIG);
	persist_state_clear(&st);
	store_clear(&in);
	plans_clear(&pin);
	store_clear(&out);
	plans_clear(&pout);
}

static void test_ignored(void **state)
{
	struct store in = { 0 }, out = { 0 };
	struct plans pin = { 0 }, pout = { 0 };
	struct persist_state st = { 0 };
	const char *why = NULL;
	char p[128];
	FILE *f;

	/* No file: nothing, no complaint. */
	assert_int_equal(persist_load(dir, ID, NOW, &out, &pout, true, &st, &why), 0);
	assert_null(why);

	fill(&in, &pin);
	assert_int_equal(persist_save(dir, ID, &in, &pin, NULL, 0, NULL, NULL, NOW), 0);
	assert_int_equal(persist_load(dir, "other", NOW, &out, &pout, true, &st, &why), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "another configuration"));
	assert_int_equal(out.n_roles, 0);

	(void)snprintf(p, sizeof(p), "%s/%s", dir, PERSIST_FILE);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_true(fputs("{\"version\": 1, \"identity\": \"" ID
			  "\", \"roles\": ",
			  f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(persist_load(dir, ID, NOW, &out, &pout, true, &st, &why), 0);
	assert_string_equal(why, "it does not parse");

	f = fopen(p, "w");
	assert_non_null(f);
	assert_true(fputs("{\"version\": 99, \"identity\": \"" ID "\"}", f) >=
		    0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(persist_load(dir, ID, NOW, &out, &pout, true, &st, &why), 0);
	assert_string_equal(why, "it has another format version");

	assert_int_equal(persist_remove(dir), 0);
	assert_int_equal(persist_remove(dir), 0);
	store_clear(&in);
	plans_clear(&pin);
	store_clear(&out);
	plans_clear(&pout);
}

static void test_identity(void **state)
{
	struct conf a = { 0 }, b = { 0 };
	char *ia, *ib, *ia2;

	a.adfs.url = (char *)(uintptr_t)"https://adfs.example.com";
	a.adfs.username = (char *)(uintptr_t)"EXAMPLE\\alice";
	a.adfs.relying_party = (char *)(uintptr_t)"urn:amazon:webservices";
	a.aws.sts_endpoint = (char *)(uintptr_t)"https://sts.amazonaws.com";
	b = a;
	b.adfs.username = (char *)(uintptr_t)"EXAMPLE\\bob";
	ia = persist_identity(&a);
	ia2 = persist_identity(&a);
	ib = persist_identity(&b);
	assert_int_equal(strlen(ia), 64);
	assert_string_equal(ia, ia2);
	assert_string_not_equal(ia, ib);
	free(ia);
	free(ia2);
	free(ib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configured_roles_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored, setup, teardown),
		cmocka_unit_test(test_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
