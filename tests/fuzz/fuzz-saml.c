/* Fuzzes SAML response parsing (daemon/idp/saml.c): the input as decoded
 * XML through saml_parse(), as raw base64 text through saml_parse_base64(),
 * and base64-encoded (as ADFS posts it, in 76-column lines) through
 * saml_parse_base64(), which must then agree with saml_parse(). */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "idp/saml.h"
#include "util/log.h"

static void check_info(const struct saml_info *s)
{
	FUZZ_CHECK(s->n_roles >= 1 && s->n_roles <= SAML_MAX_ROLES);
	for (size_t i = 0; i < s->n_roles; i++) {
		FUZZ_CHECK(strstr(s->roles[i].role_arn, ":role/"));
		FUZZ_CHECK(strstr(s->roles[i].principal_arn,
				  ":saml-provider/"));
	}
	FUZZ_CHECK(s->session_duration == 0 ||
		   (s->session_duration >= 900 &&
		    s->session_duration <= 43200));
}

static int parse_xml(const uint8_t *data, size_t size)
{
	struct saml_info *s = NULL;
	int r = saml_parse((const char *)data, size, &s);

	FUZZ_CHECK((r == 0) == (s != NULL));
	if (s) {
		check_info(s);
		saml_info_free(s);
	}
	return r;
}

/* Base64 with a line break every 76 characters. */
static char *encode(const uint8_t *data, size_t size, size_t *ret_len)
{
	size_t enc = (size + 2) / 3 * 4, out_len = 0;
	char *tmp = malloc(enc + 1), *out = malloc(enc + enc / 76 + 2);

	if (!tmp || !out) {
		free(tmp);
		free(out);
		return NULL;
	}
	(void)EVP_EncodeBlock((unsigned char *)tmp, data, (int)size);
	for (size_t i = 0; i < enc; i++) {
		out[out_len++] = tmp[i];
		if (i % 76 == 75)
			out[out_len++] = '\n';
	}
	free(tmp);
	*ret_len = out_len;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct saml_info *s = NULL;
	size_t b64_len;
	char *b64;
	int r, r64;

	log_set_level(LOG_ERR);
	r = parse_xml(data, size);

	r64 = saml_parse_base64((const char *)data, size, &s);
	FUZZ_CHECK((r64 == 0) == (s != NULL));
	if (s) {
		check_info(s);
		s = saml_info_free(s);
	}

	if (size == 0 || size > SAML_MAX_XML)
		return 0;
	b64 = encode(data, size, &b64_len);
	if (!b64)
		return 0;
	r64 = saml_parse_base64(b64, b64_len, &s);
	free(b64);
	/* The same bytes give the same verdict, encoded or not. */
	FUZZ_CHECK(r64 == r);
	if (s)
		saml_info_free(s);
	return 0;
}
