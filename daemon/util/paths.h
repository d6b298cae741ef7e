/* Where adfs-credd keeps its runtime files (INTERFACE.md Files): the one
 * rule, shared by the daemon and adfs-credctl. Results are heap strings
 * owned by the caller. */
#pragma once

#define PATHS_STATE_SUBDIR "adfs-credd"     /* under $XDG_RUNTIME_DIR */
#define PATHS_CONTROL_SOCKET "control.sock" /* in the state directory */
#define PATHS_TOKEN "token"                 /* in the state directory */

/* The state directory: configured (the config's state_dir) when set,
 * else $XDG_RUNTIME_DIR/adfs-credd. -EINVAL when neither is usable
 * (XDG_RUNTIME_DIR unset, empty or relative), -ENOMEM. */
int paths_state_dir(const char *configured, char **ret);
/* STATE_DIR/control.sock. -ENOMEM. */
int paths_control_socket(const char *state_dir, char **ret);
/* STATE_DIR/token. -ENOMEM. */
int paths_token(const char *state_dir, char **ret);
/* Creates the state directory (0700) when missing, and makes sure no other
 * user can put things in it or swap it: it must be a real directory (not
 * a symlink) owned by us, left at 0700; every directory above it (after
 * symlinks are resolved) must be owned by root or us and, when group or
 * others may write it, sticky and owned by root or us (in a user
 * namespace that does not map root, as under a user unit's
 * PrivateUsers=, root's directories show as the overflow uid and are
 * taken as root's: the sandbox's mounts are all there is). -ELOOP for a
 * symlink, -ENOTDIR, -EPERM (someone else's directory), -EACCES (a parent
 * another user can write). When a rule is broken, *ret_why (static) says
 * which and *ret_where (heap, the caller's) the path at fault; other
 * errors leave both untouched. */
int paths_prepare_state_dir(const char *dir, const char **ret_why,
			    char **ret_where);
