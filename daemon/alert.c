#include "alert.h"

#include <errno.h>
#include <stdlib.h>

#include "util/log.h"

/* The first cut: the once-per-key rule and the journal. The session bus
 * and notify.command come next. */
struct alert {
	sd_event *event;
	struct conf *const *conf;
	struct {
		bool raised;
		uint64_t key;
	} told[_ALERT_MAX];
};

static const char *const event_names[_ALERT_MAX] = {
	[ALERT_HUMAN_SOON] = "human-soon",
	[ALERT_MFA_RENEWAL] = "mfa-renewal",
	[ALERT_SIGNIN_FAILED] = "signin-failed",
};

const char *alert_event_to_string(enum alert_event ev)
{
	return ev < _ALERT_MAX ? event_names[ev] : NULL;
}

int alert_new(sd_event *e, struct conf *const *conf, struct alert **ret)
{
	struct alert *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->event = sd_event_ref(e);
	a->conf = conf;
	*ret = a;
	return 0;
}

struct alert *alert_free(struct alert *a)
{
	if (!a)
		return NULL;
	sd_event_unref(a->event);
	free(a);
	return NULL;
}

int alert_raise(struct alert *a, enum alert_event ev, uint64_t key,
		usec_t when, const char *summary, const char *body)
{
	if (ev >= _ALERT_MAX)
		return -EINVAL;
	if (a->told[ev].raised && a->told[ev].key == key)
		return 0;
	a->told[ev].raised = true;
	a->told[ev].key = key;
	log_warning("%s: %s", summary, body);
	return 1;
}

void alert_clear(struct alert *a, enum alert_event ev)
{
	if (ev < _ALERT_MAX)
		a->told[ev].raised = false;
}
