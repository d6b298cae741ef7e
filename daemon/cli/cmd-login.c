/* adfs-credctl login and logout: the sign-in conversation (password, then
 * second-factor rounds) and forgetting it. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/waitline.h"

/* Whether the daemon still holds the password (adfs.remember_password)
 * and a renewal stopped at a second factor: then login asks only for
 * that. A daemon that cannot say is asked for the password as before. */
static bool password_held_at_renewal(void)
{
	json_t *o = NULL;
	const char *state;
	bool held;
	long status = 0;

	if (cli_call("GET", "/v1/status", NULL, NULL, &o, &status) < 0)
		return false;
	state = cli_jstr(o, "state");
	held = status == 200 &&
	       json_is_true(json_object_get(o, "password_held")) &&
	       (streq(strempty(state), "not_signed_in") ||
		streq(strempty(state), "mfa_pending"));
	json_decref(o);
	if (held)
		(void)fprintf(stderr,
			      "adfs-credd still holds the password "
			      "(adfs.remember_password): only the second "
			      "factor is asked for\n");
	return held;
}

/* A push to approve: on a terminal, the countdown line (cli-wait.c);
 * else one line on stdout. */
static void show_push(const char *hint, long expires_in)
{
	char clock[16];
	bool number = hint && *hint && hint[strspn(hint, "0123456789")] == '\0';

	if (isatty(STDERR_FILENO) == 1 && expires_in > 0) {
		/* Instructions instead of a number: once, above the line. */
		if (hint && *hint && !number)
			(void)fprintf(stderr, "ADFS: %s\n", hint);
		cli_wait_push(hint, expires_in);
		return;
	}
	/* The hint is the number to match, or ADFS's own instructions
	 * when there is no number. */
	if (number)
		printf("Approve the sign-in request on your device. Number to "
		       "enter: %s",
		       hint);
	else
		printf("Approve the sign-in request on your device%s%s",
		       hint ? ": " : ".", hint ? hint : "");
	if (expires_in > 0)
		printf(" (waiting %s for it)",
		       waitline_clock(clock, expires_in));
	printf("\n");
	(void)fflush(stdout);
}

/* Ctrl-C: the daemon stops waiting on our sign-in at once (a push nobody
 * will approve would otherwise hold it for minutes, and refuse the next
 * login). Only when ours was started: a refresh that runs without us is
 * none of ours. */
static int interrupted(bool started)
{
	json_t *o = NULL;
	long status = 0;

	/* "cancelled": false when the daemon saw us go first (control.c
	 * on_hup): cancelled all the same. */
	if (started &&
	    cli_call("POST", "/v1/login/cancel", NULL, NULL, &o, &status) == 0 &&
	    status == 200)
		(void)fputs("adfs-credctl: interrupted; the sign-in was "
			    "cancelled\n",
			    stderr);
	else
		(void)fputs("adfs-credctl: interrupted\n", stderr);
	json_decref(o);
	return CLI_EXIT_INTERRUPTED;
}

/* The login conversation: password, then as many second-factor rounds as
 * ADFS asks for (a code, or waiting for a push approval). */
static int login(bool from_stdin, bool force, bool *started)
{
	_cleanup_(secret_freep) struct secret *pw = NULL;
	json_t *o = NULL, *mfa;
	int r;

	/* Kerberos needs no password (the ticket cache), and a password
	 * file or systemd credential is read by the daemon itself. */
	if (cli_auth != CONF_AUTH_KERBEROS &&
	    cli_pw_source == CONF_PASSWORD_PROMPT &&
	    !password_held_at_renewal()) {
		r = cli_read_secret_line(from_stdin ? stdin : NULL,
				     "ADFS password: ", "password", &pw);
		if (r < 0)
			return EXIT_FAILURE;
	}
	if (cli_wait_interrupted())
		return EXIT_FAILURE;
	*started = true;
	r = cli_call_ok("POST", force ? "/v1/login?force=1" : "/v1/login",
			NULL, pw, &o);
	pw = secret_free(pw);
	while (r == 0 && (mfa = json_object_get(o, "mfa"))) {
		_cleanup_(secret_freep) struct secret *code = NULL;
		const char *hint;

		/* The hint is ADFS's text. */
		cli_escape_tree(mfa);
		hint = cli_jstr(mfa, "hint");

		if (streq(strempty(cli_jstr(mfa, "kind")), "push")) {
			show_push(hint, (long)json_integer_value(json_object_get(
						mfa, "expires_in")));
		} else {
			r = cli_read_secret_line(from_stdin ? stdin : NULL,
					     "Verification code: ",
					     "verification code", &code);
			if (r < 0)
				break;
		}
		/* o goes after the call: the countdown shows its hint. */
		mfa = o;
		o = NULL;
		r = cli_call_ok("POST", "/v1/mfa", NULL, code, &o);
		cli_wait_clear();
		json_decref(mfa);
	}
	cli_wait_clear();
	if (r < 0 || cli_wait_interrupted()) {
		json_decref(o);
		return cli_exit(r);
	}
	cli_print_status(o);
	r = json_is_true(json_object_get(o, "ok")) ? 0 : -1;
	if (r < 0)
		cli_fail("%s", strempty(cli_jstr(o, "message")));
	json_decref(o);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int cmd_login(int argc, char **argv)
{
	static const struct option options[] = {
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{}
	};
	bool from_stdin = false, force = false, started = false;
	int c, r;

	while ((c = cli_getopt(argc, argv, "", options)) >= 0) {
		if (c == 'p')
			from_stdin = true;
		else if (c == 'f')
			force = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_error("login", "it takes no arguments ('%s')",
				       argv[optind]);
	/* The config says how the daemon signs in. */
	r = cli_locate();
	if (r < 0)
		return cli_exit(r);
	cli_wait_begin();
	r = login(from_stdin, force, &started);
	cli_wait_end();
	if (cli_wait_interrupted())
		return interrupted(started);
	return r;
}

int cmd_logout(int argc, char **argv)
{
	static const struct option options[] = { {} };
	json_t *o = NULL;
	int c;

	if (cli_getopt(argc, argv, "", options) >= 0)
		return CLI_EXIT_USAGE;
	if (optind < argc)
		return cli_usage_error("logout", "it takes no arguments");
	c = cli_call_ok("POST", "/v1/logout", NULL, NULL, &o);
	if (c < 0)
		return cli_exit(c);
	json_decref(o);
	printf("signed out: password, ADFS cookies and sessions forgotten; "
	       "the endpoint token was rotated\n");
	return EXIT_SUCCESS;
}

