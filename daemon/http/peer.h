/* Who is on the other end of a TCP connection: the peer socket's owner uid,
 * from the kernel (NETLINK_SOCK_DIAG, inet_diag exact lookup by the
 * connection's 4-tuple), whatever the addresses: a local user who binds
 * 192.0.2.2 on lo and connects to 127.0.0.1 is found and checked like any
 * other. A peer whose socket the kernel does not know is on another host
 * (or in another network namespace): remote. Looked up once per connection,
 * when it is accepted. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct peer_info {
	bool loopback;  /* util/addr.h: 127/8, ::1 or ::ffff:127/104 */
	bool uid_known; /* the kernel told us the peer socket's owner */
	uid_t uid;
	/* The kernel found the peer's socket: a local peer (its uid may
	 * still be unknown: one not mapped into our user namespace). */
	bool local;
	/* The lookup could not be made (an error other than "no such
	 * socket"). A peer that is neither loopback, local nor
	 * lookup_failed has no socket here: it is remote
	 * (docs/internals/security.md). */
	bool lookup_failed;
	/* The connection came to the IMDS listener (set by http/server.c):
	 * IMDS has no secret, so remote peers are refused there unless
	 * serve.imds_for_remote_peers says otherwise. */
	bool imds;
};

/* Whether p is a peer on another host: no socket of this host's is its. */
static inline bool peer_is_remote(const struct peer_info *p)
{
	return !p->loopback && !p->local && !p->lookup_failed;
}

/* The NETLINK_SOCK_DIAG socket kept between lookups (opening one per
 * connection cost two more system calls than the lookup itself). */
struct peer_diag {
	int fd; /* -1: opened at the next lookup */
	uint32_t seq;
	/* fd is the manager's (systemd's ListenNetlink= socket, created in
	 * the user manager's user namespace so that uids come back real):
	 * never closed here. */
	bool borrowed;
	/* The netlink socket was created in a user namespace other than the
	 * initial one: the kernel reports a user that is not mapped into it
	 * as overflow_uid (65534). Such an answer names no user and is taken
	 * as unknown. */
	bool userns;
	uid_t overflow_uid;
};

/* Fills ret for the connected TCP socket fd; never fails outright: what
 * cannot be learnt stays unknown. */
void peer_lookup(struct peer_diag *diag, int fd, struct peer_info *ret);
/* Makes diag use fd (owned by the caller) for its lookups. */
void peer_diag_use(struct peer_diag *diag, int fd);
/* Closes the socket unless borrowed. */
void peer_diag_clear(struct peer_diag *diag);
