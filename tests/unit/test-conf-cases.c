/* The config-error cases of daemon/conf as data: every NAME.yaml under
 * tests/unit/data/conf-cases must fail to parse (as "t.yaml") with exactly
 * the messages of NAME.expect, one per line, in order. A new case is a new
 * pair of files; see tests/unit/data/conf-cases/README.md. The run fails
 * when the directory holds no case, or when a file has no partner. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "util/buf.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must be defined (tests/unit/data)"
#endif
#define CASES_DIR TEST_DATA_DIR "/conf-cases"
#define MAX_CASES 4096u
#define NAME_MAX_LEN 128u

struct conf_case {
	char name[NAME_MAX_LEN]; /* file name without .yaml / .expect */
	bool has_yaml, has_expect;
};

static struct conf_case *cases;
static size_t n_cases;

static int case_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_case *)a)->name,
		      ((const struct conf_case *)b)->name);
}

static struct conf_case *find_or_add(const char *name, size_t len)
{
	for (size_t i = 0; i < n_cases; i++)
		if (strlen(cases[i].name) == len &&
		    strncmp(cases[i].name, name, len) == 0)
			return &cases[i];
	if (n_cases >= MAX_CASES || len >= NAME_MAX_LEN)
		return NULL;
	memcpy(cases[n_cases].name, name, len);
	cases[n_cases].name[len] = '\0';
	return &cases[n_cases++];
}

/* Pairs NAME.yaml with NAME.expect; other files (README.md) are skipped. */
static int scan_cases(void)
{
	DIR *d = opendir(CASES_DIR);
	struct dirent *de;

	if (!d)
		return -errno;
	cases = calloc(MAX_CASES, sizeof(*cases));
	if (!cases) {
		(void)closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct conf_case *c;

		if (n > 5 && streq(de->d_name + n - 5, ".yaml")) {
			c = find_or_add(de->d_name, n - 5);
			if (c)
				c->has_yaml = true;
		} else if (n > 7 && streq(de->d_name + n - 7, ".expect")) {
			c = find_or_add(de->d_name, n - 7);
			if (c)
				c->has_expect = true;
		} else {
			continue;
		}
		if (!c) {
			(void)closedir(d);
			return -E2BIG;
		}
	}
	(void)closedir(d);
	qsort(cases, n_cases, sizeof(*cases), case_cmp);
	return 0;
}

static void read_case_file(const struct conf_case *c, const char *ext,
			   struct buf *b)
{
	char path[512];
	int r;

	(void)snprintf(path, sizeof(path), "%s/%s%s", CASES_DIR, c->name, ext);
	buf_init(b, CONF_MAX_SIZE);
	r = buf_read_file(b, path);
	if (r < 0)
		(void)fprintf(stderr, "%s: cannot read: %s\n", path,
			      strerror(-r));
	assert_int_equal(r, 0);
}

/* Splits the .expect text into lines in place; '#' lines are comments. */
static size_t split_expect(char *text, char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (*p && *p != '#') {
			assert_true(n < max);
			lines[n++] = p;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/* Every file has its partner, and there is at least one case. */
static void test_cases_pair_up(void **state)
{
	size_t bad = 0;

	(void)state;
	if (n_cases == 0)
		(void)fprintf(stderr, "no NAME.yaml/NAME.expect in %s\n",
			      CASES_DIR);
	assert_true(n_cases > 0);
	for (size_t i = 0; i < n_cases; i++) {
		if (cases[i].has_yaml && cases[i].has_expect)
			continue;
		(void)fprintf(stderr, "%s/%s: %s is missing\n", CASES_DIR,
			      cases[i].name,
			      cases[i].has_yaml ? ".expect" : ".yaml");
		bad++;
	}
	assert_int_equal(bad, 0);
}

static void run_case(void **state)
{
	const struct conf_case *cc = *state;
	_cleanup_(buf_clear) struct buf yaml = { .data = NULL };
	_cleanup_(buf_clear) struct buf expect = { .data = NULL };
	struct conf_errors errs = { .n = 0 };
	char *want[CONF_MAX_ERRORS + 1];
	struct conf *c = NULL;
	bool same;
	size_t n;
	int r;

	/* A case without its partner fails test_cases_pair_up, and here. */
	assert_true(cc->has_yaml && cc->has_expect);
	read_case_file(cc, ".yaml", &yaml);
	read_case_file(cc, ".expect", &expect);
	n = split_expect(expect.data, want, ELEMENTSOF(want));
	if (n == 0)
		(void)fprintf(stderr, "%s.expect: no expected message\n",
			      cc->name);
	assert_true(n > 0);

	r = conf_parse_yaml("t.yaml", yaml.data, yaml.len, &c, &errs);
	same = r == -EINVAL && !c && errs.n == n && errs.dropped == 0;
	for (size_t i = 0; same && i < n; i++)
		same = streq(errs.msgs[i], want[i]);
	if (!same) {
		(void)fprintf(stderr, "case %s: r=%d\nwant:\n", cc->name, r);
		for (size_t i = 0; i < n; i++)
			(void)fprintf(stderr, "  %s\n", want[i]);
		(void)fprintf(stderr, "got:\n");
		for (size_t i = 0; i < errs.n; i++)
			(void)fprintf(stderr, "  %s\n", errs.msgs[i]);
	}
	c = conf_free(c);
	conf_errors_clear(&errs);
	assert_true(same);
}

int main(void)
{
	struct CMUnitTest *tests;
	int r;

	r = scan_cases();
	if (r < 0) {
		(void)fprintf(stderr, "%s: %s\n", CASES_DIR, strerror(-r));
		return EXIT_FAILURE;
	}
	tests = calloc(n_cases + 1, sizeof(*tests));
	if (!tests)
		return EXIT_FAILURE;
	tests[0] = (struct CMUnitTest){ .name = "cases_pair_up",
					.test_func = test_cases_pair_up };
	for (size_t i = 0; i < n_cases; i++)
		tests[i + 1] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = run_case,
			.initial_state = &cases[i],
		};
	r = _cmocka_run_group_tests("conf-cases", tests, n_cases + 1, NULL,
				    NULL);
	free(tests);
	free(cases);
	return r;
}
