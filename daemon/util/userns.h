/* What the user namespace we run in does to uids, read from /proc: under
 * a user unit's PrivateUsers= the daemon runs in one, where users that
 * are not mapped (root among them) show as the overflow uid. */
#pragma once

#include <sys/types.h>

/* 1 when this process runs in a user namespace other than the initial one
 * (/proc/self/uid_map is not the identity map of every uid), 0 when not,
 * negative errno when that cannot be read. */
int userns_nested(void);
/* /proc/sys/kernel/overflowuid: the uid the kernel reports for a user not
 * mapped into a user namespace (65534 when it cannot be read). */
uid_t userns_overflow_uid(void);
/* The uid that stands for root here: 0 when root is mapped to itself,
 * the overflow uid when root is not mapped (root's directories show as
 * that uid), (uid_t)-1 when root is mapped to another uid. */
uid_t userns_root_uid(void);
