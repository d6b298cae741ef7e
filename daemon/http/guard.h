/* What every ECS and IMDS request passes before routing (DESIGN.md
 * "Serving fast and safely"): a loopback Host, no browser context, a peer
 * that is the daemon's own user or in serve.allowed_uids, and a peer that
 * is not being throttled for repeated refusals. Plus the audit line. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

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
	unsigned repeats; /* served since the line that was logged */
};

struct guard {
	uid_t self;
	const uid_t *allowed; /* borrowed: serve.allowed_uids */
	size_t n_allowed;
	bool allow_non_loopback;
	struct guard_peer peers[GUARD_PEERS];
	/* borrowed: the loop, for the audit window's timer; NULL: every
	 * served read gets its own line */
	sd_event *event;
	sd_event_source *audit_timer; /* armed while audit[] is not empty */
	size_t n_audit;
	struct guard_audit_key audit[GUARD_AUDIT_KEYS];
};

/* Checks a request; *ret_why says why it is refused (for the log and the
 * body). */
enum guard_verdict guard_check(struct guard *g, struct MHD_Connection *c,
			       const char **ret_why);
/* Counts a refused request against its peer; past the limit the peer is
 * throttled for GUARD_PENALTY. Returns whether the peer is throttled: the
 * refusal is then answered 429 Throttled. Throttling only changes how
 * refusals look; a valid credential read is always served. */
bool guard_refused(struct guard *g, struct MHD_Connection *c);
/* The audit line of a credential request: endpoint, role, peer uid, result. */
void guard_audit(struct MHD_Connection *c, const char *endpoint,
		 const char *role, unsigned status, const char *why);
/* The audit of a served read (200): the first per endpoint, role and peer
 * uid in GUARD_AUDIT_WINDOW is logged at once, the others are counted and
 * logged as one line with repeats=N when the window ends. */
void guard_audit_served(struct guard *g, struct MHD_Connection *c,
			const char *endpoint, const char *role);
/* Logs the counted repeats now (window end, exit). */
void guard_audit_flush(struct guard *g);
/* Flushes and drops the timer; the guard can be used again. */
void guard_clear(struct guard *g);
