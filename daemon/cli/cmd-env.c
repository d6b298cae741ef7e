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
	int k;

	k = cli_call_ok("GET", "/v1/env", role, NULL, &o);
	if (k < 0)
		return k;
	r = cli_jstr(o, "role");
	if (asprintf(ret_uri, r ? "%s/role/%s" : "%s/", cli_jstr(o, "url"),
		     r ? r : "") < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

/* env's output formats: each prints the same variables, in the form one
 * shell or tool reads. */
enum env_format { FMT_SH, FMT_FISH, FMT_POWERSHELL, FMT_JSON, FMT_DOTENV };

static const char *const format_names[] = {
	[FMT_SH] = "sh",	 [FMT_FISH] = "fish",
	[FMT_POWERSHELL] = "powershell", [FMT_JSON] = "json",
	[FMT_DOTENV] = "dotenv",
};

/* value between single quotes, each ' (and for fish each \) escaped as
 * the shell wants: sh closes and reopens the quotes, fish and PowerShell
 * escape in place. */
static void put_quoted(enum env_format f, const char *value)
{
	putchar('\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'' && f == FMT_SH)
			(void)fputs("'\\''", stdout);
		else if (*p == '\'' && f == FMT_POWERSHELL)
			(void)fputs("''", stdout);
		else if ((*p == '\'' || *p == '\\') && f == FMT_FISH)
			printf("\\%c", *p);
		else
			putchar(*p);
	}
	putchar('\'');
}

/* One variable in format f; names[] and values[] hold n of them. The
 * values are the daemon's URL, token or file name: a value with a
 * newline is refused (no format here can hold one safely). */
static int print_env(enum env_format f, size_t n, const char *const *names,
		     const char *const *values)
{
	json_t *o;

	for (size_t i = 0; i < n; i++)
		if (!values[i] || strchr(values[i], '\n'))
			return -EBADMSG;
	if (f == FMT_JSON) {
		o = json_object();
		for (size_t i = 0; o && i < n; i++)
			if (json_object_set_new(o, names[i],
						json_string(values[i])) < 0)
				json_decref(TAKE_PTR(o));
		if (!o)
			return -ENOMEM;
		cli_print_json(o);
		json_decref(o);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *q = NULL;

		switch (f) {
		case FMT_SH:
			/* One shell word whatever the value holds. */
			q = text_shell_quote(values[i]);
			if (!q)
				return -ENOMEM;
			printf("export %s=%s\n", names[i], q);
			break;
		case FMT_FISH:
			printf("set -gx %s ", names[i]);
			put_quoted(f, values[i]);
			(void)fputs(";\n", stdout);
			break;
		case FMT_POWERSHELL:
			printf("$Env:%s = ", names[i]);
			put_quoted(f, values[i]);
			putchar('\n');
			break;
		case FMT_DOTENV:
			/* NAME=VALUE as docker --env-file, python-dotenv and
			 * node's dotenv all read it: the values (a URL,
			 * base64url, a path) need no quotes, and a quote in
			 * one would be taken differently by each. */
			if (strpbrk(values[i], "'\"#$` \t\\"))
				return -EBADMSG;
			printf("%s=%s\n", names[i], values[i]);
			break;
		case FMT_JSON:
			break;
		}
	}
	return 0;
}

static int parse_format(const char *s, enum env_format *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(format_names); i++)
		if (streq(s, format_names[i])) {
			*ret = (enum env_format)i;
			return 0;
		}
	return -EINVAL;
}

int cmd_env(int argc, char **argv)
{
	static const struct option options[] = {
		{ "token-file", no_argument, NULL, 't' },
		{ "scoped", no_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	_cleanup_free_ char *uri = NULL;
	const char *role = NULL, *names[2], *values[2];
	enum env_format f = FMT_SH;
	bool file = false, scoped = false;
	json_t *o = NULL;
	int c;

	/* GNU order: ROLE may come before or after the options. */
	while ((c = cli_getopt(argc, argv, "", options)) >= 0) {
		if (c == 't')
			file = true;
		else if (c == 's')
			scoped = true;
		else if (c == 'j')
			f = FMT_JSON;
		else if (c != 'f')
			return CLI_EXIT_USAGE;
		else if (parse_format(optarg, &f) < 0)
			return cli_usage_error("env", "--format is sh, fish, "
						      "powershell, json or "
						      "dotenv, not '%s'",
					       optarg);
	}
	if (optind < argc)
		role = argv[optind++];
	if (optind < argc)
		return cli_usage_error("env", "one ROLE at most");
	if (file && scoped)
		return cli_usage_error("env", "--token-file and --scoped "
					      "exclude each other");
	c = get_env(role, &uri, &o);
	if (c < 0)
		return cli_exit(c);
	if (scoped && !cli_jstr(o, "scoped_token")) {
		json_decref(o);
		return cli_fail("no role to scope the token to yet: name one "
				"('adfs-credctl env ROLE --scoped')");
	}
	names[0] = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
	values[0] = uri;
	names[1] = file ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
		       : "AWS_CONTAINER_AUTHORIZATION_TOKEN";
	/* --scoped: a token that opens this role only (issue 15). */
	values[1] = cli_jstr(o, file     ? "token_file"
				: scoped ? "scoped_token"
					 : "token");
	c = print_env(f, 2, names, values);
	json_decref(o);
	if (c == -EBADMSG)
		return cli_fail("a value cannot be written as %s (a newline or "
				"quote in state_dir or the role name?); try "
				"--format json",
				format_names[f]);
	if (c < 0)
		return cli_fail("adfs-credd sent an incomplete reply, or out "
				"of memory");
	return EXIT_SUCCESS;
}

/* What exec runs without a command: the user's shell (a login shell's
 * $SHELL), else sh. */
static const char *user_shell(void)
{
	const char *sh = getenv("SHELL");

	return sh && sh[0] == '/' ? sh : "/bin/sh";
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
	_cleanup_free_ char *uri = NULL, *shell = NULL;
	char *shell_argv[2] = { NULL, NULL }, **cmd;
	const char *role = NULL, *held;
	usec_t need = 0;
	json_t *o = NULL;
	int c, i;

	/* '+': stop at ROLE or at "--"; what follows is the command's. */
	while ((c = cli_getopt(argc, argv, "+", options)) >= 0) {
		if (c != 'r')
			return CLI_EXIT_USAGE;
		if (cli_parse_duration(optarg, &need) < 0)
			return cli_usage_error("exec", "--require takes a "
						       "duration like 8h, 90m "
						       "or 3600 (seconds), up "
						       "to a year, not '%s'",
					       optarg);
	}
	i = optind;
	if (i > 1 && streq(argv[i - 1], "--"))
		i--; /* getopt took the "--" */
	if (i < argc && !streq(argv[i], "--"))
		role = argv[i++];
	if (i < argc && !streq(argv[i], "--"))
		return cli_usage_error("exec", "a command goes after '--' "
					       "(exec %s -- %s ...)",
				       role, argv[i]);
	/* No command: the user's shell, with the role in its environment
	 * for a prompt to show. */
	if (i + 1 >= argc) {
		shell = strdup(user_shell());
		if (!shell)
			return cli_fail("out of memory");
		shell_argv[0] = shell;
		cmd = shell_argv;
	} else {
		cmd = &argv[i + 1];
	}
	/* A job that cannot finish is not started (issue 16). */
	if (need) {
		c = cli_check_horizon(role, need, true, false);
		if (c != EXIT_SUCCESS)
			return c;
	}
	c = get_env(role, &uri, &o);
	if (c < 0)
		return cli_exit(c);
	held = cli_jstr(o, "role");
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
		   1) < 0 ||
	    (held ? setenv("ADFS_CREDD_ROLE", held, 1)
		  : unsetenv("ADFS_CREDD_ROLE")) < 0) {
		json_decref(o);
		return cli_fail("cannot set the environment: %s", strerror(errno));
	}
	if (cmd == shell_argv)
		(void)fprintf(stderr,
			      "adfs-credctl: starting %s with role %s; exit "
			      "it to leave\n",
			      cmd[0], held ? held : "(default)");
	json_decref(o);
	execvp(cmd[0], cmd);
	return cli_fail("cannot run %s: %s", cmd[0], strerror(errno));
}

int cmd_credential_process(int argc, char **argv)
{
	const char *role;
	json_t *o = NULL;
	int c;

	c = cli_role_operand(argc, argv, &role);
	if (c != 0)
		return c;
	c = cli_call_ok("GET", "/v1/credentials", role, NULL, &o);
	if (c < 0)
		return cli_exit(c);
	(void)json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return EXIT_SUCCESS;
}
