#include "util/wipe-alloc.h"

#include <jansson.h>
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

void wipe_alloc_install(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}
