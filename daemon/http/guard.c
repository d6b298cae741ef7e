#include "http/guard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/peer.h"
#include "http/route.h"
#include "util/addr.h"
#include "util/log.h"

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
	const struct conf *c = *g->conf;

	if (uid == g->self)
		return true;
	for (size_t i = 0; i < c->serve.n_allowed_uids; i++)
		if (c->serve.allowed_uids[i] == uid)
			return true;
	return false;
}

/* RFC 9112 3.2: a request with more than one Host is invalid, and the
 * lookup the glue does sees only the first: a second could name anything. */
static const char *check_headers(const struct http_request *req)
{
	const char *v = req->sec_fetch_site;

	if (req->n_host > 1)
		return "more than one Host header";
	if (req->host && !addr_host_port_is_loopback(req->host))
		return "the Host header does not name a loopback address";
	if (req->origin)
		return "requests from web pages (Origin) are refused";
	if (req->referer)
		return "requests from web pages (Referer) are refused";
	if (v && strcasecmp(v, "none") != 0 && strcasecmp(v, "same-origin") != 0)
		return "requests from web pages (Sec-Fetch-Site) are refused";
	return NULL;
}

/* A remote peer: ECS only (its token is checked next), IMDS only when
 * serve.imds_for_remote_peers says so, neither unless allow_non_loopback. */
static const char *remote_refusal(const struct conf *c,
				  const struct peer_info *p)
{
	if (!c->serve.allow_non_loopback)
		return "requests from other hosts are refused";
	if (p->imds && !c->serve.imds_for_remote_peers)
		return "IMDS is not served to other hosts "
		       "(serve.imds_for_remote_peers)";
	return NULL;
}

/* Who may be served, as the accept and every request see it: NULL, or
 * why not. A peer whose socket is on this host is a local user, whatever
 * its address (192.0.2.2 bound on lo): its uid decides. Only a peer the
 * kernel has no socket for is remote. */
static const char *peer_refusal(const struct guard *g,
				const struct peer_info *p, char *buf,
				size_t size)
{
	if (peer_is_remote(p))
		return remote_refusal(*g->conf, p);
	if (p->lookup_failed && !p->loopback)
		return "cannot tell who is asking";
	if (!p->uid_known)
		return "cannot tell which user is asking";
	if (!uid_allowed(g, p->uid)) {
		(void)snprintf(buf, size,
			       "user %u may not read these credentials "
			       "(serve.allowed_uids)",
			       (unsigned)p->uid);
		return buf;
	}
	return NULL;
}

enum guard_verdict guard_check(const struct guard *g,
			       const struct http_request *req, char *buf,
			       size_t size, const char **ret_why)
{
	const struct peer_info *p = req->peer;
	const char *w;

	w = check_headers(req);
	if (w) {
		*ret_why = w;
		return GUARD_REFUSE;
	}
	if (!p) {
		*ret_why = "cannot tell who is asking";
		return GUARD_REFUSE;
	}
	*ret_why = peer_refusal(g, p, buf, size);
	return *ret_why ? GUARD_REFUSE : GUARD_OK;
}

unsigned guard_admit(const struct guard *g, const struct peer_info *p,
		     char *buf, size_t size, const char **ret_why)
{
	*ret_why = peer_refusal(g, p, buf, size);
	if (*ret_why)
		return 0;
	return !peer_is_remote(p) && p->uid == g->self ? GUARD_CONN_OWNER
						       : GUARD_CONN_PER_PEER;
}

int guard_peer_uid(const struct peer_info *p)
{
	return p && p->uid_known ? (int)p->uid : -1;
}

bool guard_refused(struct guard *g, const struct peer_info *peer, usec_t now,
		   bool *ret_began)
{
	uid_t uid = peer && peer->uid_known ? peer->uid : (uid_t)-1;
	struct guard_peer *p = find_peer(g, uid, true);

	if (now - p->window_start > GUARD_WINDOW) {
		p->window_start = now;
		p->refusals = 0;
	}
	if (++p->refusals > GUARD_MAX_REFUSALS &&
	    p->throttled_until <= now) {
		p->throttled_until = now + GUARD_PENALTY;
		*ret_began = true;
	}
	return p->throttled_until > now;
}

void guard_log_throttle(int uid)
{
	log_warning("Peer uid %d: more than %u refused requests in %llus, "
		    "answering 429 for %llus",
		    uid, GUARD_MAX_REFUSALS,
		    (unsigned long long)(GUARD_WINDOW / USEC_PER_SEC),
		    (unsigned long long)(GUARD_PENALTY / USEC_PER_SEC));
}

/* LOG_NOTICE: the audit trail is written at every log_level. */
static void audit_line(const char *endpoint, const char *role, int uid,
		       unsigned status, const char *why, unsigned repeats)
{
	if (repeats)
		log_audit("audit: %s role=%s peer_uid=%d status=%u repeats=%u",
			  endpoint, role, uid, status, repeats);
	else
		log_audit("audit: %s role=%s peer_uid=%d status=%u%s%s",
			  endpoint, role ? role : "-", uid, status,
			  why ? " reason=" : "", why ? why : "");
}

void guard_audit_flush(struct guard *g)
{
	for (size_t i = 0; i < g->n_audit; i++) {
		const struct guard_audit_key *k = &g->audit[i];

		if (k->repeats)
			audit_line(k->endpoint, k->role, k->uid, k->status,
				   NULL, k->repeats);
	}
	g->n_audit = 0;
	if (g->audit_unlogged)
		log_audit("audit: %u more unserved requests not logged "
			  "(more peers and reasons than one window holds)",
			  g->audit_unlogged);
	g->audit_unlogged = 0;
}

static int on_audit_window(sd_event_source *s, uint64_t usec, void *ud)
{
	guard_audit_flush(ud);
	return 0;
}

/* Starts a window when the table is empty; false: log this read alone. */
static bool audit_track(struct guard *g, const char *endpoint,
			const char *role, int uid, unsigned status)
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
	k->status = status;
	k->repeats = 0;
	return true;
}

/* Counts a repeat of (endpoint, role, uid, status) when its line was
 * written in this window; true then. */
static bool audit_repeat(struct guard *g, const char *endpoint,
			 const char *role, int uid, unsigned status)
{
	for (size_t i = 0; i < g->n_audit; i++) {
		struct guard_audit_key *k = &g->audit[i];

		if (k->uid == uid && k->status == status &&
		    streq(k->endpoint, endpoint) && streq(k->role, role)) {
			k->repeats++;
			return true;
		}
	}
	return false;
}

void guard_audit_served(struct guard *g, const struct peer_info *p,
			const char *endpoint, const char *role)
{
	int uid = guard_peer_uid(p);

	if (audit_repeat(g, endpoint, role, uid, 200))
		return;
	(void)audit_track(g, endpoint, role, uid, 200);
	audit_line(endpoint, role, uid, 200, NULL, 0);
}

bool guard_audit(struct guard *g, const struct peer_info *p,
		 const char *endpoint, const char *role, unsigned status,
		 const char *why)
{
	const char *key = role && strlen(role) < GUARD_AUDIT_ROLE ? role : "-";
	int uid = guard_peer_uid(p);

	if (audit_repeat(g, endpoint, key, uid, status))
		return false;
	if (!audit_track(g, endpoint, key, uid, status) && g->event &&
	    g->n_audit == GUARD_AUDIT_KEYS) {
		/* A full window: counted, one line when it ends. */
		g->audit_unlogged++;
		return false;
	}
	audit_line(endpoint, role, uid, status, why, 0);
	return true;
}

void guard_clear(struct guard *g)
{
	guard_audit_flush(g);
	g->audit_timer = sd_event_source_disable_unref(g->audit_timer);
}
