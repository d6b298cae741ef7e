#include "password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"

int password_read_source(const struct conf *c, struct secret **ret, char *why,
			 size_t n)
{
	_cleanup_free_ char *path = NULL;
	struct buf b;
	struct stat st;
	int r;

	if (c->adfs.password == CONF_PASSWORD_FILE) {
		path = strdup(c->adfs.password_ref);
		if (!path)
			return -ENOMEM;
		if (stat(path, &st) < 0) {
			r = -errno;
			(void)snprintf(why, n, "Cannot read password file %s: %s",
				       path, strerror(-r));
			return r;
		}
		if (st.st_mode & 0077) {
			(void)snprintf(why, n,
				       "Password file %s must have mode 0600 (it "
				       "is %04o); run chmod 600 %s",
				       path, st.st_mode & 07777, path);
			return -EPERM;
		}
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
	buf_init(&b, 4096);
	r = buf_read_file(&b, path);
	if (r < 0) {
		buf_clear(&b);
		(void)snprintf(why, n, "Cannot read password from %s: %s", path,
			       strerror(-r));
		return r;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	*ret = secret_new_from(b.data, b.len);
	buf_clear(&b);
	return *ret ? 0 : -ENOMEM;
}

