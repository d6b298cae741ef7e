/* One outgoing HTTPS request with the project's safety rules applied:
 * https only, TLS verification on (optional extra CA file), connect and
 * total timeouts, a capped body, no automatic redirects (callers follow
 * them and check the origin). Runs on curl-glue. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>

#include "net/curl-glue.h"
#include "util/buf.h"
#include "util/macro.h"
#include "util/secret.h"

struct http_call;

/* error: 0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO for a
 * certificate that does not verify, -ECONNABORTED for another failed TLS
 * handshake, -ENOBUFS for an oversized body, -EIO otherwise); the call's
 * fields are valid inside the callback only. */
typedef void (*http_call_done_fn)(struct http_call *c, int error,
				  void *userdata);

struct http_call {
	CURL *easy;
	struct curl_glue *glue;
	struct curl_slist *headers;
	struct secret *post;   /* request body, if any (it may hold a secret) */
	struct buf body;       /* response body, capped; wiped on free */
	long status;           /* HTTP status, 0 when none */
	char *location;        /* redirect target of a 3xx, absolute */
	usec_t date;           /* reply Date header as wall clock, 0 if none */
	char *content_type;    /* reply Content-Type, NULL if none */
	char errbuf[CURL_ERROR_SIZE];
	http_call_done_fn done;
	void *userdata;
	bool running;
};

struct http_call_opts {
	const char *ca_file;  /* extra trust, NULL = system store */
	usec_t timeout;       /* whole transfer */
	size_t max_body;
	CURLSH *share;        /* cookie share; NULL = no cookies */
	const char *user_agent;
	bool negotiate;       /* answer 401 Negotiate with the user's Kerberos
				 ticket (SPNEGO, GSS-API default cache) */
};

/* Prepares a GET of url. Owned by the caller until http_call_start. */
int http_call_new(const char *url, const struct http_call_opts *o,
		  struct http_call **ret);
/* Makes it a POST of body (ownership of body passes to the call). */
int http_call_set_post_take(struct http_call *c, struct secret *body,
			    const char *content_type);
int http_call_add_header(struct http_call *c, const char *header);
/* Appends "name=value" (both url-encoded, '&' between pairs) to a form
 * body in locked memory; the escaped copy of value is wiped. */
int http_form_append(struct secret *b, const char *name, const char *value,
		     size_t value_len);
/* Starts it; done runs once from the loop. */
int http_call_start(struct http_call *c, struct curl_glue *g,
		    http_call_done_fn done, void *userdata);
/* Cancels if running and frees (wiping bodies). Accepts NULL. */
struct http_call *http_call_free(struct http_call *c);
DEFINE_FREEP(struct http_call, http_call_free)

/* A one-line, secret-free description of a transport error for logs and
 * status ("TLS certificate verification failed for adfs.example.com: ..."). */
const char *http_call_strerror(const struct http_call *c);
