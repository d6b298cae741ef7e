#include "http/server.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

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

struct http_server {
	struct MHD_Daemon *mhd;
	sd_event_source *io;
	sd_event_source *timer;
	int listen_fd;
	char *name;
	struct peer_diag diag; /* for the peer uid of TCP connections */
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

/* TCP connections: who the peer is, looked up once per connection. */
static void on_notify(void *cls, struct MHD_Connection *c,
		      void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct peer_info *p;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	p = calloc(1, sizeof(*p));
	if (!ci || !p) {
		free(p);
		return;
	}
	peer_lookup(&s->diag, ci->connect_fd, p);
	*socket_context = p;
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

	return ci ? ci->socket_context : NULL;
}

static bool is_tcp(int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
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
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->diag.fd = -1;
	s->name = strdup(name);
	if (!s->name) {
		http_server_free(s);
		return -ENOMEM;
	}
	if (suspend)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, cls,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s->name,
		MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)0,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		suspend ? HTTP_POOL_CONTROL : HTTP_POOL_ENDPOINT,
		MHD_OPTION_NOTIFY_COMPLETED, completed, cls,
		MHD_OPTION_NOTIFY_CONNECTION,
		is_tcp(listen_fd) ? on_notify : NULL, s,
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
	(void)sd_event_source_disable_unref(s->io);
	(void)sd_event_source_disable_unref(s->timer);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
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
