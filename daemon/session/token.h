/* The ECS endpoint token (INTERFACE.md Files): 32 random bytes as 43
 * characters of base64url, no newline, in STATE_DIR/token, mode 0600. It
 * survives restarts so clients' environment stays valid; a new one is made
 * only on logout (token_rotate), written by atomic rename. */
#pragma once

#include "util/secret.h"

#define TOKEN_LEN RANDOM_TOKEN_LEN

/* Loads STATE_DIR/token if it is a valid token owned by us with mode
 * 0600, else makes a new one. */
int token_load_or_create(const char *state_dir, struct secret **ret);
/* Makes and writes a new token. */
int token_rotate(const char *state_dir, struct secret **ret);
/* Creates dir with mode 0700 (or checks an existing one is ours, 0700). */
int state_dir_prepare(const char *dir);
/* Writes data to dir/name via a temp file, fsync and rename, mode 0600. */
int write_file_atomic(const char *dir, const char *name, const void *data,
		      size_t len);
