#include "idp/kerberos.h"

#include <errno.h>
#include <krb5.h>
#include <stdbool.h>
#include <string.h>

static bool data_is(const krb5_data *d, const char *s, size_t n)
{
	return d->length == n && memcmp(d->data, s, n) == 0;
}

/* Whether server is krbtgt/REALM@REALM of the client's own realm. */
static bool is_local_tgt(krb5_const_principal server,
			 krb5_const_principal client)
{
	const krb5_data *realm = &client->realm;

	return server->length == 2 &&
	       data_is(&server->data[0], KRB5_TGS_NAME,
		       strlen(KRB5_TGS_NAME)) &&
	       data_is(&server->data[1], realm->data, realm->length) &&
	       data_is(&server->realm, realm->data, realm->length);
}

int kerberos_tgt_times(usec_t *ret_end, usec_t *ret_renew_till)
{
	krb5_context ctx = NULL;
	krb5_ccache cc = NULL;
	krb5_principal me = NULL;
	krb5_cc_cursor cur;
	krb5_creds c;
	int r = -ENOENT;

	if (krb5_init_context(&ctx) != 0)
		return -EIO;
	if (krb5_cc_default(ctx, &cc) != 0 ||
	    krb5_cc_get_principal(ctx, cc, &me) != 0 ||
	    krb5_cc_start_seq_get(ctx, cc, &cur) != 0)
		goto out;
	while (krb5_cc_next_cred(ctx, cc, &cur, &c) == 0) {
		if (!krb5_is_config_principal(ctx, c.server) &&
		    is_local_tgt(c.server, me)) {
			*ret_end = (usec_t)c.times.endtime * USEC_PER_SEC;
			*ret_renew_till =
				c.ticket_flags & TKT_FLG_RENEWABLE
					? (usec_t)c.times.renew_till *
						  USEC_PER_SEC
					: 0;
			r = 0;
		}
		krb5_free_cred_contents(ctx, &c);
		if (r == 0)
			break;
	}
	(void)krb5_cc_end_seq_get(ctx, cc, &cur);
out:
	if (me)
		krb5_free_principal(ctx, me);
	if (cc)
		(void)krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
	return r;
}
