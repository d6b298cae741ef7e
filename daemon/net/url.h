/* URLs through libcurl's URL API (CURLU): origins for the same-origin
 * rules (RFC 6454 section 4), hosts for messages and Host headers, and
 * percent-encoding (RFC 3986 section 2.1). Results are plain heap strings
 * owned by the caller. */
#pragma once

#include <stddef.h>

/* "scheme://host:port" of url with the host lower-cased and the scheme's
 * default port filled in, so that equal origins compare equal as strings.
 * -EINVAL when url does not parse, -ENOMEM. */
int url_origin(const char *url, char **ret);
/* The host of url, lower-cased (IPv6 in brackets, as libcurl writes
 * it). -EINVAL, -ENOMEM. */
int url_host(const char *url, char **ret);
/* "host" or "host:port" when url names a port: an HTTP Host header value
 * (RFC 9110 section 7.2). -EINVAL, -ENOMEM. */
int url_authority(const char *url, char **ret);
/* Percent-encodes len bytes of s (every byte but ALPHA / DIGIT / "-._~").
 * -ENOMEM; -E2BIG beyond INT_MAX bytes. */
int url_escape(const char *s, size_t len, char **ret);
