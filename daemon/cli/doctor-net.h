/* adfs-credctl doctor's network probes, each bounded in time: a name
 * lookup, a TCP connect, a TLS handshake that records what the
 * certificate says, and a GET with the daemon's own HTTPS rules
 * (net/http-call). Nothing here sends a secret. See cmd-doctor.c. */
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/http-call.h"
#include "util/macro.h"

/* getaddrinfo(host) for TCP, given up after timeout (the lookup runs in a
 * thread left to finish on its own). 0 and a list the caller frees with
 * freeaddrinfo(); else an EAI_* code (negative, as getaddrinfo returns
 * them), or EAI_AGAIN on timeout with *ret_timed_out set. */
int doctor_net_resolve(const char *host, usec_t timeout, struct addrinfo **ret,
		       bool *ret_timed_out);
/* Connects to port on the first address of res that answers, within
 * timeout in all; the address that answered goes to ret_addr. 0, or
 * -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH... of the last address tried. */
int doctor_net_connect(const struct addrinfo *res, uint16_t port,
		       usec_t timeout, char ret_addr[static INET6_ADDRSTRLEN]);

/* What one TLS handshake showed. Strings are as the certificate has them
 * (not escaped). */
struct doctor_tls {
	CURLcode code; /* libcurl's result */
	char errbuf[CURL_ERROR_SIZE];
	int verify_err;	  /* the first X509_V_ERR_* seen, 0 if none */
	int verify_depth; /* where in the chain */
	bool have_leaf;	  /* the fields below are set */
	usec_t not_before, not_after;
	char subject[256]; /* the server certificate's subject */
	char issuer[256];  /* ... and issuer */
	char names[256];   /* its DNS and IP subjectAltNames, ", " */
};

/* A TLS handshake with url's host (through the proxy libcurl picks from
 * the environment, as the daemon's does) with verification on: the system
 * trust plus ca_file (NULL: none). Nothing is sent after the handshake.
 * Returns 0 when it ran (whatever libcurl said: see ret->code), -ENOMEM. */
int doctor_net_tls(const char *url, const char *ca_file, usec_t timeout,
		   struct doctor_tls *ret);

/* One GET of url through net/http-call (https only, verification on,
 * no redirects followed, body capped at max_body), on an event loop of its
 * own. 0 with the finished call in *ret (the caller's; its status, date,
 * location and body are set) and its transport error in *ret_err (0 or
 * http-call's negative errno); -ENOMEM and the like when it could not
 * start. */
int doctor_net_get(const char *url, const char *ca_file, usec_t timeout,
		   size_t max_body, struct http_call **ret, int *ret_err);
