/* adfs-credctl doctor: walks the chain the daemon depends on, from the
 * config to the daemon's own state, and says for each step OK, WARN or
 * FAIL, what it found and what to do. It never signs in and sends no
 * secret: the only requests are name lookups, TCP connects, TLS
 * handshakes, a GET of the ADFS sign-on page, an unsigned GET to STS and a
 * GET of the daemon's /v1/status. Every network step is bounded by
 * adfs.timeout, at most 10 s. Text from outside (pages, certificates,
 * STS, the daemon) is escaped before it is shown. See adfs-credctl(1) and
 * docs/internals/doctor.md. */
#include "cli/cli.h"
#include "cli/doctor.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/doctor.h"

/* --- 1. config -------------------------------------------------------- */

static void check_config(struct doctor *d)
{
	_cleanup_free_ char *path = NULL;
	struct conf_errors errs = {0};
	static const char *const auth[] = {
	    [CONF_AUTH_FORMS] = "forms",
	    [CONF_AUTH_KERBEROS] = "kerberos",
	    [CONF_AUTH_WSTRUST] = "ws-trust",
	};
	const char *warning;
	struct stat st;

	path = cli_config_path ? strdup(cli_config_path) : conf_default_path();
	if (!path) {
		doctor_note(d, STEP_CONFIG, DOCTOR_FAIL,
			    "no config path: no home directory");
		doctor_hint(d, STEP_CONFIG, "pass -c PATH");
		return;
	}
	if (!cli_config_path && stat(path, &st) < 0) {
		doctor_note(d, STEP_CONFIG, DOCTOR_FAIL, "no config at %s",
			    path);
		doctor_hint(d, STEP_CONFIG,
			    "write one (adfs-credd.yaml(5); the example is in "
			    "/usr/share/doc/adfs-credd), or pass -c PATH");
		return;
	}
	if (conf_load(path, &d->conf, &errs) < 0) {
		_cleanup_free_ char *all = NULL;

		for (size_t i = 0; i < errs.n; i++) {
			char *n = NULL;

			if (asprintf(&n, "%s%s%s", all ? all : "",
				     all ? "; " : "", errs.msgs[i]) < 0)
				break;
			free(all);
			all = n;
		}
		doctor_note(d, STEP_CONFIG, DOCTOR_FAIL, "%s%s",
			    all ? all : "the config does not load",
			    errs.dropped ? " (and more)" : "");
		doctor_hint(
		    d, STEP_CONFIG,
		    "fix the config; adfs-credd -c %s --check-config lists "
		    "every error",
		    path);
		conf_errors_clear(&errs);
		d->conf = NULL;
		return;
	}
	doctor_note(d, STEP_CONFIG, DOCTOR_OK,
		    "%s: valid (%s sign-in, %zu role%s%s)", path,
		    (size_t)d->conf->adfs.auth < ELEMENTSOF(auth)
			? auth[d->conf->adfs.auth]
			: "?",
		    d->conf->n_roles, d->conf->n_roles == 1 ? "" : "s",
		    d->conf->n_roles ? "" : ": every role offered");
	warning = conf_warning(d->conf);
	if (warning)
		doctor_note(d, STEP_CONFIG, DOCTOR_WARN, "%s", warning);
}

/* --- the targets ------------------------------------------------------ */

/* host (without brackets) and port of url; default_port when it names
 * none and default_port is not 0 (else the scheme's). */
static int split_url(const char *url, unsigned flags, uint16_t default_port,
		     char **ret_host, uint16_t *ret_port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	unsigned long port = 0;
	CURLUcode rc;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, flags) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	/* The port written, else default_port, else the scheme's. */
	rc = curl_url_get(u, CURLUPART_PORT, &p, 0);
	if (rc != CURLUE_OK && !default_port)
		rc = curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
	port = rc == CURLUE_OK ? strtoul(p, NULL, 10) : default_port;
	if (port == 0 || port > 65535)
		goto out;
	if (h[0] == '[') {
		size_t l = strlen(h);

		memmove(h, h + 1, l - 1);
		h[l - 2] = '\0';
	}
	*ret_host = strdup(h);
	if (!*ret_host) {
		r = -ENOMEM;
		goto out;
	}
	*ret_port = (uint16_t)port;
	r = 0;
out:
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return r;
}

static void add_target(struct doctor *d, const char *key, const char *url,
		       const char *ca_key, const char *ca_file)
{
	struct doctor_target *t = &d->targets[d->n_targets];
	_cleanup_free_ char *host = NULL;
	uint16_t port;

	if (!url || split_url(url, 0, 0, &host, &port) < 0)
		return;
	for (size_t i = 0; i < d->n_targets; i++) {
		const struct doctor_target *o = &d->targets[i];

		if (streq(o->host, host) && o->port == port &&
		    streq(strempty(o->ca_file), strempty(ca_file)))
			return; /* the same server, checked once */
	}
	*t = (struct doctor_target){.key = key,
				    .url = url,
				    .ca_key = ca_key,
				    .ca_file = ca_file,
				    .port = port,
				    .failed = -1};
	t->host = TAKE_PTR(host);
	t->proxy = doctor_proxy_for(&d->penv, t->host);
	if (t->proxy) {
		t->proxy_shown = doctor_proxy_display(t->proxy);
		/* libcurl: a proxy without a scheme is http://; without a
		 * port, 1080 (443 for an https:// proxy). */
		if (split_url(t->proxy, CURLU_DEFAULT_SCHEME,
			      strneq(t->proxy, "https://", 8) ? 443 : 1080,
			      &t->proxy_host, &t->proxy_port) < 0)
			t->proxy_host = NULL;
	}
	d->n_targets++;
}

static void targets_init(struct doctor *d)
{
	struct conf *c = d->conf;

	d->penv = (struct doctor_proxy_env){
	    .https_proxy = getenv("https_proxy"),
	    .HTTPS_PROXY = getenv("HTTPS_PROXY"),
	    .all_proxy = getenv("all_proxy"),
	    .ALL_PROXY = getenv("ALL_PROXY"),
	    .no_proxy = getenv("no_proxy"),
	    .NO_PROXY = getenv("NO_PROXY"),
	};
	add_target(d, "adfs.url", c->adfs.url, "adfs.ca_file", c->adfs.ca_file);
	add_target(d, "aws.sts_endpoint", c->aws.sts_endpoint, "aws.ca_file",
		   c->aws.ca_file);
	add_target(d, "aws.iam_endpoint", c->aws.iam_endpoint, "aws.ca_file",
		   c->aws.ca_file);
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'}, {}};
	struct doctor d = {.timeout = DOCTOR_MAX_TIMEOUT};
	bool as_json = false, failed = false;
	int c;

	while ((c = cli_getopt(argc, argv, "", options)) >= 0) {
		if (c != 'j')
			return CLI_EXIT_USAGE;
		as_json = true;
	}
	if (optind < argc)
		return cli_usage_error("doctor", "it takes no arguments");
	for (size_t i = 0; i < STEP_COUNT; i++)
		d.steps[i].result = DOCTOR_SKIP;

	check_config(&d);
	if (d.conf) {
		if (d.conf->adfs.timeout && d.conf->adfs.timeout < d.timeout)
			d.timeout = d.conf->adfs.timeout;
		targets_init(&d);
		cli_listen_set(&cli_listens[0], "serve.ecs",
			       &d.conf->serve.ecs);
		cli_listen_set(&cli_listens[1], "serve.imds",
			       &d.conf->serve.imds);
		doctor_check_dns(&d);
		doctor_check_tcp(&d);
		doctor_check_tls(&d);
		doctor_check_signin_page(&d);
		doctor_check_sts(&d);
		doctor_check_clock(&d);
	} else {
		for (size_t i = STEP_DNS; i < STEP_COUNT; i++)
			if (i != STEP_SYSTEMD)
				doctor_skip(&d, (enum doctor_step_id)i,
					    STEP_CONFIG);
	}
	doctor_check_systemd(&d);
	if (d.conf) {
		doctor_check_ports(&d);
		doctor_check_daemon(&d);
	}
	for (size_t i = 0; i < STEP_COUNT; i++)
		failed = failed || d.steps[i].result == DOCTOR_FAIL;
	if (as_json)
		(void)doctor_print_json(&d);
	else
		doctor_print_text(&d);
	doctor_clear(&d);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
