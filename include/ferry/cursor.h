/* cursor.h — checked reading and writing of byte buffers in network order:
 * the one place that does bounds arithmetic for datagrams. */
#ifndef FERRY_CURSOR_H
#define FERRY_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view: bytes owned by someone else (usually a received datagram). */
struct bview {
	const uint8_t *p;
	size_t len;
};

/* The part of v before its first NUL byte (all of v if there is none):
 * for names sent NUL-padded to a fixed or word-rounded size. */
struct bview bview_until_nul(struct bview v);

/* ---- reading ---------------------------------------------------------
 * Every read that would pass the end reads nothing, returns zero (or an
 * empty view) and sets the sticky error flag; later reads keep failing.
 * So a decoder may read a whole fixed header and test rcur_ok() once.
 * The fields are private to cursor.c. */
struct rcur {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

void rcur_init(struct rcur *c, const void *p, size_t len);
uint8_t rcur_u8(struct rcur *c);
uint16_t rcur_u16(struct rcur *c);
uint32_t rcur_u32(struct rcur *c);
uint64_t rcur_u64(struct rcur *c);
struct bview rcur_bytes(struct rcur *c, size_t n);  /* view, no copy */
void rcur_skip(struct rcur *c, size_t n);
/* Moves the next n bytes into a cursor of their own (the parent skips
 * them); on short input both cursors are in error. */
struct rcur rcur_sub(struct rcur *c, size_t n);
/* Byte at offset at from the current position, without consuming it;
 * 0 and no error flag when absent (use rcur_remaining to tell). */
uint8_t rcur_peek(const struct rcur *c, size_t at);
size_t rcur_remaining(const struct rcur *c);
size_t rcur_offset(const struct rcur *c);  /* bytes consumed so far */
bool rcur_ok(const struct rcur *c);

/* ---- writing ---------------------------------------------------------
 * Writes that do not fit write nothing and set the sticky overflow flag. */
struct wcur {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool err;
};

void wcur_init(struct wcur *c, void *buf, size_t cap);
/* A cursor over len bytes already written, to patch them in place. */
void wcur_over(struct wcur *c, void *buf, size_t len);
void wcur_u8(struct wcur *c, uint8_t v);
void wcur_u16(struct wcur *c, uint16_t v);
void wcur_u32(struct wcur *c, uint32_t v);
void wcur_u64(struct wcur *c, uint64_t v);
void wcur_bytes(struct wcur *c, const void *src, size_t n);
void wcur_zeros(struct wcur *c, size_t n);
/* Zero bytes until offset - from is a multiple of 4. */
void wcur_pad4(struct wcur *c, size_t from);
/* Overwrite bytes already written (at + size <= offset), e.g. a length
 * known only at the end; out of range sets the overflow flag. */
void wcur_patch_u8(struct wcur *c, size_t at, uint8_t v);
void wcur_patch_u16(struct wcur *c, size_t at, uint16_t v);
void wcur_patch_u32(struct wcur *c, size_t at, uint32_t v);
size_t wcur_offset(const struct wcur *c);
bool wcur_ok(const struct wcur *c);

#endif
