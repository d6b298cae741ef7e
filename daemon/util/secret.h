/* Secrets (passwords, assertions, secret keys, session tokens, rendered
 * credential JSON) live only in a struct secret: page-aligned mmap'd memory,
 * mlock'd, MADV_DONTDUMP, wiped with explicit_bzero before it is unmapped.
 * The data is always NUL-terminated so it can be used as a C string. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

struct secret {
	size_t len;   /* bytes in use, excluding the terminating NUL */
	size_t cap;   /* usable bytes, excluding the NUL */
	char *data;   /* points into the locked mapping */
	size_t map_len;
};

/* Allocates an empty secret able to hold cap bytes; NULL on ENOMEM. */
struct secret *secret_new(size_t cap);
/* Copies len bytes of p into a new secret; NULL on ENOMEM. */
struct secret *secret_new_from(const void *p, size_t len);
/* Appends; -ENOBUFS when it would exceed cap. */
int secret_append(struct secret *s, const void *p, size_t len);
/* Wipes and frees; accepts NULL; returns NULL. */
struct secret *secret_free(struct secret *s);
DEFINE_FREEP(struct secret, secret_free)
/* Whether mlock has ever failed (RLIMIT_MEMLOCK too small). */
bool secret_lock_failed(void);
/* Constant-time comparison of a secret with len bytes at p. */
bool secret_equal(const struct secret *s, const void *p, size_t len);

#define RANDOM_TOKEN_LEN 43 /* 32 random bytes as base64url, no padding */

/* Writes a fresh random token (RANDOM_TOKEN_LEN characters of base64url)
 * and a NUL to out. -EIO when the random generator fails. */
int random_token(char out[static RANDOM_TOKEN_LEN + 1]);

/* Wipes and frees a heap string; accepts NULL. */
void erase_and_free(char *p);
static inline void erase_and_freep(char **p)
{
	erase_and_free(*p);
}
#define _cleanup_erase_ _cleanup_(erase_and_freep)
