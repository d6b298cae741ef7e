/* Fuzzes the WS-Trust 1.3 reply parser (daemon/idp/wstrust.c): an RSTR,
 * RSTRC or SOAP Fault. An assertion it extracts is then wrapped in a
 * samlp:Response and base64-encoded as the daemon does, and the result is
 * parsed back with saml_parse_base64(). */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "idp/saml.h"
#include "idp/wstrust.h"
#include "util/log.h"

/* 2026-01-01T00:00:00Z */
#define NOW ((usec_t)1767225600 * USEC_PER_SEC)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secret *assertion = NULL, *b64 = NULL;
	struct saml_info *s = NULL;
	char *fault = NULL;
	int r;

	log_set_level(LOG_ERR);
	r = wstrust_parse_response((const char *)data, size, &assertion,
				   &fault);
	FUZZ_CHECK((r == 0) == (assertion != NULL));
	if (r == 0)
		FUZZ_CHECK(!fault);
	free(fault);
	if (!assertion)
		return 0;
	FUZZ_CHECK(assertion->len > 0);
	r = wstrust_wrap_response(assertion, "https://signin.aws.amazon.com/saml",
				  NOW, &b64);
	FUZZ_CHECK((r == 0) == (b64 != NULL));
	if (b64 && saml_parse_base64(b64->data, b64->len, &s) == 0)
		saml_info_free(s);
	secret_free(b64);
	secret_free(assertion);
	return 0;
}
