/* adfs-credctl status, roles and refresh. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	bool as_json = false;
	json_t *o = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
		if (c != 'j' || as_json)
			return cli_fail("usage: status [--json]");
		as_json = true;
	}
	if (optind < argc)
		return cli_fail("usage: status [--json]");
	/* First: a squatter matters most when the daemon is not running. */
	(void)cli_check_ports();
	if (cli_call_ok("GET", "/v1/status", NULL, NULL, &o) < 0)
		return EXIT_FAILURE;
	if (as_json) {
		(void)json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		cli_print_status(o);
	}
	json_decref(o);
	return EXIT_SUCCESS;
}

int cmd_roles(int argc, char **argv)
{
	json_t *o = NULL, *r;
	size_t i;

	if (argc > 1)
		return cli_fail("roles takes no arguments");
	if (cli_call_ok("GET", "/v1/roles", NULL, NULL, &o) < 0)
		return EXIT_FAILURE;
	cli_escape_tree(o);
	if (!json_array_size(json_object_get(o, "roles")))
		printf("no assertion yet: run 'adfs-credctl login'\n");
	json_array_foreach(json_object_get(o, "roles"), i, r)
		printf("%-16s %s %s\n",
		       cli_jstr(r, "held_as") ? cli_jstr(r, "held_as") : "(not held)",
		       cli_jstr(r, "role_arn"), cli_jstr(r, "principal_arn"));
	json_decref(o);
	return EXIT_SUCCESS;
}

int cmd_refresh(int argc, char **argv)
{
	json_t *o = NULL;
	int ok;

	if (argc > 2)
		return cli_fail("usage: refresh [ROLE]");
	if (cli_call_ok("POST", "/v1/refresh", argc > 1 ? argv[1] : NULL, NULL,
		    &o) < 0)
		return EXIT_FAILURE;
	cli_print_status(o);
	ok = json_is_true(json_object_get(o, "ok"));
	if (!ok)
		cli_fail("%s", strempty(cli_jstr(o, "message")));
	json_decref(o);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

