/* rng.c — random numbers from wolfCrypt's DRBG, one generator per caller,
 * and the per-thread state wolfCrypt leaves behind. */
#include <stdlib.h>

#include "internal.h"

struct crypto_rng *crypto_rng_new(void)
{
	struct crypto_rng *r = calloc(1, sizeof(*r));
	if (r && wc_InitRng(&r->rng) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void crypto_rng_free(struct crypto_rng *rng)
{
	if (!rng)
		return;
	wc_FreeRng(&rng->rng);
	free(rng);
}

int crypto_random(struct crypto_rng *rng, void *out, size_t len)
{
	if (len > UINT32_MAX)
		return -1;
	return wc_RNG_GenerateBlock(&rng->rng, out, (word32)len) == 0 ? 0 : -1;
}

/* One generator per thread that asked for it: seeding one reads
 * /dev/urandom, which a helper thread should do once, not per job. */
static __thread struct crypto_rng *thread_rng;

struct crypto_rng *crypto_thread_rng(void)
{
	if (!thread_rng)
		thread_rng = crypto_rng_new();
	return thread_rng;
}

void crypto_thread_done(void)
{
	crypto_rng_free(thread_rng);
	thread_rng = NULL;
#ifdef FP_ECC
	wc_ecc_fp_free();
#endif
}
