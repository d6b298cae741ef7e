/* When the manager looks at the roles again: one CLOCK_BOOTTIME timer at
 * the earliest wall-clock time any role needs it, and a watch that fires
 * when the wall clock is set or jumps, which the kernel also reports on
 * resume from suspend (docs/internals/daemon.md "Refresh cycles" says why
 * one timer is enough). Plans are wall-clock times: converted at arming,
 * re-checked by the hook when it fires. */
#pragma once

#include <systemd/sd-event.h>

#include "util/macro.h"

struct schedule;

struct schedule_clock {
	usec_t (*wall)(void *ud);
	usec_t (*boot)(void *ud);
	void *ud;
};

/* fired: the timer is due, or the wall clock changed (resume, set). */
typedef void (*schedule_fn)(void *userdata);

/* clock: NULL for the real clocks. */
int schedule_new(sd_event *e, const struct schedule_clock *clock,
		 schedule_fn fired, void *userdata, struct schedule **ret);
struct schedule *schedule_free(struct schedule *s);
DEFINE_FREEP(struct schedule, schedule_free)

/* Fires at wall-clock time when (at once when past), never when
 * USEC_INFINITY. */
void schedule_arm(struct schedule *s, usec_t when);
void schedule_disarm(struct schedule *s);
/* The boottime the timer is armed for, USEC_INFINITY when off (tests). */
usec_t schedule_armed_at(const struct schedule *s);
/* Tests: what the clock watch does when the kernel reports a change. */
void schedule_clock_changed(struct schedule *s);
