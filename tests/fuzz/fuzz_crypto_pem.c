/* fuzz_crypto_pem.c — the PEM private key reader (-k, -K and every key
 * file ferryd loads go through crypto_key_from_pem) on arbitrary bytes,
 * and what ferryd does with a key it accepted: PEM and blob round trips,
 * fingerprint, description. */
#include <string.h>

#include "ferry/crypto.h"
#include "ferry/uftp.h"
#include "fuzz.h"

/* A key read back from its own PEM must be the same key: same blob. */
static void round_trip(const struct crypto_key *k, const uint8_t *blob, long bloblen)
{
	static char pem[16384];
	char why[CRYPTO_ERR_LEN];
	long n = crypto_key_to_pem(k, pem, sizeof(pem));
	FUZZ_CHECK(n > 0 && (size_t)n <= sizeof(pem));
	struct crypto_key *again = crypto_key_from_pem(pem, (size_t)n, why);
	FUZZ_CHECK(again != NULL);
	uint8_t blob2[CRYPTO_BLOB_MAX];
	long n2 = crypto_key_blob(again, blob2, sizeof(blob2));
	FUZZ_CHECK(n2 == bloblen && !memcmp(blob, blob2, (size_t)bloblen));
	crypto_key_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[CRYPTO_ERR_LEN];
	memset(why, 'x', sizeof(why));
	struct crypto_key *k = crypto_key_from_pem(data, size, why);
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	if (!k) {
		FUZZ_CHECK(why[0] != '\0');   /* a refusal always says why */
		return 0;
	}
	int type = crypto_key_type(k);
	FUZZ_CHECK(type == UFTP_KEYBLOB_RSA || type == UFTP_KEYBLOB_EC);
	FUZZ_CHECK(crypto_key_private(k));
	/* ec_from_der refuses curves uftp has no number for */
	FUZZ_CHECK((type == UFTP_KEYBLOB_RSA) == (crypto_key_curve(k) == 0));
	uint8_t blob[CRYPTO_BLOB_MAX];
	long bloblen = crypto_key_blob(k, blob, sizeof(blob));
	if (bloblen > 0) {
		/* The public half as a peer would receive it. */
		struct crypto_key *pub = crypto_key_from_blob(blob, (size_t)bloblen);
		if (pub) {
			FUZZ_CHECK(crypto_key_type(pub) == type && !crypto_key_private(pub));
			crypto_key_free(pub);
		}
		uint8_t fp[CRYPTO_FP_LEN];
		char fps[CRYPTO_FP_STR];
		FUZZ_CHECK(crypto_key_fingerprint(k, fp) == 0);
		crypto_fingerprint_str(fp, fps);
		FUZZ_CHECK(strlen(fps) == CRYPTO_FP_STR - 1);
		char line[256];
		if (crypto_key_describe(k, line, sizeof(line)) >= 0)
			FUZZ_CHECK(memchr(line, '\0', sizeof(line)) != NULL);
		round_trip(k, blob, bloblen);
	}
	crypto_key_free(k);
	return 0;
}
