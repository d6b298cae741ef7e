/* The sign-in state and the password's lifetime, as pure transitions: no
 * I/O, no clock, no network (docs/internals/signin.md). The one rule that
 * matters most lives here: a password ADFS rejected is wiped at once and
 * never offered again; only a new login (a new password) leaves that
 * state. Everything that could send a password (a refresh, the timer, a
 * remembered password, a reload, a restart) asks signin_password() first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/macro.h"
#include "util/secret.h"

enum signin_state {
	SIGNIN_SIGNED_OUT,
	SIGNIN_SIGNING_IN,
	SIGNIN_MFA_PENDING,   /* waiting on the user for a second factor */
	SIGNIN_SIGNED_IN,
	SIGNIN_NOT_SIGNED_IN, /* the ADFS SSO ended and nothing can renew it */
	SIGNIN_FAILED,        /* ADFS rejected the password: wait for login */
};

/* How assertions are had: Kerberos needs no password ever. */
enum signin_auth {
	SIGNIN_AUTH_FORMS,
	SIGNIN_AUTH_WSTRUST, /* the password every time, no SSO cookies */
	SIGNIN_AUTH_KERBEROS,
};

/* Where a password came from, without anything derived from the password:
 * the configured source and, for a file, which file and which version of
 * it (a new password written there changes inode or times). */
struct signin_source {
	char *ref;        /* "file:PATH" or "credential:NAME"; NULL: typed */
	bool credential;  /* systemd rewrites these at every start: no version */
	uint64_t dev, ino;
	int64_t mtime_ns, ctime_ns;
};

struct signin {
	enum signin_state state;
	char *error;             /* why not signed in; no secret */
	struct secret *password; /* only for one round, or remembered */
	struct signin_source used;     /* where password came from */
	struct signin_source rejected; /* a source ADFS rejected (saved) */
	bool signed_in;          /* an SSO session exists (cookies or sessions) */
	usec_t sso_since;        /* wall clock of the last password round */
	/* What the horizon (session/horizon.h) learns of the SSO: */
	usec_t sso_alive_at;     /* the last round that got an assertion */
	usec_t sso_lifetime_seen; /* the SSOs ADFS gives last at least
				   * this long, learnt from one seen ending
				   * (its last working round) and raised by
				   * any that outlives it; 0: none seen */
	bool cancelled;          /* the user cancelled a password round:
				  * none starts by itself until a login */
	bool mfa_at_signin;      /* the last password round asked a second
				  * factor: the password alone cannot renew */
	bool mfa_this_round;

	/* From the configuration (signin_configure, again at reload). */
	enum signin_auth auth;
	bool remember;           /* adfs.remember_password */
	bool password_source;    /* adfs.password is a file or credential */
};

void signin_configure(struct signin *s, enum signin_auth auth, bool remember,
		      bool password_source);
void signin_clear(struct signin *s);

/* A login with a new password (taken), typed (from NULL) or read from a
 * source: clears a rejected-password state. */
void signin_login(struct signin *s, struct secret *password_take,
		  const struct signin_source *from);
/* The user asked for a login: a rejected source may be tried again. */
void signin_forget_rejection(struct signin *s);
/* Whether the password in source id is the one ADFS rejected: the same
 * source and, for a file, the same version of it. A credential stays
 * rejected until a login (systemd writes it anew at every start). */
bool signin_source_blocked(const struct signin *s,
			   const struct signin_source *id);
/* A sign-in from a blocked source did not happen: FAILED, saying msg. */
void signin_source_refused(struct signin *s, const char *msg);
/* The password to send in this round, or NULL: a login's own password,
 * else a remembered one that ADFS has not rejected. Marks the round as
 * signing in when there is one. */
const struct secret *signin_begin_round(struct signin *s, bool login);
/* ADFS rejected the password: wiped, FAILED, never sent again; when it
 * came from a source, that source (this version of it) is rejected. */
void signin_rejected(struct signin *s, const char *msg);
/* Nothing can renew the SSO without the user (a cookie round met the
 * sign-in form at now: for forms, how long the SSO lasted is noted). */
void signin_sso_ended(struct signin *s, const char *msg, usec_t now);
/* A round failed for another reason (ADFS down): back to where it was. */
void signin_round_failed(struct signin *s, const char *msg);
/* The user cancelled the round (adfs-credctl login interrupted, or
 * --force): a password round goes back to where it was before it; the
 * password is wiped, remembered or not, and the timer sends none (not
 * even from a file) until the next login. Not a rejection: no source is
 * blocked. A round without a password is left as it is. */
void signin_cancelled(struct signin *s, const char *msg);
/* An assertion came. posted_password: this round sent the password, so a
 * new SSO session starts at now. */
void signin_succeeded(struct signin *s, bool posted_password, usec_t now);
void signin_mfa_pending(struct signin *s);
void signin_mfa_answered(struct signin *s);
/* The round is over: a password not remembered goes. */
void signin_round_end(struct signin *s);
/* Logout: password and state forgotten. */
void signin_logout(struct signin *s);
/* A saved SSO session was restored at start. */
void signin_restored(struct signin *s, usec_t sso_since);

/* Whether a password is at hand for a round without the user: remembered
 * or re-read from its source, and not rejected. */
bool signin_password_at_hand(const struct signin *s);

/* Whether a refresh may be asked for (no: the password was rejected). */
bool signin_may_refresh(const struct signin *s);
/* Whether the timer may start a round without the user: SSO cookies,
 * Kerberos, or a password at hand; never after a rejected password nor
 * while a second factor is awaited. */
bool signin_timer_may_start(const struct signin *s);
/* Whether the timer's round is a new sign-in from the configured source
 * (the sign-in at start failed), rather than a refresh. */
bool signin_timer_logs_in(const struct signin *s);
/* Whether a change to the password file is worth a sign-in: ADFS rejected
 * the version it held (the new one is compared before it is sent). */
bool signin_source_may_retry(const struct signin *s);

void signin_source_clear(struct signin_source *src);
int signin_source_copy(struct signin_source *dst,
		       const struct signin_source *src);

const char *signin_state_to_string(enum signin_state s);
