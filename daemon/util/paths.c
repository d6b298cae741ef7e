/* Runtime paths (see paths.h). */
#include "util/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int join(const char *dir, const char *name, char **ret)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

int paths_state_dir(const char *configured, char **ret)
{
	const char *rt;
	char *p;

	if (configured) {
		p = strdup(configured);
		if (!p)
			return -ENOMEM;
		*ret = p;
		return 0;
	}
	/* A relative runtime directory would follow the working directory:
	 * refuse it, as the XDG Base Directory spec says to ignore it. */
	rt = getenv("XDG_RUNTIME_DIR");
	if (!rt || rt[0] != '/')
		return -EINVAL;
	return join(rt, PATHS_STATE_SUBDIR, ret);
}

int paths_control_socket(const char *state_dir, char **ret)
{
	return join(state_dir, PATHS_CONTROL_SOCKET, ret);
}

int paths_token(const char *state_dir, char **ret)
{
	return join(state_dir, PATHS_TOKEN, ret);
}
