/* adfs-credctl doctor: walks the chain the daemon depends on, from the
 * config to the daemon's own state, and says for each step OK, WARN or
 * FAIL, what it found and what to do. It never signs in and sends no
 * secret: the only requests are name lookups, TCP connects, TLS
 * handshakes, a GET of the ADFS sign-on page, an unsigned GET to STS and a
 * GET of the daemon's /v1/status. Every network step is bounded by
 * adfs.timeout, at most 10 s. Text from outside (pages, certificates,
 * STS, the daemon) is escaped before it is shown. See adfs-credctl(1) and
 * docs/internals/doctor.md. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/doctor-net.h"
#include "idp/adfs-page.h"
#include "idp/adfs.h"
#include "util/doctor.h"
#include "util/paths.h"
#include "util/sockdiag.h"
#include "util/text.h"
#include "util/timeutil.h"

#define DOCTOR_MAX_TIMEOUT (10 * USEC_PER_SEC)
#define STS_REPLY_MAX (64u * 1024u)
#define SPAWN_OUT_MAX 4096u

const char *cli_config_path;

enum step_id {
	STEP_CONFIG,
	STEP_DNS,
	STEP_TCP,
	STEP_TLS,
	STEP_SIGNIN_PAGE,
	STEP_RELYING_PARTY,
	STEP_STS,
	STEP_CLOCK,
	STEP_SYSTEMD,
	STEP_PORTS,
	STEP_DAEMON,
	_STEP_MAX,
};

static const char *const step_names[_STEP_MAX] = {
	[STEP_CONFIG] = "config",
	[STEP_DNS] = "dns",
	[STEP_TCP] = "tcp",
	[STEP_TLS] = "tls",
	[STEP_SIGNIN_PAGE] = "signin-page",
	[STEP_RELYING_PARTY] = "relying-party",
	[STEP_STS] = "sts",
	[STEP_CLOCK] = "clock",
	[STEP_SYSTEMD] = "systemd",
	[STEP_PORTS] = "ports",
	[STEP_DAEMON] = "daemon",
};

struct step {
	bool ran;                  /* a finding was noted */
	enum doctor_result result; /* the worst finding; SKIP until one */
	char *detail;              /* findings, "; " between them */
	char *hint;                /* what to do about the worst problems */
	enum doctor_result last;   /* of the latest finding */
	enum doctor_result hint_for; /* the result hint is about */
};

/* A server the daemon talks to: ADFS, STS, IAM. */
struct target {
	const char *key;     /* "adfs.url", ... (static) */
	const char *url;     /* borrowed from the conf */
	const char *ca_key;  /* "adfs.ca_file" or "aws.ca_file" */
	const char *ca_file; /* borrowed from the conf; NULL = system trust */
	char *host;          /* without brackets */
	uint16_t port;
	const char *proxy;   /* borrowed from the environment; NULL = direct */
	char *proxy_shown;   /* proxy without user:password@ */
	char *proxy_host;
	uint16_t proxy_port;
	struct addrinfo *addrs;
	int failed;          /* the step that failed for it, or -1 */
};

struct doctor {
	struct step steps[_STEP_MAX];
	struct conf *conf;
	struct target targets[3];
	size_t n_targets;
	usec_t timeout;
	struct doctor_proxy_env penv;
	usec_t sts_date;     /* STS's Date header, 0 when none */
	usec_t sts_local;    /* our clock when it came */
};

/* Adds a finding to step s; the step's result becomes the worst. */
static void note(struct doctor *d, enum step_id s, enum doctor_result r,
		 const char *fmt, ...) _printf_(4, 5);
static void note(struct doctor *d, enum step_id s, enum doctor_result r,
		 const char *fmt, ...)
{
	struct step *st = &d->steps[s];
	_cleanup_free_ char *msg = NULL;
	char *joined = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		return;
	}
	if (st->detail) {
		if (asprintf(&joined, "%s; %s", st->detail, msg) < 0)
			return;
		free(st->detail);
		st->detail = joined;
	} else {
		st->detail = TAKE_PTR(msg);
	}
	st->result = st->ran ? doctor_result_worst(st->result, r) : r;
	st->last = r;
	st->ran = true;
}

/* Adds what to do about the finding noted last (each distinct hint once;
 * only those of the worst findings are kept). */
static void hint(struct doctor *d, enum step_id s, const char *fmt, ...)
	_printf_(3, 4);
static void hint(struct doctor *d, enum step_id s, const char *fmt, ...)
{
	struct step *st = &d->steps[s];
	_cleanup_free_ char *h = NULL;
	char *joined;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A failure's fix comes before a warning's, which is dropped. */
	if (st->hint && st->last < st->hint_for)
		return;
	if (!st->hint || st->last > st->hint_for) {
		free(st->hint);
		st->hint = TAKE_PTR(h);
		st->hint_for = st->last;
		return;
	}
	/* One of each: several hosts may need the same fix. */
	if (strstr(st->hint, h) || asprintf(&joined, "%s; %s", st->hint, h) < 0)
		return;
	free(st->hint);
	st->hint = joined;
}

/* A step that cannot run: what it needs failed. */
static void skip(struct doctor *d, enum step_id s, enum step_id needs)
{
	note(d, s, DOCTOR_SKIP, "skipped: needs %s", step_names[needs]);
}

static void target_fail(struct doctor *d, struct target *t, enum step_id s)
{
	if (t->failed < 0)
		t->failed = (int)s;
}

/* Whether t got through every step before s; otherwise notes the skip. */
static bool target_ready(struct doctor *d, struct target *t, enum step_id s)
{
	if (t->failed < 0)
		return true;
	note(d, s, DOCTOR_SKIP, "%s: skipped (needs %s)", t->key,
	     step_names[t->failed]);
	return false;
}

static struct target *find_target(struct doctor *d, const char *key)
{
	for (size_t i = 0; i < d->n_targets; i++)
		if (streq(d->targets[i].key, key))
			return &d->targets[i];
	return NULL;
}

/* --- 1. config -------------------------------------------------------- */

static void check_config(struct doctor *d)
{
	_cleanup_free_ char *path = NULL;
	struct conf_errors errs = { 0 };
	static const char *const auth[] = {
		[CONF_AUTH_FORMS] = "forms",
		[CONF_AUTH_KERBEROS] = "kerberos",
		[CONF_AUTH_WSTRUST] = "ws-trust",
	};
	const char *warning;
	struct stat st;

	path = cli_config_path ? strdup(cli_config_path) : conf_default_path();
	if (!path) {
		note(d, STEP_CONFIG, DOCTOR_FAIL,
		     "no config path: no home directory");
		hint(d, STEP_CONFIG, "pass -c PATH");
		return;
	}
	if (!cli_config_path && stat(path, &st) < 0) {
		note(d, STEP_CONFIG, DOCTOR_FAIL, "no config at %s", path);
		hint(d, STEP_CONFIG,
		     "write one (adfs-credd.yaml(5); the example is in "
		     "/usr/share/doc/adfs-credd), or pass -c PATH");
		return;
	}
	if (conf_load(path, &d->conf, &errs) < 0) {
		_cleanup_free_ char *all = NULL;

		for (size_t i = 0; i < errs.n; i++) {
			char *n = NULL;

			if (asprintf(&n, "%s%s%s", all ? all : "",
				     all ? "; " : "", errs.msgs[i]) < 0)
				break;
			free(all);
			all = n;
		}
		note(d, STEP_CONFIG, DOCTOR_FAIL, "%s%s",
		     all ? all : "the config does not load",
		     errs.dropped ? " (and more)" : "");
		hint(d, STEP_CONFIG,
		     "fix the config; adfs-credd -c %s --check-config lists "
		     "every error",
		     path);
		conf_errors_clear(&errs);
		d->conf = NULL;
		return;
	}
	note(d, STEP_CONFIG, DOCTOR_OK, "%s: valid (%s sign-in, %zu role%s%s)",
	     path,
	     (size_t)d->conf->adfs.auth < ELEMENTSOF(auth)
		     ? auth[d->conf->adfs.auth]
		     : "?",
	     d->conf->n_roles, d->conf->n_roles == 1 ? "" : "s",
	     d->conf->n_roles ? "" : ": every role offered");
	warning = conf_warning(d->conf);
	if (warning)
		note(d, STEP_CONFIG, DOCTOR_WARN, "%s", warning);
}

/* --- the targets ------------------------------------------------------ */

/* host (without brackets) and port of url; default_port when it names
 * none and default_port is not 0 (else the scheme's). */
static int split_url(const char *url, unsigned flags, uint16_t default_port,
		     char **ret_host, uint16_t *ret_port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	unsigned long port = 0;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, flags) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK)
		port = strtoul(p, NULL, 10);
	else if (default_port)
		port = default_port;
	else if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
		 CURLUE_OK)
		port = strtoul(p, NULL, 10);
	if (port == 0 || port > 65535)
		goto out;
	if (h[0] == '[') {
		size_t l = strlen(h);

		memmove(h, h + 1, l - 1);
		h[l - 2] = '\0';
	}
	*ret_host = strdup(h);
	if (!*ret_host) {
		r = -ENOMEM;
		goto out;
	}
	*ret_port = (uint16_t)port;
	r = 0;
out:
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return r;
}

static void add_target(struct doctor *d, const char *key, const char *url,
		       const char *ca_key, const char *ca_file)
{
	struct target *t = &d->targets[d->n_targets];
	_cleanup_free_ char *host = NULL;
	uint16_t port;

	if (!url || split_url(url, 0, 0, &host, &port) < 0)
		return;
	for (size_t i = 0; i < d->n_targets; i++) {
		const struct target *o = &d->targets[i];

		if (streq(o->host, host) && o->port == port &&
		    streq(strempty(o->ca_file), strempty(ca_file)))
			return; /* the same server, checked once */
	}
	*t = (struct target){ .key = key, .url = url, .ca_key = ca_key,
			      .ca_file = ca_file, .port = port, .failed = -1 };
	t->host = TAKE_PTR(host);
	t->proxy = doctor_proxy_for(&d->penv, t->host);
	if (t->proxy) {
		t->proxy_shown = doctor_proxy_display(t->proxy);
		/* libcurl: a proxy without a scheme is http://; without a
		 * port, 1080 (443 for an https:// proxy). */
		if (split_url(t->proxy, CURLU_DEFAULT_SCHEME,
			      strneq(t->proxy, "https://", 8) ? 443 : 1080,
			      &t->proxy_host, &t->proxy_port) < 0)
			t->proxy_host = NULL;
	}
	d->n_targets++;
}

static void targets_init(struct doctor *d)
{
	struct conf *c = d->conf;

	d->penv = (struct doctor_proxy_env){
		.https_proxy = getenv("https_proxy"),
		.HTTPS_PROXY = getenv("HTTPS_PROXY"),
		.all_proxy = getenv("all_proxy"),
		.ALL_PROXY = getenv("ALL_PROXY"),
		.no_proxy = getenv("no_proxy"),
		.NO_PROXY = getenv("NO_PROXY"),
	};
	add_target(d, "adfs.url", c->adfs.url, "adfs.ca_file", c->adfs.ca_file);
	add_target(d, "aws.sts_endpoint", c->aws.sts_endpoint, "aws.ca_file",
		   c->aws.ca_file);
	add_target(d, "aws.iam_endpoint", c->aws.iam_endpoint, "aws.ca_file",
		   c->aws.ca_file);
}

/* --- 2. DNS, 3. TCP --------------------------------------------------- */

static void first_addr(const struct addrinfo *a, char out[static INET6_ADDRSTRLEN])
{
	const void *in;

	out[0] = '\0';
	for (; a; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		in = a->ai_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
			: (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
		if (inet_ntop(a->ai_family, in, out, INET6_ADDRSTRLEN))
			return;
	}
	(void)snprintf(out, INET6_ADDRSTRLEN, "?");
}

static void check_dns(struct doctor *d)
{
	char secs[32];

	(void)format_duration(secs, d->timeout);
	for (size_t i = 0; i < d->n_targets; i++) {
		struct target *t = &d->targets[i];
		const char *name = t->proxy ? t->proxy_host : t->host;
		char a[INET6_ADDRSTRLEN];
		bool timed_out = false;
		int rc;

		if (t->proxy && !t->proxy_host) {
			note(d, STEP_DNS, DOCTOR_FAIL,
			     "%s: the proxy %s (from the environment) is not "
			     "a URL libcurl can use",
			     t->key, strempty(t->proxy_shown));
			hint(d, STEP_DNS, "fix https_proxy / all_proxy");
			target_fail(d, t, STEP_DNS);
			continue;
		}
		rc = doctor_net_resolve(name, d->timeout, &t->addrs, &timed_out);
		if (rc != 0) {
			note(d, STEP_DNS, DOCTOR_FAIL,
			     "%s: %s%s %s %s", t->key,
			     t->proxy ? "the proxy " : "", name,
			     timed_out ? "did not resolve within" :
			     "does not resolve:",
			     timed_out ? secs : gai_strerror(rc));
			hint(d, STEP_DNS,
			     "check the host name in %s and the resolver "
			     "(/etc/resolv.conf, resolvectl status)",
			     t->proxy ? "https_proxy" : t->key);
			target_fail(d, t, STEP_DNS);
			continue;
		}
		first_addr(t->addrs, a);
		if (t->proxy)
			note(d, STEP_DNS, DOCTOR_OK,
			     "%s: via proxy %s (%s is %s; the proxy resolves "
			     "%s)",
			     t->key, strempty(t->proxy_shown), name, a, t->host);
		else
			note(d, STEP_DNS, DOCTOR_OK, "%s: %s is %s", t->key,
			     name, a);
	}
}

static void check_tcp(struct doctor *d)
{
	char secs[32];

	(void)format_duration(secs, d->timeout);
	for (size_t i = 0; i < d->n_targets; i++) {
		struct target *t = &d->targets[i];
		uint16_t port = t->proxy ? t->proxy_port : t->port;
		const char *what = t->proxy ? "the proxy " : "";
		char a[INET6_ADDRSTRLEN] = "?";
		int r;

		if (!target_ready(d, t, STEP_TCP))
			continue;
		r = doctor_net_connect(t->addrs, port, d->timeout, a);
		if (r == 0) {
			if (t->proxy)
				note(d, STEP_TCP, DOCTOR_OK,
				     "%s: connected to the proxy %s (%s:%u)",
				     t->key, strempty(t->proxy_shown), a,
				     (unsigned)port);
			else
				note(d, STEP_TCP, DOCTOR_OK,
				     "%s: connected to %s:%u (direct, no "
				     "proxy)",
				     t->key, a, (unsigned)port);
			continue;
		}
		target_fail(d, t, STEP_TCP);
		if (r == -ECONNREFUSED) {
			note(d, STEP_TCP, DOCTOR_FAIL,
			     "%s: %s%s:%u refused the connection "
			     "(connection refused: nothing listens there)",
			     t->key, what, a, (unsigned)port);
			hint(d, STEP_TCP,
			     "check the port in %s and that the server is up",
			     t->proxy ? "https_proxy" : t->key);
		} else if (r == -ETIMEDOUT) {
			note(d, STEP_TCP, DOCTOR_FAIL,
			     "%s: %s%s:%u timed out after %s (no answer: a "
			     "firewall drops it or the host is down)",
			     t->key, what, a, (unsigned)port, secs);
			hint(d, STEP_TCP,
			     "check the network path (VPN, firewall)%s",
			     t->proxy ? "" : "; if you need a proxy, set "
					     "https_proxy");
		} else {
			note(d, STEP_TCP, DOCTOR_FAIL, "%s: %s%s:%u: %s",
			     t->key, what, a, (unsigned)port, strerror(-r));
			hint(d, STEP_TCP, "check the network path");
		}
	}
}

/* --- 4. TLS ----------------------------------------------------------- */

static bool untrusted(int e)
{
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return true;
	default:
		return false;
	}
}

static void tls_verdict(struct doctor *d, struct target *t,
			const struct doctor_tls *x)
{
	char nb[ISO8601_MAX], na[ISO8601_MAX], left[32];
	usec_t now = now_wall();
	enum doctor_result r;

	(void)format_iso8601(nb, x->not_before);
	(void)format_iso8601(na, x->not_after);
	if (x->code == CURLE_OK) {
		r = x->have_leaf ? doctor_cert_verdict(x->not_before,
						       x->not_after, now)
				 : DOCTOR_OK;
		if (!x->have_leaf) {
			note(d, STEP_TLS, DOCTOR_OK,
			     "%s: the certificate verifies", t->key);
			return;
		}
		(void)format_duration(left, x->not_after > now
						    ? x->not_after - now
						    : 0);
		note(d, STEP_TLS, r,
		     "%s: certificate for %s verifies (issuer %s); it expires "
		     "%s (in %s)",
		     t->key, x->subject, x->issuer, na, left);
		if (r != DOCTOR_OK)
			hint(d, STEP_TLS,
			     "the certificate of %s ends soon: tell its "
			     "administrator",
			     t->host);
		return;
	}
	target_fail(d, t, STEP_TLS);
	if (x->verify_err == X509_V_ERR_CERT_HAS_EXPIRED ||
	    (x->have_leaf && x->verify_depth == 0 && now >= x->not_after &&
	     x->verify_err)) {
		note(d, STEP_TLS, DOCTOR_FAIL,
		     "%s: the certificate%s expired on %s (subject %s)", t->key,
		     x->verify_depth ? " chain" : "",
		     x->verify_depth ? "(a CA certificate)" : na, x->subject);
		hint(d, STEP_TLS,
		     "the server's certificate must be renewed: tell the "
		     "administrator of %s",
		     t->host);
	} else if (x->verify_err == X509_V_ERR_CERT_NOT_YET_VALID) {
		note(d, STEP_TLS, DOCTOR_FAIL,
		     "%s: the certificate is not valid before %s", t->key, nb);
		hint(d, STEP_TLS,
		     "check this machine's clock (timedatectl), or the "
		     "server's certificate");
	} else if (untrusted(x->verify_err)) {
		note(d, STEP_TLS, DOCTOR_FAIL,
		     "%s: certificate is not trusted (%s; subject %s, issuer "
		     "%s)%s%s",
		     t->key, X509_verify_cert_error_string(x->verify_err),
		     x->subject, x->issuer, t->ca_file ? "; " : "",
		     t->ca_file ? t->ca_key : "");
		if (t->ca_file)
			hint(d, STEP_TLS,
			     "%s (%s) is not the CA that issued it: set %s to "
			     "the CA that issued it",
			     t->ca_key, t->ca_file, t->ca_key);
		else
			hint(d, STEP_TLS,
			     "set %s to the CA that issued it (a PEM file)",
			     t->ca_key);
	} else if (x->verify_err == X509_V_ERR_HOSTNAME_MISMATCH ||
		   x->verify_err == X509_V_ERR_IP_ADDRESS_MISMATCH ||
		   (!x->verify_err && x->code == CURLE_PEER_FAILED_VERIFICATION &&
		    x->have_leaf)) {
		/* The chain verified; the host check did not (libcurl's own,
		 * or OpenSSL's when libcurl hands it the name). */
		note(d, STEP_TLS, DOCTOR_FAIL,
		     "%s: host name mismatch: the certificate is for %s, not "
		     "%s (%s)",
		     t->key, x->names[0] ? x->names : x->subject, t->host,
		     x->errbuf);
		hint(d, STEP_TLS,
		     "use in %s a host name the certificate names, or get a "
		     "certificate for %s",
		     t->key, t->host);
	} else if (x->verify_err) {
		note(d, STEP_TLS, DOCTOR_FAIL,
		     "%s: the certificate does not verify: %s (subject %s)",
		     t->key, X509_verify_cert_error_string(x->verify_err),
		     x->subject);
		hint(d, STEP_TLS, "tell the administrator of %s", t->host);
	} else if (x->code == CURLE_SSL_CACERT_BADFILE) {
		note(d, STEP_TLS, DOCTOR_FAIL, "%s: cannot use %s %s: %s",
		     t->key, t->ca_key, strempty(t->ca_file), x->errbuf);
		hint(d, STEP_TLS, "%s must be a readable PEM file", t->ca_key);
	} else {
		note(d, STEP_TLS, DOCTOR_FAIL, "%s: TLS handshake failed: %s",
		     t->key, x->errbuf[0] ? x->errbuf
					  : curl_easy_strerror(x->code));
		hint(d, STEP_TLS, "check that %s speaks HTTPS on port %u%s",
		     t->host, (unsigned)t->port,
		     t->proxy ? " and that the proxy allows it" : "");
	}
}

static void check_tls(struct doctor *d)
{
	for (size_t i = 0; i < d->n_targets; i++) {
		struct target *t = &d->targets[i];
		struct doctor_tls x;

		if (!target_ready(d, t, STEP_TLS))
			continue;
		if (doctor_net_tls(t->url, t->ca_file, d->timeout, &x) < 0) {
			note(d, STEP_TLS, DOCTOR_FAIL, "%s: out of memory",
			     t->key);
			target_fail(d, t, STEP_TLS);
			continue;
		}
		tls_verdict(d, t, &x);
	}
}

/* --- 5. the sign-in page, 6. the relying party ------------------------ */

static void check_signin_page(struct doctor *d)
{
	struct target *t = find_target(d, "adfs.url");
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
	_cleanup_free_ char *url = NULL;
	const char *rp = d->conf->adfs.relying_party;
	const char *detail, *text;
	int err = 0;

	if (!t || t->failed >= 0) {
		skip(d, STEP_SIGNIN_PAGE, t ? (enum step_id)t->failed : STEP_CONFIG);
		skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	url = adfs_signon_url(d->conf);
	if (!url || doctor_net_get(url, t->ca_file, d->timeout, ADFS_MAX_PAGE,
				   &c, &err) < 0) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL, "out of memory");
		skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (err < 0) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL, "GET %s: %s", url,
		     http_call_strerror(c));
		hint(d, STEP_SIGNIN_PAGE, "see the tcp and tls steps");
		skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (c->status >= 300 && c->status < 400) {
		/* Windows sign-in (Kerberos) or a sign-in elsewhere: ADFS
		 * took the request, relying party included. */
		note(d, STEP_SIGNIN_PAGE, DOCTOR_OK,
		     "%s answers with a redirect (HTTP %ld to %s)", url,
		     c->status, strempty(c->location));
		note(d, STEP_RELYING_PARTY, DOCTOR_OK,
		     "ADFS took loginToRp=%s", rp);
		return;
	}
	if (adfs_page_parse(c->body.data ? c->body.data : "", c->body.len, url,
			    &p) < 0) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
		     "%s: the page cannot be read (HTTP %ld, %zu bytes)", url,
		     c->status, c->body.len);
		skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	detail = strempty(p->error_detail);
	text = strempty(p->error_text);
	if (strstr(detail, "MSIS7012") || strstr(text, "is not available")) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
		     "IdP-initiated sign-on is disabled: ADFS shows \"%s\"%s%s%s",
		     text, p->error_detail ? " (" : "", detail,
		     p->error_detail ? ")" : "");
		hint(d, STEP_SIGNIN_PAGE,
		     "ask the ADFS administrator to run Set-AdfsProperties "
		     "-EnableIdpInitiatedSignonPage $true");
		skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (strstr(detail, "MSIS7007")) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_OK,
		     "%s answers; IdP-initiated sign-on is enabled", url);
		note(d, STEP_RELYING_PARTY, DOCTOR_FAIL,
		     "ADFS does not know the relying party '%s' "
		     "(adfs.relying_party): %s",
		     rp, detail);
		hint(d, STEP_RELYING_PARTY,
		     "set adfs.relying_party to the identifier of the AWS "
		     "relying party trust (Get-AdfsRelyingPartyTrust; usually "
		     "%s)",
		     CONF_DEFAULT_RELYING_PARTY);
		return;
	}
	if (c->status == 200 && p->kind != ADFS_PAGE_UNKNOWN) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_OK, "%s: %s", url,
		     p->kind == ADFS_PAGE_LOGIN ? "the sign-in form is there"
						: "ADFS answers with a sign-in step");
		note(d, STEP_RELYING_PARTY, DOCTOR_OK,
		     "ADFS took loginToRp=%s (adfs.relying_party)", rp);
		return;
	}
	if (p->error_text || p->error_detail) {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
		     "ADFS shows an error page (HTTP %ld): %s%s%s%s", c->status,
		     text, p->error_detail ? " (" : "", detail,
		     p->error_detail ? ")" : "");
		hint(d, STEP_SIGNIN_PAGE,
		     "ask the ADFS administrator about this error");
	} else {
		note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
		     "%s: HTTP %ld and not the ADFS sign-in form", url,
		     c->status);
		hint(d, STEP_SIGNIN_PAGE,
		     "check adfs.url: the ADFS farm's base URL "
		     "(https://adfs.example.com), without /adfs/ls");
	}
	skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
}

/* --- 7. STS, 8. the clock --------------------------------------------- */

/* The text between <tag> and </tag> in the first len bytes of body, at
 * most 128 bytes, into out; "" when absent. */
static void xml_text(const char *body, size_t len, const char *tag,
		     char out[static 129])
{
	char open[32], close[32];
	const char *a, *b;

	out[0] = '\0';
	(void)snprintf(open, sizeof(open), "<%s>", tag);
	(void)snprintf(close, sizeof(close), "</%s>", tag);
	a = body ? memmem(body, len, open, strlen(open)) : NULL;
	if (!a)
		return;
	a += strlen(open);
	b = memmem(a, len - (size_t)(a - body), close, strlen(close));
	if (!b || b - a > 128)
		return;
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = '\0';
}

static void check_sts(struct doctor *d)
{
	struct target *t = find_target(d, "aws.sts_endpoint");
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	_cleanup_free_ char *url = NULL;
	const char *ep = d->conf->aws.sts_endpoint;
	char code[129], msg[129];
	size_t l = strlen(ep);
	int err = 0;

	if (!t || t->failed >= 0) {
		skip(d, STEP_STS, t ? (enum step_id)t->failed : STEP_CONFIG);
		skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	/* Unsigned, so STS refuses it: an AWS error document is the proof
	 * that STS itself answered. */
	if (asprintf(&url, "%.*s/?Action=GetCallerIdentity&Version=2011-06-15",
		     (int)(l && ep[l - 1] == '/' ? l - 1 : l), ep) < 0 ||
	    doctor_net_get(url, t->ca_file, d->timeout, STS_REPLY_MAX, &c,
			   &err) < 0) {
		url = NULL;
		note(d, STEP_STS, DOCTOR_FAIL, "out of memory");
		skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	if (err < 0) {
		note(d, STEP_STS, DOCTOR_FAIL, "%s: %s", ep,
		     http_call_strerror(c));
		hint(d, STEP_STS, "see the tcp and tls steps");
		skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	d->sts_date = c->date;
	/* Date has whole seconds: compare with ours cut the same way. */
	d->sts_local = now_wall() / USEC_PER_SEC * USEC_PER_SEC;
	xml_text(c->body.data, c->body.len, "Code", code);
	xml_text(c->body.data, c->body.len, "Message", msg);
	if (c->status >= 500) {
		note(d, STEP_STS, DOCTOR_FAIL,
		     "STS at %s is failing: HTTP %ld%s%s%s%s", ep, c->status,
		     code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
		hint(d, STEP_STS,
		     "STS is down or overloaded: retry later (AWS Health "
		     "Dashboard); aws.region picks the regional endpoint");
	} else if (c->body.data &&
		   (memmem(c->body.data, c->body.len, "<ErrorResponse", 14) ||
		    memmem(c->body.data, c->body.len,
			   "<GetCallerIdentityResponse", 26))) {
		note(d, STEP_STS, DOCTOR_OK,
		     "STS at %s answers (HTTP %ld%s%s to an unsigned request, "
		     "as expected)",
		     ep, c->status, code[0] ? " " : "", code);
	} else {
		note(d, STEP_STS, DOCTOR_FAIL,
		     "%s answered HTTP %ld with something that is not an AWS "
		     "reply",
		     ep, c->status);
		hint(d, STEP_STS,
		     "check aws.sts_endpoint (and aws.region), and any proxy "
		     "in between");
	}
}

static void check_clock(struct doctor *d)
{
	char when[ISO8601_MAX], by[32];
	enum doctor_result r;
	int64_t skew;

	if (d->steps[STEP_CLOCK].ran)
		return; /* skipped by check_sts */
	if (!d->sts_date) {
		note(d, STEP_CLOCK, DOCTOR_WARN,
		     "STS sent no Date header to compare with");
		return;
	}
	skew = (int64_t)d->sts_date - (int64_t)d->sts_local;
	r = doctor_skew_verdict(skew);
	(void)format_iso8601(when, d->sts_date);
	(void)format_duration(by, (usec_t)(skew < 0 ? -skew : skew));
	if (r == DOCTOR_OK)
		note(d, STEP_CLOCK, r,
		     "this clock is within %s of STS's (Date: %s)", by, when);
	else
		note(d, STEP_CLOCK, r,
		     "this clock is %s %s STS's (Date: %s): clock skew",
		     by, skew > 0 ? "behind" : "ahead of", when);
	if (r != DOCTOR_OK)
		hint(d, STEP_CLOCK,
		     "fix the clock (timedatectl set-ntp true, or chrony): "
		     "beyond 5 min SAML assertions and SigV4 signatures fail");
}

/* --- 9. systemd ------------------------------------------------------- */

/* Runs argv (PATH lookup) with stdin from /dev/null, stdout and stderr
 * into out (NUL-terminated, truncated), for at most timeout. Returns its
 * exit status, or -errno (-ETIMEDOUT: killed). */
static int run_capture(char *const argv[], usec_t timeout, char *out,
		       size_t size)
{
	usec_t deadline = now_clock(CLOCK_MONOTONIC) + timeout;
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rd = -1;
	int fds[2], status = 0, r;
	size_t used = 0;
	bool killed = false;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	rd = fds[0];
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	(void)posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(fds[1]);
	if (r != 0)
		return -r;
	for (;;) {
		struct pollfd p = { .fd = rd, .events = POLLIN };
		usec_t now = now_clock(CLOCK_MONOTONIC);
		char b[512];
		ssize_t n;

		if (now >= deadline ||
		    poll(&p, 1, (int)((deadline - now + 999) / 1000)) == 0) {
			(void)kill(pid, SIGKILL);
			killed = true;
			break;
		}
		n = read(rd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < size) {
			size_t k = (size_t)n < size - 1 - used ? (size_t)n
							       : size - 1 - used;

			memcpy(out + used, b, k);
			used += k;
			out[used] = '\0';
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

/* The first line of s, in place. */
static char *first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static void check_systemd(struct doctor *d)
{
	static const char *const units[] = { "adfs-credd.service",
					     "adfs-credd.socket" };
	char *probe[] = { (char *)"systemctl", (char *)"--user",
			  (char *)"is-system-running", NULL };
	char out[SPAWN_OUT_MAX], linger[512], names[256];
	struct passwd pwbuf, *pw = NULL;
	bool enabled = false, active = false;
	usec_t tmo = d->timeout < 5 * USEC_PER_SEC ? d->timeout
						   : 5 * USEC_PER_SEC;
	struct stat st;
	int r;

	r = run_capture(probe, tmo, out, sizeof(out));
	first_line(out);
	if (r < 0 || streq(out, "offline") || streq(out, "unknown") ||
	    !out[0] || strneq(out, "Failed", 6)) {
		note(d, STEP_SYSTEMD, DOCTOR_WARN,
		     "cannot reach the systemd user manager (%s)",
		     r == -ENOENT ? "no systemctl"
		     : r == -ETIMEDOUT ? "systemctl did not answer"
				       : out[0] ? out : "no answer");
		hint(d, STEP_SYSTEMD,
		     "without systemd --user (a container, su without a "
		     "login session), start adfs-credd yourself");
	} else {
		for (size_t i = 0; i < ELEMENTSOF(units); i++) {
			char unit[32], e[256], a[256];
			char *en[] = { (char *)"systemctl", (char *)"--user",
				       (char *)"is-enabled", unit, NULL };
			char *ac[] = { (char *)"systemctl", (char *)"--user",
				       (char *)"is-active", unit, NULL };

			(void)snprintf(unit, sizeof(unit), "%s", units[i]);

			(void)run_capture(en, tmo, e, sizeof(e));
			(void)run_capture(ac, tmo, a, sizeof(a));
			first_line(e);
			first_line(a);
			enabled = enabled || streq(e, "enabled") ||
				  streq(e, "static") || streq(e, "linked");
			active = active || streq(a, "active");
			note(d, STEP_SYSTEMD, DOCTOR_OK, "%s %s, %s", units[i],
			     e[0] ? e : "?", a[0] ? a : "?");
		}
		if (!enabled) {
			note(d, STEP_SYSTEMD, DOCTOR_WARN,
			     "neither unit is enabled: nothing starts "
			     "adfs-credd at login");
			hint(d, STEP_SYSTEMD,
			     "systemctl --user enable --now adfs-credd.socket");
		}
	}
	if (getpwuid_r(getuid(), &pwbuf, names, sizeof(names), &pw) != 0 || !pw)
		return;
	(void)snprintf(linger, sizeof(linger), "/var/lib/systemd/linger/%s",
		       pw->pw_name);
	if (stat(linger, &st) == 0) {
		note(d, STEP_SYSTEMD, DOCTOR_OK, "linger on");
	} else {
		note(d, STEP_SYSTEMD, DOCTOR_WARN,
		     "linger off: systemd stops adfs-credd when your last "
		     "session ends, and jobs left running lose their "
		     "credentials");
		hint(d, STEP_SYSTEMD, "loginctl enable-linger %s", pw->pw_name);
	}
	(void)active;
}

/* --- 10. ports -------------------------------------------------------- */

static void check_ports(struct doctor *d)
{
	uid_t me = geteuid();
	bool any = false;

	for (size_t i = 0; i < ELEMENTSOF(cli_listens); i++) {
		const struct cli_listen *l = &cli_listens[i];
		_cleanup_free_ struct sockdiag_listener *v = NULL;
		size_t n = 0, ours = 0, theirs = 0;
		uid_t who = 0;
		int r;

		if (!l->key)
			continue;
		any = true;
		r = sockdiag_listeners(l->port, &v, &n);
		if (r < 0) {
			note(d, STEP_PORTS, DOCTOR_WARN,
			     "%s (%s:%u): cannot ask the kernel who listens "
			     "(%s)",
			     l->key, l->host, (unsigned)l->port, strerror(-r));
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (!cli_port_covers(&v[k], l->host))
				continue;
			if (v[k].uid == me) {
				ours++;
			} else {
				theirs++;
				who = v[k].uid;
			}
		}
		if (theirs) {
			struct passwd pwbuf, *pw = NULL;
			char names[512];

			if (getpwuid_r(who, &pwbuf, names, sizeof(names),
				       &pw) != 0)
				pw = NULL;
			note(d, STEP_PORTS, DOCTOR_FAIL,
			     "%s (%s:%u) is held by uid %lu%s%s%s, not by "
			     "you: a squatter; an SDK sent there gets that "
			     "user's credentials",
			     l->key, l->host, (unsigned)l->port,
			     (unsigned long)who, pw ? " (" : "",
			     pw ? pw->pw_name : "", pw ? ")" : "");
			hint(d, STEP_PORTS,
			     "stop that program (ss -ltnp sport = :%u); the "
			     "socket units hold the port from login on",
			     (unsigned)l->port);
		} else if (ours) {
			note(d, STEP_PORTS, DOCTOR_OK, "%s (%s:%u) is yours",
			     l->key, l->host, (unsigned)l->port);
		} else {
			note(d, STEP_PORTS, DOCTOR_WARN,
			     "nobody listens on %s (%s:%u): adfs-credd is not "
			     "serving, and another user could take the port",
			     l->key, l->host, (unsigned)l->port);
			hint(d, STEP_PORTS,
			     "start adfs-credd, or let adfs-credd.socket hold "
			     "the port (systemctl --user enable --now "
			     "adfs-credd.socket)");
		}
	}
	if (!any)
		note(d, STEP_PORTS, DOCTOR_OK, "no port configured");
}

/* --- 11. the daemon --------------------------------------------------- */

static void role_line(struct doctor *d, json_t *r)
{
	const char *state = strempty(cli_jstr(r, "state"));
	const char *exp = cli_jstr(r, "expires");
	const char *served = cli_jstr(r, "served_until");
	const char *err = cli_jstr(r, "last_error");
	bool good = streq(state, "valid") || streq(state, "refreshing");

	note(d, STEP_DAEMON, good && !err ? DOCTOR_OK : DOCTOR_WARN,
	     "role %s %s%s%s%s%s%s%s", strempty(cli_jstr(r, "name")), state,
	     exp ? ", expires " : "", strempty(exp),
	     served ? ", served until " : "", strempty(served),
	     err ? ", last error: " : "", strempty(err));
	if (!good || err)
		hint(d, STEP_DAEMON,
		     "adfs-credctl status shows why; adfs-credctl refresh "
		     "retries now");
}

static void check_daemon(struct doctor *d)
{
	_cleanup_free_ char *dir = NULL;
	json_t *o = NULL, *r;
	const char *until, *by;
	long status = 0;
	size_t i;
	int rc;

	rc = paths_state_dir(d->conf->state_dir, &dir);
	if (rc >= 0)
		rc = paths_control_socket(dir, &cli_socket_path);
	if (rc < 0) {
		note(d, STEP_DAEMON, DOCTOR_FAIL,
		     "no control socket path: XDG_RUNTIME_DIR is not set and "
		     "the config sets no state_dir");
		hint(d, STEP_DAEMON, "set state_dir in the config");
		return;
	}
	rc = cli_call("GET", "/v1/status", NULL, NULL, &o, &status);
	if (rc == -ECONNREFUSED) {
		note(d, STEP_DAEMON, DOCTOR_FAIL,
		     "adfs-credd is not running (no control socket at %s)",
		     cli_socket_path);
		hint(d, STEP_DAEMON,
		     "systemctl --user start adfs-credd (or adfs-credd -c "
		     "CONFIG &), then adfs-credctl login");
		return;
	}
	if (rc == -EPERM) {
		note(d, STEP_DAEMON, DOCTOR_FAIL,
		     "the control socket %s belongs to another user",
		     cli_socket_path);
		hint(d, STEP_DAEMON, "check state_dir: nothing was sent there");
		return;
	}
	if (rc < 0 || status != 200) {
		note(d, STEP_DAEMON, DOCTOR_FAIL,
		     "adfs-credd did not answer /v1/status (%s)",
		     rc < 0 ? strerror(-rc) : "an error status");
		json_decref(o);
		return;
	}
	cli_escape_tree(o);
	if (json_is_true(json_object_get(o, "signed_in"))) {
		note(d, STEP_DAEMON, DOCTOR_OK, "running, signed in as %s",
		     strempty(cli_jstr(o, "user")));
	} else {
		note(d, STEP_DAEMON, DOCTOR_WARN,
		     "running, not signed in (%s)%s%s",
		     strempty(cli_jstr(o, "state")),
		     cli_jstr(o, "error") ? ": " : "",
		     strempty(cli_jstr(o, "error")));
		hint(d, STEP_DAEMON, "adfs-credctl login");
	}
	until = cli_jstr(o, "renewable_until");
	by = cli_jstr(o, "renewable_by");
	if (until || by)
		note(d, STEP_DAEMON, DOCTOR_OK, "renewable until %s%s%s",
		     until ? until : "unbounded", by ? " by " : "",
		     strempty(by));
	json_array_foreach(json_object_get(o, "roles"), i, r)
		role_line(d, r);
	json_decref(o);
}

/* --- the report ------------------------------------------------------- */

static void print_text(struct doctor *d)
{
	for (size_t i = 0; i < _STEP_MAX; i++) {
		const struct step *s = &d->steps[i];
		_cleanup_free_ char *detail = text_escape(strempty(s->detail));
		_cleanup_free_ char *h = s->hint && s->result != DOCTOR_OK
						 ? text_escape(s->hint)
						 : NULL;

		printf("%-4s  %-13s %s%s%s\n", doctor_result_name(s->result),
		       step_names[i], detail ? detail : "?", h ? " => " : "",
		       strempty(h));
	}
}

static int print_json(struct doctor *d)
{
	json_t *steps = json_array(), *o;

	if (!steps)
		return -ENOMEM;
	for (size_t i = 0; i < _STEP_MAX; i++) {
		const struct step *s = &d->steps[i];
		_cleanup_free_ char *detail = text_escape(strempty(s->detail));
		_cleanup_free_ char *h = s->hint && s->result != DOCTOR_OK
						 ? text_escape(s->hint)
						 : NULL;
		char name[8];
		size_t k;

		/* "ok", "warn", "fail", "skip" */
		for (k = 0; k + 1 < sizeof(name) &&
			    doctor_result_name(s->result)[k];
		     k++)
			name[k] = (char)(doctor_result_name(s->result)[k] |
					 0x20);
		name[k] = '\0';
		(void)json_array_append_new(
			steps, json_pack("{s:s, s:s, s:s?, s:s?}", "name",
					 step_names[i], "result", name,
					 "detail", detail, "hint", h));
	}
	o = json_pack("{s:o}", "steps", steps);
	if (!o)
		return -ENOMEM;
	(void)json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(o);
	return 0;
}

static void doctor_clear(struct doctor *d)
{
	for (size_t i = 0; i < _STEP_MAX; i++) {
		free(d->steps[i].detail);
		free(d->steps[i].hint);
	}
	for (size_t i = 0; i < d->n_targets; i++) {
		struct target *t = &d->targets[i];

		free(t->host);
		free(t->proxy_shown);
		free(t->proxy_host);
		if (t->addrs)
			freeaddrinfo(t->addrs);
	}
	conf_free(d->conf);
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	struct doctor d = { .timeout = DOCTOR_MAX_TIMEOUT };
	bool as_json = false, failed = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
		if (c != 'j' || as_json)
			return cli_fail("usage: doctor [--json]");
		as_json = true;
	}
	if (optind < argc)
		return cli_fail("usage: doctor [--json]");
	for (size_t i = 0; i < _STEP_MAX; i++)
		d.steps[i].result = DOCTOR_SKIP;

	check_config(&d);
	if (d.conf) {
		if (d.conf->adfs.timeout && d.conf->adfs.timeout < d.timeout)
			d.timeout = d.conf->adfs.timeout;
		targets_init(&d);
		cli_listen_set(&cli_listens[0], "serve.ecs", &d.conf->serve.ecs);
		cli_listen_set(&cli_listens[1], "serve.imds",
			       &d.conf->serve.imds);
		check_dns(&d);
		check_tcp(&d);
		check_tls(&d);
		check_signin_page(&d);
		check_sts(&d);
		check_clock(&d);
	} else {
		for (size_t i = STEP_DNS; i < _STEP_MAX; i++)
			if (i != STEP_SYSTEMD)
				skip(&d, (enum step_id)i, STEP_CONFIG);
	}
	check_systemd(&d);
	if (d.conf) {
		check_ports(&d);
		check_daemon(&d);
	}
	for (size_t i = 0; i < _STEP_MAX; i++)
		failed = failed || d.steps[i].result == DOCTOR_FAIL;
	if (as_json)
		(void)print_json(&d);
	else
		print_text(&d);
	doctor_clear(&d);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
