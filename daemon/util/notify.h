/* Text for sd_notify(): systemd splits a notify message into lines and reads
 * each with backslash escapes, so STATUS=EXAMPLE\alice arrived as
 * "EXAMPLEalice" (systemd 252). */
#pragma once

/* A copy of s fit for one STATUS= field: every backslash doubled, every
 * control character (a newline would end the field) shown as a space. NULL
 * on allocation failure; free() it. */
char *notify_escape(const char *s);
