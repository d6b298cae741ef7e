#include "session/schedule.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/timeutil.h"

struct schedule {
	sd_event_source *timer;
	sd_event_source *clock_watch;
	struct schedule_clock clock;
	schedule_fn fired;
	void *userdata;
};

static usec_t real_wall(void *ud)
{
	return now_wall();
}

static usec_t real_boot(void *ud)
{
	return now_clock(CLOCK_BOOTTIME);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct schedule *s = userdata;

	s->fired(s->userdata);
	return 0;
}

/* A CLOCK_REALTIME timerfd that never expires but is cancelled whenever
 * the wall clock is set or jumps, which the kernel also does on resume
 * from suspend. */
static int arm_clock_watch(int fd)
{
	struct itimerspec its = { .it_value = { .tv_sec = LONG_MAX } };

	if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    &its, NULL) < 0)
		return -errno;
	return 0;
}

static int on_clock_change(sd_event_source *src, int fd, uint32_t revents,
			   void *userdata)
{
	struct schedule *s = userdata;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno == ECANCELED) {
		if (arm_clock_watch(fd) < 0)
			(void)sd_event_source_set_enabled(src, SD_EVENT_OFF);
		schedule_clock_changed(s);
	}
	return 0;
}

static int watch_clock(struct schedule *s, sd_event *e)
{
	int fd, r;

	fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = arm_clock_watch(fd);
	if (r >= 0)
		r = sd_event_add_io(e, &s->clock_watch, fd, EPOLLIN,
				    on_clock_change, s);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	(void)sd_event_source_set_io_fd_own(s->clock_watch, true);
	(void)sd_event_source_set_description(s->clock_watch, "clock-change");
	return 0;
}

int schedule_new(sd_event *e, const struct schedule_clock *clock,
		 schedule_fn fired, void *userdata, struct schedule **ret)
{
	_cleanup_(schedule_freep) struct schedule *s = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->clock = clock ? *clock
			 : (struct schedule_clock){ real_wall, real_boot, NULL };
	s->fired = fired;
	s->userdata = userdata;
	r = sd_event_add_time(e, &s->timer, CLOCK_BOOTTIME, USEC_INFINITY,
			      USEC_PER_SEC, on_timer, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(s->timer, "refresh");
	r = watch_clock(s, e);
	if (r < 0)
		log_debug_errno(r, "Cannot watch for wall-clock changes: %m; "
				   "relying on the refresh timer alone");
	*ret = TAKE_PTR(s);
	return 0;
}

struct schedule *schedule_free(struct schedule *s)
{
	if (!s)
		return NULL;
	(void)sd_event_source_disable_unref(s->timer);
	(void)sd_event_source_disable_unref(s->clock_watch);
	free(s);
	return NULL;
}

void schedule_arm(struct schedule *s, usec_t when)
{
	usec_t now = s->clock.wall(s->clock.ud);

	if (when == USEC_INFINITY) {
		schedule_disarm(s);
		return;
	}
	(void)sd_event_source_set_time(s->timer,
				       s->clock.boot(s->clock.ud) +
					       (when > now ? when - now : 0));
	(void)sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

void schedule_disarm(struct schedule *s)
{
	(void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

usec_t schedule_armed_at(const struct schedule *s)
{
	int enabled = SD_EVENT_OFF;
	uint64_t t = USEC_INFINITY;

	if (sd_event_source_get_enabled(s->timer, &enabled) < 0 ||
	    enabled == SD_EVENT_OFF ||
	    sd_event_source_get_time(s->timer, &t) < 0)
		return USEC_INFINITY;
	return t;
}

void schedule_clock_changed(struct schedule *s)
{
	log_debug("The wall clock changed (set, or resumed from suspend): "
		  "re-planning refreshes");
	s->fired(s->userdata);
}
