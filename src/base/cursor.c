/* cursor.c — bounds-checked big-endian reads and writes over byte buffers;
 * every length comparison on datagram bytes in ferry happens here. */
#include <string.h>

#include "ferry/base.h"

struct fb_bview fb_bview_until_nul(struct fb_bview v)
{
	size_t n = 0;
	while (n < v.len && v.p[n] != 0)
		n++;
	return (struct fb_bview){ v.p, n };
}

/* ---- reading ---------------------------------------------------------- */

void fb_rcur_init(struct fb_rcur *c, const void *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
	c->err = false;
}

size_t fb_rcur_remaining(const struct fb_rcur *c)
{
	return c->err ? 0 : c->len - c->off;
}

size_t fb_rcur_offset(const struct fb_rcur *c)
{
	return c->off;
}

bool fb_rcur_ok(const struct fb_rcur *c)
{
	return !c->err;
}

/* The only gate: n bytes are there, or the cursor fails for good. */
static const uint8_t *take(struct fb_rcur *c, size_t n)
{
	if (c->err || n > c->len - c->off) {
		c->err = true;
		return NULL;
	}
	const uint8_t *at = c->p + c->off;
	c->off += n;
	return at;
}

uint8_t fb_rcur_u8(struct fb_rcur *c)
{
	const uint8_t *b = take(c, 1);
	return b ? b[0] : 0;
}

uint16_t fb_rcur_u16(struct fb_rcur *c)
{
	const uint8_t *b = take(c, 2);
	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

uint32_t fb_rcur_u32(struct fb_rcur *c)
{
	const uint8_t *b = take(c, 4);
	if (!b)
		return 0;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

uint64_t fb_rcur_u64(struct fb_rcur *c)
{
	uint64_t hi = fb_rcur_u32(c);
	uint64_t lo = fb_rcur_u32(c);
	return c->err ? 0 : hi << 32 | lo;
}

struct fb_bview fb_rcur_bytes(struct fb_rcur *c, size_t n)
{
	const uint8_t *b = take(c, n);
	return b ? (struct fb_bview){ b, n } : (struct fb_bview){ NULL, 0 };
}

void fb_rcur_skip(struct fb_rcur *c, size_t n)
{
	(void)take(c, n);
}

struct fb_rcur fb_rcur_sub(struct fb_rcur *c, size_t n)
{
	struct fb_rcur sub;
	const uint8_t *b = take(c, n);
	fb_rcur_init(&sub, b, b ? n : 0);
	sub.err = (b == NULL);
	return sub;
}

uint8_t fb_rcur_peek(const struct fb_rcur *c, size_t at)
{
	if (c->err || at >= c->len - c->off)
		return 0;
	return c->p[c->off + at];
}

/* ---- writing ---------------------------------------------------------- */

void fb_wcur_init(struct fb_wcur *c, void *buf, size_t cap)
{
	c->p = buf;
	c->cap = buf ? cap : 0;
	c->off = 0;
	c->err = false;
}

void fb_wcur_over(struct fb_wcur *c, void *buf, size_t len)
{
	fb_wcur_init(c, buf, len);
	c->off = c->cap;
}

size_t fb_wcur_offset(const struct fb_wcur *c)
{
	return c->off;
}

bool fb_wcur_ok(const struct fb_wcur *c)
{
	return !c->err;
}

static uint8_t *room(struct fb_wcur *c, size_t n)
{
	if (c->err || n > c->cap - c->off) {
		c->err = true;
		return NULL;
	}
	uint8_t *at = c->p + c->off;
	c->off += n;
	return at;
}

static void put_be(uint8_t *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void put(struct fb_wcur *c, uint64_t v, size_t n)
{
	uint8_t *b = room(c, n);
	if (b)
		put_be(b, v, n);
}

void fb_wcur_u8(struct fb_wcur *c, uint8_t v)   { put(c, v, 1); }
void fb_wcur_u16(struct fb_wcur *c, uint16_t v) { put(c, v, 2); }
void fb_wcur_u32(struct fb_wcur *c, uint32_t v) { put(c, v, 4); }
void fb_wcur_u64(struct fb_wcur *c, uint64_t v) { put(c, v, 8); }

void fb_wcur_bytes(struct fb_wcur *c, const void *src, size_t n)
{
	if (!src && n) {        /* a view that points nowhere: caller's bug */
		c->err = true;
		return;
	}
	uint8_t *b = room(c, n);
	if (b && n)
		memcpy(b, src, n);
}

void fb_wcur_zeros(struct fb_wcur *c, size_t n)
{
	uint8_t *b = room(c, n);
	if (b && n)
		memset(b, 0, n);
}

void fb_wcur_pad4(struct fb_wcur *c, size_t from)
{
	if (c->off >= from)
		fb_wcur_zeros(c, (4 - (c->off - from) % 4) % 4);
	else
		c->err = true;
}

static void patch(struct fb_wcur *c, size_t at, uint64_t v, size_t n)
{
	if (c->err || at > c->off || n > c->off - at) {
		c->err = true;
		return;
	}
	put_be(c->p + at, v, n);
}

void fb_wcur_patch_u8(struct fb_wcur *c, size_t at, uint8_t v)
{
	patch(c, at, v, 1);
}

void fb_wcur_patch_u16(struct fb_wcur *c, size_t at, uint16_t v)
{
	patch(c, at, v, 2);
}

void fb_wcur_patch_u32(struct fb_wcur *c, size_t at, uint32_t v)
{
	patch(c, at, v, 4);
}
