/* The checks on one key's value, and the store into its field: the
 * conf_set_*() functions the mapper's key tables name. Each reports what
 * is wrong at the value's mark. Scalars are read by the type the key
 * expects, whatever the quoting: "900" and 900 are the same duration. See
 * docs/internals/conf.md for the rules. */
#include "conf/conf-private.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

#define ROLE_REF_MAX 128u /* default_role: a name or "account-id/role" */

/* The text of a scalar that must hold a value, or NULL after reporting
 * why not. what completes "NAME must be ..." for the wrong kind. */
static const char *scalar(struct conf_parse *p, const char *name,
			  const struct conf_value *v, const char *what)
{
	char g[CONF_QUOTE_BUF];

	if (v->kind != CONF_KIND_SCALAR) {
		conf_report(p, v->mark, "%s must be %s (got %s)", name, what,
			    conf_report_got(g, v));
		return NULL;
	}
	if (v->null || v->len == 0) {
		conf_report(p, v->mark, "%s: must not be empty", name);
		return NULL;
	}
	if (strlen(v->text) != v->len) {
		conf_report(p, v->mark, "%s must not contain NUL characters",
			    name);
		return NULL;
	}
	if (v->len > CONF_MAX_STRING) {
		conf_report(p, v->mark, "%s is too long (at most %u bytes)",
			    name, CONF_MAX_STRING);
		return NULL;
	}
	return v->text;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static int set_string(struct conf_parse *p, char **field, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return conf_report_oom(p);
	free(*field);
	*field = copy;
	return 0;
}

static int bad(struct conf_parse *p, const char *name,
	       const struct conf_value *v, const char *problem)
{
	conf_report_value(p, name, v, problem);
	return -EINVAL;
}

int conf_set_string(struct conf_parse *p, const char *name,
		    const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "a string");

	if (!s)
		return -EINVAL;
	if (has_control(s))
		return bad(p, name, v, "must not contain control characters");
	return set_string(p, field, s);
}

int conf_set_path(struct conf_parse *p, const char *name,
		  const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "a file path");

	if (!s)
		return -EINVAL;
	return set_string(p, field, s);
}

int conf_set_abs_path(struct conf_parse *p, const char *name,
		      const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "an absolute path");

	if (!s)
		return -EINVAL;
	if (s[0] != '/')
		return bad(p, name, v, "must be an absolute path");
	return set_string(p, field, s);
}

/* https only; the scheme is lowercased and trailing slashes of the path
 * dropped, so users of the URL may append "/path" without doubling. */
int conf_set_url(struct conf_parse *p, const char *name,
		 const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "an https:// URL"), *problem;
	char *url, *path;
	size_t n;

	if (!s)
		return -EINVAL;
	problem = conf_check_https_url(s);
	if (problem)
		return bad(p, name, v, problem);
	url = strdup(s);
	if (!url)
		return conf_report_oom(p);
	memcpy(url, "https", 5);
	path = url + 8 + strcspn(url + 8, "/");
	n = strlen(url);
	while (url + n > path && url[n - 1] == '/')
		url[--n] = '\0';
	free(*(char **)field);
	*(char **)field = url;
	return 0;
}

int conf_set_auth(struct conf_parse *p, const char *name,
		  const struct conf_value *v, void *field)
{
	static const struct {
		const char *s;
		enum conf_auth v;
	} table[] = {
		{ "forms", CONF_AUTH_FORMS },
		{ "kerberos", CONF_AUTH_KERBEROS },
		{ "wstrust", CONF_AUTH_WSTRUST },
	};
	const char *s = scalar(p, name, v, "forms, kerberos or wstrust");

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(s, table[i].s)) {
			*(enum conf_auth *)field = table[i].v;
			return 0;
		}
	return bad(p, name, v, "must be forms, kerberos or wstrust");
}

int conf_set_mfa_renewal(struct conf_parse *p, const char *name,
			 const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "notify or push");

	if (!s)
		return -EINVAL;
	if (streq(s, "notify"))
		*(enum conf_mfa_renewal *)field = CONF_MFA_RENEWAL_NOTIFY;
	else if (streq(s, "push"))
		*(enum conf_mfa_renewal *)field = CONF_MFA_RENEWAL_PUSH;
	else
		return bad(p, name, v, "must be notify or push");
	return 0;
}

/* prompt | credential:NAME | file:PATH. A value that is none of them may
 * be the password itself, so it is never echoed. */
int conf_set_password(struct conf_parse *p, const char *name,
		      const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v,
			       "prompt, credential:NAME or file:PATH");
	struct conf *c = p->conf;
	const char *ref;

	(void)field; /* sets password and password_ref together, through c */
	if (!s)
		return -EINVAL;
	if (streq(s, "prompt")) {
		c->adfs.password = CONF_PASSWORD_PROMPT;
		free(c->adfs.password_ref);
		c->adfs.password_ref = NULL;
		return 0;
	}
	if (strneq(s, "credential:", 11)) {
		ref = s + 11;
		/* A name inside $CREDENTIALS_DIRECTORY (systemd.exec(5),
		 * LoadCredential=): one path component. */
		if (!*ref || strchr(ref, '/') || streq(ref, ".") ||
		    streq(ref, "..") || strlen(ref) > 255 || has_control(ref))
			return bad(p, name, v,
				   "credential:NAME needs a NAME as given to "
				   "LoadCredential=, without '/'");
		if (set_string(p, &c->adfs.password_ref, ref) < 0)
			return -ENOMEM;
		c->adfs.password = CONF_PASSWORD_CREDENTIAL;
		return 0;
	}
	if (strneq(s, "file:", 5)) {
		ref = s + 5;
		if (ref[0] != '/')
			return bad(p, name, v,
				   "file:PATH needs an absolute PATH");
		if (set_string(p, &c->adfs.password_ref, ref) < 0)
			return -ENOMEM;
		c->adfs.password = CONF_PASSWORD_FILE;
		return 0;
	}
	conf_report(p, v->mark,
		    "%s must be prompt, credential:NAME or file:PATH (the "
		    "value is not shown: the password itself does not belong "
		    "in this file)",
		    name);
	return -EINVAL;
}

int conf_set_bool(struct conf_parse *p, const char *name,
		  const struct conf_value *v, void *field)
{
	static const char *const yes[] = { "true", "True", "TRUE",
					   "yes",  "Yes",  "YES" };
	static const char *const no[] = { "false", "False", "FALSE",
					  "no",    "No",    "NO" };
	const char *s = scalar(p, name, v, "true or false");

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (streq(s, yes[i])) {
			*(bool *)field = true;
			return 0;
		}
		if (streq(s, no[i])) {
			*(bool *)field = false;
			return 0;
		}
	}
	return bad(p, name, v, "must be true or false");
}

static int set_duration(struct conf_parse *p, const char *name,
			const struct conf_value *v, usec_t *field, usec_t min,
			usec_t max)
{
	const char *s = scalar(p, name, v, "a duration");
	char a[32], b[32], problem[128];
	usec_t d;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_duration(s, &d);
	if (r == -EINVAL)
		return bad(p, name, v,
			   "must be a duration like 30s, 10m or 1h (a plain "
			   "number is seconds)");
	if (r < 0 || d < min || d > max) {
		(void)snprintf(problem, sizeof(problem),
			       "must be between %s and %s",
			       format_duration(a, min), format_duration(b, max));
		return bad(p, name, v, problem);
	}
	*field = d;
	return 0;
}

int conf_set_timeout(struct conf_parse *p, const char *name,
		     const struct conf_value *v, void *field)
{
	return set_duration(p, name, v, field, USEC_PER_SEC,
			    10 * USEC_PER_MINUTE);
}

int conf_set_min_remaining(struct conf_parse *p, const char *name,
			   const struct conf_value *v, void *field)
{
	return set_duration(p, name, v, field, USEC_PER_MINUTE,
			    6 * USEC_PER_HOUR);
}

int conf_set_sso_lifetime(struct conf_parse *p, const char *name,
			  const struct conf_value *v, void *field)
{
	return set_duration(p, name, v, field, USEC_PER_MINUTE,
			    90 * USEC_PER_DAY);
}

int conf_set_notify_before(struct conf_parse *p, const char *name,
			   const struct conf_value *v, void *field)
{
	return set_duration(p, name, v, field, USEC_PER_MINUTE,
			    24 * USEC_PER_HOUR);
}

/* A string checked by one of the conf_check_*() helpers. */
static int set_checked(struct conf_parse *p, const char *name,
		       const struct conf_value *v, void *field,
		       const char *what, const char *(*check)(const char *s))
{
	const char *s = scalar(p, name, v, what), *problem;

	if (!s)
		return -EINVAL;
	problem = check(s);
	if (problem)
		return bad(p, name, v, problem);
	return set_string(p, field, s);
}

int conf_set_region(struct conf_parse *p, const char *name,
		    const struct conf_value *v, void *field)
{
	return set_checked(p, name, v, field, "a region name",
			   conf_check_region);
}

int conf_set_role_name(struct conf_parse *p, const char *name,
		       const struct conf_value *v, void *field)
{
	return set_checked(p, name, v, field, "a role name",
			   conf_check_role_name);
}

int conf_set_role_arn(struct conf_parse *p, const char *name,
		      const struct conf_value *v, void *field)
{
	return set_checked(p, name, v, field, "a role ARN",
			   conf_check_role_arn);
}

int conf_set_provider_arn(struct conf_parse *p, const char *name,
			  const struct conf_value *v, void *field)
{
	return set_checked(p, name, v, field, "a SAML provider ARN",
			   conf_check_provider_arn);
}

/* max (0) or 900..43200 s (AssumeRoleWithSAML DurationSeconds). */
int conf_set_role_duration(struct conf_parse *p, const char *name,
			   const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "max or a duration");
	usec_t d;
	int r;

	if (!s)
		return -EINVAL;
	if (streq(s, "max")) {
		*(uint32_t *)field = 0;
		return 0;
	}
	r = parse_duration(s, &d);
	if (r == -EINVAL)
		return bad(p, name, v,
			   "must be max, a number of seconds or a duration "
			   "like 4h or 90m");
	if (r < 0 || d < CONF_DURATION_MIN * USEC_PER_SEC ||
	    d > CONF_DURATION_MAX * USEC_PER_SEC)
		return bad(p, name, v,
			   "must be max or between 900 and 43200 seconds "
			   "(15m to 12h)");
	*(uint32_t *)field = (uint32_t)(d / USEC_PER_SEC);
	return 0;
}

/* A role named elsewhere: checked against roles (when given) by
 * conf_validate(). */
int conf_set_role_ref(struct conf_parse *p, const char *name,
		      const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "a role name");
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
			return bad(p, name, v,
				   "must be a role name without spaces");
	if (n > ROLE_REF_MAX)
		return bad(p, name, v, "is too long for a role name");
	return set_string(p, field, s);
}

int conf_set_listen(struct conf_parse *p, const char *name,
		    const struct conf_value *v, void *field)
{
	struct conf_listen *l = field, n;
	const char *s, *problem;
	char g[CONF_QUOTE_BUF];
	int r;

	if (v->kind == CONF_KIND_LIST) {
		/* "[::1]:9911" unquoted starts a flow sequence. */
		conf_report(p, v->mark,
			    "%s must be HOST:PORT or off (got %s; quote IPv6 "
			    "listeners: \"[::1]:9911\")",
			    name, conf_report_got(g, v));
		return -EINVAL;
	}
	s = scalar(p, name, v, "HOST:PORT or off");
	if (!s)
		return -EINVAL;
	problem = conf_check_listen(s);
	if (problem)
		return bad(p, name, v, problem);
	r = conf_parse_listen(s, &n);
	if (r < 0)
		return r == -ENOMEM ? conf_report_oom(p) : r;
	conf_listen_clear(l);
	*l = n;
	return 0;
}

int conf_set_uids(struct conf_parse *p, const char *name,
		  const struct conf_value *v, void *field)
{
	struct conf *c = p->conf;
	char g[CONF_QUOTE_BUF];
	bool failed = false;
	uid_t *uids;

	(void)field;
	if (v->kind == CONF_KIND_SCALAR && v->null)
		return 0; /* "allowed_uids:" with the list commented out */
	if (v->kind != CONF_KIND_LIST) {
		conf_report(p, v->mark,
			    "%s must be a list of uids, e.g. [1001, 1002] (got "
			    "%s)",
			    name, conf_report_got(g, v));
		return -EINVAL;
	}
	if (v->n_items > CONF_MAX_UIDS) {
		conf_report(p, v->mark,
			    "%s lists %zu uids; at most %u are allowed", name,
			    v->n_items, CONF_MAX_UIDS);
		return -EINVAL;
	}
	if (v->n_items == 0)
		return 0;
	assert(v->items);
	uids = calloc(v->n_items, sizeof(*uids));
	if (!uids)
		return conf_report_oom(p);
	for (size_t i = 0; i < v->n_items; i++) {
		const struct conf_value *item = &v->items[i];
		const char *s = item->kind == CONF_KIND_SCALAR ? item->text : "";
		size_t len = item->kind == CONF_KIND_SCALAR ? item->len : 0;
		unsigned long long u = 0;

		/* (uid_t)-1 means "no change" to chown(2): never a user. */
		if (len == 0 || len > 10 || strspn(s, "0123456789") != len ||
		    (u = strtoull(s, NULL, 10)) > 4294967294ULL) {
			conf_report(p, item->mark,
				    "%s[%zu] must be a uid between 0 and "
				    "4294967294 (got %s)",
				    name, i, conf_report_got(g, item));
			failed = true;
			continue;
		}
		uids[i] = (uid_t)u;
	}
	if (failed) {
		free(uids);
		return -EINVAL;
	}
	free(c->serve.allowed_uids);
	c->serve.allowed_uids = uids;
	c->serve.n_allowed_uids = v->n_items;
	return 0;
}

int conf_set_log_level(struct conf_parse *p, const char *name,
		       const struct conf_value *v, void *field)
{
	const char *s = scalar(p, name, v, "error, warning, info or debug");
	int level;

	if (!s)
		return -EINVAL;
	level = log_level_from_string(s);
	if (level < 0)
		return bad(p, name, v, "must be error, warning, info or debug");
	*(int *)field = level;
	return 0;
}

int conf_set_roles(struct conf_parse *p, const char *name,
		   const struct conf_value *v)
{
	struct conf *c = p->conf;
	char g[CONF_QUOTE_BUF];

	p->roles_errors = p->n_errors;
	if (v->kind != CONF_KIND_LIST || v->n_items == 0) {
		conf_report(p, v->mark,
			    "%s must list at least one role with name and arn "
			    "(got %s; remove the key to hold every role the "
			    "assertion offers)",
			    name,
			    v->kind == CONF_KIND_LIST ? "an empty list" :
			    v->null		      ? "nothing" :
							conf_report_got(g, v));
		return -EINVAL;
	}
	if (v->n_items > CONF_MAX_ROLES) {
		conf_report(p, v->mark,
			    "%s lists %zu roles; at most %u are allowed", name,
			    v->n_items, CONF_MAX_ROLES);
		return -EINVAL;
	}
	c->roles = calloc(v->n_items, sizeof(*c->roles));
	if (!c->roles)
		return conf_report_oom(p);
	c->n_roles = v->n_items;
	return 0;
}

void conf_set_role_done(struct conf_parse *p, const char *name, size_t i,
			struct conf_mark role, const struct conf_mark *name_at,
			bool has_arn)
{
	const struct conf *c = p->conf;
	const char *role_name = c->roles[i].name;

	if (!name_at)
		conf_report(p, role, "%s[%zu].name is required", name, i);
	if (!has_arn)
		conf_report(p, role, "%s[%zu].arn is required", name, i);
	if (!role_name || !name_at)
		return;
	for (size_t j = 0; j < i; j++)
		if (c->roles[j].name && streq(c->roles[j].name, role_name)) {
			conf_report(p, *name_at,
				    "%s[%zu].name '%s' is already used by "
				    "%s[%zu]",
				    name, i, role_name, name, j);
			return;
		}
}

void conf_set_roles_done(struct conf_parse *p)
{
	p->roles_ok = p->n_errors == p->roles_errors;
}
