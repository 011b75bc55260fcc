/* wire.h — the layout every UFTP message body shares (function byte, hlen,
 * fields, extensions, then a list or data), for the codecs in src/uftp. */
#ifndef FERRY_UFTP_WIRE_H
#define FERRY_UFTP_WIRE_H

#include "ferry/uftp_msg.h"

/* Decoding. wire_open checks the body's function byte and hlen against
 * fixed and the datagram, then moves the hlen*4 header bytes into *h
 * (positioned after function and hlen); c is left after hlen. */
enum uftp_err wire_open(struct rcur *c, uint8_t func, size_t fixed,
			struct rcur *h);
/* A variable-length field of n bytes inside the header, or FIELD_LEN. */
enum uftp_err wire_field(struct rcur *h, size_t n, struct bview *out);
/* The rest of the header as extensions, after padding to 4 bytes. */
enum uftp_err wire_exts(struct rcur *h, struct uftp_exts *e);
/* What follows hlen: a UID list, items of a fixed size, or nothing. */
enum uftp_err wire_uids(struct rcur *c, struct uftp_uids *u);
enum uftp_err wire_items(struct rcur *c, size_t size, const uint8_t **wire,
			 size_t *count);
enum uftp_err wire_end(struct rcur *c);

/* Encoding: begin writes the function byte and an hlen placeholder and
 * returns where the body started; close pads to 4, appends the extensions
 * and patches hlen. */
size_t wire_begin(struct wcur *w, uint8_t func);
enum uftp_err wire_close(struct wcur *w, size_t start,
			 const struct uftp_exts *e);
enum uftp_err wire_put_uids(struct wcur *w, const struct uftp_uids *u);
/* Names travel in 4-byte words, zero padded: their length in words (or
 * RANGE past 255), and the padded bytes. */
enum uftp_err wire_words(struct bview v, uint8_t *words);
void wire_put_padded(struct wcur *w, struct bview v);
enum uftp_err wire_result(const struct wcur *w);   /* OK or NOSPACE */
/* The bare body of REG_CONF, DONE_CONF, KEY_REQ and CC_ACK: function,
 * hlen, 16 reserved bits and extensions; the caller reads what follows. */
enum uftp_err wire_decode_bare(struct rcur *c, uint8_t func, struct uftp_exts *e);
enum uftp_err wire_encode_bare(struct wcur *w, uint8_t func,
			       const struct uftp_exts *e);
/* A 16-bit length field for v, or RANGE. */
enum uftp_err wire_len16(struct bview v, uint16_t *out);

#endif
