#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "util/macro.h"
#include "util/text.h"

static int max_level = LOG_INFO;
static int journal;     /* stderr is a journal stream */
static int journal_api; /* and journald's socket is there: structured entries */
static const char *ident = "adfs-credd";

void log_set_level(int level)
{
	max_level = level;
}

int log_get_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} table[] = {
		{ "error", LOG_ERR },
		{ "warning", LOG_WARNING },
		{ "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(s, table[i].name))
			return table[i].level;
	return -EINVAL;
}

char *log_escape(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return buf;
	if (!s)
		s = "-";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[4];
		size_t n = 0;

		if (c == '\\') {
			e[n++] = '\\';
			e[n++] = '\\';
		} else if (c < 0x20 || c > 0x7e) {
			e[n++] = '\\';
			e[n++] = 'x';
			e[n++] = hex[c >> 4];
			e[n++] = hex[c & 15];
		} else
			e[n++] = (char)c;
		if (o + n + 1 > size) {
			/* No room: end with "..." where it fits. */
			while (o > 0 && o + 4 > size)
				o--;
			if (o + 4 <= size) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, e, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected: two
 * decimal numbers and nothing else. */
static int parse_journal_stream(const char *e, unsigned long long *ret_dev,
				unsigned long long *ret_ino)
{
	unsigned long long dev, ino;
	char *end;

	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno || end == e || *end != ':')
		return -EINVAL;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno || end == e || *end)
		return -EINVAL;
	*ret_dev = dev;
	*ret_ino = ino;
	return 0;
}

void log_open(const char *name)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (name)
		ident = name;
	if (e && parse_journal_stream(e, &dev, &ino) == 0 &&
	    fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino) {
		journal = 1;
		/* sd_journal_send() drops messages silently when journald is
		 * gone; then the stream, with priority prefixes, is better. */
		journal_api = access("/run/systemd/journal/socket", W_OK) == 0;
	}
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

int log_internal(int level, int error, const char *message_id,
		 const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	char msg[2048];
	_cleanup_free_ char *clean = NULL;
	const char *out = msg;
	va_list ap;

	if (error < 0)
		error = -error;
	/* The audit trail (LOG_NOTICE) whatever the level. */
	if (level > max_level && level != LOG_NOTICE)
		return -error;

	errno = error;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages carry text from ADFS, STS and requests (a user name, an
	 * error page's text): no control character of theirs may start a
	 * forged line or drive the terminal of whoever reads the log. */
	clean = text_escape(msg);
	if (clean)
		out = clean;
	else
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';

	/* Under systemd, structured journal entries (priority, source
	 * location, MESSAGE_ID for lifecycle events); the stream prefix
	 * "<N>" when the journal socket is not there. */
	if (journal && journal_api) {
		char line_s[16];

		(void)snprintf(line_s, sizeof(line_s), "%d", line);
		if (sd_journal_send("MESSAGE=%s", out, "PRIORITY=%d", level,
				    "SYSLOG_IDENTIFIER=%s", ident,
				    "CODE_FILE=%s", file, "CODE_LINE=%s",
				    line_s, message_id ? "MESSAGE_ID=%s" : NULL,
				    message_id, NULL) < 0)
			(void)fprintf(stderr, "<%d>%s\n", level, out);
	} else if (journal)
		(void)fprintf(stderr, "<%d>%s\n", level, out);
	/* One write per line, so lines never interleave; the file:line only
	 * at debug level. */
	else if (max_level >= LOG_DEBUG)
		(void)fprintf(stderr, "%s: %s: %s (%s:%d)\n", ident,
			      level_name(level), out, file, line);
	else
		(void)fprintf(stderr, "%s: %s: %s\n", ident, level_name(level),
			      out);
	errno = saved;
	return -error;
}
