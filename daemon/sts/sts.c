#include "sts/sts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/http-call.h"
#include "util/log.h"

struct sts_call {
	struct http_call *http;
	sts_done_fn done;
	void *userdata;
};

struct sts_call *sts_call_free(struct sts_call *c)
{
	if (!c)
		return NULL;
	http_call_free(c->http);
	free(c);
	return NULL;
}

bool sts_error_is_duration_too_long(const struct sts_error *err)
{
	return err && err->code && err->message &&
	       streq(err->code, "ValidationError") &&
	       strstr(err->message, "exceeds the MaxSessionDuration");
}

static void on_done(struct http_call *h, int error, void *userdata)
{
	struct sts_call *c = userdata;
	struct sts_creds *creds = NULL;
	struct sts_error *err = NULL;
	char msg[512];
	int r;

	if (error == -ENOBUFS) {
		(void)snprintf(msg, sizeof(msg),
			       "the STS reply is larger than %u bytes; "
			       "refusing it",
			       STS_MAX_REPLY);
		c->done(error, NULL, NULL, msg, h->date, c->userdata);
		return;
	}
	if (error < 0) {
		(void)snprintf(msg, sizeof(msg), "STS request failed: %s%s",
			       http_call_strerror(h),
			       error == -EPROTO ? " (for a private CA set "
						  "aws.ca_file)"
						: "");
		c->done(error, NULL, NULL, msg, h->date, c->userdata);
		return;
	}
	if (h->status == 200) {
		r = sts_xml_parse_assume(h->body.data, h->body.len, &creds);
		if (r < 0) {
			/* Say what it was: a proxy's HTML page is not a
			 * broken STS. */
			(void)snprintf(msg, sizeof(msg),
				       "STS answered 200 with a reply that "
				       "does not parse as "
				       "AssumeRoleWithSAMLResponse "
				       "(Content-Type: %s, %zu bytes)",
				       h->content_type ? h->content_type
						       : "none",
				       h->body.len);
			c->done(r, NULL, NULL, msg, h->date, c->userdata);
			return;
		}
		c->done(0, creds, NULL, NULL, h->date, c->userdata);
		return;
	}
	r = sts_xml_parse_error(h->body.data, h->body.len, &err);
	if (r < 0) {
		(void)snprintf(msg, sizeof(msg),
			       "STS answered HTTP %ld without an ErrorResponse",
			       h->status);
		c->done(-EPROTO, NULL, NULL, msg, h->date, c->userdata);
		return;
	}
	(void)snprintf(msg, sizeof(msg), "STS refused AssumeRoleWithSAML: %s: %s",
		       strempty(err->code), strempty(err->message));
	c->done(h->status == 403 ? -EACCES : -EREMOTEIO, NULL, err, msg,
		h->date, c->userdata);
}

int sts_assume_role_with_saml(struct curl_glue *g, const struct conf *conf,
			      const char *role_arn, const char *principal_arn,
			      const struct secret *saml_b64, uint32_t duration,
			      sts_done_fn done, void *userdata,
			      struct sts_call **ret)
{
	struct http_call_opts o = {
		.ca_file = conf->aws.ca_file,
		.timeout = 30 * USEC_PER_SEC,
		.max_body = STS_MAX_REPLY,
	};
	_cleanup_(secret_freep) struct secret *body = NULL;
	struct sts_call *c;
	char dur[16];
	int r;

	body = secret_new(1024 + strlen(role_arn) * 3 +
			  strlen(principal_arn) * 3 + saml_b64->len * 3);
	if (!body)
		return -ENOMEM;
	(void)snprintf(dur, sizeof(dur), "%u", duration);
	r = http_form_append(body, "Action", "AssumeRoleWithSAML", 18);
	r = r ?: http_form_append(body, "Version", "2011-06-15", 10);
	r = r ?: http_form_append(body, "RoleArn", role_arn, strlen(role_arn));
	r = r ?: http_form_append(body, "PrincipalArn", principal_arn,
				  strlen(principal_arn));
	r = r ?: http_form_append(body, "SAMLAssertion", saml_b64->data,
				  saml_b64->len);
	if (r == 0 && duration)
		r = http_form_append(body, "DurationSeconds", dur, strlen(dur));
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->userdata = userdata;
	r = http_call_new(conf->aws.sts_endpoint, &o, &c->http);
	r = r ?: http_call_set_post_take(c->http, TAKE_PTR(body),
					 "application/x-www-form-urlencoded; "
					 "charset=utf-8");
	r = r ?: http_call_start(c->http, g, on_done, c);
	if (r < 0) {
		sts_call_free(c);
		return r;
	}
	*ret = c;
	return 0;
}
