#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

extern char **environ;

/* The Desktop Notifications Specification 1.2
 * (specifications.freedesktop.org/notification-spec). */
#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_URGENCY_NORMAL 1
#define NOTIFY_URGENCY_CRITICAL 2
#define NOTIFY_NEVER_EXPIRE 0

/* notify.command gets this long, then SIGTERM, then SIGKILL after the
 * grace. */
#define ALERT_COMMAND_TIMEOUT (60 * USEC_PER_SEC)
#define ALERT_COMMAND_GRACE (5 * USEC_PER_SEC)

/* One event's state: told once per key; what the desktop shows for it;
 * its notify.command while it runs. */
struct told {
	struct alert *alert;
	enum alert_event ev;
	bool raised;
	uint64_t key;
	char *summary, *body; /* the last text raised, plain, ours */
	usec_t when;

	uint32_t id;     /* the notification shown, 0: none (known) */
	bool notifying;  /* a Notify call is in flight: its id is not known */
	bool again;      /* raised again meanwhile: show the new text */
	bool withdraw;   /* cleared meanwhile: close what the reply names */

	sd_event_source *child; /* notify.command running, owned */
	sd_event_source *timer; /* its timeout, owned */
	bool term_sent;
};

struct alert {
	sd_event *event;
	struct conf *const *conf;
	sd_bus *bus;  /* the session bus; NULL until the first raise */
	bool warned;  /* the desktop's failure said; again after a success */
	struct told told[ALERT_EVENT_COUNT];
};

static const char *const event_names[ALERT_EVENT_COUNT] = {
	[ALERT_HUMAN_SOON] = "human-soon",
	[ALERT_MFA_RENEWAL] = "mfa-renewal",
	[ALERT_SIGNIN_FAILED] = "signin-failed",
};

/* Names from the Icon Naming Specification, which every icon theme has. */
static const char *const event_icons[ALERT_EVENT_COUNT] = {
	[ALERT_HUMAN_SOON] = "dialog-warning",
	[ALERT_MFA_RENEWAL] = "dialog-password",
	[ALERT_SIGNIN_FAILED] = "dialog-password",
};

static const uint8_t event_urgency[ALERT_EVENT_COUNT] = {
	[ALERT_HUMAN_SOON] = NOTIFY_URGENCY_NORMAL,
	[ALERT_MFA_RENEWAL] = NOTIFY_URGENCY_CRITICAL,
	[ALERT_SIGNIN_FAILED] = NOTIFY_URGENCY_CRITICAL,
};

const char *alert_event_to_string(enum alert_event ev)
{
	return ev < ALERT_EVENT_COUNT ? event_names[ev] : NULL;
}

char *alert_text(const char *s, bool markup)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (!s)
		return NULL;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (const char *line = s; line;) {
		const char *nl = strchr(line, '\n');
		_cleanup_free_ char *raw =
			nl ? strndup(line, (size_t)(nl - line)) : strdup(line);
		_cleanup_free_ char *esc = text_escape(raw);

		if (!esc) {
			(void)fclose(f);
			free(out);
			return NULL;
		}
		for (const char *p = esc; *p; p++) {
			if (markup && *p == '&')
				(void)fputs("&amp;", f);
			else if (markup && *p == '<')
				(void)fputs("&lt;", f);
			else if (markup && *p == '>')
				(void)fputs("&gt;", f);
			else
				(void)fputc(*p, f);
		}
		if (nl)
			(void)fputc('\n', f);
		line = nl ? nl + 1 : NULL;
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

int alert_new(sd_event *e, struct conf *const *conf, struct alert **ret)
{
	struct alert *a;
	sigset_t ss;

	/* sd_event_add_child() wants SIGCHLD blocked (sd-event takes it
	 * through a signalfd or a pidfd). Nothing else here forks, and
	 * the commands start with an empty mask (see command_run). */
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return -errno;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->event = sd_event_ref(e);
	a->conf = conf;
	for (size_t i = 0; i < ALERT_EVENT_COUNT; i++) {
		a->told[i].alert = a;
		a->told[i].ev = (enum alert_event)i;
	}
	*ret = a;
	return 0;
}

static void command_done(struct told *t)
{
	t->child = sd_event_source_disable_unref(t->child);
	t->timer = sd_event_source_disable_unref(t->timer);
	t->term_sent = false;
}

/* The bus and every call in flight on it go. */
static void bus_drop(struct alert *a)
{
	a->bus = sd_bus_close_unref(a->bus);
	for (size_t i = 0; i < ALERT_EVENT_COUNT; i++) {
		a->told[i].notifying = false;
		a->told[i].again = false;
		a->told[i].withdraw = false;
		a->told[i].id = 0;
	}
}

struct alert *alert_free(struct alert *a)
{
	if (!a)
		return NULL;
	/* A command still running goes on by itself (it is not ours to
	 * kill at a stop); notifications shown stay: they still hold. */
	for (size_t i = 0; i < ALERT_EVENT_COUNT; i++) {
		command_done(&a->told[i]);
		free(a->told[i].summary);
		free(a->told[i].body);
	}
	bus_drop(a);
	sd_event_unref(a->event);
	free(a);
	return NULL;
}

/* The desktop could not be told: said once, until it works again. */
_printf_(3, 4) static void desktop_warn(struct alert *a, int error,
					const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (a->warned)
		return;
	a->warned = true;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		(void)log_warning_errno(error, "%s; not telling the desktop, "
					       "ignoring",
					msg);
	else
		log_warning("%s; not telling the desktop, ignoring", msg);
}

static int on_closed(sd_bus_message *reply, void *userdata,
		     sd_bus_error *ret_error)
{
	const sd_bus_error *e = sd_bus_message_get_error(reply);

	if (e)
		log_debug("CloseNotification failed: %s, ignoring",
			  strempty(e->message));
	return 0;
}

static void desktop_close(struct alert *a, uint32_t id)
{
	int r;

	if (!a->bus || !id)
		return;
	r = sd_bus_call_method_async(a->bus, NULL, NOTIFY_NAME, NOTIFY_PATH,
				     NOTIFY_NAME, "CloseNotification",
				     on_closed, a, "u", id);
	if (r < 0)
		(void)log_debug_errno(r, "Cannot close notification %u: %m",
				      id);
}

static int desktop_send(struct told *t);

static int on_notified(sd_bus_message *reply, void *userdata,
		       sd_bus_error *ret_error)
{
	struct told *t = userdata;
	struct alert *a = t->alert;
	const sd_bus_error *e = sd_bus_message_get_error(reply);
	uint32_t id = 0;
	int r;

	t->notifying = false;
	if (e) {
		t->again = t->withdraw = false;
		if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
		    sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
			desktop_warn(a, 0, "No notification server on the "
					   "session bus (%s)",
				     NOTIFY_NAME);
		else
			desktop_warn(a, 0, "The notification server refused "
					   "the %s notification: %s",
				     event_names[t->ev], strempty(e->message));
		return 0;
	}
	r = sd_bus_message_read(reply, "u", &id);
	if (r < 0) {
		t->again = t->withdraw = false;
		desktop_warn(a, r, "Unexpected reply to Notify: %m");
		return 0;
	}
	a->warned = false;
	t->id = id;
	log_debug("Notification %u shows %s", id, event_names[t->ev]);
	if (t->again) {
		/* Raised again while this was on its way: the new text
		 * replaces it. */
		t->again = false;
		(void)desktop_send(t);
	} else if (t->withdraw) {
		t->withdraw = false;
		desktop_close(a, t->id);
		t->id = 0;
	}
	return 0;
}

static int desktop_connect(struct alert *a)
{
	sd_bus *bus = NULL;
	int r;

	if (a->bus && sd_bus_is_open(a->bus) > 0)
		return 0;
	/* Gone since (the session ended, dbus-daemon restarted): again. */
	bus_drop(a);
	/* $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus. The
	 * connection is made here; the handshake goes on in the loop. */
	r = sd_bus_open_user(&bus);
	if (r < 0)
		return r;
	/* Leaving is not to wait on the bus. */
	(void)sd_bus_set_close_on_exit(bus, false);
	r = sd_bus_attach_event(bus, a->event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0) {
		sd_bus_close_unref(bus);
		return r;
	}
	a->bus = bus;
	return 0;
}

/* Notify (spec: app_name, replaces_id, app_icon, summary, body, actions,
 * hints, expire_timeout) without waiting: the reply, or its failure,
 * comes to on_notified. A shown notification for the event is replaced,
 * not stacked. */
static int desktop_send(struct told *t)
{
	struct alert *a = t->alert;
	_cleanup_free_ char *summary = alert_text(t->summary, false);
	_cleanup_free_ char *body = alert_text(t->body, true);
	int r;

	if (!summary || !body)
		return -ENOMEM;
	r = sd_bus_call_method_async(
		a->bus, NULL, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME, "Notify",
		on_notified, t, "susssasa{sv}i", "adfs-credd", t->id,
		event_icons[t->ev], summary, body, 0, 1, "urgency", "y",
		event_urgency[t->ev], NOTIFY_NEVER_EXPIRE);
	if (r < 0)
		return r;
	t->notifying = true;
	return 0;
}

static void desktop_show(struct told *t)
{
	struct alert *a = t->alert;
	int r;

	t->withdraw = false;
	if (t->notifying) {
		t->again = true;
		return;
	}
	r = desktop_connect(a);
	if (r < 0) {
		desktop_warn(a, r, "No session bus: %m");
		return;
	}
	r = desktop_send(t);
	if (r < 0)
		desktop_warn(a, r, "Cannot send the %s notification: %m",
			     event_names[t->ev]);
}

static int on_command_exit(sd_event_source *s, const siginfo_t *si,
			   void *userdata)
{
	struct told *t = userdata;
	const char *cmd = (*t->alert->conf)->notify.command;

	if (si->si_code == CLD_EXITED && si->si_status != 0)
		log_warning("notify.command %s for %s exited with status %d",
			    strempty(cmd), event_names[t->ev], si->si_status);
	else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
		log_warning("notify.command %s for %s was killed by SIG%s",
			    strempty(cmd), event_names[t->ev],
			    strempty(sigabbrev_np(si->si_status)));
	else
		log_debug("notify.command for %s done", event_names[t->ev]);
	command_done(t);
	return 0;
}

static int on_command_timeout(sd_event_source *s, uint64_t usec,
			      void *userdata)
{
	struct told *t = userdata;
	int sig = t->term_sent ? SIGKILL : SIGTERM;
	int r;

	if (!t->term_sent)
		log_warning("notify.command for %s still runs after %llus, "
			    "stopping it",
			    event_names[t->ev],
			    (unsigned long long)(ALERT_COMMAND_TIMEOUT /
						 USEC_PER_SEC));
	/* Through the pidfd: never another process that reused the pid. */
	r = sd_event_source_send_child_signal(t->child, sig, NULL, 0);
	if (r < 0)
		(void)log_debug_errno(r, "Cannot signal notify.command: %m");
	t->term_sent = true;
	r = sd_event_source_set_time_relative(s, ALERT_COMMAND_GRACE);
	r = r ?: sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	if (r < 0)
		(void)log_debug_errno(r, "Cannot re-arm notify.command's "
					 "timeout: %m");
	return 0;
}

/* The daemon's environment, less what is about the daemon itself or ours
 * to set, plus the event. Strings in own are the caller's to free. */
static bool env_dropped(const char *kv)
{
	static const char *const prefixes[] = {
		"ADFS_CREDD_",    "NOTIFY_SOCKET=", "WATCHDOG_",
		"LISTEN_",        "CREDENTIALS_DIRECTORY=",
	};

	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (strneq(kv, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

#define COMMAND_ENV_OWN 4

static char **command_env(const struct told *t, char *own[COMMAND_ENV_OWN])
{
	_cleanup_free_ char *summary = alert_text(t->summary, false);
	_cleanup_free_ char *body = alert_text(t->body, false);
	char when[ISO8601_MAX] = "";
	size_t n = 0, k = 0;
	char **env;

	if (!summary || !body)
		return NULL;
	if (t->when)
		(void)format_iso8601(when, t->when);
	while (environ && environ[n])
		n++;
	env = calloc(n + COMMAND_ENV_OWN + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!env_dropped(environ[i]))
			env[k++] = environ[i];
	if (asprintf(&own[0], "ADFS_CREDD_EVENT=%s", event_names[t->ev]) < 0)
		own[0] = NULL;
	if (asprintf(&own[1], "ADFS_CREDD_SUMMARY=%s", summary) < 0)
		own[1] = NULL;
	if (asprintf(&own[2], "ADFS_CREDD_BODY=%s", body) < 0)
		own[2] = NULL;
	if (asprintf(&own[3], "ADFS_CREDD_WHEN=%s", when) < 0)
		own[3] = NULL;
	for (size_t i = 0; i < COMMAND_ENV_OWN; i++) {
		if (!own[i]) {
			free(env);
			return NULL;
		}
		env[k++] = own[i];
	}
	return env;
}

/* Runs notify.command (an absolute path: no shell, no PATH) as
 * `command EVENT`, stdin /dev/null, stdout and stderr the daemon's
 * (the journal), no other descriptor, default signals. One at a time per
 * event. */
static int command_run(struct told *t, const char *path)
{
	struct alert *a = t->alert;
	char *own[COMMAND_ENV_OWN] = { 0 };
	_cleanup_free_ char *arg0 = strdup(path);
	_cleanup_free_ char *arg1 = strdup(event_names[t->ev]);
	char *argv[] = { arg0, arg1, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char **env;
	pid_t pid = 0;
	int r;

	if (t->child) {
		log_warning("notify.command for %s is still running: not "
			    "starting another",
			    event_names[t->ev]);
		return -EBUSY;
	}
	env = arg0 && arg1 ? command_env(t, own) : NULL;
	if (!env) {
		r = -ENOMEM;
		goto out;
	}
	sigemptyset(&none);
	sigfillset(&dfl);
	r = -posix_spawn_file_actions_init(&fa);
	if (r < 0)
		goto out;
	r = -posix_spawnattr_init(&attr);
	if (r < 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		goto out;
	}
	r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					      O_RDONLY, 0);
	r = r ?: -posix_spawn_file_actions_addclosefrom_np(&fa,
							   STDERR_FILENO + 1);
	r = r ?: -posix_spawnattr_setsigmask(&attr, &none);
	r = r ?: -posix_spawnattr_setsigdefault(&attr, &dfl);
	r = r ?: -posix_spawnattr_setflags(
			 &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* A failed exec is posix_spawn's result (glibc waits for it). */
	r = r ?: -posix_spawn(&pid, path, &fa, &attr, argv, env);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (r < 0)
		goto out;
	r = sd_event_add_child(a->event, &t->child, pid, WEXITED,
			       on_command_exit, t);
	if (r < 0) {
		/* Not watched: not left behind either. */
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		goto out;
	}
	(void)sd_event_source_set_description(t->child, "alert-command");
	r = sd_event_add_time_relative(a->event, &t->timer, CLOCK_MONOTONIC,
				       ALERT_COMMAND_TIMEOUT, 0,
				       on_command_timeout, t);
	if (r < 0) {
		(void)sd_event_source_send_child_signal(t->child, SIGKILL,
							NULL, 0);
		t->child = sd_event_source_disable_unref(t->child);
		goto out;
	}
	(void)sd_event_source_set_description(t->timer,
					      "alert-command-timeout");
	log_debug("notify.command for %s started (pid %d)", event_names[t->ev],
		  (int)pid);
out:
	free(env);
	for (size_t i = 0; i < COMMAND_ENV_OWN; i++)
		free(own[i]);
	return r;
}

/* One journal line for an alert: the body's lines joined by spaces (log.c
 * would show a newline as \x0a). */
static void log_alert(const char *summary, const char *body)
{
	_cleanup_free_ char *flat = strdup(body);

	for (char *nl = flat ? strchr(flat, '\n') : NULL; nl;
	     nl = strchr(nl, '\n'))
		*nl = ' ';
	log_warning("%s: %s", summary, flat ? flat : body);
}

int alert_raise(struct alert *a, enum alert_event ev, uint64_t key,
		usec_t when, const char *summary, const char *body)
{
	const struct conf *c = *a->conf;
	struct told *t;
	char *s, *b;
	int r;

	if (ev >= ALERT_EVENT_COUNT || !summary || !body)
		return -EINVAL;
	t = &a->told[ev];
	if (t->raised && t->key == key)
		return 0;
	s = strdup(summary);
	b = strdup(body);
	if (!s || !b) {
		free(s);
		free(b);
		return -ENOMEM;
	}
	free(t->summary);
	free(t->body);
	t->summary = s;
	t->body = b;
	t->when = when;
	t->raised = true;
	t->key = key;
	log_alert(summary, body);
	if (c->notify.desktop)
		desktop_show(t);
	if (c->notify.command) {
		r = command_run(t, c->notify.command);
		if (r < 0 && r != -EBUSY)
			(void)log_warning_errno(r, "Cannot run notify.command "
						   "%s: %m, ignoring",
						c->notify.command);
	}
	return 1;
}

bool alert_is_raised(const struct alert *a, enum alert_event ev)
{
	return ev < ALERT_EVENT_COUNT && a->told[ev].raised;
}

void alert_clear(struct alert *a, enum alert_event ev)
{
	struct told *t;

	if (ev >= ALERT_EVENT_COUNT)
		return;
	t = &a->told[ev];
	t->raised = false;
	t->again = false;
	if (t->notifying)
		t->withdraw = true;
	else if (t->id) {
		desktop_close(a, t->id);
		t->id = 0;
	}
}
