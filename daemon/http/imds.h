/* EC2 instance metadata (IMDSv2) for the one role SDKs look for
 * (INTERFACE.md "Local endpoints", PROTOCOLS.md B): session tokens from
 * PUT /latest/api/token, then the role list and its credentials document.
 * IMDSv1 (no token) is refused with 401; error bodies are empty. Thin
 * libmicrohttpd glue: the request goes through http_route_imds()
 * (http/route.h, which defines struct imds and its token table). */
#pragma once

#include <microhttpd.h>

#include "http/route.h"

/* Allocates the token table (locked memory); -ENOMEM. */
int imds_init(struct imds *m);
/* Ends every session token (logout): an SDK must PUT a new one. */
void imds_forget_tokens(struct imds *m);
/* Wipes and frees the token table. */
void imds_clear(struct imds *m);

/* The MHD access handler; cls is a struct imds. */
enum MHD_Result imds_handle(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **con_cls);
