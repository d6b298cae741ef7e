/* Allocator hooks for libraries that copy secrets into their own heap
 * memory (jansson: credential JSON; libxml2: the SAML assertion, STS
 * replies; libcurl: request buffers with the password or the assertion in
 * a POST, download buffers with STS replies): every block is wiped before
 * it is freed or moved. */
#pragma once

/* Installs wiping allocators into jansson and libxml2. Call before
 * xml_init() (libxml2 requires xmlMemSetup before its first use). */
void wipe_alloc_install(void);

/* curl_global_init(CURL_GLOBAL_DEFAULT) with the same wiping allocators;
 * 0, or -EIO. Call instead of curl_global_init(). */
int wipe_alloc_curl_global_init(void);
