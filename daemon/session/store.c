#include "session/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session/refresh.h"
#include "util/timeutil.h"

static bool json_safe(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int creds_new_take(struct sts_creds *sc, const char *role_arn, usec_t now,
		   struct creds **ret)
{
	_cleanup_(sts_creds_freep) struct sts_creds *in = sc;
	_cleanup_(creds_unrefp) struct creds *c = NULL;
	char exp[ISO8601_MAX], upd[ISO8601_MAX];
	size_t need;
	int n;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n_ref = 1;
	c->access_key_id = TAKE_PTR(in->access_key_id);
	c->secret_access_key = TAKE_PTR(in->secret_access_key);
	c->session_token = TAKE_PTR(in->session_token);
	c->expiration = in->expiration;
	c->issued = now;
	c->role_arn = strdup(role_arn);
	c->account_id = strdup(in->account_id ? in->account_id : "");
	if (!c->role_arn || !c->account_id)
		return -ENOMEM;

	/* STS values are base64 and ARNs: nothing needs JSON escaping.
	 * Anything that would is refused rather than escaped. */
	if (!json_safe(c->access_key_id) ||
	    !json_safe(c->secret_access_key->data) ||
	    !json_safe(c->session_token->data) || !json_safe(c->role_arn) ||
	    !json_safe(c->account_id))
		return -EBADMSG;
	format_iso8601(exp, c->expiration);
	need = 160 + strlen(c->access_key_id) + c->secret_access_key->len +
	       c->session_token->len + strlen(c->role_arn) +
	       strlen(c->account_id);
	c->ecs_json = secret_new(need);
	if (!c->ecs_json)
		return -ENOMEM;
	n = snprintf(c->ecs_json->data, c->ecs_json->cap + 1,
		     "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\","
		     "\"Token\":\"%s\",\"Expiration\":\"%s\","
		     "\"RoleArn\":\"%s\",\"AccountId\":\"%s\"}",
		     c->access_key_id, c->secret_access_key->data,
		     c->session_token->data, exp, c->role_arn, c->account_id);
	if (n < 0 || (size_t)n > c->ecs_json->cap)
		return -ENOBUFS;
	c->ecs_json->len = (size_t)n;

	/* IMDS: Go's SDK requires Code "Success" (PROTOCOLS.md B3). */
	format_iso8601(upd, c->issued);
	c->imds_json = secret_new(need + 64);
	if (!c->imds_json)
		return -ENOMEM;
	n = snprintf(c->imds_json->data, c->imds_json->cap + 1,
		     "{\"Code\":\"Success\",\"LastUpdated\":\"%s\","
		     "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"%s\","
		     "\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
		     "\"Expiration\":\"%s\"}",
		     upd, c->access_key_id, c->secret_access_key->data,
		     c->session_token->data, exp);
	if (n < 0 || (size_t)n > c->imds_json->cap)
		return -ENOBUFS;
	c->imds_json->len = (size_t)n;
	*ret = TAKE_PTR(c);
	return 0;
}

struct creds *creds_ref(struct creds *c)
{
	if (c)
		c->n_ref++;
	return c;
}

struct creds *creds_unref(struct creds *c)
{
	if (!c || --c->n_ref > 0)
		return NULL;
	free(c->access_key_id);
	secret_free(c->secret_access_key);
	secret_free(c->session_token);
	secret_free(c->ecs_json);
	secret_free(c->imds_json);
	free(c->role_arn);
	free(c->account_id);
	free(c);
	return NULL;
}

int store_add_role(struct store *s, const char *name, const char *arn,
		   uint32_t duration_cfg)
{
	struct role_session *n, *r;

	if (store_find(s, name))
		return -EEXIST;
	n = realloc(s->roles, (s->n_roles + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->roles = n;
	r = &s->roles[s->n_roles];
	*r = (struct role_session){
		.name = strdup(name),
		.arn = strdup(arn),
		.max_source = duration_cfg ? MAX_SOURCE_CONFIG
					   : MAX_SOURCE_DEFAULT,
	};
	if (!r->name || !r->arn) {
		free(r->name);
		free(r->arn);
		return -ENOMEM;
	}
	s->n_roles++;
	return 0;
}

struct role_session *store_find(struct store *s, const char *name)
{
	for (size_t i = 0; i < s->n_roles; i++)
		if (streq(s->roles[i].name, name))
			return &s->roles[i];
	return NULL;
}

struct role_session *store_find_arn(struct store *s, const char *arn)
{
	for (size_t i = 0; i < s->n_roles; i++)
		if (streq(s->roles[i].arn, arn))
			return &s->roles[i];
	return NULL;
}

struct role_session *store_default(struct store *s)
{
	if (s->default_idx >= s->n_roles)
		return NULL;
	return &s->roles[s->default_idx];
}

void store_set_creds(struct role_session *r, struct creds *c)
{
	creds_unref(r->creds);
	r->creds = c;
}

bool role_has_valid_creds(const struct role_session *r, usec_t now)
{
	return r->creds && refresh_creds_valid(r->creds->expiration, now);
}

void role_set_error(struct role_session *r, const char *msg)
{
	free(r->last_error);
	r->last_error = msg ? strdup(msg) : NULL;
}

static void role_clear(struct role_session *r)
{
	store_set_creds(r, NULL);
	role_set_error(r, NULL);
	r->state = ROLE_EMPTY;
}

enum role_state role_state_shown(const struct store *s,
				 const struct role_session *r, usec_t now)
{
	enum role_state st = r->state;

	if (st == ROLE_VALID && !role_has_valid_creds(r, now))
		st = ROLE_EXPIRED;
	if (st == ROLE_EMPTY)
		st = s->signed_in ? ROLE_REFRESHING : ROLE_NOT_SIGNED_IN;
	return st;
}

void store_reset(struct store *s)
{
	for (size_t i = 0; i < s->n_roles; i++)
		role_clear(&s->roles[i]);
	s->signed_in = false;
}

void store_clear(struct store *s)
{
	for (size_t i = 0; i < s->n_roles; i++) {
		role_clear(&s->roles[i]);
		free(s->roles[i].name);
		free(s->roles[i].arn);
	}
	free(s->roles);
	free(s->user);
	*s = (struct store){ 0 };
}

const char *role_state_to_string(enum role_state st)
{
	static const char *const names[] = {
		[ROLE_EMPTY] = "empty",
		[ROLE_VALID] = "valid",
		[ROLE_REFRESHING] = "refreshing",
		[ROLE_EXPIRED] = "expired",
		[ROLE_FAILED] = "failed",
		[ROLE_NOT_SIGNED_IN] = "not_signed_in",
	};
	return (size_t)st < ELEMENTSOF(names) ? names[st] : "unknown";
}

const char *max_source_to_string(enum max_source m)
{
	static const char *const names[] = {
		[MAX_SOURCE_DEFAULT] = "default",
		[MAX_SOURCE_CONFIG] = "config",
		[MAX_SOURCE_GET_ROLE] = "get_role",
		[MAX_SOURCE_PROBE] = "probe",
		[MAX_SOURCE_ASSERTION] = "assertion",
	};
	return (size_t)m < ELEMENTSOF(names) ? names[m] : "default";
}
