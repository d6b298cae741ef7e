#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "session/persist.h"
#include "util/log.h"
#include "util/timeutil.h"

void state_save(const struct state *s)
{
	struct curl_slist *cookies = adfs_export_cookies(s->adfs);
	const char **lines = NULL;
	struct persist_sso sso = {
		.since = s->signin->sso_since,
		.alive_at = s->signin->sso_alive_at,
		.lifetime_seen = s->signin->sso_lifetime_seen,
		.mfa = s->signin->mfa_at_signin,
	};
	size_t n = 0;
	int r;

	for (struct curl_slist *l = cookies; l; l = l->next)
		n++;
	if (n) {
		lines = calloc(n, sizeof(char *));
		if (!lines) {
			curl_slist_free_all(cookies);
			return;
		}
		n = 0;
		for (struct curl_slist *l = cookies; l; l = l->next)
			lines[n++] = l->data;
	}
	r = persist_save(s->dir, s->identity, s->store, s->plans, lines, n,
			 &sso, &s->signin->rejected, now_wall());
	for (struct curl_slist *l = cookies; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(cookies);
	free(lines);
	if (r < 0)
		log_warning_errno(r, "Failed to save state in %s: %m, a restart "
				     "will need a new login",
				  s->dir);
}

int state_restore(const struct state *s, bool add_roles, usec_t min_remaining,
		  const struct refresh_random *jitter)
{
	struct persist_state st = { 0 };
	const char *why = NULL;
	usec_t now = now_wall();
	size_t valid;
	int r;

	r = persist_load(s->dir, s->identity, now, s->store, s->plans,
			 add_roles, &st, &why);
	if (why)
		log_warning("Ignoring the saved state %s/%s: %s", s->dir,
			    PERSIST_FILE, why);
	if (r <= 0) {
		if (r < 0)
			log_warning_errno(r, "Cannot restore the saved state: %m");
		return -1;
	}
	/* A rejected password file stays rejected across restarts. */
	if (st.rejected.ref)
		(void)signin_source_copy(&s->signin->rejected, &st.rejected);
	/* What was seen of the SSO's lifetime is the ADFS farm's: kept
	 * whether or not this session comes back. */
	s->signin->sso_lifetime_seen = st.sso.lifetime_seen;
	if (st.n_cookies &&
	    adfs_import_cookies(s->adfs, (const char *const *)st.cookies,
				st.n_cookies) < 0)
		log_warning("Some saved ADFS cookies could not be restored");
	valid = plans_restored(s->plans, s->store, now, min_remaining, jitter);
	if (st.n_cookies || valid) {
		signin_restored(s->signin, st.sso.since);
		s->signin->sso_alive_at = st.sso.alive_at;
		s->signin->mfa_at_signin = st.sso.mfa;
		s->store->signed_in = true;
		free(s->store->user);
		s->store->user = TAKE_PTR(st.user);
		log_info("Restored the saved state: signed in as %s, %zu role(s) "
			 "with valid credentials",
			 strempty(s->store->user), valid);
	}
	persist_state_clear(&st);
	return (int)valid;
}
