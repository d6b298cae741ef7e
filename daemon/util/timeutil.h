/* Wall-clock and monotonic time, ISO 8601 parsing/formatting, durations.
 * The wall clock is injectable so unit tests control time. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "util/macro.h"

/* Wall-clock "now" in usec since the epoch (CLOCK_REALTIME unless a test
 * installed another source with timeutil_set_clock). */
usec_t now_wall(void);
/* Usec on the given clock (CLOCK_BOOTTIME for timers). */
usec_t now_clock(clockid_t id);
/* Tests: install fn as the wall clock source; NULL restores the real one. */
void timeutil_set_clock(usec_t (*fn)(void));

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to usec since the
 * epoch. A value without a zone is rejected: -EINVAL. */
int parse_iso8601(const char *s, usec_t *ret);
/* Formats usec as "YYYY-MM-DDTHH:MM:SSZ" (UTC, no fraction) into buf of
 * at least 21 bytes; returns buf. */
char *format_iso8601(char buf[static 21], usec_t t);
#define ISO8601_MAX 21
/* The same with milliseconds, "YYYY-MM-DDTHH:MM:SS.mmmZ", as WCF writes
 * xs:dateTime (WS-Security u:Timestamp, SAML IssueInstant). */
char *format_iso8601_ms(char buf[static 32], usec_t t);
#define ISO8601_MS_MAX 32
/* The basic format "YYYYMMDDTHHMMSSZ" (SigV4's X-Amz-Date). */
char *format_iso8601_basic(char buf[static 17], usec_t t);
#define ISO8601_BASIC_MAX 17

/* Parses a config duration: an integer (seconds) or a number with one
 * suffix s, m, h ("90m", "4h", "30s"). -EINVAL, -ERANGE. */
int parse_duration(const char *s, usec_t *ret);
/* Formats a duration for people: "4h", "1h30m", "45s"; buf >= 32. */
char *format_duration(char buf[static 32], usec_t d);
