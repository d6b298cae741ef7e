/* Who is on the other end of a loopback TCP connection: the peer socket's
 * owner uid, from the kernel (NETLINK_SOCK_DIAG, inet_diag exact lookup by
 * the connection's 4-tuple). Looked up once per connection. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct peer_info {
	bool loopback;  /* the peer address is 127/8 or ::1 */
	bool uid_known; /* the kernel told us the peer socket's owner */
	uid_t uid;
};

/* The NETLINK_SOCK_DIAG socket kept between lookups (opening one per
 * connection cost two more system calls than the lookup itself). */
struct peer_diag {
	int fd; /* -1: opened at the next lookup */
	uint32_t seq;
};

/* Fills ret for the connected TCP socket fd; never fails outright: what
 * cannot be learnt stays unknown. */
void peer_lookup(struct peer_diag *diag, int fd, struct peer_info *ret);
/* Closes the socket. */
void peer_diag_clear(struct peer_diag *diag);
