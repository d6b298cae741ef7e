/* adfs-credctl login while it waits on the daemon: Ctrl-C, and one line on
 * the terminal that says what is awaited (util/waitline.h).
 *
 * The control calls block in libcurl, which calls cli_call_tick about
 * once a second even while nothing moves on the socket (and at once when
 * a signal interrupts its poll). The tick is where everything happens:
 * a SIGINT caught by the handler below aborts the call; otherwise, on a
 * terminal, the line is redrawn, with GET /v1/status asked for the
 * progress at most once a second (a separate request on its own
 * handle: the daemon answers it while the login's request waits). */
#include "cli/cli.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "util/waitline.h"

/* Asked for the progress no sooner than this after a call starts: a
 * quick answer (a cookie round) needs no line. */
#define FIRST_POLL (USEC_PER_SEC / 2)

static volatile sig_atomic_t interrupted;

static struct {
	bool on;            /* between cli_wait_begin and cli_wait_end */
	bool tty;           /* stderr is a terminal: the live line */
	bool polling;       /* inside the status call */
	const char *hint;   /* a push's number (escaped), borrowed */
	usec_t push_end;    /* CLOCK_MONOTONIC; 0: no push waited on */
	usec_t next_poll;   /* CLOCK_MONOTONIC */
	char phase[16];     /* from GET /v1/status "progress" */
	long done, total;
	char shown[160];    /* the line on the terminal; "": none */
	struct sigaction old;
} w;

static void on_sigint(int sig)
{
	interrupted = 1;
}

/* The progress the daemon reports; nothing changes when it cannot say. */
static void poll_progress(void)
{
	json_t *o = NULL, *p;
	long status = 0;

	w.polling = true;
	if (cli_call("GET", "/v1/status", NULL, NULL, &o, &status) == 0 &&
	    status == 200) {
		p = json_object_get(o, "progress");
		(void)snprintf(w.phase, sizeof(w.phase), "%s",
			       strempty(cli_jstr(p, "phase")));
		w.done = (long)json_integer_value(json_object_get(p, "done"));
		w.total = (long)json_integer_value(json_object_get(p, "total"));
	}
	json_decref(o);
	w.polling = false;
}

static void draw(usec_t now)
{
	char line[sizeof(w.shown)];

	/* The push until it is approved; then the roles being assumed. */
	if (w.push_end && !streq(w.phase, "roles"))
		(void)waitline_push(line, sizeof(line), w.hint,
				    w.push_end > now
					    ? (long)((w.push_end - now +
						      USEC_PER_SEC - 1) /
						     USEC_PER_SEC)
					    : 0);
	else
		(void)waitline_progress(line, sizeof(line), w.phase, w.done,
					w.total);
	if (streq(line, w.shown))
		return;
	/* \r and erase-to-end-of-line: the line is rewritten in place. */
	(void)fprintf(stderr, "\r\033[K%s", line);
	(void)snprintf(w.shown, sizeof(w.shown), "%s", line);
}

static int tick(void)
{
	usec_t now;

	if (interrupted)
		return 1;
	/* The status call's own ticks: nothing to draw inside it. */
	if (!w.tty || w.polling)
		return 0;
	now = now_clock(CLOCK_MONOTONIC);
	if (!w.next_poll)
		w.next_poll = now + FIRST_POLL;
	if (now >= w.next_poll) {
		poll_progress();
		w.next_poll = now + USEC_PER_SEC;
	}
	if (w.push_end || w.phase[0])
		draw(now);
	return interrupted;
}

void cli_wait_begin(void)
{
	struct sigaction sa = { .sa_handler = on_sigint };

	/* No SA_RESTART: a prompt's read returns at Ctrl-C too (and the
	 * terminal gets its echo back), and libcurl's poll wakes up. */
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &w.old);
	w.on = true;
	w.tty = isatty(STDERR_FILENO) == 1;
	cli_call_tick = tick;
}

bool cli_wait_interrupted(void)
{
	return interrupted != 0;
}

void cli_wait_push(const char *hint, long expires_in)
{
	w.hint = hint;
	w.push_end = expires_in > 0 ? now_clock(CLOCK_MONOTONIC) +
					      (usec_t)expires_in * USEC_PER_SEC
				    : 0;
	w.phase[0] = '\0';
	/* Shown at once, not half a second later. */
	if (w.tty && w.push_end)
		draw(now_clock(CLOCK_MONOTONIC));
}

void cli_wait_clear(void)
{
	if (w.shown[0])
		(void)fputs("\r\033[K", stderr);
	w.shown[0] = '\0';
	w.phase[0] = '\0';
	w.push_end = 0;
	w.hint = NULL;
	w.next_poll = 0;
}

void cli_wait_end(void)
{
	if (!w.on)
		return;
	cli_wait_clear();
	cli_call_tick = NULL;
	(void)sigaction(SIGINT, &w.old, NULL);
	w.on = false;
}
