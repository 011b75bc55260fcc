/* fuzz_uftp_inner.c — the decoders reached through uftp_decode_inner (an
 * ENCRYPTED envelope's decrypted payload, no header of its own): arbitrary
 * bytes, then the body re-encoded and decoded again to the same bytes. */
#include <string.h>

#include "ferry/base.h"
#include "ferry/uftp.h"
#include "fuzz.h"

enum { CAP = 65536 + 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[CAP], twice[CAP];
	const struct uftp_hdr outer = {
		.version = UFTP_VERSION, .func = UFTP_ENCRYPTED, .seq = 7,
		.src_id = 0x01020304, .group_id = 0x0a0b0c0d, .group_inst = 1,
	};
	struct uftp_msg m, again;
	struct fb_rcur c;
	fb_rcur_init(&c, data, size);
	if (uftp_decode_inner(&c, &outer, &m) != UFTP_OK)
		return 0;
	FUZZ_CHECK(m.hdr.func != UFTP_ENCRYPTED);
	long n = uftp_encode_body(once, sizeof(once), &m);
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK((size_t)n <= size);
	fb_rcur_init(&c, once, (size_t)n);
	FUZZ_CHECK(uftp_decode_inner(&c, &outer, &again) == UFTP_OK);
	long n2 = uftp_encode_body(twice, sizeof(twice), &again);
	FUZZ_CHECK(n2 == n);
	FUZZ_CHECK(!memcmp(once, twice, (size_t)n));
	return 0;
}
