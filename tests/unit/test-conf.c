/* Unit tests for daemon/conf: the schema of INTERFACE.md "Config (YAML)",
 * accepted values and what they become, defaults, the value-check API,
 * error collection, and conf_load on real files. The rejected files with
 * their exact "PATH:LINE:COL: message" are data: tests/unit/data/conf-cases,
 * run by test-conf-cases.c. Only cases with generated input stay here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "util/buf.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined (tests/unit/data)"
#endif
#define EXAMPLE_CONF TEST_DATA_DIR "/../../../config/adfs-credd.yaml.example"

/* The smallest valid file; what tests append starts on line 4. */
#define BASE "adfs:\n  url: https://adfs.example.com\n  username: alice\n"

#define ARN "arn:aws:iam::123456789012:role/R"

/* ---- helpers ---- */

static struct conf *parse_ok(const char *yaml)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	int r;

	r = conf_parse_yaml("t.yaml", yaml, strlen(yaml), &c, &errs);
	if (r != 0) {
		(void)fprintf(stderr, "unexpected errors for:\n%s--\n", yaml);
		conf_errors_print(&errs, stderr);
	}
	assert_int_equal(r, 0);
	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	assert_int_equal(errs.dropped, 0);
	conf_errors_clear(&errs);
	return c;
}

/* yaml must fail with exactly want[] (NULL-terminated), in that order. */
static void check_errors_(const char *yaml, const char *const *want)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	size_t n = 0;
	int r;

	while (want[n])
		n++;
	r = conf_parse_yaml("t.yaml", yaml, strlen(yaml), &c, &errs);
	if (r != -EINVAL || errs.n != n) {
		(void)fprintf(stderr, "input:\n%s--\ngot r=%d, errors:\n", yaml,
			      r);
		conf_errors_print(&errs, stderr);
	}
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	assert_int_equal(errs.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(errs.msgs[i], want[i]);
	assert_int_equal(errs.dropped, 0);
	conf_errors_clear(&errs);
}
#define check_errors(yaml, ...)                                              \
	check_errors_((yaml), (const char *const[]){ __VA_ARGS__, NULL })
#define check_error(yaml, msg) check_errors((yaml), (msg))

/* BASE plus one more section, parsed successfully. */
static struct conf *parse_base_plus(const char *more)
{
	struct buf b;
	struct conf *c;

	buf_init(&b, CONF_MAX_SIZE);
	assert_int_equal(buf_append_str(&b, BASE), 0);
	assert_int_equal(buf_append_str(&b, more), 0);
	c = parse_ok(b.data);
	buf_clear(&b);
	return c;
}

static void check_defaults_except_adfs(const struct conf *c)
{
	assert_null(c->aws.region);
	assert_string_equal(c->aws.sts_endpoint, CONF_DEFAULT_STS_ENDPOINT);
	assert_string_equal(c->aws.iam_endpoint, CONF_DEFAULT_IAM_ENDPOINT);
	assert_null(c->aws.ca_file);
	assert_null(c->roles);
	assert_int_equal(c->n_roles, 0);
	assert_null(c->default_role);
	assert_true(c->serve.ecs.enabled);
	assert_string_equal(c->serve.ecs.host, "127.0.0.1");
	assert_int_equal(c->serve.ecs.port, 9911);
	assert_false(c->serve.imds.enabled);
	assert_null(c->serve.imds.host);
	assert_null(c->serve.imds_role);
	assert_null(c->serve.allowed_uids);
	assert_int_equal(c->serve.n_allowed_uids, 0);
	assert_false(c->serve.allow_non_loopback);
	assert_int_equal(c->refresh.min_remaining, 30 * USEC_PER_MINUTE);
	assert_null(c->state_dir);
	assert_int_equal(c->log_level, LOG_INFO);
}

/* ---- whole files ---- */

static void test_example(void **state)
{
	struct conf_errors errs = { .n = 0 };
	_cleanup_(conf_freep) struct conf *c = NULL;
	int r;

	r = conf_load(EXAMPLE_CONF, &c, &errs);
	conf_errors_print(&errs, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->path, EXAMPLE_CONF);

	assert_string_equal(c->adfs.url, "https://adfs.example.com");
	assert_string_equal(c->adfs.relying_party, "urn:amazon:webservices");
	assert_string_equal(c->adfs.username, "EXAMPLE\\alice");
	assert_int_equal(c->adfs.auth, CONF_AUTH_FORMS);
	assert_int_equal(c->adfs.password, CONF_PASSWORD_PROMPT);
	assert_null(c->adfs.password_ref);
	assert_false(c->adfs.remember_password);
	assert_null(c->adfs.ca_file);
	assert_int_equal(c->adfs.timeout, 30 * USEC_PER_SEC);

	assert_null(c->aws.region);
	assert_string_equal(c->aws.sts_endpoint, "https://sts.amazonaws.com");
	assert_string_equal(c->aws.iam_endpoint, "https://iam.amazonaws.com");
	assert_null(c->aws.ca_file);

	assert_int_equal(c->n_roles, 2);
	assert_string_equal(c->roles[0].name, "prod");
	assert_string_equal(c->roles[0].arn,
			    "arn:aws:iam::123456789012:role/ADFS-Production");
	assert_string_equal(c->roles[0].principal_arn,
			    "arn:aws:iam::123456789012:saml-provider/ADFS");
	assert_int_equal(c->roles[0].duration, 0);
	assert_string_equal(c->roles[1].name, "dev");
	assert_string_equal(c->roles[1].arn,
			    "arn:aws:iam::210987654321:role/ADFS-Developer");
	assert_null(c->roles[1].principal_arn);
	assert_int_equal(c->roles[1].duration, 4 * 3600);
	assert_string_equal(c->default_role, "prod");

	assert_true(c->serve.ecs.enabled);
	assert_string_equal(c->serve.ecs.host, "127.0.0.1");
	assert_int_equal(c->serve.ecs.port, 9911);
	assert_false(c->serve.imds.enabled);
	assert_null(c->serve.imds_role);
	assert_int_equal(c->serve.n_allowed_uids, 0);
	assert_false(c->serve.allow_non_loopback);
	assert_int_equal(c->refresh.min_remaining, 30 * USEC_PER_MINUTE);
	assert_null(c->state_dir);
	assert_int_equal(c->log_level, LOG_INFO);
	conf_errors_clear(&errs);
}

/* The example's commented-out keys ("#key: value", no space after '#')
 * must be valid too once uncommented. */
static void test_example_uncommented(void **state)
{
	_cleanup_(conf_freep) struct conf *c = NULL;
	struct buf in, out;
	const char *p;

	buf_init(&in, CONF_MAX_SIZE);
	buf_init(&out, CONF_MAX_SIZE);
	assert_int_equal(buf_read_file(&in, EXAMPLE_CONF), 0);
	for (p = in.data; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		size_t ind = strspn(p, " ");

		if (p[ind] == '#' && p[ind + 1] >= 'a' && p[ind + 1] <= 'z') {
			assert_int_equal(buf_append(&out, p, ind), 0);
			assert_int_equal(
				buf_append(&out, p + ind + 1, len - ind - 1), 0);
		} else {
			assert_int_equal(buf_append(&out, p, len), 0);
		}
		p += len;
	}
	c = parse_ok(out.data);
	assert_string_equal(c->adfs.ca_file, "/etc/adfs-credd/adfs-ca.pem");
	assert_string_equal(c->aws.region, "eu-west-1");
	assert_string_equal(c->aws.sts_endpoint,
			    "https://sts.eu-west-1.amazonaws.com");
	assert_string_equal(c->aws.iam_endpoint, "https://iam.amazonaws.com");
	assert_string_equal(c->aws.ca_file, "/etc/adfs-credd/aws-ca.pem");
	assert_string_equal(c->serve.imds_role, "prod");
	assert_string_equal(c->state_dir, "/run/user/1000/adfs-credd");
	buf_clear(&in);
	buf_clear(&out);
}

static void test_full(void **state)
{
	struct conf_errors errs = { .n = 0 };
	_cleanup_(conf_freep) struct conf *c = NULL;
	const struct conf_role *r;

	assert_int_equal(conf_load(TEST_DATA_DIR "/conf-full.yaml", &c, &errs),
			 0);
	/* Scheme lowercased, trailing slashes dropped, the rest as written. */
	assert_string_equal(c->adfs.url,
			    "https://sts.corp.example.org:8443/adfs");
	assert_string_equal(c->adfs.relying_party,
			    "https://signin.aws.amazon.com/saml");
	assert_string_equal(c->adfs.username, "alice@corp.example.org");
	assert_int_equal(c->adfs.auth, CONF_AUTH_WSTRUST);
	assert_int_equal(c->adfs.password, CONF_PASSWORD_CREDENTIAL);
	assert_string_equal(c->adfs.password_ref, "adfs-password");
	assert_true(c->adfs.remember_password);
	assert_string_equal(c->adfs.ca_file, "/etc/adfs-credd/adfs-ca.pem");
	assert_int_equal(c->adfs.timeout, 2 * USEC_PER_MINUTE);

	assert_string_equal(c->aws.region, "us-gov-west-1");
	assert_string_equal(c->aws.sts_endpoint,
			    "https://sts.us-gov-west-1.amazonaws.com");
	assert_string_equal(c->aws.iam_endpoint,
			    "https://iam.us-gov.amazonaws.com");
	assert_string_equal(c->aws.ca_file, "relative/aws-ca.pem");

	assert_int_equal(c->n_roles, 3);
	assert_string_equal(
		c->roles[0].arn,
		"arn:aws-us-gov:iam::123456789012:role/path/to/ADFS-Production");
	assert_string_equal(c->roles[0].principal_arn,
			    "arn:aws-us-gov:iam::123456789012:saml-provider/ADFS");
	assert_int_equal(c->roles[0].duration, 43200);
	assert_string_equal(c->roles[1].name, "dev.team@x+y=z_1-2");
	assert_int_equal(c->roles[1].duration, 900);
	assert_null(c->roles[1].principal_arn);
	assert_int_equal(c->roles[2].duration, 5400);
	assert_string_equal(c->default_role, "dev.team@x+y=z_1-2");

	assert_true(c->serve.ecs.enabled);
	assert_string_equal(c->serve.ecs.host, "::1");
	assert_int_equal(c->serve.ecs.port, 19911);
	assert_true(c->serve.imds.enabled);
	assert_string_equal(c->serve.imds.host, "localhost");
	assert_int_equal(c->serve.imds.port, 80);
	assert_string_equal(c->serve.imds_role, "ops");
	assert_int_equal(c->serve.n_allowed_uids, 3);
	assert_int_equal(c->serve.allowed_uids[0], 0);
	assert_int_equal(c->serve.allowed_uids[1], 1001);
	assert_int_equal(c->serve.allowed_uids[2], 4294967294u);
	assert_false(c->serve.allow_non_loopback);
	assert_int_equal(c->refresh.min_remaining, 6 * USEC_PER_HOUR);
	assert_string_equal(c->state_dir, "/var/lib/adfs-credd");
	assert_int_equal(c->log_level, LOG_DEBUG);

	r = conf_find_role(c, "ops");
	assert_ptr_equal(r, &c->roles[2]);
	assert_null(conf_find_role(c, "OPS"));
	assert_null(conf_find_role(c, "missing"));
	assert_null(conf_find_role(c, NULL));
	assert_null(conf_find_role(NULL, "ops"));
	conf_errors_clear(&errs);
}

/* Many mistakes in one file: all reported in one pass, in file order. */
static void test_many_errors(void **state)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	const char *path = TEST_DATA_DIR "/conf-errors.yaml";
	const char *const want[] = {
		/* Missing keys point at their section's key. */
		"1:1: adfs.username is required (unless adfs.auth is kerberos)",
		"2:8: adfs.url must be an https:// URL (got "
		"'http://adfs.example.com')",
		"3:9: adfs.auth must be forms, kerberos or wstrust (got 'ntlm')",
		"4:12: adfs.timeout must be between 1s and 10m (got '0')",
		"5:3: unknown key 'adfs.colour' (expected one of: url, "
		"relying_party, username, auth, password, remember_password, "
		"ca_file, timeout, sso_lifetime, keep_me_signed_in, "
		"mfa_on_renewal)",
		"7:11: aws.region must be an AWS region name like eu-west-1 (got "
		"'EU-West-1')",
		"10:10: roles[0].arn must be a role ARN like "
		"arn:aws:iam::123456789012:role/NAME (got "
		"'arn:aws:iam::12345:role/x')",
		"11:5: roles[1].arn is required",
		"11:11: roles[1].name 'prod' is already used by roles[0]",
		"12:15: roles[1].duration must be max or between 900 and 43200 "
		"seconds (15m to 12h) (got '899')",
		/* default_role: staging is not checked against broken roles. */
		"15:8: serve.ecs must be on loopback (127.0.0.1, [::1] or "
		"localhost) unless serve.allow_non_loopback is true (got "
		"'0.0.0.0:9911')",
		"16:18: serve.allowed_uids[0] must be a uid between 0 and "
		"4294967294 (got '-1')",
		"18:18: refresh.min_remaining must be between 1m and 6h (got "
		"'7h')",
		"19:12: log_level must be error, warning, info or debug (got "
		"'verbose')",
	};

	assert_int_equal(conf_load(path, &c, &errs), -EINVAL);
	assert_null(c);
	if (errs.n != ELEMENTSOF(want))
		conf_errors_print(&errs, stderr);
	assert_int_equal(errs.n, ELEMENTSOF(want));
	assert_int_equal(errs.dropped, 0);
	for (size_t i = 0; i < errs.n; i++) {
		const char *m = errs.msgs[i];

		assert_true(strneq(m, path, strlen(path)));
		assert_int_equal(m[strlen(path)], ':');
		assert_string_equal(m + strlen(path) + 1, want[i]);
	}
	conf_errors_clear(&errs);
}

static void test_error_cap(void **state)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char line[32], *out = NULL;
	size_t outlen = 0;
	struct buf b;
	FILE *f;

	buf_init(&b, CONF_MAX_SIZE);
	for (unsigned i = 0; i < 100; i++) {
		(void)snprintf(line, sizeof(line), "k%u: 1\n", i);
		assert_int_equal(buf_append_str(&b, line), 0);
	}
	assert_int_equal(conf_parse_yaml("t.yaml", b.data, b.len, &c, &errs),
			 -EINVAL);
	assert_null(c);
	/* 100 unknown keys and 2 missing ones. */
	assert_int_equal(errs.n, CONF_MAX_ERRORS);
	assert_int_equal(errs.dropped, 102 - CONF_MAX_ERRORS);
	assert_true(strneq(errs.msgs[0], "t.yaml:1:1: unknown key 'k0' ", 29));

	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	conf_errors_print(&errs, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "\n(38 more errors not shown)\n"));
	free(out);
	conf_errors_clear(&errs);
	assert_int_equal(errs.n, 0);
	assert_int_equal(errs.dropped, 0);
	conf_errors_clear(&errs); /* twice is fine */
	buf_clear(&b);
}

static void test_errors_append(void **state)
{
	struct conf_errors errs = { .n = 0 };
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	assert_int_equal(conf_errors_add(&errs, "a: %d", 1), 0);
	assert_int_equal(conf_errors_add(&errs, "a: %d", 1), 0); /* kept once */
	assert_int_equal(conf_errors_add(&errs, "b"), 0);
	assert_int_equal(conf_errors_add(NULL, "ignored"), 0);
	assert_int_equal(errs.n, 2);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	conf_errors_print(&errs, f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(out, "a: 1\nb\n");
	free(out);
	conf_errors_clear(&errs);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	_cleanup_(conf_freep) struct conf *c = parse_ok(BASE);

	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->adfs.url, "https://adfs.example.com");
	assert_string_equal(c->adfs.relying_party, CONF_DEFAULT_RELYING_PARTY);
	assert_string_equal(c->adfs.username, "alice");
	assert_int_equal(c->adfs.auth, CONF_AUTH_FORMS);
	assert_int_equal(c->adfs.password, CONF_PASSWORD_PROMPT);
	assert_null(c->adfs.password_ref);
	assert_false(c->adfs.remember_password);
	assert_null(c->adfs.ca_file);
	assert_int_equal(c->adfs.timeout, CONF_DEFAULT_TIMEOUT);
	assert_int_equal(c->adfs.timeout, 30 * USEC_PER_SEC);
	/* The horizon's (issue 16): AD FS's WebSsoLifetime default. */
	assert_int_equal(c->adfs.sso_lifetime, 8 * USEC_PER_HOUR);
	assert_false(c->adfs.keep_me_signed_in);
	assert_int_equal(c->adfs.mfa_on_renewal, CONF_MFA_RENEWAL_NOTIFY);
	assert_int_equal(c->notify.before, 30 * USEC_PER_MINUTE);
	assert_true(c->notify.desktop);
	assert_null(c->notify.command);
	check_defaults_except_adfs(c);
}

static void test_defaults_null_path(void **state)
{
	struct conf_errors errs = { .n = 0 };
	_cleanup_(conf_freep) struct conf *c = NULL;

	assert_int_equal(conf_parse_yaml(NULL, BASE, strlen(BASE), &c, &errs),
			 0);
	assert_null(c->path);
	assert_int_equal(conf_parse_yaml(NULL, "", 0, &c, &errs), -EINVAL);
	assert_string_equal(errs.msgs[0], "<config>:1:1: adfs.url is required");
	conf_errors_clear(&errs);
	assert_null(conf_free(NULL));
}

static void test_sections_may_be_empty(void **state)
{
	/* Every key under a section commented out leaves the section null. */
	_cleanup_(conf_freep) struct conf *c =
		parse_base_plus("aws:\nserve:\nrefresh:\n");

	check_defaults_except_adfs(c);
}

static void test_sts_endpoint(void **state)
{
	static const struct {
		const char *yaml, *sts, *iam;
	} cases[] = {
		{ "aws:\n  region: eu-west-1\n",
		  "https://sts.eu-west-1.amazonaws.com",
		  "https://iam.amazonaws.com" },
		{ "aws:\n  region: us-east-1\n",
		  "https://sts.us-east-1.amazonaws.com",
		  "https://iam.amazonaws.com" },
		{ "aws:\n  region: cn-north-1\n",
		  "https://sts.cn-north-1.amazonaws.com.cn",
		  "https://iam.cn-north-1.amazonaws.com.cn" },
		{ "aws:\n  region: cn-northwest-1\n",
		  "https://sts.cn-northwest-1.amazonaws.com.cn",
		  "https://iam.cn-north-1.amazonaws.com.cn" },
		{ "aws:\n  region: us-gov-west-1\n",
		  "https://sts.us-gov-west-1.amazonaws.com",
		  "https://iam.us-gov.amazonaws.com" },
		/* The European Sovereign Cloud is not under amazonaws.com. */
		{ "aws:\n  region: eusc-de-east-1\n",
		  "https://sts.eusc-de-east-1.amazonaws.eu",
		  "https://iam.eusc-de-east-1.amazonaws.eu" },
		/* An override wins over the region, slashes dropped. */
		{ "aws:\n  region: eu-west-1\n"
		  "  sts_endpoint: https://vpce-1.sts.eu-west-1.vpce.amazonaws.com/\n"
		  "  iam_endpoint: https://iam.example.net:8443\n",
		  "https://vpce-1.sts.eu-west-1.vpce.amazonaws.com",
		  "https://iam.example.net:8443" },
		{ "aws:\n  sts_endpoint: https://sts.amazonaws.com\n",
		  "https://sts.amazonaws.com", "https://iam.amazonaws.com" },
		{ "aws:\n  ca_file: /x.pem\n", "https://sts.amazonaws.com",
		  "https://iam.amazonaws.com" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(conf_freep) struct conf *c =
			parse_base_plus(cases[i].yaml);

		assert_string_equal(c->aws.sts_endpoint, cases[i].sts);
		assert_string_equal(c->aws.iam_endpoint, cases[i].iam);
	}
}

/* ---- adfs ---- */

static void test_adfs_url(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "https://adfs.example.com", "https://adfs.example.com" },
		{ "https://adfs.example.com/", "https://adfs.example.com" },
		{ "https://adfs.example.com///", "https://adfs.example.com" },
		{ "https://adfs.example.com/x/", "https://adfs.example.com/x" },
		{ "https://adfs.example.com:443/", "https://adfs.example.com:443" },
		{ "HTTPS://ADFS.example.com", "https://ADFS.example.com" },
		{ "https://10.1.2.3:8443", "https://10.1.2.3:8443" },
		{ "https://[2001:db8::1]:8443/", "https://[2001:db8::1]:8443" },
		{ "https://[::1]", "https://[::1]" },
	};
	char yaml[256];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "adfs:\n  url: %s\n  username: a\n", ok[i].in);
		c = parse_ok(yaml);
		assert_string_equal(c->adfs.url, ok[i].out);
		assert_null(conf_check_https_url(ok[i].in));
	}
	assert_non_null(conf_check_https_url(NULL));
}

static void test_adfs_required(void **state)
{
	{
		_cleanup_(conf_freep) struct conf *c = parse_ok(
			"adfs:\n  url: https://a.example\n  auth: kerberos\n");

		assert_int_equal(c->adfs.auth, CONF_AUTH_KERBEROS);
		assert_null(c->adfs.username);
	}
}

static void test_adfs_auth(void **state)
{
	static const struct {
		const char *s;
		enum conf_auth v;
	} ok[] = {
		{ "forms", CONF_AUTH_FORMS },
		{ "kerberos", CONF_AUTH_KERBEROS },
		{ "wstrust", CONF_AUTH_WSTRUST },
	};
	char yaml[128];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "  auth: %s\n", ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->adfs.auth, ok[i].v);
	}
}

static void test_adfs_password(void **state)
{
	static const struct {
		const char *s;
		enum conf_password v;
		const char *ref;
	} ok[] = {
		{ "prompt", CONF_PASSWORD_PROMPT, NULL },
		{ "credential:adfs-password", CONF_PASSWORD_CREDENTIAL,
		  "adfs-password" },
		{ "credential:a.b", CONF_PASSWORD_CREDENTIAL, "a.b" },
		{ "file:/etc/adfs-credd/password", CONF_PASSWORD_FILE,
		  "/etc/adfs-credd/password" },
	};
	char yaml[160];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "  password: %s\n", ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->adfs.password, ok[i].v);
		if (ok[i].ref)
			assert_string_equal(c->adfs.password_ref, ok[i].ref);
		else
			assert_null(c->adfs.password_ref);
	}
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "true", "True", "TRUE",
					   "yes",  "Yes",  "YES", "\"true\"" };
	static const char *const no[] = { "false", "False", "FALSE",
					  "no",    "No",    "NO" };
	char yaml[128];

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "  remember_password: %s\nserve:\n  "
			       "allow_non_loopback: %s\n",
			       yes[i], yes[i]);
		c = parse_base_plus(yaml);
		assert_true(c->adfs.remember_password);
		assert_true(c->serve.allow_non_loopback);
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "  remember_password: %s\n", no[i]);
		c = parse_base_plus(yaml);
		assert_false(c->adfs.remember_password);
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		usec_t v;
	} timeout_ok[] = {
		{ "1s", USEC_PER_SEC },
		{ "1", USEC_PER_SEC },
		{ "30", 30 * USEC_PER_SEC },
		{ "\"45s\"", 45 * USEC_PER_SEC },
		{ "2m", 2 * USEC_PER_MINUTE },
		{ "600", 10 * USEC_PER_MINUTE },
		{ "10m", 10 * USEC_PER_MINUTE },
	};
	static const struct {
		const char *s;
		usec_t v;
	} min_ok[] = {
		{ "1m", USEC_PER_MINUTE },
		{ "60", USEC_PER_MINUTE },
		{ "90m", 90 * USEC_PER_MINUTE },
		{ "6h", 6 * USEC_PER_HOUR },
		{ "21600s", 6 * USEC_PER_HOUR },
	};
	char yaml[128];

	for (size_t i = 0; i < ELEMENTSOF(timeout_ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "  timeout: %s\n",
			       timeout_ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->adfs.timeout, timeout_ok[i].v);
	}
	for (size_t i = 0; i < ELEMENTSOF(min_ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "refresh:\n  min_remaining: %s\n", min_ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->refresh.min_remaining, min_ok[i].v);
	}
}

/* ---- aws ---- */

static void test_region(void **state)
{
	static const char *const ok[] = {
		"eu-west-1",  "us-east-1",	  "us-gov-west-1", "cn-north-1",
		"ap-southeast-2", "il-central-1", "eusc-de-east-1",
		"us-isob-east-1", "me-south-10",
	};
	static const char *const bad[] = {
		"EU-west-1", "eu-west",	 "eu_west_1", "eu-west-1a", "west1",
		"eu--west-1", "-eu-west-1", "eu-west-100", "eu-1", "eu west 1",
		"eu-west-1-", "1-eu-west",
	};
	char yaml[128];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "aws:\n  region: %s\n",
			       ok[i]);
		c = parse_base_plus(yaml);
		assert_string_equal(c->aws.region, ok[i]);
	}
	/* The messages: tests/unit/data/conf-cases/region-*. */
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_non_null(conf_check_region(bad[i]));
	assert_non_null(conf_check_region(NULL));
	assert_non_null(
		conf_check_region("abcdefghijklmnop-abcdefghijklmnop-1"));
}

/* ---- roles ---- */

static void test_roles_ok(void **state)
{
	_cleanup_(conf_freep) struct conf *c = parse_base_plus(
		"roles:\n"
		"  - name: a\n    arn: arn:aws:iam::123456789012:role/A\n"
		"  - {name: b, arn: 'arn:aws-cn:iam::123456789012:role/B', "
		"duration: 43200}\n"
		"  - name: c\n    arn: arn:aws:iam::123456789012:role/x/y/C\n"
		"    principal_arn: arn:aws:iam::123456789012:saml-provider/a_b.c-d\n"
		"    duration: 4h\n"
		"default_role: c\n"
		"serve:\n  imds_role: b\n");

	assert_int_equal(c->n_roles, 3);
	assert_string_equal(c->roles[0].name, "a");
	assert_int_equal(c->roles[0].duration, 0);
	assert_null(c->roles[0].principal_arn);
	assert_string_equal(c->roles[1].arn,
			    "arn:aws-cn:iam::123456789012:role/B");
	assert_int_equal(c->roles[1].duration, 43200);
	assert_string_equal(c->roles[2].arn,
			    "arn:aws:iam::123456789012:role/x/y/C");
	assert_string_equal(c->roles[2].principal_arn,
			    "arn:aws:iam::123456789012:saml-provider/a_b.c-d");
	assert_int_equal(c->roles[2].duration, 14400);
	assert_string_equal(c->default_role, "c");
	assert_string_equal(c->serve.imds_role, "b");
}

static void test_role_durations(void **state)
{
	static const struct {
		const char *s;
		uint32_t v;
	} ok[] = {
		{ "max", 0 },	  { "900", 900 },     { "43200", 43200 },
		{ "4h", 14400 },  { "90m", 5400 },    { "\"90m\"", 5400 },
		{ "12h", 43200 }, { "900s", 900 },    { "15m", 900 },
		{ "!!int 3600", 3600 },
	};
	char yaml[256];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "roles:\n  - name: a\n    arn: " ARN
			       "\n    duration: %s\n",
			       ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->roles[0].duration, ok[i].v);
	}
}

static void test_role_names(void **state)
{
	static const char *const ok[] = {
		"a", "prod", "A-Z_a.z@0+9=x",
		"x234567890123456789012345678901234567890123456789012345678901234",
	};
	static const char *const bad[] = {
		"a/b",
		"a b",
		"a,b",
		"prod:1",
		"x2345678901234567890123456789012345678901234567890123456789012345",
		"ü",
	};
	char yaml[256];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "roles:\n  - name: '%s'\n    arn: " ARN "\n",
			       ok[i]);
		c = parse_base_plus(yaml);
		assert_string_equal(c->roles[0].name, ok[i]);
		assert_ptr_equal(conf_find_role(c, ok[i]), &c->roles[0]);
	}
	/* The messages: tests/unit/data/conf-cases/role-names-*. */
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_non_null(conf_check_role_name(bad[i]));
	assert_non_null(conf_check_role_name(NULL));
	assert_non_null(conf_check_role_name(""));
}

static void test_role_arns(void **state)
{
	static const char *const ok[] = {
		"arn:aws:iam::123456789012:role/ADFS-Production",
		"arn:aws:iam::123456789012:role/service-role/x+=,.@-_",
		"arn:aws-cn:iam::123456789012:role/R",
		"arn:aws-us-gov:iam::123456789012:role/R",
		"arn:aws-iso-b:iam::123456789012:role/a/b/c/R",
	};
	static const char *const bad[] = {
		"arn:aws:iam::12345:role/x",
		"arn:aws:iam::1234567890123:role/x",
		"arn:aws:iam::123456789012:user/x",
		"arn:aws:iam::123456789012:role/",
		"arn:aws:iam::123456789012:role//x",
		"arn:aws:iam::123456789012:role/a//x",
		"arn:aws:iam::123456789012:role/x/",
		"arn:aws:sts::123456789012:role/x",
		"arn:aws:iam:eu-west-1:123456789012:role/x",
		"arn:azure:iam::123456789012:role/x",
		"arn:AWS:iam::123456789012:role/x",
		"arn:aws:iam::123456789012:role/x y",
		"arn:aws:iam::123456789012:role/x!",
		"arn:aws:iam::123456789012:saml-provider/ADFS",
		"ADFS-Production",
	};
	static const char *const pok[] = {
		"arn:aws:iam::123456789012:saml-provider/ADFS",
		"arn:aws-us-gov:iam::123456789012:saml-provider/a.b_c-d",
	};
	static const char *const pbad[] = {
		"arn:aws:iam::123456789012:saml-provider/",
		"arn:aws:iam::123456789012:saml-provider/a/b",
		"arn:aws:iam::123456789012:saml-provider/a b",
		"arn:aws:iam::123456789012:saml-provider/a+b",
		"arn:aws:iam::12345678901:saml-provider/ADFS",
		"arn:aws:iam::123456789012:role/ADFS",
		"arn:aws:iam::123456789012:oidc-provider/ADFS",
	};
	char yaml[512];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "roles:\n  - name: a\n    arn: '%s'\n", ok[i]);
		c = parse_base_plus(yaml);
		assert_string_equal(c->roles[0].arn, ok[i]);
	}
	/* The messages: tests/unit/data/conf-cases/role-arns-*. */
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_non_null(conf_check_role_arn(bad[i]));
	for (size_t i = 0; i < ELEMENTSOF(pok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml),
			       "roles:\n  - name: a\n    arn: " ARN
			       "\n    principal_arn: '%s'\n",
			       pok[i]);
		c = parse_base_plus(yaml);
		assert_string_equal(c->roles[0].principal_arn, pok[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(pbad); i++)
		assert_non_null(conf_check_provider_arn(pbad[i]));
	assert_non_null(conf_check_role_arn(NULL));
	assert_non_null(conf_check_provider_arn(NULL));
}

static void test_roles_limit(void **state)
{
	char line[128];
	struct buf b;

	for (unsigned n = CONF_MAX_ROLES; n <= CONF_MAX_ROLES + 1; n++) {
		buf_init(&b, CONF_MAX_SIZE);
		assert_int_equal(buf_append_str(&b, BASE "roles:\n"), 0);
		for (unsigned i = 0; i < n; i++) {
			(void)snprintf(line, sizeof(line),
				       "  - {name: r%u, arn: '" ARN "%u'}\n", i,
				       i);
			assert_int_equal(buf_append_str(&b, line), 0);
		}
		if (n == CONF_MAX_ROLES) {
			_cleanup_(conf_freep) struct conf *c = parse_ok(b.data);

			assert_int_equal(c->n_roles, CONF_MAX_ROLES);
			assert_string_equal(c->roles[255].name, "r255");
			assert_string_equal(c->roles[255].arn, ARN "255");
		} else {
			check_error(b.data, "t.yaml:5:3: roles lists 257 roles; "
					    "at most 256 are allowed");
		}
		buf_clear(&b);
	}
}

static void test_role_refs(void **state)
{
	/* Without roles, any name is accepted: the assertion decides. */
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"default_role: 123456789012/Admin\nserve:\n  imds_role: "
			"whatever\n");

		assert_string_equal(c->default_role, "123456789012/Admin");
		assert_string_equal(c->serve.imds_role, "whatever");
	}
}

/* ---- serve ---- */

static void test_listeners(void **state)
{
	static const struct {
		const char *s;
		bool enabled;
		const char *host;
		uint16_t port;
	} ok[] = {
		{ "off", false, NULL, 0 },
		{ "OFF", false, NULL, 0 },
		{ "127.0.0.1:9911", true, "127.0.0.1", 9911 },
		{ "127.3.2.1:1", true, "127.3.2.1", 1 },
		{ "\"[::1]:9911\"", true, "::1", 9911 },
		{ "localhost:80", true, "localhost", 80 },
		{ "LocalHost:65535", true, "LocalHost", 65535 },
		{ "'[::ffff:127.0.0.1]:9911'", true, "::ffff:127.0.0.1", 9911 },
		/* util/addr's loopback policy: the root-anchored name too. */
		{ "localhost.:9911", true, "localhost.", 9911 },
	};
	char yaml[256];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "serve:\n  ecs: %s\n",
			       ok[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->serve.ecs.enabled, ok[i].enabled);
		if (ok[i].host)
			assert_string_equal(c->serve.ecs.host, ok[i].host);
		else
			assert_null(c->serve.ecs.host);
		assert_int_equal(c->serve.ecs.port, ok[i].port);
	}
}

static void test_listeners_non_loopback(void **state)
{
	/* Allowed, whichever order the keys come in. */
	static const char *const yamls[] = {
		"serve:\n  allow_non_loopback: true\n  ecs: 0.0.0.0:9911\n"
		"  imds: '[::]:80'\n",
		"serve:\n  ecs: 0.0.0.0:9911\n  imds: '[::]:80'\n"
		"  allow_non_loopback: true\n",
	};

	for (size_t i = 0; i < ELEMENTSOF(yamls); i++) {
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(yamls[i]);

		assert_true(c->serve.allow_non_loopback);
		assert_string_equal(c->serve.ecs.host, "0.0.0.0");
		assert_int_equal(c->serve.ecs.port, 9911);
		assert_string_equal(c->serve.imds.host, "::");
		assert_int_equal(c->serve.imds.port, 80);
	}
}

static void test_listeners_identical(void **state)
{
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"serve:\n  ecs: off\n  imds: 127.0.0.1:9911\n");

		assert_false(c->serve.ecs.enabled);
		assert_null(c->serve.ecs.host);
		assert_true(c->serve.imds.enabled);
	}
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"serve:\n  imds: 127.0.0.1:9912\n");

		assert_int_equal(c->serve.ecs.port, 9911);
		assert_int_equal(c->serve.imds.port, 9912);
	}
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"serve:\n  ecs: off\n  imds: off\n");

		assert_false(c->serve.ecs.enabled);
		assert_false(c->serve.imds.enabled);
	}
}

static void test_allowed_uids(void **state)
{
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"serve:\n  allowed_uids: [0, 1001, \"1002\", "
			"4294967294]\n");

		assert_int_equal(c->serve.n_allowed_uids, 4);
		assert_int_equal(c->serve.allowed_uids[0], 0);
		assert_int_equal(c->serve.allowed_uids[1], 1001);
		assert_int_equal(c->serve.allowed_uids[2], 1002);
		assert_int_equal(c->serve.allowed_uids[3], 4294967294u);
	}
	{
		_cleanup_(conf_freep) struct conf *c = parse_base_plus(
			"serve:\n  allowed_uids:\n    - 1000\n");

		assert_int_equal(c->serve.n_allowed_uids, 1);
		assert_int_equal(c->serve.allowed_uids[0], 1000);
	}
	{
		_cleanup_(conf_freep) struct conf *c =
			parse_base_plus("serve:\n  allowed_uids: []\n");

		assert_int_equal(c->serve.n_allowed_uids, 0);
		assert_null(c->serve.allowed_uids);
	}
	{
		_cleanup_(conf_freep) struct conf *c =
			parse_base_plus("serve:\n  allowed_uids:\n");

		assert_int_equal(c->serve.n_allowed_uids, 0);
	}
}

static void test_parse_listen_api(void **state)
{
	struct conf_listen l = { .enabled = false };

	assert_int_equal(conf_parse_listen("[::1]:9911", &l), 0);
	assert_true(l.enabled);
	assert_string_equal(l.host, "::1");
	assert_int_equal(l.port, 9911);
	conf_listen_clear(&l);
	assert_null(l.host);
	assert_false(l.enabled);
	assert_int_equal(conf_parse_listen("nope", &l), -EINVAL);
	assert_null(l.host);
	assert_int_equal(conf_parse_listen("off", &l), 0);
	assert_false(l.enabled);
	assert_null(conf_check_listen("off"));
	assert_null(conf_check_listen("127.0.0.1:1"));
	assert_non_null(conf_check_listen(NULL));
	assert_non_null(conf_check_listen(""));
}

/* ---- top level, state_dir, log_level ---- */

static void test_state_dir_and_log_level(void **state)
{
	static const struct {
		const char *s;
		int level;
	} levels[] = {
		{ "error", LOG_ERR },
		{ "warning", LOG_WARNING },
		{ "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	char yaml[64];

	for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
		_cleanup_(conf_freep) struct conf *c = NULL;

		(void)snprintf(yaml, sizeof(yaml), "log_level: %s\n",
			       levels[i].s);
		c = parse_base_plus(yaml);
		assert_int_equal(c->log_level, levels[i].level);
	}
	{
		_cleanup_(conf_freep) struct conf *c =
			parse_base_plus("state_dir: /run/user/1000/x\n");

		assert_string_equal(c->state_dir, "/run/user/1000/x");
	}
}

/* ---- YAML features ---- */

static void test_yaml_features(void **state)
{
	/* Anchors and aliases: not supported. */
	/* Tags: the core scalar/map/seq tags only. */
	{
		_cleanup_(conf_freep) struct conf *c = parse_ok(
			"!!map\nadfs: !!map\n  url: !!str https://a.example\n"
			"  username: !!str 1234\n"
			"  remember_password: !!bool true\n"
			"roles: !!seq\n  - {name: a, arn: '" ARN
			"', duration: !!int 900}\n");

		assert_string_equal(c->adfs.url, "https://a.example");
		assert_string_equal(c->adfs.username, "1234");
		assert_true(c->adfs.remember_password);
		assert_int_equal(c->roles[0].duration, 900);
	}
	{
		_cleanup_(conf_freep) struct conf *c =
			parse_ok("%YAML 1.1\n---\n" BASE "...\n");

		assert_string_equal(c->adfs.username, "alice");
	}
	/* Flow style and quoting are plain YAML. */
	{
		_cleanup_(conf_freep) struct conf *c = parse_ok(
			"{adfs: {url: 'https://a.example', \"username\": "
			"\"EXAMPLE\\\\bob\"}}");

		assert_string_equal(c->adfs.username, "EXAMPLE\\bob");
	}
}

static void test_syntax_errors(void **state)
{
	struct buf b;

	/* Nesting far beyond the schema stops early. */
	buf_init(&b, CONF_MAX_SIZE);
	for (int i = 0; i < 30000; i++)
		assert_int_equal(buf_append(&b, "[", 1), 0);
	check_error(b.data, "t.yaml:1:17: nesting is deeper than 16 levels");
	buf_clear(&b);
}

static void test_messages_bounded(void **state)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char long_url[512], yaml[1024], want[512];
	struct buf b;

	/* A long value is cut in the message. */
	memset(long_url, 'a', sizeof(long_url));
	memcpy(long_url, "http://", 7);
	long_url[300] = '\0';
	(void)snprintf(yaml, sizeof(yaml), "adfs:\n  url: %s\n  username: a\n",
		       long_url);
	assert_int_equal(conf_parse_yaml("t.yaml", yaml, strlen(yaml), &c,
					 &errs),
			 -EINVAL);
	assert_int_equal(errs.n, 1);
	(void)snprintf(want, sizeof(want),
		       "t.yaml:2:8: adfs.url must be an https:// URL (got "
		       "'%.128s...')",
		       long_url);
	assert_string_equal(errs.msgs[0], want);
	/* Cut on a character boundary: no half of a UTF-8 sequence. */
	conf_errors_clear(&errs);
	memset(long_url, 'a', sizeof(long_url));
	memcpy(long_url, "http://", 7);
	memcpy(long_url + 127, "\xc3\xa9", 2); /* é across the cut */
	long_url[300] = '\0';
	(void)snprintf(yaml, sizeof(yaml), "adfs:\n  url: %s\n  username: a\n",
		       long_url);
	assert_int_equal(conf_parse_yaml("t.yaml", yaml, strlen(yaml), &c,
					 &errs),
			 -EINVAL);
	(void)snprintf(want, sizeof(want),
		       "t.yaml:2:8: adfs.url must be an https:// URL (got "
		       "'%.127s...')",
		       long_url);
	assert_string_equal(errs.msgs[0], want);
	conf_errors_clear(&errs);

	/* A value above CONF_MAX_STRING. */
	buf_init(&b, CONF_MAX_SIZE);
	assert_int_equal(buf_append_str(&b, BASE "state_dir: /"), 0);
	for (unsigned i = 0; i < CONF_MAX_STRING; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_append_str(&b, "\n"), 0);
	check_error(b.data, "t.yaml:4:12: state_dir is too long (at most 4096 "
			    "bytes)");
	buf_clear(&b);

	/* More than CONF_MAX_SIZE bytes handed to the parser directly. */
	buf_init(&b, CONF_MAX_SIZE + 2);
	assert_int_equal(buf_append_str(&b, BASE), 0);
	while (b.len <= CONF_MAX_SIZE)
		assert_int_equal(buf_append(&b, "#", 1), 0);
	assert_int_equal(conf_parse_yaml("t.yaml", b.data, b.len, &c, &errs),
			 -EINVAL);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0],
			    "t.yaml: the file is larger than 65536 bytes, too "
			    "large for a configuration");
	conf_errors_clear(&errs);
	buf_clear(&b);
}

/* ---- files and paths ---- */

/* A temporary file of exactly size bytes: BASE, then one comment line. */
static char *write_temp(size_t size)
{
	char tmpl[] = "/tmp/test-conf-XXXXXX";
	char block[4096];
	size_t left = size, n;
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_true(size >= sizeof(block));
	memset(block, '#', sizeof(block));
	memcpy(block, BASE, strlen(BASE));
	while (left > 0) {
		n = left < sizeof(block) ? left : sizeof(block);
		assert_int_equal(write(fd, block, n), (ssize_t)n);
		left -= n;
		memset(block, '#', sizeof(block));
	}
	assert_int_equal(close(fd), 0);
	return strdup(tmpl);
}

static void test_load_errors(void **state)
{
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char *p;

	assert_int_equal(conf_load("/nonexistent/adfs-credd.yaml", &c, &errs),
			 -ENOENT);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0],
			    "/nonexistent/adfs-credd.yaml: cannot read the "
			    "configuration: No such file or directory");
	conf_errors_clear(&errs);

	assert_int_equal(conf_load(TEST_DATA_DIR, &c, &errs), -EISDIR);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0] + strlen(TEST_DATA_DIR),
			    ": cannot read the configuration: Is a directory");
	conf_errors_clear(&errs);

	/* One byte over the cap. */
	p = write_temp(CONF_MAX_SIZE + 1);
	assert_int_equal(conf_load(p, &c, &errs), -EFBIG);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_true(strneq(errs.msgs[0], p, strlen(p)));
	assert_string_equal(errs.msgs[0] + strlen(p),
			    ": the file is larger than 65536 bytes, too large "
			    "for a configuration");
	conf_errors_clear(&errs);
	assert_int_equal(unlink(p), 0);
	free(p);

	/* Exactly at the cap: read and parsed. */
	p = write_temp(CONF_MAX_SIZE);
	assert_int_equal(conf_load(p, &c, &errs), 0);
	assert_string_equal(c->adfs.username, "alice");
	assert_string_equal(c->path, p);
	c = conf_free(c);
	assert_int_equal(unlink(p), 0);
	free(p);

	/* Errors in a loaded file carry its path. */
	assert_int_equal(conf_load(TEST_DATA_DIR "/conf-errors.yaml", &c,
				   &errs),
			 -EINVAL);
	assert_true(strneq(errs.msgs[0], TEST_DATA_DIR "/conf-errors.yaml:1:1: ",
			   strlen(TEST_DATA_DIR "/conf-errors.yaml:1:1: ")));
	conf_errors_clear(&errs);
}

static void test_default_path(void **state)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *old_xdg = xdg ? strdup(xdg) : NULL;
	char *old_home = home ? strdup(home) : NULL;
	struct conf_errors errs = { .n = 0 };
	struct conf *c = NULL;
	char *p;

	assert_int_equal(setenv("XDG_CONFIG_HOME", "/xdg", 1), 0);
	assert_int_equal(setenv("HOME", "/home/alice", 1), 0);
	p = conf_default_path();
	assert_string_equal(p, "/xdg/adfs-credd/config.yaml");
	free(p);

	/* A relative XDG_CONFIG_HOME is invalid (XDG spec) and ignored. */
	assert_int_equal(setenv("XDG_CONFIG_HOME", "relative", 1), 0);
	p = conf_default_path();
	assert_string_equal(p, "/home/alice/.config/adfs-credd/config.yaml");
	free(p);
	assert_int_equal(setenv("XDG_CONFIG_HOME", "", 1), 0);
	p = conf_default_path();
	assert_string_equal(p, "/home/alice/.config/adfs-credd/config.yaml");
	free(p);

	/* No HOME: the passwd entry. */
	assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
	assert_int_equal(unsetenv("HOME"), 0);
	p = conf_default_path();
	if (p) {
		const char *tail = "/.config/adfs-credd/config.yaml";

		assert_true(p[0] == '/');
		assert_true(strlen(p) > strlen(tail));
		assert_string_equal(p + strlen(p) - strlen(tail), tail);
		free(p);
	} else {
		assert_int_equal(errno, ENOENT);
	}

	/* conf_load(NULL) reads the default path. */
	assert_int_equal(setenv("XDG_CONFIG_HOME", "/nonexistent-xdg", 1), 0);
	assert_int_equal(conf_load(NULL, &c, &errs), -ENOENT);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0],
			    "/nonexistent-xdg/adfs-credd/config.yaml: cannot "
			    "read the configuration: No such file or directory");
	conf_errors_clear(&errs);

	if (old_xdg)
		assert_int_equal(setenv("XDG_CONFIG_HOME", old_xdg, 1), 0);
	else
		assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
	if (old_home)
		assert_int_equal(setenv("HOME", old_home, 1), 0);
	free(old_xdg);
	free(old_home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_example_uncommented),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_errors_append),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_null_path),
		cmocka_unit_test(test_sections_may_be_empty),
		cmocka_unit_test(test_sts_endpoint),
		cmocka_unit_test(test_adfs_url),
		cmocka_unit_test(test_adfs_required),
		cmocka_unit_test(test_adfs_auth),
		cmocka_unit_test(test_adfs_password),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_roles_ok),
		cmocka_unit_test(test_role_durations),
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_role_arns),
		cmocka_unit_test(test_roles_limit),
		cmocka_unit_test(test_role_refs),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_listeners_non_loopback),
		cmocka_unit_test(test_listeners_identical),
		cmocka_unit_test(test_allowed_uids),
		cmocka_unit_test(test_parse_listen_api),
		cmocka_unit_test(test_state_dir_and_log_level),
		cmocka_unit_test(test_yaml_features),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_messages_bounded),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
