/* adfs-credctl doctor: the way to ADFS and STS (doctor.h), steps 2 to 8:
 * DNS, TCP (through the proxy libcurl would use), TLS, the ADFS sign-on
 * page, the relying party, STS, and the clock against STS's Date. Each
 * server is checked as far as it gets: a server that failed a step is
 * skipped in the later ones. No secret is sent: the only requests are a
 * GET of the sign-on page and an unsigned GET to STS. */
#include "cli/doctor.h"

#include <errno.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/doctor-net.h"
#include "idp/adfs-page.h"
#include "idp/adfs.h"
#include "util/timeutil.h"

#define STS_REPLY_MAX (64u * 1024u)

/* --- 2. DNS, 3. TCP --------------------------------------------------- */

static void first_addr(const struct addrinfo *a,
		       char out[static INET6_ADDRSTRLEN])
{
	const void *in;

	out[0] = '\0';
	for (; a; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		in = a->ai_family == AF_INET6
			 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)
			       ->sin6_addr
			 : (const void *)&((struct sockaddr_in *)a->ai_addr)
			       ->sin_addr;
		if (inet_ntop(a->ai_family, in, out, INET6_ADDRSTRLEN))
			return;
	}
	(void)snprintf(out, INET6_ADDRSTRLEN, "?");
}

void doctor_check_dns(struct doctor *d)
{
	char secs[32];

	(void)format_duration(secs, d->timeout);
	for (size_t i = 0; i < d->n_targets; i++) {
		struct doctor_target *t = &d->targets[i];
		const char *name = t->proxy ? t->proxy_host : t->host;
		char a[INET6_ADDRSTRLEN];
		bool timed_out = false;
		int rc;

		if (t->proxy && !t->proxy_host) {
			doctor_note(
			    d, STEP_DNS, DOCTOR_FAIL,
			    "%s: the proxy %s (from the environment) is not "
			    "a URL libcurl can use",
			    t->key, strempty(t->proxy_shown));
			doctor_hint(d, STEP_DNS, "fix https_proxy / all_proxy");
			doctor_target_fail(t, STEP_DNS);
			continue;
		}
		rc =
		    doctor_net_resolve(name, d->timeout, &t->addrs, &timed_out);
		if (rc != 0) {
			doctor_note(d, STEP_DNS, DOCTOR_FAIL, "%s: %s%s %s %s",
				    t->key, t->proxy ? "the proxy " : "", name,
				    timed_out ? "did not resolve within"
					      : "does not resolve:",
				    timed_out ? secs : gai_strerror(rc));
			doctor_hint(
			    d, STEP_DNS,
			    "check the host name in %s and the resolver "
			    "(/etc/resolv.conf, resolvectl status)",
			    t->proxy ? "https_proxy" : t->key);
			doctor_target_fail(t, STEP_DNS);
			continue;
		}
		first_addr(t->addrs, a);
		if (t->proxy)
			doctor_note(
			    d, STEP_DNS, DOCTOR_OK,
			    "%s: via proxy %s (%s is %s; the proxy resolves "
			    "%s)",
			    t->key, strempty(t->proxy_shown), name, a, t->host);
		else
			doctor_note(d, STEP_DNS, DOCTOR_OK, "%s: %s is %s",
				    t->key, name, a);
	}
}

void doctor_check_tcp(struct doctor *d)
{
	char secs[32];

	(void)format_duration(secs, d->timeout);
	for (size_t i = 0; i < d->n_targets; i++) {
		struct doctor_target *t = &d->targets[i];
		uint16_t port = t->proxy ? t->proxy_port : t->port;
		const char *what = t->proxy ? "the proxy " : "";
		char a[INET6_ADDRSTRLEN] = "?";
		int r;

		if (!doctor_target_ready(d, t, STEP_TCP))
			continue;
		r = doctor_net_connect(t->addrs, port, d->timeout, a);
		if (r == 0) {
			if (t->proxy)
				doctor_note(
				    d, STEP_TCP, DOCTOR_OK,
				    "%s: connected to the proxy %s (%s:%u)",
				    t->key, strempty(t->proxy_shown), a,
				    (unsigned)port);
			else
				doctor_note(
				    d, STEP_TCP, DOCTOR_OK,
				    "%s: connected to %s:%u (direct, no "
				    "proxy)",
				    t->key, a, (unsigned)port);
			continue;
		}
		doctor_target_fail(t, STEP_TCP);
		if (r == -ECONNREFUSED) {
			doctor_note(
			    d, STEP_TCP, DOCTOR_FAIL,
			    "%s: %s%s:%u refused the connection "
			    "(connection refused: nothing listens there)",
			    t->key, what, a, (unsigned)port);
			doctor_hint(
			    d, STEP_TCP,
			    "check the port in %s and that the server is up",
			    t->proxy ? "https_proxy" : t->key);
		} else if (r == -ETIMEDOUT) {
			doctor_note(
			    d, STEP_TCP, DOCTOR_FAIL,
			    "%s: %s%s:%u timed out after %s (no answer: a "
			    "firewall drops it or the host is down)",
			    t->key, what, a, (unsigned)port, secs);
			doctor_hint(d, STEP_TCP,
				    "check the network path (VPN, firewall)%s",
				    t->proxy ? ""
					     : "; if you need a proxy, set "
					       "https_proxy");
		} else {
			doctor_note(d, STEP_TCP, DOCTOR_FAIL, "%s: %s%s:%u: %s",
				    t->key, what, a, (unsigned)port,
				    strerror(-r));
			doctor_hint(d, STEP_TCP, "check the network path");
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

static void tls_verdict(struct doctor *d, struct doctor_target *t,
			const struct doctor_tls *x)
{
	char nb[ISO8601_MAX], na[ISO8601_MAX], left[32];
	usec_t now = now_wall();
	enum doctor_result r;

	(void)format_iso8601(nb, x->not_before);
	(void)format_iso8601(na, x->not_after);
	if (x->code == CURLE_OK) {
		r = x->have_leaf
			? doctor_cert_verdict(x->not_before, x->not_after, now)
			: DOCTOR_OK;
		if (!x->have_leaf) {
			doctor_note(d, STEP_TLS, DOCTOR_OK,
				    "%s: the certificate verifies", t->key);
			return;
		}
		if (x->not_after > now + 2 * USEC_PER_DAY)
			(void)snprintf(
			    left, sizeof(left), "%llu days",
			    (unsigned long long)((x->not_after - now) /
						 USEC_PER_DAY));
		else
			(void)format_duration(
			    left, x->not_after > now ? x->not_after - now : 0);
		doctor_note(
		    d, STEP_TLS, r,
		    "%s: certificate for %s verifies (issuer %s); it expires "
		    "%s (in %s)",
		    t->key, x->subject, x->issuer, na, left);
		if (r != DOCTOR_OK)
			doctor_hint(d, STEP_TLS,
				    "the certificate of %s ends soon: tell its "
				    "administrator",
				    t->host);
		return;
	}
	doctor_target_fail(t, STEP_TLS);
	if (x->verify_err == X509_V_ERR_CERT_HAS_EXPIRED ||
	    (x->have_leaf && x->verify_depth == 0 && now >= x->not_after &&
	     x->verify_err)) {
		if (x->verify_depth > 0)
			doctor_note(d, STEP_TLS, DOCTOR_FAIL,
				    "%s: a CA certificate in the chain has "
				    "expired (server certificate %s, issuer "
				    "%s)",
				    t->key, x->subject, x->issuer);
		else
			doctor_note(d, STEP_TLS, DOCTOR_FAIL,
				    "%s: the certificate expired on %s "
				    "(subject %s)",
				    t->key, na, x->subject);
		doctor_hint(
		    d, STEP_TLS,
		    "the server's certificate must be renewed: tell the "
		    "administrator of %s",
		    t->host);
	} else if (x->verify_err == X509_V_ERR_CERT_NOT_YET_VALID) {
		doctor_note(d, STEP_TLS, DOCTOR_FAIL,
			    "%s: the certificate is not valid before %s",
			    t->key, nb);
		doctor_hint(d, STEP_TLS,
			    "check this machine's clock (timedatectl), or the "
			    "server's certificate");
	} else if (untrusted(x->verify_err)) {
		doctor_note(
		    d, STEP_TLS, DOCTOR_FAIL,
		    "%s: certificate is not trusted (%s; subject %s, issuer "
		    "%s)%s%s",
		    t->key, X509_verify_cert_error_string(x->verify_err),
		    x->subject, x->issuer, t->ca_file ? "; " : "",
		    t->ca_file ? t->ca_key : "");
		if (t->ca_file)
			doctor_hint(
			    d, STEP_TLS,
			    "%s (%s) is not the CA that issued it: set %s to "
			    "the CA that issued it",
			    t->ca_key, t->ca_file, t->ca_key);
		else
			doctor_hint(
			    d, STEP_TLS,
			    "set %s to the CA that issued it (a PEM file)",
			    t->ca_key);
	} else if (x->verify_err == X509_V_ERR_HOSTNAME_MISMATCH ||
		   x->verify_err == X509_V_ERR_IP_ADDRESS_MISMATCH ||
		   (!x->verify_err &&
		    x->code == CURLE_PEER_FAILED_VERIFICATION &&
		    x->have_leaf)) {
		/* The chain verified; the host check did not (libcurl's own,
		 * or OpenSSL's when libcurl hands it the name). */
		doctor_note(
		    d, STEP_TLS, DOCTOR_FAIL,
		    "%s: host name mismatch: the certificate is for %s, not "
		    "%s (%s)",
		    t->key, x->names[0] ? x->names : x->subject, t->host,
		    x->errbuf);
		doctor_hint(
		    d, STEP_TLS,
		    "use in %s a host name the certificate names, or get a "
		    "certificate for %s",
		    t->key, t->host);
	} else if (x->verify_err) {
		doctor_note(
		    d, STEP_TLS, DOCTOR_FAIL,
		    "%s: the certificate does not verify: %s (subject %s)",
		    t->key, X509_verify_cert_error_string(x->verify_err),
		    x->subject);
		doctor_hint(d, STEP_TLS, "tell the administrator of %s",
			    t->host);
	} else if (x->code == CURLE_SSL_CACERT_BADFILE) {
		doctor_note(d, STEP_TLS, DOCTOR_FAIL,
			    "%s: cannot use %s %s: %s", t->key, t->ca_key,
			    strempty(t->ca_file), x->errbuf);
		doctor_hint(d, STEP_TLS, "%s must be a readable PEM file",
			    t->ca_key);
	} else {
		doctor_note(d, STEP_TLS, DOCTOR_FAIL,
			    "%s: TLS handshake failed: %s", t->key,
			    x->errbuf[0] ? x->errbuf
					 : curl_easy_strerror(x->code));
		doctor_hint(d, STEP_TLS,
			    "check that %s speaks HTTPS on port %u%s", t->host,
			    (unsigned)t->port,
			    t->proxy ? " and that the proxy allows it" : "");
	}
}

void doctor_check_tls(struct doctor *d)
{
	for (size_t i = 0; i < d->n_targets; i++) {
		struct doctor_target *t = &d->targets[i];
		struct doctor_tls x;

		if (!doctor_target_ready(d, t, STEP_TLS))
			continue;
		if (doctor_net_tls(t->url, t->ca_file, d->timeout, &x) < 0) {
			doctor_note(d, STEP_TLS, DOCTOR_FAIL,
				    "%s: out of memory", t->key);
			doctor_target_fail(t, STEP_TLS);
			continue;
		}
		tls_verdict(d, t, &x);
	}
}

/* --- 5. the sign-in page, 6. the relying party ------------------------ */

/* What to do when a GET (http-call's err) failed after the handshake
 * worked. */
static void get_failed_hint(struct doctor *d, enum doctor_step_id s, int err,
			    const char *who)
{
	char secs[32];

	if (err == -ETIMEDOUT)
		doctor_hint(d, s,
			    "%s took the connection but did not answer within "
			    "%s: it is overloaded or stuck (or a proxy holds "
			    "the request); try again, then tell its "
			    "administrator",
			    who, format_duration(secs, d->timeout));
	else
		doctor_hint(d, s, "see the tcp and tls steps");
}

void doctor_check_signin_page(struct doctor *d)
{
	struct doctor_target *t = doctor_find_target(d, "adfs.url");
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	_cleanup_(adfs_page_freep) struct adfs_page *p = NULL;
	_cleanup_free_ char *url = NULL;
	const char *rp = d->conf->adfs.relying_party;
	const char *detail, *text;
	int err = 0;

	if (!t || t->failed >= 0) {
		doctor_skip(d, STEP_SIGNIN_PAGE,
			    t ? (enum doctor_step_id)t->failed : STEP_CONFIG);
		doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	url = adfs_signon_url(d->conf);
	if (!url || doctor_net_get(url, t->ca_file, d->timeout, ADFS_MAX_PAGE,
				   &c, &err) < 0) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL, "out of memory");
		doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (err < 0) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL, "GET %s: %s", url,
			    http_call_strerror(c));
		get_failed_hint(d, STEP_SIGNIN_PAGE, err, "ADFS");
		doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (c->status >= 300 && c->status < 400) {
		/* Windows sign-in (Kerberos) or a sign-in elsewhere: ADFS
		 * took the request, relying party included. */
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_OK,
			    "%s answers with a redirect (HTTP %ld to %s)", url,
			    c->status, strempty(c->location));
		doctor_note(d, STEP_RELYING_PARTY, DOCTOR_OK,
			    "ADFS took loginToRp=%s", rp);
		return;
	}
	if (adfs_page_parse(c->body.data ? c->body.data : "", c->body.len, url,
			    &p) < 0) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
			    "%s: the page cannot be read (HTTP %ld, %zu bytes)",
			    url, c->status, c->body.len);
		doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	detail = strempty(p->error_detail);
	text = strempty(p->error_text);
	if (strstr(detail, "MSIS7012") || strstr(text, "is not available")) {
		/* WS-Trust signs in at /adfs/services/trust, without this
		 * page: there it is only worth knowing. */
		bool needed = d->conf->adfs.auth != CONF_AUTH_WSTRUST;

		doctor_note(
		    d, STEP_SIGNIN_PAGE, needed ? DOCTOR_FAIL : DOCTOR_WARN,
		    "IdP-initiated sign-on is disabled%s: ADFS shows "
		    "\"%s\"%s%s%s",
		    needed ? "" : " (adfs.auth ws-trust does not use it)", text,
		    p->error_detail ? " (" : "", detail,
		    p->error_detail ? ")" : "");
		doctor_hint(
		    d, STEP_SIGNIN_PAGE,
		    "ask the ADFS administrator to run Set-AdfsProperties "
		    "-EnableIdpInitiatedSignonPage $true");
		doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
		return;
	}
	if (strstr(detail, "MSIS7007")) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_OK,
			    "%s answers; IdP-initiated sign-on is enabled",
			    url);
		doctor_note(d, STEP_RELYING_PARTY, DOCTOR_FAIL,
			    "ADFS does not know the relying party '%s' "
			    "(adfs.relying_party): %s",
			    rp, detail);
		doctor_hint(
		    d, STEP_RELYING_PARTY,
		    "set adfs.relying_party to the identifier of the AWS "
		    "relying party trust (Get-AdfsRelyingPartyTrust; usually "
		    "%s)",
		    CONF_DEFAULT_RELYING_PARTY);
		return;
	}
	if (c->status == 200 && p->kind != ADFS_PAGE_UNKNOWN) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_OK, "%s: %s", url,
			    p->kind == ADFS_PAGE_LOGIN
				? "the sign-in form is there"
				: "ADFS answers with a sign-in step");
		doctor_note(d, STEP_RELYING_PARTY, DOCTOR_OK,
			    "ADFS took loginToRp=%s (adfs.relying_party)", rp);
		return;
	}
	if (p->error_text || p->error_detail) {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
			    "ADFS shows an error page (HTTP %ld): %s%s%s%s",
			    c->status, text, p->error_detail ? " (" : "",
			    detail, p->error_detail ? ")" : "");
		doctor_hint(d, STEP_SIGNIN_PAGE,
			    "ask the ADFS administrator about this error");
	} else {
		doctor_note(d, STEP_SIGNIN_PAGE, DOCTOR_FAIL,
			    "%s: HTTP %ld and not the ADFS sign-in form", url,
			    c->status);
		doctor_hint(d, STEP_SIGNIN_PAGE,
			    "check adfs.url: the ADFS farm's base URL "
			    "(https://adfs.example.com), without /adfs/ls");
	}
	doctor_skip(d, STEP_RELYING_PARTY, STEP_SIGNIN_PAGE);
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

void doctor_check_sts(struct doctor *d)
{
	struct doctor_target *t = doctor_find_target(d, "aws.sts_endpoint");
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	_cleanup_free_ char *url = NULL;
	const char *ep = d->conf->aws.sts_endpoint;
	char code[129], msg[129];
	size_t l = strlen(ep);
	int err = 0;

	if (!t || t->failed >= 0) {
		doctor_skip(d, STEP_STS,
			    t ? (enum doctor_step_id)t->failed : STEP_CONFIG);
		doctor_skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	/* Unsigned, so STS refuses it: an AWS error document is the proof
	 * that STS itself answered. */
	if (asprintf(&url, "%.*s/?Action=GetCallerIdentity&Version=2011-06-15",
		     (int)(l && ep[l - 1] == '/' ? l - 1 : l), ep) < 0 ||
	    doctor_net_get(url, t->ca_file, d->timeout, STS_REPLY_MAX, &c,
			   &err) < 0) {
		url = NULL;
		doctor_note(d, STEP_STS, DOCTOR_FAIL, "out of memory");
		doctor_skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	if (err < 0) {
		doctor_note(d, STEP_STS, DOCTOR_FAIL, "%s: %s", ep,
			    http_call_strerror(c));
		get_failed_hint(d, STEP_STS, err, "STS");
		doctor_skip(d, STEP_CLOCK, STEP_STS);
		return;
	}
	d->sts_date = c->date;
	/* Date has whole seconds: compare with ours cut the same way. */
	d->sts_local = now_wall() / USEC_PER_SEC * USEC_PER_SEC;
	xml_text(c->body.data, c->body.len, "Code", code);
	xml_text(c->body.data, c->body.len, "Message", msg);
	if (c->status >= 500) {
		doctor_note(d, STEP_STS, DOCTOR_FAIL,
			    "STS at %s is failing: HTTP %ld%s%s%s%s", ep,
			    c->status, code[0] ? " " : "", code,
			    msg[0] ? ": " : "", msg);
		doctor_hint(
		    d, STEP_STS,
		    "STS is down or overloaded: retry later (AWS Health "
		    "Dashboard); aws.region picks the regional endpoint");
	} else if (c->body.data &&
		   (memmem(c->body.data, c->body.len, "<ErrorResponse", 14) ||
		    memmem(c->body.data, c->body.len,
			   "<GetCallerIdentityResponse", 26))) {
		doctor_note(
		    d, STEP_STS, DOCTOR_OK,
		    "STS at %s answers (HTTP %ld%s%s to an unsigned request, "
		    "as expected)",
		    ep, c->status, code[0] ? " " : "", code);
	} else {
		doctor_note(
		    d, STEP_STS, DOCTOR_FAIL,
		    "%s answered HTTP %ld with something that is not an AWS "
		    "reply",
		    ep, c->status);
		doctor_hint(
		    d, STEP_STS,
		    "check aws.sts_endpoint (and aws.region), and any proxy "
		    "in between");
	}
}

void doctor_check_clock(struct doctor *d)
{
	char when[ISO8601_MAX], by[32];
	enum doctor_result r;
	int64_t skew;

	if (d->steps[STEP_CLOCK].ran)
		return; /* skipped by check_sts */
	if (!d->sts_date) {
		doctor_note(d, STEP_CLOCK, DOCTOR_WARN,
			    "STS sent no Date header to compare with");
		return;
	}
	skew = (int64_t)d->sts_date - (int64_t)d->sts_local;
	r = doctor_skew_verdict(skew);
	(void)format_iso8601(when, d->sts_date);
	(void)format_duration(by, (usec_t)(skew < 0 ? -skew : skew));
	if (r == DOCTOR_OK)
		doctor_note(d, STEP_CLOCK, r,
			    "this clock is within %s of STS's (Date: %s)", by,
			    when);
	else
		doctor_note(d, STEP_CLOCK, r,
			    "this clock is %s %s STS's (Date: %s): clock skew",
			    by, skew > 0 ? "behind" : "ahead of", when);
	if (r != DOCTOR_OK)
		doctor_hint(
		    d, STEP_CLOCK,
		    "fix the clock (timedatectl set-ntp true, or chrony): "
		    "beyond 5 min SAML assertions and SigV4 signatures fail");
}
