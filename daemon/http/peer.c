#include "http/peer.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/macro.h"

/* Asks the kernel for the socket whose source is the peer's address and
 * whose destination is ours: that is the client's socket, and its uid is
 * the client process's owner. The kernel answers within sendto(), so the
 * reply is already queued; one that does not carry our sequence number is
 * a leftover and is skipped. */
static int diag_uid(int nl_fd, uint32_t seq,
		    const struct sockaddr_storage *local,
		    const struct sockaddr_storage *remote, uid_t *ret)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = seq,
		},
		.req = {
			.sdiag_family = (uint8_t)local->ss_family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ~0u,
			.id.idiag_cookie = { INET_DIAG_NOCOOKIE,
					     INET_DIAG_NOCOOKIE },
		},
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	char buf[8192];
	ssize_t n;

	if (local->ss_family == AF_INET) {
		const struct sockaddr_in *l = (const struct sockaddr_in *)local;
		const struct sockaddr_in *r = (const struct sockaddr_in *)remote;

		msg.req.id.idiag_sport = r->sin_port;
		msg.req.id.idiag_dport = l->sin_port;
		memcpy(msg.req.id.idiag_src, &r->sin_addr, 4);
		memcpy(msg.req.id.idiag_dst, &l->sin_addr, 4);
	} else if (local->ss_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)local;
		const struct sockaddr_in6 *r = (const struct sockaddr_in6 *)remote;

		msg.req.id.idiag_sport = r->sin6_port;
		msg.req.id.idiag_dport = l->sin6_port;
		memcpy(msg.req.id.idiag_src, &r->sin6_addr, 16);
		memcpy(msg.req.id.idiag_dst, &l->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}

	if (sendto(nl_fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl,
		   sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		n = recv(nl_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		     NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -ENOENT;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >=
				    NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *d = NLMSG_DATA(h);

				*ret = d->idiag_uid;
				return 0;
			}
			return -ENOENT;
		}
	}
}

void peer_lookup(struct peer_diag *diag, int fd, struct peer_info *ret)
{
	struct sockaddr_storage local = { 0 }, remote = { 0 };
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	int r;

	*ret = (struct peer_info){ .lookup_failed = true };
	if (getpeername(fd, (struct sockaddr *)&remote, &rl) < 0)
		return;
	ret->loopback = addr_sockaddr_is_loopback(&remote);
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		return;
	if (diag->fd < 0 && !diag->borrowed) {
		diag->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
				  NETLINK_SOCK_DIAG);
		if (diag->fd < 0)
			return;
	}
	if (diag->fd < 0)
		return;
	/* Any address: the lookup is by the exact 4-tuple, and the kernel
	 * finds the peer's socket whenever it is one of this host's (this
	 * network namespace's), loopback or not. */
	r = diag_uid(diag->fd, ++diag->seq, &local, &remote, &ret->uid);
	if (r == 0) {
		ret->uid_known = !diag->userns ||
				 ret->uid != diag->overflow_uid;
		ret->local = true;
		ret->lookup_failed = false;
		return;
	}
	/* No such socket here: a remote peer. Never for loopback, whose
	 * peer socket is always here; there it stays a failed lookup. */
	ret->lookup_failed = r != -ENOENT || ret->loopback;
	if (r != -ENOENT && !diag->borrowed)
		diag->fd = safe_close(diag->fd); /* a fresh one next time */
}

void peer_diag_use(struct peer_diag *diag, int fd)
{
	peer_diag_clear(diag);
	diag->fd = fd;
	diag->borrowed = fd >= 0;
}

void peer_diag_clear(struct peer_diag *diag)
{
	if (diag->borrowed)
		diag->fd = -1;
	else
		diag->fd = safe_close(diag->fd);
	diag->borrowed = false;
}
