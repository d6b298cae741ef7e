/* Unit tests for http/route.c and http/guard.c: the pure route step of the
 * ECS and IMDS endpoints (a struct http_request in, a struct http_answer
 * out), with a fake clock, a fake peer and a predictable token source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../http-fixture.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/peer.h"
#include "http/route.h"
#include "session/store.h"
#include "util/log.h"

#define SELF 1000u
#define OTHER 1001u
#define T0_WALL (1800000000ull * USEC_PER_SEC)
#define T0_MONO (5000ull * USEC_PER_SEC)
#define CREDS_PATH "/latest/meta-data/iam/security-credentials"

static struct {
	struct http_fixture h; /* the store, token, guard, ECS, IMDS, conf */
	struct peer_info peer;
	unsigned minted; /* tokens handed out by fake_token */
} F;

/* Tokens "T0000...", "T0001...": predictable and distinct. */
static int fake_token(char out[static RANDOM_TOKEN_LEN + 1])
{
	memset(out, 'x', RANDOM_TOKEN_LEN);
	(void)snprintf(out, 6, "T%04u", F.minted++ % 10000);
	out[5] = 'x';
	out[RANDOM_TOKEN_LEN] = '\0';
	return 0;
}

static int failing_token(char out[static RANDOM_TOKEN_LEN + 1])
{
	return -EIO;
}

static int setup(void **state)
{
	static const struct http_fixture_spec spec = {
		.prod_secret = "sEcReT",
		.dev_secret = "sEcReT",
		.broken_error = "STS said no",
		.issued = T0_WALL,
		.self = SELF,
	};

	memset(&F, 0, sizeof(F));
	assert_int_equal(http_fixture_init(&F.h, &spec), 0);
	F.h.imds.random_token = fake_token;
	F.peer = (struct peer_info){ .loopback = true, .uid_known = true,
				     .uid = SELF };
	return 0;
}

static int teardown(void **state)
{
	http_fixture_clear(&F.h);
	return 0;
}

/* A well-formed ECS request for path; tests then spoil one field. */
static struct http_request ecs_req(const char *path)
{
	return (struct http_request){
		.method = "GET",
		.path = path,
		.host = "127.0.0.1:9911",
		.n_host = 1,
		.authorization = HTTP_FIXTURE_ECS_TOKEN,
		.peer = &F.peer,
		.now_wall = T0_WALL,
		.now_mono = T0_MONO,
	};
}

static struct http_request imds_req(const char *method, const char *path,
				    const char *token)
{
	return (struct http_request){
		.method = method,
		.path = path,
		.host = "localhost:9912",
		.n_host = 1,
		.imds_token = token,
		.imds_token_ttl = streq(method, "PUT") ? "21600" : NULL,
		.peer = &F.peer,
		.now_wall = T0_WALL,
		.now_mono = T0_MONO,
	};
}

static void assert_ecs_refused(const struct http_request *req,
			       unsigned status, const char *code,
			       const char *why)
{
	struct http_answer a;

	http_route_ecs(&F.h.ecs, req, &a);
	assert_int_equal(a.status, status);
	assert_int_equal(a.body, HTTP_BODY_ERROR);
	assert_true(a.json);
	assert_string_equal(a.code, code);
	assert_null(a.creds);
	if (why)
		assert_string_equal(a.message, why);
	assert_true(a.audit.write);
	assert_false(a.audit.served);
	assert_int_equal(a.audit.status, status);
	http_answer_clear(&a);
}

/* Every guard refusal, each with its reason, on ECS (403 AccessDenied). */
static void test_guard_refusals(void **state)
{
	struct peer_info remote = { .loopback = false, .uid_known = false };
	struct peer_info nouid = { .loopback = true, .uid_known = false };
	struct peer_info other = { .loopback = true, .uid_known = true,
				   .uid = OTHER };
	struct http_request req;

	req = ecs_req("/");
	req.n_host = 2;
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "more than one Host header");
	req = ecs_req("/");
	req.host = "evil.example:9911";
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "the Host header does not name a loopback address");
	req.host = "[::2]:9911";
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "the Host header does not name a loopback address");
	req = ecs_req("/");
	req.origin = "https://evil.example";
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "requests from web pages (Origin) are refused");
	req = ecs_req("/");
	req.referer = "https://evil.example/";
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "requests from web pages (Referer) are refused");
	req = ecs_req("/");
	req.sec_fetch_site = "cross-site";
	assert_ecs_refused(
		&req, 403, "AccessDenied",
		"requests from web pages (Sec-Fetch-Site) are refused");
	req = ecs_req("/");
	req.peer = NULL;
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "cannot tell who is asking");
	req = ecs_req("/");
	req.peer = &remote;
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "requests from other hosts are refused");
	req = ecs_req("/");
	req.peer = &nouid;
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "cannot tell which user is asking");
	req = ecs_req("/");
	req.peer = &other;
	assert_ecs_refused(&req, 403, "AccessDenied",
			   "user 1001 may not read these credentials "
			   "(serve.allowed_uids)");
}

/* What passes the guard: no Host, loopback spellings of it, benign
 * Sec-Fetch-Site, an allowed uid, a remote peer when allowed. */
static void test_guard_passes(void **state)
{
	static const char *const hosts[] = {
		NULL, "127.0.0.1", "localhost", "LOCALHOST.:80", "[::1]:9911",
		"[::ffff:127.0.0.1]:9911", "127.8.9.10:1",
	};
	struct peer_info allowed = { .loopback = true, .uid_known = true,
				     .uid = HTTP_FIXTURE_ALLOWED };
	struct peer_info remote = { .loopback = false };
	struct http_request req;
	char buf[96];
	const char *why = NULL;

	for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
		req = ecs_req("/");
		req.host = hosts[i];
		req.n_host = hosts[i] ? 1 : 0;
		assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf),
					     &why),
				 GUARD_OK);
	}
	req = ecs_req("/");
	req.sec_fetch_site = "None";
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_OK);
	req.sec_fetch_site = "same-origin";
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_OK);
	req.sec_fetch_site = "same-site";
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_REFUSE);
	req = ecs_req("/");
	req.peer = &allowed;
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_OK);
	req.peer = &remote;
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_REFUSE);
	F.h.conf.serve.allow_non_loopback = true;
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_OK);
	/* Still not a browser's request. */
	req.origin = "http://x";
	assert_int_equal(guard_check(&F.h.guard, &req, buf, sizeof(buf), &why),
			 GUARD_REFUSE);
}

static void assert_ecs_served(const struct http_request *req,
			      const char *role)
{
	struct role_session *r = store_find(&F.h.store, role);
	unsigned refs = r->creds->n_ref;
	struct http_answer a;
	struct creds *c;

	http_route_ecs(&F.h.ecs, req, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body, HTTP_BODY_CREDS);
	assert_true(a.json);
	/* The store's creds themselves, one more reference: no copy. */
	assert_ptr_equal(a.creds, r->creds);
	assert_int_equal(r->creds->n_ref, refs + 1);
	assert_null(a.refusal);
	assert_true(a.audit.write);
	assert_true(a.audit.served);
	assert_string_equal(a.audit.role, role);
	assert_non_null(strstr(a.creds->ecs_json->data,
			       "\"SecretAccessKey\":\"sEcReT\""));
	/* The glue takes the reference over and drops it once sent. */
	c = http_answer_take_creds(&a);
	assert_null(a.creds);
	http_answer_clear(&a);
	assert_int_equal(r->creds->n_ref, refs + 1);
	creds_unref(c);
	assert_int_equal(r->creds->n_ref, refs);
}

static void test_ecs_ok(void **state)
{
	struct http_request req = ecs_req("/");
	struct http_answer a;

	assert_ecs_served(&req, "prod");
	req = ecs_req("/role/prod");
	assert_ecs_served(&req, "prod");
	/* Clearing an answer drops its reference too. */
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(F.h.store.roles[0].creds->n_ref, 2);
	http_answer_clear(&a);
	assert_int_equal(F.h.store.roles[0].creds->n_ref, 1);
}

static void test_ecs_refusals(void **state)
{
	struct http_request req;
	struct http_answer a;

	req = ecs_req("/");
	req.method = "POST";
	assert_ecs_refused(&req, 405, "MethodNotAllowed", "only GET is served");

	req = ecs_req("/");
	req.authorization = NULL;
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(a.refusal, "no Authorization header");
	assert_true(a.refusal_warning);
	assert_string_equal(a.message, "missing or wrong Authorization token; "
				       "see 'adfs-credctl env'");
	http_answer_clear(&a);

	req.authorization = HTTP_FIXTURE_ECS_TOKEN "x";
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(a.refusal, "wrong token");
	http_answer_clear(&a);
	req.authorization = "";
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);

	req = ecs_req("/roles/prod");
	assert_ecs_refused(&req, 404, "NoSuchRole",
			   "no such path; use /role/<name>");
	req = ecs_req("/role/");
	assert_ecs_refused(&req, 404, "NoSuchRole",
			   "no such path; use /role/<name>");
	req = ecs_req("/role/nope");
	assert_ecs_refused(&req, 404, "NoSuchRole",
			   "no role named 'nope'; see 'adfs-credctl status'");
}

static void test_ecs_unavailable(void **state)
{
	struct http_request req;
	struct http_answer a;

	/* Expired creds: never served. */
	req = ecs_req("/role/dev");
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(a.code, "CredentialsUnavailable");
	assert_string_equal(a.message, "no valid credentials for role 'dev'");
	assert_string_equal(a.audit.why, "no valid credentials");
	assert_null(a.creds);
	http_answer_clear(&a);

	req = ecs_req("/role/broken");
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(a.message,
			    "no valid credentials for role 'broken': STS said no");
	http_answer_clear(&a);

	req = ecs_req("/role/later");
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(a.code, "NotSignedIn");
	assert_string_equal(a.audit.role, "later");
	http_answer_clear(&a);

	/* The clock moves past prod's expiry: not served any more. */
	req = ecs_req("/role/prod");
	req.now_wall = T0_WALL + 13 * USEC_PER_HOUR;
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	assert_null(a.creds);
	http_answer_clear(&a);

	/* Signed out: valid creds are still served until they expire. */
	F.h.store.signed_in = false;
	req = ecs_req("/role/prod");
	assert_ecs_served(&req, "prod");
	req = ecs_req("/role/broken");
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_string_equal(a.code, "NotSignedIn");
	http_answer_clear(&a);
}

/* Without roles before the first sign-in, every role is "not signed in". */
static void test_ecs_no_roles(void **state)
{
	struct store empty = { 0 };
	struct ecs e = { .store = &empty, .token = F.h.token,
			 .guard = &F.h.guard };
	struct http_request req = ecs_req("/role/anything");
	struct http_answer a;

	http_route_ecs(&e, &req, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(a.code, "NotSignedIn");
	assert_string_equal(a.audit.role, "anything");
	http_answer_clear(&a);
	req = ecs_req("/");
	http_route_ecs(&e, &req, &a);
	assert_int_equal(a.status, 503);
	assert_string_equal(a.audit.role, "(default)");
	http_answer_clear(&a);
}

/* More than GUARD_MAX_REFUSALS refusals in the window: 429, announced
 * once; a valid read is still served; the window passes. */
static void test_throttle(void **state)
{
	struct http_request bad = ecs_req("/");
	struct http_request good = ecs_req("/");
	struct http_answer a;
	unsigned began = 0;

	bad.authorization = "nope";
	for (unsigned i = 1; i <= GUARD_MAX_REFUSALS + 5; i++) {
		bad.now_mono = T0_MONO + i * USEC_PER_MSEC;
		http_route_ecs(&F.h.ecs, &bad, &a);
		if (i <= GUARD_MAX_REFUSALS) {
			assert_int_equal(a.status, 403);
		} else {
			assert_int_equal(a.status, 429);
			assert_string_equal(a.code, "Throttled");
			assert_int_equal(a.audit.status, 429);
		}
		if (a.throttle_began) {
			began++;
			assert_int_equal(a.throttle_uid, (int)SELF);
		}
		http_answer_clear(&a);
	}
	assert_int_equal(began, 1);
	good.now_mono = bad.now_mono;
	assert_ecs_served(&good, "prod");

	/* IMDS shares the peer's count: empty 429. */
	bad = imds_req("GET", CREDS_PATH "/prod", NULL);
	bad.now_mono = good.now_mono;
	http_route_imds(&F.h.imds, &bad, &a);
	assert_int_equal(a.status, 429);
	assert_int_equal(a.refusal_status, 401); /* what the debug line says */
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	http_answer_clear(&a);

	/* After the penalty, a refusal is a plain 403 again. */
	bad = ecs_req("/");
	bad.authorization = "nope";
	bad.now_mono = good.now_mono + GUARD_PENALTY + GUARD_WINDOW + 1;
	assert_ecs_refused(&bad, 403, "AccessDenied", NULL);
}

/* PUT a token, GET the role list and the document with it. */
static void test_imds_flow(void **state)
{
	struct http_request req = imds_req("PUT", "/latest/api/token", NULL);
	struct role_session *prod = &F.h.store.roles[0];
	char token[IMDS_TOKEN_LEN + 1];
	struct http_answer a;

	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body, HTTP_BODY_TOKEN);
	assert_false(a.json);
	assert_string_equal(a.ttl, "21600");
	assert_int_equal(strlen(a.token), IMDS_TOKEN_LEN);
	assert_memory_equal(a.token, "T0000x", 6);
	memcpy(token, a.token, sizeof(token));
	http_answer_clear(&a);
	/* Cleared answers keep no copy of the token. */
	for (size_t i = 0; i < sizeof(a.token); i++)
		assert_int_equal(a.token[i], 0);

	req = imds_req("GET", CREDS_PATH, token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body, HTTP_BODY_TEXT);
	assert_int_equal(a.text_len, 4);
	assert_memory_equal(a.text, "prod", 4);
	assert_false(a.audit.write);
	http_answer_clear(&a);

	req = imds_req("GET", CREDS_PATH "/", token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.body, HTTP_BODY_TEXT);
	http_answer_clear(&a);

	req = imds_req("GET", CREDS_PATH "/prod//", token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body, HTTP_BODY_CREDS);
	assert_false(a.json);
	assert_ptr_equal(a.creds, prod->creds);
	assert_true(a.audit.served);
	assert_string_equal(a.audit.role, "prod");
	http_answer_clear(&a);

	/* The token lives its TTL on the monotonic clock, not longer. */
	req.now_mono = T0_MONO + 21600 * USEC_PER_SEC - 1;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	http_answer_clear(&a);
	req.now_mono = T0_MONO + 21600 * USEC_PER_SEC;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	http_answer_clear(&a);
}

static void test_imds_token_refusals(void **state)
{
	static const char *const bad_ttl[] = {
		"0", "21601", "-1", "+5", "abc", "5s", "", "99999999999999999999",
	};
	struct http_request req;
	struct http_answer a;

	req = imds_req("PUT", "/latest/api/token", NULL);
	req.imds_token_ttl = NULL;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 400);
	assert_string_equal(a.refusal, "no TTL");
	assert_int_equal(a.refusal_status, 400);
	assert_false(a.refusal_warning);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	http_answer_clear(&a);
	for (size_t i = 0; i < ELEMENTSOF(bad_ttl); i++) {
		req.imds_token_ttl = bad_ttl[i];
		http_route_imds(&F.h.imds, &req, &a);
		if (a.status != 400)
			fail_msg("TTL '%s' got %u", bad_ttl[i], a.status);
		http_answer_clear(&a);
	}
	req.imds_token_ttl = "1";
	req.forwarded_for = "10.0.0.1";
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(a.refusal, "requests through a proxy or forwarder "
				       "(X-Forwarded-For) are refused");
	http_answer_clear(&a);

	req = imds_req("PUT", "/latest/api/token/", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(a.refusal, "token path");
	http_answer_clear(&a);

	/* No token was minted by any of these. */
	assert_int_equal(F.minted, 0);

	/* The random source fails: 500, no token stored. */
	F.h.imds.random_token = failing_token;
	req = imds_req("PUT", "/latest/api/token", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 500);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	http_answer_clear(&a);
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		assert_int_equal(F.h.imds.tokens[i].expires, 0);
}

static void test_imds_get_refusals(void **state)
{
	struct http_request req = imds_req("PUT", "/latest/api/token", NULL);
	struct peer_info other = { .loopback = true, .uid_known = true,
				   .uid = OTHER };
	char token[IMDS_TOKEN_LEN + 1], wrong[IMDS_TOKEN_LEN + 1];
	struct http_answer a;

	http_route_imds(&F.h.imds, &req, &a);
	memcpy(token, a.token, sizeof(token));
	http_answer_clear(&a);

	/* IMDSv1: no token. */
	req = imds_req("GET", CREDS_PATH "/prod", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	assert_string_equal(a.refusal, "no valid token");
	assert_false(a.audit.write);
	http_answer_clear(&a);

	/* A wrong token of the right length, a short one, the ECS one. */
	memcpy(wrong, token, sizeof(wrong));
	wrong[IMDS_TOKEN_LEN - 1] ^= 1;
	req.imds_token = wrong;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	http_answer_clear(&a);
	req.imds_token = "T0000x";
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	http_answer_clear(&a);
	req.imds_token = HTTP_FIXTURE_ECS_TOKEN;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	http_answer_clear(&a);

	req = imds_req("DELETE", CREDS_PATH "/prod", token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 405);
	http_answer_clear(&a);

	/* Another role than the one served: 404, audited as asked. */
	req = imds_req("GET", CREDS_PATH "/dev/", token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 404);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	assert_true(a.audit.write);
	assert_string_equal(a.audit.role, "dev");
	assert_string_equal(a.audit.why, "no such role");
	assert_null(a.creds);
	http_answer_clear(&a);

	req = imds_req("GET", "/latest/meta-data/iam/security-credentials-"
			      "extended", token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(a.refusal, "path");
	http_answer_clear(&a);

	/* The owner check: another user's process, with a valid token. */
	req = imds_req("GET", CREDS_PATH "/prod", token);
	req.peer = &other;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 403);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	assert_true(a.refusal_warning);
	assert_string_equal(a.refusal, "user 1001 may not read these "
				       "credentials (serve.allowed_uids)");
	assert_true(a.audit.write);
	assert_null(a.audit.role);
	assert_int_equal(a.audit.status, 403);
	http_answer_clear(&a);

	/* A Host that is not loopback (DNS rebinding). */
	req = imds_req("GET", CREDS_PATH "/prod", token);
	req.host = "169.254.169.254";
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 403);
	assert_string_equal(a.refusal,
			    "the Host header does not name a loopback address");
	http_answer_clear(&a);
	/* Also on the token PUT. */
	req = imds_req("PUT", "/latest/api/token", NULL);
	req.host = "rebind.example";
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 403);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	http_answer_clear(&a);

	/* Not signed in, creds expired: 503 with an empty body. */
	req = imds_req("GET", CREDS_PATH "/prod", token);
	req.now_wall = T0_WALL + 13 * USEC_PER_HOUR;
	F.h.store.signed_in = false;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 503);
	assert_int_equal(a.body, HTTP_BODY_EMPTY);
	assert_string_equal(a.audit.why, "not signed in");
	http_answer_clear(&a);
}

/* Without imds_role the store's default role is served; with no role at
 * all the list is 404. */
static void test_imds_default_role(void **state)
{
	struct http_request req = imds_req("PUT", "/latest/api/token", NULL);
	char token[IMDS_TOKEN_LEN + 1];
	struct store empty = { 0 };
	struct http_answer a;

	http_route_imds(&F.h.imds, &req, &a);
	memcpy(token, a.token, sizeof(token));
	http_answer_clear(&a);

	F.h.conf.serve.imds_role = NULL;
	req = imds_req("GET", CREDS_PATH, token);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_memory_equal(a.text, store_default(&F.h.store)->name,
			    a.text_len);
	http_answer_clear(&a);

	F.h.imds.store = &empty;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(a.refusal, "no role");
	http_answer_clear(&a);
	F.h.imds.store = &F.h.store;
}

/* All IMDS_MAX_TOKENS live: the oldest issued gives way. */
/* Issue 15 item 5: the role list was sent from the configuration's (or
 * the store's) string, which a reload or a logout frees while MHD may
 * still be sending: the answer owns a copy now. */
static void test_imds_role_list_owned(void **state)
{
	char *name = strdup("prod");
	struct http_request req;
	struct http_answer a;
	char tok[IMDS_TOKEN_LEN + 1];

	assert_non_null(name);
	F.h.conf.serve.imds_role = name;
	req = imds_req("PUT", "/latest/api/token", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	memcpy(tok, a.token, sizeof(tok));
	http_answer_clear(&a);

	req = imds_req("GET", CREDS_PATH, tok);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body, HTTP_BODY_TEXT);
	/* A reload frees the old configuration, and the memory is reused. */
	memcpy(name, "XXXX", 4);
	assert_int_equal(a.text_len, 4);
	assert_memory_equal(a.text, "prod", 4);
	http_answer_clear(&a);

	/* From the store (no imds_role): a logout frees the roles. */
	F.h.conf.serve.imds_role = NULL;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	assert_ptr_not_equal(a.text, store_default(&F.h.store)->name);
	http_answer_clear(&a);
	free(name);
}

static void test_imds_token_table(void **state)
{
	struct http_request req = imds_req("PUT", "/latest/api/token", NULL);
	char first[IMDS_TOKEN_LEN + 1], last[IMDS_TOKEN_LEN + 1];
	struct http_answer a;

	for (unsigned i = 0; i <= IMDS_MAX_TOKENS; i++) {
		http_route_imds(&F.h.imds, &req, &a);
		assert_int_equal(a.status, 200);
		if (i == 0)
			memcpy(first, a.token, sizeof(first));
		memcpy(last, a.token, sizeof(last));
		http_answer_clear(&a);
	}
	req = imds_req("GET", CREDS_PATH, first);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 401);
	http_answer_clear(&a);
	req.imds_token = last;
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	http_answer_clear(&a);
}

/* Issue 15 item 4: a forwarder running as the owner (ssh -L, socat, a
 * proxy) passes the uid check; the headers it may add are refused on every
 * route of both endpoints, before anything is served or minted. */
static void test_forwarded_every_route(void **state)
{
	static const char *const hdrs[] = { "Forwarded", "X-Forwarded-For",
					    "X-Real-IP", "Via" };
	static const char *const ecs_paths[] = { "/", "/role/prod",
						 "/role/dev", "/role/nope",
						 "/nope" };
	static const char *const imds_paths[] = {
		CREDS_PATH, CREDS_PATH "/", CREDS_PATH "/prod",
		CREDS_PATH "/prod/", CREDS_PATH "/dev", "/latest/meta-data/",
	};
	struct http_request req;
	struct http_answer a;
	char tok[IMDS_TOKEN_LEN + 1];

	/* A live IMDS token, minted without a forwarder. */
	req = imds_req("PUT", "/latest/api/token", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	memcpy(tok, a.token, sizeof(tok));
	http_answer_clear(&a);

	for (size_t h = 0; h < ELEMENTSOF(hdrs); h++) {
		char why[128];

		(void)snprintf(why, sizeof(why),
			       "requests through a proxy or forwarder (%s) "
			       "are refused",
			       hdrs[h]);
		for (size_t i = 0; i < ELEMENTSOF(ecs_paths) + 2; i++) {
			req = ecs_req(i < ELEMENTSOF(ecs_paths) ? ecs_paths[i]
								: "/");
			if (i == ELEMENTSOF(ecs_paths))
				req.method = "POST";
			if (i == ELEMENTSOF(ecs_paths) + 1)
				req.authorization = NULL;
			*(const char **)((char *)&req +
					 (h == 0   ? offsetof(struct http_request,
							  forwarded)
					  : h == 1 ? offsetof(struct http_request,
							      forwarded_for)
					  : h == 2 ? offsetof(struct http_request,
							      real_ip)
						   : offsetof(struct http_request,
							      via))) = "127.0.0.1";
			req.now_mono = T0_MONO + (h * 16 + i) * GUARD_WINDOW;
			http_route_ecs(&F.h.ecs, &req, &a);
			if (a.status != 403 || a.creds)
				fail_msg("ECS %s %s with %s: %u", req.method,
					 req.path, hdrs[h], a.status);
			assert_string_equal(a.code, "AccessDenied");
			assert_string_equal(a.message, why);
			assert_string_equal(a.refusal, why);
			assert_true(a.refusal_warning);
			assert_true(a.audit.write);
			assert_string_equal(a.audit.why, why);
			http_answer_clear(&a);
		}
		for (size_t i = 0; i < ELEMENTSOF(imds_paths) + 1; i++) {
			bool put = i == ELEMENTSOF(imds_paths);

			req = put ? imds_req("PUT", "/latest/api/token", NULL)
				  : imds_req("GET", imds_paths[i], tok);
			if (h == 0)
				req.forwarded = "for=127.0.0.1";
			else if (h == 1)
				req.forwarded_for = "127.0.0.1";
			else if (h == 2)
				req.real_ip = "127.0.0.1";
			else
				req.via = "1.1 proxy";
			req.now_mono = T0_MONO + (h * 16 + i) * GUARD_WINDOW;
			http_route_imds(&F.h.imds, &req, &a);
			if (a.status != 403 || a.creds || a.body != HTTP_BODY_EMPTY)
				fail_msg("IMDS %s %s with %s: %u", req.method,
					 req.path, hdrs[h], a.status);
			assert_string_equal(a.refusal, why);
			assert_true(a.refusal_warning);
			assert_true(a.audit.write);
			http_answer_clear(&a);
		}
	}
	assert_int_equal(F.minted, 1);
}

/* Issue 15 item 3: a percent-decoded %0a (or any control byte) in the path
 * must not reach a log line as itself: it would forge an audit line. */
static void assert_printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			fail_msg("control byte 0x%02x in '%s'",
				 (unsigned char)*s, s);
}

static void test_log_escape(void **state)
{
	char buf[64], tiny[8];

	assert_string_equal(log_escape("a\nb\\c", buf, sizeof(buf)),
			    "a\\x0ab\\\\c");
	assert_string_equal(log_escape("x\n\r\t\x1b[2J\x7f\xc3\xa9", buf,
				       sizeof(buf)),
			    "x\\x0a\\x0d\\x09\\x1b[2J\\x7f\\xc3\\xa9");
	assert_string_equal(log_escape(NULL, buf, sizeof(buf)), "-");
	assert_string_equal(log_escape("/role/prod", buf, sizeof(buf)),
			    "/role/prod");
	/* Cut short, never mid-buffer garbage, always NUL-terminated. */
	assert_string_equal(log_escape("abcdefghij", tiny, sizeof(tiny)),
			    "abcd...");
	assert_string_equal(log_escape("\n\n\n", tiny, sizeof(tiny)),
			    "\\x0a...");
	assert_string_equal(log_escape("abcdefg", tiny, sizeof(tiny)),
			    "abcdefg");
}

static void test_path_escaped(void **state)
{
	static const char forged[] =
		"x\naudit: ecs role=prod peer_uid=0 status=200\r\x1b[1A";
	char path[256], tok[IMDS_TOKEN_LEN + 1];
	struct http_request req;
	struct http_answer a;

	/* ECS, signed in: no such role; the reason names it. */
	(void)snprintf(path, sizeof(path), "/role/%s", forged);
	req = ecs_req(path);
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 404);
	assert_printable(a.audit.why);
	assert_printable(a.audit.role);
	assert_printable(a.message);
	assert_non_null(strstr(a.audit.why, "x\\x0aaudit: ecs"));
	http_answer_clear(&a);

	/* ECS, no roles known yet: the audit names the role asked. */
	F.h.store.signed_in = false;
	store_clear(&F.h.store);
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	assert_non_null(a.audit.role);
	assert_printable(a.audit.role);
	assert_printable(a.audit.why);
	http_answer_clear(&a);

	/* IMDS: the audit names the role asked. */
	req = imds_req("PUT", "/latest/api/token", NULL);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 200);
	memcpy(tok, a.token, sizeof(tok));
	http_answer_clear(&a);
	(void)snprintf(path, sizeof(path), CREDS_PATH "/%s", forged);
	req = imds_req("GET", path, tok);
	http_route_imds(&F.h.imds, &req, &a);
	assert_int_equal(a.status, 404);
	assert_true(a.audit.write);
	assert_printable(a.audit.role);
	assert_non_null(strstr(a.audit.role, "\\x0a"));
	http_answer_clear(&a);
}

/* Runs fn with stderr going to a file; returns what it wrote (static). */
static const char *capture_stderr(void (*fn)(void *), void *ud)
{
	static char out[16384];
	FILE *f = tmpfile();
	int saved;
	size_t n;

	assert_non_null(f);
	(void)fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	fn(ud);
	(void)fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	(void)close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	(void)fclose(f);
	return out;
}

static unsigned count_lines(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void refuse_many(void *ud)
{
	struct peer_info other = { .loopback = true, .uid_known = true,
				   .uid = OTHER };
	unsigned *logged = ud;

	for (unsigned i = 0; i < 500; i++)
		*logged += guard_audit(&F.h.guard, &other, "imds", NULL, 403,
				       "user 1001 may not read these "
				       "credentials (serve.allowed_uids)");
	guard_audit_flush(&F.h.guard);
}

/* Issue 15 item 3: every refusal wrote a line (two with the warning), with
 * no limit; and the audit lines vanished below log_level: info. Now the
 * first per peer, endpoint and status in a window, then one repeats=N line;
 * at every log_level. */
static void test_refusal_lines_counted(void **state)
{
	sd_event *e = NULL;
	unsigned logged = 0;
	const char *out;

	assert_int_equal(sd_event_new(&e), 0);
	F.h.guard.event = e;
	log_set_level(LOG_WARNING);
	out = capture_stderr(refuse_many, &logged);
	log_set_level(LOG_ERR);
	guard_clear(&F.h.guard);
	F.h.guard.event = NULL;
	e = sd_event_unref(e);
	assert_int_equal(logged, 1);
	assert_int_equal(count_lines(out, "\n"), 2);
	assert_int_equal(count_lines(out, "audit: imds role=- peer_uid=1001 "
					  "status=403 reason=user 1001"),
			 1);
	assert_int_equal(count_lines(out, "audit: imds role=- peer_uid=1001 "
					  "status=403 repeats=499"),
			 1);
}

/* Issue 15 item 10: `env ROLE --scoped` hands out a token that opens that
 * role only, so a job for dev cannot read prod. */
static void test_scoped_token(void **state)
{
	char prod[RANDOM_TOKEN_LEN + 1], dev[RANDOM_TOKEN_LEN + 1],
		again[RANDOM_TOKEN_LEN + 1];
	struct secret *other;
	struct http_request req;
	struct http_answer a;

	assert_int_equal(http_scoped_token(F.h.token, "prod", prod), 0);
	assert_int_equal(http_scoped_token(F.h.token, "dev", dev), 0);
	assert_int_equal(http_scoped_token(F.h.token, "prod", again), 0);
	assert_int_equal(strlen(prod), RANDOM_TOKEN_LEN);
	assert_string_equal(prod, again);
	assert_string_not_equal(prod, dev);
	assert_string_not_equal(prod, HTTP_FIXTURE_ECS_TOKEN);

	/* prod's token opens prod, and / when prod is the default role. */
	req = ecs_req("/role/prod");
	req.authorization = prod;
	assert_ecs_served(&req, "prod");
	assert_string_equal(store_default(&F.h.store)->name, "prod");
	req = ecs_req("/");
	req.authorization = prod;
	assert_ecs_served(&req, "prod");

	/* Not another role, known or not, nor a path that names none. */
	req = ecs_req("/role/dev");
	req.authorization = prod;
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);
	req = ecs_req("/role/nope");
	req.authorization = prod;
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);
	req = ecs_req("/nope");
	req.authorization = prod;
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);
	/* dev's token: dev is refused with 503 (expired), never prod. */
	req = ecs_req("/role/prod");
	req.authorization = dev;
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);
	req = ecs_req("/role/dev");
	req.authorization = dev;
	http_route_ecs(&F.h.ecs, &req, &a);
	assert_int_equal(a.status, 503);
	http_answer_clear(&a);

	/* A new endpoint token (logout) ends the scoped ones. */
	other = secret_new_from("x", 1);
	assert_non_null(other);
	F.h.ecs.token = other;
	req = ecs_req("/role/prod");
	req.authorization = prod;
	assert_ecs_refused(&req, 403, "AccessDenied", NULL);
	F.h.ecs.token = F.h.token;
	secret_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guard_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guard_passes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ecs_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecs_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ecs_unavailable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ecs_no_roles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imds_flow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_imds_token_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_imds_get_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_imds_default_role, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_imds_token_table, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forwarded_every_route,
						setup, teardown),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test_setup_teardown(test_path_escaped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusal_lines_counted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_imds_role_list_owned,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_scoped_token, setup,
						teardown),
	};

	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
