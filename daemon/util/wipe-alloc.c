#include "util/wipe-alloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <libxml/xmlmemory.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void wipe_free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* realloc may move a block and leave the old copy behind: move it
 * ourselves and wipe the old one. */
static void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	old = malloc_usable_size(p);
	q = malloc(n ? n : 1);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

static char *wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void wipe_alloc_install(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
	(void)xmlMemSetup(wipe_free, malloc, wipe_realloc, wipe_strdup);
}

int wipe_alloc_curl_global_init(void)
{
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free,
				    wipe_realloc, wipe_strdup,
				    calloc) == CURLE_OK
		       ? 0
		       : -EIO;
}
