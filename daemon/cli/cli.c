/* adfs-credctl: talking to the control socket (small JSON over HTTP on a
 * unix socket, libcurl CURLOPT_UNIX_SOCKET_PATH) and printing replies. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "net/url.h"
#include "util/buf.h"
#include "util/paths.h"
#include "util/socket.h"
#include "util/text.h"
#include "util/timeutil.h"

#define REPLY_MAX (256u * 1024u)

char *cli_socket_path;
const char *cli_config_path;
long cli_call_timeout = 600;
int (*cli_call_tick)(void);
enum conf_auth cli_auth = CONF_AUTH_FORMS;
enum conf_password cli_pw_source = CONF_PASSWORD_PROMPT;

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("adfs-credctl: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return EXIT_FAILURE;
}

const char *cli_command;

int cli_load_config(struct conf **ret)
{
	_cleanup_free_ char *path = NULL;
	struct conf_errors errs = { 0 };
	struct stat st;

	*ret = NULL;
	path = cli_config_path ? strdup(cli_config_path) : conf_default_path();
	if (!path || (!cli_config_path && stat(path, &st) < 0))
		return 0;
	if (conf_load(path, ret, &errs) < 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_clear(&errs);
		return -EINVAL;
	}
	return 0;
}

int cli_socket_for(const struct conf *c, char **ret)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	r = paths_state_dir(c ? c->state_dir : NULL, &dir);
	if (r < 0)
		return r;
	return paths_control_socket(dir, ret);
}

int cli_locate(void)
{
	struct conf *c = NULL;
	static const struct conf_listen default_ecs = {
		.enabled = true,
		.host = (char *)"127.0.0.1",
		.port = 9911,
	};
	int r;

	if (cli_socket_path)
		return 0;
	r = cli_load_config(&c);
	if (r < 0)
		return r;
	if (c) {
		cli_auth = c->adfs.auth;
		cli_pw_source = c->adfs.password;
	}
	/* The ports the daemon serves on: status checks who holds them. */
	cli_listen_set(&cli_listens[0], "serve.ecs",
		       c ? &c->serve.ecs : &default_ecs);
	if (c)
		cli_listen_set(&cli_listens[1], "serve.imds", &c->serve.imds);
	r = cli_socket_for(c, &cli_socket_path);
	conf_free(c);
	if (r == -EINVAL)
		return cli_fail("XDG_RUNTIME_DIR is not set; set state_dir in "
				"the config and pass -c PATH"),
		       r;
	return r;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "adfs-credctl%s%s: ", cmd ? " " : "",
		      cmd ? cmd : "");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "; see 'adfs-credctl%s%s --help'\n",
		      cmd ? " " : "", cmd ? cmd : "");
	return CLI_EXIT_USAGE;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char spec[32];
	int c;

	/* ':' first (after any '+'): a missing value is told from an
	 * unknown option. One command parses one argv, from optind 1. */
	if (shortopts[0] == '+')
		(void)snprintf(spec, sizeof(spec), "+:%s", shortopts + 1);
	else
		(void)snprintf(spec, sizeof(spec), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == '?') {
		if (optopt)
			cli_usage_error(cli_command, "unknown option '-%c'",
					optopt);
		else
			cli_usage_error(cli_command, "unknown option '%s'",
					argv[optind - 1]);
	} else if (c == ':') {
		cli_usage_error(cli_command, "%s needs a value",
				argv[optind - 1]);
		c = '?';
	}
	return c;
}

int cli_exit(int r)
{
	switch (r) {
	case 0:
		return EXIT_SUCCESS;
	case -ECONNREFUSED:
		return CLI_EXIT_NOT_RUNNING;
	case -ENOTCONN:
		return CLI_EXIT_NOT_SIGNED_IN;
	case -ENOENT:
		return CLI_EXIT_USAGE;
	case -ESTALE:
		return CLI_EXIT_ROLE_INVALID;
	default:
		return EXIT_FAILURE;
	}
}

/* The control connection's socket, and what check_peer() found. */
struct conn_check {
	int fd;
	bool foreign;
	uid_t uid;
};

/* libcurl's socket, made here so that check_peer() knows it. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose,
				 struct curl_sockaddr *a)
{
	struct conn_check *chk = ud;

	chk->fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return chk->fd < 0 ? CURL_SOCKET_BAD : chk->fd;
}

/* Connected, nothing sent yet: the request goes out only when the
 * listener at the control socket is ours (SO_PEERCRED). With a state_dir
 * in a shared place, another user's listener there would otherwise get
 * the password. */
static int check_peer(void *ud, char *conn_primary_ip, char *conn_local_ip,
		      int conn_primary_port, int conn_local_port)
{
	struct conn_check *chk = ud;
	uid_t uid = (uid_t)-1;

	if (chk->fd < 0 || peer_uid_unix(chk->fd, &uid) < 0 ||
	    uid != geteuid()) {
		chk->foreign = true;
		chk->uid = uid;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	return cli_call_tick && cli_call_tick() ? 1 : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) < 0 ? 0 : size * n;
}

int cli_call(const char *method, const char *path, const char *query_role,
		const struct secret *body, json_t **ret, long *ret_status)
{
	_cleanup_free_ char *url = NULL;
	struct conn_check chk = { .fd = -1, .uid = (uid_t)-1 };
	struct buf reply;
	json_error_t jerr;
	CURL *e;
	CURLcode cc;
	int r = 0;

	if (query_role) {
		_cleanup_free_ char *esc = NULL;

		if (url_escape(query_role, strlen(query_role), &esc) < 0 ||
		    asprintf(&url, "http://localhost%s%crole=%s", path,
			     strchr(path, '?') ? '&' : '?', esc) < 0)
			url = NULL;
	} else if (asprintf(&url, "http://localhost%s", path) < 0) {
		url = NULL;
	}
	if (!url)
		return -ENOMEM;
	r = cli_locate();
	if (r < 0)
		return r;
	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	buf_init(&reply, REPLY_MAX);
	(void)curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, cli_socket_path);
	(void)curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	(void)curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &chk);
	(void)curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, check_peer);
	(void)curl_easy_setopt(e, CURLOPT_PREREQDATA, &chk);
	(void)curl_easy_setopt(e, CURLOPT_URL, url);
	(void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(e, CURLOPT_WRITEDATA, &reply);
	(void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (cli_call_tick) {
		(void)curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
		(void)curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	}
	/* Sign-in waits on ADFS and STS for every role. */
	(void)curl_easy_setopt(e, CURLOPT_TIMEOUT, cli_call_timeout);
	if (streq(method, "POST")) {
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				       body ? body->data : "");
		(void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
				       body ? (long)body->len : 0L);
	}
	cc = curl_easy_perform(e);
	if (chk.foreign) {
		cli_fail("the control socket %s is not adfs-credd's: it belongs "
			 "to uid %ld, not to you; nothing was sent to it. "
			 "Another user may be trying to catch your password: "
			 "check state_dir",
			 cli_socket_path, chk.uid == (uid_t)-1 ? -1L
							     : (long)chk.uid);
		r = -EPERM;
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
		r = -EINTR; /* cli_call_tick: the caller says why */
	} else if (cc == CURLE_COULDNT_CONNECT) {
		cli_fail("adfs-credd is not running (no control socket at %s)",
		     cli_socket_path);
		r = -ECONNREFUSED;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		cli_fail("adfs-credd did not answer within %lds", cli_call_timeout);
		r = -ETIMEDOUT;
	} else if (cc != CURLE_OK) {
		cli_fail("talking to adfs-credd failed: %s", curl_easy_strerror(cc));
		r = -EIO;
	} else {
		(void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, ret_status);
		*ret = json_loadb(reply.data ? reply.data : "", reply.len, 0,
				  &jerr);
		if (!*ret) {
			cli_fail("adfs-credd sent a reply that is not JSON");
			r = -EBADMSG;
		}
	}
	buf_clear(&reply);
	curl_easy_cleanup(e);
	return r;
}

int cli_call_ok(const char *method, const char *path, const char *role,
		   const struct secret *body, json_t **ret)
{
	long status = 0;
	json_t *o = NULL;
	const char *code;
	int r;

	r = cli_call(method, path, role, body, &o, &status);
	if (r < 0)
		return r;
	if (status < 200 || status > 299) {
		const char *msg;

		cli_escape_tree(o);
		msg = json_string_value(json_object_get(o, "error"));
		if (!msg)
			msg = json_string_value(json_object_get(o, "message"));
		cli_fail("%s", msg ? msg : "request failed");
		code = strempty(cli_jstr(o, "code"));
		r = streq(code, "NoSuchRole")	  ? -ENOENT
		    : streq(code, "NotSignedIn")  ? -ENOTCONN
		    : streq(code, "RoleNotValid") ? -ESTALE
						  : -EREMOTEIO;
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

void cli_escape_tree(json_t *o)
{
	/* A work list, not recursion: every value is visited once. */
	json_t *todo = json_array();
	json_t *v;

	if (!todo || json_array_append(todo, o) < 0) {
		json_decref(todo);
		return;
	}
	while (json_array_size(todo)) {
		size_t last = json_array_size(todo) - 1;

		v = json_incref(json_array_get(todo, last));
		(void)json_array_remove(todo, last);
		if (json_is_string(v)) {
			_cleanup_free_ char *e = text_escape(json_string_value(v));

			/* Out of memory: nothing of it is shown. */
			if (!e || json_string_set(v, e) < 0)
				(void)json_string_set(v, "?");
		} else if (json_is_object(v)) {
			for (void *it = json_object_iter(v); it;
			     it = json_object_iter_next(v, it))
				(void)json_array_append(todo,
							json_object_iter_value(it));
		} else if (json_is_array(v)) {
			for (size_t i = 0; i < json_array_size(v); i++)
				(void)json_array_append(todo, json_array_get(v, i));
		}
		json_decref(v);
	}
	json_decref(todo);
}

void cli_print_json(json_t *o)
{
	(void)json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
}

int cli_role_operand(int argc, char **argv, const char **ret_role)
{
	static const struct option none[] = { {} };

	if (cli_getopt(argc, argv, "", none) >= 0)
		return CLI_EXIT_USAGE;
	if (argc - optind > 1)
		return cli_usage_error(cli_command, "one ROLE at most");
	*ret_role = optind < argc ? argv[optind] : NULL;
	return 0;
}

const char *cli_jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int cli_read_secret_line(FILE *in, const char *prompt, const char *what,
			    struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *pw = secret_new(CONF_MAX_SIZE);
	struct termios old, noecho;
	bool tty = false, own = false, intr;
	int c;

	if (!pw)
		return -ENOMEM;
	if (!in) {
		in = fopen("/dev/tty", "r+e");
		if (!in)
			return cli_fail("no terminal to ask for the %s on; use "
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
	/* A signal (Ctrl-C in login, cli-wait.c): the caller says so. */
	intr = c == EOF && ferror(in) && errno == EINTR;
	if (pw->len && pw->data[pw->len - 1] == '\r')
		pw->data[--pw->len] = '\0';
	if (tty) {
		(void)tcsetattr(fileno(in), TCSAFLUSH, &old);
		(void)fputc('\n', in);
	}
	if (own)
		(void)fclose(in);
	if (intr)
		return -EINTR;
	if (pw->len == 0)
		return cli_fail("no %s given", what), -EINVAL;
	*ret = TAKE_PTR(pw);
	return 0;
}

