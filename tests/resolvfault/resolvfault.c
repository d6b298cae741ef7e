/* Test-only LD_PRELOAD shim: a hosts file for getaddrinfo() in which a
 * test can also make a name stop resolving, to take DNS away from a
 * running daemon (tests/integration/test_faults.py, TestDnsOutage).
 *
 * RESOLVFAULT_HOSTS names a file of lines "NAME ADDRESS" or "NAME -". It is
 * read on every call, so a test changes it while the process runs. A name
 * listed with an address resolves as that (numeric) address; a name listed
 * with "-" fails with EAI_NONAME, and each such refusal appends the name to
 * RESOLVFAULT_HOSTS.log for the test to count; any other name goes to the
 * real getaddrinfo(). Never installed, never linked into the daemon. */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef int (*getaddrinfo_fn)(const char *, const char *,
			      const struct addrinfo *, struct addrinfo **);

static getaddrinfo_fn real_getaddrinfo(void)
{
	static getaddrinfo_fn fn;
	getaddrinfo_fn f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);

	if (!f) {
		f = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
		__atomic_store_n(&fn, f, __ATOMIC_RELEASE);
	}
	return f;
}

/* 1: listed with an address (in addr), -1: listed with "-", 0: not listed. */
static int lookup(const char *path, const char *node, char *addr, size_t size)
{
	char line[512], name[256], value[128];
	int found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %127s", name, value) != 2 ||
		    strcasecmp(name, node) != 0)
			continue;
		if (strcmp(value, "-") == 0) {
			found = -1;
		} else if (strlen(value) < size) {
			memcpy(addr, value, strlen(value) + 1);
			found = 1;
		}
	}
	(void)fclose(f);
	return found;
}

static void count_refusal(const char *path, const char *node)
{
	char log[4096];
	int fd;

	if (snprintf(log, sizeof(log), "%s.log", path) >= (int)sizeof(log))
		return;
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* One write per line: O_APPEND keeps concurrent lines whole. */
	(void)dprintf(fd, "%s\n", node);
	(void)close(fd);
}

__attribute__((visibility("default"))) int
getaddrinfo(const char *node, const char *service,
	    const struct addrinfo *hints, struct addrinfo **res)
{
	const char *path = getenv("RESOLVFAULT_HOSTS");
	getaddrinfo_fn real = real_getaddrinfo();
	char addr[128];

	if (!real)
		return EAI_SYSTEM;
	if (path && node) {
		switch (lookup(path, node, addr, sizeof(addr))) {
		case -1:
			count_refusal(path, node);
			return EAI_NONAME;
		case 1: {
			struct addrinfo h = { 0 };

			if (hints)
				h = *hints;
			h.ai_flags |= AI_NUMERICHOST;
			return real(addr, service, &h, res);
		}
		default:
			break;
		}
	}
	return real(node, service, hints, res);
}
