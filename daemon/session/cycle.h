/* One refresh cycle, as an explicit state machine (docs/internals/daemon.md
 * "Refresh cycles"): get an assertion, then for each due role hold the
 * sizing conversation with STS and IAM (session/sizing.c), keep what it
 * got, plan the next refresh. At most one cycle runs at a time.
 *
 * The cycle reaches the network only through struct cycle_ops, which the
 * manager fills with the real ADFS, WS-Trust, STS and IAM calls and the
 * unit tests with fakes. An op starts a call and returns; its result comes
 * back through cycle_*_done(), at any time, even from inside the op. The
 * cycle never acts inside those: it notes the result and steps from an
 * sd-event defer source. The manager hears back through struct
 * cycle_hooks, also only from the defer source. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "idp/saml.h"
#include "session/plan.h"
#include "session/refresh.h"
#include "session/store.h"
#include "signin.h"
#include "sts/sts-xml.h"
#include "util/secret.h"

/* Where iam:GetRole is denied, how often to look for a raised maximum. */
#define CYCLE_PROBE_UP_INTERVAL (6 * USEC_PER_HOUR)
/* STS redeems an assertion within 5 min of its issue ("Token must be
 * redeemed within 5 minutes of issuance", PROTOCOLS.md C3): a cycle still
 * running after this long fetches a new one (a cookie round) first. */
#define CYCLE_ASSERTION_REUSE_MAX (4 * USEC_PER_MINUTE)

struct cycle;

enum cycle_sts_result {
	CYCLE_STS_OK,
	CYCLE_STS_TOO_LONG, /* DurationSeconds exceeds the MaxSessionDuration */
	CYCLE_STS_FAILED,
};

struct cycle_ops {
	/* Gets a SAML assertion, with pw when not NULL, else SSO cookies or
	 * Kerberos; interactive: ADFS may ask for a second factor
	 * (cycle_mfa_asked). -ENOKEY: none can be had without a password.
	 * Result: cycle_assertion_done(). */
	int (*get_assertion)(void *ud, const struct secret *pw,
			     bool interactive);
	/* AssumeRoleWithSAML. Result: cycle_assume_done(). */
	int (*assume)(void *ud, const char *role_arn, const char *principal_arn,
		      const struct secret *saml, uint32_t duration);
	/* iam:GetRole signed with c at STS's time now. Result:
	 * cycle_get_role_done(). */
	int (*get_role)(void *ud, const struct creds *c, const char *role_name,
			usec_t now);
	/* Stops every call in flight; no result comes for them. */
	void (*cancel)(void *ud);
	/* Whether the last assertion round posted the password. */
	bool (*posted_password)(void *ud);
	/* CLOCK_BOOTTIME, for the assertion's age. */
	usec_t (*now_boot)(void *ud);
};

struct cycle_hooks {
	/* The cycle ended: r is 0 when every role it covered got
	 * credentials, summary a line for people. */
	void (*ended)(void *ud, int r, const char *summary);
	/* ADFS asks for a second factor (push: approve on the device). */
	void (*mfa)(void *ud, bool push, const char *hint);
	/* ... in a round nobody waits on (a renewal): pushing, the round
	 * waits for the approval of the push ADFS sent (hint: the number to
	 * match, or NULL); else it ends not signed in. May be NULL. */
	void (*mfa_renewal)(void *ud, bool pushing, const char *hint);
};

struct cycle_setup {
	sd_event *event;
	struct store *store;   /* borrowed: what is served */
	struct plans *plans;   /* borrowed: plans.v[i] for store.roles[i] */
	struct signin *signin; /* borrowed */
	struct conf *const *conf; /* the manager's: a reload swaps it */
	const struct cycle_ops *ops;
	void *ops_ud;
	const struct cycle_hooks *hooks;
	void *hooks_ud;
	const struct refresh_random *jitter;
};

int cycle_new(const struct cycle_setup *setup, struct cycle **ret);
struct cycle *cycle_free(struct cycle *c);
DEFINE_FREEP(struct cycle, cycle_free)

/* Starts a cycle. role: NULL = the roles due soon (timer), "" = all, else
 * that role. login: send the password signin holds for a login; else only
 * a remembered one. explicit_refresh: the user asked (probed roles look
 * for a raised maximum now). -EBUSY while one runs; -ENOKEY when no
 * assertion can be had without the user. */
int cycle_start(struct cycle *c, const char *role, bool login,
		bool interactive, bool explicit_refresh);
bool cycle_running(const struct cycle *c);
/* Stops the cycle now (logout, exit, a cancelled login): no hook is
 * called; a role being refreshed keeps its session. */
void cycle_cancel(struct cycle *c);

/* How far a running cycle is, for people waiting on it (status). */
enum cycle_phase {
	CYCLE_PHASE_IDLE,
	CYCLE_PHASE_SIGN_IN, /* getting the assertion (ADFS, WS-Trust) */
	CYCLE_PHASE_ROLES,   /* assuming the roles */
};
struct cycle_progress {
	enum cycle_phase phase;
	size_t done, total;  /* roles finished, of those the cycle serves
			      * (total 0: not known before the assertion) */
};
struct cycle_progress cycle_progress(const struct cycle *c);
const char *cycle_phase_to_string(enum cycle_phase p);

/* Results of the ops (see struct cycle_ops). */
void cycle_assertion_done(struct cycle *c, int r, struct secret *saml_take,
			  const char *msg);
/* creds_take: on CYCLE_STS_OK; server_date: STS's Date header (0: none). */
void cycle_assume_done(struct cycle *c, enum cycle_sts_result res,
		       struct sts_creds *creds_take, const char *msg,
		       usec_t server_date);
/* res: SIZING_OK (max set), SIZING_DENIED or SIZING_FAILED. */
void cycle_get_role_done(struct cycle *c, enum sizing_result res,
			 uint32_t max, const char *msg);
void cycle_mfa_asked(struct cycle *c, bool push, const char *hint);
/* The same in a round nobody waits on (see cycle_hooks.mfa_renewal). */
void cycle_mfa_unattended(struct cycle *c, bool pushing, const char *hint);

/* The roles the last assertion offered (NULL before one came). */
const struct saml_info *cycle_offered(const struct cycle *c);
/* Logout: forgets sessions and plans; roles learnt from the assertion go
 * too (forget_roles). */
void cycle_forget(struct cycle *c, bool forget_roles);
