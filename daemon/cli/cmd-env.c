/* adfs-credctl env, exec and credential-process: handing the ECS URL and
 * token, or the credentials, to AWS SDKs. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

/* Fetches the ECS URL for role and the token (or its file). */
static int get_env(const char *role, char **ret_uri, json_t **ret)
{
	json_t *o = NULL;
	const char *r;

	if (cli_call_ok("GET", "/v1/env", role, NULL, &o) < 0)
		return -EIO;
	r = cli_jstr(o, "role");
	if (asprintf(ret_uri, r ? "%s/role/%s" : "%s/", cli_jstr(o, "url"),
		     r ? r : "") < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

/* "export NAME=VALUE" with VALUE shell-quoted. */
static int print_export(const char *name, const char *value)
{
	_cleanup_free_ char *q = text_shell_quote(value);

	if (!q)
		return -ENOMEM;
	printf("export %s=%s\n", name, q);
	return 0;
}

int cmd_env(int argc, char **argv)
{
	static const struct option options[] = {
		{ "token-file", no_argument, NULL, 't' },
		{ "scoped", no_argument, NULL, 's' },
		{}
	};
	_cleanup_free_ char *uri = NULL;
	const char *role = NULL;
	bool file = false, scoped = false;
	json_t *o = NULL;
	int c;

	/* GNU order: ROLE may come before or after the options. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c == 't' && !file)
			file = true;
		else if (c == 's' && !scoped)
			scoped = true;
		else
			return cli_fail("usage: env [ROLE] [--token-file | --scoped]");
	}
	if (optind < argc)
		role = argv[optind++];
	if (optind < argc || (file && scoped))
		return cli_fail("usage: env [ROLE] [--token-file | --scoped]");
	if (get_env(role, &uri, &o) < 0)
		return EXIT_FAILURE;
	if (scoped && !cli_jstr(o, "scoped_token")) {
		json_decref(o);
		return cli_fail("no role to scope the token to yet: name one "
				"('adfs-credctl env ROLE --scoped')");
	}
	/* The output is for eval: every value is one shell word, whatever
	 * the role name, state_dir or token hold. */
	c = print_export("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
	if (c == 0 && file)
		c = print_export("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
				 cli_jstr(o, "token_file"));
	else if (c == 0 && scoped)
		/* Opens this role only (issue 15). */
		c = print_export("AWS_CONTAINER_AUTHORIZATION_TOKEN",
				 cli_jstr(o, "scoped_token"));
	else if (c == 0)
		c = print_export("AWS_CONTAINER_AUTHORIZATION_TOKEN",
				 cli_jstr(o, "token"));
	json_decref(o);
	if (c < 0)
		return cli_fail("adfs-credd sent an incomplete reply, or out "
				"of memory");
	return EXIT_SUCCESS;
}

int cmd_exec(int argc, char **argv)
{
	static const char *const shadowing[] = {
		"AWS_ACCESS_KEY_ID",  "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN",  "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE",
	};
	static const struct option options[] = {
		{ "require", required_argument, NULL, 'r' },
		{}
	};
	static const char usage[] = "usage: exec [--require DURATION] [ROLE] "
				    "-- CMD [ARG...]";
	_cleanup_free_ char *uri = NULL;
	const char *role = NULL;
	usec_t need = 0;
	json_t *o = NULL;
	int c, i;

	/* '+': stop at ROLE or at "--"; what follows is the command's. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:r:", options, NULL)) >= 0) {
		if (c != 'r')
			return cli_fail("%s", usage), CLI_EXIT_USAGE;
		if (cli_parse_duration(optarg, &need) < 0)
			return cli_fail("--require takes a duration like 8h, "
					"90m or 3600 (seconds), up to a year: "
					"'%s'",
					optarg),
			       CLI_EXIT_USAGE;
	}
	i = optind;
	if (i > 1 && streq(argv[i - 1], "--"))
		i--; /* getopt took the "--" */
	if (i < argc && !streq(argv[i], "--"))
		role = argv[i++];
	if (i >= argc || !streq(argv[i], "--") || i + 1 >= argc)
		return cli_fail("%s", usage), CLI_EXIT_USAGE;
	/* A job that cannot finish is not started (issue 16). */
	if (need) {
		c = cli_check_horizon(role, need, true);
		if (c != EXIT_SUCCESS)
			return c;
	}
	if (get_env(role, &uri, &o) < 0)
		return EXIT_FAILURE;
	/* Exactly one URI and one token variable: SDKs disagree on which
	 * wins when both are set (PROTOCOLS.md A1). The token itself, not
	 * the _FILE variant: older SDKs (Debian 12's botocore 1.29) read
	 * only AWS_CONTAINER_AUTHORIZATION_TOKEN. */
	(void)unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	(void)unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	/* Static keys or a profile come before the container provider in
	 * every SDK's chain: left in place, the child would not use the
	 * daemon at all. */
	for (size_t k = 0; k < ELEMENTSOF(shadowing); k++)
		(void)unsetenv(shadowing[k]);
	if (setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1) < 0 ||
	    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", cli_jstr(o, "token"),
		   1) < 0) {
		json_decref(o);
		return cli_fail("cannot set the environment: %s", strerror(errno));
	}
	json_decref(o);
	execvp(argv[i + 1], &argv[i + 1]);
	return cli_fail("cannot run %s: %s", argv[i + 1], strerror(errno));
}

int cmd_credential_process(int argc, char **argv)
{
	json_t *o = NULL;

	if (argc > 2)
		return cli_fail("usage: credential-process [ROLE]");
	if (cli_call_ok("GET", "/v1/credentials", argc > 1 ? argv[1] : NULL, NULL,
		    &o) < 0)
		return EXIT_FAILURE;
	(void)json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return EXIT_SUCCESS;
}

