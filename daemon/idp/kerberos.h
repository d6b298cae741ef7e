/* The user's Kerberos ticket as the daemon's ADFS rounds will use it
 * (auth: kerberos): the ticket-granting ticket in the default credential
 * cache ($KRB5CCNAME, else libkrb5's default), read with libkrb5. Its end
 * time bounds how long Kerberos can renew without the user. */
#pragma once

#include "util/macro.h"

/* The TGT's end time and renew-till (wall clock; renew_till 0 when not
 * renewable). -ENOENT: no cache or no TGT in it; -EIO: libkrb5 failed. */
int kerberos_tgt_times(usec_t *ret_end, usec_t *ret_renew_till);
