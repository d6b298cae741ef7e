/* Listening sockets: loopback TCP for the endpoints, AF_UNIX for control. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Binds and listens on host:port (numeric address or a name from
 * /etc/hosts such as localhost). Non-blocking, close-on-exec. */
int listen_tcp(const char *host, uint16_t port, int *ret_fd);
/* Binds a 0600 unix socket at path, replacing a stale one. */
int listen_unix(const char *path, int *ret_fd);
/* The uid of a unix socket peer (SO_PEERCRED). */
int peer_uid_unix(int fd, uid_t *ret);
