/* Logging: plain lines on stderr, with syslog priority prefixes ("<3>")
 * when stderr is the journal (JOURNAL_STREAM), so journald keeps levels.
 * No call may take a secret: print "(hidden)" instead. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

#include "util/macro.h"

/* LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG. Lines at LOG_NOTICE are
 * the audit trail (log_audit()): written whatever the level. */
void log_set_level(int level);
int log_get_level(void);
/* Parses "error", "warning", "info", "debug"; returns the level or -EINVAL. */
int log_level_from_string(const char *s);
/* Writes s to buf (size bytes, NUL-terminated) with every byte outside
 * printable ASCII as \xHH and a backslash as \\, so text taken from a
 * request (a path, a header) stays on its one log line and cannot forge
 * another or drive a terminal; cut short with "..." when buf is full.
 * NULL s gives "-". Returns buf. */
char *log_escape(const char *s, char *buf, size_t size);

/* Detects whether stderr is connected to the journal; call once at start. */
void log_open(const char *ident);

/* Logs at level; when error != 0 sets errno = |error| for %m. Returns
 * -|error| so callers can `return log_error_errno(r, ...)`. message_id:
 * a journal MESSAGE_ID (32 hex digits) for lifecycle events, or NULL. */
int log_internal(int level, int error, const char *message_id,
		 const char *file, int line, const char *fmt, ...)
	_printf_(6, 7);

/* MESSAGE_IDs of the events one may want to find in the journal
 * (journalctl MESSAGE_ID=...). */
#define LOG_ID_SIGNED_IN "2ccbdcf049114b18aa434f1e1044158a"
#define LOG_ID_SIGNIN_FAILED "2d24b9e8986c48faa10fbcfa8626b833"
#define LOG_ID_REFRESHED "f6fd5799bfb2473f91d7720044ec7967"
#define LOG_ID_REFRESH_FAILED "bf8d564e4e0d42afb39b855b4967c6df"
#define LOG_ID_AUDIT "929adadb980b49efa925d85d6fdea9bd"

#define log_id(level, id, ...)                                               \
	(void)log_internal((level), 0, (id), __FILE__, __LINE__, __VA_ARGS__)

#define log_full_errno(level, error, ...)                                    \
	log_internal((level), (error), NULL, __FILE__, __LINE__, __VA_ARGS__)

/* An audit line: LOG_NOTICE, written at every log_level (the audit trail
 * is not debug output), with the audit MESSAGE_ID. */
#define log_audit(...) log_id(LOG_NOTICE, LOG_ID_AUDIT, __VA_ARGS__)

#define log_error(...) (void)log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_info(...) (void)log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) (void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)

#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_oom() log_error_errno(ENOMEM, "Out of memory")
