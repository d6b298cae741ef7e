/* The rules of `adfs-credctl doctor` that need no network: how a result is
 * named, when a clock skew or a certificate's expiry is a warning or a
 * failure, and which proxy libcurl would use for a host (so that doctor
 * checks the path the daemon takes). Pure: values in, verdicts out, no
 * environment read here. See docs/internals/doctor.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/macro.h"

/* Clock skew against STS's Date header: over a minute is worth a warning;
 * over five minutes a SAML assertion's NotBefore/NotOnOrAfter and SigV4's
 * request time (STS allows 5 min for the former, 15 for the latter;
 * PROTOCOLS.md C) start to fail. */
#define DOCTOR_SKEW_WARN (1 * USEC_PER_MINUTE)
#define DOCTOR_SKEW_FAIL (5 * USEC_PER_MINUTE)
/* A server certificate that ends within this is a warning. */
#define DOCTOR_CERT_WARN (14 * USEC_PER_DAY)

/* Ordered: a step's result is the worst of its findings. SKIP is a step
 * that could not run (a step it needs failed). */
enum doctor_result {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_FAIL,
	DOCTOR_SKIP,
};

/* "OK", "WARN", "FAIL", "SKIP" (static). */
const char *doctor_result_name(enum doctor_result r);
/* "ok", "warn", "fail", "skip" (static): the --json form. */
const char *doctor_result_key(enum doctor_result r);
/* The worse of a and b (SKIP only when both are). */
enum doctor_result doctor_result_worst(enum doctor_result a,
				       enum doctor_result b);
/* The verdict on a skew of |skew| usec (either sign). */
enum doctor_result doctor_skew_verdict(int64_t skew);
/* The verdict on a certificate valid from not_before to not_after at now
 * (usec since the epoch): FAIL before not_before or from not_after on,
 * WARN within DOCTOR_CERT_WARN of not_after, else OK. */
enum doctor_result doctor_cert_verdict(usec_t not_before, usec_t not_after,
				       usec_t now);

/* The proxy variables as libcurl reads them for an https:// URL (NULL:
 * unset). */
struct doctor_proxy_env {
	const char *https_proxy, *HTTPS_PROXY;
	const char *all_proxy, *ALL_PROXY;
	const char *no_proxy, *NO_PROXY;
};

/* Whether host (a name, or an IPv4/IPv6 address without brackets) is
 * exempt under a no_proxy list: "*", or comma/space separated entries that
 * each match the host itself or a domain it is in (a leading dot is
 * optional), or an address or CIDR block (10.0.0.0/8, fd00::/8) holding
 * it. Case-insensitive, as libcurl matches. */
bool doctor_no_proxy_match(const char *list, const char *host);
/* The proxy libcurl uses for https://host/ (borrowed from e), or NULL for
 * a direct connection: https_proxy, else HTTPS_PROXY, else all_proxy, else
 * ALL_PROXY (empty values count as unset), unless no_proxy (else
 * NO_PROXY) exempts host. */
const char *doctor_proxy_for(const struct doctor_proxy_env *e,
			     const char *host);
/* proxy (a URL, or host[:port]) with any user:password@ removed, for
 * display: a heap string owned by the caller, NULL on ENOMEM. */
char *doctor_proxy_display(const char *proxy);
