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

#include "../http-fixture.h"
#include "fuzz.h"
#include "http/ecs.h"
#include "http/guard.h"
#include "http/imds.h"
#include "http/server.h"
#include "session/store.h"
#include "util/log.h"
#include "util/socket.h"
#include "util/timeutil.h"

#define PROD_SECRET "prodSECRETprodSECRETprodSECRETprodSECRET"
#define DEV_SECRET "devSECRETdevSECRETdevSECRETdevSECRETdevSE"
/* A credentials document (ECS or IMDS) holding secret. Error bodies may
 * echo the request's path, but JSON-escaped: a bare '"' cannot come from
 * the request. */
#define SERVED(secret) "\"SecretAccessKey\":\"" secret "\""
#define REPLY_MAX (256u * 1024u)
#define DEADLINE (5 * USEC_PER_SEC)


static struct {
	sd_event *event;
	struct http_fixture h; /* the store, token, guard, ECS, IMDS, conf */
	struct http_server *ecs_server, *imds_server;
	uint16_t ecs_port, imds_port;
	char *reply;
	bool debug; /* FUZZ_HTTP_DEBUG set: print each exchange */
} F;

static void die(const char *what, int r)
{
	(void)fprintf(stderr, "fuzz-http-mhd: %s: %s\n", what,
		      strerror(r < 0 ? -r : r));
	abort();
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
	const struct http_fixture_spec spec = {
		.prod_secret = PROD_SECRET,
		.dev_secret = DEV_SECRET,
		.broken_error = "STS refused AssumeRoleWithSAML: AccessDenied",
		.issued = now_wall(),
		.self = getuid(),
	};
	int r;

	log_set_level(LOG_ERR);
	F.debug = getenv("FUZZ_HTTP_DEBUG") != NULL;
	r = sd_event_new(&F.event);
	if (r < 0)
		die("sd_event_new", r);
	r = http_fixture_init(&F.h, &spec);
	if (r < 0)
		die("http_fixture_init", r);

	F.ecs_port = start(ecs_handle, &F.h.ecs, "ECS (fuzz)", &F.ecs_server);
	F.imds_port = start(imds_handle, &F.h.imds, "IMDS (fuzz)",
			    &F.imds_server);
	F.reply = malloc(REPLY_MAX);
	if (!F.reply)
		die("malloc", ENOMEM);
	return 0;
}

/* The request with the token placeholders replaced. */
static char *substitute(const uint8_t *data, size_t size, size_t *ret_len)
{
	static const struct http_fixture_sub subs[] = {
		{ "@ECS_TOKEN@", HTTP_FIXTURE_ECS_TOKEN },
		{ "@IMDS_TOKEN@", HTTP_FIXTURE_IMDS_TOKEN },
	};

	return http_fixture_substitute(data, size, subs, ELEMENTSOF(subs),
				       ret_len);
}

/* Per input: the same state every time (no throttling carried over, one
 * live IMDS token, the sign-in state the input asked for). */
static void reset(uint8_t mode)
{
	memset(F.h.guard.peers, 0, sizeof(F.h.guard.peers));
	http_fixture_reset(&F.h, mode, now_clock(CLOCK_MONOTONIC));
	/* Another user's daemon: our uid is not its own. */
	F.h.guard.self = (mode & 8) ? getuid() + 1 : getuid();
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
				  (mode & 1) ? HTTP_FIXTURE_IMDS_TOKEN
					     : HTTP_FIXTURE_ECS_TOKEN,
				  RANDOM_TOKEN_LEN));
	FUZZ_CHECK(!memmem(F.reply, got, SERVED(DEV_SECRET),
			   strlen(SERVED(DEV_SECRET))));
	free(req);
	return 0;
}
