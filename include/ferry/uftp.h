/* uftp.h — the UFTP 4.x wire format (protocol version 0x40): constants,
 * error codes, the common header, quantisers, UID lists, header extensions
 * and key blobs. Then the messages of
 * section 5.2: one struct per message, decoders, encoders. */
#ifndef FERRY_UFTP_H
#define FERRY_UFTP_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_UFTP)
#error "ferry/uftp.h: this module may not use uftp (module graph: meson.build)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/base.h"

#define UFTP_VERSION 0x40       /* protocol.txt says 0x30; 4.x sends 0x40 */
#define UFTP_HDR_LEN 16
#define UFTP_RAND_LEN 32        /* server and client random numbers */
#define UFTP_VERIFY_LEN 12      /* KEYINFO_ACK verify data */
#define UFTP_MASTER_LEN 48      /* encrypted group master per KEYINFO entry */
#define UFTP_ABORT_TEXT_LEN 300 /* ABORT's fixed message field */

/* ---- constants (protocol.txt 5.3) ------------------------------------ */

enum uftp_func {
	UFTP_ANNOUNCE = 1, UFTP_REGISTER, UFTP_CLIENT_KEY, UFTP_REG_CONF,
	UFTP_KEYINFO, UFTP_KEYINFO_ACK, UFTP_FILEINFO, UFTP_FILEINFO_ACK,
	UFTP_FILESEG, UFTP_DONE, UFTP_STATUS, UFTP_COMPLETE, UFTP_DONE_CONF,
	UFTP_HB_REQ, UFTP_HB_RESP, UFTP_KEY_REQ, UFTP_PROXY_KEY,
	UFTP_ENCRYPTED, UFTP_ABORT, UFTP_CONG_CTRL, UFTP_CC_ACK,
	UFTP_FUNC_MAX = UFTP_CC_ACK
};

enum uftp_ext_type {
	UFTP_EXT_ENC_INFO = 1, UFTP_EXT_TFMCC_DATA_INFO,
	UFTP_EXT_TFMCC_ACK_INFO,
	UFTP_EXT_PGMCC_DATA_INFO, UFTP_EXT_PGMCC_NAK_INFO,
	UFTP_EXT_PGMCC_ACK_INFO, UFTP_EXT_FREESPACE_INFO,
	UFTP_EXT_MAX = UFTP_EXT_FREESPACE_INFO
};

enum { UFTP_KEY_NONE, UFTP_KEY_DES, UFTP_KEY_DES_EDE3, UFTP_KEY_AES128_CBC,
       UFTP_KEY_AES256_CBC, UFTP_KEY_AES128_GCM, UFTP_KEY_AES256_GCM,
       UFTP_KEY_AES128_CCM, UFTP_KEY_AES256_CCM };
enum { UFTP_HASH_NONE, UFTP_HASH_MD5, UFTP_HASH_SHA1, UFTP_HASH_SHA256,
       UFTP_HASH_SHA384, UFTP_HASH_SHA512 };
enum { UFTP_SIG_NONE, UFTP_SIG_HMAC, UFTP_SIG_KEYEX, UFTP_SIG_AUTHENC };
enum { UFTP_KEYEX_NONE, UFTP_KEYEX_RSA, UFTP_KEYEX_ECDH_RSA,
       UFTP_KEYEX_ECDH_ECDSA };
enum { UFTP_KEYBLOB_RSA = 1, UFTP_KEYBLOB_EC = 2 };
enum { UFTP_HB_AUTH_FAILED, UFTP_HB_AUTH_OK, UFTP_HB_AUTH_CHALLENGE };
enum { UFTP_FTYPE_REG, UFTP_FTYPE_DIR, UFTP_FTYPE_LINK, UFTP_FTYPE_DELETE,
       UFTP_FTYPE_FREESPACE };
enum { UFTP_COMP_NORMAL, UFTP_COMP_SKIPPED, UFTP_COMP_OVERWRITE,
       UFTP_COMP_REJECTED };
enum { UFTP_CC_NONE, UFTP_CC_UFTP3, UFTP_CC_TFMCC, UFTP_CC_PGMCC };
enum { UFTP_CURVE_SECP256R1 = 23, UFTP_CURVE_SECP384R1 = 24,
       UFTP_CURVE_SECP521R1 = 25 };   /* 1..25 as in 5.3.12 */

/* Flag bits, by the message they belong to. */
#define UFTP_F_SYNC_MODE    0x01   /* ANNOUNCE */
#define UFTP_F_SYNC_PREVIEW 0x02   /* ANNOUNCE */
#define UFTP_F_IPV6         0x04   /* ANNOUNCE: 16-byte addresses */
#define UFTP_F_CLIENT_AUTH  0x01   /* EXT_ENC_INFO */
#define UFTP_F_PARTIAL      0x01   /* FILEINFO_ACK */
#define UFTP_F_CURRENT_FILE 0x01   /* ABORT */
#define UFTP_F_CC_CLR       0x01   /* CONG_CTRL items, TFMCC ACK info */
#define UFTP_F_CC_RTT       0x02
#define UFTP_F_CC_START     0x04
#define UFTP_F_CC_LEAVE     0x08

/* ---- errors ------------------------------------------------------------
 * Every decoder and encoder returns one of these; callers count them per
 * code (uftp_strerror names them) and drop the datagram. */
enum uftp_err {
	UFTP_OK = 0,
	UFTP_E_SHORT,        /* fewer than 16 bytes: no UFTP header */
	UFTP_E_VERSION,      /* version byte is not 0x40 */
	UFTP_E_FUNC,         /* unknown message type */
	UFTP_E_FUNC_MISMATCH,/* body's function byte is not the header's */
	UFTP_E_TRUNC,        /* body too short for its function and hlen
			      * bytes (ENCRYPTED: for its 12 fixed bytes) */
	UFTP_E_HLEN_SHORT,   /* hlen*4 below the message's fixed header size */
	UFTP_E_HLEN_LONG,    /* hlen*4 runs past the end of the datagram */
	UFTP_E_FIELD_LEN,    /* a length field (key, signature, name, payload)
			      * runs past hlen, or past the datagram */
	UFTP_E_EXT_ZERO,     /* extension length 0 (would loop forever) */
	UFTP_E_EXT_LONG,     /* extension runs past hlen (or less than the
			      * one word an extension needs is left) */
	UFTP_E_EXT_SHORT,    /* known extension shorter than its fixed fields */
	UFTP_E_EXT_LEN,      /* EXT_ENC_INFO key+dh+sig lengths != its length */
	UFTP_E_EXT_DUP,      /* the same known extension twice */
	UFTP_E_LIST_ALIGN,   /* bytes after hlen are not whole list items */
	UFTP_E_TRAILING,     /* bytes after a message that has no list/data */
	UFTP_E_BLOB,         /* malformed RSA or EC key blob */
	UFTP_E_NOSPACE,      /* encoder: the caller's buffer is too small */
	UFTP_E_RANGE,        /* encoder: a value does not fit its wire field */
	UFTP_E_COUNT
};
const char *uftp_strerror(enum uftp_err e);  /* "hlen_long", never NULL */
const char *uftp_func_name(unsigned func);   /* "FILESEG", "?" if unknown */

/* ---- common header ----------------------------------------------------- */

struct uftp_hdr {
	uint8_t version;     /* UFTP_VERSION */
	uint8_t func;        /* enum uftp_func; UFTP_ENCRYPTED if encrypted */
	uint16_t seq;
	uint32_t src_id;     /* UID of the sender */
	uint32_t group_id;
	uint8_t group_inst;
	uint8_t grtt;        /* quantised, see uftp_grtt_* */
	uint8_t gsize;       /* quantised, see uftp_gsize_* */
	uint8_t reserved;    /* kept so re-encoding reproduces the bytes */
};

/* The proxy's hot path: reads only the 16-byte header. Checks length >= 16
 * and version == 0x40; does not look at the body or at func. */
enum uftp_err uftp_peek(const uint8_t *dgram, size_t len, struct uftp_hdr *h);
/* Reads the header from c (same checks as uftp_peek). */
enum uftp_err uftp_hdr_decode(struct fb_rcur *c, struct uftp_hdr *h);
void uftp_hdr_encode(struct fb_wcur *w, const struct uftp_hdr *h);
/* In-place rewrites of a received datagram's header, e.g. a proxy putting
 * its own UID in src_id. Return UFTP_E_SHORT if len < 16, else UFTP_OK. */
enum uftp_err uftp_set_src_id(uint8_t *dgram, size_t len, uint32_t src_id);
enum uftp_err uftp_set_seq(uint8_t *dgram, size_t len, uint16_t seq);
enum uftp_err uftp_set_hdr(uint8_t *dgram, size_t len,
			   const struct uftp_hdr *h);

/* ---- quantisation -------------------------------------------------------
 * GRTT as RFC 5401 3.7.4 and uftp: 0..31 are 1..32 us, above that
 * 1000 s / e^((255 - q) / 13). quantize rounds up (never understates) and
 * clamps to [1 us, 1000 s]. Group size: 5-bit mantissa (0..31 = 0.0..9.7)
 * and 3-bit exponent of 10. Rate (TFMCC send_rate/cc_rate, bytes/s): RFC
 * 5740's 12-bit mantissa and 4-bit exponent. All without libm. */
uint8_t uftp_grtt_quantize(double seconds);
double uftp_grtt_unquantize(uint8_t q);
uint8_t uftp_gsize_quantize(unsigned clients);
unsigned uftp_gsize_unquantize(uint8_t q);
uint16_t uftp_rate_quantize(uint64_t bytes_per_sec);
uint64_t uftp_rate_unquantize(uint16_t q);

/* ---- UID lists -----------------------------------------------------------
 * The lists of client UIDs after hlen (ANNOUNCE, REGISTER, REG_CONF,
 * FILEINFO, FILEINFO_ACK, DONE, COMPLETE, DONE_CONF). Decoders point wire
 * at the datagram; to encode, set either wire or host (host order). */
struct uftp_uids {
	const uint8_t *wire;      /* count * 4 bytes, network order */
	const uint32_t *host;     /* used instead of wire when not NULL */
	size_t count;
};
uint32_t uftp_uid_at(const struct uftp_uids *u, size_t i); /* 0 if i>=count */
bool uftp_uids_contains(const struct uftp_uids *u, uint32_t uid);
/* for (size_t i = 0; uftp_uid_next(&u, &i, &uid);) ... */
bool uftp_uid_next(const struct uftp_uids *u, size_t *i, uint32_t *uid);

/* ---- header extensions ---------------------------------------------------
 * Between a message's fixed (and variable-length) fields and hlen*4. Each
 * is type, length in 4-byte words (never 0), fields. Known ones are decoded
 * (first of each type; a second is UFTP_E_EXT_DUP), unknown ones skipped
 * and counted, as protocol.txt asks. Encoders write the present ones in
 * type order, each at its defined size; unknown ones are not re-encoded. */
struct uftp_enc_info {            /* EXT_ENC_INFO, in ANNOUNCE */
	uint8_t flags;            /* UFTP_F_CLIENT_AUTH */
	uint8_t keyextype;        /* UFTP_KEYEX_* (high nibble on the wire) */
	uint8_t sigtype;          /* UFTP_SIG_* (low nibble) */
	uint8_t keytype, hashtype;
	struct fb_bview rand1;       /* UFTP_RAND_LEN bytes */
	struct fb_bview keyblob, dhblob, sig;
};
struct uftp_tfmcc_data { uint16_t send_rate, cc_seq, cc_rate; }; /* FILESEG */
struct uftp_tfmcc_ack {           /* STATUS, CC_ACK */
	uint8_t flags;            /* UFTP_F_CC_* */
	uint16_t cc_seq, cc_rate;
	uint32_t client_id, ts_sec, ts_usec;
};
struct uftp_pgmcc_data { uint32_t acker; };                    /* FILESEG */
struct uftp_pgmcc_nak { uint16_t loss; uint32_t ts_sec, ts_usec; }; /* STATUS */
struct uftp_pgmcc_ack {           /* CC_ACK */
	uint16_t loss, max_seq;
	uint32_t ack_bitmap, ts_sec, ts_usec;
};
struct uftp_exts {
	uint16_t present;         /* bit (1 << type) per known extension */
	uint16_t unknown;         /* extensions of unknown types, skipped */
	struct uftp_enc_info enc_info;
	struct uftp_tfmcc_data tfmcc_data;
	struct uftp_tfmcc_ack tfmcc_ack;
	struct uftp_pgmcc_data pgmcc_data;
	struct uftp_pgmcc_nak pgmcc_nak;
	struct uftp_pgmcc_ack pgmcc_ack;
	uint64_t freespace;       /* EXT_FREESPACE_INFO, in COMPLETE */
};
#define UFTP_HAS_EXT(e, type) (((e)->present >> (type)) & 1u)
/* Parses all of c as extensions. EXT_ENC_INFO must be exactly
 * 44 + keylen + dhlen + siglen bytes (uftp clients insist on it too). */
enum uftp_err uftp_exts_decode(struct fb_rcur *c, struct uftp_exts *e);
enum uftp_err uftp_exts_encode(struct fb_wcur *w, const struct uftp_exts *e);

/* ---- key blobs (RSA 5.2.3.2, EC 5.2.3.3) ----------------------------- */
struct uftp_keyblob {
	uint8_t type;             /* UFTP_KEYBLOB_RSA or _EC */
	uint8_t curve;            /* EC */
	uint32_t exponent;        /* RSA */
	struct fb_bview key;         /* RSA modulus, or EC X||Y */
};
/* Checks the type and that the declared key length fits the blob. An RSA
 * blob must be exactly 8 + modulus (uftp imports no other); an EC blob may
 * have bytes after the key, as uftp pads it with zeros to a multiple of 4
 * (blob length counts the padding, the key length does not). */
enum uftp_err uftp_keyblob_decode(struct fb_bview blob, struct uftp_keyblob *kb);
enum uftp_err uftp_keyblob_encode(struct fb_wcur *w,
				  const struct uftp_keyblob *kb);

/* ==== the messages (protocol.txt 5.2) =================================== */

/* Conventions. Decoders take a cursor at the body (the function byte,
 * right after the 16-byte header) and consume the rest of the datagram.
 * Views point into the datagram. Reserved fields are ignored when decoding
 * and written as zero. Encoders append the body at the write cursor,
 * compute hlen (padding the header to 4 bytes) and return UFTP_OK,
 * UFTP_E_NOSPACE or UFTP_E_RANGE; "fixed" below is the body's fixed size.
 * Timestamps are seconds + microseconds (the *_usec fields).
 *
 * Notes from uftp 4.10.2 on the wire (tests/uftp/capture.py records it):
 * names are NUL-padded to whole words, and one that fills its words has no
 * NUL; STATUS bitmaps are ceil(blocks / 8) bytes and ENCRYPTED payloads
 * any length, so datagrams need not be multiples of 4; EC key blobs are
 * zero-padded to 4 bytes; ECDSA signatures are rlen, slen, r, s, padding
 * (not DER); HB_*, KEY_REQ and PROXY_KEY carry group 0; a client proxy
 * sends its own KEYINFO downstream with the server's UID as source; DONE
 * may list no client at all. */

struct uftp_announce {          /* fixed 16 + 2 addresses */
	uint8_t flags;          /* UFTP_F_SYNC_MODE, _SYNC_PREVIEW, _IPV6 */
	uint8_t robust, cc_type;
	uint16_t blocksize;
	uint32_t ts_sec, ts_usec;
	struct fb_bview pub_addr;  /* 4 bytes, 16 with UFTP_F_IPV6 */
	struct fb_bview priv_addr;
	struct uftp_exts ext;   /* EXT_ENC_INFO when encrypted */
	struct uftp_uids uids;  /* closed group: (part of) the member list */
};

struct uftp_register {          /* fixed 44 + keyinfo */
	uint32_t ts_sec, ts_usec;    /* the server's, echoed and adjusted */
	struct fb_bview rand2;          /* UFTP_RAND_LEN bytes, zeros if clear */
	struct fb_bview keyinfo;        /* RSA-encrypted premaster or EC blob */
	struct uftp_exts ext;
	struct uftp_uids uids;       /* from a proxy: its clients */
};

struct uftp_client_key {        /* fixed 8 + keyblob + verify; no list */
	struct fb_bview keyblob, verify;
	struct uftp_exts ext;
};

struct uftp_reg_conf {          /* fixed 4 */
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_destkey {           /* one KEYINFO entry: 4 + 48 bytes */
	uint32_t uid;
	const uint8_t *master;  /* UFTP_MASTER_LEN encrypted bytes */
};
struct uftp_keyinfo {           /* fixed 12; after hlen, 52-byte entries */
	uint64_t iv_ctr;
	struct uftp_exts ext;
	const uint8_t *wire;    /* count entries as sent, or ... */
	const struct uftp_destkey *keys;   /* ... these, when not NULL */
	size_t count;
};
bool uftp_keyinfo_at(const struct uftp_keyinfo *k, size_t i,
		     struct uftp_destkey *out);

struct uftp_keyinfo_ack {       /* fixed 16; always sent encrypted */
	struct fb_bview verify;    /* UFTP_VERIFY_LEN bytes */
	struct uftp_exts ext;
};

struct uftp_fileinfo {          /* fixed 28 + name + link (4-byte words) */
	uint16_t file_id;
	uint8_t ftype;          /* UFTP_FTYPE_* */
	uint64_t size;          /* 48 bits on the wire */
	uint32_t ftstamp;       /* file mtime; 0 for links, deletes, free */
	uint32_t ts_sec, ts_usec;
	struct fb_bview name;      /* without the zero padding; no terminator */
	struct fb_bview link;      /* link target, empty unless UFTP_FTYPE_LINK */
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_fileinfo_ack {      /* fixed 16 */
	uint16_t file_id;
	uint8_t flags;          /* UFTP_F_PARTIAL */
	uint32_t ts_sec, ts_usec;
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_fileseg {           /* fixed 8; after hlen, the block */
	uint16_t file_id, section, sec_block;
	struct uftp_exts ext;   /* EXT_TFMCC_DATA_INFO / EXT_PGMCC_DATA_INFO */
	struct fb_bview data;
};

struct uftp_done {              /* fixed 8; file_id 0 ends the session */
	uint16_t file_id, section;
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_status {            /* fixed 8; after hlen, the NAK bitmap */
	uint16_t file_id, section;
	struct uftp_exts ext;   /* EXT_TFMCC_ACK_INFO / EXT_PGMCC_NAK_INFO */
	struct fb_bview naks;      /* bit n (MSB first) = block n NAKed; any
				 * length: uftp sends ceil(blocks/8) bytes */
};

struct uftp_complete {          /* fixed 8 */
	uint16_t file_id;
	uint8_t status;         /* UFTP_COMP_* */
	struct uftp_exts ext;   /* EXT_FREESPACE_INFO */
	struct uftp_uids uids;
};

struct uftp_done_conf {         /* fixed 4 */
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_abort {             /* fixed 308: text is a 300-byte field */
	uint8_t flags;          /* UFTP_F_CURRENT_FILE */
	uint32_t host;          /* UID to abort, 0 = all */
	struct fb_bview text;      /* up to the first NUL; encoder zero-fills */
	struct uftp_exts ext;
};

struct uftp_hb_req {            /* fixed 12 + keyblob + signed nonce */
	uint32_t nonce;
	struct fb_bview keyblob, signed_nonce;   /* empty when unsigned */
	struct uftp_exts ext;
};

struct uftp_hb_resp {           /* fixed 8 */
	uint8_t auth;           /* UFTP_HB_AUTH_* */
	uint32_t nonce;
	struct uftp_exts ext;
};

struct uftp_key_req {           /* fixed 4 */
	struct uftp_exts ext;
};

struct uftp_proxy_key {         /* fixed 12 + keyblob + dhblob + signature */
	uint32_t nonce;
	struct fb_bview keyblob, dhblob, signed_nonce;
	struct uftp_exts ext;
};

struct uftp_cc_item {           /* one CONG_CTRL entry: 8 bytes */
	uint32_t uid;
	uint8_t flags;          /* UFTP_F_CC_* */
	uint8_t rtt;            /* quantised like the GRTT */
};
struct uftp_cong_ctrl {         /* fixed 16; after hlen, 8-byte items */
	uint16_t cc_seq, cc_rate;
	uint32_t ts_sec, ts_usec;
	struct uftp_exts ext;
	const uint8_t *wire;    /* count items as sent, or ... */
	const struct uftp_cc_item *items;  /* ... these, when not NULL */
	size_t count;
};
bool uftp_cc_item_at(const struct uftp_cong_ctrl *cc, size_t i,
		     struct uftp_cc_item *out);

struct uftp_cc_ack {            /* fixed 4 */
	struct uftp_exts ext;   /* EXT_TFMCC_ACK_INFO / EXT_PGMCC_ACK_INFO */
};

struct uftp_encrypted {         /* no function byte, no hlen: 12 + lengths */
	uint64_t iv_ctr;
	struct fb_bview sig;       /* HMAC or RSA/ECDSA signature; empty for
				 * GCM/CCM. Any length (not only x4). */
	struct fb_bview payload;   /* the encrypted message; must end exactly
				 * at the end of the datagram */
};

/* The message table: X(struct suffix, member of uftp_msg.u, UFTP_ type,
 * minimum body size in bytes: the fixed fields, for ANNOUNCE with two IPv4
 * addresses). Each has a decoder and an encoder named after the struct:
 * enum uftp_err uftp_decode_announce(struct fb_rcur *, struct uftp_announce *);
 * enum uftp_err uftp_encode_announce(struct fb_wcur *,
 *                                    const struct uftp_announce *);
 */
#define UFTP_MESSAGES(X) \
	X(announce, announce, ANNOUNCE, 24) \
	X(register, reg, REGISTER, 44) \
	X(client_key, client_key, CLIENT_KEY, 8) \
	X(reg_conf, reg_conf, REG_CONF, 4) \
	X(keyinfo, keyinfo, KEYINFO, 12) \
	X(keyinfo_ack, keyinfo_ack, KEYINFO_ACK, 16) \
	X(fileinfo, fileinfo, FILEINFO, 28) \
	X(fileinfo_ack, fileinfo_ack, FILEINFO_ACK, 16) \
	X(fileseg, fileseg, FILESEG, 8) \
	X(done, done, DONE, 8) \
	X(status, status, STATUS, 8) \
	X(complete, complete, COMPLETE, 8) \
	X(done_conf, done_conf, DONE_CONF, 4) \
	X(hb_req, hb_req, HB_REQ, 12) \
	X(hb_resp, hb_resp, HB_RESP, 8) \
	X(key_req, key_req, KEY_REQ, 4) \
	X(proxy_key, proxy_key, PROXY_KEY, 12) \
	X(encrypted, encrypted, ENCRYPTED, 12) \
	X(abort, abort, ABORT, 308) \
	X(cong_ctrl, cong_ctrl, CONG_CTRL, 16) \
	X(cc_ack, cc_ack, CC_ACK, 4)

#define UFTP_DECLARE_CODEC(name, member, func, min) \
	enum uftp_err uftp_decode_##name(struct fb_rcur *c, \
					 struct uftp_##name *m); \
	enum uftp_err uftp_encode_##name(struct fb_wcur *w, \
					 const struct uftp_##name *m);
UFTP_MESSAGES(UFTP_DECLARE_CODEC)

/* UFTP_MIN_ANNOUNCE ... UFTP_MIN_CC_ACK: the minimum body sizes above. */
#define UFTP_MIN_ENUM(name, member, func, min) UFTP_MIN_##func = min,
enum { UFTP_MESSAGES(UFTP_MIN_ENUM) };

/* Any message: hdr.func says which member of u is valid. */
struct uftp_msg {
	struct uftp_hdr hdr;
	union {
#define UFTP_MEMBER(name, member, func, min) struct uftp_##name member;
		UFTP_MESSAGES(UFTP_MEMBER)
#undef UFTP_MEMBER
	} u;
};

/* ---- whole datagrams ---------------------------------------------------- */

/* Decodes the datagram under c (header, then the body by hdr.func) into
 * m; variable parts of m point into the datagram, nothing is allocated.
 * Each body decoder checks, in order: the function byte matches, hlen*4
 * covers the fixed fields and fits the datagram, every length field fits
 * inside hlen, the extensions tile the rest of hlen, and what follows
 * hlen is whole list items (or data, or nothing, per message). */
enum uftp_err uftp_decode(struct fb_rcur *c, struct uftp_msg *m);
/* Decodes a decrypted ENCRYPTED payload: the body's function byte picks
 * the type; m->hdr is outer with func replaced. */
enum uftp_err uftp_decode_inner(struct fb_rcur *c, const struct uftp_hdr *outer,
				struct uftp_msg *m);
/* Encodes header and body (body alone: uftp_encode_body, for encrypting).
 * Returns the length written, or -(enum uftp_err). */
long uftp_encode(uint8_t *buf, size_t cap, const struct uftp_msg *m);
long uftp_encode_body(uint8_t *buf, size_t cap, const struct uftp_msg *m);
/* Smallest body (after the 16-byte header) a message of type func can
 * have; 0 for unknown types. */
size_t uftp_min_body(unsigned func);
/* The UID list of m, or NULL for messages without one. */
const struct uftp_uids *uftp_msg_uids(const struct uftp_msg *m);

#endif
