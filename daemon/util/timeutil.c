#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static usec_t (*clock_fn)(void);

usec_t now_clock(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t now_wall(void)
{
	if (clock_fn)
		return clock_fn();
	return now_clock(CLOCK_REALTIME);
}

void timeutil_set_clock(usec_t (*fn)(void))
{
	clock_fn = fn;
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

int parse_iso8601(const char *s, usec_t *ret)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	usec_t frac = 0, scale = USEC_PER_SEC;
	struct tm tm = { 0 };
	const char *p = s;
	time_t t;

	if (!s)
		return -EINVAL;
	if (digits(&p, 4, &Y) < 0 || *p++ != '-' || digits(&p, 2, &M) < 0 ||
	    *p++ != '-' || digits(&p, 2, &D) < 0 || (*p != 'T' && *p != 't'))
		return -EINVAL;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &m) < 0 ||
	    *p++ != ':' || digits(&p, 2, &sec) < 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (scale > 1) {
				scale /= 10;
				frac += (usec_t)(*p - '0') * scale;
			}
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (digits(&p, 2, &oh) < 0)
			return -EINVAL;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 ||
	    m > 59 || sec > 60)
		return -EINVAL;

	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	t -= (time_t)sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -ERANGE;
	*ret = (usec_t)t * USEC_PER_SEC + frac;
	return 0;
}

/* Formats t (UTC, whole seconds) with the strftime format fmt into size
 * bytes of buf; the epoch when t does not fit a struct tm or buf. */
static char *format_utc(char *buf, size_t size, const char *fmt, usec_t t)
{
	time_t s = (time_t)(t / USEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&s, &tm) || strftime(buf, size, fmt, &tm) == 0) {
		s = 0;
		(void)gmtime_r(&s, &tm);
		(void)strftime(buf, size, fmt, &tm);
	}
	return buf;
}

char *format_iso8601(char buf[static ISO8601_MAX], usec_t t)
{
	return format_utc(buf, ISO8601_MAX, "%Y-%m-%dT%H:%M:%SZ", t);
}

char *format_iso8601_ms(char buf[static ISO8601_MS_MAX], usec_t t)
{
	unsigned ms = (unsigned)(t % USEC_PER_SEC / USEC_PER_MSEC);
	char base[ISO8601_MAX];

	(void)format_utc(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", t);
	(void)snprintf(buf, ISO8601_MS_MAX, "%s.%03uZ", base, ms);
	return buf;
}

char *format_iso8601_basic(char buf[static ISO8601_BASIC_MAX], usec_t t)
{
	return format_utc(buf, ISO8601_BASIC_MAX, "%Y%m%dT%H%M%SZ", t);
}

int parse_duration(const char *s, usec_t *ret)
{
	unsigned long long v = 0, unit = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX / 10 - 9))
			return -ERANGE;
		v = v * 10 + (unsigned long long)(*p - '0');
		p++;
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		p++;
		break;
	case 'm':
		unit = 60;
		p++;
		break;
	case 'h':
		unit = 3600;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	/* A year is the most any key takes; beyond it is a typo. */
	if (v > 366ULL * 24 * 3600 / unit)
		return -ERANGE;
	*ret = (usec_t)(v * unit) * USEC_PER_SEC;
	return 0;
}

char *format_duration(char buf[static 32], usec_t d)
{
	unsigned long long s = d / USEC_PER_SEC;
	unsigned long long h = s / 3600, m = (s % 3600) / 60, r = s % 60;

	if (h && m)
		(void)snprintf(buf, 32, "%lluh%llum", h, m);
	else if (h)
		(void)snprintf(buf, 32, "%lluh", h);
	else if (m && r)
		(void)snprintf(buf, 32, "%llum%llus", m, r);
	else if (m)
		(void)snprintf(buf, 32, "%llum", m);
	else
		(void)snprintf(buf, 32, "%llus", r);
	return buf;
}
