#include "util/waitline.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/macro.h"

char *waitline_clock(char buf[static 16], long secs)
{
	if (secs < 0)
		secs = 0;
	/* A day at most: nothing waits that long, and it fits. */
	if (secs > 86400)
		secs = 86400;
	(void)snprintf(buf, 16, "%d:%02d", (int)(secs / 60), (int)(secs % 60));
	return buf;
}

/* A number to match is digits only; anything else is instructions,
 * shown once above the line rather than in it. */
static bool is_number(const char *hint)
{
	return hint && *hint && hint[strspn(hint, "0123456789")] == '\0';
}

char *waitline_push(char *buf, size_t n, const char *hint, long secs_left)
{
	char clock[16], number[32] = "";

	if (is_number(hint))
		(void)snprintf(number, sizeof(number), ", number %s", hint);
	if (secs_left > 0)
		(void)snprintf(buf, n, "Approve on your device%s: %s left",
			       number, waitline_clock(clock, secs_left));
	else
		(void)snprintf(buf, n, "Approve on your device%s: time is up",
			       number);
	return buf;
}

char *waitline_progress(char *buf, size_t n, const char *phase, long done,
			long total)
{
	if (streq(strempty(phase), "sign_in"))
		(void)snprintf(buf, n, "Signing in to ADFS...");
	else if (streq(strempty(phase), "mfa"))
		(void)snprintf(buf, n, "Waiting for the second factor...");
	else if (streq(strempty(phase), "roles") && total > 0)
		(void)snprintf(buf, n, "Signing in: %ld/%ld roles",
			       done < total ? done : total, total);
	else if (streq(strempty(phase), "roles"))
		(void)snprintf(buf, n, "Signing in: assuming the roles...");
	else if (n)
		buf[0] = '\0';
	return buf;
}
