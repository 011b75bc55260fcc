/* fuzz.h — what every harness in tests/fuzz defines: libFuzzer's entry
 * point, run by libFuzzer itself (build-fuzz, clang) or by replay.c over
 * the checked-in corpus (the normal build, any compiler). A finding is an
 * abort: a sanitizer report or a failed FUZZ_CHECK. */
#ifndef FERRY_FUZZ_H
#define FERRY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the code under test promises; not an assert(), so that it
 * holds in every build type. */
#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: %s: invariant broken: %s\n", __FILE__, \
				__LINE__, __func__, #cond); \
			abort(); \
		} \
	} while (0)

#endif
