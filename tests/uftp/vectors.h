/* vectors.h — hand-built UFTP 4.x datagrams, one or more per message type,
 * each with the struct it encodes, shared by the wire tests. */
#ifndef FERRY_TEST_UFTP_VECTORS_H
#define FERRY_TEST_UFTP_VECTORS_H

#include "ferry/uftp.h"

struct vector {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	void (*build)(struct uftp_msg *m);   /* the struct these bytes encode */
	/* Where what follows hlen starts, and the size of its items (4 for
	 * UIDs, 1 for data or NAK bitmaps, 0 when nothing may follow): a cut
	 * at an item boundary there is a valid, shorter message. */
	size_t body_at;
	size_t item;
};

extern const struct vector vectors[];
extern const size_t n_vectors;

/* Field-by-field comparison of two decoded or built messages (views by
 * content, UID lists by value whichever representation they use). */
void assert_msg_equal(const struct uftp_msg *want, const struct uftp_msg *got);

#endif
