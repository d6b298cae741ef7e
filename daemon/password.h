/* The password from where the configuration says (adfs.password):
 * file:PATH, which must be 0600, or credential:NAME, a systemd credential
 * (LoadCredential=) in $CREDENTIALS_DIRECTORY. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "conf/conf.h"
#include "signin.h"
#include "util/secret.h"

/* Reads it into a new secret (trailing newlines dropped) and says which
 * source and which version of it it was (*ret_id, the caller's to clear;
 * nothing in it is derived from the password). -ENOKEY when the
 * configuration prompts for it instead; another negative errno with why
 * (n bytes, no secret) saying what is wrong and what to do. */
int password_read_source(const struct conf *c, struct secret **ret,
			 struct signin_source *ret_id, char *why, size_t n);

/* Calls fn when a file: source may have changed (written, replaced,
 * renamed into place, its mode changed): an inotify watch on its folder.
 * *ret is NULL for other sources. */
int password_watch(sd_event *e, const struct conf *c,
		   sd_event_inotify_handler_t fn, void *userdata,
		   sd_event_source **ret);
