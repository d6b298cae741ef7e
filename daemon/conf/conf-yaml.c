/* YAML -> struct conf: the mapper (INTERFACE.md "Config (YAML)").
 *
 * Two passes over the bytes, both with libyaml:
 *  1. the event parser checks what the schema never uses: anchors,
 *     aliases, unexpected tags, a second document, deep nesting, and
 *     reports syntax errors;
 *  2. the document loader builds the node tree (nodes carry marks), which
 *     tables of { key, setter, offsetof } walk into a struct conf.
 * This file only maps: it turns each node into a struct conf_value (text,
 * kind, mark) and hands it to the key's conf_set_*() (conf-set.c), which
 * checks it and fills the field; it records where each key of struct conf
 * was given for the checks across keys (conf_validate() in conf.c). What
 * it reports itself is what stops it from mapping: YAML syntax, YAML
 * features the schema does not use, keys that are not in the tables
 * (unknown, duplicate, not a plain name) and sections or roles that are
 * not mappings. No I/O, no environment, no globals, so it can be fuzzed
 * (through conf_parse_yaml()). */
#include "conf/conf-private.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The schema nests three deep (root, roles, a role); anything far deeper
 * is not a configuration, and stopping early bounds the loader's work. */
#define MAX_DEPTH 16u
#define MAX_FIELDS 16u /* keys in one table */

struct map {
	struct conf_parse *p;
	yaml_document_t *doc;
};

struct table;

enum field_kind {
	FIELD_VALUE,   /* set() fills (char *)base + offset */
	FIELD_LIST,    /* the same, with the list's items handed over */
	FIELD_SECTION, /* sub maps the same base */
	FIELD_ROLES,   /* the roles list */
};

/* One key of a mapping. */
struct field {
	const char *key;
	enum field_kind kind;
	conf_set_fn *set;
	size_t offset;
	const struct table *sub;
};

struct table {
	const struct field *fields;
	size_t n;
};

static struct conf_mark mark_of(yaml_mark_t m)
{
	return (struct conf_mark){ .line = m.line, .column = m.column };
}

#define report(m, yaml_mark, ...)                                            \
	conf_report((m)->p, mark_of(yaml_mark), __VA_ARGS__)

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
	v = (const char *)node->data.scalar.value;
	return node->data.scalar.length == 0 || streq(v, "~") ||
	       streq(v, "null") || streq(v, "Null") || streq(v, "NULL");
}

/* A node as the checks see it; items are not filled in. */
static struct conf_value value_of(const yaml_node_t *node)
{
	struct conf_value v = { .mark = mark_of(node->start_mark) };

	switch (node->type) {
	case YAML_SCALAR_NODE:
		v.kind = CONF_KIND_SCALAR;
		v.null = is_null(node);
		v.text = (const char *)node->data.scalar.value;
		v.len = node->data.scalar.length;
		break;
	case YAML_SEQUENCE_NODE:
		v.kind = CONF_KIND_LIST;
		v.n_items = (size_t)(node->data.sequence.items.top -
				     node->data.sequence.items.start);
		break;
	case YAML_MAPPING_NODE:
		v.kind = CONF_KIND_MAP;
		break;
	default:
		v.kind = CONF_KIND_NONE;
		break;
	}
	return v;
}

/* "(got a list)" / "(got 'foo')" for messages about the wrong kind. */
static const char *got(char buf[static CONF_QUOTE_BUF], const yaml_node_t *node)
{
	struct conf_value v = value_of(node);

	return conf_report_got(buf, &v);
}

/* Hands a list's items to set() as values (an item that is missing from
 * the document counts as nothing). */
static int set_list(struct map *m, const struct field *f, const char *name,
		    yaml_node_t *node, void *field)
{
	struct conf_value v = value_of(node);
	struct conf_value *items = NULL;
	size_t i = 0;
	int r;

	if (v.kind == CONF_KIND_LIST && v.n_items > 0) {
		items = calloc(v.n_items, sizeof(*items));
		if (!items)
			return conf_report_oom(m->p);
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++, i++) {
			yaml_node_t *item = yaml_document_get_node(m->doc, *it);

			items[i] = item ? value_of(item) :
					  (struct conf_value){
						  .kind = CONF_KIND_NONE,
						  .mark = v.mark,
					  };
		}
		v.items = items;
	}
	r = f->set(m->p, name, &v, field);
	free(items);
	return r;
}

/* ---- mappings ---- */

static void unknown_key(struct map *m, const char *prefix, yaml_node_t *key,
			const struct table *t)
{
	char q[CONF_QUOTE_BUF], list[512];
	size_t o = 0;

	list[0] = '\0';
	for (size_t i = 0; i < t->n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      i ? ", " : "", t->fields[i].key);
	report(m, key->start_mark, "unknown key '%s%s%s' (expected one of: %s)",
	       prefix ? prefix : "", prefix ? "." : "",
	       conf_report_quote(q, (const char *)key->data.scalar.value,
				 key->data.scalar.length),
	       list);
}

static void map_mapping(struct map *m, const char *prefix, yaml_node_t *node,
			const struct table *t, void *base, yaml_node_t **nodes);
static void map_roles(struct map *m, const char *name, yaml_node_t *node);

/* A section ("adfs:", "serve:" ...): a mapping, or nothing at all when
 * every key below it is commented out. It recurses with map_mapping()
 * as deep as the static field tables nest (two levels), whatever the
 * input. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static void map_section(struct map *m, const char *name, yaml_node_t *node,
			const struct table *t, void *base)
{
	yaml_node_t *nodes[MAX_FIELDS] = { NULL };
	char g[CONF_QUOTE_BUF];

	if (is_null(node))
		return;
	if (node->type != YAML_MAPPING_NODE) {
		report(m, node->start_mark, "%s must be a mapping (got %s)",
		       name, got(g, node));
		return;
	}
	map_mapping(m, name, node, t, base, nodes);
}

/* Walks the pairs of a mapping node through table t into base. nodes
 * (t->n entries, zeroed by the caller) receives each key's value node. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static void map_mapping(struct map *m, const char *prefix, yaml_node_t *node,
			const struct table *t, void *base, yaml_node_t **nodes)
{
	yaml_node_t *first_key[MAX_FIELDS] = { NULL };
	char name[CONF_NAME_MAX], g[CONF_QUOTE_BUF];

	assert(node->type == YAML_MAPPING_NODE);
	assert(t->n <= MAX_FIELDS);
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(m->doc, pair->key);
		yaml_node_t *value = yaml_document_get_node(m->doc, pair->value);
		const struct field *f = NULL;
		size_t i;

		if (!key || !value)
			continue;
		if (key->type != YAML_SCALAR_NODE) {
			report(m, key->start_mark,
			       "%s%skeys must be plain names (got %s)",
			       prefix ? prefix : "", prefix ? ": " : "",
			       got(g, key));
			continue;
		}
		for (i = 0; i < t->n; i++)
			if (strlen(t->fields[i].key) == key->data.scalar.length &&
			    streq(t->fields[i].key,
				  (const char *)key->data.scalar.value)) {
				f = &t->fields[i];
				break;
			}
		if (!f) {
			unknown_key(m, prefix, key, t);
			continue;
		}
		(void)snprintf(name, sizeof(name), "%s%s%s",
			       prefix ? prefix : "", prefix ? "." : "", f->key);
		if (first_key[i]) {
			report(m, key->start_mark,
			       "duplicate key '%s' (first given at line %zu, "
			       "column %zu)",
			       name, first_key[i]->start_mark.line + 1,
			       first_key[i]->start_mark.column + 1);
			continue;
		}
		first_key[i] = key;
		nodes[i] = value;
		if (base == m->p->conf) {
			struct conf_value v = value_of(value);

			conf_report_given_add(m->p, name,
					      mark_of(key->start_mark), &v);
		}
		switch (f->kind) {
		case FIELD_SECTION:
			map_section(m, name, value, f->sub, base);
			break;
		case FIELD_ROLES:
			map_roles(m, name, value);
			break;
		case FIELD_LIST:
			(void)set_list(m, f, name, value,
				       (char *)base + f->offset);
			break;
		case FIELD_VALUE: {
			struct conf_value v = value_of(value);

			(void)f->set(m->p, name, &v, (char *)base + f->offset);
			break;
		}
		}
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
	[ROLE_NAME] = { "name", FIELD_VALUE, conf_set_role_name,
			offsetof(struct conf_role, name), NULL },
	[ROLE_ARN] = { "arn", FIELD_VALUE, conf_set_role_arn,
		       offsetof(struct conf_role, arn), NULL },
	[ROLE_PRINCIPAL_ARN] = { "principal_arn", FIELD_VALUE,
				 conf_set_provider_arn,
				 offsetof(struct conf_role, principal_arn),
				 NULL },
	[ROLE_DURATION] = { "duration", FIELD_VALUE, conf_set_role_duration,
			    offsetof(struct conf_role, duration), NULL },
};
static const struct table role_table = { role_fields,
					 ELEMENTSOF(role_fields) };

/* NOLINTNEXTLINE(misc-no-recursion) */
static void map_roles(struct map *m, const char *name, yaml_node_t *node)
{
	struct conf_value v = value_of(node);
	char g[CONF_QUOTE_BUF], prefix[CONF_NAME_MAX];
	int n;
	size_t i = 0;

	if (conf_set_roles(m->p, name, &v) < 0)
		return;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(m->doc, *it);
		yaml_node_t *nodes[ROLE_FIELDS] = { NULL };
		struct conf_mark name_at;

		if (!item)
			continue;
		n = snprintf(prefix, sizeof(prefix), "%s[%zu]", name, i);
		if (n < 0 || (size_t)n >= sizeof(prefix))
			continue; /* "roles[N]" always fits */
		if (item->type != YAML_MAPPING_NODE) {
			report(m, item->start_mark,
			       "%s must be a mapping with name and arn "
			       "(got %s)",
			       prefix, got(g, item));
			continue;
		}
		map_mapping(m, prefix, item, &role_table, &m->p->conf->roles[i],
			    nodes);
		if (nodes[ROLE_NAME])
			name_at = mark_of(nodes[ROLE_NAME]->start_mark);
		conf_set_role_done(m->p, name, i, mark_of(item->start_mark),
				   nodes[ROLE_NAME] ? &name_at : NULL,
				   nodes[ROLE_ARN] != NULL);
	}
	conf_set_roles_done(m->p);
}

static const struct field adfs_fields[] = {
	{ "url", FIELD_VALUE, conf_set_url, offsetof(struct conf, adfs.url),
	  NULL },
	{ "relying_party", FIELD_VALUE, conf_set_string,
	  offsetof(struct conf, adfs.relying_party), NULL },
	{ "username", FIELD_VALUE, conf_set_string,
	  offsetof(struct conf, adfs.username), NULL },
	{ "auth", FIELD_VALUE, conf_set_auth, offsetof(struct conf, adfs.auth),
	  NULL },
	{ "password", FIELD_VALUE, conf_set_password,
	  offsetof(struct conf, adfs.password), NULL },
	{ "remember_password", FIELD_VALUE, conf_set_bool,
	  offsetof(struct conf, adfs.remember_password), NULL },
	{ "ca_file", FIELD_VALUE, conf_set_path,
	  offsetof(struct conf, adfs.ca_file), NULL },
	{ "timeout", FIELD_VALUE, conf_set_timeout,
	  offsetof(struct conf, adfs.timeout), NULL },
	{ "sso_lifetime", FIELD_VALUE, conf_set_sso_lifetime,
	  offsetof(struct conf, adfs.sso_lifetime), NULL },
	{ "keep_me_signed_in", FIELD_VALUE, conf_set_bool,
	  offsetof(struct conf, adfs.keep_me_signed_in), NULL },
	{ "mfa_on_renewal", FIELD_VALUE, conf_set_mfa_renewal,
	  offsetof(struct conf, adfs.mfa_on_renewal), NULL },
};

static const struct field aws_fields[] = {
	{ "region", FIELD_VALUE, conf_set_region,
	  offsetof(struct conf, aws.region), NULL },
	{ "sts_endpoint", FIELD_VALUE, conf_set_url,
	  offsetof(struct conf, aws.sts_endpoint), NULL },
	{ "iam_endpoint", FIELD_VALUE, conf_set_url,
	  offsetof(struct conf, aws.iam_endpoint), NULL },
	{ "ca_file", FIELD_VALUE, conf_set_path,
	  offsetof(struct conf, aws.ca_file), NULL },
};

static const struct field serve_fields[] = {
	{ "ecs", FIELD_VALUE, conf_set_listen, offsetof(struct conf, serve.ecs),
	  NULL },
	{ "imds", FIELD_VALUE, conf_set_listen,
	  offsetof(struct conf, serve.imds), NULL },
	{ "imds_role", FIELD_VALUE, conf_set_role_ref,
	  offsetof(struct conf, serve.imds_role), NULL },
	{ "allowed_uids", FIELD_LIST, conf_set_uids,
	  offsetof(struct conf, serve.allowed_uids), NULL },
	{ "allow_non_loopback", FIELD_VALUE, conf_set_bool,
	  offsetof(struct conf, serve.allow_non_loopback), NULL },
	{ "imds_for_remote_peers", FIELD_VALUE, conf_set_bool,
	  offsetof(struct conf, serve.imds_for_remote_peers), NULL },
};

static const struct field refresh_fields[] = {
	{ "min_remaining", FIELD_VALUE, conf_set_min_remaining,
	  offsetof(struct conf, refresh.min_remaining), NULL },
};

static const struct field notify_fields[] = {
	{ "before", FIELD_VALUE, conf_set_notify_before,
	  offsetof(struct conf, notify.before), NULL },
	{ "desktop", FIELD_VALUE, conf_set_bool,
	  offsetof(struct conf, notify.desktop), NULL },
	{ "command", FIELD_VALUE, conf_set_abs_path,
	  offsetof(struct conf, notify.command), NULL },
};

static const struct table adfs_table = { adfs_fields,
					 ELEMENTSOF(adfs_fields) };
static const struct table aws_table = { aws_fields, ELEMENTSOF(aws_fields) };
static const struct table serve_table = { serve_fields,
					  ELEMENTSOF(serve_fields) };
static const struct table refresh_table = { refresh_fields,
					    ELEMENTSOF(refresh_fields) };
static const struct table notify_table = { notify_fields,
					   ELEMENTSOF(notify_fields) };

static const struct field top_fields[] = {
	{ "adfs", FIELD_SECTION, NULL, 0, &adfs_table },
	{ "aws", FIELD_SECTION, NULL, 0, &aws_table },
	{ "roles", FIELD_ROLES, NULL, offsetof(struct conf, roles), NULL },
	{ "default_role", FIELD_VALUE, conf_set_role_ref,
	  offsetof(struct conf, default_role), NULL },
	{ "serve", FIELD_SECTION, NULL, 0, &serve_table },
	{ "refresh", FIELD_SECTION, NULL, 0, &refresh_table },
	{ "notify", FIELD_SECTION, NULL, 0, &notify_table },
	{ "state_dir", FIELD_VALUE, conf_set_abs_path,
	  offsetof(struct conf, state_dir), NULL },
	{ "log_level", FIELD_VALUE, conf_set_log_level,
	  offsetof(struct conf, log_level), NULL },
};
static const struct table top_table = { top_fields, ELEMENTSOF(top_fields) };

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

static int syntax_error(struct map *m, const yaml_parser_t *parser,
			const char *data, size_t len)
{
	const char *problem = parser->problem ? parser->problem : "error";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return conf_report_oom(m->p);
	case YAML_READER_ERROR:
		if (parser->problem_value >= 0)
			report(m,
			       mark_at_offset(data, len, parser->problem_offset),
			       "invalid YAML: %s (byte 0x%02x); the file must "
			       "be UTF-8 text",
			       problem, (unsigned)parser->problem_value);
		else
			report(m,
			       mark_at_offset(data, len, parser->problem_offset),
			       "invalid YAML: %s; the file must be UTF-8 text",
			       problem);
		break;
	default:
		if (parser->context)
			report(m, parser->problem_mark,
			       "invalid YAML: %s (%s at line %zu, column %zu)",
			       problem, parser->context,
			       parser->context_mark.line + 1,
			       parser->context_mark.column + 1);
		else
			report(m, parser->problem_mark, "invalid YAML: %s",
			       problem);
		break;
	}
	return -EINVAL;
}

static void check_tag(struct map *m, const yaml_event_t *ev,
		      const yaml_char_t *tag, const char *const *allowed)
{
	char q[CONF_QUOTE_BUF];
	const char *t;

	if (!tag)
		return;
	for (; *allowed; allowed++)
		if (streq((const char *)tag, *allowed))
			return;
	t = (const char *)tag;
	if (strneq(t, "tag:yaml.org,2002:", 18))
		report(m, ev->start_mark,
		       "the tag '!!%s' is not supported here: remove it",
		       conf_report_quote(q, t + 18, strlen(t + 18)));
	else
		report(m, ev->start_mark,
		       "the tag '%s' is not supported: remove it",
		       conf_report_quote(q, t, strlen(t)));
}

static void check_anchor(struct map *m, const yaml_event_t *ev,
			 const yaml_char_t *anchor)
{
	char q[CONF_QUOTE_BUF];

	if (anchor)
		report(m, ev->start_mark,
		       "anchors (&%s) are not supported: write each value out",
		       conf_report_quote(q, (const char *)anchor,
			     strlen((const char *)anchor)));
}

/* Pass 1. Sets *ret_fatal when the document must not be loaded; the
 * caller initialises it to false. */
static int check_events(struct map *m, const char *data, size_t len,
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
	char q[CONF_QUOTE_BUF];
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return conf_report_oom(m->p);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && !fatal) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = syntax_error(m, &parser, data, len);
			fatal = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs == 2)
				report(m, ev.start_mark,
				       "only one YAML document is allowed "
				       "(remove this '---' and what follows)");
			break;
		case YAML_ALIAS_EVENT:
			/* The loader would share the node between both
			 * places; the schema errors that follow from that
			 * only confuse. Report the rest of pass 1, then stop. */
			*ret_fatal = true;
			report(m, ev.start_mark,
			       "aliases (*%s) are not supported: write each "
			       "value out",
			       conf_report_quote(q, (const char *)ev.data.alias.anchor,
				     strlen((const char *)ev.data.alias.anchor)));
			break;
		case YAML_SCALAR_EVENT:
			check_anchor(m, &ev, ev.data.scalar.anchor);
			check_tag(m, &ev, ev.data.scalar.tag, scalar_tags);
			break;
		case YAML_SEQUENCE_START_EVENT:
			check_anchor(m, &ev, ev.data.sequence_start.anchor);
			check_tag(m, &ev, ev.data.sequence_start.tag,
				  seq_tags);
			if (++depth > MAX_DEPTH) {
				report(m, ev.start_mark,
				       "nesting is deeper than %u levels",
				       MAX_DEPTH);
				fatal = true;
			}
			break;
		case YAML_MAPPING_START_EVENT:
			check_anchor(m, &ev, ev.data.mapping_start.anchor);
			check_tag(m, &ev, ev.data.mapping_start.tag,
				  map_tags);
			if (++depth > MAX_DEPTH) {
				report(m, ev.start_mark,
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
	return m->p->r < 0 ? m->p->r : r;
}

/* ---- pass 2: the document ---- */

int conf_yaml_map(struct conf_parse *p, const char *data, size_t len)
{
	yaml_node_t *nodes[MAX_FIELDS] = { NULL };
	struct map m = { .p = p };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	char g[CONF_QUOTE_BUF];
	bool fatal = false;
	int r;

	r = check_events(&m, data, len, &fatal);
	if (r == -ENOMEM)
		return r;
	if (fatal)
		return 0;

	if (!yaml_parser_initialize(&parser))
		return conf_report_oom(p);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* Pass 1 saw the same bytes without complaint, so this is
		 * the loader's own (or memory); report it once. */
		if (p->n_errors == 0)
			(void)syntax_error(&m, &parser, data, len);
		yaml_parser_delete(&parser);
		if (p->n_errors == 0)
			conf_report(p, (struct conf_mark){ .line = 0 },
				    "invalid YAML");
		return p->r < 0 ? p->r : 0;
	}
	m.doc = &doc;

	root = yaml_document_get_root_node(&doc);
	/* Missing top-level keys point at the first key, or at 1:1. */
	if (root && root->type == YAML_MAPPING_NODE)
		p->root = mark_of(root->start_mark);
	if (root && !is_null(root) && root->type != YAML_MAPPING_NODE) {
		report(&m, root->start_mark,
		       "the file must be a mapping of keys (adfs:, aws:, "
		       "roles:, serve: ...) (got %s)",
		       got(g, root));
		r = 0;
	} else {
		/* An empty file is an empty mapping: the required keys say
		 * what is missing. */
		if (root && root->type == YAML_MAPPING_NODE)
			map_mapping(&m, NULL, root, &top_table, p->conf, nodes);
		r = 1;
	}

	/* Nothing points into the document past here: the checks across
	 * keys read the copies in p->given. */
	m.doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return p->r < 0 ? p->r : r;
}
