/* adfs-credctl status, roles and refresh, and the status table login and
 * refresh print too. See adfs-credctl(1). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/timeutil.h"

bool cli_wide;

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* "3h10m" for people: from now until iso; "-" without one. */
static const char *fmt_in(char b[static 48], const char *iso, usec_t now)
{
	usec_t t;
	char d[32];

	if (!iso || parse_iso8601(iso, &t) < 0)
		return "-";
	if (t <= now)
		return "expired";
	(void)snprintf(b, 48, "%s", format_duration(d, t - now));
	return b;
}

/* The horizon (issue 16): how long renewal goes on without the user. */
static void print_horizon(json_t *o, usec_t now)
{
	const char *by = strempty(cli_jstr(o, "renewable_by")),
		   *until = cli_jstr(o, "renewable_until");
	char in[48];

	if (streq(by, "password"))
		printf("renewal: without you, no end (the password is at "
		       "hand)\n");
	else if (until && json_is_true(json_object_get(o, "signed_in")))
		printf("renewal: without you for %s (until %s), then %s\n",
		       fmt_in(in, until, now), until,
		       streq(by, "kmsi") ? "the keep-me-signed-in cookie expires"
		       : streq(by, "kerberos")
			       ? "the Kerberos ticket ends (kinit renews it)"
			       : "the ADFS SSO ends: run 'adfs-credctl login'");
	else if (json_is_true(json_object_get(o, "signed_in")))
		printf("renewal: needs you (run 'adfs-credctl login')\n");
}

/* How the table is drawn: the terminal's width (0: no limit) and whether
 * the state is coloured. Both only for a terminal: a pipe gets every
 * column whole and no escape sequence. */
struct layout {
	size_t width;
	bool colour, utf8;
};

/* Whether the terminal takes UTF-8, by the locale variables (as
 * setlocale() would pick them, without changing this program's locale). */
static bool locale_utf8(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

	for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

static struct layout layout_get(void)
{
	struct layout l = { 0 };
	struct winsize ws;
	const char *term = getenv("TERM"), *no_colour = getenv("NO_COLOR");

	if (!isatty(STDOUT_FILENO))
		return l;
	if (!cli_wide && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		l.width = ws.ws_col;
	/* https://no-color.org: set and not empty. */
	l.colour = !(no_colour && *no_colour) &&
		   !(term && streq(term, "dumb"));
	l.utf8 = locale_utf8();
	return l;
}

/* s in a column of w cells: cut with an ellipsis when longer (ASCII: the
 * role names are IAM's set, the rest is escaped by cli_escape_tree). */
static void put_cell(const struct layout *l, const char *s, size_t w,
		     bool last)
{
	size_t n = strlen(s);

	if (w && n > w) {
		printf("%.*s%s", (int)(w - 1), s, l->utf8 ? "\u2026" : "~");
		n = w;
	} else {
		(void)fputs(s, stdout);
	}
	if (!last)
		printf("%*s", (int)(w > n ? w - n : 0) + 1, "");
}

static const char *state_colour(const char *state)
{
	if (streq(state, "valid"))
		return "\033[32m";
	if (streq(state, "refreshing"))
		return "\033[33m";
	return "\033[31m";
}

enum { COL_ROLE, COL_STATE, COL_EXP, COL_DUR, COL_NEXT, COL_SERVED,
       COL_ERR, COL_COUNT };

void cli_print_status(json_t *o)
{
	static const char *const head[COL_COUNT] = {
		"ROLE", "STATE", "EXPIRES IN", "DURATION (MAX FROM)",
		"NEXT REFRESH", "SERVED FOR", "LAST ERROR"
	};
	json_t *roles = json_object_get(o, "roles"), *r;
	struct layout l = layout_get();
	size_t w[COL_COUNT] = { 0 }, fixed = 0, room;
	char (*cells)[COL_COUNT][64];
	usec_t now;
	size_t i, n;

	cli_escape_tree(o);
	now = now_wall();
	if (json_is_true(json_object_get(o, "signed_in")))
		printf("signed in as %s\n", strempty(cli_jstr(o, "user")));
	else
		printf("not signed in (%s)%s%s\n", strempty(cli_jstr(o, "state")),
		       cli_jstr(o, "error") ? ": " : "",
		       cli_jstr(o, "error") ? cli_jstr(o, "error")
					: "; run 'adfs-credctl login'");
	print_horizon(o, now);
	n = json_array_size(roles);
	if (!n)
		return;
	cells = calloc(n, sizeof(*cells));
	if (!cells)
		return;
	/* The cells first, to size the columns to what they hold. */
	json_array_foreach(roles, i, r)
	{
		char d[32], b[48];
		json_int_t used =
			json_integer_value(json_object_get(r, "duration"));
		const char *state = strempty(cli_jstr(r, "state"));

		(void)snprintf(cells[i][COL_ROLE], 64, "%s",
			       strempty(cli_jstr(r, "name")));
		(void)snprintf(cells[i][COL_STATE], 64, "%s", state);
		(void)snprintf(cells[i][COL_EXP], 64, "%s",
			       fmt_in(b, cli_jstr(r, "expires"), now));
		(void)snprintf(cells[i][COL_DUR], 64, "%s (%s)",
			       used ? format_duration(d, (usec_t)used *
								USEC_PER_SEC)
				    : "-",
			       strempty(cli_jstr(r, "max_source")));
		(void)snprintf(cells[i][COL_NEXT], 64, "%s",
			       fmt_in(b, cli_jstr(r, "next_refresh"), now));
		/* null with a valid role: no end (renewal by password). */
		(void)snprintf(cells[i][COL_SERVED], 64, "%s",
			       !cli_jstr(r, "served_until") &&
					       streq(state, "valid")
				       ? "no limit"
				       : fmt_in(b, cli_jstr(r, "served_until"),
						now));
	}
	for (size_t k = 0; k < COL_COUNT; k++) {
		w[k] = strlen(head[k]);
		for (i = 0; k != COL_ERR && i < n; i++)
			w[k] = zmax(w[k], strlen(cells[i][k]));
	}
	/* Names longer than 64 are in the JSON, not in cells. */
	json_array_foreach(roles, i, r)
		w[COL_ROLE] = zmax(w[COL_ROLE],
				  strlen(strempty(cli_jstr(r, "name"))));
	/* A terminal too narrow: the role names give way down to 12 cells
	 * and the last error takes what is left (at least 10), so each role
	 * stays on one line; --wide or a pipe: nothing is cut. */
	for (size_t k = COL_STATE; k < COL_ERR; k++)
		fixed += w[k] + 1;
	room = l.width > fixed + 1 ? l.width - fixed - 1 : 0;
	if (l.width && w[COL_ROLE] + 1 + 10 > room)
		w[COL_ROLE] = zmax(12, room > 11 ? room - 11 : 0);
	w[COL_ERR] = l.width ? zmax(10, room > w[COL_ROLE] + 1
						      ? room - w[COL_ROLE] - 1
						      : 0)
			     : 0;
	for (size_t k = 0; k < COL_COUNT; k++)
		put_cell(&l, head[k], w[k], k == COL_ERR);
	putchar('\n');
	json_array_foreach(roles, i, r)
	{
		const char *err = cli_jstr(r, "last_error");

		put_cell(&l, strempty(cli_jstr(r, "name")), w[COL_ROLE], false);
		if (l.colour)
			(void)fputs(state_colour(cells[i][COL_STATE]), stdout);
		(void)fputs(cells[i][COL_STATE], stdout);
		if (l.colour)
			(void)fputs("\033[0m", stdout);
		printf("%*s", (int)(w[COL_STATE] - strlen(cells[i][COL_STATE])) + 1,
		       "");
		for (size_t k = COL_EXP; k < COL_ERR; k++)
			put_cell(&l, cells[i][k], w[k], false);
		put_cell(&l, err ? err : "-", w[COL_ERR], true);
		putchar('\n');
	}
	free(cells);
}

/* A role is valid while its credentials have not expired, by the
 * daemon's clock: what an SDK asking now would get. */
static bool role_valid(json_t *r, usec_t now)
{
	usec_t t;
	const char *exp = cli_jstr(r, "expires");

	return exp && parse_iso8601(exp, &t) == 0 && t > now;
}

/* status's exit status: 4 when not signed in, 5 when a role shown is
 * not valid, else 0. */
static int status_exit(json_t *o)
{
	json_t *r;
	usec_t now;
	size_t i;

	if (!cli_jstr(o, "now") || parse_iso8601(cli_jstr(o, "now"), &now) < 0)
		now = now_wall();
	if (!json_is_true(json_object_get(o, "signed_in")))
		return CLI_EXIT_NOT_SIGNED_IN;
	json_array_foreach(json_object_get(o, "roles"), i, r)
		if (!role_valid(r, now))
			return CLI_EXIT_ROLE_INVALID;
	return EXIT_SUCCESS;
}

int cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "wide", no_argument, NULL, 'w' },
		{}
	};
	bool as_json = false, quiet = false;
	json_t *o = NULL;
	int c, r;

	while ((c = cli_getopt(argc, argv, "q", options)) >= 0) {
		if (c == 'j')
			as_json = true;
		else if (c == 'q')
			quiet = true;
		else if (c == 'w')
			cli_wide = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_error("status", "it takes no ROLE ('%s')",
				       argv[optind]);
	r = cli_locate();
	if (r < 0)
		return cli_exit(r);
	/* First: a squatter matters most when the daemon is not running. */
	if (!quiet)
		(void)cli_check_ports();
	r = cli_call_ok("GET", "/v1/status", NULL, NULL, &o);
	if (r < 0)
		return cli_exit(r);
	c = status_exit(o);
	if (as_json && !quiet)
		cli_print_json(o);
	else if (!quiet)
		cli_print_status(o);
	json_decref(o);
	return c;
}

int cmd_roles(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "names", no_argument, NULL, 'n' },
		{}
	};
	bool as_json = false, names = false;
	json_t *o = NULL, *r;
	size_t i;
	int c;

	while ((c = cli_getopt(argc, argv, "", options)) >= 0) {
		if (c == 'j')
			as_json = true;
		else if (c == 'n')
			names = true;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_error("roles", "it takes no arguments");
	if (names && as_json)
		return cli_usage_error("roles", "--json or --names, not both");
	if (names) /* for the completion scripts: cli-role-names.c */
		return cli_role_names();
	c = cli_call_ok("GET", "/v1/roles", NULL, NULL, &o);
	if (c < 0)
		return cli_exit(c);
	if (as_json) {
		cli_print_json(o);
		json_decref(o);
		return EXIT_SUCCESS;
	}
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
	const char *role;
	json_t *o = NULL;
	int c, ok;

	c = cli_role_operand(argc, argv, &role);
	if (c != 0)
		return c;
	c = cli_call_ok("POST", "/v1/refresh", role, NULL, &o);
	if (c < 0)
		return cli_exit(c);
	cli_print_status(o);
	ok = json_is_true(json_object_get(o, "ok"));
	if (!ok)
		cli_fail("%s", strempty(cli_jstr(o, "message")));
	json_decref(o);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
