/* cipher.c — the symmetric ciphers of UFTP (3DES, AES-128/256 in CBC, GCM
 * and CCM), their IVs, and OpenSSL-compatible padding and tags. Single DES
 * is left out: uftp 4.10.2 on OpenSSL 3 cannot use it either ("EncryptInit
 * for cipher failed ... unsupported"), so no session can ask for it. */
#include <string.h>

#include "internal.h"

#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/des3.h>


#define TAG_LEN 16

enum mode { M_NONE, M_3DES, M_AES_CBC, M_AES_GCM, M_AES_CCM };

static const struct {
	enum mode mode;
	size_t keylen, ivlen;
} ciphers[] = {
	[UFTP_KEY_DES_EDE3]   = { M_3DES,    24, 8 },
	[UFTP_KEY_AES128_CBC] = { M_AES_CBC, 16, 16 },
	[UFTP_KEY_AES256_CBC] = { M_AES_CBC, 32, 16 },
	[UFTP_KEY_AES128_GCM] = { M_AES_GCM, 16, 12 },
	[UFTP_KEY_AES256_GCM] = { M_AES_GCM, 32, 12 },
	[UFTP_KEY_AES128_CCM] = { M_AES_CCM, 16, 12 },
	[UFTP_KEY_AES256_CCM] = { M_AES_CCM, 32, 12 },
};

static enum mode mode_of(int keytype)
{
	if (keytype <= 0 || keytype >= (int)(sizeof(ciphers) / sizeof(*ciphers)))
		return M_NONE;
	return ciphers[keytype].mode;
}

size_t crypto_cipher_keylen(int keytype)
{
	return mode_of(keytype) == M_NONE ? 0 : ciphers[keytype].keylen;
}

size_t crypto_cipher_ivlen(int keytype)
{
	return mode_of(keytype) == M_NONE ? 0 : ciphers[keytype].ivlen;
}

bool crypto_cipher_aead(int keytype)
{
	enum mode m = mode_of(keytype);
	return m == M_AES_GCM || m == M_AES_CCM;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* 128 bits: S + UID + CTR; 96 bits: (S xor UID) + CTR; 64 bits:
 * (S + UID) xor CTR. UID and CTR are written in network order. */
void crypto_cipher_iv(int keytype, const uint8_t salt[4], uint32_t uid,
		      uint64_t ctr, uint8_t *iv)
{
	uint8_t u[4], c[8];
	put32(u, uid);
	put64(c, ctr);
	switch (crypto_cipher_ivlen(keytype)) {
	case 16:
		memcpy(iv, salt, 4);
		memcpy(iv + 4, u, 4);
		memcpy(iv + 8, c, 8);
		break;
	case 12:
		for (int i = 0; i < 4; i++)
			iv[i] = salt[i] ^ u[i];
		memcpy(iv + 4, c, 8);
		break;
	case 8:
		for (int i = 0; i < 4; i++) {
			iv[i] = salt[i] ^ c[i];
			iv[4 + i] = u[i] ^ c[4 + i];
		}
		break;
	default:
		break;
	}
}

static long des_cbc(const uint8_t *key, const uint8_t *iv, const uint8_t *in,
		    size_t len, uint8_t *out, bool enc)
{
	Des3 d;
	if (wc_Des3Init(&d, NULL, INVALID_DEVID) != 0)
		return -1;
	int r = wc_Des3_SetKey(&d, key, iv, enc ? DES_ENCRYPTION : DES_DECRYPTION);
	if (r == 0)
		r = enc ? wc_Des3_CbcEncrypt(&d, out, in, (word32)len)
			: wc_Des3_CbcDecrypt(&d, out, in, (word32)len);
	wc_Des3Free(&d);
	return r == 0 ? (long)len : -1;
}

static long aes_cbc(int keytype, const uint8_t *key, const uint8_t *iv,
		    const uint8_t *in, size_t len, uint8_t *out, bool enc)
{
	Aes aes;
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return -1;
	int r = wc_AesSetKey(&aes, key, (word32)crypto_cipher_keylen(keytype), iv,
			     enc ? AES_ENCRYPTION : AES_DECRYPTION);
	if (r == 0)
		r = enc ? wc_AesCbcEncrypt(&aes, out, in, (word32)len)
			: wc_AesCbcDecrypt(&aes, out, in, (word32)len);
	wc_AesFree(&aes);
	return r == 0 ? (long)len : -1;
}

static long cbc(int keytype, const uint8_t *key, const uint8_t *iv,
		const uint8_t *in, size_t len, uint8_t *out, bool enc)
{
	return mode_of(keytype) == M_3DES ? des_cbc(key, iv, in, len, out, enc)
					 : aes_cbc(keytype, key, iv, in, len, out, enc);
}

static long cbc_encrypt(int keytype, const uint8_t *key, const uint8_t *iv,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t bs = mode_of(keytype) == M_3DES ? 8 : 16;
	size_t pad = bs - len % bs, total = len + pad;
	if (total > cap)
		return -1;
	memmove(out, in, len);
	memset(out + len, (int)pad, pad);
	return cbc(keytype, key, iv, out, total, out, true);
}

static long cbc_decrypt(int keytype, const uint8_t *key, const uint8_t *iv,
			const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t bs = mode_of(keytype) == M_3DES ? 8 : 16;
	if (len == 0 || len % bs || len > cap ||
	    cbc(keytype, key, iv, in, len, out, false) < 0)
		return -1;
	uint8_t pad = out[len - 1], bad = 0;
	if (pad == 0 || pad > bs)
		return -1;
	for (size_t i = len - pad; i < len; i++)
		bad |= (uint8_t)(out[i] ^ pad);
	return bad ? -1 : (long)(len - pad);
}

static long aead(int keytype, const uint8_t *key, const uint8_t *iv,
		 const uint8_t *aad, size_t aadlen, const uint8_t *in,
		 size_t len, uint8_t *out, size_t cap, bool enc)
{
	Aes aes;
	size_t klen = crypto_cipher_keylen(keytype);
	size_t plain = enc ? len : len - TAG_LEN;
	if ((!enc && len < TAG_LEN) || (enc ? len + TAG_LEN : plain) > cap ||
	    wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return -1;
	int r;
	if (mode_of(keytype) == M_AES_GCM) {
		r = wc_AesGcmSetKey(&aes, key, (word32)klen);
		if (r == 0 && enc)
			r = wc_AesGcmEncrypt(&aes, out, in, (word32)len, iv, 12,
					     out + len, TAG_LEN, aad, (word32)aadlen);
		else if (r == 0)
			r = wc_AesGcmDecrypt(&aes, out, in, (word32)plain, iv, 12,
					     in + plain, TAG_LEN, aad, (word32)aadlen);
	} else {
		r = wc_AesCcmSetKey(&aes, key, (word32)klen);
		if (r == 0 && enc)
			r = wc_AesCcmEncrypt(&aes, out, in, (word32)len, iv, 12,
					     out + len, TAG_LEN, aad, (word32)aadlen);
		else if (r == 0)
			r = wc_AesCcmDecrypt(&aes, out, in, (word32)plain, iv, 12,
					     in + plain, TAG_LEN, aad, (word32)aadlen);
	}
	wc_AesFree(&aes);
	if (r != 0)
		return -1;
	return (long)(enc ? len + TAG_LEN : plain);
}

long crypto_encrypt(int keytype, const uint8_t *key, const uint8_t *iv,
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    uint8_t *out, size_t cap)
{
	if (len > UINT32_MAX - 32 || aadlen > UINT32_MAX)
		return -1;
	switch (mode_of(keytype)) {
	case M_3DES:
	case M_AES_CBC: return cbc_encrypt(keytype, key, iv, in, len, out, cap);
	case M_AES_GCM:
	case M_AES_CCM: return aead(keytype, key, iv, aad, aadlen, in, len, out,
				    cap, true);
	default:        return -1;
	}
}

long crypto_decrypt(int keytype, const uint8_t *key, const uint8_t *iv,
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    uint8_t *out, size_t cap)
{
	if (len > UINT32_MAX || aadlen > UINT32_MAX)
		return -1;
	switch (mode_of(keytype)) {
	case M_3DES:
	case M_AES_CBC: return cbc_decrypt(keytype, key, iv, in, len, out, cap);
	case M_AES_GCM:
	case M_AES_CCM: return aead(keytype, key, iv, aad, aadlen, in, len, out,
				    cap, false);
	default:        return -1;
	}
}
