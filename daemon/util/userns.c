#include "util/userns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Reads the first line of a small /proc file into buf (NUL-terminated). */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		r = -EBADMSG;
	else if (fgetc(f) != EOF)
		r = 1; /* more lines */
	(void)fclose(f);
	return r;
}

/* Parses the next decimal number at *p, skipping blanks; -EBADMSG if none. */
static int next_ulong(char **p, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(*p, &end, 10);
	if (end == *p || errno)
		return -EBADMSG;
	*p = end;
	*ret = v;
	return 0;
}

int userns_nested(void)
{
	unsigned long inside, outside, count;
	char line[128], *p = line;
	int r;

	r = read_line("/proc/self/uid_map", line, sizeof(line));
	if (r < 0)
		return r;
	/* The initial namespace maps 0 to 0 for 4294967295 uids, in one
	 * line; anything else is a namespace of its own. */
	if (next_ulong(&p, &inside) < 0 || next_ulong(&p, &outside) < 0 ||
	    next_ulong(&p, &count) < 0)
		return -EBADMSG;
	return r == 1 ||
	       !(inside == 0 && outside == 0 && count == 4294967295ul);
}

uid_t userns_overflow_uid(void)
{
	unsigned long v;
	char line[32], *p = line;

	if (read_line("/proc/sys/kernel/overflowuid", line, sizeof(line)) < 0 ||
	    next_ulong(&p, &v) < 0 || v > 0xfffffffful)
		return 65534;
	return (uid_t)v;
}

uid_t userns_root_uid(void)
{
	char line[128];
	FILE *f;

	f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return 0;
	/* Lines of "INSIDE OUTSIDE COUNT". */
	while (fgets(line, sizeof(line), f)) {
		unsigned long in, out, n;
		char *p = line;

		if (next_ulong(&p, &in) < 0 || next_ulong(&p, &out) < 0 ||
		    next_ulong(&p, &n) < 0 || n == 0 || in != 0)
			continue;
		(void)fclose(f);
		return out == 0 ? 0 : (uid_t)-1;
	}
	(void)fclose(f);
	/* Root is not mapped: it is the overflow uid here, and so is every
	 * other unmapped user; the sandbox's own mounts are what we see. */
	return userns_overflow_uid();
}
