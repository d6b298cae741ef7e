/* YAML -> struct conf (INTERFACE.md "Config (YAML)").
 *
 * Two passes over the bytes, both with libyaml:
 *  1. the event parser checks what the schema never uses: anchors,
 *     aliases, unexpected tags, a second document, deep nesting, and
 *     reports syntax errors;
 *  2. the document loader builds the node tree (nodes carry marks), which
 *     tables of { key, parser, offsetof } walk into a struct conf.
 * Every problem is collected as "PATH:LINE:COL: message" (1-based) and the
 * parse fails only at the end, so one run shows them all. Pure: no I/O, no
 * environment, no globals, so it can be fuzzed. */
#include "conf/conf.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util/log.h"
#include "util/timeutil.h"

/* The schema nests three deep (root, roles, a role); anything far deeper
 * is not a configuration, and stopping early bounds the loader's work. */
#define MAX_DEPTH 16u
#define MAX_FIELDS 16u      /* keys in one table */
#define MAX_SEEN 48u        /* keys recorded for the cross-field checks */
#define QUOTE_MAX 128u      /* bytes of a value echoed in a message */
#define QUOTE_BUF (QUOTE_MAX * 4u + 8u)
#define NAME_MAX_LEN 48u    /* "roles[255].principal_arn" */
#define ROLE_REF_MAX 128u   /* default_role: a name or "account-id/role" */

struct ctx;

struct table;

/* One key of a mapping: parse() fills (char *)base + offset; or, for a
 * section, sub names the table that fills the same base. */
struct field {
	const char *key;
	int (*parse)(struct ctx *ctx, const char *name, yaml_node_t *node,
		     void *p);
	size_t offset;
	const struct table *sub;
};

struct table {
	const struct field *fields;
	size_t n;
};

/* An error waiting to be sorted into place. */
struct pending {
	size_t line, column, seq;
	char *msg;
};

/* A key of struct conf that was given, with its nodes (for marks). */
struct seen {
	char name[NAME_MAX_LEN];
	yaml_node_t *key;
	yaml_node_t *node;
};

struct ctx {
	const char *path;
	yaml_document_t *doc;
	struct conf *conf;
	struct conf_errors *errs;
	struct pending pending[CONF_MAX_ERRORS];
	size_t n_pending;
	size_t n_errors;  /* every error, including ones not kept */
	size_t dropped;   /* errors beyond CONF_MAX_ERRORS */
	int r;            /* sticky -ENOMEM */
	yaml_mark_t root_mark;
	struct seen seen[MAX_SEEN];
	size_t n_seen;
	bool roles_ok;    /* roles given and free of errors */
};

static void err_at(struct ctx *ctx, yaml_mark_t mark, const char *fmt, ...)
	_printf_(3, 4);

/* Errors are kept here and handed to errs sorted by position at the end:
 * the two passes and the cross-key checks find them out of order. */
static void err_at(struct ctx *ctx, yaml_mark_t mark, const char *fmt, ...)
{
	char msg[1024], *m;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->n_errors++;
	if (asprintf(&m, "%s:%zu:%zu: %s", ctx->path, mark.line + 1,
		     mark.column + 1, msg) < 0) {
		ctx->r = -ENOMEM;
		return;
	}
	/* The same complaint at the same place twice says nothing new. */
	for (size_t i = 0; i < ctx->n_pending; i++)
		if (streq(ctx->pending[i].msg, m)) {
			free(m);
			return;
		}
	if (ctx->n_pending >= CONF_MAX_ERRORS) {
		ctx->dropped++;
		free(m);
		return;
	}
	ctx->pending[ctx->n_pending] = (struct pending){
		.line = mark.line,
		.column = mark.column,
		.seq = ctx->n_pending,
		.msg = m,
	};
	ctx->n_pending++;
}

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the pending errors to errs in file order; frees them. */
static void flush_errors(struct ctx *ctx)
{
	qsort(ctx->pending, ctx->n_pending, sizeof(ctx->pending[0]),
	      pending_cmp);
	for (size_t i = 0; i < ctx->n_pending; i++) {
		if (conf_errors_add(ctx->errs, "%s", ctx->pending[i].msg) < 0)
			ctx->r = -ENOMEM;
		free(ctx->pending[i].msg);
	}
	ctx->n_pending = 0;
	if (ctx->errs)
		ctx->errs->dropped += ctx->dropped;
}

static int oom(struct ctx *ctx)
{
	ctx->r = -ENOMEM;
	return -ENOMEM;
}

/* Copies at most QUOTE_MAX bytes of s for a message: control bytes become
 * \xNN so that a message stays on one line; a cut ends in "...". */
static const char *quote(char buf[static QUOTE_BUF], const char *s, size_t len)
{
	size_t i = 0, o = 0, n = len;

	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		/* Do not split a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, QUOTE_BUF - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (n < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static const char *scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static size_t scalar_len(const yaml_node_t *node)
{
	return node->data.scalar.length;
}

/* YAML 1.1 null: "~", "null", an empty plain value, or a !!null tag. */
static bool is_null(const yaml_node_t *node)
{
	const char *v;

	if (node->type != YAML_SCALAR_NODE)
		return false;
	if (node->tag && streq((const char *)node->tag, YAML_NULL_TAG))
		return true;
	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = scalar_text(node);
	return scalar_len(node) == 0 || streq(v, "~") || streq(v, "null") ||
	       streq(v, "Null") || streq(v, "NULL");
}

/* "(got a list)" / "(got 'foo')" for messages about the wrong kind. */
static const char *got(char buf[static QUOTE_BUF], const yaml_node_t *node)
{
	char q[QUOTE_BUF];

	switch (node->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		(void)snprintf(buf, QUOTE_BUF, "'%s'",
			       quote(q, scalar_text(node), scalar_len(node)));
		return buf;
	default:
		return "nothing";
	}
}

/* The text of a scalar that must hold a value, or NULL after reporting
 * why not. what completes "NAME must be ..." for the wrong kind. */
static const char *get_scalar(struct ctx *ctx, const char *name,
			      yaml_node_t *node, const char *what)
{
	char g[QUOTE_BUF];
	const char *v;

	if (node->type != YAML_SCALAR_NODE) {
		err_at(ctx, node->start_mark, "%s must be %s (got %s)", name,
		       what, got(g, node));
		return NULL;
	}
	v = scalar_text(node);
	if (is_null(node) || scalar_len(node) == 0) {
		err_at(ctx, node->start_mark, "%s: must not be empty", name);
		return NULL;
	}
	if (strlen(v) != scalar_len(node)) {
		err_at(ctx, node->start_mark,
		       "%s must not contain NUL characters", name);
		return NULL;
	}
	if (scalar_len(node) > CONF_MAX_STRING) {
		err_at(ctx, node->start_mark,
		       "%s is too long (at most %u bytes)", name,
		       CONF_MAX_STRING);
		return NULL;
	}
	return v;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static int set_string(struct ctx *ctx, char **p, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return oom(ctx);
	free(*p);
	*p = s;
	return 0;
}

static void bad_value(struct ctx *ctx, const char *name, yaml_node_t *node,
		      const char *problem)
{
	char q[QUOTE_BUF];

	err_at(ctx, node->start_mark, "%s %s (got '%s')", name, problem,
	       quote(q, scalar_text(node), scalar_len(node)));
}

/* ---- value parsers: (ctx, "section.key", value node, where it goes) ---- */

static int parse_string(struct ctx *ctx, const char *name, yaml_node_t *node,
			void *p)
{
	const char *v = get_scalar(ctx, name, node, "a string");

	if (!v)
		return -EINVAL;
	if (has_control(v)) {
		bad_value(ctx, name, node, "must not contain control characters");
		return -EINVAL;
	}
	return set_string(ctx, p, v);
}

static int parse_path(struct ctx *ctx, const char *name, yaml_node_t *node,
		      void *p)
{
	const char *v = get_scalar(ctx, name, node, "a file path");

	if (!v)
		return -EINVAL;
	return set_string(ctx, p, v);
}

static int parse_abs_path(struct ctx *ctx, const char *name, yaml_node_t *node,
			  void *p)
{
	const char *v = get_scalar(ctx, name, node, "an absolute path");

	if (!v)
		return -EINVAL;
	if (v[0] != '/') {
		bad_value(ctx, name, node, "must be an absolute path");
		return -EINVAL;
	}
	return set_string(ctx, p, v);
}

/* https only; the scheme is lowercased and trailing slashes of the path
 * dropped, so users of the URL may append "/path" without doubling. */
static int parse_url(struct ctx *ctx, const char *name, yaml_node_t *node,
		     void *p)
{
	const char *v = get_scalar(ctx, name, node, "an https:// URL");
	const char *problem;
	char *s, *path;
	size_t n;

	if (!v)
		return -EINVAL;
	problem = conf_check_https_url(v);
	if (problem) {
		bad_value(ctx, name, node, problem);
		return -EINVAL;
	}
	s = strdup(v);
	if (!s)
		return oom(ctx);
	memcpy(s, "https", 5);
	path = s + 8 + strcspn(s + 8, "/");
	n = strlen(s);
	while (s + n > path && s[n - 1] == '/')
		s[--n] = '\0';
	free(*(char **)p);
	*(char **)p = s;
	return 0;
}

static int parse_auth(struct ctx *ctx, const char *name, yaml_node_t *node,
		      void *p)
{
	static const struct {
		const char *s;
		enum conf_auth v;
	} table[] = {
		{ "forms", CONF_AUTH_FORMS },
		{ "kerberos", CONF_AUTH_KERBEROS },
		{ "wstrust", CONF_AUTH_WSTRUST },
	};
	const char *v = get_scalar(ctx, name, node, "forms, kerberos or wstrust");

	if (!v)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(v, table[i].s)) {
			*(enum conf_auth *)p = table[i].v;
			return 0;
		}
	bad_value(ctx, name, node, "must be forms, kerberos or wstrust");
	return -EINVAL;
}

/* prompt | credential:NAME | file:PATH. A value that is none of them may
 * be the password itself, so it is never echoed. */
static int parse_password(struct ctx *ctx, const char *name, yaml_node_t *node,
			  void *p)
{
	const char *v = get_scalar(ctx, name, node,
				   "prompt, credential:NAME or file:PATH");
	struct conf *c = ctx->conf;
	const char *ref;

	(void)p; /* sets password and password_ref together, through c */
	if (!v)
		return -EINVAL;
	if (streq(v, "prompt")) {
		c->adfs.password = CONF_PASSWORD_PROMPT;
		free(c->adfs.password_ref);
		c->adfs.password_ref = NULL;
		return 0;
	}
	if (strneq(v, "credential:", 11)) {
		ref = v + 11;
		/* A name inside $CREDENTIALS_DIRECTORY (systemd.exec(5),
		 * LoadCredential=): one path component. */
		if (!*ref || strchr(ref, '/') || streq(ref, ".") ||
		    streq(ref, "..") || strlen(ref) > 255 || has_control(ref)) {
			bad_value(ctx, name, node,
				  "credential:NAME needs a NAME as given to "
				  "LoadCredential=, without '/'");
			return -EINVAL;
		}
		if (set_string(ctx, &c->adfs.password_ref, ref) < 0)
			return -ENOMEM;
		c->adfs.password = CONF_PASSWORD_CREDENTIAL;
		return 0;
	}
	if (strneq(v, "file:", 5)) {
		ref = v + 5;
		if (ref[0] != '/') {
			bad_value(ctx, name, node,
				  "file:PATH needs an absolute PATH");
			return -EINVAL;
		}
		if (set_string(ctx, &c->adfs.password_ref, ref) < 0)
			return -ENOMEM;
		c->adfs.password = CONF_PASSWORD_FILE;
		return 0;
	}
	err_at(ctx, node->start_mark,
	       "%s must be prompt, credential:NAME or file:PATH (the value is "
	       "not shown: the password itself does not belong in this file)",
	       name);
	return -EINVAL;
}

static int parse_bool(struct ctx *ctx, const char *name, yaml_node_t *node,
		      void *p)
{
	static const char *const yes[] = { "true", "True", "TRUE",
					   "yes",  "Yes",  "YES" };
	static const char *const no[] = { "false", "False", "FALSE",
					  "no",    "No",    "NO" };
	const char *v = get_scalar(ctx, name, node, "true or false");

	if (!v)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (streq(v, yes[i])) {
			*(bool *)p = true;
			return 0;
		}
		if (streq(v, no[i])) {
			*(bool *)p = false;
			return 0;
		}
	}
	bad_value(ctx, name, node, "must be true or false");
	return -EINVAL;
}

static int parse_duration_range(struct ctx *ctx, const char *name,
				 yaml_node_t *node, usec_t *p, usec_t min,
				 usec_t max)
{
	const char *v = get_scalar(ctx, name, node, "a duration");
	char a[32], b[32], problem[128];
	usec_t d;
	int r;

	if (!v)
		return -EINVAL;
	r = parse_duration(v, &d);
	if (r == -EINVAL) {
		bad_value(ctx, name, node,
			  "must be a duration like 30s, 10m or 1h (a plain "
			  "number is seconds)");
		return -EINVAL;
	}
	if (r < 0 || d < min || d > max) {
		(void)snprintf(problem, sizeof(problem),
			       "must be between %s and %s",
			       format_duration(a, min), format_duration(b, max));
		bad_value(ctx, name, node, problem);
		return -EINVAL;
	}
	*p = d;
	return 0;
}

static int parse_timeout(struct ctx *ctx, const char *name, yaml_node_t *node,
			 void *p)
{
	return parse_duration_range(ctx, name, node, p, USEC_PER_SEC,
				    10 * USEC_PER_MINUTE);
}

static int parse_min_remaining(struct ctx *ctx, const char *name,
			       yaml_node_t *node, void *p)
{
	return parse_duration_range(ctx, name, node, p, USEC_PER_MINUTE,
				    6 * USEC_PER_HOUR);
}

/* A string checked by one of the conf_check_*() helpers. */
static int parse_checked(struct ctx *ctx, const char *name, yaml_node_t *node,
			 void *p, const char *what,
			 const char *(*check)(const char *s))
{
	const char *v = get_scalar(ctx, name, node, what);
	const char *problem;

	if (!v)
		return -EINVAL;
	problem = check(v);
	if (problem) {
		bad_value(ctx, name, node, problem);
		return -EINVAL;
	}
	return set_string(ctx, p, v);
}

static int parse_region(struct ctx *ctx, const char *name, yaml_node_t *node,
			void *p)
{
	return parse_checked(ctx, name, node, p, "a region name",
			     conf_check_region);
}

static int parse_role_name(struct ctx *ctx, const char *name,
			   yaml_node_t *node, void *p)
{
	return parse_checked(ctx, name, node, p, "a role name",
			     conf_check_role_name);
}

static int parse_role_arn(struct ctx *ctx, const char *name, yaml_node_t *node,
			  void *p)
{
	return parse_checked(ctx, name, node, p, "a role ARN",
			     conf_check_role_arn);
}

static int parse_provider_arn(struct ctx *ctx, const char *name,
			      yaml_node_t *node, void *p)
{
	return parse_checked(ctx, name, node, p, "a SAML provider ARN",
			     conf_check_provider_arn);
}

/* max (0) or 900..43200 s (AssumeRoleWithSAML DurationSeconds). */
static int parse_role_duration(struct ctx *ctx, const char *name,
			       yaml_node_t *node, void *p)
{
	const char *v = get_scalar(ctx, name, node, "max or a duration");
	usec_t d;
	int r;

	if (!v)
		return -EINVAL;
	if (streq(v, "max")) {
		*(uint32_t *)p = 0;
		return 0;
	}
	r = parse_duration(v, &d);
	if (r == -EINVAL) {
		bad_value(ctx, name, node,
			  "must be max, a number of seconds or a duration "
			  "like 4h or 90m");
		return -EINVAL;
	}
	if (r < 0 || d < CONF_DURATION_MIN * USEC_PER_SEC ||
	    d > CONF_DURATION_MAX * USEC_PER_SEC) {
		bad_value(ctx, name, node,
			  "must be max or between 900 and 43200 seconds "
			  "(15m to 12h)");
		return -EINVAL;
	}
	*(uint32_t *)p = (uint32_t)(d / USEC_PER_SEC);
	return 0;
}

/* A role named elsewhere: checked against roles (when given) later. */
static int parse_role_ref(struct ctx *ctx, const char *name, yaml_node_t *node,
			  void *p)
{
	const char *v = get_scalar(ctx, name, node, "a role name");
	size_t n;

	if (!v)
		return -EINVAL;
	n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] == 0x7f) {
			bad_value(ctx, name, node,
				  "must be a role name without spaces");
			return -EINVAL;
		}
	if (n > ROLE_REF_MAX) {
		bad_value(ctx, name, node, "is too long for a role name");
		return -EINVAL;
	}
	return set_string(ctx, p, v);
}

static int parse_listen(struct ctx *ctx, const char *name, yaml_node_t *node,
			void *p)
{
	struct conf_listen *l = p, n;
	const char *v, *problem;
	char g[QUOTE_BUF];
	int r;

	if (node->type == YAML_SEQUENCE_NODE) {
		/* "[::1]:9911" unquoted starts a flow sequence. */
		err_at(ctx, node->start_mark,
		       "%s must be HOST:PORT or off (got %s; quote IPv6 "
		       "listeners: \"[::1]:9911\")",
		       name, got(g, node));
		return -EINVAL;
	}
	v = get_scalar(ctx, name, node, "HOST:PORT or off");
	if (!v)
		return -EINVAL;
	problem = conf_check_listen(v);
	if (problem) {
		bad_value(ctx, name, node, problem);
		return -EINVAL;
	}
	r = conf_parse_listen(v, &n);
	if (r < 0)
		return r == -ENOMEM ? oom(ctx) : r;
	conf_listen_clear(l);
	*l = n;
	return 0;
}

static int parse_uids(struct ctx *ctx, const char *name, yaml_node_t *node,
		      void *p)
{
	struct conf *c = ctx->conf;
	size_t n, i = 0;
	char g[QUOTE_BUF];
	uid_t *uids;
	bool bad = false;

	(void)p;
	if (is_null(node))
		return 0; /* "allowed_uids:" with the list commented out */
	if (node->type != YAML_SEQUENCE_NODE) {
		err_at(ctx, node->start_mark,
		       "%s must be a list of uids, e.g. [1001, 1002] (got %s)",
		       name, got(g, node));
		return -EINVAL;
	}
	n = (size_t)(node->data.sequence.items.top -
		     node->data.sequence.items.start);
	if (n > CONF_MAX_UIDS) {
		err_at(ctx, node->start_mark,
		       "%s lists %zu uids; at most %u are allowed", name, n,
		       CONF_MAX_UIDS);
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	uids = calloc(n, sizeof(*uids));
	if (!uids)
		return oom(ctx);
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(ctx->doc, *it);
		unsigned long long v = 0;
		const char *s;
		size_t len;

		if (!item)
			continue;
		s = item->type == YAML_SCALAR_NODE ? scalar_text(item) : "";
		len = item->type == YAML_SCALAR_NODE ? scalar_len(item) : 0;
		/* (uid_t)-1 means "no change" to chown(2): never a user. */
		if (len == 0 || len > 10 || strspn(s, "0123456789") != len ||
		    (v = strtoull(s, NULL, 10)) > 4294967294ULL) {
			err_at(ctx, item->start_mark,
			       "%s[%zu] must be a uid between 0 and "
			       "4294967294 (got %s)",
			       name, i, got(g, item));
			bad = true;
			continue;
		}
		uids[i] = (uid_t)v;
	}
	if (bad) {
		free(uids);
		return -EINVAL;
	}
	free(c->serve.allowed_uids);
	c->serve.allowed_uids = uids;
	c->serve.n_allowed_uids = n;
	return 0;
}

static int parse_log_level(struct ctx *ctx, const char *name,
			   yaml_node_t *node, void *p)
{
	const char *v = get_scalar(ctx, name, node,
				   "error, warning, info or debug");
	int level;

	if (!v)
		return -EINVAL;
	level = log_level_from_string(v);
	if (level < 0) {
		bad_value(ctx, name, node,
			  "must be error, warning, info or debug");
		return -EINVAL;
	}
	*(int *)p = level;
	return 0;
}

/* ---- mappings ---- */

static void record_seen(struct ctx *ctx, const char *name, yaml_node_t *key,
			yaml_node_t *node)
{
	struct seen *s;

	if (ctx->n_seen >= MAX_SEEN)
		return; /* cannot happen: the tables hold fewer keys */
	s = &ctx->seen[ctx->n_seen++];
	(void)snprintf(s->name, NAME_MAX_LEN, "%s", name);
	s->key = key;
	s->node = node;
}

static const struct seen *seen_entry(const struct ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->n_seen; i++)
		if (streq(ctx->seen[i].name, name))
			return &ctx->seen[i];
	return NULL;
}

/* The value node of a key of struct conf that was given, else NULL. */
static yaml_node_t *seen(const struct ctx *ctx, const char *name)
{
	const struct seen *s = seen_entry(ctx, name);

	return s ? s->node : NULL;
}

static void unknown_key(struct ctx *ctx, const char *prefix,
			yaml_node_t *key, const struct table *t)
{
	char q[QUOTE_BUF], list[512];
	size_t o = 0;

	list[0] = '\0';
	for (size_t i = 0; i < t->n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      i ? ", " : "", t->fields[i].key);
	err_at(ctx, key->start_mark, "unknown key '%s%s%s' (expected one of: %s)",
	       prefix ? prefix : "", prefix ? "." : "",
	       quote(q, scalar_text(key), scalar_len(key)), list);
}

static void parse_mapping(struct ctx *ctx, const char *prefix,
			  yaml_node_t *node, const struct table *t, void *base,
			  yaml_node_t **nodes);

/* A section ("adfs:", "serve:" ...): a mapping, or nothing at all when
 * every key below it is commented out. It recurses with parse_mapping()
 * as deep as the static field tables nest (two levels), whatever the
 * input. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static void parse_section(struct ctx *ctx, const char *name, yaml_node_t *node,
			  const struct table *t, void *base)
{
	yaml_node_t *nodes[MAX_FIELDS] = { NULL };
	char g[QUOTE_BUF];

	if (is_null(node))
		return;
	if (node->type != YAML_MAPPING_NODE) {
		err_at(ctx, node->start_mark, "%s must be a mapping (got %s)",
		       name, got(g, node));
		return;
	}
	parse_mapping(ctx, name, node, t, base, nodes);
}

/* Walks the pairs of a mapping node through table t into base. nodes
 * (t->n entries, zeroed by the caller) receives each key's value node. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static void parse_mapping(struct ctx *ctx, const char *prefix,
			  yaml_node_t *node, const struct table *t, void *base,
			  yaml_node_t **nodes)
{
	yaml_node_t *first_key[MAX_FIELDS] = { NULL };
	char name[NAME_MAX_LEN], g[QUOTE_BUF];

	assert(node->type == YAML_MAPPING_NODE);
	assert(t->n <= MAX_FIELDS);
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(ctx->doc, pair->key);
		yaml_node_t *value =
			yaml_document_get_node(ctx->doc, pair->value);
		const struct field *f = NULL;
		size_t i;

		if (!key || !value)
			continue;
		if (key->type != YAML_SCALAR_NODE) {
			err_at(ctx, key->start_mark,
			       "%s%skeys must be plain names (got %s)",
			       prefix ? prefix : "", prefix ? ": " : "",
			       got(g, key));
			continue;
		}
		for (i = 0; i < t->n; i++)
			if (strlen(t->fields[i].key) == scalar_len(key) &&
			    streq(t->fields[i].key, scalar_text(key))) {
				f = &t->fields[i];
				break;
			}
		if (!f) {
			unknown_key(ctx, prefix, key, t);
			continue;
		}
		(void)snprintf(name, sizeof(name), "%s%s%s",
			       prefix ? prefix : "", prefix ? "." : "", f->key);
		if (first_key[i]) {
			err_at(ctx, key->start_mark,
			       "duplicate key '%s' (first given at line %zu, "
			       "column %zu)",
			       name, first_key[i]->start_mark.line + 1,
			       first_key[i]->start_mark.column + 1);
			continue;
		}
		first_key[i] = key;
		nodes[i] = value;
		if (base == ctx->conf)
			record_seen(ctx, name, key, value);
		if (f->sub)
			parse_section(ctx, name, value, f->sub, base);
		else
			(void)f->parse(ctx, name, value,
				       (char *)base + f->offset);
	}
}

enum {
	ROLE_NAME,
	ROLE_ARN,
	ROLE_PRINCIPAL_ARN,
	ROLE_DURATION,
	ROLE_FIELDS,
};

static const struct field role_fields[] = {
	[ROLE_NAME] = { "name", parse_role_name,
			offsetof(struct conf_role, name), NULL },
	[ROLE_ARN] = { "arn", parse_role_arn, offsetof(struct conf_role, arn),
		       NULL },
	[ROLE_PRINCIPAL_ARN] = { "principal_arn", parse_provider_arn,
				 offsetof(struct conf_role, principal_arn),
				 NULL },
	[ROLE_DURATION] = { "duration", parse_role_duration,
			    offsetof(struct conf_role, duration), NULL },
};
static const struct table role_table = { role_fields,
					 ELEMENTSOF(role_fields) };

static int parse_roles(struct ctx *ctx, const char *name, yaml_node_t *node,
		       void *p)
{
	struct conf *c = ctx->conf;
	size_t n, errors = ctx->n_errors, i = 0;
	char g[QUOTE_BUF], prefix[NAME_MAX_LEN];

	(void)p;
	if (node->type != YAML_SEQUENCE_NODE || node->data.sequence.items.top ==
							node->data.sequence.items.start) {
		err_at(ctx, node->start_mark,
		       "%s must list at least one role with name and arn "
		       "(got %s; remove the key to hold every role the "
		       "assertion offers)",
		       name,
		       node->type == YAML_SEQUENCE_NODE ? "an empty list" :
		       is_null(node)			  ? "nothing" :
							    got(g, node));
		return -EINVAL;
	}
	n = (size_t)(node->data.sequence.items.top -
		     node->data.sequence.items.start);
	if (n > CONF_MAX_ROLES) {
		err_at(ctx, node->start_mark,
		       "%s lists %zu roles; at most %u are allowed", name, n,
		       CONF_MAX_ROLES);
		return -EINVAL;
	}
	c->roles = calloc(n, sizeof(*c->roles));
	if (!c->roles)
		return oom(ctx);
	c->n_roles = n;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(ctx->doc, *it);
		yaml_node_t *nodes[ROLE_FIELDS] = { NULL };
		struct conf_role *role = &c->roles[i];

		if (!item)
			continue;
		(void)snprintf(prefix, sizeof(prefix), "%s[%zu]", name, i);
		if (item->type != YAML_MAPPING_NODE) {
			err_at(ctx, item->start_mark,
			       "%s must be a mapping with name and arn "
			       "(got %s)",
			       prefix, got(g, item));
			continue;
		}
		parse_mapping(ctx, prefix, item, &role_table, role, nodes);
		if (!nodes[ROLE_NAME])
			err_at(ctx, item->start_mark, "%s.name is required",
			       prefix);
		if (!nodes[ROLE_ARN])
			err_at(ctx, item->start_mark, "%s.arn is required",
			       prefix);
		if (!role->name || !nodes[ROLE_NAME])
			continue;
		for (size_t j = 0; j < i; j++)
			if (c->roles[j].name &&
			    streq(c->roles[j].name, role->name)) {
				err_at(ctx, nodes[ROLE_NAME]->start_mark,
				       "%s.name '%s' is already used by "
				       "%s[%zu]",
				       prefix, role->name, name, j);
				break;
			}
	}
	ctx->roles_ok = ctx->n_errors == errors;
	return ctx->roles_ok ? 0 : -EINVAL;
}

static const struct field adfs_fields[] = {
	{ "url", parse_url, offsetof(struct conf, adfs.url), NULL },
	{ "relying_party", parse_string,
	  offsetof(struct conf, adfs.relying_party), NULL },
	{ "username", parse_string, offsetof(struct conf, adfs.username),
	  NULL },
	{ "auth", parse_auth, offsetof(struct conf, adfs.auth), NULL },
	{ "password", parse_password, offsetof(struct conf, adfs.password),
	  NULL },
	{ "remember_password", parse_bool,
	  offsetof(struct conf, adfs.remember_password), NULL },
	{ "ca_file", parse_path, offsetof(struct conf, adfs.ca_file), NULL },
	{ "timeout", parse_timeout, offsetof(struct conf, adfs.timeout),
	  NULL },
};

static const struct field aws_fields[] = {
	{ "region", parse_region, offsetof(struct conf, aws.region), NULL },
	{ "sts_endpoint", parse_url, offsetof(struct conf, aws.sts_endpoint),
	  NULL },
	{ "iam_endpoint", parse_url, offsetof(struct conf, aws.iam_endpoint),
	  NULL },
	{ "ca_file", parse_path, offsetof(struct conf, aws.ca_file), NULL },
};

static const struct field serve_fields[] = {
	{ "ecs", parse_listen, offsetof(struct conf, serve.ecs), NULL },
	{ "imds", parse_listen, offsetof(struct conf, serve.imds), NULL },
	{ "imds_role", parse_role_ref, offsetof(struct conf, serve.imds_role),
	  NULL },
	{ "allowed_uids", parse_uids,
	  offsetof(struct conf, serve.allowed_uids), NULL },
	{ "allow_non_loopback", parse_bool,
	  offsetof(struct conf, serve.allow_non_loopback), NULL },
};

static const struct field refresh_fields[] = {
	{ "min_remaining", parse_min_remaining,
	  offsetof(struct conf, refresh.min_remaining), NULL },
};

static const struct table adfs_table = { adfs_fields,
					 ELEMENTSOF(adfs_fields) };
static const struct table aws_table = { aws_fields, ELEMENTSOF(aws_fields) };
static const struct table serve_table = { serve_fields,
					  ELEMENTSOF(serve_fields) };
static const struct table refresh_table = { refresh_fields,
					    ELEMENTSOF(refresh_fields) };

static const struct field top_fields[] = {
	{ "adfs", NULL, 0, &adfs_table },
	{ "aws", NULL, 0, &aws_table },
	{ "roles", parse_roles, offsetof(struct conf, roles), NULL },
	{ "default_role", parse_role_ref, offsetof(struct conf, default_role),
	  NULL },
	{ "serve", NULL, 0, &serve_table },
	{ "refresh", NULL, 0, &refresh_table },
	{ "state_dir", parse_abs_path, offsetof(struct conf, state_dir), NULL },
	{ "log_level", parse_log_level, offsetof(struct conf, log_level),
	  NULL },
};
static const struct table top_table = { top_fields, ELEMENTSOF(top_fields) };

/* ---- checks across keys, defaults that depend on other keys ---- */

/* Where to point at a key missing from a section: the section's own key
 * ("adfs:"), else the top of the file. */
static yaml_mark_t section_mark(const struct ctx *ctx, const char *section)
{
	const struct seen *s = seen_entry(ctx, section);

	return s ? s->key->start_mark : ctx->root_mark;
}

static void check_role_ref(struct ctx *ctx, const char *name, const char *ref)
{
	yaml_node_t *node = seen(ctx, name);

	if (!ref || !node || !ctx->roles_ok || conf_find_role(ctx->conf, ref))
		return;
	err_at(ctx, node->start_mark,
	       "%s '%s' is not one of the names listed under roles", name, ref);
}

static void check_listener(struct ctx *ctx, const char *name,
			   const struct conf_listen *l)
{
	yaml_node_t *node = seen(ctx, name);

	if (!l->enabled || ctx->conf->serve.allow_non_loopback ||
	    conf_host_is_loopback(l->host) || !node)
		return;
	bad_value(ctx, name, node,
		  "must be on loopback (127.0.0.1, [::1] or localhost) unless "
		  "serve.allow_non_loopback is true");
}

static int set_endpoints(struct ctx *ctx)
{
	struct conf *c = ctx->conf;
	const char *region = c->aws.region;
	bool cn = region && strneq(region, "cn-", 3);
	int r;

	/* STS: regional when a region is set (AWS recommends regional STS
	 * endpoints); the China partition lives under amazonaws.com.cn. */
	if (!c->aws.sts_endpoint) {
		if (region)
			r = asprintf(&c->aws.sts_endpoint,
				     "https://sts.%s.amazonaws.com%s", region,
				     cn ? ".cn" : "");
		else
			r = (c->aws.sts_endpoint =
				     strdup(CONF_DEFAULT_STS_ENDPOINT)) ?
				    0 :
				    -1;
		if (r < 0) {
			c->aws.sts_endpoint = NULL;
			return oom(ctx);
		}
	}
	/* IAM is global per partition; the commercial endpoint does not
	 * serve aws-cn or aws-us-gov. */
	if (!c->aws.iam_endpoint) {
		const char *iam = CONF_DEFAULT_IAM_ENDPOINT;

		if (cn)
			iam = "https://iam.cn-north-1.amazonaws.com.cn";
		else if (region && strneq(region, "us-gov-", 7))
			iam = "https://iam.us-gov.amazonaws.com";
		c->aws.iam_endpoint = strdup(iam);
		if (!c->aws.iam_endpoint)
			return oom(ctx);
	}
	return 0;
}

static void check_conf(struct ctx *ctx)
{
	struct conf *c = ctx->conf;

	if (!seen(ctx, "adfs.url"))
		err_at(ctx, section_mark(ctx, "adfs"), "adfs.url is required");
	if (!seen(ctx, "adfs.username") && c->adfs.auth != CONF_AUTH_KERBEROS)
		err_at(ctx, section_mark(ctx, "adfs"),
		       "adfs.username is required (unless adfs.auth is "
		       "kerberos)");

	check_role_ref(ctx, "default_role", c->default_role);
	check_role_ref(ctx, "serve.imds_role", c->serve.imds_role);

	check_listener(ctx, "serve.ecs", &c->serve.ecs);
	check_listener(ctx, "serve.imds", &c->serve.imds);
	if (c->serve.ecs.enabled && c->serve.imds.enabled &&
	    c->serve.ecs.port == c->serve.imds.port &&
	    strcasecmp(c->serve.ecs.host, c->serve.imds.host) == 0) {
		yaml_node_t *node = seen(ctx, "serve.imds");

		if (node)
			bad_value(ctx, "serve.imds", node,
				  "must differ from serve.ecs: both would "
				  "listen on the same address");
	}

	(void)set_endpoints(ctx);
}

/* ---- pass 1: events ---- */

static yaml_mark_t mark_at_offset(const char *data, size_t len, size_t off)
{
	yaml_mark_t m = { .index = off };

	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

static int syntax_error(struct ctx *ctx, const yaml_parser_t *parser,
			const char *data, size_t len)
{
	const char *problem = parser->problem ? parser->problem : "error";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return oom(ctx);
	case YAML_READER_ERROR:
		if (parser->problem_value >= 0)
			err_at(ctx,
			       mark_at_offset(data, len, parser->problem_offset),
			       "invalid YAML: %s (byte 0x%02x); the file must "
			       "be UTF-8 text",
			       problem, (unsigned)parser->problem_value);
		else
			err_at(ctx,
			       mark_at_offset(data, len, parser->problem_offset),
			       "invalid YAML: %s; the file must be UTF-8 text",
			       problem);
		break;
	default:
		if (parser->context)
			err_at(ctx, parser->problem_mark,
			       "invalid YAML: %s (%s at line %zu, column %zu)",
			       problem, parser->context,
			       parser->context_mark.line + 1,
			       parser->context_mark.column + 1);
		else
			err_at(ctx, parser->problem_mark, "invalid YAML: %s",
			       problem);
		break;
	}
	return -EINVAL;
}

static void check_tag(struct ctx *ctx, const yaml_event_t *ev,
		      const yaml_char_t *tag, const char *const *allowed)
{
	char q[QUOTE_BUF];
	const char *t;

	if (!tag)
		return;
	for (; *allowed; allowed++)
		if (streq((const char *)tag, *allowed))
			return;
	t = (const char *)tag;
	if (strneq(t, "tag:yaml.org,2002:", 18))
		err_at(ctx, ev->start_mark,
		       "the tag '!!%s' is not supported here: remove it",
		       quote(q, t + 18, strlen(t + 18)));
	else
		err_at(ctx, ev->start_mark,
		       "the tag '%s' is not supported: remove it",
		       quote(q, t, strlen(t)));
}

static void check_anchor(struct ctx *ctx, const yaml_event_t *ev,
			 const yaml_char_t *anchor)
{
	char q[QUOTE_BUF];

	if (anchor)
		err_at(ctx, ev->start_mark,
		       "anchors (&%s) are not supported: write each value out",
		       quote(q, (const char *)anchor,
			     strlen((const char *)anchor)));
}

/* Pass 1. Sets *ret_fatal when the document must not be loaded; the
 * caller initialises it to false. */
static int check_events(struct ctx *ctx, const char *data, size_t len,
			bool *ret_fatal)
{
	static const char *const scalar_tags[] = { YAML_STR_TAG, YAML_INT_TAG,
						   YAML_BOOL_TAG,
						   YAML_NULL_TAG, NULL };
	static const char *const seq_tags[] = { YAML_SEQ_TAG, NULL };
	static const char *const map_tags[] = { YAML_MAP_TAG, NULL };
	yaml_parser_t parser;
	yaml_event_t ev;
	unsigned depth = 0, docs = 0;
	bool done = false, fatal = false;
	char q[QUOTE_BUF];
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return oom(ctx);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && !fatal) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = syntax_error(ctx, &parser, data, len);
			fatal = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs == 2)
				err_at(ctx, ev.start_mark,
				       "only one YAML document is allowed "
				       "(remove this '---' and what follows)");
			break;
		case YAML_ALIAS_EVENT:
			/* The loader would share the node between both
			 * places; the schema errors that follow from that
			 * only confuse. Report the rest of pass 1, then stop. */
			*ret_fatal = true;
			err_at(ctx, ev.start_mark,
			       "aliases (*%s) are not supported: write each "
			       "value out",
			       quote(q, (const char *)ev.data.alias.anchor,
				     strlen((const char *)ev.data.alias.anchor)));
			break;
		case YAML_SCALAR_EVENT:
			check_anchor(ctx, &ev, ev.data.scalar.anchor);
			check_tag(ctx, &ev, ev.data.scalar.tag, scalar_tags);
			break;
		case YAML_SEQUENCE_START_EVENT:
			check_anchor(ctx, &ev, ev.data.sequence_start.anchor);
			check_tag(ctx, &ev, ev.data.sequence_start.tag,
				  seq_tags);
			if (++depth > MAX_DEPTH) {
				err_at(ctx, ev.start_mark,
				       "nesting is deeper than %u levels",
				       MAX_DEPTH);
				fatal = true;
			}
			break;
		case YAML_MAPPING_START_EVENT:
			check_anchor(ctx, &ev, ev.data.mapping_start.anchor);
			check_tag(ctx, &ev, ev.data.mapping_start.tag,
				  map_tags);
			if (++depth > MAX_DEPTH) {
				err_at(ctx, ev.start_mark,
				       "nesting is deeper than %u levels",
				       MAX_DEPTH);
				fatal = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (fatal)
		*ret_fatal = true;
	return ctx->r < 0 ? ctx->r : r;
}

/* ---- entry point ---- */

static struct conf *new_conf(const char *path)
{
	_cleanup_(conf_freep) struct conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (path && !(c->path = strdup(path)))
		return NULL;
	c->adfs.relying_party = strdup(CONF_DEFAULT_RELYING_PARTY);
	if (!c->adfs.relying_party)
		return NULL;
	c->adfs.auth = CONF_AUTH_FORMS;
	c->adfs.password = CONF_PASSWORD_PROMPT;
	c->adfs.timeout = CONF_DEFAULT_TIMEOUT;
	if (conf_parse_listen(CONF_DEFAULT_ECS_LISTEN, &c->serve.ecs) < 0)
		return NULL;
	c->serve.imds = (struct conf_listen){ .enabled = false };
	c->refresh.min_remaining = CONF_DEFAULT_MIN_REMAINING;
	c->log_level = LOG_INFO;
	return TAKE_PTR(c);
}

/* Both passes; every problem goes to ctx. */
static int parse(struct ctx *ctx, const char *data, size_t len)
{
	yaml_node_t *nodes[MAX_FIELDS] = { NULL };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	char g[QUOTE_BUF];
	bool fatal = false;
	int r;

	r = check_events(ctx, data, len, &fatal);
	if (r == -ENOMEM)
		return r;
	if (fatal)
		return -EINVAL;

	if (!yaml_parser_initialize(&parser))
		return oom(ctx);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* Pass 1 saw the same bytes without complaint, so this is
		 * the loader's own (or memory); report it once. */
		if (ctx->n_errors == 0)
			(void)syntax_error(ctx, &parser, data, len);
		yaml_parser_delete(&parser);
		if (ctx->n_errors == 0)
			err_at(ctx, (yaml_mark_t){ .line = 0 }, "invalid YAML");
		return ctx->r < 0 ? ctx->r : -EINVAL;
	}
	ctx->doc = &doc;

	root = yaml_document_get_root_node(&doc);
	/* Missing top-level keys point at the first key, or at 1:1. */
	if (root && root->type == YAML_MAPPING_NODE)
		ctx->root_mark = root->start_mark;
	if (root && !is_null(root) && root->type != YAML_MAPPING_NODE) {
		err_at(ctx, root->start_mark,
		       "the file must be a mapping of keys (adfs:, aws:, "
		       "roles:, serve: ...) (got %s)",
		       got(g, root));
	} else {
		/* An empty file is an empty mapping: the required keys say
		 * what is missing. */
		if (root && root->type == YAML_MAPPING_NODE)
			parse_mapping(ctx, NULL, root, &top_table, ctx->conf,
				      nodes);
		check_conf(ctx);
	}

	/* Nothing may point into the document past here. */
	ctx->doc = NULL;
	ctx->n_seen = 0;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ctx->r < 0)
		return ctx->r;
	return ctx->n_errors > 0 ? -EINVAL : 0;
}

int conf_parse_yaml(const char *path, const char *data, size_t len,
		    struct conf **ret, struct conf_errors *errs)
{
	_cleanup_(conf_freep) struct conf *c = NULL;
	struct ctx ctx = { .path = path ? path : "<config>", .errs = errs };
	int r;

	assert(ret);
	assert(data || len == 0);
	if (!data)
		data = "";
	if (len > CONF_MAX_SIZE) {
		r = conf_errors_add(errs,
				    "%s: the file is larger than %u bytes, too "
				    "large for a configuration",
				    ctx.path, CONF_MAX_SIZE);
		return r < 0 ? r : -EINVAL;
	}
	c = new_conf(path);
	if (!c)
		return -ENOMEM;
	ctx.conf = c;

	r = parse(&ctx, data, len);
	flush_errors(&ctx);
	if (ctx.r < 0)
		return ctx.r;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}
