/* uftp_msg.h — the UFTP 4.x messages of protocol.txt section 5.2: one
 * struct per message, their decoders and encoders, and the whole-datagram
 * entry points. Field widths are those uftp 4.10 sends (see notes). */
#ifndef FERRY_UFTP_MSG_H
#define FERRY_UFTP_MSG_H

#include "ferry/uftp.h"

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
	struct bview pub_addr;  /* 4 bytes, 16 with UFTP_F_IPV6 */
	struct bview priv_addr;
	struct uftp_exts ext;   /* EXT_ENC_INFO when encrypted */
	struct uftp_uids uids;  /* closed group: (part of) the member list */
};

struct uftp_register {          /* fixed 44 + keyinfo */
	uint32_t ts_sec, ts_usec;    /* the server's, echoed and adjusted */
	struct bview rand2;          /* UFTP_RAND_LEN bytes, zeros if clear */
	struct bview keyinfo;        /* RSA-encrypted premaster or EC blob */
	struct uftp_exts ext;
	struct uftp_uids uids;       /* from a proxy: its clients */
};

struct uftp_client_key {        /* fixed 8 + keyblob + verify; no list */
	struct bview keyblob, verify;
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
	struct bview verify;    /* UFTP_VERIFY_LEN bytes */
	struct uftp_exts ext;
};

struct uftp_fileinfo {          /* fixed 28 + name + link (4-byte words) */
	uint16_t file_id;
	uint8_t ftype;          /* UFTP_FTYPE_* */
	uint64_t size;          /* 48 bits on the wire */
	uint32_t ftstamp;       /* file mtime; 0 for links, deletes, free */
	uint32_t ts_sec, ts_usec;
	struct bview name;      /* without the zero padding; no terminator */
	struct bview link;      /* link target, empty unless UFTP_FTYPE_LINK */
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
	struct bview data;
};

struct uftp_done {              /* fixed 8; file_id 0 ends the session */
	uint16_t file_id, section;
	struct uftp_exts ext;
	struct uftp_uids uids;
};

struct uftp_status {            /* fixed 8; after hlen, the NAK bitmap */
	uint16_t file_id, section;
	struct uftp_exts ext;   /* EXT_TFMCC_ACK_INFO / EXT_PGMCC_NAK_INFO */
	struct bview naks;      /* bit n (MSB first) = block n NAKed; any
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
	struct bview text;      /* up to the first NUL; encoder zero-fills */
	struct uftp_exts ext;
};

struct uftp_hb_req {            /* fixed 12 + keyblob + signed nonce */
	uint32_t nonce;
	struct bview keyblob, signed_nonce;   /* empty when unsigned */
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
	struct bview keyblob, dhblob, signed_nonce;
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
	struct bview sig;       /* HMAC or RSA/ECDSA signature; empty for
				 * GCM/CCM. Any length (not only x4). */
	struct bview payload;   /* the encrypted message; must end exactly
				 * at the end of the datagram */
};

/* The message table: X(struct suffix, member of uftp_msg.u, UFTP_ type,
 * minimum body size in bytes: the fixed fields, for ANNOUNCE with two IPv4
 * addresses). Each has a decoder and an encoder named after the struct:
 * enum uftp_err uftp_decode_announce(struct rcur *, struct uftp_announce *);
 * enum uftp_err uftp_encode_announce(struct wcur *,
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
	enum uftp_err uftp_decode_##name(struct rcur *c, \
					 struct uftp_##name *m); \
	enum uftp_err uftp_encode_##name(struct wcur *w, \
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
enum uftp_err uftp_decode(struct rcur *c, struct uftp_msg *m);
/* Decodes a decrypted ENCRYPTED payload: the body's function byte picks
 * the type; m->hdr is outer with func replaced. */
enum uftp_err uftp_decode_inner(struct rcur *c, const struct uftp_hdr *outer,
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
