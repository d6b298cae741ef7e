/* The WS-Trust round (PROTOCOLS.md D4): one POST of the RequestSecurityToken
 * to <adfs.url>/adfs/services/trust/13/usernamemixed, its answer read by
 * wstrust_parse_response() and wrapped by wstrust_wrap_response(). See
 * docs/internals/wstrust.md. */
#include "idp/wstrust.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/http-call.h"
#include "net/url.h"
#include "util/partition.h"
#include "util/timeutil.h"

struct wstrust_call {
	struct http_call *http;
	const char *destination; /* static, from the partition table */
	wstrust_done_fn done;
	void *userdata;
	char *url;  /* the usernamemixed endpoint, for messages */
	char *host; /* its host, for TLS messages */
};

/* ---- the round -------------------------------------------------------- */

struct wstrust_call *wstrust_call_free(struct wstrust_call *c)
{
	if (!c)
		return NULL;
	http_call_free(c->http);
	free(c->url);
	free(c->host);
	free(c);
	return NULL;
}

const char *wstrust_destination(const struct conf *conf)
{
	const struct partition *p = NULL;

	/* The region names the partition; without one, the roles do (they
	 * all live in one partition: STS serves only its own). */
	if (conf->aws.region)
		p = partition_from_region(conf->aws.region);
	for (size_t i = 0; !p && i < conf->n_roles; i++)
		p = partition_from_arn(conf->roles[i].arn);
	if (!p)
		p = partition_from_region(NULL);
	return p->saml_signin;
}

/* Judges a finished POST: 0 with *ret_saml, or an error with msg set. */
static int evaluate(struct wstrust_call *c, struct http_call *h, int error,
		    struct secret **ret_saml, char *msg, size_t size)
{
	_cleanup_(secret_freep) struct secret *assertion = NULL;
	_cleanup_free_ char *fault = NULL;
	int r;

	if (error == -ENOBUFS) {
		(void)snprintf(msg, size,
			       "the WS-Trust reply from %s is larger than %u "
			       "bytes; refusing it",
			       c->url, WSTRUST_MAX_REPLY);
		return error;
	}
	if (error == -EPROTO) {
		(void)snprintf(msg, size,
			       "TLS to ADFS at %s failed (%s); if ADFS uses a "
			       "private CA, set adfs.ca_file",
			       c->host ? c->host : c->url,
			       http_call_strerror(h));
		return error;
	}
	if (error < 0) {
		(void)snprintf(msg, size,
			       "ADFS WS-Trust request to %s failed: %s", c->url,
			       http_call_strerror(h));
		return error;
	}
	if (h->status == 404) {
		(void)snprintf(msg, size,
			       "the WS-Trust endpoint " WSTRUST_PATH " is not "
			       "published (Get-AdfsEndpoint; enable it or use "
			       "auth: forms)");
		return -EPROTO;
	}

	r = wstrust_parse_response(h->body.data, h->body.len, &assertion,
				   &fault);
	switch (r) {
	case 0:
		if (h->status != 200)
			break;
		r = wstrust_wrap_response(assertion, c->destination,
					  now_wall(), ret_saml);
		if (r < 0)
			(void)snprintf(msg, size,
				       "Failed to wrap the WS-Trust assertion "
				       "in a SAML Response");
		return r;
	case -EACCES:
		(void)snprintf(msg, size, "ADFS rejected the sign-in: %s",
			       fault);
		return r;
	case -EREMOTEIO:
		(void)snprintf(msg, size, "ADFS WS-Trust fault: %s", fault);
		return r;
	case -EOPNOTSUPP:
		(void)snprintf(msg, size, "%s", fault);
		return r;
	case -ENOMEM:
		(void)snprintf(msg, size, "out of memory");
		return r;
	default:
		if (h->status == 200) {
			(void)snprintf(msg, size,
				       "ADFS answered the WS-Trust request at "
				       "%s with neither a SAML 2.0 assertion "
				       "nor a SOAP fault",
				       c->url);
			return -EPROTO;
		}
		break;
	}
	(void)snprintf(msg, size, "ADFS answered HTTP %ld to the WS-Trust "
		       "request at %s", h->status, c->url);
	return -EPROTO;
}

static void on_done(struct http_call *h, int error, void *userdata)
{
	struct wstrust_call *c = userdata;
	wstrust_done_fn done = c->done;
	void *ud = c->userdata;
	struct secret *saml = NULL;
	char msg[512] = "";
	int r;

	r = evaluate(c, h, error, &saml, msg, sizeof(msg));
	/* The last act: the callee may free c (and with it h). */
	done(r, saml, r < 0 ? msg : NULL, ud);
}

int wstrust_fetch(struct curl_glue *g, const struct conf *conf,
		  const struct secret *password, wstrust_done_fn done,
		  void *userdata, struct wstrust_call **ret)
{
	struct http_call_opts o = {
		.ca_file = conf->adfs.ca_file,
		.timeout = conf->adfs.timeout,
		.max_body = WSTRUST_MAX_REPLY,
	};
	_cleanup_(wstrust_call_freep) struct wstrust_call *c = NULL;
	_cleanup_(secret_freep) struct secret *body = NULL;
	int r;

	assert(g);
	assert(done);
	assert(ret);

	/* There are no cookies to fall back on: no password, no round. */
	if (!password)
		return -ENOKEY;
	if (!conf->adfs.url || !conf->adfs.username)
		return -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->userdata = userdata;
	/* conf_parse_yaml drops trailing slashes from adfs.url. */
	if (asprintf(&c->url, "%s%s", conf->adfs.url, WSTRUST_PATH) < 0) {
		c->url = NULL;
		return -ENOMEM;
	}
	(void)url_host(c->url, &c->host);
	c->destination = wstrust_destination(conf);

	r = wstrust_build_request(c->url, conf->adfs.username, password,
				  conf->adfs.relying_party
					  ? conf->adfs.relying_party
					  : CONF_DEFAULT_RELYING_PARTY,
				  now_wall(), &body);
	if (r < 0)
		return r;
	r = http_call_new(c->url, &o, &c->http);
	if (r < 0)
		return r;
	r = http_call_set_post_take(c->http, TAKE_PTR(body),
				    "application/soap+xml; charset=utf-8");
	if (r < 0)
		return r;
	r = http_call_start(c->http, g, on_done, c);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}
