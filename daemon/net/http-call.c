#include "net/http-call.h"

#include <errno.h>
#include <limits.h>
#include <openssl/ssl.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/timeutil.h"

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_call *c = userdata;
	size_t n = size * nmemb;

	/* Returning less than n aborts the transfer (CURLE_WRITE_ERROR). */
	if (buf_append(&c->body, ptr, n) < 0)
		return 0;
	return n;
}

/* An HTTP Date header (RFC 9110 section 5.6.7: IMF-fixdate, or the
 * obsolete RFC 850 and asctime forms) as wall clock; 0 when it does not
 * parse. */
static usec_t parse_http_date(const char *v)
{
	time_t t = curl_getdate(v, NULL);

	return t > 0 ? (usec_t)t * USEC_PER_SEC : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_call *c = userdata;
	size_t n = size * nmemb;
	char line[256];
	size_t l = n;

	if (l >= sizeof(line))
		return n; /* long headers (cookies) are not ours to read */
	memcpy(line, ptr, l);
	line[l] = '\0';
	while (l && (line[l - 1] == '\r' || line[l - 1] == '\n'))
		line[--l] = '\0';
	if (strncasecmp(line, "date:", 5) == 0)
		c->date = parse_http_date(line + 5 + strspn(line + 5, " \t"));
	return n;
}

/* OpenSSL decrypts each record in place and keeps the plaintext (STS's
 * secret keys, ADFS's assertion) in its read buffer until the next record
 * overwrites it; SSL_OP_CLEANSE_PLAINTEXT wipes it once it is handed to
 * libcurl, and when the connection is freed. */
static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *userdata)
{
	(void)SSL_CTX_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return CURLE_OK;
}

int http_call_new(const char *url, const struct http_call_opts *o,
		  struct http_call **ret)
{
	struct http_call *c;
	CURL *e;
	long secs;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	buf_init(&c->body, o->max_body);
	c->easy = e = curl_easy_init();
	if (!e) {
		free(c);
		return -ENOMEM;
	}
	secs = (long)(o->timeout / USEC_PER_SEC);
	if (secs < 1)
		secs = 1;
	if (curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, secs < 10 ? secs : 10L) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, secs) ||
	    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			     (curl_off_t)o->max_body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, c) ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, c) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT,
			     o->user_agent ? o->user_agent
					   : "adfs-credd/" ADFS_CREDD_VERSION) ||
	    (o->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file)) ||
	    (o->share && (curl_easy_setopt(e, CURLOPT_SHARE, o->share) ||
			  curl_easy_setopt(e, CURLOPT_COOKIEFILE, ""))) ||
	    /* SPNEGO with the default credential cache; the empty user
	     * name tells libcurl to take the identity from the ticket. */
	    (o->negotiate &&
	     (curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_NEGOTIATE) ||
	      curl_easy_setopt(e, CURLOPT_USERPWD, ":")))) {
		http_call_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int http_call_set_post_take(struct http_call *c, struct secret *body,
			    const char *content_type)
{
	char h[128];

	secret_free(c->post);
	c->post = body;
	(void)snprintf(h, sizeof(h), "Content-Type: %s", content_type);
	if (curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body->data) ||
	    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			     (curl_off_t)body->len))
		return -EINVAL;
	return http_call_add_header(c, h);
}

int http_form_append(struct secret *b, const char *name, const char *value,
		     size_t value_len)
{
	char *ename, *evalue;
	int r = -ENOMEM;

	/* libcurl escapes without an easy handle since 7.82.0. */
	if (value_len > INT_MAX)
		return -E2BIG;
	ename = curl_easy_escape(NULL, name, 0);
	evalue = value_len ? curl_easy_escape(NULL, value, (int)value_len)
			   : curl_easy_escape(NULL, "", 0);
	if (ename && evalue) {
		r = b->len ? secret_append(b, "&", 1) : 0;
		r = r ?: secret_append(b, ename, strlen(ename));
		r = r ?: secret_append(b, "=", 1);
		r = r ?: secret_append(b, evalue, strlen(evalue));
	}
	if (evalue)
		explicit_bzero(evalue, strlen(evalue));
	curl_free(ename);
	curl_free(evalue);
	return r;
}

int http_call_add_header(struct http_call *c, const char *header)
{
	struct curl_slist *l = curl_slist_append(c->headers, header);

	if (!l)
		return -ENOMEM;
	c->headers = l;
	return curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, l) ? -EINVAL : 0;
}

static int translate(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_SSL_CONNECT_ERROR:
		/* A handshake that failed for another reason than our trust
		 * (reset, alert): no adfs.ca_file / aws.ca_file hint. */
		return -ECONNABORTED;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return -ENOBUFS;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	default:
		return -EIO;
	}
}

static void on_done(CURL *easy, CURLcode result, void *userdata)
{
	struct http_call *c = userdata;
	char *s = NULL;
	int r;

	c->running = false;
	r = translate(result);
	if (c->body.overflow)
		r = -ENOBUFS;
	(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
	if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &s) == CURLE_OK && s)
		c->location = strdup(s);
	s = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
		c->content_type = strdup(s);
	c->done(c, r, c->userdata);
}

int http_call_start(struct http_call *c, struct curl_glue *g,
		    http_call_done_fn done, void *userdata)
{
	int r;

	c->glue = g;
	c->done = done;
	c->userdata = userdata;
	r = curl_glue_add(g, c->easy, on_done, c);
	if (r < 0)
		return r;
	c->running = true;
	return 0;
}

struct http_call *http_call_free(struct http_call *c)
{
	if (!c)
		return NULL;
	if (c->running)
		curl_glue_remove(c->glue, c->easy);
	curl_easy_cleanup(c->easy);
	/* Headers may carry a session token or a signature. */
	for (struct curl_slist *l = c->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(c->headers);
	secret_free(c->post);
	buf_clear(&c->body);
	free(c->location);
	free(c->content_type);
	free(c);
	return NULL;
}

const char *http_call_strerror(const struct http_call *c)
{
	return c->errbuf[0] ? c->errbuf : "transfer failed";
}
