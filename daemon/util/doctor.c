/* The pure rules of adfs-credctl doctor (util/doctor.h). */
#include "util/doctor.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *doctor_result_name(enum doctor_result r)
{
	static const char *const names[] = {
	    [DOCTOR_OK] = "OK",
	    [DOCTOR_WARN] = "WARN",
	    [DOCTOR_FAIL] = "FAIL",
	    [DOCTOR_SKIP] = "SKIP",
	};

	return (size_t)r < ELEMENTSOF(names) ? names[r] : "FAIL";
}

const char *doctor_result_key(enum doctor_result r)
{
	static const char *const keys[] = {
	    [DOCTOR_OK] = "ok",
	    [DOCTOR_WARN] = "warn",
	    [DOCTOR_FAIL] = "fail",
	    [DOCTOR_SKIP] = "skip",
	};

	return (size_t)r < ELEMENTSOF(keys) ? keys[r] : "fail";
}

enum doctor_result doctor_result_worst(enum doctor_result a,
				       enum doctor_result b)
{
	if (a == DOCTOR_SKIP)
		return b;
	if (b == DOCTOR_SKIP)
		return a;
	return a > b ? a : b;
}

enum doctor_result doctor_skew_verdict(int64_t skew)
{
	uint64_t m = skew < 0 ? (uint64_t)0 - (uint64_t)skew : (uint64_t)skew;

	if (m > DOCTOR_SKEW_FAIL)
		return DOCTOR_FAIL;
	if (m > DOCTOR_SKEW_WARN)
		return DOCTOR_WARN;
	return DOCTOR_OK;
}

enum doctor_result doctor_cert_verdict(usec_t not_before, usec_t not_after,
				       usec_t now)
{
	if (now < not_before || now >= not_after)
		return DOCTOR_FAIL;
	if (not_after - now <= DOCTOR_CERT_WARN)
		return DOCTOR_WARN;
	return DOCTOR_OK;
}

/* Whether the address host lies in the block entry ("a.b.c.d", "x::y",
 * optionally "/bits"); false when either is not an address of the same
 * family. */
static bool cidr_match(const char *entry, size_t len, const char *host)
{
	unsigned char want[16], have[16];
	char a[INET6_ADDRSTRLEN + 8];
	const char *slash;
	long bits;
	int family;
	size_t n;

	if (len >= sizeof(a))
		return false;
	memcpy(a, entry, len);
	a[len] = '\0';
	slash = strchr(a, '/');
	family = strchr(a, ':') ? AF_INET6 : AF_INET;
	n = family == AF_INET ? 4 : 16;
	bits = (long)n * 8;
	if (slash) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || bits < 0 || bits > (long)n * 8)
			return false;
		a[slash - a] = '\0';
	}
	if (inet_pton(family, a, want) != 1 ||
	    inet_pton(family, host, have) != 1)
		return false;
	for (size_t i = 0; bits > 0; i++, bits -= 8) {
		unsigned mask =
		    bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;

		if ((want[i] & mask) != (have[i] & mask))
			return false;
	}
	return true;
}

/* Whether host is name, or a host in the domain name (both without a
 * trailing dot). */
static bool name_match(const char *name, size_t len, const char *host)
{
	size_t hl = strlen(host);

	if (len && name[0] == '.') {
		name++;
		len--;
	}
	if (len && name[len - 1] == '.')
		len--;
	if (hl && host[hl - 1] == '.')
		hl--;
	if (!len || len > hl)
		return false;
	if (strncasecmp(host + hl - len, name, len) != 0)
		return false;
	return len == hl || host[hl - len - 1] == '.';
}

bool doctor_no_proxy_match(const char *list, const char *host)
{
	static const char sep[] = ", \t";
	const char *p = list;

	if (!list || !host || !*host)
		return false;
	p += strspn(p, sep);
	if (p[0] == '*' && p[1 + strspn(p + 1, sep)] == '\0')
		return true;
	while (*p) {
		size_t len = strcspn(p, sep);

		if (cidr_match(p, len, host) || name_match(p, len, host))
			return true;
		p += len;
		p += strspn(p, sep);
	}
	return false;
}

static const char *nonempty(const char *a, const char *b)
{
	if (a && *a)
		return a;
	return b && *b ? b : NULL;
}

const char *doctor_proxy_for(const struct doctor_proxy_env *e, const char *host)
{
	const char *proxy, *no;

	proxy = nonempty(e->https_proxy, e->HTTPS_PROXY);
	if (!proxy)
		proxy = nonempty(e->all_proxy, e->ALL_PROXY);
	if (!proxy)
		return NULL;
	/* libcurl reads no_proxy, and NO_PROXY only when that is unset. */
	no = e->no_proxy ? e->no_proxy : e->NO_PROXY;
	return doctor_no_proxy_match(no, host) ? NULL : proxy;
}

char *doctor_proxy_display(const char *proxy)
{
	const char *scheme = strstr(proxy, "://");
	const char *auth = scheme ? scheme + 3 : proxy;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = memrchr(auth, '@', (size_t)(end - auth));
	size_t head = (size_t)(auth - proxy);
	char *out;

	if (!at)
		return strdup(proxy);
	out = malloc(strlen(proxy) + 1);
	if (!out)
		return NULL;
	memcpy(out, proxy, head);
	memcpy(out + head, at + 1, strlen(at + 1) + 1);
	return out;
}
