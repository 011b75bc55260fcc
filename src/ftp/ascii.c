/* ascii.c — TYPE A: local line ends (LF) to and from the network's CRLF. */
#include "ftp_internal.h"

size_t ftp_ascii_to_net(const uint8_t *in, size_t n, uint8_t *out, bool *prev_cr)
{
	size_t o = 0;
	bool cr = *prev_cr;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !cr)
			out[o++] = '\r';
		out[o++] = in[i];
		cr = in[i] == '\r';
	}
	*prev_cr = cr;
	return o;
}

size_t ftp_ascii_from_net(const uint8_t *in, size_t n, uint8_t *out, bool *held_cr)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (*held_cr) {
			*held_cr = false;
			if (in[i] != '\n')
				out[o++] = '\r';
		}
		if (in[i] == '\r')
			*held_cr = true;
		else
			out[o++] = in[i];
	}
	return o;
}
