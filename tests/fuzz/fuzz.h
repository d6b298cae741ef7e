/* Shared by the fuzz harnesses (tests/fuzz/fuzz-*.c). Each harness defines
 * LLVMFuzzerTestOneInput; libFuzzer drives it in the WITH_FUZZERS build and
 * replay.c runs every corpus file through it on every normal build. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional; replay.c calls it when a harness defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant the code under test promises. Not assert(): release builds
 * define NDEBUG, and a broken promise must crash the fuzzer there too. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			(void)fprintf(stderr, "%s:%d: invariant failed: %s\n", \
				      __FILE__, __LINE__, #cond);              \
			abort();                                               \
		}                                                              \
	} while (0)
