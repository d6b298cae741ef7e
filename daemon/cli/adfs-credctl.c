/* adfs-credctl: the client of adfs-credd's control socket. A table of
 * subcommands; each talks small JSON over HTTP on the unix socket
 * (libcurl CURLOPT_UNIX_SOCKET_PATH). See adfs-credctl(1). */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>

#include "conf/conf.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/timeutil.h"
#include "util/wipe-alloc.h"

#define REPLY_MAX (256u * 1024u)

static char *socket_path;
static char *config_path;
static enum conf_auth auth = CONF_AUTH_FORMS; /* from the config, if any */
static enum conf_password pw_source = CONF_PASSWORD_PROMPT;

static int fail(const char *fmt, ...) _printf_(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("adfs-credctl: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return EXIT_FAILURE;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) < 0 ? 0 : size * n;
}

/* Finds the control socket: state_dir from the config when it sets one,
 * else $XDG_RUNTIME_DIR/adfs-credd. */
static int find_socket(void)
{
	_cleanup_free_ char *path = NULL;
	struct conf_errors errs = { 0 };
	struct conf *c = NULL;
	const char *rt;
	struct stat st;

	path = config_path ? strdup(config_path) : conf_default_path();
	if (path && (config_path || stat(path, &st) == 0)) {
		if (conf_load(path, &c, &errs) < 0) {
			conf_errors_print(&errs, stderr);
			conf_errors_clear(&errs);
			return -EINVAL;
		}
		auth = c->adfs.auth;
		pw_source = c->adfs.password;
		if (c->state_dir &&
		    asprintf(&socket_path, "%s/control.sock", c->state_dir) < 0)
			socket_path = NULL;
		conf_free(c);
		if (socket_path)
			return 0;
	}
	rt = getenv("XDG_RUNTIME_DIR");
	if (!rt || rt[0] != '/')
		return fail("XDG_RUNTIME_DIR is not set; set state_dir in the "
			    "config and pass -c PATH"),
		       -EINVAL;
	if (asprintf(&socket_path, "%s/adfs-credd/control.sock", rt) < 0)
		return -ENOMEM;
	return 0;
}

/* One request. body may be NULL. On success *ret is the parsed JSON and
 * *ret_status the HTTP status. */
static int call(const char *method, const char *path, const char *query_role,
		const struct secret *body, json_t **ret, long *ret_status)
{
	_cleanup_free_ char *url = NULL;
	struct buf reply;
	json_error_t jerr;
	CURL *e;
	CURLcode cc;
	int r = 0;

	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	if (query_role) {
		char *esc = curl_easy_escape(e, query_role, 0);

		if (!esc || asprintf(&url, "http://localhost%s?role=%s", path,
				     esc) < 0)
			url = NULL;
		curl_free(esc);
	} else if (asprintf(&url, "http://localhost%s", path) < 0) {
		url = NULL;
	}
	if (!url) {
		curl_easy_cleanup(e);
		return -ENOMEM;
	}
	buf_init(&reply, REPLY_MAX);
	(void)curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	(void)curl_easy_setopt(e, CURLOPT_URL, url);
	(void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(e, CURLOPT_WRITEDATA, &reply);
	(void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* Sign-in waits on ADFS and STS for every role. */
	(void)curl_easy_setopt(e, CURLOPT_TIMEOUT, 600L);
	if (streq(method, "POST")) {
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				       body ? body->data : "");
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
				       body ? (long)body->len : 0L);
	}
	cc = curl_easy_perform(e);
	if (cc == CURLE_COULDNT_CONNECT) {
		fail("adfs-credd is not running (no control socket at %s)",
		     socket_path);
		r = -ECONNREFUSED;
	} else if (cc != CURLE_OK) {
		fail("talking to adfs-credd failed: %s", curl_easy_strerror(cc));
		r = -EIO;
	} else {
		(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, ret_status);
		*ret = json_loadb(reply.data ? reply.data : "", reply.len, 0,
				  &jerr);
		if (!*ret) {
			fail("adfs-credd sent a reply that is not JSON");
			r = -EBADMSG;
		}
	}
	buf_clear(&reply);
	curl_easy_cleanup(e);
	return r;
}

/* Calls and turns a non-2xx reply into its "error" line. */
static int call_ok(const char *method, const char *path, const char *role,
		   const struct secret *body, json_t **ret)
{
	long status = 0;
	json_t *o = NULL;
	int r;

	r = call(method, path, role, body, &o, &status);
	if (r < 0)
		return r;
	if (status < 200 || status > 299) {
		const char *msg = json_string_value(json_object_get(o, "error"));

		if (!msg)
			msg = json_string_value(json_object_get(o, "message"));
		fail("%s", msg ? msg : "request failed");
		json_decref(o);
		return -EREMOTEIO;
	}
	*ret = o;
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* "in 3h58m" from an ISO time, or "-" */
static const char *fmt_in(char b[static 48], const char *iso)
{
	usec_t t, now = now_wall();
	char d[32];

	if (!iso || parse_iso8601(iso, &t) < 0)
		return "-";
	if (t <= now)
		return "expired";
	(void)snprintf(b, 48, "%s", format_duration(d, t - now));
	return b;
}

static void print_status(json_t *o)
{
	json_t *roles = json_object_get(o, "roles"), *r;
	size_t i;

	if (json_is_true(json_object_get(o, "signed_in")))
		printf("signed in as %s\n", strempty(jstr(o, "user")));
	else
		printf("not signed in (%s)%s%s\n", strempty(jstr(o, "state")),
		       jstr(o, "error") ? ": " : "",
		       jstr(o, "error") ? jstr(o, "error")
					: "; run 'adfs-credctl login'");
	if (!json_array_size(roles))
		return;
	printf("%-20s %-13s %-10s %-20s %-12s %s\n", "ROLE", "STATE",
	       "EXPIRES IN", "DURATION (MAX FROM)", "NEXT REFRESH",
	       "LAST ERROR");
	json_array_foreach(roles, i, r)
	{
		char exp[48], nxt[48], dur[64], d[32];
		json_int_t used =
			json_integer_value(json_object_get(r, "duration"));

		(void)snprintf(dur, sizeof(dur), "%s (%s)",
			       used ? format_duration(d, (usec_t)used *
								USEC_PER_SEC)
				    : "-",
			       strempty(jstr(r, "max_source")));
		printf("%-20s %-13s %-10s %-20s %-12s %s\n", jstr(r, "name"),
		       jstr(r, "state"), fmt_in(exp, jstr(r, "expires")), dur,
		       fmt_in(nxt, jstr(r, "next_refresh")),
		       jstr(r, "last_error") ? jstr(r, "last_error") : "-");
	}
}

/* Reads one line: from stdin (in), or from /dev/tty with echo off after
 * printing prompt. Returns it in locked memory. */
static int read_secret_line(FILE *in, const char *prompt, const char *what,
			    struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *pw = secret_new(CONF_MAX_SIZE);
	struct termios old, noecho;
	bool tty = false, own = false;
	int c;

	if (!pw)
		return -ENOMEM;
	if (!in) {
		in = fopen("/dev/tty", "r+e");
		if (!in)
			return fail("no terminal to ask for the %s on; use "
				    "--password-stdin",
				    what),
			       -ENOTTY;
		own = true;
		(void)fputs(prompt, in);
		(void)fflush(in);
		if (tcgetattr(fileno(in), &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tty = tcsetattr(fileno(in), TCSAFLUSH, &noecho) == 0;
		}
	}
	while ((c = getc(in)) != EOF && c != '\n') {
		char ch = (char)c;

		if (secret_append(pw, &ch, 1) < 0)
			break;
	}
	if (pw->len && pw->data[pw->len - 1] == '\r')
		pw->data[--pw->len] = '\0';
	if (tty) {
		(void)tcsetattr(fileno(in), TCSAFLUSH, &old);
		(void)fputc('\n', in);
	}
	if (own)
		(void)fclose(in);
	if (pw->len == 0)
		return fail("no %s given", what), -EINVAL;
	*ret = TAKE_PTR(pw);
	return 0;
}

/* The login conversation: password, then as many second-factor rounds as
 * ADFS asks for (a code, or waiting for a push approval). */
static int cmd_login(int argc, char **argv)
{
	_cleanup_(secret_freep) struct secret *pw = NULL;
	bool from_stdin = false;
	json_t *o = NULL, *mfa;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--password-stdin"))
			from_stdin = true;
		else
			return fail("login: unknown option '%s'", argv[i]);
	}
	/* Kerberos needs no password (the ticket cache), and a password
	 * file or systemd credential is read by the daemon itself. */
	if (auth != CONF_AUTH_KERBEROS && pw_source == CONF_PASSWORD_PROMPT) {
		r = read_secret_line(from_stdin ? stdin : NULL,
				     "ADFS password: ", "password", &pw);
		if (r < 0)
			return EXIT_FAILURE;
	}
	r = call_ok("POST", "/v1/login", NULL, pw, &o);
	pw = secret_free(pw);
	while (r == 0 && (mfa = json_object_get(o, "mfa"))) {
		_cleanup_(secret_freep) struct secret *code = NULL;
		const char *hint = jstr(mfa, "hint");

		if (streq(strempty(jstr(mfa, "kind")), "push")) {
			/* The hint is the number to match, or ADFS's own
			 * instructions when there is no number. */
			if (hint && hint[strspn(hint, "0123456789")] == '\0')
				printf("Approve the sign-in request on your "
				       "device. Number to enter: %s\n",
				       hint);
			else
				printf("Approve the sign-in request on your "
				       "device%s%s\n",
				       hint ? ": " : ".", hint ? hint : "");
			(void)fflush(stdout);
		} else {
			r = read_secret_line(from_stdin ? stdin : NULL,
					     "Verification code: ",
					     "verification code", &code);
			if (r < 0)
				break;
		}
		json_decref(o);
		o = NULL;
		r = call_ok("POST", "/v1/mfa", NULL, code, &o);
	}
	if (r < 0) {
		json_decref(o);
		return EXIT_FAILURE;
	}
	print_status(o);
	r = json_is_true(json_object_get(o, "ok")) ? 0 : -1;
	if (r < 0)
		fail("%s", strempty(jstr(o, "message")));
	json_decref(o);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int cmd_logout(int argc, char **argv)
{
	json_t *o = NULL;

	if (argc > 1)
		return fail("logout takes no arguments");
	if (call_ok("POST", "/v1/logout", NULL, NULL, &o) < 0)
		return EXIT_FAILURE;
	json_decref(o);
	printf("signed out: password, ADFS cookies and sessions forgotten; "
	       "the endpoint token was rotated\n");
	return EXIT_SUCCESS;
}

static int cmd_status(int argc, char **argv)
{
	bool as_json = argc > 1 && streq(argv[1], "--json");
	json_t *o = NULL;

	if (argc > (as_json ? 2 : 1))
		return fail("usage: status [--json]");
	if (call_ok("GET", "/v1/status", NULL, NULL, &o) < 0)
		return EXIT_FAILURE;
	if (as_json) {
		(void)json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_status(o);
	}
	json_decref(o);
	return EXIT_SUCCESS;
}

static int cmd_roles(int argc, char **argv)
{
	json_t *o = NULL, *r;
	size_t i;

	if (argc > 1)
		return fail("roles takes no arguments");
	if (call_ok("GET", "/v1/roles", NULL, NULL, &o) < 0)
		return EXIT_FAILURE;
	if (!json_array_size(json_object_get(o, "roles")))
		printf("no assertion yet: run 'adfs-credctl login'\n");
	json_array_foreach(json_object_get(o, "roles"), i, r)
		printf("%-16s %s %s\n",
		       jstr(r, "held_as") ? jstr(r, "held_as") : "(not held)",
		       jstr(r, "role_arn"), jstr(r, "principal_arn"));
	json_decref(o);
	return EXIT_SUCCESS;
}

static int cmd_refresh(int argc, char **argv)
{
	json_t *o = NULL;
	int ok;

	if (argc > 2)
		return fail("usage: refresh [ROLE]");
	if (call_ok("POST", "/v1/refresh", argc > 1 ? argv[1] : NULL, NULL,
		    &o) < 0)
		return EXIT_FAILURE;
	print_status(o);
	ok = json_is_true(json_object_get(o, "ok"));
	if (!ok)
		fail("%s", strempty(jstr(o, "message")));
	json_decref(o);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Fetches the ECS URL for role and the token (or its file). */
static int get_env(const char *role, char **ret_uri, json_t **ret)
{
	json_t *o = NULL;
	const char *r;

	if (call_ok("GET", "/v1/env", role, NULL, &o) < 0)
		return -EIO;
	r = jstr(o, "role");
	if (asprintf(ret_uri, r ? "%s/role/%s" : "%s/", jstr(o, "url"),
		     r ? r : "") < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

static int cmd_env(int argc, char **argv)
{
	_cleanup_free_ char *uri = NULL;
	const char *role = NULL;
	bool file = false;
	json_t *o = NULL;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--token-file"))
			file = true;
		else if (!role && argv[i][0] != '-')
			role = argv[i];
		else
			return fail("usage: env [ROLE] [--token-file]");
	}
	if (get_env(role, &uri, &o) < 0)
		return EXIT_FAILURE;
	printf("export AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\n", uri);
	if (file)
		printf("export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s\n",
		       jstr(o, "token_file"));
	else
		printf("export AWS_CONTAINER_AUTHORIZATION_TOKEN=%s\n",
		       jstr(o, "token"));
	json_decref(o);
	return EXIT_SUCCESS;
}

static int cmd_exec(int argc, char **argv)
{
	_cleanup_free_ char *uri = NULL;
	const char *role = NULL;
	json_t *o = NULL;
	int i = 1;

	if (i < argc && !streq(argv[i], "--"))
		role = argv[i++];
	if (i >= argc || !streq(argv[i], "--") || i + 1 >= argc)
		return fail("usage: exec [ROLE] -- CMD [ARG...]");
	if (get_env(role, &uri, &o) < 0)
		return EXIT_FAILURE;
	/* Exactly one URI and one token variable: SDKs disagree on which
	 * wins when both are set (PROTOCOLS.md A1). The token itself, not
	 * the _FILE variant: older SDKs (Debian 12's botocore 1.29) read
	 * only AWS_CONTAINER_AUTHORIZATION_TOKEN. */
	(void)unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	(void)unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1) < 0 ||
	    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", jstr(o, "token"),
		   1) < 0) {
		json_decref(o);
		return fail("cannot set the environment: %s", strerror(errno));
	}
	json_decref(o);
	execvp(argv[i + 1], &argv[i + 1]);
	return fail("cannot run %s: %s", argv[i + 1], strerror(errno));
}

static int cmd_credential_process(int argc, char **argv)
{
	json_t *o = NULL;

	if (argc > 2)
		return fail("usage: credential-process [ROLE]");
	if (call_ok("GET", "/v1/credentials", argc > 1 ? argv[1] : NULL, NULL,
		    &o) < 0)
		return EXIT_FAILURE;
	(void)json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return EXIT_SUCCESS;
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
	{ "env", cmd_env, "env [ROLE] [--token-file]  print export lines for SDKs" },
	{ "exec", cmd_exec, "exec [ROLE] -- CMD [ARG...] run CMD with that environment" },
	{ "credential-process", cmd_credential_process,
	  "credential-process [ROLE] print credential_process JSON" },
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
	int i = 1, r = EXIT_FAILURE;

	if (i + 1 < argc && (streq(argv[i], "-c") || streq(argv[i], "--config"))) {
		config_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (streq(argv[i], "--help") || streq(argv[i], "-h") ||
	    streq(argv[i], "help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (streq(argv[i], "--version")) {
		printf("adfs-credctl %s\n", ADFS_CREDD_VERSION);
		return EXIT_SUCCESS;
	}
	wipe_alloc_install();
	log_set_level(LOG_WARNING);
	for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
		if (!streq(argv[i], commands[k].name))
			continue;
		if (find_socket() < 0)
			return EXIT_FAILURE;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = commands[k].fn(argc - i, argv + i);
		curl_global_cleanup();
		free(socket_path);
		return r;
	}
	fail("unknown command '%s'; see 'adfs-credctl --help'", argv[i]);
	return EXIT_FAILURE;
}
