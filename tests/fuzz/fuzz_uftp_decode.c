/* fuzz_uftp_decode.c — every UFTP message decoder through uftp_decode on
 * arbitrary datagrams; what decodes must encode, and the encoding must
 * decode and re-encode to the same bytes (decode and encode agree). */
#include <string.h>

#include "ferry/base.h"
#include "ferry/uftp.h"
#include "fuzz.h"

enum { CAP = 65536 + 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t once[CAP], twice[CAP];
	struct uftp_msg m, again;
	struct fb_rcur c;
	fb_rcur_init(&c, data, size);
	if (uftp_decode(&c, &m) != UFTP_OK)
		return 0;
	(void)uftp_msg_uids(&m);
	long n = uftp_encode(once, sizeof(once), &m);
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK((size_t)n <= size);
	fb_rcur_init(&c, once, (size_t)n);
	FUZZ_CHECK(uftp_decode(&c, &again) == UFTP_OK);
	FUZZ_CHECK(again.hdr.func == m.hdr.func);
	long n2 = uftp_encode(twice, sizeof(twice), &again);
	FUZZ_CHECK(n2 == n);
	FUZZ_CHECK(!memcmp(once, twice, (size_t)n));
	return 0;
}
