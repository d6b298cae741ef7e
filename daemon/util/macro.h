/* Small helpers shared by every module: cleanup attributes, ownership
 * transfer, array sizes, time units. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cppcheck 2.10 does not know the cleanup attribute: scripts/lint.sh
 * predefines _cleanup_ for it (scripts/cppcheck/adfs-credd.cfg). */
#ifndef _cleanup_
#define _cleanup_(f) __attribute__((cleanup(f)))
#endif
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand ownership of *p to the caller and leave NULL behind. */
#define TAKE_PTR(p)                                                          \
	({                                                                   \
		__typeof__(p) _tp = (p);                                     \
		(p) = NULL;                                                  \
		_tp;                                                         \
	})

/* The same for a file descriptor (_cleanup_close_): leaves -1 behind. */
#define TAKE_FD(fd)                                                          \
	({                                                                   \
		int _tfd = (fd);                                             \
		(fd) = -1;                                                   \
		_tfd;                                                        \
	})

/* Defines NAME##p(type **) calling fn(*p) when *p is set. `type` is a
 * type name, which cannot be parenthesised. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define DEFINE_FREEP(type, fn)                                               \
	static inline void fn##p(type **p)                                   \
	{                                                                    \
		if (*p)                                                      \
			fn(*p);                                              \
	}
/* NOLINTEND(bugprone-macro-parentheses) */

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if open; returns -1 to store back: fd = safe_close(fd). */
static inline int safe_close(int fd)
{
	if (fd >= 0)
		(void)close(fd);
	return -1;
}

static inline void closep(int *fd)
{
	*fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Microseconds, as in systemd: every timestamp and duration inside. */
typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define USEC_PER_SEC ((usec_t)1000000ULL)
#define USEC_PER_MINUTE ((usec_t)(60ULL * USEC_PER_SEC))
#define USEC_PER_HOUR ((usec_t)(60ULL * USEC_PER_MINUTE))
#define USEC_PER_DAY ((usec_t)(24ULL * USEC_PER_HOUR))

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
/* s past prefix when s starts with it, else NULL. */
static inline const char *startswith(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static inline const char *strempty(const char *s)
{
	return s ? s : "";
}
