/* Fuzzes the configuration parser and its validation through
 * conf_parse_yaml(): the mapper (daemon/conf/conf-yaml.c), the per-key
 * checks (conf-set.c, conf-check.c) and the checks across keys (conf.c).
 * YAML bytes to a struct conf, or every error as PATH:LINE:COL: message. A config that parses must satisfy the
 * ranges conf.h documents; one that does not must say why. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "fuzz.h"
#include "util/log.h"

static FILE *devnull;

static void check_conf(const struct conf *c)
{
	FUZZ_CHECK(c->adfs.url && strncmp(c->adfs.url, "https://", 8) == 0);
	FUZZ_CHECK(c->aws.sts_endpoint && c->aws.iam_endpoint);
	FUZZ_CHECK(c->n_roles <= CONF_MAX_ROLES);
	FUZZ_CHECK((c->roles == NULL) == (c->n_roles == 0));
	for (size_t i = 0; i < c->n_roles; i++) {
		const struct conf_role *r = &c->roles[i];

		FUZZ_CHECK(r->name && r->arn);
		FUZZ_CHECK(conf_check_role_name(r->name) == NULL);
		FUZZ_CHECK(conf_check_role_arn(r->arn) == NULL);
		FUZZ_CHECK(!r->principal_arn ||
			   conf_check_provider_arn(r->principal_arn) == NULL);
		FUZZ_CHECK(r->duration == 0 ||
			   (r->duration >= CONF_DURATION_MIN &&
			    r->duration <= CONF_DURATION_MAX));
		FUZZ_CHECK(conf_find_role(c, r->name));
	}
	FUZZ_CHECK(c->serve.n_allowed_uids <= CONF_MAX_UIDS);
	FUZZ_CHECK(c->adfs.timeout >= USEC_PER_SEC &&
		   c->adfs.timeout <= 10 * USEC_PER_MINUTE);
	FUZZ_CHECK(c->refresh.min_remaining >= USEC_PER_MINUTE &&
		   c->refresh.min_remaining <= 6 * USEC_PER_HOUR);
	FUZZ_CHECK(!c->serve.ecs.enabled || c->serve.ecs.host);
	FUZZ_CHECK(!c->serve.imds.enabled || c->serve.imds.host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs = { 0 };
	struct conf *c = NULL;
	int r;

	log_set_level(LOG_ERR);
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	r = conf_parse_yaml("fuzz.yaml", (const char *)data, size, &c, &errs);
	FUZZ_CHECK((r == 0) == (c != NULL));
	if (r == 0) {
		FUZZ_CHECK(errs.n == 0);
		check_conf(c);
		conf_free(c);
	} else if (r == -EINVAL) {
		FUZZ_CHECK(errs.n > 0);
	}
	FUZZ_CHECK(errs.n <= CONF_MAX_ERRORS);
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(errs.msgs[i] &&
			   strncmp(errs.msgs[i], "fuzz.yaml", 9) == 0);
	if (devnull)
		conf_errors_print(&errs, devnull);
	conf_errors_clear(&errs);
	return 0;
}
