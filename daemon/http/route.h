/* The pure route step of the ECS and IMDS endpoints (STYLE.md 1,
 * docs/internals/security.md "The HTTP path"): a struct http_request in,
 * a struct http_answer out. No I/O, no globals, no libmicrohttpd types:
 * ecs.c and imds.c collect the request from libmicrohttpd, call the route,
 * then log, audit and send what the answer says. State that outlives a
 * request (the guard's refusal counts, the IMDS session tokens) is passed
 * in, and the route reads the store only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "session/store.h"
#include "util/macro.h"
#include "util/secret.h"

#define IMDS_MAX_TOKENS 256u
#define IMDS_TOKEN_LEN RANDOM_TOKEN_LEN
#define IMDS_TTL_MAX 21600u

struct guard;
struct peer_info;

/* The ECS endpoint's state; the manager fills it. */
struct ecs {
	struct store *store;         /* borrowed */
	const struct secret *token;  /* borrowed: the endpoint token */
	struct guard *guard;         /* borrowed */
};

struct imds_token {
	usec_t expires; /* CLOCK_MONOTONIC; 0 = free slot */
	char *value;    /* points into tokens_mem */
};

/* The IMDS endpoint's state: imds_init() (imds.h) allocates the tokens,
 * the manager fills the borrowed fields. */
struct imds {
	struct store *store;  /* borrowed */
	struct guard *guard;  /* borrowed */
	/* The manager's configuration slot: serve.imds_role, else
	 * default_role, else the store's default role. */
	struct conf *const *conf;
	struct secret *tokens_mem; /* IMDS_MAX_TOKENS * IMDS_TOKEN_LEN, locked */
	struct imds_token tokens[IMDS_MAX_TOKENS];
	size_t next;          /* slot to reuse when all are live */
	/* Where new session tokens come from; NULL: random_token()
	 * (util/secret.h). Tests put a predictable source here. */
	int (*random_token)(char out[static RANDOM_TOKEN_LEN + 1]);
};

/* One request, as the glue collected it. Every string is borrowed (from
 * libmicrohttpd's connection pool) and NULL when the header is absent. */
struct http_request {
	const char *method;
	const char *path;            /* the URL path, percent-decoded */
	const char *host;            /* the first Host header */
	unsigned n_host;             /* how many Host headers there were */
	const char *origin;
	const char *referer;
	const char *sec_fetch_site;
	const char *authorization;   /* ECS: the endpoint token */
	const char *imds_token;      /* X-aws-ec2-metadata-token */
	const char *imds_token_ttl;  /* X-aws-ec2-metadata-token-ttl-seconds */
	/* Signs of a proxy or forwarder in front of the peer; every route
	 * of both endpoints refuses them (docs/internals/security.md). */
	const char *forwarded_for;   /* X-Forwarded-For */
	const char *forwarded;       /* Forwarded (RFC 7239) */
	const char *real_ip;         /* X-Real-IP */
	const char *via;             /* Via */
	const struct peer_info *peer; /* NULL: cannot tell who is asking */
	usec_t now_wall;             /* CLOCK_REALTIME: credential validity */
	usec_t now_mono;             /* CLOCK_MONOTONIC: throttling, tokens */
};

enum http_body {
	HTTP_BODY_EMPTY, /* no body, no Content-Type (every IMDS error) */
	HTTP_BODY_ERROR, /* ECS: JSON {"Code": code, "Message": message} */
	HTTP_BODY_CREDS, /* the credentials document in creds, zero-copy */
	HTTP_BODY_TEXT,  /* IMDS: text, a copy the answer owns */
	HTTP_BODY_TOKEN, /* IMDS: the new session token in token[] */
};

/* An audit line to write (guard_audit(), guard_audit_served()). */
struct http_audit {
	bool write;
	bool served;      /* a 200: guard_audit_served() aggregates it */
	const char *role; /* borrowed, escaped (log_escape()); NULL: "-" */
	unsigned status;
	const char *why;  /* borrowed, escaped; NULL when served */
};

/* What to send, log and audit. Fill with http_answer_init(); release with
 * http_answer_clear(). Strings are borrowed from the request, the route's
 * state or the answer itself, so the answer must not outlive them; what
 * is sent after the handler returns (creds, text) the answer owns, so a
 * reload or a logout while the reply is queued frees nothing it sends.
 * Anything taken from the request that reaches a log is escaped
 * (log_escape()): a %0a in the path cannot forge a line. */
struct http_answer {
	unsigned status;
	enum http_body body;
	/* JSON bodies (ECS) get Content-Type: application/json and
	 * Cache-Control: no-store; IMDS bodies text/plain */
	bool json;
	const char *code;     /* HTTP_BODY_ERROR: the Code */
	const char *message;  /* HTTP_BODY_ERROR: the Message */
	/* HTTP_BODY_CREDS: a reference the answer owns, with the body in
	 * creds->ecs_json (ECS) or creds->imds_json (IMDS); the glue takes
	 * it over (http_answer_take_creds) until the body is sent */
	struct creds *creds;
	/* HTTP_BODY_TEXT: a copy the answer owns (the role name lives in
	 * the configuration or the store, which a reload or a logout frees
	 * while MHD may still be sending); the glue takes it over
	 * (http_answer_take_text) and frees it when sent */
	char *text;
	size_t text_len;
	char token[IMDS_TOKEN_LEN + 1]; /* HTTP_BODY_TOKEN; wiped by clear */
	char ttl[16];         /* "": no X-aws-ec2-metadata-token-ttl-seconds */

	/* Why the request was refused, for the log; NULL when it was not. */
	const char *refusal;
	bool refusal_warning; /* log it as a warning (else debug) */
	unsigned refusal_status; /* the status the refusal asked for, before
				    any throttling (for the debug line) */
	/* The peer's uid whose throttling began with this request, for one
	 * warning; -1 when none began. */
	bool throttle_began;
	int throttle_uid;
	struct http_audit audit;

	char buf[512];        /* backs message and refusal */
	char role[160];       /* backs audit.role when it comes from the path */
};

void http_answer_init(struct http_answer *a);
/* Drops the creds reference and wipes the token. */
void http_answer_clear(struct http_answer *a);
/* Hands the creds reference over to the caller (NULL when none). */
struct creds *http_answer_take_creds(struct http_answer *a);
/* Hands the HTTP_BODY_TEXT copy over to the caller, who frees it. */
char *http_answer_take_text(struct http_answer *a);

/* A per-role ECS token (`adfs-credctl env ROLE --scoped`): opens role
 * only. HMAC-SHA256 of the role name under the endpoint token, base64url
 * (RANDOM_TOKEN_LEN characters): nothing to store, and it rotates with the
 * endpoint token (logout). -EIO. Wipe out after use. */
int http_scoped_token(const struct secret *token, const char *role,
		      char out[static RANDOM_TOKEN_LEN + 1]);

/* The header that shows a proxy or forwarder in front of the peer
 * (Forwarded, X-Forwarded-For, X-Real-IP, Via), NULL when none. */
const char *http_request_forwarded(const struct http_request *req);

/* Routes an ECS request (INTERFACE.md "Local endpoints", PROTOCOLS.md A):
 * the guard, no forwarder headers, GET only, the Authorization token (the
 * endpoint token, or a scoped token for the role asked), then / or
 * /role/<name>.
 * Counts refusals in e->guard. Always fills ret. */
void http_route_ecs(struct ecs *e, const struct http_request *req,
		    struct http_answer *ret);
/* Routes an IMDSv2 request (PROTOCOLS.md B): the guard, no forwarder
 * headers, PUT
 * /latest/api/token (mints a token into m), GET with a live token for the
 * role list and the credentials document. Always fills ret. */
void http_route_imds(struct imds *m, const struct http_request *req,
		     struct http_answer *ret);
