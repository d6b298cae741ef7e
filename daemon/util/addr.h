/* The one loopback policy of adfs-credd (issue 13), used by the config
 * (listener hosts), the HTTP guard (the Host header) and the sockets (the
 * peer address). An address or name is loopback when it is:
 *   - IPv4 127.0.0.0/8, written as a full dotted quad ("127.1" and
 *     "127.0.0.1." are not: inet_pton(3) alone decides, so nothing that a
 *     resolver might read differently passes);
 *   - IPv6 ::1;
 *   - IPv4-mapped IPv6 ::ffff:127.0.0.0/104 (a dual-stack socket sees an
 *     IPv4 loopback peer this way);
 *   - the name "localhost" or "localhost." (the root-anchored spelling of the
 *     same name, RFC 6761 6.3), in any case.
 * Nothing else is: not 0.0.0.0 or ::, not other names (whatever they
 * resolve to), not link-local or private addresses. An IPv6 literal may be
 * written bare ("::1") or in brackets ("[::1]"); brackets hold an IPv6
 * literal and nothing else. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

/* Whether an IPv4 address (network order) is in 127.0.0.0/8. */
bool addr_in4_is_loopback(const struct in_addr *a);
/* Whether an IPv6 address is ::1 or in ::ffff:127.0.0.0/104. */
bool addr_in6_is_loopback(const struct in6_addr *a);
/* Whether a peer address (AF_INET or AF_INET6) is loopback; false for any
 * other family. */
bool addr_sockaddr_is_loopback(const struct sockaddr_storage *ss);
/* Whether a host without a port (a listener's host, the host part of a Host
 * header) is loopback: an address literal, a bracketed IPv6 literal or
 * "localhost"/"localhost.". False for NULL. */
bool addr_host_is_loopback(const char *host);
/* Whether a Host header value (RFC 9110 7.2: host [ ":" port ]) names
 * loopback: the host part by addr_host_is_loopback(), the port, when
 * present, only digits (it may be empty). An IPv6 literal needs its
 * brackets here. False for NULL. */
bool addr_host_port_is_loopback(const char *host_port);
