/* buf.c — a growable byte buffer for replies, listings and converted data;
 * every length and overflow calculation for them happens here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "ferry/base.h"

static bool buf_reserve(struct fb_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (more > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void fb_buf_append(struct fb_buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

char *fb_buf_space(struct fb_buf *b, size_t len)
{
	return buf_reserve(b, len) ? b->p + b->len : NULL;
}

void fb_buf_commit(struct fb_buf *b, size_t len)
{
	b->len += len;   /* len <= what fb_buf_space promised */
	b->p[b->len] = '\0';
}

void fb_buf_printf(struct fb_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n)) {
		b->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void fb_buf_consume(struct fb_buf *b, size_t len)
{
	if (len >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + len, b->len - len);
		b->len -= len;
	}
	if (b->p)
		b->p[b->len] = '\0';
}

void fb_buf_free(struct fb_buf *b)
{
	free(b->p);
	*b = (struct fb_buf){ 0 };
}
