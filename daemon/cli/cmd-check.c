/* adfs-credctl check: will a role be served for a job's length without a
 * person? The daemon works it out on its own clock (GET /v1/check), from
 * the unattended horizon (session/horizon.h). exec --require asks the
 * same before it starts the job. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

/* A duration on the command line: as in the config ("8h", "90m", seconds),
 * at most a year. */
int cli_parse_duration(const char *s, usec_t *ret)
{
	usec_t d;

	if (parse_duration(s, &d) < 0 || d == 0 ||
	    d > 366 * 24 * USEC_PER_HOUR)
		return -EINVAL;
	*ret = d;
	return 0;
}

int cli_check_horizon(const char *role, usec_t need, bool quiet,
		      bool as_json)
{
	char path[64], msg[600];
	json_t *o = NULL;
	long status = 0;
	const char *text;
	bool ok;
	int r;

	(void)snprintf(path, sizeof(path), "/v1/check?for=%llu",
		       (unsigned long long)(need / USEC_PER_SEC));
	r = cli_call("GET", path, role, NULL, &o, &status);
	if (r < 0)
		return cli_exit(r);
	if (status != 200) {
		cli_escape_tree(o);
		text = cli_jstr(o, "error");
		cli_fail("%s", text ? text : "adfs-credd refused the check");
		json_decref(o);
		return status == 404 || status == 400 ? CLI_EXIT_USAGE
						      : EXIT_FAILURE;
	}
	ok = json_is_true(json_object_get(o, "ok"));
	if (as_json) {
		/* {"ok", "message"} and what was asked. */
		(void)json_object_set_new(o, "role",
					  role ? json_string(role) : json_null());
		(void)json_object_set_new(o, "for",
					  json_integer((json_int_t)(need /
								    USEC_PER_SEC)));
		cli_print_json(o);
		json_decref(o);
		return ok ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	cli_escape_tree(o);
	text = cli_jstr(o, "message");
	(void)snprintf(msg, sizeof(msg), "%s", text ? text : "");
	json_decref(o);
	if (!ok) {
		cli_fail("%s", msg);
		return EXIT_FAILURE;
	}
	if (!quiet)
		printf("%s\n", msg);
	return EXIT_SUCCESS;
}

int cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	const char *role = NULL;
	usec_t need = 0;
	bool quiet = false, as_json = false;
	int c;

	/* GNU order: the options may come before or after ROLE. */
	while ((c = cli_getopt(argc, argv, "q", options)) >= 0) {
		if (c == 'q')
			quiet = true;
		else if (c == 'j')
			as_json = true;
		else if (c != 'f')
			return CLI_EXIT_USAGE;
		else if (cli_parse_duration(optarg, &need) < 0)
			return cli_usage_error("check", "--for takes a duration "
						        "like 8h, 90m or 3600 "
						        "(seconds), up to a "
						        "year, not '%s'",
					       optarg);
	}
	if (optind < argc)
		role = argv[optind++];
	if (optind < argc)
		return cli_usage_error("check", "one ROLE at most");
	if (!need)
		return cli_usage_error("check", "--for DURATION is needed");
	return cli_check_horizon(role, need, quiet, as_json);
}
