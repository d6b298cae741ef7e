#include "http/imds.h"

#include <errno.h>
#include <string.h>

#include "http/endpoint.h"
#include "http/server.h"

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

void imds_forget_tokens(struct imds *m)
{
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++) {
		m->tokens[i].expires = 0;
		if (m->tokens[i].value)
			explicit_bzero(m->tokens[i].value, IMDS_TOKEN_LEN + 1);
	}
	m->next = 0;
}

void imds_clear(struct imds *m)
{
	m->tokens_mem = secret_free(m->tokens_mem);
	memset(m->tokens, 0, sizeof(m->tokens));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct imds *m = cls;
	struct http_request req;
	struct http_answer a;

	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	endpoint_request(c, url, method, &req);
	http_route_imds(m, &req, &a);
	return endpoint_send(c, ENDPOINT_IMDS, m->guard, url, &a);
}

enum MHD_Result imds_handle(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **con_cls)
{
	return http_answer_and_wipe(handle, "X-aws-ec2-metadata-token", cls, c,
				    url, method, version, upload_data,
				    upload_data_size, con_cls);
}
