/* Fuzzes the STS/IAM query-protocol reply parsers (daemon/sts/sts-xml.c):
 * every input goes through the AssumeRoleWithSAML success parser, the
 * ErrorResponse parser (then sts.c's duration-error test, which reads its
 * Code and Message) and the IAM GetRole parser, as the daemon may hand any
 * reply body to any of them. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "sts/sts-xml.h"
#include "sts/sts.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct sts_creds *c = NULL;
	struct sts_error *e = NULL;
	uint32_t max = 0;
	int r;

	log_set_level(LOG_ERR);

	r = sts_xml_parse_assume(xml, size, &c);
	FUZZ_CHECK((r == 0) == (c != NULL));
	if (c) {
		FUZZ_CHECK(c->access_key_id && *c->access_key_id);
		FUZZ_CHECK(c->secret_access_key && c->secret_access_key->len);
		FUZZ_CHECK(c->session_token && c->session_token->len);
		FUZZ_CHECK(c->assumed_role_arn && *c->assumed_role_arn);
		FUZZ_CHECK(c->account_id && strlen(c->account_id) == 12 &&
			   strspn(c->account_id, "0123456789") == 12);
		FUZZ_CHECK(c->expiration > 0);
		sts_creds_free(c);
	}

	r = sts_xml_parse_error(xml, size, &e);
	FUZZ_CHECK((r == 0) == (e != NULL));
	if (e) {
		FUZZ_CHECK(e->code && *e->code);
		FUZZ_CHECK(e->message);
		(void)sts_error_is_duration_too_long(e);
		sts_error_free(e);
	}

	r = sts_xml_parse_get_role(xml, size, &max);
	if (r == 0)
		FUZZ_CHECK(max >= 3600 && max <= 43200);
	return 0;
}
