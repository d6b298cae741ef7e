/* adfs-credctl doctor: the report (doctor.h): findings and hints per
 * step, and how they are printed. */
#include "cli/cli.h"
#include "cli/doctor.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

const char *const doctor_step_names[STEP_COUNT] = {
    [STEP_CONFIG] = "config",
    [STEP_DNS] = "dns",
    [STEP_TCP] = "tcp",
    [STEP_TLS] = "tls",
    [STEP_SIGNIN_PAGE] = "signin-page",
    [STEP_RELYING_PARTY] = "relying-party",
    [STEP_STS] = "sts",
    [STEP_CLOCK] = "clock",
    [STEP_SYSTEMD] = "systemd",
    [STEP_PORTS] = "ports",
    [STEP_DAEMON] = "daemon",
};

void doctor_note(struct doctor *d, enum doctor_step_id s, enum doctor_result r,
		 const char *fmt, ...)
{
	struct doctor_step *st = &d->steps[s];
	_cleanup_free_ char *msg = NULL;
	char *joined = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL; /* undefined after a failed vasprintf */
		return;
	}
	if (st->detail) {
		if (asprintf(&joined, "%s; %s", st->detail, msg) < 0)
			return;
		free(st->detail);
		st->detail = joined;
	} else {
		st->detail = TAKE_PTR(msg);
	}
	st->result = st->ran ? doctor_result_worst(st->result, r) : r;
	st->last = r;
	st->ran = true;
}

void doctor_hint(struct doctor *d, enum doctor_step_id s, const char *fmt, ...)
{
	struct doctor_step *st = &d->steps[s];
	_cleanup_free_ char *h = NULL;
	char *joined;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A failure's fix comes before a warning's, which is dropped. */
	if (st->hint && st->last < st->hint_for)
		return;
	if (!st->hint || st->last > st->hint_for) {
		free(st->hint);
		st->hint = TAKE_PTR(h);
		st->hint_for = st->last;
		return;
	}
	/* One of each: several hosts may need the same fix. */
	if (strstr(st->hint, h) || asprintf(&joined, "%s; %s", st->hint, h) < 0)
		return;
	free(st->hint);
	st->hint = joined;
}

void doctor_skip(struct doctor *d, enum doctor_step_id s,
		 enum doctor_step_id needs)
{
	doctor_note(d, s, DOCTOR_SKIP, "skipped: needs %s",
		    doctor_step_names[needs]);
}

void doctor_target_fail(struct doctor_target *t, enum doctor_step_id s)
{
	if (t->failed < 0)
		t->failed = (int)s;
}

bool doctor_target_ready(struct doctor *d, struct doctor_target *t,
			 enum doctor_step_id s)
{
	if (t->failed < 0)
		return true;
	doctor_note(d, s, DOCTOR_SKIP, "%s: skipped (needs %s)", t->key,
		    doctor_step_names[t->failed]);
	return false;
}

struct doctor_target *doctor_find_target(struct doctor *d, const char *key)
{
	for (size_t i = 0; i < d->n_targets; i++)
		if (streq(d->targets[i].key, key))
			return &d->targets[i];
	return NULL;
}

void doctor_print_text(const struct doctor *d)
{
	for (size_t i = 0; i < STEP_COUNT; i++) {
		const struct doctor_step *s = &d->steps[i];
		_cleanup_free_ char *detail = text_escape(strempty(s->detail));
		_cleanup_free_ char *h = s->hint && s->result != DOCTOR_OK
					     ? text_escape(s->hint)
					     : NULL;

		printf("%-4s  %-13s %s%s%s\n", doctor_result_name(s->result),
		       doctor_step_names[i], detail ? detail : "?",
		       h ? " => " : "", strempty(h));
	}
}

int doctor_print_json(const struct doctor *d)
{
	json_t *steps = json_array(), *o;

	if (!steps)
		return -ENOMEM;
	for (size_t i = 0; i < STEP_COUNT; i++) {
		const struct doctor_step *s = &d->steps[i];
		_cleanup_free_ char *detail = text_escape(strempty(s->detail));
		_cleanup_free_ char *h = s->hint && s->result != DOCTOR_OK
					     ? text_escape(s->hint)
					     : NULL;
		(void)json_array_append_new(
		    steps, json_pack("{s:s, s:s, s:s?, s:s?}", "name",
				     doctor_step_names[i], "result",
				     doctor_result_key(s->result), "detail",
				     detail, "hint", h));
	}
	o = json_pack("{s:o}", "steps", steps);
	if (!o)
		return -ENOMEM;
	cli_print_json(o);
	json_decref(o);
	return 0;
}

void doctor_clear(struct doctor *d)
{
	for (size_t i = 0; i < STEP_COUNT; i++) {
		free(d->steps[i].detail);
		free(d->steps[i].hint);
	}
	for (size_t i = 0; i < d->n_targets; i++) {
		struct doctor_target *t = &d->targets[i];

		free(t->host);
		free(t->proxy_shown);
		free(t->proxy_host);
		if (t->addrs)
			freeaddrinfo(t->addrs);
	}
	conf_free(d->conf);
}
