/* vectors.c — UFTP 4.x datagrams built by hand from protocol.txt section 5
 * (with the 4.x field widths uftp 4.10 sends), and the structs they encode.
 * Common header of all: version 0x40, seq 0x1234, source 0x00000001,
 * group 0x0a0b0c0d, instance 2, GRTT 0x6a (10.5 ms), group size 0x18 (1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vectors.h"

#define H(func) 0x40, func, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01, \
	0x0a, 0x0b, 0x0c, 0x0d, 0x02, 0x6a, 0x18, 0x00
#define TS 0x6b, 0x01, 0x35, 0x44, 0x00, 0x0c, 0x73, 0xc9  /* 1795241284.816073 */
#define RAND32(b) b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, \
	b + 8, b + 9, b + 10, b + 11, b + 12, b + 13, b + 14, b + 15, \
	b + 16, b + 17, b + 18, b + 19, b + 20, b + 21, b + 22, b + 23, \
	b + 24, b + 25, b + 26, b + 27, b + 28, b + 29, b + 30, b + 31
#define EC_BLOB 0x02, 0x17, 0x00, 0x04, 0xaa, 0xbb, 0xcc, 0xdd   /* 8 bytes */
#define DH_BLOB 0x02, 0x17, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44
#define UID2 0x00, 0x00, 0x00, 0x02
#define UID3 0x00, 0x00, 0x00, 0x03

static const uint32_t uids23[] = { 2, 3 };
static const uint32_t uids2[] = { 2 };
static const uint8_t rand0[] = { RAND32(0x00) };
static const uint8_t rand20[] = { RAND32(0x20) };
static const uint8_t zero32[32];
static const uint8_t ec_blob[] = { EC_BLOB };
static const uint8_t dh_blob[] = { DH_BLOB };
static const uint8_t sig4[] = { 0xde, 0xad, 0xbe, 0xef };

#define VIEW(a) ((struct fb_bview){ (a), sizeof(a) })
#define STR(s) ((struct fb_bview){ (const uint8_t *)(s), sizeof(s) - 1 })
#define HOST_UIDS(a) ((struct uftp_uids){ NULL, (a), sizeof(a) / sizeof(*(a)) })

static void hdr(struct uftp_msg *m, uint8_t func)
{
	memset(m, 0, sizeof(*m));
	m->hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = func,
		.seq = 0x1234, .src_id = 1, .group_id = 0x0a0b0c0d,
		.group_inst = 2, .grtt = 0x6a, .gsize = 0x18 };
}

/* ---- ANNOUNCE: closed group, sync mode, TFMCC, with EXT_ENC_INFO -------- */
static const uint8_t v_announce_enc[] = {
	H(0x01),
	0x01, 0x16, 0x01, 0x14,       /* ANNOUNCE, hlen 22, SYNC_MODE, robust 20 */
	0x02, 0x00, 0x05, 0x14,       /* CC_TFMCC, reserved, block size 1300 */
	TS,
	230, 4, 4, 1, 230, 5, 5, 1,   /* public, private multicast address */
	0x01, 0x10, 0x01, 0x33,       /* EXT_ENC_INFO, 16 words, CLIENT_AUTH,
				       * ECDH_ECDSA << 4 | AUTHENC */
	0x06, 0x03, 0x00, 0x08,       /* AES256_GCM, SHA256, key blob 8 bytes */
	0x00, 0x08, 0x00, 0x04,       /* DH blob 8 bytes, signature 4 bytes */
	RAND32(0x00),
	EC_BLOB, DH_BLOB, 0xde, 0xad, 0xbe, 0xef,
	UID2, UID3,                   /* closed group members */
};
static const uint8_t pub4[] = { 230, 4, 4, 1 }, priv4[] = { 230, 5, 5, 1 };

static void b_announce_enc(struct uftp_msg *m)
{
	hdr(m, UFTP_ANNOUNCE);
	struct uftp_announce *a = &m->u.announce;
	*a = (struct uftp_announce){ .flags = UFTP_F_SYNC_MODE, .robust = 20,
		.cc_type = UFTP_CC_TFMCC, .blocksize = 1300,
		.ts_sec = 0x6b013544, .ts_usec = 0x000c73c9,
		.pub_addr = VIEW(pub4), .priv_addr = VIEW(priv4),
		.uids = HOST_UIDS(uids23) };
	a->ext.present = 1u << UFTP_EXT_ENC_INFO;
	a->ext.enc_info = (struct uftp_enc_info){ .flags = UFTP_F_CLIENT_AUTH,
		.keyextype = UFTP_KEYEX_ECDH_ECDSA, .sigtype = UFTP_SIG_AUTHENC,
		.keytype = UFTP_KEY_AES256_GCM, .hashtype = UFTP_HASH_SHA256,
		.rand1 = VIEW(rand0), .keyblob = VIEW(ec_blob),
		.dhblob = VIEW(dh_blob), .sig = VIEW(sig4) };
}

/* ---- ANNOUNCE: open group over IPv6 ------------------------------------- */
#define FF02(x, y) 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x, 0, y
static const uint8_t v_announce_v6[] = {
	H(0x01),
	0x01, 0x0c, 0x04, 0x0a,       /* hlen 12, IPV6, robust 10 */
	0x00, 0x00, 0x03, 0xe8,       /* CC_NONE, block size 1000 */
	TS,
	FF02(0x04, 0x09), FF02(0x05, 0x09),   /* ff02::4:9, ff02::5:9 */
};
static const uint8_t pub6[] = { FF02(0x04, 0x09) }, priv6[] = { FF02(0x05, 0x09) };

static void b_announce_v6(struct uftp_msg *m)
{
	hdr(m, UFTP_ANNOUNCE);
	m->u.announce = (struct uftp_announce){ .flags = UFTP_F_IPV6,
		.robust = 10, .blocksize = 1000, .ts_sec = 0x6b013544,
		.ts_usec = 0x000c73c9, .pub_addr = VIEW(pub6),
		.priv_addr = VIEW(priv6) };
}

/* ---- REGISTER from a proxy: ECDH key, two clients ----------------------- */
static const uint8_t v_register_proxy[] = {
	H(0x02),
	0x02, 0x0d, 0x00, 0x08,       /* REGISTER, hlen 13, key info 8 bytes */
	TS, RAND32(0x20),
	0x02, 0x17, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,
	UID2, UID3,
};
static const uint8_t reg_key[] = { 0x02, 0x17, 0x00, 0x04, 1, 2, 3, 4 };

static void b_register_proxy(struct uftp_msg *m)
{
	hdr(m, UFTP_REGISTER);
	m->u.reg = (struct uftp_register){ .ts_sec = 0x6b013544,
		.ts_usec = 0x000c73c9, .rand2 = VIEW(rand20),
		.keyinfo = VIEW(reg_key), .uids = HOST_UIDS(uids23) };
}

/* ---- REGISTER from a client, no encryption: random number all zeros ----- */
static const uint8_t v_register_plain[] = {
	H(0x02),
	0x02, 0x0b, 0x00, 0x00, TS,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void b_register_plain(struct uftp_msg *m)
{
	hdr(m, UFTP_REGISTER);
	m->u.reg = (struct uftp_register){ .ts_sec = 0x6b013544,
		.ts_usec = 0x000c73c9, .rand2 = VIEW(zero32) };
}

/* ---- CLIENT_KEY with an RSA blob (4-byte modulus, for brevity) ---------- */
static const uint8_t v_client_key[] = {
	H(0x03),
	0x03, 0x07, 0x00, 0x00,       /* CLIENT_KEY, hlen 7, reserved */
	0x00, 0x0c, 0x00, 0x08,       /* blob 12 bytes, verify 8 bytes */
	0x01, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x01, 0xc0, 0xff, 0xee, 0x01,
	0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
};
static const uint8_t rsa_blob[] = { 0x01, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00,
				    0x01, 0xc0, 0xff, 0xee, 0x01 };
static const uint8_t verify8[] = { 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
				   0x58 };

static void b_client_key(struct uftp_msg *m)
{
	hdr(m, UFTP_CLIENT_KEY);
	m->u.client_key = (struct uftp_client_key){ .keyblob = VIEW(rsa_blob),
		.verify = VIEW(verify8) };
}

/* ---- REG_CONF ------------------------------------------------------------ */
static const uint8_t v_reg_conf[] = { H(0x04), 0x04, 0x01, 0x00, 0x00, UID2, UID3 };

static void b_reg_conf(struct uftp_msg *m)
{
	hdr(m, UFTP_REG_CONF);
	m->u.reg_conf.uids = HOST_UIDS(uids23);
}

/* ---- KEYINFO: one client's encrypted group master ------------------------ */
static const uint8_t v_keyinfo[] = {
	H(0x05),
	0x05, 0x03, 0x00, 0x00,       /* KEYINFO, hlen 3, reserved */
	0, 0, 0, 0, 0, 0, 0, 7,       /* IV counter */
	UID2, RAND32(0x40), 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
	0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
};
static const uint8_t master48[] = { RAND32(0x40), 0x60, 0x61, 0x62, 0x63,
	0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f };
static const struct uftp_destkey destkeys[] = { { 2, master48 } };

static void b_keyinfo(struct uftp_msg *m)
{
	hdr(m, UFTP_KEYINFO);
	m->u.keyinfo = (struct uftp_keyinfo){ .iv_ctr = 7, .keys = destkeys,
		.count = 1 };
}

/* ---- KEYINFO_ACK --------------------------------------------------------- */
static const uint8_t v_keyinfo_ack[] = {
	H(0x06), 0x06, 0x04, 0x00, 0x00,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b,
};
static const uint8_t verify12[] = { 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
				    0x77, 0x78, 0x79, 0x7a, 0x7b };

static void b_keyinfo_ack(struct uftp_msg *m)
{
	hdr(m, UFTP_KEYINFO_ACK);
	m->u.keyinfo_ack.verify = VIEW(verify12);
}

/* ---- FILEINFO: a symbolic link; the link target fills its words exactly,
 * so (as uftp sends it) it has no terminating NUL ------------------------ */
static const uint8_t v_fileinfo_link[] = {
	H(0x07),
	0x07, 0x0d, 0x00, 0x02,       /* FILEINFO, hlen 13, file 2 */
	0x02, 0x00, 0x00, 0x00,       /* FTYPE_LINK, reserved */
	0x03, 0x03, 0x00, 0x00,       /* name 3 words, link 3 words, size hi */
	0x00, 0x00, 0x00, 0x00,       /* size lo */
	0x00, 0x00, 0x00, 0x00,       /* file timestamp: 0 for links */
	0x6b, 0x01, 0x35, 0x46, 0x00, 0x0b, 0x4a, 0xc6,
	't', 'r', 'e', 'e', '/', 'l', 'i', 'n', 'k', 0, 0, 0,
	's', 'u', 'b', '/', 'l', 'e', 'a', 'f', '.', 't', 'x', 't',
	UID2, UID3,
};

static void b_fileinfo_link(struct uftp_msg *m)
{
	hdr(m, UFTP_FILEINFO);
	m->u.fileinfo = (struct uftp_fileinfo){ .file_id = 2,
		.ftype = UFTP_FTYPE_LINK, .ts_sec = 0x6b013546,
		.ts_usec = 0x000b4ac6, .name = STR("tree/link"),
		.link = STR("sub/leaf.txt"), .uids = HOST_UIDS(uids23) };
}

/* ---- FILEINFO: a regular file over 4 GB (48-bit size) -------------------- */
static const uint8_t v_fileinfo_big[] = {
	H(0x07),
	0x07, 0x09, 0x00, 0x01,       /* hlen 9, file 1 */
	0x00, 0x00, 0x00, 0x00,       /* FTYPE_REG */
	0x02, 0x00, 0x00, 0x01,       /* name 2 words, no link, size hi 1 */
	0x00, 0x00, 0x00, 0x05,       /* size lo: 0x1_0000_0005 bytes */
	0x6b, 0x01, 0x35, 0x44,       /* file timestamp */
	0x6b, 0x01, 0x35, 0x45, 0x00, 0x03, 0xa9, 0x7c,
	'b', 'i', 'g', '.', 'b', 'i', 'n', 0,
	UID2,
};

static void b_fileinfo_big(struct uftp_msg *m)
{
	hdr(m, UFTP_FILEINFO);
	m->u.fileinfo = (struct uftp_fileinfo){ .file_id = 1,
		.size = 0x100000005ull, .ftstamp = 0x6b013544,
		.ts_sec = 0x6b013545, .ts_usec = 0x0003a97c,
		.name = STR("big.bin"), .uids = HOST_UIDS(uids2) };
}

/* ---- FILEINFO_ACK (from a proxy, for one client; partial) ---------------- */
static const uint8_t v_fileinfo_ack[] = {
	H(0x08), 0x08, 0x04, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
	0x6b, 0x01, 0x35, 0x45, 0x00, 0x03, 0x9f, 0x47, UID2,
};

static void b_fileinfo_ack(struct uftp_msg *m)
{
	hdr(m, UFTP_FILEINFO_ACK);
	m->u.fileinfo_ack = (struct uftp_fileinfo_ack){ .file_id = 1,
		.flags = UFTP_F_PARTIAL, .ts_sec = 0x6b013545,
		.ts_usec = 0x00039f47, .uids = HOST_UIDS(uids2) };
}

/* ---- FILESEG with EXT_TFMCC_DATA_INFO ------------------------------------ */
static const uint8_t v_fileseg_tfmcc[] = {
	H(0x09),
	0x09, 0x04, 0x00, 0x01,       /* FILESEG, hlen 4, file 1 */
	0x00, 0x00, 0x00, 0x03,       /* section 0, block 3 */
	0x02, 0x02, 0x1b, 0x25,       /* EXT_TFMCC_DATA_INFO, 2 words, rate */
	0x00, 0x00, 0x48, 0x1e,       /* cc_seq 0, cc_rate */
	'h', 'e', 'l', 'l', 'o',
};

static void b_fileseg_tfmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_FILESEG);
	struct uftp_fileseg *f = &m->u.fileseg;
	*f = (struct uftp_fileseg){ .file_id = 1, .sec_block = 3,
		.data = STR("hello") };
	f->ext.present = 1u << UFTP_EXT_TFMCC_DATA_INFO;
	f->ext.tfmcc_data = (struct uftp_tfmcc_data){ 0x1b25, 0, 0x481e };
}

/* ---- FILESEG with EXT_PGMCC_DATA_INFO ------------------------------------ */
static const uint8_t v_fileseg_pgmcc[] = {
	H(0x09), 0x09, 0x04, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00,
	0x04, 0x02, 0x00, 0x00, UID2, 0xff,
};
static const uint8_t one_ff[] = { 0xff };

static void b_fileseg_pgmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_FILESEG);
	struct uftp_fileseg *f = &m->u.fileseg;
	*f = (struct uftp_fileseg){ .file_id = 2, .section = 1,
		.data = VIEW(one_ff) };
	f->ext.present = 1u << UFTP_EXT_PGMCC_DATA_INFO;
	f->ext.pgmcc_data.acker = 2;
}

/* ---- DONE ---------------------------------------------------------------- */
static const uint8_t v_done[] = {
	H(0x0a), 0x0a, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, UID2, UID3,
};

static void b_done(struct uftp_msg *m)
{
	hdr(m, UFTP_DONE);
	m->u.done = (struct uftp_done){ .file_id = 1, .uids = HOST_UIDS(uids23) };
}

/* ---- STATUS with EXT_TFMCC_ACK_INFO and a 3-byte NAK bitmap -------------- */
static const uint8_t v_status_tfmcc[] = {
	H(0x0b),
	0x0b, 0x07, 0x00, 0x01,       /* STATUS, hlen 7, file 1 */
	0x00, 0x00, 0x00, 0x00,       /* section 0, reserved */
	0x03, 0x05, 0x02, 0x00,       /* EXT_TFMCC_ACK_INFO, 5 words, CC_RTT */
	0x00, 0x02, 0x4a, 0xc6,       /* cc_seq 2, cc_rate */
	UID2, 0x6b, 0x01, 0x35, 0x49, 0x00, 0x08, 0xba, 0x0b,
	0xa0, 0x00, 0x01,             /* NAKs: blocks 0, 2, 23 */
};
static const uint8_t naks3[] = { 0xa0, 0x00, 0x01 };

static void b_status_tfmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_STATUS);
	struct uftp_status *s = &m->u.status;
	*s = (struct uftp_status){ .file_id = 1, .naks = VIEW(naks3) };
	s->ext.present = 1u << UFTP_EXT_TFMCC_ACK_INFO;
	s->ext.tfmcc_ack = (struct uftp_tfmcc_ack){ .flags = UFTP_F_CC_RTT,
		.cc_seq = 2, .cc_rate = 0x4ac6, .client_id = 2,
		.ts_sec = 0x6b013549, .ts_usec = 0x0008ba0b };
}

/* ---- STATUS with EXT_PGMCC_NAK_INFO -------------------------------------- */
static const uint8_t v_status_pgmcc[] = {
	H(0x0b), 0x0b, 0x05, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00,
	0x05, 0x03, 0x00, 0x07, 0x6b, 0x01, 0x35, 0x49, 0x00, 0x08, 0xba, 0x0b,
	0x01,
};
static const uint8_t nak1[] = { 0x01 };

static void b_status_pgmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_STATUS);
	struct uftp_status *s = &m->u.status;
	*s = (struct uftp_status){ .file_id = 1, .section = 2,
		.naks = VIEW(nak1) };
	s->ext.present = 1u << UFTP_EXT_PGMCC_NAK_INFO;
	s->ext.pgmcc_nak = (struct uftp_pgmcc_nak){ 7, 0x6b013549, 0x0008ba0b };
}

/* ---- COMPLETE with EXT_FREESPACE_INFO ------------------------------------ */
static const uint8_t v_complete_free[] = {
	H(0x0c), 0x0c, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x07, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0xf2, 0xe6, 0x70, 0x00,
};

static void b_complete_free(struct uftp_msg *m)
{
	hdr(m, UFTP_COMPLETE);
	struct uftp_complete *c = &m->u.complete;
	c->file_id = 2;
	c->ext.present = 1u << UFTP_EXT_FREESPACE_INFO;
	c->ext.freespace = 0x13f2e67000ull;
}

/* ---- COMPLETE from a proxy for two clients, file skipped (sync mode) ----- */
static const uint8_t v_complete_proxy[] = {
	H(0x0c), 0x0c, 0x02, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, UID2, UID3,
};

static void b_complete_proxy(struct uftp_msg *m)
{
	hdr(m, UFTP_COMPLETE);
	m->u.complete = (struct uftp_complete){ .file_id = 3,
		.status = UFTP_COMP_SKIPPED, .uids = HOST_UIDS(uids23) };
}

/* ---- DONE_CONF ----------------------------------------------------------- */
static const uint8_t v_done_conf[] = { H(0x0d), 0x0d, 0x01, 0x00, 0x00, UID2 };

static void b_done_conf(struct uftp_msg *m)
{
	hdr(m, UFTP_DONE_CONF);
	m->u.done_conf.uids = HOST_UIDS(uids2);
}

/* ---- HB_REQ, signed ------------------------------------------------------ */
static const uint8_t v_hb_req[] = {
	H(0x0e),
	0x0e, 0x06, 0x00, 0x00,       /* HB_REQ, hlen 6, reserved */
	0x00, 0x08, 0x00, 0x04,       /* key blob 8, signed nonce 4 */
	0x2c, 0x67, 0xcf, 0xe8,       /* nonce */
	EC_BLOB, 0xde, 0xad, 0xbe, 0xef,
};

static void b_hb_req(struct uftp_msg *m)
{
	hdr(m, UFTP_HB_REQ);
	m->u.hb_req = (struct uftp_hb_req){ .nonce = 0x2c67cfe8,
		.keyblob = VIEW(ec_blob), .signed_nonce = VIEW(sig4) };
}

/* ---- HB_RESP: a challenge ------------------------------------------------ */
static const uint8_t v_hb_resp[] = {
	H(0x0f), 0x0f, 0x02, 0x02, 0x00, 0x2c, 0x67, 0xcf, 0xe8,
};

static void b_hb_resp(struct uftp_msg *m)
{
	hdr(m, UFTP_HB_RESP);
	m->u.hb_resp = (struct uftp_hb_resp){ .auth = UFTP_HB_AUTH_CHALLENGE,
		.nonce = 0x2c67cfe8 };
}

/* ---- KEY_REQ ------------------------------------------------------------- */
static const uint8_t v_key_req[] = { H(0x10), 0x10, 0x01, 0x00, 0x00 };

static void b_key_req(struct uftp_msg *m)
{
	hdr(m, UFTP_KEY_REQ);
}

/* ---- PROXY_KEY ----------------------------------------------------------- */
static const uint8_t v_proxy_key[] = {
	H(0x11),
	0x11, 0x08, 0x00, 0x08,       /* PROXY_KEY, hlen 8, key blob 8 */
	0x00, 0x08, 0x00, 0x04,       /* DH blob 8, signed nonce 4 */
	0x77, 0xd6, 0xa3, 0xc4,       /* nonce */
	EC_BLOB, DH_BLOB, 0xde, 0xad, 0xbe, 0xef,
};

static void b_proxy_key(struct uftp_msg *m)
{
	hdr(m, UFTP_PROXY_KEY);
	m->u.proxy_key = (struct uftp_proxy_key){ .nonce = 0x77d6a3c4,
		.keyblob = VIEW(ec_blob), .dhblob = VIEW(dh_blob),
		.signed_nonce = VIEW(sig4) };
}

/* ---- ENCRYPTED: a 20-byte HMAC and a 5-byte payload (neither a multiple
 * of 4, which uftp 4.10 does not require either) ------------------------- */
static const uint8_t v_encrypted[] = {
	H(0x12),
	0, 0, 0, 0, 0, 0, 0, 1,       /* IV counter */
	0x00, 0x14, 0x00, 0x05,       /* signature 20, payload 5 */
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
	0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4,
};
static const uint8_t sig20[] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
	0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1,
	0xb2, 0xb3 };
static const uint8_t payload5[] = { 0xc0, 0xc1, 0xc2, 0xc3, 0xc4 };

static void b_encrypted(struct uftp_msg *m)
{
	hdr(m, UFTP_ENCRYPTED);
	m->u.encrypted = (struct uftp_encrypted){ .iv_ctr = 1,
		.sig = VIEW(sig20), .payload = VIEW(payload5) };
}

/* ---- ABORT: 300-byte text field, zero filled ----------------------------- */
static const uint8_t v_abort[16 + 308] = {
	H(0x13),
	0x13, 0x4d, 0x01, 0x00,       /* ABORT, hlen 77, CURRENT_FILE */
	UID2,                         /* host */
	'N', 'o', 't', ' ', 'i', 'n', ' ', 'h', 'o', 's', 't', ' ', 'l', 'i',
	's', 't',                     /* the rest of the 300 bytes is zero */
};

static void b_abort(struct uftp_msg *m)
{
	hdr(m, UFTP_ABORT);
	m->u.abort = (struct uftp_abort){ .flags = UFTP_F_CURRENT_FILE,
		.host = 2, .text = STR("Not in host list") };
}

/* ---- CONG_CTRL with two items -------------------------------------------- */
static const uint8_t v_cong_ctrl[] = {
	H(0x14),
	0x14, 0x04, 0x00, 0x00,       /* CONG_CTRL, hlen 4, reserved */
	0x00, 0x05, 0x48, 0x1e,       /* cc_seq 5, cc_rate */
	0x6b, 0x01, 0x35, 0x49, 0x00, 0x06, 0xa9, 0xe4,
	UID2, 0x07, 0x68, 0x00, 0x00, /* CLR|RTT|START, rtt */
	UID3, 0x02, 0x70, 0x00, 0x00,
};
static const struct uftp_cc_item cc_items[] = { { 2, 7, 0x68 }, { 3, 2, 0x70 } };

static void b_cong_ctrl(struct uftp_msg *m)
{
	hdr(m, UFTP_CONG_CTRL);
	m->u.cong_ctrl = (struct uftp_cong_ctrl){ .cc_seq = 5, .cc_rate = 0x481e,
		.ts_sec = 0x6b013549, .ts_usec = 0x0006a9e4, .items = cc_items,
		.count = 2 };
}

/* ---- CC_ACK with EXT_TFMCC_ACK_INFO -------------------------------------- */
static const uint8_t v_cc_ack_tfmcc[] = {
	H(0x15), 0x15, 0x06, 0x00, 0x00,
	0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x93, 0x64, UID2,
	0x6b, 0x01, 0x35, 0x49, 0x00, 0x06, 0xa9, 0xe6,
};

static void b_cc_ack_tfmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_CC_ACK);
	struct uftp_exts *e = &m->u.cc_ack.ext;
	e->present = 1u << UFTP_EXT_TFMCC_ACK_INFO;
	e->tfmcc_ack = (struct uftp_tfmcc_ack){ .flags = 6, .cc_rate = 0x9364,
		.client_id = 2, .ts_sec = 0x6b013549, .ts_usec = 0x0006a9e6 };
}

/* ---- CC_ACK with EXT_PGMCC_ACK_INFO -------------------------------------- */
static const uint8_t v_cc_ack_pgmcc[] = {
	H(0x15), 0x15, 0x06, 0x00, 0x00,
	0x06, 0x05, 0x00, 0x00,       /* EXT_PGMCC_ACK_INFO, 5 words */
	0x00, 0x03, 0x01, 0x00,       /* loss 3, max_seq 256 */
	0xff, 0xff, 0x00, 0x00,       /* ack bitmap */
	0x6b, 0x01, 0x35, 0x49, 0x00, 0x06, 0xa9, 0xe6,
};

static void b_cc_ack_pgmcc(struct uftp_msg *m)
{
	hdr(m, UFTP_CC_ACK);
	struct uftp_exts *e = &m->u.cc_ack.ext;
	e->present = 1u << UFTP_EXT_PGMCC_ACK_INFO;
	e->pgmcc_ack = (struct uftp_pgmcc_ack){ 3, 0x100, 0xffff0000,
						0x6b013549, 0x0006a9e6 };
}

#define V(name, at, item) { #name, v_##name, sizeof(v_##name), b_##name, at, item }

const struct vector vectors[] = {
	V(announce_enc, 104, 4),
	V(announce_v6, 64, 4),
	V(register_proxy, 68, 4),
	V(register_plain, 60, 4),
	V(client_key, 44, 0),
	V(reg_conf, 20, 4),
	V(keyinfo, 28, 52),
	V(keyinfo_ack, 32, 0),
	V(fileinfo_link, 68, 4),
	V(fileinfo_big, 52, 4),
	V(fileinfo_ack, 32, 4),
	V(fileseg_tfmcc, 32, 1),
	V(fileseg_pgmcc, 32, 1),
	V(done, 24, 4),
	V(status_tfmcc, 44, 1),
	V(status_pgmcc, 36, 1),
	V(complete_free, 36, 4),
	V(complete_proxy, 24, 4),
	V(done_conf, 20, 4),
	V(hb_req, 40, 0),
	V(hb_resp, 24, 0),
	V(key_req, 20, 0),
	V(proxy_key, 48, 0),
	V(encrypted, 53, 0),
	V(abort, 324, 0),
	V(cong_ctrl, 32, 8),
	V(cc_ack_tfmcc, 40, 0),
	V(cc_ack_pgmcc, 40, 0),
};
const size_t n_vectors = sizeof(vectors) / sizeof(vectors[0]);

/* ---- comparison ---------------------------------------------------------- */

#define EQ(f) assert_int_equal(x->f, y->f)

static void eq_view(struct fb_bview a, struct fb_bview b)
{
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.p, b.p, a.len);
}

static void eq_uids(const struct uftp_uids *a, const struct uftp_uids *b)
{
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->count; i++)
		assert_int_equal(uftp_uid_at(a, i), uftp_uid_at(b, i));
}

static void eq_exts(const struct uftp_exts *a, const struct uftp_exts *b)
{
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->unknown, b->unknown);
	if (UFTP_HAS_EXT(a, UFTP_EXT_ENC_INFO)) {
		const struct uftp_enc_info *x = &a->enc_info, *y = &b->enc_info;
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->keyextype, y->keyextype);
		assert_int_equal(x->sigtype, y->sigtype);
		assert_int_equal(x->keytype, y->keytype);
		assert_int_equal(x->hashtype, y->hashtype);
		eq_view(x->rand1, y->rand1);
		eq_view(x->keyblob, y->keyblob);
		eq_view(x->dhblob, y->dhblob);
		eq_view(x->sig, y->sig);
	}
	const struct uftp_exts *x = a, *y = b;
	EQ(tfmcc_data.send_rate); EQ(tfmcc_data.cc_seq); EQ(tfmcc_data.cc_rate);
	EQ(tfmcc_ack.flags); EQ(tfmcc_ack.cc_seq); EQ(tfmcc_ack.cc_rate);
	EQ(tfmcc_ack.client_id); EQ(tfmcc_ack.ts_sec); EQ(tfmcc_ack.ts_usec);
	EQ(pgmcc_data.acker);
	EQ(pgmcc_nak.loss); EQ(pgmcc_nak.ts_sec); EQ(pgmcc_nak.ts_usec);
	EQ(pgmcc_ack.loss); EQ(pgmcc_ack.max_seq); EQ(pgmcc_ack.ack_bitmap);
	EQ(pgmcc_ack.ts_sec); EQ(pgmcc_ack.ts_usec);
	EQ(freespace);
}

static void eq_announce(const struct uftp_announce *x,
			const struct uftp_announce *y)
{
	EQ(flags); EQ(robust); EQ(cc_type); EQ(blocksize); EQ(ts_sec);
	EQ(ts_usec);
	eq_view(x->pub_addr, y->pub_addr);
	eq_view(x->priv_addr, y->priv_addr);
	eq_exts(&x->ext, &y->ext);
	eq_uids(&x->uids, &y->uids);
}

static void eq_fileinfo(const struct uftp_fileinfo *x,
			const struct uftp_fileinfo *y)
{
	EQ(file_id); EQ(ftype); EQ(size); EQ(ftstamp); EQ(ts_sec); EQ(ts_usec);
	eq_view(x->name, y->name);
	eq_view(x->link, y->link);
	eq_exts(&x->ext, &y->ext);
	eq_uids(&x->uids, &y->uids);
}

static void eq_keyinfo(const struct uftp_keyinfo *x,
		       const struct uftp_keyinfo *y)
{
	EQ(iv_ctr); EQ(count);
	eq_exts(&x->ext, &y->ext);
	for (size_t i = 0; i < x->count; i++) {
		struct uftp_destkey a, b;
		assert_true(uftp_keyinfo_at(x, i, &a));
		assert_true(uftp_keyinfo_at(y, i, &b));
		assert_int_equal(a.uid, b.uid);
		assert_memory_equal(a.master, b.master, UFTP_MASTER_LEN);
	}
}

static void eq_cong_ctrl(const struct uftp_cong_ctrl *x,
			 const struct uftp_cong_ctrl *y)
{
	EQ(cc_seq); EQ(cc_rate); EQ(ts_sec); EQ(ts_usec); EQ(count);
	eq_exts(&x->ext, &y->ext);
	for (size_t i = 0; i < x->count; i++) {
		struct uftp_cc_item a, b;
		assert_true(uftp_cc_item_at(x, i, &a));
		assert_true(uftp_cc_item_at(y, i, &b));
		assert_int_equal(a.uid, b.uid);
		assert_int_equal(a.flags, b.flags);
		assert_int_equal(a.rtt, b.rtt);
	}
}

static void eq_body(const struct uftp_msg *w, const struct uftp_msg *g)
{
	switch (w->hdr.func) {
	case UFTP_ANNOUNCE:
		eq_announce(&w->u.announce, &g->u.announce);
		break;
	case UFTP_REGISTER: {
		const struct uftp_register *x = &w->u.reg, *y = &g->u.reg;
		EQ(ts_sec); EQ(ts_usec);
		eq_view(x->rand2, y->rand2);
		eq_view(x->keyinfo, y->keyinfo);
		eq_exts(&x->ext, &y->ext);
		eq_uids(&x->uids, &y->uids);
		break;
	}
	case UFTP_CLIENT_KEY:
		eq_view(w->u.client_key.keyblob, g->u.client_key.keyblob);
		eq_view(w->u.client_key.verify, g->u.client_key.verify);
		eq_exts(&w->u.client_key.ext, &g->u.client_key.ext);
		break;
	case UFTP_REG_CONF:
		eq_exts(&w->u.reg_conf.ext, &g->u.reg_conf.ext);
		eq_uids(&w->u.reg_conf.uids, &g->u.reg_conf.uids);
		break;
	case UFTP_KEYINFO:
		eq_keyinfo(&w->u.keyinfo, &g->u.keyinfo);
		break;
	case UFTP_KEYINFO_ACK:
		eq_view(w->u.keyinfo_ack.verify, g->u.keyinfo_ack.verify);
		eq_exts(&w->u.keyinfo_ack.ext, &g->u.keyinfo_ack.ext);
		break;
	case UFTP_FILEINFO:
		eq_fileinfo(&w->u.fileinfo, &g->u.fileinfo);
		break;
	case UFTP_FILEINFO_ACK: {
		const struct uftp_fileinfo_ack *x = &w->u.fileinfo_ack,
					       *y = &g->u.fileinfo_ack;
		EQ(file_id); EQ(flags); EQ(ts_sec); EQ(ts_usec);
		eq_exts(&x->ext, &y->ext);
		eq_uids(&x->uids, &y->uids);
		break;
	}
	case UFTP_FILESEG: {
		const struct uftp_fileseg *x = &w->u.fileseg, *y = &g->u.fileseg;
		EQ(file_id); EQ(section); EQ(sec_block);
		eq_exts(&x->ext, &y->ext);
		eq_view(x->data, y->data);
		break;
	}
	case UFTP_DONE: {
		const struct uftp_done *x = &w->u.done, *y = &g->u.done;
		EQ(file_id); EQ(section);
		eq_exts(&x->ext, &y->ext);
		eq_uids(&x->uids, &y->uids);
		break;
	}
	case UFTP_STATUS: {
		const struct uftp_status *x = &w->u.status, *y = &g->u.status;
		EQ(file_id); EQ(section);
		eq_exts(&x->ext, &y->ext);
		eq_view(x->naks, y->naks);
		break;
	}
	case UFTP_COMPLETE: {
		const struct uftp_complete *x = &w->u.complete,
					   *y = &g->u.complete;
		EQ(file_id); EQ(status);
		eq_exts(&x->ext, &y->ext);
		eq_uids(&x->uids, &y->uids);
		break;
	}
	case UFTP_DONE_CONF:
		eq_exts(&w->u.done_conf.ext, &g->u.done_conf.ext);
		eq_uids(&w->u.done_conf.uids, &g->u.done_conf.uids);
		break;
	case UFTP_HB_REQ: {
		const struct uftp_hb_req *x = &w->u.hb_req, *y = &g->u.hb_req;
		EQ(nonce);
		eq_view(x->keyblob, y->keyblob);
		eq_view(x->signed_nonce, y->signed_nonce);
		eq_exts(&x->ext, &y->ext);
		break;
	}
	case UFTP_HB_RESP: {
		const struct uftp_hb_resp *x = &w->u.hb_resp, *y = &g->u.hb_resp;
		EQ(auth); EQ(nonce);
		eq_exts(&x->ext, &y->ext);
		break;
	}
	case UFTP_KEY_REQ:
		eq_exts(&w->u.key_req.ext, &g->u.key_req.ext);
		break;
	case UFTP_PROXY_KEY: {
		const struct uftp_proxy_key *x = &w->u.proxy_key,
					    *y = &g->u.proxy_key;
		EQ(nonce);
		eq_view(x->keyblob, y->keyblob);
		eq_view(x->dhblob, y->dhblob);
		eq_view(x->signed_nonce, y->signed_nonce);
		eq_exts(&x->ext, &y->ext);
		break;
	}
	case UFTP_ENCRYPTED: {
		const struct uftp_encrypted *x = &w->u.encrypted,
					    *y = &g->u.encrypted;
		EQ(iv_ctr);
		eq_view(x->sig, y->sig);
		eq_view(x->payload, y->payload);
		break;
	}
	case UFTP_ABORT: {
		const struct uftp_abort *x = &w->u.abort, *y = &g->u.abort;
		EQ(flags); EQ(host);
		eq_view(x->text, y->text);
		eq_exts(&x->ext, &y->ext);
		break;
	}
	case UFTP_CONG_CTRL:
		eq_cong_ctrl(&w->u.cong_ctrl, &g->u.cong_ctrl);
		break;
	case UFTP_CC_ACK:
		eq_exts(&w->u.cc_ack.ext, &g->u.cc_ack.ext);
		break;
	default:
		fail_msg("no comparison for function %u", w->hdr.func);
	}
}

void assert_msg_equal(const struct uftp_msg *want, const struct uftp_msg *got)
{
	const struct uftp_hdr *x = &want->hdr, *y = &got->hdr;
	EQ(version); EQ(func); EQ(seq); EQ(src_id); EQ(group_id);
	EQ(group_inst); EQ(grtt); EQ(gsize); EQ(reserved);
	eq_body(want, got);
}
