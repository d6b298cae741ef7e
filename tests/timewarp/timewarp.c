/* Test-only LD_PRELOAD shim: every clock of every process that loads it
 * runs TIMEWARP_FACTOR times faster than real time, from one anchor that
 * all the processes share, so the real daemon, the emulators and an SDK
 * client agree on "now" while hours pass in minutes.
 *
 * Built by tests/CMakeLists.txt for the long-job integration test only:
 * never installed, never linked into adfs-credd.
 *
 *   TIMEWARP_FACTOR=400                 speed-up (a positive number)
 *   TIMEWARP_ANCHOR="MONO_NS REAL_NS"   CLOCK_MONOTONIC and CLOCK_REALTIME
 *                                       read once by the test at its start
 *   TIMEWARP_MONOTONIC_FACTOR=40        optional, <= TIMEWARP_FACTOR: a
 *                                       slower CLOCK_MONOTONIC (below)
 *
 * Fake time, for every process:
 *   realtime, boottime = base_c + (monotonic_real - MONO_NS) * F
 *   monotonic          = base_c + (monotonic_real - MONO_NS) * F_mono
 * (base_c: that clock's value at the anchor; REAL_NS for realtime).
 * Everything is derived from the real CLOCK_MONOTONIC, so processes agree
 * on the wall clock to the nanosecond whatever clock they read.
 *
 * With F_mono < F the process lives on a machine that naps: the wall clock
 * and CLOCK_BOOTTIME advance F/F_mono times faster than CLOCK_MONOTONIC,
 * as they do across suspends. Timeouts measured in awake time (libcurl's,
 * on CLOCK_MONOTONIC) then keep a real-time margin F/F_mono times larger,
 * while anything planned on the wall clock or CLOCK_BOOTTIME runs at F.
 *
 * Waits are converted back: relative timeouts are divided by the rate of
 * their clock (CLOCK_MONOTONIC's when they name none: poll, epoll_wait,
 * select, nanosleep), absolute deadlines become "real now + (deadline -
 * fake now) / rate" on the same kernel clock. That covers what sd-event
 * (timerfd on CLOCK_BOOTTIME/CLOCK_MONOTONIC with TFD_TIMER_ABSTIME,
 * epoll_wait), libcurl, libmicrohttpd, OpenSSL and CPython (clock_nanosleep
 * with TIMER_ABSTIME, sem_clockwait, poll, pthread_cond_timedwait) use.
 *
 * Why not libfaketime (0.9.10, Debian 12): with a speed-up its
 * timerfd_settime converts absolute CLOCK_BOOTTIME/CLOCK_MONOTONIC
 * deadlines with the realtime start, so sd-event's timers are armed at
 * nonsense and never fire; and it reports CLOCK_MONOTONIC/BOOTTIME as
 * realtime values. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define NSEC 1000000000LL

typedef __int128 i128;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready;
static i128 anchor_mono, anchor_real;
/* For the clocks the kernel knows (0..11): the fake value at the anchor,
 * and the speed-up. */
static i128 base[12];
static double rate[12];
static bool is_real_family[12];

/* Clock of each timerfd, +1 (0: unknown, taken as CLOCK_MONOTONIC). */
#define MAX_FD (1 << 20)
static unsigned char fd_clock[MAX_FD];

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_clock_nanosleep)(clockid_t, int, const struct timespec *,
				   struct timespec *);
static int (*real_timerfd_create)(int, int);
static int (*real_timerfd_settime)(int, int, const struct itimerspec *,
				   struct itimerspec *);
static int (*real_timerfd_gettime)(int, struct itimerspec *);
static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
			 const sigset_t *);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_pselect)(int, fd_set *, fd_set *, fd_set *,
			   const struct timespec *, const sigset_t *);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*real_epoll_pwait)(int, struct epoll_event *, int, int,
			       const sigset_t *);
static int (*real_epoll_pwait2)(int, struct epoll_event *, int,
				const struct timespec *, const sigset_t *);
static int (*real_sem_timedwait)(sem_t *, const struct timespec *);
static int (*real_sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
static int (*real_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *,
				  const struct timespec *);
static int (*real_cond_clockwait)(pthread_cond_t *, pthread_mutex_t *,
				  clockid_t, const struct timespec *);

static i128 ts_ns(const struct timespec *t)
{
	return (i128)t->tv_sec * NSEC + t->tv_nsec;
}

static struct timespec ns_ts(i128 v)
{
	struct timespec t;

	if (v < 0)
		v = 0;
	t.tv_sec = (time_t)(v / NSEC);
	t.tv_nsec = (long)(v % NSEC);
	return t;
}

static i128 raw_now(clockid_t c)
{
	struct timespec t;

	if (real_clock_gettime(c, &t) < 0)
		return 0;
	return ts_ns(&t);
}

static void *next_sym(const char *name, const char *version)
{
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;

	return p ? p : dlsym(RTLD_NEXT, name);
}

static i128 parse_i128(const char **s)
{
	i128 v = 0;

	while (**s == ' ')
		(*s)++;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (*(*s)++ - '0');
	return v;
}

static void init(void)
{
	const char *f = getenv("TIMEWARP_FACTOR");
	const char *a = getenv("TIMEWARP_ANCHOR");
	const char *fm = getenv("TIMEWARP_MONOTONIC_FACTOR");
	double factor = 1.0, mono_factor;
	i128 mono;

	real_clock_gettime = next_sym("clock_gettime", "GLIBC_2.17");
	real_clock_nanosleep = next_sym("clock_nanosleep", "GLIBC_2.17");
	real_timerfd_create = next_sym("timerfd_create", NULL);
	real_timerfd_settime = next_sym("timerfd_settime", NULL);
	real_timerfd_gettime = next_sym("timerfd_gettime", NULL);
	real_ppoll = next_sym("ppoll", NULL);
	real_poll = next_sym("poll", NULL);
	real_select = next_sym("select", NULL);
	real_pselect = next_sym("pselect", NULL);
	real_epoll_wait = next_sym("epoll_wait", NULL);
	real_epoll_pwait = next_sym("epoll_pwait", NULL);
	real_epoll_pwait2 = next_sym("epoll_pwait2", "GLIBC_2.35");
	real_sem_timedwait = next_sym("sem_timedwait", NULL);
	real_sem_clockwait = next_sym("sem_clockwait", "GLIBC_2.34");
	real_cond_timedwait = next_sym("pthread_cond_timedwait", "GLIBC_2.3.2");
	real_cond_clockwait = next_sym("pthread_cond_clockwait", "GLIBC_2.34");

	if (f && strtod(f, NULL) > 0)
		factor = strtod(f, NULL);
	mono_factor = factor;
	if (fm && strtod(fm, NULL) > 0 && strtod(fm, NULL) < factor)
		mono_factor = strtod(fm, NULL);
	mono = raw_now(CLOCK_MONOTONIC);
	if (a) {
		anchor_mono = parse_i128(&a);
		anchor_real = parse_i128(&a);
	}
	if (!a || anchor_mono <= 0 || anchor_mono > mono) {
		anchor_mono = mono;
		anchor_real = raw_now(CLOCK_REALTIME);
	}
	for (clockid_t c = 0; c < 12; c++) {
		struct timespec t;

		is_real_family[c] = c == CLOCK_REALTIME ||
				    c == CLOCK_REALTIME_COARSE ||
				    c == CLOCK_REALTIME_ALARM || c == CLOCK_TAI;
		rate[c] = c == CLOCK_MONOTONIC || c == CLOCK_MONOTONIC_RAW ||
					  c == CLOCK_MONOTONIC_COARSE
				  ? mono_factor
				  : factor;
		if (c == CLOCK_PROCESS_CPUTIME_ID ||
		    c == CLOCK_THREAD_CPUTIME_ID ||
		    real_clock_gettime(c, &t) < 0)
			continue;
		if (is_real_family[c])
			/* TAI is realtime + the leap seconds */
			base[c] = anchor_real +
				  (ts_ns(&t) - raw_now(CLOCK_REALTIME));
		else
			base[c] = anchor_mono + (ts_ns(&t) - mono);
	}
	__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

static inline void ensure_init(void)
{
	if (__builtin_expect(!__atomic_load_n(&ready, __ATOMIC_ACQUIRE), 0))
		(void)pthread_once(&once, init);
}

__attribute__((constructor)) static void timewarp_ctor(void)
{
	ensure_init();
}

static bool warped(clockid_t c)
{
	return c >= 0 && c < 12 && c != CLOCK_PROCESS_CPUTIME_ID &&
	       c != CLOCK_THREAD_CPUTIME_ID;
}

/* Fake now on clock c (a warped clock). */
static i128 fake_now(clockid_t c)
{
	i128 elapsed = raw_now(CLOCK_MONOTONIC) - anchor_mono;

	return base[c] + (i128)((long double)elapsed * rate[c]);
}

/* A fake duration on clock c -> the real one; positive stays positive. */
static i128 to_real_dur(i128 d, clockid_t c)
{
	i128 r;

	if (d <= 0)
		return 0;
	r = (i128)((long double)d / rate[c]);
	return r > 0 ? r : 1;
}

static i128 to_fake_dur(i128 d, clockid_t c)
{
	return d <= 0 ? 0 : (i128)((long double)d * rate[c]);
}

/* Timeouts that name no clock count on CLOCK_MONOTONIC. */
#define REL CLOCK_MONOTONIC

/* A fake absolute deadline on clock c -> the real one on the same clock. */
static struct timespec to_real_abs(clockid_t c, const struct timespec *t)
{
	i128 left = ts_ns(t) - fake_now(c), now = raw_now(c);

	/* Already passed: a moment ago, so it fires at once (never 0, which
	 * would disarm a timer). */
	return ns_ts(left > 0 ? now + to_real_dur(left, c)
			      : (now > 1 ? now - 1 : 1));
}

EXPORT int clock_gettime(clockid_t c, struct timespec *t)
{
	ensure_init();
	if (!warped(c))
		return real_clock_gettime(c, t);
	*t = ns_ts(fake_now(c));
	return 0;
}

EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec t;

	ensure_init();
	if (tz)
		memset(tz, 0, sizeof(struct timezone));
	t = ns_ts(fake_now(CLOCK_REALTIME));
	tv->tv_sec = t.tv_sec;
	tv->tv_usec = t.tv_nsec / 1000;
	return 0;
}

EXPORT time_t time(time_t *out)
{
	time_t s;

	ensure_init();
	s = (time_t)(fake_now(CLOCK_REALTIME) / NSEC);
	if (out)
		*out = s;
	return s;
}

EXPORT int timespec_get(struct timespec *t, int base_)
{
	ensure_init();
	if (base_ != TIME_UTC)
		return 0;
	*t = ns_ts(fake_now(CLOCK_REALTIME));
	return base_;
}

/* ---- sleeping ---- */

EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req,
			   struct timespec *rem)
{
	struct timespec r;
	int ret;

	ensure_init();
	if (!warped(c) || !req)
		return real_clock_nanosleep(c, flags, req, rem);
	if (flags & TIMER_ABSTIME)
		r = to_real_abs(c, req);
	else
		r = ns_ts(to_real_dur(ts_ns(req), c));
	ret = real_clock_nanosleep(c, flags, &r, rem);
	if (ret == EINTR && rem && !(flags & TIMER_ABSTIME))
		*rem = ns_ts(to_fake_dur(ts_ns(rem), c));
	return ret;
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);

	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

EXPORT int usleep(useconds_t us)
{
	struct timespec t = { us / 1000000, (long)(us % 1000000) * 1000 };

	return nanosleep(&t, NULL);
}

EXPORT unsigned int sleep(unsigned int s)
{
	struct timespec t = { s, 0 }, rem = { 0, 0 };

	if (nanosleep(&t, &rem) < 0)
		return (unsigned int)rem.tv_sec;
	return 0;
}

/* ---- timerfd ---- */

EXPORT int timerfd_create(int c, int flags)
{
	int fd;

	ensure_init();
	fd = real_timerfd_create(c, flags);
	if (fd >= 0 && fd < MAX_FD)
		fd_clock[fd] = (unsigned char)(c + 1);
	return fd;
}

static clockid_t clock_of(int fd)
{
	return fd >= 0 && fd < MAX_FD && fd_clock[fd] ? fd_clock[fd] - 1
						       : CLOCK_MONOTONIC;
}

static void fake_itimer(struct itimerspec *v, clockid_t c)
{
	v->it_value = ns_ts(to_fake_dur(ts_ns(&v->it_value), c));
	v->it_interval = ns_ts(to_fake_dur(ts_ns(&v->it_interval), c));
}

EXPORT int timerfd_settime(int fd, int flags, const struct itimerspec *nv,
			   struct itimerspec *ov)
{
	struct itimerspec r;
	clockid_t c = clock_of(fd);
	int ret;

	ensure_init();
	if (!nv || !warped(c))
		return real_timerfd_settime(fd, flags, nv, ov);
	r = *nv;
	r.it_interval = ns_ts(to_real_dur(ts_ns(&nv->it_interval), c));
	if (ts_ns(&nv->it_value) == 0) {
		/* disarm */
	} else if (!(flags & TFD_TIMER_ABSTIME)) {
		r.it_value = ns_ts(to_real_dur(ts_ns(&nv->it_value), c));
	} else if (nv->it_value.tv_sec > (time_t)1 << 40) {
		/* "never" (sd-event's clock-change watch): keep as is */
	} else {
		r.it_value = to_real_abs(c, &nv->it_value);
	}
	ret = real_timerfd_settime(fd, flags, &r, ov);
	if (ret == 0 && ov)
		fake_itimer(ov, c);
	return ret;
}

EXPORT int timerfd_gettime(int fd, struct itimerspec *v)
{
	clockid_t c = clock_of(fd);
	int ret;

	ensure_init();
	ret = real_timerfd_gettime(fd, v);
	if (ret == 0 && v && warped(c))
		fake_itimer(v, c);
	return ret;
}

/* ---- waiting for file descriptors ---- */

static struct timespec ms_real(int ms)
{
	return ns_ts(to_real_dur((i128)ms * 1000000, REL));
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int ms)
{
	struct timespec t;

	ensure_init();
	if (ms <= 0)
		return real_poll(fds, n, ms);
	t = ms_real(ms);
	return real_ppoll(fds, n, &t, NULL);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *to,
		 const sigset_t *mask)
{
	struct timespec t;

	ensure_init();
	if (!to)
		return real_ppoll(fds, n, to, mask);
	t = ns_ts(to_real_dur(ts_ns(to), REL));
	return real_ppoll(fds, n, &t, mask);
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timeval t;
	struct timespec s;
	int ret;

	ensure_init();
	if (!tv)
		return real_select(n, r, w, e, tv);
	s = ns_ts(to_real_dur((i128)tv->tv_sec * NSEC + tv->tv_usec * 1000,
			      REL));
	t.tv_sec = s.tv_sec;
	t.tv_usec = s.tv_nsec / 1000;
	if (t.tv_sec == 0 && t.tv_usec == 0 && (tv->tv_sec || tv->tv_usec))
		t.tv_usec = 1;
	ret = real_select(n, r, w, e, &t);
	/* Linux writes back what was left. */
	s = ns_ts(to_fake_dur((i128)t.tv_sec * NSEC + t.tv_usec * 1000, REL));
	tv->tv_sec = s.tv_sec;
	tv->tv_usec = s.tv_nsec / 1000;
	return ret;
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *to, const sigset_t *mask)
{
	struct timespec t;

	ensure_init();
	if (!to)
		return real_pselect(n, r, w, e, to, mask);
	t = ns_ts(to_real_dur(ts_ns(to), REL));
	return real_pselect(n, r, w, e, &t, mask);
}

EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max,
			const struct timespec *to, const sigset_t *mask)
{
	struct timespec t;

	ensure_init();
	if (!to || !real_epoll_pwait2)
		return real_epoll_pwait2
			       ? real_epoll_pwait2(ep, ev, max, to, mask)
			       : (errno = ENOSYS, -1);
	t = ns_ts(to_real_dur(ts_ns(to), REL));
	return real_epoll_pwait2(ep, ev, max, &t, mask);
}

static int epoll_common(int ep, struct epoll_event *ev, int max, int ms,
			const sigset_t *mask, bool with_mask)
{
	struct timespec t;
	int ret;

	if (ms > 0 && real_epoll_pwait2) {
		t = ms_real(ms);
		ret = real_epoll_pwait2(ep, ev, max, &t, mask);
		if (ret >= 0 || errno != ENOSYS)
			return ret;
	}
	if (ms > 0) {
		/* No epoll_pwait2: milliseconds, rounded up. */
		i128 r = to_real_dur((i128)ms * 1000000, REL);

		ms = (int)((r + 999999) / 1000000);
	}
	return with_mask ? real_epoll_pwait(ep, ev, max, ms, mask)
			 : real_epoll_wait(ep, ev, max, ms);
}

EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int ms)
{
	ensure_init();
	return epoll_common(ep, ev, max, ms, NULL, false);
}

EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int ms,
		       const sigset_t *mask)
{
	ensure_init();
	return epoll_common(ep, ev, max, ms, mask, true);
}

/* ---- threads: absolute deadlines ---- */

EXPORT int sem_timedwait(sem_t *s, const struct timespec *abs)
{
	struct timespec t;

	ensure_init();
	t = to_real_abs(CLOCK_REALTIME, abs);
	return real_sem_timedwait(s, &t);
}

EXPORT int sem_clockwait(sem_t *s, clockid_t c, const struct timespec *abs)
{
	struct timespec t;

	ensure_init();
	if (!warped(c))
		return real_sem_clockwait(s, c, abs);
	t = to_real_abs(c, abs);
	return real_sem_clockwait(s, c, &t);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *cv, pthread_mutex_t *mx,
				  clockid_t c, const struct timespec *abs)
{
	struct timespec t;

	ensure_init();
	if (!warped(c))
		return real_cond_clockwait(cv, mx, c, abs);
	t = to_real_abs(c, abs);
	return real_cond_clockwait(cv, mx, c, &t);
}

/* The condition's clock is in its attributes, which glibc does not let us
 * read back: a realtime deadline is ~1.7e9 s, a monotonic one is close to
 * the uptime, so the nearer of the two fake nows tells which it is. */
EXPORT int pthread_cond_timedwait(pthread_cond_t *restrict cv,
				  pthread_mutex_t *restrict mx,
				  const struct timespec *restrict abs)
{
	struct timespec t;
	i128 v, dr, dm;

	ensure_init();
	v = ts_ns(abs);
	dr = v - fake_now(CLOCK_REALTIME);
	dm = v - fake_now(CLOCK_MONOTONIC);
	if (dr < 0)
		dr = -dr;
	if (dm < 0)
		dm = -dm;
	t = to_real_abs(dm < dr ? CLOCK_MONOTONIC : CLOCK_REALTIME, abs);
	return real_cond_timedwait(cv, mx, &t);
}
