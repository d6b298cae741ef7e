/* The control socket (INTERFACE.md Files: STATE_DIR/control.sock, 0600,
 * peer uid must be ours): small JSON over HTTP/1.1 on AF_UNIX, served by
 * libmicrohttpd on the manager's loop. adfs-credctl is its client.
 *
 *   POST /v1/login        body: the raw password (may be empty when the
 *                         config names a password file or credential)
 *   POST /v1/mfa          body: the verification code (empty for a
 *                         push approval); answers {"mfa": ...} below
 *   POST /v1/login?force=1  the same, after POST /v1/login/cancel
 *   POST /v1/login/cancel stops the sign-in or refresh in flight:
 *                         {"ok": true, "cancelled": bool}; so does the
 *                         client of a waiting login/mfa hanging up
 *   POST /v1/logout
 *   POST /v1/refresh[?role=NAME]
 *   GET  /v1/status       INTERFACE.md `status --json`, with the horizon
 *   GET  /v1/check?for=SECONDS[&role=NAME]  {"ok": bool, "message": why
 *                         not}: served that long without a person?
 *   GET  /v1/roles        roles the last assertion offered
 *   GET  /v1/env[?role=NAME]          ECS URL, token and token file
 *   GET  /v1/credentials[?role=NAME]  credential_process JSON (Version 1)
 *
 * Login, mfa and refresh replies wait for the refresh cycle to end. When
 * ADFS asks for a second factor meanwhile, the reply is
 * {"mfa": {"kind": "otp"|"push", "hint": "42"|null, "expires_in": seconds
 * the daemon waits for a push's approval, or null}} and the caller goes on
 * with POST /v1/mfa. While any of these waits, GET /v1/status has
 * "progress": {"phase": "sign_in"|"mfa"|"roles", "done": N, "total": M}
 * (null when nothing runs). Errors are {"error": "one line"} with a 4xx/5xx
 * status. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

#define CONTROL_MAX_BODY 4096u /* a password */

struct manager;
struct control;

/* Serves the control socket for m (through its public API only) on fd, a
 * listening unix socket systemd passed (taken), or on a socket of its own
 * at STATE_DIR/control.sock when fd is -1 (removed again on free). Only
 * peers with uid are served. */
int control_new(struct manager *m, sd_event *e, const char *state_dir,
		uid_t uid, int fd, struct control **ret);
struct control *control_free(struct control *c);
