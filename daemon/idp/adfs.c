#include "idp/adfs.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "idp/adfs-page.h"
#include "net/http-call.h"
#include "net/url.h"
#include "util/log.h"
#include "util/timeutil.h"

struct adfs {
	sd_event *event;
	struct curl_glue *glue;
	struct conf *const *conf; /* the manager's slot: a reload swaps it */
	CURLSH *share;               /* curl's jar: the cookies of a round */
	/* The cookies between rounds, as Netscape cookie-file lines each
	 * ended by '\n', in locked DONTDUMP memory: curl's jar is ordinary
	 * heap, so it holds them only while a round runs (jar_load() at the
	 * start, jar_park() at the end). NULL when there are none. */
	struct secret *jar;
	bool jar_in_curl;            /* a round has loaded the jar into curl */
	/* A fresh round (a login) starts with no cookie, so that ADFS takes
	 * the password and a new SSO begins; the cookies it had wait here,
	 * and come back when the round fails. */
	struct secret *jar_before;
	bool round_ok;
	char *origin;                /* "https://host:port" of adfs.url */
	char *host;                  /* for messages */

	/* The round in progress. */
	struct http_call *call;
	const struct secret *password;
	bool posted_password;
	unsigned steps;
	adfs_done_fn done;
	adfs_mfa_fn mfa;
	void *userdata;

	/* A second factor being asked for. */
	struct adfs_page *mfa_page;  /* the form to post back */
	enum adfs_mfa_kind mfa_kind;
	bool mfa_posted;             /* a code or a poll has been posted */
	usec_t push_deadline;        /* CLOCK_MONOTONIC */
	sd_event_source *timer;      /* push polling / answer timeout */
};

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

char *adfs_signon_url(const struct conf *conf)
{
	_cleanup_free_ char *esc = NULL;
	const char *rp = conf->adfs.relying_party;
	char *url;

	if (!rp || url_escape(rp, strlen(rp), &esc) < 0 ||
	    asprintf(&url, "%s/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=%s",
		     conf->adfs.url, esc) < 0)
		return NULL;
	return url;
}

int adfs_new(sd_event *event, struct curl_glue *g, struct conf *const *conf,
	     struct adfs **ret)
{
	struct adfs *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->event = sd_event_ref(event);
	a->glue = g;
	a->conf = conf;
	a->share = curl_share_init();
	if (url_origin((*conf)->adfs.url, &a->origin) < 0 ||
	    url_host((*conf)->adfs.url, &a->host) < 0 || !a->share ||
	    curl_share_setopt(a->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE)) {
		adfs_free(a);
		return -ENOMEM;
	}
	r = sd_event_add_time(event, &a->timer, CLOCK_MONOTONIC, USEC_INFINITY,
			      0, on_timer, a);
	if (r < 0) {
		adfs_free(a);
		return r;
	}
	(void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(a->timer, "adfs-mfa");
	*ret = a;
	return 0;
}

/* A throwaway handle on the shared jar, for cookie-list operations. */
static CURL *jar_handle(struct adfs *a)
{
	CURL *e = curl_easy_init();

	if (e && curl_easy_setopt(e, CURLOPT_SHARE, a->share) != CURLE_OK) {
		curl_easy_cleanup(e);
		e = NULL;
	}
	return e;
}

/* Calls fn on each line of the jar as a C string: the '\n' is turned
 * into a NUL for the call, so no copy of a cookie is made. */
static int jar_each(struct secret *jar, int (*fn)(const char *line, void *ud),
		    void *ud)
{
	char *p = jar ? jar->data : NULL;
	int r = 0;

	while (p && *p && r == 0) {
		char *nl = strchr(p, '\n');

		if (!nl)
			break;
		*nl = '\0';
		r = fn(p, ud);
		*nl = '\n';
		p = nl + 1;
	}
	return r;
}

/* A new jar holding old's lines and then those of list. */
static struct secret *jar_with(const struct secret *old,
			       const struct curl_slist *list)
{
	size_t need = old ? old->len : 0;
	struct secret *j;

	for (const struct curl_slist *l = list; l; l = l->next)
		need += strlen(l->data) + 1;
	if (need == 0)
		return NULL;
	j = secret_new(need);
	if (!j)
		return NULL;
	if (old)
		(void)secret_append(j, old->data, old->len);
	for (const struct curl_slist *l = list; l; l = l->next) {
		(void)secret_append(j, l->data, strlen(l->data));
		(void)secret_append(j, "\n", 1);
	}
	return j;
}

static int load_line(const char *line, void *ud)
{
	return curl_easy_setopt(ud, CURLOPT_COOKIELIST, line) == CURLE_OK
		       ? 0
		       : -EINVAL;
}

/* Gives the jar to curl for a round. */
static int jar_load(struct adfs *a)
{
	CURL *e;
	int r;

	if (a->jar_in_curl)
		return 0;
	e = jar_handle(a);
	if (!e)
		return -ENOMEM;
	r = jar_each(a->jar, load_line, e);
	curl_easy_cleanup(e);
	if (r < 0) {
		log_warning("Some ADFS cookies could not be loaded");
		r = 0;
	}
	a->jar_in_curl = true;
	return r;
}

/* Takes the cookies back from curl into locked memory after a round, and
 * empties curl's jar (freed through the wiping allocator). */
static void jar_park(struct adfs *a)
{
	struct curl_slist *list = NULL;
	struct secret *j;
	CURL *e;

	if (!a->jar_in_curl)
		return;
	e = jar_handle(a);
	if (!e) {
		log_warning("Cannot take the ADFS cookies out of libcurl: "
			    "out of memory");
		return;
	}
	(void)curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list);
	j = jar_with(NULL, list);
	if (list && !j)
		log_warning("Out of locked memory for the ADFS cookies: they "
			    "are forgotten, the next renewal signs in anew");
	(void)curl_easy_setopt(e, CURLOPT_COOKIELIST, "ALL");
	curl_easy_cleanup(e);
	curl_slist_free_all(list);
	secret_free(a->jar);
	a->jar = j;
	a->jar_in_curl = false;
}

static void round_clear(struct adfs *a)
{
	a->call = http_call_free(a->call);
	jar_park(a);
	if (a->jar_before) {
		/* A fresh round: its cookies if it signed in, else the old. */
		if (a->round_ok) {
			a->jar_before = secret_free(a->jar_before);
		} else {
			secret_free(a->jar);
			a->jar = TAKE_PTR(a->jar_before);
		}
	}
	a->round_ok = false;
	a->call = http_call_free(a->call);
	a->mfa_page = adfs_page_free(a->mfa_page);
	a->password = NULL;
	a->done = NULL;
	a->mfa = NULL;
	a->mfa_posted = false;
	if (a->timer)
		(void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
}

struct adfs *adfs_free(struct adfs *a)
{
	if (!a)
		return NULL;
	round_clear(a);
	(void)sd_event_source_disable_unref(a->timer);
	if (a->share)
		(void)curl_share_cleanup(a->share);
	secret_free(a->jar);
	sd_event_unref(a->event);
	free(a->origin);
	free(a->host);
	free(a);
	return NULL;
}

void adfs_cancel(struct adfs *a)
{
	round_clear(a);
}

void adfs_forget(struct adfs *a)
{
	adfs_cancel(a);
	a->jar = secret_free(a->jar);
}

static int append_line(const char *line, void *ud)
{
	struct curl_slist **list = ud, *l = curl_slist_append(*list, line);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

struct curl_slist *adfs_export_cookies(struct adfs *a)
{
	struct curl_slist *list = NULL;
	CURL *e;

	if (!a->jar_in_curl) {
		if (jar_each(a->jar, append_line, &list) < 0) {
			curl_slist_free_all(list);
			list = NULL;
		}
		return list;
	}
	/* A round runs: curl has the newest ones. */
	e = jar_handle(a);
	if (!e)
		return NULL;
	(void)curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list);
	curl_easy_cleanup(e);
	return list;
}

/* The expiry (seconds since the epoch, 0: a session cookie) of a jar
 * line when it holds an ADFS authentication cookie: MSISAuth, or one of
 * the MSISAuth1, MSISAuth2... pieces AD FS splits a large one into (not
 * MSISAuthenticated, which only records when). -1 for other lines. The
 * line is "domain TAB tailmatch TAB path TAB secure TAB expiry TAB name
 * TAB value"; it is read in place, and nothing of the value is copied. */
static long long auth_cookie_expiry(const char *line, size_t len)
{
	const char *f[7], *end = line + len, *p = line;
	size_t n = 0, nlen;
	long long exp = 0;

	while (n < ELEMENTSOF(f)) {
		f[n++] = p;
		p = memchr(p, '\t', (size_t)(end - p));
		if (!p)
			break;
		p++;
	}
	if (n < ELEMENTSOF(f))
		return -1;
	/* f[5] is the name, up to the tab before the value. */
	nlen = (size_t)(f[6] - 1 - f[5]);
	if (nlen < 8 || strncmp(f[5], "MSISAuth", 8) != 0)
		return -1;
	for (size_t i = 8; i < nlen; i++)
		if (f[5][i] < '0' || f[5][i] > '9')
			return -1;
	for (const char *d = f[4]; d < f[5] - 1; d++) {
		if (*d < '0' || *d > '9' || exp > (LLONG_MAX - 9) / 10)
			return 0;
		exp = exp * 10 + (*d - '0');
	}
	return exp;
}

usec_t adfs_sso_cookie_expiry(const struct adfs *a)
{
	const char *p = a->jar ? a->jar->data : NULL;
	const char *end = p ? p + a->jar->len : NULL;
	long long best = 0;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		long long e = auth_cookie_expiry(p, len);

		if (e == 0)
			return 0; /* a session cookie: gone with the SSO */
		if (e > best)
			best = e;
		p += len + 1;
	}
	if (best <= 0 || (unsigned long long)best > USEC_INFINITY / USEC_PER_SEC)
		return 0;
	return (usec_t)best * USEC_PER_SEC;
}

bool adfs_posted_password(const struct adfs *a)
{
	return a->posted_password;
}

usec_t adfs_push_deadline(const struct adfs *a)
{
	return a->mfa_page && a->mfa_kind == ADFS_MFA_PUSH ? a->push_deadline
							  : 0;
}

int adfs_import_cookies(struct adfs *a, const char *const *lines, size_t n)
{
	struct curl_slist *list = NULL;
	struct secret *j;
	CURL *e;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		if (lines[i][0] && !strchr(lines[i], '\n'))
			r = append_line(lines[i], &list);
	if (r < 0 || !list) {
		curl_slist_free_all(list);
		return r;
	}
	j = jar_with(a->jar, list);
	if (!j) {
		curl_slist_free_all(list);
		return -ENOMEM;
	}
	secret_free(a->jar);
	a->jar = j;
	if (a->jar_in_curl) {
		e = jar_handle(a);
		for (struct curl_slist *l = list; e && l && r == 0; l = l->next)
			r = load_line(l->data, e);
		curl_easy_cleanup(e);
	}
	curl_slist_free_all(list);
	return r;
}

static void finish(struct adfs *a, int r, struct secret *saml,
		   const char *fmt, ...) _printf_(4, 5);

static void finish(struct adfs *a, int r, struct secret *saml,
		   const char *fmt, ...)
{
	adfs_done_fn done = a->done;
	void *userdata = a->userdata;
	char msg[640] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		(void)vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	a->round_ok = r == 0;
	round_clear(a);
	done(r, saml, fmt ? msg : NULL, userdata);
}

static int start(struct adfs *a, const char *url, struct secret *post);

static bool is_password_field(const char *name)
{
	return strcasestr(name, "password") != NULL;
}

/* OTP inputs seen on ADFS adapters (PROTOCOLS.md D2). */
static bool is_code_field(const char *name)
{
	static const char *const names[] = {
		"verificationcode", "oathcode", "security_code",
		"challengequestionanswer", "passcode",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcasestr(name, names[i]))
			return true;
	return false;
}

/* Builds the urlencoded POST of form p in locked memory: the user name
 * into user/email inputs, the password into password inputs, code into
 * OTP inputs, every other input as ADFS sent it. */
static int form_body(struct adfs *a, const struct adfs_page *p,
		     const struct secret *code, struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *b = NULL;
	size_t extra = (a->password ? a->password->len : 0) +
		       (code ? code->len : 0);
	int r = 0;

	b = secret_new(32768 + 3 * extra);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_fields && r == 0; i++) {
		const struct adfs_field *f = &p->fields[i];
		const char *v = f->value;

		/* "Keep me signed in" is ticked only when the user opted in
		 * (adfs.keep_me_signed_in): it makes the SSO cookie
		 * persistent, for AD FS's KmsiLifetimeMins. Sent below. */
		if (strcasecmp(f->name, "Kmsi") == 0)
			continue;
		if (is_password_field(f->name))
			v = a->password ? a->password->data : "";
		else if (is_code_field(f->name))
			v = code ? code->data : f->value;
		else if (strcasestr(f->name, "user") ||
			 strcasestr(f->name, "email"))
			v = strempty((*a->conf)->adfs.username);
		r = http_form_append(b, f->name, v, strlen(v));
	}
	/* AD FS ignores Kmsi unless its farm has EnableKmsi; the login
	 * page's checkbox may be hidden or absent then. */
	if (r == 0 && p->kind == ADFS_PAGE_LOGIN &&
	    (*a->conf)->adfs.keep_me_signed_in)
		r = http_form_append(b, "Kmsi", "true", 4);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(b);
	return 0;
}

/* Posts form p (its action must stay on the ADFS origin). */
static int post_form(struct adfs *a, const struct adfs_page *p,
		     const struct secret *code)
{
	_cleanup_free_ char *o = NULL, *action = NULL;
	struct secret *body = NULL;
	int r;

	if (!p->action || strncmp(p->action, "https://", 8) != 0)
		return -EPROTO;
	if (url_origin(p->action, &o) < 0 || !streq(o, a->origin))
		return -EXDEV;
	action = strdup(p->action);
	if (!action)
		return -ENOMEM;
	r = form_body(a, p, code, &body);
	if (r < 0)
		return r;
	a->call = http_call_free(a->call);
	return start(a, action, body);
}

static void arm_timer(struct adfs *a, usec_t delay)
{
	(void)sd_event_source_set_time(a->timer,
				       now_clock(CLOCK_MONOTONIC) + delay);
	(void)sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct adfs *a = userdata;
	int r;

	if (!a->mfa_page)
		return 0;
	if (a->mfa_kind == ADFS_MFA_OTP) {
		finish(a, -ETIMEDOUT, NULL,
		       "no verification code was entered within %llu minutes; "
		       "run 'adfs-credctl login' again",
		       (unsigned long long)(ADFS_MFA_ANSWER_TIMEOUT /
					    USEC_PER_MINUTE));
		return 0;
	}
	if (now_clock(CLOCK_MONOTONIC) >= a->push_deadline) {
		finish(a, -ETIMEDOUT, NULL,
		       "the sign-in request was not approved within %llu "
		       "minutes; run 'adfs-credctl login' again",
		       (unsigned long long)(ADFS_PUSH_MAX_WAIT /
					    USEC_PER_MINUTE));
		return 0;
	}
	/* Azure MFA push: resubmitting the pass-through form asks ADFS
	 * whether the request was approved (PROTOCOLS.md D2). Each poll
	 * gets its own ADFS_MAX_STEPS: the deadline bounds the polls (40
	 * in 2 minutes would exceed one round's 24 requests). */
	a->mfa_posted = true;
	a->steps = 0;
	r = post_form(a, a->mfa_page, NULL);
	if (r < 0)
		finish(a, r, NULL, "Failed to poll ADFS for the MFA approval");
	return 0;
}

/* A second factor that nobody can give in this round. */
static void finish_no_mfa(struct adfs *a)
{
	finish(a, -ENOKEY, NULL,
	       "not signed in: ADFS asks for a second factor, which needs "
	       "you; run 'adfs-credctl login'");
}

/* Takes ownership of p. */
static void on_mfa_page(struct adfs *a, struct adfs_page *page)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = page;
	enum adfs_mfa_kind kind = p->kind == ADFS_PAGE_MFA_PUSH ? ADFS_MFA_PUSH
								: ADFS_MFA_OTP;
	bool again = a->mfa_page && a->mfa_posted;

	/* The page is parsed; nothing is in flight while we wait. */
	a->call = http_call_free(a->call);
	if (!a->mfa) {
		finish_no_mfa(a);
		return;
	}
	if (again && p->error_text) {
		finish(a, -EBADE, NULL, "ADFS rejected the second factor: %s",
		       p->error_text);
		return;
	}
	adfs_page_free(a->mfa_page);
	a->mfa_page = TAKE_PTR(p);
	a->mfa_kind = kind;
	if (kind == ADFS_MFA_PUSH) {
		/* Still waiting for the approval: poll again. */
		if (!again) {
			a->push_deadline =
				now_clock(CLOCK_MONOTONIC) + ADFS_PUSH_MAX_WAIT;
			if (a->mfa(kind, a->mfa_page->mfa_hint, a->userdata) <
			    0) {
				finish_no_mfa(a);
				return;
			}
		}
		arm_timer(a, ADFS_PUSH_POLL_INTERVAL);
		return;
	}
	a->mfa_posted = false;
	arm_timer(a, ADFS_MFA_ANSWER_TIMEOUT);
	if (a->mfa(kind, a->mfa_page->mfa_hint, a->userdata) < 0)
		finish_no_mfa(a);
}

int adfs_mfa_answer(struct adfs *a, const struct secret *code)
{
	int r;

	if (!a->mfa_page || a->call)
		return -ENOENT;
	if (a->mfa_kind == ADFS_MFA_PUSH)
		return 0;
	if (!code)
		return -EINVAL;
	(void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
	a->mfa_posted = true;
	r = post_form(a, a->mfa_page, code);
	if (r < 0)
		finish(a, r, NULL, "Failed to post the verification code");
	return 0;
}

static const char *explain_error(const struct adfs_page *p)
{
	const char *d = strempty(p->error_detail);

	if (strstr(d, "MSIS7012") ||
	    strstr(strempty(p->error_text), "is not available"))
		return "; IdP-initiated sign-on may be disabled: ask the ADFS "
		       "administrator for Set-AdfsProperties "
		       "-EnableIdpInitiatedSignonPage $true";
	if (strstr(d, "MSIS7007"))
		return "; check adfs.relying_party (the AWS relying party "
		       "trust's identifier)";
	if (strstr(d, "MSIS7042"))
		return "; ADFS saw too many requests in a short time (loop "
		       "detection)";
	return "";
}

static void on_page(struct adfs *a, const char *url)
{
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
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
		if (a->mfa_page) {
			finish(a, -EBADE, NULL,
			       "ADFS returned to the login form after the "
			       "second factor%s%s",
			       p->error_text ? ": " : "",
			       strempty(p->error_text));
			return;
		}
		if (!a->password) {
			finish(a, -ENOKEY, NULL,
			       (*a->conf)->adfs.auth == CONF_AUTH_KERBEROS
				       ? "not signed in: ADFS showed its login "
					 "form instead of accepting the Kerberos "
					 "ticket; check 'klist' and that ADFS "
					 "allows Windows Integrated "
					 "Authentication for this client"
				       : "not signed in: the ADFS single sign-on "
					 "session ended; run 'adfs-credctl "
					 "login'");
			return;
		}
		a->posted_password = true;
		r = post_form(a, p, NULL);
		if (r == -EXDEV)
			finish(a, r, NULL,
			       "the ADFS login form posts to another origin; "
			       "refusing to send the password there");
		else if (r == -EPROTO)
			finish(a, r, NULL,
			       "the ADFS login form has no https action");
		else if (r < 0)
			finish(a, r, NULL, "Failed to post the ADFS login form");
		return;
	case ADFS_PAGE_MFA_OTP:
	case ADFS_PAGE_MFA_PUSH:
		on_mfa_page(a, TAKE_PTR(p));
		return;
	default:
		if (p->error_text)
			finish(a, -EPROTO, NULL, "ADFS error: %s%s%s%s%s",
			       p->error_text, p->error_detail ? " (" : "",
			       p->error_detail ? p->error_detail : "",
			       p->error_detail ? ")" : "", explain_error(p));
		else
			finish(a, -EPROTO, NULL,
			       "unexpected page from ADFS at %s: expected the "
			       "login form (form#loginForm) or a SAMLResponse",
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
	url = strdup(eff ? eff : (*a->conf)->adfs.url);
	if (!url) {
		finish(a, -ENOMEM, NULL, "out of memory");
		return;
	}
	if (error == -ENOBUFS) {
		finish(a, error, NULL,
		       "the ADFS page at %s is larger than %u bytes; refusing "
		       "it",
		       url, ADFS_MAX_PAGE);
		return;
	}
	if (error == -EPROTO) {
		finish(a, error, NULL,
		       "TLS to ADFS at %s failed (%s); if ADFS uses a private "
		       "CA, set adfs.ca_file",
		       a->host, http_call_strerror(c));
		return;
	}
	if (error == -ECONNABORTED) {
		finish(a, error, NULL,
		       "TLS handshake with ADFS at %s failed (%s)", a->host,
		       http_call_strerror(c));
		return;
	}
	if (error == -ETIMEDOUT) {
		finish(a, error, NULL,
		       "ADFS at %s did not answer within %llus (adfs.timeout)",
		       a->host,
		       (unsigned long long)((*a->conf)->adfs.timeout /
					    USEC_PER_SEC));
		return;
	}
	if (error < 0) {
		finish(a, error, NULL, "ADFS request to %s failed: %s", url,
		       http_call_strerror(c));
		return;
	}
	if (c->status >= 300 && c->status < 400 && c->location) {
		_cleanup_free_ char *o = NULL;
		_cleanup_free_ char *next = strdup(c->location);
		int r;

		(void)url_origin(c->location, &o);
		if (!o || !next || !streq(o, a->origin)) {
			finish(a, -EPROTO, NULL,
			       "ADFS redirected outside its origin (%s); "
			       "refused",
			       o ? o : "unparsable URL");
			return;
		}
		a->call = http_call_free(a->call);
		r = start(a, next, NULL);
		if (r == -ELOOP)
			finish(a, r, NULL, "ADFS redirected too many times");
		else if (r < 0)
			finish(a, r, NULL, "Failed to follow the ADFS redirect");
		return;
	}
	if (c->status == 401 && (*a->conf)->adfs.auth == CONF_AUTH_KERBEROS) {
		/* Not a password: nothing to lock out. Either no ticket was
		 * sent or ADFS refused it; the user can fix both (kinit) and
		 * the next round tries again. */
		const char *cc = getenv("KRB5CCNAME");

		finish(a, -ENOKEY, NULL,
		       "not signed in: ADFS asked for Kerberos (HTTP 401) and "
		       "accepted no ticket; run 'kinit' (ticket cache %s), "
		       "check that 'klist' shows a ticket, and that ADFS has "
		       "the service principal HTTP/%s",
		       cc ? cc : "the default", a->host);
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
	bool kerberos = (*a->conf)->adfs.auth == CONF_AUTH_KERBEROS;
	struct http_call_opts o = {
		.ca_file = (*a->conf)->adfs.ca_file,
		.timeout = (*a->conf)->adfs.timeout,
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

int adfs_fetch(struct adfs *a, const struct secret *password, bool fresh,
	       adfs_done_fn done, adfs_mfa_fn mfa, void *userdata)
{
	_cleanup_free_ char *url = NULL;
	int r;

	if (a->done)
		return -EBUSY;
	url = adfs_signon_url(*a->conf);
	if (!url)
		return -ENOMEM;
	a->password = password;
	a->posted_password = false;
	a->steps = 0;
	a->done = done;
	a->mfa = mfa;
	a->userdata = userdata;
	if (fresh && password && a->jar && !a->jar_in_curl)
		a->jar_before = TAKE_PTR(a->jar);
	r = jar_load(a);
	if (r >= 0)
		r = start(a, url, NULL);
	if (r < 0) {
		round_clear(a);
		return r;
	}
	return 0;
}
