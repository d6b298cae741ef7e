#include "idp/adfs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "idp/adfs-page.h"
#include "net/http-call.h"
#include "util/log.h"

struct adfs {
	struct curl_glue *glue;
	const struct conf *conf;
	CURLSH *share;               /* the cookie jar */
	struct http_call *call;      /* the request in flight */
	const struct secret *password;
	bool posted_password;
	unsigned steps;
	adfs_done_fn done;
	void *userdata;
	char *origin;                /* "https://host[:port]" of adfs.url */
};

char *adfs_signon_url(const struct conf *conf)
{
	_cleanup_free_ char *rp = NULL;
	char *url = NULL;
	CURL *e;

	e = curl_easy_init();
	if (!e)
		return NULL;
	{
		char *esc = curl_easy_escape(e, conf->adfs.relying_party, 0);

		if (esc) {
			rp = strdup(esc);
			curl_free(esc);
		}
	}
	curl_easy_cleanup(e);
	if (!rp ||
	    asprintf(&url, "%s/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=%s",
		     conf->adfs.url, rp) < 0)
		return NULL;
	return url;
}

/* "https://host[:port]" of url, lower-cased host; NULL on parse failure. */
static char *origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		    CURLUE_OK) {
		for (char *p = host; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (asprintf(&o, "%s://%s:%s", scheme, host, port) < 0)
			o = NULL;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return o;
}

int adfs_new(struct curl_glue *g, const struct conf *conf, struct adfs **ret)
{
	struct adfs *a;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->glue = g;
	a->conf = conf;
	a->share = curl_share_init();
	a->origin = origin_of(conf->adfs.url);
	if (!a->share || !a->origin ||
	    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE)) {
		adfs_free(a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

struct adfs *adfs_free(struct adfs *a)
{
	if (!a)
		return NULL;
	a->call = http_call_free(a->call);
	if (a->share)
		(void)curl_share_cleanup(a->share);
	free(a->origin);
	free(a);
	return NULL;
}

void adfs_set_conf(struct adfs *a, const struct conf *conf)
{
	a->conf = conf;
}

void adfs_cancel(struct adfs *a)
{
	a->call = http_call_free(a->call);
	a->password = NULL;
}

void adfs_forget(struct adfs *a)
{
	CURL *e;

	adfs_cancel(a);
	/* Flush the shared jar through a throwaway handle. */
	e = curl_easy_init();
	if (!e)
		return;
	(void)curl_easy_setopt(e, CURLOPT_SHARE, a->share);
	(void)curl_easy_setopt(e, CURLOPT_COOKIELIST, "ALL");
	curl_easy_cleanup(e);
}

bool adfs_has_cookies(struct adfs *a)
{
	struct curl_slist *list = NULL;
	bool any;
	CURL *e;

	e = curl_easy_init();
	if (!e)
		return false;
	(void)curl_easy_setopt(e, CURLOPT_SHARE, a->share);
	(void)curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list);
	any = list != NULL;
	curl_slist_free_all(list);
	curl_easy_cleanup(e);
	return any;
}

static void finish(struct adfs *a, int r, struct secret *saml,
		   const char *fmt, ...) _printf_(4, 5);

static void finish(struct adfs *a, int r, struct secret *saml,
		   const char *fmt, ...)
{
	adfs_done_fn done = a->done;
	void *userdata = a->userdata;
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		(void)vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	a->call = http_call_free(a->call);
	a->password = NULL;
	a->done = NULL;
	done(r, saml, fmt ? msg : NULL, userdata);
}

static int start(struct adfs *a, const char *url, struct secret *post);

static const char *field_value_for(struct adfs *a, const struct adfs_field *f)
{
	if (strcasestr(f->name, "user") || strcasestr(f->name, "email"))
		return strempty(a->conf->adfs.username);
	return f->value;
}

/* Builds the urlencoded login POST body in locked memory. */
static int login_body(struct adfs *a, const struct adfs_page *p,
		      struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *b = NULL;
	CURL *e;
	int r = 0;

	b = secret_new(16384 + 3 * a->password->len);
	e = curl_easy_init();
	if (!b || !e) {
		curl_easy_cleanup(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_fields && r == 0; i++) {
		const struct adfs_field *f = &p->fields[i];
		const char *v;
		char *ename, *evalue;

		/* "Keep me signed in" stays unticked: the SSO cookie
		 * lifetime is the administrator's choice, not ours. */
		if (strcasecmp(f->name, "Kmsi") == 0)
			continue;
		if (strcasestr(f->name, "pass"))
			v = a->password->data;
		else
			v = field_value_for(a, f);
		ename = curl_easy_escape(e, f->name, 0);
		evalue = curl_easy_escape(e, v, 0);
		if (!ename || !evalue)
			r = -ENOMEM;
		else {
			if (b->len)
				r = secret_append(b, "&", 1);
			if (r == 0)
				r = secret_append(b, ename, strlen(ename));
			if (r == 0)
				r = secret_append(b, "=", 1);
			if (r == 0)
				r = secret_append(b, evalue, strlen(evalue));
		}
		if (evalue)
			explicit_bzero(evalue, strlen(evalue));
		curl_free(ename);
		curl_free(evalue);
	}
	curl_easy_cleanup(e);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(b);
	return 0;
}

static void on_page(struct adfs *a, const char *url)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
	struct secret *post = NULL;
	int r;

	r = adfs_page_parse(a->call->body.data, a->call->body.len, url, &p);
	if (r < 0) {
		finish(a, r, NULL, "Failed to parse the ADFS page at %s", url);
		return;
	}
	switch (p->kind) {
	case ADFS_PAGE_SAML:
		finish(a, 0, TAKE_PTR(p->saml_response), NULL);
		return;
	case ADFS_PAGE_LOGIN:
		if (a->posted_password) {
			/* ADFS showed the form again: the password was
			 * rejected. Never post it a second time. */
			finish(a, -EACCES, NULL, "ADFS rejected the sign-in: %s",
			       p->error_text ? p->error_text
					     : "the login form came back");
			return;
		}
		if (!a->password) {
			finish(a, -ENOKEY, NULL,
			       "not signed in: the ADFS single sign-on session "
			       "ended; run 'adfs-credctl login'");
			return;
		}
		if (!p->action || strncmp(p->action, "https://", 8) != 0) {
			finish(a, -EPROTO, NULL,
			       "the ADFS login form has no https action");
			return;
		}
		{
			_cleanup_free_ char *o = origin_of(p->action);

			if (!o || !streq(o, a->origin)) {
				finish(a, -EPROTO, NULL,
				       "the ADFS login form posts to another "
				       "origin (%s); refusing to send the "
				       "password there",
				       o ? o : "unparsable URL");
				return;
			}
		}
		r = login_body(a, p, &post);
		if (r < 0) {
			finish(a, r, NULL, "Failed to build the login form");
			return;
		}
		a->posted_password = true;
		{
			_cleanup_free_ char *action = strdup(p->action);

			a->call = http_call_free(a->call);
			r = action ? start(a, action, post) : -ENOMEM;
		}
		if (r < 0)
			finish(a, r, NULL, "Failed to post the ADFS login form");
		return;
	case ADFS_PAGE_MFA_OTP:
	case ADFS_PAGE_MFA_PUSH:
		finish(a, -EOPNOTSUPP, NULL,
		       "ADFS asks for a second factor, which this version "
		       "cannot answer yet");
		return;
	default:
		if (p->error_text)
			finish(a, -EPROTO, NULL, "ADFS error: %s", p->error_text);
		else
			finish(a, -EPROTO, NULL,
			       "unexpected page from ADFS at %s: expected the "
			       "login form (form#loginForm) or a SAMLResponse; "
			       "is IdP-initiated sign-on enabled "
			       "(EnableIdpInitiatedSignonPage)?",
			       url);
		return;
	}
}

static void on_call_done(struct http_call *c, int error, void *userdata)
{
	struct adfs *a = userdata;
	_cleanup_free_ char *url = NULL;
	char *eff = NULL;

	(void)curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff);
	url = strdup(eff ? eff : a->conf->adfs.url);
	if (!url) {
		finish(a, -ENOMEM, NULL, "out of memory");
		return;
	}
	if (error == -ENOBUFS) {
		finish(a, error, NULL, "the ADFS page at %s is larger than %u "
		       "bytes; refusing it", url, ADFS_MAX_PAGE);
		return;
	}
	if (error == -EPROTO) {
		finish(a, error, NULL,
		       "TLS to ADFS failed (%s); if ADFS uses a private CA, "
		       "set adfs.ca_file", http_call_strerror(c));
		return;
	}
	if (error < 0) {
		finish(a, error, NULL, "ADFS request to %s failed: %s", url,
		       http_call_strerror(c));
		return;
	}
	if (c->status >= 300 && c->status < 400 && c->location) {
		_cleanup_free_ char *o = origin_of(c->location);
		_cleanup_free_ char *next = strdup(c->location);
		int r;

		if (!o || !next || !streq(o, a->origin)) {
			finish(a, -EPROTO, NULL,
			       "ADFS redirected outside its origin (%s); "
			       "refused", o ? o : "unparsable URL");
			return;
		}
		a->call = http_call_free(a->call);
		r = start(a, next, NULL);
		if (r < 0)
			finish(a, r, NULL, "Failed to follow the ADFS redirect");
		return;
	}
	if (c->status != 200) {
		finish(a, -EPROTO, NULL, "ADFS answered HTTP %ld at %s",
		       c->status, url);
		return;
	}
	on_page(a, url);
}

static int start(struct adfs *a, const char *url, struct secret *post)
{
	bool kerberos = a->conf->adfs.auth == CONF_AUTH_KERBEROS;
	struct http_call_opts o = {
		.ca_file = a->conf->adfs.ca_file,
		.timeout = a->conf->adfs.timeout,
		.max_body = ADFS_MAX_PAGE,
		.share = a->share,
		.negotiate = kerberos,
		/* ADFS picks Windows Integrated Authentication by User-Agent
		 * (WIASupportedUserAgents); an IE11 string is on every
		 * default list (PROTOCOLS.md D3). */
		.user_agent = kerberos ? ADFS_WIA_USER_AGENT : NULL,
	};
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	int r;

	if (++a->steps > ADFS_MAX_STEPS) {
		secret_free(post);
		return -ELOOP;
	}
	r = http_call_new(url, &o, &c);
	if (r < 0) {
		secret_free(post);
		return r;
	}
	r = http_call_add_header(c, "Accept-Language: en");
	if (r == 0 && post)
		r = http_call_set_post_take(c, TAKE_PTR(post),
					    "application/x-www-form-urlencoded");
	secret_free(post);
	if (r == 0)
		r = http_call_start(c, a->glue, on_call_done, a);
	if (r < 0)
		return r;
	a->call = TAKE_PTR(c);
	return 0;
}

int adfs_fetch(struct adfs *a, const struct secret *password,
	       adfs_done_fn done, void *userdata)
{
	_cleanup_free_ char *url = NULL;

	if (a->done)
		return -EBUSY;
	url = adfs_signon_url(a->conf);
	if (!url)
		return -ENOMEM;
	a->password = password;
	a->posted_password = false;
	a->steps = 0;
	a->done = done;
	a->userdata = userdata;
	{
		int r = start(a, url, NULL);

		if (r < 0) {
			a->done = NULL;
			a->password = NULL;
			return r;
		}
	}
	return 0;
}
