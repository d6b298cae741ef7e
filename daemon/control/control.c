#include "control/control.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "http/route.h"
#include "http/server.h"
#include "manager.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/socket.h"
#include "util/timeutil.h"

struct control {
	struct manager *m;
	sd_event *event;
	uid_t uid;          /* the only peer served */
	struct http_server *server;
	char *path;
	bool from_systemd; /* path belongs to adfs-credd-control.socket */
	unsigned in_handler; /* inside MHD's call of handle() */
};

/* Per-request state, kept in MHD's con_cls. */
struct req {
	struct control *ctl;
	struct MHD_Connection *conn;
	struct secret *body;
	bool waiting;       /* suspended on a refresh cycle */
	bool cancels;       /* a login's: its client going away cancels */
	sd_event_source *hup; /* ... watched while it waits */
	unsigned status;    /* reply ready when non-zero */
	char *reply;        /* JSON; may hold secrets: wiped */
};

static void hup_stop(struct req *q)
{
	q->hup = sd_event_source_disable_unref(q->hup);
}

static void req_free(struct req *q)
{
	if (!q)
		return;
	hup_stop(q);
	if (q->waiting)
		manager_forget_waiter(q->ctl->m, q);
	secret_free(q->body);
	erase_and_free(q->reply);
	free(q);
}

static char *json_take_dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* {"error": msg, "code": code}: the CLI's exit status comes from code
 * (NoSuchRole, NotSignedIn, RoleNotValid; adfs-credctl(1)). */
static enum MHD_Result reply_error_code(struct MHD_Connection *c,
					unsigned status, const char *code,
					const char *msg)
{
	char *s = json_take_dump(json_pack("{s:s, s:s?}", "error", msg,
					   "code", code));

	if (!s)
		return MHD_NO;
	return http_reply_json_secret(c, status, s);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
				   const char *msg)
{
	return reply_error_code(c, status, NULL, msg);
}

static json_t *json_time(usec_t t)
{
	char b[ISO8601_MAX];

	return t ? json_string(format_iso8601(b, t)) : json_null();
}

/* A time that may be unbounded (USEC_INFINITY) or none (0): null. */
static json_t *json_until(usec_t t)
{
	return t == USEC_INFINITY ? json_null() : json_time(t);
}

/* The sign-in or refresh running, for a waiting adfs-credctl: null, or
 * {"phase": "sign_in"|"mfa"|"roles", "done": N, "total": M}. */
static json_t *progress_json(const struct manager_status *st)
{
	const struct cycle_progress *p = &st->progress;

	if (p->phase == CYCLE_PHASE_IDLE)
		return json_null();
	return json_pack("{s:s, s:I, s:I}", "phase",
			 st->signin == SIGNIN_MFA_PENDING || st->mfa_push_left
				 ? "mfa"
				 : cycle_phase_to_string(p->phase),
			 "done", (json_int_t)p->done, "total",
			 (json_int_t)p->total);
}

static json_t *status_json(struct manager *m)
{
	struct manager_status st;
	json_t *roles, *o;

	if (manager_status(m, &st) < 0)
		return NULL;
	roles = json_array();
	for (size_t i = 0; i < st.n_roles; i++) {
		const struct manager_role_status *r = &st.roles[i];

		(void)json_array_append_new(
			roles,
			json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:s, s:o, s:o, "
				  "s:o}",
				  "name", r->name, "arn", r->arn, "state",
				  role_state_to_string(r->state), "expires",
				  json_time(r->expires), "duration",
				  (json_int_t)r->duration, "max_session_duration",
				  (json_int_t)r->max_duration, "max_source",
				  max_source_to_string(r->max_source),
				  "next_refresh", json_time(r->next_refresh),
				  "served_until", json_until(r->served_until),
				  "last_error",
				  r->last_error ? json_string(r->last_error)
						: json_null()));
	}
	o = json_pack("{s:b, s:s, s:o, s:o, s:o, s:o}", "signed_in",
		      st.signin == SIGNIN_SIGNED_IN, "state",
		      signin_state_to_string(st.signin), "user",
		      st.user ? json_string(st.user) : json_null(),
		      "sso_expires", json_time(st.sso_expires), "error",
		      st.error ? json_string(st.error) : json_null(), "roles",
		      roles);
	(void)json_object_set_new(o, "password_held",
				  json_boolean(st.password_held));
	/* The horizon: renewable_until null with renewable_by "password"
	 * is unbounded; with "none", nothing renews without a person. */
	if (o &&
	    (json_object_set_new(o, "renewable_until",
				 json_until(st.horizon.until)) < 0 ||
	     json_object_set_new(
		     o, "renewable_by",
		     json_string(horizon_by_to_string(st.horizon.by))) < 0 ||
	     json_object_set_new(o, "renewable_source",
				 json_string(horizon_source_to_string(
					 st.horizon.source))) < 0 ||
	     json_object_set_new(o, "kerberos_renew_till",
				 json_time(st.ticket_renew_till)) < 0 ||
	     json_object_set_new(o, "now", json_time(st.now)) < 0 ||
	     json_object_set_new(o, "progress", progress_json(&st)) < 0)) {
		json_decref(o);
		o = NULL;
	}
	manager_status_clear(&st);
	return o;
}

/* The reply to a login, mfa or refresh: the status and how it went. */
static char *cycle_reply(struct manager *m, int r, const char *message,
			 unsigned *ret_status)
{
	json_t *o;

	if (r == MANAGER_MFA_NEEDED) {
		struct manager_status st;
		json_int_t left;
		bool push;

		if (manager_status(m, &st) < 0)
			return NULL;
		push = st.mfa_push;
		/* Rounded up: the CLI's countdown ends no earlier than the
		 * daemon's wait. */
		left = (json_int_t)((st.mfa_push_left + USEC_PER_SEC - 1) /
				    USEC_PER_SEC);
		manager_status_clear(&st);
		/* The login's answer is a question: adfs-credctl asks the
		 * user and comes back with POST /v1/mfa. A push says how
		 * many seconds the daemon waits for its approval. */
		*ret_status = MHD_HTTP_OK;
		return json_take_dump(json_pack(
			"{s:{s:s, s:o, s:o}}", "mfa", "kind",
			push ? "push" : "otp", "hint",
			message ? json_string(message) : json_null(),
			"expires_in",
			push && left ? json_integer(left) : json_null()));
	}
	*ret_status = r == 0 ? MHD_HTTP_OK
		      : r == -EACCES || r == -EBADE ? MHD_HTTP_FORBIDDEN
						    : MHD_HTTP_BAD_GATEWAY;
	o = status_json(m);
	if (o && json_object_set_new(o, "message", json_string(message)) == 0 &&
	    json_object_set_new(o, "ok", json_boolean(r == 0)) == 0)
		return json_take_dump(o);
	json_decref(o);
	return NULL;
}

static void on_cycle_done(struct manager *m, int r, const char *message,
			  void *userdata)
{
	struct req *q = userdata;

	q->waiting = false;
	hup_stop(q); /* MHD closes the socket from here on */
	q->reply = cycle_reply(m, r, message, &q->status);
	if (!q->status)
		q->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	MHD_resume_connection(q->conn);
	/* Not from inside a request (a cancel, --force or logout ends the
	 * cycle there): MHD_run would call handle() again for the request
	 * being handled, which then ran twice. The resume wakes MHD's epoll
	 * (its ITC) anyway; the kick only saves a loop iteration. */
	if (!q->ctl->in_handler)
		http_server_kick(q->ctl->server);
}

/* The client of a waiting login went away (adfs-credctl killed, or its
 * Ctrl-C before POST /v1/login/cancel comes): libmicrohttpd does not
 * watch a suspended connection, this does. Nobody will answer the push
 * or read the result: the sign-in is cancelled as on request. q may be
 * gone once manager_cancel() returns (its reply closes it). */
static int on_hup(sd_event_source *s, int fd, uint32_t revents,
		  void *userdata)
{
	struct req *q = userdata;

	hup_stop(q);
	log_info("adfs-credctl went away while waiting on the sign-in");
	(void)manager_cancel(q->ctl->m);
	return 0;
}

static void watch_hup(struct req *q)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	/* Without it, only POST /v1/login/cancel or --force end it. */
	if (ci && sd_event_add_io(q->ctl->event, &q->hup, ci->connect_fd,
				  EPOLLRDHUP, on_hup, q) >= 0)
		(void)sd_event_source_set_description(q->hup, "control-hup");
}

static enum MHD_Result start_wait(struct req *q, int r, const char *what)
{
	char msg[256];

	if (r == -EBUSY) {
		return reply_error(q->conn, MHD_HTTP_CONFLICT,
				   "a sign-in or refresh is already running; "
				   "try again in a moment, or replace it with "
				   "'adfs-credctl login --force'");
	}
	if (r == -ENOKEY)
		return reply_error(q->conn, MHD_HTTP_BAD_REQUEST,
				   "a password is needed: use 'adfs-credctl "
				   "login' (it prompts) or --password-stdin");
	if (r == -ENOENT)
		return reply_error_code(q->conn, MHD_HTTP_NOT_FOUND, "NoSuchRole",
					"no such role; see 'adfs-credctl "
					"status'");
	if (r == -EACCES)
		return reply_error(q->conn, MHD_HTTP_FORBIDDEN,
				   "ADFS rejected the last password; run "
				   "'adfs-credctl login' first");
	if (r < 0) {
		(void)snprintf(msg, sizeof(msg), "%s failed: %s", what,
			       strerror(-r));
		return reply_error(q->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	q->waiting = true;
	MHD_suspend_connection(q->conn);
	if (q->cancels)
		watch_hup(q);
	return MHD_YES;
}

static enum MHD_Result do_env(struct req *q, const char *role)
{
	_cleanup_free_ char *url = NULL, *tf = NULL;
	char scoped[RANDOM_TOKEN_LEN + 1] = "";
	const struct secret *token;
	const char *held;
	char *s;
	int r;

	r = manager_env(q->ctl->m, role, &held, &url, &token, &tf);
	if (r == -ENXIO)
		return reply_error(q->conn, MHD_HTTP_CONFLICT,
				   "the ECS endpoint is off (serve.ecs)");
	if (r == -ENOENT)
		return reply_error_code(q->conn, MHD_HTTP_NOT_FOUND, "NoSuchRole",
					"no such role; see 'adfs-credctl "
					"status'");
	if (r < 0)
		return MHD_NO;
	/* The token that opens the role only (env ROLE --scoped). */
	if (held && http_scoped_token(token, held, scoped) < 0)
		return MHD_NO;
	s = json_take_dump(json_pack("{s:s, s:o, s:s, s:s, s:s?}", "url", url,
				     "role",
				     held ? json_string(held) : json_null(),
				     "token", token->data, "token_file", tf,
				     "scoped_token", held ? scoped : NULL));
	explicit_bzero(scoped, sizeof(scoped));
	if (!s)
		return MHD_NO;
	return http_reply_json_secret(q->conn, MHD_HTTP_OK, s);
}

static enum MHD_Result do_credentials(struct req *q, const char *role)
{
	_cleanup_(creds_unrefp) struct creds *c = NULL;
	char exp[ISO8601_MAX];
	bool signed_in;
	char *s;
	int r;

	r = manager_credentials(q->ctl->m, role, &c, &signed_in);
	if (r == -ENOENT)
		return reply_error_code(q->conn, MHD_HTTP_NOT_FOUND, "NoSuchRole",
					"no such role; see 'adfs-credctl "
					"status'");
	if (r < 0)
		return reply_error_code(
			q->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			signed_in ? "RoleNotValid" : "NotSignedIn",
			signed_in ? "no valid credentials for this role; see "
				    "'adfs-credctl status'"
				  : "not signed in: run 'adfs-credctl login'");
	s = json_take_dump(json_pack(
		"{s:i, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId",
		c->access_key_id, "SecretAccessKey", c->secret_access_key->data,
		"SessionToken", c->session_token->data, "Expiration",
		format_iso8601(exp, c->expiration)));
	if (!s)
		return MHD_NO;
	return http_reply_json_secret(q->conn, MHD_HTTP_OK, s);
}

static enum MHD_Result do_roles(struct req *q)
{
	const struct saml_info *info = manager_offered(q->ctl->m);
	json_t *a = json_array();

	for (size_t i = 0; info && i < info->n_roles; i++) {
		const struct saml_role *sr = &info->roles[i];
		const char *held = manager_held_as(q->ctl->m, sr->role_arn);

		(void)json_array_append_new(
			a, json_pack("{s:s, s:s, s:o}", "role_arn", sr->role_arn,
				     "principal_arn", sr->principal_arn,
				     "held_as",
				     held ? json_string(held) : json_null()));
	}
	return http_reply_json_secret(
		q->conn, MHD_HTTP_OK,
		json_take_dump(json_pack("{s:o}", "roles", a)));
}

/* GET /v1/check?role=R&for=SECONDS: will the role be served that long
 * without a person? Worked out on the daemon's clock. */
static enum MHD_Result do_check(struct req *q, const char *role)
{
	const char *v = MHD_lookup_connection_value(
		q->conn, MHD_GET_ARGUMENT_KIND, "for");
	char why[512] = "", *end = NULL;
	unsigned long long secs;
	int r;

	errno = 0;
	secs = v && *v ? strtoull(v, &end, 10) : 0;
	if (!v || !*v || *end || errno || secs > 366ULL * 86400)
		return reply_error(q->conn, MHD_HTTP_BAD_REQUEST,
				   "for= must be seconds (at most a year)");
	r = manager_check(q->ctl->m, role, secs * USEC_PER_SEC, why,
			  sizeof(why));
	if (r == -ENOENT)
		return reply_error_code(q->conn, MHD_HTTP_NOT_FOUND, "NoSuchRole",
					"no such role; see 'adfs-credctl "
					"status'");
	if (r < 0)
		return MHD_NO;
	return http_reply_json_secret(
		q->conn, MHD_HTTP_OK,
		json_take_dump(json_pack("{s:b, s:s}", "ok", r > 0, "message",
					 why)));
}

static enum MHD_Result dispatch(struct req *q, const char *url,
				const char *method)
{
	struct manager *m = q->ctl->m;
	const char *role = MHD_lookup_connection_value(
		q->conn, MHD_GET_ARGUMENT_KIND, "role");
	bool post = streq(method, "POST");
	int r;

	if (role && !*role)
		role = NULL;
	if (streq(url, "/v1/status") && !post)
		return http_reply_json_secret(q->conn, MHD_HTTP_OK,
					      json_take_dump(status_json(m)));
	if (streq(url, "/v1/env") && !post)
		return do_env(q, role);
	if (streq(url, "/v1/credentials") && !post)
		return do_credentials(q, role);
	if (streq(url, "/v1/roles") && !post)
		return do_roles(q);
	if (streq(url, "/v1/check") && !post)
		return do_check(q, role);
	if (streq(url, "/v1/login/cancel") && post) {
		r = manager_cancel(m);
		return http_reply_json(q->conn, MHD_HTTP_OK,
				       r > 0 ? "{\"ok\":true,\"cancelled\":true}"
					     : "{\"ok\":true,\"cancelled\":false}");
	}
	if (streq(url, "/v1/login") && post) {
		/* --force: whatever runs (a login stuck on a push nobody
		 * approves) makes way for this one. */
		if (streq(strempty(MHD_lookup_connection_value(
				  q->conn, MHD_GET_ARGUMENT_KIND, "force")),
			  "1"))
			(void)manager_cancel(m);
		q->cancels = true;
		r = manager_login(m, TAKE_PTR(q->body), on_cycle_done, q);
		if (r == -EINVAL)
			return reply_error(q->conn, MHD_HTTP_BAD_REQUEST,
					   "an empty password was given");
		return start_wait(q, r, "sign-in");
	}
	if (streq(url, "/v1/mfa") && post) {
		q->cancels = true;
		r = manager_mfa(m, TAKE_PTR(q->body), on_cycle_done, q);
		if (r == -EALREADY) {
			unsigned st = 0;
			char *reply = cycle_reply(m, 0, "signed in", &st);

			if (!reply)
				return MHD_NO;
			return http_reply_json_secret(q->conn, st, reply);
		}
		if (r == -ENOENT)
			return reply_error(q->conn, MHD_HTTP_CONFLICT,
					   "no second factor is being asked "
					   "for; run 'adfs-credctl login'");
		if (r == -EINVAL)
			return reply_error(q->conn, MHD_HTTP_BAD_REQUEST,
					   "an empty verification code was "
					   "given");
		return start_wait(q, r, "second factor");
	}
	if (streq(url, "/v1/logout") && post) {
		r = manager_logout(m);
		if (r < 0)
			return reply_error(q->conn,
					   MHD_HTTP_INTERNAL_SERVER_ERROR,
					   "logout failed; see the daemon log");
		return http_reply_json(q->conn, MHD_HTTP_OK, "{\"ok\":true}");
	}
	if (streq(url, "/v1/refresh") && post) {
		r = manager_refresh(m, role, on_cycle_done, q);
		if (r == -ENOTCONN)
			return reply_error_code(q->conn, MHD_HTTP_CONFLICT,
						"NotSignedIn",
						"not signed in: run "
						"'adfs-credctl login'");
		return start_wait(q, r, "refresh");
	}
	return reply_error(q->conn, MHD_HTTP_NOT_FOUND, "unknown request");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct control *ctl = cls;
	struct req *q = *con_cls;
	const union MHD_ConnectionInfo *ci;
	enum MHD_Result ret;
	uid_t uid;

	if (!q) {
		ci = MHD_get_connection_info(c,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || peer_uid_unix(ci->connect_fd, &uid) < 0 ||
		    uid != ctl->uid) {
			log_warning("Control request from another user refused");
			return MHD_NO; /* closes the connection */
		}
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->ctl = ctl;
		q->conn = c;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!q->body)
			q->body = secret_new(CONTROL_MAX_BODY);
		/* The secret's capacity is rounded up to whole pages: the cap
		 * is checked here, or a 8 KB "password" would reach ADFS. A
		 * longer body closes the connection. */
		if (!q->body ||
		    *upload_data_size > CONTROL_MAX_BODY - q->body->len ||
		    secret_append(q->body, upload_data, *upload_data_size) < 0) {
			*upload_data_size = 0;
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->status) {
		unsigned st = q->status;
		char *s = TAKE_PTR(q->reply);

		q->status = 0;
		if (!s)
			return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					   "out of memory");
		return http_reply_json_secret(c, st, s);
	}
	if (q->waiting)
		return MHD_YES;
	ctl->in_handler++;
	ret = dispatch(q, url, method);
	ctl->in_handler--;
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	req_free(*con_cls);
	*con_cls = NULL;
}

/* Whether fd (from systemd) listens on path: a socket unit for another
 * state_dir must not shadow ours. */
static bool listens_on(int fd, const char *path)
{
	struct sockaddr_un sa = { 0 };
	socklen_t len = sizeof(sa);
	size_t n;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path))
		return false;
	n = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	return n == strlen(path) && memcmp(sa.sun_path, path, n) == 0;
}

int control_new(struct manager *m, sd_event *e, const char *state_dir,
		uid_t uid, int fd, struct control **ret)
{
	struct control *ctl;
	int r = 0;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		(void)safe_close(fd);
		return -ENOMEM;
	}
	ctl->m = m;
	ctl->event = e;
	ctl->uid = uid;
	if (paths_control_socket(state_dir, &ctl->path) < 0) {
		(void)safe_close(fd);
		free(ctl);
		return -ENOMEM;
	}
	if (fd >= 0 && !listens_on(fd, ctl->path)) {
		log_warning("The control socket systemd passed is not %s "
			    "(state_dir), ignoring it",
			    ctl->path);
		fd = safe_close(fd);
	}
	if (fd >= 0) {
		/* systemd's (adfs-credd-control.socket): it stays after we
		 * exit, to start us again; not ours to unlink. */
		ctl->from_systemd = true;
		log_info("Control socket %s from systemd (socket activation)",
			 ctl->path);
	} else {
		r = listen_unix(ctl->path, &fd);
	}
	if (r >= 0) {
		r = http_server_new(e, fd, true, handle, ctl, completed,
				    "control", &ctl->server);
		if (r < 0)
			(void)close(fd);
	}
	if (r < 0) {
		log_error_errno(r, "Cannot open the control socket %s: %m",
				ctl->path);
		control_free(ctl);
		return r;
	}
	*ret = ctl;
	return 0;
}

struct control *control_free(struct control *c)
{
	if (!c)
		return NULL;
	http_server_free(c->server);
	if (c->path && !c->from_systemd)
		(void)unlink(c->path);
	free(c->path);
	free(c);
	return NULL;
}
