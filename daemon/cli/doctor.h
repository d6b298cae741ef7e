/* adfs-credctl doctor, shared by its files: the report being built (one
 * entry per step: a result, findings, hints) and the servers checked.
 * cmd-doctor.c runs the steps in order and prints; doctor-report.c keeps
 * the report; doctor-chain.c checks the way to ADFS and STS (DNS to the
 * clock); doctor-host.c checks this machine (systemd, ports, the daemon).
 * See docs/internals/doctor.md. */
#pragma once

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "util/doctor.h"
#include "util/macro.h"

/* No network step waits longer than adfs.timeout, nor than this. */
#define DOCTOR_MAX_TIMEOUT (10 * USEC_PER_SEC)

/* The steps, in the order they run and are printed. */
enum doctor_step_id {
	STEP_CONFIG,
	STEP_DNS,
	STEP_TCP,
	STEP_TLS,
	STEP_SIGNIN_PAGE,
	STEP_RELYING_PARTY,
	STEP_STS,
	STEP_CLOCK,
	STEP_SYSTEMD,
	STEP_PORTS,
	STEP_DAEMON,
	STEP_COUNT,
};

/* "config", "dns", ... (the names --json prints). */
extern const char *const doctor_step_names[STEP_COUNT];

struct doctor_step {
	bool ran;		     /* a finding was noted */
	enum doctor_result result;   /* the worst finding; SKIP until one */
	char *detail;		     /* findings, "; " between them */
	char *hint;		     /* what to do about the worst problems */
	enum doctor_result last;     /* of the latest finding */
	enum doctor_result hint_for; /* the result hint is about */
};

/* A server the daemon talks to: ADFS, STS, IAM. */
struct doctor_target {
	const char *key;     /* "adfs.url", ... (static) */
	const char *url;     /* borrowed from the conf */
	const char *ca_key;  /* "adfs.ca_file" or "aws.ca_file" */
	const char *ca_file; /* borrowed from the conf; NULL = system trust */
	char *host;	     /* without brackets */
	uint16_t port;
	const char *proxy; /* borrowed from the environment; NULL = direct */
	char *proxy_shown; /* proxy without user:password@ */
	char *proxy_host;
	uint16_t proxy_port;
	struct addrinfo *addrs;
	int failed; /* the step that failed for it, or -1 */
};

/* One run's state; cmd_doctor() owns it and doctor_clear() frees it. */
struct doctor {
	struct doctor_step steps[STEP_COUNT];
	struct conf *conf; /* NULL when it did not load */
	struct doctor_target targets[3];
	size_t n_targets;
	usec_t timeout; /* for each network probe */
	struct doctor_proxy_env penv;
	usec_t sts_date;  /* STS's Date header, 0 when none */
	usec_t sts_local; /* our clock when it came, whole seconds */
};

/* doctor-report.c */
/* Adds a finding to step s; the step's result becomes the worst. */
void doctor_note(struct doctor *d, enum doctor_step_id s, enum doctor_result r,
		 const char *fmt, ...) _printf_(4, 5);
/* Adds what to do about the finding noted last (each distinct hint once;
 * only those of the worst findings are kept). */
void doctor_hint(struct doctor *d, enum doctor_step_id s, const char *fmt, ...)
    _printf_(3, 4);
/* A step that cannot run: what it needs failed. */
void doctor_skip(struct doctor *d, enum doctor_step_id s,
		 enum doctor_step_id needs);
/* Records that step s failed for t (the first such step counts). */
void doctor_target_fail(struct doctor_target *t, enum doctor_step_id s);
/* Whether t got through every step before s; otherwise notes the skip. */
bool doctor_target_ready(struct doctor *d, struct doctor_target *t,
			 enum doctor_step_id s);
/* The target for a config key ("adfs.url"), or NULL. */
struct doctor_target *doctor_find_target(struct doctor *d, const char *key);
/* The report on stdout: one line per step, or {"steps": [...]}. Every
 * detail and hint goes through text_escape. */
void doctor_print_text(const struct doctor *d);
int doctor_print_json(const struct doctor *d);
/* Frees what d holds (not d). */
void doctor_clear(struct doctor *d);

/* doctor-chain.c: the way to ADFS and STS. */
void doctor_check_dns(struct doctor *d);
void doctor_check_tcp(struct doctor *d);
void doctor_check_tls(struct doctor *d);
/* The sign-in page and the relying party. */
void doctor_check_signin_page(struct doctor *d);
/* STS, and the Date the clock step compares with. */
void doctor_check_sts(struct doctor *d);
void doctor_check_clock(struct doctor *d);

/* doctor-host.c: this machine. */
void doctor_check_systemd(struct doctor *d);
void doctor_check_ports(struct doctor *d);
void doctor_check_daemon(struct doctor *d);
