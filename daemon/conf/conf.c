/* The configuration as a whole: lifetime, error lists, lookups, loading
 * the file, the defaults, and the parse itself: conf_parse_yaml() runs the
 * YAML mapper (conf-yaml.c, which checks each key through conf-set.c) and
 * then every check across keys here, with the marks the mapper recorded.
 * See docs/internals/conf.md for the rules and their reasons. */
#include "conf/conf.h"

#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "conf/conf-private.h"
#include "util/partition.h"
#include "util/addr.h"
#include "util/buf.h"

struct conf *conf_free(struct conf *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->adfs.url);
	free(c->adfs.relying_party);
	free(c->adfs.username);
	free(c->adfs.password_ref);
	free(c->adfs.ca_file);
	free(c->aws.region);
	free(c->aws.sts_endpoint);
	free(c->aws.iam_endpoint);
	free(c->aws.ca_file);
	for (size_t i = 0; c->roles && i < c->n_roles; i++) {
		free(c->roles[i].name);
		free(c->roles[i].arn);
		free(c->roles[i].principal_arn);
	}
	free(c->roles);
	free(c->default_role);
	conf_listen_clear(&c->serve.ecs);
	conf_listen_clear(&c->serve.imds);
	free(c->serve.imds_role);
	free(c->notify.command);
	free(c->serve.allowed_uids);
	free(c->state_dir);
	free(c);
	return NULL;
}

const struct conf_role *conf_find_role(const struct conf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_roles; i++)
		if (c->roles[i].name && streq(c->roles[i].name, name))
			return &c->roles[i];
	return NULL;
}

char *conf_default_path(void)
{
	const char *dir = secure_getenv("XDG_CONFIG_HOME");
	const char *fmt = "%s/adfs-credd/config.yaml";
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	char *p;

	/* XDG Base Directory: a relative value is invalid and ignored. */
	if (!dir || dir[0] != '/') {
		fmt = "%s/.config/adfs-credd/config.yaml";
		dir = secure_getenv("HOME");
		if (!dir || dir[0] != '/') {
			if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
				       &res) != 0 ||
			    !res || !res->pw_dir || res->pw_dir[0] != '/') {
				errno = ENOENT;
				return NULL;
			}
			dir = res->pw_dir;
		}
	}
	if (asprintf(&p, fmt, dir) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

int conf_load(const char *path, struct conf **ret, struct conf_errors *errs)
{
	_cleanup_(buf_clear) struct buf b = { .data = NULL };
	_cleanup_free_ char *def = NULL;
	int r;

	if (!path) {
		def = conf_default_path();
		if (!def)
			return -errno;
		path = def;
	}
	buf_init(&b, CONF_MAX_SIZE);
	r = buf_read_file(&b, path);
	if (r == -ENOBUFS) {
		r = conf_errors_add(errs,
				    "%s: the file is larger than %u bytes, too "
				    "large for a configuration",
				    path, CONF_MAX_SIZE);
		return r < 0 ? r : -EFBIG;
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errno = -r;
		if (conf_errors_add(errs, "%s: cannot read the configuration: %m",
				    path) < 0)
			return -ENOMEM;
		return r;
	}
	return conf_parse_yaml(path, b.data, b.len, ret, errs);
}

/* ---- defaults and the checks across keys ---- */

struct conf *conf_new_defaults(const char *path)
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
	c->adfs.sso_lifetime = CONF_DEFAULT_SSO_LIFETIME;
	c->adfs.mfa_on_renewal = CONF_MFA_RENEWAL_NOTIFY;
	if (conf_parse_listen(CONF_DEFAULT_ECS_LISTEN, &c->serve.ecs) < 0)
		return NULL;
	c->serve.imds = (struct conf_listen){ .enabled = false };
	c->refresh.min_remaining = CONF_DEFAULT_MIN_REMAINING;
	c->notify.before = CONF_DEFAULT_NOTIFY_BEFORE;
	c->notify.desktop = true;
	c->log_level = LOG_INFO;
	return TAKE_PTR(c);
}

/* Where to point at a key missing from a section: the section's own key
 * ("adfs:"), else the top of the file. */
static struct conf_mark section_mark(const struct conf_parse *p,
				     const char *section)
{
	const struct conf_given *g = conf_report_given_find(p, section);

	return g ? g->key : p->root;
}

static void check_role_ref(struct conf_parse *p, const char *name,
			   const char *ref)
{
	const struct conf_given *g = conf_report_given_find(p, name);

	if (!ref || !g || !p->roles_ok || conf_find_role(p->conf, ref))
		return;
	conf_report(p, g->value,
		    "%s '%s' is not one of the names listed under roles", name,
		    ref);
}

const char *conf_warning(const struct conf *c)
{
	if (!c->serve.imds_for_remote_peers)
		return NULL;
	if (!c->serve.allow_non_loopback)
		return "serve.imds_for_remote_peers is true but has no effect "
		       "without serve.allow_non_loopback";
	return "serve.imds_for_remote_peers is true: any host that can reach "
	       "the IMDS listener reads credentials, since IMDS has no "
	       "secret; give remote peers ECS with its token instead";
}

/* A key about the sign-in form (keep me signed in, the push) set with
 * another adfs.auth. */
static void check_forms_only(struct conf_parse *p, const char *name,
			     const char *what)
{
	const struct conf_given *g = conf_report_given_find(p, name);
	char problem[96];

	if (p->conf->adfs.auth == CONF_AUTH_FORMS || !g)
		return;
	(void)snprintf(problem, sizeof(problem),
		       "%s to the sign-in form only (adfs.auth: forms)", what);
	conf_report_given(p, g, problem);
}

/* Loopback is util/addr's one policy: 127.0.0.0/8, ::1, ::ffff:127.x and
 * localhost(.), as for the HTTP Host header and the peer address. */
static void check_listener(struct conf_parse *p, const char *name,
			   const struct conf_listen *l)
{
	const struct conf_given *g = conf_report_given_find(p, name);

	if (!l->enabled || p->conf->serve.allow_non_loopback ||
	    addr_host_is_loopback(l->host) || !g)
		return;
	conf_report_given(p, g,
			  "must be on loopback (127.0.0.1, [::1] or localhost) "
			  "unless serve.allow_non_loopback is true");
}

/* The endpoints not given, from the region's partition (util/partition.h,
 * the one table): STS regional when a region is set (AWS recommends
 * regional STS endpoints) under the partition's DNS suffix, else global;
 * IAM is one endpoint per partition. Without a region: aws. */
static int set_endpoints(struct conf_parse *p)
{
	struct conf *c = p->conf;

	if (!c->aws.sts_endpoint &&
	    partition_sts_endpoint(c->aws.region, &c->aws.sts_endpoint) < 0)
		return conf_report_oom(p);
	if (!c->aws.iam_endpoint) {
		c->aws.iam_endpoint = strdup(
			partition_from_region(c->aws.region)->iam_endpoint);
		if (!c->aws.iam_endpoint)
			return conf_report_oom(p);
	}
	return 0;
}

void conf_validate(struct conf_parse *p)
{
	struct conf *c = p->conf;

	if (!conf_report_given_find(p, "adfs.url"))
		conf_report(p, section_mark(p, "adfs"), "adfs.url is required");
	if (!conf_report_given_find(p, "adfs.username") &&
	    c->adfs.auth != CONF_AUTH_KERBEROS)
		conf_report(p, section_mark(p, "adfs"),
			    "adfs.username is required (unless adfs.auth is "
			    "kerberos)");

	if (c->adfs.keep_me_signed_in)
		check_forms_only(p, "adfs.keep_me_signed_in", "applies");
	if (c->adfs.mfa_on_renewal == CONF_MFA_RENEWAL_PUSH)
		check_forms_only(p, "adfs.mfa_on_renewal", "push applies");

	check_role_ref(p, "default_role", c->default_role);
	check_role_ref(p, "serve.imds_role", c->serve.imds_role);

	check_listener(p, "serve.ecs", &c->serve.ecs);
	check_listener(p, "serve.imds", &c->serve.imds);
	if (c->serve.ecs.enabled && c->serve.imds.enabled &&
	    c->serve.ecs.port == c->serve.imds.port &&
	    strcasecmp(c->serve.ecs.host, c->serve.imds.host) == 0) {
		const struct conf_given *g =
			conf_report_given_find(p, "serve.imds");

		if (g)
			conf_report_given(p, g,
					  "must differ from serve.ecs: both "
					  "would listen on the same address");
	}

	(void)set_endpoints(p);
}

/* ---- the parse ---- */

int conf_parse_yaml(const char *path, const char *data, size_t len,
		    struct conf **ret, struct conf_errors *errs)
{
	_cleanup_(conf_freep) struct conf *c = NULL;
	struct conf_parse p = { .path = path ? path : "<config>",
				.errs = errs };
	int r;

	assert(ret);
	assert(data || len == 0);
	if (!data)
		data = "";
	if (len > CONF_MAX_SIZE) {
		r = conf_errors_add(errs,
				    "%s: the file is larger than %u bytes, too "
				    "large for a configuration",
				    p.path, CONF_MAX_SIZE);
		return r < 0 ? r : -EINVAL;
	}
	c = conf_new_defaults(path);
	if (!c)
		return -ENOMEM;
	p.conf = c;

	r = conf_yaml_map(&p, data, len);
	if (r > 0)
		conf_validate(&p);
	conf_report_finish(&p);
	if (p.r < 0)
		return p.r;
	if (r < 0)
		return r;
	if (p.n_errors > 0)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}
