/* crypto.h — ferry's cryptography on wolfCrypt, as UFTP 4.x uses it: keys,
 * PEM files, key blobs, fingerprints, hashes, PRFs, ciphers, RSA, ECDSA, ECDH. */
#ifndef FERRY_CRYPTO_H
#define FERRY_CRYPTO_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_CRYPTO)
#error "ferry/crypto.h: this module may not use crypto (module graph: meson.build)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Algorithms are named by their uftp numbers (UFTP_HASH_*, UFTP_KEY_*,
 * UFTP_KEYBLOB_*, curves 1..25 of protocol.txt) so nothing translates. */

#define CRYPTO_HASH_MAX   64    /* SHA-512 */
#define CRYPTO_FP_LEN     20    /* a fingerprint is SHA-1 of the key blob */
#define CRYPTO_FP_STR     60    /* "AB:CD:...", 59 characters and NUL */
#define CRYPTO_BLOB_MAX   (8 + 512)   /* RSA-4096 blob */
#define CRYPTO_SIG_MAX    512   /* RSA-4096 signature */
#define CRYPTO_ERR_LEN    160   /* room for a reason */
#define CRYPTO_RSA_MIN    512
#define CRYPTO_RSA_MAX    4096
#define CRYPTO_ECDH_LEN   20    /* SHA-1 of the ECDH shared secret */

/* ---- random numbers: one generator per thread, never shared ---------- */
struct crypto_rng;
struct crypto_rng *crypto_rng_new(void);
void crypto_rng_free(struct crypto_rng *rng);
int crypto_random(struct crypto_rng *rng, void *out, size_t len); /* 0 or -1 */
/* This thread's own generator, made on first use (NULL if that fails);
 * freed by crypto_thread_done. */
struct crypto_rng *crypto_thread_rng(void);
/* wolfCrypt here keeps an EC fixed-point cache per thread (FP_ECC): a
 * thread that used EC keys (or crypto_thread_rng) calls this before it
 * exits, or leaks it. */
void crypto_thread_done(void);

/* ---- hashes, HMAC, PRFs ---------------------------------------------- */
size_t crypto_hash_len(int hashtype);          /* 0: unknown hash */
int crypto_hash(int hashtype, const void *in, size_t len, uint8_t *out);
int crypto_hmac(int hashtype, const void *key, size_t keylen,
		const void *in, size_t len, uint8_t *out);
/* The PRFs of RFC 4346 (TLS 1.0/1.1: MD5 xor SHA-1) and RFC 5246 (TLS 1.2
 * with the given hash). 0 or -1. */
int crypto_prf_tls10(const void *secret, size_t slen, const char *label,
		     const void *seed, size_t seedlen, uint8_t *out, size_t n);
int crypto_prf_tls12(int hashtype, const void *secret, size_t slen,
		     const char *label, const void *seed, size_t seedlen,
		     uint8_t *out, size_t n);
/* uftp 4.x's PRF: the TLS 1.1 construction for SHA-1, P_hash of the hash
 * otherwise, both with uftp's quirk (A(i+1) = HMAC(A(i) + seed), so every
 * block after the first differs from TLS). */
int crypto_prf_uftp(int hashtype, const void *secret, size_t slen,
		    const char *label, const void *seed, size_t seedlen,
		    uint8_t *out, size_t n);

/* ---- symmetric ciphers (UFTP_KEY_*) ----------------------------------- */
size_t crypto_cipher_keylen(int keytype);   /* 0: unknown, or DES (as uftp here) */
size_t crypto_cipher_ivlen(int keytype);    /* 16 AES-CBC, 12 GCM/CCM, 8 3DES */
bool crypto_cipher_aead(int keytype);       /* GCM and CCM: 16-byte tag */
/* The IV of protocol.txt section 4 from salt, sender UID and counter. */
void crypto_cipher_iv(int keytype, const uint8_t salt[4], uint32_t uid,
		      uint64_t ctr, uint8_t *iv);
/* CBC pads as PKCS#7; GCM/CCM append the tag. The output needs len + 16
 * bytes. Return the output length, or -1. */
long crypto_encrypt(int keytype, const uint8_t *key, const uint8_t *iv,
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    uint8_t *out, size_t cap);
long crypto_decrypt(int keytype, const uint8_t *key, const uint8_t *iv,
		    const void *aad, size_t aadlen, const void *in, size_t len,
		    uint8_t *out, size_t cap);

/* ---- keys ------------------------------------------------------------- */
struct crypto_key;   /* an RSA or EC key, private or public only */

/* Curves: uftp number <-> name (uftp's spelling, plus the secp aliases);
 * supported tells whether wolfCrypt here can use it. */
int crypto_curve_by_name(const char *name);   /* 0: unknown */
const char *crypto_curve_name(int curve);     /* "UNKNOWN" */
bool crypto_curve_supported(int curve);

/* "rsa:BITS" or "ec:CURVE". NULL with a reason in why. */
struct crypto_key *crypto_key_generate(struct crypto_rng *rng, const char *spec,
				       char why[CRYPTO_ERR_LEN]);
/* An unencrypted PEM private key, RSA or EC, as OpenSSL and uftp_keymgt
 * write it (traditional or PKCS#8). */
struct crypto_key *crypto_key_from_pem(const void *pem, size_t len,
				       char why[CRYPTO_ERR_LEN]);
/* The traditional PEM ("RSA PRIVATE KEY", "EC PRIVATE KEY"); length or -1. */
long crypto_key_to_pem(const struct crypto_key *k, char *out, size_t cap);
/* Files (start-up only: they block). write refuses an existing file. */
struct crypto_key *crypto_key_read_file(const char *path, char why[CRYPTO_ERR_LEN]);
int crypto_key_write_file(const struct crypto_key *k, const char *path,
			  char why[CRYPTO_ERR_LEN]);
void crypto_key_free(struct crypto_key *k);

int crypto_key_type(const struct crypto_key *k);    /* UFTP_KEYBLOB_* */
unsigned crypto_key_bits(const struct crypto_key *k); /* modulus / order */
int crypto_key_curve(const struct crypto_key *k);   /* 0 for RSA */
bool crypto_key_private(const struct crypto_key *k);

/* Key blobs (protocol.txt 5.2.3.2/3): uftp's export, EC padded to 4. */
long crypto_key_blob(const struct crypto_key *k, uint8_t *out, size_t cap);
struct crypto_key *crypto_key_from_blob(const void *blob, size_t len);
/* A peer's one-time public key (a client's ECDH key or CLIENT_KEY): RSA
 * as crypto_key_from_blob; EC checked on its curve only, a full check on the cofactor-1 curves uftp
 * uses, so that wolfCrypt's fixed-point cache never builds a table for a
 * point used once (crypto_key_from_blob's order check makes the ECDH its
 * second use: ~5x the work). NULL if not a valid blob. */
struct crypto_key *crypto_key_from_peer_blob(const void *blob, size_t len);
/* SHA-1 of the blob, and "AB:CD:..." as uftp prints it. */
void crypto_blob_fingerprint(const void *blob, size_t len,
			     uint8_t fp[CRYPTO_FP_LEN]);
void crypto_fingerprint_str(const uint8_t fp[CRYPTO_FP_LEN],
			    char out[CRYPTO_FP_STR]);
int crypto_key_fingerprint(const struct crypto_key *k,
			   uint8_t fp[CRYPTO_FP_LEN]);
/* uftp's start-up line: "Loaded 512 bit RSA key with fingerprint ..." or
 * "Loaded ECDSA key with curve prime256v1 and fingerprint ...". */
int crypto_key_describe(const struct crypto_key *k, char *out, size_t cap);

/* ---- public-key operations (slow: not on a worker) --------------------- */
/* Each takes the key's lock (wolfCrypt keeps state in the key), so one
 * key can serve several helper threads. */
/* RSA encryption as uftp: PKCS#1 v1.5 below 768 bits, OAEP (SHA-1) from
 * 768 bits. Length or -1. */
long crypto_rsa_encrypt(const struct crypto_key *pub, struct crypto_rng *rng,
			const void *in, size_t len, uint8_t *out, size_t cap);
long crypto_rsa_decrypt(struct crypto_key *priv, struct crypto_rng *rng,
			const void *in, size_t len, uint8_t *out, size_t cap);
/* Signatures over hash(msg): RSA PKCS#1 v1.5 with the DigestInfo, or ECDSA
 * as uftp's rlen, slen, r, s, zero padded to crypto_sig_len. */
size_t crypto_sig_len(const struct crypto_key *k);
long crypto_sign(struct crypto_key *priv, struct crypto_rng *rng, int hashtype,
		 const void *msg, size_t len, uint8_t *sig, size_t cap);
bool crypto_verify(const struct crypto_key *pub, int hashtype,
		   const void *msg, size_t len, const void *sig, size_t siglen);
/* ECDH between our private key and a peer's public key (from a blob) on
 * the same curve; the premaster is SHA-1 of the shared x coordinate.
 * 0 or -1. */
int crypto_ecdh(struct crypto_key *priv, struct crypto_rng *rng,
		const struct crypto_key *peer, uint8_t out[CRYPTO_ECDH_LEN]);

/* ---- uftp 4.x's key schedule (protocol.txt section 4) ------------------- */
#define CRYPTO_RAND_LEN    32    /* server and client randoms */
#define CRYPTO_MASTER_LEN  48    /* master secret, group master */
#define CRYPTO_VERIFY_LEN  12    /* KEYINFO_ACK verify data */

/* The HMAC key, cipher key and IV salt cut from a key block. */
struct crypto_keyset {
	uint8_t hmac[CRYPTO_HASH_MAX];
	uint8_t key[32];
	uint8_t salt[4];
	size_t hmaclen, keylen;
};
/* Server/client: master = PRF(premaster, "master secret", rand1 + rand2),
 * keys = PRF(master, "key expansion", rand1 + rand2). 0 or -1. */
int crypto_uftp_session_keys(int hashtype, int keytype, const void *premaster,
			     size_t plen, const uint8_t *rand1, const uint8_t *rand2,
			     struct crypto_keyset *ks);
/* Group: keys = PRF(group master, "key expansion", rand1). */
int crypto_uftp_group_keys(int hashtype, int keytype,
			   const uint8_t master[CRYPTO_MASTER_LEN],
			   const uint8_t *rand1, struct crypto_keyset *ks);
/* The handshake values: group ID, private address, rand1, rand2,
 * premaster, and for KEYINFO_ACK the client's key blob (if it sent
 * CLIENT_KEY) and the group master (NULL for CLIENT_KEY's signature).
 * Length written, or -1 when cap is too small. */
long crypto_uftp_handshake(uint8_t *out, size_t cap, uint32_t group_id,
			   const void *addr, size_t addrlen, const uint8_t *rand1,
			   const uint8_t *rand2, const void *premaster, size_t plen,
			   const void *blob, size_t bloblen, const uint8_t *master);
/* verify_data = PRF(group master, "client finished", Hash(handshake)). */
int crypto_uftp_verify_data(int hashtype, const uint8_t master[CRYPTO_MASTER_LEN],
			    const void *hs, size_t len,
			    uint8_t out[CRYPTO_VERIFY_LEN]);

/* KEYINFO's entry for one client: the last 47 bytes of the group master
 * under the client's session keys, in CBC even for GCM/CCM sessions, IV
 * from the sender's UID and the KEYINFO's counter. wrap writes 48 bytes;
 * unwrap restores all 48 (first byte: version). 0 or -1. */
int crypto_uftp_wrap_master(int keytype, const struct crypto_keyset *ks,
			    uint32_t src_id, uint64_t iv_ctr,
			    const uint8_t master[CRYPTO_MASTER_LEN], uint8_t out[48]);
int crypto_uftp_unwrap_master(int keytype, const struct crypto_keyset *ks,
			      uint32_t src_id, uint64_t iv_ctr, uint8_t version,
			      const uint8_t in[48], uint8_t master[CRYPTO_MASTER_LEN]);

/* An ENCRYPTED datagram: the 16-byte UFTP header, IV counter, signature
 * and payload lengths, signature, payload. open checks the signature
 * (HMAC with the keyset; RSA/ECDSA with signer, slow; GCM/CCM by the tag)
 * and decrypts into out; the plaintext length or -1. sig and payload are
 * the views uftp_decode gave, pointing into dgram. */
long crypto_uftp_open(const struct crypto_keyset *ks, int keytype, int hashtype,
		      int sigtype, const struct crypto_key *signer,
		      const uint8_t *dgram, size_t len, const uint8_t *sig,
		      size_t siglen, const uint8_t *payload, size_t paylen,
		      uint8_t *out, size_t cap);
/* The signature of a datagram (ENCRYPTED: at offset 28; ANNOUNCE: inside
 * EXT_ENC_INFO), made over the whole datagram with the signature zeroed:
 * HMAC with ks, or RSA/ECDSA (UFTP_SIG_KEYEX) with signer. */
bool crypto_uftp_check_sig(const struct crypto_keyset *ks, int hashtype,
			   int sigtype, const struct crypto_key *signer,
			   const uint8_t *dgram, size_t len, size_t sigoff,
			   const uint8_t *sig, size_t siglen);
/* Builds an ENCRYPTED datagram in out from the 16-byte header hdr (its
 * function byte is set to ENCRYPTED) and the plain message; signer is
 * the private key for KEYEX signatures. The datagram length or -1. */
long crypto_uftp_seal(const struct crypto_keyset *ks, int keytype, int hashtype,
		      int sigtype, struct crypto_key *signer, struct crypto_rng *rng,
		      const uint8_t hdr[16], uint64_t iv_ctr, const void *plain,
		      size_t plen, uint8_t *out, size_t cap);
/* An ENCRYPTED datagram under KEYEX signatures passed on under another
 * key (uftpproxyd's client proxy): the signature checked with from, the
 * datagram copied into out with signer's signature instead (slow: two
 * public-key operations). The new length, or -1 when the signature does
 * not verify or out is too small. */
long crypto_uftp_resign(const struct crypto_key *from, struct crypto_key *signer,
			struct crypto_rng *rng, int hashtype, const uint8_t *dgram,
			size_t len, uint8_t *out, size_t cap);

/* ---- digest.c: message digests and CRC-32 over a stream of bytes -------- */
/* (FTP's HASH and X* verbs: a stream of unknown length, so incremental.) */
enum crypto_digest_alg {
	CRYPTO_MD5, CRYPTO_SHA1, CRYPTO_SHA256, CRYPTO_SHA512, CRYPTO_CRC32,
};
enum { CRYPTO_DIGEST_MAX = 64 };   /* bytes of the longest digest (SHA-512) */

struct crypto_digest;
/* NULL when out of memory or the algorithm is not built into wolfCrypt. */
struct crypto_digest *crypto_digest_new(enum crypto_digest_alg alg);
int crypto_digest_update(struct crypto_digest *d, const void *data, size_t len); /* 0/-1 */
/* Writes the digest (big-endian for CRC-32) to out (CRYPTO_DIGEST_MAX
 * bytes); returns its length, or -1. The object is spent afterwards. */
int crypto_digest_final(struct crypto_digest *d, uint8_t *out);
void crypto_digest_free(struct crypto_digest *d);

/* ---- TLS server connections over memory buffers (tls.c) --------------- */
/* The certificate chain and key (PEM files), loaded once at start-up before
 * the privilege drop; read-only afterwards, shared by all workers. TLS 1.2
 * and 1.3 only. NULL with a reason in why. */
struct crypto_tls_ctx;
struct crypto_tls_ctx *crypto_tls_ctx_new(const char *cert_pem, const char *key_pem,
					  char why[CRYPTO_ERR_LEN]);
/* Drops a reference (the creator's first): the last one frees it. */
void crypto_tls_ctx_free(struct crypto_tls_ctx *ctx);
/* One more reference, for a holder that may outlive the creator's (a
 * connection holds one from crypto_tls_new to crypto_tls_free, so a reload
 * may drop its old context while sessions still use it). Returns ctx. */
struct crypto_tls_ctx *crypto_tls_ctx_ref(struct crypto_tls_ctx *ctx);

/* Several certificates (SNI): each checked as crypto_tls_ctx_new does; the
 * ClientHello's server name chooses the first whose subject CN or SAN
 * matches it (wildcards allowed), the first one otherwise. Session tickets
 * are sealed with inherit's key when given (a reload: tickets issued
 * before it still resume), else a new random one. NULL with why. */
struct crypto_tls_cert {
	const char *cert_pem, *key_pem;
};
struct crypto_tls_ctx *crypto_tls_ctx_new_multi(const struct crypto_tls_cert *certs, size_t n,
						const struct crypto_tls_ctx *inherit,
						char why[CRYPTO_ERR_LEN]);
/* A context a reload replaces (tlsslot.c): new connections take the one in
 * force under the slot's lock, each keeps its own reference to its end.
 * _new takes ctx's reference (NULL: out of memory, ctx untouched); _get
 * returns a reference (crypto_tls_ctx_free it) or NULL; _conn a connection
 * on the one in force, or NULL; _swap (the reloading thread) takes next's
 * reference and drops the old one. NULL slots give NULL. */
struct crypto_tls_slot;
struct crypto_tls_slot *crypto_tls_slot_new(struct crypto_tls_ctx *ctx);
void crypto_tls_slot_free(struct crypto_tls_slot *slot);
struct crypto_tls_ctx *crypto_tls_slot_get(struct crypto_tls_slot *slot);
struct crypto_tls *crypto_tls_slot_conn(struct crypto_tls_slot *slot);
void crypto_tls_slot_swap(struct crypto_tls_slot *slot, struct crypto_tls_ctx *next);
/* Narrows a context to TLS 1.2 (max_minor 2) or up to 1.3 (3), and to a
 * wolfSSL cipher list ("ECDHE-ECDSA-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256")
 * when not NULL: for tests and tools that need one version or cipher. 0/-1. */
int crypto_tls_ctx_limit(struct crypto_tls_ctx *ctx, int max_minor, const char *ciphers);
/* The first certificate's subject ("/CN=ftp.example"), for logs. */
const char *crypto_tls_ctx_subject(const struct crypto_tls_ctx *ctx, char *out, size_t cap);

/* One server-side TLS connection that never touches a socket: the caller
 * feeds it what arrived (crypto_tls_feed), and sends what it has to send
 * (crypto_tls_out / crypto_tls_sent) after every call. */
struct crypto_tls;
enum {
	CRYPTO_TLS_AGAIN = -1,   /* needs more input (or output sent) */
	CRYPTO_TLS_CLOSED = -2,  /* the peer sent close_notify */
	CRYPTO_TLS_ERROR = -3,   /* failed: handshake or record error, alert queued */
	CRYPTO_TLS_IN_MAX = 64 * 1024,  /* unread ciphertext held at most */
};
struct crypto_tls *crypto_tls_new(struct crypto_tls_ctx *ctx);
void crypto_tls_free(struct crypto_tls *t);
/* Received ciphertext, copied. false: more than CRYPTO_TLS_IN_MAX unread. */
bool crypto_tls_feed(struct crypto_tls *t, const void *in, size_t len);
/* Before the handshake: this connection sends no TLS 1.3 session ticket
 * after it. For connections a client only writes to: a ticket it has not
 * read when it closes, or that arrives after, makes its kernel reset the
 * connection, and what it had not sent yet (an upload's tail, its
 * close_notify) is lost. The ticket such a client resumed is spent for
 * some clients (OpenSSL's client cache uses a TLS 1.3 ticket once): give
 * it its next one elsewhere (crypto_tls_send_ticket). */
void crypto_tls_no_tickets(struct crypto_tls *t);
/* A TLS 1.3 server connection whose handshake is done: one more session
 * ticket, queued as output now. false: not TLS 1.3, not ready, or wolfSSL
 * failed (nothing queued then). */
bool crypto_tls_send_ticket(struct crypto_tls *t);
/* Runs the handshake: 1 done, CRYPTO_TLS_AGAIN, or CRYPTO_TLS_ERROR. */
int crypto_tls_handshake(struct crypto_tls *t);
bool crypto_tls_ready(const struct crypto_tls *t);
/* Plaintext into out: bytes (> 0), or CRYPTO_TLS_AGAIN/_CLOSED/_ERROR. */
long crypto_tls_read(struct crypto_tls *t, void *out, size_t cap);
/* Encrypts all of in into the output: 0 or CRYPTO_TLS_ERROR. */
int crypto_tls_write(struct crypto_tls *t, const void *in, size_t len);
/* Queues close_notify. */
void crypto_tls_shutdown(struct crypto_tls *t);
/* Ciphertext waiting to be sent (*p, returned length), and how much of it
 * the caller took. */
size_t crypto_tls_out(const struct crypto_tls *t, const uint8_t **p);
void crypto_tls_sent(struct crypto_tls *t, size_t n);
/* All waiting ciphertext as the malloc'd buffer holding it (len bytes from
 * its start, cap allocated), now the caller's to free: the engine can queue
 * it without a copy. NULL when nothing waits or part was sent. untake puts
 * it back (nothing was written meanwhile) when the caller cannot use it. */
void *crypto_tls_out_take(struct crypto_tls *t, size_t *len, size_t *cap);
void crypto_tls_out_untake(struct crypto_tls *t, void *p, size_t len, size_t cap);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256", for logs; the last error's reason. */
const char *crypto_tls_desc(const struct crypto_tls *t, char *out, size_t cap);
const char *crypto_tls_why(const struct crypto_tls *t);
/* After the handshake: the client resumed a session this context (shared by
 * every worker: one session cache, one ticket key) issued. */
bool crypto_tls_resumed(const struct crypto_tls *t);
/* The session a control connection's handshake made (in TLS 1.2: a digest
 * of its master secret, which resumption keeps), apart from the connection:
 * a data connection on another thread (the gateway's SPSV tokens) is
 * checked against it later. len 0: nothing to compare (TLS 1.3, where
 * wolfSSL 5.5.4 keeps a ticket's ID out of its public API). */
enum { CRYPTO_TLS_ORIGIN_MAX = 32 };
struct crypto_tls_origin {
	uint8_t id[CRYPTO_TLS_ORIGIN_MAX];
	uint8_t len;
};
void crypto_tls_origin_of(const struct crypto_tls *ctl, struct crypto_tls_origin *out);
/* Whose session a resumed connection took: 1 ctl's (told in TLS 1.2), 0 one
 * of this context's that cannot be told apart (TLS 1.3 tickets), -1 not
 * resumed or another connection's session. */
int crypto_tls_resumed_from(const struct crypto_tls *data, const struct crypto_tls_origin *ctl);
/* FTPS's resumption rule for data connections (RFC 4217; ftp.tls and
 * gateway.tls require_reuse), the one both servers apply: NULL when data
 * may carry ctl's transfers, else why not. */
const char *crypto_tls_reuse_refusal(const struct crypto_tls *data,
				     const struct crypto_tls_origin *ctl);

/* ---- kernel TLS: a side handed to the kernel (ktls.c) ------------------- */
/* What Linux's setsockopt(SOL_TLS, TLS_TX) takes to seal a connection's
 * next records: struct tls12_crypto_info_aes_gcm_128, _256 or
 * _chacha20_poly1305 of <linux/tls.h> in info (len bytes): the version and
 * cipher, the write key, for AES-GCM the 4-byte salt and the IV field
 * (TLS 1.2: the next explicit nonce; TLS 1.3: the last 8 bytes of the
 * static IV), for ChaCha20 the 12-byte IV, and the next record sequence
 * number. */
enum crypto_ktls_cipher { CRYPTO_KTLS_AES128_GCM = 1, CRYPTO_KTLS_AES256_GCM,
			  CRYPTO_KTLS_CHACHA20_POLY1305 };
struct crypto_ktls {
	int version;                    /* 12: TLS 1.2, 13: TLS 1.3 */
	enum crypto_ktls_cipher cipher;
	size_t len;
	union { uint8_t bytes[56]; uint64_t align; } info;
};
/* After the handshake, with no record waiting in crypto_tls_out: 0, or -1
 * with why (another cipher or version, not ready). */
int crypto_tls_ktls_tx(struct crypto_tls *t, struct crypto_ktls *k, char why[CRYPTO_ERR_LEN]);
/* The kernel took the keys: this layer never sends another record (writes
 * and shutdown fail or do nothing; an alert of a read is dropped), so the
 * two never use one sequence number twice. Reading goes on as before. */
void crypto_tls_kernel_tx(struct crypto_tls *t);
/* The receiving side (TLS_RX): the peer's write key and IV and the next
 * record sequence number to read. Only at a record boundary: every byte
 * fed (crypto_tls_feed) belongs to a record the layer has opened and every
 * byte of plaintext was read; else -1 with why. */
int crypto_tls_ktls_rx(struct crypto_tls *t, struct crypto_ktls *k, char why[CRYPTO_ERR_LEN]);
/* Where the peer's records stand in all a receiving side has received
 * (the boundary it may stop at for crypto_tls_ktls_rx): the owner keeps one
 * and moves it by each receive's own bytes, so that finding the boundary
 * costs what arrived, never a walk over all that is held (a client's
 * empty records made that quadratic). */
struct crypto_tls_cursor {
	uint8_t head[5];
	uint8_t have;          /* header bytes of the record being read */
	size_t left;           /* with a whole header: its body still to come */
};
/* The cursor after every byte fed so far (crypto_tls_feed). Reads only
 * what crypto_tls_feed writes: callable while a helper thread reads t. */
void crypto_tls_cursor_init(const struct crypto_tls *t, struct crypto_tls_cursor *c);
/* n more bytes of the stream, after all the cursor has seen. */
void crypto_tls_cursor_add(struct crypto_tls_cursor *c, const uint8_t *p, size_t n);
/* Bytes still to come before what was seen ends on a record boundary; 0
 * at one. */
size_t crypto_tls_cursor_need(const struct crypto_tls_cursor *c);
/* The kernel took the peer's keys: this layer reads no more (reads fail);
 * it still sends, with its own sequence numbers. */
void crypto_tls_kernel_rx(struct crypto_tls *t);
void crypto_ktls_wipe(struct crypto_ktls *k);   /* the key off the stack */

/* ---- TLS client connections (tls.c), for ferry-ftp and its bridge ------- */
/* Client context: TLS 1.2 and 1.3; with verify, the server's chain must lead
 * to a certificate of ca_pem (the system's CAs when NULL). */
struct crypto_tls_ctx *crypto_tls_client_ctx_new(const char *ca_pem_or_NULL, bool verify,
						 char why[CRYPTO_ERR_LEN]);
/* A client connection driven like the server's (feed, handshake, read,
 * write, out/sent). sni_host names the server: sent as SNI (not for an IP
 * literal) and, with verify on, the certificate must match it. */
struct crypto_tls *crypto_tls_client_new(struct crypto_tls_ctx *ctx, const char *sni_host_or_NULL);
/* Resumption: the session of an established connection (a TLS 1.3 ticket
 * arrives after the handshake, with the first read), NULL when none; offer
 * it on a new connection before its handshake; free what _get returned. */
void *crypto_tls_session_get(struct crypto_tls *t);
bool crypto_tls_session_set(struct crypto_tls *t, void *session);
void crypto_tls_session_free(void *session);
/* A thread that ran TLS handshakes ends: frees what wolfSSL keeps per
 * thread (the fixed-point ECC cache), or it leaks at every thread's exit. */
void crypto_tls_thread_end(void);
/* ---- which wolfSSL this process runs with (libinfo.c) -------------------- */
/* "wolfSSL 5.5.4 (/path/libwolfssl.so.35); AES-NI built in: no, ...", for
 * the start-up log (contrib/wolfssl-accel, meson -Dwolfssl_prefix). 0, or -1
 * when cap is too small. */
int crypto_lib_describe(char *out, size_t cap);

#endif
