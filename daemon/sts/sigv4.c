#include "sts/sigv4.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/encode.h"
#include "util/timeutil.h"

static int sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -EIO;
	encode_hex(md, 32, out);
	return 0;
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen,
		unsigned char out[32])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) ||
	    len != 32)
		return -EIO;
	return 0;
}

int sigv4_sign(const struct sigv4_request *req, char **ret_auth,
	       char ret_amz_date[static SIGV4_AMZ_DATE_LEN + 1])
{
	_cleanup_(secret_freep) struct secret *k = NULL;
	unsigned char key[32], sig[32];
	char date[9], amz[SIGV4_AMZ_DATE_LEN + 1], body_hash[65], creq_hash[65];
	char sig_hex[65], scope[160], signed_headers[96];
	struct buf creq, sts;
	char *auth = NULL;
	int r;

	if (strlen(format_iso8601_basic(amz, req->now)) != SIGV4_AMZ_DATE_LEN)
		return -EINVAL;
	memcpy(date, amz, 8);
	date[8] = '\0';
	r = sha256_hex(req->body ? req->body : "", req->body_len, body_hash);
	if (r < 0)
		return r;
	(void)snprintf(signed_headers, sizeof(signed_headers), "%shost;x-amz-date%s",
		       req->content_type ? "content-type;" : "",
		       req->session_token ? ";x-amz-security-token" : "");
	(void)snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date,
		       req->region, req->service);

	/* Canonical request (the session token is signed, so it is here). */
	buf_init(&creq, 64 * 1024);
	r = 0;
	r = r ?: buf_append_str(&creq, req->method);
	r = r ?: buf_append_str(&creq, "\n");
	r = r ?: buf_append_str(&creq, req->path);
	r = r ?: buf_append_str(&creq, "\n");
	r = r ?: buf_append_str(&creq, req->query);
	r = r ?: buf_append_str(&creq, "\n");
	if (req->content_type) {
		r = r ?: buf_append_str(&creq, "content-type:");
		r = r ?: buf_append_str(&creq, req->content_type);
		r = r ?: buf_append_str(&creq, "\n");
	}
	r = r ?: buf_append_str(&creq, "host:");
	r = r ?: buf_append_str(&creq, req->host);
	r = r ?: buf_append_str(&creq, "\nx-amz-date:");
	r = r ?: buf_append_str(&creq, amz);
	r = r ?: buf_append_str(&creq, "\n");
	if (req->session_token) {
		r = r ?: buf_append_str(&creq, "x-amz-security-token:");
		r = r ?: buf_append_str(&creq, req->session_token->data);
		r = r ?: buf_append_str(&creq, "\n");
	}
	r = r ?: buf_append_str(&creq, "\n");
	r = r ?: buf_append_str(&creq, signed_headers);
	r = r ?: buf_append_str(&creq, "\n");
	r = r ?: buf_append_str(&creq, body_hash);
	if (r == 0)
		r = sha256_hex(creq.data, creq.len, creq_hash);
	buf_clear(&creq);
	if (r < 0)
		return r;

	buf_init(&sts, 1024);
	r = 0;
	r = r ?: buf_append_str(&sts, "AWS4-HMAC-SHA256\n");
	r = r ?: buf_append_str(&sts, amz);
	r = r ?: buf_append_str(&sts, "\n");
	r = r ?: buf_append_str(&sts, scope);
	r = r ?: buf_append_str(&sts, "\n");
	r = r ?: buf_append_str(&sts, creq_hash);
	if (r < 0) {
		buf_clear(&sts);
		return r;
	}

	/* kSigning = HMAC chain "AWS4"+secret -> date -> region -> service
	 * -> "aws4_request"; every intermediate key stays wiped. */
	k = secret_new(4 + req->secret_access_key->len);
	if (!k) {
		buf_clear(&sts);
		return -ENOMEM;
	}
	r = secret_append(k, "AWS4", 4);
	r = r ?: secret_append(k, req->secret_access_key->data,
			       req->secret_access_key->len);
	r = r ?: hmac(k->data, k->len, date, strlen(date), key);
	r = r ?: hmac(key, 32, req->region, strlen(req->region), key);
	r = r ?: hmac(key, 32, req->service, strlen(req->service), key);
	r = r ?: hmac(key, 32, "aws4_request", 12, key);
	r = r ?: hmac(key, 32, sts.data, sts.len, sig);
	explicit_bzero(key, sizeof(key));
	buf_clear(&sts);
	if (r < 0)
		return r;
	encode_hex(sig, 32, sig_hex);
	if (asprintf(&auth,
		     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
		     "Signature=%s",
		     req->access_key_id, scope, signed_headers, sig_hex) < 0)
		return -ENOMEM;
	memcpy(ret_amz_date, amz, sizeof(amz));
	*ret_auth = auth;
	return 0;
}
