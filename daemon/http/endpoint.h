/* What ecs.c and imds.c share around the pure route (http/route.h): the
 * libmicrohttpd side of one request. Collects the request into a struct
 * http_request, and sends, logs and audits a struct http_answer. */
#pragma once

#include <microhttpd.h>

#include "http/route.h"

struct guard;

enum endpoint_kind {
	ENDPOINT_ECS,
	ENDPOINT_IMDS,
};

/* Fills ret from the connection: borrowed strings valid until the request
 * is answered, the peer, the clocks. */
void endpoint_request(struct MHD_Connection *c, const char *url,
		      const char *method, struct http_request *ret);
/* Logs the refusal, the start of a throttle and the audit line, then
 * queues the answer; a's creds reference goes to the response. Clears a. */
enum MHD_Result endpoint_send(struct MHD_Connection *c, enum endpoint_kind k,
			      struct guard *g, const char *url,
			      struct http_answer *a);
