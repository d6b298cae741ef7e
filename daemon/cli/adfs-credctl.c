/* adfs-credctl: the client of adfs-credd's control socket. Global options,
 * then a table of subcommands (cmd-*.c); each talks small JSON over HTTP on
 * the unix socket (cli.c). See adfs-credctl(1). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/wipe-alloc.h"

static char *config_path;

/* Finds the control socket: state_dir from the config when it sets one,
 * else $XDG_RUNTIME_DIR/adfs-credd (util/paths, as the daemon does). */
static int find_socket(void)
{
	_cleanup_free_ char *path = NULL, *dir = NULL;
	struct conf_errors errs = { 0 };
	struct conf *c = NULL;
	static const struct conf_listen default_ecs = {
		.enabled = true,
		.host = (char *)"127.0.0.1",
		.port = 9911,
	};
	struct stat st;
	int r;

	path = config_path ? strdup(config_path) : conf_default_path();
	if (path && (config_path || stat(path, &st) == 0)) {
		if (conf_load(path, &c, &errs) < 0) {
			conf_errors_print(&errs, stderr);
			conf_errors_clear(&errs);
			return -EINVAL;
		}
		cli_auth = c->adfs.auth;
		cli_pw_source = c->adfs.password;
	}
	/* The ports the daemon serves on: status checks who holds them. */
	cli_listen_set(&cli_listens[0], "serve.ecs",
		       c ? &c->serve.ecs : &default_ecs);
	if (c)
		cli_listen_set(&cli_listens[1], "serve.imds", &c->serve.imds);
	r = paths_state_dir(c ? c->state_dir : NULL, &dir);
	conf_free(c);
	if (r == -EINVAL)
		return cli_fail("XDG_RUNTIME_DIR is not set; set state_dir in "
				"the config and pass -c PATH"),
		       r;
	if (r < 0)
		return r;
	return paths_control_socket(dir, &cli_socket_path);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "login", cmd_login, "login [--password-stdin]   sign in to ADFS" },
	{ "logout", cmd_logout, "logout                     forget password, cookies, sessions" },
	{ "status", cmd_status, "status [--json]            roles, expiry, refresh, errors" },
	{ "roles", cmd_roles, "roles                      roles the last assertion offered" },
	{ "refresh", cmd_refresh, "refresh [ROLE]             refresh now and wait" },
	{ "env", cmd_env, "env [ROLE] [--scoped]      export lines for SDKs (or --token-file)" },
	{ "exec", cmd_exec, "exec [--require DURATION] [ROLE] -- CMD [ARG...]\n"
	  "                             run CMD with that environment" },
	{ "check", cmd_check, "check [ROLE] --for DURATION  served that long without you?" },
	{ "credential-process", cmd_credential_process,
	  "credential-process [ROLE] print credential_process JSON" },
	{ "doctor", cmd_doctor, "doctor [--json]            check every step from config to daemon" },
};

static void usage(FILE *f)
{
	(void)fprintf(f, "Usage: adfs-credctl [-c CONFIG] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		(void)fprintf(f, "  %s\n", commands[i].help);
	(void)fprintf(f, "\nSee adfs-credctl(1).\n");
}

int main(int argc, char **argv)
{
	enum { ARG_VERSION = 0x100 };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{}
	};
	int c, r = EXIT_FAILURE;

	/* '+': the first non-option is the subcommand, whose own options
	 * are its business. Errors are reported below, as for an unknown
	 * command. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case ARG_VERSION:
			printf("adfs-credctl %s\n", ADFS_CREDD_VERSION);
			return EXIT_SUCCESS;
		default:
			return cli_fail("unknown command '%s'; see "
					"'adfs-credctl --help'",
					argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (streq(argv[optind], "help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	wipe_alloc_install();
	log_set_level(LOG_WARNING);
	for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
		if (!streq(argv[optind], commands[k].name))
			continue;
		if (commands[k].fn == cmd_doctor)
			cli_config_path = config_path;
		else if (find_socket() < 0)
			return EXIT_FAILURE;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = commands[k].fn(argc - optind, argv + optind);
		curl_global_cleanup();
		free(cli_socket_path);
		for (size_t i = 0; i < ELEMENTSOF(cli_listens); i++)
			free(cli_listens[i].host);
		return r;
	}
	cli_fail("unknown command '%s'; see 'adfs-credctl --help'",
		 argv[optind]);
	return EXIT_FAILURE;
}
