/* token.c — one-time credentials (SPSV DATACONN passwords, the gateway's
 * data tokens): random base62 text, its constant-time comparison, and the
 * bucket a table files it under. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "ferry/base.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Rejection sampling keeps every character uniform over the 62. */
int fb_token_random(char *out, size_t len)
{
	uint8_t r[64];
	size_t have = 0, used = 0;
	for (size_t i = 0; i < len;) {
		if (used == have) {
			ssize_t n = getrandom(r, sizeof(r), 0);
			if (n <= 0)
				return -EIO;
			have = (size_t)n;
			used = 0;
		}
		uint8_t v = r[used++];
		if (v < 248)
			out[i++] = alphabet[v % 62];
	}
	out[len] = '\0';
	explicit_bzero(r, sizeof(r));
	return 0;
}

bool fb_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* The tokens are random, so their first characters spread them evenly:
 * nothing an attacker can aim at. */
unsigned fb_token_bucket(const char *text, unsigned buckets)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < 4 && text[i]; i++)
		h = (h ^ (uint8_t)text[i]) * 16777619u;
	return h % buckets;
}
