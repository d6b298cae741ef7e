#include "listen.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "http/guard.h"
#include "http/peer.h"
#include "util/log.h"
#include "util/socket.h"
#include "util/userns.h"

/* Socket activation (adfs-credd.socket): systemd passes the listeners by
 * name; only the expected names are taken, each checked to be a listening
 * TCP socket. Returns the fd for name, or -1. */
int listen_take(struct listen *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->activated[i].fd >= 0 && streq(l->activated[i].name, name)) {
			int fd = l->activated[i].fd;

			l->activated[i].fd = -1;
			return fd;
		}
	return -1;
}

bool listen_has(const struct listen *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->activated[i].fd >= 0 && streq(l->activated[i].name, name))
			return true;
	return false;
}

/* The fd named name, left in l->activated (closed by listen_clear), or -1. */
static int activated_peek(const struct listen *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->activated[i].fd >= 0 && streq(l->activated[i].name, name))
			return l->activated[i].fd;
	return -1;
}

/* The peer uid of an endpoint connection comes from NETLINK_SOCK_DIAG, and
 * the kernel maps it into the user namespace of the netlink socket's
 * creator. Under PrivateUsers= (the packaged unit) that is the service's
 * own namespace, where every other user is 65534; the socket systemd passes
 * as "diag" (adfs-credd-diag.socket) is created by the user manager, outside
 * it, and gives real uids. Without it, allowed_uids cannot work here: the
 * configuration is refused rather than never matching (or, with 65534,
 * letting every user in). docs/internals/security.md. */
int listen_setup_peer_diag(struct listen *l, const struct conf *conf)
{
	int diag = activated_peek(l, "diag"), userns;

	if (diag >= 0) {
		log_debug("Peer uids come from the netlink socket systemd "
			  "passed (diag)");
		l->peer_userns = false;
		return 0;
	}
	userns = userns_nested();
	if (userns < 0)
		log_debug("Cannot read /proc/self/uid_map (%s), assuming the "
			  "initial user namespace",
			  strerror(-userns));
	l->peer_userns = userns > 0;
	if (!l->peer_userns)
		return 0;
	l->peer_overflow_uid = userns_overflow_uid();
	if (conf->serve.n_allowed_uids > 0)
		return log_error_errno(
			EINVAL,
			"serve.allowed_uids cannot work here: adfs-credd runs in "
			"a user namespace of its own (PrivateUsers=), where the "
			"kernel reports every other user as uid %lu. Start it "
			"with adfs-credd-diag.socket (the packaged "
			"adfs-credd.service does), or remove serve.allowed_uids",
			(unsigned long)l->peer_overflow_uid);
	log_info("Running in a user namespace without the diag socket: other "
		 "users' requests are refused with peer_uid=-1");
	return 0;
}

int listen_take_activated(struct listen *l)
{
	char **names = NULL;
	int n, r = 0;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0)
		return log_error_errno(n, "Cannot take the sockets systemd "
					  "passed: %m");
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";

		if ((!streq(name, "ecs") && !streq(name, "imds") &&
		     !streq(name, "control") && !streq(name, "diag")) ||
		    l->n >= ELEMENTSOF(l->activated)) {
			log_warning("Ignoring socket %d named '%s' from systemd "
				    "(expected FileDescriptorName=ecs, imds, "
				    "control or diag)",
				    fd, name);
			(void)close(fd);
			continue;
		}
		/* control: adfs-credd-control.socket (ListenStream=PATH);
		 * diag: adfs-credd-diag.socket (ListenNetlink=inet-diag). */
		if (streq(name, "control") &&
		    sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_warning("Ignoring the socket named 'control' from "
				    "systemd: not a listening unix stream socket");
			(void)close(fd);
			continue;
		}
		if (streq(name, "diag") &&
		    sd_is_socket(fd, AF_NETLINK, SOCK_RAW, -1) <= 0 &&
		    sd_is_socket(fd, AF_NETLINK, SOCK_DGRAM, -1) <= 0) {
			log_warning("Ignoring the socket named 'diag' from "
				    "systemd: not a netlink socket");
			(void)close(fd);
			continue;
		}
		if ((streq(name, "ecs") || streq(name, "imds")) &&
		    sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0) {
			r = log_error_errno(EINVAL,
					    "The socket named '%s' from systemd "
					    "is not a listening TCP socket",
					    name);
			(void)close(fd);
			continue;
		}
		l->activated[l->n].fd = fd;
		(void)snprintf(l->activated[l->n].name,
			       sizeof(l->activated[0].name), "%s", name);
		l->n++;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* guard_admit(), and the audit line of a connection it refuses. */
static unsigned admit(void *ud, const struct peer_info *p, char *buf,
		      size_t size, const char **why)
{
	unsigned max = guard_admit(ud, p, buf, size, why);

	if (max == 0)
		(void)guard_audit(ud, p, p->imds ? "imds" : "ecs", NULL, 403,
				  *why);
	return max;
}

int listen_start(struct listen *l, sd_event *e, const struct conf_listen *cfg,
			  const char *name, const char *what,
			  MHD_AccessHandlerCallback handler, void *cls,
			  struct http_server **ret)
{
	int fd, r;
	bool activated;

	fd = listen_take(l, name);
	activated = fd >= 0;
	if (!activated && !cfg->enabled)
		return 0;
	if (!activated) {
		r = listen_tcp(cfg->host, cfg->port, &fd);
		if (r < 0)
			return log_error_errno(r, "Cannot listen on %s:%u for "
						  "the %s endpoint: %m",
					       cfg->host, cfg->port, what);
	} else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1,
				     cfg->enabled ? cfg->port : 0) <= 0) {
		log_warning("The socket systemd passed for %s is not on port %u "
			    "(serve.%s); serving on it anyway",
			    what, cfg->port, name);
	}
	r = http_server_new(e, fd, false, handler, cls, NULL, what, ret);
	if (r < 0) {
		(void)close(fd);
		return log_error_errno(r, "Cannot start the %s endpoint: %m",
				       what);
	}
	http_server_set_peer_diag(*ret, activated_peek(l, "diag"),
				  l->peer_userns, l->peer_overflow_uid);
	if (l->guard)
		http_server_set_admit(*ret, admit, l->guard,
				      streq(name, "imds"));
	if (streq(name, "imds") && l->guard && conf_warning(*l->guard->conf))
		log_warning("%s", conf_warning(*l->guard->conf));
	if (activated)
		log_info("Serving %s on the socket from systemd (socket "
			 "activation)",
			 what);
	else
		log_info("Serving %s on http://%s%s%s:%u/", what,
			 strchr(cfg->host, ':') ? "[" : "", cfg->host,
			 strchr(cfg->host, ':') ? "]" : "", cfg->port);
	return 0;
}

void listen_clear(struct listen *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->activated[i].fd >= 0)
			(void)close(l->activated[i].fd);
	l->n = 0;
}
