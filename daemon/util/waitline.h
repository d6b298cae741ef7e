/* The line adfs-credctl login keeps rewriting on a terminal while the
 * daemon signs in (cli/cli-wait.c): a push's countdown with the number to
 * match, or how far the sign-in is. Pure text, no I/O, so that the unit
 * tests see exactly what a person sees. Every function writes a
 * NUL-terminated line (cut to n) into buf and returns buf. */
#pragma once

#include <stddef.h>

/* "1:47" for 107 seconds; negative counts as 0. */
char *waitline_clock(char buf[static 16], long secs);
/* What to do while a push waits, with the time left: "Approve on your
 * device, number 42: 1:47 left". hint (escaped): the number to match,
 * or NULL or ADFS's instructions (then no number is shown). At 0: "time
 * is up" (the daemon's own message follows). */
char *waitline_push(char *buf, size_t n, const char *hint, long secs_left);
/* How far the sign-in is, from GET /v1/status "progress": phase
 * "sign_in", "mfa" or "roles", done of total roles (total 0: not known
 * yet). Empty for a phase it does not know. */
char *waitline_progress(char *buf, size_t n, const char *phase, long done,
			long total);
