#include "session/persist.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "session/token.h"
#include "util/encode.h"
#include "util/buf.h"
#include "util/timeutil.h"

char *persist_identity(const struct conf *c)
{
	const char *parts[] = { c->adfs.url, strempty(c->adfs.username),
				c->adfs.relying_party, c->aws.sts_endpoint };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *hex;

	if (!ctx)
		return NULL;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto fail;
	for (size_t i = 0; i < ELEMENTSOF(parts); i++)
		if (EVP_DigestUpdate(ctx, strempty(parts[i]),
				     strlen(strempty(parts[i])) + 1) != 1)
			goto fail;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto fail;
	EVP_MD_CTX_free(ctx);
	hex = malloc(ENCODE_HEX_LEN(mdlen) + 1);
	if (!hex)
		return NULL;
	encode_hex(md, mdlen, hex);
	return hex;
fail:
	EVP_MD_CTX_free(ctx);
	return NULL;
}

static json_t *time_or_null(usec_t t)
{
	char b[ISO8601_MAX];

	return t ? json_string(format_iso8601(b, t)) : json_null();
}

static json_t *role_json(const struct role_session *r,
			 const struct role_plan *pl)
{
	const struct creds *c = r->creds;
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:I, s:s, s:b, s:o}",
		      "name", r->name, "arn", r->arn, "principal_arn",
		      pl->principal_arn ? json_string(pl->principal_arn)
				       : json_null(),
		      "duration_used", (json_int_t)r->duration_used,
		      "max_duration", (json_int_t)r->max_duration, "max_source",
		      max_source_to_string(r->max_source), "role_max",
		      (json_int_t)pl->sizing.role_max, "role_max_source",
		      max_source_to_string(pl->sizing.source), "get_role_denied",
		      pl->sizing.get_role_denied, "probed_up",
		      time_or_null(pl->probed_up));
	if (o && c &&
	    json_object_set_new(
		    o, "creds",
		    json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "access_key_id",
			      c->access_key_id, "secret_access_key",
			      c->secret_access_key->data, "session_token",
			      c->session_token->data, "expiration",
			      time_or_null(c->expiration), "issued",
			      time_or_null(c->issued), "account_id",
			      c->account_id)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Which password source ADFS rejected: its name and file version only. */
static json_t *source_json(const struct signin_source *src)
{
	if (!src || !src->ref)
		return json_null();
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "ref", src->ref,
			 "credential", src->credential, "dev",
			 (json_int_t)src->dev, "ino", (json_int_t)src->ino,
			 "mtime_ns", (json_int_t)src->mtime_ns, "ctime_ns",
			 (json_int_t)src->ctime_ns);
}

static int load_source(json_t *o, struct signin_source *ret)
{
	const char *ref = json_string_value(json_object_get(o, "ref"));

	if (!json_is_object(o) || !ref)
		return 0;
	ret->ref = strdup(ref);
	if (!ret->ref)
		return -ENOMEM;
	ret->credential = json_is_true(json_object_get(o, "credential"));
	ret->dev = (uint64_t)json_integer_value(json_object_get(o, "dev"));
	ret->ino = (uint64_t)json_integer_value(json_object_get(o, "ino"));
	ret->mtime_ns = json_integer_value(json_object_get(o, "mtime_ns"));
	ret->ctime_ns = json_integer_value(json_object_get(o, "ctime_ns"));
	return 0;
}

int persist_save(const char *state_dir, const char *identity,
		 const struct store *s, const struct plans *p,
		 const char *const *cookies, size_t n,
		 const struct persist_sso *sso,
		 const struct signin_source *rejected, usec_t now)
{
	static const struct persist_sso none;
	json_t *roles = json_array(), *jc = json_array(), *o;
	char *text;
	int r;

	if (!roles || !jc) {
		json_decref(roles);
		json_decref(jc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(jc, json_string(cookies[i])) < 0) {
			json_decref(roles);
			json_decref(jc);
			return -ENOMEM;
		}
	for (size_t i = 0; i < s->n_roles && i < p->n; i++) {
		json_t *rj = role_json(&s->roles[i], &p->v[i]);

		if (!rj || json_array_append_new(roles, rj) < 0) {
			json_decref(roles);
			json_decref(jc);
			return -ENOMEM;
		}
	}
	if (!sso)
		sso = &none;
	o = json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:I, s:b, s:o, s:o, s:o}",
		      "version", PERSIST_VERSION, "identity", identity,
		      "saved", time_or_null(now), "user",
		      s->user ? json_string(s->user) : json_null(), "sso_since",
		      time_or_null(sso->since), "sso_alive_at",
		      time_or_null(sso->alive_at), "sso_lifetime_seen",
		      (json_int_t)(sso->lifetime_seen / USEC_PER_SEC),
		      "sso_mfa", sso->mfa, "cookies", jc, "roles", roles,
		      "rejected_source", source_json(rejected));
	if (!o)
		return -ENOMEM;
	/* jansson's heap is wiped on free (util/wipe-alloc.c). */
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	r = write_file_atomic(state_dir, PERSIST_FILE, text, strlen(text));
	explicit_bzero(text, strlen(text));
	free(text);
	return r;
}

static int get_time(json_t *o, const char *k, usec_t *ret)
{
	json_t *v = json_object_get(o, k);

	if (json_is_null(v) || !v) {
		*ret = 0;
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	return parse_iso8601(json_string_value(v), ret);
}

static uint32_t get_u32(json_t *o, const char *k, uint32_t max)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 && v <= (json_int_t)max ? (uint32_t)v : 0;
}

static enum max_source source_from_string(const char *s)
{
	for (enum max_source m = MAX_SOURCE_DEFAULT; m <= MAX_SOURCE_ASSERTION;
	     m++)
		if (s && streq(s, max_source_to_string(m)))
			return m;
	return MAX_SOURCE_DEFAULT;
}

/* Rebuilds a role's credentials; 0 when they are expired (dropped). */
static int load_creds(json_t *jc, const char *role_arn, usec_t now,
		      struct creds **ret)
{
	_cleanup_(sts_creds_freep) struct sts_creds *sc = NULL;
	const char *akid = json_string_value(json_object_get(jc, "access_key_id"));
	const char *sk = json_string_value(json_object_get(jc, "secret_access_key"));
	const char *tok = json_string_value(json_object_get(jc, "session_token"));
	const char *acct = json_string_value(json_object_get(jc, "account_id"));
	usec_t exp, issued;

	if (!akid || !sk || !tok || !acct ||
	    get_time(jc, "expiration", &exp) < 0 || !exp ||
	    get_time(jc, "issued", &issued) < 0)
		return -EBADMSG;
	if (exp <= now)
		return 0;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->access_key_id = strdup(akid);
	sc->account_id = strdup(acct);
	sc->secret_access_key = secret_new_from(sk, strlen(sk));
	sc->session_token = secret_new_from(tok, strlen(tok));
	sc->expiration = exp;
	if (!sc->access_key_id || !sc->account_id || !sc->secret_access_key ||
	    !sc->session_token)
		return -ENOMEM;
	return creds_new_take(TAKE_PTR(sc), role_arn, issued ? issued : now,
			      ret) < 0
		       ? -EBADMSG
		       : 1;
}

int persist_load(const char *state_dir, const char *identity, usec_t now,
		 struct store *s, struct plans *p, bool add_roles,
		 struct persist_state *ret,
		 const char **ret_why)
{
	_cleanup_free_ char *path = NULL;
	struct persist_state st = { 0 };
	json_t *o = NULL, *roles, *cookies, *v;
	json_error_t jerr;
	struct buf b;
	size_t i;
	int r;

	*ret_why = NULL;
	if (asprintf(&path, "%s/%s", state_dir, PERSIST_FILE) < 0)
		return -ENOMEM;
	buf_init(&b, PERSIST_MAX_SIZE);
	r = buf_read_file(&b, path);
	if (r == -ENOENT) {
		buf_clear(&b);
		return 0;
	}
	if (r < 0) {
		buf_clear(&b);
		*ret_why = r == -ENOBUFS ? "it is too large" : "it cannot be read";
		return 0;
	}
	o = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
	buf_clear(&b);
	if (!json_is_object(o)) {
		*ret_why = "it does not parse";
		goto ignore;
	}
	if (json_integer_value(json_object_get(o, "version")) !=
	    PERSIST_VERSION) {
		*ret_why = "it has another format version";
		goto ignore;
	}
	v = json_object_get(o, "identity");
	if (!json_is_string(v) || !streq(json_string_value(v), identity)) {
		*ret_why = "it belongs to another configuration (ADFS URL, "
			   "user name, relying party or STS endpoint changed)";
		goto ignore;
	}
	roles = json_object_get(o, "roles");
	cookies = json_object_get(o, "cookies");
	if (!json_is_array(roles) || !json_is_array(cookies) ||
	    get_time(o, "sso_since", &st.sso.since) < 0 ||
	    get_time(o, "sso_alive_at", &st.sso.alive_at) < 0 ||
	    get_time(o, "saved", &st.saved) < 0) {
		*ret_why = "it does not parse";
		goto ignore;
	}
	st.sso.lifetime_seen =
		get_u32(o, "sso_lifetime_seen", 366u * 86400u) * USEC_PER_SEC;
	st.sso.mfa = json_is_true(json_object_get(o, "sso_mfa"));

	if (load_source(json_object_get(o, "rejected_source"), &st.rejected) <
	    0) {
		r = -ENOMEM;
		goto out;
	}
	st.cookies = calloc(json_array_size(cookies) + 1, sizeof(char *));
	if (!st.cookies) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(cookies, i, v)
	{
		if (!json_is_string(v))
			continue;
		st.cookies[st.n_cookies] = strdup(json_string_value(v));
		if (!st.cookies[st.n_cookies]) {
			r = -ENOMEM;
			goto out;
		}
		st.n_cookies++;
	}
	v = json_object_get(o, "user");
	if (json_is_string(v)) {
		st.user = strdup(json_string_value(v));
		if (!st.user) {
			r = -ENOMEM;
			goto out;
		}
	}

	json_array_foreach(roles, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *arn = json_string_value(json_object_get(v, "arn"));
		const char *pa =
			json_string_value(json_object_get(v, "principal_arn"));
		struct role_session *rs;
		struct role_plan *pl;
		struct creds *c = NULL;

		if (!name || !arn)
			continue;
		rs = store_find_arn(s, arn);
		if (!rs && add_roles) {
			r = roles_add(s, p, name, arn, pa, 0);
			if (r < 0 && r != -EEXIST)
				goto out;
			rs = store_find_arn(s, arn);
		}
		pl = rs ? plan_of(p, s, rs) : NULL;
		if (!pl)
			continue; /* no longer configured */
		if (!pl->principal_arn && pa)
			pl->principal_arn = strdup(pa);
		rs->duration_used = get_u32(v, "duration_used", CONF_DURATION_MAX);
		rs->max_duration = get_u32(v, "max_duration", CONF_DURATION_MAX);
		pl->sizing.role_max = get_u32(v, "role_max", CONF_DURATION_MAX);
		pl->sizing.get_role_denied =
			json_is_true(json_object_get(v, "get_role_denied"));
		if (get_time(v, "probed_up", &pl->probed_up) < 0)
			pl->probed_up = 0;
		if (!pl->duration_cfg) {
			rs->max_source = source_from_string(json_string_value(
				json_object_get(v, "max_source")));
			pl->sizing.source = source_from_string(json_string_value(
				json_object_get(v, "role_max_source")));
		}
		if (json_is_object(json_object_get(v, "creds"))) {
			r = load_creds(json_object_get(v, "creds"), rs->arn, now,
				       &c);
			if (r == -ENOMEM)
				goto out;
			if (r > 0) {
				store_set_creds(rs, c);
				rs->state = ROLE_VALID;
			}
		}
	}
	json_decref(o);
	*ret = st;
	return 1;

ignore:
	r = 0;
out:
	json_decref(o);
	persist_state_clear(&st);
	return r;
}

int persist_remove(const char *state_dir)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", state_dir, PERSIST_FILE) < 0)
		return -ENOMEM;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void persist_state_clear(struct persist_state *p)
{
	for (size_t i = 0; i < p->n_cookies; i++)
		erase_and_free(p->cookies[i]);
	free(p->cookies);
	free(p->user);
	signin_source_clear(&p->rejected);
	*p = (struct persist_state){ 0 };
}
