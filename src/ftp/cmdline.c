/* cmdline.c — the control stream's syntax: Telnet commands removed, lines
 * split into verb and argument, PORT/EPRT/PASV addresses and numbers. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_internal.h"

enum { IAC = 255, DONT = 254, WILL = 251 };

/* Option negotiation (WILL/WONT/DO/DONT x) takes three bytes, other commands
 * (IP, DM, AO, ...) two; a byte after IAC that is no command is kept, since
 * the urgent DM of "IAC IP IAC DM ABOR" may be taken out of band. */
size_t ftp_telnet_filter(struct telnet_state *st, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		switch (st->state) {
		case 0:
			if (b == IAC)
				st->state = 1;
			else
				out[o++] = b;
			break;
		case 1:
			if (b == IAC) {
				out[o++] = b;
				st->state = 0;
			} else if (b >= WILL && b <= DONT) {
				st->state = 2;
			} else {
				if (b < 240)
					out[o++] = b;
				st->state = 0;
			}
			break;
		default:
			st->state = 0;
			break;
		}
	}
	return o;
}

size_t ftp_cmd_unstuff_cr(char *line, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		line[o++] = line[i];
		if (line[i] == '\r' && i + 1 < len && line[i + 1] == '\0')
			i++;
	}
	return o;
}

/* The line ends at LF, with at most one CR before it: any CR before that is
 * part of the argument (a name, RFC 2640). A verb is a letter followed by
 * letters or digits (XMD5, XSHA256). */
bool ftp_cmd_split(char *line, size_t len, char **verb, char **arg)
{
	if (memchr(line, '\0', len))
		return false;
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	char *p = line;
	while (*p == ' ')
		p++;
	*verb = p;
	if (!isalpha((unsigned char)*p))
		return false;
	while (*p && *p != ' ') {
		if (!isalnum((unsigned char)*p))
			return false;
		*p = (char)toupper((unsigned char)*p);
		p++;
	}
	if (p == *verb || p - *verb > 8)
		return false;
	if (*p == ' ')
		*p++ = '\0';
	*arg = p;
	return true;
}

bool ftp_parse_u64(const char *s, uint64_t *out)
{
	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_uint_range(const char *s, size_t len, unsigned max, unsigned *out)
{
	if (len == 0 || len > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

int ftp_parse_port_arg(const char *arg, struct sockaddr_storage *out)
{
	unsigned v[6];
	const char *p = arg;
	for (int i = 0; i < 6; i++) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		if (!parse_uint_range(p, (size_t)(e - p), 255, &v[i]))
			return -EINVAL;
		if ((i < 5 && *e != ',') || (i == 5 && *e))
			return -EINVAL;
		p = e + 1;
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *a = (struct sockaddr_in *)out;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
	a->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
	return 0;
}

/* RFC 2428: <d>proto<d>addr<d>port<d>, d any printable ASCII but digits. */
int ftp_parse_eprt_arg(const char *arg, struct sockaddr_storage *out)
{
	char d = arg[0];
	if (d < 33 || d > 126 || isdigit((unsigned char)d))
		return -EINVAL;
	const char *f[4];
	size_t flen[3];
	const char *p = arg + 1;
	for (int i = 0; i < 3; i++) {
		f[i] = p;
		const char *e = strchr(p, d);
		if (!e)
			return -EINVAL;
		flen[i] = (size_t)(e - p);
		p = e + 1;
	}
	if (*p)
		return -EINVAL;
	unsigned proto, port;
	char host[INET6_ADDRSTRLEN];
	if (!parse_uint_range(f[0], flen[0], 2, &proto) || proto == 0)
		return -EAFNOSUPPORT;
	if (!parse_uint_range(f[2], flen[2], 65535, &port) || port == 0 ||
	    flen[1] == 0 || flen[1] >= sizeof(host))
		return -EINVAL;
	memcpy(host, f[1], flen[1]);
	host[flen[1]] = '\0';
	if (fb_addr_parse(host, (uint16_t)port, out) < 0)
		return -EINVAL;
	return out->ss_family == (proto == 1 ? AF_INET : AF_INET6) ? 0 : -EINVAL;
}

int ftp_format_pasv(const struct sockaddr_storage *a, char *out, size_t cap)
{
	if (a->ss_family != AF_INET)
		return -EAFNOSUPPORT;
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;
	uint32_t ip = ntohl(in->sin_addr.s_addr);
	uint16_t port = ntohs(in->sin_port);
	int n = snprintf(out, cap, "(%u,%u,%u,%u,%u,%u)", ip >> 24, (ip >> 16) & 255,
			 (ip >> 8) & 255, ip & 255, port >> 8, port & 255);
	return n > 0 && (size_t)n < cap ? 0 : -ENOSPC;
}

void ftp_addr_unmap(struct sockaddr_storage *a)
{
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
	if (a->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
		return;
	struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = v6->sin6_port };
	memcpy(&v4.sin_addr, v6->sin6_addr.s6_addr + 12, 4);
	memset(a, 0, sizeof(*a));
	memcpy(a, &v4, sizeof(v4));
}

