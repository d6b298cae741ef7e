/* adfs-credctl doctor: this machine (doctor.h), steps 9 to 11: the
 * systemd user units and linger, who holds the configured ports
 * (util/sockdiag, as cli-ports.c), and the daemon's own status. */
#include "cli/cli.h"
#include "cli/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/paths.h"
#include "util/sockdiag.h"
#include "util/timeutil.h"

#define SPAWN_OUT_MAX 4096u

/* --- 9. systemd ------------------------------------------------------- */

/* Runs argv (PATH lookup) with stdin from /dev/null, stdout and stderr
 * into out (NUL-terminated, truncated), for at most timeout. Returns its
 * exit status, or -errno (-ETIMEDOUT: killed). */
static int run_capture(char *const argv[], usec_t timeout, char *out,
		       size_t size)
{
	usec_t deadline = now_clock(CLOCK_MONOTONIC) + timeout;
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rd = -1;
	int fds[2], status = 0, r;
	size_t used = 0;
	bool killed = false;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	rd = fds[0];
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
					       0);
	(void)posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	(void)posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(fds[1]);
	if (r != 0)
		return -r;
	for (;;) {
		struct pollfd p = {.fd = rd, .events = POLLIN};
		usec_t now = now_clock(CLOCK_MONOTONIC);
		char b[512];
		ssize_t n;

		if (now >= deadline ||
		    poll(&p, 1, (int)((deadline - now + 999) / 1000)) == 0) {
			(void)kill(pid, SIGKILL);
			killed = true;
			break;
		}
		n = read(rd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < size) {
			size_t k = (size_t)n < size - 1 - used
				       ? (size_t)n
				       : size - 1 - used;

			memcpy(out + used, b, k);
			used += k;
			out[used] = '\0';
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

/* The first line of s, in place. */
static char *first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}

void doctor_check_systemd(struct doctor *d)
{
	static const char *const units[] = {"adfs-credd.service",
					    "adfs-credd.socket"};
	char *probe[] = {(char *)"systemctl", (char *)"--user",
			 (char *)"is-system-running", NULL};
	char out[SPAWN_OUT_MAX], linger[512], names[256];
	struct passwd pwbuf, *pw = NULL;
	bool enabled = false, active = false;
	usec_t tmo =
	    d->timeout < 5 * USEC_PER_SEC ? d->timeout : 5 * USEC_PER_SEC;
	struct stat st;
	int r;

	r = run_capture(probe, tmo, out, sizeof(out));
	first_line(out);
	if (r < 0 || streq(out, "offline") || streq(out, "unknown") ||
	    !out[0] || strneq(out, "Failed", 6)) {
		doctor_note(d, STEP_SYSTEMD, DOCTOR_WARN,
			    "cannot reach the systemd user manager (%s)",
			    r == -ENOENT      ? "no systemctl"
			    : r == -ETIMEDOUT ? "systemctl did not answer"
			    : out[0]	      ? out
					      : "no answer");
		doctor_hint(d, STEP_SYSTEMD,
			    "without systemd --user (a container, su without a "
			    "login session), start adfs-credd yourself");
	} else {
		for (size_t i = 0; i < ELEMENTSOF(units); i++) {
			char unit[32], e[256], a[256];
			char *en[] = {(char *)"systemctl", (char *)"--user",
				      (char *)"is-enabled", unit, NULL};
			char *ac[] = {(char *)"systemctl", (char *)"--user",
				      (char *)"is-active", unit, NULL};

			(void)snprintf(unit, sizeof(unit), "%s", units[i]);
			(void)run_capture(en, tmo, e, sizeof(e));
			(void)run_capture(ac, tmo, a, sizeof(a));
			first_line(e);
			first_line(a);
			/* A state is one word; anything else is systemctl
			 * saying it has no such unit file. */
			if (!e[0] || strchr(e, ' '))
				(void)snprintf(e, sizeof(e), "not installed");
			enabled = enabled || streq(e, "enabled") ||
				  streq(e, "static") || streq(e, "linked");
			active = active || streq(a, "active");
			doctor_note(d, STEP_SYSTEMD, DOCTOR_OK, "%s %s, %s",
				    units[i], e[0] ? e : "?", a[0] ? a : "?");
		}
		if (!enabled) {
			doctor_note(d, STEP_SYSTEMD, DOCTOR_WARN,
				    "neither unit is enabled: nothing starts "
				    "adfs-credd at login");
			doctor_hint(
			    d, STEP_SYSTEMD,
			    "systemctl --user enable --now adfs-credd.socket");
		}
	}
	if (getpwuid_r(getuid(), &pwbuf, names, sizeof(names), &pw) != 0 || !pw)
		return;
	(void)snprintf(linger, sizeof(linger), "/var/lib/systemd/linger/%s",
		       pw->pw_name);
	if (stat(linger, &st) == 0) {
		doctor_note(d, STEP_SYSTEMD, DOCTOR_OK, "linger on");
	} else {
		doctor_note(
		    d, STEP_SYSTEMD, DOCTOR_WARN,
		    "linger off: systemd stops adfs-credd when your last "
		    "session ends, and jobs left running lose their "
		    "credentials");
		doctor_hint(d, STEP_SYSTEMD, "loginctl enable-linger %s",
			    pw->pw_name);
	}
	(void)active;
}

/* --- 10. ports -------------------------------------------------------- */

void doctor_check_ports(struct doctor *d)
{
	uid_t me = geteuid();
	bool any = false;

	for (size_t i = 0; i < ELEMENTSOF(cli_listens); i++) {
		const struct cli_listen *l = &cli_listens[i];
		_cleanup_free_ struct sockdiag_listener *v = NULL;
		size_t n = 0, ours = 0, theirs = 0;
		uid_t who = 0;
		int r;

		if (!l->key)
			continue;
		any = true;
		r = sockdiag_listeners(l->port, &v, &n);
		if (r < 0) {
			doctor_note(
			    d, STEP_PORTS, DOCTOR_WARN,
			    "%s (%s:%u): cannot ask the kernel who listens "
			    "(%s)",
			    l->key, l->host, (unsigned)l->port, strerror(-r));
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (!cli_port_covers(&v[k], l->host))
				continue;
			if (v[k].uid == me) {
				ours++;
			} else {
				theirs++;
				who = v[k].uid;
			}
		}
		if (theirs) {
			struct passwd pwbuf, *pw = NULL;
			char names[512];

			if (getpwuid_r(who, &pwbuf, names, sizeof(names),
				       &pw) != 0)
				pw = NULL;
			doctor_note(
			    d, STEP_PORTS, DOCTOR_FAIL,
			    "%s (%s:%u) is held by uid %lu%s%s%s, not by "
			    "you: a squatter; an SDK sent there gets that "
			    "user's credentials",
			    l->key, l->host, (unsigned)l->port,
			    (unsigned long)who, pw ? " (" : "",
			    pw ? pw->pw_name : "", pw ? ")" : "");
			doctor_hint(
			    d, STEP_PORTS,
			    "stop that program (ss -ltnp sport = :%u); the "
			    "socket units hold the port from login on",
			    (unsigned)l->port);
		} else if (ours) {
			doctor_note(d, STEP_PORTS, DOCTOR_OK,
				    "%s (%s:%u) is yours", l->key, l->host,
				    (unsigned)l->port);
		} else {
			doctor_note(
			    d, STEP_PORTS, DOCTOR_WARN,
			    "nobody listens on %s (%s:%u): adfs-credd is not "
			    "serving, and another user could take the port",
			    l->key, l->host, (unsigned)l->port);
			doctor_hint(
			    d, STEP_PORTS,
			    "start adfs-credd, or let adfs-credd.socket hold "
			    "the port (systemctl --user enable --now "
			    "adfs-credd.socket)");
		}
	}
	if (!any)
		doctor_note(d, STEP_PORTS, DOCTOR_OK, "no port configured");
}

/* --- 11. the daemon --------------------------------------------------- */

static void role_line(struct doctor *d, json_t *r)
{
	const char *state = strempty(cli_jstr(r, "state"));
	const char *exp = cli_jstr(r, "expires");
	const char *served = cli_jstr(r, "served_until");
	const char *err = cli_jstr(r, "last_error");
	bool good = streq(state, "valid") || streq(state, "refreshing");

	doctor_note(d, STEP_DAEMON, good && !err ? DOCTOR_OK : DOCTOR_WARN,
		    "role %s %s%s%s%s%s%s%s", strempty(cli_jstr(r, "name")),
		    state, exp ? ", expires " : "", strempty(exp),
		    served ? ", served until " : "", strempty(served),
		    err ? ", last error: " : "", strempty(err));
	if (!good || err)
		doctor_hint(
		    d, STEP_DAEMON,
		    "adfs-credctl status shows why; adfs-credctl refresh "
		    "retries now");
}

static void not_running(struct doctor *d)
{
	doctor_note(d, STEP_DAEMON, DOCTOR_FAIL,
		    "adfs-credd is not running (no control socket at %s)",
		    cli_socket_path);
	doctor_hint(d, STEP_DAEMON,
		    "systemctl --user start adfs-credd (or adfs-credd -c "
		    "CONFIG &), then adfs-credctl login");
}

void doctor_check_daemon(struct doctor *d)
{
	_cleanup_free_ char *dir = NULL;
	json_t *o = NULL, *r;
	const char *until, *by;
	long status = 0;
	size_t i;
	int rc;

	rc = paths_state_dir(d->conf->state_dir, &dir);
	if (rc >= 0)
		rc = paths_control_socket(dir, &cli_socket_path);
	if (rc < 0) {
		doctor_note(
		    d, STEP_DAEMON, DOCTOR_FAIL,
		    "no control socket path: XDG_RUNTIME_DIR is not set and "
		    "the config sets no state_dir");
		doctor_hint(d, STEP_DAEMON, "set state_dir in the config");
		return;
	}
	/* No socket file: not running, and nothing for cli_call to say on
	 * stderr. (A socket unit's file starts the daemon on connect.) */
	if (access(cli_socket_path, F_OK) < 0 && errno == ENOENT) {
		not_running(d);
		return;
	}
	/* /v1/status answers from memory: a daemon that takes longer is
	 * stuck, and doctor does not wait with it. */
	cli_call_timeout = (long)(d->timeout / USEC_PER_SEC);
	if (cli_call_timeout < 1)
		cli_call_timeout = 1;
	rc = cli_call("GET", "/v1/status", NULL, NULL, &o, &status);
	if (rc == -ECONNREFUSED) {
		not_running(d);
		return;
	}
	if (rc == -EPERM) {
		doctor_note(d, STEP_DAEMON, DOCTOR_FAIL,
			    "the control socket %s belongs to another user",
			    cli_socket_path);
		doctor_hint(d, STEP_DAEMON,
			    "check state_dir: nothing was sent there");
		return;
	}
	if (rc == -ETIMEDOUT) {
		doctor_note(d, STEP_DAEMON, DOCTOR_FAIL,
			    "adfs-credd did not answer within %lds: it is "
			    "stuck (control socket %s)",
			    cli_call_timeout, cli_socket_path);
		doctor_hint(d, STEP_DAEMON,
			    "systemctl --user restart adfs-credd, and report "
			    "what journalctl --user -u adfs-credd shows");
		return;
	}
	if (rc < 0 || status != 200) {
		doctor_note(d, STEP_DAEMON, DOCTOR_FAIL,
			    "adfs-credd did not answer /v1/status (%s)",
			    rc < 0 ? strerror(-rc) : "an error status");
		json_decref(o);
		return;
	}
	cli_escape_tree(o);
	if (json_is_true(json_object_get(o, "signed_in"))) {
		doctor_note(d, STEP_DAEMON, DOCTOR_OK,
			    "running, signed in as %s",
			    strempty(cli_jstr(o, "user")));
	} else {
		doctor_note(d, STEP_DAEMON, DOCTOR_WARN,
			    "running, not signed in (%s)%s%s",
			    strempty(cli_jstr(o, "state")),
			    cli_jstr(o, "error") ? ": " : "",
			    strempty(cli_jstr(o, "error")));
		doctor_hint(d, STEP_DAEMON, "adfs-credctl login");
	}
	until = cli_jstr(o, "renewable_until");
	by = cli_jstr(o, "renewable_by");
	if (until || by)
		doctor_note(d, STEP_DAEMON, DOCTOR_OK, "renewable until %s%s%s",
			    until ? until : "unbounded", by ? " by " : "",
			    strempty(by));
	json_array_foreach (json_object_get(o, "roles"), i, r)
		role_line(d, r);
	json_decref(o);
}
