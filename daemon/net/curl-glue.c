#include "net/curl-glue.h"

#include <errno.h>
#include <sys/epoll.h>

#include "util/log.h"
#include "util/timeutil.h"

struct curl_glue {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
};

/* What we keep in CURLOPT_PRIVATE for each transfer. */
struct transfer {
	curl_glue_done_fn done;
	void *userdata;
};

static void check_done(struct curl_glue *g)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(g->multi, &left))) {
		struct transfer *t = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		(void)curl_multi_remove_handle(g->multi, easy);
		(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (t) {
			curl_glue_done_fn done = t->done;
			void *userdata = t->userdata;

			free(t);
			done(easy, result, userdata);
		}
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct curl_glue *g = userdata;
	int action = 0, running;

	if (revents & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & EPOLLERR)
		action |= CURL_CSELECT_ERR;
	(void)curl_multi_socket_action(g->multi, fd, action, &running);
	check_done(g);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct curl_glue *g = userdata;
	int running;

	(void)curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0,
				       &running);
	check_done(g);
	return 0;
}

static uint32_t events_for(int what)
{
	switch (what) {
	case CURL_POLL_IN:
		return EPOLLIN;
	case CURL_POLL_OUT:
		return EPOLLOUT;
	case CURL_POLL_INOUT:
		return EPOLLIN | EPOLLOUT;
	default:
		return 0;
	}
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct curl_glue *g = userp;
	sd_event_source *io = socketp;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (io) {
			(void)sd_event_source_disable_unref(io);
			(void)curl_multi_assign(g->multi, fd, NULL);
		}
		return 0;
	}
	if (io) {
		r = sd_event_source_set_io_events(io, events_for(what));
		if (r >= 0)
			r = sd_event_source_set_enabled(io, SD_EVENT_ON);
	} else {
		r = sd_event_add_io(g->event, &io, fd, events_for(what), on_io,
				    g);
		if (r >= 0) {
			(void)sd_event_source_set_description(io, "curl-io");
			if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
				(void)sd_event_source_disable_unref(io);
				r = -ENOMEM;
			}
		}
	}
	if (r < 0) {
		log_debug_errno(r, "Failed to watch curl socket: %m");
		return -1;
	}
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_glue *g = userp;
	usec_t when;
	int r;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0
			       ? -1
			       : 0;
	when = now_clock(CLOCK_MONOTONIC) + (usec_t)timeout_ms * USEC_PER_MSEC;
	r = sd_event_source_set_time(g->timer, when);
	if (r >= 0)
		r = sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
	return r < 0 ? -1 : 0;
}

int curl_glue_new(sd_event *event, struct curl_glue **ret)
{
	struct curl_glue *g;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->event = sd_event_ref(event);
	g->multi = curl_multi_init();
	if (!g->multi) {
		curl_glue_free(g);
		return -ENOMEM;
	}
	r = sd_event_add_time(event, &g->timer, CLOCK_MONOTONIC, USEC_INFINITY,
			      0, on_timer, g);
	if (r < 0) {
		curl_glue_free(g);
		return r;
	}
	(void)sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
	(void)sd_event_source_set_description(g->timer, "curl-timer");
	if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) ||
	    curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) ||
	    curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g)) {
		curl_glue_free(g);
		return -EINVAL;
	}
	*ret = g;
	return 0;
}

struct curl_glue *curl_glue_free(struct curl_glue *g)
{
	if (!g)
		return NULL;
	if (g->multi)
		(void)curl_multi_cleanup(g->multi);
	(void)sd_event_source_disable_unref(g->timer);
	sd_event_unref(g->event);
	free(g);
	return NULL;
}

int curl_glue_add(struct curl_glue *g, CURL *easy, curl_glue_done_fn done,
		  void *userdata)
{
	struct transfer *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->done = done;
	t->userdata = userdata;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
	    curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
		(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(t);
		return -EIO;
	}
	/* Not a leak: the easy handle holds t (CURLOPT_PRIVATE) until
	 * curl_glue_remove() frees it. */
	/* cppcheck-suppress memleak */
	return 0;
}

void curl_glue_remove(struct curl_glue *g, CURL *easy)
{
	struct transfer *t = NULL;

	(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	(void)curl_multi_remove_handle(g->multi, easy);
	(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	free(t);
}
