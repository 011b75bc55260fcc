/* uids.c — reading the client UID lists that follow hlen in most
 * messages, whether they still sit in a datagram or in a host array. */
#include "ferry/uftp.h"

uint32_t uftp_uid_at(const struct uftp_uids *u, size_t i)
{
	if (i >= u->count)
		return 0;
	if (u->host)
		return u->host[i];
	struct fb_rcur c;
	fb_rcur_init(&c, u->wire, u->count * 4);
	fb_rcur_skip(&c, i * 4);
	return fb_rcur_u32(&c);
}

bool uftp_uid_next(const struct uftp_uids *u, size_t *i, uint32_t *uid)
{
	if (*i >= u->count)
		return false;
	*uid = uftp_uid_at(u, (*i)++);
	return true;
}

bool uftp_uids_contains(const struct uftp_uids *u, uint32_t uid)
{
	uint32_t v;
	for (size_t i = 0; uftp_uid_next(u, &i, &v);)
		if (v == uid)
			return true;
	return false;
}
