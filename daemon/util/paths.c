/* Runtime paths (see paths.h). */
#include "util/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/userns.h"

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

/* Whether another user can change the entries of directory st: its owner
 * is neither root nor us, or group or others may write it without the
 * sticky bit. */
static const char *foreign_writable(const struct stat *st, uid_t me,
				    uid_t root)
{
	if (st->st_uid != 0 && st->st_uid != root && st->st_uid != me)
		return "belongs to another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return "can be written by other users and is not sticky";
	return NULL;
}

int paths_prepare_state_dir(const char *dir, const char **ret_why,
			    char **ret_where)
{
	_cleanup_free_ char *copy = NULL, *real = NULL;
	uid_t me = geteuid(), root = userns_root_uid();
	struct stat st;
	char *slash;

	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	/* The parent, symlinks resolved: each directory from there up to /
	 * must be ours or root's, and not open to others unless sticky. */
	while ((slash = strrchr(copy, '/')) && slash != copy && !slash[1])
		*slash = '\0';
	slash = strrchr(copy, '/');
	if (slash == copy)
		real = strdup("/");
	else if (slash) {
		*slash = '\0';
		real = realpath(copy, NULL);
	} else {
		real = realpath(".", NULL);
	}
	if (!real) {
		*ret_why = "cannot be resolved";
		*ret_where = TAKE_PTR(copy);
		return -errno;
	}
	for (;;) {
		const char *why;

		if (lstat(real, &st) < 0) {
			*ret_why = "cannot be read";
			*ret_where = TAKE_PTR(real);
			return -errno;
		}
		why = foreign_writable(&st, me, root);
		if (why) {
			*ret_why = why;
			*ret_where = TAKE_PTR(real);
			return -EACCES;
		}
		slash = strrchr(real, '/');
		if (!slash || streq(real, "/"))
			break;
		slash[slash == real ? 1 : 0] = '\0';
	}

	/* The directory itself: never followed, ours alone. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	*ret_why = S_ISLNK(st.st_mode)	 ? "is a symbolic link"
		   : !S_ISDIR(st.st_mode) ? "is not a directory"
		   : st.st_uid != me	 ? "belongs to another user"
					 : NULL;
	if (*ret_why) {
		*ret_where = strdup(dir);
		return S_ISLNK(st.st_mode)    ? -ELOOP
		       : !S_ISDIR(st.st_mode) ? -ENOTDIR
					      : -EPERM;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
		return -errno;
	return 0;
}
