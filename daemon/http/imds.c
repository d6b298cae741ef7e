#include "http/imds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "http/guard.h"
#include "http/server.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CREDS_PATH "/latest/meta-data/iam/security-credentials"
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define TOKEN_HEADER "X-aws-ec2-metadata-token"

int imds_init(struct imds *m)
{
	m->tokens_mem = secret_new(IMDS_MAX_TOKENS * (IMDS_TOKEN_LEN + 1));
	if (!m->tokens_mem)
		return -ENOMEM;
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		m->tokens[i] = (struct imds_token){
			.value = m->tokens_mem->data + i * (IMDS_TOKEN_LEN + 1),
		};
	return 0;
}

void imds_clear(struct imds *m)
{
	m->tokens_mem = secret_free(m->tokens_mem);
	memset(m->tokens, 0, sizeof(m->tokens));
}

/* Every IMDS error body is empty: one SDK takes any body as data. */
static enum MHD_Result reply_empty(struct MHD_Connection *c, unsigned status)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result refuse(struct imds *m, struct MHD_Connection *c,
			      unsigned status, const char *why)
{
	log_debug("IMDS request refused (%u): %s", status, why);
	return reply_empty(c, guard_refused(m->guard, c)
				      ? MHD_HTTP_TOO_MANY_REQUESTS
				      : status);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  void *data, size_t len,
				  MHD_ContentReaderFreeCallback release,
				  void *cls, const char *ttl)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer_with_free_callback_cls(
		len, data, release, cls);
	if (!resp) {
		if (release)
			release(cls);
		return MHD_NO;
	}
	/* Real IMDS answers text/plain, JSON documents included. */
	(void)MHD_add_response_header(resp, "Content-Type", "text/plain");
	if (ttl)
		(void)MHD_add_response_header(resp, TTL_HEADER, ttl);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void wipe_free(void *p)
{
	erase_and_free(p);
}

static enum MHD_Result put_token(struct imds *m, struct MHD_Connection *c,
				 const char *url)
{
	const char *ttl_s = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							  TTL_HEADER);
	char tok[RANDOM_TOKEN_LEN + 1], *end, *copy, ttl[16];
	unsigned long ttl_v;
	usec_t now = now_clock(CLOCK_MONOTONIC);
	struct imds_token *slot = NULL;

	/* The real service refuses tokens for proxied requests and for
	 * versioned paths (PROTOCOLS.md B2). */
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For"))
		return refuse(m, c, MHD_HTTP_FORBIDDEN, "X-Forwarded-For");
	if (!streq(url, "/latest/api/token"))
		return refuse(m, c, MHD_HTTP_FORBIDDEN, "token path");
	if (!ttl_s || !*ttl_s || *ttl_s == '-' || *ttl_s == '+')
		return refuse(m, c, MHD_HTTP_BAD_REQUEST, "no TTL");
	errno = 0;
	ttl_v = strtoul(ttl_s, &end, 10);
	if (errno || *end || ttl_v < 1 || ttl_v > IMDS_TTL_MAX)
		return refuse(m, c, MHD_HTTP_BAD_REQUEST, "bad TTL");

	for (size_t i = 0; i < IMDS_MAX_TOKENS && !slot; i++)
		if (m->tokens[i].expires <= now)
			slot = &m->tokens[i];
	if (!slot) {
		/* All live: the oldest issued gives way. */
		slot = &m->tokens[m->next];
		m->next = (m->next + 1) % IMDS_MAX_TOKENS;
	}
	if (random_token(tok) < 0)
		return reply_empty(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
	memcpy(slot->value, tok, IMDS_TOKEN_LEN + 1);
	slot->expires = now + (usec_t)ttl_v * USEC_PER_SEC;
	copy = strndup(tok, IMDS_TOKEN_LEN);
	explicit_bzero(tok, sizeof(tok));
	if (!copy)
		return reply_empty(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
	(void)snprintf(ttl, sizeof(ttl), "%lu", ttl_v);
	return reply_text(c, MHD_HTTP_OK, copy, IMDS_TOKEN_LEN, wipe_free, copy,
			  ttl);
}

static bool token_valid(struct imds *m, const char *t)
{
	usec_t now = now_clock(CLOCK_MONOTONIC);
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

static void release_creds(void *cls)
{
	creds_unref(cls);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct imds *m = cls;
	const char *why = NULL, *name, *role;
	struct role_session *r;
	char path[256];
	size_t n;

	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (guard_check(m->guard, c, &why) == GUARD_REFUSE) {
		bool throttled = guard_refused(m->guard, c);
		unsigned st = throttled ? MHD_HTTP_TOO_MANY_REQUESTS
					: MHD_HTTP_FORBIDDEN;

		log_warning("IMDS request for %s refused: %s", url, why);
		guard_audit(c, "imds", NULL, st, why);
		return reply_empty(c, st);
	}
	if (streq(method, "PUT"))
		return put_token(m, c, url);
	if (!streq(method, "GET"))
		return refuse(m, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method");
	if (!token_valid(m, MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							  TOKEN_HEADER)))
		return refuse(m, c, MHD_HTTP_UNAUTHORIZED, "no valid token");

	/* Paths come with or without a trailing slash. */
	n = strlen(url);
	if (n >= sizeof(path))
		return refuse(m, c, MHD_HTTP_NOT_FOUND, "path");
	memcpy(path, url, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';

	/* The configured imds_role, else the default role. */
	r = m->role ? NULL : store_default(m->store);
	role = m->role ? m->role : r ? r->name : NULL;
	if (streq(path, CREDS_PATH)) {
		if (!role)
			return refuse(m, c, MHD_HTTP_NOT_FOUND, "no role");
		/* One name, no trailing newline: two SDKs use the whole body
		 * as the role name (PROTOCOLS.md B3). */
		return reply_text(c, MHD_HTTP_OK, (void *)(uintptr_t)role,
				  strlen(role), NULL, NULL, NULL);
	}
	if (!strneq(path, CREDS_PATH "/", sizeof(CREDS_PATH)))
		/* Includes security-credentials-extended (404 makes Go and
		 * Java fall back to the legacy path) and the placement/ and
		 * identity documents: no region is offered. */
		return refuse(m, c, MHD_HTTP_NOT_FOUND, "path");
	name = path + sizeof(CREDS_PATH);
	if (!role || !streq(name, role) ||
	    !(r = store_find(m->store, name))) {
		guard_audit(c, "imds", name, MHD_HTTP_NOT_FOUND, "no such role");
		return refuse(m, c, MHD_HTTP_NOT_FOUND, "role");
	}
	if (!role_has_valid_creds(r, now_wall())) {
		guard_audit(c, "imds", r->name, MHD_HTTP_SERVICE_UNAVAILABLE,
			    m->store->signed_in ? "no valid credentials"
						: "not signed in");
		return reply_empty(c, MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	guard_audit_served(m->guard, c, "imds", r->name);
	return reply_text(c, MHD_HTTP_OK, r->creds->imds_json->data,
			  r->creds->imds_json->len, release_creds,
			  creds_ref(r->creds), NULL);
}

enum MHD_Result imds_handle(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **con_cls)
{
	return http_answer_and_wipe(handle, TOKEN_HEADER, cls, c, url, method,
				    version, upload_data, upload_data_size,
				    con_cls);
}
