#include "http/endpoint.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/guard.h"
#include "http/server.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	if (strcasecmp(key, "Host") == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

void endpoint_request(struct MHD_Connection *c, const char *url,
		      const char *method, struct http_request *ret)
{
	*ret = (struct http_request){
		.method = method,
		.path = url,
		.host = header(c, "Host"),
		.origin = header(c, "Origin"),
		.referer = header(c, "Referer"),
		.sec_fetch_site = header(c, "Sec-Fetch-Site"),
		.authorization = header(c, "Authorization"),
		.imds_token = header(c, "X-aws-ec2-metadata-token"),
		.imds_token_ttl = header(c, TTL_HEADER),
		.forwarded_for = header(c, "X-Forwarded-For"),
		.forwarded = header(c, "Forwarded"),
		.real_ip = header(c, "X-Real-IP"),
		.via = header(c, "Via"),
		.peer = http_peer(c),
		.now_wall = now_wall(),
		.now_mono = now_clock(CLOCK_MONOTONIC),
	};
	/* MHD's lookup sees only the first Host; the guard refuses more. */
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_host,
					&ret->n_host);
}

static void release_creds(void *cls)
{
	creds_unref(cls);
}

static void wipe_free(void *p)
{
	erase_and_free(p);
}

static void plain_free(void *p)
{
	free(p);
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *resp, bool json,
			     const char *ttl)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (json)
		return http_queue_json(c, status, resp);
	/* Real IMDS answers text/plain, JSON documents included. */
	(void)MHD_add_response_header(resp, "Content-Type", "text/plain");
	if (ttl && *ttl)
		(void)MHD_add_response_header(resp, TTL_HEADER, ttl);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_empty(struct MHD_Connection *c, unsigned status)
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

static enum MHD_Result send_answer(struct MHD_Connection *c,
				   enum endpoint_kind k, struct http_answer *a)
{
	struct MHD_Response *resp;
	const struct secret *doc;
	struct creds *cr;
	char *copy;

	switch (a->body) {
	case HTTP_BODY_ERROR:
		return http_reply_error(c, a->status, a->code, a->message);
	case HTTP_BODY_CREDS:
		/* Zero-copy: MHD sends straight from the locked JSON and
		 * drops our reference when done, so a refresh meanwhile
		 * cannot free it. */
		cr = http_answer_take_creds(a);
		doc = k == ENDPOINT_ECS ? cr->ecs_json : cr->imds_json;
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			doc->len, doc->data, release_creds, cr);
		if (!resp)
			creds_unref(cr);
		return queue(c, a->status, resp, a->json, NULL);
	case HTTP_BODY_TEXT:
		/* The answer's own copy, freed when sent: a reload or a
		 * logout meanwhile frees nothing MHD still reads. */
		copy = http_answer_take_text(a);
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			a->text_len, copy, plain_free, copy);
		if (!resp)
			free(copy);
		return queue(c, a->status, resp, a->json, NULL);
	case HTTP_BODY_TOKEN:
		copy = strndup(a->token, IMDS_TOKEN_LEN);
		if (!copy)
			return send_empty(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			IMDS_TOKEN_LEN, copy, wipe_free, copy);
		if (!resp)
			erase_and_free(copy);
		return queue(c, a->status, resp, a->json, a->ttl);
	case HTTP_BODY_EMPTY:
	default:
		return send_empty(c, a->status);
	}
}

enum MHD_Result endpoint_send(struct MHD_Connection *c, enum endpoint_kind k,
			      struct guard *g, const char *url,
			      struct http_answer *a)
{
	const char *name = k == ENDPOINT_ECS ? "ecs" : "imds";
	const struct peer_info *p = http_peer(c);
	bool logged = true;
	enum MHD_Result ret;
	char esc[256];

	/* The audit line first: unserved requests of a peer get the first
	 * line of a window, the others are counted (guard_audit()); the
	 * warning goes with the line. The URL is the request's own text,
	 * percent-decoded: escaped. */
	if (a->audit.write && a->audit.served)
		guard_audit_served(g, p, name, a->audit.role);
	else if (a->audit.write)
		logged = guard_audit(g, p, name, a->audit.role,
				     a->audit.status, a->audit.why);
	if (a->refusal && a->refusal_warning && logged)
		log_warning("%s request for %s refused: %s",
			    k == ENDPOINT_ECS ? "ECS" : "IMDS",
			    log_escape(url, esc, sizeof(esc)), a->refusal);
	else if (a->refusal && !a->refusal_warning)
		log_debug("%s request refused (%u): %s",
			  k == ENDPOINT_ECS ? "ECS" : "IMDS", a->refusal_status,
			  a->refusal);
	if (a->throttle_began)
		guard_log_throttle(a->throttle_uid);
	ret = send_answer(c, k, a);
	http_answer_clear(a);
	return ret;
}
