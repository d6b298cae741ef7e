/* The ECS container credentials endpoint (INTERFACE.md "Local endpoints",
 * PROTOCOLS.md A): GET / and GET /role/<name> with the raw token in the
 * Authorization header. Reads the store only; never waits on the network. */
#pragma once

#include <microhttpd.h>

#include "session/store.h"
#include "util/secret.h"

struct guard;

struct ecs {
	struct store *store;         /* borrowed */
	const struct secret *token;  /* borrowed: the endpoint token */
	struct guard *guard;         /* borrowed */
};

/* The MHD access handler; cls is a struct ecs. */
enum MHD_Result ecs_handle(void *cls, struct MHD_Connection *c,
			   const char *url, const char *method,
			   const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls);

/* Request guards shared by ECS and IMDS: Host must be a loopback name or
 * address (a missing Host is allowed), and no browser context (Origin,
 * Referer, Sec-Fetch-Site other than none/same-origin). NULL when the
 * request passes, else a reason for the log and the 403 body. */
const char *http_guard_check(struct MHD_Connection *c);
