/* Unit tests for util/addr.c: the one loopback policy (issue 13), for
 * listener hosts, Host headers and peer addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util/addr.h"
#include "util/macro.h"

static void test_host(void **state)
{
	static const char *const yes[] = {
		"127.0.0.1",	    "127.255.255.254",	"127.0.0.0",
		"::1",		    "[::1]",		"0:0:0:0:0:0:0:1",
		"::ffff:127.0.0.1", "[::ffff:127.1.2.3]", "::FFFF:127.0.0.1",
		"localhost",	    "LOCALHOST",	"LocalHost",
		"localhost.",	    "LOCALHOST.",
	};
	static const char *const no[] = {
		"",
		"0.0.0.0",
		"128.0.0.1",
		"10.0.0.1",
		"126.255.255.255",
		"127.1",
		"127.0.0.1.",
		"::",
		"[::]",
		"fe80::1",
		"::ffff:10.0.0.1",
		"::ffff:128.0.0.1",
		"::2",
		"::127.0.0.1", /* IPv4-compatible, not mapped */
		"localhost..",
		".localhost",
		"localhost.example.com",
		"mylocalhost",
		"[localhost]",
		"[127.0.0.1]",
		"127.0.0.1:80",
		"localhost:80",
		"[::1]:80",
		" 127.0.0.1",
		"127.0.0.1 ",
		"[::1",
		"::1]",
		"[]",
		"example.com",
	};

	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (!addr_host_is_loopback(yes[i]))
			fail_msg("'%s' not taken for loopback", yes[i]);
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (addr_host_is_loopback(no[i]))
			fail_msg("'%s' taken for loopback", no[i]);
	assert_false(addr_host_is_loopback(NULL));
}

static void test_host_port(void **state)
{
	static const char *const yes[] = {
		"127.0.0.1",	   "127.0.0.1:9911",	 "127.9.9.9:1",
		"localhost",	   "localhost:80",	 "LocalHost.:80",
		"localhost.",	   "localhost:",	 "[::1]",
		"[::1]:9911",	   "[::ffff:127.0.0.1]:80", "[::1]:",
	};
	static const char *const no[] = {
		"",
		":80",
		"::1", /* an IPv6 literal needs brackets in Host */
		"::1:80",
		"evil.example",
		"evil.example:80",
		"169.254.169.254",
		"169.254.169.254:80",
		"10.0.0.1:9911",
		"127.0.0.1:80x",
		"127.0.0.1:-1",
		"127.0.0.1:80:81",
		"localhost:80 ",
		"[::1]x",
		"[::1]:abc",
		"[::1",
		"[::2]:80",
		"[fe80::1]",
		"[localhost]:80",
		"[127.0.0.1]:80",
		"127.1:80",
		"localhost.example.com:80",
	};
	char big[400];

	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (!addr_host_port_is_loopback(yes[i]))
			fail_msg("'%s' not taken for loopback", yes[i]);
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (addr_host_port_is_loopback(no[i]))
			fail_msg("'%s' taken for loopback", no[i]);
	assert_false(addr_host_port_is_loopback(NULL));

	/* Long values are refused, not truncated into something loopback. */
	memset(big, '0', sizeof(big));
	memcpy(big, "localhost:", 10);
	big[sizeof(big) - 1] = '\0';
	assert_true(addr_host_port_is_loopback(big)); /* a long port, still digits */
	memset(big, 'a', sizeof(big));
	memcpy(big + 300, ":80", 4);
	assert_false(addr_host_port_is_loopback(big));
}

static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	static const struct {
		int family;
		const char *addr;
		bool loopback;
	} cases[] = {
		{ AF_INET, "127.0.0.1", true },
		{ AF_INET, "127.200.1.2", true },
		{ AF_INET, "128.0.0.1", false },
		{ AF_INET, "0.0.0.0", false },
		{ AF_INET, "10.1.2.3", false },
		{ AF_INET6, "::1", true },
		{ AF_INET6, "::ffff:127.0.0.1", true },
		{ AF_INET6, "::ffff:127.255.0.9", true },
		{ AF_INET6, "::ffff:10.0.0.1", false },
		{ AF_INET6, "::127.0.0.1", false },
		{ AF_INET6, "::", false },
		{ AF_INET6, "fe80::1", false },
		{ AF_INET6, "2001:db8::1", false },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)cases[i].family;
		assert_int_equal(inet_pton(cases[i].family, cases[i].addr,
					   cases[i].family == AF_INET
						   ? (void *)&in->sin_addr
						   : (void *)&in6->sin6_addr),
				 1);
		if (addr_sockaddr_is_loopback(&ss) != cases[i].loopback)
			fail_msg("%s: expected %s", cases[i].addr,
				 cases[i].loopback ? "loopback" : "not loopback");
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(addr_sockaddr_is_loopback(&ss));
	assert_false(addr_sockaddr_is_loopback(NULL));
}

/* The string and binary forms agree on every address literal. */
static void test_agree(void **state)
{
	static const char *const lits[] = {
		"127.0.0.1", "127.3.4.5",	 "1.2.3.4",	   "::1",
		"::",	     "::ffff:127.0.0.1", "::ffff:1.2.3.4", "fe80::1",
	};

	for (size_t i = 0; i < ELEMENTSOF(lits); i++) {
		struct sockaddr_storage ss = { 0 };
		char hp[64];

		if (strchr(lits[i], ':')) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			ss.ss_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, lits[i],
						   &in6->sin6_addr),
					 1);
			(void)snprintf(hp, sizeof(hp), "[%s]:80", lits[i]);
		} else {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			ss.ss_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, lits[i],
						   &in->sin_addr),
					 1);
			(void)snprintf(hp, sizeof(hp), "%s:80", lits[i]);
		}
		assert_int_equal(addr_sockaddr_is_loopback(&ss),
				 addr_host_is_loopback(lits[i]));
		assert_int_equal(addr_sockaddr_is_loopback(&ss),
				 addr_host_port_is_loopback(hp));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_port),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
