/* Fuzzes the ECS and IMDS endpoints end to end in one process (the slow
 * companion of fuzz-http.c, which drives the pure route in-process): the
 * real libmicrohttpd servers (daemon/http/server.c, external epoll on an
 * sd_event loop) with the real glue (ecs.c, imds.c, endpoint.c), route
 * (route.c), guards (guard.c) and peer lookup (peer.c) listen on
 * 127.0.0.1; the input's bytes are sent as a raw request over a TCP
 * connection and the reply is read back until the server closes. It finds
 * what the route fuzzer cannot: libmicrohttpd's parsing (chunked bodies,
 * pipelining, duplicate headers), the collection of the request, the
 * zero-copy credential bodies and their references, and connections that
 * never close. It replays corpus/http/ (docs/internals/fuzzing.md).
 *
 * Input: byte 0 picks the set-up (bit 0: IMDS, else ECS; bit 1: not signed
 * in; bit 2: no imds_role configured; bit 3: the peer's uid is neither the
 * daemon's nor in serve.allowed_uids; the higher bits are fuzz-http.c's
 * and ignored here), the rest is sent as it is, with
 * "@ECS_TOKEN@" and "@IMDS_TOKEN@" replaced by the live tokens so the
 * fuzzer gets past authentication. The store holds a role with valid
 * credentials (prod), one whose credentials expired (dev), one that failed
 * (broken) and one that needs a sign-in (later).
 *
 * Oracles beyond the sanitizers: valid credentials are served only to a
 * request that carries that endpoint's token, from an allowed uid;
 * expired ones never; the
 * server always answers and closes within 5 s of the client's EOF. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "fuzz.h"
#include "http/ecs.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/server.h"
#include "session/store.h"
#include "util/log.h"
#include "util/socket.h"
#include "util/timeutil.h"

#define ECS_TOKEN "ecsTOKENecsTOKENecsTOKENecsTOKENecsTOKEN123"
#define IMDS_TOKEN "imdsTOKENimdsTOKENimdsTOKENimdsTOKENimdsTOK"
#define PROD_SECRET "prodSECRETprodSECRETprodSECRETprodSECRET"
#define DEV_SECRET "devSECRETdevSECRETdevSECRETdevSECRETdevSE"
#define ACCOUNT "123456789012"
/* A credentials document (ECS or IMDS) holding secret. Error bodies may
 * echo the request's path, but JSON-escaped: a bare '"' cannot come from
 * the request. */
#define SERVED(secret) "\"SecretAccessKey\":\"" secret "\""
#define REPLY_MAX (256u * 1024u)
#define DEADLINE (5 * USEC_PER_SEC)

_Static_assert(sizeof(ECS_TOKEN) - 1 == RANDOM_TOKEN_LEN, "ECS token size");
_Static_assert(sizeof(IMDS_TOKEN) - 1 == IMDS_TOKEN_LEN, "IMDS token size");

static struct {
	sd_event *event;
	struct store store;
	struct secret *token;
	struct guard guard;
	struct ecs ecs;
	struct imds imds;
	struct http_server *ecs_server, *imds_server;
	uint16_t ecs_port, imds_port;
	uid_t allowed[1];
	struct conf conf;   /* what the manager's slot points at */
	struct conf *confp;
	char *reply;
	bool debug; /* FUZZ_HTTP_DEBUG set: print each exchange */
} F;

static void die(const char *what, int r)
{
	(void)fprintf(stderr, "fuzz-http-mhd: %s: %s\n", what,
		      strerror(r < 0 ? -r : r));
	abort();
}

static struct creds *make_creds(const char *role, const char *secret,
				usec_t expiration)
{
	struct sts_creds *sc = calloc(1, sizeof(*sc));
	struct creds *c = NULL;
	char arn[256];
	int r;

	if (!sc)
		die("calloc", ENOMEM);
	(void)snprintf(arn, sizeof(arn),
		       "arn:aws:sts::" ACCOUNT ":assumed-role/%s/alice", role);
	sc->access_key_id = strdup("ASIAFUZZFUZZFUZZFUZZ");
	sc->secret_access_key = secret_new_from(secret, strlen(secret));
	sc->session_token = secret_new_from("FwoGZXIvYXdzEFUZZ", 17);
	sc->assumed_role_arn = strdup(arn);
	sc->account_id = strdup(ACCOUNT);
	sc->expiration = expiration;
	if (!sc->access_key_id || !sc->secret_access_key ||
	    !sc->session_token || !sc->assumed_role_arn || !sc->account_id)
		die("creds", ENOMEM);
	(void)snprintf(arn, sizeof(arn), "arn:aws:iam::" ACCOUNT ":role/%s",
		       role);
	r = creds_new_take(sc, arn, now_wall(), &c);
	if (r < 0)
		die("creds_new_take", r);
	return c;
}

static void add_role(const char *name, enum role_state state)
{
	char arn[256];
	int r;

	(void)snprintf(arn, sizeof(arn), "arn:aws:iam::" ACCOUNT ":role/%s",
		       name);
	r = store_add_role(&F.store, name, arn, 0);
	if (r < 0)
		die("store_add_role", r);
	F.store.roles[F.store.n_roles - 1].state = state;
}

static uint16_t start(MHD_AccessHandlerCallback handler, void *cls,
		      const char *name, struct http_server **ret)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	int fd, r;

	r = listen_tcp("127.0.0.1", 0, &fd);
	if (r < 0)
		die("listen_tcp", r);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname", errno);
	r = http_server_new(F.event, fd, false, handler, cls, NULL, name, ret);
	if (r < 0)
		die("http_server_new", r);
	return ntohs(sa.sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	usec_t now = now_wall();
	int r;

	log_set_level(LOG_ERR);
	F.debug = getenv("FUZZ_HTTP_DEBUG") != NULL;
	r = sd_event_new(&F.event);
	if (r < 0)
		die("sd_event_new", r);

	add_role("prod", ROLE_VALID);
	store_set_creds(&F.store.roles[0],
			make_creds("prod", PROD_SECRET, now + USEC_PER_HOUR * 12));
	add_role("dev", ROLE_EXPIRED);
	store_set_creds(&F.store.roles[1],
			make_creds("dev", DEV_SECRET, now - USEC_PER_HOUR));
	add_role("broken", ROLE_FAILED);
	role_set_error(&F.store.roles[2],
		       "STS refused AssumeRoleWithSAML: AccessDenied");
	add_role("later", ROLE_NOT_SIGNED_IN);

	F.token = secret_new_from(ECS_TOKEN, strlen(ECS_TOKEN));
	if (!F.token)
		die("secret_new_from", ENOMEM);
	F.allowed[0] = 4242;
	F.conf.serve.allowed_uids = F.allowed;
	F.conf.serve.n_allowed_uids = 1;
	F.confp = &F.conf;
	F.imds.conf = &F.confp;
	F.guard = (struct guard){ .self = getuid(), .conf = &F.confp };
	F.ecs = (struct ecs){ .store = &F.store, .token = F.token,
			      .guard = &F.guard };
	r = imds_init(&F.imds);
	if (r < 0)
		die("imds_init", r);
	F.imds.store = &F.store;
	F.imds.guard = &F.guard;

	F.ecs_port = start(ecs_handle, &F.ecs, "ECS (fuzz)", &F.ecs_server);
	F.imds_port = start(imds_handle, &F.imds, "IMDS (fuzz)",
			    &F.imds_server);
	F.reply = malloc(REPLY_MAX);
	if (!F.reply)
		die("malloc", ENOMEM);
	return 0;
}

/* The request with the token placeholders replaced. */
static char *substitute(const uint8_t *data, size_t size, size_t *ret_len)
{
	static const struct {
		const char *from, *to;
	} subs[] = {
		{ "@ECS_TOKEN@", ECS_TOKEN },
		{ "@IMDS_TOKEN@", IMDS_TOKEN },
	};
	/* Each replacement is at most 4x its placeholder. */
	char *out = malloc(size * 4 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < size;) {
		bool done = false;

		for (size_t k = 0; k < ELEMENTSOF(subs) && !done; k++) {
			size_t fl = strlen(subs[k].from);

			if (size - i >= fl && memcmp(data + i, subs[k].from, fl) == 0) {
				memcpy(out + o, subs[k].to, strlen(subs[k].to));
				o += strlen(subs[k].to);
				i += fl;
				done = true;
			}
		}
		if (!done)
			out[o++] = (char)data[i++];
	}
	*ret_len = o;
	return out;
}

/* Per input: the same state every time (no throttling carried over, one
 * live IMDS token, the sign-in state the input asked for). */
static void reset(uint8_t mode)
{
	usec_t mono = now_clock(CLOCK_MONOTONIC);

	memset(F.guard.peers, 0, sizeof(F.guard.peers));
	for (size_t i = 0; i < IMDS_MAX_TOKENS; i++)
		F.imds.tokens[i].expires = 0;
	F.imds.next = 0;
	memcpy(F.imds.tokens[0].value, IMDS_TOKEN, IMDS_TOKEN_LEN + 1);
	F.imds.tokens[0].expires = mono + USEC_PER_HOUR;
	F.conf.serve.imds_role = (mode & 4) ? NULL : (char *)"prod";
	F.store.signed_in = !(mode & 2);
	/* Another user's daemon: our uid is not its own. */
	F.guard.self = (mode & 8) ? getuid() + 1 : getuid();
}

/* Dispatches whatever the event loop has ready, without waiting; returns
 * how many events it handled. */
static unsigned pump(void)
{
	unsigned n = 0;
	int r;

	while ((r = sd_event_run(F.event, 0)) > 0)
		n++;
	if (r < 0)
		die("sd_event_run", r);
	return n;
}

/* Whether fd or the event loop is ready, waiting up to timeout_ms. */
static bool ready(int fd, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN | POLLOUT },
		{ .fd = sd_event_get_fd(F.event), .events = POLLIN },
	};

	int n;

	/* libFuzzer's SIGALRM (-timeout) may interrupt; poll again. */
	while ((n = poll(p, 2, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return false;
	/* A client socket is always writable: only POLLIN counts for it. */
	return (p[0].revents & ~POLLOUT) || p[1].revents;
}

/* Reads what the server sent; true at end of stream. */
static bool drain(int fd, size_t *got, bool *progressed)
{
	char drop[4096];

	for (;;) {
		char *to = *got < REPLY_MAX ? F.reply + *got : drop;
		size_t room = *got < REPLY_MAX ? REPLY_MAX - *got : sizeof(drop);
		ssize_t n = recv(fd, to, room, 0);

		if (n > 0) {
			if (to != drop)
				*got += (size_t)n;
			*progressed = true;
			continue;
		}
		if (n == 0 || errno == ECONNRESET)
			return true;
		if (errno != EAGAIN && errno != EINTR)
			die("recv", errno);
		return false;
	}
}

/* Sends req and reads the reply until the server closes or both sides are
 * idle: loopback delivers synchronously, so when neither the client socket
 * nor the event loop has anything ready, the server waits for more input.
 * The client does not half-close: libmicrohttpd 0.9.75 in epoll mode misses
 * a FIN that arrives with the request and keeps such a connection until
 * its 30 s timeout (docs/internals/fuzzing.md). */
static size_t exchange(int fd, const char *req, size_t req_len)
{
	usec_t deadline = now_clock(CLOCK_MONOTONIC) + DEADLINE;
	size_t sent = 0, got = 0;
	bool eof = false;

	while (!eof) {
		bool progressed = false;

		if (sent < req_len) {
			ssize_t n = send(fd, req + sent, req_len - sent,
					 MSG_NOSIGNAL);

			if (n > 0) {
				sent += (size_t)n;
				progressed = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				sent = req_len; /* the server closed early */
			}
		}
		if (pump())
			progressed = true;
		eof = drain(fd, &got, &progressed);
		if (!eof && !progressed && sent == req_len && !ready(fd, 0))
			break;
		if (!eof && !progressed && sent < req_len)
			(void)ready(fd, 10);
		if (now_clock(CLOCK_MONOTONIC) > deadline) {
			(void)fprintf(stderr,
				      "fuzz-http-mhd: the exchange did not settle "
				      "within 5 s (%zu bytes read)\n",
				      got);
			abort();
		}
	}
	return got;
}

/* A non-blocking connection to sa. A signal (libFuzzer's SIGALRM) may
 * interrupt connect(); the handshake then goes on by itself. */
static int connect_loopback(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd p = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (fd < 0)
		die("socket", errno);
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR)
		die("connect", errno);
	p.fd = fd;
	while (poll(&p, 1, 5000) < 0 && errno == EINTR)
		;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		die("connect", err ? err : errno);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	size_t req_len = 0, got;
	uint8_t mode;
	char *req;
	int fd;

	if (!F.event)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	mode = data[0];
	reset(mode);
	req = substitute(data + 1, size - 1, &req_len);
	if (!req)
		return 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((mode & 1) ? F.imds_port : F.ecs_port);
	fd = connect_loopback(&sa);
	got = exchange(fd, req, req_len);
	if (F.debug)
		(void)fprintf(stderr,
			      "--- request (%zu bytes)\n%.*s\n--- reply (%zu "
			      "bytes)\n%.*s\n",
			      req_len, (int)req_len, req, got, (int)got,
			      F.reply);
	(void)close(fd);
	/* Let the server see the close and free the connection. */
	while (ready(sd_event_get_fd(F.event), 0) && pump())
		;

	if (memmem(F.reply, got, SERVED(PROD_SECRET), strlen(SERVED(PROD_SECRET))))
		FUZZ_CHECK(!(mode & 8) &&
			   memmem(req, req_len,
				  (mode & 1) ? IMDS_TOKEN : ECS_TOKEN,
				  RANDOM_TOKEN_LEN));
	FUZZ_CHECK(!memmem(F.reply, got, SERVED(DEV_SECRET),
			   strlen(SERVED(DEV_SECRET))));
	free(req);
	return 0;
}
