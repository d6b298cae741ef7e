/* Telling the user before the daemon needs them, and when it does
 * (docs/internals/alerts.md): a desktop notification on the user's
 * session bus (org.freedesktop.Notifications, through sd-bus) and the
 * notify.command hook. One per event: raising an event again with the
 * same key does nothing until alert_clear(), so a user hears of each
 * thing once, not a stream. Nothing secret is ever in an alert. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "util/macro.h"

enum alert_event {
	ALERT_HUMAN_SOON,    /* renewal needs a person at `when` */
	ALERT_MFA_RENEWAL,   /* a renewal waits on a second factor */
	ALERT_SIGNIN_FAILED, /* a sign-in failed, or the SSO ended and
			      * nothing can renew it */
	ALERT_EVENT_COUNT,
};

struct alert;

/* conf is the manager's slot (a reload swaps it): notify.desktop and
 * notify.command are read at each raise. */
int alert_new(sd_event *e, struct conf *const *conf, struct alert **ret);
struct alert *alert_free(struct alert *a);
DEFINE_FREEP(struct alert, alert_free)

/* Tells the user of ev, once per key (e.g. the time a horizon ends: a
 * new horizon is a new event). summary and body are plain text from us
 * (anything from outside escaped before). when: the time the event is
 * about, 0 for none. Returns 1 when told, 0 when already told for key. */
int alert_raise(struct alert *a, enum alert_event ev, uint64_t key,
		usec_t when, const char *summary, const char *body);
/* The condition is over (signed in again): ev may be told again, and a
 * desktop notification still shown for it is withdrawn. */
void alert_clear(struct alert *a, enum alert_event ev);

/* Whether ev was told and not cleared since. */
bool alert_is_raised(const struct alert *a, enum alert_event ev);

const char *alert_event_to_string(enum alert_event ev);

/* s as an alert shows it (exported for the tests): each line through
 * text_escape() (control characters, bidirectional overrides and bytes
 * that are not UTF-8 made visible), newlines kept; with markup (a
 * notification's body, where the spec allows a subset of HTML), & < and >
 * as entities. A heap string the caller frees; NULL for NULL or no
 * memory. */
char *alert_text(const char *s, bool markup);
