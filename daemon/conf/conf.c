/* The configuration outside the YAML: lifetime, error lists, lookups,
 * loading the file, and the value checks conf-yaml.c applies. See
 * docs/internals/conf.md for the rules and their reasons. */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"
#define ALNUM LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

/* IAM role names: [\w+=,.@-]{1,64} (IAM API Reference, CreateRole). Our
 * own names (the ECS path /role/<name>) use the same set minus ','. */
#define ROLE_NAME_CHARS ALNUM "_.@+=-"
#define IAM_ROLE_CHARS ALNUM "_+=,.@-"
/* SAML provider names: [\w._-]{1,128} (IAM API, CreateSAMLProvider). */
#define SAML_PROVIDER_CHARS ALNUM "_.-"
#define ARN_MAX 2048u

void conf_listen_clear(struct conf_listen *l)
{
	free(l->host);
	*l = (struct conf_listen){ .enabled = false };
}

struct conf *conf_free(struct conf *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->adfs.url);
	free(c->adfs.relying_party);
	free(c->adfs.username);
	free(c->adfs.password_ref);
	free(c->adfs.ca_file);
	free(c->aws.region);
	free(c->aws.sts_endpoint);
	free(c->aws.iam_endpoint);
	free(c->aws.ca_file);
	for (size_t i = 0; c->roles && i < c->n_roles; i++) {
		free(c->roles[i].name);
		free(c->roles[i].arn);
		free(c->roles[i].principal_arn);
	}
	free(c->roles);
	free(c->default_role);
	conf_listen_clear(&c->serve.ecs);
	conf_listen_clear(&c->serve.imds);
	free(c->serve.imds_role);
	free(c->serve.allowed_uids);
	free(c->state_dir);
	free(c);
	return NULL;
}

void conf_errors_clear(struct conf_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	*errs = (struct conf_errors){ .n = 0 };
}

int conf_errors_add(struct conf_errors *errs, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	int r;

	if (!errs)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errs->dropped++;
		return -ENOMEM;
	}
	/* The same line twice (a file loaded twice into one list) says
	 * nothing new. */
	for (size_t i = 0; i < errs->n; i++)
		if (streq(errs->msgs[i], m)) {
			free(m);
			return 0;
		}
	if (errs->n >= CONF_MAX_ERRORS) {
		errs->dropped++;
		free(m);
		return 0;
	}
	errs->msgs[errs->n++] = m;
	return 0;
}

void conf_errors_print(const struct conf_errors *errs, FILE *f)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		(void)fprintf(f, "%s\n", errs->msgs[i]);
	if (errs->dropped)
		(void)fprintf(f, "(%zu more errors not shown)\n", errs->dropped);
}

const struct conf_role *conf_find_role(const struct conf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_roles; i++)
		if (c->roles[i].name && streq(c->roles[i].name, name))
			return &c->roles[i];
	return NULL;
}

bool conf_host_is_loopback(const char *host)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (!host)
		return false;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		/* Brackets hold an IPv6 address and nothing else. */
		if (n - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		return inet_pton(AF_INET6, tmp, &a6) == 1 &&
		       (IN6_IS_ADDR_LOOPBACK(&a6) ||
			(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	}
	if (strcasecmp(host, "localhost") == 0)
		return true;
	/* inet_pton takes only the dotted quad: "127.1" is not an address
	 * here, so nothing that a resolver might read differently passes. */
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

char *conf_default_path(void)
{
	const char *dir = secure_getenv("XDG_CONFIG_HOME");
	const char *fmt = "%s/adfs-credd/config.yaml";
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	char *p;

	/* XDG Base Directory: a relative value is invalid and ignored. */
	if (!dir || dir[0] != '/') {
		fmt = "%s/.config/adfs-credd/config.yaml";
		dir = secure_getenv("HOME");
		if (!dir || dir[0] != '/') {
			if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
				       &res) != 0 ||
			    !res || !res->pw_dir || res->pw_dir[0] != '/') {
				errno = ENOENT;
				return NULL;
			}
			dir = res->pw_dir;
		}
	}
	if (asprintf(&p, fmt, dir) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

int conf_load(const char *path, struct conf **ret, struct conf_errors *errs)
{
	_cleanup_(buf_clear) struct buf b = { .data = NULL };
	_cleanup_free_ char *def = NULL;
	int r;

	if (!path) {
		def = conf_default_path();
		if (!def)
			return -errno;
		path = def;
	}
	buf_init(&b, CONF_MAX_SIZE);
	r = buf_read_file(&b, path);
	if (r == -ENOBUFS) {
		r = conf_errors_add(errs,
				    "%s: the file is larger than %u bytes, too "
				    "large for a configuration",
				    path, CONF_MAX_SIZE);
		return r < 0 ? r : -EFBIG;
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errno = -r;
		if (conf_errors_add(errs, "%s: cannot read the configuration: %m",
				    path) < 0)
			return -ENOMEM;
		return r;
	}
	return conf_parse_yaml(path, b.data, b.len, ret, errs);
}

/* ---- value checks ---- */

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

/* arn:aws[-partition]:iam::<12 digits>: and returns what follows. */
static const char *arn_iam_rest(const char *s)
{
	const char *p;

	if (!s || strlen(s) > ARN_MAX || strncmp(s, "arn:aws", 7) != 0)
		return NULL;
	p = s + 7;
	p += strspn(p, LOWER "-");
	if (strncmp(p, ":iam::", 6) != 0)
		return NULL;
	p += 6;
	if (strspn(p, DIGITS) != 12 || p[12] != ':')
		return NULL;
	return p + 13;
}

const char *conf_check_role_arn(const char *s)
{
	static const char bad[] =
		"must be a role ARN like arn:aws:iam::123456789012:role/NAME";
	const char *p = arn_iam_rest(s), *name;
	size_t n;

	if (!p || strncmp(p, "role/", 5) != 0)
		return bad;
	p += 5;
	/* role/[path/]name: path segments are printable ASCII, the name is
	 * an IAM role name (IAM API Reference, Role data type). */
	name = strrchr(p, '/');
	name = name ? name + 1 : p;
	n = strlen(name);
	if (n < 1 || n > 64 || !all_in(name, n, IAM_ROLE_CHARS))
		return bad;
	if (p[0] == '/' || strstr(p, "//") || !is_printable_ascii(p))
		return bad;
	return NULL;
}

const char *conf_check_provider_arn(const char *s)
{
	static const char bad[] = "must be a SAML provider ARN like "
				  "arn:aws:iam::123456789012:saml-provider/NAME";
	const char *p = arn_iam_rest(s);
	size_t n;

	if (!p || strncmp(p, "saml-provider/", 14) != 0)
		return bad;
	p += 14;
	n = strlen(p);
	if (n < 1 || n > 128 || !all_in(p, n, SAML_PROVIDER_CHARS))
		return bad;
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
