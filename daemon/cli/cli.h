/* adfs-credctl's shared parts: the control socket client and the
 * printing the subcommands (cmd-*.c) have in common. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"
#include "util/macro.h"
#include "util/secret.h"

/* A listener the config names (serve.ecs, serve.imds). */
struct cli_listen {
	const char *key; /* NULL: unused (off) */
	char *host;
	uint16_t port;
};

/* Exit statuses beyond 0 and 1 (EXIT_FAILURE), the same for every
 * command (adfs-credctl(1) EXIT STATUS). */
#define CLI_EXIT_USAGE 2          /* bad arguments, no such role */
#define CLI_EXIT_NOT_RUNNING 3    /* no daemon on the control socket */
#define CLI_EXIT_NOT_SIGNED_IN 4  /* the daemon is not signed in */
#define CLI_EXIT_ROLE_INVALID 5   /* a role has no valid credentials */
#define CLI_EXIT_INTERRUPTED 130  /* login: Ctrl-C (128 + SIGINT) */

/* -c or $ADFS_CREDD_CONFIG (NULL: the default path, when it exists); set
 * by main() before a subcommand runs. */
extern const char *cli_config_path;
/* Set by cli_locate(), which cli_call() and cli_check_ports() call: a
 * command checks its arguments before the config is read. */
extern struct cli_listen cli_listens[2];   /* from the config, if any */
extern char *cli_socket_path;              /* the control socket */
extern enum conf_auth cli_auth;            /* from the config, if any */
extern enum conf_password cli_pw_source;   /* from the config, if any */
/* Reads the config (once) for the control socket's path: state_dir when
 * the config sets one, else $XDG_RUNTIME_DIR/adfs-credd (util/paths, as
 * the daemon does), and the listeners. Prints why on failure. */
int cli_locate(void);
/* The config cli_locate() reads: cli_config_path, else the default path
 * when that file exists (*ret NULL when it does not). Prints the errors of
 * one that does not load and returns -EINVAL. */
int cli_load_config(struct conf **ret);
/* The control socket's path for the config c (NULL: none): state_dir, else
 * $XDG_RUNTIME_DIR/adfs-credd (-EINVAL when that is not set). */
int cli_socket_for(const struct conf *c, char **ret);

/* Copies l into *to under key (nothing when l is off). */
void cli_listen_set(struct cli_listen *to, const char *key,
		    const struct conf_listen *l);
struct sockdiag_listener;
/* Whether the listener s takes connections meant for host (the same
 * address, or a wildcard of its family). */
bool cli_port_covers(const struct sockdiag_listener *s, const char *host);
/* Warns on stderr about every listener of cli_listens that another user
 * holds (a squatter would serve its own keys to our SDKs); returns how
 * many. */
int cli_check_ports(void);
/* Prints "adfs-credctl: <message>" to stderr; returns EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) _printf_(1, 2);
/* The running command's name (for messages), set by main(). */
extern const char *cli_command;
/* Prints "adfs-credctl[ COMMAND]: <message>" and where the help is;
 * returns CLI_EXIT_USAGE. cmd NULL: the global usage. */
int cli_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* getopt_long over a command's argv (argv[0] is its name), in GNU order
 * (options and operands mixed; "--" ends the options), or in order
 * when shortopts starts with '+'. Returns the option; -1 at the end; '?'
 * after printing a usage error for an unknown option or a missing value
 * (the caller returns CLI_EXIT_USAGE). */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* The exit status for an error a call below returned: -ECONNREFUSED
 * CLI_EXIT_NOT_RUNNING, -ENOTCONN CLI_EXIT_NOT_SIGNED_IN, -ENOENT (no
 * such role) CLI_EXIT_USAGE, -ESTALE CLI_EXIT_ROLE_INVALID, else
 * EXIT_FAILURE; 0: EXIT_SUCCESS. */
int cli_exit(int r);
/* How long cli_call waits for the daemon's answer, in seconds (600: a
 * sign-in waits on ADFS and STS for every role). */
extern long cli_call_timeout;
/* One request on the control socket; body may be NULL. On success *ret is
 * the parsed JSON (the caller's) and *ret_status the HTTP status. Prints
 * why on failure. */
int cli_call(const char *method, const char *path, const char *query_role,
	     const struct secret *body, json_t **ret, long *ret_status);
/* Called about once a second while cli_call waits for the daemon
 * (libcurl's progress callback; cli-wait.c sets it for login). Non-zero
 * aborts the call: cli_call returns -EINTR and prints nothing. */
extern int (*cli_call_tick)(void);
/* cli_call, with a non-2xx reply turned into its "error" line, and into
 * -ENOENT, -ENOTCONN or -ESTALE when the reply's "code" is NoSuchRole,
 * NotSignedIn or RoleNotValid (else -EREMOTEIO): see cli_exit(). */
int cli_call_ok(const char *method, const char *path, const char *role,
		const struct secret *body, json_t **ret);
/* Escapes every string in o in place (util/text.h text_escape): what the
 * daemon relays from ADFS or STS is shown, never obeyed by a terminal. */
void cli_escape_tree(json_t *o);
/* o as indented JSON on stdout, and a newline: what every --json prints
 * (JSON escapes control characters itself, so nothing from outside can
 * drive the terminal). */
void cli_print_json(json_t *o);
/* A command whose only argument is an optional ROLE: no options (but the
 * global ones), at most one word. Sets *ret_role (NULL: none); returns 0,
 * or CLI_EXIT_USAGE after saying why. */
int cli_role_operand(int argc, char **argv, const char **ret_role);
/* The string member k of o, or NULL. */
const char *cli_jstr(json_t *o, const char *k);
/* Prints a /v1/status reply as text (escaped: cli_escape_tree): fitted to
 * the terminal's width unless cli_wide (status --wide), the state coloured
 * on a terminal unless $NO_COLOR is set (cmd-status.c). */
extern bool cli_wide;
void cli_print_status(json_t *o);
/* Reads one line from in, or from /dev/tty with echo off after printing
 * prompt; the line goes to *ret in locked memory (the caller's). */
int cli_read_secret_line(FILE *in, const char *prompt, const char *what,
			 struct secret **ret);

/* A duration argument ("8h", "90m", seconds), 1 s .. a year. */
int cli_parse_duration(const char *s, usec_t *ret);
/* Asks the daemon whether role (NULL: the default) will be served for
 * need without a person; prints the answer (to stderr when not, to
 * stdout unless quiet when so; as_json: as JSON on stdout either way).
 * Returns the exit status: 0, 1 when it will not, or cli_exit()'s. */
int cli_check_horizon(const char *role, usec_t need, bool quiet,
		      bool as_json);

/* The subcommands: argv[0] is the subcommand's name; they return an exit
 * status. */
/* login's waiting (cli-wait.c): Ctrl-C caught from begin to end (the
 * calls abort, cli_wait_interrupted() says so); on a terminal (stderr),
 * one line rewritten in place: a push's countdown (cli_wait_push), else
 * the progress GET /v1/status reports. */
void cli_wait_begin(void);
void cli_wait_end(void);
bool cli_wait_interrupted(void);
/* A push waits for expires_in seconds (<= 0: unknown); hint (escaped,
 * borrowed until cli_wait_end): the number to match. */
void cli_wait_push(const char *hint, long expires_in);
/* Erases the line, if one is shown (before other output). */
void cli_wait_clear(void);

int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_roles(int argc, char **argv);
int cmd_refresh(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_credential_process(int argc, char **argv);
/* doctor loads the config itself (cli_config_path, else the default
 * path): a broken one is its first finding. */
int cmd_doctor(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* Loads the config itself (cli_config_path, else the default): it needs
 * no daemon. */
int cmd_aws_config(int argc, char **argv);

/* roles --names (cli-role-names.c), for the completion scripts: the role
 * names, one a line, from the daemon or else the config; never a word on
 * stderr. Returns the exit status. */
int cli_role_names(void);
