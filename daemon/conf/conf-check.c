/* The value checks on plain strings, shared by the YAML setters
 * (conf-set.c) and anyone taking the same values elsewhere: URLs, regions,
 * role names and ARNs, listeners. Each conf_check_*() returns NULL or a
 * static phrase to follow the key name. */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/iam-arn.h"

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"
#define ALNUM LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

/* Our own role names (the ECS path /role/<name>) use IAM's set
 * ([\w+=,.@-], util/iam-arn.h) minus ','. */
#define ROLE_NAME_CHARS ALNUM "_.@+=-"


static bool all_in(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

static bool is_printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool port_ok(const char *p, size_t n)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || !all_in(p, n, DIGITS))
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(p[i] - '0');
	return v >= 1 && v <= 65535;
}

static bool ipv6_ok(const char *p, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* A DNS name or a dotted quad; digits-and-dots must be a real IPv4. */
static bool hostname_ok(const char *p, size_t n)
{
	char tmp[INET_ADDRSTRLEN];
	struct in_addr a;

	if (n == 0 || n > 253 || !all_in(p, n, ALNUM ".-_"))
		return false;
	if (!all_in(p, n, DIGITS "."))
		return true;
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, &a) == 1;
}

const char *conf_check_https_url(const char *s)
{
	const char *host, *end, *port;

	if (!s || strncasecmp(s, "https://", 8) != 0)
		return "must be an https:// URL";
	if (!is_printable_ascii(s))
		return "must not contain spaces, control or non-ASCII "
		       "characters (write international host names in "
		       "punycode)";
	if (strpbrk(s, "?#"))
		return "must not contain a query (?) or fragment (#)";
	host = s + 8;
	end = host + strcspn(host, "/");
	if (memchr(host, '@', (size_t)(end - host)))
		return "must not contain a user name or password (@)";
	if (end == host)
		return "must name a host after https://";
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (!close || !ipv6_ok(host + 1, (size_t)(close - host - 1)))
			return "must have a valid IPv6 address in brackets";
		port = close + 1;
		if (port < end && *port != ':')
			return "must have a valid IPv6 address in brackets";
	} else {
		port = memchr(host, ':', (size_t)(end - host));
		if (!port)
			port = end;
		if (port == host)
			return "must name a host after https://";
		if (!hostname_ok(host, (size_t)(port - host)))
			return "must name a valid host";
	}
	if (port < end && !port_ok(port + 1, (size_t)(end - port - 1)))
		return "must have a port between 1 and 65535";
	return NULL;
}

const char *conf_check_region(const char *s)
{
	static const char bad[] = "must be an AWS region name like eu-west-1";
	const char *p = s;
	unsigned words = 0;
	size_t n;

	/* eu-west-1, us-gov-west-1, cn-north-1, eusc-de-east-1: lowercase
	 * words joined by dashes, then a number. */
	if (!s || strlen(s) > 32)
		return bad;
	for (;;) {
		n = strspn(p, LOWER);
		if (n == 0)
			break;
		words++;
		p += n;
		if (*p != '-')
			return bad;
		p++;
	}
	n = strspn(p, DIGITS);
	if (words < 2 || n < 1 || n > 2 || p[n] != '\0')
		return bad;
	return NULL;
}

const char *conf_check_role_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64 || !all_in(s, n, ROLE_NAME_CHARS))
		return "must be 1 to 64 characters of A-Z a-z 0-9 _ . @ + = -";
	return NULL;
}

/* IAM's own rules (util/iam-arn.c), the ones an assertion's roles are held
 * to, with a message that shows the form. */
const char *conf_check_role_arn(const char *s)
{
	/* IAM's pattern lets a path hold empty segments (a//b); a config
	 * that writes one has a typo. */
	if (!s || iam_arn_check_role(s) || strstr(s, "//"))
		return "must be a role ARN like "
		       "arn:aws:iam::123456789012:role/NAME";
	return NULL;
}

const char *conf_check_provider_arn(const char *s)
{
	if (!s || iam_arn_check_provider(s))
		return "must be a SAML provider ARN like "
		       "arn:aws:iam::123456789012:saml-provider/NAME";
	return NULL;
}

/* Splits a listener; on success sets host/host_len/port. */
static const char *split_listen(const char *s, const char **ret_host,
				size_t *ret_len, uint16_t *ret_port)
{
	const char *host, *colon, *p;
	unsigned long port = 0;
	size_t n;

	if (!s || !*s)
		return "must be HOST:PORT, [IPv6]:PORT or off";
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return "must be HOST:PORT, [IPv6]:PORT or off";
		host = s + 1;
		n = (size_t)(close - host);
		if (!ipv6_ok(host, n))
			return "host in brackets must be an IPv6 address";
		colon = close + 1;
		if (*colon == '\0')
			return "needs a port: write [IPv6]:PORT, e.g. "
			       "[::1]:9911";
		if (*colon != ':')
			return "must be HOST:PORT, [IPv6]:PORT or off";
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "needs a port: write HOST:PORT, e.g. "
			       "127.0.0.1:9911";
		if (memchr(s, ':', (size_t)(colon - s)))
			return "needs brackets around an IPv6 address, e.g. "
			       "[::1]:9911";
		host = s;
		n = (size_t)(colon - s);
		if (n == 0)
			return "needs a host, e.g. 127.0.0.1:9911";
		if (!hostname_ok(host, n))
			return "host must be an IP address or a host name";
	}
	p = colon + 1;
	if (*p == '\0')
		return "needs a port: write HOST:PORT, e.g. 127.0.0.1:9911";
	if (!port_ok(p, strlen(p)))
		return "port must be a number between 1 and 65535";
	for (; *p; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	*ret_host = host;
	*ret_len = n;
	*ret_port = (uint16_t)port;
	return NULL;
}

const char *conf_check_listen(const char *s)
{
	const char *host;
	uint16_t port;
	size_t n;

	if (s && strcasecmp(s, "off") == 0)
		return NULL;
	return split_listen(s, &host, &n, &port);
}

void conf_listen_clear(struct conf_listen *l)
{
	free(l->host);
	*l = (struct conf_listen){ .enabled = false };
}

int conf_parse_listen(const char *s, struct conf_listen *ret)
{
	const char *host;
	uint16_t port;
	size_t n;
	char *h;

	if (s && strcasecmp(s, "off") == 0) {
		*ret = (struct conf_listen){ .enabled = false };
		return 0;
	}
	if (split_listen(s, &host, &n, &port))
		return -EINVAL;
	h = strndup(host, n);
	if (!h)
		return -ENOMEM;
	*ret = (struct conf_listen){ .enabled = true, .host = h, .port = port };
	return 0;
}
