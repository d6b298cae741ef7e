#include "http/route.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/guard.h"
#include "http/peer.h"
#include "util/encode.h"
#include "util/log.h"

#define CREDS_PATH "/latest/meta-data/iam/security-credentials"

/* HTTP status codes (RFC 9110 15) */
#define ST_OK 200u
#define ST_BAD_REQUEST 400u
#define ST_UNAUTHORIZED 401u
#define ST_FORBIDDEN 403u
#define ST_NOT_FOUND 404u
#define ST_METHOD_NOT_ALLOWED 405u
#define ST_TOO_MANY_REQUESTS 429u
#define ST_INTERNAL_ERROR 500u
#define ST_UNAVAILABLE 503u

#define NOT_SIGNED_IN_MSG                                                    \
	"adfs-credd is not signed in to ADFS; run 'adfs-credctl login'"

void http_answer_init(struct http_answer *a)
{
	*a = (struct http_answer){ .status = ST_INTERNAL_ERROR,
				   .throttle_uid = -1 };
}

void http_answer_clear(struct http_answer *a)
{
	a->creds = creds_unref(a->creds);
	free(a->text);
	a->text = NULL;
	explicit_bzero(a->token, sizeof(a->token));
}

struct creds *http_answer_take_creds(struct http_answer *a)
{
	return TAKE_PTR(a->creds);
}

char *http_answer_take_text(struct http_answer *a)
{
	return TAKE_PTR(a->text);
}

const char *http_request_forwarded(const struct http_request *req)
{
	if (req->forwarded)
		return "Forwarded";
	if (req->forwarded_for)
		return "X-Forwarded-For";
	if (req->real_ip)
		return "X-Real-IP";
	if (req->via)
		return "Via";
	return NULL;
}

#define SCOPED_TOKEN_CONTEXT "adfs-credd scoped ECS token v1: "

int http_scoped_token(const struct secret *token, const char *role,
		      char out[static RANDOM_TOKEN_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char msg[sizeof(SCOPED_TOKEN_CONTEXT) + 256];
	unsigned int len = 0;
	int n, r = 0;

	/* The context, then the name: no other use of the endpoint token
	 * hashes this prefix. */
	n = snprintf(msg, sizeof(msg), "%s%s", SCOPED_TOKEN_CONTEXT, role);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (!HMAC(EVP_sha256(), token->data, (int)token->len,
		  (const unsigned char *)msg, (size_t)n, md, &len) ||
	    len != 32 || encode_base64url(md, 32, out) != RANDOM_TOKEN_LEN)
		r = -EIO;
	explicit_bzero(md, sizeof(md));
	if (r < 0)
		explicit_bzero(out, RANDOM_TOKEN_LEN + 1);
	return r;
}

/* Whether auth is the scoped token of role (NULL: no role asked). */
static bool scoped_token_ok(const struct ecs *e, const char *auth,
			    const char *role)
{
	char want[RANDOM_TOKEN_LEN + 1];
	bool ok;

	if (!role || strlen(auth) != RANDOM_TOKEN_LEN ||
	    http_scoped_token(e->token, role, want) < 0)
		return false;
	ok = CRYPTO_memcmp(want, auth, RANDOM_TOKEN_LEN) == 0;
	explicit_bzero(want, sizeof(want));
	return ok;
}

/* The role an ECS path asks for ("/": the default role); NULL: none. */
static const char *ecs_asked_role(struct ecs *e, const char *path)
{
	struct role_session *r;

	if (streq(path, "/")) {
		r = store_default(e->store);
		return r ? r->name : NULL;
	}
	if (strneq(path, "/role/", 6) && path[6])
		return path + 6;
	return NULL;
}

/* Why a request with a forwarder header is refused, into buf. */
static const char *forwarded_why(const struct http_request *req, char *buf,
				 size_t size)
{
	const char *h = http_request_forwarded(req);

	if (!h)
		return NULL;
	(void)snprintf(buf, size,
		       "requests through a proxy or forwarder (%s) are "
		       "refused",
		       h);
	return buf;
}

/* The role name as the path asked for it, escaped for the audit line. */
static const char *path_role(struct http_answer *a, const char *name)
{
	return log_escape(name, a->role, sizeof(a->role));
}

static void audit(struct http_answer *a, const char *role, unsigned status,
		  const char *why)
{
	a->audit = (struct http_audit){
		.write = true, .role = role, .status = status, .why = why,
	};
}

static void serve_creds(struct http_answer *a, struct role_session *r)
{
	a->status = ST_OK;
	a->body = HTTP_BODY_CREDS;
	a->creds = creds_ref(r->creds);
	a->audit = (struct http_audit){ .write = true, .served = true,
					.role = r->name, .status = ST_OK };
}

/* Counts a refusal against the peer; true when it is throttled. */
static bool count_refusal(struct guard *g, const struct http_request *req,
			  struct http_answer *a)
{
	bool began = false, throttled;

	throttled = guard_refused(g, req->peer, req->now_mono, &began);
	if (began) {
		a->throttle_began = true;
		a->throttle_uid = guard_peer_uid(req->peer);
	}
	return throttled;
}

/* ECS error: {"Code":code,"Message":message}. */
static void ecs_error(struct http_answer *a, unsigned status, const char *code,
		      const char *message)
{
	a->status = status;
	a->body = HTTP_BODY_ERROR;
	a->json = true;
	a->code = code;
	a->message = message;
}

/* Refusals count against the peer (GUARD_MAX_REFUSALS in a window); the
 * audit line carries the reason. */
static void ecs_refuse(struct ecs *e, const struct http_request *req,
		       struct http_answer *a, unsigned status,
		       const char *code, const char *why)
{
	if (count_refusal(e->guard, req, a)) {
		audit(a, NULL, ST_TOO_MANY_REQUESTS, why);
		ecs_error(a, ST_TOO_MANY_REQUESTS, "Throttled",
			  "too many refused requests; try again in a minute");
		return;
	}
	audit(a, NULL, status, why);
	ecs_error(a, status, code, why);
}

void http_route_ecs(struct ecs *e, const struct http_request *req,
		    struct http_answer *a)
{
	const char *why = NULL, *auth = req->authorization, *name;
	const char *path = req->path;
	struct role_session *r;

	http_answer_init(a);
	if (guard_check(e->guard, req, a->buf, sizeof(a->buf), &why) ==
	    GUARD_REFUSE) {
		a->refusal = why;
		a->refusal_warning = true;
		ecs_refuse(e, req, a, ST_FORBIDDEN, "AccessDenied", why);
		return;
	}
	why = forwarded_why(req, a->buf, sizeof(a->buf));
	if (why) {
		a->refusal = why;
		a->refusal_warning = true;
		ecs_refuse(e, req, a, ST_FORBIDDEN, "AccessDenied", why);
		return;
	}
	if (!streq(req->method, "GET")) {
		ecs_refuse(e, req, a, ST_METHOD_NOT_ALLOWED, "MethodNotAllowed",
			   "only GET is served");
		return;
	}
	/* The endpoint token opens every role; a scoped token (env ROLE
	 * --scoped) the role it was made for only. */
	if (!auth || (!secret_equal(e->token, auth, strlen(auth)) &&
		      !scoped_token_ok(e, auth, ecs_asked_role(e, path)))) {
		a->refusal = auth ? "wrong token" : "no Authorization header";
		a->refusal_warning = true;
		ecs_refuse(e, req, a, ST_FORBIDDEN, "AccessDenied",
			   "missing or wrong Authorization token; see "
			   "'adfs-credctl env'");
		return;
	}

	if (streq(path, "/")) {
		r = store_default(e->store);
		name = r ? r->name : "(default)";
	} else if (strneq(path, "/role/", 6) && path[6]) {
		name = path + 6;
		r = store_find(e->store, name);
	} else {
		ecs_refuse(e, req, a, ST_NOT_FOUND, "NoSuchRole",
			   "no such path; use /role/<name>");
		return;
	}
	if (!r && !e->store->signed_in && e->store->n_roles == 0) {
		/* Without roles: in the config, the roles are the ones the
		 * first assertion offers: until then nothing is known. */
		audit(a, path_role(a, name), ST_UNAVAILABLE, "not signed in");
		ecs_error(a, ST_UNAVAILABLE, "NotSignedIn", NOT_SIGNED_IN_MSG);
		return;
	}
	if (!r) {
		(void)snprintf(a->buf, sizeof(a->buf),
			       "no role named '%s'; see 'adfs-credctl status'",
			       path_role(a, name));
		ecs_refuse(e, req, a, ST_NOT_FOUND, "NoSuchRole", a->buf);
		return;
	}
	if (role_has_valid_creds(r, req->now_wall)) {
		serve_creds(a, r);
		a->json = true;
		return;
	}
	if (!e->store->signed_in || r->state == ROLE_NOT_SIGNED_IN) {
		audit(a, r->name, ST_UNAVAILABLE, "not signed in");
		ecs_error(a, ST_UNAVAILABLE, "NotSignedIn", NOT_SIGNED_IN_MSG);
		return;
	}
	(void)snprintf(a->buf, sizeof(a->buf),
		       "no valid credentials for role '%s'%s%.300s", r->name,
		       r->last_error ? ": " : "", strempty(r->last_error));
	audit(a, r->name, ST_UNAVAILABLE, "no valid credentials");
	ecs_error(a, ST_UNAVAILABLE, "CredentialsUnavailable", a->buf);
}

/* Every IMDS error body is empty: one SDK takes any body as data. The
 * reason goes to the debug log only; a throttled peer gets 429. */
static void imds_refuse(struct imds *m, const struct http_request *req,
			struct http_answer *a, unsigned status,
			const char *why)
{
	a->status = count_refusal(m->guard, req, a) ? ST_TOO_MANY_REQUESTS
						     : status;
	a->body = HTTP_BODY_EMPTY;
	a->refusal = why;
	a->refusal_status = status;
}

static void imds_text(struct http_answer *a, const char *text)
{
	a->text = strdup(text);
	if (!a->text) {
		a->status = ST_INTERNAL_ERROR;
		a->body = HTTP_BODY_EMPTY;
		return;
	}
	a->status = ST_OK;
	a->body = HTTP_BODY_TEXT;
	a->text_len = strlen(a->text);
}

static void put_token(struct imds *m, const struct http_request *req,
		      struct http_answer *a)
{
	const char *ttl_s = req->imds_token_ttl;
	struct imds_token *slot = NULL;
	unsigned long ttl_v;
	char *end;
	int r;

	/* The real service refuses tokens for versioned paths (and for
	 * proxied requests: http_route_imds() refuses those on every path;
	 * PROTOCOLS.md B2). */
	if (!streq(req->path, "/latest/api/token")) {
		imds_refuse(m, req, a, ST_FORBIDDEN, "token path");
		return;
	}
	if (!ttl_s || !*ttl_s || *ttl_s == '-' || *ttl_s == '+') {
		imds_refuse(m, req, a, ST_BAD_REQUEST, "no TTL");
		return;
	}
	errno = 0;
	ttl_v = strtoul(ttl_s, &end, 10);
	if (errno || *end || ttl_v < 1 || ttl_v > IMDS_TTL_MAX) {
		imds_refuse(m, req, a, ST_BAD_REQUEST, "bad TTL");
		return;
	}

	for (size_t i = 0; i < IMDS_MAX_TOKENS && !slot; i++)
		if (m->tokens[i].expires <= req->now_mono)
			slot = &m->tokens[i];
	if (!slot) {
		/* All live: the oldest issued gives way. */
		slot = &m->tokens[m->next];
		m->next = (m->next + 1) % IMDS_MAX_TOKENS;
	}
	r = (m->random_token ? m->random_token : random_token)(a->token);
	if (r < 0) {
		explicit_bzero(a->token, sizeof(a->token));
		a->status = ST_INTERNAL_ERROR;
		a->body = HTTP_BODY_EMPTY;
		return;
	}
	memcpy(slot->value, a->token, IMDS_TOKEN_LEN + 1);
	slot->expires = req->now_mono + (usec_t)ttl_v * USEC_PER_SEC;
	(void)snprintf(a->ttl, sizeof(a->ttl), "%lu", ttl_v);
	a->status = ST_OK;
	a->body = HTTP_BODY_TOKEN;
}

static bool token_valid(const struct imds *m, const char *t, usec_t now)
{
	bool ok = false;

	if (!t || strlen(t) != IMDS_TOKEN_LEN)
		return false;
	/* Compare against every live token, in constant time each. */
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		if (m->tokens[i].expires > now &&
		    CRYPTO_memcmp(m->tokens[i].value, t, IMDS_TOKEN_LEN) == 0)
			ok = true;
	return ok;
}

void http_route_imds(struct imds *m, const struct http_request *req,
		     struct http_answer *a)
{
	const char *why = NULL, *name, *role, *cfg_role;
	struct role_session *r;
	char path[256];
	size_t n;

	http_answer_init(a);
	if (guard_check(m->guard, req, a->buf, sizeof(a->buf), &why) !=
	    GUARD_REFUSE)
		/* A forwarder running as the owner makes IMDS, which has no
		 * secret, reachable from wherever it listens: refused on
		 * every path. */
		why = forwarded_why(req, a->buf, sizeof(a->buf));
	if (why) {
		a->status = count_refusal(m->guard, req, a)
				    ? ST_TOO_MANY_REQUESTS
				    : ST_FORBIDDEN;
		a->body = HTTP_BODY_EMPTY;
		a->refusal = why;
		a->refusal_warning = true;
		audit(a, NULL, a->status, why);
		return;
	}
	if (streq(req->method, "PUT")) {
		put_token(m, req, a);
		return;
	}
	if (!streq(req->method, "GET")) {
		imds_refuse(m, req, a, ST_METHOD_NOT_ALLOWED, "method");
		return;
	}
	if (!token_valid(m, req->imds_token, req->now_mono)) {
		imds_refuse(m, req, a, ST_UNAUTHORIZED, "no valid token");
		return;
	}

	/* Paths come with or without a trailing slash. */
	n = strlen(req->path);
	if (n >= sizeof(path)) {
		imds_refuse(m, req, a, ST_NOT_FOUND, "path");
		return;
	}
	memcpy(path, req->path, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';

	/* The configured imds_role, else the default role. */
	cfg_role = (*m->conf)->serve.imds_role ? (*m->conf)->serve.imds_role
						: (*m->conf)->default_role;
	r = cfg_role ? NULL : store_default(m->store);
	role = cfg_role ? cfg_role : r ? r->name : NULL;
	if (streq(path, CREDS_PATH)) {
		/* One name, no trailing newline: two SDKs use the whole body
		 * as the role name (PROTOCOLS.md B3). A copy: the name lives
		 * in the configuration or the store, which a reload or a
		 * logout frees while MHD may still be sending the reply. */
		if (role)
			imds_text(a, role);
		else
			imds_refuse(m, req, a, ST_NOT_FOUND, "no role");
		return;
	}
	if (!strneq(path, CREDS_PATH "/", sizeof(CREDS_PATH))) {
		/* Includes security-credentials-extended (404 makes Go and
		 * Java fall back to the legacy path) and the placement/ and
		 * identity documents: no region is offered. */
		imds_refuse(m, req, a, ST_NOT_FOUND, "path");
		return;
	}
	name = path + sizeof(CREDS_PATH);
	if (!role || !streq(name, role) || !(r = store_find(m->store, name))) {
		/* The audit names the role as asked (without the trailing
		 * slashes): an escaped copy in the answer, path is ours. */
		audit(a, path_role(a, name), ST_NOT_FOUND, "no such role");
		imds_refuse(m, req, a, ST_NOT_FOUND, "role");
		return;
	}
	if (!role_has_valid_creds(r, req->now_wall)) {
		a->status = ST_UNAVAILABLE;
		a->body = HTTP_BODY_EMPTY;
		audit(a, r->name, ST_UNAVAILABLE,
		      m->store->signed_in ? "no valid credentials"
					  : "not signed in");
		return;
	}
	serve_creds(a, r);
}
