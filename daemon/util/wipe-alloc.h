/* Allocator hooks for libraries that copy secrets into their own heap
 * memory (jansson: credential JSON; libxml2: the SAML assertion, STS
 * replies): every block is wiped before it is freed or moved. */
#pragma once

/* Installs wiping allocators into jansson and libxml2. Call before
 * xml_init() (libxml2 requires xmlMemSetup before its first use). */
void wipe_alloc_install(void);
