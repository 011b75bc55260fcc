/* bufring.c — provided-buffer rings: memory the kernel fills on multishot
 * receives; a buffer goes back to the ring once its data has been handled. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

int fe_bufring_init(struct bufring *b, struct io_uring *ring, uint16_t bgid,
		 unsigned count, unsigned size)
{
	size_t ring_bytes = count * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	b->br = mem;
	b->base = malloc((size_t)count * size);
	if (!b->base) {
		munmap(mem, ring_bytes);
		return -ENOMEM;
	}
	b->count = count;
	b->size = size;
	b->bgid = bgid;

	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)mem,
		.ring_entries = count,
		.bgid = bgid,
	};
	int r = io_uring_register_buf_ring(ring, &reg, 0);
	if (r < 0) {
		free(b->base);
		munmap(mem, ring_bytes);
		b->base = NULL;
		b->br = NULL;
		return r;
	}
	io_uring_buf_ring_init(b->br);
	int mask = io_uring_buf_ring_mask(count);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, fe_bufring_at(b, i), size, (unsigned short)i,
				      mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void fe_bufring_free(struct bufring *b, struct io_uring *ring)
{
	if (!b->br)
		return;
	io_uring_unregister_buf_ring(ring, b->bgid);
	munmap(b->br, b->count * sizeof(struct io_uring_buf));
	free(b->base);
	b->br = NULL;
	b->base = NULL;
}

uint8_t *fe_bufring_at(const struct bufring *b, unsigned bid)
{
	return b->base + (size_t)bid * b->size;
}

void fe_bufring_put(struct bufring *b, unsigned bid)
{
	io_uring_buf_ring_add(b->br, fe_bufring_at(b, bid), b->size,
			      (unsigned short)bid, io_uring_buf_ring_mask(b->count), 0);
	io_uring_buf_ring_advance(b->br, 1);
}
