/* Fuzzes ADFS HTML page classification and form extraction
 * (daemon/idp/adfs-page.c), and what the sign-in does next with a SAML
 * page: the SAMLResponse value goes through saml_parse_base64(). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "idp/adfs-page.h"
#include "idp/saml.h"
#include "util/log.h"

#define BASE                                                                 \
	"https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx"           \
	"?loginToRp=urn:amazon:webservices"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adfs_page *p = NULL;
	struct saml_info *s = NULL;
	struct adfs_field *f;
	int r;

	log_set_level(LOG_ERR);
	r = adfs_page_parse((const char *)data, size, BASE, &p);
	/* Any bytes below the cap make a page of some kind. */
	FUZZ_CHECK(r == 0 || r == -E2BIG || r == -ENOMEM);
	if (r < 0)
		return 0;
	FUZZ_CHECK(p->n_fields <= ADFS_MAX_FIELDS);
	for (size_t i = 0; i < p->n_fields; i++) {
		FUZZ_CHECK(p->fields[i].name && *p->fields[i].name);
		FUZZ_CHECK(p->fields[i].value);
		FUZZ_CHECK(strcasecmp(p->fields[i].name, "SAMLResponse") != 0);
	}
	if (p->kind == ADFS_PAGE_LOGIN) {
		FUZZ_CHECK(adfs_page_field(p, "UserName"));
		FUZZ_CHECK(adfs_page_field(p, "Password"));
	}
	if (p->kind == ADFS_PAGE_SAML) {
		FUZZ_CHECK(p->saml_response);
		if (saml_parse_base64(p->saml_response->data,
				      p->saml_response->len, &s) == 0)
			saml_info_free(s);
	}
	f = adfs_page_field(p, "AuthMethod");
	if (f)
		FUZZ_CHECK(f->value);
	adfs_page_free(p);
	return 0;
}
