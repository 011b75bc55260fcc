/* test_wire.c — UFTP 4.x messages against hand-built vectors: exact bytes
 * both ways, round trips, every truncation, corrupted length fields with
 * the error each must give, encoder limits, and random mutations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vectors.h"

#define BIG 4096

/* Decodes len bytes from a heap copy of exactly that size, so that
 * AddressSanitizer sees any read past the end. */
static enum uftp_err decode_copy(const uint8_t *p, size_t len,
				 struct uftp_msg *m, uint8_t **keep)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, p, len);
	struct fb_rcur c;
	fb_rcur_init(&c, copy, len);
	enum uftp_err e = uftp_decode(&c, m);
	if (keep)
		*keep = copy;       /* m's views point into it */
	else
		free(copy);
	return e;
}

static const struct vector *vec(const char *name)
{
	for (size_t i = 0; i < n_vectors; i++)
		if (!strcmp(vectors[i].name, name))
			return &vectors[i];
	fail_msg("no vector %s", name);
	return NULL;
}

/* A vector with one byte changed: decode it and expect err. */
static void expect_patched(const char *name, size_t at, uint8_t val,
			   enum uftp_err err)
{
	const struct vector *v = vec(name);
	uint8_t buf[BIG];
	memcpy(buf, v->bytes, v->len);
	assert_true(at < v->len);
	buf[at] = val;
	struct uftp_msg m;
	enum uftp_err got = decode_copy(buf, v->len, &m, NULL);
	if (got != err)
		fail_msg("%s[%zu]=0x%02x: got %s, want %s", name, at, val,
			 uftp_strerror(got), uftp_strerror(err));
}

/* A vector with bytes appended: decode it and expect err. */
static void expect_appended(const char *name, size_t extra,
			    enum uftp_err err)
{
	const struct vector *v = vec(name);
	uint8_t buf[BIG] = { 0 };
	memcpy(buf, v->bytes, v->len);
	struct uftp_msg m;
	enum uftp_err got = decode_copy(buf, v->len + extra, &m, NULL);
	if (got != err)
		fail_msg("%s + %zu bytes: got %s, want %s", name, extra,
			 uftp_strerror(got), uftp_strerror(err));
}

/* ---- exact bytes -------------------------------------------------------- */

static void test_encode_exact(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		struct uftp_msg m;
		uint8_t out[BIG];
		v->build(&m);
		long n = uftp_encode(out, sizeof(out), &m);
		if (n != (long)v->len)
			fail_msg("%s: encoded %ld bytes, want %zu (%s)", v->name,
				 n, v->len, n < 0 ? uftp_strerror(-n) : "");
		assert_memory_equal(out, v->bytes, v->len);
		n = uftp_encode_body(out, sizeof(out), &m);
		assert_int_equal(n, v->len - UFTP_HDR_LEN);
		assert_memory_equal(out, v->bytes + UFTP_HDR_LEN, n);
	}
}

static void test_decode_exact(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		struct uftp_msg want, got;
		uint8_t *keep;
		v->build(&want);
		enum uftp_err e = decode_copy(v->bytes, v->len, &got, &keep);
		if (e)
			fail_msg("%s: %s", v->name, uftp_strerror(e));
		assert_msg_equal(&want, &got);
		free(keep);
	}
}

/* decode -> encode gives the same bytes; so does the body alone through
 * uftp_decode_inner, as it would after decryption. */
static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		struct uftp_msg m, inner;
		uint8_t out[BIG];
		struct fb_rcur c;
		fb_rcur_init(&c, v->bytes, v->len);
		assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
		assert_int_equal(fb_rcur_remaining(&c), 0);
		long n = uftp_encode(out, sizeof(out), &m);
		assert_int_equal(n, v->len);
		assert_memory_equal(out, v->bytes, v->len);
		if (m.hdr.func == UFTP_ENCRYPTED)
			continue;
		struct uftp_hdr outer = m.hdr;
		outer.func = UFTP_ENCRYPTED;
		fb_rcur_init(&c, v->bytes + UFTP_HDR_LEN, v->len - UFTP_HDR_LEN);
		assert_int_equal(uftp_decode_inner(&c, &outer, &inner), UFTP_OK);
		assert_msg_equal(&m, &inner);
	}
}

/* ---- truncation ------------------------------------------------------------
 * Every prefix fails, except cuts after hlen at a list item boundary
 * (nothing says how many items there are), which decode with fewer. */
static void test_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		for (size_t len = 0; len < v->len; len++) {
			struct uftp_msg m;
			enum uftp_err e = decode_copy(v->bytes, len, &m, NULL);
			bool may = len >= v->body_at && v->item &&
				   (len - v->body_at) % v->item == 0;
			if (len < UFTP_HDR_LEN)
				assert_int_equal(e, UFTP_E_SHORT);
			else if (!may && e == UFTP_OK)
				fail_msg("%s cut to %zu bytes decodes", v->name,
					 len);
			else if (may && e != UFTP_OK)
				fail_msg("%s cut at an item boundary (%zu): %s",
					 v->name, len, uftp_strerror(e));
		}
	}
}

/* ---- corrupted length fields ------------------------------------------------
 * Offsets are into the datagram: 16 is the body's function byte, 17 hlen. */
static void test_hlen_corrupt(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		if (v->bytes[1] == UFTP_ENCRYPTED)
			continue;
		size_t words = (v->len - UFTP_HDR_LEN) / 4;
		expect_patched(v->name, 17, 0, UFTP_E_HLEN_SHORT);
		expect_patched(v->name, 17,
			       (uint8_t)((uftp_min_body(v->bytes[1]) - 1) / 4),
			       UFTP_E_HLEN_SHORT);
		if (words < 255)
			expect_patched(v->name, 17, (uint8_t)(words + 1),
				       UFTP_E_HLEN_LONG);
		expect_patched(v->name, 17, 255, UFTP_E_HLEN_LONG);
		expect_patched(v->name, 16, (uint8_t)(v->bytes[16] + 1),
			       UFTP_E_FUNC_MISMATCH);
	}
}

static void test_header_corrupt(void **state)
{
	(void)state;
	expect_patched("done", 0, 0x30, UFTP_E_VERSION);
	expect_patched("done", 0, 0x50, UFTP_E_VERSION);
	expect_patched("done", 1, 0, UFTP_E_FUNC);
	expect_patched("done", 1, UFTP_FUNC_MAX + 1, UFTP_E_FUNC);
	expect_patched("done", 1, 0xff, UFTP_E_FUNC);
	expect_patched("key_req", 1, UFTP_HB_REQ, UFTP_E_FUNC_MISMATCH);
	/* IPv6 flag with only IPv4-sized room for the addresses. */
	const struct vector *v = vec("announce_enc");
	uint8_t buf[BIG];
	memcpy(buf, v->bytes, v->len);
	buf[17] = 6;
	buf[18] |= UFTP_F_IPV6;
	struct uftp_msg m;
	assert_int_equal(decode_copy(buf, v->len, &m, NULL), UFTP_E_HLEN_SHORT);
	/* Without the flag, IPv6 addresses become an unknown extension (ff,
	 * 2 words) and then zeros: an extension of length 0. */
	expect_patched("announce_v6", 18, 0, UFTP_E_EXT_ZERO);
}

static void test_field_corrupt(void **state)
{
	(void)state;
	/* REGISTER key info length past hlen */
	expect_patched("register_proxy", 19, 0x09, UFTP_E_FIELD_LEN);
	expect_patched("register_proxy", 18, 0x01, UFTP_E_FIELD_LEN);
	/* CLIENT_KEY blob / verify lengths */
	expect_patched("client_key", 21, 0x0d, UFTP_E_FIELD_LEN);
	expect_patched("client_key", 23, 0x09, UFTP_E_FIELD_LEN);
	expect_patched("client_key", 22, 0xff, UFTP_E_FIELD_LEN);
	/* FILEINFO name and link words */
	expect_patched("fileinfo_link", 24, 0x07, UFTP_E_FIELD_LEN);
	expect_patched("fileinfo_link", 25, 0x04, UFTP_E_FIELD_LEN);
	expect_patched("fileinfo_link", 24, 0xff, UFTP_E_FIELD_LEN);
	/* HB_REQ and PROXY_KEY blob, DH and signature lengths */
	expect_patched("hb_req", 21, 0x09, UFTP_E_FIELD_LEN);
	expect_patched("hb_req", 23, 0x05, UFTP_E_FIELD_LEN);
	expect_patched("proxy_key", 19, 0x0d, UFTP_E_FIELD_LEN);
	expect_patched("proxy_key", 21, 0x09, UFTP_E_FIELD_LEN);
	expect_patched("proxy_key", 23, 0x05, UFTP_E_FIELD_LEN);
	/* ENCRYPTED: longer than the datagram, or shorter */
	expect_patched("encrypted", 25, 0x15, UFTP_E_FIELD_LEN);
	expect_patched("encrypted", 27, 0x06, UFTP_E_FIELD_LEN);
	expect_patched("encrypted", 24, 0xff, UFTP_E_FIELD_LEN);
	expect_patched("encrypted", 27, 0x04, UFTP_E_TRAILING);
	expect_patched("encrypted", 25, 0x00, UFTP_E_TRAILING);
}

static void test_ext_corrupt(void **state)
{
	(void)state;
	/* EXT_ENC_INFO in ANNOUNCE starts at 40: type, length, ... */
	expect_patched("announce_enc", 41, 0, UFTP_E_EXT_ZERO);
	expect_patched("announce_enc", 41, 0x11, UFTP_E_EXT_LONG);
	expect_patched("announce_enc", 41, 0xff, UFTP_E_EXT_LONG);
	expect_patched("announce_enc", 41, 10, UFTP_E_EXT_SHORT);
	expect_patched("announce_enc", 41, 0x0f, UFTP_E_EXT_LEN);
	expect_patched("announce_enc", 47, 0x09, UFTP_E_EXT_LEN);  /* keylen */
	expect_patched("announce_enc", 49, 0x07, UFTP_E_EXT_LEN);  /* dhlen */
	expect_patched("announce_enc", 51, 0xff, UFTP_E_EXT_LEN);  /* siglen */
	/* EXT_TFMCC_DATA_INFO in FILESEG at 24 */
	expect_patched("fileseg_tfmcc", 25, 0, UFTP_E_EXT_ZERO);
	expect_patched("fileseg_tfmcc", 25, 1, UFTP_E_EXT_SHORT);
	expect_patched("fileseg_tfmcc", 25, 3, UFTP_E_EXT_LONG);
	/* EXT_TFMCC_ACK_INFO in STATUS, EXT_FREESPACE_INFO in COMPLETE */
	expect_patched("status_tfmcc", 25, 4, UFTP_E_EXT_SHORT);
	expect_patched("status_tfmcc", 25, 6, UFTP_E_EXT_LONG);
	expect_patched("complete_free", 25, 2, UFTP_E_EXT_SHORT);
	expect_patched("cc_ack_pgmcc", 21, 4, UFTP_E_EXT_SHORT);
	/* The same extension twice: CC_ACK with two TFMCC ACK infos. */
	static const uint8_t dup[] = {
		0x40, 0x15, 0, 1, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0,
		0x15, 0x0b, 0x00, 0x00,
		0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
		0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	struct uftp_msg m;
	assert_int_equal(decode_copy(dup, sizeof(dup), &m, NULL),
			 UFTP_E_EXT_DUP);
	/* An unknown extension is skipped and counted; re-encoding drops it. */
	static const uint8_t unknown[] = {
		0x40, 0x0a, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0,
		0x0a, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x99, 0x01, 0xab, 0xcd,
		0x02, 0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03,
		0x00, 0x00, 0x00, 0x02,
	};
	assert_int_equal(decode_copy(unknown, sizeof(unknown), &m, NULL),
			 UFTP_OK);
	assert_int_equal(m.u.done.ext.unknown, 1);
	assert_true(UFTP_HAS_EXT(&m.u.done.ext, UFTP_EXT_TFMCC_DATA_INFO));
	assert_int_equal(m.u.done.uids.count, 1);
}

static void test_list_corrupt(void **state)
{
	(void)state;
	for (size_t extra = 1; extra < 4; extra++) {
		expect_appended("done", extra, UFTP_E_LIST_ALIGN);
		expect_appended("announce_enc", extra, UFTP_E_LIST_ALIGN);
		expect_appended("register_plain", extra, UFTP_E_LIST_ALIGN);
	}
	expect_appended("keyinfo", 4, UFTP_E_LIST_ALIGN);
	expect_appended("keyinfo", 51, UFTP_E_LIST_ALIGN);
	expect_appended("keyinfo", 52, UFTP_OK);
	expect_appended("cong_ctrl", 4, UFTP_E_LIST_ALIGN);
	expect_appended("cong_ctrl", 8, UFTP_OK);
	/* Messages with nothing after hlen */
	static const char *const bare[] = { "client_key", "keyinfo_ack",
		"hb_req", "hb_resp", "key_req", "proxy_key", "abort",
		"cc_ack_tfmcc", "encrypted" };
	for (size_t i = 0; i < sizeof(bare) / sizeof(*bare); i++) {
		expect_appended(bare[i], 1, UFTP_E_TRAILING);
		expect_appended(bare[i], 4, UFTP_E_TRAILING);
	}
	/* Data and NAK bitmaps take any length */
	expect_appended("fileseg_tfmcc", 3, UFTP_OK);
	expect_appended("status_tfmcc", 1, UFTP_OK);
}

/* ---- key blobs ----------------------------------------------------------- */
static void test_keyblob(void **state)
{
	(void)state;
	static const uint8_t rsa[] = { 1, 0, 0, 4, 0, 1, 0, 1, 9, 8, 7, 6 };
	static const uint8_t ec[] = { 2, 23, 0, 3, 1, 2, 3, 0 }; /* padded */
	struct uftp_keyblob kb;
	assert_int_equal(uftp_keyblob_decode((struct fb_bview){ rsa, 12 }, &kb),
			 UFTP_OK);
	assert_int_equal(kb.type, UFTP_KEYBLOB_RSA);
	assert_int_equal(kb.exponent, 65537);
	assert_int_equal(kb.key.len, 4);
	assert_int_equal(kb.key.p[0], 9);
	uint8_t out[32];
	struct fb_wcur w;
	fb_wcur_init(&w, out, sizeof(out));
	assert_int_equal(uftp_keyblob_encode(&w, &kb), UFTP_OK);
	assert_int_equal(fb_wcur_offset(&w), 12);
	assert_memory_equal(out, rsa, 12);
	assert_int_equal(uftp_keyblob_decode((struct fb_bview){ ec, 8 }, &kb),
			 UFTP_OK);
	assert_int_equal(kb.type, UFTP_KEYBLOB_EC);
	assert_int_equal(kb.curve, UFTP_CURVE_SECP256R1);
	assert_int_equal(kb.key.len, 3);
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(uftp_keyblob_decode((struct fb_bview){ rsa, len },
						     &kb), UFTP_E_BLOB);
	for (size_t len = 0; len < 7; len++)
		assert_int_equal(uftp_keyblob_decode((struct fb_bview){ ec, len },
						     &kb), UFTP_E_BLOB);
	static const uint8_t rsa_padded[] = { 1, 0, 0, 1, 0, 0, 0, 3, 9, 0 };
	assert_int_equal(uftp_keyblob_decode((struct fb_bview){ rsa_padded, 10 },
					     &kb), UFTP_E_BLOB);
	static const uint8_t bad[] = { 3, 0, 0, 0 };
	assert_int_equal(uftp_keyblob_decode((struct fb_bview){ bad, 4 }, &kb),
			 UFTP_E_BLOB);
	kb.type = 3;
	fb_wcur_init(&w, out, sizeof(out));
	assert_int_equal(uftp_keyblob_encode(&w, &kb), UFTP_E_RANGE);
}

/* ---- encoders: no room, out of range ------------------------------------------
 * Every buffer short of the full length fails with NOSPACE and leaves the
 * bytes past the buffer alone. */
static void test_encode_nospace(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		struct uftp_msg m;
		v->build(&m);
		for (size_t cap = 0; cap < v->len; cap++) {
			uint8_t buf[BIG];
			memset(buf, 0xa5, sizeof(buf));
			long n = uftp_encode(buf, cap, &m);
			if (n != -(long)UFTP_E_NOSPACE)
				fail_msg("%s in %zu bytes: %ld", v->name, cap, n);
			for (size_t j = cap; j < v->len; j++)
				assert_int_equal(buf[j], 0xa5);
		}
	}
}

static long encode_fresh(struct uftp_msg *m)
{
	uint8_t buf[BIG];
	return uftp_encode(buf, sizeof(buf), m);
}

static void test_encode_range(void **state)
{
	(void)state;
	static uint8_t big[1100];
	struct uftp_msg m;
	vec("announce_enc")->build(&m);                           /* ANNOUNCE */
	m.u.announce.pub_addr.len = 16;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("announce_enc")->build(&m);
	m.u.announce.ext.enc_info.sig.len = 3;          /* not a whole word */
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("announce_enc")->build(&m);
	m.u.announce.ext.enc_info.rand1.len = 31;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("announce_enc")->build(&m);
	m.u.announce.ext.enc_info.keyblob = (struct fb_bview){ big, 1000 };
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE); /* extlen > 255 */
	vec("announce_enc")->build(&m);
	m.u.announce.uids = (struct uftp_uids){ NULL, NULL, 3 };
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);

	vec("fileinfo_big")->build(&m);                           /* FILEINFO */
	m.u.fileinfo.size = 1ull << 48;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("fileinfo_big")->build(&m);
	m.u.fileinfo.name = (struct fb_bview){ big, 1021 };
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	m.u.fileinfo.name = (struct fb_bview){ big, 1000 };
	m.u.fileinfo.link = (struct fb_bview){ big, 100 };   /* hlen > 255 */
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);

	vec("abort")->build(&m);
	m.u.abort.text = (struct fb_bview){ big, 301 };
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);

	vec("keyinfo_ack")->build(&m);
	m.u.keyinfo_ack.verify.len = 11;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("keyinfo")->build(&m);
	m.u.keyinfo.keys = NULL;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	vec("register_proxy")->build(&m);
	m.u.reg.rand2.len = 5;
	assert_int_equal(encode_fresh(&m), -UFTP_E_RANGE);
	m.u.reg.rand2.len = 0;                          /* means zeros */
	assert_true(encode_fresh(&m) > 0);
	m.hdr.func = 0;
	assert_int_equal(encode_fresh(&m), -UFTP_E_FUNC);
	m.hdr.func = 99;
	assert_int_equal(encode_fresh(&m), -UFTP_E_FUNC);
}

/* ---- helpers the proxy uses ---------------------------------------------- */
static void test_peek_and_rewrite(void **state)
{
	(void)state;
	uint8_t buf[BIG];
	const struct vector *v = vec("done");
	memcpy(buf, v->bytes, v->len);
	struct uftp_hdr h;
	assert_int_equal(uftp_peek(buf, v->len, &h), UFTP_OK);
	assert_int_equal(h.func, UFTP_DONE);
	assert_int_equal(h.group_id, 0x0a0b0c0d);
	assert_int_equal(uftp_peek(buf, 15, &h), UFTP_E_SHORT);
	assert_int_equal(uftp_peek(NULL, 0, &h), UFTP_E_SHORT);
	assert_int_equal(uftp_set_src_id(buf, v->len, 0x11223344), UFTP_OK);
	assert_int_equal(uftp_set_seq(buf, v->len, 0xbeef), UFTP_OK);
	assert_int_equal(uftp_set_src_id(buf, 15, 1), UFTP_E_SHORT);
	assert_int_equal(uftp_set_seq(buf, 3, 1), UFTP_E_SHORT);
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, buf, v->len);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	assert_int_equal(m.hdr.src_id, 0x11223344);
	assert_int_equal(m.hdr.seq, 0xbeef);
	assert_memory_equal(buf + 8, v->bytes + 8, v->len - 8);
	h.group_inst = 9;
	h.grtt = uftp_grtt_quantize(0.5);
	assert_int_equal(uftp_set_hdr(buf, v->len, &h), UFTP_OK);
	assert_int_equal(uftp_set_hdr(buf, 10, &h), UFTP_E_SHORT);
	struct uftp_hdr h2;
	assert_int_equal(uftp_peek(buf, v->len, &h2), UFTP_OK);
	assert_memory_equal(&h, &h2, sizeof(h));
	assert_memory_equal(buf + 16, v->bytes + 16, v->len - 16);
}

static void test_uid_lists(void **state)
{
	(void)state;
	unsigned with_list = 0;
	for (size_t i = 0; i < n_vectors; i++) {
		struct uftp_msg m;
		struct fb_rcur c;
		fb_rcur_init(&c, vectors[i].bytes, vectors[i].len);
		assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
		const struct uftp_uids *u = uftp_msg_uids(&m);
		if (!u)
			continue;
		with_list++;
		uint32_t uid, prev = 0;
		size_t n = 0;
		for (size_t it = 0; uftp_uid_next(u, &it, &uid); n++) {
			assert_true(uid > prev);      /* vectors list 2, 3 */
			assert_true(uftp_uids_contains(u, uid));
			prev = uid;
		}
		assert_int_equal(n, u->count);
		assert_false(uftp_uids_contains(u, 9));
		assert_int_equal(uftp_uid_at(u, u->count), 0);
	}
	assert_int_equal(with_list, 12);
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, vec("keyinfo")->bytes, vec("keyinfo")->len);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	struct uftp_destkey dk;
	assert_true(uftp_keyinfo_at(&m.u.keyinfo, 0, &dk));
	assert_int_equal(dk.uid, 2);
	assert_int_equal(dk.master[0], 0x40);
	assert_int_equal(dk.master[47], 0x6f);
	assert_false(uftp_keyinfo_at(&m.u.keyinfo, 1, &dk));
	fb_rcur_init(&c, vec("cong_ctrl")->bytes, vec("cong_ctrl")->len);
	assert_int_equal(uftp_decode(&c, &m), UFTP_OK);
	struct uftp_cc_item it;
	assert_true(uftp_cc_item_at(&m.u.cong_ctrl, 1, &it));
	assert_int_equal(it.uid, 3);
	assert_int_equal(it.rtt, 0x70);
	assert_false(uftp_cc_item_at(&m.u.cong_ctrl, 2, &it));
}

static void test_names(void **state)
{
	(void)state;
	for (unsigned f = 1; f <= UFTP_FUNC_MAX; f++) {
		assert_string_not_equal(uftp_func_name(f), "?");
		assert_true(uftp_min_body(f) >= 4);
	}
	assert_string_equal(uftp_func_name(0), "?");
	assert_string_equal(uftp_func_name(UFTP_FUNC_MAX + 1), "?");
	assert_int_equal(uftp_min_body(0), 0);
	assert_int_equal(uftp_min_body(UFTP_ABORT), 308);
	assert_string_equal(uftp_func_name(UFTP_FILESEG), "FILESEG");
	for (int e = 0; e < UFTP_E_COUNT; e++) {
		assert_string_not_equal(uftp_strerror(e), "?");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(uftp_strerror(e),
						uftp_strerror(f));
	}
	assert_string_equal(uftp_strerror(UFTP_E_COUNT), "?");
}

static void test_inner(void **state)
{
	(void)state;
	struct uftp_hdr outer = { .version = UFTP_VERSION,
				  .func = UFTP_ENCRYPTED };
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, NULL, 0);
	assert_int_equal(uftp_decode_inner(&c, &outer, &m), UFTP_E_TRUNC);
	static const uint8_t nested[] = { 0x12, 0, 0, 0 };
	fb_rcur_init(&c, nested, sizeof(nested));
	assert_int_equal(uftp_decode_inner(&c, &outer, &m), UFTP_E_FUNC);
	static const uint8_t unknown[] = { 0x63, 1, 0, 0 };
	fb_rcur_init(&c, unknown, sizeof(unknown));
	assert_int_equal(uftp_decode_inner(&c, &outer, &m), UFTP_E_FUNC);
	static const uint8_t key_req[] = { 0x10, 1, 0, 0 };
	fb_rcur_init(&c, key_req, sizeof(key_req));
	assert_int_equal(uftp_decode_inner(&c, &outer, &m), UFTP_OK);
	assert_int_equal(m.hdr.func, UFTP_KEY_REQ);
}

/* ---- random mutations ------------------------------------------------------
 * Whatever decodes must re-encode, and its encoding must decode and encode
 * to the same bytes again (encoders produce canonical form). */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void check_canonical(const uint8_t *p, size_t len)
{
	struct uftp_msg m, m2;
	uint8_t *copy;
	if (decode_copy(p, len, &m, &copy) != UFTP_OK) {
		free(copy);
		return;
	}
	static uint8_t once[65536], twice[65536];
	long n = uftp_encode(once, sizeof(once), &m);
	free(copy);
	assert_true(n > 0);
	struct fb_rcur c;
	fb_rcur_init(&c, once, (size_t)n);
	assert_int_equal(uftp_decode(&c, &m2), UFTP_OK);
	long n2 = uftp_encode(twice, sizeof(twice), &m2);
	assert_int_equal(n, n2);
	assert_memory_equal(once, twice, (size_t)n);
}

static void test_mutations(void **state)
{
	(void)state;
	uint8_t buf[BIG];
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		for (int round = 0; round < 3000; round++) {
			memcpy(buf, v->bytes, v->len);
			size_t len = v->len;
			int flips = 1 + next_rand() % 4;
			for (int f = 0; f < flips; f++)
				buf[next_rand() % len] = (uint8_t)next_rand();
			if (next_rand() % 4 == 0)
				len = next_rand() % (v->len + 8);
			check_canonical(buf, len);
		}
	}
	for (int round = 0; round < 30000; round++) {
		size_t len = UFTP_HDR_LEN + next_rand() % 200;
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)next_rand();
		buf[0] = UFTP_VERSION;
		buf[1] = (uint8_t)(1 + next_rand() % UFTP_FUNC_MAX);
		buf[16] = buf[1];
		buf[17] = (uint8_t)(next_rand() % ((len - 16) / 4 + 2));
		check_canonical(buf, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_decode_exact),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_hlen_corrupt),
		cmocka_unit_test(test_header_corrupt),
		cmocka_unit_test(test_field_corrupt),
		cmocka_unit_test(test_ext_corrupt),
		cmocka_unit_test(test_list_corrupt),
		cmocka_unit_test(test_keyblob),
		cmocka_unit_test(test_encode_nospace),
		cmocka_unit_test(test_encode_range),
		cmocka_unit_test(test_peek_and_rewrite),
		cmocka_unit_test(test_uid_lists),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_inner),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
