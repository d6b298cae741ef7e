/* Who is on the other end of a loopback TCP connection: the peer socket's
 * owner uid, from the kernel (NETLINK_SOCK_DIAG, inet_diag exact lookup by
 * the connection's 4-tuple). Looked up once per connection. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct peer_info {
	bool loopback;  /* the peer address is 127/8 or ::1 */
	bool uid_known; /* the kernel told us the peer socket's owner */
	uid_t uid;
};

/* Fills ret for the connected TCP socket fd; never fails outright: what
 * cannot be learnt stays unknown. */
void peer_lookup(int fd, struct peer_info *ret);
