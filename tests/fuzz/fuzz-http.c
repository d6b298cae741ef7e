/* Fuzzes the ECS and IMDS route in-process (http/route.c with the checks
 * of http/guard.c): the input is parsed as raw HTTP/1.1 requests by a small
 * parser here, each becomes a struct http_request and goes through
 * http_route_ecs() or http_route_imds() against one store; no sockets, no
 * libmicrohttpd, so it runs thousands of times faster than the end-to-end
 * fuzz-http-mhd.c, which reads the same corpus (corpus/http/).
 *
 * Input: byte 0 picks the set-up (bit 0: IMDS, else ECS; bit 1: not signed
 * in; bit 2: no imds_role configured; bit 3: the peer's uid is neither the
 * daemon's nor in serve.allowed_uids; bit 4: the peer is not on loopback;
 * bit 5: the peer's uid is unknown; bit 6: serve.allow_non_loopback; bit
 * 7: the peer cannot be told at all). The rest is one or more requests
 * (pipelined, each ends at its empty line; bodies are not read), with
 * "@ECS_TOKEN@" and "@IMDS_TOKEN@" replaced by the live tokens and
 * "@MINTED_TOKEN@" by the token the next PUT /latest/api/token hands out,
 * so the fuzzer gets past authentication. The store holds a role with
 * valid credentials (prod), one whose credentials expired (dev), one that
 * failed (broken) and one that needs a sign-in (later). The clocks are
 * fake and move 1 ms per request.
 *
 * Oracles beyond the sanitizers: credentials are served only to a request
 * that carries that endpoint's live token, from a peer the guard admits
 * (allowed uid on loopback, or anyone with allow_non_loopback), never the
 * expired ones; no request with Origin, Referer or two Host headers is
 * answered 200; the answer's shape fits the endpoint (ECS: JSON error
 * bodies with a Code and Message; IMDS: empty error bodies); no error
 * message holds a secret the path did not carry; a cleared answer keeps no token and no
 * reference. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../http-fixture.h"
#include "fuzz.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/peer.h"
#include "http/route.h"
#include "session/store.h"
#include "util/log.h"

#define MINTED_TOKEN "mintedTOKENmintedTOKENmintedTOKENmintedTOKE"
#define PROD_SECRET "prodSECRETprodSECRETprodSECRETprodSECRET"
#define DEV_SECRET "devSECRETdevSECRETdevSECRETdevSECRETdevSE"
#define T0_WALL (1800000000ull * USEC_PER_SEC)
#define T0_MONO (1000ull * USEC_PER_SEC)
#define MAX_REQUESTS 64u
#define MAX_HEADERS 64u

_Static_assert(sizeof(MINTED_TOKEN) - 1 == IMDS_TOKEN_LEN, "minted size");

static struct {
	bool ready;
	struct http_fixture h; /* the store, token, guard, ECS, IMDS, conf */
	struct peer_info peer;
	struct creds *prod, *dev;
	bool debug; /* FUZZ_HTTP_DEBUG set: print each request's outcome */
} F;

static void die(const char *what, int r)
{
	(void)fprintf(stderr, "fuzz-http: %s: %s\n", what,
		      strerror(r < 0 ? -r : r));
	abort();
}

static int minted_token(char out[static RANDOM_TOKEN_LEN + 1])
{
	memcpy(out, MINTED_TOKEN, RANDOM_TOKEN_LEN + 1);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct http_fixture_spec spec = {
		.prod_secret = PROD_SECRET,
		.dev_secret = DEV_SECRET,
		.broken_error = "STS refused AssumeRoleWithSAML: AccessDenied",
		.issued = T0_WALL,
		.self = 1000,
	};
	int r;

	log_set_level(LOG_ERR);
	F.debug = getenv("FUZZ_HTTP_DEBUG") != NULL;
	r = http_fixture_init(&F.h, &spec);
	if (r < 0)
		die("http_fixture_init", r);
	F.prod = creds_ref(F.h.store.roles[0].creds);
	F.dev = creds_ref(F.h.store.roles[1].creds);
	F.h.imds.random_token = minted_token;
	F.ready = true;
	return 0;
}

/* Per input: the same state every time (no throttling carried over, one
 * live IMDS token, the set-up the input asked for). */
static void reset(uint8_t mode)
{
	F.h.guard = (struct guard){
		.self = (mode & 8) ? 1001 : 1000,
		.conf = &F.h.confp,
	};
	F.h.conf.serve.allow_non_loopback = (mode & 64) != 0;
	http_fixture_reset(&F.h, mode, T0_MONO);
	F.peer = (struct peer_info){
		.loopback = !(mode & 16),
		.uid_known = !(mode & 32),
		.uid = 1000,
	};
}

/* The request with the token placeholders replaced; NUL-terminated. */
static char *substitute(const uint8_t *data, size_t size, size_t *ret_len)
{
	static const struct http_fixture_sub subs[] = {
		{ "@ECS_TOKEN@", HTTP_FIXTURE_ECS_TOKEN },
		{ "@IMDS_TOKEN@", HTTP_FIXTURE_IMDS_TOKEN },
		{ "@MINTED_TOKEN@", MINTED_TOKEN },
	};

	return http_fixture_substitute(data, size, subs, ELEMENTSOF(subs),
				       ret_len);
}

/* Cuts the line at *pos (ending in LF or CRLF) out of buf in place; NULL
 * at the end of the input. */
static char *next_line(char *buf, size_t len, size_t *pos)
{
	char *line = buf + *pos, *lf;

	if (*pos >= len)
		return NULL;
	lf = memchr(line, '\n', len - *pos);
	if (!lf) {
		*pos = len;
		return line;
	}
	*lf = '\0';
	if (lf > line && lf[-1] == '\r')
		lf[-1] = '\0';
	*pos = (size_t)(lf - buf) + 1;
	return line;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The path as libmicrohttpd hands it over: before '?', %XX decoded in
 * place (a %00 ends it). */
static void decode_path(char *p)
{
	char *o = p;

	p[strcspn(p, "?")] = '\0';
	for (char *i = p; *i; i++) {
		if (i[0] == '%' && hexval(i[1]) >= 0 && hexval(i[2]) >= 0) {
			*o++ = (char)(hexval(i[1]) * 16 + hexval(i[2]));
			i += 2;
		} else {
			*o++ = *i;
		}
	}
	*o = '\0';
}

static bool is_header(const char *name, const char *want)
{
	return strcasecmp(name, want) == 0;
}

/* Sets *slot to value unless an earlier header of that name did (the
 * lookup the glue uses returns the first). */
static void first(const char **slot, const char *value)
{
	if (!*slot)
		*slot = value;
}

/* Parses one request starting at *pos; false when there is none. */
static bool parse_request(char *buf, size_t len, size_t *pos,
			  struct http_request *req)
{
	char *line, *sp;
	unsigned n_headers = 0;

	do /* skip empty lines between requests (RFC 9112 2.2) */
		line = next_line(buf, len, pos);
	while (line && !*line);
	if (!line)
		return false;
	req->method = line;
	sp = strchr(line, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	req->path = sp + 1;
	sp = strchr(sp + 1, ' ');
	if (sp)
		*sp = '\0';
	decode_path((char *)(uintptr_t)req->path);

	while ((line = next_line(buf, len, pos)) && *line &&
	       n_headers++ < MAX_HEADERS) {
		char *colon = strchr(line, ':');
		char *v;

		if (!colon)
			continue;
		*colon = '\0';
		v = colon + 1;
		v += strspn(v, " \t");
		for (size_t n = strlen(v); n && (v[n - 1] == ' ' ||
						 v[n - 1] == '\t');)
			v[--n] = '\0';
		if (is_header(line, "Host")) {
			req->n_host++;
			first(&req->host, v);
		} else if (is_header(line, "Origin")) {
			first(&req->origin, v);
		} else if (is_header(line, "Referer")) {
			first(&req->referer, v);
		} else if (is_header(line, "Sec-Fetch-Site")) {
			first(&req->sec_fetch_site, v);
		} else if (is_header(line, "Authorization")) {
			first(&req->authorization, v);
		} else if (is_header(line, "X-aws-ec2-metadata-token")) {
			first(&req->imds_token, v);
		} else if (is_header(line,
				     "X-aws-ec2-metadata-token-ttl-seconds")) {
			first(&req->imds_token_ttl, v);
		} else if (is_header(line, "X-Forwarded-For")) {
			first(&req->forwarded_for, v);
		} else if (is_header(line, "Forwarded")) {
			first(&req->forwarded, v);
		} else if (is_header(line, "X-Real-IP")) {
			first(&req->real_ip, v);
		} else if (is_header(line, "Via")) {
			first(&req->via, v);
		}
	}
	return true;
}

/* Whether t is a token the IMDS table holds as live at now. */
static bool imds_token_live(const char *t, usec_t now)
{
	if (!t || strlen(t) != IMDS_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		if (F.h.imds.tokens[i].expires > now &&
		    memcmp(F.h.imds.tokens[i].value, t, IMDS_TOKEN_LEN) == 0)
			return true;
	return false;
}

static void check(uint8_t mode, const struct http_request *req,
		  const struct http_answer *a, bool token_was_live)
{
	bool imds = mode & 1;
	bool admitted = (mode & 128) ? false
			: (mode & 16)	? (mode & 64) != 0
					: !(mode & 32) && !(mode & 8);

	if (a->body == HTTP_BODY_CREDS) {
		FUZZ_CHECK(a->status == 200);
		FUZZ_CHECK(a->creds == F.prod);
		FUZZ_CHECK(admitted);
		if (imds)
			FUZZ_CHECK(token_was_live);
		else
			FUZZ_CHECK(req->authorization &&
				   streq(req->authorization,
					 HTTP_FIXTURE_ECS_TOKEN));
	}
	FUZZ_CHECK(a->creds == NULL || a->body == HTTP_BODY_CREDS);
	if (a->status == 200) {
		FUZZ_CHECK(a->body == HTTP_BODY_CREDS ||
			   a->body == HTTP_BODY_TEXT ||
			   a->body == HTTP_BODY_TOKEN);
		FUZZ_CHECK(!req->origin && !req->referer && req->n_host <= 1);
		FUZZ_CHECK(admitted);
	}
	if (imds) {
		FUZZ_CHECK(a->body != HTTP_BODY_ERROR);
		FUZZ_CHECK(a->status == 200 || a->body == HTTP_BODY_EMPTY);
		FUZZ_CHECK(!a->json);
	} else {
		FUZZ_CHECK(a->json);
		FUZZ_CHECK(a->body == HTTP_BODY_CREDS ||
			   a->body == HTTP_BODY_ERROR);
		if (a->body == HTTP_BODY_ERROR) {
			FUZZ_CHECK(a->code && a->message);
			/* The 404 message echoes the path (the route does
			 * not escape; the JSON encoder does). */
			FUZZ_CHECK(!strstr(a->message, PROD_SECRET) ||
				   strstr(req->path, PROD_SECRET));
			FUZZ_CHECK(
				!strstr(a->message, HTTP_FIXTURE_ECS_TOKEN) ||
				strstr(req->path, HTTP_FIXTURE_ECS_TOKEN));
		}
	}
	if (a->body == HTTP_BODY_TOKEN)
		FUZZ_CHECK(imds && strlen(a->token) == IMDS_TOKEN_LEN &&
			   a->ttl[0]);
	if (a->body == HTTP_BODY_TEXT)
		FUZZ_CHECK(a->text && a->text_len > 0);
	if (a->audit.write)
		FUZZ_CHECK(a->audit.served == (a->status == 200));
	FUZZ_CHECK(a->status == 200 || a->status == 400 || a->status == 401 ||
		   a->status == 403 || a->status == 404 || a->status == 405 ||
		   a->status == 429 || a->status == 500 || a->status == 503);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned prod_refs, dev_refs;
	size_t len = 0, pos = 0;
	uint8_t mode;
	char *buf;

	if (!F.ready)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	mode = data[0];
	reset(mode);
	buf = substitute(data + 1, size - 1, &len);
	if (!buf)
		return 0;
	prod_refs = F.prod->n_ref;
	dev_refs = F.dev->n_ref;

	for (unsigned i = 0; i < MAX_REQUESTS; i++) {
		struct http_request req = {
			.peer = (mode & 128) ? NULL : &F.peer,
			.now_wall = T0_WALL + i * USEC_PER_MSEC,
			.now_mono = T0_MONO + i * USEC_PER_MSEC,
		};
		struct http_answer a;
		bool live;

		if (!parse_request(buf, len, &pos, &req))
			break;
		live = imds_token_live(req.imds_token, req.now_mono);
		if (mode & 1)
			http_route_imds(&F.h.imds, &req, &a);
		else
			http_route_ecs(&F.h.ecs, &req, &a);
		if (F.debug)
			(void)fprintf(stderr, "%s %s %s -> %u body=%d %s\n",
				      (mode & 1) ? "IMDS" : "ECS", req.method,
				      req.path, a.status, (int)a.body,
				      strempty(a.refusal));
		check(mode, &req, &a, live);
		http_answer_clear(&a);
		FUZZ_CHECK(!a.creds);
		for (size_t k = 0; k < sizeof(a.token); k++)
			FUZZ_CHECK(a.token[k] == 0);
		FUZZ_CHECK(F.prod->n_ref == prod_refs);
		FUZZ_CHECK(F.dev->n_ref == dev_refs);
	}
	free(buf);
	return 0;
}
