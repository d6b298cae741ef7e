#include "util/notify.h"

#include <stdlib.h>
#include <string.h>

char *notify_escape(const char *s)
{
	char *ret = malloc(2 * strlen(s) + 1), *e = ret;

	if (!ret)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\')
			*e++ = '\\';
		else if (ch < 0x20 || ch == 0x7f)
			ch = ' ';
		*e++ = (char)ch;
	}
	*e = '\0';
	return ret;
}
