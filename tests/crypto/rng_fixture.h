/* rng_fixture.h — what the cmocka tests that make keys share: one random
 * generator for the whole group (rng_setup / rng_teardown, given to
 * cmocka_run_group_tests) and gen(), a key made with it or a failed test.
 * Include after <cmocka.h>. */
#ifndef FERRY_TEST_CRYPTO_RNG_FIXTURE_H
#define FERRY_TEST_CRYPTO_RNG_FIXTURE_H

#include "ferry/crypto.h"

static struct crypto_rng *rng;

static int rng_setup(void **state)
{
	(void)state;
	rng = crypto_rng_new();
	return rng ? 0 : -1;
}

static int rng_teardown(void **state)
{
	(void)state;
	crypto_rng_free(rng);
	return 0;
}

/* A new key as spec says ("rsa:512", "ec:prime256v1", ...); fails the
 * test, with the reason, when none can be made. */
static struct crypto_key *gen(const char *spec)
{
	char why[CRYPTO_ERR_LEN];
	struct crypto_key *k = crypto_key_generate(rng, spec, why);
	if (!k)
		fail_msg("%s: %s", spec, why);
	return k;
}

#endif
