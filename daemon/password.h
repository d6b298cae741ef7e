/* The password from where the configuration says (adfs.password):
 * file:PATH, which must be 0600, or credential:NAME, a systemd credential
 * (LoadCredential=) in $CREDENTIALS_DIRECTORY. */
#pragma once

#include <stddef.h>

#include "conf/conf.h"
#include "util/secret.h"

/* Reads it into a new secret (trailing newlines dropped). -ENOKEY when
 * the configuration prompts for it instead; another negative errno with
 * why (n bytes, no secret) saying what is wrong and what to do. */
int password_read_source(const struct conf *c, struct secret **ret, char *why,
			 size_t n);
