/* The ECS and IMDS set-up the HTTP tests share (tests/unit/test-route.c,
 * tests/fuzz/fuzz-http.c, tests/fuzz/fuzz-http-mhd.c): a store with four
 * roles, the ECS token, the guard, the ECS and IMDS endpoint state, and a
 * configuration that the guard and IMDS read through a manager-style slot
 * (struct conf *const *). The roles: prod, valid credentials until 12 h
 * after they were issued; dev, credentials that expired 1 h before; broken,
 * failed; later, waiting for a sign-in. serve.allowed_uids holds
 * HTTP_FIXTURE_ALLOWED alone. For the two fuzzers also: the per-input
 * reset and the token placeholders in their inputs.
 *
 * The fixture points into itself (guard, ecs, imds): initialise it where it
 * stays. Functions return 0 or a negative errno; callers abort or assert. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/route.h"
#include "session/store.h"
#include "sts/sts-xml.h"
#include "util/macro.h"
#include "util/secret.h"
#include "util/timeutil.h"

#define HTTP_FIXTURE_ECS_TOKEN "ecsTOKENecsTOKENecsTOKENecsTOKENecsTOKEN123"
#define HTTP_FIXTURE_IMDS_TOKEN "imdsTOKENimdsTOKENimdsTOKENimdsTOKENimdsTOK"
#define HTTP_FIXTURE_ACCOUNT "123456789012"
#define HTTP_FIXTURE_ALLOWED 4242u

_Static_assert(sizeof(HTTP_FIXTURE_ECS_TOKEN) - 1 == RANDOM_TOKEN_LEN,
	       "ECS token size");
_Static_assert(sizeof(HTTP_FIXTURE_IMDS_TOKEN) - 1 == IMDS_TOKEN_LEN,
	       "IMDS token size");

struct http_fixture {
	struct store store;
	struct secret *token; /* the ECS endpoint's token */
	struct guard guard;
	struct ecs ecs;
	struct imds imds;
	uid_t allowed[1];
	struct conf conf;   /* what the manager's slot points at */
	struct conf *confp;
};

/* What differs between the tests. */
struct http_fixture_spec {
	const char *prod_secret, *dev_secret; /* each role's SecretAccessKey */
	const char *broken_error;             /* broken's last error */
	usec_t issued; /* wall clock the credentials were received at */
	uid_t self;    /* the guard's own uid */
};

/* Credentials for role, as STS would have given them. */
static inline int http_fixture_creds(const char *role, const char *secret,
				     usec_t issued, usec_t expiration,
				     struct creds **ret)
{
	_cleanup_(sts_creds_freep) struct sts_creds *sc = NULL;
	char arn[256];

	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	(void)snprintf(arn, sizeof(arn),
		       "arn:aws:sts::" HTTP_FIXTURE_ACCOUNT
		       ":assumed-role/%s/alice",
		       role);
	sc->access_key_id = strdup("ASIAFUZZFUZZFUZZFUZZ");
	sc->secret_access_key = secret_new_from(secret, strlen(secret));
	sc->session_token = secret_new_from("FwoGZXIvYXdzEFUZZ", 17);
	sc->assumed_role_arn = strdup(arn);
	sc->account_id = strdup(HTTP_FIXTURE_ACCOUNT);
	sc->expiration = expiration;
	if (!sc->access_key_id || !sc->secret_access_key ||
	    !sc->session_token || !sc->assumed_role_arn || !sc->account_id)
		return -ENOMEM;
	(void)snprintf(arn, sizeof(arn),
		       "arn:aws:iam::" HTTP_FIXTURE_ACCOUNT ":role/%s", role);
	return creds_new_take(TAKE_PTR(sc), arn, issued, ret);
}

/* Adds role name in state; c (taken, may be NULL) are its credentials. */
static inline int http_fixture_role(struct http_fixture *f, const char *name,
				    enum role_state state, struct creds *c)
{
	_cleanup_(creds_unrefp) struct creds *owned = c;
	char arn[256];
	int r;

	(void)snprintf(arn, sizeof(arn),
		       "arn:aws:iam::" HTTP_FIXTURE_ACCOUNT ":role/%s", name);
	r = store_add_role(&f->store, name, arn, 0);
	if (r < 0)
		return r;
	f->store.roles[f->store.n_roles - 1].state = state;
	if (owned)
		store_set_creds(&f->store.roles[f->store.n_roles - 1],
				TAKE_PTR(owned));
	return 0;
}

/* Fills f (zeroed): the roles, signed in, the token, the allowed uid,
 * serve.imds_role prod, the guard, ECS and IMDS. */
static inline int http_fixture_init(struct http_fixture *f,
				    const struct http_fixture_spec *s)
{
	struct creds *prod = NULL, *dev = NULL;
	int r;

	r = http_fixture_creds("prod", s->prod_secret, s->issued,
			       s->issued + 12 * USEC_PER_HOUR, &prod);
	r = r ?: http_fixture_role(f, "prod", ROLE_VALID, TAKE_PTR(prod));
	r = r ?: http_fixture_creds("dev", s->dev_secret, s->issued,
				    s->issued - USEC_PER_HOUR, &dev);
	r = r ?: http_fixture_role(f, "dev", ROLE_EXPIRED, TAKE_PTR(dev));
	r = r ?: http_fixture_role(f, "broken", ROLE_FAILED, NULL);
	if (r < 0)
		return r;
	role_set_error(&f->store.roles[2], s->broken_error);
	r = http_fixture_role(f, "later", ROLE_NOT_SIGNED_IN, NULL);
	if (r < 0)
		return r;
	f->store.signed_in = true;

	f->token = secret_new_from(HTTP_FIXTURE_ECS_TOKEN,
				   strlen(HTTP_FIXTURE_ECS_TOKEN));
	if (!f->token)
		return -ENOMEM;
	f->allowed[0] = HTTP_FIXTURE_ALLOWED;
	f->conf.serve.allowed_uids = f->allowed;
	f->conf.serve.n_allowed_uids = 1;
	f->conf.serve.imds_role = (char *)"prod";
	f->confp = &f->conf;
	f->guard = (struct guard){ .self = s->self, .conf = &f->confp };
	f->ecs = (struct ecs){ .store = &f->store, .token = f->token,
			       .guard = &f->guard };
	r = imds_init(&f->imds);
	if (r < 0)
		return r;
	f->imds.store = &f->store;
	f->imds.guard = &f->guard;
	f->imds.conf = &f->confp;
	return 0;
}

static inline void http_fixture_clear(struct http_fixture *f)
{
	imds_clear(&f->imds);
	guard_clear(&f->guard);
	store_clear(&f->store);
	f->token = secret_free(f->token);
}

/* The HTTP fuzzers (byte 0 of an input picks the set-up; see their top
 * comments). Per input, the same state every time: one live IMDS session
 * token, HTTP_FIXTURE_IMDS_TOKEN, until an hour after now_mono;
 * serve.imds_role prod, none with mode bit 2; signed in, not with bit 1. */
static inline void http_fixture_reset(struct http_fixture *f, uint8_t mode,
				      usec_t now_mono)
{
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		f->imds.tokens[i].expires = 0;
	f->imds.next = 0;
	memcpy(f->imds.tokens[0].value, HTTP_FIXTURE_IMDS_TOKEN,
	       IMDS_TOKEN_LEN + 1);
	f->imds.tokens[0].expires = now_mono + USEC_PER_HOUR;
	f->conf.serve.imds_role = (mode & 4) ? NULL : (char *)"prod";
	f->store.signed_in = !(mode & 2);
}

/* A placeholder in a fuzz input and what replaces it. */
struct http_fixture_sub {
	const char *from, *to;
};

/* data with each of the n placeholders in subs replaced (each replacement
 * at most 4 times as long as its placeholder); NUL-terminated, *ret_len
 * without the NUL. NULL when out of memory. */
static inline char *http_fixture_substitute(const uint8_t *data, size_t size,
					    const struct http_fixture_sub *subs,
					    size_t n, size_t *ret_len)
{
	char *out = malloc(size * 4 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < size;) {
		bool done = false;

		for (size_t k = 0; k < n && !done; k++) {
			size_t fl = strlen(subs[k].from);

			if (size - i >= fl &&
			    memcmp(data + i, subs[k].from, fl) == 0) {
				memcpy(out + o, subs[k].to, strlen(subs[k].to));
				o += strlen(subs[k].to);
				i += fl;
				done = true;
			}
		}
		if (!done)
			out[o++] = (char)data[i++];
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}
