/* key.c — the RSA/EC key object: allocation, generation from "rsa:BITS" or
 * "ec:CURVE", and what a key is (type, size, curve). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RSA_EXPONENT 65537      /* uftp's RSA_EXP */

struct crypto_key *crypto_key_alloc(int type, bool priv)
{
	struct crypto_key *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->type = type;
	k->priv = priv;
	int r = type == UFTP_KEYBLOB_RSA ? wc_InitRsaKey(&k->u.rsa, NULL)
					 : wc_ecc_init(&k->u.ec);
	if (r != 0 || pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

void crypto_key_free(struct crypto_key *k)
{
	if (!k)
		return;
	if (k->type == UFTP_KEYBLOB_RSA)
		wc_FreeRsaKey(&k->u.rsa);
	else
		wc_ecc_free(&k->u.ec);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int crypto_key_type(const struct crypto_key *k) { return k->type; }
int crypto_key_curve(const struct crypto_key *k) { return k->curve; }
bool crypto_key_private(const struct crypto_key *k) { return k->priv; }

unsigned crypto_key_bits(const struct crypto_key *k)
{
	if (k->type == UFTP_KEYBLOB_RSA)
		return (unsigned)wc_RsaEncryptSize(&k->u.rsa) * 8;
	int bytes = wc_ecc_get_curve_size_from_id(crypto_wc_curve(k->curve));
	return bytes > 0 ? (unsigned)bytes * 8 : 0;
}

static struct crypto_key *gen_rsa(struct crypto_rng *rng, const char *bits_s,
				  char *why)
{
	char *end;
	long bits = strtol(bits_s, &end, 10);
	if (*bits_s == '\0' || *end || bits < CRYPTO_RSA_MIN || bits > CRYPTO_RSA_MAX) {
		snprintf(why, CRYPTO_ERR_LEN, "RSA key size '%s' is not %d-%d bits",
			 bits_s, CRYPTO_RSA_MIN, CRYPTO_RSA_MAX);
		return NULL;
	}
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_RSA, true);
	int r = k ? wc_MakeRsaKey(&k->u.rsa, (int)bits, RSA_EXPONENT, &rng->rng) : -1;
	if (r != 0) {
		snprintf(why, CRYPTO_ERR_LEN, "generating a %ld bit RSA key failed (%d)",
			 bits, r);
		crypto_key_free(k);
		return NULL;
	}
	return k;
}

static struct crypto_key *gen_ec(struct crypto_rng *rng, const char *name,
				 char *why)
{
	int curve = crypto_curve_by_name(name);
	if (!curve) {
		snprintf(why, CRYPTO_ERR_LEN, "unknown EC curve '%s'", name);
		return NULL;
	}
	if (!crypto_curve_supported(curve)) {
		snprintf(why, CRYPTO_ERR_LEN, "EC curve %s is not supported by this "
			 "build (wolfCrypt)", name);
		return NULL;
	}
	int id = crypto_wc_curve(curve);
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_EC, true);
	int r = k ? wc_ecc_make_key_ex(&rng->rng, wc_ecc_get_curve_size_from_id(id),
				       &k->u.ec, id) : -1;
	if (r != 0) {
		snprintf(why, CRYPTO_ERR_LEN, "generating an EC key on %s failed (%d)",
			 name, r);
		crypto_key_free(k);
		return NULL;
	}
	k->curve = curve;
	return k;
}

struct crypto_key *crypto_key_generate(struct crypto_rng *rng, const char *spec,
				       char why[CRYPTO_ERR_LEN])
{
	if (!strncmp(spec, "rsa:", 4))
		return gen_rsa(rng, spec + 4, why);
	if (!strncmp(spec, "ec:", 3))
		return gen_ec(rng, spec + 3, why);
	snprintf(why, CRYPTO_ERR_LEN, "'%s' is not rsa:BITS or ec:CURVE", spec);
	return NULL;
}
