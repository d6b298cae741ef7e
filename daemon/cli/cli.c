/* adfs-credctl: talking to the control socket (small JSON over HTTP on a
 * unix socket, libcurl CURLOPT_UNIX_SOCKET_PATH) and printing replies. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include "net/url.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define REPLY_MAX (256u * 1024u)

char *cli_socket_path;
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

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) < 0 ? 0 : size * n;
}

int cli_call(const char *method, const char *path, const char *query_role,
		const struct secret *body, json_t **ret, long *ret_status)
{
	_cleanup_free_ char *url = NULL;
	struct buf reply;
	json_error_t jerr;
	CURL *e;
	CURLcode cc;
	int r = 0;

	if (query_role) {
		_cleanup_free_ char *esc = NULL;

		if (url_escape(query_role, strlen(query_role), &esc) < 0 ||
		    asprintf(&url, "http://localhost%s?role=%s", path, esc) < 0)
			url = NULL;
	} else if (asprintf(&url, "http://localhost%s", path) < 0) {
		url = NULL;
	}
	if (!url)
		return -ENOMEM;
	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	buf_init(&reply, REPLY_MAX);
	(void)curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, cli_socket_path);
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
		cli_fail("adfs-credd is not running (no control socket at %s)",
		     cli_socket_path);
		r = -ECONNREFUSED;
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
	int r;

	r = cli_call(method, path, role, body, &o, &status);
	if (r < 0)
		return r;
	if (status < 200 || status > 299) {
		const char *msg = json_string_value(json_object_get(o, "error"));

		if (!msg)
			msg = json_string_value(json_object_get(o, "message"));
		cli_fail("%s", msg ? msg : "request failed");
		json_decref(o);
		return -EREMOTEIO;
	}
	*ret = o;
	return 0;
}

const char *cli_jstr(json_t *o, const char *k)
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

void cli_print_status(json_t *o)
{
	json_t *roles = json_object_get(o, "roles"), *r;
	size_t i;

	if (json_is_true(json_object_get(o, "signed_in")))
		printf("signed in as %s\n", strempty(cli_jstr(o, "user")));
	else
		printf("not signed in (%s)%s%s\n", strempty(cli_jstr(o, "state")),
		       cli_jstr(o, "error") ? ": " : "",
		       cli_jstr(o, "error") ? cli_jstr(o, "error")
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
			       strempty(cli_jstr(r, "max_source")));
		printf("%-20s %-13s %-10s %-20s %-12s %s\n", cli_jstr(r, "name"),
		       cli_jstr(r, "state"), fmt_in(exp, cli_jstr(r, "expires")), dur,
		       fmt_in(nxt, cli_jstr(r, "next_refresh")),
		       cli_jstr(r, "last_error") ? cli_jstr(r, "last_error") : "-");
	}
}

int cli_read_secret_line(FILE *in, const char *prompt, const char *what,
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
	if (pw->len && pw->data[pw->len - 1] == '\r')
		pw->data[--pw->len] = '\0';
	if (tty) {
		(void)tcsetattr(fileno(in), TCSAFLUSH, &old);
		(void)fputc('\n', in);
	}
	if (own)
		(void)fclose(in);
	if (pw->len == 0)
		return cli_fail("no %s given", what), -EINVAL;
	*ret = TAKE_PTR(pw);
	return 0;
}

