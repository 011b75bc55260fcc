/* decode_capture.c — decodes datagrams captured from real uftp sessions
 * (one file each, paths listed in a manifest), prints their fields for
 * capture.py to check, and re-encodes each to compare the bytes.
 *
 * Signatures (ANNOUNCE, CLIENT_KEY, ENCRYPTED with RSA/ECDSA) are checked
 * with the keys the capture carries: tag sig_ok or sig_bad. With --rsa-key
 * PEM (the server's key of an RSA key exchange session) it also derives
 * every key, checks HMACs and KEYINFO_ACK verify data (inner tag verify_ok
 * or verify_bad), decrypts each ENCRYPTED datagram and decodes what is
 * inside with uftp_decode_inner.
 *
 * Output, one line per datagram:
 *   PATH OK type=NAME ver=0x40 group=0x... src=0x... tags=a,b ... reencode=same
 *      [inner=NAME inner_tags=a inner_reencode=same | inner=none | inner_err=NAME]
 *   PATH FAIL err=NAME type=NAME
 * Exit status 0 if every datagram decoded and re-encoded identically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_crypto.h"
#include "ferry/uftp.h"

#define MAX_DGRAM 65536

static bool decrypting;     /* --rsa-key given */

struct tags {
	char s[256];
};

static void tag(struct tags *t, bool cond, const char *name)
{
	if (!cond)
		return;
	size_t n = strlen(t->s);
	snprintf(t->s + n, sizeof(t->s) - n, "%s%s", n ? "," : "", name);
}

/* Key blobs are checked wherever they appear; a bad one fails the line. */
static bool blob_ok(struct tags *t, struct fb_bview b)
{
	struct uftp_keyblob kb;
	if (b.len == 0)
		return true;
	if (uftp_keyblob_decode(b, &kb) != UFTP_OK)
		return false;
	tag(t, kb.type == UFTP_KEYBLOB_RSA, "rsa_blob");
	tag(t, kb.type == UFTP_KEYBLOB_EC, "ec_blob");
	return true;
}

static void print_name(const char *key, struct fb_bview v)
{
	printf(" %s=", key);
	for (size_t i = 0; i < v.len; i++) {
		int ch = v.p[i];
		putchar(ch > ' ' && ch < 127 ? ch : '?');
	}
}

static bool describe(const struct uftp_msg *m, struct tags *t)
{
	const struct uftp_uids *uids = uftp_msg_uids(m);
	tag(t, uids && uids->count > 0, "uids");
	bool ok = true;
	switch (m->hdr.func) {
	case UFTP_ANNOUNCE: {
		const struct uftp_announce *a = &m->u.announce;
		const struct uftp_exts *e = &a->ext;
		tag(t, UFTP_HAS_EXT(e, UFTP_EXT_ENC_INFO), "enc");
		tag(t, a->flags & UFTP_F_SYNC_MODE, "sync");
		tag(t, a->flags & UFTP_F_IPV6, "ipv6");
		ok = blob_ok(t, e->enc_info.keyblob) &&
		     blob_ok(t, e->enc_info.dhblob);
		printf(" blocksize=%u", a->blocksize);
		break;
	}
	case UFTP_REGISTER:
		tag(t, m->u.reg.keyinfo.len > 0, "key");
		break;
	case UFTP_CLIENT_KEY:
		ok = blob_ok(t, m->u.client_key.keyblob);
		break;
	case UFTP_KEYINFO:
		printf(" keys=%zu", m->u.keyinfo.count);
		break;
	case UFTP_FILEINFO: {
		static const char *const types[] = { "file", "dir", "link",
						     "delete", "freespace" };
		const struct uftp_fileinfo *f = &m->u.fileinfo;
		tag(t, f->ftype < 5, f->ftype < 5 ? types[f->ftype] : "");
		printf(" file_id=%u ftype=%u size=%llu", f->file_id, f->ftype,
		       (unsigned long long)f->size);
		print_name("name", f->name);
		break;
	}
	case UFTP_FILESEG:
		tag(t, UFTP_HAS_EXT(&m->u.fileseg.ext, UFTP_EXT_TFMCC_DATA_INFO),
		    "tfmcc");
		tag(t, UFTP_HAS_EXT(&m->u.fileseg.ext, UFTP_EXT_PGMCC_DATA_INFO),
		    "pgmcc");
		break;
	case UFTP_STATUS:
		tag(t, UFTP_HAS_EXT(&m->u.status.ext, UFTP_EXT_TFMCC_ACK_INFO),
		    "tfmcc");
		printf(" naks=%zu", m->u.status.naks.len);
		break;
	case UFTP_COMPLETE:
		tag(t, UFTP_HAS_EXT(&m->u.complete.ext, UFTP_EXT_FREESPACE_INFO),
		    "freespace");
		break;
	case UFTP_CC_ACK:
		tag(t, UFTP_HAS_EXT(&m->u.cc_ack.ext, UFTP_EXT_TFMCC_ACK_INFO),
		    "tfmcc");
		break;
	case UFTP_ENCRYPTED:
		tag(t, m->u.encrypted.sig.len > 0, "sig");
		break;
	case UFTP_HB_REQ:
		tag(t, m->u.hb_req.signed_nonce.len > 0, "signed");
		ok = blob_ok(t, m->u.hb_req.keyblob);
		break;
	case UFTP_PROXY_KEY:
		ok = blob_ok(t, m->u.proxy_key.keyblob) &&
		     blob_ok(t, m->u.proxy_key.dhblob);
		break;
	case UFTP_ABORT:
		print_name("text", m->u.abort.text);
		break;
	default:
		break;
	}
	return ok;
}

/* The message inside an ENCRYPTED datagram, when the keys are known. */
static bool check_inner(struct capcrypt *cc, const struct uftp_msg *m,
			const uint8_t *d, size_t len)
{
	static uint8_t plain[MAX_DGRAM], again[MAX_DGRAM];
	long n = capcrypt_decrypt(cc, m, d, len, plain, sizeof(plain));
	if (n < 0) {
		printf(" inner=none");
		return true;
	}
	struct uftp_msg inner;
	struct fb_rcur c;
	fb_rcur_init(&c, plain, (size_t)n);
	enum uftp_err e = uftp_decode_inner(&c, &m->hdr, &inner);
	if (e) {
		printf(" inner_err=%s", uftp_strerror(e));
		return false;
	}
	long r = uftp_encode_body(again, sizeof(again), &inner);
	bool same = r == n && memcmp(again, plain, (size_t)n) == 0;
	struct tags t = { "" };
	describe(&inner, &t);
	const char *verify = inner.hdr.func == UFTP_KEYINFO_ACK &&
			     inner.u.keyinfo_ack.verify.len == UFTP_VERIFY_LEN
		? capcrypt_keyinfo_ack(cc, m->hdr.src_id, inner.u.keyinfo_ack.verify.p)
		: NULL;
	tag(&t, verify != NULL, verify ? verify : "");
	printf(" inner=%s inner_tags=%s inner_reencode=%s",
	       uftp_func_name(inner.hdr.func), t.s, same ? "same" : "differs");
	return same && !(verify && strstr(verify, "_bad"));
}

static bool check_one(struct capcrypt *cc, const char *path,
		      const uint8_t *d, size_t len)
{
	static uint8_t again[MAX_DGRAM];
	struct uftp_msg m;
	struct fb_rcur c;
	struct uftp_hdr peeked;
	fb_rcur_init(&c, d, len);
	enum uftp_err e = uftp_decode(&c, &m);
	if (e == UFTP_OK && uftp_peek(d, len, &peeked) != UFTP_OK)
		e = UFTP_E_SHORT;
	if (e != UFTP_OK) {
		printf("%s FAIL err=%s type=%s\n", path, uftp_strerror(e),
		       len > 1 ? uftp_func_name(d[1]) : "?");
		return false;
	}
	printf("%s OK type=%s ver=0x%02x group=0x%08X inst=%u src=0x%08X "
	       "seq=%u", path, uftp_func_name(m.hdr.func), m.hdr.version,
	       m.hdr.group_id, m.hdr.group_inst, m.hdr.src_id, m.hdr.seq);
	struct tags t = { "" };
	bool ok = describe(&m, &t);
	const char *sig = capcrypt_observe(cc, &m, d, len);
	tag(&t, sig != NULL, sig ? sig : "");
	long n = uftp_encode(again, sizeof(again), &m);
	bool same = n == (long)len && memcmp(again, d, len) == 0;
	printf(" tags=%s blobs=%s reencode=%s", t.s, ok ? "ok" : "bad",
	       same ? "same" : "differs");
	ok = ok && !(sig && strstr(sig, "_bad"));
	if (decrypting && m.hdr.func == UFTP_ENCRYPTED)
		ok = check_inner(cc, &m, d, len) && ok;
	printf("\n");
	return ok && same;
}

static bool check_file(struct capcrypt *cc, const char *path)
{
	static uint8_t buf[MAX_DGRAM + 1];
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("%s FAIL err=open\n", path);
		return false;
	}
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len > MAX_DGRAM) {
		printf("%s FAIL err=too_big\n", path);
		return false;
	}
	return check_one(cc, path, buf, len);
}

int main(int argc, char **argv)
{
	struct capcrypt *cc = NULL;
	if (argc == 4 && !strcmp(argv[2], "--rsa-key")) {
		decrypting = true;
		cc = capcrypt_open(argv[3]);
	} else if (argc == 2) {
		cc = capcrypt_open(NULL);
	} else {
		fprintf(stderr, "usage: %s MANIFEST [--rsa-key PEM]\n",
			argv[0]);
		return 2;
	}
	if (!cc) {
		fprintf(stderr, "%s: cannot set up the key replay%s%s\n", argv[0],
			argc == 4 ? " with " : "", argc == 4 ? argv[3] : "");
		return 2;
	}
	FILE *mf = fopen(argv[1], "r");
	if (!mf) {
		perror(argv[1]);
		return 2;
	}
	char line[4096];
	unsigned good = 0, bad = 0;
	while (fgets(line, sizeof(line), mf)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		if (check_file(cc, line))
			good++;
		else
			bad++;
	}
	fclose(mf);
	capcrypt_close(cc);
	fprintf(stderr, "decode_capture: %u good, %u bad\n", good, bad);
	return bad ? 1 : 0;
}
