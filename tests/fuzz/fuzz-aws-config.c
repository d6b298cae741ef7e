/* Fuzzes the AWS config file's adfs-credd block (util/aws-config.c):
 * aws_config_update() on any bytes, then aws_config_diff(). What it
 * promises: a refusal says why and gives nothing; an update keeps a file
 * without a block as the start of the result, puts exactly one block in,
 * and a second update changes nothing; the diff is empty exactly when the
 * texts are equal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/aws-config.h"

static const char *const roles[] = { "dev", "prod" };

static size_t count(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);

	for (size_t i = 0; i + k <= len; i++)
		if ((i == 0 || hay[i - 1] == '\n') &&
		    memcmp(hay + i, needle, k) == 0)
			n++;
	return n;
}

/* Where the first line starting with marker is, or len. */
static size_t find(const char *hay, size_t len, const char *marker)
{
	size_t k = strlen(marker);

	for (size_t i = 0; i + k <= len; i++)
		if ((i == 0 || hay[i - 1] == '\n') &&
		    memcmp(hay + i, marker, k) == 0)
			return i;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte picks a prefix and whether to name a config. */
	const struct aws_config_block b = {
		.roles = roles,
		.n_roles = 2,
		.prefix = size > 0 && (data[0] & 1) ? "adfs-" : "",
		.config_path = size > 0 && (data[0] & 2) ? "/x y/c.yaml" : NULL,
		.region = size > 0 && (data[0] & 4) ? "eu-west-1" : NULL,
	};
	const char *text = size > 0 ? (const char *)data + 1 : NULL;
	size_t len = size > 0 ? size - 1 : 0;
	struct aws_config_error err = { 0 };
	char *out = NULL, *again = NULL, *diff = NULL;
	size_t out_len = 0, again_len = 0;
	int r;

	r = aws_config_update(text, len, &b, &out, &out_len, &err);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -EEXIST || r == -EFBIG ||
			   r == -ENOMEM);
		FUZZ_CHECK(r == -ENOMEM || err.msg[0]);
		FUZZ_CHECK(!out);
		return 0;
	}
	FUZZ_CHECK(out && strlen(out) == out_len);
	FUZZ_CHECK(count(out, out_len, AWS_CONFIG_BEGIN) == 1);
	FUZZ_CHECK(count(out, out_len, AWS_CONFIG_END) == 1);
	if (count(text, len, AWS_CONFIG_BEGIN) == 0) {
		FUZZ_CHECK(out_len > len &&
			   (len == 0 || memcmp(out, text, len) == 0));
	} else if (text) {
		/* Before the block and after its end line: byte for byte. */
		size_t begin = find(text, len, AWS_CONFIG_BEGIN);
		size_t end = find(text, len, AWS_CONFIG_END);
		const char *nl = memchr(text + end, '\n', len - end);
		size_t tail = nl ? len - (size_t)(nl + 1 - text) : 0;

		FUZZ_CHECK(begin < end && end < len);
		FUZZ_CHECK(memcmp(out, text, begin) == 0);
		FUZZ_CHECK(out_len >= tail &&
			   memcmp(out + out_len - tail, text + len - tail,
				  tail) == 0);
	}
	FUZZ_CHECK(aws_config_update(out, out_len, &b, &again, &again_len,
				     &err) == 0);
	FUZZ_CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
	if (aws_config_diff(text, len, out, out_len, "a", "b", &diff) == 0) {
		FUZZ_CHECK((diff[0] == '\0') ==
			   (text && len == out_len &&
			    memcmp(text, out, len) == 0));
		free(diff);
	}
	free(again);
	free(out);
	return 0;
}
