/* Replays fuzz inputs without libFuzzer: every file named on the command
 * line, and every regular file in every directory named, goes through the
 * harness's LLVMFuzzerTestOneInput once, in a heap buffer of exactly its
 * size (so ASan sees any over-read). Runs under ctest on every build, so
 * the corpus and every crash reproducer in it are checked forever. Exits
 * non-zero when an input cannot be read or when nothing was replayed (a
 * missing corpus must not pass silently); a crash aborts. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path)
{
	struct stat st;
	FILE *f;
	uint8_t *data;
	size_t n;

	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) < 0) {
		(void)fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			(void)fclose(f);
		return -1;
	}
	/* Exactly st_size bytes (one for an empty file, passed as size 0). */
	data = malloc((size_t)st.st_size ? (size_t)st.st_size : 1);
	if (!data) {
		(void)fclose(f);
		return -1;
	}
	n = fread(data, 1, (size_t)st.st_size, f);
	(void)fclose(f);
	if (n != (size_t)st.st_size) {
		(void)fprintf(stderr, "%s: short read\n", path);
		free(data);
		return -1;
	}
	(void)LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!d) {
		(void)fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				r = -1;
				break;
			}
			names = nn;
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
			r = -1;
			break;
		}
		n++;
	}
	(void)closedir(d);
	/* Sorted: the same order on every machine, for reproducible runs. */
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (r == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(names[i]) < 0)
				r = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int r = 0;

	if (argc < 2) {
		(void)fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			(void)fprintf(stderr, "%s: %s\n", argv[i],
				      strerror(errno));
			r = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				r = -1;
		} else if (replay_file(argv[i]) < 0) {
			r = -1;
		} else {
			count++;
		}
	}
	printf("replayed %u inputs\n", count);
	if (r < 0 || count == 0)
		return 1;
	return 0;
}
