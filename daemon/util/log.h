/* Logging: plain lines on stderr, with syslog priority prefixes ("<3>")
 * when stderr is the journal (JOURNAL_STREAM), so journald keeps levels.
 * No call may take a secret: print "(hidden)" instead. */
#pragma once

#include <errno.h>
#include <syslog.h>

#include "util/macro.h"

/* LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG. */
void log_set_level(int level);
int log_get_level(void);
/* Parses "error", "warning", "info", "debug"; returns the level or -EINVAL. */
int log_level_from_string(const char *s);
/* Detects whether stderr is connected to the journal; call once at start. */
void log_open(const char *ident);

/* Logs at level; when error != 0 sets errno = |error| for %m. Returns
 * -|error| so callers can `return log_error_errno(r, ...)`. */
int log_internal(int level, int error, const char *file, int line,
		 const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...)                                    \
	log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)

#define log_error(...) (void)log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_info(...) (void)log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) (void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)

#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
