/* The pure part of `adfs-credctl aws-config`: one marked block of
 * credential_process profiles in the AWS config file (~/.aws/config).
 * Renders the block, finds and replaces it in the file's bytes (everything
 * outside it kept byte for byte), refuses a file it cannot read as INI, and
 * writes the unified diff --diff prints. No I/O, no environment: bytes in,
 * bytes out. See docs/internals/aws-config.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The marker lines (a line that starts with one is a marker). */
#define AWS_CONFIG_BEGIN "# BEGIN adfs-credd profiles"
#define AWS_CONFIG_END "# END adfs-credd profiles"
/* The biggest AWS config file it reads: far beyond any real one. */
#define AWS_CONFIG_MAX_SIZE (1024u * 1024u)

/* What goes into the block: one profile per role, named prefix + role.
 * Everything borrowed. */
struct aws_config_block {
	const char *const *roles; /* the config's role names, in its order */
	size_t n_roles;
	const char *prefix;      /* "" or NULL: the role name itself */
	const char *config_path; /* NULL: the default config; else absolute */
	const char *region;      /* NULL: no region line */
};

/* Why a file is refused: line (1-based, 0 when no one line) and a
 * sentence that says what to do. */
struct aws_config_error {
	unsigned line;
	char msg[512];
};

/* Whether prefix may start profile names: A-Z a-z 0-9 _ . @ + = -, as
 * role names (empty: yes). */
bool aws_config_prefix_ok(const char *prefix);

/* The block, lines ended by eol ("\n" or "\r\n"), in *ret (the caller's,
 * NUL-terminated). -EINVAL (with err) when a role name or the config path
 * cannot be written into a profile, -ENOMEM. */
int aws_config_render(const struct aws_config_block *b, const char *eol,
		      char **ret, struct aws_config_error *err);

/* The file's len bytes (text may be NULL when len is 0: no file) with the
 * block put in: in place of the old block, else appended after one blank
 * line. The block's line ends follow the file's first line (CRLF or LF).
 * On success *ret (the caller's, NUL-terminated) and *ret_len. Refusals
 * fill err: -EBADMSG (not INI, a marker missing or doubled, binary),
 * -EEXIST (a profile outside the block has a name the block defines),
 * -EFBIG (over AWS_CONFIG_MAX_SIZE); -EINVAL as aws_config_render,
 * -ENOMEM. */
int aws_config_update(const char *text, size_t len,
		      const struct aws_config_block *b, char **ret,
		      size_t *ret_len, struct aws_config_error *err);

/* A unified diff (one hunk, 3 lines of context, "\ No newline at end of
 * file" where due) from old to new, headed "--- old_name" and "+++
 * new_name"; "" when they are equal. *ret is the caller's. -ENOMEM. */
int aws_config_diff(const char *old, size_t old_len, const char *new,
		    size_t new_len, const char *old_name, const char *new_name,
		    char **ret);
