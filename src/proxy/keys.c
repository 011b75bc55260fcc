/* keys.c — a proxy instance's own keys, made or read before the workers
 * start (-k, -K, -e, -r:curve), with their fingerprints logged as uftp
 * logs them. Any failure stops start-up with exit 3 and the reason. */
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

#define EPHEMERAL_SPEC "rsa:512"    /* uftpproxyd's default without -k/-K */

static int add_key(const struct proxy_config *pc, struct proxy_keys *pk,
		   struct crypto_key *k)
{
	char line[160];
	if (pk->n == PROXY_MAX_KEYS) {
		flog(LOG_LVL_ERR, "%s: more than %d keys", pc->name, PROXY_MAX_KEYS);
		crypto_key_free(k);
		return FERRY_EXIT_PARAM;
	}
	pk->key[pk->n++] = k;
	if (crypto_key_describe(k, line, sizeof(line)) == 0)
		flog(LOG_LVL_INFO, "%s", line);
	return 0;
}

/* -K, each written to the matching -k file when there is one (a file that
 * exists is never overwritten: uftpproxyd exits then too). */
static int generate(const struct proxy_config *pc, struct crypto_rng *rng,
		    struct proxy_keys *pk)
{
	char why[CRYPTO_ERR_LEN];
	for (size_t i = 0; i < pc->key_specs.n; i++) {
		const char *spec = pc->key_specs.v[i];
		const char *file = i < pc->key_files.n ? pc->key_files.v[i] : NULL;
		struct crypto_key *k = crypto_key_generate(rng, spec, why);
		if (!k) {
			flog(LOG_LVL_ERR, "%s: key %s (-K): %s", pc->name, spec, why);
			return FERRY_EXIT_CRYPTO;
		}
		if (file && crypto_key_write_file(k, file, why) != 0) {
			flog(LOG_LVL_ERR, "%s: key file %s (-k with -K): %s",
			     pc->name, file, why);
			crypto_key_free(k);
			return FERRY_EXIT_CRYPTO;
		}
		int r = add_key(pc, pk, k);
		if (r)
			return r;
	}
	return 0;
}

static int read_files(const struct proxy_config *pc, struct proxy_keys *pk)
{
	char why[CRYPTO_ERR_LEN];
	for (size_t i = 0; i < pc->key_files.n; i++) {
		struct crypto_key *k = crypto_key_read_file(pc->key_files.v[i], why);
		if (!k) {
			flog(LOG_LVL_ERR, "%s: key file %s (-k): %s", pc->name,
			     pc->key_files.v[i], why);
			return FERRY_EXIT_CRYPTO;
		}
		int r = add_key(pc, pk, k);
		if (r)
			return r;
	}
	return 0;
}

/* A response proxy's ECDH key: -r:curve, else -e (ignored in other roles). */
static int make_dh(const struct proxy_config *pc, struct crypto_rng *rng,
		   struct proxy_keys *pk)
{
	const char *curve = pc->response_curve ? pc->response_curve : pc->ecdh_curve;
	char spec[64], why[CRYPTO_ERR_LEN];
	if (pc->role != PROXY_RESPONSE || !curve)
		return 0;
	snprintf(spec, sizeof(spec), "ec:%s", curve);
	if (!(pk->dh = crypto_key_generate(rng, spec, why))) {
		flog(LOG_LVL_ERR, "%s: ECDH key (%s): %s", pc->name,
		     pc->response_curve ? "-r:curve" : "-e", why);
		return FERRY_EXIT_CRYPTO;
	}
	flog(LOG_LVL_VERB, "%s: ECDH key on curve %s", pc->name,
	     crypto_curve_name(crypto_key_curve(pk->dh)));
	return 0;
}

int proxy_keys_load(const struct proxy_config *pc, struct proxy_keys *pk)
{
	memset(pk, 0, sizeof(*pk));
	struct crypto_rng *rng = crypto_rng_new();
	int r;
	if (!rng) {
		flog(LOG_LVL_ERR, "%s: no random number generator", pc->name);
		return FERRY_EXIT_CRYPTO;
	}
	if (pc->key_specs.n) {
		r = generate(pc, rng, pk);
	} else if (pc->key_files.n) {
		r = read_files(pc, pk);
	} else {
		struct proxy_config eph = *pc;
		char *spec = EPHEMERAL_SPEC;
		eph.key_specs = (struct strlist){ &spec, 1 };
		r = generate(&eph, rng, pk);
	}
	if (!r)
		r = make_dh(pc, rng, pk);
	crypto_rng_free(rng);
	if (r)
		proxy_keys_free(pk);
	return r;
}

void proxy_keys_free(struct proxy_keys *pk)
{
	for (size_t i = 0; i < pk->n; i++)
		crypto_key_free(pk->key[i]);
	crypto_key_free(pk->dh);
	memset(pk, 0, sizeof(*pk));
}
