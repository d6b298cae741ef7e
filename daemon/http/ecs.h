/* The ECS container credentials endpoint (INTERFACE.md "Local endpoints",
 * PROTOCOLS.md A): GET / and GET /role/<name> with the raw token in the
 * Authorization header. Thin libmicrohttpd glue: the request goes through
 * http_route_ecs() (http/route.h, which defines struct ecs). Reads the
 * store only; never waits on the network. */
#pragma once

#include <microhttpd.h>

#include "http/route.h"

/* The MHD access handler; cls is a struct ecs. */
enum MHD_Result ecs_handle(void *cls, struct MHD_Connection *c,
			   const char *url, const char *method,
			   const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls);
