#include "util/secret.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/mman.h>

#include "util/encode.h"
#include "util/log.h"

static bool lock_failed;

bool secret_lock_failed(void)
{
	return lock_failed;
}

struct secret *secret_new(size_t cap)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t need, map_len;
	struct secret *s;
	void *m;

	if (page <= 0)
		page = 4096;
	/* Header and data share one locked mapping. */
	if (cap > SIZE_MAX / 2)
		return NULL;
	need = sizeof(struct secret) + cap + 1;
	map_len = (need + (size_t)page - 1) & ~((size_t)page - 1);
	m = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, map_len, MADV_DONTDUMP);
	if (mlock(m, map_len) < 0 && !lock_failed) {
		lock_failed = true;
		log_warning_errno(errno,
				  "Failed to lock secret memory (raise "
				  "LimitMEMLOCK=): %m, continuing unlocked");
	}
	s = m;
	s->len = 0;
	s->cap = map_len - sizeof(struct secret) - 1;
	s->data = (char *)m + sizeof(struct secret);
	s->data[0] = '\0';
	s->map_len = map_len;
	return s;
}

struct secret *secret_new_from(const void *p, size_t len)
{
	struct secret *s = secret_new(len);

	if (!s)
		return NULL;
	if (len)
		memcpy(s->data, p, len);
	s->len = len;
	s->data[len] = '\0';
	return s;
}

int secret_append(struct secret *s, const void *p, size_t len)
{
	if (len > s->cap - s->len)
		return -ENOBUFS;
	memcpy(s->data + s->len, p, len);
	s->len += len;
	s->data[s->len] = '\0';
	return 0;
}

struct secret *secret_free(struct secret *s)
{
	size_t map_len;

	if (!s)
		return NULL;
	map_len = s->map_len;
	explicit_bzero(s, map_len);
	(void)munlock(s, map_len);
	(void)munmap(s, map_len);
	return NULL;
}

bool secret_equal(const struct secret *s, const void *p, size_t len)
{
	if (!s || !p || s->len != len)
		return false;
	return CRYPTO_memcmp(s->data, p, len) == 0;
}

void erase_and_free(char *p)
{
	if (!p)
		return;
	explicit_bzero(p, strlen(p));
	free(p);
}

int random_token(char out[static RANDOM_TOKEN_LEN + 1])
{
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	(void)encode_base64url(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}
