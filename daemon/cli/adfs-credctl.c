/* adfs-credctl: the client of adfs-credd's control socket. The global
 * options (anywhere before "--"), then a table of subcommands (cmd-*.c),
 * each with its own options and --help; each talks small JSON over HTTP on
 * the unix socket (cli.c). Exit statuses are the same for every command
 * (cli.h). See adfs-credctl(1). */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"
#include "util/wipe-alloc.h"

/* A subcommand. valued lists its long options that take a value as a
 * separate word ("--for 8h"), so that the search for global options
 * below does not take "8h" for the command's next word, nor a value that
 * happens to read "-c" for an option. */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;    /* the synopsis after the name */
	const char *summary; /* one line for the list */
	const char *options; /* for COMMAND --help: one "  --x  does" per line */
	const char *const *valued;
};

static const char *const valued_env[] = { "--format", NULL };
static const char *const valued_exec[] = { "--require", NULL };
static const char *const valued_check[] = { "--for", NULL };
static const char *const valued_aws_config[] = { "--profile-prefix",
						 "--file", NULL };

static const struct command commands[] = {
	{ .name = "login", .fn = cmd_login,
	  .args = "[--password-stdin] [--force]",
	  .summary = "sign in to ADFS (then any second factor)",
	  .options = "--password-stdin\tread the password, then any "
		     "code, a line each, from stdin\n"
		     "--force\tcancel a sign-in or refresh that is running "
		     "(a login\n\tstuck on a push), then sign in\n" },
	{ .name = "logout", .fn = cmd_logout, .args = "",
	  .summary = "forget password, cookies and sessions", .options = "" },
	{ .name = "status", .fn = cmd_status,
	  .args = "[--json] [--quiet] [--wide]",
	  .summary = "how long renewal goes on without you; each role's state",
	  .options = "--json\tthe status as a JSON object\n"
		     "-q, --quiet\tprint nothing: the exit status says it\n"
		     "--wide\tnever shorten a column to fit the "
		     "terminal\n" },
	{ .name = "roles", .fn = cmd_roles, .args = "[--json | --names]",
	  .summary = "the roles the last assertion offered",
	  .options = "--json\tas a JSON object\n"
		     "--names\tthe role names only, one a line (from the "
		     "config\n\twhen the daemon is not running)\n" },
	{ .name = "refresh", .fn = cmd_refresh, .args = "[ROLE]",
	  .summary = "refresh now (every role when none is named) and wait",
	  .options = "" },
	{ .name = "env", .fn = cmd_env,
	  .args = "[ROLE] [--token-file | --scoped] [--format FORMAT | --json]",
	  .summary = "print the endpoint's URL and token for SDKs",
	  .options = "--token-file\tthe token's file, not the token\n"
		     "--scoped\ta token that opens ROLE only\n"
		     "--format FORMAT\tsh (default), fish, powershell, "
		     "json or dotenv\n"
		     "--json\tthe same as --format json\n",
	  .valued = valued_env },
	{ .name = "exec", .fn = cmd_exec,
	  .args = "[--require DURATION] [ROLE] [-- CMD [ARG...]]",
	  .summary = "run CMD (else your $SHELL) with that environment",
	  .options = "--require DURATION\tonly if ROLE is served that "
		     "long without you\n",
	  .valued = valued_exec },
	{ .name = "check", .fn = cmd_check,
	  .args = "[ROLE] --for DURATION [--quiet] [--json]",
	  .summary = "will ROLE be served that long without you?",
	  .options = "--for DURATION\thow long the job runs (8h, 90m, "
		     "3600)\n"
		     "-q, --quiet\tprint nothing: the exit status "
		     "says it\n"
		     "--json\tthe answer as a JSON object\n",
	  .valued = valued_check },
	{ .name = "credential-process", .fn = cmd_credential_process,
	  .args = "[ROLE]",
	  .summary = "print credential_process JSON for ~/.aws/config",
	  .options = "" },
	{ .name = "aws-config", .fn = cmd_aws_config,
	  .args = "(--print | --diff | --write) [--profile-prefix PREFIX] "
		  "[--file PATH]",
	  .summary = "keep a credential_process profile per role in "
		     "~/.aws/config",
	  .options = "--print\tprint the block of profiles\n"
		     "--diff\tshow what --write would change: exit 1 if\n"
		     "\tanything would, 2 on trouble\n"
		     "--write\twrite it (the previous file kept as\n"
		     "\tFILE.adfs-credd.bak)\n"
		     "--profile-prefix PREFIX\tprofiles named PREFIX<role>\n"
		     "--file PATH\tthe file (default: $AWS_CONFIG_FILE, "
		     "else\n\t~/.aws/config)\n",
	  .valued = valued_aws_config },
	{ .name = "doctor", .fn = cmd_doctor, .args = "[--json]",
	  .summary = "check every step from the config to the daemon",
	  .options = "--json\tthe findings as a JSON object\n" },
};

static const char exit_statuses[] =
	"Exit status: 0 success, 1 failure, 2 usage error or no such role,\n"
	"3 adfs-credd not running, 4 not signed in, 5 a role is not valid.\n";

/* Option lines "OPTION\tWHAT\n", in two columns; a short option first
 * ("-q, --quiet") and a long one alone line up on the long one. */
static void print_options(FILE *f, const char *opts)
{
	while (*opts) {
		size_t flag = strcspn(opts, "\t\n"), what = 0;
		bool has_short = opts[0] == '-' && opts[1] != '-';

		if (opts[flag] == '\t')
			what = strcspn(opts + flag + 1, "\n");
		(void)fprintf(f, "  %s%-*.*s  %.*s\n", has_short ? "" : "    ",
			      has_short ? 28 : 24, (int)flag, opts, (int)what,
			      opts + flag + 1);
		opts += flag + (what ? what + 1 : 0);
		if (*opts == '\n')
			opts++;
	}
}

static const char config_option[] =
	"-c, --config PATH\tthe config (default: $ADFS_CREDD_CONFIG, else\n"
	"\t~/.config/adfs-credd/config.yaml)\n";

static void usage(FILE *f)
{
	(void)fprintf(f, "Usage: adfs-credctl [-c CONFIG] COMMAND [ARGS]\n\n"
			 "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		(void)fprintf(f, "  %-19s %s\n", commands[i].name,
			      commands[i].summary);
	(void)fprintf(f, "\nOptions, before or after the command:\n");
	print_options(f, config_option);
	print_options(f, "-h, --help\tthis help; after a command, that "
			 "command's\n"
			 "--version\tthe version\n");
	(void)fprintf(f, "\n%s\n'adfs-credctl COMMAND --help' for a "
			 "command; adfs-credctl(1) for all.\n",
		      exit_statuses);
}

static void command_usage(const struct command *k)
{
	printf("Usage: adfs-credctl [-c CONFIG] %s%s%s\n\n%c%s.\n\n",
	       k->name, *k->args ? " " : "", k->args,
	       toupper((unsigned char)k->summary[0]), k->summary + 1);
	printf("Options:\n");
	print_options(stdout, k->options);
	print_options(stdout, config_option);
	print_options(stdout, "-h, --help\tthis help\n");
	printf("\n%s", exit_statuses);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static bool is_valued(const struct command *k, const char *arg)
{
	for (const char *const *v = k ? k->valued : NULL; v && *v; v++)
		if (streq(arg, *v))
			return true;
	return false;
}

/* The global options, wherever they are before "--": they are taken out,
 * and the rest (the command's name first) goes to *ret_argv. */
struct globals {
	const struct command *cmd;
	const char *config; /* -c */
	bool help, version;
};

static int take_globals(int argc, char **argv, struct globals *g,
			int *ret_argc, char **ret_argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (streq(a, "--")) {
			/* The rest is the command's (exec's CMD). */
			if (!g->cmd)
				return cli_usage_error(NULL, "'--' before the "
							     "command");
			while (i < argc)
				ret_argv[n++] = argv[i++];
			break;
		}
		if (streq(a, "-c") || streq(a, "--config")) {
			if (++i >= argc)
				return cli_usage_error(NULL, "%s needs a "
							     "path", a);
			g->config = argv[i];
		} else if (startswith(a, "--config=")) {
			g->config = startswith(a, "--config=");
		} else if (a[0] == '-' && a[1] == 'c' && a[2]) {
			g->config = a + 2;
		} else if (streq(a, "-h") || streq(a, "--help")) {
			g->help = true;
		} else if (streq(a, "--version")) {
			g->version = true;
		} else if (!g->cmd) {
			if (a[0] == '-')
				return cli_usage_error(NULL, "unknown option "
							     "'%s'", a);
			if (streq(a, "help")) {
				g->help = true;
				continue;
			}
			g->cmd = find_command(a);
			if (!g->cmd)
				return cli_usage_error(NULL, "unknown command "
							     "'%s'", a);
			ret_argv[n++] = argv[i];
		} else {
			ret_argv[n++] = argv[i];
			if (is_valued(g->cmd, a) && i + 1 < argc)
				ret_argv[n++] = argv[++i];
		}
	}
	if (g->config && !*g->config)
		return cli_usage_error(NULL, "-c needs a path");
	ret_argv[n] = NULL;
	*ret_argc = n;
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char **args = NULL;
	struct globals g = { 0 };
	int n = 0, r;

	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return cli_fail("out of memory");
	r = take_globals(argc, argv, &g, &n, args);
	if (r != 0)
		return r;
	if (g.version) {
		printf("adfs-credctl %s\n", ADFS_CREDD_VERSION);
		return EXIT_SUCCESS;
	}
	if (g.help) {
		if (g.cmd)
			command_usage(g.cmd);
		else
			usage(stdout);
		return EXIT_SUCCESS;
	}
	if (!g.cmd) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	/* ADFS_CREDD_CONFIG stands for -c (an empty one for none). */
	if (!g.config) {
		const char *env = secure_getenv("ADFS_CREDD_CONFIG");

		g.config = env && *env ? env : NULL;
	}
	wipe_alloc_install();
	log_set_level(LOG_WARNING);
	cli_command = g.cmd->name;
	cli_config_path = g.config;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = g.cmd->fn(n, args);
	curl_global_cleanup();
	free(cli_socket_path);
	for (size_t i = 0; i < ELEMENTSOF(cli_listens); i++)
		free(cli_listens[i].host);
	return r;
}
