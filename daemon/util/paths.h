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
