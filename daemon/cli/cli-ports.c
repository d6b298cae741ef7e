/* adfs-credctl: who holds the ports the config serves on. When the daemon
 * does not hold serve.ecs (not running, or started after someone else
 * bound it), another user can listen there and hand their own keys to
 * our SDKs. The kernel tells each listener's owner (util/sockdiag). */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/sockdiag.h"

struct cli_listen cli_listens[2];

void cli_listen_set(struct cli_listen *to, const char *key,
		    const struct conf_listen *l)
{
	if (!l->enabled || !l->host)
		return;
	to->host = strdup(l->host);
	if (to->host) {
		to->key = key;
		to->port = l->port;
	}
}

static bool is_wildcard(const struct sockdiag_listener *s)
{
	static const uint8_t zero[16];

	return memcmp(s->addr, zero, s->family == AF_INET ? 4 : 16) == 0;
}

bool cli_port_covers(const struct sockdiag_listener *s, const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	bool hit = false;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return is_wildcard(s);
	for (struct addrinfo *a = res; a && !hit; a = a->ai_next) {
		if (a->ai_family != s->family)
			continue;
		if (is_wildcard(s))
			hit = true;
		else if (a->ai_family == AF_INET)
			hit = memcmp(&((struct sockaddr_in *)a->ai_addr)->sin_addr,
				     s->addr, 4) == 0;
		else if (a->ai_family == AF_INET6)
			hit = memcmp(&((struct sockaddr_in6 *)a->ai_addr)
					      ->sin6_addr,
				     s->addr, 16) == 0;
	}
	freeaddrinfo(res);
	return hit;
}

int cli_check_ports(void)
{
	uid_t me = geteuid();
	int found = 0;

	for (size_t i = 0; i < ELEMENTSOF(cli_listens); i++) {
		const struct cli_listen *l = &cli_listens[i];
		_cleanup_free_ struct sockdiag_listener *v = NULL;
		size_t n = 0;

		if (!l->key)
			continue;
		if (sockdiag_listeners(l->port, &v, &n) < 0)
			continue; /* no netlink here: nothing to tell */
		for (size_t k = 0; k < n; k++) {
			struct passwd pwbuf, *pw = NULL;
			char a[INET6_ADDRSTRLEN] = "?", names[1024];

			if (v[k].uid == me || !cli_port_covers(&v[k], l->host))
				continue;
			if (getpwuid_r(v[k].uid, &pwbuf, names, sizeof(names),
				       &pw) != 0)
				pw = NULL;
			(void)inet_ntop(v[k].family, v[k].addr, a, sizeof(a));
			(void)fprintf(stderr,
				"adfs-credctl: warning: %s:%u (%s) is held by "
				"uid %lu%s%s%s, not by you: an SDK sent there "
				"gets that user's credentials, not yours. Stop "
				"that program; the socket units "
				"(adfs-credd.socket) hold the port from login "
				"on (see adfs-credd(8))\n",
				a, (unsigned)l->port, l->key,
				(unsigned long)v[k].uid, pw ? " (" : "",
				pw ? pw->pw_name : "", pw ? ")" : "");
			found++;
		}
	}
	return found;
}
