/* Remote text on its way to a terminal or a shell: adfs-credctl prints
 * role names, user names and error messages that came from ADFS, STS or
 * the daemon, and `env` output is meant for eval. Results are heap strings
 * owned by the caller; NULL in gives NULL out, as does a failed
 * allocation. */
#pragma once

#include <stddef.h>

/* s with every control character escaped so that a terminal shows it
 * instead of obeying it: C0 (tab and newline included) and DEL as \xHH,
 * C1 (U+0080..U+009F) and the bidirectional overrides (U+202A..U+202E,
 * U+2066..U+2069) as \uHHHH, bytes that are not UTF-8 as \xHH. A backslash
 * stays as it is (EXAMPLE\alice): text that looks like an escape is only
 * text. */
char *text_escape(const char *s);
/* s as one shell word (POSIX sh): unchanged when it is non-empty and holds
 * only A-Z a-z 0-9 and _ @ % + = : , . / -, else in single quotes, each '
 * written '\''. */
char *text_shell_quote(const char *s);
