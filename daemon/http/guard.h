/* Every check an ECS or IMDS request passes before routing (DESIGN.md
 * "Serving fast and safely"): a loopback Host, no browser context, a peer
 * that is the daemon's own user or in serve.allowed_uids, and a peer that
 * is not being throttled for repeated refusals. Plus the audit line. The
 * checks are pure (http/route.c calls them); only the audit logs. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "util/macro.h"

struct http_request;
struct peer_info;

/* INTERFACE.md: more than 20 refusals in 10 s → 429 for a while. */
#define GUARD_MAX_REFUSALS 20u
#define GUARD_WINDOW (10 * USEC_PER_SEC)
#define GUARD_PENALTY (60 * USEC_PER_SEC)
#define GUARD_PEERS 64u
/* Served reads are audited once per (endpoint, role, peer uid) and window;
 * the repeats are counted and logged as one line when the window ends
 * (docs/PERFORMANCE.md: a line per read costs more than the read). */
#define GUARD_AUDIT_WINDOW (10 * USEC_PER_SEC)
#define GUARD_AUDIT_KEYS 32u
#define GUARD_AUDIT_ROLE 65u /* longer role names are not aggregated */

/* Connections one peer may hold at once (http/server.c counts them): the
 * daemon's own user up to the server's limit, every other allowed uid (and
 * the remote peers, together) GUARD_CONN_PER_PEER. */
#define GUARD_CONN_PER_PEER 32u
#define GUARD_CONN_OWNER UINT_MAX

enum guard_verdict {
	GUARD_OK,
	GUARD_REFUSE,   /* 403 AccessDenied */
};

struct guard_peer {
	bool used;
	uid_t uid;            /* (uid_t)-1: peers whose uid is unknown */
	usec_t window_start;  /* CLOCK_MONOTONIC */
	unsigned refusals;
	usec_t throttled_until;
};

struct guard_audit_key {
	const char *endpoint; /* a string literal: "ecs" or "imds" */
	char role[GUARD_AUDIT_ROLE];
	int uid;
	unsigned status;
	unsigned repeats; /* served since the line that was logged */
};

struct guard {
	uid_t self;
	/* The manager's configuration slot (a reload swaps what it points
	 * at): serve.allowed_uids and serve.allow_non_loopback. */
	struct conf *const *conf;
	struct guard_peer peers[GUARD_PEERS];
	/* borrowed: the loop, for the audit window's timer; NULL: every
	 * served read gets its own line */
	sd_event *event;
	sd_event_source *audit_timer; /* armed while audit[] is not empty */
	size_t n_audit;
	struct guard_audit_key audit[GUARD_AUDIT_KEYS];
	/* unserved requests not logged because audit[] was full */
	unsigned audit_unlogged;
};

/* Every check a request passes before routing, in this order: one Host
 * header at most, and a loopback one (util/addr.h; a missing Host is
 * allowed); no browser context (Origin, Referer, Sec-Fetch-Site other than
 * none/same-origin); a peer whose socket the kernel found on this host
 * (any address), with a known uid that is the daemon's own or in
 * serve.allowed_uids; or a remote peer (no socket here) when
 * allow_non_loopback, on ECS (whose token the route checks next), and on
 * IMDS only with serve.imds_for_remote_peers. Pure.
 * *ret_why says why it is refused (for the log and the body): a literal or
 * buf (size bytes). */
enum guard_verdict guard_check(const struct guard *g,
			       const struct http_request *req, char *buf,
			       size_t size, const char **ret_why);
/* At accept, before the connection holds one of the server's slots: how
 * many connections p's uid may hold (GUARD_CONN_PER_PEER or
 * GUARD_CONN_OWNER), or 0 when the connection is to be closed at once: a
 * local peer whose uid is unknown or neither the daemon's own nor in
 * serve.allowed_uids, a remote peer guard_check() would refuse. *ret_why
 * (a literal or buf, size bytes) says why, as guard_check() would.
 * guard_check() still checks every request (a reload may have changed
 * allowed_uids). Pure. */
unsigned guard_admit(const struct guard *g, const struct peer_info *p,
		     char *buf, size_t size, const char **ret_why);
/* Counts a refused request against its peer (p may be NULL) at now
 * (CLOCK_MONOTONIC); past the limit the peer is throttled for
 * GUARD_PENALTY and *ret_began is set (else left alone). Returns whether
 * the peer is throttled: the refusal is then answered 429 Throttled.
 * Throttling only changes how refusals look; a valid credential read is
 * always served. No I/O. */
bool guard_refused(struct guard *g, const struct peer_info *p, usec_t now,
		   bool *ret_began);
/* The key refusals of p are counted under: its uid, -1 when unknown. */
int guard_peer_uid(const struct peer_info *p);
/* The warning that a peer's throttling began (guard_refused). */
void guard_log_throttle(int uid);
/* The audit line of a request that was not served: endpoint, role, peer
 * uid, status, reason (role and why escaped by the caller). Like served
 * reads, the first per endpoint, role, peer uid and status in
 * GUARD_AUDIT_WINDOW is logged at once and the others are counted
 * (repeats=N when the window ends), so a flood of refusals writes a line
 * or two per window. Returns whether the line was written now. Audit
 * lines are LOG_NOTICE, written at every log_level. */
bool guard_audit(struct guard *g, const struct peer_info *p,
		 const char *endpoint, const char *role, unsigned status,
		 const char *why);
/* The audit of a served read (200): the first per endpoint, role and peer
 * uid in GUARD_AUDIT_WINDOW is logged at once, the others are counted and
 * logged as one line with repeats=N when the window ends. */
void guard_audit_served(struct guard *g, const struct peer_info *p,
			const char *endpoint, const char *role);
/* Logs the counted repeats now (window end, exit). */
void guard_audit_flush(struct guard *g);
/* Flushes and drops the timer; the guard can be used again. */
void guard_clear(struct guard *g);
