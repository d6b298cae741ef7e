/* Private to daemon/conf: what the YAML mapper (conf-yaml.c) hands to the
 * checks (conf-set.c per key, conf.c across keys), and how both report
 * "PATH:LINE:COL: message" (conf-report.c). No libyaml type crosses this
 * header: a value is its text, its kind and its mark, so the checks can be
 * read (and changed) without knowing the parser. Include order is one way:
 * this header includes conf.h and nothing of the module includes it back. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

#define CONF_QUOTE_MAX 128u /* bytes of a value echoed in a message */
#define CONF_QUOTE_BUF (CONF_QUOTE_MAX * 4u + 8u)
#define CONF_NAME_MAX 48u   /* "roles[255].principal_arn" */
#define CONF_MAX_MARKS 48u  /* keys of struct conf given in one file */

/* A position in the file, 0-based as libyaml counts (messages add 1). */
struct conf_mark {
	size_t line, column;
};

enum conf_kind {
	CONF_KIND_NONE, /* an empty node: printed as "nothing" */
	CONF_KIND_SCALAR,
	CONF_KIND_LIST,
	CONF_KIND_MAP,
};

/* One value as written. Borrowed from the mapper: valid only during the
 * call it is handed to. */
struct conf_value {
	enum conf_kind kind;
	bool null;        /* YAML null: ~, null, an empty plain value, !!null */
	const char *text; /* scalars: the bytes (NUL-terminated; may hold a NUL
			     before len); else NULL */
	size_t len;
	struct conf_mark mark;          /* where the value starts */
	const struct conf_value *items; /* lists handed over item by item */
	size_t n_items;                 /* entries of a list, even without items */
};

/* A key of struct conf that was given: where its key and value start,
 * and a copy of a scalar value for the checks that run after the mapper
 * has let go of the document. */
struct conf_given {
	char name[CONF_NAME_MAX]; /* "adfs", "adfs.url", "serve.ecs" ... */
	struct conf_mark key;
	struct conf_mark value;
	enum conf_kind kind;
	char *text; /* scalars only; owned */
	size_t len;
};

/* An error waiting to be sorted into place. */
struct conf_pending {
	size_t line, column, seq;
	char *msg;
};

/* One parse: the struct being filled, the marks of what was given and the
 * errors so far. Set up and torn down by conf_parse_yaml() (conf.c). */
struct conf_parse {
	const char *path;
	struct conf *conf;
	struct conf_errors *errs;
	struct conf_pending pending[CONF_MAX_ERRORS];
	size_t n_pending;
	size_t n_errors; /* every error, including ones not kept */
	size_t dropped;  /* errors beyond CONF_MAX_ERRORS */
	int r;           /* sticky -ENOMEM */
	struct conf_mark root; /* the first top-level key, else 1:1 */
	struct conf_given given[CONF_MAX_MARKS];
	size_t n_given;
	size_t roles_errors; /* n_errors when the roles list began */
	bool roles_ok;       /* roles given and free of errors */
};

/* ---- conf-report.c: messages at marks ---- */

/* Records "PATH:LINE:COL: message" (kept sorted by position, same message
 * at the same place once). Sets p->r on ENOMEM. */
void conf_report(struct conf_parse *p, struct conf_mark m, const char *fmt,
		 ...) _printf_(3, 4);
/* "NAME PROBLEM (got 'VALUE')" at the value. */
void conf_report_value(struct conf_parse *p, const char *name,
		       const struct conf_value *v, const char *problem);
/* The same for a value recorded by conf_report_given_add(). */
void conf_report_given(struct conf_parse *p, const struct conf_given *g,
		       const char *problem);
/* Sets p->r to -ENOMEM and returns it. */
int conf_report_oom(struct conf_parse *p);
/* At most CONF_QUOTE_MAX bytes of s, control bytes as \xNN, "..." when
 * cut; returns buf. */
const char *conf_report_quote(char buf[static CONF_QUOTE_BUF], const char *s,
			      size_t len);
/* "a list", "a mapping", "nothing" or "'VALUE'" for "(got ...)". */
const char *conf_report_got(char buf[static CONF_QUOTE_BUF],
			    const struct conf_value *v);
/* Records that key name was given (key at key, value v). */
void conf_report_given_add(struct conf_parse *p, const char *name,
			   struct conf_mark key, const struct conf_value *v);
/* The record of a given key, else NULL. */
const struct conf_given *conf_report_given_find(const struct conf_parse *p,
						const char *name);
/* Hands the errors to p->errs in file order and frees what p holds. */
void conf_report_finish(struct conf_parse *p);

/* ---- conf-set.c: one key's value into its field ---- */

/* Each checks v for the key called name, reports what is wrong at v's
 * mark and returns -EINVAL, or stores the value in *field and returns 0
 * (-ENOMEM when it cannot). */
typedef int conf_set_fn(struct conf_parse *p, const char *name,
			const struct conf_value *v, void *field);

conf_set_fn conf_set_string;        /* char *, no control characters */
conf_set_fn conf_set_path;          /* char *, any non-empty path */
conf_set_fn conf_set_abs_path;      /* char *, starts with / */
conf_set_fn conf_set_url;           /* char *, conf_check_https_url */
conf_set_fn conf_set_auth;          /* enum conf_auth */
conf_set_fn conf_set_password;      /* sets adfs.password and password_ref */
conf_set_fn conf_set_bool;          /* bool */
conf_set_fn conf_set_timeout;       /* usec_t, 1 s .. 10 min */
conf_set_fn conf_set_min_remaining; /* usec_t, 1 min .. 6 h */
conf_set_fn conf_set_sso_lifetime;  /* usec_t, 1 min .. 90 d */
conf_set_fn conf_set_notify_before; /* usec_t, 1 min .. 24 h */
conf_set_fn conf_set_mfa_renewal;   /* enum conf_mfa_renewal */
conf_set_fn conf_set_region;        /* char *, conf_check_region */
conf_set_fn conf_set_role_name;     /* char *, conf_check_role_name */
conf_set_fn conf_set_role_arn;      /* char *, conf_check_role_arn */
conf_set_fn conf_set_provider_arn;  /* char *, conf_check_provider_arn */
conf_set_fn conf_set_role_duration; /* uint32_t: 0 (max) or 900..43200 */
conf_set_fn conf_set_role_ref;      /* char *, a role named elsewhere */
conf_set_fn conf_set_listen;        /* struct conf_listen */
conf_set_fn conf_set_uids;          /* serve.allowed_uids (items needed) */
conf_set_fn conf_set_log_level;     /* int, LOG_* */

/* The roles list: conf_set_roles() checks the list and allocates
 * conf->roles (its items are then mapped one by one into conf->roles[i]);
 * conf_set_role_done() checks one role once its keys are mapped (name_at:
 * where the value of its name starts, NULL when no name was given);
 * conf_set_roles_done() closes a list that conf_set_roles() accepted. */
int conf_set_roles(struct conf_parse *p, const char *name,
		   const struct conf_value *v);
void conf_set_role_done(struct conf_parse *p, const char *name, size_t i,
			struct conf_mark role, const struct conf_mark *name_at,
			bool has_arn);
void conf_set_roles_done(struct conf_parse *p);

/* ---- conf.c ---- */

/* A struct conf with every default that does not depend on other keys;
 * NULL on ENOMEM. */
struct conf *conf_new_defaults(const char *path);
/* The checks across keys, then the defaults that depend on other keys
 * (the STS and IAM endpoints). Runs after the mapper. */
void conf_validate(struct conf_parse *p);

/* ---- conf-yaml.c ---- */

/* Maps len bytes of YAML onto p->conf: syntax, then each key through its
 * conf_set_*() with the marks of what was given. Returns 1 when the file
 * was a mapping that conf_validate() should now check, 0 when it was not
 * (the reason is reported), -ENOMEM. */
int conf_yaml_map(struct conf_parse *p, const char *data, size_t len);
