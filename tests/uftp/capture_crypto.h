/* capture_crypto.h — replays uftp 4.x's key exchange over a captured
 * session with ferry's crypto module: checks ANNOUNCE, CLIENT_KEY and
 * ENCRYPTED signatures against the keys in the capture, and, given the
 * server's private key (RSA key exchange, AES-CBC), derives every key,
 * checks KEYINFO_ACK verify data and decrypts ENCRYPTED messages. A test
 * aid for the capture test. */
#ifndef FERRY_TEST_CAPTURE_CRYPTO_H
#define FERRY_TEST_CAPTURE_CRYPTO_H

#include "ferry/uftp.h"

struct capcrypt;

/* server_key_pem NULL: signatures only. */
struct capcrypt *capcrypt_open(const char *server_key_pem);
void capcrypt_close(struct capcrypt *cc);
/* Learns from each datagram in capture order (ANNOUNCE, REGISTER,
 * CLIENT_KEY, KEYINFO) and checks what it can: returns "sig_ok",
 * "sig_bad", or NULL when there is nothing to check. */
const char *capcrypt_observe(struct capcrypt *cc, const struct uftp_msg *m,
			     const uint8_t *dgram, size_t len);
/* Decrypts an ENCRYPTED datagram (checking its HMAC or tag); the
 * plaintext length, or -1 when the keys are not known or it fails. */
long capcrypt_decrypt(struct capcrypt *cc, const struct uftp_msg *m,
		      const uint8_t *dgram, size_t len, uint8_t *out, size_t cap);
/* A decrypted KEYINFO_ACK's verify data against protocol.txt section 4:
 * "verify_ok", "verify_bad", or NULL when the client's keys are unknown. */
const char *capcrypt_keyinfo_ack(struct capcrypt *cc, uint32_t src_id,
				 const uint8_t *verify);

#endif
