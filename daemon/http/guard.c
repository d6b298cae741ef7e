#include "http/guard.h"

#include <stdio.h>
#include <string.h>

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

static int audit_uid(struct MHD_Connection *c)
{
	const struct peer_info *p = http_peer(c);

	return p && p->uid_known ? (int)p->uid : -1;
}

static void audit_line(const char *endpoint, const char *role, int uid,
		       unsigned status, const char *why, unsigned repeats)
{
	if (repeats)
		log_id(LOG_INFO, LOG_ID_AUDIT,
		       "audit: %s role=%s peer_uid=%d status=%u repeats=%u",
		       endpoint, role, uid, status, repeats);
	else
		log_id(LOG_INFO, LOG_ID_AUDIT,
		       "audit: %s role=%s peer_uid=%d status=%u%s%s", endpoint,
		       role ? role : "-", uid, status, why ? " reason=" : "",
		       why ? why : "");
}

void guard_audit(struct MHD_Connection *c, const char *endpoint,
		 const char *role, unsigned status, const char *why)
{
	audit_line(endpoint, role, audit_uid(c), status, why, 0);
}

void guard_audit_flush(struct guard *g)
{
	for (size_t i = 0; i < g->n_audit; i++) {
		const struct guard_audit_key *k = &g->audit[i];

		if (k->repeats)
			audit_line(k->endpoint, k->role, k->uid, MHD_HTTP_OK,
				   NULL, k->repeats);
	}
	g->n_audit = 0;
}

static int on_audit_window(sd_event_source *s, uint64_t usec, void *ud)
{
	guard_audit_flush(ud);
	return 0;
}

/* Starts a window when the table is empty; false: log this read alone. */
static bool audit_track(struct guard *g, const char *endpoint,
			const char *role, int uid)
{
	struct guard_audit_key *k;
	size_t n = strlen(role);
	int r;

	if (!g->event || g->n_audit == GUARD_AUDIT_KEYS ||
	    n >= sizeof(k->role))
		return false;
	if (g->n_audit == 0) {
		if (!g->audit_timer) {
			r = sd_event_add_time_relative(
				g->event, &g->audit_timer, CLOCK_MONOTONIC,
				GUARD_AUDIT_WINDOW, USEC_PER_SEC,
				on_audit_window, g);
			if (r >= 0)
				(void)sd_event_source_set_description(
					g->audit_timer, "audit-window");
		} else {
			r = sd_event_source_set_time_relative(
				g->audit_timer, GUARD_AUDIT_WINDOW);
			if (r >= 0)
				r = sd_event_source_set_enabled(
					g->audit_timer, SD_EVENT_ONESHOT);
		}
		if (r < 0)
			return false;
	}
	k = &g->audit[g->n_audit++];
	k->endpoint = endpoint;
	memcpy(k->role, role, n + 1);
	k->uid = uid;
	k->repeats = 0;
	return true;
}

void guard_audit_served(struct guard *g, struct MHD_Connection *c,
			const char *endpoint, const char *role)
{
	int uid;

	if (log_get_level() < LOG_INFO)
		return; /* no line to write, nothing to count */
	uid = audit_uid(c);
	for (size_t i = 0; i < g->n_audit; i++) {
		struct guard_audit_key *k = &g->audit[i];

		if (k->uid == uid && streq(k->endpoint, endpoint) &&
		    streq(k->role, role)) {
			k->repeats++;
			return;
		}
	}
	(void)audit_track(g, endpoint, role, uid);
	audit_line(endpoint, role, uid, MHD_HTTP_OK, NULL, 0);
}

void guard_clear(struct guard *g)
{
	guard_audit_flush(g);
	g->audit_timer = sd_event_source_disable_unref(g->audit_timer);
}
