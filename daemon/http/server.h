/* libmicrohttpd in external epoll mode, driven by the one sd_event loop:
 * MHD's epoll fd is an io source, MHD_get_timeout() drives a timer. One
 * instance per listening socket. On TCP the server accepts itself: the
 * peer's uid is looked up first, and foreign uids, peers over their
 * connection cap and requests whose headers are late never hold one of
 * MHD's slots (server.c). */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

#define HTTP_MAX_HEADERS (8u * 1024u) /* request header bytes */

struct http_server;

/* Takes listen_fd (closed on free). suspend: allow suspend/resume (the
 * control socket waits on ADFS and STS). */
int http_server_new(sd_event *event, int listen_fd, bool suspend,
		    MHD_AccessHandlerCallback handler, void *cls,
		    MHD_RequestCompletedCallback completed, const char *name,
		    struct http_server **ret);
struct http_server *http_server_free(struct http_server *s);
DEFINE_FREEP(struct http_server, http_server_free)
struct peer_info;
/* The peer of a TCP connection (uid from the kernel), NULL for unix
 * sockets or when it could not be looked up. */
const struct peer_info *http_peer(struct MHD_Connection *c);
/* Peer uid lookups of s go through diag_fd (a NETLINK_SOCK_DIAG socket the
 * caller owns and outlives s with), or through a socket of s's own when
 * diag_fd is -1. userns: the socket that will be used was created in a user
 * namespace, so overflow_uid names no user (see struct peer_diag). */
void http_server_set_peer_diag(struct http_server *s, int diag_fd,
			       bool userns, uid_t overflow_uid);
/* Asked at accept, before a TCP connection takes a slot: how many
 * connections p's uid may hold (UINT_MAX: no limit but the server's), or 0
 * to refuse it at once: *ret_why (a literal or buf, size bytes) says why.
 * A refused connection gets a 403 (ECS: {"Code":"AccessDenied","Message":
 * why}; IMDS: no body) as far as the socket takes it, and is closed: it
 * never holds a slot. guard_admit(). */
typedef unsigned (*http_admit_fn)(void *ud, const struct peer_info *p,
				  char *buf, size_t size,
				  const char **ret_why);
/* Sets s's admission (NULL: every peer is admitted) and whether s serves
 * IMDS (copied into each connection's peer_info). */
void http_server_set_admit(struct http_server *s, http_admit_fn admit,
			   void *ud, bool imds);
/* Re-arms the timer after work done outside MHD_run (e.g. a resume). */
void http_server_kick(struct http_server *s);
/* Clears the values of the request's headers called name (any case) in
 * MHD's pool: call once the request is answered, so no copy of a token
 * outlives it in freed memory. */
void http_wipe_header(struct MHD_Connection *c, const char *name);
/* Runs the access handler h, then, on the call that answers (the whole
 * request is in), clears the request's header called token_header. */
enum MHD_Result http_answer_and_wipe(MHD_AccessHandlerCallback h,
				     const char *token_header, void *cls,
				     struct MHD_Connection *c, const char *url,
				     const char *method, const char *version,
				     const char *upload_data,
				     size_t *upload_data_size, void **con_cls);

/* Adds Content-Type: application/json and Cache-Control: no-store to
 * resp (consumed; NULL gives MHD_NO) and queues it. */
enum MHD_Result http_queue_json(struct MHD_Connection *c, unsigned status,
				 struct MHD_Response *resp);
/* Queues a JSON response (copied) with the headers above. */
enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status,
				const char *json);
/* Queues json_take (a heap string holding secrets; wiped and freed once
 * sent) with the same headers as http_reply_json. */
enum MHD_Result http_reply_json_secret(struct MHD_Connection *c,
				       unsigned status, char *json_take);
/* Queues an INTERFACE.md error body {"Code":...,"Message":...}. */
enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status,
				 const char *code, const char *message);
