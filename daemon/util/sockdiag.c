/* Listening sockets from sock_diag (see sockdiag.h). */
#include "util/sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/macro.h"

#define SOCKDIAG_MAX 4096u /* listeners kept: far more than a host has */

struct list {
	struct sockdiag_listener *v;
	size_t n;
};

static int add(struct list *l, const struct inet_diag_msg *d, uint16_t port)
{
	struct sockdiag_listener *v;

	if (ntohs(d->id.idiag_sport) != port)
		return 0;
	if (l->n >= SOCKDIAG_MAX)
		return -E2BIG;
	v = reallocarray(l->v, l->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n] = (struct sockdiag_listener){
		.family = d->idiag_family,
		.port = port,
		.uid = d->idiag_uid,
	};
	memcpy(v[l->n].addr, d->id.idiag_src,
	       d->idiag_family == AF_INET ? 4 : 16);
	l->n++;
	return 0;
}

/* One dump of family's listening TCP sockets; keeps those on port. */
static int dump(int fd, uint8_t family, uint16_t port, uint32_t seq,
		struct list *l)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = seq,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1u << TCP_LISTEN,
		},
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	/* Kernel dumps come in pages; 32 KB holds several. */
	_cleanup_free_ char *buf = malloc(32768);
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl,
		   sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, 32768, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPROTO;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		     NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len <
				    NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			r = add(l, NLMSG_DATA(h), port);
			if (r < 0)
				return r;
		}
	}
}

int sockdiag_listeners(uint16_t port, struct sockdiag_listener **ret,
		       size_t *ret_n)
{
	_cleanup_close_ int fd = -1;
	struct list l = { 0 };
	int r;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	r = dump(fd, AF_INET, port, 1, &l);
	if (r >= 0) {
		/* A kernel without IPv6 has no IPv6 listeners either. */
		int r6 = dump(fd, AF_INET6, port, 2, &l);

		if (r6 == -ENOMEM || r6 == -E2BIG)
			r = r6;
	}
	if (r < 0) {
		free(l.v);
		return r;
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
