/* Socket activation and listeners: the sockets systemd passes by name
 * (adfs-credd.socket: ecs, imds; adfs-credd-control.socket: control;
 * adfs-credd-diag.socket: diag), each checked to be what its name says,
 * or sockets of our own on the configured addresses. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "http/server.h"

struct guard;

struct listen {
	struct {
		int fd;
		char name[16];
	} activated[6];         /* ecs, imds, control, diag */
	size_t n;
	bool peer_userns;        /* peer uids come from a namespaced socket */
	uid_t peer_overflow_uid; /* ... where this uid names no user */
	/* borrowed: who may connect to the endpoints (guard_admit, at
	 * accept); NULL: everyone (requests are still guarded) */
	struct guard *guard;
};

/* Takes the sockets systemd passed; ignores unknown names with a
 * warning, fails on an ecs or imds socket that is not a TCP listener. */
int listen_take_activated(struct listen *l);
/* Takes the socket named name (the caller owns it), or -1. */
int listen_take(struct listen *l, const char *name);
/* Whether one named name was passed. */
bool listen_has(const struct listen *l, const char *name);
/* Where peer uids of endpoint connections come from; refuses
 * allowed_uids where they cannot work (docs/internals/security.md). */
int listen_setup_peer_diag(struct listen *l, const struct conf *conf);
/* Serves handler on the socket systemd passed as name, else on cfg's
 * address when enabled; *ret stays NULL when neither. */
int listen_start(struct listen *l, sd_event *e, const struct conf_listen *cfg,
		 const char *name, const char *what,
		 MHD_AccessHandlerCallback handler, void *cls,
		 struct http_server **ret);
void listen_clear(struct listen *l);
