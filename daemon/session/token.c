#include "session/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/paths.h"

int state_dir_prepare(const char *dir)
{
	_cleanup_free_ char *where = NULL;
	const char *why = NULL;
	int r;

	/* Another user who can swap the directory or a parent could plant a
	 * control socket of their own and catch the password. */
	r = paths_prepare_state_dir(dir, &why, &where);
	if (r < 0 && why)
		log_error("State directory %s: %s %s", dir, where, why);
	return r;
}

int write_file_atomic(const char *dir, const char *name, const void *data,
		      size_t len)
{
	_cleanup_free_ char *tmp = NULL, *dst = NULL;
	_cleanup_close_ int fd = -1;
	const char *p = data;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0 ||
	    asprintf(&dst, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		goto fail;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, dst) < 0)
		goto fail;
	return 0;
fail:;
	int r = -errno;
	(void)unlink(tmp);
	return r;
}

static bool is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789-_",
			    s[i]) ||
		    s[i] == '\0')
			return false;
	return true;
}

int token_rotate(const char *state_dir, struct secret **ret)
{
	_cleanup_(secret_freep) struct secret *t = NULL;
	char tok[RANDOM_TOKEN_LEN + 1];
	int r;

	r = random_token(tok);
	if (r < 0)
		return r;
	t = secret_new_from(tok, TOKEN_LEN);
	explicit_bzero(tok, sizeof(tok));
	if (!t)
		return -ENOMEM;
	r = write_file_atomic(state_dir, PATHS_TOKEN, t->data, t->len);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(t);
	return 0;
}

int token_load_or_create(const char *state_dir, struct secret **ret)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	char b[TOKEN_LEN + 2];
	struct stat st;
	ssize_t n;

	if (paths_token(state_dir, &path) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid() && (st.st_mode & 0777) == 0600) {
		n = read(fd, b, sizeof(b));
		if (n == TOKEN_LEN && is_b64url(b, TOKEN_LEN)) {
			*ret = secret_new_from(b, TOKEN_LEN);
			explicit_bzero(b, sizeof(b));
			return *ret ? 0 : -ENOMEM;
		}
		explicit_bzero(b, sizeof(b));
		log_warning("Token file %s is not a valid token, replacing it",
			    path);
	}
	return token_rotate(state_dir, ret);
}
