#include "http/ecs.h"

#include "http/endpoint.h"
#include "http/server.h"

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct ecs *e = cls;
	struct http_request req;
	struct http_answer a;

	/* Wait for the whole request; ECS requests carry no body. */
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	endpoint_request(c, url, method, &req);
	http_route_ecs(e, &req, &a);
	return endpoint_send(c, ENDPOINT_ECS, e->guard, url, &a);
}

enum MHD_Result ecs_handle(void *cls, struct MHD_Connection *c,
			   const char *url, const char *method,
			   const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	return http_answer_and_wipe(handle, "Authorization", cls, c, url, method,
				    version, upload_data, upload_data_size,
				    con_cls);
}
