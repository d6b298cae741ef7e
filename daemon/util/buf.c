#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap)
{
	*b = (struct buf){ .cap = cap };
}

int buf_append(struct buf *b, const void *p, size_t len)
{
	size_t need, n;
	char *d;

	if (len > b->cap - b->len) {
		b->overflow = 1;
		return -ENOBUFS;
	}
	need = b->len + len + 1;
	if (!b->data || need > b->alloc) {
		n = b->alloc ? b->alloc : 256;
		while (n < need)
			n *= 2;
		if (n > b->cap + 1)
			n = b->cap + 1;
		d = malloc(n);
		if (!d)
			return -ENOMEM;
		/* Copy and wipe rather than realloc: no stale copy left. */
		if (b->data) {
			memcpy(d, b->data, b->len);
			explicit_bzero(b->data, b->alloc);
			free(b->data);
		}
		b->data = d;
		b->alloc = n;
	}
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

void buf_clear(struct buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->alloc);
		free(b->data);
	}
	buf_init(b, b->cap);
}

int buf_read_fd(struct buf *b, int fd)
{
	char tmp[4096];
	ssize_t n;
	int r;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0) {
			r = 0;
			break;
		}
		r = buf_append(b, tmp, (size_t)n);
		if (r < 0)
			break;
	}
	explicit_bzero(tmp, sizeof(tmp));
	if (r == 0 && !b->data)
		r = buf_append(b, "", 0);
	return r;
}

int buf_read_file(struct buf *b, const char *path)
{
	_cleanup_close_ int fd = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return buf_read_fd(b, fd);
}
