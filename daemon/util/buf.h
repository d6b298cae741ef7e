/* Growable byte buffer with a hard cap set at init; always NUL-terminated.
 * Used for every body read from the network or disk. */
#pragma once

#include <stddef.h>

#include "util/macro.h"

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap; /* the most bytes it may ever hold */
	int overflow; /* an append was refused because of cap */
};

void buf_init(struct buf *b, size_t cap);
/* Appends; -ENOBUFS (and sets overflow) past cap, -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t len);
int buf_append_str(struct buf *b, const char *s);
/* Frees the storage (wiping it first: bodies may hold secrets). */
void buf_clear(struct buf *b);
/* Reads a whole file into b (cap applies); negative errno on failure. */
int buf_read_file(struct buf *b, const char *path);
/* The same from an open fd, to its end. */
int buf_read_fd(struct buf *b, int fd);
