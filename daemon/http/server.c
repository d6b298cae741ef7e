#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http/peer.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/timeutil.h"

/* Each connection's request (headers with the endpoint token, the control
 * socket's body with the password) lands in libmicrohttpd's per-connection
 * pool. Up to 32 KiB that pool is malloc'd and freed unwiped; above it, the
 * pool is mmap'd and unmapped at close (and zeroed between keep-alive
 * requests). The control socket (the password in a body) takes the mmap'd
 * pool. The endpoints take a small malloc'd one and wipe their token header
 * in place once answered (http_wipe_header): an mmap'd pool made every new
 * connection cost an mmap, 9 page faults and a munmap, twice the CPU time
 * of the request itself (docs/PERFORMANCE.md). */
#define HTTP_POOL_CONTROL ((size_t)(36 * 1024))
#define HTTP_POOL_ENDPOINT ((size_t)(16 * 1024))

/* TCP listeners: the server accepts connections itself (MHD runs without
 * a listen socket and gets them through MHD_add_connection), so that the
 * peer's uid is known before a connection takes one of MHD's slots:
 * slowloris from another local user (issue 15, docs/internals/security.md).
 * A connection is answered (403, or 429 for the limits) and closed at
 * accept when the admission callback says so (http/guard.c: foreign uids),
 * when its uid already holds as many connections as it may, or when the
 * peers other than the daemon's own user would take the slots kept for
 * it. A connection that has not sent a
 * request's complete headers HTTP_HEADER_DEADLINE after it was accepted (or
 * after its previous answer) is closed: MHD's timeout is an idle one,
 * which a peer trickling a byte at a time keeps resetting. Closings are
 * logged per peer uid, the first at once and the rest counted per
 * HTTP_CLOSE_LOG_WINDOW. */
#define HTTP_CONNECTION_LIMIT 512u
#define HTTP_OWNER_RESERVE 64u /* slots only the daemon's user may take */
#define HTTP_HEADER_DEADLINE (10 * USEC_PER_SEC)
#define HTTP_ACCEPT_BATCH 64
#define HTTP_ACCEPT_PAUSE (100 * USEC_PER_MSEC) /* after EMFILE and the like */
#define HTTP_CLOSE_LOG_WINDOW (10 * USEC_PER_SEC)
#define HTTP_CLOSE_LOG_PEERS 16u

struct http_conn {
	struct peer_info peer; /* what http_peer() returns */
	struct MHD_Connection *mhd; /* once adopted */
	int fd;
	int key;               /* the peer's uid, -1 when unknown (remote) */
	bool capped;           /* counts against HTTP_OWNER_RESERVE */
	bool adopted;          /* MHD took it (NOTIFY_CONNECTION_STARTED) */
	bool waiting;          /* in the deadline list */
	bool answered;         /* a request of it completed (keep-alive) */
	usec_t deadline;       /* CLOCK_MONOTONIC: complete headers by then */
	struct http_conn *prev, *next;        /* every connection */
	struct http_conn *wprev, *wnext;      /* by deadline, oldest first */
};

struct close_log {
	bool used;
	int key;
	usec_t window_start;
	unsigned unlogged; /* closed since the line, logged at window end */
};

struct http_server {
	struct MHD_Daemon *mhd;
	sd_event_source *io;
	sd_event_source *timer;
	int listen_fd;
	char *name;
	struct peer_diag diag; /* for the peer uid of TCP connections */

	/* TCP: our own accept (see above) */
	sd_event *event;
	sd_event_source *accept_io;
	sd_event_source *accept_pause;
	sd_event_source *deadline_timer;
	sd_event_source *log_timer;
	http_admit_fn admit;
	void *admit_ud;
	bool imds;
	struct http_conn *conns;
	struct http_conn *wfirst, *wlast;
	size_t n_conns, n_capped;
	MHD_RequestCompletedCallback completed;
	void *completed_cls;
	struct close_log close_log[HTTP_CLOSE_LOG_PEERS];
};

static void arm_timer(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
		(void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(s->timer, now_clock(CLOCK_MONOTONIC) +
							 (usec_t)ms *
								 USEC_PER_MSEC);
	(void)sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct http_server *s = ud;

	(void)MHD_run(s->mhd);
	arm_timer(s);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *ud)
{
	struct http_server *s = ud;

	(void)MHD_run(s->mhd);
	arm_timer(s);
	return 0;
}

void http_server_kick(struct http_server *s)
{
	(void)MHD_run(s->mhd);
	arm_timer(s);
}

static void wait_unlink(struct http_server *s, struct http_conn *c)
{
	if (!c->waiting)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		s->wfirst = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		s->wlast = c->wprev;
	c->wprev = c->wnext = NULL;
	c->waiting = false;
}

static void arm_deadline(struct http_server *s)
{
	if (!s->deadline_timer)
		return;
	if (!s->wfirst) {
		(void)sd_event_source_set_enabled(s->deadline_timer,
						  SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(s->deadline_timer, s->wfirst->deadline);
	(void)sd_event_source_set_enabled(s->deadline_timer, SD_EVENT_ONESHOT);
}

/* The headers of c's next request are due HTTP_HEADER_DEADLINE from now:
 * c goes last in the deadline list (deadlines only grow). */
static void wait_headers(struct http_server *s, struct http_conn *c)
{
	wait_unlink(s, c);
	c->deadline = now_clock(CLOCK_MONOTONIC) + HTTP_HEADER_DEADLINE;
	c->wprev = s->wlast;
	if (s->wlast)
		s->wlast->wnext = c;
	else
		s->wfirst = c;
	s->wlast = c;
	c->waiting = true;
	arm_deadline(s);
}

static void conn_free(struct http_server *s, struct http_conn *c)
{
	wait_unlink(s, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	if (c->capped)
		s->n_capped--;
	free(c);
}

static void close_log_flush(struct http_server *s, struct close_log *l)
{
	if (l->unlogged)
		log_warning("%s: closed %u more connections of peer_uid=%d "
			    "in the last %llus",
			    s->name, l->unlogged, l->key,
			    (unsigned long long)(HTTP_CLOSE_LOG_WINDOW /
						 USEC_PER_SEC));
	l->unlogged = 0;
}

static int on_close_log(sd_event_source *src, uint64_t usec, void *ud)
{
	struct http_server *s = ud;
	usec_t now = now_clock(CLOCK_MONOTONIC);
	bool pending = false;

	for (size_t i = 0; i < HTTP_CLOSE_LOG_PEERS; i++) {
		struct close_log *l = &s->close_log[i];

		if (!l->used)
			continue;
		if (now - l->window_start >= HTTP_CLOSE_LOG_WINDOW) {
			close_log_flush(s, l);
			l->used = false;
		} else {
			pending = true; /* its window's end flushes it */
		}
	}
	if (pending) {
		(void)sd_event_source_set_time_relative(src,
							HTTP_CLOSE_LOG_WINDOW);
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

/* One warning per peer uid and window; the others are counted, and the
 * count logged when the window ends. */
static void log_closed(struct http_server *s, int key, const char *why)
{
	usec_t now = now_clock(CLOCK_MONOTONIC);
	struct close_log *l = NULL, *oldest = &s->close_log[0];

	for (size_t i = 0; i < HTTP_CLOSE_LOG_PEERS; i++) {
		struct close_log *e = &s->close_log[i];

		if (e->used && e->key == key) {
			l = e;
			break;
		}
		if (!e->used || e->window_start < oldest->window_start)
			oldest = e;
	}
	if (l && now - l->window_start < HTTP_CLOSE_LOG_WINDOW) {
		l->unlogged++;
		return;
	}
	if (l) {
		close_log_flush(s, l);
	} else {
		l = oldest;
		if (l->used)
			close_log_flush(s, l);
	}
	*l = (struct close_log){ .used = true, .key = key,
				 .window_start = now };
	log_warning("%s: closed a connection of peer_uid=%d: %s (more from "
		    "it are counted for %llus)",
		    s->name, key, why,
		    (unsigned long long)(HTTP_CLOSE_LOG_WINDOW / USEC_PER_SEC));
	if (!s->log_timer) {
		if (sd_event_add_time_relative(s->event, &s->log_timer,
					       CLOCK_MONOTONIC,
					       HTTP_CLOSE_LOG_WINDOW,
					       USEC_PER_SEC, on_close_log,
					       s) >= 0)
			(void)sd_event_source_set_description(s->log_timer,
							      "close-log");
	} else if (sd_event_source_get_enabled(s->log_timer, NULL) <= 0) {
		(void)sd_event_source_set_time_relative(s->log_timer,
							HTTP_CLOSE_LOG_WINDOW);
		(void)sd_event_source_set_enabled(s->log_timer,
						  SD_EVENT_ONESHOT);
	}
}

/* Headers not complete by the deadline: shut the socket down, and MHD,
 * woken by the hangup, closes the connection. Connections whose headers
 * are in (their request is being answered) wait for the next one. */
static int on_deadline(sd_event_source *src, uint64_t usec, void *ud)
{
	struct http_server *s = ud;
	usec_t now = now_clock(CLOCK_MONOTONIC);
	struct http_conn *c;

	while ((c = s->wfirst) && c->deadline <= now) {
		const union MHD_ConnectionInfo *ci = NULL;

		wait_unlink(s, c);
		if (!c->adopted)
			continue;
		/* NULL until the headers are received (and again between
		 * keep-alive requests). */
		ci = MHD_get_connection_info(
			c->mhd, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
		if (ci)
			continue;
		(void)shutdown(c->fd, SHUT_RDWR);
		/* An idle keep-alive connection is nothing to warn about
		 * (a debug line); one that never sent a whole request is. */
		if (c->answered)
			log_debug("%s: closed an idle keep-alive connection "
				  "of peer_uid=%d",
				  s->name, c->key);
		else
			log_closed(s, c->key,
				   "no complete request headers within 10 s");
	}
	arm_deadline(s);
	http_server_kick(s);
	return 0;
}

/* TCP connections: who the peer is, looked up once per connection (at
 * accept, or here for a connection MHD accepted itself). */
static void on_notify(void *cls, struct MHD_Connection *mc,
		      void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct http_conn *c;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		if (c)
			conn_free(s, c);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	for (c = s->conns; c; c = c->next)
		if (!c->adopted && c->fd == ci->connect_fd)
			break;
	if (!c)
		return; /* not ours: no peer, every request is refused */
	c->adopted = true;
	c->mhd = mc;
	*socket_context = c;
	wait_headers(s, c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *c = ci ? ci->socket_context : NULL;

	if (c) {
		c->answered = true;
		wait_headers(s, c); /* the next request's headers */
	}
	if (s->completed)
		s->completed(s->completed_cls, mc, con_cls, toe);
}

/* How many connections of key are open. */
static size_t count_key(const struct http_server *s, int key)
{
	size_t n = 0;

	for (const struct http_conn *c = s->conns; c; c = c->next)
		n += c->key == key;
	return n;
}

/* Answers a connection refused at accept without MHD: what the peer has
 * sent so far is read and dropped (closing over unread bytes would reset
 * the connection and lose the answer), the answer is written as far as the
 * socket buffer takes it (never waiting), and the socket is closed. ECS
 * gets its JSON error, IMDS an empty body, as their refusals always do. */
static void refuse(struct http_server *s, int fd, int key, unsigned status,
		   const char *code, const char *why)
{
	char buf[1024], head[256];
	json_t *o = NULL;
	char *body = NULL;
	int n;

	for (int i = 0; i < 8 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	     i++)
		;
	if (!s->imds) {
		o = json_pack("{s:s, s:s}", "Code", code, "Message", why);
		body = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %u %s\r\nConnection: close\r\n"
		     "Cache-Control: no-store\r\n%sContent-Length: %zu\r\n\r\n",
		     status, status == 403 ? "Forbidden" : "Too Many Requests",
		     body ? "Content-Type: application/json\r\n" : "",
		     body ? strlen(body) : 0);
	if (n > 0 && (size_t)n < sizeof(head)) {
		struct iovec iov[2] = {
			{ .iov_base = head, .iov_len = (size_t)n },
			{ .iov_base = body, .iov_len = body ? strlen(body) : 0 },
		};
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

		(void)sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	free(body);
	(void)shutdown(fd, SHUT_WR);
	(void)close(fd);
	log_closed(s, key, why);
}

/* Admits or closes one accepted connection. */
static void take_connection(struct http_server *s, int fd,
			    const struct sockaddr_storage *sa, socklen_t len)
{
	struct peer_info p;
	const char *why = NULL;
	unsigned max = UINT_MAX;
	struct http_conn *c;
	char buf[160];
	int key;

	peer_lookup(&s->diag, fd, &p);
	p.imds = s->imds;
	key = p.uid_known ? (int)p.uid : -1;
	if (s->admit)
		max = s->admit(s->admit_ud, &p, buf, sizeof(buf), &why);
	if (max == 0) {
		refuse(s, fd, key, 403, "AccessDenied",
		       why ? why : "refused");
		return;
	}
	if (max != UINT_MAX && count_key(s, key) >= max) {
		refuse(s, fd, key, 429, "Throttled",
		       "too many open connections from this user");
		return;
	}
	if (s->n_conns >= HTTP_CONNECTION_LIMIT ||
	    (max != UINT_MAX &&
	     s->n_capped >= HTTP_CONNECTION_LIMIT - HTTP_OWNER_RESERVE)) {
		refuse(s, fd, key, 429, "Throttled",
		       "no free connection slot; try again later");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		(void)close(fd);
		return;
	}
	*c = (struct http_conn){ .peer = p, .fd = fd, .key = key,
				 .capped = max != UINT_MAX, .next = s->conns };
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (c->capped)
		s->n_capped++;
	/* MHD closes fd when it fails; NOTIFY_CONNECTION_STARTED adopts c
	 * (and NOTIFY_CONNECTION_CLOSED frees it) when it does not. */
	if (MHD_add_connection(s->mhd, fd, (const struct sockaddr *)sa, len) !=
		    MHD_YES &&
	    !c->adopted)
		conn_free(s, c);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents,
		     void *ud)
{
	struct http_server *s = ud;

	for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa = { 0 };
		socklen_t len = sizeof(sa);
		int cfd = accept4(s->listen_fd, (struct sockaddr *)&sa, &len,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The socket stays readable: pause, or the
				 * loop spins on it. */
				log_warning("%s: cannot accept: %s; pausing "
					    "for %llu ms",
					    s->name, strerror(errno),
					    (unsigned long long)(HTTP_ACCEPT_PAUSE /
								 USEC_PER_MSEC));
				(void)sd_event_source_set_enabled(
					s->accept_io, SD_EVENT_OFF);
				(void)sd_event_source_set_time_relative(
					s->accept_pause, HTTP_ACCEPT_PAUSE);
				(void)sd_event_source_set_enabled(
					s->accept_pause, SD_EVENT_ONESHOT);
			} else if (errno != EAGAIN && errno != EINTR &&
				   errno != ECONNABORTED) {
				log_debug("%s: accept: %s", s->name,
					  strerror(errno));
			}
			break;
		}
		take_connection(s, cfd, &sa, len);
	}
	http_server_kick(s);
	return 0;
}

static int on_accept_pause(sd_event_source *src, uint64_t usec, void *ud)
{
	struct http_server *s = ud;

	(void)sd_event_source_set_enabled(s->accept_io, SD_EVENT_ON);
	return 0;
}

void http_server_set_admit(struct http_server *s, http_admit_fn admit,
			   void *ud, bool imds)
{
	s->admit = admit;
	s->admit_ud = ud;
	s->imds = imds;
}

void http_server_set_peer_diag(struct http_server *s, int diag_fd,
			       bool userns, uid_t overflow_uid)
{
	peer_diag_use(&s->diag, diag_fd);
	s->diag.userns = userns;
	s->diag.overflow_uid = overflow_uid;
}

const struct peer_info *http_peer(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct http_conn *conn = ci ? ci->socket_context : NULL;

	return conn ? &conn->peer : NULL;
}

static bool is_tcp(int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

static int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("%s: libmicrohttpd: %s", (const char *)cls, msg);
}

int http_server_new(sd_event *event, int listen_fd, bool suspend,
		    MHD_AccessHandlerCallback handler, void *cls,
		    MHD_RequestCompletedCallback completed, const char *name,
		    struct http_server **ret)
{
	const union MHD_DaemonInfo *info;
	struct http_server *s;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	bool tcp = is_tcp(listen_fd);
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->diag.fd = -1;
	s->event = event;
	s->completed = completed;
	s->completed_cls = cls;
	s->name = strdup(name);
	if (!s->name) {
		http_server_free(s);
		return -ENOMEM;
	}
	if (suspend)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	/* TCP: we accept (on_accept) and hand connections to MHD. */
	if (tcp)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, cls,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s->name,
		/* no listen socket for TCP: the timeout, given twice */
		tcp ? MHD_OPTION_CONNECTION_TIMEOUT : MHD_OPTION_LISTEN_SOCKET,
		tcp ? (int)30 : listen_fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTION_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		suspend ? HTTP_POOL_CONTROL : HTTP_POOL_ENDPOINT,
		MHD_OPTION_NOTIFY_COMPLETED, tcp ? on_completed : completed,
		tcp ? (void *)s : cls,
		MHD_OPTION_NOTIFY_CONNECTION, tcp ? on_notify : NULL, s,
		MHD_OPTION_END);
	if (!s->mhd) {
		s->listen_fd = -1; /* the caller still owns it */
		http_server_free(s);
		return -EIO;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		http_server_free(s);
		return -EIO;
	}
	r = sd_event_add_io(event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
	/* Accuracy 1 us, not sd-event's default 250 ms: MHD_get_timeout()
	 * says 0 while a connection has unread data (one read per MHD_run),
	 * and a coalesced timer made a 100 KB request take 16 s. */
	if (r >= 0)
		r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC,
				      USEC_INFINITY, 1, on_timer, s);
	if (r >= 0 && tcp) {
		r = fd_nonblock(listen_fd);
		if (r >= 0)
			r = sd_event_add_io(event, &s->accept_io, listen_fd,
					    EPOLLIN, on_accept, s);
		if (r >= 0)
			r = sd_event_add_time(event, &s->accept_pause,
					      CLOCK_MONOTONIC, USEC_INFINITY,
					      USEC_PER_MSEC, on_accept_pause,
					      s);
		if (r >= 0)
			r = sd_event_add_time(event, &s->deadline_timer,
					      CLOCK_MONOTONIC, USEC_INFINITY,
					      USEC_PER_MSEC * 100, on_deadline,
					      s);
		if (r >= 0) {
			(void)sd_event_source_set_description(s->accept_io,
							      name);
			(void)sd_event_source_set_description(
				s->deadline_timer, "header-deadline");
		}
	}
	if (r < 0) {
		http_server_free(s);
		return r;
	}
	(void)sd_event_source_set_description(s->io, name);
	(void)sd_event_source_set_description(s->timer, name);
	arm_timer(s);
	*ret = s;
	return 0;
}

struct http_server *http_server_free(struct http_server *s)
{
	if (!s)
		return NULL;
	(void)sd_event_source_disable_unref(s->accept_io);
	(void)sd_event_source_disable_unref(s->accept_pause);
	(void)sd_event_source_disable_unref(s->io);
	(void)sd_event_source_disable_unref(s->timer);
	if (s->mhd)
		MHD_stop_daemon(s->mhd); /* NOTIFY_CLOSED frees every conn */
	while (s->conns) /* never adopted (cannot happen: belt and braces) */
		conn_free(s, s->conns);
	(void)sd_event_source_disable_unref(s->deadline_timer);
	for (size_t i = 0; i < HTTP_CLOSE_LOG_PEERS; i++)
		if (s->close_log[i].used)
			close_log_flush(s, &s->close_log[i]);
	(void)sd_event_source_disable_unref(s->log_timer);
	peer_diag_clear(&s->diag);
	if (s->listen_fd >= 0)
		(void)close(s->listen_fd);
	free(s->name);
	free(s);
	return NULL;
}

enum MHD_Result http_queue_json(struct MHD_Connection *c, unsigned status,
				 struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type", "application/json");
	(void)MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status,
				const char *json)
{
	return http_queue_json(
		c, status,
		MHD_create_response_from_buffer(strlen(json),
						(void *)(uintptr_t)json,
						MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result wipe_value(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	/* The value points into the connection's pool, which MHD parsed in
	 * place: the bytes are ours to clear once the request is answered. */
	if (value && strcasecmp(key, cls) == 0)
		explicit_bzero((char *)(uintptr_t)value, strlen(value));
	return MHD_YES;
}

void http_wipe_header(struct MHD_Connection *c, const char *name)
{
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, wipe_value,
					(void *)(uintptr_t)name);
}

enum MHD_Result http_answer_and_wipe(MHD_AccessHandlerCallback h,
				     const char *token_header, void *cls,
				     struct MHD_Connection *c, const char *url,
				     const char *method, const char *version,
				     const char *upload_data,
				     size_t *upload_data_size, void **con_cls)
{
	bool last = *con_cls && *upload_data_size == 0;
	enum MHD_Result ret = h(cls, c, url, method, version, upload_data,
				upload_data_size, con_cls);

	if (last)
		http_wipe_header(c, token_header);
	return ret;
}

static void wipe_free(void *p)
{
	erase_and_free(p);
}

enum MHD_Result http_reply_json_secret(struct MHD_Connection *c,
				       unsigned status, char *json_take)
{
	struct MHD_Response *resp;

	if (!json_take)
		return MHD_NO;
	resp = MHD_create_response_from_buffer_with_free_callback_cls(
		strlen(json_take), json_take, wipe_free, json_take);
	if (!resp)
		erase_and_free(json_take);
	return http_queue_json(c, status, resp);
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status,
				 const char *code, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "Code", code, "Message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	enum MHD_Result ret;

	json_decref(o);
	if (!s)
		return MHD_NO;
	ret = http_reply_json(c, status, s);
	free(s);
	return ret;
}
