#include "util/addr.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* Longest host part looked at; longer ones are not loopback anyway. */
#define ADDR_HOST_MAX 256

bool addr_in4_is_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

bool addr_in6_is_loopback(const struct in6_addr *a)
{
	return IN6_IS_ADDR_LOOPBACK(a) ||
	       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

bool addr_sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
	if (!ss)
		return false;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return addr_in4_is_loopback(&in->sin_addr);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)ss;

		return addr_in6_is_loopback(&in6->sin6_addr);
	}
	return false;
}

/* The host part of length n at s (not NUL-terminated). */
static bool host_is_loopback(const char *s, size_t n)
{
	char h[ADDR_HOST_MAX];
	struct in6_addr a6;
	struct in_addr a4;

	if (n == 0 || n >= sizeof(h))
		return false;
	memcpy(h, s, n);
	h[n] = '\0';
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h[n - 1] = '\0';
		return inet_pton(AF_INET6, h + 1, &a6) == 1 &&
		       addr_in6_is_loopback(&a6);
	}
	if (strcasecmp(h, "localhost") == 0 || strcasecmp(h, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return addr_in4_is_loopback(&a4);
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return addr_in6_is_loopback(&a6);
	return false;
}

bool addr_host_is_loopback(const char *host)
{
	return host && host_is_loopback(host, strlen(host));
}

bool addr_host_port_is_loopback(const char *host_port)
{
	const char *end;

	if (!host_port)
		return false;
	if (host_port[0] == '[') {
		end = strchr(host_port, ']');
		if (!end)
			return false;
		end++;
	} else {
		end = strchr(host_port, ':');
		if (!end)
			end = host_port + strlen(host_port);
	}
	if (end[0] == ':' && end[1 + strspn(end + 1, "0123456789")] != '\0')
		return false;
	if (end[0] != '\0' && end[0] != ':')
		return false;
	return host_is_loopback(host_port, (size_t)(end - host_port));
}
