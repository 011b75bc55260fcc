/* fuzz_uftp_keyblob.c — the RSA/EC key blob decoder (REGISTER, KEYINFO,
 * PROXY_KEY carry them) on arbitrary bytes, and its encoder round trip. */
#include <string.h>

#include "ferry/base.h"
#include "ferry/uftp.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[70000], twice[70000];
	struct uftp_keyblob kb, again;
	if (uftp_keyblob_decode((struct fb_bview){ data, size }, &kb) != UFTP_OK)
		return 0;
	FUZZ_CHECK(kb.key.p >= data && kb.key.p + kb.key.len <= data + size);
	struct fb_wcur w;
	fb_wcur_init(&w, once, sizeof(once));
	if (uftp_keyblob_encode(&w, &kb) != UFTP_OK || !fb_wcur_ok(&w))
		return 0;   /* decodable but not canonical (EC padding): allowed */
	size_t n = fb_wcur_offset(&w);
	FUZZ_CHECK(uftp_keyblob_decode((struct fb_bview){ once, n }, &again) == UFTP_OK);
	FUZZ_CHECK(again.type == kb.type && again.key.len == kb.key.len);
	FUZZ_CHECK(!kb.key.len || !memcmp(again.key.p, kb.key.p, kb.key.len));
	fb_wcur_init(&w, twice, sizeof(twice));
	FUZZ_CHECK(uftp_keyblob_encode(&w, &again) == UFTP_OK && fb_wcur_ok(&w));
	FUZZ_CHECK(fb_wcur_offset(&w) == n && !memcmp(once, twice, n));
	return 0;
}
