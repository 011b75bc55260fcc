/* internal.h — what the files of src/crypto share: the key object and the
 * mapping of uftp's algorithm numbers onto wolfCrypt's. */
#ifndef FERRY_CRYPTO_INTERNAL_H
#define FERRY_CRYPTO_INTERNAL_H

#include <pthread.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "ferry/crypto.h"
#include "ferry/uftp.h"

struct crypto_rng {
	WC_RNG rng;
};

struct crypto_key {
	int type;                 /* UFTP_KEYBLOB_RSA or _EC */
	bool priv;
	int curve;                /* uftp number, EC only */
	/* wolfCrypt keeps operation state and the blinding RNG in the key:
	 * every operation holds this lock, so helper threads can share a key. */
	pthread_mutex_t lock;
	union {
		RsaKey rsa;
		ecc_key ec;
	} u;
};

/* uftp hash number -> wolfCrypt hash type; WC_HASH_TYPE_NONE if unknown. */
enum wc_HashType crypto_wc_hash(int hashtype);
/* uftp curve number -> wolfCrypt curve id; ECC_CURVE_INVALID if none. */
int crypto_wc_curve(int curve);
int crypto_curve_from_wc(int id);
struct crypto_key *crypto_key_alloc(int type, bool priv);

#endif
