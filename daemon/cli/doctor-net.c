/* adfs-credctl doctor: the network probes (doctor-net.h). */
#include "cli/doctor-net.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "net/curl-glue.h"
#include "util/timeutil.h"

/* --- DNS ------------------------------------------------------------- */

/* Shared by the caller and the lookup thread; the last one out frees it,
 * so a caller that gave up does not wait for the resolver. */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;
	bool done;
	int rc;
	char *host;
	struct addrinfo *res;
};

static void lookup_unref_locked(struct lookup *l)
{
	bool last = --l->refs == 0;

	(void)pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	free(l->host);
	(void)pthread_cond_destroy(&l->cond);
	(void)pthread_mutex_destroy(&l->lock);
	free(l);
}

static void *lookup_run(void *ud)
{
	/* No AI_ADDRCONFIG: on a host with loopback only it would hide
	 * addresses libcurl still gets. */
	static const struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct lookup *l = ud;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(l->host, NULL, &hints, &res);

	(void)pthread_mutex_lock(&l->lock);
	l->rc = rc;
	l->res = rc == 0 ? res : NULL;
	l->done = true;
	(void)pthread_cond_signal(&l->cond);
	lookup_unref_locked(l);
	return NULL;
}

int doctor_net_resolve(const char *host, usec_t timeout, struct addrinfo **ret,
		       bool *ret_timed_out)
{
	struct lookup *l = calloc(1, sizeof(*l));
	struct timespec until;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	*ret_timed_out = false;
	if (!l)
		return EAI_MEMORY;
	l->host = strdup(host);
	if (!l->host) {
		free(l);
		return EAI_MEMORY;
	}
	(void)pthread_mutex_init(&l->lock, NULL);
	(void)pthread_cond_init(&l->cond, NULL);
	l->refs = 2;
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, lookup_run, l) != 0) {
		(void)pthread_attr_destroy(&attr);
		(void)pthread_mutex_lock(&l->lock);
		l->refs = 1;
		lookup_unref_locked(l);
		return EAI_SYSTEM;
	}
	(void)pthread_attr_destroy(&attr);
	/* pthread_cond_timedwait measures CLOCK_REALTIME by default. */
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(timeout / USEC_PER_SEC);
	until.tv_nsec += (long)(timeout % USEC_PER_SEC) * 1000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	(void)pthread_mutex_lock(&l->lock);
	while (!l->done)
		if (pthread_cond_timedwait(&l->cond, &l->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (l->done) {
		rc = l->rc;
		if (rc == 0)
			*ret = TAKE_PTR(l->res);
	} else {
		rc = EAI_AGAIN;
		*ret_timed_out = true;
	}
	lookup_unref_locked(l);
	return rc;
}

/* --- TCP ------------------------------------------------------------- */

/* One non-blocking connect, waited for until deadline (CLOCK_MONOTONIC). */
static int connect_one(const struct addrinfo *a, uint16_t port, usec_t deadline)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len = sizeof(int);
	usec_t now;
	int err = 0;

	if (a->ai_addrlen > sizeof(ss))
		return -EAFNOSUPPORT;
	memcpy(&ss, a->ai_addr, a->ai_addrlen);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		return -EAFNOSUPPORT;
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, a->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	for (;;) {
		int n;

		now = now_clock(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (n > 0)
			break;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int doctor_net_connect(const struct addrinfo *res, uint16_t port,
		       usec_t timeout, char ret_addr[static INET6_ADDRSTRLEN])
{
	usec_t deadline = now_clock(CLOCK_MONOTONIC) + timeout;
	int r = -EADDRNOTAVAIL;

	for (const struct addrinfo *a = res; a; a = a->ai_next) {
		const void *in =
		    a->ai_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)a->ai_addr)
			      ->sin6_addr
			: (const void *)&((struct sockaddr_in *)a->ai_addr)
			      ->sin_addr;

		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		if (!inet_ntop(a->ai_family, in, ret_addr, INET6_ADDRSTRLEN))
			(void)snprintf(ret_addr, INET6_ADDRSTRLEN, "?");
		r = connect_one(a, port, deadline);
		if (r == 0 || r == -ETIMEDOUT)
			return r;
	}
	return r;
}

/* --- TLS ------------------------------------------------------------- */

static int tls_index = -1;

static usec_t asn1_usec(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (usec_t)timegm(&tm) * USEC_PER_SEC;
}

static void add_name(char *names, size_t size, const char *n)
{
	size_t used = strlen(names);

	if (used + strlen(n) + 3 >= size)
		return; /* enough to tell what the certificate is for */
	(void)snprintf(names + used, size - used, "%s%s", used ? ", " : "", n);
}

static void leaf_names(X509 *cert, struct doctor_tls *t)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char a[INET6_ADDRSTRLEN], s[256];
		int len;

		if (g->type == GEN_DNS) {
			len = ASN1_STRING_length(g->d.dNSName);
			(void)snprintf(
			    s, sizeof(s), "%.*s", len < 200 ? len : 200,
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
			add_name(t->names, sizeof(t->names), s);
		} else if (g->type == GEN_IPADD) {
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len == 4 || len == 16) &&
			    inet_ntop(len == 4 ? AF_INET : AF_INET6,
				      ASN1_STRING_get0_data(g->d.iPAddress), a,
				      sizeof(a)))
				add_name(t->names, sizeof(t->names), a);
		}
	}
	GENERAL_NAMES_free(gens);
}

/* Watches OpenSSL's chain verification and changes nothing: it returns
 * OpenSSL's own verdict. It records the server certificate's dates and
 * names, and the first error, so that doctor can say why. */
static int on_verify(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct doctor_tls *t =
	    ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_index) : NULL;
	int depth = X509_STORE_CTX_get_error_depth(x);
	X509 *cert = X509_STORE_CTX_get_current_cert(x);

	if (!t)
		return preverify_ok;
	if (!preverify_ok && !t->verify_err) {
		t->verify_err = X509_STORE_CTX_get_error(x);
		t->verify_depth = depth;
	}
	if (depth == 0 && cert && !t->have_leaf) {
		t->have_leaf = true;
		t->not_before = asn1_usec(X509_get0_notBefore(cert));
		t->not_after = asn1_usec(X509_get0_notAfter(cert));
		(void)X509_NAME_oneline(X509_get_subject_name(cert), t->subject,
					sizeof(t->subject));
		(void)X509_NAME_oneline(X509_get_issuer_name(cert), t->issuer,
					sizeof(t->issuer));
		leaf_names(cert, t);
	}
	return preverify_ok;
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *userdata)
{
	/* Same mode as libcurl set (verification on); only the observer
	 * is added. */
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, on_verify);
	return SSL_CTX_set_ex_data(ssl_ctx, tls_index, userdata) == 1
		   ? CURLE_OK
		   : CURLE_OUT_OF_MEMORY;
}

int doctor_net_tls(const char *url, const char *ca_file, usec_t timeout,
		   struct doctor_tls *ret)
{
	long secs = (long)(timeout / USEC_PER_SEC);
	CURL *e;

	if (tls_index < 0)
		tls_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (tls_index < 0)
		return -ENOMEM;
	*ret = (struct doctor_tls){0};
	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	if (secs < 1)
		secs = 1;
	if (curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, ret) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, secs) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, secs) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ret->errbuf) ||
	    (ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, ca_file))) {
		curl_easy_cleanup(e);
		return -EINVAL;
	}
	ret->code = curl_easy_perform(e);
	curl_easy_cleanup(e);
	return 0;
}

/* --- a GET with the daemon's rules ------------------------------------ */

struct get_state {
	bool done;
	int err;
};

static void on_get_done(struct http_call *c, int error, void *userdata)
{
	struct get_state *st = userdata;

	st->done = true;
	st->err = error;
}

int doctor_net_get(const char *url, const char *ca_file, usec_t timeout,
		   size_t max_body, struct http_call **ret, int *ret_err)
{
	const struct http_call_opts o = {
	    .ca_file = ca_file,
	    .timeout = timeout,
	    .max_body = max_body,
	};
	_cleanup_(http_call_freep) struct http_call *c = NULL;
	_cleanup_(curl_glue_freep) struct curl_glue *g = NULL;
	struct get_state st = {0};
	sd_event *ev = NULL;
	int r;

	r = sd_event_new(&ev);
	if (r < 0)
		return r;
	r = curl_glue_new(ev, &g);
	if (r >= 0)
		r = http_call_new(url, &o, &c);
	if (r >= 0)
		r = http_call_start(c, g, on_get_done, &st);
	/* http-call's own timeout ends the transfer; the loop only runs
	 * it. */
	while (r >= 0 && !st.done)
		r = sd_event_run(ev, UINT64_MAX);
	if (r >= 0) {
		*ret_err = st.err;
		*ret = TAKE_PTR(c);
		r = 0;
	}
	c = http_call_free(c);
	g = curl_glue_free(g);
	(void)sd_event_unref(ev);
	return r;
}
