#include "sts/iam.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/http-call.h"
#include "net/url.h"
#include "util/partition.h"
#include "sts/sigv4.h"
#include "util/log.h"

#define IAM_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

struct iam_call {
	struct http_call *http;
	iam_done_fn done;
	void *userdata;
};

const char *iam_signing_region(const struct conf *conf)
{
	return partition_from_region(conf->aws.region)->iam_region;
}

struct iam_call *iam_call_free(struct iam_call *c)
{
	if (!c)
		return NULL;
	http_call_free(c->http);
	free(c);
	return NULL;
}

static void on_done(struct http_call *h, int error, void *userdata)
{
	struct iam_call *c = userdata;
	struct sts_error *err = NULL;
	uint32_t max = 0;
	char msg[512];
	int r;

	if (error < 0) {
		(void)snprintf(msg, sizeof(msg), "IAM GetRole failed: %s",
			       http_call_strerror(h));
		c->done(error, 0, NULL, msg, c->userdata);
		return;
	}
	if (h->status == 200) {
		r = sts_xml_parse_get_role(h->body.data, h->body.len, &max);
		if (r < 0) {
			c->done(r, 0, NULL,
				"IAM answered GetRole with a reply that does "
				"not parse",
				c->userdata);
			return;
		}
		c->done(0, max, NULL, NULL, c->userdata);
		return;
	}
	r = sts_xml_parse_error(h->body.data, h->body.len, &err);
	if (r < 0) {
		(void)snprintf(msg, sizeof(msg),
			       "IAM answered HTTP %ld without an ErrorResponse",
			       h->status);
		c->done(-EPROTO, 0, NULL, msg, c->userdata);
		return;
	}
	(void)snprintf(msg, sizeof(msg), "IAM GetRole refused: %s: %s",
		       strempty(err->code), strempty(err->message));
	c->done(h->status == 403 ? -EACCES : -EREMOTEIO, 0, err, msg,
		c->userdata);
}

int iam_get_role(struct curl_glue *g, const struct conf *conf,
		 const struct iam_key *key, const char *role_name, usec_t now,
		 iam_done_fn done, void *userdata, struct iam_call **ret)
{
	struct http_call_opts o = {
		.ca_file = conf->aws.ca_file,
		.timeout = 30 * USEC_PER_SEC,
		.max_body = STS_MAX_REPLY,
	};
	_cleanup_free_ char *host = NULL, *body = NULL, *auth = NULL,
			    *h_auth = NULL, *h_host = NULL, *h_tok = NULL,
			    *esc = NULL;
	char date[SIGV4_AMZ_DATE_LEN + 1], h_date[48];
	struct secret *post;
	struct iam_call *c;
	int r;

	/* The Host header value (host[:port]), as SigV4 signs it. */
	r = url_authority(conf->aws.iam_endpoint, &host);
	if (r < 0)
		return r;
	r = url_escape(role_name, strlen(role_name), &esc);
	if (r < 0)
		return r;
	if (asprintf(&body, "Action=GetRole&RoleName=%s&Version=2010-05-08",
		     esc) < 0)
		return -ENOMEM;

	{
		struct sigv4_request req = {
			.method = "POST",
			.host = host,
			.path = "/",
			.query = "",
			.content_type = IAM_CONTENT_TYPE,
			.body = body,
			.body_len = strlen(body),
			.region = iam_signing_region(conf),
			.service = "iam",
			.access_key_id = key->access_key_id,
			.secret_access_key = key->secret_access_key,
			.session_token = key->session_token,
			.now = now,
		};

		r = sigv4_sign(&req, &auth, date);
		if (r < 0)
			return r;
	}
	if (asprintf(&h_auth, "Authorization: %s", auth) < 0 ||
	    asprintf(&h_host, "Host: %s", host) < 0 ||
	    asprintf(&h_tok, "X-Amz-Security-Token: %s",
		     key->session_token->data) < 0)
		return -ENOMEM;
	(void)snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", date);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->userdata = userdata;
	post = secret_new_from(body, strlen(body));
	r = post ? http_call_new(conf->aws.iam_endpoint, &o, &c->http) : -ENOMEM;
	if (r == 0)
		r = http_call_set_post_take(c->http, TAKE_PTR(post),
					    IAM_CONTENT_TYPE);
	r = r ?: http_call_add_header(c->http, h_host);
	r = r ?: http_call_add_header(c->http, h_date);
	r = r ?: http_call_add_header(c->http, h_tok);
	r = r ?: http_call_add_header(c->http, h_auth);
	r = r ?: http_call_start(c->http, g, on_done, c);
	explicit_bzero(h_tok, strlen(h_tok));
	secret_free(post);
	if (r < 0) {
		iam_call_free(c);
		return r;
	}
	*ret = c;
	return 0;
}
