#include "http/guard.h"

#include <stdio.h>

#include "http/ecs.h"
#include "http/peer.h"
#include "http/server.h"
#include "util/log.h"
#include "util/timeutil.h"

static uid_t peer_key(struct MHD_Connection *c)
{
	const struct peer_info *p = http_peer(c);

	return p && p->uid_known ? p->uid : (uid_t)-1;
}

static struct guard_peer *find_peer(struct guard *g, uid_t uid, bool create)
{
	struct guard_peer *oldest = &g->peers[0];

	for (size_t i = 0; i < GUARD_PEERS; i++) {
		struct guard_peer *p = &g->peers[i];

		if (p->used && p->uid == uid)
			return p;
		if (!p->used || p->window_start < oldest->window_start)
			oldest = p;
	}
	if (!create)
		return NULL;
	*oldest = (struct guard_peer){ .used = true, .uid = uid };
	return oldest;
}

static bool uid_allowed(const struct guard *g, uid_t uid)
{
	if (uid == g->self)
		return true;
	for (size_t i = 0; i < g->n_allowed; i++)
		if (g->allowed[i] == uid)
			return true;
	return false;
}

enum guard_verdict guard_check(struct guard *g, struct MHD_Connection *c,
			       const char **ret_why)
{
	const struct peer_info *p = http_peer(c);
	static char why[96];
	const char *w;

	w = http_guard_check(c);
	if (w) {
		*ret_why = w;
		return GUARD_REFUSE;
	}
	if (!p) {
		*ret_why = "cannot tell who is asking";
		return GUARD_REFUSE;
	}
	if (!p->loopback) {
		if (g->allow_non_loopback)
			return GUARD_OK; /* only the token protects it */
		*ret_why = "requests from other hosts are refused";
		return GUARD_REFUSE;
	}
	if (!p->uid_known) {
		*ret_why = "cannot tell which user is asking";
		return GUARD_REFUSE;
	}
	if (!uid_allowed(g, p->uid)) {
		(void)snprintf(why, sizeof(why),
			       "user %u may not read these credentials "
			       "(serve.allowed_uids)",
			       (unsigned)p->uid);
		*ret_why = why;
		return GUARD_REFUSE;
	}
	return GUARD_OK;
}

bool guard_refused(struct guard *g, struct MHD_Connection *c)
{
	usec_t now = now_clock(CLOCK_MONOTONIC);
	uid_t uid = peer_key(c);
	struct guard_peer *p = find_peer(g, uid, true);

	if (now - p->window_start > GUARD_WINDOW) {
		p->window_start = now;
		p->refusals = 0;
	}
	if (++p->refusals > GUARD_MAX_REFUSALS &&
	    p->throttled_until <= now) {
		p->throttled_until = now + GUARD_PENALTY;
		log_warning("Peer uid %d: more than %u refused requests in %llus, "
			    "answering 429 for %llus",
			    uid == (uid_t)-1 ? -1 : (int)uid, GUARD_MAX_REFUSALS,
			    (unsigned long long)(GUARD_WINDOW / USEC_PER_SEC),
			    (unsigned long long)(GUARD_PENALTY / USEC_PER_SEC));
	}
	return p->throttled_until > now;
}

void guard_audit(struct MHD_Connection *c, const char *endpoint,
		 const char *role, unsigned status, const char *why)
{
	const struct peer_info *p = http_peer(c);

	log_id(LOG_INFO, LOG_ID_AUDIT,
	       "audit: %s role=%s peer_uid=%d status=%u%s%s", endpoint,
	       role ? role : "-", p && p->uid_known ? (int)p->uid : -1,
	       status, why ? " reason=" : "", why ? why : "");
}
