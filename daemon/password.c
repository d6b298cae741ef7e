#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

/* Which source and which version of it, without the password. */
static int source_id(const struct conf *c, const struct stat *st,
		     struct signin_source *ret)
{
	bool cred = c->adfs.password == CONF_PASSWORD_CREDENTIAL;

	signin_source_clear(ret);
	if (asprintf(&ret->ref, "%s:%s", cred ? "credential" : "file",
		     c->adfs.password_ref) < 0) {
		ret->ref = NULL;
		return -ENOMEM;
	}
	ret->credential = cred;
	ret->dev = (uint64_t)st->st_dev;
	ret->ino = (uint64_t)st->st_ino;
	ret->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
			st->st_mtim.tv_nsec;
	ret->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
			st->st_ctim.tv_nsec;
	return 0;
}

int password_read_source(const struct conf *c, struct secret **ret,
			 struct signin_source *ret_id, char *why, size_t n)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct buf b;
	struct stat st;
	int r;

	if (c->adfs.password == CONF_PASSWORD_FILE) {
		path = strdup(c->adfs.password_ref);
		if (!path)
			return -ENOMEM;
	} else if (c->adfs.password == CONF_PASSWORD_CREDENTIAL) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir) {
			(void)snprintf(why, n,
				       "adfs.password is credential:%s but "
				       "CREDENTIALS_DIRECTORY is not set; use "
				       "LoadCredential=%s:... in the unit",
				       c->adfs.password_ref, c->adfs.password_ref);
			return -ENOENT;
		}
		if (asprintf(&path, "%s/%s", dir, c->adfs.password_ref) < 0)
			return -ENOMEM;
	} else {
		return -ENOKEY;
	}
	/* One open file for the checks, the version and the read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		(void)snprintf(why, n, "Cannot read password %s %s: %s",
			       c->adfs.password == CONF_PASSWORD_FILE ? "file"
								     : "from",
			       path, strerror(-r));
		return r;
	}
	if (c->adfs.password == CONF_PASSWORD_FILE && (st.st_mode & 0077)) {
		(void)snprintf(why, n,
			       "Password file %s must have mode 0600 (it is "
			       "%04o); run chmod 600 %s",
			       path, st.st_mode & 07777, path);
		return -EPERM;
	}
	buf_init(&b, 4096);
	r = buf_read_fd(&b, fd);
	if (r < 0) {
		buf_clear(&b);
		(void)snprintf(why, n, "Cannot read password from %s: %s", path,
			       strerror(-r));
		return r;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	r = source_id(c, &st, ret_id);
	*ret = r < 0 ? NULL : secret_new_from(b.data, b.len);
	buf_clear(&b);
	if (!*ret)
		signin_source_clear(ret_id);
	return *ret ? 0 : -ENOMEM;
}

int password_watch(sd_event *e, const struct conf *c,
		   sd_event_inotify_handler_t fn, void *userdata,
		   sd_event_source **ret)
{
	_cleanup_free_ char *dir = NULL;

	*ret = NULL;
	if (c->adfs.password != CONF_PASSWORD_FILE)
		return 0;
	dir = strdup(c->adfs.password_ref);
	if (!dir)
		return -ENOMEM;
	/* Editors replace a file rather than write it: watch the folder. */
	return sd_event_add_inotify(e, ret, dirname(dir),
				    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
					    IN_ATTRIB | IN_ONLYDIR,
				    fn, userdata);
}
