/* Allocator hooks for libraries that copy secrets into their own heap
 * memory (jansson): every block is wiped before it is freed. */
#pragma once

/* Installs wiping free functions into jansson. */
void wipe_alloc_install(void);
