/* EC2 instance metadata (IMDSv2) for the one role SDKs look for
 * (INTERFACE.md "Local endpoints", PROTOCOLS.md B): session tokens from
 * PUT /latest/api/token, then the role list and its credentials document.
 * IMDSv1 (no token) is refused with 401; error bodies are empty. */
#pragma once

#include <microhttpd.h>

#include "session/store.h"
#include "util/secret.h"

#define IMDS_MAX_TOKENS 256u
#define IMDS_TOKEN_LEN RANDOM_TOKEN_LEN
#define IMDS_TTL_MAX 21600u

struct guard;

struct imds_token {
	usec_t expires; /* CLOCK_MONOTONIC; 0 = free slot */
	char *value;    /* points into tokens_mem */
};

struct imds {
	struct store *store;  /* borrowed */
	struct guard *guard;  /* borrowed */
	const char *role;     /* serve.imds_role or default_role (borrowed), NULL:
				 the store's default role */
	struct secret *tokens_mem; /* IMDS_MAX_TOKENS * IMDS_TOKEN_LEN, locked */
	struct imds_token tokens[IMDS_MAX_TOKENS];
	size_t next;          /* slot to reuse when all are live */
};

int imds_init(struct imds *m);
void imds_clear(struct imds *m);

/* The MHD access handler; cls is a struct imds. */
enum MHD_Result imds_handle(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **con_cls);
