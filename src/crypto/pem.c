/* pem.c — private keys as unencrypted PEM text and files, the way OpenSSL
 * and uftp_keymgt read and write them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>


#define PEM_MAX (64 * 1024)
#define DER_MAX 4096

/* wolfCrypt decodes any nine integers as an RSA private key (a zero prime
 * included; found by tests/fuzz/fuzz_crypto_pem) and this build has no
 * wc_CheckRsaKey: a signature the public half verifies shows the parts
 * belong together. Start-up only (a private key operation). */
static bool rsa_consistent(struct crypto_key *k)
{
	static const char msg[] = "ferry: does this key sign?";
	uint8_t sig[CRYPTO_SIG_MAX];
	struct crypto_rng *rng = crypto_rng_new();
	long n = rng ? crypto_sign(k, rng, UFTP_HASH_SHA256, msg, sizeof(msg), sig,
				  sizeof(sig)) : -1;
	crypto_rng_free(rng);
	return n > 0 && crypto_verify(k, UFTP_HASH_SHA256, msg, sizeof(msg), sig, (size_t)n);
}

static struct crypto_key *rsa_from_der(const uint8_t *der, size_t len, char *why)
{
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_RSA, true);
	word32 idx = 0;
	if (!k || wc_RsaPrivateKeyDecode(der, &idx, &k->u.rsa, (word32)len) != 0) {
		crypto_key_free(k);
		return NULL;
	}
	unsigned bits = crypto_key_bits(k);
	if (bits < CRYPTO_RSA_MIN || bits > CRYPTO_RSA_MAX)
		snprintf(why, CRYPTO_ERR_LEN, "its RSA modulus has %u bits, not %d to %d",
			 bits, CRYPTO_RSA_MIN, CRYPTO_RSA_MAX);
	else if (!rsa_consistent(k))
		snprintf(why, CRYPTO_ERR_LEN,
			 "its RSA parts do not belong together (it cannot sign)");
	else
		return k;
	crypto_key_free(k);
	return NULL;
}

static struct crypto_key *ec_from_der(const uint8_t *der, size_t len, char *why)
{
	struct crypto_key *k = crypto_key_alloc(UFTP_KEYBLOB_EC, true);
	word32 idx = 0;
	if (!k || wc_EccPrivateKeyDecode(der, &idx, &k->u.ec, (word32)len) != 0) {
		crypto_key_free(k);
		return NULL;
	}
	k->curve = crypto_curve_from_wc(wc_ecc_get_curve_id(k->u.ec.idx));
	if (!k->curve) {
		snprintf(why, CRYPTO_ERR_LEN, "its EC curve is not one uftp uses");
		crypto_key_free(k);
		return NULL;
	}
	/* The decoder takes a private scalar of any length; one longer than
	 * the curve's order overflows wolfCrypt's export (found by
	 * tests/fuzz/fuzz_crypto_pem). Scalar in [1, n-1], public point on
	 * the curve and of the right order, or no key. */
	if (wc_ecc_check_key(&k->u.ec) != 0) {
		snprintf(why, CRYPTO_ERR_LEN, "its EC key is not valid on its curve "
			 "(private scalar out of range, or no or a wrong public point)");
		crypto_key_free(k);
		return NULL;
	}
	return k;
}

struct crypto_key *crypto_key_from_pem(const void *pem, size_t len,
				       char why[CRYPTO_ERR_LEN])
{
	DerBuffer *der = NULL;
	EncryptedInfo info;
	int format = 0;
	struct crypto_key *k = NULL;
	memset(&info, 0, sizeof(info));
	why[0] = '\0';
	if (len > PEM_MAX || memmem(pem, len, "ENCRYPTED", 9)) {
		snprintf(why, CRYPTO_ERR_LEN, len > PEM_MAX ? "too large for a key"
			 : "an encrypted private key (uftp reads only unencrypted PEM)");
		return NULL;
	}
	if (wc_PemToDer(pem, (long)len, PRIVATEKEY_TYPE, &der, NULL, &info,
			&format) != 0 || !der) {
		/* it fails after allocating der when the body does not
		 * decode (found by tests/fuzz/fuzz_crypto_pem): free it */
		wc_FreeDer(&der);
		snprintf(why, CRYPTO_ERR_LEN, "no PEM private key in it");
		return NULL;
	}
	k = rsa_from_der(der->buffer, der->length, why);
	if (!k && !why[0])
		k = ec_from_der(der->buffer, der->length, why);
	wc_FreeDer(&der);
	if (!k && !why[0])
		snprintf(why, CRYPTO_ERR_LEN, "not an RSA or EC private key");
	return k;
}

long crypto_key_to_pem(const struct crypto_key *k, char *out, size_t cap)
{
	uint8_t der[DER_MAX];
	int n;
	if (!k->priv || cap > INT32_MAX)
		return -1;
	if (k->type == UFTP_KEYBLOB_RSA)
		n = wc_RsaKeyToDer((RsaKey *)&k->u.rsa, der, sizeof(der));
	else
		n = wc_EccKeyToDer((ecc_key *)&k->u.ec, der, sizeof(der));
	if (n <= 0)
		return -1;
	int p = wc_DerToPem(der, (word32)n, (byte *)out, (word32)cap,
			    k->type == UFTP_KEYBLOB_RSA ? PRIVATEKEY_TYPE
							: ECC_PRIVATEKEY_TYPE);
	explicit_bzero(der, sizeof(der));
	return p > 0 ? p : -1;
}

static long read_small(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 || (got += (size_t)n) == cap)
			return (long)got;
	}
}

struct crypto_key *crypto_key_read_file(const char *path, char why[CRYPTO_ERR_LEN])
{
	static const size_t cap = PEM_MAX + 1;
	char *buf = malloc(cap);
	struct stat st;
	long n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
		errno = EINVAL;
	else if (fd >= 0 && buf)
		n = read_small(fd, buf, cap);
	if (n < 0 || !buf) {
		snprintf(why, CRYPTO_ERR_LEN, "%s", errno == EINVAL ?
			 "not a regular file" : strerror(buf ? errno : ENOMEM));
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	close(fd);
	struct crypto_key *k = crypto_key_from_pem(buf, (size_t)n, why);
	explicit_bzero(buf, cap);
	free(buf);
	return k;
}

int crypto_key_write_file(const struct crypto_key *k, const char *path,
			  char why[CRYPTO_ERR_LEN])
{
	char pem[2 * DER_MAX];
	long n = crypto_key_to_pem(k, pem, sizeof(pem));
	if (n < 0) {
		snprintf(why, CRYPTO_ERR_LEN, "the key cannot be written as PEM");
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	ssize_t w = fd >= 0 ? write(fd, pem, (size_t)n) : -1;
	int err = errno;
	explicit_bzero(pem, sizeof(pem));
	if (fd >= 0 && (close(fd) != 0 || w != n)) {
		err = w < 0 ? err : w != n ? EIO : errno;
		unlink(path);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(why, CRYPTO_ERR_LEN, "%s", err == EEXIST ?
			 "the file exists and is never overwritten" : strerror(err));
		return -1;
	}
	return 0;
}
