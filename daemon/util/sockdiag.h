/* Listening TCP sockets and their owners, from the kernel (NETLINK_SOCK_DIAG,
 * an inet_diag dump of sockets in state LISTEN). adfs-credctl uses it to
 * tell when another user holds a port the config serves on (a squatter
 * would hand its own keys to the owner's SDKs). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct sockdiag_listener {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network order; 4 bytes for AF_INET */
	uint16_t port;     /* host order */
	uid_t uid;         /* the socket's owner */
};

/* Every listening TCP socket (IPv4 and IPv6) on port, in a new array (the
 * caller frees it; NULL when *ret_n is 0). -errno when the kernel cannot be
 * asked (no netlink in a sandbox), -ENOMEM. */
int sockdiag_listeners(uint16_t port, struct sockdiag_listener **ret,
		       size_t *ret_n);
