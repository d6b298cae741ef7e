/* What every ECS and IMDS request passes before routing (DESIGN.md
 * "Serving fast and safely"): a loopback Host, no browser context, a peer
 * that is the daemon's own user or in serve.allowed_uids, and a peer that
 * is not being throttled for repeated refusals. Plus the audit line. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/macro.h"

/* INTERFACE.md: more than 20 refusals in 10 s → 429 for a while. */
#define GUARD_MAX_REFUSALS 20u
#define GUARD_WINDOW (10 * USEC_PER_SEC)
#define GUARD_PENALTY (60 * USEC_PER_SEC)
#define GUARD_PEERS 64u

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

struct guard {
	uid_t self;
	const uid_t *allowed; /* borrowed: serve.allowed_uids */
	size_t n_allowed;
	bool allow_non_loopback;
	struct guard_peer peers[GUARD_PEERS];
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
