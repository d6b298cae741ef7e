#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macro.h"

static int max_level = LOG_INFO;
static int journal; /* stderr is a journal stream: use "<N>" prefixes */
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

void log_open(const char *name)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (name)
		ident = name;
	/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected. */
	if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino)
		journal = 1;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

int log_internal(int level, int error, const char *file, int line,
		 const char *fmt, ...)
{
	int saved = errno;
	char msg[2048];
	va_list ap;

	if (error < 0)
		error = -error;
	if (level > max_level)
		return -error;

	errno = error;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	/* One write per line, so lines from a crash-free process never
	 * interleave; the file:line only at debug level. */
	if (journal)
		(void)fprintf(stderr, "<%d>%s\n", level, msg);
	else if (max_level >= LOG_DEBUG)
		(void)fprintf(stderr, "%s: %s: %s (%s:%d)\n", ident,
			      level_name(level), msg, file, line);
	else
		(void)fprintf(stderr, "%s: %s: %s\n", ident, level_name(level),
			      msg);
	errno = saved;
	return -error;
}
