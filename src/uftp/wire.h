/* wire.h — the layout every UFTP message body shares (function byte, hlen,
 * fields, extensions, then a list or data), for the codecs in src/uftp. */
#ifndef FERRY_UFTP_WIRE_H
#define FERRY_UFTP_WIRE_H

#include "ferry/uftp.h"

/* Decoding. uftp_wire_open checks the body's function byte and hlen against
 * fixed and the datagram, then moves the hlen*4 header bytes into *h
 * (positioned after function and hlen); c is left after hlen. */
enum uftp_err uftp_wire_open(struct fb_rcur *c, uint8_t func, size_t fixed,
			struct fb_rcur *h);
/* A variable-length field of n bytes inside the header, or FIELD_LEN. */
enum uftp_err uftp_wire_field(struct fb_rcur *h, size_t n, struct fb_bview *out);
/* The rest of the header as extensions, after padding to 4 bytes. */
enum uftp_err uftp_wire_exts(struct fb_rcur *h, struct uftp_exts *e);
/* What follows hlen: a UID list, items of a fixed size, or nothing. */
enum uftp_err uftp_wire_uids(struct fb_rcur *c, struct uftp_uids *u);
enum uftp_err uftp_wire_items(struct fb_rcur *c, size_t size, const uint8_t **wire,
			 size_t *count);
enum uftp_err uftp_wire_end(struct fb_rcur *c);

/* Encoding: begin writes the function byte and an hlen placeholder and
 * returns where the body started; close pads to 4, appends the extensions
 * and patches hlen. */
size_t uftp_wire_begin(struct fb_wcur *w, uint8_t func);
enum uftp_err uftp_wire_close(struct fb_wcur *w, size_t start,
			 const struct uftp_exts *e);
enum uftp_err uftp_wire_put_uids(struct fb_wcur *w, const struct uftp_uids *u);
/* Names travel in 4-byte words, zero padded: their length in words (or
 * RANGE past 255), and the padded bytes. */
enum uftp_err uftp_wire_words(struct fb_bview v, uint8_t *words);
void uftp_wire_put_padded(struct fb_wcur *w, struct fb_bview v);
enum uftp_err uftp_wire_result(const struct fb_wcur *w);   /* OK or NOSPACE */
/* The bare body of REG_CONF, DONE_CONF, KEY_REQ and CC_ACK: function,
 * hlen, 16 reserved bits and extensions; the caller reads what follows. */
enum uftp_err uftp_wire_decode_bare(struct fb_rcur *c, uint8_t func, struct uftp_exts *e);
enum uftp_err uftp_wire_encode_bare(struct fb_wcur *w, uint8_t func,
			       const struct uftp_exts *e);
/* A 16-bit length field for v, or RANGE. */
enum uftp_err uftp_wire_len16(struct fb_bview v, uint16_t *out);

#endif
