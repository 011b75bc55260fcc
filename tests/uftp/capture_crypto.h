/* capture_crypto.h — just enough of uftp 4.x's key schedule to decrypt a
 * captured RSA-key-exchange, AES-CBC, SHA-256 session, given the server's
 * private key, so the capture test can decode the messages inside
 * ENCRYPTED. A test aid, not ferry's crypto module. */
#ifndef FERRY_TEST_CAPTURE_CRYPTO_H
#define FERRY_TEST_CAPTURE_CRYPTO_H

#include "ferry/uftp_msg.h"

struct capcrypt;

struct capcrypt *capcrypt_open(const char *server_key_pem);
void capcrypt_close(struct capcrypt *cc);
/* Learns from ANNOUNCE (server random, algorithms), REGISTER (premaster,
 * client random) and KEYINFO (group master), in capture order. */
void capcrypt_observe(struct capcrypt *cc, const struct uftp_msg *m);
/* Decrypts an ENCRYPTED message; returns the plaintext length, or -1 when
 * the keys are not known yet or decryption fails. */
long capcrypt_decrypt(struct capcrypt *cc, const struct uftp_msg *m,
		      uint8_t *out, size_t cap);

#endif
